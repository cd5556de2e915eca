// Line diffs: Myers' O(ND) algorithm and unified-diff formatting as `diff -u` prints it.
#ifndef TODOKE_SERVICES_DIFFER_CORE_LINE_DIFF_H_
#define TODOKE_SERVICES_DIFFER_CORE_LINE_DIFF_H_

#include <string>
#include <string_view>
#include <vector>

namespace todoke::differ {

struct LineEdit {
  enum class Kind { kKeep, kDelete, kInsert };
  Kind kind;
  int before_line;  // 0-based index into `before` (kKeep, kDelete), else -1
  int after_line;   // 0-based index into `after` (kKeep, kInsert), else -1
};

// Splits `text` into lines without their '\n'. A trailing newline does not start a new line.
std::vector<std::string_view> SplitLines(std::string_view text);

// A shortest edit script turning `before` into `after` (Myers 1986), deletions before insertions
// within a change. When the edit distance exceeds `max_edit_distance`, returns a valid but not
// minimal script (common prefix/suffix kept, the middle replaced) to bound time and memory.
std::vector<LineEdit> DiffLines(const std::vector<std::string_view>& before,
                                const std::vector<std::string_view>& after,
                                int max_edit_distance = 4000);

// A unified diff of two texts, with `context_lines` of context, headed by
// "--- <before_name>" / "+++ <after_name>" and "@@ -l,n +l,n @@" hunks as GNU diff prints them.
// Returns "" when the texts are equal.
std::string UnifiedDiff(std::string_view before, std::string_view after,
                        std::string_view before_name, std::string_view after_name,
                        int context_lines = 3);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_LINE_DIFF_H_

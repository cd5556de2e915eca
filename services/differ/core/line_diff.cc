#include "services/differ/core/line_diff.h"

#include <algorithm>
#include <cstdint>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"

namespace todoke::differ {

std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

namespace {

// Myers' greedy forward algorithm over integer line ids, keeping every V for the backtrack.
// Returns false when the distance exceeds `max_d`.
bool MyersDiff(const std::vector<int>& a, const std::vector<int>& b, int max_d,
               std::vector<LineEdit>& edits, int a_offset, int b_offset) {
  const int n = static_cast<int>(a.size());
  const int m = static_cast<int>(b.size());
  const int max = std::min(n + m, max_d);
  const int offset = max + 1;
  std::vector<int> v(2 * max + 3, 0);
  std::vector<std::vector<int>> trace;
  int found_d = -1;
  for (int d = 0; d <= max; ++d) {
    trace.push_back(v);
    for (int k = -d; k <= d; k += 2) {
      int x;
      if (k == -d || (k != d && v[offset + k - 1] < v[offset + k + 1])) {
        x = v[offset + k + 1];  // down: insertion
      } else {
        x = v[offset + k - 1] + 1;  // right: deletion
      }
      int y = x - k;
      while (x < n && y < m && a[x] == b[y]) {
        ++x;
        ++y;
      }
      v[offset + k] = x;
      if (x >= n && y >= m) {
        found_d = d;
        break;
      }
    }
    if (found_d >= 0) break;
  }
  if (found_d < 0) return false;
  // Backtrack from (n, m) through the saved V arrays.
  std::vector<LineEdit> reversed;
  int x = n;
  int y = m;
  for (int d = found_d; d > 0; --d) {
    const std::vector<int>& prev = trace[d];
    const int k = x - y;
    int prev_k;
    if (k == -d || (k != d && prev[offset + k - 1] < prev[offset + k + 1])) {
      prev_k = k + 1;
    } else {
      prev_k = k - 1;
    }
    const int prev_x = prev[offset + prev_k];
    const int prev_y = prev_x - prev_k;
    while (x > prev_x && y > prev_y) {
      --x;
      --y;
      reversed.push_back({LineEdit::Kind::kKeep, a_offset + x, b_offset + y});
    }
    if (x == prev_x) {
      --y;
      reversed.push_back({LineEdit::Kind::kInsert, -1, b_offset + y});
    } else {
      --x;
      reversed.push_back({LineEdit::Kind::kDelete, a_offset + x, -1});
    }
  }
  while (x > 0 && y > 0) {
    --x;
    --y;
    reversed.push_back({LineEdit::Kind::kKeep, a_offset + x, b_offset + y});
  }
  edits.insert(edits.end(), reversed.rbegin(), reversed.rend());
  return true;
}

// Within each run of changes, moves deletions before insertions (the order `diff -u` prints).
void OrderChanges(std::vector<LineEdit>& edits) {
  size_t i = 0;
  while (i < edits.size()) {
    if (edits[i].kind == LineEdit::Kind::kKeep) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < edits.size() && edits[j].kind != LineEdit::Kind::kKeep) ++j;
    std::stable_partition(edits.begin() + i, edits.begin() + j,
                          [](const LineEdit& e) { return e.kind == LineEdit::Kind::kDelete; });
    i = j;
  }
}

}  // namespace

std::vector<LineEdit> DiffLines(const std::vector<std::string_view>& before,
                                const std::vector<std::string_view>& after, int max_edit_distance) {
  // Common prefix and suffix first: YAML of two versions of an object mostly agrees.
  size_t prefix = 0;
  while (prefix < before.size() && prefix < after.size() && before[prefix] == after[prefix]) {
    ++prefix;
  }
  size_t suffix = 0;
  while (suffix < before.size() - prefix && suffix < after.size() - prefix &&
         before[before.size() - 1 - suffix] == after[after.size() - 1 - suffix]) {
    ++suffix;
  }
  std::vector<LineEdit> edits;
  edits.reserve(before.size() + after.size());
  for (size_t i = 0; i < prefix; ++i) {
    edits.push_back({LineEdit::Kind::kKeep, static_cast<int>(i), static_cast<int>(i)});
  }
  // Lines become integer ids so the inner loop compares ints.
  absl::flat_hash_map<std::string_view, int> ids;
  auto to_ids = [&](const std::vector<std::string_view>& lines, size_t begin, size_t end) {
    std::vector<int> out;
    out.reserve(end - begin);
    for (size_t i = begin; i < end; ++i) {
      out.push_back(ids.try_emplace(lines[i], static_cast<int>(ids.size())).first->second);
    }
    return out;
  };
  const std::vector<int> a = to_ids(before, prefix, before.size() - suffix);
  const std::vector<int> b = to_ids(after, prefix, after.size() - suffix);
  const int a_offset = static_cast<int>(prefix);
  const int b_offset = static_cast<int>(prefix);
  if (!MyersDiff(a, b, max_edit_distance, edits, a_offset, b_offset)) {
    for (size_t i = 0; i < a.size(); ++i) {
      edits.push_back({LineEdit::Kind::kDelete, a_offset + static_cast<int>(i), -1});
    }
    for (size_t i = 0; i < b.size(); ++i) {
      edits.push_back({LineEdit::Kind::kInsert, -1, b_offset + static_cast<int>(i)});
    }
  }
  for (size_t i = 0; i < suffix; ++i) {
    edits.push_back({LineEdit::Kind::kKeep, static_cast<int>(before.size() - suffix + i),
                     static_cast<int>(after.size() - suffix + i)});
  }
  OrderChanges(edits);
  return edits;
}

namespace {

// "l,n" as GNU diff prints a hunk range: "l" alone when n == 1, and l is the line before the
// range when n == 0.
std::string HunkRange(int first_line_0based, int count) {
  if (count == 1) return absl::StrCat(first_line_0based + 1);
  if (count == 0) return absl::StrCat(first_line_0based, ",0");
  return absl::StrCat(first_line_0based + 1, ",", count);
}

}  // namespace

std::string UnifiedDiff(std::string_view before, std::string_view after,
                        std::string_view before_name, std::string_view after_name,
                        int context_lines) {
  if (before == after) return "";
  const std::vector<std::string_view> a = SplitLines(before);
  const std::vector<std::string_view> b = SplitLines(after);
  const std::vector<LineEdit> edits = DiffLines(a, b);
  std::string out;
  out.append("--- ").append(before_name).append("\n+++ ").append(after_name).append("\n");
  const int total = static_cast<int>(edits.size());
  int i = 0;
  while (i < total) {
    // Find the next change.
    while (i < total && edits[i].kind == LineEdit::Kind::kKeep) ++i;
    if (i >= total) break;
    int hunk_start = std::max(0, i - context_lines);
    // Extend the hunk while the gap of kept lines to the next change is <= 2 * context.
    int hunk_end = i;  // exclusive, grows
    int j = i;
    while (j < total) {
      while (j < total && edits[j].kind != LineEdit::Kind::kKeep) ++j;
      int keep_run = 0;
      int k = j;
      while (k < total && edits[k].kind == LineEdit::Kind::kKeep) {
        ++keep_run;
        ++k;
      }
      if (k < total && keep_run <= 2 * context_lines) {
        j = k;  // merge the next change into this hunk
        continue;
      }
      hunk_end = std::min(total, j + context_lines);
      break;
    }
    int before_count = 0;
    int after_count = 0;
    // Where the hunk starts in each file: the lines of each side before it.
    int before_pos = 0;
    int after_pos = 0;
    for (int e = 0; e < hunk_start; ++e) {
      if (edits[e].kind != LineEdit::Kind::kInsert) ++before_pos;
      if (edits[e].kind != LineEdit::Kind::kDelete) ++after_pos;
    }
    std::string body;
    for (int e = hunk_start; e < hunk_end; ++e) {
      const LineEdit& edit = edits[e];
      switch (edit.kind) {
        case LineEdit::Kind::kKeep:
          body.append(" ").append(a[edit.before_line]).append("\n");
          ++before_count;
          ++after_count;
          break;
        case LineEdit::Kind::kDelete:
          body.append("-").append(a[edit.before_line]).append("\n");
          ++before_count;
          break;
        case LineEdit::Kind::kInsert:
          body.append("+").append(b[edit.after_line]).append("\n");
          ++after_count;
          break;
      }
    }
    absl::StrAppend(&out, "@@ -", HunkRange(before_pos, before_count), " +",
                    HunkRange(after_pos, after_count), " @@\n", body);
    i = hunk_end;
  }
  return out;
}

}  // namespace todoke::differ

// What a folded block scalar (">") becomes when kustomize prints a resource: kyaml writes the
// resource's nodes with go-yaml v3's emitter, which keeps the folded style, and reads the text
// back (RNode.MarshalJSON), so the printed value is what go-yaml reads from go-yaml's folded
// text, which is not always the value it wrote.
#ifndef TODOKE_COMMON_GO_YAML_FOLDED_H_
#define TODOKE_COMMON_GO_YAML_FOLDED_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"

namespace todoke {

namespace go_yaml_folded_internal {

// go-yaml's is_break at s[i]: '\r', '\n', NEL, U+2028, U+2029. Returns its length, 0 if none.
inline size_t BreakAt(absl::string_view s, size_t i) {
  const auto at = [&](size_t k) {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  if (at(0) == '\r' || at(0) == '\n') return 1;
  if (at(0) == 0xC2 && at(1) == 0x85) return 2;
  if (at(0) == 0xE2 && at(1) == 0x80 && (at(2) == 0xA8 || at(2) == 0xA9)) return 3;
  return 0;
}

// go-yaml's is_blank: a space or a tab.
inline bool IsBlank(char c) { return c == ' ' || c == '\t'; }

// go-yaml's is_printable at s[i] (on bytes, as go-yaml tests it): '\n', ASCII 0x20-0x7E,
// U+00A0-U+D7FF, U+E000-U+FFFD but U+FEFF; nothing of four bytes (beyond U+FFFF).
inline bool IsPrintableAt(absl::string_view s, size_t i) {
  const auto at = [&](size_t k) {
    return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0;
  };
  const unsigned char b = at(0);
  return b == 0x0A || (b >= 0x20 && b <= 0x7E) || (b == 0xC2 && at(1) >= 0xA0) ||
         (b > 0xC2 && b < 0xED) || (b == 0xED && at(1) < 0xA0) || b == 0xEE ||
         (b == 0xEF && !(at(1) == 0xBB && at(2) == 0xBF) &&
          !(at(1) == 0xBF && (at(2) == 0xBE || at(2) == 0xBF)));
}

// The length of the UTF-8 sequence that `lead` starts (1 for a byte that starts none).
inline size_t Width(unsigned char lead) {
  return lead < 0x80             ? 1
         : (lead & 0xE0) == 0xC0 ? 2
         : (lead & 0xF0) == 0xE0 ? 3
         : (lead & 0xF8) == 0xF0 ? 4
                                 : 1;
}

// yaml_emitter_analyze_scalar's block_allowed, as go-yaml v3 computes it (a tab is not a
// character it escapes; Unicode is written as is).
inline bool BlockAllowed(absl::string_view s) {
  if (s.empty() || s.back() == ' ') return false;
  bool previous_space = false;
  for (size_t i = 0; i < s.size();) {
    const size_t w = Width(static_cast<unsigned char>(s[i]));
    if (s[i] != '\t' && !IsPrintableAt(s, i)) return false;
    if (BreakAt(s, i) > 0 && previous_space) return false;  // a space before a line break
    previous_space = s[i] == ' ';
    i += w;
  }
  return true;
}

}  // namespace go_yaml_folded_internal

// The value of a folded block scalar after go-yaml v3 writes it as a folded block and reads it
// back. Its emitter (yaml_emitter_write_folded_scalar) decides whether a line break needs a
// second one (folding turns a single break between two lines into a space) by looking at the
// start of the whole value instead of the line after the break: after a line that does not
// start with a blank it writes two breaks whenever the value does not start with a blank. When
// the next line starts with a blank (is more indented), or at the end of a kept block (two or
// more final breaks, ">+"), the extra break reads back as one more "\n". Values its emitter
// does not write as a block (empty; a space before a break or at the end; a character it escapes)
// are written double-quoted and come back unchanged. `value` is valid UTF-8.
inline std::string GoYamlFoldedRoundTrip(absl::string_view value) {
  namespace internal = go_yaml_folded_internal;
  if (!internal::BlockAllowed(value)) return std::string(value);  // written double-quoted
  // The emitter tests the first character after the value's leading breaks.
  size_t first = 0;
  while (first < value.size()) {
    const size_t b = internal::BreakAt(value, first);
    if (b == 0) break;
    first += b;
  }
  if (first == value.size() || internal::IsBlank(value[first])) return std::string(value);
  std::string out;
  out.reserve(value.size() + 8);
  bool line_starts_blank = false;  // the current line starts with a blank
  bool after_break = true;         // at the start of a line
  for (size_t i = 0; i < value.size();) {
    const size_t b = internal::BreakAt(value, i);
    if (b == 0) {
      if (after_break) line_starts_blank = internal::IsBlank(value[i]);
      after_break = false;
      out.push_back(value[i]);
      ++i;
      continue;
    }
    if (!after_break && !line_starts_blank && value[i] == '\n') {
      // The emitter writes a second break here. Where the breaks end decides what it reads as.
      size_t end = i, breaks = 0;
      for (size_t w; end < value.size() && (w = internal::BreakAt(value, end)) > 0; end += w)
        ++breaks;
      const bool more_indented = end < value.size() && internal::IsBlank(value[end]);
      const bool kept_end = end == value.size() && breaks >= 2;
      if (more_indented || kept_end) out.push_back('\n');
    }
    out.append(value.data() + i, b);
    i += b;
    after_break = true;
  }
  return out;
}

}  // namespace todoke

#endif  // TODOKE_COMMON_GO_YAML_FOLDED_H_

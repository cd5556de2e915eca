// Go's unicode.IsLetter and unicode.IsDigit, answered from tables generated from Go's own unicode
// package (tools/go_unicode_tables/main.go; see common/go_unicode_tables.inc for the version).
// kubectl kustomize orders map keys by asking these two functions of each rune (gopkg.in/yaml.v2's
// key sorter), so todoke's emitter asks the same to print keys in the same order.
#ifndef TODOKE_COMMON_GO_UNICODE_H_
#define TODOKE_COMMON_GO_UNICODE_H_

#include <algorithm>
#include <iterator>

namespace todoke {
namespace go_unicode {

// An inclusive range of code points.
struct GoRuneRange {
  char32_t first;
  char32_t last;
};

#include "common/go_unicode_tables.inc"

// True if `r` lies in one of the ascending, disjoint `ranges`.
template <size_t N>
constexpr bool InRanges(const GoRuneRange (&ranges)[N], char32_t r) {
  const GoRuneRange* it = std::upper_bound(
      std::begin(ranges), std::end(ranges), r,
      [](char32_t value, const GoRuneRange& range) { return value < range.first; });
  return it != std::begin(ranges) && r <= std::prev(it)->last;
}

}  // namespace go_unicode

// unicode.IsLetter(r) of Go (Unicode category L). Any char32_t is accepted; values that are no
// code point (over U+10FFFF) are not letters.
constexpr bool GoIsLetter(char32_t r) {
  if (r < 0x80) return (r | 0x20) >= 'a' && (r | 0x20) <= 'z';
  return go_unicode::InRanges(go_unicode::kLetterRanges, r);
}

// unicode.IsDigit(r) of Go (Unicode category Nd).
constexpr bool GoIsDigit(char32_t r) {
  if (r < 0x80) return r >= '0' && r <= '9';
  return go_unicode::InRanges(go_unicode::kDigitRanges, r);
}

}  // namespace todoke

#endif  // TODOKE_COMMON_GO_UNICODE_H_

// Internal to the YAML units; users include common/yaml.h. What reading (yaml_parse.cc) and
// printing (yaml_emit.cc) both need to know of a scalar's text: how go-yaml resolves a plain
// scalar, and whether go-yaml's emitter may write a string plain, with the code point helpers
// both use. Defined in yaml_scalar.cc (the small helpers inline here).
#ifndef TODOKE_COMMON_YAML_SCALAR_H_
#define TODOKE_COMMON_YAML_SCALAR_H_

#include <cstddef>
#include <string>

#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace todoke::yaml_internal {

// Resolves a plain (unquoted, untagged) scalar the way go-yaml v3 does.
nlohmann::json ResolvePlainScalar(const std::string& s);

// ResolvePlainScalar without a copy of the text when it stays a string: false when `s` reads
// as the string `s` itself (`out` untouched); true with `out` set to what it reads as otherwise
// (null, bool, int, float, or a timestamp as the string NormalizeTimestamp makes of it).
bool ResolvePlainScalarTo(absl::string_view s, nlohmann::json* out);

// A YAML timestamp as go-yaml (v3, and yaml.v2 alike) reads one: text starting "YYYY-" that
// Go's time.Parse accepts in one of the layouts "2006-1-2T15:4:5.999999999Z07:00" (also with a
// lower-case "t"), "2006-1-2 15:4:5.999999999" (no zone) or "2006-1-2", with time.Parse's range
// checks (a real day of the month, hour < 24, ...). Anything else ("2001-12-14 21:59:43.10 -5",
// "2001-12-14T21:59:43" without a zone, "1999-02-30") is a string. `out` gets the value as
// kustomize prints it after its JSON round trip: Go's RFC 3339 with nanoseconds, trailing zeros
// of the fraction trimmed, "Z" for a zero offset. Returns false if `s` is not a timestamp.
bool NormalizeTimestamp(absl::string_view s, std::string* out);

// The code point at s[i] and its length in bytes (s is valid UTF-8).
inline char32_t RuneAt(absl::string_view s, size_t i, int* width) {
  const unsigned char c = s[i];
  int n = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
  if (i + n > s.size()) n = 1;
  char32_t rune = n == 1 ? c : c & (0xFF >> (n + 1));
  for (int k = 1; k < n; ++k) rune = (rune << 6) | (s[i + k] & 0x3F);
  *width = n;
  return rune;
}

// go-yaml's is_printable (yaml.v2, which `kubectl kustomize` prints with): '\n', ASCII 0x20-0x7E,
// U+00A0-U+D7FF and U+E000-U+FFFD but U+FEFF. Tabs, other controls, U+0080-U+009F and every
// code point beyond U+FFFF (emoji) are not printable: a string holding one is double-quoted
// with escapes.
inline bool IsGoYamlPrintable(char32_t r) {
  return r == '\n' || (r >= 0x20 && r <= 0x7E) || (r >= 0xA0 && r <= 0xD7FF) ||
         (r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF);
}
// go-yaml's is_break: '\n', '\r', NEL (U+0085), U+2028 and U+2029.
inline bool IsGoYamlBreak(char32_t r) {
  return r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029;
}

// What go-yaml's emitter (yaml_emitter_analyze_scalar) allows for a string in block context.
struct ScalarAnalysis {
  bool block_plain_allowed = true;
  bool single_quoted_allowed = true;
  bool block_allowed = true;
};

// The styles go-yaml's emitter (yaml_emitter_analyze_scalar) allows for `s` (valid UTF-8) in
// block context: no plain style with a leading or trailing space or break, a line break or an
// indicator (a leading "#", "[", "&", "- ", ..., ": " or " #" inside, a leading "---"); no
// single quotes with a space after a break; no block style for empty text or a trailing space;
// none of the three with a space before a break or a code point go-yaml does not print.
ScalarAnalysis AnalyzeScalar(absl::string_view s);

// True if every byte of `s` is printable ASCII other than a space (0x21-0x7E): the text of most
// names, images, paths and keys, which AnalyzeScalar decides from its ends alone.
bool IsAsciiGraphic(absl::string_view s);

// True if go-yaml's emitter may write `s` as a plain scalar (block context).
bool GoYamlCanWritePlain(absl::string_view s);

}  // namespace todoke::yaml_internal

#endif  // TODOKE_COMMON_YAML_SCALAR_H_

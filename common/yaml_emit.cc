// Printing: JSON values as `kubectl kustomize` prints them, and what its printing refuses or
// changes (see yaml.h).
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/go_unicode.h"
#include "common/yaml.h"
#include "common/yaml_scalar.h"

namespace todoke {
namespace {

using Json = nlohmann::json;
using yaml_internal::AnalyzeScalar;
using yaml_internal::IsAsciiGraphic;
using yaml_internal::IsGoYamlBreak;
using yaml_internal::IsGoYamlPrintable;
using yaml_internal::ResolvePlainScalarTo;
using yaml_internal::RuneAt;
using yaml_internal::ScalarAnalysis;

bool IsYaml11Special(absl::string_view s) {
  static const std::set<absl::string_view> words = {
      "y",    "Y",     "yes",   "Yes",   "YES",  "n",    "N",    "no",   "No",
      "NO",   "on",    "On",    "ON",    "off",  "Off",  "OFF",  "true", "True",
      "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~"};
  return words.contains(s);
}

// yaml.v2's isBase60Float, the YAML 1.1 sexagesimal numbers it quotes ("1:20", "190:20:30.15"):
// ^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$
bool IsBase60Float(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '-' || s[i] == '+')) ++i;
  if (i >= s.size() || !absl::ascii_isdigit(s[i])) return false;
  ++i;
  while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '_')) ++i;
  int groups = 0;
  while (i < s.size() && s[i] == ':') {
    ++i;
    // [0-5]?[0-9]: one digit, or two with the first 0-5.
    if (i >= s.size() || !absl::ascii_isdigit(s[i])) return false;
    if (i + 1 < s.size() && absl::ascii_isdigit(s[i + 1]) && s[i] <= '5') {
      i += 2;
    } else {
      i += 1;
    }
    ++groups;
  }
  if (groups == 0) return false;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && (absl::ascii_isdigit(s[i]) || s[i] == '_')) ++i;
  }
  return i == s.size();
}

// True if a plain scalar with this text would not read back as the same string.
bool IsAmbiguousAsPlain(const std::string& s) {
  // Every YAML 1.1 word, null, bool, number, timestamp and sexagesimal starts with one of these
  // characters; most strings (names, images, paths) do not, and no longer pay the word lookup
  // and a resolved copy each.
  if (!s.empty()) {
    switch (s[0]) {
      case 'y':
      case 'Y':
      case 'n':
      case 'N':
      case 'o':
      case 'O':
      case 't':
      case 'T':
      case 'f':
      case 'F':
      case '~':
      case '.':
      case '+':
      case '-':
        break;
      default:
        if (!absl::ascii_isdigit(static_cast<unsigned char>(s[0]))) return false;
    }
  }
  if (IsYaml11Special(s)) return true;
  // Anything that does not read back as the string itself; a timestamp reads back as a string,
  // but a typed parser would see a time: quote it too.
  Json resolved;
  if (ResolvePlainScalarTo(s, &resolved)) return true;
  return IsBase60Float(s);
}

enum class ScalarStyle { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral };

// The style yaml.v2 prints a string in (block context): a literal block if it holds "\n",
// plain if a plain scalar reads back as the same string, else double-quoted; then downgraded
// as its emitter does: plain to single-quoted, single-quoted to double-quoted and a literal
// (or any key that needs one) to double-quoted where the text does not allow them.
ScalarStyle ChooseStyle(const std::string& s, bool is_key) {
  if (s.empty()) return ScalarStyle::kDoubleQuoted;
  // A plain "<<" key would read back as a merge key (as a value it stays plain, as in kubectl).
  if (is_key && s == "<<") return ScalarStyle::kDoubleQuoted;
  ScalarStyle style = s.find('\n') != std::string::npos ? ScalarStyle::kLiteral
                      : IsAmbiguousAsPlain(s)           ? ScalarStyle::kDoubleQuoted
                                                        : ScalarStyle::kPlain;
  const ScalarAnalysis a = AnalyzeScalar(s);
  if (style == ScalarStyle::kPlain && !a.block_plain_allowed) style = ScalarStyle::kSingleQuoted;
  if (style == ScalarStyle::kSingleQuoted && !a.single_quoted_allowed) {
    style = ScalarStyle::kDoubleQuoted;
  }
  if (style == ScalarStyle::kLiteral && (!a.block_allowed || is_key)) {
    style = ScalarStyle::kDoubleQuoted;
  }
  return style;
}

// kustomize's emitter (go-yaml v3) folds long flow scalars: once a line is past this column,
// the next single space of a plain or quoted value (not a key) becomes a line break.
constexpr int kFoldColumn = 80;

// The column (in characters) at the end of `out`.
int CurrentColumn(const std::string& out) {
  const size_t newline = out.rfind('\n');
  const size_t start = newline == std::string::npos ? 0 : newline + 1;
  int column = 0;
  for (size_t i = start; i < out.size(); ++i) {
    if ((static_cast<unsigned char>(out[i]) & 0xC0) != 0x80) ++column;
  }
  return column;
}

// Appends text to `out`, tracking the column (UTF-8 continuation bytes take no column).
struct FoldingWriter {
  std::string* out;
  int column;
  int indent;

  void Put(char c) {
    out->push_back(c);
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++column;
  }
  void Put(absl::string_view text) {
    for (char c : text) Put(c);
  }
  void Break() {
    out->push_back('\n');
    out->append(indent, ' ');
    column = indent;
  }
};

// Appends `s` as a plain, single-quoted or double-quoted scalar, folding long values at spaces
// as go-yaml does (only where `allow_breaks`: values, not keys).
void AppendFlowScalar(const std::string& s, ScalarStyle style, int indent, bool allow_breaks,
                      std::string* out) {
  const bool double_quoted = style == ScalarStyle::kDoubleQuoted;
  const char quote = style == ScalarStyle::kPlain ? 0 : double_quoted ? '"' : '\'';
  // Printable ASCII with nothing to escape or double (most strings) comes out as it is unless
  // a space past the fold column breaks it: each byte takes one column, so the last space is
  // at column start + quote + index.
  size_t last_space = std::string::npos;
  bool as_is = true;
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c < 0x20 || c > 0x7E || c == static_cast<unsigned char>(quote) ||
        (double_quoted && c == '\\')) {
      as_is = false;
      break;
    }
    if (c == ' ') last_space = i;
  }
  if (as_is && (!allow_breaks || last_space == std::string::npos ||
                CurrentColumn(*out) + (quote != 0 ? 1 : 0) + last_space <=
                    static_cast<size_t>(kFoldColumn))) {
    if (quote != 0) out->push_back(quote);
    out->append(s);
    if (quote != 0) out->push_back(quote);
    return;
  }
  // The column only matters where a break is allowed.
  FoldingWriter w{out, allow_breaks ? CurrentColumn(*out) : 0, indent};
  if (quote != 0) w.Put(quote);
  bool spaces = false;  // the previous character was a space (or, unescaped, a tab)
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = s[i];
    if (c == ' ') {
      const bool inside = i > 0 && i + 1 < s.size();
      bool fold = allow_breaks && !spaces && w.column > kFoldColumn && (quote == 0 || inside);
      // Unescaped, a space or tab starting the continuation line would be lost as indentation.
      if (!double_quoted && i + 1 < s.size() && (s[i + 1] == ' ' || s[i + 1] == '\t')) {
        fold = false;
      }
      if (fold) {
        w.Break();
        // Double-quoted, a break swallows one space; escape the next one instead.
        if (double_quoted && s[i + 1] == ' ') w.Put('\\');
      } else {
        w.Put(' ');
      }
      spaces = true;
      continue;
    }
    // A raw tab next to the break would be trimmed away as line-edge whitespace: never fold there.
    spaces = !double_quoted && c == '\t';
    if (!double_quoted) {
      if (quote != 0 && c == quote) w.Put(quote);
      int width;
      const char32_t rune = RuneAt(s, i, &width);
      w.Put(absl::string_view(s).substr(i, width));
      i += width - 1;
      if (rune != '\n' && IsGoYamlBreak(rune) && i + 1 < s.size()) {
        // go-yaml writes a break other than "\n" as it is, then indents the text after it.
        w.out->append(w.indent, ' ');
        w.column = w.indent;
      }
      continue;
    }
    int width;
    const char32_t rune = RuneAt(s, i, &width);
    if (IsGoYamlPrintable(rune) && !IsGoYamlBreak(rune) && rune != '"' && rune != '\\') {
      w.Put(absl::string_view(s).substr(i, width));
      i += width - 1;
      continue;
    }
    i += width - 1;
    switch (rune) {
      case 0x00:
        w.Put("\\0");
        break;
      case 0x07:
        w.Put("\\a");
        break;
      case 0x08:
        w.Put("\\b");
        break;
      case 0x09:
        w.Put("\\t");
        break;
      case 0x0A:
        w.Put("\\n");
        break;
      case 0x0B:
        w.Put("\\v");
        break;
      case 0x0C:
        w.Put("\\f");
        break;
      case 0x0D:
        w.Put("\\r");
        break;
      case 0x1B:
        w.Put("\\e");
        break;
      case '"':
        w.Put("\\\"");
        break;
      case '\\':
        w.Put("\\\\");
        break;
      case 0x85:
        w.Put("\\N");
        break;
      case 0xA0:
        w.Put("\\_");
        break;
      case 0x2028:
        w.Put("\\L");
        break;
      case 0x2029:
        w.Put("\\P");
        break;
      default:
        // Upper-case hex, as go-yaml writes it.
        if (rune <= 0xFF) {
          w.Put(absl::StrFormat("\\x%02X", static_cast<unsigned>(rune)));
        } else if (rune <= 0xFFFF) {
          w.Put(absl::StrFormat("\\u%04X", static_cast<unsigned>(rune)));
        } else {
          w.Put(absl::StrFormat("\\U%08X", static_cast<unsigned>(rune)));
        }
    }
  }
  if (quote != 0) w.Put(quote);
}

void AppendScalarString(const std::string& s, int indent, bool is_key, std::string* out) {
  // Printable ASCII without spaces that may be plain is printed as it is: no line break, space
  // or character to escape (ChooseStyle and AppendFlowScalar would scan it twice more to say so).
  if (!s.empty() && IsAsciiGraphic(s) && !(is_key && s == "<<") && !IsAmbiguousAsPlain(s) &&
      AnalyzeScalar(s).block_plain_allowed) {
    out->append(s);
    return;
  }
  const ScalarStyle style = ChooseStyle(s, is_key);
  switch (style) {
    case ScalarStyle::kPlain:
    case ScalarStyle::kSingleQuoted:
    case ScalarStyle::kDoubleQuoted:
      AppendFlowScalar(s, style, indent, !is_key, out);
      return;
    case ScalarStyle::kLiteral: {
      size_t trailing = 0;
      while (trailing < s.size() && s[s.size() - 1 - trailing] == '\n') ++trailing;
      // Content starting with a space or a line break would mislead indentation detection:
      // say the indentation (2, relative to the parent) as go-yaml does.
      out->append(s[0] == ' ' || s[0] == '\n' ? "|2" : "|");
      // Clip keeps one final line break only after content: text that is all line breaks
      // needs keep ("+"), as go-yaml writes it.
      if (trailing != 1 || s.size() == 1) out->push_back(trailing == 0 ? '-' : '+');
      // A document that is one string has no parent to indent under: its lines go 2 in, as
      // go-yaml writes them (at column 0 they would end the scalar).
      const std::string pad(std::max(indent, 2), ' ');
      size_t start = 0;
      // The line break that ends the node (written by whoever writes next) is the value's last
      // newline, so the body stops before it; "|+" keeps the blank lines before that.
      absl::string_view body(s.data(), trailing == 0 ? s.size() : s.size() - 1);
      while (start <= body.size()) {
        size_t end = body.find('\n', start);
        if (end == absl::string_view::npos) end = body.size();
        out->push_back('\n');
        if (end > start) {
          out->append(pad);
          absl::StrAppend(out, body.substr(start, end - start));
        }
        if (end == body.size()) break;
        start = end + 1;
      }
      return;
    }
  }
}

// Go's strconv.FormatFloat(d, 'f', -1, 64) for a finite `d`: the shortest decimal digits that
// read back as `d`, written without an exponent.
std::string GoShortestFixed(double d) {
  char buffer[64];
  auto scientific =
      std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::scientific);
  const absl::string_view text(buffer, scientific.ptr - buffer);
  std::string out;
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    out.push_back('-');
    ++i;
  }
  std::string digits;
  int exponent = 0;
  const size_t e = text.find('e');
  for (size_t k = i; k < (e == absl::string_view::npos ? text.size() : e); ++k) {
    if (absl::ascii_isdigit(text[k])) digits.push_back(text[k]);
  }
  if (e != absl::string_view::npos) (void)absl::SimpleAtoi(text.substr(e + 1), &exponent);
  // digits = d1 d2 ... dn, value = d1.d2...dn x 10^exponent.
  const int n = static_cast<int>(digits.size());
  if (exponent >= n - 1) {
    out += digits;
    out.append(exponent - (n - 1), '0');
  } else if (exponent >= 0) {
    out += digits.substr(0, exponent + 1);
    out.push_back('.');
    out += digits.substr(exponent + 1);
  } else {
    out += "0.";
    out.append(-exponent - 1, '0');
    out += digits;
  }
  return out;
}

void AppendNumber(const Json& value, std::string* out) {
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isnan(d)) {
      out->append(".nan");
      return;
    }
    if (std::isinf(d)) {
      out->append(d > 0 ? ".inf" : "-.inf");
      return;
    }
    // kustomize prints a float through Go's JSON encoder (shortest digits, fixed notation for
    // 1e-6 <= |d| < 1e21) and reads that text back with gopkg.in/yaml.v2: an integral text that
    // fits int64/uint64 is printed as it is, anything else as a float through
    // strconv.FormatFloat(d, 'g', -1, 64) (exponent form when the exponent is < -4 or >= 6).
    if (d == 0) {
      out->append("0");  // -0 too: yaml.v2 reads Go's "-0" as the integer 0
      return;
    }
    char buffer[64];
    const double magnitude = std::fabs(d);
    if (magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e21)) {
      // Go's strconv.FormatFloat(d, 'f', -1, 64): the shortest digits that read back as `d`,
      // padded with zeros ("12345678901234567000", not the exact "...7168").
      const std::string go_fixed = GoShortestFixed(d);
      const absl::string_view text(go_fixed);
      int64_t as_int;
      uint64_t as_uint;
      if (text.find('.') == absl::string_view::npos &&
          (absl::SimpleAtoi(text, &as_int) || absl::SimpleAtoi(text, &as_uint))) {
        out->append(text.data(), text.size());
        return;
      }
    }
    auto scientific =
        std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::scientific);
    const absl::string_view text(buffer, scientific.ptr - buffer);
    int exponent = 0;
    const size_t e = text.find('e');
    if (e != absl::string_view::npos) (void)absl::SimpleAtoi(text.substr(e + 1), &exponent);
    if (exponent < -4 || exponent >= 6) {
      out->append(text.data(), text.size());
    } else {
      out->append(GoShortestFixed(d));
    }
    return;
  }
  out->append(value.dump());
}

void AppendScalar(const Json& value, int indent, std::string* out) {
  if (value.is_string()) {
    AppendScalarString(value.get_ref<const std::string&>(), indent, false, out);
  } else if (value.is_null()) {
    out->append("null");
  } else if (value.is_boolean()) {
    out->append(value.get<bool>() ? "true" : "false");
  } else if (value.is_number()) {
    AppendNumber(value, out);
  } else {
    out->append(value.dump());
  }
}

void AppendNode(const Json& value, int indent, std::string* out);

void AppendMappingEntry(const std::string& key, const Json& v, int indent, std::string* out);
void AppendMapping(const Json& object, int indent, std::string* out);

// Appends mapping entries in the given order (see AppendMapping).
void AppendMappingItems(const std::vector<Json::object_t::const_iterator>& items, int indent,
                        std::string* out) {
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out->push_back('\n');
      out->append(indent, ' ');
    }
    AppendMappingEntry(items[i]->first, items[i]->second, indent, out);
  }
}

// The code points of UTF-8 text (invalid bytes taken one by one).
void DecodeRunes(absl::string_view text, std::vector<char32_t>* runes) {
  runes->clear();
  for (size_t i = 0; i < text.size();) {
    int width;
    runes->push_back(RuneAt(text, i, &width));
    i += width;
  }
}

// The code points of ASCII text: its bytes, without decoding them.
struct AsciiRunes {
  absl::string_view text;
  size_t size() const { return text.size(); }
  char32_t operator[](size_t i) const { return static_cast<unsigned char>(text[i]); }
};

bool IsAscii(absl::string_view text) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return false;
  }
  return true;
}

template <typename Runes>
bool RunesLessYamlV2(const Runes& ar, const Runes& br);

// The order gopkg.in/yaml.v2 (v2.4.0, sorter.go) gives string map keys, which `kubectl
// kustomize` prints with (it emits through sigs.k8s.io/yaml's JSONToYAML): at the first
// differing rune two letters compare by code point, a non-letter sorts before a letter, and
// two non-letters compare as numbers when they start digit runs ("a9" < "a10"). Letters and
// digits are Go's unicode.IsLetter and unicode.IsDigit (common/go_unicode.h): "ⅷ", "−" or
// U+00A0 are no letters, "１２３" and "١٢٣" are digit runs, whose value Go computes from each
// rune minus '0'.
bool KeyLessYamlV2(absl::string_view a, absl::string_view b) {
  // Keys are ASCII but for rare ones: their bytes are their code points.
  if (IsAscii(a) && IsAscii(b)) return RunesLessYamlV2(AsciiRunes{a}, AsciiRunes{b});
  thread_local std::vector<char32_t> ar, br;
  DecodeRunes(a, &ar);
  DecodeRunes(b, &br);
  return RunesLessYamlV2(ar, br);
}

// KeyLessYamlV2 on the code points of both keys.
template <typename Runes>
bool RunesLessYamlV2(const Runes& ar, const Runes& br) {
  for (size_t i = 0; i < ar.size() && i < br.size(); ++i) {
    if (ar[i] == br[i]) continue;
    bool al = GoIsLetter(ar[i]);
    bool bl = GoIsLetter(br[i]);
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    // Go's int arithmetic: a digit run too long for 64 bits wraps around (unsigned here, as
    // signed overflow is undefined in C++), so very long numbers order as kubectl orders them.
    uint64_t an = 0, bn = 0;
    if (ar[i] == '0' || br[i] == '0') {
      for (size_t j = i; j-- > 0 && GoIsDigit(ar[j]);) {
        if (ar[j] != '0') {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    size_t ai = i, bi = i;
    for (; ai < ar.size() && GoIsDigit(ar[ai]); ++ai) an = an * 10 + (ar[ai] - '0');
    for (; bi < br.size() && GoIsDigit(br[bi]); ++bi) bn = bn * 10 + (br[bi] - '0');
    if (an != bn) return static_cast<int64_t>(an) < static_cast<int64_t>(bn);
    if (ai != bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.size() < br.size();
}

// Appends a mapping whose first key goes at the current position and later keys at `indent`.
void AppendMapping(const Json& object, int indent, std::string* out) {
  const Json::object_t& members = object.get_ref<const Json::object_t&>();
  // nlohmann keeps keys in byte order; yaml.v2's order differs only around non-letters and
  // digit runs, so most mappings need no sorting.
  bool sorted = true;
  for (auto it = members.begin(), next = std::next(it); next != members.end(); ++it, ++next) {
    if (KeyLessYamlV2(next->first, it->first)) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    std::vector<Json::object_t::const_iterator> items;
    items.reserve(members.size());
    for (auto it = members.begin(); it != members.end(); ++it) items.push_back(it);
    std::stable_sort(
        items.begin(), items.end(),
        [](const Json::object_t::const_iterator& x, const Json::object_t::const_iterator& y) {
          return KeyLessYamlV2(x->first, y->first);
        });
    AppendMappingItems(items, indent, out);
    return;
  }
  bool first = true;
  for (const auto& [key, value] : members) {
    if (!first) {
      out->push_back('\n');
      out->append(indent, ' ');
    }
    first = false;
    AppendMappingEntry(key, value, indent, out);
  }
}

// Appends "key: value" (a nested mapping or sequence on the following lines).
void AppendMappingEntry(const std::string& key, const Json& v, int indent, std::string* out) {
  // go-yaml writes a key that cannot be a simple key (a line break in it, or longer than 128
  // bytes) as a complex key: "? key" then ": value" on the next line.
  bool simple = key.size() <= 128;
  // Printable ASCII without spaces (most keys) holds no break ('\n', '\r', NEL, U+2028, U+2029).
  if (simple && !IsAsciiGraphic(key)) {
    for (size_t i = 0; simple && i < key.size();) {
      int width;
      if (IsGoYamlBreak(RuneAt(key, i, &width))) simple = false;
      i += width;
    }
  }
  if (simple) {
    AppendScalarString(key, indent, true, out);
  } else {
    out->append("? ");
    AppendScalarString(key, indent + 2, false, out);
    out->push_back('\n');
    out->append(indent, ' ');
  }
  out->push_back(':');
  if (v.is_object() && !v.empty()) {
    out->push_back('\n');
    out->append(indent + 2, ' ');
    AppendMapping(v, indent + 2, out);
  } else if (v.is_array() && !v.empty()) {
    out->push_back('\n');
    out->append(indent, ' ');
    AppendNode(v, indent, out);
  } else {
    out->push_back(' ');
    AppendNode(v, indent + 2, out);
  }
}

void AppendSequence(const Json& array, int indent, std::string* out) {
  bool first = true;
  for (const Json& item : array.get_ref<const Json::array_t&>()) {
    if (!first) {
      out->push_back('\n');
      out->append(indent, ' ');
    }
    first = false;
    out->append("- ");
    AppendNode(item, indent + 2, out);
  }
}

void AppendNode(const Json& value, int indent, std::string* out) {
  if (value.is_object()) {
    if (value.empty()) {
      out->append("{}");
    } else {
      AppendMapping(value, indent, out);
    }
  } else if (value.is_array()) {
    if (value.empty()) {
      out->append("[]");
    } else {
      AppendSequence(value, indent, out);
    }
  } else {
    AppendScalar(value, indent, out);
  }
}

}  // namespace

namespace {

// A JSON pointer token ("~" and "/" escaped).
std::string PointerToken(absl::string_view token) {
  return absl::StrReplaceAll(token, {{"~", "~0"}, {"/", "~1"}});
}

// The first code point of `s` go-yaml's reader refuses, or 0.
char32_t UnreadableRune(absl::string_view s) {
  // Every refused code point is U+007F or beyond: skip the ASCII below it, 8 bytes at a time
  // (a byte b < 0x7F has neither its top bit nor that of b + 1 set, and carries no 1 into the
  // next byte).
  size_t start = 0;
  uint64_t word;
  while (start + sizeof(word) <= s.size()) {
    std::memcpy(&word, s.data() + start, sizeof(word));
    if (((word | (word + 0x0101010101010101ULL)) & 0x8080808080808080ULL) != 0) break;
    start += sizeof(word);
  }
  while (start < s.size() && static_cast<unsigned char>(s[start]) < 0x7F) ++start;
  for (size_t i = start; i < s.size();) {
    int width;
    const char32_t r = RuneAt(s, i, &width);
    if (r == 0x7F || (r >= 0x80 && r <= 0x9F && r != 0x85) || r == 0xFFFE || r == 0xFFFF) {
      return r;
    }
    i += width;
  }
  return 0;
}

// One step of the JSON pointer to the value being checked: a member's key, or an item's index
// when `key` is null.
struct PointerStep {
  const std::string* key;
  size_t index;
};

// The JSON pointer `path` names ("/" for the root); built only for a message.
std::string PointerOf(const std::vector<PointerStep>& path) {
  if (path.empty()) return "/";
  std::string pointer;
  for (const PointerStep& step : path) {
    if (step.key != nullptr) {
      absl::StrAppend(&pointer, "/", PointerToken(*step.key));
    } else {
      absl::StrAppend(&pointer, "/", step.index);
    }
  }
  return pointer;
}

absl::Status CheckPrintableAt(const Json& value, std::vector<PointerStep>* path) {
  auto check_string = [&](absl::string_view s, absl::string_view what) -> absl::Status {
    if (const char32_t r = UnreadableRune(s); r != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s at %s holds U+%04X: kustomize refuses it when it prints the object (yaml: "
          "control characters are not allowed)",
          what, PointerOf(*path), static_cast<unsigned>(r)));
    }
    return absl::OkStatus();
  };
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value at ", PointerOf(*path), " is ",
          std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf"),
          ": kustomize refuses it when it prints the object (json: unsupported value); quote "
          "it to keep it as a string"));
    }
  } else if (value.is_string()) {
    return check_string(value.get_ref<const std::string&>(), "the string");
  } else if (value.is_object()) {
    for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
      path->push_back(PointerStep{&key, 0});
      absl::Status status = check_string(key, "the key");
      // In a key, a raw NEL breaks the JSON text go-yaml reads ("did not find expected ',' or
      // '}'").
      if (status.ok() && absl::StrContains(key, "\xC2\x85")) {
        status = absl::InvalidArgumentError(
            absl::StrCat("the key at ", PointerOf(*path),
                         " holds U+0085: kustomize refuses it when it prints the "
                         "object (yaml: did not find expected ',' or '}')"));
      }
      if (status.ok()) status = CheckPrintableAt(member, path);
      path->pop_back();
      if (!status.ok()) return status;
    }
  } else if (value.is_array()) {
    const Json::array_t& items = value.get_ref<const Json::array_t&>();
    for (size_t i = 0; i < items.size(); ++i) {
      path->push_back(PointerStep{nullptr, i});
      absl::Status status = CheckPrintableAt(items[i], path);
      path->pop_back();
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

}  // namespace

namespace {

// What kustomize's JSON round trip makes of a string holding U+0085 (NEL): Go's JSON encoder
// writes NEL raw, and go-yaml reads the JSON text as YAML 1.1, where NEL is a line break inside
// a double-quoted scalar: a run of spaces and breaks holding n NELs folds to one space (n = 1)
// or n - 1 line feeds, as YAML folds lines.
bool FoldNel(std::string* s) {
  if (s->find("\xC2\x85") == std::string::npos) return false;
  std::string out;
  size_t i = 0;
  while (i < s->size()) {
    if ((*s)[i] != ' ' && !((*s)[i] == '\xC2' && i + 1 < s->size() && (*s)[i + 1] == '\x85')) {
      out.push_back((*s)[i++]);
      continue;
    }
    size_t j = i, breaks = 0;
    while (j < s->size()) {
      if ((*s)[j] == ' ') {
        ++j;
      } else if ((*s)[j] == '\xC2' && j + 1 < s->size() && (*s)[j + 1] == '\x85') {
        ++breaks;
        j += 2;
      } else {
        break;
      }
    }
    if (breaks == 0) {
      out.append(*s, i, j - i);
    } else if (breaks == 1) {
      out.push_back(' ');
    } else {
      out.append(breaks - 1, '\n');
    }
    i = j;
  }
  *s = std::move(out);
  return true;
}

void FoldNelIn(Json& value) {
  if (value.is_string()) {
    FoldNel(value.get_ptr<std::string*>());
  } else if (value.is_array()) {
    for (Json& item : value.get_ref<Json::array_t&>()) FoldNelIn(item);
  } else if (value.is_object()) {
    for (auto& [key, member] : value.get_ref<Json::object_t&>()) FoldNelIn(member);
  }
}

}  // namespace

void ApplyKustomizePrintRoundTrip(nlohmann::json& value) { FoldNelIn(value); }

absl::Status CheckKustomizePrintable(const nlohmann::json& value) {
  std::vector<PointerStep> path;
  return CheckPrintableAt(value, &path);
}

std::string EmitYaml(const nlohmann::json& value) {
  std::string out;
  AppendNode(value, 0, &out);
  out.push_back('\n');
  return out;
}

std::string EmitYamlStream(const std::vector<nlohmann::json>& values) {
  std::string out;
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out.append("---\n");
    AppendNode(values[i], 0, &out);
    out.push_back('\n');
  }
  return out;
}

}  // namespace todoke

#include "common/yaml_scalar.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"

namespace todoke::yaml_internal {
namespace {

using Json = nlohmann::json;

bool IsNullWord(absl::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Go's strconv.ParseInt/ParseUint with base 0 on text with '_' removed, as go-yaml v3 does.
bool ParseGoInteger(absl::string_view text, Json* out) {
  // Most numbers hold no '_': no copy for them.
  std::string without_underscores;
  absl::string_view s = text;
  if (text.find('_') != absl::string_view::npos) {
    without_underscores = absl::StrReplaceAll(text, {{"_", ""}});
    s = without_underscores;
  }
  if (s.empty()) return false;
  bool negative = false;
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-') {
    negative = s[0] == '-';
    i = 1;
  }
  if (i >= s.size()) return false;
  int base = 10;
  if (s.size() - i > 1 && s[i] == '0') {
    const char p = absl::ascii_tolower(s[i + 1]);
    if (p == 'x') {
      base = 16;
      i += 2;
    } else if (p == 'o') {
      base = 8;
      i += 2;
    } else if (p == 'b') {
      base = 2;
      i += 2;
    } else {
      base = 8;
      i += 1;
    }
    if (i >= s.size()) return false;
  }
  unsigned __int128 value = 0;
  for (; i < s.size(); ++i) {
    const char c = absl::ascii_tolower(s[i]);
    int digit;
    if (c >= '0' && c <= '9') {
      digit = c - '0';
    } else if (c >= 'a' && c <= 'f') {
      digit = c - 'a' + 10;
    } else {
      return false;
    }
    if (digit >= base) return false;
    value = value * base + digit;
    if (value > std::numeric_limits<uint64_t>::max()) return false;
  }
  if (negative) {
    if (value > static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max()) + 1) {
      return false;
    }
    *out = static_cast<int64_t>(-static_cast<__int128>(value));
  } else if (value <= static_cast<unsigned __int128>(std::numeric_limits<int64_t>::max())) {
    *out = static_cast<int64_t>(value);
  } else {
    *out = static_cast<uint64_t>(value);
  }
  return true;
}

// go-yaml's float syntax: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?
bool IsYamlFloatSyntax(absl::string_view s) {
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
  size_t int_digits = 0;
  while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++int_digits;
  size_t frac_digits = 0;
  bool dot = false;
  if (i < s.size() && s[i] == '.') {
    dot = true;
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++frac_digits;
  }
  if (int_digits == 0 && (!dot || frac_digits == 0)) return false;
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    size_t exp_digits = 0;
    while (i < s.size() && absl::ascii_isdigit(s[i])) ++i, ++exp_digits;
    if (exp_digits == 0) return false;
  }
  return i == s.size();
}

// Go's time.Parse getnum: one digit, or two when the second is a digit.
bool GoGetNum(absl::string_view s, size_t* i, int* value) {
  if (*i >= s.size() || !absl::ascii_isdigit(s[*i])) return false;
  *value = s[*i] - '0';
  ++*i;
  if (*i < s.size() && absl::ascii_isdigit(s[*i])) {
    *value = *value * 10 + (s[*i] - '0');
    ++*i;
  }
  return true;
}

int DaysIn(int month, int year) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) return 29;
  return kDays[month - 1];
}

}  // namespace

bool NormalizeTimestamp(absl::string_view s, std::string* out) {
  if (s.size() < 5) return false;
  for (size_t k = 0; k < 4; ++k) {
    if (!absl::ascii_isdigit(s[k])) return false;
  }
  if (s[4] != '-') return false;
  const int year = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  size_t i = 5;
  int month, day;
  if (!GoGetNum(s, &i, &month) || month < 1 || month > 12) return false;
  if (i >= s.size() || s[i++] != '-') return false;
  if (!GoGetNum(s, &i, &day)) return false;
  if (day < 1 || day > DaysIn(month, year)) return false;
  const std::string date = absl::StrFormat("%04d-%02d-%02d", year, month, day);
  if (i == s.size()) {
    *out = absl::StrCat(date, "T00:00:00Z");
    return true;
  }
  // "T" or "t" (a zone follows), or spaces (no zone follows).
  const bool with_zone = s[i] == 'T' || s[i] == 't';
  if (with_zone) {
    ++i;
  } else if (s[i] == ' ') {
    while (i < s.size() && s[i] == ' ') ++i;
  } else {
    return false;
  }
  int hour, minute, second;
  if (!GoGetNum(s, &i, &hour) || hour > 23) return false;
  if (i >= s.size() || s[i++] != ':') return false;
  if (!GoGetNum(s, &i, &minute) || minute > 59) return false;
  if (i >= s.size() || s[i++] != ':') return false;
  if (!GoGetNum(s, &i, &second) || second > 59) return false;
  std::string fraction;
  // Any number of digits after "." or ","; the first nine count.
  if (i + 1 < s.size() && (s[i] == '.' || s[i] == ',') && absl::ascii_isdigit(s[i + 1])) {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) {
      if (fraction.size() < 9) fraction.push_back(s[i]);
      ++i;
    }
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  }
  std::string zone = "Z";
  if (with_zone) {
    if (i < s.size() && s[i] == 'Z') {
      ++i;
    } else {
      if (s.size() - i < 6 || s[i + 3] != ':' || (s[i] != '+' && s[i] != '-')) return false;
      for (size_t k : {i + 1, i + 2, i + 4, i + 5}) {
        if (!absl::ascii_isdigit(s[k])) return false;
      }
      const int zh = (s[i + 1] - '0') * 10 + (s[i + 2] - '0');
      const int zm = (s[i + 4] - '0') * 10 + (s[i + 5] - '0');
      if (zh > 24 || zm > 60) return false;
      if (zh != 0 || zm != 0) zone = absl::StrFormat("%c%02d:%02d", s[i], zh, zm);
      i += 6;
    }
  }
  if (i != s.size()) return false;
  *out = absl::StrFormat("%sT%02d:%02d:%02d%s%s%s", date, hour, minute, second,
                         fraction.empty() ? "" : ".", fraction, zone);
  return true;
}

bool ResolvePlainScalarTo(absl::string_view s, Json* out) {
  // Every null, bool, number, infinity, NaN and timestamp below starts with one of these
  // characters; most scalars (names, images, paths, labels) do not, and were compared with
  // every word first (~2 M instructions of 50 objects' parse and print).
  if (!s.empty()) {
    switch (s[0]) {
      case '~':
      case 'n':
      case 'N':
      case 't':
      case 'T':
      case 'f':
      case 'F':
      case '.':
      case '+':
      case '-':
        break;
      default:
        if (!absl::ascii_isdigit(static_cast<unsigned char>(s[0]))) return false;
    }
  }
  if (IsNullWord(s)) {
    *out = nullptr;
    return true;
  }
  if (s == "true" || s == "True" || s == "TRUE") {
    *out = true;
    return true;
  }
  if (s == "false" || s == "False" || s == "FALSE") {
    *out = false;
    return true;
  }
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    *out = std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") {
    *out = -std::numeric_limits<double>::infinity();
    return true;
  }
  if (s == ".nan" || s == ".NaN" || s == ".NAN") {
    *out = std::numeric_limits<double>::quiet_NaN();
    return true;
  }
  const char c = s[0];
  if (absl::ascii_isdigit(c) || c == '-' || c == '+' || c == '.') {
    if (ParseGoInteger(s, out)) return true;
    std::string without_underscores;
    absl::string_view plain = s;
    if (s.find('_') != absl::string_view::npos) {
      without_underscores = absl::StrReplaceAll(s, {{"_", ""}});
      plain = without_underscores;
    }
    if (IsYamlFloatSyntax(plain)) {
      // Go's strconv.ParseFloat refuses a value beyond the double range (ErrRange), and go-yaml
      // then keeps the text as a string: "1e400" is a string for kustomize, not +Inf.
      double d;
      if (absl::SimpleAtod(plain, &d) && !std::isinf(d)) {
        *out = d;
        return true;
      }
    }
    std::string timestamp;
    if (NormalizeTimestamp(s, &timestamp)) {
      *out = std::move(timestamp);
      return true;
    }
  }
  return false;
}

Json ResolvePlainScalar(const std::string& s) {
  Json value;
  if (ResolvePlainScalarTo(s, &value)) return value;
  return s;
}

namespace {

// Printable ASCII other than ' ', ':' and '#': a character AnalyzeScalar notes nothing of
// after the first.
bool IsPlainAsciiByte(char c) {
  const unsigned char u = static_cast<unsigned char>(c);
  return u >= 0x21 && u <= 0x7E && u != ':' && u != '#';
}

// True when `c`, the first character of a scalar, is a YAML indicator there: always for these,
// and for '?', ':' and '-' when whitespace or the end follows.
bool IsIndicatorAtStart(char32_t c, bool followed_by_whitespace) {
  switch (c) {
    case '#':
    case ',':
    case '[':
    case ']':
    case '{':
    case '}':
    case '&':
    case '*':
    case '!':
    case '|':
    case '>':
    case '\'':
    case '"':
    case '%':
    case '@':
    case '`':
      return true;
    case '?':
    case ':':
    case '-':
      return followed_by_whitespace;
    default:
      return false;
  }
}

}  // namespace

bool IsAsciiGraphic(absl::string_view s) {
  for (const char c : s) {
    const unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x21 || u > 0x7E) return false;
  }
  return true;
}

ScalarAnalysis AnalyzeScalar(absl::string_view s) {
  ScalarAnalysis a;
  if (s.empty()) {
    a.block_allowed = false;
    return a;
  }
  // Printable ASCII without spaces (names, images, paths, most values): no space, break or
  // unprintable code point, so only an indicator at the start, a ':' at the end (which no
  // whitespace can follow elsewhere) or a leading "---"/"..." forbid plain style; the loop below
  // gives the same answer at ~10x the cost.
  if (IsAsciiGraphic(s)) {
    bool indicator = absl::StartsWith(s, "---") || absl::StartsWith(s, "...") ||
                     IsIndicatorAtStart(static_cast<unsigned char>(s[0]),
                                        /*followed_by_whitespace=*/s.size() == 1);
    if (s.size() > 1 && s.back() == ':') indicator = true;
    a.block_plain_allowed = !indicator;
    return a;
  }
  bool block_indicators = false, special = false, line_breaks = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  bool previous_space = false, previous_break = false;
  if (absl::StartsWith(s, "---") || absl::StartsWith(s, "...")) block_indicators = true;
  bool preceded_by_whitespace = true;
  for (size_t i = 0; i < s.size();) {
    // Past the first character, printable ASCII other than ' ', ':' and '#' (most of a text)
    // sets no flag and only clears the ones that look back: skip its runs.
    if (i > 0 && IsPlainAsciiByte(s[i])) {
      do {
        ++i;
      } while (i < s.size() && IsPlainAsciiByte(s[i]));
      previous_space = false;
      previous_break = false;
      preceded_by_whitespace = false;
      continue;
    }
    int w;
    const char32_t r = RuneAt(s, i, &w);
    const bool followed_by_whitespace = i + w >= s.size() || s[i + w] == ' ' || s[i + w] == '\t';
    if (i == 0) {
      if (IsIndicatorAtStart(r, followed_by_whitespace)) block_indicators = true;
    } else {
      if (r == ':' && followed_by_whitespace) block_indicators = true;
      if (r == '#' && preceded_by_whitespace) block_indicators = true;
    }
    if (!IsGoYamlPrintable(r)) special = true;
    const bool last = i + w == s.size();
    if (r == ' ') {
      if (i == 0) leading_space = true;
      if (last) trailing_space = true;
      if (previous_break) break_space = true;
      previous_space = true;
      previous_break = false;
    } else if (IsGoYamlBreak(r)) {
      line_breaks = true;
      if (i == 0) leading_break = true;
      if (last) trailing_break = true;
      if (previous_space) space_break = true;
      previous_space = false;
      previous_break = true;
    } else {
      previous_space = false;
      previous_break = false;
    }
    preceded_by_whitespace = r == ' ' || r == '\t' || IsGoYamlBreak(r);
    i += w;
  }
  if (leading_space || leading_break || trailing_space || trailing_break) {
    a.block_plain_allowed = false;
  }
  if (trailing_space) a.block_allowed = false;
  if (break_space) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
  }
  if (space_break || special) {
    a.block_plain_allowed = false;
    a.single_quoted_allowed = false;
    a.block_allowed = false;
  }
  if (line_breaks || block_indicators) a.block_plain_allowed = false;
  return a;
}

bool GoYamlCanWritePlain(absl::string_view s) {
  return !s.empty() && AnalyzeScalar(s).block_plain_allowed;
}

}  // namespace todoke::yaml_internal

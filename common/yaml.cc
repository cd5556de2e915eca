#include "absl/strings/string_view.h"
#include "common/yaml.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "common/status.h"
#include "yaml-cpp/yaml.h"

namespace todoke {
namespace {

using Json = nlohmann::json;

std::string Where(absl::string_view source, const YAML::Mark& mark) {
  std::string prefix = source.empty() ? std::string("<input>") : std::string(source);
  if (mark.line < 0) return prefix;
  return absl::StrCat(prefix, ":", mark.line + 1, ":", mark.column + 1);
}

bool IsNullWord(absl::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// Go's strconv.ParseInt/ParseUint with base 0 on text with '_' removed, as go-yaml v3 does.
bool ParseGoInteger(absl::string_view text, Json* out) {
  std::string s = absl::StrReplaceAll(text, {{"_", ""}});
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

bool ReadDigits(absl::string_view s, size_t* i, size_t min, size_t max, int* value) {
  size_t n = 0;
  *value = 0;
  while (*i < s.size() && n < max && absl::ascii_isdigit(s[*i])) {
    *value = *value * 10 + (s[*i] - '0');
    ++*i;
    ++n;
  }
  return n >= min;
}

// A YAML timestamp ("2001-12-14", "2001-12-14t21:59:43.10-05:00", "2001-12-14 21:59:43.10")
// rewritten the way kustomize prints it after its JSON round trip: RFC 3339 with nanoseconds
// trimmed, "Z" for UTC. Returns false if `s` is not a timestamp.
bool NormalizeTimestamp(absl::string_view s, std::string* out) {
  size_t i = 0;
  int year, month, day;
  if (!ReadDigits(s, &i, 4, 4, &year) || i >= s.size() || s[i++] != '-') return false;
  if (!ReadDigits(s, &i, 1, 2, &month) || i >= s.size() || s[i++] != '-') return false;
  if (!ReadDigits(s, &i, 1, 2, &day)) return false;
  if (month < 1 || month > 12 || day < 1 || day > 31) return false;
  std::string date = absl::StrFormat("%04d-%02d-%02d", year, month, day);
  if (i == s.size()) {
    *out = absl::StrCat(date, "T00:00:00Z");
    return true;
  }
  if (s[i] != 'T' && s[i] != 't' && s[i] != ' ') return false;
  ++i;
  int hour, minute, second;
  if (!ReadDigits(s, &i, 1, 2, &hour) || i >= s.size() || s[i++] != ':') return false;
  if (!ReadDigits(s, &i, 2, 2, &minute) || i >= s.size() || s[i++] != ':') return false;
  if (!ReadDigits(s, &i, 2, 2, &second)) return false;
  if (hour > 23 || minute > 59 || second > 60) return false;
  std::string fraction;
  if (i < s.size() && s[i] == '.') {
    ++i;
    while (i < s.size() && absl::ascii_isdigit(s[i])) fraction.push_back(s[i++]);
    if (fraction.empty()) return false;
    if (fraction.size() > 9) fraction.resize(9);
    while (!fraction.empty() && fraction.back() == '0') fraction.pop_back();
  }
  while (i < s.size() && s[i] == ' ') ++i;
  std::string zone = "Z";
  if (i < s.size()) {
    if (s[i] == 'Z' && i + 1 == s.size()) {
      zone = "Z";
    } else if (s[i] == '+' || s[i] == '-') {
      const char sign = s[i++];
      int zh, zm = 0;
      if (!ReadDigits(s, &i, 1, 2, &zh)) return false;
      if (i < s.size() && s[i] == ':') {
        ++i;
        if (!ReadDigits(s, &i, 2, 2, &zm)) return false;
      }
      if (i != s.size()) return false;
      zone = (zh == 0 && zm == 0) ? "Z" : absl::StrFormat("%c%02d:%02d", sign, zh, zm);
    } else {
      return false;
    }
  }
  *out = absl::StrFormat("%sT%02d:%02d:%02d%s%s%s", date, hour, minute, second,
                         fraction.empty() ? "" : ".", fraction, zone);
  return true;
}

// Resolves a plain (unquoted, untagged) scalar the way go-yaml v3 does.
Json ResolvePlainScalar(const std::string& s) {
  if (IsNullWord(s)) return nullptr;
  if (s == "true" || s == "True" || s == "TRUE") return true;
  if (s == "false" || s == "False" || s == "FALSE") return false;
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == "+.inf" || s == "+.Inf" || s == "+.INF") {
    return std::numeric_limits<double>::infinity();
  }
  if (s == "-.inf" || s == "-.Inf" || s == "-.INF") return -std::numeric_limits<double>::infinity();
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return std::numeric_limits<double>::quiet_NaN();
  const char c = s[0];
  if (absl::ascii_isdigit(c) || c == '-' || c == '+' || c == '.') {
    Json integer;
    if (ParseGoInteger(s, &integer)) return integer;
    std::string plain = absl::StrReplaceAll(s, {{"_", ""}});
    if (IsYamlFloatSyntax(plain)) {
      double d;
      if (absl::SimpleAtod(plain, &d)) return d;
    }
    std::string timestamp;
    if (NormalizeTimestamp(s, &timestamp)) return timestamp;
  }
  return s;
}

constexpr char kStrTag[] = "tag:yaml.org,2002:str";
constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kFloatTag[] = "tag:yaml.org,2002:float";
constexpr char kBoolTag[] = "tag:yaml.org,2002:bool";
constexpr char kNullTag[] = "tag:yaml.org,2002:null";

class Converter {
 public:
  // Expansion is bounded by the configured limit and by the input's size: a document of N bytes
  // has at most about N/2 nodes unless aliases multiply them.
  Converter(absl::string_view source, const YamlLimits& limits, size_t input_bytes)
      : source_(source),
        limits_(limits),
        max_nodes_(std::min<int64_t>(limits.max_nodes, 100'000 + 8 * static_cast<int64_t>(input_bytes))) {}

  absl::StatusOr<Json> Convert(const YAML::Node& node, int depth) {
    if (++nodes_ > max_nodes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          Where(source_, node.Mark()), ": document expands to more than ", max_nodes_,
          " nodes (alias expansion limit; is this a \"billion laughs\" document?)"));
    }
    if (depth > limits_.max_depth) {
      return absl::ResourceExhaustedError(absl::StrCat(Where(source_, node.Mark()),
                                                       ": nesting deeper than ", limits_.max_depth));
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        return Json(nullptr);
      case YAML::NodeType::Scalar:
        return ConvertScalar(node);
      case YAML::NodeType::Sequence: {
        Json array = Json::array();
        for (const YAML::Node& item : node) {
          ASSIGN_OR_RETURN(Json value, Convert(item, depth + 1));
          array.push_back(std::move(value));
        }
        return array;
      }
      case YAML::NodeType::Map:
        return ConvertMap(node, depth);
    }
    return Json(nullptr);
  }

 private:
  absl::StatusOr<Json> ConvertScalar(const YAML::Node& node) {
    const std::string& tag = node.Tag();
    const std::string& text = node.Scalar();
    if (tag == "?") return ResolvePlainScalar(text);
    if (tag == "!" || tag == kStrTag || tag == "!!str") return Json(text);
    if (tag == kNullTag) return Json(nullptr);
    if (tag == kBoolTag || tag == kIntTag || tag == kFloatTag) {
      Json value = ResolvePlainScalar(text);
      const bool ok = (tag == kBoolTag && value.is_boolean()) ||
                      (tag == kIntTag && value.is_number_integer()) ||
                      (tag == kFloatTag && value.is_number());
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(Where(source_, node.Mark()),
                                                       ": cannot decode \"", text, "\" as ", tag));
      }
      if (tag == kFloatTag) return Json(value.get<double>());
      return value;
    }
    // Other tags (timestamps, custom tags) keep their text, as kustomize does.
    return Json(text);
  }

  static std::string KeyText(const Json& key) {
    if (key.is_string()) return key.get<std::string>();
    if (key.is_null()) return "null";
    return key.dump();
  }

  absl::Status MergeInto(Json& object, const YAML::Node& source, int depth,
                         const YAML::Mark& mark) {
    if (source.IsMap()) {
      ASSIGN_OR_RETURN(Json merged, Convert(source, depth + 1));
      for (auto& [k, v] : merged.items()) {
        if (!object.contains(k)) object[k] = v;
      }
      return absl::OkStatus();
    }
    const bool all_maps =
        source.IsSequence() &&
        std::all_of(source.begin(), source.end(), [](const YAML::Node& n) { return n.IsMap(); });
    if (all_maps) {
      for (const YAML::Node& item : source) RETURN_IF_ERROR(MergeInto(object, item, depth, mark));
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(Where(source_, mark), ": map merge requires map or sequence of maps as the value"));
  }

  absl::StatusOr<Json> ConvertMap(const YAML::Node& node, int depth) {
    Json object = Json::object();
    std::set<std::string> seen;
    std::vector<std::pair<YAML::Node, YAML::Mark>> merges;
    for (const auto& entry : node) {
      const YAML::Node& key_node = entry.first;
      if (key_node.IsScalar() && key_node.Tag() == "?" && key_node.Scalar() == "<<") {
        merges.emplace_back(entry.second, key_node.Mark());
        continue;
      }
      if (!key_node.IsScalar() && !key_node.IsNull()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(source_, key_node.Mark()), ": mapping keys must be scalars"));
      }
      Json key_value = key_node.IsNull() ? Json(nullptr) : ConvertScalar(key_node).value_or(Json(""));
      std::string key = KeyText(key_value);
      if (!seen.insert(key).second && !limits_.allow_duplicate_keys) {
        return absl::InvalidArgumentError(absl::StrCat(Where(source_, key_node.Mark()),
                                                       ": mapping key \"", key, "\" already defined"));
      }
      ASSIGN_OR_RETURN(Json value, Convert(entry.second, depth + 1));
      object[key] = std::move(value);
    }
    // Keys set explicitly win over merged ones; earlier merges win over later ones.
    for (const auto& [source, mark] : merges) {
      absl::Status status = MergeInto(object, source, depth, mark);
      if (!status.ok()) return status;
    }
    return object;
  }

  absl::string_view source_;
  const YamlLimits& limits_;
  const int64_t max_nodes_;
  int64_t nodes_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Emission.

bool IsYaml11Special(absl::string_view s) {
  static const std::set<absl::string_view> words = {
      "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO",
      "on", "On", "ON", "off", "Off", "OFF", "true", "True", "TRUE", "false", "False", "FALSE",
      "null", "Null", "NULL", "~"};
  return words.contains(s);
}

// True if a plain scalar with this text would not read back as the same string.
bool IsAmbiguousAsPlain(const std::string& s) {
  if (IsYaml11Special(s)) return true;
  const Json resolved = ResolvePlainScalar(s);
  if (!resolved.is_string() || resolved.get_ref<const std::string&>() != s) return true;
  // A timestamp reads back as a string, but a typed parser would see a time: quote it.
  std::string timestamp;
  if (NormalizeTimestamp(s, &timestamp)) return true;
  // YAML 1.1 base-60 numbers ("1:20") that older parsers read as numbers.
  bool base60 = !s.empty() && absl::ascii_isdigit(s[0]) && s.find(':') != std::string::npos;
  if (base60) {
    for (char c : s) {
      if (!absl::ascii_isdigit(c) && c != ':' && c != '.' && c != '_') {
        base60 = false;
        break;
      }
    }
  }
  return base60;
}

bool IsPrintable(unsigned char c) { return c >= 0x20 && c != 0x7f; }

enum class ScalarStyle { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral };

ScalarStyle ChooseStyle(const std::string& s, bool is_key) {
  if (s.empty()) return ScalarStyle::kDoubleQuoted;
  bool special = false;
  bool line_break = false;
  for (unsigned char c : s) {
    if (c == '\n') {
      line_break = true;
    } else if (c == '\t') {
      // allowed in quoted/literal styles
    } else if (!IsPrintable(c) && c < 0x80) {
      special = true;
    }
  }
  if (special) return ScalarStyle::kDoubleQuoted;
  if (IsAmbiguousAsPlain(s)) return ScalarStyle::kDoubleQuoted;
  if (line_break) {
    if (is_key) return ScalarStyle::kDoubleQuoted;
    // As go-yaml (kustomize): no block for text with tabs or with a line ending in a space.
    // A leading space or line break is fine: the block then gets an indentation indicator.
    bool block_ok = s.find('\t') == std::string::npos;
    size_t start = 0;
    while (block_ok && start <= s.size()) {
      size_t end = s.find('\n', start);
      if (end == std::string::npos) end = s.size();
      if (end > start && (s[end - 1] == ' ' || s[end - 1] == '\t')) block_ok = false;
      start = end + 1;
    }
    return block_ok ? ScalarStyle::kLiteral : ScalarStyle::kDoubleQuoted;
  }
  bool plain = true;
  if (s.front() == ' ' || s.back() == ' ' || s.front() == '\t' || s.back() == '\t') plain = false;
  if (s.rfind("---", 0) == 0 || s.rfind("...", 0) == 0) plain = false;
  for (size_t i = 0; plain && i < s.size(); ++i) {
    const char c = s[i];
    const bool next_space = i + 1 == s.size() || s[i + 1] == ' ' || s[i + 1] == '\t';
    const bool prev_space = i > 0 && (s[i - 1] == ' ' || s[i - 1] == '\t');
    if (i == 0) {
      switch (c) {
        case '#': case ',': case '[': case ']': case '{': case '}': case '&': case '*':
        case '!': case '|': case '>': case '\'': case '"': case '%': case '@': case '`':
          plain = false;
          break;
        case '?': case ':': case '-':
          if (next_space) plain = false;
          break;
        default:
          break;
      }
    } else {
      if (c == ':' && next_space) plain = false;
      if (c == '#' && prev_space) plain = false;
    }
  }
  if (plain) return ScalarStyle::kPlain;
  return ScalarStyle::kSingleQuoted;
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
      w.Put(static_cast<char>(c));
      continue;
    }
    switch (c) {
      case '"': w.Put("\\\""); break;
      case '\\': w.Put("\\\\"); break;
      case '\n': w.Put("\\n"); break;
      case '\t': w.Put("\\t"); break;
      case '\r': w.Put("\\r"); break;
      case '\0': w.Put("\\0"); break;
      default:
        if (c < 0x20 || c == 0x7f) {
          w.Put(absl::StrCat("\\x", absl::Hex(c, absl::kZeroPad2)));
        } else {
          w.Put(static_cast<char>(c));
        }
    }
  }
  if (quote != 0) w.Put(quote);
}

void AppendScalarString(const std::string& s, int indent, bool is_key, std::string* out) {
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
      const std::string pad(indent, ' ');
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
    // kustomize prints floats through Go's JSON encoder: integral values have no fraction.
    if (d == std::floor(d) && std::fabs(d) < 1e15) {
      absl::StrAppend(out, static_cast<int64_t>(d));
      return;
    }
  }
  out->append(value.dump());
}

bool IsScalar(const Json& v) { return !v.is_object() && !v.is_array(); }

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
void AppendMappingItems(const std::vector<Json::const_iterator>& items, int indent,
                        std::string* out) {
  const std::string pad(indent, ' ');
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) {
      out->push_back('\n');
      out->append(pad);
    }
    AppendMappingEntry(items[i].key(), items[i].value(), indent, out);
  }
}

// The code points of UTF-8 text (invalid bytes taken one by one).
void DecodeRunes(absl::string_view text, std::vector<char32_t>* runes) {
  runes->clear();
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    int length = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    if (i + length > text.size()) length = 1;
    char32_t rune = length == 1 ? c : c & (0xFF >> (length + 1));
    for (int k = 1; k < length; ++k) rune = (rune << 6) | (text[i + k] & 0x3F);
    runes->push_back(rune);
    i += length;
  }
}

// unicode.IsLetter for ASCII; other code points count as letters (scripts), which is what
// map keys outside ASCII almost always are.
bool IsLetterRune(char32_t r) {
  return (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r >= 0x80;
}
bool IsDigitRune(char32_t r) { return r >= '0' && r <= '9'; }

// The order gopkg.in/yaml.v2 (v2.4.0, sorter.go) gives string map keys, which `kubectl
// kustomize` prints with (it emits through sigs.k8s.io/yaml's JSONToYAML): at the first
// differing rune two letters compare by code point, a non-letter sorts before a letter, and
// two non-letters compare as numbers when they start digit runs ("a9" < "a10").
bool KeyLessYamlV2(absl::string_view a, absl::string_view b) {
  thread_local std::vector<char32_t> ar, br;
  DecodeRunes(a, &ar);
  DecodeRunes(b, &br);
  for (size_t i = 0; i < ar.size() && i < br.size(); ++i) {
    if (ar[i] == br[i]) continue;
    bool al = IsLetterRune(ar[i]);
    bool bl = IsLetterRune(br[i]);
    if (al && bl) return ar[i] < br[i];
    if (al || bl) return bl;
    int64_t an = 0, bn = 0;
    if (ar[i] == '0' || br[i] == '0') {
      for (size_t j = i; j-- > 0 && IsDigitRune(ar[j]);) {
        if (ar[j] != '0') {
          an = 1;
          bn = 1;
          break;
        }
      }
    }
    size_t ai = i, bi = i;
    for (; ai < ar.size() && IsDigitRune(ar[ai]); ++ai) an = an * 10 + (ar[ai] - '0');
    for (; bi < br.size() && IsDigitRune(br[bi]); ++bi) bn = bn * 10 + (br[bi] - '0');
    if (an != bn) return an < bn;
    if (ai != bi) return ai < bi;
    return ar[i] < br[i];
  }
  return ar.size() < br.size();
}

// Appends a mapping whose first key goes at the current position and later keys at `indent`.
void AppendMapping(const Json& object, int indent, std::string* out) {
  // nlohmann keeps keys in byte order; yaml.v2's order differs only around non-letters and
  // digit runs, so most mappings need no sorting.
  bool sorted = true;
  for (auto it = object.begin(), next = std::next(it); next != object.end(); ++it, ++next) {
    if (KeyLessYamlV2(next.key(), it.key())) {
      sorted = false;
      break;
    }
  }
  if (!sorted) {
    std::vector<Json::const_iterator> items;
    items.reserve(object.size());
    for (auto it = object.begin(); it != object.end(); ++it) items.push_back(it);
    std::stable_sort(items.begin(), items.end(),
                     [](const Json::const_iterator& x, const Json::const_iterator& y) {
                       return KeyLessYamlV2(x.key(), y.key());
                     });
    AppendMappingItems(items, indent, out);
    return;
  }
  bool first = true;
  const std::string pad(indent, ' ');
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (!first) {
      out->push_back('\n');
      out->append(pad);
    }
    first = false;
    AppendMappingEntry(it.key(), it.value(), indent, out);
  }
}

// Appends "key: value" (a nested mapping or sequence on the following lines).
void AppendMappingEntry(const std::string& key, const Json& v, int indent, std::string* out) {
  AppendScalarString(key, indent, true, out);
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
  const std::string pad(indent, ' ');
  for (const Json& item : array) {
    if (!first) {
      out->push_back('\n');
      out->append(pad);
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

absl::StatusOr<std::vector<YamlDocument>> ParseYamlStream(absl::string_view text,
                                                          absl::string_view source_name,
                                                          const YamlLimits& limits) {
  const std::string where = source_name.empty() ? "<input>" : std::string(source_name);
  if (text.size() > limits.max_document_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": ", text.size(),
                                                     " bytes exceeds the limit of ",
                                                     limits.max_document_bytes));
  }
  std::vector<YamlDocument> documents;
  try {
    std::vector<YAML::Node> nodes = YAML::LoadAll(std::string(text));
    Converter converter(source_name, limits, text.size());
    documents.reserve(nodes.size());
    for (const YAML::Node& node : nodes) {
      absl::StatusOr<nlohmann::json> value = converter.Convert(node, 0);
      if (!value.ok()) return value.status();
      YamlDocument doc;
      doc.value = std::move(value).value();
      doc.line = node.Mark().line >= 0 ? node.Mark().line + 1 : 1;
      documents.push_back(std::move(doc));
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(Where(source_name, e.mark), ": ", e.msg));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": ", e.what()));
  }
  return documents;
}

absl::StatusOr<nlohmann::json> ParseYaml(absl::string_view text, absl::string_view source_name,
                                         const YamlLimits& limits) {
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(text, source_name, limits);
  if (!docs.ok()) return docs.status();
  if (docs->empty()) return nlohmann::json(nullptr);
  if (docs->size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(source_name.empty() ? "<input>" : std::string(source_name), ": expected one YAML document, found ",
                     docs->size()));
  }
  return std::move((*docs)[0].value);
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
    out.append(EmitYaml(values[i]));
  }
  return out;
}

}  // namespace todoke

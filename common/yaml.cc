#include "absl/strings/string_view.h"
#include "common/yaml.h"

#include <algorithm>
#include <cmath>
#include <charconv>
#include <cstring>
#include <unordered_map>
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
#include "common/utf8.h"
#include <yaml.h>  // libyaml

namespace todoke {
namespace {

using Json = nlohmann::json;

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
      // Go's strconv.ParseFloat refuses a value beyond the double range (ErrRange), and go-yaml
      // then keeps the text as a string: "1e400" is a string for kustomize, not +Inf.
      double d;
      if (absl::SimpleAtod(plain, &d) && !std::isinf(d)) return d;
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

// Builds JSON values from libyaml's events (libyaml is the C parser go-yaml was ported from,
// so it accepts and refuses what kustomize's YAML reader does, and it scans ~10x faster than
// yaml-cpp). Anchors keep their converted value; an alias copies it and counts its nodes against
// the expansion budget.
class EventParser {
 public:
  EventParser(absl::string_view text, absl::string_view source, const YamlLimits& limits)
      : source_(source),
        limits_(limits),
        // Expansion is bounded by the configured limit and by the input's size: a document of
        // N bytes has at most about N/2 nodes unless aliases multiply them.
        max_nodes_(std::min<int64_t>(limits.max_nodes,
                                     100'000 + 8 * static_cast<int64_t>(text.size()))),
        budget_(limits.budget != nullptr ? limits.budget : CurrentBudget()) {
    yaml_parser_initialize(&parser_);
    yaml_parser_set_encoding(&parser_, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser_, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
  }
  ~EventParser() { yaml_parser_delete(&parser_); }
  EventParser(const EventParser&) = delete;
  EventParser& operator=(const EventParser&) = delete;

  // Locate mode: instead of failing, remember the JSON pointer (and document) of the scalar or
  // key whose text spans byte `offset` (used to name where invalid UTF-8 was read into).
  void LocateOffset(size_t offset) { locate_ = offset; }
  const std::string& located_pointer() const { return located_pointer_; }
  int located_document() const { return located_document_; }

  absl::StatusOr<std::vector<YamlDocument>> ParseStream() {
    std::vector<YamlDocument> documents;
    Event event;
    RETURN_IF_ERROR(Next(event));  // STREAM_START
    while (true) {
      RETURN_IF_ERROR(Next(event));
      if (event.get().type == YAML_STREAM_END_EVENT) break;
      if (event.get().type != YAML_DOCUMENT_START_EVENT) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(event.get().start_mark), ": expected a document"));
      }
      anchors_.clear();
      if (budget_ != nullptr) RETURN_IF_ERROR(budget_->Check(Where(event.get().start_mark)));
      Event root;
      RETURN_IF_ERROR(Next(root));
      YamlDocument document;
      document.line = static_cast<int>(root.get().start_mark.line) + 1;
      document_index_ = static_cast<int>(documents.size());
      path_.clear();
      ASSIGN_OR_RETURN(document.value, ParseNode(root, 0));
      RETURN_IF_ERROR(Next(event));  // DOCUMENT_END
      documents.push_back(std::move(document));
    }
    return documents;
  }

 private:
  // One libyaml event, freed when it goes out of scope or is replaced.
  class Event {
   public:
    Event() { std::memset(&event_, 0, sizeof(event_)); }
    ~Event() { Reset(); }
    Event(const Event&) = delete;
    Event& operator=(const Event&) = delete;
    yaml_event_t* Fill() {
      Reset();
      filled_ = true;
      return &event_;
    }
    void Reset() {
      if (filled_) yaml_event_delete(&event_);
      filled_ = false;
    }
    const yaml_event_t& get() const { return event_; }

   private:
    yaml_event_t event_;
    bool filled_ = false;
  };

  std::string Where(const yaml_mark_t& mark) const {
    std::string prefix = source_.empty() ? std::string("<input>") : std::string(source_);
    return absl::StrCat(prefix, ":", mark.line + 1, ":", mark.column + 1);
  }

  absl::Status Next(Event& event) {
    if (!yaml_parser_parse(&parser_, event.Fill())) {
      event.Reset();
      std::string message = parser_.problem != nullptr ? parser_.problem : "invalid YAML";
      if (parser_.context != nullptr) message = absl::StrCat(parser_.context, ": ", message);
      return absl::InvalidArgumentError(absl::StrCat(Where(parser_.problem_mark), ": ", message));
    }
    return absl::OkStatus();
  }

  // Counts `count` nodes (and `copied_bytes` of text an alias copies) against this parse's
  // limit and the render's budget.
  absl::Status CountNodes(int64_t count, const yaml_mark_t& mark, int64_t copied_bytes = 0) {
    if (budget_ != nullptr) {
      RETURN_IF_ERROR(budget_->Charge(count, copied_bytes, [&] { return Where(mark); }));
    }
    nodes_ += count;
    if (nodes_ > max_nodes_) {
      return absl::ResourceExhaustedError(absl::StrCat(
          Where(mark), ": document expands to more than ", max_nodes_,
          " nodes (alias expansion limit; is this a \"billion laughs\" document?)"));
    }
    return absl::OkStatus();
  }

  static std::string Anchor(const yaml_char_t* anchor) {
    return anchor == nullptr ? std::string() : std::string(reinterpret_cast<const char*>(anchor));
  }

  // Converts the node starting with `event` (consuming the events up to its end).
  absl::StatusOr<Json> ParseNode(Event& event, int depth) {
    const yaml_event_t& e = event.get();
    if (e.type == YAML_ALIAS_EVENT) {
      auto it = anchors_.find(Anchor(e.data.alias.anchor));
      if (it == anchors_.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(e.start_mark), ": unknown anchor '", Anchor(e.data.alias.anchor), "' referenced"));
      }
      RETURN_IF_ERROR(CountNodes(it->second.nodes, e.start_mark, it->second.bytes));
      text_bytes_ += it->second.bytes;
      return it->second.value;
    }
    RETURN_IF_ERROR(CountNodes(1, e.start_mark));
    if (depth > limits_.max_depth) {
      return absl::ResourceExhaustedError(
          absl::StrCat(Where(e.start_mark), ": nesting deeper than ", limits_.max_depth));
    }
    const int64_t nodes_before = nodes_ - 1;
    const int64_t bytes_before = text_bytes_;
    std::string anchor;
    Json value;
    switch (e.type) {
      case YAML_SCALAR_EVENT: {
        anchor = Anchor(e.data.scalar.anchor);
        text_bytes_ += static_cast<int64_t>(e.data.scalar.length);
        NoteLocation(e);
        ASSIGN_OR_RETURN(value, ConvertScalar(e));
        break;
      }
      case YAML_SEQUENCE_START_EVENT: {
        anchor = Anchor(e.data.sequence_start.anchor);
        value = Json::array();
        Event item;
        while (true) {
          RETURN_IF_ERROR(Next(item));
          if (item.get().type == YAML_SEQUENCE_END_EVENT) break;
          path_.push_back(std::to_string(value.size()));
          absl::StatusOr<Json> element = ParseNode(item, depth + 1);
          path_.pop_back();
          if (!element.ok()) return element.status();
          value.push_back(*std::move(element));
        }
        break;
      }
      case YAML_MAPPING_START_EVENT: {
        anchor = Anchor(e.data.mapping_start.anchor);
        yaml_mark_t mark = e.start_mark;
        ASSIGN_OR_RETURN(value, ParseMapping(depth, mark));
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat(Where(e.start_mark), ": unexpected event"));
    }
    if (!anchor.empty()) {
      anchors_[anchor] = Anchored{value, nodes_ - nodes_before, text_bytes_ - bytes_before};
    }
    return value;
  }

  absl::StatusOr<Json> ParseMapping(int depth, const yaml_mark_t& mark) {
    Json object = Json::object();
    std::set<std::string> seen;
    std::vector<std::pair<Json, yaml_mark_t>> merges;
    Event key;
    while (true) {
      RETURN_IF_ERROR(Next(key));
      const yaml_event_t& k = key.get();
      if (k.type == YAML_MAPPING_END_EVENT) break;
      const yaml_mark_t key_mark = k.start_mark;
      if (k.type == YAML_SCALAR_EVENT && k.data.scalar.tag == nullptr &&
          k.data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
          absl::string_view(reinterpret_cast<const char*>(k.data.scalar.value),
                            k.data.scalar.length) == "<<") {
        Event value_event;
        RETURN_IF_ERROR(Next(value_event));
        ASSIGN_OR_RETURN(Json source, ParseNode(value_event, depth + 1));
        merges.emplace_back(std::move(source), key_mark);
        continue;
      }
      if (k.type != YAML_SCALAR_EVENT && k.type != YAML_ALIAS_EVENT) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(key_mark), ": mapping keys must be scalars"));
      }
      key_context_ = true;
      absl::StatusOr<Json> parsed_key = ParseNode(key, depth + 1);
      key_context_ = false;
      if (!parsed_key.ok()) return parsed_key.status();
      Json key_value = *std::move(parsed_key);
      if (key_value.is_object() || key_value.is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(key_mark), ": mapping keys must be scalars"));
      }
      std::string key_text = KeyText(key_value);
      path_.push_back(key_text);
      const bool seen_ok = seen.insert(key_text).second || limits_.allow_duplicate_keys;
      if (!seen_ok) {
        path_.pop_back();
        return absl::InvalidArgumentError(absl::StrCat(
            Where(key_mark), ": mapping key \"", key_text, "\" already defined"));
      }
      Event value_event;
      absl::Status next = Next(value_event);
      absl::StatusOr<Json> value =
          next.ok() ? ParseNode(value_event, depth + 1) : absl::StatusOr<Json>(next);
      path_.pop_back();
      if (!value.ok()) return value.status();
      object[key_text] = *std::move(value);
    }
    // Keys set explicitly win over merged ones; earlier merges win over later ones.
    for (const auto& [source, merge_mark] : merges) {
      RETURN_IF_ERROR(MergeInto(object, source, merge_mark));
    }
    (void)mark;
    return object;
  }

  absl::Status MergeInto(Json& object, const Json& source, const yaml_mark_t& mark) {
    if (source.is_object()) {
      for (auto& [k, v] : source.items()) {
        if (!object.contains(k)) object[k] = v;
      }
      return absl::OkStatus();
    }
    const bool all_maps = source.is_array() &&
                          std::all_of(source.begin(), source.end(),
                                      [](const Json& n) { return n.is_object(); });
    if (all_maps) {
      for (const Json& item : source) RETURN_IF_ERROR(MergeInto(object, item, mark));
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        Where(mark), ": map merge requires map or sequence of maps as the value"));
  }

  absl::StatusOr<Json> ConvertScalar(const yaml_event_t& e) {
    std::string text(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
    if (e.data.scalar.tag == nullptr) {
      // Untagged: plain scalars are resolved, quoted and block scalars are strings.
      if (e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE) return ResolvePlainScalar(text);
      return Json(std::move(text));
    }
    const absl::string_view tag(reinterpret_cast<const char*>(e.data.scalar.tag));
    if (tag == "!" || tag == kStrTag || tag == "!!str") return Json(std::move(text));
    if (tag == kNullTag) return Json(nullptr);
    if (tag == kBoolTag || tag == kIntTag || tag == kFloatTag) {
      Json value = ResolvePlainScalar(text);
      const bool ok = (tag == kBoolTag && value.is_boolean()) ||
                      (tag == kIntTag && value.is_number_integer()) ||
                      (tag == kFloatTag && value.is_number());
      if (!ok) {
        return absl::InvalidArgumentError(absl::StrCat(Where(e.start_mark), ": cannot decode \"",
                                                       text, "\" as ", tag));
      }
      if (tag == kFloatTag) return Json(value.get<double>());
      return value;
    }
    // Other tags (timestamps, custom tags) keep their text, as kustomize does.
    return Json(std::move(text));
  }

  static std::string KeyText(const Json& key) {
    if (key.is_string()) return key.get<std::string>();
    if (key.is_null()) return "null";
    return key.dump();
  }

  // Records the current JSON pointer when the scalar `e` spans the offset being located (a
  // key's own pointer names the key).
  void NoteLocation(const yaml_event_t& e) {
    if (locate_ == std::string::npos || !located_pointer_.empty() || located_document_ >= 0) {
      return;
    }
    if (locate_ < e.start_mark.index || locate_ >= e.end_mark.index) return;
    std::string pointer;
    auto append = [&pointer](const std::string& token) {
      pointer.push_back('/');
      for (char c : token) {
        if (c == '~') {
          pointer += "~0";
        } else if (c == '/') {
          pointer += "~1";
        } else {
          pointer.push_back(c);
        }
      }
    };
    for (const std::string& token : path_) append(token);
    if (key_context_) {
      append(std::string(reinterpret_cast<const char*>(e.data.scalar.value),
                         e.data.scalar.length));
    }
    located_pointer_ = pointer.empty() ? "/" : pointer;
    located_document_ = document_index_;
  }

  yaml_parser_t parser_;
  absl::string_view source_;
  const YamlLimits& limits_;
  const int64_t max_nodes_;
  Budget* const budget_;
  int64_t nodes_ = 0;
  // Bytes of scalar text (keys included) in the values built so far, aliases expanded.
  int64_t text_bytes_ = 0;
  // An anchor's converted value, and the nodes and scalar bytes it holds (what an alias
  // copies, for the expansion limits).
  struct Anchored {
    Json value;
    int64_t nodes = 0;
    int64_t bytes = 0;
  };
  std::unordered_map<std::string, Anchored> anchors_;
  // Locate mode (see LocateOffset).
  size_t locate_ = std::string::npos;
  std::vector<std::string> path_;
  bool key_context_ = false;
  int document_index_ = 0;
  std::string located_pointer_;
  int located_document_ = -1;
};

// "Kind name" of a parsed object, as far as it has them.
std::string ObjectName(const Json& object) {
  std::string kind = "object", name;
  if (object.is_object()) {
    if (auto it = object.find("kind"); it != object.end() && it->is_string()) kind = *it;
    if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
      if (auto it = meta->find("name"); it != meta->end() && it->is_string()) name = *it;
    }
  }
  return name.empty() ? kind : absl::StrCat(kind, " ", name);
}

// The error for text that is not UTF-8 (libyaml refuses it while reading, as kustomize's
// go-yaml does): file, line and column of the first bad byte, and, found by parsing a copy with
// the bad bytes replaced, the object and JSON pointer the bytes would have been read into.
absl::Status InvalidUtf8Error(absl::string_view text, absl::string_view source,
                              const YamlLimits& limits) {
  size_t offset = 0;
  while (offset < text.size()) {
    const size_t length = Utf8SequenceLength(std::string_view(text.data(), text.size()), offset);
    if (length == 0) break;
    offset += length;
  }
  const size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
  const size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  const size_t column =
      offset - (line_start == absl::string_view::npos || offset == 0 ? 0 : line_start + 1) + 1;
  std::string message = absl::StrFormat(
      "%s:%d:%d: not valid UTF-8 (byte 0x%02X; YAML and JSON text must be UTF-8, as kustomize "
      "requires)",
      source.empty() ? "<input>" : source, line, column,
      offset < text.size() ? static_cast<unsigned char>(text[offset]) : 0);
  // Same length, so byte offsets still line up: each bad byte becomes '?'.
  std::string sanitized(text);
  for (size_t i = 0; i < sanitized.size();) {
    const size_t length = Utf8SequenceLength(sanitized, i);
    if (length == 0) {
      sanitized[i] = '?';
      ++i;
    } else {
      i += length;
    }
  }
  // The copy is parsed only to name a place: it charges no render budget.
  Budget unlimited({std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max()});
  YamlLimits locate_limits = limits;
  locate_limits.budget = &unlimited;
  EventParser locator(sanitized, source, locate_limits);
  locator.LocateOffset(offset);
  absl::StatusOr<std::vector<YamlDocument>> documents = locator.ParseStream();
  if (documents.ok() && locator.located_document() >= 0 &&
      locator.located_document() < static_cast<int>(documents->size())) {
    absl::StrAppend(&message, ", read into ",
                    ObjectName((*documents)[locator.located_document()].value), " at ",
                    locator.located_pointer());
  }
  return absl::InvalidArgumentError(message);
}

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
      auto fixed = std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::fixed);
      const absl::string_view text(buffer, fixed.ptr - buffer);
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
      auto fixed = std::to_chars(buffer, buffer + sizeof(buffer), d, std::chars_format::fixed);
      out->append(buffer, fixed.ptr - buffer);
    }
    return;
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
    // Go's int arithmetic: a digit run too long for 64 bits wraps around (unsigned here, as
    // signed overflow is undefined in C++), so very long numbers order as kubectl orders them.
    uint64_t an = 0, bn = 0;
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
    if (an != bn) return static_cast<int64_t>(an) < static_cast<int64_t>(bn);
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
  if (!IsValidUtf8(std::string_view(text.data(), text.size()))) {
    return InvalidUtf8Error(text, source_name, limits);
  }
  EventParser parser(text, source_name, limits);
  return parser.ParseStream();
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

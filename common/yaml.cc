#include "common/yaml.h"

#include <yaml.h>  // libyaml

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "common/status.h"
#include "common/utf8.h"

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

// A YAML timestamp as go-yaml (v3, and yaml.v2 alike) reads one: text starting "YYYY-" that
// Go's time.Parse accepts in one of the layouts "2006-1-2T15:4:5.999999999Z07:00" (also with a
// lower-case "t"), "2006-1-2 15:4:5.999999999" (no zone) or "2006-1-2", with time.Parse's range
// checks (a real day of the month, hour < 24, ...). Anything else ("2001-12-14 21:59:43.10 -5",
// "2001-12-14T21:59:43" without a zone, "1999-02-30") is a string. `out` gets the value as
// kustomize prints it after its JSON round trip: Go's RFC 3339 with nanoseconds, trailing zeros
// of the fraction trimmed, "Z" for a zero offset. Returns false if `s` is not a timestamp.
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

// True if go-yaml's emitter may write `s` as a plain scalar (block context); defined with the
// emitter below.
bool GoYamlCanWritePlain(absl::string_view s);

constexpr char kStrTag[] = "tag:yaml.org,2002:str";
constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kFloatTag[] = "tag:yaml.org,2002:float";
constexpr char kBoolTag[] = "tag:yaml.org,2002:bool";
constexpr char kNullTag[] = "tag:yaml.org,2002:null";
constexpr char kBinaryTag[] = "tag:yaml.org,2002:binary";
constexpr char kTimestampTag[] = "tag:yaml.org,2002:timestamp";

// Builds JSON values from libyaml's events (libyaml is the C parser go-yaml was ported from,
// so it accepts and refuses what kustomize's YAML reader does, and it scans ~10x faster than
// yaml-cpp). Anchors keep their converted value; an alias copies it and counts its nodes against
// the expansion budget.
class EventParser {
 public:
  EventParser(absl::string_view text, absl::string_view source, const YamlLimits& limits)
      : text_(text),
        source_(source),
        limits_(limits),
        // Expansion is bounded by the configured limit and by the input's size: a document of
        // N bytes has at most about N/2 nodes unless aliases multiply them.
        max_nodes_(
            std::min<int64_t>(limits.max_nodes, 100'000 + 8 * static_cast<int64_t>(text.size()))),
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
      return absl::ResourceExhaustedError(
          absl::StrCat(Where(mark), ": document expands to more than ", max_nodes_,
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
        return absl::InvalidArgumentError(absl::StrCat(Where(e.start_mark), ": unknown anchor '",
                                                       Anchor(e.data.alias.anchor),
                                                       "' referenced"));
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
        const bool flow = e.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
        flow_level_ += flow ? 1 : 0;
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
        flow_level_ -= flow ? 1 : 0;
        break;
      }
      case YAML_MAPPING_START_EVENT: {
        anchor = Anchor(e.data.mapping_start.anchor);
        yaml_mark_t mark = e.start_mark;
        const bool flow = e.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE;
        flow_level_ += flow ? 1 : 0;
        ASSIGN_OR_RETURN(value, ParseMapping(depth, mark));
        flow_level_ -= flow ? 1 : 0;
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
      if (limits_.nested_keys_must_be_strings && depth > 0 &&
          (!key_value.is_string() || last_scalar_was_timestamp_ || last_scalar_non_string_tag_)) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(key_mark), ": mapping key ", KeyText(key_value), " is not a string (",
            !key_value.is_string()       ? key_value.type_name()
            : last_scalar_was_timestamp_ ? "a timestamp"
                                         : "a tag other than !!str",
            "): kustomize cannot print a nested mapping with non-string keys (json: unsupported "
            "type: map[interface {}]interface {}); quote the key"));
      }
      std::string key_text = KeyText(key_value);
      path_.push_back(key_text);
      const bool seen_ok = seen.insert(key_text).second || limits_.allow_duplicate_keys;
      if (!seen_ok) {
        path_.pop_back();
        return absl::InvalidArgumentError(
            absl::StrCat(Where(key_mark), ": mapping key \"", key_text, "\" already defined"));
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
    const bool all_maps =
        source.is_array() &&
        std::all_of(source.begin(), source.end(), [](const Json& n) { return n.is_object(); });
    if (all_maps) {
      for (const Json& item : source) RETURN_IF_ERROR(MergeInto(object, item, mark));
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(
        absl::StrCat(Where(mark), ": map merge requires map or sequence of maps as the value"));
  }

  absl::StatusOr<Json> ConvertScalar(const yaml_event_t& e) {
    last_scalar_was_timestamp_ = false;
    last_scalar_non_string_tag_ = false;
    std::string text(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length);
    const bool plain = e.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    if (e.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE) {
      RETURN_IF_ERROR(CheckGoYamlEscapes(e));
    }
    const absl::string_view tag =
        e.data.scalar.tag == nullptr ? "" : reinterpret_cast<const char*>(e.data.scalar.tag);
    if (plain) RETURN_IF_ERROR(CheckGoYamlFlowPlain(e, text));
    if (key_context_ && limits_.annotation_values_as_text && AtAnnotationsMapping()) {
      return AnnotationKey(e, std::move(text));
    }
    // A key with a tag other than !!str (custom, !!binary, ...) is not a string for go-yaml.
    last_scalar_non_string_tag_ = !tag.empty() && tag != "!" && tag != kStrTag && tag != "!!str";
    // "!" (the non-specific tag) is no tag for go-yaml: plain scalars are still resolved.
    if (tag.empty() || tag == "!") {
      // Untagged: plain scalars are resolved, quoted and block scalars are strings.
      if (!plain) return Json(std::move(text));
      if (limits_.annotation_values_as_text && AtAnnotationValue()) return Json(std::move(text));
      Json value = ResolvePlainScalar(text);
      std::string timestamp;
      const bool is_timestamp = value.is_string() && NormalizeTimestamp(text, &timestamp);
      // kustomize prints through a go-yaml re-encoding of its nodes that keeps their flow style:
      // a non-string plain scalar that go-yaml may not write plain inside a flow collection
      // (empty, or holding ':' like a timestamp) is written quoted there, and so comes back
      // as the string of its text ("{k: }" gives k: "").
      if (flow_level_ > 0 && (!value.is_string() || is_timestamp) &&
          (text.empty() || text.find_first_of(",?[]{}:") != std::string::npos)) {
        return Json(std::move(text));
      }
      last_scalar_was_timestamp_ = is_timestamp;
      return value;
    }
    if (tag == kStrTag || tag == "!!str") return Json(std::move(text));
    if (limits_.annotation_values_as_text && AtAnnotationValue()) return Json(std::move(text));
    if (tag == kNullTag) return Json(nullptr);
    if (tag == kBinaryTag) {
      // go-yaml decodes !!binary into the bytes it holds (base64, whitespace ignored).
      std::string compact;
      for (char c : text) {
        if (!absl::ascii_isspace(static_cast<unsigned char>(c))) compact.push_back(c);
      }
      std::string bytes;
      if (!absl::Base64Unescape(compact, &bytes)) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(e.start_mark), ": !!binary value contains invalid base64 data"));
      }
      if (!IsValidUtf8(bytes)) {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(e.start_mark), ": !!binary value is not UTF-8 text (not supported)"));
      }
      return Json(std::move(bytes));
    }
    if (tag == kTimestampTag) {
      std::string timestamp;
      if (!NormalizeTimestamp(text, &timestamp)) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(e.start_mark), ": cannot decode \"", text, "\" as ", tag));
      }
      last_scalar_was_timestamp_ = true;
      return Json(std::move(timestamp));
    }
    if (tag == kBoolTag || tag == kIntTag || tag == kFloatTag) {
      Json value = ResolvePlainScalar(text);
      const bool ok = (tag == kBoolTag && value.is_boolean()) ||
                      (tag == kIntTag && value.is_number_integer()) ||
                      (tag == kFloatTag && value.is_number());
      if (!ok) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(e.start_mark), ": cannot decode \"", text, "\" as ", tag));
      }
      if (tag == kFloatTag) return Json(value.get<double>());
      return value;
    }
    // Other tags (timestamps, custom tags) keep their text, as kustomize does.
    return Json(std::move(text));
  }

  // go-yaml knows the escapes of YAML 1.1 only: "\\/" (YAML 1.2, which libyaml reads) is
  // refused as kustomize refuses it.
  absl::Status CheckGoYamlEscapes(const yaml_event_t& e) const {
    if (e.end_mark.index > text_.size() || e.start_mark.index >= e.end_mark.index) {
      return absl::OkStatus();
    }
    const absl::string_view raw =
        text_.substr(e.start_mark.index, e.end_mark.index - e.start_mark.index);
    if (raw.find("\\/") == absl::string_view::npos) return absl::OkStatus();
    for (size_t i = 0; i + 1 < raw.size(); ++i) {
      if (raw[i] != '\\') continue;
      if (raw[i + 1] == '/') {
        return absl::InvalidArgumentError(absl::StrCat(
            Where(e.start_mark),
            ": while parsing a quoted scalar: found unknown escape character '/' (go-yaml, as "
            "kustomize reads YAML, has no \"\\/\" escape; write \"/\")"));
      }
      ++i;  // skip the escaped character
    }
    return absl::OkStatus();
  }

  // The node being converted is the value of an object's annotation: path metadata/annotations/K
  // in the document or in an item of a List.
  bool AtAnnotationsMapping() const {
    const size_t n = path_.size();
    if (n != 2 && !(n == 4 && path_[0] == "items")) return false;
    return path_[n - 2] == "metadata" && path_[n - 1] == "annotations";
  }

  // An annotation key as kustomize treats it: it rewrites every object's annotations from their
  // text (RemoveBuildAnnotations), as new untagged keys that go-yaml resolves again, so a key
  // whose text reads as a number, bool, null or timestamp ('1.0' quoted or not) is no longer a
  // string and kustomize refuses the object; an empty key makes it panic.
  absl::StatusOr<Json> AnnotationKey(const yaml_event_t& e, std::string text) {
    if (text.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          Where(e.start_mark), ": an empty annotation key (kustomize v5.5 fails on it)"));
    }
    if (GoYamlCanWritePlain(text)) {
      const Json resolved = ResolvePlainScalar(text);
      std::string timestamp;
      if (!resolved.is_string() || NormalizeTimestamp(text, &timestamp)) {
        return absl::InvalidArgumentError(
            absl::StrCat(Where(e.start_mark), ": annotation key \"", text,
                         "\" is not a string once kustomize rewrites the annotations (it reads as ",
                         resolved.is_string() ? "a timestamp" : resolved.type_name(),
                         "; json: unsupported type: map[interface {}]interface {})"));
      }
    }
    return Json(std::move(text));
  }

  bool AtAnnotationValue() const {
    if (key_context_) return false;
    const size_t n = path_.size();
    if (n != 3 && !(n == 5 && path_[0] == "items")) return false;
    return path_[n - 3] == "metadata" && path_[n - 2] == "annotations";
  }

  // go-yaml ends a plain scalar inside a flow collection at '?' (libyaml reads on): the '?'
  // then starts a key where go-yaml expects ',' or the collection's end, and kustomize refuses
  // the file ("[a, b?c]", "{k: https://x/?q}").
  absl::Status CheckGoYamlFlowPlain(const yaml_event_t& e, absl::string_view text) const {
    if (flow_level_ == 0 || text.size() < 2 || text.find('?', 1) == absl::string_view::npos) {
      return absl::OkStatus();
    }
    return absl::InvalidArgumentError(absl::StrCat(
        Where(e.start_mark), ": did not find expected ',' or the end of the flow collection: ",
        "go-yaml (kustomize) ends the plain scalar \"", text,
        "\" at '?' inside [...] or {...}; quote it"));
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
      append(std::string(reinterpret_cast<const char*>(e.data.scalar.value), e.data.scalar.length));
    }
    located_pointer_ = pointer.empty() ? "/" : pointer;
    located_document_ = document_index_;
  }

  yaml_parser_t parser_;
  absl::string_view text_;
  // Flow collections ([...] or {...}) the current node is inside.
  int flow_level_ = 0;
  // The scalar last converted was a timestamp (kept as its text, a string).
  bool last_scalar_was_timestamp_ = false;
  // The scalar last converted had a tag other than !!str (kept as its text).
  bool last_scalar_non_string_tag_ = false;
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
  if (IsYaml11Special(s)) return true;
  const Json resolved = ResolvePlainScalar(s);
  if (!resolved.is_string() || resolved.get_ref<const std::string&>() != s) return true;
  // A timestamp reads back as a string, but a typed parser would see a time: quote it.
  std::string timestamp;
  if (NormalizeTimestamp(s, &timestamp)) return true;
  return IsBase60Float(s);
}

// The code point at s[i] and its length in bytes (s is valid UTF-8).
char32_t RuneAt(absl::string_view s, size_t i, int* width) {
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
bool IsGoYamlPrintable(char32_t r) {
  return r == '\n' || (r >= 0x20 && r <= 0x7E) || (r >= 0xA0 && r <= 0xD7FF) ||
         (r >= 0xE000 && r <= 0xFFFD && r != 0xFEFF);
}
bool IsGoYamlBreak(char32_t r) {
  return r == '\n' || r == '\r' || r == 0x85 || r == 0x2028 || r == 0x2029;
}

enum class ScalarStyle { kPlain, kSingleQuoted, kDoubleQuoted, kLiteral };

// What go-yaml's emitter (yaml_emitter_analyze_scalar) allows for a string in block context.
struct ScalarAnalysis {
  bool block_plain_allowed = true;
  bool single_quoted_allowed = true;
  bool block_allowed = true;
};

ScalarAnalysis AnalyzeScalar(absl::string_view s) {
  ScalarAnalysis a;
  if (s.empty()) {
    a.block_allowed = false;
    return a;
  }
  bool block_indicators = false, special = false, line_breaks = false;
  bool leading_space = false, leading_break = false, trailing_space = false, trailing_break = false,
       break_space = false, space_break = false;
  bool previous_space = false, previous_break = false;
  if (absl::StartsWith(s, "---") || absl::StartsWith(s, "...")) block_indicators = true;
  bool preceded_by_whitespace = true;
  for (size_t i = 0; i < s.size();) {
    int w;
    const char32_t r = RuneAt(s, i, &w);
    const bool followed_by_whitespace = i + w >= s.size() || s[i + w] == ' ' || s[i + w] == '\t';
    if (i == 0) {
      switch (r) {
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
          block_indicators = true;
          break;
        case '?':
        case ':':
        case '-':
          if (followed_by_whitespace) block_indicators = true;
          break;
        default:
          break;
      }
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
    int length = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xE  ? 3
                 : (c >> 3) == 0x1E ? 4
                                    : 1;
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
  // go-yaml writes a key that cannot be a simple key (a line break in it, or longer than 128
  // bytes) as a complex key: "? key" then ": value" on the next line.
  bool simple = key.size() <= 128;
  for (size_t i = 0; simple && i < key.size();) {
    int width;
    if (IsGoYamlBreak(RuneAt(key, i, &width))) simple = false;
    i += width;
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
    return absl::ResourceExhaustedError(absl::StrCat(
        where, ": ", text.size(), " bytes exceeds the limit of ", limits.max_document_bytes));
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
        absl::StrCat(source_name.empty() ? "<input>" : std::string(source_name),
                     ": expected one YAML document, found ", docs->size()));
  }
  return std::move((*docs)[0].value);
}

namespace {

// A JSON pointer token ("~" and "/" escaped).
std::string PointerToken(absl::string_view token) {
  return absl::StrReplaceAll(token, {{"~", "~0"}, {"/", "~1"}});
}

// The first code point of `s` go-yaml's reader refuses, or 0.
char32_t UnreadableRune(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    int width;
    const char32_t r = RuneAt(s, i, &width);
    if (r == 0x7F || (r >= 0x80 && r <= 0x9F && r != 0x85) || r == 0xFFFE || r == 0xFFFF) {
      return r;
    }
    i += width;
  }
  return 0;
}

absl::Status CheckPrintableAt(const Json& value, std::string* pointer) {
  auto check_string = [&](absl::string_view s, absl::string_view what) -> absl::Status {
    if (const char32_t r = UnreadableRune(s); r != 0) {
      return absl::InvalidArgumentError(absl::StrFormat(
          "%s at %s holds U+%04X: kustomize refuses it when it prints the object (yaml: "
          "control characters are not allowed)",
          what, pointer->empty() ? "/" : *pointer, static_cast<unsigned>(r)));
    }
    return absl::OkStatus();
  };
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (!std::isfinite(d)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the value at ", pointer->empty() ? "/" : *pointer, " is ",
          std::isnan(d) ? "NaN" : (d > 0 ? "+Inf" : "-Inf"),
          ": kustomize refuses it when it prints the object (json: unsupported value); quote "
          "it to keep it as a string"));
    }
  } else if (value.is_string()) {
    return check_string(value.get_ref<const std::string&>(), "the string");
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      const size_t size = pointer->size();
      absl::StrAppend(pointer, "/", PointerToken(it.key()));
      absl::Status status = check_string(it.key(), "the key");
      // In a key, a raw NEL breaks the JSON text go-yaml reads ("did not find expected ',' or
      // '}'").
      if (status.ok() && absl::StrContains(it.key(), "\xC2\x85")) {
        status = absl::InvalidArgumentError(
            absl::StrCat("the key at ", *pointer,
                         " holds U+0085: kustomize refuses it when it prints the "
                         "object (yaml: did not find expected ',' or '}')"));
      }
      if (status.ok()) status = CheckPrintableAt(it.value(), pointer);
      pointer->resize(size);
      if (!status.ok()) return status;
    }
  } else if (value.is_array()) {
    for (size_t i = 0; i < value.size(); ++i) {
      const size_t size = pointer->size();
      absl::StrAppend(pointer, "/", i);
      absl::Status status = CheckPrintableAt(value[i], pointer);
      pointer->resize(size);
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
    for (Json& item : value) FoldNelIn(item);
  } else if (value.is_object()) {
    for (auto it = value.begin(); it != value.end(); ++it) {
      FoldNelIn(it.value());
    }
  }
}

}  // namespace

void ApplyKustomizePrintRoundTrip(nlohmann::json& value) { FoldNelIn(value); }

absl::Status CheckKustomizePrintable(const nlohmann::json& value) {
  std::string pointer;
  return CheckPrintableAt(value, &pointer);
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

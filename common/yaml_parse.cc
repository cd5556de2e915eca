// Reading: libyaml's events to JSON values, with what kustomize's reader enforces (see yaml.h).
#include <yaml.h>  // libyaml

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/string_view.h"
#include "common/budget.h"
#include "common/go_yaml_folded.h"
#include "common/object.h"
#include "common/status.h"
#include "common/utf8.h"
#include "common/yaml.h"
#include "common/yaml_scalar.h"

namespace todoke {
namespace {

using Json = nlohmann::json;
using yaml_internal::GoYamlCanWritePlain;
using yaml_internal::NormalizeTimestamp;
using yaml_internal::ResolvePlainScalar;
using yaml_internal::ResolvePlainScalarTo;

constexpr char kStrTag[] = "tag:yaml.org,2002:str";
constexpr char kIntTag[] = "tag:yaml.org,2002:int";
constexpr char kFloatTag[] = "tag:yaml.org,2002:float";
constexpr char kBoolTag[] = "tag:yaml.org,2002:bool";
constexpr char kNullTag[] = "tag:yaml.org,2002:null";
constexpr char kBinaryTag[] = "tag:yaml.org,2002:binary";
constexpr char kTimestampTag[] = "tag:yaml.org,2002:timestamp";
constexpr char kMergeTag[] = "tag:yaml.org,2002:merge";

// go-yaml (kustomize) reads a plain scalar inside a flow collection on through a ':' that a flow
// indicator follows ("[a, x:, z]" holds "x:", "{k: x:}" maps k to "x:"), where libyaml's scanner
// stops with "found unexpected ':'". A plain scalar ending in ':' always reads as a string, so
// the same scalar single-quoted reads as go-yaml reads it.
// Each one is found by scanning the text again from its start: at most this many are quoted
// (libyaml refuses the next one).
constexpr int kMaxFlowColonScalars = 16;

// The byte offset of code point number `index` of valid UTF-8 `text` (libyaml's marks count
// code points), or npos past the end.
size_t ByteOffsetOfCodePoint(absl::string_view text, size_t index) {
  size_t offset = 0;
  for (size_t n = 0; n < index && offset < text.size(); ++n) {
    const size_t length = Utf8SequenceLength(std::string_view(text.data(), text.size()), offset);
    offset += length == 0 ? 1 : length;
  }
  return offset < text.size() ? offset : absl::string_view::npos;
}

// True if `text` may hold a ':' that a flow indicator follows: the only texts the scan below
// looks at (one pass over the text, no scanner, for all others).
bool MayHoldFlowColon(absl::string_view text) {
  for (size_t i = text.find(':'); i != absl::string_view::npos && i + 1 < text.size();
       i = text.find(':', i + 1)) {
    switch (text[i + 1]) {
      case ',':
      case '[':
      case ']':
      case '{':
      case '}':
        return true;
      default:
        break;
    }
  }
  return false;
}

// True if `parser` stopped at a ':' that a flow indicator follows in a plain scalar.
bool IsFlowColonError(const yaml_parser_t& parser) {
  return parser.error == YAML_SCANNER_ERROR && parser.problem != nullptr &&
         parser.context != nullptr && absl::string_view(parser.problem) == "found unexpected ':'" &&
         absl::string_view(parser.context) == "while scanning a plain scalar";
}

// Single-quotes each plain scalar of `text` that libyaml's scanner refuses for a ':' followed
// by a flow indicator, when go-yaml reads it as one scalar: on one line, without a quote or a
// '?' (go-yaml ends a plain scalar at '?' in a flow collection, and refuses what follows). The
// scan stops at the first other error (the parse reports it). Records in `quotes` the line and
// column of each quote added (libyaml's count, in the quoted text), to name places in the text
// as written. Returns false when nothing was changed.
bool QuoteFlowColonScalars(std::string& text, std::vector<std::pair<size_t, size_t>>& quotes) {
  bool changed = false;
  for (int fixes = 0; fixes < kMaxFlowColonScalars; ++fixes) {
    yaml_parser_t parser;
    yaml_parser_initialize(&parser);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);
    yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                                 text.size());
    bool refused = false;
    while (true) {
      yaml_token_t token;
      if (!yaml_parser_scan(&parser, &token)) {
        refused = true;
        break;
      }
      const bool end = token.type == YAML_STREAM_END_TOKEN;
      yaml_token_delete(&token);
      if (end) break;
    }
    const bool flow_colon = refused && IsFlowColonError(parser);
    const yaml_mark_t start = parser.context_mark;
    const yaml_mark_t colon = parser.problem_mark;
    yaml_parser_delete(&parser);
    if (!flow_colon || start.line != colon.line || colon.index < start.index) return changed;
    const size_t first = ByteOffsetOfCodePoint(text, start.index);
    const size_t last = ByteOffsetOfCodePoint(text, colon.index);
    if (first == absl::string_view::npos || last == absl::string_view::npos || text[last] != ':') {
      return changed;
    }
    const absl::string_view scalar = absl::string_view(text).substr(first, last + 1 - first);
    if (scalar.find_first_of("'?\r\n") != absl::string_view::npos) return changed;
    text.insert(last + 1, "'");
    text.insert(first, "'");
    quotes.emplace_back(start.line, start.column);
    quotes.emplace_back(colon.line, colon.column + 2);
    changed = true;
  }
  return changed;
}

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

  // The quotes QuoteFlowColonScalars added to the text parsed (line and column of each), so
  // that places are named in the text as written.
  void SetAddedQuotes(const std::vector<std::pair<size_t, size_t>>* quotes) { quotes_ = quotes; }

  // True if the parse stopped where libyaml's scanner refuses a ':' that a flow indicator
  // follows in a plain scalar (what QuoteFlowColonScalars quotes).
  bool StoppedAtFlowColon() const { return IsFlowColonError(parser_); }

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
    size_t column = mark.column;
    if (quotes_ != nullptr) {
      for (const auto& [line, quote_column] : *quotes_) {
        if (line == mark.line && quote_column < mark.column) --column;
      }
    }
    return absl::StrCat(prefix, ":", mark.line + 1, ":", column + 1);
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

  // A merge key as go-yaml reads one: "<<" plain and untagged, or tagged !!merge.
  static bool IsMergeKey(const yaml_event_t& k) {
    if (k.data.scalar.tag == nullptr) return k.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
    const absl::string_view tag(reinterpret_cast<const char*>(k.data.scalar.tag));
    return tag == kMergeTag || tag == "!!merge";
  }

  absl::StatusOr<Json> ParseMapping(int depth, const yaml_mark_t& mark) {
    Json object = Json::object();
    // The explicit keys: until the merges below, exactly the object's members.
    Json::object_t& members = object.get_ref<Json::object_t&>();
    std::vector<std::pair<Json, yaml_mark_t>> merges;
    // kyaml (limits_.kyaml_node_rules) removes the first entry whose key reads "<<".
    bool merge_name_seen = false;
    Event key;
    while (true) {
      RETURN_IF_ERROR(Next(key));
      const yaml_event_t& k = key.get();
      if (k.type == YAML_MAPPING_END_EVENT) break;
      const yaml_mark_t key_mark = k.start_mark;
      const bool named_merge = k.type == YAML_SCALAR_EVENT &&
                               absl::string_view(reinterpret_cast<const char*>(k.data.scalar.value),
                                                 k.data.scalar.length) == "<<";
      if (named_merge && IsMergeKey(k)) {
        if (limits_.kyaml_node_rules && !merges.empty()) {
          return absl::InvalidArgumentError(absl::StrCat(
              Where(key_mark), ": duplicate merge key (kustomize refuses a second \"<<\")"));
        }
        merge_name_seen = true;
        Event value_event;
        RETURN_IF_ERROR(Next(value_event));
        ASSIGN_OR_RETURN(Json source, ParseNode(value_event, depth + 1));
        merges.emplace_back(std::move(source), key_mark);
        continue;
      }
      if (named_merge && limits_.kyaml_node_rules && !merge_name_seen) {
        // A quoted or !!str "<<" first: kyaml's DeAnchor clears the first "<<" entry of the
        // mapping (FieldClearer matches the key's text), merge key or not, whatever its value.
        merge_name_seen = true;
        Event value_event;
        RETURN_IF_ERROR(Next(value_event));
        RETURN_IF_ERROR(ParseNode(value_event, depth + 1).status());
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
      std::string key_text =
          key_value.is_string() ? std::move(key_value.get_ref<std::string&>()) : KeyText(key_value);
      path_.push_back(key_text);
      // The member is made now (null until its value is read), so the key is looked up once.
      auto [member, inserted] = members.try_emplace(std::move(key_text));
      if (!inserted && !limits_.allow_duplicate_keys) {
        path_.pop_back();
        return absl::InvalidArgumentError(
            absl::StrCat(Where(key_mark), ": mapping key \"", member->first, "\" already defined"));
      }
      Event value_event;
      absl::Status next = Next(value_event);
      absl::StatusOr<Json> value =
          next.ok() ? ParseNode(value_event, depth + 1) : absl::StatusOr<Json>(next);
      path_.pop_back();
      if (!value.ok()) return value.status();
      member->second = *std::move(value);
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
    if (limits_.kyaml_node_rules && e.data.scalar.style == YAML_FOLDED_SCALAR_STYLE &&
        !key_context_ && !AtAnnotationValue()) {
      // kustomize prints what go-yaml reads back from go-yaml's folded text (see
      // common/go_yaml_folded.h); annotation values are rewritten from their text before.
      text = GoYamlFoldedRoundTrip(text);
    }
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
      Json value;
      // Most plain scalars read as their own text.
      if (!ResolvePlainScalarTo(text, &value)) return Json(std::move(text));
      // The only string a plain scalar resolves to other than its text is a timestamp's.
      const bool is_timestamp = value.is_string();
      // kustomize prints through a go-yaml re-encoding of its nodes that keeps their flow style:
      // a non-string plain scalar that go-yaml may not write plain inside a flow collection
      // (empty, or holding ':' like a timestamp) is written quoted there, and so comes back
      // as the string of its text ("{k: }" gives k: "").
      if (flow_level_ > 0 && (text.empty() || text.find_first_of(",?[]{}:") != std::string::npos)) {
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
  const std::vector<std::pair<size_t, size_t>>* quotes_ = nullptr;
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

// The error for text that is not UTF-8 (libyaml refuses it while reading, as kustomize's
// go-yaml does): file, line and column of the first bad byte, and, found by parsing a copy with
// the bad bytes replaced, the object and JSON pointer the bytes would have been read into.
absl::Status InvalidUtf8Error(absl::string_view text, absl::string_view source,
                              const YamlLimits& limits) {
  const size_t offset = FirstInvalidUtf8(std::string_view(text.data(), text.size()));
  std::string message = InvalidUtf8Message(text, source);
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
                    KindAndName((*documents)[locator.located_document()].value), " at ",
                    locator.located_pointer());
  }
  return absl::InvalidArgumentError(message);
}

}  // namespace

std::string InvalidUtf8Message(absl::string_view text, absl::string_view source) {
  const size_t offset = FirstInvalidUtf8(std::string_view(text.data(), text.size()));
  const size_t line = 1 + std::count(text.begin(), text.begin() + offset, '\n');
  const size_t line_start = text.rfind('\n', offset == 0 ? 0 : offset - 1);
  const size_t column =
      offset - (line_start == absl::string_view::npos || offset == 0 ? 0 : line_start + 1) + 1;
  return absl::StrFormat(
      "%s:%d:%d: not valid UTF-8 (byte 0x%02X; YAML and JSON text must be UTF-8, as kustomize "
      "requires)",
      source.empty() ? "<input>" : source, line, column,
      offset < text.size() ? static_cast<unsigned char>(text[offset]) : 0);
}

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
  absl::StatusOr<std::vector<YamlDocument>> documents = parser.ParseStream();
  // go-yaml reads "x:" before a flow indicator as a plain scalar; libyaml needs it quoted. Only
  // a text libyaml refused there is scanned for such scalars and parsed again: scanning every
  // text that merely holds ':' before a flow indicator (CRDs' patterns and descriptions) cost
  // a second libyaml scan of them, 100 M instructions of Cluster API's core/config/default.
  if (documents.ok() || !parser.StoppedAtFlowColon() || !MayHoldFlowColon(text)) {
    return documents;
  }
  std::string quoted(text.data(), text.size());
  std::vector<std::pair<size_t, size_t>> quotes;
  if (!QuoteFlowColonScalars(quoted, quotes)) return documents;
  EventParser again(quoted, source_name, limits);
  again.SetAddedQuotes(&quotes);
  return again.ParseStream();
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

}  // namespace todoke

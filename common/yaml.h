// YAML <-> JSON, the one wrapper around the YAML parser (libyaml, the C parser go-yaml was
// ported from), and the one header to include for YAML. No exception leaves it. Implemented in
// yaml_parse.cc (reading), yaml_emit.cc (printing, and the print checks at the end) and
// yaml_scalar.cc (what a scalar's text means to go-yaml, which both need; internal header
// yaml_scalar.h).
//
// Parsing follows the scalar typing kustomize (go-yaml v3, YAML 1.2 core schema) applies:
// quoted scalars and explicit !!str stay strings; plain `true`/`false` are booleans, plain
// integers (decimal, 0x, 0o) ints, plain floats (incl. .inf/.nan) floats, `null`/`~`/empty null;
// everything else (yes/no/on/off, timestamps, ...) is a string. Merge keys (`<<`) are applied.
// Duplicate mapping keys are an error, as in kustomize.
//
// Emission prints kustomize's style: keys sorted in gopkg.in/yaml.v2's order (as `kubectl
// kustomize` prints them: a non-letter before a letter, digit runs compared as numbers),
// two-space indent, sequences not indented under their key, strings quoted only when a plain
// scalar would read back differently, multi-line strings as literal blocks.
#ifndef TODOKE_COMMON_YAML_H_
#define TODOKE_COMMON_YAML_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/budget.h"
#include "nlohmann/json.hpp"

namespace todoke {

struct YamlLimits {
  // Bytes of input accepted by one parse.
  size_t max_document_bytes = 32 << 20;
  // Nesting of mappings/sequences.
  int max_depth = 200;
  // Nodes produced after alias expansion, over the whole stream: stops "billion laughs".
  int64_t max_nodes = 4'000'000;
  // Duplicate mapping keys are an error unless this is set; then a later key replaces an
  // earlier one, as sigs.k8s.io/yaml reads a kustomization file.
  bool allow_duplicate_keys = false;
  // Refuse a mapping key that is not a string (an int, bool, float, null or timestamp) in any
  // mapping but a document's top one, as kustomize refuses such a resource when it prints it
  // (go-yaml decodes the mapping as map[interface{}]interface{}, which JSON cannot encode).
  bool nested_keys_must_be_strings = false;
  // Read the values of an object's metadata.annotations (of the document, or of a List's
  // items) as their source text when they are not strings ("017", "1e3", "~", "" for nothing),
  // as kustomize reads them (kyaml's GetAnnotations takes each node's text).
  bool annotation_values_as_text = false;
  // Read a resource or patch as kustomize (kyaml) reads it and prints it back: in every mapping
  // the first entry whose key reads "<<" is removed, quoted or tagged !!str as well, whatever
  // its value (RNode.DeAnchor; a plain "<<" is the merge key, and a second merge key is an
  // error), and a folded block scalar's value is what go-yaml reads back from go-yaml's folded
  // text (RNode.MarshalJSON; common/go_yaml_folded.h), annotation values excepted.
  bool kyaml_node_rules = false;
  // The render's budget (common/budget.h), charged with every node and every byte an alias
  // copies, and checked for cancellation per document; null: the thread's CurrentBudget(), if
  // any. The per-parse limits above still apply.
  Budget* budget = nullptr;
};

struct YamlDocument {
  nlohmann::json value;  // null for an empty document
  int line = 1;          // 1-based line where the document starts
};

// "source:line:column: not valid UTF-8 (byte 0xNN; ...)" for the first invalid UTF-8 byte of
// `text` ("<input>" when `source` is empty): the message the YAML reader gives such a text.
std::string InvalidUtf8Message(absl::string_view text, absl::string_view source);

// Parses a multi-document YAML stream. `source_name` (a file path) prefixes every error:
// "path:line:column: message" with 1-based line and column. INVALID_ARGUMENT on syntax errors,
// duplicate keys and non-scalar keys; RESOURCE_EXHAUSTED when a limit (or the budget) is hit;
// CANCELLED or DEADLINE_EXCEEDED when the budget's render is stopped.
absl::StatusOr<std::vector<YamlDocument>> ParseYamlStream(absl::string_view text,
                                                          absl::string_view source_name = "",
                                                          const YamlLimits& limits = {});

// Parses a stream that must hold exactly one document (an empty input gives null).
absl::StatusOr<nlohmann::json> ParseYaml(absl::string_view text, absl::string_view source_name = "",
                                         const YamlLimits& limits = {});

// Emits one value as a YAML document (no leading "---", ends with a newline).
std::string EmitYaml(const nlohmann::json& value);

// Emits values as a stream separated by "---\n", as `kubectl kustomize` prints.
std::string EmitYamlStream(const std::vector<nlohmann::json>& values);

// Checks that `kubectl kustomize` could print `value`, which it encodes as JSON and reads back
// with go-yaml: no NaN or infinite number (Go's JSON encoder refuses them: "json: unsupported
// value: +Inf") and no string or key holding a code point go-yaml's reader refuses (U+007F,
// U+0080-U+009F but U+0085, U+FFFE, U+FFFF: "control characters are not allowed").
// INVALID_ARGUMENT naming the JSON pointer of the first such value and the cause.
absl::Status CheckKustomizePrintable(const nlohmann::json& value);

// Rewrites `value` as kustomize's printing round trip (JSON, then go-yaml) changes it: U+0085
// (NEL) in strings folds as a YAML line break (see yaml_emit.cc).
void ApplyKustomizePrintRoundTrip(nlohmann::json& value);

}  // namespace todoke

#endif  // TODOKE_COMMON_YAML_H_

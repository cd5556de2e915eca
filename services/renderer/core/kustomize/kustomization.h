// The kustomization file: finding it, parsing it strictly (unknown fields and wrongly typed
// values are errors, as in kustomize), legacy fields folded in (bases, imageTags), and refusing
// what todoke does not run (Helm charts, generator/transformer/validator plugins).
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZATION_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZATION_H_

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

struct PatchEntry {
  std::string path;          // file relative to the kustomization, or
  std::string inline_patch;  // the patch text
  bool has_inline = false;
  std::optional<Selector> target;
  bool allow_name_change = false;
  bool allow_kind_change = false;
};

struct GeneratorOptions {
  std::map<std::string, std::string> labels;
  std::map<std::string, std::string> annotations;
  std::optional<bool> disable_name_suffix_hash;
  std::optional<bool> immutable;
};

struct GeneratorArgs {
  std::string kind;  // "ConfigMap" or "Secret"
  std::string name;
  std::string ns;
  std::string behavior;  // "", "create", "merge", "replace"
  std::vector<std::string> literals;
  std::vector<std::string> files;
  std::vector<std::string> envs;
  std::string type;  // Secret type
  GeneratorOptions options;
  bool has_options = false;
};

struct ImageEntry {
  std::string name;
  std::string new_name;
  std::string new_tag;
  std::string digest;
  std::string tag_suffix;
};

struct ReplicaEntry {
  std::string name;
  int64_t count = 0;
};

struct LabelEntry {
  std::map<std::string, std::string> pairs;
  bool include_selectors = false;
  bool include_templates = false;
  std::vector<FieldSpec> fields;
};

struct Kustomization {
  std::string file;  // path of the kustomization file (repo-relative)
  std::string dir;   // its directory
  std::string kind;  // "Kustomization" or "Component"

  std::vector<std::string> resources;  // bases folded in
  std::vector<std::string> components;
  std::vector<std::string> configurations;
  std::vector<std::string> crds;  // OpenAPI definition files (name references of CRDs)
  std::string namespace_;
  std::string name_prefix;
  std::string name_suffix;
  std::map<std::string, std::string> common_labels;
  std::map<std::string, std::string> common_annotations;
  std::vector<LabelEntry> labels;
  std::vector<PatchEntry> patches;
  std::vector<PatchEntry> patches_json6902;
  std::vector<std::string> patches_strategic_merge;
  std::vector<ImageEntry> images;
  std::vector<ReplicaEntry> replicas;
  std::vector<GeneratorArgs> generators;  // configMapGenerator then secretGenerator
  GeneratorOptions generator_options;
  Json replacements = Json::array();
  Json vars = Json::array();
  Json sort_options;  // null when absent
  // The Helm field used ("helmCharts", ...), refused when generators run; "" when none.
  std::string helm_field;
  // openapi: {path: FILE} (a custom schema) or {version: V} (a builtin one).
  std::map<std::string, std::string> openapi;
  // buildMetadata: "originAnnotations", "transformerAnnotations", "managedByLabel".
  std::vector<std::string> build_metadata;
  // `generators:`, `transformers:` and `validators:` entries: file or folder paths, or inline
  // plugin configurations.
  std::vector<std::string> generator_plugins;
  std::vector<std::string> transformer_plugins;
  std::vector<std::string> validator_plugins;
};

// Parses a list of configMapGenerator (`kind` "ConfigMap") or secretGenerator ("Secret")
// entries, as written in kustomization `file`.
absl::StatusOr<std::vector<GeneratorArgs>> ParseGeneratorList(const Json& value,
                                                              absl::string_view kind,
                                                              absl::string_view file);

// True for the file names kustomize recognises: kustomization.yaml, kustomization.yml,
// Kustomization.
bool IsKustomizationFileName(absl::string_view name);

// Parses the text of kustomization file `file`. INVALID_ARGUMENT naming the file for YAML
// errors (with line/column), unknown fields, wrong types and unsupported features (remote
// resources are checked later, by the loader).
absl::StatusOr<Kustomization> ParseKustomization(absl::string_view text, absl::string_view file);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZATION_H_

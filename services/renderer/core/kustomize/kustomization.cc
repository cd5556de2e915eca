#include "services/renderer/core/kustomize/kustomization.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/file_source.h"

namespace todoke::renderer::kustomize {
namespace {

// Reads typed values out of one kustomization, with errors naming file and field.
class FieldReader {
 public:
  explicit FieldReader(absl::string_view file) : file_(file) {}

  absl::Status Error(absl::string_view field, absl::string_view message) const {
    return absl::InvalidArgumentError(
        absl::StrCat(file_, ": invalid Kustomization: field \"", field, "\" ", message));
  }

  absl::StatusOr<std::string> String(const Json& value, absl::string_view field) const {
    if (value.is_null()) return std::string();
    if (!value.is_string()) return Error(field, "must be a string");
    return value.get<std::string>();
  }

  absl::StatusOr<bool> Bool(const Json& value, absl::string_view field) const {
    if (value.is_null()) return false;
    if (!value.is_boolean()) return Error(field, "must be a boolean");
    return value.get<bool>();
  }

  absl::StatusOr<std::vector<std::string>> Strings(const Json& value,
                                                   absl::string_view field) const {
    std::vector<std::string> out;
    if (value.is_null()) return out;
    if (!value.is_array()) return Error(field, "must be a list of strings");
    for (const Json& item : value) {
      if (!item.is_string()) return Error(field, "must be a list of strings");
      out.push_back(item.get<std::string>());
    }
    return out;
  }

  absl::StatusOr<std::map<std::string, std::string>> StringMap(const Json& value,
                                                               absl::string_view field) const {
    std::map<std::string, std::string> out;
    if (value.is_null()) return out;
    if (!value.is_object()) return Error(field, "must be a map of strings");
    for (auto& [key, item] : value.items()) {
      if (item.is_null()) {
        out[key] = "";
        continue;
      }
      if (!item.is_string()) {
        return Error(field, absl::StrCat("must be a map of strings (value of \"", key,
                                         "\" is not a string: quote it)"));
      }
      out[key] = item.get<std::string>();
    }
    return out;
  }

  // Checks that `value` is a mapping whose keys are all in `allowed`.
  absl::Status Mapping(const Json& value, absl::string_view field,
                       std::initializer_list<absl::string_view> allowed) const {
    if (!value.is_object()) return Error(field, "must be a mapping");
    for (auto& [key, item] : value.items()) {
      bool known = false;
      for (absl::string_view name : allowed) known = known || key == name;
      if (!known) return Error(field, absl::StrCat("has unknown field \"", key, "\""));
    }
    return absl::OkStatus();
  }

 private:
  std::string file_;
};

absl::StatusOr<GeneratorOptions> ParseGeneratorOptions(const FieldReader& reader, const Json& value,
                                                       absl::string_view field) {
  GeneratorOptions options;
  if (value.is_null()) return options;
  RETURN_IF_ERROR(reader.Mapping(value, field,
                                 {"labels", "annotations", "disableNameSuffixHash", "immutable"}));
  if (value.contains("labels")) {
    ASSIGN_OR_RETURN(options.labels, reader.StringMap(value["labels"], field));
  }
  if (value.contains("annotations")) {
    ASSIGN_OR_RETURN(options.annotations, reader.StringMap(value["annotations"], field));
  }
  if (value.contains("disableNameSuffixHash")) {
    ASSIGN_OR_RETURN(bool disable, reader.Bool(value["disableNameSuffixHash"], field));
    options.disable_name_suffix_hash = disable;
  }
  if (value.contains("immutable")) {
    ASSIGN_OR_RETURN(bool immutable, reader.Bool(value["immutable"], field));
    options.immutable = immutable;
  }
  return options;
}

absl::StatusOr<std::vector<GeneratorArgs>> ParseGenerators(const FieldReader& reader,
                                                           const Json& value,
                                                           absl::string_view field,
                                                           absl::string_view kind) {
  std::vector<GeneratorArgs> out;
  if (value.is_null()) return out;
  if (!value.is_array()) return reader.Error(field, "must be a list");
  for (const Json& item : value) {
    bool secret = kind == "Secret";
    if (secret) {
      RETURN_IF_ERROR(reader.Mapping(item, field,
                                     {"name", "namespace", "behavior", "files", "literals", "envs",
                                      "env", "options", "type"}));
    } else {
      RETURN_IF_ERROR(reader.Mapping(
          item, field,
          {"name", "namespace", "behavior", "files", "literals", "envs", "env", "options"}));
    }
    GeneratorArgs args;
    args.kind = std::string(kind);
    if (item.contains("name")) {
      ASSIGN_OR_RETURN(args.name, reader.String(item["name"], field));
    }
    if (item.contains("namespace")) {
      ASSIGN_OR_RETURN(args.ns, reader.String(item["namespace"], field));
    }
    if (item.contains("behavior")) {
      ASSIGN_OR_RETURN(args.behavior, reader.String(item["behavior"], field));
      // kustomize takes any other value (even "Create") as unspecified, which acts as create.
      if (args.behavior != "merge" && args.behavior != "replace") args.behavior = "create";
    }
    if (item.contains("files")) {
      ASSIGN_OR_RETURN(args.files, reader.Strings(item["files"], field));
    }
    if (item.contains("literals")) {
      ASSIGN_OR_RETURN(args.literals, reader.Strings(item["literals"], field));
    }
    if (item.contains("envs")) {
      ASSIGN_OR_RETURN(args.envs, reader.Strings(item["envs"], field));
    }
    if (item.contains("env")) {
      ASSIGN_OR_RETURN(std::string env, reader.String(item["env"], field));
      if (!env.empty()) args.envs.push_back(env);
    }
    if (item.contains("type")) {
      ASSIGN_OR_RETURN(args.type, reader.String(item["type"], field));
    }
    if (item.contains("options") && !item["options"].is_null()) {
      ASSIGN_OR_RETURN(args.options, ParseGeneratorOptions(reader, item["options"], field));
      args.has_options = true;
    }
    out.push_back(std::move(args));
  }
  return out;
}

absl::StatusOr<PatchEntry> ParsePatch(const FieldReader& reader, const Json& item,
                                      absl::string_view field, absl::string_view file) {
  RETURN_IF_ERROR(reader.Mapping(item, field, {"path", "patch", "target", "options"}));
  PatchEntry entry;
  if (item.contains("path")) {
    ASSIGN_OR_RETURN(entry.path, reader.String(item["path"], field));
  }
  if (item.contains("patch") && !item["patch"].is_null()) {
    ASSIGN_OR_RETURN(entry.inline_patch, reader.String(item["patch"], field));
    entry.has_inline = true;
  }
  if (entry.path.empty() && !entry.has_inline) {
    return reader.Error(field, "entry must have either \"path\" or \"patch\"");
  }
  if (!entry.path.empty() && entry.has_inline) {
    return reader.Error(field, "entry must not have both \"path\" and \"patch\"");
  }
  if (item.contains("target") && !item["target"].is_null()) {
    ASSIGN_OR_RETURN(Selector selector,
                     ParseSelector(item["target"], absl::StrCat(file, ": ", field)));
    entry.target = std::move(selector);
  }
  if (item.contains("options") && !item["options"].is_null()) {
    const Json& options = item["options"];
    RETURN_IF_ERROR(reader.Mapping(options, field, {"allowNameChange", "allowKindChange"}));
    if (options.contains("allowNameChange")) {
      ASSIGN_OR_RETURN(entry.allow_name_change, reader.Bool(options["allowNameChange"], field));
    }
    if (options.contains("allowKindChange")) {
      ASSIGN_OR_RETURN(entry.allow_kind_change, reader.Bool(options["allowKindChange"], field));
    }
  }
  return entry;
}

// The kustomization fields kustomize knows. Go's encoding/json matches field names without
// regard to case, so `nameprefix` is `namePrefix`.
constexpr absl::string_view kKustomizationFields[] = {"apiVersion",
                                                      "kind",
                                                      "metadata",
                                                      "openapi",
                                                      "crds",
                                                      "buildMetadata",
                                                      "resources",
                                                      "bases",
                                                      "components",
                                                      "configurations",
                                                      "namespace",
                                                      "namePrefix",
                                                      "nameSuffix",
                                                      "commonLabels",
                                                      "commonAnnotations",
                                                      "labels",
                                                      "patches",
                                                      "patchesJson6902",
                                                      "patchesStrategicMerge",
                                                      "images",
                                                      "imageTags",
                                                      "replicas",
                                                      "configMapGenerator",
                                                      "secretGenerator",
                                                      "generatorOptions",
                                                      "replacements",
                                                      "vars",
                                                      "sortOptions",
                                                      "helmCharts",
                                                      "helmGlobals",
                                                      "helmChartInflationGenerator",
                                                      "generators",
                                                      "transformers",
                                                      "validators"};

std::string CanonicalFieldName(const std::string& key) {
  for (absl::string_view name : kKustomizationFields) {
    if (name == key) return key;
  }
  for (absl::string_view name : kKustomizationFields) {
    if (absl::EqualsIgnoreCase(name, key)) return std::string(name);
  }
  return key;
}

}  // namespace

absl::StatusOr<std::vector<GeneratorArgs>> ParseGeneratorList(const Json& value,
                                                              absl::string_view kind,
                                                              absl::string_view file) {
  FieldReader reader(file);
  return ParseGenerators(reader, value, kind == "Secret" ? "secretGenerator" : "configMapGenerator",
                         kind);
}

bool IsKustomizationFileName(absl::string_view name) {
  return name == "kustomization.yaml" || name == "kustomization.yml" || name == "Kustomization";
}

absl::StatusOr<Kustomization> ParseKustomization(absl::string_view text, absl::string_view file) {
  // sigs.k8s.io/yaml reads a kustomization: a repeated key replaces the earlier one.
  YamlLimits limits;
  limits.allow_duplicate_keys = true;
  ASSIGN_OR_RETURN(Json parsed, ParseYaml(text, file, limits));
  Json root = parsed;
  if (parsed.is_object()) {
    // Fields are matched without regard to case. With two spellings of one field, Go keeps
    // the later in the document; here the one sorting later wins (a rare mix).
    root = Json::object();
    for (auto& [key, value] : parsed.items()) root[CanonicalFieldName(key)] = value;
  }
  FieldReader reader(file);
  Kustomization k;
  k.file = std::string(file);
  k.dir = ParentPath(file);
  k.kind = "Kustomization";
  if (root.is_null()) return k;
  if (!root.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": invalid Kustomization: the file must hold a mapping"));
  }
  std::string api_version;
  for (auto& [key, value] : root.items()) {
    if (key == "apiVersion") {
      ASSIGN_OR_RETURN(api_version, reader.String(value, key));
    } else if (key == "kind") {
      ASSIGN_OR_RETURN(std::string kind, reader.String(value, key));
      if (kind.empty()) kind = "Kustomization";
      if (kind != "Kustomization" && kind != "Component") {
        return reader.Error(
            key, absl::StrCat("has unsupported kind \"", kind, "\" (Kustomization or Component)"));
      }
      k.kind = kind;
    } else if (key == "buildMetadata") {
      ASSIGN_OR_RETURN(k.build_metadata, reader.Strings(value, key));
    } else if (key == "openapi") {
      ASSIGN_OR_RETURN(k.openapi, reader.StringMap(value, key));
    } else if (key == "crds") {
      ASSIGN_OR_RETURN(k.crds, reader.Strings(value, key));
    } else if (key == "metadata") {
      // Accepted and ignored: metadata is informational.
    } else if (key == "resources" || key == "bases") {
      ASSIGN_OR_RETURN(std::vector<std::string> list, reader.Strings(value, key));
      k.resources.insert(k.resources.end(), list.begin(), list.end());
    } else if (key == "components") {
      ASSIGN_OR_RETURN(k.components, reader.Strings(value, key));
    } else if (key == "configurations") {
      ASSIGN_OR_RETURN(k.configurations, reader.Strings(value, key));
    } else if (key == "namespace") {
      ASSIGN_OR_RETURN(k.namespace_, reader.String(value, key));
    } else if (key == "namePrefix") {
      ASSIGN_OR_RETURN(k.name_prefix, reader.String(value, key));
    } else if (key == "nameSuffix") {
      ASSIGN_OR_RETURN(k.name_suffix, reader.String(value, key));
    } else if (key == "commonLabels") {
      ASSIGN_OR_RETURN(k.common_labels, reader.StringMap(value, key));
    } else if (key == "commonAnnotations") {
      ASSIGN_OR_RETURN(k.common_annotations, reader.StringMap(value, key));
    } else if (key == "labels") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      for (const Json& item : value) {
        RETURN_IF_ERROR(
            reader.Mapping(item, key, {"pairs", "includeSelectors", "includeTemplates", "fields"}));
        LabelEntry entry;
        if (item.contains("pairs")) {
          ASSIGN_OR_RETURN(entry.pairs, reader.StringMap(item["pairs"], key));
        }
        if (item.contains("includeSelectors")) {
          ASSIGN_OR_RETURN(entry.include_selectors, reader.Bool(item["includeSelectors"], key));
        }
        if (item.contains("includeTemplates")) {
          ASSIGN_OR_RETURN(entry.include_templates, reader.Bool(item["includeTemplates"], key));
        }
        if (item.contains("fields")) {
          ASSIGN_OR_RETURN(entry.fields, ParseFieldSpecs(item["fields"], file));
        }
        k.labels.push_back(std::move(entry));
      }
    } else if (key == "patches") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      for (const Json& item : value) {
        if (!item.is_object()) {
          return reader.Error(key,
                              "entries must be mappings with \"path\" or \"patch\" (and "
                              "optionally \"target\")");
        }
        ASSIGN_OR_RETURN(PatchEntry entry, ParsePatch(reader, item, key, file));
        k.patches.push_back(std::move(entry));
      }
    } else if (key == "patchesJson6902") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      for (const Json& item : value) {
        if (!item.is_object()) return reader.Error(key, "entries must be mappings");
        ASSIGN_OR_RETURN(PatchEntry entry, ParsePatch(reader, item, key, file));
        if (!entry.target.has_value()) {
          return reader.Error(key, "entries must have a \"target\"");
        }
        k.patches_json6902.push_back(std::move(entry));
      }
    } else if (key == "patchesStrategicMerge") {
      ASSIGN_OR_RETURN(k.patches_strategic_merge, reader.Strings(value, key));
    } else if (key == "images" || key == "imageTags") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      for (const Json& item : value) {
        RETURN_IF_ERROR(
            reader.Mapping(item, key, {"name", "newName", "newTag", "digest", "tagSuffix"}));
        ImageEntry image;
        if (item.contains("name")) {
          ASSIGN_OR_RETURN(image.name, reader.String(item["name"], key));
        }
        if (item.contains("newName")) {
          ASSIGN_OR_RETURN(image.new_name, reader.String(item["newName"], key));
        }
        if (item.contains("newTag")) {
          ASSIGN_OR_RETURN(image.new_tag, reader.String(item["newTag"], key));
        }
        if (item.contains("digest")) {
          ASSIGN_OR_RETURN(image.digest, reader.String(item["digest"], key));
        }
        if (item.contains("tagSuffix")) {
          ASSIGN_OR_RETURN(image.tag_suffix, reader.String(item["tagSuffix"], key));
        }
        k.images.push_back(std::move(image));
      }
    } else if (key == "replicas") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      for (const Json& item : value) {
        RETURN_IF_ERROR(reader.Mapping(item, key, {"name", "count"}));
        ReplicaEntry replica;
        if (item.contains("name")) {
          ASSIGN_OR_RETURN(replica.name, reader.String(item["name"], key));
        }
        if (item.contains("count")) {
          if (!item["count"].is_number_integer())
            return reader.Error(key, "count must be an integer");
          replica.count = item["count"].get<int64_t>();
        }
        k.replicas.push_back(std::move(replica));
      }
    } else if (key == "configMapGenerator") {
      ASSIGN_OR_RETURN(std::vector<GeneratorArgs> list,
                       ParseGenerators(reader, value, key, "ConfigMap"));
      k.generators.insert(k.generators.begin(), list.begin(), list.end());
    } else if (key == "secretGenerator") {
      ASSIGN_OR_RETURN(std::vector<GeneratorArgs> list,
                       ParseGenerators(reader, value, key, "Secret"));
      k.generators.insert(k.generators.end(), list.begin(), list.end());
    } else if (key == "generatorOptions") {
      ASSIGN_OR_RETURN(k.generator_options, ParseGeneratorOptions(reader, value, key));
    } else if (key == "replacements") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      k.replacements = value;
    } else if (key == "vars") {
      if (value.is_null()) continue;
      if (!value.is_array()) return reader.Error(key, "must be a list");
      k.vars = value;
    } else if (key == "sortOptions") {
      k.sort_options = value;
    } else if (key == "helmCharts" || key == "helmGlobals" ||
               key == "helmChartInflationGenerator") {
      // Refused when the generators run (after the resources, as kustomize fails).
      if (!value.is_null() && !(value.is_array() && value.empty()) &&
          !(value.is_object() && value.empty())) {
        k.helm_field = key;
      }
    } else if (key == "generators") {
      ASSIGN_OR_RETURN(k.generator_plugins, reader.Strings(value, key));
    } else if (key == "transformers") {
      ASSIGN_OR_RETURN(k.transformer_plugins, reader.Strings(value, key));
    } else if (key == "validators") {
      ASSIGN_OR_RETURN(k.validator_plugins, reader.Strings(value, key));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": invalid Kustomization: unknown field \"", key, "\""));
    }
  }
  // kustomize's EnforceFields: a Kustomization is kustomize.config.k8s.io/v1beta1, a
  // Component kustomize.config.k8s.io/v1alpha1.
  const char* required = k.kind == "Component" ? "kustomize.config.k8s.io/v1alpha1"
                                               : "kustomize.config.k8s.io/v1beta1";
  if (!api_version.empty() && api_version != required) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": failed to read kustomization file: apiVersion for ", k.kind,
                     " should be ", required, " (got \"", api_version, "\")"));
  }
  return k;
}

}  // namespace todoke::renderer::kustomize

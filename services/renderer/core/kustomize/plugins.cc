#include "services/renderer/core/kustomize/plugins.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/generators.h"
#include "services/renderer/core/kustomize/patches.h"
#include "services/renderer/core/kustomize/replacements.h"
#include "services/renderer/core/kustomize/transformers.h"

namespace todoke::renderer::kustomize {
namespace {

constexpr absl::string_view kGenerators[] = {"ConfigMapGenerator", "SecretGenerator",
                                             "IAMPolicyGenerator"};
constexpr absl::string_view kTransformers[] = {
    "AnnotationsTransformer", "ImageTagTransformer",      "LabelTransformer",
    "NamespaceTransformer",   "PatchJson6902Transformer", "PatchStrategicMergeTransformer",
    "PatchTransformer",       "PrefixSuffixTransformer",  "PrefixTransformer",
    "SuffixTransformer",      "ReplacementTransformer",   "ReplicaCountTransformer",
    "ValueAddTransformer"};

bool OneOf(absl::string_view kind, absl::Span<const absl::string_view> kinds) {
  for (absl::string_view k : kinds) {
    if (k == kind) return true;
  }
  return false;
}

// A configuration field, looked up as Go's JSON decoder does (exact name first, then without
// regard to case); null when absent.
const Json& Field(const Json& config, absl::string_view name) {
  static const Json* const kNull = new Json();
  if (!config.is_object()) return *kNull;
  auto it = config.find(std::string(name));
  if (it != config.end()) return *it;
  for (auto entry = config.begin(); entry != config.end(); ++entry) {
    if (absl::EqualsIgnoreCase(entry.key(), name)) return *entry;
  }
  return *kNull;
}

std::string StringField(const Json& config, absl::string_view name) {
  const Json& value = Field(config, name);
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number() || value.is_boolean()) return value.dump();
  return "";
}

std::string MetadataField(const Json& config, absl::string_view name) {
  return StringField(Field(config, "metadata"), name);
}

absl::StatusOr<std::map<std::string, std::string>> StringMap(const Json& value,
                                                             absl::string_view what,
                                                             absl::string_view source) {
  std::map<std::string, std::string> out;
  if (value.is_null()) return out;
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": ", what, " must be a mapping"));
  }
  for (auto& [key, item] : value.items()) {
    if (item.is_string()) {
      out[key] = item.get<std::string>();
    } else if (item.is_null()) {
      out[key] = "";
    } else if (item.is_number() || item.is_boolean()) {
      out[key] = item.dump();
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ", what, " value of \"", key, "\" must be a string"));
    }
  }
  return out;
}

std::string PluginName(const Json& config) {
  return absl::StrCat(StringField(config, "kind"), " '", MetadataField(config, "name"), "'");
}

// A kustomization that carries only what one patch or replacement plugin needs: the folder
// its paths are relative to and the file messages name.
Kustomization PluginScope(const Kustomization& k, absl::string_view source) {
  Kustomization scope;
  scope.file = std::string(source);
  scope.dir = k.dir;
  return scope;
}

absl::StatusOr<std::optional<Selector>> OptionalSelector(const Json& value,
                                                         absl::string_view source) {
  if (value.is_null()) return std::optional<Selector>();
  ASSIGN_OR_RETURN(Selector selector, ParseSelector(value, source));
  return std::optional<Selector>(std::move(selector));
}

// filesys.InsertPathPart: `part` inserted as the `position`th element of a slash path.
std::string InsertPathPart(const std::string& path, int position, const std::string& part) {
  if (part.empty()) return path;
  std::vector<std::string> parts;
  if (!path.empty()) parts = absl::StrSplit(path, '/');
  bool absolute = !parts.empty() && parts[0].empty();
  std::vector<std::string> kept;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i == 0 && absolute) continue;
    if (!parts[i].empty()) kept.push_back(parts[i]);
  }
  size_t at = position < 0 ? 0 : std::min<size_t>(position, kept.size());
  kept.insert(kept.begin() + static_cast<std::ptrdiff_t>(at), part);
  return absl::StrCat(absolute ? "/" : "", absl::StrJoin(kept, "/"));
}

// kyaml's LookupCreate for a scalar: walks `fields` (a number indexes a list, "[k=v]" picks a
// list element, anything else a mapping field), creating missing mappings and the final
// scalar. nullptr when the path cannot be walked.
Json* LookupCreate(Json& object, const std::vector<std::string>& fields) {
  Json* node = &object;
  for (const std::string& field : fields) {
    if (field.empty()) continue;
    size_t index = 0;
    if (node->is_array()) {
      if (absl::SimpleAtoi(field, &index)) {
        if (index >= node->size()) return nullptr;
        node = &(*node)[index];
        continue;
      }
      if (field.size() > 2 && field.front() == '[' && field.back() == ']') {
        std::vector<std::string> kv =
            absl::StrSplit(field.substr(1, field.size() - 2), absl::MaxSplits('=', 1));
        if (kv.size() != 2) return nullptr;
        Json* match = nullptr;
        for (Json& element : *node) {
          if (element.is_object() && GetString(element, kv[0]) == kv[1]) match = &element;
        }
        if (match == nullptr) return nullptr;
        node = match;
        continue;
      }
      return nullptr;
    }
    if (node->is_null()) *node = Json::object();
    if (!node->is_object()) return nullptr;
    node = &(*node)[field];
  }
  return node;
}

absl::Status ValueAdd(const FileSource& files, const Kustomization& k, const Json& config,
                      absl::string_view source, std::vector<Resource>& resources) {
  std::string value(absl::StripAsciiWhitespace(StringField(config, "value")));
  if (value.empty()) {
    // The base name of the kustomization's folder.
    std::string dir = k.dir;
    size_t slash = dir.rfind('/');
    value = slash == std::string::npos ? dir : dir.substr(slash + 1);
  }
  Json targets = Field(config, "targets");
  if (!targets.is_array()) targets = Json::array();
  std::string target_file = StringField(config, "targetFilePath");
  if (!target_file.empty()) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadFileUnder(files, k.dir, target_file, "targetFilePath", source));
    ASSIGN_OR_RETURN(Json parsed, ParseYaml(text, target_file));
    const Json& more = Field(parsed, "targets");
    if (more.is_array()) {
      for (const Json& target : more) targets.push_back(target);
    }
  }
  if (targets.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ValueAddTransformer: must specify at least one target"));
  }
  for (const Json& target : targets) {
    std::string field_path = StringField(target, "fieldPath");
    if (field_path.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ValueAddTransformer: fieldPath cannot be empty"));
    }
    int position = 0;
    const Json& position_value = Field(target, "filePathPosition");
    if (position_value.is_number_integer()) position = position_value.get<int>();
    if (position < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": ValueAddTransformer: value of FilePathPosition (", position,
                       ") cannot be negative"));
    }
    std::vector<size_t> selected;
    const Json& selector_value = Field(target, "selector");
    if (selector_value.is_null()) {
      for (size_t i = 0; i < resources.size(); ++i) selected.push_back(i);
    } else {
      ASSIGN_OR_RETURN(Selector selector, ParseSelector(selector_value, source));
      ASSIGN_OR_RETURN(selected, SelectResources(resources, selector));
    }
    for (size_t index : selected) {
      Resource& resource = resources[index];
      if (field_path == "metadata/namespace") {
        std::vector<Resource> one;
        one.push_back(std::move(resource));
        absl::Status status = ApplyNamespace(one, value, {});
        resource = std::move(one[0]);
        RETURN_IF_ERROR(status);
        continue;
      }
      Json* node = LookupCreate(resource.object, SplitFieldPath(field_path));
      if (node == nullptr || node->is_object() || node->is_array()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": ValueAddTransformer: ", field_path, " is not a scalar in ",
                         resource.CurrentId().ToString()));
      }
      std::string current = node->is_string() ? node->get<std::string>() : "";
      *node = position > 0 ? InsertPathPart(current, position - 1, value) : value;
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckBuiltinPlugin(const Json& config, bool generator, absl::string_view source) {
  std::string api_version = StringField(config, "apiVersion");
  std::string kind = StringField(config, "kind");
  if (api_version != "builtin") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": plugin ", api_version, "/", kind, " '", MetadataField(config, "name"),
        "' is not a kustomize builtin: todoke runs only builtin plugins (apiVersion: builtin); "
        "exec, container and Go plugins are refused (external plugins disabled)"));
  }
  if (kind == "HelmChartInflationGenerator") {
    return absl::UnimplementedError(absl::StrCat(
        source, ": ", kind,
        " is not supported: todoke does not inflate Helm charts inside Kustomize (use a plugin "
        "source for Helm)"));
  }
  bool known = OneOf(kind, kGenerators) || OneOf(kind, kTransformers);
  if (!known) {
    // kustomize's wording, with the gvk as it prints it.
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": unable to load builtin ", kind, ".builtin.[noGrp]"));
  }
  if (generator != OneOf(kind, kGenerators)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": ", kind, " is a builtin ", generator ? "transformer" : "generator",
                     ", listed under `", generator ? "generators" : "transformers", "`"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Resource>> RunBuiltinGenerator(const FileSource& files,
                                                          const Kustomization& k,
                                                          const Json& config,
                                                          absl::string_view source) {
  RETURN_IF_ERROR(CheckBuiltinPlugin(config, /*generator=*/true, source));
  std::string kind = StringField(config, "kind");
  if (kind == "IAMPolicyGenerator") {
    std::string cloud = StringField(config, "cloud");
    if (cloud != "gke") {
      return absl::InvalidArgumentError(absl::StrCat(
          source, ": ", PluginName(config), ": cloud provider ", cloud, " not supported yet"));
    }
    const Json& service = Field(config, "kubernetesService");
    const Json& account = Field(config, "serviceAccount");
    Json object = {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}};
    object["metadata"]["name"] = StringField(service, "name");
    object["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] =
        absl::StrCat(StringField(account, "name"), "@", StringField(account, "projectId"),
                     ".iam.gserviceaccount.com");
    std::string ns = StringField(service, "namespace");
    if (!ns.empty()) object["metadata"]["namespace"] = ns;
    Resource resource;
    resource.object = std::move(object);
    resource.generator_behavior = "create";
    resource.source = std::string(source);
    std::vector<Resource> out;
    out.push_back(std::move(resource));
    return out;
  }
  // ConfigMapGenerator / SecretGenerator: the generator arguments beside the object's
  // apiVersion, kind and metadata; the name and namespace default to the metadata's.
  std::string generated_kind = kind == "SecretGenerator" ? "Secret" : "ConfigMap";
  Json args = Json::object();
  // Read leniently, as the plugin's yaml.Unmarshal reads it: unknown fields are ignored.
  constexpr absl::string_view kArgs[] = {"name", "namespace", "behavior", "files", "literals",
                                         "envs", "env",       "options",  "type"};
  for (auto& [key, value] : config.items()) {
    for (absl::string_view known : kArgs) {
      if (!absl::EqualsIgnoreCase(key, known)) continue;
      if (known == "type" && kind != "SecretGenerator") continue;
      args[std::string(known)] = value;
    }
  }
  if (StringField(args, "name").empty()) args["name"] = MetadataField(config, "name");
  if (StringField(args, "namespace").empty() && !MetadataField(config, "namespace").empty()) {
    args["namespace"] = MetadataField(config, "namespace");
  }
  ASSIGN_OR_RETURN(std::vector<GeneratorArgs> list,
                   ParseGeneratorList(Json::array({args}), generated_kind, source));
  Kustomization scope = PluginScope(k, source);
  scope.generators = std::move(list);
  return RunGenerators(files, scope);
}

absl::Status RunBuiltinTransformer(const FileSource& files, const Kustomization& k,
                                   const Json& config, absl::string_view source,
                                   std::vector<Resource>& resources) {
  RETURN_IF_ERROR(CheckBuiltinPlugin(config, /*generator=*/false, source));
  const std::string kind = StringField(config, "kind");
  const std::string context = absl::StrCat(source, ": ", PluginName(config));
  auto field_specs = [&]() {
    return ParseFieldSpecs(Field(config, "fieldSpecs"), context,
                           /*strict=*/false);
  };

  if (kind == "PrefixSuffixTransformer" || kind == "PrefixTransformer" ||
      kind == "SuffixTransformer") {
    if (Field(config, "fieldSpecs").is_null()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": fieldSpecs is not expected to be nil"));
    }
    ASSIGN_OR_RETURN(std::vector<FieldSpec> specs, field_specs());
    std::string prefix = kind == "SuffixTransformer" ? "" : StringField(config, "prefix");
    std::string suffix = kind == "PrefixTransformer" ? "" : StringField(config, "suffix");
    return ApplyNamePrefixSuffix(resources, prefix, suffix, specs, specs);
  }
  if (kind == "LabelTransformer" || kind == "AnnotationsTransformer") {
    ASSIGN_OR_RETURN(std::vector<FieldSpec> specs, field_specs());
    const char* field = kind == "LabelTransformer" ? "labels" : "annotations";
    ASSIGN_OR_RETURN(auto entries, StringMap(Field(config, field), field, context));
    return ApplyStringMapEntries(resources, entries, specs);
  }
  if (kind == "NamespaceTransformer") {
    ASSIGN_OR_RETURN(std::vector<FieldSpec> specs, field_specs());
    NamespaceOptions options;
    const Json& unset_only = Field(config, "unsetOnly");
    options.unset_only = unset_only.is_boolean() && unset_only.get<bool>();
    options.role_binding_subjects = StringField(config, "setRoleBindingSubjects");
    return Annotate(ApplyNamespace(resources, MetadataField(config, "namespace"), specs, options),
                    context);
  }
  if (kind == "ImageTagTransformer") {
    ASSIGN_OR_RETURN(std::vector<FieldSpec> specs, field_specs());
    const Json& tag = Field(config, "imageTag");
    ImageEntry image{StringField(tag, "name"), StringField(tag, "newName"),
                     StringField(tag, "newTag"), StringField(tag, "digest"),
                     StringField(tag, "tagSuffix")};
    return ApplyImages(resources, {image}, specs);
  }
  if (kind == "ReplicaCountTransformer") {
    ASSIGN_OR_RETURN(std::vector<FieldSpec> specs, field_specs());
    const Json& replica = Field(config, "replica");
    ReplicaEntry entry;
    entry.name = StringField(replica, "name");
    const Json& count = Field(replica, "count");
    if (count.is_number_integer()) entry.count = count.get<int64_t>();
    return Annotate(ApplyReplicas(resources, {entry}, specs), context);
  }
  if (kind == "PatchTransformer") {
    Kustomization scope = PluginScope(k, source);
    PatchEntry entry;
    entry.path = StringField(config, "path");
    entry.inline_patch = StringField(config, "patch");
    entry.has_inline = !entry.inline_patch.empty();
    if (entry.path.empty() == !entry.has_inline) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, entry.path.empty() ? ": must specify one of patch and path"
                                      : ": patch and path can't be set at the same time"));
    }
    ASSIGN_OR_RETURN(entry.target, OptionalSelector(Field(config, "target"), context));
    const Json& options = Field(config, "options");
    entry.allow_name_change = Field(options, "allowNameChange").is_boolean() &&
                              Field(options, "allowNameChange").get<bool>();
    entry.allow_kind_change = Field(options, "allowKindChange").is_boolean() &&
                              Field(options, "allowKindChange").get<bool>();
    scope.patches.push_back(std::move(entry));
    return ApplyPatches(files, scope, resources);
  }
  if (kind == "PatchJson6902Transformer") {
    Kustomization scope = PluginScope(k, source);
    PatchEntry entry;
    entry.path = StringField(config, "path");
    entry.inline_patch = StringField(config, "jsonOp");
    entry.has_inline = !entry.inline_patch.empty();
    if (entry.path.empty() == !entry.has_inline) {
      return absl::InvalidArgumentError(absl::StrCat(
          context, entry.path.empty() ? ": empty file path and empty jsonOp"
                                      : ": must specify a file path or jsonOp, not both"));
    }
    ASSIGN_OR_RETURN(entry.target, OptionalSelector(Field(config, "target"), context));
    if (!entry.target.has_value()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": must specify a target"));
    }
    if (entry.target->name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": must specify the target name"));
    }
    scope.patches_json6902.push_back(std::move(entry));
    return ApplyPatchesJson6902(files, scope, resources);
  }
  if (kind == "PatchStrategicMergeTransformer") {
    Kustomization scope = PluginScope(k, source);
    const Json& paths = Field(config, "paths");
    if (paths.is_array()) {
      for (const Json& path : paths) {
        if (path.is_string()) scope.patches_strategic_merge.push_back(path.get<std::string>());
      }
    }
    std::string patches = StringField(config, "patches");
    if (scope.patches_strategic_merge.empty() && patches.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": empty file path and empty patch content"));
    }
    if (!patches.empty()) {
      if (patches.find('\n') == std::string::npos) patches.push_back('\n');
      scope.patches_strategic_merge.push_back(patches);
    }
    return ApplyPatchesStrategicMerge(files, scope, resources);
  }
  if (kind == "ReplacementTransformer") {
    Kustomization scope = PluginScope(k, source);
    const Json& replacements = Field(config, "replacements");
    if (replacements.is_array()) scope.replacements = replacements;
    return ApplyReplacements(files, scope, resources);
  }
  if (kind == "ValueAddTransformer") {
    return ValueAdd(files, k, config, context, resources);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(source, ": unable to load builtin ", kind, ".builtin.[noGrp]"));
}

}  // namespace todoke::renderer::kustomize

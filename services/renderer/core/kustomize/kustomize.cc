#include "services/renderer/core/kustomize/kustomize.h"

#include <algorithm>
#include <memory>
#include <unordered_map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/build_metadata.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/generators.h"
#include "services/renderer/core/kustomize/hash.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/name_reference.h"
#include "services/renderer/core/kustomize/patches.h"
#include "services/renderer/core/kustomize/plugins.h"
#include "services/renderer/core/kustomize/replacements.h"
#include "services/renderer/core/kustomize/resource.h"
#include "services/renderer/core/kustomize/sort.h"
#include "services/renderer/core/kustomize/strategic_merge.h"
#include "services/renderer/core/kustomize/transformers.h"

namespace todoke::renderer::kustomize {
namespace {

constexpr const char* kKustomizationFileNames[] = {"kustomization.yaml", "kustomization.yml",
                                                   "Kustomization"};

std::string JoinPath(absl::string_view dir, absl::string_view name) {
  return dir.empty() ? std::string(name) : absl::StrCat(dir, "/", name);
}

std::string DisplayDir(absl::string_view dir) { return dir.empty() ? "." : std::string(dir); }

bool LooksRemote(absl::string_view path) {
  return absl::StrContains(path, "://") || absl::StartsWith(path, "github.com/") ||
         absl::StartsWith(path, "gitlab.com/") || absl::StartsWith(path, "bitbucket.org/") ||
         absl::StartsWith(path, "git@") || absl::StartsWith(path, "git::") ||
         absl::StartsWith(path, "ssh:") || absl::StartsWith(path, "https:") ||
         absl::StartsWith(path, "http:");
}

// kustomize rewrites metadata.annotations when it strips its own bookkeeping annotations at
// the end of a build, through a map of strings: the field disappears when nothing is left (a
// null, empty or scalar value: `annotations: v`, also what `!important: v` reads as, a tagged
// scalar), and scalar values become their text (`port: 8080` -> "8080", `happy: true` ->
// "true", an empty value -> ""). Labels are left alone.
void NormalizeAnnotations(Json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end()) return;
  if (annotations->is_primitive() || (annotations->is_object() && annotations->empty()) ||
      (annotations->is_array() && annotations->empty())) {
    metadata->erase(annotations);
    return;
  }
  if (!annotations->is_object()) return;
  for (auto& [key, value] : annotations->items()) {
    if (value.is_string() || value.is_object() || value.is_array()) continue;
    value = value.is_null() ? std::string() : value.dump();
  }
}

// The key under which kustomize's ResAccumulator refuses a second resource: group, version,
// kind, name and effective namespace (SameId), length-prefixed so no two ids share a key.
std::string IdKey(const ResId& id) {
  const std::string ns = EffectiveNamespace(id);
  return absl::StrCat(id.group.size(), ":", id.group, id.version.size(), ":", id.version,
                      id.kind.size(), ":", id.kind, id.name.size(), ":", id.name, ns);
}

// Resources accumulated by one kustomization (and what it brought along).
struct Accumulator {
  std::vector<Resource> resources;
  // The transformer configuration, merged as kustomize merges it: from the accumulators of
  // sub-kustomizations, then this kustomization's defaults and `configurations:`, then its
  // `crds:`. Null while empty; shared while it is just one merged piece (usually the
  // defaults), so most builds never copy it.
  std::shared_ptr<const TransformerConfig> config;
  std::vector<Var> vars;
  // IdKey of resources[i] -> i, for the duplicate check of AppendResource (a scan of every
  // resource per append made a build quadratic in its objects). Anything that renames or
  // replaces resources (transformers, generators) calls InvalidateIndex before it does, and the
  // next append rebuilds the index: once per kustomization, so the build stays linear.
  std::unordered_map<std::string, size_t> index;
  bool index_valid = false;

  void InvalidateIndex() {
    index.clear();
    index_valid = false;
  }
};

absl::Status AppendResource(Accumulator& acc, Resource resource) {
  if (!acc.index_valid) {
    acc.index.clear();
    acc.index.reserve(acc.resources.size());
    for (size_t i = 0; i < acc.resources.size(); ++i) {
      // The first of equal ids wins, as the scan found it.
      acc.index.emplace(IdKey(acc.resources[i].CurrentId()), i);
    }
    acc.index_valid = true;
  }
  ResId id = resource.CurrentId();
  std::string key = IdKey(id);
  auto found = acc.index.find(key);
  if (found != acc.index.end()) {
    const Resource& existing = acc.resources[found->second];
    return absl::InvalidArgumentError(
        absl::StrCat("may not add resource with an already registered id: ", id.ToString(),
                     " (from ", resource.source, ", already added from ", existing.source, ")"));
  }
  acc.index.emplace(std::move(key), acc.resources.size());
  acc.resources.push_back(std::move(resource));
  return absl::OkStatus();
}

const std::shared_ptr<const TransformerConfig>& DefaultConfigPtr() {
  static const auto* const config = new std::shared_ptr<const TransformerConfig>(
      std::shared_ptr<const TransformerConfig>(), &TransformerConfig::Defaults());
  return *config;
}

// kustomize's ResAccumulator.MergeConfig.
absl::Status MergeConfig(Accumulator& acc, const std::shared_ptr<const TransformerConfig>& other,
                         absl::string_view context) {
  if (other == nullptr || other == acc.config) return absl::OkStatus();
  // The defaults, which every kustomization without `configurations:` merges: into an empty
  // configuration they give the defaults (a unit test checks), into one that holds them already
  // nothing (TransformerConfig::MergeFrom), so the accumulator shares them. Copying and merging
  // them each time took ~0.4 M instructions per kustomization, a quarter of a small build.
  if (other->is_defaults) {
    if (acc.config == nullptr) {
      acc.config = other;
      return absl::OkStatus();
    }
    if (acc.config->includes_defaults) return absl::OkStatus();
  }
  auto merged = std::make_shared<TransformerConfig>();
  if (acc.config != nullptr) *merged = *acc.config;
  absl::Status status = merged->MergeFrom(*other);
  if (!status.ok()) return Annotate(status, absl::StrCat(context, ": merging config"));
  acc.config = std::move(merged);
  return absl::OkStatus();
}

absl::Status AppendVars(Accumulator& acc, const std::vector<Var>& vars) {
  for (const Var& var : vars) {
    for (const Var& existing : acc.vars) {
      if (existing.name == var.name) {
        return absl::InvalidArgumentError(
            absl::StrCat(var.declared_in, ": var '", var.name, "' already encountered"));
      }
    }
    acc.vars.push_back(var);
  }
  return absl::OkStatus();
}

class Builder {
 public:
  Builder(const FileSource& files, const BuildOptions& options)
      : files_(files), options_(options) {}

  // OK while the build may go on (see BuildOptions::budget).
  absl::Status CheckBudget(absl::string_view where) const {
    return options_.budget != nullptr ? options_.budget->Check(where) : absl::OkStatus();
  }

  // Loads the kustomization in `dir` and accumulates it into `acc` (a fresh accumulator for
  // resources, the parent's for components).
  absl::Status AccumulateDirectory(absl::string_view dir, Accumulator& acc, bool as_component,
                                   bool top_level, Kustomization* loaded = nullptr) {
    if (static_cast<int>(stack_.size()) >= options_.max_depth) {
      return absl::InvalidArgumentError(absl::StrCat("kustomizations nested deeper than ",
                                                     options_.max_depth, " levels at '",
                                                     DisplayDir(dir), "'"));
    }
    if (std::find(stack_.begin(), stack_.end(), dir) != stack_.end()) {
      std::vector<std::string> cycle(stack_.begin(), stack_.end());
      cycle.push_back(std::string(dir));
      for (std::string& entry : cycle) entry = DisplayDir(entry);
      return absl::InvalidArgumentError(
          absl::StrCat("cycle detected in kustomizations: ", absl::StrJoin(cycle, " -> ")));
    }
    absl::StatusOr<std::string> file = FindKustomizationFile(files_, dir);
    if (!file.ok()) return file.status();
    ASSIGN_OR_RETURN(std::string text, files_.ReadFile(*file));
    ASSIGN_OR_RETURN(Kustomization kustomization, ParseKustomization(text, *file));
    if (top_level) {
      // Only the top kustomization's buildMetadata counts: kustomize hands it down.
      track_origin_ = !kustomization.build_metadata.empty();
    }
    RETURN_IF_ERROR(ConfigureSchema(kustomization, top_level));
    if (!top_level) {
      if (as_component && kustomization.kind != "Component") {
        return absl::InvalidArgumentError(
            absl::StrCat(*file, ": expected kind 'Component' for path '", DisplayDir(dir),
                         "' but got '", kustomization.kind, "'"));
      }
      if (!as_component && kustomization.kind == "Component") {
        return absl::InvalidArgumentError(
            absl::StrCat(*file, ": expected kind != 'Component' for path '", DisplayDir(dir),
                         "' (a Component belongs in `components:`, not `resources:`)"));
      }
    }
    stack_.push_back(std::string(dir));
    absl::Status status = AccumulateTarget(kustomization, acc);
    stack_.pop_back();
    if (loaded != nullptr) *loaded = std::move(kustomization);
    return status;
  }

 private:
  absl::Status AccumulateTarget(const Kustomization& k, Accumulator& acc) {
    for (const std::string& path : k.resources) {
      RETURN_IF_ERROR(AccumulateResource(k, path, acc));
    }
    // builtinconfig.MakeTransformerConfig: the defaults, merged with the `configurations:`
    // files (merged among themselves first).
    std::shared_ptr<const TransformerConfig> own = DefaultConfigPtr();
    if (!k.configurations.empty()) {
      TransformerConfig custom;
      for (const std::string& path : k.configurations) {
        ASSIGN_OR_RETURN(std::string text,
                         ReadFileUnder(files_, k.dir, path, "configurations file", k.file));
        ASSIGN_OR_RETURN(Json value, ParseYaml(text, JoinPath(k.dir, path)));
        ASSIGN_OR_RETURN(TransformerConfig config,
                         ParseTransformerConfig(value, JoinPath(k.dir, path)));
        RETURN_IF_ERROR(Annotate(custom.MergeFrom(config), JoinPath(k.dir, path)));
      }
      auto merged = std::make_shared<TransformerConfig>(TransformerConfig::Defaults());
      RETURN_IF_ERROR(Annotate(merged->MergeFrom(custom), k.file));
      own = std::move(merged);
    }
    RETURN_IF_ERROR(MergeConfig(acc, own, k.file));
    if (!k.crds.empty()) {
      auto crds = std::make_shared<TransformerConfig>();
      for (const std::string& path : k.crds) {
        ASSIGN_OR_RETURN(std::string text, ReadFileUnder(files_, k.dir, path, "crds file", k.file));
        ASSIGN_OR_RETURN(Json value, ParseYaml(text, JoinPath(k.dir, path)));
        RETURN_IF_ERROR(Annotate(crds->MergeFrom(ParseCrdConfig(value)), JoinPath(k.dir, path)));
      }
      RETURN_IF_ERROR(MergeConfig(acc, crds, k.file));
    }
    if (!k.helm_field.empty()) {
      return absl::UnimplementedError(absl::StrCat(
          k.file, ": \"", k.helm_field,
          "\" is not supported: todoke does not inflate Helm charts inside Kustomize (use a "
          "plugin source for Helm)"));
    }
    ASSIGN_OR_RETURN(std::vector<Resource> generated, RunGenerators(files_, k));
    if (track_origin_) {
      for (Resource& resource : generated) {
        std::vector<Resource> one;
        one.push_back(std::move(resource));
        SetOriginIfMissing(one, BuiltinOrigin(KustomizationOriginPath(k),
                                              one[0].Kind() == "Secret" ? "SecretGenerator"
                                                                        : "ConfigMapGenerator"));
        resource = std::move(one[0]);
      }
    }
    acc.InvalidateIndex();
    RETURN_IF_ERROR(AbsorbGenerated(acc.resources, std::move(generated)));
    if (!k.generator_plugins.empty()) {
      ASSIGN_OR_RETURN(std::vector<Resource> configs, LoadPluginConfigs(k, k.generator_plugins));
      for (const Resource& config : configs) {
        ASSIGN_OR_RETURN(std::vector<Resource> made,
                         RunBuiltinGenerator(files_, k, config.object, config.source));
        Origin origin;
        if (PluginOrigin(config.object, origin)) SetOriginIfMissing(made, origin);
        acc.InvalidateIndex();
        RETURN_IF_ERROR(AbsorbGenerated(acc.resources, std::move(made)));
      }
    }
    for (const std::string& path : k.components) {
      if (LooksRemote(path)) {
        return absl::FailedPreconditionError(absl::StrCat(k.file, ": remote component \"", path,
                                                          "\" is not supported: todoke builds only "
                                                          "from the repository"));
      }
      absl::StatusOr<std::string> resolved = ResolveRepoPath(k.dir, path);
      if (!resolved.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(k.file, ": component \"", path, "\": ", resolved.status().message()));
      }
      if (!files_.IsDirectory(*resolved)) {
        return absl::NotFoundError(
            absl::StrCat(k.file, ": component \"", path, "\": no such directory"));
      }
      std::string saved_origin = origin_path_;
      origin_path_ = JoinClean(origin_path_, path);
      absl::Status status = AccumulateDirectory(*resolved, acc, /*as_component=*/true, false);
      origin_path_ = std::move(saved_origin);
      if (!status.ok()) {
        return Annotate(status, absl::StrCat(k.file, ": accumulating component '", path, "'"));
      }
    }
    acc.InvalidateIndex();
    RETURN_IF_ERROR(RunTransformers(k, acc));
    ASSIGN_OR_RETURN(std::vector<Var> vars, ParseVars(k));
    RETURN_IF_ERROR(BindVars(acc.resources, vars));
    RETURN_IF_ERROR(AppendVars(acc, vars));
    if (acc.resources.size() > options_.max_objects) {
      return absl::ResourceExhaustedError(absl::StrCat(k.file, ": the build produces more than ",
                                                       options_.max_objects, " objects"));
    }
    return absl::OkStatus();
  }

  absl::Status AccumulateResource(const Kustomization& k, const std::string& path,
                                  Accumulator& acc) {
    RETURN_IF_ERROR(CheckBudget(k.file));
    if (LooksRemote(path)) {
      return absl::FailedPreconditionError(absl::StrCat(
          k.file, ": remote resource \"", path,
          "\" is not supported: todoke builds only from the repository (vendor it in)"));
    }
    absl::StatusOr<std::string> resolved = ResolveRepoPath(k.dir, path);
    if (!resolved.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(k.file, ": resource \"", path, "\": ", resolved.status().message()));
    }
    if (files_.IsFile(*resolved)) {
      if (!k.dir.empty() && !absl::StartsWith(*resolved, absl::StrCat(k.dir, "/"))) {
        return absl::PermissionDeniedError(absl::StrCat(k.file, ": resource \"", path,
                                                        "\": security; file '", *resolved,
                                                        "' is not in or below '", k.dir, "'"));
      }
      ASSIGN_OR_RETURN(std::string text, files_.ReadFile(*resolved));
      ASSIGN_OR_RETURN(std::vector<Resource> resources, ParseResources(text, *resolved));
      for (Resource& resource : resources) {
        RETURN_IF_ERROR(CheckBudget(*resolved));
        if (track_origin_) SetFileOrigin(resource.object, JoinClean(origin_path_, path));
        RETURN_IF_ERROR(AppendResource(acc, std::move(resource)));
      }
      return absl::OkStatus();
    }
    if (files_.IsDirectory(*resolved)) {
      Accumulator sub;
      std::string saved_origin = origin_path_;
      origin_path_ = JoinClean(origin_path_, path);
      absl::Status status = AccumulateDirectory(*resolved, sub, /*as_component=*/false, false);
      origin_path_ = std::move(saved_origin);
      if (!status.ok()) {
        return Annotate(status, absl::StrCat(k.file, ": accumulating resources from '", path, "'"));
      }
      for (Resource& resource : sub.resources) {
        RETURN_IF_ERROR(CheckBudget(k.file));
        absl::Status append = AppendResource(acc, std::move(resource));
        if (!append.ok()) return Annotate(append, k.file);
      }
      RETURN_IF_ERROR(MergeConfig(acc, sub.config, k.file));
      RETURN_IF_ERROR(AppendVars(acc, sub.vars));
      return absl::OkStatus();
    }
    return absl::NotFoundError(absl::StrCat(k.file, ": accumulating resources from '", path,
                                            "': no such file or directory '", *resolved, "'"));
  }

  // The objects of one resource file: documents, with `*List` kinds expanded.
  absl::StatusOr<std::vector<Resource>> ParseResources(absl::string_view text,
                                                       const std::string& path) {
    // As kustomize, refuse non-string keys in an object's nested mappings (it cannot print them).
    YamlLimits limits;
    limits.nested_keys_must_be_strings = true;
    limits.annotation_values_as_text = true;
    limits.kyaml_node_rules = true;
    ASSIGN_OR_RETURN(std::vector<YamlDocument> documents, ParseYamlStream(text, path, limits));
    std::vector<Resource> out;
    auto add = [&](Json object, int line) -> absl::Status {
      if (!object.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(
            path, ":", line, ":1: a resource must be a mapping (a Kubernetes object)"));
      }
      if (GetString(object, "kind").empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ":", line, ":1: missing kind in object"));
      }
      Resource resource;
      resource.object = std::move(object);
      resource.source = path;
      out.push_back(std::move(resource));
      resources_loaded_ = true;
      return absl::OkStatus();
    };
    for (YamlDocument& document : documents) {
      if (document.value.is_null()) continue;
      if (document.value.is_object() && absl::EndsWith(GetString(document.value, "kind"), "List") &&
          document.value.contains("items") && document.value["items"].is_array()) {
        for (Json& item : document.value["items"]) {
          RETURN_IF_ERROR(add(std::move(item), document.line));
        }
        continue;
      }
      RETURN_IF_ERROR(add(std::move(document.value), document.line));
    }
    return out;
  }

  absl::Status RunTransformers(const Kustomization& k, Accumulator& acc) {
    // Hold the configuration: transformers never change it, but keep it alive regardless.
    std::shared_ptr<const TransformerConfig> held =
        acc.config != nullptr ? acc.config : DefaultConfigPtr();
    const TransformerConfig* config = held.get();
    std::vector<Resource>& resources = acc.resources;
    // After each builtin transformer kustomize configures, the transformations annotation
    // records it (buildMetadata), once per configured instance.
    // Each step also checks the budget: a cancelled build stops between steps.
    auto ran = [&](absl::string_view kind, size_t instances) -> absl::Status {
      if (track_origin_) {
        Origin origin = BuiltinOrigin(KustomizationOriginPath(k), kind);
        for (size_t i = 0; i < instances; ++i) AddTransformation(resources, origin);
      }
      return CheckBudget(absl::StrCat(k.file, " (", kind, ")"));
    };
    RETURN_IF_ERROR(ApplyPatchesStrategicMerge(files_, k, resources));
    RETURN_IF_ERROR(
        ran("PatchStrategicMergeTransformer", k.patches_strategic_merge.empty() ? 0 : 1));
    RETURN_IF_ERROR(ApplyPatches(files_, k, resources));
    RETURN_IF_ERROR(ran("PatchTransformer", k.patches.size()));
    RETURN_IF_ERROR(Annotate(ApplyNamespace(resources, k.namespace_, config->namespace_), k.file));
    RETURN_IF_ERROR(ran("NamespaceTransformer", k.namespace_.empty() ? 0 : 1));
    RETURN_IF_ERROR(ApplyNamePrefixSuffix(resources, k.name_prefix, "", config->name_prefix,
                                          config->name_suffix));
    RETURN_IF_ERROR(ran("PrefixTransformer", k.name_prefix.empty() ? 0 : 1));
    RETURN_IF_ERROR(ApplyNamePrefixSuffix(resources, "", k.name_suffix, config->name_prefix,
                                          config->name_suffix));
    RETURN_IF_ERROR(ran("SuffixTransformer", k.name_suffix.empty() ? 0 : 1));
    for (const LabelEntry& label : k.labels) {
      std::vector<FieldSpec> specs = MergeFieldSpecs(label.fields, config->labels);
      if (label.include_selectors) {
        specs = MergeFieldSpecs(std::move(specs), config->common_labels);
      } else {
        if (label.include_templates) {
          specs = MergeFieldSpecs(std::move(specs), config->template_labels);
          // kustomize v5.5 labels volumeClaimTemplates along with templates.
          specs = MergeFieldSpecs(std::move(specs), config->volume_claim_template_labels);
        }
        specs = MergeFieldSpecs(std::move(specs), {FieldSpec{"", "", "", "metadata/labels", true}});
      }
      RETURN_IF_ERROR(ApplyStringMapEntries(resources, label.pairs, specs));
    }
    RETURN_IF_ERROR(ApplyStringMapEntries(resources, k.common_labels, config->common_labels));
    RETURN_IF_ERROR(ran("LabelTransformer",
                        k.labels.empty() && k.common_labels.empty() ? 0 : k.labels.size() + 1));
    RETURN_IF_ERROR(
        ApplyStringMapEntries(resources, k.common_annotations, config->common_annotations));
    RETURN_IF_ERROR(ran("AnnotationsTransformer", k.common_annotations.empty() ? 0 : 1));
    RETURN_IF_ERROR(ApplyPatchesJson6902(files_, k, resources));
    RETURN_IF_ERROR(ran("PatchJson6902Transformer", k.patches_json6902.size()));
    RETURN_IF_ERROR(Annotate(ApplyReplicas(resources, k.replicas, config->replicas), k.file));
    RETURN_IF_ERROR(ran("ReplicaCountTransformer", k.replicas.size()));
    RETURN_IF_ERROR(ApplyImages(resources, k.images, config->images));
    RETURN_IF_ERROR(ran("ImageTagTransformer", k.images.size()));
    RETURN_IF_ERROR(ApplyReplacements(files_, k, resources));
    RETURN_IF_ERROR(ran("ReplacementTransformer", k.replacements.empty() ? 0 : 1));
    if (!k.transformer_plugins.empty()) {
      ASSIGN_OR_RETURN(std::vector<Resource> configs, LoadPluginConfigs(k, k.transformer_plugins));
      for (const Resource& config : configs) {
        RETURN_IF_ERROR(RunBuiltinTransformer(files_, k, config.object, config.source, resources));
        Origin origin;
        if (track_origin_ && PluginOrigin(config.object, origin)) {
          AddTransformation(resources, origin);
        }
      }
    }
    if (!k.validator_plugins.empty()) {
      return absl::UnimplementedError(absl::StrCat(
          k.file,
          ": \"validators\" is not supported: kustomize has no builtin validators, and "
          "todoke does not run exec, container or Go plugins"));
    }
    return absl::OkStatus();
  }

  // The plugin configuration objects `entries` (of `generators:`/`transformers:`) name: an
  // entry that parses as YAML objects is inline; any other is a file or a kustomization folder,
  // read like a resource (a folder is built, so its own transformers shape the configurations).
  absl::StatusOr<std::vector<Resource>> LoadPluginConfigs(const Kustomization& k,
                                                          const std::vector<std::string>& entries) {
    Accumulator configs;
    std::vector<std::string> paths;
    for (const std::string& entry : entries) {
      absl::StatusOr<std::vector<YamlDocument>> documents = ParseYamlStream(entry, k.file);
      bool is_inline = documents.ok() && !documents->empty();
      if (is_inline) {
        bool any = false;
        for (const YamlDocument& document : *documents) {
          if (document.value.is_null()) continue;
          any = true;
          is_inline = is_inline && document.value.is_object();
        }
        is_inline = is_inline && any;
      }
      if (!is_inline) {
        paths.push_back(entry);
        continue;
      }
      ASSIGN_OR_RETURN(std::vector<Resource> objects, ParseResources(entry, k.file));
      for (Resource& object : objects) {
        if (track_origin_) SetFileOrigin(object.object, KustomizationOriginPath(k));
        RETURN_IF_ERROR(AppendResource(configs, std::move(object)));
      }
    }
    for (const std::string& path : paths) {
      RETURN_IF_ERROR(AccumulateResource(k, path, configs));
    }
    return std::move(configs.resources);
  }

 public:
  // The steps kustomize runs once, at the top: hash suffixes, name references, vars, local
  // config removal, ordering.
  absl::StatusOr<std::vector<Json>> Finish(Accumulator& acc, const Kustomization& top) {
    for (Resource& resource : acc.resources) {
      RETURN_IF_ERROR(CheckBudget(top.file));
      if (!resource.needs_hash) continue;
      std::string hash = KustomizeContentHash(resource.object);
      resource.StorePreviousId();
      resource.SetName(absl::StrCat(resource.Name(), "-", hash));
    }
    std::shared_ptr<const TransformerConfig> held =
        acc.config != nullptr ? acc.config : DefaultConfigPtr();
    const TransformerConfig* config = held.get();
    RETURN_IF_ERROR(CheckBudget(top.file));
    RETURN_IF_ERROR(FixNameReferences(acc.resources, config->name_reference));
    RETURN_IF_ERROR(CheckBudget(top.file));
    RETURN_IF_ERROR(ResolveVars(acc.resources, acc.vars, config->var_reference));
    RETURN_IF_ERROR(CheckBudget(top.file));
    std::vector<Resource> kept;
    kept.reserve(acc.resources.size());
    for (Resource& resource : acc.resources) {
      auto annotations = resource.Annotations();
      auto local = annotations.find("config.kubernetes.io/local-config");
      if (local != annotations.end() && local->second == "true") continue;
      kept.push_back(std::move(resource));
    }
    FinishBuildMetadata(kept, top.build_metadata);
    RETURN_IF_ERROR(SortResources(kept, top.sort_options, top.file));
    RETURN_IF_ERROR(CheckBudget(top.file));
    std::vector<Json> out;
    out.reserve(kept.size());
    for (Resource& resource : kept) {
      NormalizeAnnotations(resource.object);
      out.push_back(std::move(resource.object));
    }
    return out;
  }

 private:
  // kustomize's openapi.SetSchema: the schema is one setting for the whole build. The top
  // kustomization's `openapi:` decides; when it has none, the first kustomization entered that
  // has one sets it. A custom schema (path) is read relative to the kustomization.
  absl::Status ConfigureSchema(const Kustomization& k, bool top_level) {
    if (!top_level && schema_set_) return absl::OkStatus();
    auto path = k.openapi.find("path");
    auto version = k.openapi.find("version");
    if (path != k.openapi.end()) {
      if (version != k.openapi.end()) {
        return absl::InvalidArgumentError(absl::StrCat(
            k.file, ": openapi: builtin version and custom schema provided, cannot use both"));
      }
      ASSIGN_OR_RETURN(std::string text,
                       ReadFileUnder(files_, k.dir, path->second, "openapi schema", k.file));
      std::string source = JoinPath(k.dir, path->second);
      ASSIGN_OR_RETURN(Json document, ParseYaml(text, source));
      ASSIGN_OR_RETURN(std::shared_ptr<const MergeSchema> schema,
                       MergeSchema::Parse(document, source, resources_loaded_));
      schema_set_ = true;
      SetThreadMergeSchema(std::move(schema));
      return absl::OkStatus();
    }
    if (version != k.openapi.end()) {
      // kustomize v5.5.0 builds in the schema of Kubernetes v1.21.2 only, which the merge
      // table follows.
      if (version->second != "v1.21.2") {
        return absl::InvalidArgumentError(
            absl::StrCat(k.file, ": openapi: the specified OpenAPI version is not built in (\"",
                         version->second, "\"; kustomize has v1.21.2)"));
      }
      schema_set_ = true;
      SetThreadMergeSchema(nullptr);
    }
    return absl::OkStatus();
  }

  // The path of the kustomization file being built, relative to the top folder, as
  // kustomize writes it in origin annotations.
  std::string KustomizationOriginPath(const Kustomization& k) const {
    size_t slash = k.file.rfind('/');
    return JoinClean(origin_path_, slash == std::string::npos ? k.file : k.file.substr(slash + 1));
  }

  const FileSource& files_;
  const BuildOptions& options_;
  std::vector<std::string> stack_;
  // buildMetadata: origins are tracked when the top kustomization asks for any of it;
  // origin_path_ is the folder being built, relative to the top one ("" at the top).
  bool track_origin_ = false;
  std::string origin_path_;
  // Whether an `openapi:` field has chosen the schema of this build (see ConfigureSchema).
  bool schema_set_ = false;
  // Whether any resource has been read yet (kustomize then has its built-in schema in use).
  bool resources_loaded_ = false;
};

}  // namespace

bool IsKustomizationFile(absl::string_view name) { return IsKustomizationFileName(name); }

absl::StatusOr<std::string> FindKustomizationFile(const FileSource& files, absl::string_view dir) {
  std::vector<std::string> found;
  for (const char* name : kKustomizationFileNames) {
    std::string path = JoinPath(dir, name);
    if (files.IsFile(path)) {
      found.push_back(path);
      continue;
    }
    // A name that is there but may not be read (a symlink out of the repository) is this
    // folder's kustomization all the same: refuse it rather than render the folder as plain
    // files.
    absl::StatusOr<std::string> refused = files.ReadFile(path);
    if (!refused.ok() && !absl::IsNotFound(refused.status())) {
      return Annotate(refused.status(), "the folder's kustomization is refused");
    }
  }
  if (found.empty()) {
    return absl::NotFoundError(absl::StrCat(
        "unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in "
        "directory '",
        DisplayDir(dir), "'"));
  }
  if (found.size() > 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("found multiple kustomization files in directory '", DisplayDir(dir),
                     "': ", absl::StrJoin(found, ", "), " (keep exactly one)"));
  }
  return found[0];
}

absl::StatusOr<std::vector<Json>> Build(const FileSource& files, absl::string_view dir,
                                        const BuildOptions& options) {
  // The schema is per build: none until a kustomization's `openapi:` sets one.
  SetThreadMergeSchema(nullptr);
  struct ResetSchema {
    ~ResetSchema() { SetThreadMergeSchema(nullptr); }
  } reset_schema;
  Builder builder(files, options);
  Accumulator acc;
  Kustomization top;
  RETURN_IF_ERROR(builder.AccumulateDirectory(dir, acc, /*as_component=*/false,
                                              /*top_level=*/true, &top));
  ASSIGN_OR_RETURN(std::vector<Json> objects, builder.Finish(acc, top));
  // kustomize prints each object through JSON and go-yaml, which refuse some values.
  for (Json& object : objects) {
    ApplyKustomizePrintRoundTrip(object);
    if (absl::Status printable = CheckKustomizePrintable(object); !printable.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          GetString(object, "kind"), " ",
          GetString(object.value("metadata", Json::object()), "name"), ": ", printable.message()));
    }
  }
  return objects;
}

}  // namespace todoke::renderer::kustomize

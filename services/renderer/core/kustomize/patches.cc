#include "services/renderer/core/kustomize/patches.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/generators.h"
#include "services/renderer/core/kustomize/json_patch.h"
#include "services/renderer/core/kustomize/strategic_merge.h"

namespace todoke::renderer::kustomize {
namespace {

struct PatchText {
  std::string text;
  std::string source;  // for messages: file path or "<kustomization> inline patch"
};

absl::StatusOr<PatchText> LoadPatchText(const FileSource& files, const Kustomization& kustomization,
                                        const PatchEntry& entry) {
  if (entry.has_inline) {
    return PatchText{entry.inline_patch, absl::StrCat(kustomization.file, " (inline patch)")};
  }
  ASSIGN_OR_RETURN(std::string text, ReadFileUnder(files, kustomization.dir, entry.path, "patch",
                                                   kustomization.file));
  absl::StatusOr<std::string> resolved = ResolveRepoPath(kustomization.dir, entry.path);
  return PatchText{std::move(text), resolved.ok() ? *resolved : entry.path};
}

// The documents of a patch text (nulls dropped).
absl::StatusOr<std::vector<Json>> ParsePatchDocuments(const PatchText& patch) {
  // Annotation values are read as kustomize reads them (their source text), and nodes as kyaml
  // reads and prints them, as in resources.
  YamlLimits limits;
  limits.annotation_values_as_text = true;
  limits.kyaml_node_rules = true;
  ASSIGN_OR_RETURN(std::vector<YamlDocument> documents,
                   ParseYamlStream(patch.text, patch.source, limits));
  std::vector<Json> out;
  for (YamlDocument& document : documents) {
    if (document.value.is_null()) continue;
    out.push_back(std::move(document.value));
  }
  return out;
}

ResId PatchId(const Json& patch) {
  Resource holder;
  holder.object = patch;
  return holder.CurrentId();
}

// A patched object must still be one: a mapping whose metadata, when present, is a mapping
// (later transformers write metadata.name and friends into it). INVALID_ARGUMENT naming the
// patch and the object otherwise.
absl::Status CheckPatchedObject(const Resource& resource, const ResId& id,
                                absl::string_view source) {
  if (!resource.object.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": patching ", id.ToString(),
                                                   " leaves a ", resource.object.type_name(),
                                                   " instead of an object"));
  }
  auto metadata = resource.object.find("metadata");
  if (metadata != resource.object.end() && !metadata->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": patching ", id.ToString(),
                                                   " makes metadata a ", metadata->type_name(),
                                                   " instead of a mapping"));
  }
  return absl::OkStatus();
}

// Applies one strategic merge patch to resources[index]; erases it when deleted.
absl::Status ApplySmPatchTo(std::vector<Resource>& resources, size_t& index, const Json& patch,
                            const PatchEntry* options, absl::string_view source) {
  Resource& resource = resources[index];
  const ResId before = resource.CurrentId();
  std::string name = resource.Name();
  std::string ns = resource.Namespace();
  std::string kind = resource.Kind();
  bool allow_name = options != nullptr && options->allow_name_change;
  bool allow_kind = options != nullptr && options->allow_kind_change;
  if (allow_name || allow_kind) resource.StorePreviousId();
  absl::StatusOr<bool> kept = ApplyStrategicMergePatch(resource.object, patch);
  if (!kept.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": applying patch to ",
                                                   resource.CurrentId().ToString(), ": ",
                                                   kept.status().message()));
  }
  if (!*kept || resource.object.is_null() ||
      (resource.object.is_object() && resource.object.empty())) {
    resources.erase(resources.begin() + static_cast<std::ptrdiff_t>(index));
    --index;
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(CheckPatchedObject(resource, before, source));
  if (!allow_kind) resource.object["kind"] = kind;
  if (!allow_name) resource.SetName(name);
  resource.SetNamespace(ns);
  return absl::OkStatus();
}

// A strategic merge patch without a target: the one resource whose (any) id equals the
// patch's id.
absl::Status ApplyUntargetedSmPatch(std::vector<Resource>& resources, const Json& patch,
                                    const PatchEntry* options, absl::string_view source) {
  if (!patch.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": a strategic merge patch must be a mapping"));
  }
  ResId id = PatchId(patch);
  std::vector<size_t> matches;
  for (size_t i = 0; i < resources.size(); ++i) {
    if (resources[i].MatchesAnyId(id)) matches.push_back(i);
  }
  if (matches.size() != 1) {
    return absl::NotFoundError(
        absl::StrCat(source, ": no resource matches strategic merge patch \"", id.ToString(),
                     "\": ", matches.empty() ? "no matches" : "multiple matches", " for Id ",
                     id.ToString(), "; failed to find unique target for patch ", id.ToString()));
  }
  size_t index = matches[0];
  return ApplySmPatchTo(resources, index, patch, options, source);
}

absl::Status ApplyJsonPatchToSelected(std::vector<Resource>& resources, const Selector& target,
                                      const Json& operations, absl::string_view source) {
  RETURN_IF_ERROR(Annotate(ValidateJsonPatch(operations), source));
  ASSIGN_OR_RETURN(std::vector<size_t> selected, SelectResources(resources, target));
  for (size_t index : selected) {
    Resource& resource = resources[index];
    resource.StorePreviousId();
    const ResId before = resource.CurrentId();
    absl::Status status = ApplyJsonPatch(resource.object, operations);
    if (!status.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": applying JSON patch to ",
                                                     before.ToString(), ": ", status.message()));
    }
    RETURN_IF_ERROR(CheckPatchedObject(resource, before, source));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ApplyPatchesStrategicMerge(const FileSource& files, const Kustomization& kustomization,
                                        std::vector<Resource>& resources) {
  // All patches are loaded first: kustomize refuses a list whose files hold no patch at all.
  std::vector<std::pair<Json, std::string>> loaded;
  std::vector<std::string> paths;
  for (const std::string& item : kustomization.patches_strategic_merge) {
    PatchEntry entry;
    if (item.find('\n') != std::string::npos) {
      entry.inline_patch = item;
      entry.has_inline = true;
    } else {
      entry.path = item;
      paths.push_back(item);
    }
    ASSIGN_OR_RETURN(PatchText text, LoadPatchText(files, kustomization, entry));
    ASSIGN_OR_RETURN(std::vector<Json> patches, ParsePatchDocuments(text));
    for (Json& patch : patches) loaded.emplace_back(std::move(patch), text.source);
  }
  if (loaded.empty() && !kustomization.patches_strategic_merge.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        kustomization.file, ": patchesStrategicMerge: patch appears to be empty; files=[",
        absl::StrJoin(paths, " "), "]"));
  }
  for (const auto& [patch, source] : loaded) {
    RETURN_IF_ERROR(ApplyUntargetedSmPatch(resources, patch, nullptr, source));
  }
  return absl::OkStatus();
}

absl::Status ApplyPatches(const FileSource& files, const Kustomization& kustomization,
                          std::vector<Resource>& resources) {
  for (const PatchEntry& entry : kustomization.patches) {
    ASSIGN_OR_RETURN(PatchText text, LoadPatchText(files, kustomization, entry));
    ASSIGN_OR_RETURN(std::vector<Json> documents, ParsePatchDocuments(text));
    if (documents.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(text.source, ": empty patch"));
    }
    if (documents.size() == 1 && documents[0].is_array()) {
      if (!entry.target.has_value()) {
        return absl::InvalidArgumentError(
            absl::StrCat(text.source, ": must specify a target for JSON patch"));
      }
      RETURN_IF_ERROR(
          ApplyJsonPatchToSelected(resources, *entry.target, documents[0], text.source));
      continue;
    }
    for (const Json& document : documents) {
      if (!document.is_object()) {
        return absl::InvalidArgumentError(absl::StrCat(
            text.source, ": unable to parse as a strategic merge patch or a JSON patch"));
      }
    }
    if (entry.target.has_value()) {
      if (documents.size() > 1) {
        return absl::InvalidArgumentError(absl::StrCat(
            text.source,
            ": multiple strategic merge patches in one `patches` entry cannot have a target"));
      }
      ASSIGN_OR_RETURN(std::vector<size_t> selected, SelectResources(resources, *entry.target));
      // Apply in reverse so erasing a deleted resource keeps the other indices valid.
      for (auto it = selected.rbegin(); it != selected.rend(); ++it) {
        size_t index = *it;
        // kustomize gives the patch the target's apiVersion (its kind and name are restored
        // after the merge unless the options allow a change).
        Json patch = documents[0];
        auto api_version = resources[index].object.find("apiVersion");
        if (api_version != resources[index].object.end()) {
          patch["apiVersion"] = *api_version;
        } else {
          patch.erase("apiVersion");
        }
        RETURN_IF_ERROR(ApplySmPatchTo(resources, index, patch, &entry, text.source));
      }
      continue;
    }
    for (const Json& document : documents) {
      RETURN_IF_ERROR(ApplyUntargetedSmPatch(resources, document, &entry, text.source));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyPatchesJson6902(const FileSource& files, const Kustomization& kustomization,
                                  std::vector<Resource>& resources) {
  for (const PatchEntry& entry : kustomization.patches_json6902) {
    ASSIGN_OR_RETURN(PatchText text, LoadPatchText(files, kustomization, entry));
    ASSIGN_OR_RETURN(Json operations, ParseYaml(text.text, text.source));
    RETURN_IF_ERROR(ApplyJsonPatchToSelected(resources, *entry.target, operations, text.source));
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

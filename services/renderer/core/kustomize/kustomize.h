// Kustomize, natively: builds the kustomization in one folder of a repository into the objects
// `kubectl kustomize` prints, in the same order, without forking kustomize or parsing OpenAPI.
//
// Supported: resources (files, folders, nested kustomizations), bases, components, namespace,
// namePrefix/nameSuffix, labels, commonLabels, commonAnnotations, patches (strategic merge and
// JSON 6902, with targets), patchesStrategicMerge, patchesJson6902, images, replicas,
// configMapGenerator/secretGenerator with generatorOptions and content hash suffixes, name
// reference rewriting, replacements, vars, configurations (field spec files), crds, openapi
// (custom schemas for strategic merges), buildMetadata, sortOptions, and kustomize's builtin
// plugins configured in `generators:`/`transformers:` (see plugins.h). The reference is
// kustomize v5.5.0 (api v0.18.0), checked case by case against `kubectl kustomize`.
// Refused with a clear message: remote resources (URLs, git repositories), Helm charts, exec,
// container and Go plugins, validators, anything outside the repository root.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZE_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/budget.h"
#include "common/object.h"
#include "services/renderer/core/file_source.h"

namespace todoke::renderer::kustomize {

struct BuildOptions {
  // Deepest nesting of kustomizations (resources/components) followed.
  int max_depth = 64;
  // Most objects a build may produce.
  size_t max_objects = 100000;
  // The render's budget: checked for cancellation per resource file, per object accumulated
  // and between steps (the build then fails with its DEADLINE_EXCEEDED or CANCELLED); its
  // memory is charged by the YAML parser (see common/budget.h). Null: never stopped.
  todoke::Budget* budget = nullptr;
};

// Builds the kustomization in `dir` (relative to the repository root of `files`; "" is the
// root) and returns its objects in kustomize's output order (legacy order unless the
// kustomization's sortOptions say otherwise). Errors name the kustomization or resource file
// (YAML errors with line and column): INVALID_ARGUMENT for malformed input, duplicate ids,
// cycles and paths escaping the repository or the kustomization root; NOT_FOUND for a missing
// kustomization, resource or patch target; UNIMPLEMENTED for remote resources, Helm charts and
// plugins. Thread-compatible: concurrent builds over a thread-safe FileSource are fine.
absl::StatusOr<std::vector<todoke::Json>> Build(const todoke::renderer::FileSource& files,
                                                absl::string_view dir,
                                                const BuildOptions& options = {});

// True for the file names kustomize recognises as a kustomization: "kustomization.yaml",
// "kustomization.yml" and "Kustomization".
bool IsKustomizationFile(absl::string_view name);

// The path of the kustomization file in `dir`. NOT_FOUND if there is none, INVALID_ARGUMENT
// if there is more than one.
absl::StatusOr<std::string> FindKustomizationFile(const todoke::renderer::FileSource& files,
                                                  absl::string_view dir);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_KUSTOMIZE_H_

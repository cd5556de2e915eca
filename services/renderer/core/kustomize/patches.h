// The patch transformers: patchesStrategicMerge, patches (strategic merge or JSON 6902, with
// or without a target selector) and patchesJson6902.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PATCHES_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PATCHES_H_

#include <vector>

#include "absl/status/status.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Applies `patchesStrategicMerge`. Each patch must match exactly one resource by id
// (current or previous), otherwise NOT_FOUND/INVALID_ARGUMENT as kustomize reports it.
absl::Status ApplyPatchesStrategicMerge(const FileSource& files, const Kustomization& kustomization,
                                        std::vector<Resource>& resources);

// Applies `patches`. A target that selects nothing is not an error (as in kustomize); a
// strategic merge patch without a target must match one resource.
absl::Status ApplyPatches(const FileSource& files, const Kustomization& kustomization,
                          std::vector<Resource>& resources);

// Applies `patchesJson6902`.
absl::Status ApplyPatchesJson6902(const FileSource& files, const Kustomization& kustomization,
                                  std::vector<Resource>& resources);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PATCHES_H_

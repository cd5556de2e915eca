// configMapGenerator / secretGenerator: literals, files and env files turned into ConfigMaps
// and Secrets, and their absorption into the resources built so far (behavior create, merge
// or replace).
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_GENERATORS_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_GENERATORS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Generates the ConfigMaps/Secrets `kustomization` declares, reading files relative to its
// directory (never outside it). Errors name the kustomization file and the generator.
absl::StatusOr<std::vector<Resource>> RunGenerators(const FileSource& files,
                                                    const Kustomization& kustomization);

// Adds `generated` to `resources`: a new id is appended (create); behavior merge/replace
// updates the existing resource with the same id in place. INVALID_ARGUMENT when the id exists
// with behavior create, or is missing with merge/replace.
absl::Status AbsorbGenerated(std::vector<Resource>& resources, std::vector<Resource> generated);

// Reads a file relative to `dir` that must lie in or below `dir`. `what` names the use in
// messages ("patch", "configMapGenerator file", ...).
absl::StatusOr<std::string> ReadFileUnder(const FileSource& files, absl::string_view dir,
                                          absl::string_view relative, absl::string_view what,
                                          absl::string_view kustomization_file);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_GENERATORS_H_

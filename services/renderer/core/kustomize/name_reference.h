// Name references: after prefixes, suffixes, namespaces and hash suffixes renamed objects,
// the fields that refer to them (a Deployment's configMapRef, a RoleBinding's roleRef and
// subjects, ...) are rewritten to the new names, as kustomize's nameref transformer does.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_NAME_REFERENCE_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_NAME_REFERENCE_H_

#include <vector>

#include "absl/status/status.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Rewrites references in `resources` following `specs`. INVALID_ARGUMENT when a reference is
// ambiguous (several renamed candidates with different names).
absl::Status FixNameReferences(std::vector<Resource>& resources,
                               const std::vector<NameReferenceSpec>& specs);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_NAME_REFERENCE_H_

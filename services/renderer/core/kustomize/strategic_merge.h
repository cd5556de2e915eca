// Strategic merge patches as kustomize (kyaml merge2) applies them: maps merge recursively,
// `null` deletes a field, lists with a Kubernetes merge key (containers by name, ports by
// containerPort, env by name, volumes by name, ...) merge element by element with the patch's
// elements first, other lists are replaced, and the `$patch` directives (delete, replace,
// merge) are honoured. The merge keys come from a compiled table of the built-in API types;
// lists of custom resources are replaced, as kustomize does without a schema.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_

#include "absl/status/statusor.h"
#include "common/object.h"

namespace todoke::renderer::kustomize {

// Applies `patch` to `target` in place. Returns false if the patch deletes the whole object
// (`$patch: delete` at the top), true otherwise. INVALID_ARGUMENT for a malformed directive.
absl::StatusOr<bool> ApplyStrategicMergePatch(Json& target, const Json& patch);

// Removes the `$patch`, `$retainKeys`, `$setElementOrder/...` and `$deleteFromPrimitiveList/...`
// directives from a value (used when a patch adds a value the target lacks).
void StripPatchDirectives(Json& value);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_

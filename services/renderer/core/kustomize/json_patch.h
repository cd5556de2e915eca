// JSON patches (RFC 6902) as kustomize's patchesJson6902 / `patches` apply them, with RFC 6901
// pointers: add, remove, replace, move, copy, test.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_JSON_PATCH_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_JSON_PATCH_H_

#include "absl/status/status.h"
#include "common/object.h"

namespace todoke::renderer::kustomize {

// Checks that `operations` is a list of well-formed operations. INVALID_ARGUMENT otherwise.
absl::Status ValidateJsonPatch(const Json& operations);

// Applies `operations` to `target` in place, in order. On error `target` may be partly
// modified; the message names the failing operation and path.
absl::Status ApplyJsonPatch(Json& target, const Json& operations);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_JSON_PATCH_H_

// Output order: kustomize's legacy order by default (kinds in a fixed dependency order, then
// by group/version/kind, namespace and name), or the input order ("fifo").
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Sorts `resources` as the kustomization's `sortOptions` (null for the default) asks.
// INVALID_ARGUMENT for malformed sortOptions.
absl::Status SortResources(std::vector<Resource>& resources, const Json& sort_options,
                           absl::string_view kustomization_file);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_

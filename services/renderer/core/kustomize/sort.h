// Output order: kustomize's legacy order by default (kinds in a fixed dependency order, then
// by group/version/kind, namespace and name), or the input order ("fifo").
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_

#include <string>
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

// The rank of `kind` in kustomize's default legacy order (kyaml's orderFirst and orderLast,
// which also order field specs by gvk, as kyaml's Gvk.IsLessThan does): negative for the kinds
// sorted first (Namespace lowest), 1 and 2 for the webhook configurations sorted last, 0 for
// any other kind.
int LegacyKindRank(absl::string_view kind);

// The text kustomize compares two gvks of the same rank by: "group_version_kind", with "~G",
// "~V", "~K" standing for empty parts.
std::string GvkSortString(absl::string_view group, absl::string_view version,
                          absl::string_view kind);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_SORT_H_

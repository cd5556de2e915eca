#include "services/renderer/core/kustomize/sort.h"

#include <algorithm>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

const std::vector<std::string>& DefaultOrderFirst() {
  static const auto* const kinds = new std::vector<std::string>{
      "Namespace",
      "ResourceQuota",
      "StorageClass",
      "CustomResourceDefinition",
      "ServiceAccount",
      "PodSecurityPolicy",
      "Role",
      "ClusterRole",
      "RoleBinding",
      "ClusterRoleBinding",
      "ConfigMap",
      "Secret",
      "Endpoints",
      "Service",
      "LimitRange",
      "PriorityClass",
      "PersistentVolume",
      "PersistentVolumeClaim",
      "Deployment",
      "StatefulSet",
      "CronJob",
      "PodDisruptionBudget",
  };
  return *kinds;
}

const std::vector<std::string>& DefaultOrderLast() {
  static const auto* const kinds = new std::vector<std::string>{
      "MutatingWebhookConfiguration",
      "ValidatingWebhookConfiguration",
  };
  return *kinds;
}

// kustomize's tie breaker within one gvk: "namespace|name" with "~X"/"~N" for empty parts.
std::string IdSortString(const ResId& id) {
  return absl::StrCat(id.ns.empty() ? "~X" : id.ns, "|", id.name.empty() ? "~N" : id.name);
}

absl::StatusOr<std::vector<std::string>> StringList(const Json& value, absl::string_view what,
                                                    absl::string_view file) {
  std::vector<std::string> out;
  if (value.is_null()) return out;
  if (!value.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(file, ": sortOptions ", what, " must be a list"));
  }
  for (const Json& item : value) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(file, ": sortOptions ", what, " must be a list of kinds"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

}  // namespace

int LegacyKindRank(absl::string_view kind) {
  const std::vector<std::string>& first = DefaultOrderFirst();
  for (size_t i = 0; i < first.size(); ++i) {
    if (first[i] == kind) return -static_cast<int>(first.size()) + static_cast<int>(i);
  }
  const std::vector<std::string>& last = DefaultOrderLast();
  for (size_t i = 0; i < last.size(); ++i) {
    if (last[i] == kind) return 1 + static_cast<int>(i);
  }
  return 0;
}

std::string GvkSortString(absl::string_view group, absl::string_view version,
                          absl::string_view kind) {
  return absl::StrCat(group.empty() ? "~G" : group, "_", version.empty() ? "~V" : version, "_",
                      kind.empty() ? "~K" : kind);
}

absl::Status SortResources(std::vector<Resource>& resources, const Json& sort_options,
                           absl::string_view kustomization_file) {
  std::vector<std::string> first = DefaultOrderFirst();
  std::vector<std::string> last = DefaultOrderLast();
  if (!sort_options.is_null()) {
    if (!sort_options.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kustomization_file, ": sortOptions must be a mapping"));
    }
    std::string order = GetString(sort_options, "order");
    if (order == "fifo") {
      if (sort_options.contains("legacySortOptions")) {
        return absl::InvalidArgumentError(
            absl::StrCat(kustomization_file,
                         ": the field 'sortOptions.legacySortOptions' is set but the "
                         "selected sort order is 'fifo', not 'legacy'"));
      }
      return absl::OkStatus();
    }
    if (order != "legacy") {
      return absl::InvalidArgumentError(absl::StrCat(
          kustomization_file, ": the field 'sortOptions.order' must be one of [fifo, legacy]"));
    }
    auto legacy = sort_options.find("legacySortOptions");
    if (legacy != sort_options.end() && legacy->is_object()) {
      auto order_first = legacy->find("orderFirst");
      auto order_last = legacy->find("orderLast");
      if (order_first != legacy->end()) {
        ASSIGN_OR_RETURN(first, StringList(*order_first, "orderFirst", kustomization_file));
      }
      if (order_last != legacy->end()) {
        ASSIGN_OR_RETURN(last, StringList(*order_last, "orderLast", kustomization_file));
      }
    }
  }
  std::map<std::string, int, std::less<>> rank;
  for (size_t i = 0; i < first.size(); ++i) {
    rank[first[i]] = -static_cast<int>(first.size()) + static_cast<int>(i);
  }
  for (size_t i = 0; i < last.size(); ++i) rank[last[i]] = 1 + static_cast<int>(i);

  struct Keyed {
    int rank;
    std::string gvk;
    std::string id;
    bool is_namespace;
    bool core_group;
    size_t index;
  };
  std::vector<Keyed> keys;
  keys.reserve(resources.size());
  for (size_t i = 0; i < resources.size(); ++i) {
    ResId id = resources[i].CurrentId();
    auto it = rank.find(id.kind);
    keys.push_back(Keyed{it == rank.end() ? 0 : it->second,
                         GvkSortString(id.group, id.version, id.kind), IdSortString(id),
                         id.kind == "Namespace", id.group.empty(), i});
  }
  std::stable_sort(keys.begin(), keys.end(), [](const Keyed& a, const Keyed& b) {
    if (a.gvk != b.gvk) {
      if (a.rank != b.rank) return a.rank < b.rank;
      if (a.is_namespace && b.is_namespace && (a.core_group || b.core_group)) {
        return a.gvk > b.gvk;
      }
      return a.gvk < b.gvk;
    }
    return a.id < b.id;
  });
  std::vector<Resource> sorted;
  sorted.reserve(resources.size());
  for (const Keyed& key : keys) sorted.push_back(std::move(resources[key.index]));
  resources = std::move(sorted);
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

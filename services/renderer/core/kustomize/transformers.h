// kustomize's built-in field transformers: namespace, name prefix/suffix, labels,
// annotations, images and replicas, each driven by its field specs.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_TRANSFORMERS_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_TRANSFORMERS_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Sets `ns` on every namespaced resource (metadata.namespace), renames v1 Namespaces, sets
// the namespace of RoleBinding/ClusterRoleBinding subjects named "default", and the other
// namespace field specs.
// The NamespaceTransformer's switches: `unset_only` sets only empty or missing fields;
// `role_binding_subjects` is "" or "defaultOnly" (subjects named "default"),
// "allServiceAccounts" (every ServiceAccount subject) or "none".
struct NamespaceOptions {
  bool unset_only = false;
  std::string role_binding_subjects;
};

absl::Status ApplyNamespace(std::vector<Resource>& resources, const std::string& ns,
                            const std::vector<FieldSpec>& specs,
                            const NamespaceOptions& options = {});

// Adds `prefix`/`suffix` to names (CRDs, APIServices and Namespaces are skipped), recording
// previous ids for name references.
absl::Status ApplyNamePrefixSuffix(std::vector<Resource>& resources, const std::string& prefix,
                                   const std::string& suffix,
                                   const std::vector<FieldSpec>& prefix_specs,
                                   const std::vector<FieldSpec>& suffix_specs);

// Sets the given string map entries at every field spec (labels or annotations).
absl::Status ApplyStringMapEntries(std::vector<Resource>& resources,
                                   const std::map<std::string, std::string>& entries,
                                   const std::vector<FieldSpec>& specs);

// Updates container images (field specs plus every containers/initContainers list).
absl::Status ApplyImages(std::vector<Resource>& resources, const std::vector<ImageEntry>& images,
                         const std::vector<FieldSpec>& specs);

// Sets replica counts of the resources named in `replicas`.
absl::Status ApplyReplicas(std::vector<Resource>& resources,
                           const std::vector<ReplicaEntry>& replicas,
                           const std::vector<FieldSpec>& specs);

// Field specs in `base` plus those in `extra` not present yet.
std::vector<FieldSpec> MergeFieldSpecs(std::vector<FieldSpec> base,
                                       const std::vector<FieldSpec>& extra);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_TRANSFORMERS_H_

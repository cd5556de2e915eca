// The resources kustomize moves through a build: an object plus the bookkeeping kustomize
// keeps beside it (previous ids for name references, prefixes/suffixes applied, whether a
// content hash suffix is due), and the ids used to find, select and order them.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_RESOURCE_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_RESOURCE_H_

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::renderer::kustomize {

// Group/version/kind/name/namespace of a resource as kustomize identifies it. `ns` is the
// namespace as written ("" when unset).
struct ResId {
  std::string group;
  std::string version;
  std::string kind;
  std::string name;
  std::string ns;

  // kustomize's form, used in messages: "Deployment.v1.apps/web.prod" with "[noGrp]" and
  // "[noNs]" for empty parts.
  std::string ToString() const;
  // "group/version" or "version".
  std::string ApiVersion() const;
};

// True if kustomize treats the object as cluster-scoped: its apiVersion and kind are in the
// table kustomize precomputed from its built-in Kubernetes schema (v1.21.2); custom kinds and
// kinds the table lacks are namespaced.
bool IsClusterScoped(const ResId& id);

// The namespace kustomize compares ids with: "" (cluster-scoped marker "~X" never collides),
// "default" for namespaced objects without a namespace.
std::string EffectiveNamespace(const ResId& id);

// True if both ids name the same object: same group, version, kind, name and effective
// namespace.
bool SameId(const ResId& a, const ResId& b);

// A gvk selector: empty fields match anything.
bool GvkSelected(const ResId& id, absl::string_view group, absl::string_view version,
                 absl::string_view kind);

// One object during a build.
struct Resource {
  Json object;
  // Ids this resource had before renames (oldest first), namespaces stored effective.
  std::vector<ResId> previous_ids;
  std::vector<std::string> name_prefixes;
  std::vector<std::string> name_suffixes;
  // Generated ConfigMap/Secret whose name gets the content hash suffix at the end.
  bool needs_hash = false;
  // Generator behavior while the resource is absorbed ("create", "merge", "replace").
  std::string generator_behavior;
  // Where it was read from, for messages.
  std::string source;
  // Vars bound to this resource (kustomize binds a var to the one resource its objref names
  // when the kustomization declaring it is accumulated).
  std::vector<std::string> ref_var_names;

  ResId CurrentId() const;
  // The id it was loaded with.
  ResId OriginalId() const;
  // Records the current id as a previous id (before a rename).
  void StorePreviousId();
  // True if any previous id or the current id equals `id`.
  bool MatchesAnyId(const ResId& id) const;

  std::string Name() const;
  std::string Namespace() const;
  std::string Kind() const;
  void SetName(absl::string_view name);
  void SetNamespace(absl::string_view ns);
  // metadata.labels / metadata.annotations as strings (non-string values skipped).
  std::map<std::string, std::string> Labels() const;
  std::map<std::string, std::string> Annotations() const;
};

// Reads a string field; "" when absent or not a string.
std::string GetString(const Json& object, absl::string_view key);

// Target selector used by patches and replacements (kustomize's types.Selector). Name and
// namespace are anchored regular expressions; label/annotation selectors use the
// Kubernetes label selector syntax.
struct Selector {
  std::string group;
  std::string version;
  std::string kind;
  std::string name;
  std::string ns;
  std::string label_selector;
  std::string annotation_selector;
};

// Parses a selector mapping (target of a patch). INVALID_ARGUMENT for non-string fields.
absl::StatusOr<Selector> ParseSelector(const Json& value, absl::string_view context);

// Indices of the resources `selector` selects (by current or original name/namespace,
// gvk, labels and annotations), in order. INVALID_ARGUMENT for a malformed regex/selector.
absl::StatusOr<std::vector<size_t>> SelectResources(const std::vector<Resource>& resources,
                                                    const Selector& selector);

// Evaluates a Kubernetes label selector string ("a=b,c!=d,e in (x,y),!f,g") on `labels`.
absl::StatusOr<bool> MatchesLabelSelector(absl::string_view selector,
                                          const std::map<std::string, std::string>& labels);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_RESOURCE_H_

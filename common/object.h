// The Kubernetes object model shared by every stage: object identity (ObjectKey), the
// scope of built-in kinds, and canonical JSON.
#ifndef TODOKE_COMMON_OBJECT_H_
#define TODOKE_COMMON_OBJECT_H_

#include <string>
#include <string_view>
#include <tuple>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "nlohmann/json.hpp"

namespace todoke {

using Json = nlohmann::json;

// Identity of a Kubernetes object. `group` is "" for the core group; `ns` is "" for
// cluster-scoped objects (and for namespaced objects that rely on a default namespace).
struct ObjectKey {
  std::string group;
  std::string version;
  std::string kind;
  std::string ns;
  std::string name;

  // "group/version" or "version" for the core group.
  std::string ApiVersion() const;
  // Human form used in every message: "apps/Deployment/guestbook/frontend" style:
  // "<group>/<kind>/<namespace>/<name>" with empty parts dropped, e.g. "Deployment.apps web -n
  // prod".
  std::string ToString() const;

  // Identity for pairing desired and live objects ignores the version: the same object is
  // served under several versions.
  friend bool operator<(const ObjectKey& a, const ObjectKey& b) {
    return std::tie(a.group, a.kind, a.ns, a.name) < std::tie(b.group, b.kind, b.ns, b.name);
  }
  friend bool operator==(const ObjectKey& a, const ObjectKey& b) {
    return std::tie(a.group, a.kind, a.ns, a.name) == std::tie(b.group, b.kind, b.ns, b.name);
  }
  template <typename H>
  friend H AbslHashValue(H h, const ObjectKey& k) {
    return H::combine(std::move(h), k.group, k.kind, k.ns, k.name);
  }
};

// Splits "apps/v1" into {"apps","v1"} and "v1" into {"","v1"}.
std::pair<std::string, std::string> SplitApiVersion(absl::string_view api_version);

// The identity fields of an object as found in it: empty when absent or not strings.
struct ObjectKeyFields {
  absl::string_view api_version;
  absl::string_view kind;
  absl::string_view name;
  absl::string_view generate_name;
  absl::string_view ns;
};

// The key made of `fields` (generateName stands in for an empty name). INVALID_ARGUMENT naming
// what is missing: apiVersion, kind or metadata.name.
absl::StatusOr<ObjectKey> KeyFromFields(const ObjectKeyFields& fields);

// The key of `object`. INVALID_ARGUMENT (naming what is missing) if it is not a JSON object or
// lacks apiVersion, kind or metadata.name (metadata.generateName is accepted in place of name).
absl::StatusOr<ObjectKey> KeyOf(const Json& object);

// True if the built-in kind is cluster-scoped (Namespace, Node, ClusterRole, CRD, ...).
// Unknown kinds (custom resources) return false: callers with discovery data should prefer it.
bool IsClusterScopedKind(absl::string_view group, absl::string_view kind);

// True if `object` looks like a Kubernetes object: a JSON object with string apiVersion and
// kind, and an object metadata.
bool LooksLikeKubernetesObject(const Json& object);

// "Kind name" of `object` for messages, as far as it has them: "ConfigMap app", "ConfigMap"
// without a name, "object" without a kind. Never fails.
std::string KindAndName(const Json& object);

// Canonical JSON: keys sorted (nlohmann's default), no whitespace. Deterministic for equal values.
std::string CanonicalJson(const Json& object);

}  // namespace todoke

#endif  // TODOKE_COMMON_OBJECT_H_

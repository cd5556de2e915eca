#include "common/object.h"

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"

namespace todoke {

std::string ObjectKey::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

std::string ObjectKey::ToString() const {
  std::string out = kind;
  if (!group.empty()) absl::StrAppend(&out, ".", group);
  absl::StrAppend(&out, " ", name.empty() ? "<unnamed>" : name);
  if (!ns.empty()) absl::StrAppend(&out, " -n ", ns);
  return out;
}

std::pair<std::string, std::string> SplitApiVersion(absl::string_view api_version) {
  const size_t slash = api_version.rfind('/');
  if (slash == absl::string_view::npos) return {"", std::string(api_version)};
  return {std::string(api_version.substr(0, slash)), std::string(api_version.substr(slash + 1))};
}

absl::StatusOr<ObjectKey> KeyFromFields(const ObjectKeyFields& fields) {
  if (fields.api_version.empty()) return absl::InvalidArgumentError("object has no apiVersion");
  if (fields.kind.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("object of apiVersion ", fields.api_version, " has no kind"));
  }
  ObjectKey key;
  std::tie(key.group, key.version) = SplitApiVersion(fields.api_version);
  key.kind = std::string(fields.kind);
  key.name = std::string(fields.name.empty() ? fields.generate_name : fields.name);
  key.ns = std::string(fields.ns);
  if (key.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(key.kind, " object has no metadata.name"));
  }
  return key;
}

absl::StatusOr<ObjectKey> KeyOf(const Json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("object is not a mapping");
  auto string_at = [](const Json& parent, const char* field) -> absl::string_view {
    auto it = parent.find(field);
    if (it == parent.end() || !it->is_string()) return {};
    return it->get_ref<const std::string&>();
  };
  ObjectKeyFields fields;
  fields.api_version = string_at(object, "apiVersion");
  fields.kind = string_at(object, "kind");
  auto meta = object.find("metadata");
  if (meta != object.end() && meta->is_object()) {
    fields.name = string_at(*meta, "name");
    fields.generate_name = string_at(*meta, "generateName");
    fields.ns = string_at(*meta, "namespace");
  }
  return KeyFromFields(fields);
}

bool IsClusterScopedKind(absl::string_view group, absl::string_view kind) {
  // Cluster-scoped kinds of the built-in API groups (Kubernetes 1.34).
  static const auto* kinds = new absl::flat_hash_set<std::string>{
      "/Namespace",
      "/Node",
      "/PersistentVolume",
      "/ComponentStatus",
      "rbac.authorization.k8s.io/ClusterRole",
      "rbac.authorization.k8s.io/ClusterRoleBinding",
      "apiextensions.k8s.io/CustomResourceDefinition",
      "apiregistration.k8s.io/APIService",
      "storage.k8s.io/StorageClass",
      "storage.k8s.io/CSIDriver",
      "storage.k8s.io/CSINode",
      "storage.k8s.io/VolumeAttachment",
      "storage.k8s.io/VolumeAttributesClass",
      "scheduling.k8s.io/PriorityClass",
      "node.k8s.io/RuntimeClass",
      "admissionregistration.k8s.io/MutatingWebhookConfiguration",
      "admissionregistration.k8s.io/ValidatingWebhookConfiguration",
      "admissionregistration.k8s.io/ValidatingAdmissionPolicy",
      "admissionregistration.k8s.io/ValidatingAdmissionPolicyBinding",
      "certificates.k8s.io/CertificateSigningRequest",
      "certificates.k8s.io/ClusterTrustBundle",
      "flowcontrol.apiserver.k8s.io/FlowSchema",
      "flowcontrol.apiserver.k8s.io/PriorityLevelConfiguration",
      "networking.k8s.io/IngressClass",
      "networking.k8s.io/IPAddress",
      "networking.k8s.io/ServiceCIDR",
      "policy/PodSecurityPolicy",
      "resource.k8s.io/DeviceClass",
      "resource.k8s.io/ResourceSlice",
      "authentication.k8s.io/TokenReview",
      "authentication.k8s.io/SelfSubjectReview",
      "authorization.k8s.io/SubjectAccessReview",
      "authorization.k8s.io/SelfSubjectAccessReview",
      "authorization.k8s.io/SelfSubjectRulesReview"};
  return kinds->contains(absl::StrCat(group, "/", kind));
}

bool LooksLikeKubernetesObject(const Json& object) {
  if (!object.is_object()) return false;
  auto api = object.find("apiVersion");
  auto kind = object.find("kind");
  auto meta = object.find("metadata");
  return api != object.end() && api->is_string() && kind != object.end() && kind->is_string() &&
         meta != object.end() && meta->is_object();
}

std::string CanonicalJson(const Json& object) {
  // Invalid UTF-8 is replaced rather than thrown on: dump() must not throw across our boundary.
  return object.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::string KindAndName(const Json& object) {
  std::string kind = "object", name;
  if (object.is_object()) {
    if (auto it = object.find("kind"); it != object.end() && it->is_string()) kind = *it;
    if (auto meta = object.find("metadata"); meta != object.end() && meta->is_object()) {
      if (auto it = meta->find("name"); it != meta->end() && it->is_string()) name = *it;
    }
  }
  return name.empty() ? kind : absl::StrCat(kind, " ", name);
}

}  // namespace todoke

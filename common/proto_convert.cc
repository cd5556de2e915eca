#include "common/proto_convert.h"

#include "absl/strings/str_cat.h"
#include "common/json_parse.h"

namespace todoke {

types::v1::ObjectKey ToProto(const ObjectKey& key) {
  types::v1::ObjectKey out;
  out.set_group(key.group);
  out.set_version(key.version);
  out.set_kind(key.kind);
  out.set_namespace_(key.ns);
  out.set_name(key.name);
  return out;
}

ObjectKey FromProto(const types::v1::ObjectKey& key) {
  return ObjectKey{key.group(), key.version(), key.kind(), key.namespace_(), key.name()};
}

absl::StatusOr<types::v1::KubeObject> ToKubeObject(const Json& object) {
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return key.status();
  types::v1::KubeObject out;
  *out.mutable_key() = ToProto(*key);
  out.set_json(CanonicalJson(object));
  return out;
}

absl::StatusOr<Json> ParseKubeObject(const types::v1::KubeObject& object) {
  absl::StatusOr<Json> parsed = ParseJson(object.json());
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat(FromProto(object.key()).ToString(),
                     ": object is not valid JSON: ", parsed.status().message()));
  }
  return parsed;
}

}  // namespace todoke

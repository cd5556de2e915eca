// Conversions between the shared proto types (todoke.types.v1) and the core types of common/.
#ifndef TODOKE_COMMON_PROTO_CONVERT_H_
#define TODOKE_COMMON_PROTO_CONVERT_H_

#include "absl/status/statusor.h"
#include "common/object.h"
#include "todoke/types/v1/types.pb.h"

namespace todoke {

types::v1::ObjectKey ToProto(const ObjectKey& key);
ObjectKey FromProto(const types::v1::ObjectKey& key);

// A KubeObject for `object`: its key (KeyOf) and canonical JSON. INVALID_ARGUMENT if the object
// has no key.
absl::StatusOr<types::v1::KubeObject> ToKubeObject(const Json& object);

// Parses a KubeObject's JSON. INVALID_ARGUMENT naming the object's key if it is not valid JSON.
absl::StatusOr<Json> ParseKubeObject(const types::v1::KubeObject& object);

}  // namespace todoke

#endif  // TODOKE_COMMON_PROTO_CONVERT_H_

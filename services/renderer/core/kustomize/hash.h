// The content hash kustomize appends to generated ConfigMap/Secret names ("-5g2b7m9hkt"):
// SHA-256 of a Go-encoding/json rendering of the object's kind, name and data, first ten hex
// digits with some letters substituted.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_HASH_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_HASH_H_

#include <string>

#include "common/object.h"

namespace todoke::renderer::kustomize {

// `value` encoded as Go's json.Marshal would: keys sorted, no spaces, '<' '>' '&' U+2028 U+2029
// escaped as \u00XX, invalid UTF-8 replaced by U+FFFD.
std::string GoJsonMarshal(const Json& value);

// The hash suffix (without the dash) kustomize gives `object` (a ConfigMap or Secret; other
// kinds hash their whole JSON).
std::string KustomizeContentHash(const Json& object);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_HASH_H_

// RFC 6901 JSON Pointers: the one tokenizer shared by the differ (ignoreDifferences pointers)
// and the renderer's kustomize JSON 6902 patches, and its inverse for one token.
#ifndef TODOKE_COMMON_JSON_POINTER_H_
#define TODOKE_COMMON_JSON_POINTER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace todoke {

// What a '~' not followed by '0' or '1' means.
enum class JsonPointerEscapes {
  kStrict,   // RFC 6901: an error.
  kLenient,  // kept as a literal '~', as kustomize's Go json-patch reads patch paths.
};

// Splits `pointer` into unescaped reference tokens: "/a~1b/0" -> {"a/b", "0"}, "" -> {} (the
// whole document), "/" -> {""}. "~1" decodes to '/' and "~0" to '~', left to right, so "~01" is
// "~1". INVALID_ARGUMENT, quoting the pointer, if it is neither empty nor starts with '/', or
// (kStrict) holds a '~' not followed by '0' or '1'.
absl::StatusOr<std::vector<std::string>> ParseJsonPointer(
    absl::string_view pointer, JsonPointerEscapes escapes = JsonPointerEscapes::kStrict);

// Appends "/" + `token` escaped per RFC 6901 ('~' -> "~0", '/' -> "~1") to `pointer`; the
// inverse of one step of ParseJsonPointer.
void AppendPointerToken(std::string& pointer, absl::string_view token);

}  // namespace todoke

#endif  // TODOKE_COMMON_JSON_POINTER_H_

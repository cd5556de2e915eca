// A JSON reader that builds nlohmann::json several times faster than nlohmann's own parser:
// one pass over the text, no per-character callbacks, keys that arrive in sorted order (as in
// canonical JSON, which todoke's services exchange) appended without a tree search. It gives
// exactly the values nlohmann::json::parse gives: integers without sign as unsigned, negative
// as signed, out-of-range or fractional numbers as double, later duplicate keys winning.
#ifndef TODOKE_COMMON_JSON_PARSE_H_
#define TODOKE_COMMON_JSON_PARSE_H_

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke {

// Parses one JSON value (surrounding whitespace and a leading UTF-8 byte order mark allowed, as
// nlohmann allows them). INVALID_ARGUMENT naming the byte offset for malformed JSON, invalid
// UTF-8, or nesting deeper than 512 (where nlohmann has no limit: a bound keeps the stack safe).
absl::StatusOr<Json> ParseJson(absl::string_view text);

}  // namespace todoke

#endif  // TODOKE_COMMON_JSON_PARSE_H_

// Fuzz target "json": the two JSON readers (common/json_parse.h, common/json_tree.h) against
// each other and against nlohmann::json::parse.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "common/json_tree.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzJson(absl::string_view data) {
  const std::string_view text(data.data(), data.size());
  absl::StatusOr<Json> value = ParseJson(data);
  JsonArena arena;
  absl::StatusOr<const JsonNode*> node = ParseJsonNode(text, arena);
  JsonNodeParser parser;
  absl::StatusOr<const JsonNode*> borrowed = parser.ParseBorrowing(text, arena);
  if (value.ok() != node.ok() || value.ok() != borrowed.ok()) {
    return Broken(
        "json",
        absl::StrCat("readers disagree: ParseJson ", value.status().ToString(), ", ParseJsonNode ",
                     node.status().ToString(), ", ParseBorrowing ", borrowed.status().ToString()),
        data);
  }
  if (!value.ok()) return absl::OkStatus();
  if (!SameValue(*value, ToJson(**node)) || !SameValue(*value, ToJson(**borrowed))) {
    return Broken("json",
                  absl::StrCat("readers give different values: ", Describe(*value), " vs ",
                               Describe(ToJson(**node)), " vs ", Describe(ToJson(**borrowed))),
                  data);
  }
  if (!(**node == **borrowed))
    return Broken("json", "JsonNode equality fails on equal trees", data);
  std::string canonical;
  AppendCanonicalJson(canonical, **node);
  if (canonical != CanonicalJson(*value)) {
    return Broken("json",
                  absl::StrCat("AppendCanonicalJson ", Describe(absl::string_view(canonical)),
                               " differs from CanonicalJson ", CanonicalJson(*value)),
                  data);
  }
  Json reference = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (reference.is_discarded())
    return Broken("json", "nlohmann refuses a text ParseJson accepts", data);
  if (!SameValue(reference, *value)) {
    return Broken(
        "json",
        absl::StrCat("nlohmann reads ", Describe(reference), ", ParseJson ", Describe(*value)),
        data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

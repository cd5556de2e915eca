// Fuzz target "json_patch": RFC 6902 JSON patches as kustomize applies them, the target and the
// operations read from one YAML stream.
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/json_patch.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzJsonPatch(absl::string_view data) {
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(data, "fuzz.yaml");
  if (!docs.ok() || docs->size() < 2) return absl::OkStatus();
  Json target = (*docs)[0].value;
  const Json& operations = (*docs)[1].value;
  const absl::Status valid = renderer::kustomize::ValidateJsonPatch(operations);
  const Json before = target;
  const absl::Status applied = renderer::kustomize::ApplyJsonPatch(target, operations);
  if (!valid.ok() && applied.ok() && !SameValue(before, target)) {
    return Broken("json_patch",
                  absl::StrCat("ApplyJsonPatch changed the target with operations that "
                               "ValidateJsonPatch refuses: ",
                               valid.message()),
                  data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

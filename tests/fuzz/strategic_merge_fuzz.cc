// Fuzz target "strategic_merge": kustomize's strategic merge patch (kyaml merge2 semantics)
// over a target and a patch read from one YAML stream.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/strategic_merge.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzStrategicMerge(absl::string_view data) {
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(data, "fuzz.yaml");
  if (!docs.ok() || docs->size() < 2) return absl::OkStatus();
  Json target = (*docs)[0].value;
  const Json& patch = (*docs)[1].value;
  absl::StatusOr<bool> kept = renderer::kustomize::ApplyStrategicMergePatch(target, patch);
  if (!kept.ok()) return absl::OkStatus();
  renderer::kustomize::StripPatchDirectives(target);
  // A merged result is printed as YAML by every render: it must read back as the same value.
  const std::string emitted = EmitYaml(target);
  absl::StatusOr<Json> again = ParseYaml(emitted, "merged.yaml");
  if (!again.ok() || !SameValue(*again, target)) {
    return Broken("strategic_merge",
                  absl::StrCat("merged value does not survive YAML: ", Describe(target)), data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

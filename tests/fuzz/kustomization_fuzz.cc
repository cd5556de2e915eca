// Fuzz target "kustomization": the kustomization file parser (strict fields, legacy fields
// folded in, refused features), and the generator lists it reads.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzKustomization(absl::string_view data) {
  using renderer::kustomize::Kustomization;
  absl::StatusOr<Kustomization> parsed =
      renderer::kustomize::ParseKustomization(data, "app/kustomization.yaml");
  if (!parsed.ok()) {
    if (!absl::StrContains(parsed.status().message(), "app/kustomization.yaml")) {
      return Broken("kustomization",
                    absl::StrCat("error does not name the file: ", parsed.status().ToString()),
                    data);
    }
    return absl::OkStatus();
  }
  if (parsed->kind != "Kustomization" && parsed->kind != "Component") {
    return Broken("kustomization", absl::StrCat("accepted kind \"", parsed->kind, "\""), data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

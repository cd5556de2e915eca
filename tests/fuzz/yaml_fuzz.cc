// Fuzz target "yaml": the YAML reader (common/yaml.h) and the emitter's round trip.
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

absl::Status FuzzYaml(absl::string_view data) {
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(data, "fuzz.yaml");
  if (!docs.ok()) {
    if (docs.status().message().find("fuzz.yaml") == absl::string_view::npos) {
      return Broken("yaml", absl::StrCat("error does not name the file: ", docs.status().message()),
                    data);
    }
    return absl::OkStatus();
  }
  // Lenient duplicate keys (how kustomization files are read) accept at least as much.
  YamlLimits lenient;
  lenient.allow_duplicate_keys = true;
  if (!ParseYamlStream(data, "fuzz.yaml", lenient).ok()) {
    return Broken("yaml", "refused with allow_duplicate_keys but accepted without", data);
  }
  for (const YamlDocument& doc : *docs) {
    const std::string emitted = EmitYaml(doc.value);
    absl::StatusOr<Json> again = ParseYaml(emitted, "emitted.yaml");
    if (!again.ok()) {
      return Broken("yaml",
                    absl::StrCat("emitted text does not parse: ", again.status().message(),
                                 "\nemitted: ", Describe(absl::string_view(emitted))),
                    data);
    }
    if (!SameValue(doc.value, *again)) {
      return Broken(
          "yaml",
          absl::StrCat("emitted text reads back differently: ", Describe(doc.value), " became ",
                       Describe(*again), "\nemitted: ", Describe(absl::string_view(emitted))),
          data);
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

// The fuzz targets: one entry function per parser that reads user input. Each runs its parser
// over arbitrary bytes and checks what must hold whatever the input (a parse error is a fine
// answer; a crash, a sanitizer report or a broken invariant is not). They are a plain library:
// the libFuzzer binaries (libfuzzer_main.cc, built by scripts/fuzz.sh with clang and
// -fsanitize=fuzzer,address,undefined) call them, and fuzz_replay_test (the ordinary build)
// replays every seed and every kept crash through the same functions.
#ifndef TODOKE_TESTS_FUZZ_FUZZ_TARGETS_H_
#define TODOKE_TESTS_FUZZ_FUZZ_TARGETS_H_

#include <cstddef>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace todoke::fuzz {

// Every entry returns OK unless an invariant broke (then INTERNAL saying which); a parser's own
// error for malformed input is OK. None may crash, leak or hit undefined behaviour.

// common/yaml.h: ParseYamlStream; every parsed document emits (EmitYaml) to text that parses
// back to the same value.
absl::Status FuzzYaml(absl::string_view data);

// common/json_parse.h ParseJson and common/json_tree.h ParseJsonNode (copying and borrowing):
// they accept the same texts and give the same values, and nlohmann::json::parse accepts every
// text they accept with that value too.
absl::Status FuzzJson(absl::string_view data);

// The kustomization file parser (ParseKustomization).
absl::Status FuzzKustomization(absl::string_view data);

// A whole render (renderer::Render, auto mode, with ${VAR} substitution) of the in-memory tree
// ParseFuzzTree reads from `data`; a successful render's objects all have keys and canonical
// JSON, and rendering again gives the same digest.
absl::Status FuzzRender(absl::string_view data);

// Strategic merge: the first document of a YAML stream is the target, the second the patch
// (ApplyStrategicMergePatch, then StripPatchDirectives on the result).
absl::Status FuzzStrategicMerge(absl::string_view data);

// JSON patch (RFC 6902): the first document of a YAML stream is the target, the second the
// operations (ValidateJsonPatch, then ApplyJsonPatch when valid).
absl::Status FuzzJsonPatch(absl::string_view data);

// Semver: SemverConstraint::Parse of the first line, each later line as a tag checked against
// it (VersionOfTag, Matches), ParseSemVersion and Compare's ordering laws.
absl::Status FuzzSemver(absl::string_view data);

// Repository URLs: ParseRepoUrl (local allowed or not), MaskCredentials (idempotent on any
// text), HttpOrigin; an accepted URL's canonical form carries no user information
// and parses again.
absl::Status FuzzRepoUrl(absl::string_view data);

// A repository tree written as one text, for the render target and its seeds: an optional
// first line "@ <folder>" names the folder to render (default: the root), then sections that
// each start with a line "=== <path>"; text before the first such line is "kustomization.yaml".
// Paths that are not normalised repository paths (empty, absolute, with empty, "." or ".."
// segments) are dropped (an invalid folder renders the root); a later section replaces an
// earlier one with the same path.
struct FuzzTree {
  std::string render_dir;
  std::map<std::string, std::string> files;
};
FuzzTree ParseFuzzTree(absl::string_view data);

// The targets by name ("yaml", "json", "kustomization", "render", "strategic_merge",
// "json_patch", "semver", "repo_url"): the names of the folders under tests/fuzz/seeds/ and
// tests/fuzz/regressions/.
using FuzzEntry = absl::Status (*)(absl::string_view data);
const std::map<std::string, FuzzEntry>& FuzzTargets();

}  // namespace todoke::fuzz

#endif  // TODOKE_TESTS_FUZZ_FUZZ_TARGETS_H_

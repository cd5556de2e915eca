// Fuzz target "semver": version constraints on tags ("~1.4", "^2", ">=1.2.0 <2.0.0", "v^1.2")
// and the versions they are matched against. The first line is the constraint, every later
// line a tag name.
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "services/source_fetcher/core/semver.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

namespace {
int Sign(int value) { return (value > 0) - (value < 0); }
}  // namespace

absl::Status FuzzSemver(absl::string_view data) {
  using source_fetcher::ParseSemVersion;
  using source_fetcher::SemverConstraint;
  using source_fetcher::SemVersion;
  std::vector<absl::string_view> lines = absl::StrSplit(data, '\n');
  const absl::string_view constraint_text = lines.front();
  (void)SemverConstraint::LooksLikeConstraint(constraint_text);
  absl::StatusOr<SemverConstraint> constraint = SemverConstraint::Parse(constraint_text);
  std::vector<SemVersion> versions;
  for (size_t i = 0; i < lines.size() && versions.size() < 16; ++i) {
    if (constraint.ok()) {
      std::optional<SemVersion> tagged = constraint->VersionOfTag(lines[i]);
      if (tagged.has_value()) (void)constraint->Matches(*tagged);
    }
    std::optional<SemVersion> version = ParseSemVersion(lines[i]);
    if (!version.has_value()) continue;
    if (Compare(*version, *version) != 0) {
      return Broken("semver", absl::StrCat("a version differs from itself: ", lines[i]), data);
    }
    if (constraint.ok()) (void)constraint->Matches(*version);
    versions.push_back(*std::move(version));
  }
  // Tags are sorted by this order to pick the highest match: it must be a strict weak order.
  for (const SemVersion& a : versions) {
    for (const SemVersion& b : versions) {
      if (Sign(Compare(a, b)) != -Sign(Compare(b, a))) {
        return Broken("semver", "Compare is not antisymmetric", data);
      }
      for (const SemVersion& c : versions) {
        if (Compare(a, b) < 0 && Compare(b, c) < 0 && !(Compare(a, c) < 0)) {
          return Broken("semver", "Compare is not transitive", data);
        }
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

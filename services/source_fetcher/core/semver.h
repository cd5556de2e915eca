// Semantic versions and version constraints over tags ("~1.4", "^2", ">=1.2.0 <2.0.0", "v^1.2").
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_SEMVER_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_SEMVER_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace todoke::source_fetcher {

struct SemVersion {
  int major = 0;
  int minor = 0;
  int patch = 0;
  std::vector<std::string> prerelease;  // dot-separated identifiers after '-'.

  // Semver 2.0 precedence; build metadata is ignored.
  friend int Compare(const SemVersion& a, const SemVersion& b);
  friend bool operator<(const SemVersion& a, const SemVersion& b) { return Compare(a, b) < 0; }
  friend bool operator==(const SemVersion& a, const SemVersion& b) { return Compare(a, b) == 0; }
};

// Parses "1.2.3", "v1.2.3", "1.2.3-rc.1+build". Strict: all three numbers are required.
std::optional<SemVersion> ParseSemVersion(absl::string_view text);

// A parsed constraint: OR of AND-groups of comparators, with the tag prefix it applies to.
class SemverConstraint {
 public:
  // Parses `text`: an optional tag prefix (text before the first operator or digit, e.g. "v" in
  // "v^1.2" or "release-" in "release-~1.4"), then comparators separated by spaces or commas,
  // groups separated by "||". Comparators: 1.2.3, 1.2, 1, 1.x, *, =, !=, >, >=, <, <=, ~, ~>, ^,
  // and hyphen ranges "1.2 - 1.4". INVALID_ARGUMENT if it does not parse.
  static absl::StatusOr<SemverConstraint> Parse(absl::string_view text);

  // True if `ref` is meant as a constraint rather than a ref name: after the prefix it starts
  // with an operator, or it holds a wildcard, a space or "||".
  static bool LooksLikeConstraint(absl::string_view ref);

  // True if `version` satisfies the constraint. Pre-release versions match only when the
  // constraint itself names a pre-release.
  bool Matches(const SemVersion& version) const;

  // If `tag_name` (without "refs/tags/") is the prefix followed by a version, returns it. With an
  // empty prefix an optional leading "v" is accepted.
  std::optional<SemVersion> VersionOfTag(absl::string_view tag_name) const;

  const std::string& prefix() const { return prefix_; }

 private:
  struct Bound {
    SemVersion version;
    bool inclusive = true;
  };
  struct Comparator {
    std::optional<Bound> lower;
    std::optional<Bound> upper;
    bool negate = false;
  };
  static bool InRange(const Comparator& c, const SemVersion& v);

  std::string prefix_;
  std::vector<std::vector<Comparator>> groups_;
  bool allow_prerelease_ = false;
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_SEMVER_H_

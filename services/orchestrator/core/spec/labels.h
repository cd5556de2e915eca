// Kubernetes label syntax for Application labels, and label selectors as `kubectl get -l`
// takes them. Pure; safe from many threads.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_LABELS_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_LABELS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "google/protobuf/map.h"

namespace todoke::orchestrator {

// RFC 1123 label: lowercase letters, digits and '-', starting and ending with a letter or digit,
// 1 to 63 characters (Kubernetes' IsDNS1123Label).
bool IsDns1123Label(absl::string_view text);
// RFC 1123 subdomain: dot-separated labels, at most 253 characters.
bool IsDns1123Subdomain(absl::string_view text);

// A label key: an optional DNS-1123 subdomain prefix and '/', then a name of 1 to 63 characters
// of letters, digits, '-', '_' and '.', starting and ending with a letter or digit. OK or
// INVALID_ARGUMENT saying what is wrong (without naming a field: callers add the path).
absl::Status ValidateLabelKey(absl::string_view key);
// A label value: empty, or up to 63 characters as a key's name part.
absl::Status ValidateLabelValue(absl::string_view value);

// A parsed label selector: requirements that must all hold.
//   "a=b" / "a==b"     label a is b
//   "a!=b"             label a is not b, or absent
//   "a in (x,y)"       a is x or y;   "a notin (x,y)": a is neither (or absent)
//   "a"                a is present;  "!a": a is absent
// separated by ','; spaces around tokens are ignored. The empty selector matches everything.
class LabelSelector {
 public:
  enum class Operator { kEquals, kNotEquals, kIn, kNotIn, kExists, kDoesNotExist };
  struct Requirement {
    std::string key;
    Operator op = Operator::kExists;
    // One value for kEquals/kNotEquals, one or more for kIn/kNotIn, none otherwise.
    std::vector<std::string> values;
  };

  // INVALID_ARGUMENT naming the position and the problem ("label selector \"a in x\": expected
  // '(' after 'in' at offset 5"), or a key or value that is not valid label syntax.
  static absl::StatusOr<LabelSelector> Parse(absl::string_view text);

  bool Matches(const google::protobuf::Map<std::string, std::string>& labels) const;
  bool empty() const { return requirements_.empty(); }
  const std::vector<Requirement>& requirements() const { return requirements_; }

 private:
  std::vector<Requirement> requirements_;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_SPEC_LABELS_H_

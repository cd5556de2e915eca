#include "services/source_fetcher/core/semver.h"

#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace todoke::source_fetcher {
namespace {

bool IsOperatorChar(char c) {
  return c == '<' || c == '>' || c == '=' || c == '~' || c == '^' || c == '!' || c == '*';
}

bool IsNumeric(absl::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsWildcard(absl::string_view s) { return s == "x" || s == "X" || s == "*"; }

// A possibly partial version: "1", "1.2", "1.2.3", "1.x", "*", with optional pre-release.
struct PartialVersion {
  SemVersion version;
  int parts = 0;  // how many of major, minor, patch are given (not wildcards).
};

std::optional<PartialVersion> ParsePartial(absl::string_view text) {
  if (!text.empty() && (text.front() == 'v' || text.front() == 'V')) text.remove_prefix(1);
  size_t plus = text.find('+');
  if (plus != absl::string_view::npos) text = text.substr(0, plus);
  PartialVersion out;
  size_t dash = text.find('-');
  absl::string_view core = text.substr(0, dash);
  if (dash != absl::string_view::npos) {
    absl::string_view pre = text.substr(dash + 1);
    if (pre.empty()) return std::nullopt;
    out.version.prerelease = absl::StrSplit(pre, '.');
  }
  std::vector<absl::string_view> nums = absl::StrSplit(core, '.');
  if (nums.empty() || nums.size() > 3) return std::nullopt;
  int* fields[3] = {&out.version.major, &out.version.minor, &out.version.patch};
  bool wildcard_seen = false;
  for (size_t i = 0; i < nums.size(); ++i) {
    if (IsWildcard(nums[i])) {
      wildcard_seen = true;
      continue;
    }
    if (wildcard_seen || !IsNumeric(nums[i]) || !absl::SimpleAtoi(nums[i], fields[i])) {
      return std::nullopt;
    }
    out.parts = static_cast<int>(i) + 1;
  }
  if (out.parts < 3 && !out.version.prerelease.empty()) return std::nullopt;
  return out;
}

// The first version above every version that has the given leading parts: 1.2 -> 1.3.0.
SemVersion NextAfterPartial(const PartialVersion& p) {
  SemVersion v;
  if (p.parts == 1) {
    v.major = p.version.major + 1;
  } else if (p.parts == 2) {
    v.major = p.version.major;
    v.minor = p.version.minor + 1;
  }
  return v;
}

}  // namespace

int Compare(const SemVersion& a, const SemVersion& b) {
  if (a.major != b.major) return a.major < b.major ? -1 : 1;
  if (a.minor != b.minor) return a.minor < b.minor ? -1 : 1;
  if (a.patch != b.patch) return a.patch < b.patch ? -1 : 1;
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (size_t i = 0; i < a.prerelease.size() && i < b.prerelease.size(); ++i) {
    const std::string& x = a.prerelease[i];
    const std::string& y = b.prerelease[i];
    bool xn = IsNumeric(x), yn = IsNumeric(y);
    if (xn && yn) {
      uint64_t xv = 0, yv = 0;
      (void)absl::SimpleAtoi(x, &xv);
      (void)absl::SimpleAtoi(y, &yv);
      if (xv != yv) return xv < yv ? -1 : 1;
    } else if (xn != yn) {
      return xn ? -1 : 1;
    } else if (x != y) {
      return x < y ? -1 : 1;
    }
  }
  if (a.prerelease.size() != b.prerelease.size()) {
    return a.prerelease.size() < b.prerelease.size() ? -1 : 1;
  }
  return 0;
}

std::optional<SemVersion> ParseSemVersion(absl::string_view text) {
  std::optional<PartialVersion> p = ParsePartial(text);
  if (!p.has_value() || p->parts != 3) return std::nullopt;
  // Reject wildcards, which ParsePartial accepts: parts == 3 means none were used.
  return p->version;
}

bool SemverConstraint::LooksLikeConstraint(absl::string_view ref) {
  if (ref.find("||") != absl::string_view::npos || ref.find(' ') != absl::string_view::npos ||
      ref.find(',') != absl::string_view::npos) {
    return true;
  }
  size_t i = 0;
  while (i < ref.size() && !IsOperatorChar(ref[i]) &&
         !absl::ascii_isdigit(static_cast<unsigned char>(ref[i]))) {
    ++i;
  }
  absl::string_view rest = ref.substr(i);
  if (rest.empty()) return false;
  if (IsOperatorChar(rest.front())) return true;
  // "1.x", "v1.2.*"
  for (absl::string_view part : absl::StrSplit(rest, '.')) {
    if (IsWildcard(part)) return true;
  }
  return false;
}

absl::StatusOr<SemverConstraint> SemverConstraint::Parse(absl::string_view text) {
  auto invalid = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid version constraint \"", text, "\": ", why));
  };
  SemverConstraint out;
  absl::string_view body = absl::StripAsciiWhitespace(text);
  size_t i = 0;
  while (i < body.size() && !IsOperatorChar(body[i]) &&
         !absl::ascii_isdigit(static_cast<unsigned char>(body[i])) && body[i] != ' ') {
    ++i;
  }
  // A lone "v" before a digit is part of the version ("v1.x"), not a prefix.
  out.prefix_ = std::string(body.substr(0, i));
  body.remove_prefix(i);
  if (body.empty()) return invalid("no version");
  if (out.prefix_ == "v" || out.prefix_ == "V") out.prefix_.clear();

  for (absl::string_view group_text : absl::StrSplit(body, "||")) {
    std::vector<std::string> tokens;
    for (absl::string_view t :
         absl::StrSplit(group_text, absl::ByAnyChar(" ,"), absl::SkipEmpty())) {
      tokens.emplace_back(t);
    }
    if (tokens.empty()) return invalid("empty group");
    // Join an operator written apart from its version (">= 1.2").
    std::vector<std::string> joined;
    for (size_t k = 0; k < tokens.size(); ++k) {
      const std::string& t = tokens[k];
      bool only_op = !t.empty() && t.find_first_not_of("<>=~^!") == std::string::npos && t != "-";
      if (only_op && k + 1 < tokens.size()) {
        joined.push_back(t + tokens[k + 1]);
        ++k;
      } else {
        joined.push_back(t);
      }
    }
    std::vector<Comparator> group;
    for (size_t k = 0; k < joined.size(); ++k) {
      // Hyphen range "a - b".
      if (k + 2 < joined.size() && joined[k + 1] == "-") {
        std::optional<PartialVersion> lo = ParsePartial(joined[k]);
        std::optional<PartialVersion> hi = ParsePartial(joined[k + 2]);
        if (!lo || !hi) return invalid("malformed hyphen range");
        Comparator c;
        c.lower = Bound{lo->version, true};
        if (hi->parts == 3) {
          c.upper = Bound{hi->version, true};
        } else if (hi->parts > 0) {
          c.upper = Bound{NextAfterPartial(*hi), false};
        }
        if (!lo->version.prerelease.empty() || !hi->version.prerelease.empty()) {
          out.allow_prerelease_ = true;
        }
        group.push_back(c);
        k += 2;
        continue;
      }
      absl::string_view tok = joined[k];
      size_t op_len = 0;
      while (op_len < tok.size() &&
             absl::string_view("<>=~^!").find(tok[op_len]) != absl::string_view::npos) {
        ++op_len;
      }
      std::string op(tok.substr(0, op_len));
      absl::string_view version_text = tok.substr(op_len);
      // A prefix repeated inside the version (">=v1.2.0", "release-1.2") is accepted.
      if (!out.prefix_.empty()) absl::ConsumePrefix(&version_text, out.prefix_);
      std::optional<PartialVersion> p = ParsePartial(version_text);
      if (!p) return invalid(absl::StrCat("malformed version \"", version_text, "\""));
      if (!p->version.prerelease.empty()) out.allow_prerelease_ = true;
      const SemVersion& v = p->version;
      Comparator c;
      // Range covered by the partial version itself: [v, next) or everything for "*".
      std::optional<Bound> range_lo, range_hi;
      if (p->parts > 0) range_lo = Bound{v, true};
      if (p->parts == 3) {
        range_hi = Bound{v, true};
      } else if (p->parts > 0) {
        range_hi = Bound{NextAfterPartial(*p), false};
      }
      if (op.empty() || op == "=" || op == "==") {
        c.lower = range_lo;
        c.upper = range_hi;
      } else if (op == "!=") {
        c.lower = range_lo;
        c.upper = range_hi;
        c.negate = true;
      } else if (op == ">") {
        if (p->parts == 3) {
          c.lower = Bound{v, false};
        } else if (p->parts > 0) {
          c.lower = Bound{NextAfterPartial(*p), true};
        } else {
          c.lower = Bound{SemVersion{1 << 30, 0, 0, {}}, true};  // "> *" matches nothing
        }
      } else if (op == ">=") {
        c.lower = range_lo;
      } else if (op == "<") {
        if (p->parts > 0) {
          c.upper = Bound{v, false};
        } else {
          c.upper = Bound{SemVersion{}, false};
        }
      } else if (op == "<=") {
        c.upper = range_hi;
      } else if (op == "~" || op == "~>") {
        c.lower = range_lo;
        if (p->parts >= 2) {
          c.upper = Bound{SemVersion{v.major, v.minor + 1, 0, {}}, false};
        } else if (p->parts == 1) {
          c.upper = Bound{SemVersion{v.major + 1, 0, 0, {}}, false};
        }
      } else if (op == "^") {
        c.lower = range_lo;
        if (p->parts == 0) {
          // "^*": anything.
        } else if (v.major > 0 || p->parts == 1) {
          c.upper = Bound{SemVersion{v.major + 1, 0, 0, {}}, false};
        } else if (v.minor > 0 || p->parts == 2) {
          c.upper = Bound{SemVersion{0, v.minor + 1, 0, {}}, false};
        } else {
          c.upper = Bound{SemVersion{0, 0, v.patch + 1, {}}, false};
        }
      } else {
        return invalid(absl::StrCat("unknown operator \"", op, "\""));
      }
      group.push_back(c);
    }
    out.groups_.push_back(std::move(group));
  }
  return out;
}

bool SemverConstraint::InRange(const Comparator& c, const SemVersion& v) {
  bool in = true;
  if (c.lower.has_value()) {
    int cmp = Compare(v, c.lower->version);
    in = in && (cmp > 0 || (cmp == 0 && c.lower->inclusive));
  }
  if (c.upper.has_value()) {
    SemVersion upper = c.upper->version;
    int cmp = Compare(v, upper);
    // "<2.0.0" must exclude 2.0.0-rc.1 too.
    if (!c.upper->inclusive && upper.prerelease.empty() && !v.prerelease.empty() &&
        v.major == upper.major && v.minor == upper.minor && v.patch == upper.patch) {
      cmp = 0;
    }
    in = in && (cmp < 0 || (cmp == 0 && c.upper->inclusive));
  }
  return c.negate ? !in : in;
}

bool SemverConstraint::Matches(const SemVersion& version) const {
  if (!version.prerelease.empty() && !allow_prerelease_) return false;
  for (const auto& group : groups_) {
    bool all = true;
    for (const Comparator& c : group) {
      if (!InRange(c, version)) {
        all = false;
        break;
      }
    }
    if (all) return true;
  }
  return false;
}

std::optional<SemVersion> SemverConstraint::VersionOfTag(absl::string_view tag_name) const {
  if (!absl::ConsumePrefix(&tag_name, prefix_)) return std::nullopt;
  if (!prefix_.empty() && !tag_name.empty() &&
      (tag_name.front() == 'v' || tag_name.front() == 'V')) {
    return std::nullopt;
  }
  return ParseSemVersion(tag_name);
}

}  // namespace todoke::source_fetcher

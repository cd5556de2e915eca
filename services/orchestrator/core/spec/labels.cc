#include "services/orchestrator/core/spec/labels.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace todoke::orchestrator {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// A label key's name part, or a non-empty value: [A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?
bool IsQualifiedNamePart(absl::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  if (!absl::ascii_isalnum(text.front()) || !absl::ascii_isalnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
  });
}

constexpr absl::string_view kNamePartRule =
    "at most 63 characters of letters, digits, '-', '_' and '.', starting and ending with a "
    "letter or digit";

}  // namespace

bool IsDns1123Label(absl::string_view text) {
  if (text.empty() || text.size() > 63) return false;
  if (!IsLowerAlnum(text.front()) || !IsLowerAlnum(text.back())) return false;
  return std::all_of(text.begin(), text.end(), [](char c) { return IsLowerAlnum(c) || c == '-'; });
}

bool IsDns1123Subdomain(absl::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (absl::string_view part : absl::StrSplit(text, '.')) {
    if (!IsDns1123Label(part)) return false;
  }
  return true;
}

absl::Status ValidateLabelKey(absl::string_view key) {
  absl::string_view name = key;
  const size_t slash = key.find('/');
  if (slash != absl::string_view::npos) {
    const absl::string_view prefix = key.substr(0, slash);
    name = key.substr(slash + 1);
    if (!IsDns1123Subdomain(prefix)) {
      return absl::InvalidArgumentError(
          absl::StrCat("invalid label key \"", key,
                       "\": the prefix must be a DNS-1123 subdomain (lowercase letters, digits, "
                       "'-' and '.', at most 253 characters)"));
    }
  }
  if (!IsQualifiedNamePart(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid label key \"", key, "\": the name must be ", kNamePartRule));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelValue(absl::string_view value) {
  if (value.empty() || IsQualifiedNamePart(value)) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("invalid label value \"", value, "\": must be empty or ", kNamePartRule));
}

namespace {

// Tokens of a selector, as Kubernetes' labels.Lexer splits them.
class SelectorParser {
 public:
  explicit SelectorParser(absl::string_view text) : text_(text) {}

  absl::StatusOr<std::vector<LabelSelector::Requirement>> Parse() {
    std::vector<LabelSelector::Requirement> requirements;
    SkipSpaces();
    if (pos_ == text_.size()) return requirements;
    while (true) {
      LabelSelector::Requirement requirement;
      if (absl::Status status = ParseRequirement(requirement); !status.ok()) return status;
      requirements.push_back(std::move(requirement));
      SkipSpaces();
      if (pos_ == text_.size()) break;
      if (text_[pos_] != ',') return Error("expected ',' or the end");
      ++pos_;
    }
    return requirements;
  }

 private:
  static bool IsWordChar(char c) {
    return !absl::ascii_isspace(c) && c != ',' && c != '(' && c != ')' && c != '=' && c != '!' &&
           c != '<' && c != '>';
  }

  void SkipSpaces() {
    while (pos_ < text_.size() && absl::ascii_isspace(text_[pos_])) ++pos_;
  }

  absl::string_view Word() {
    SkipSpaces();
    const size_t start = pos_;
    while (pos_ < text_.size() && IsWordChar(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  bool Consume(absl::string_view token) {
    SkipSpaces();
    if (text_.substr(pos_, token.size()) != token) return false;
    pos_ += token.size();
    return true;
  }

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("label selector \"", text_, "\": ", what, " at offset ", pos_));
  }

  absl::Status Key(std::string& key) {
    const size_t at = pos_;
    const absl::string_view word = Word();
    if (word.empty()) {
      pos_ = at;
      SkipSpaces();
      return Error("expected a label key");
    }
    if (absl::Status status = ValidateLabelKey(word); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label selector \"", text_, "\": ", status.message()));
    }
    key = std::string(word);
    return absl::OkStatus();
  }

  absl::Status Value(std::vector<std::string>& values) {
    const absl::string_view word = Word();
    if (absl::Status status = ValidateLabelValue(word); !status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("label selector \"", text_, "\": ", status.message()));
    }
    values.emplace_back(word);
    return absl::OkStatus();
  }

  absl::Status ParseRequirement(LabelSelector::Requirement& requirement) {
    using Operator = LabelSelector::Operator;
    if (Consume("!")) {
      requirement.op = Operator::kDoesNotExist;
      return Key(requirement.key);
    }
    if (absl::Status status = Key(requirement.key); !status.ok()) return status;
    SkipSpaces();
    if (pos_ == text_.size() || text_[pos_] == ',') {
      requirement.op = Operator::kExists;
      return absl::OkStatus();
    }
    if (Consume("!=")) {
      requirement.op = Operator::kNotEquals;
      return Value(requirement.values);
    }
    if (Consume("==") || Consume("=")) {
      requirement.op = Operator::kEquals;
      return Value(requirement.values);
    }
    if (text_[pos_] == '<' || text_[pos_] == '>') return Error("'<' and '>' are not supported");
    const size_t at = pos_;
    const absl::string_view word = Word();
    if (word == "in") {
      requirement.op = Operator::kIn;
    } else if (word == "notin") {
      requirement.op = Operator::kNotIn;
    } else {
      pos_ = at;
      return Error("expected '=', '==', '!=', 'in' or 'notin'");
    }
    if (!Consume("(")) return Error(absl::StrCat("expected '(' after '", word, "'"));
    while (true) {
      if (absl::Status status = Value(requirement.values); !status.ok()) return status;
      if (Consume(")")) break;
      if (!Consume(",")) return Error("expected ',' or ')'");
    }
    if (requirement.values.size() == 1 && requirement.values[0].empty()) {
      return Error(absl::StrCat("'", word, "' needs at least one value"));
    }
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

}  // namespace

absl::StatusOr<LabelSelector> LabelSelector::Parse(absl::string_view text) {
  SelectorParser parser(text);
  absl::StatusOr<std::vector<Requirement>> requirements = parser.Parse();
  if (!requirements.ok()) return requirements.status();
  LabelSelector selector;
  selector.requirements_ = *std::move(requirements);
  return selector;
}

bool LabelSelector::Matches(const google::protobuf::Map<std::string, std::string>& labels) const {
  for (const Requirement& requirement : requirements_) {
    const auto it = labels.find(requirement.key);
    const bool present = it != labels.end();
    const bool in_values =
        present && std::find(requirement.values.begin(), requirement.values.end(), it->second) !=
                       requirement.values.end();
    switch (requirement.op) {
      case Operator::kEquals:
      case Operator::kIn:
        if (!in_values) return false;
        break;
      case Operator::kNotEquals:
      case Operator::kNotIn:
        if (in_values) return false;
        break;
      case Operator::kExists:
        if (!present) return false;
        break;
      case Operator::kDoesNotExist:
        if (present) return false;
        break;
    }
  }
  return true;
}

}  // namespace todoke::orchestrator

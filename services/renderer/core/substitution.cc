#include "services/renderer/core/substitution.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "common/yaml.h"

namespace todoke::renderer {
namespace {

bool IsNameStart(char c) { return c == '_' || absl::ascii_isalpha(static_cast<unsigned char>(c)); }
bool IsNameChar(char c) { return c == '_' || absl::ascii_isalnum(static_cast<unsigned char>(c)); }

bool IsValidName(absl::string_view name) {
  if (name.empty() || !IsNameStart(name[0])) return false;
  for (char c : name) {
    if (!IsNameChar(c)) return false;
  }
  return true;
}

// Index just past the '}' closing the "${" at `open`, honouring nested "${...}".
size_t FindClose(absl::string_view text, size_t open) {
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size() && text[i + 1] == '{') {
      ++depth;
      ++i;
    } else if (text[i] == '}') {
      if (--depth == 0) return i + 1;
    }
  }
  return absl::string_view::npos;
}

absl::Status Expand(absl::string_view text, const Variables& variables,
                    const SubstitutionOptions& options, int depth, std::string& out) {
  if (depth > 16) return absl::InvalidArgumentError("variable defaults nest too deeply");
  size_t i = 0;
  while (i < text.size()) {
    const size_t dollar = text.find('$', i);
    if (dollar == absl::string_view::npos) {
      out.append(std::string(text.substr(i)));
      break;
    }
    out.append(std::string(text.substr(i, dollar - i)));
    if (text.substr(dollar, 3) == "$${") {
      out.append("${");
      i = dollar + 3;
      continue;
    }
    if (text.substr(dollar, 2) != "${") {
      out.push_back('$');
      i = dollar + 1;
      continue;
    }
    const size_t close = FindClose(text, dollar);
    if (close == absl::string_view::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("unterminated variable reference \"", text.substr(dollar, 40), "\""));
    }
    absl::string_view body = text.substr(dollar + 2, close - dollar - 3);
    size_t name_end = 0;
    while (name_end < body.size() && IsNameChar(body[name_end])) ++name_end;
    absl::string_view name = body.substr(0, name_end);
    absl::string_view rest = body.substr(name_end);
    if (!IsValidName(name)) {
      return absl::InvalidArgumentError(absl::StrCat("bad variable reference \"${", body, "}\""));
    }
    auto found = variables.find(name);
    const bool set = found != variables.end();
    const bool non_empty = set && !found->second.empty();
    absl::string_view operation, operand;
    for (absl::string_view op : {":=", ":-", ":+", "=", "-"}) {
      if (rest.substr(0, op.size()) == op) {
        operation = op;
        operand = rest.substr(op.size());
        break;
      }
    }
    if (operation.empty() && !rest.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("unsupported variable expression \"${", body, "}\""));
    }
    bool use_operand = false;
    if (operation == ":=" || operation == ":-") use_operand = !non_empty;
    if (operation == "=" || operation == "-") use_operand = !set;
    if (operation == ":+") {
      if (non_empty) RETURN_IF_ERROR(Expand(operand, variables, options, depth + 1, out));
    } else if (use_operand) {
      RETURN_IF_ERROR(Expand(operand, variables, options, depth + 1, out));
    } else if (set) {
      out.append(found->second);
    } else if (options.strict) {
      return absl::InvalidArgumentError(absl::StrCat("variable \"", name, "\" is not set"));
    }
    i = close;
  }
  return absl::OkStatus();
}

bool SubstitutionDisabled(const Json& object) {
  static constexpr char kKey[] = "kustomize.toolkit.fluxcd.io/substitute";
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  for (const char* field : {"annotations", "labels"}) {
    auto map = metadata->find(field);
    if (map == metadata->end() || !map->is_object()) continue;
    auto value = map->find(kKey);
    if (value != map->end() && value->is_string() && *value == "disabled") return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::string> SubstituteVariables(absl::string_view text, const Variables& variables,
                                                const SubstitutionOptions& options) {
  std::string out;
  out.reserve(text.size());
  RETURN_IF_ERROR(Expand(text, variables, options, 0, out));
  return out;
}

absl::Status SubstituteInObjects(std::vector<Json>& objects, const Variables& variables,
                                 const SubstitutionOptions& options) {
  for (const auto& [name, value] : variables) {
    if (!IsValidName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("substitution variable name \"", name,
                       "\" is invalid: it must match [_a-zA-Z][_a-zA-Z0-9]*"));
    }
  }
  for (Json& object : objects) {
    if (SubstitutionDisabled(object)) continue;
    std::string text = EmitYaml(object);
    if (text.find('$') == std::string::npos) continue;
    std::string name = "object";
    if (absl::StatusOr<ObjectKey> key = KeyOf(object); key.ok()) name = key->ToString();
    absl::StatusOr<std::string> expanded = SubstituteVariables(text, variables, options);
    if (!expanded.ok()) return Annotate(expanded.status(), absl::StrCat("substituting in ", name));
    if (*expanded == text) continue;
    absl::StatusOr<Json> parsed = ParseYaml(*expanded, name);
    if (!parsed.ok()) {
      return Annotate(parsed.status(), "the object no longer parses after substitution");
    }
    object = *std::move(parsed);
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer

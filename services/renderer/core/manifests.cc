#include "services/renderer/core/manifests.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/budget.h"
#include "common/status.h"
#include "common/yaml.h"

namespace todoke::renderer {
namespace {

bool IsListKind(const Json& object) {
  auto kind = object.find("kind");
  auto items = object.find("items");
  return kind != object.end() && kind->is_string() &&
         kind->get_ref<const std::string&>().ends_with("List") && items != object.end() &&
         (items->is_array() || items->is_null());
}

// Argo CD's test for "this file was meant to be a manifest": the three field names appear.
bool LooksLikeManifestText(absl::string_view text, bool json) {
  if (json) {
    return absl::StrContains(text, "\"apiVersion\"") && absl::StrContains(text, "\"kind\"") &&
           absl::StrContains(text, "\"metadata\"");
  }
  return absl::StrContains(text, "apiVersion:") && absl::StrContains(text, "kind:") &&
         absl::StrContains(text, "metadata:");
}

// 1-based line and column of byte `offset` in `text`.
std::pair<int, int> LineColumn(absl::string_view text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

// An upper bound on the values a JSON text holds: one more than its commas and opening
// brackets outside strings.
int64_t JsonValueBound(absl::string_view text) {
  int64_t values = 1;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == ',' || c == '[' || c == '{') {
      ++values;
    }
  }
  return values;
}

absl::StatusOr<std::vector<Json>> ParseJsonValue(absl::string_view text,
                                                 absl::string_view source_name) {
  // The render's budget is charged before parsing (nlohmann builds the whole value at once), so
  // a file of millions of tiny values is refused before it is built.
  if (Budget* budget = CurrentBudget(); budget != nullptr) {
    RETURN_IF_ERROR(budget->Charge(JsonValueBound(text), 0, source_name));
  }
  try {
    std::vector<Json> values;
    values.push_back(Json::parse(text));
    return values;
  } catch (const Json::parse_error& e) {
    auto [line, column] = LineColumn(text, e.byte > 0 ? e.byte - 1 : 0);
    std::string message = e.what();
    // nlohmann prefixes "[json.exception.parse_error.101] parse error at line 1, column 2: ".
    if (size_t colon = message.find(": "); colon != std::string::npos) {
      message = message.substr(colon + 2);
    }
    return absl::InvalidArgumentError(
        absl::StrCat(source_name, ":", line, ":", column, ": ", message));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": ", e.what()));
  }
}

}  // namespace

absl::Status AppendExpandingLists(Json object, absl::string_view source_name,
                                  std::vector<Json>& out) {
  if (!IsListKind(object)) {
    out.push_back(std::move(object));
    return absl::OkStatus();
  }
  Json& items = object["items"];
  if (items.is_null()) return absl::OkStatus();
  for (Json& item : items) {
    if (!LooksLikeKubernetesObject(item) && !(item.is_object() && IsListKind(item))) {
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ": an item of ", object["kind"].get<std::string>(),
                       " is not a Kubernetes object (it needs apiVersion, kind and metadata)"));
    }
    RETURN_IF_ERROR(AppendExpandingLists(std::move(item), source_name, out));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Json>> ParseManifests(absl::string_view text,
                                                 absl::string_view source_name,
                                                 const ManifestParseOptions& options) {
  std::vector<Json> values;
  std::vector<int> lines;
  if (options.json) {
    absl::StatusOr<std::vector<Json>> parsed = ParseJsonValue(text, source_name);
    // A .json file that does not parse is always an error, as in Argo CD.
    if (!parsed.ok()) return parsed.status();
    values = *std::move(parsed);
    lines.push_back(1);
  } else {
    absl::StatusOr<std::vector<YamlDocument>> documents = ParseYamlStream(text, source_name);
    if (!documents.ok()) {
      if (options.skip_non_kubernetes && !LooksLikeManifestText(text, false) &&
          documents.status().code() == absl::StatusCode::kInvalidArgument) {
        return std::vector<Json>();
      }
      return documents.status();
    }
    for (YamlDocument& document : *documents) {
      values.push_back(std::move(document.value));
      lines.push_back(document.line);
    }
  }

  std::vector<Json> objects;
  for (size_t i = 0; i < values.size(); ++i) {
    Json& value = values[i];
    if (value.is_null()) continue;
    // apiVersion and metadata without a kind: an object with its kind forgotten, which kustomize
    // refuses ("missing kind"), never a file to skip.
    if (value.is_object() && !value.contains("kind") && value.contains("apiVersion") &&
        value.contains("metadata")) {
      return absl::InvalidArgumentError(absl::StrCat(
          source_name, ":", lines[i], ":1: object has apiVersion and metadata but no kind"));
    }
    if (!LooksLikeKubernetesObject(value) && !(value.is_object() && IsListKind(value))) {
      // A document that is not an object: Argo CD fails the whole file, then skips it unless
      // the text looks like a manifest.
      if (options.skip_non_kubernetes && objects.empty() &&
          !LooksLikeManifestText(text, options.json)) {
        return std::vector<Json>();
      }
      return absl::InvalidArgumentError(
          absl::StrCat(source_name, ":", lines[i],
                       ":1: document is not a Kubernetes object (it needs apiVersion, kind "
                       "and metadata)"));
    }
    RETURN_IF_ERROR(AppendExpandingLists(std::move(value), source_name, objects));
  }
  return objects;
}

}  // namespace todoke::renderer

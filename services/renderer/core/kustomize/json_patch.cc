#include "services/renderer/core/kustomize/json_patch.h"

#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/json_pointer.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

// Patch paths are read as kustomize's Go json-patch reads them: a '~' not followed by '0' or
// '1' stays a literal '~'.
absl::StatusOr<std::vector<std::string>> ParsePointer(absl::string_view pointer) {
  return ParseJsonPointer(pointer, JsonPointerEscapes::kLenient);
}

absl::StatusOr<size_t> ArrayIndex(const std::string& token, size_t size, bool allow_end) {
  size_t index = 0;
  if (token == "-" && allow_end) return size;
  if (token.empty() || (token.size() > 1 && token[0] == '0') || !absl::SimpleAtoi(token, &index)) {
    return absl::InvalidArgumentError(absl::StrCat("invalid array index \"", token, "\""));
  }
  if (index > size || (!allow_end && index == size)) {
    return absl::InvalidArgumentError(absl::StrCat("array index ", token, " out of bounds"));
  }
  return index;
}

// The container holding the last token of `tokens`.
absl::StatusOr<Json*> Parent(Json& root, const std::vector<std::string>& tokens) {
  Json* node = &root;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (node->is_object()) {
      auto it = node->find(token);
      if (it == node->end()) {
        return absl::NotFoundError(absl::StrCat("missing key \"", token, "\""));
      }
      node = &*it;
    } else if (node->is_array()) {
      ASSIGN_OR_RETURN(size_t index, ArrayIndex(token, node->size(), false));
      node = &(*node)[index];
    } else {
      return absl::NotFoundError(absl::StrCat("\"", token, "\" is not inside an object or list"));
    }
  }
  return node;
}

absl::StatusOr<Json*> Find(Json& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return &root;
  ASSIGN_OR_RETURN(Json * parent, Parent(root, tokens));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) return absl::NotFoundError(absl::StrCat("missing key \"", last, "\""));
    return &*it;
  }
  if (parent->is_array()) {
    ASSIGN_OR_RETURN(size_t index, ArrayIndex(last, parent->size(), false));
    return &(*parent)[index];
  }
  return absl::NotFoundError(absl::StrCat("\"", last, "\" is not inside an object or list"));
}

absl::Status Add(Json& root, const std::vector<std::string>& tokens, Json value) {
  if (tokens.empty()) {
    root = std::move(value);
    return absl::OkStatus();
  }
  ASSIGN_OR_RETURN(Json * parent, Parent(root, tokens));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    (*parent)[last] = std::move(value);
    return absl::OkStatus();
  }
  if (parent->is_array()) {
    ASSIGN_OR_RETURN(size_t index, ArrayIndex(last, parent->size(), true));
    parent->insert(parent->begin() + static_cast<std::ptrdiff_t>(index), std::move(value));
    return absl::OkStatus();
  }
  return absl::NotFoundError(absl::StrCat("\"", last, "\" is not inside an object or list"));
}

absl::StatusOr<Json> Remove(Json& root, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return absl::InvalidArgumentError("cannot remove the whole document");
  ASSIGN_OR_RETURN(Json * parent, Parent(root, tokens));
  const std::string& last = tokens.back();
  if (parent->is_object()) {
    auto it = parent->find(last);
    if (it == parent->end()) return absl::NotFoundError(absl::StrCat("missing key \"", last, "\""));
    Json removed = std::move(*it);
    parent->erase(it);
    return removed;
  }
  if (parent->is_array()) {
    ASSIGN_OR_RETURN(size_t index, ArrayIndex(last, parent->size(), false));
    Json removed = std::move((*parent)[index]);
    parent->erase(parent->begin() + static_cast<std::ptrdiff_t>(index));
    return removed;
  }
  return absl::NotFoundError(absl::StrCat("\"", last, "\" is not inside an object or list"));
}

absl::Status ApplyOne(Json& target, const Json& operation) {
  std::string op = operation["op"].get<std::string>();
  std::string path = operation["path"].get<std::string>();
  ASSIGN_OR_RETURN(std::vector<std::string> tokens, ParsePointer(path));
  if (op == "add") return Add(target, tokens, operation["value"]);
  if (op == "remove") return Remove(target, tokens).status();
  if (op == "replace") {
    ASSIGN_OR_RETURN(Json * node, Find(target, tokens));
    *node = operation["value"];
    return absl::OkStatus();
  }
  if (op == "test") {
    ASSIGN_OR_RETURN(Json * node, Find(target, tokens));
    if (*node != operation["value"]) {
      return absl::FailedPreconditionError(
          absl::StrCat("test failed: value at \"", path, "\" is ", node->dump()));
    }
    return absl::OkStatus();
  }
  std::string from = operation["from"].get<std::string>();
  ASSIGN_OR_RETURN(std::vector<std::string> from_tokens, ParsePointer(from));
  if (op == "move") {
    ASSIGN_OR_RETURN(Json value, Remove(target, from_tokens));
    return Add(target, tokens, std::move(value));
  }
  // copy
  ASSIGN_OR_RETURN(Json * node, Find(target, from_tokens));
  Json value = *node;
  return Add(target, tokens, std::move(value));
}

}  // namespace

absl::Status ValidateJsonPatch(const Json& operations) {
  if (!operations.is_array()) {
    return absl::InvalidArgumentError("a JSON patch must be a list of operations");
  }
  for (const Json& operation : operations) {
    if (!operation.is_object()) {
      return absl::InvalidArgumentError("each JSON patch operation must be a mapping");
    }
    auto op = operation.find("op");
    if (op == operation.end() || !op->is_string()) {
      return absl::InvalidArgumentError("JSON patch operation without \"op\"");
    }
    std::string name = op->get<std::string>();
    if (name != "add" && name != "remove" && name != "replace" && name != "move" &&
        name != "copy" && name != "test") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown JSON patch operation \"", name, "\""));
    }
    auto path = operation.find("path");
    if (path == operation.end() || !path->is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat("JSON patch operation \"", name, "\" without a \"path\""));
    }
    if ((name == "add" || name == "replace" || name == "test") && !operation.contains("value")) {
      return absl::InvalidArgumentError(absl::StrCat("JSON patch operation \"", name, "\" on \"",
                                                     path->get<std::string>(),
                                                     "\" without a \"value\""));
    }
    if ((name == "move" || name == "copy") &&
        (!operation.contains("from") || !operation["from"].is_string())) {
      return absl::InvalidArgumentError(absl::StrCat("JSON patch operation \"", name, "\" on \"",
                                                     path->get<std::string>(),
                                                     "\" without a \"from\""));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyJsonPatch(Json& target, const Json& operations) {
  RETURN_IF_ERROR(ValidateJsonPatch(operations));
  for (const Json& operation : operations) {
    absl::Status status = ApplyOne(target, operation);
    if (!status.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat(operation["op"].get<std::string>(), " operation does not apply to path \"",
                       operation["path"].get<std::string>(), "\": ", status.message()));
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

#include "services/differ/core/field_set.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/key_order.h"
#include "services/differ/core/list_strategy.h"

namespace todoke::differ {
namespace {

constexpr std::string_view kStatusSubresource = "status";

absl::Status Validate(const JsonNode& node) {
  if (!node.is_object()) return absl::InvalidArgumentError("fieldsV1 node is not an object");
  for (const JsonMember& member : node.members()) {
    const std::string_view element = member.key();
    if (element == ".") continue;
    const bool known =
        element.size() >= 2 && element[1] == ':' &&
        (element[0] == 'f' || element[0] == 'k' || element[0] == 'v' || element[0] == 'i');
    if (!known) {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown fieldsV1 path element \"", std::string(element), "\""));
    }
    if (element[0] == 'k' || element[0] == 'v') {
      JsonArena arena;
      absl::StatusOr<const JsonNode*> value = ParseJsonNode(element.substr(2), arena);
      if (!value.ok() || (element[0] == 'k' && !(*value)->is_object())) {
        return absl::InvalidArgumentError(
            absl::StrCat("unparsable fieldsV1 key \"", std::string(element), "\""));
      }
    }
    if (element[0] == 'i') {
      int index = 0;
      if (!absl::SimpleAtoi(absl::string_view(element.data() + 2, element.size() - 2), &index)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad fieldsV1 index \"", std::string(element), "\""));
      }
    }
    absl::Status child = Validate(member.value);
    if (!child.ok()) return child;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FieldSet> FieldSet::Parse(const JsonNode& fields_v1) {
  absl::Status status = Validate(fields_v1);
  if (!status.ok()) return status;
  FieldSet set;
  set.nodes_.push_back(&fields_v1);
  return set;
}

FieldSet FieldSet::OwnedBy(const JsonNode& object, const std::vector<std::string>& managers) {
  FieldSet owned;
  if (managers.empty()) return owned;
  const JsonNode* metadata = object.Find("metadata");
  const JsonNode* managed_fields = metadata != nullptr ? metadata->Find("managedFields") : nullptr;
  if (managed_fields == nullptr) return owned;
  for (const JsonNode& entry : managed_fields->items()) {
    const JsonNode* manager = entry.Find("manager");
    if (manager == nullptr || !manager->is_string()) continue;
    if (std::find(managers.begin(), managers.end(), manager->string()) == managers.end()) continue;
    const JsonNode* subresource = entry.Find("subresource");
    if (subresource != nullptr && subresource->string() == kStatusSubresource) continue;
    const JsonNode* fields = entry.Find("fieldsV1");
    if (fields == nullptr || !fields->is_object()) continue;
    owned.nodes_.push_back(fields);
  }
  return owned;
}

bool FieldSet::IsLeaf() const {
  for (const JsonNode* node : nodes_) {
    if (node->empty()) return true;
  }
  return false;
}

bool FieldSet::OwnsSelf() const {
  for (const JsonNode* node : nodes_) {
    if (node->empty() || node->Find(".") != nullptr) return true;
  }
  return false;
}

FieldSet FieldSet::Element(std::string_view element) const {
  FieldSet child;
  for (const JsonNode* node : nodes_) {
    const JsonNode* found = node->Find(element);
    if (found != nullptr && found->is_object()) child.nodes_.push_back(found);
  }
  return child;
}

FieldSet FieldSet::Field(std::string_view name) const {
  if (nodes_.empty()) return {};
  char buffer[128];
  if (name.size() + 2 <= sizeof(buffer)) {  // no allocation on the hot path
    buffer[0] = 'f';
    buffer[1] = ':';
    name.copy(buffer + 2, name.size());
    return Element(std::string_view(buffer, name.size() + 2));
  }
  std::string element = "f:";
  element.append(name);
  return Element(element);
}

const JsonMember* FieldSet::FirstField(std::span<const JsonMember> members) {
  return std::lower_bound(members.data(), members.data() + members.size(), std::string_view("f:"),
                          [](const JsonMember& member, std::string_view element) {
                            return CompareKeys(member.key(), element) < 0;
                          });
}

FieldSet::FieldCursor::FieldCursor(const FieldSet& set) {
  for (const JsonNode* node : set.nodes_) {
    const std::span<const JsonMember> members = node->members();
    positions_.push_back(Position{FirstField(members), members.data() + members.size()});
  }
}

FieldSet FieldSet::FieldCursor::Field(std::string_view name) {
  FieldSet child;
  for (Position& position : positions_) {
    // Children sort by element; "f:" elements sort among themselves by name.
    for (; position.next != position.end; ++position.next) {
      const std::string_view element = position.next->key();
      if (element.size() < 2 || element[0] != 'f' || element[1] != ':') {
        position.next = position.end;  // past the "f:" elements
        break;
      }
      const int order = CompareKeys(element.substr(2), name);
      if (order < 0) continue;
      if (order == 0 && position.next->value.is_object()) {
        child.nodes_.push_back(&position.next->value);
      }
      break;
    }
  }
  return child;
}

FieldSet FieldSet::Value(const JsonNode& value) const {
  if (nodes_.empty()) return {};
  std::string element = "v:";
  AppendCanonicalJson(element, value);
  return Element(element);
}

void FieldSet::ForEachChild(const std::function<void(ElementKind, std::string_view, const JsonNode&,
                                                     int, const FieldSet&)>& visit) const {
  static constexpr JsonNode kNull;
  for (const JsonNode* node : nodes_) {
    for (const JsonMember& member : node->members()) {
      const std::string_view element = member.key();
      if (element.size() < 2 || element[1] != ':' || !member.value.is_object()) continue;
      FieldSet child;
      child.nodes_.push_back(&member.value);
      const std::string_view rest = element.substr(2);
      switch (element[0]) {
        case 'f':
          visit(ElementKind::kField, rest, kNull, 0, child);
          break;
        case 'k':
        case 'v': {
          JsonArena arena;
          absl::StatusOr<const JsonNode*> value = ParseJsonNode(rest, arena);
          if (!value.ok()) break;
          visit(element[0] == 'k' ? ElementKind::kKey : ElementKind::kValue, rest, **value, 0,
                child);
          break;
        }
        case 'i': {
          int index = 0;
          if (absl::SimpleAtoi(absl::string_view(rest.data(), rest.size()), &index)) {
            visit(ElementKind::kIndex, rest, kNull, index, child);
          }
          break;
        }
        default:
          break;
      }
    }
  }
}

}  // namespace todoke::differ

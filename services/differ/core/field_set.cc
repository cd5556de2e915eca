#include "services/differ/core/field_set.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/key_order.h"
#include "services/differ/core/list_strategy.h"

namespace todoke::differ {
namespace {

constexpr std::string_view kStatusSubresource = "status";

absl::Status Validate(const Json& node) {
  if (!node.is_object()) return absl::InvalidArgumentError("fieldsV1 node is not an object");
  for (auto it = node.begin(); it != node.end(); ++it) {
    const std::string& element = it.key();
    if (element == ".") continue;
    const bool known = element.size() >= 2 && element[1] == ':' &&
                       (element[0] == 'f' || element[0] == 'k' || element[0] == 'v' ||
                        element[0] == 'i');
    if (!known) {
      return absl::InvalidArgumentError(absl::StrCat("unknown fieldsV1 path element \"", element, "\""));
    }
    if (element[0] == 'k' || element[0] == 'v') {
      const Json value = Json::parse(element.begin() + 2, element.end(), nullptr, false);
      if (value.is_discarded() || (element[0] == 'k' && !value.is_object())) {
        return absl::InvalidArgumentError(absl::StrCat("unparsable fieldsV1 key \"", element, "\""));
      }
    }
    if (element[0] == 'i') {
      int index = 0;
      if (!absl::SimpleAtoi(absl::string_view(element).substr(2), &index)) {
        return absl::InvalidArgumentError(absl::StrCat("bad fieldsV1 index \"", element, "\""));
      }
    }
    absl::Status child = Validate(it.value());
    if (!child.ok()) return child;
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FieldSet> FieldSet::Parse(const Json& fields_v1) {
  absl::Status status = Validate(fields_v1);
  if (!status.ok()) return status;
  FieldSet set;
  set.nodes_.push_back(&fields_v1);
  return set;
}

FieldSet FieldSet::OwnedBy(const Json& object, const std::vector<std::string>& managers) {
  FieldSet owned;
  if (managers.empty() || !object.is_object()) return owned;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return owned;
  auto managed_fields = metadata->find("managedFields");
  if (managed_fields == metadata->end() || !managed_fields->is_array()) return owned;
  for (const Json& entry : *managed_fields) {
    if (!entry.is_object()) continue;
    auto manager = entry.find("manager");
    if (manager == entry.end() || !manager->is_string()) continue;
    bool wanted = false;
    for (const std::string& name : managers) {
      if (manager->get_ref<const std::string&>() == name) wanted = true;
    }
    if (!wanted) continue;
    auto subresource = entry.find("subresource");
    if (subresource != entry.end() && *subresource == kStatusSubresource) continue;
    auto fields = entry.find("fieldsV1");
    if (fields == entry.end() || !fields->is_object()) continue;
    owned.nodes_.push_back(&*fields);
  }
  return owned;
}

bool FieldSet::IsLeaf() const {
  for (const Json* node : nodes_) {
    if (node->empty()) return true;
  }
  return false;
}

bool FieldSet::OwnsSelf() const {
  for (const Json* node : nodes_) {
    if (node->empty() || node->contains(".")) return true;
  }
  return false;
}

FieldSet FieldSet::Child(std::string_view element) const {
  FieldSet child;
  for (const Json* node : nodes_) {
    if (!node->is_object()) continue;
    auto it = node->find(element);
    if (it != node->end() && it->is_object()) child.nodes_.push_back(&*it);
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
    return Child(std::string_view(buffer, name.size() + 2));
  }
  std::string element = "f:";
  element.append(name);
  return Child(element);
}

FieldSet::FieldCursor::FieldCursor(const FieldSet& set) {
  for (const Json* node : set.nodes_) {
    if (!node->is_object()) continue;
    const Json::object_t& object = node->get_ref<const Json::object_t&>();
    positions_.push_back(Position{object.lower_bound("f:"), object.end()});
  }
}

FieldSet FieldSet::FieldCursor::Field(std::string_view name) {
  FieldSet child;
  for (Position& position : positions_) {
    // Children sort by element; "f:" elements sort among themselves by name.
    for (; position.next != position.end; ++position.next) {
      const std::string& element = position.next->first;
      if (element.size() < 2 || element[0] != 'f' || element[1] != ':') {
        position.next = position.end;  // past the "f:" elements
        break;
      }
      const int order = CompareKeys(std::string_view(element).substr(2), name);
      if (order < 0) continue;
      if (order == 0 && position.next->second.is_object()) {
        child.nodes_.push_back(&position.next->second);
      }
      break;
    }
  }
  return child;
}

FieldSet FieldSet::KeyText(std::string_view key_text) const {
  if (nodes_.empty()) return {};
  std::string element;
  element.reserve(key_text.size() + 2);
  element.append("k:").append(key_text);
  return Child(element);
}

FieldSet FieldSet::Value(const Json& value) const {
  if (nodes_.empty()) return {};
  std::string element = "v:";
  AppendJsonText(element, value);
  return Child(element);
}

void FieldSet::ForEachChild(const std::function<void(ElementKind, std::string_view, const Json&,
                                                     int, const FieldSet&)>& visit) const {
  static const Json* const kNull = new Json();
  for (const Json* node : nodes_) {
    if (!node->is_object()) continue;
    for (auto it = node->begin(); it != node->end(); ++it) {
      const std::string& element = it.key();
      if (element.size() < 2 || element[1] != ':' || !it.value().is_object()) continue;
      FieldSet child;
      child.nodes_.push_back(&it.value());
      const std::string_view rest = std::string_view(element).substr(2);
      switch (element[0]) {
        case 'f':
          visit(ElementKind::kField, rest, *kNull, 0, child);
          break;
        case 'k':
        case 'v': {
          const Json value = Json::parse(rest.begin(), rest.end(), nullptr, false);
          if (value.is_discarded()) break;
          visit(element[0] == 'k' ? ElementKind::kKey : ElementKind::kValue, rest, value, 0, child);
          break;
        }
        case 'i': {
          int index = 0;
          if (absl::SimpleAtoi(absl::string_view(rest.data(), rest.size()), &index)) {
            visit(ElementKind::kIndex, rest, *kNull, index, child);
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

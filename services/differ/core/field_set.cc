#include "services/differ/core/field_set.h"

#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace todoke::differ {
namespace {

constexpr std::string_view kStatusSubresource = "status";

}  // namespace

FieldSet::FieldSet() = default;
FieldSet::FieldSet(FieldSet&&) noexcept = default;
FieldSet& FieldSet::operator=(FieldSet&&) noexcept = default;
FieldSet::~FieldSet() = default;

absl::StatusOr<FieldSet> FieldSet::Parse(const Json& fields_v1) {
  if (!fields_v1.is_object()) return absl::InvalidArgumentError("fieldsV1 is not an object");
  FieldSet set;
  for (const auto& [element, subtree] : fields_v1.items()) {
    if (element == ".") {
      set.self_ = true;
      continue;
    }
    if (element.size() < 2 || element[1] != ':') {
      return absl::InvalidArgumentError(absl::StrCat("unknown fieldsV1 path element \"", element, "\""));
    }
    const std::string_view rest = std::string_view(element).substr(2);
    Child child;
    switch (element[0]) {
      case 'f':
        child.kind = ElementKind::kField;
        child.name = std::string(rest);
        break;
      case 'k':
      case 'v': {
        child.kind = element[0] == 'k' ? ElementKind::kKey : ElementKind::kValue;
        child.value = Json::parse(rest, nullptr, /*allow_exceptions=*/false);
        if (child.value.is_discarded() || (child.kind == ElementKind::kKey && !child.value.is_object())) {
          return absl::InvalidArgumentError(absl::StrCat("unparsable fieldsV1 key \"", element, "\""));
        }
        break;
      }
      case 'i':
        child.kind = ElementKind::kIndex;
        if (!absl::SimpleAtoi(absl::string_view(rest.data(), rest.size()), &child.index)) {
          return absl::InvalidArgumentError(absl::StrCat("bad fieldsV1 index \"", element, "\""));
        }
        break;
      default:
        return absl::InvalidArgumentError(absl::StrCat("unknown fieldsV1 path element \"", element, "\""));
    }
    auto parsed = Parse(subtree);
    if (!parsed.ok()) return parsed.status();
    child.set = *std::move(parsed);
    set.children_.push_back(std::move(child));
  }
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
    if (fields == entry.end()) continue;
    auto parsed = Parse(*fields);
    if (!parsed.ok()) continue;
    owned.Merge(*std::move(parsed));
  }
  return owned;
}

const FieldSet* FieldSet::Field(std::string_view name) const {
  for (const Child& child : children_) {
    if (child.kind == ElementKind::kField && child.name == name) return &child.set;
  }
  return nullptr;
}

const FieldSet* FieldSet::Key(const Json& key) const {
  for (const Child& child : children_) {
    if (child.kind == ElementKind::kKey && child.value == key) return &child.set;
  }
  return nullptr;
}

const FieldSet* FieldSet::Value(const Json& value) const {
  for (const Child& child : children_) {
    if (child.kind == ElementKind::kValue && child.value == value) return &child.set;
  }
  return nullptr;
}

const FieldSet* FieldSet::Index(int index) const {
  for (const Child& child : children_) {
    if (child.kind == ElementKind::kIndex && child.index == index) return &child.set;
  }
  return nullptr;
}

FieldSet* FieldSet::FindOrAdd(ElementKind kind, std::string_view name, const Json* value, int index) {
  for (Child& child : children_) {
    if (child.kind != kind) continue;
    switch (kind) {
      case ElementKind::kField:
        if (child.name == name) return &child.set;
        break;
      case ElementKind::kKey:
      case ElementKind::kValue:
        if (child.value == *value) return &child.set;
        break;
      case ElementKind::kIndex:
        if (child.index == index) return &child.set;
        break;
    }
  }
  return nullptr;
}

void FieldSet::Merge(FieldSet&& other) {
  self_ = self_ || other.self_;
  for (Child& child : other.children_) {
    FieldSet* existing = FindOrAdd(child.kind, child.name, &child.value, child.index);
    if (existing == nullptr) {
      children_.push_back(std::move(child));
      continue;
    }
    // A leaf owns the whole value: merging a leaf with a subtree keeps the leaf.
    if (existing->IsLeaf()) continue;
    if (child.set.IsLeaf()) {
      *existing = FieldSet();
      existing->self_ = true;
      continue;
    }
    existing->Merge(std::move(child.set));
  }
}

}  // namespace todoke::differ

#include "services/differ/core/compare.h"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "common/key_order.h"
#include "services/differ/core/list_strategy.h"
#include "services/differ/core/quantity.h"

namespace todoke::differ {

bool IsZeroValue(const JsonNode& value) {
  switch (value.type()) {
    case JsonNode::Type::kNull:
      return true;
    case JsonNode::Type::kBool:
      return !value.bool_value();
    case JsonNode::Type::kInt:
      return value.int_value() == 0;
    case JsonNode::Type::kUint:
      return value.uint_value() == 0;
    case JsonNode::Type::kDouble:
      return value.double_value() == 0.0;
    case JsonNode::Type::kString:
      return value.string().empty();
    case JsonNode::Type::kArray:
    case JsonNode::Type::kObject:
      return value.empty();
  }
  return false;
}

namespace {

// Maps whose values are resource quantities in the built-in kinds.
bool IsQuantityMap(std::string_view field_name) {
  return field_name == "limits" || field_name == "requests" || field_name == "hard" ||
         field_name == "capacity" || field_name == "allocatable" || field_name == "overhead" ||
         field_name == "max" || field_name == "min" || field_name == "default" ||
         field_name == "defaultRequest" || field_name == "maxLimitRequestRatio" ||
         field_name == "used";
}

// Finds the values of an object's members for names asked in ascending order. When most keys are
// asked for, it steps through the members once rather than searching for each name (fewer key
// comparisons). A name sorting before the previous one starts over.
class ObjectCursor {
 public:
  ObjectCursor(const JsonNode& object, size_t expected_lookups)
      : object_(object),
        next_(object.members().data()),
        end_(next_ + object.members().size()),
        stepping_(object.size() <= 4 * expected_lookups + 4) {}

  // The value of key `name`, or nullptr.
  const JsonNode* Find(std::string_view name) {
    if (!stepping_) return object_.Find(name);
    if (CompareKeys(name, previous_) < 0) next_ = object_.members().data();
    previous_ = name;
    for (; next_ != end_; ++next_) {
      const int order = CompareKeys(next_->key(), name);
      if (order < 0) continue;
      return order == 0 ? &next_->value : nullptr;
    }
    return nullptr;
  }

 private:
  const JsonNode& object_;
  const JsonMember* next_;
  const JsonMember* const end_;
  std::string_view previous_;
  const bool stepping_;
};

// The merge keys of a list's items as fieldsV1 path elements ("k:" + AppendMergeKeyText), kept back
// to back in one buffer: one allocation per list rather than one per item.
class ItemKeys {
 public:
  // False when an item lacks a key field or two items share a key: the list is then compared by
  // position (the API server would reject such an apply anyway).
  bool Build(const ListStrategy& strategy, const JsonNode& items) {
    text_.reserve(items.size() * 32);
    ends_.reserve(items.size());
    for (const JsonNode& item : items.items()) {
      text_.append("k:");
      if (!AppendMergeKeyText(text_, strategy, item)) return false;
      ends_.push_back(text_.size());
      const std::string_view key = Element(ends_.size() - 1);
      // Lists are short (containers, env, ports): a quadratic duplicate check beats hashing.
      for (size_t i = 0; i + 1 < ends_.size(); ++i) {
        if (CompareKeys(Element(i), key) == 0) return false;
      }
    }
    return true;
  }

  // Item `i`'s key as a fieldsV1 element: k:{"name":"web"}.
  std::string_view Element(size_t i) const {
    const size_t start = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(text_).substr(start, ends_[i] - start);
  }

 private:
  std::string text_;
  absl::InlinedVector<size_t, 8> ends_;
};

class Walker {
 public:
  explicit Walker(CompareResult& result) : result_(result) { path_.reserve(16); }

  // What applies at one node: ownership by the applier, ownership by ignored managers, and the
  // ignored pointers below it.
  struct Context {
    FieldSet owned;
    FieldSet ignored;
    const PointerTrie::Node* pointers = nullptr;
  };

  void Value(const JsonNode& desired, const JsonNode& live, const Context& context,
             std::string_view field_name, bool quantity) {
    if (desired.is_object()) {
      if (live.is_object()) {
        Map(desired, live, context, field_name);
      } else {
        Drift("replace", &desired);
      }
    } else if (desired.is_array()) {
      if (live.is_array()) {
        List(desired, live, context, field_name);
      } else {
        Drift("replace", &desired);
      }
    } else if (desired != live && !(quantity && QuantitiesEqual(desired, live))) {
      Drift("replace", &desired);
    }
  }

 private:
  // One step of the path being walked; the JSON pointer text is only built for a drift.
  struct PathStep {
    enum class Kind { kField, kIndex, kAppend };
    Kind kind;
    std::string_view field;  // kField; views a key of the objects walked
    size_t index = 0;        // kIndex
  };

  // Adds a path step for the lifetime of the scope.
  class StepScope {
   public:
    StepScope(std::vector<PathStep>& path, PathStep step) : path_(path) { path_.push_back(step); }
    ~StepScope() { path_.pop_back(); }
    StepScope(const StepScope&) = delete;
    StepScope& operator=(const StepScope&) = delete;

   private:
    std::vector<PathStep>& path_;
  };

  static PathStep FieldStep(std::string_view name) {
    return PathStep{PathStep::Kind::kField, name, 0};
  }
  static PathStep IndexStep(size_t index) { return PathStep{PathStep::Kind::kIndex, {}, index}; }
  static PathStep AppendStep() { return PathStep{PathStep::Kind::kAppend, {}, 0}; }

  // The context for field `name` of a map; false when the field is ignored entirely.
  // `owned_fields`, when given, is a cursor over parent.owned's fields (names in ascending order).
  static bool FieldContext(const Context& parent, std::string_view name,
                           FieldSet::FieldCursor* owned_fields, Context& child) {
    if (parent.pointers != nullptr) {
      child.pointers = parent.pointers->Child(name);
      if (child.pointers != nullptr && child.pointers->terminal) return false;
    }
    if (!parent.ignored.empty()) {
      child.ignored = parent.ignored.Field(name);
      if (!child.ignored.empty() && child.ignored.IsLeaf()) return false;
    }
    if (!parent.owned.empty()) {
      child.owned = owned_fields != nullptr ? owned_fields->Field(name) : parent.owned.Field(name);
    }
    return true;
  }

  // The context for a list item known by `index` (and `other_index`, its position on the other
  // side) and by `key_element` (merge key as a fieldsV1 element) or `set_value` (set lists); both
  // null for atomic lists.
  static bool ItemContext(const Context& parent, size_t index, size_t other_index,
                          const std::string_view* key_element, const JsonNode* set_value,
                          Context& child) {
    if (parent.pointers != nullptr) {
      child.pointers = parent.pointers->Child(std::to_string(index));
      if (child.pointers == nullptr && other_index != index) {
        child.pointers = parent.pointers->Child(std::to_string(other_index));
      }
      if (child.pointers != nullptr && child.pointers->terminal) return false;
    }
    auto lookup = [&](const FieldSet& set) {
      return key_element != nullptr ? set.Element(*key_element) : set.Value(*set_value);
    };
    if (key_element != nullptr || set_value != nullptr) {
      if (!parent.ignored.empty()) {
        child.ignored = lookup(parent.ignored);
        if (!child.ignored.empty() && child.ignored.IsLeaf()) return false;
      }
      if (!parent.owned.empty()) child.owned = lookup(parent.owned);
    }
    return true;
  }

  void Map(const JsonNode& desired, const JsonNode& live, const Context& context,
           std::string_view field_name) {
    const bool quantity_map = IsQuantityMap(field_name);
    // Keys come in ascending order: walk the live keys and the owned fields alongside.
    FieldSet::FieldCursor owned_fields(context.owned);
    ObjectCursor live_cursor(live, desired.size());
    for (const JsonMember& member : desired.members()) {
      const std::string_view name = member.key();
      const JsonNode& desired_value = member.value;
      if (desired_value.is_null()) continue;  // null in an apply means "not set"
      Context child;
      if (!FieldContext(context, name, &owned_fields, child)) continue;
      StepScope step(path_, FieldStep(name));
      const JsonNode* live_value = live_cursor.Find(name);
      if (live_value == nullptr || live_value->is_null()) {
        if (!IsZeroValue(desired_value)) Drift("add", &desired_value);
      } else {
        Value(desired_value, *live_value, child, name, quantity_map || name == "sizeLimit");
      }
    }
    if (context.owned.empty()) return;
    // Fields the applier owned that desired no longer sets: the next apply removes them.
    ObjectCursor desired_cursor(desired, desired.size());
    context.owned.ForEachField([&](std::string_view name, const FieldSet& owned) {
      const JsonNode* desired_value = desired_cursor.Find(name);
      if (desired_value != nullptr && !desired_value->is_null()) return;
      const JsonNode* live_value = live.Find(name);
      if (live_value == nullptr || live_value->is_null()) return;
      Context child;
      if (!FieldContext(context, name, nullptr, child)) return;
      StepScope step(path_, FieldStep(name));
      RemoveOwned(*live_value, owned, child);
    });
  }

  void List(const JsonNode& desired, const JsonNode& live, const Context& context,
            std::string_view field_name) {
    ListStrategy strategy = ListStrategyFor(field_name, desired, live);
    if (strategy.kind == ListStrategy::Kind::kMap) {
      ItemKeys desired_keys;
      ItemKeys live_keys;
      if (desired_keys.Build(strategy, desired) && live_keys.Build(strategy, live)) {
        AssociativeList(desired, live, desired_keys, live_keys, context);
        return;
      }
    } else if (strategy.kind == ListStrategy::Kind::kSet) {
      SetList(desired, live, context);
      return;
    }
    AtomicList(desired, live, context);
  }

  void AtomicList(const JsonNode& desired, const JsonNode& live, const Context& context) {
    if (desired.size() != live.size()) {
      Drift("replace", &desired);
      return;
    }
    // Lists of scalars (args, command, accessModes) are replaced whole, as an apply does.
    bool all_scalars = true;
    for (const JsonNode& item : desired.items()) all_scalars = all_scalars && item.is_primitive();
    if (all_scalars) {
      if (desired != live) Drift("replace", &desired);
      return;
    }
    for (size_t i = 0; i < desired.size(); ++i) {
      Context child;
      if (!ItemContext(context, i, i, nullptr, nullptr, child)) continue;
      StepScope step(path_, IndexStep(i));
      Value(desired[i], live[i], child, "", false);
    }
  }

  void AssociativeList(const JsonNode& desired, const JsonNode& live, const ItemKeys& desired_keys,
                       const ItemKeys& live_keys, const Context& context) {
    absl::InlinedVector<bool, 16> live_matched(live.size(), false);
    absl::InlinedVector<size_t, 4> appended;
    for (size_t d = 0; d < desired.size(); ++d) {
      const std::string_view desired_key = desired_keys.Element(d);
      size_t l = 0;
      while (l < live.size() && CompareKeys(live_keys.Element(l), desired_key) != 0) ++l;
      const bool found = l < live.size();
      if (found) live_matched[l] = true;
      Context child;
      if (!ItemContext(context, d, found ? l : d, &desired_key, nullptr, child)) continue;
      if (!found) {
        appended.push_back(d);
        continue;
      }
      StepScope step(path_, IndexStep(l));
      Value(desired[d], live[l], child, "", false);
    }
    if (!context.owned.empty()) {
      for (size_t l = live.size(); l-- > 0;) {
        if (live_matched[l]) continue;
        const std::string_view live_key = live_keys.Element(l);
        if (context.owned.Element(live_key).empty()) continue;
        Context child;
        if (!ItemContext(context, l, l, &live_key, nullptr, child)) continue;
        StepScope step(path_, IndexStep(l));
        Drift("remove", nullptr);
      }
    }
    for (size_t d : appended) {
      StepScope step(path_, AppendStep());
      Drift("add", &desired[d]);
    }
  }

  void SetList(const JsonNode& desired, const JsonNode& live, const Context& context) {
    auto contains = [](const JsonNode& list, const JsonNode& value) {
      return std::find(list.items().begin(), list.items().end(), value) != list.items().end();
    };
    if (!context.owned.empty()) {
      for (size_t l = live.size(); l-- > 0;) {
        if (contains(desired, live[l]) || context.owned.Value(live[l]).empty()) continue;
        Context child;
        if (!ItemContext(context, l, l, nullptr, &live[l], child)) continue;
        StepScope step(path_, IndexStep(l));
        Drift("remove", nullptr);
      }
    }
    for (size_t d = 0; d < desired.size(); ++d) {
      if (contains(live, desired[d])) continue;
      Context child;
      if (!ItemContext(context, d, d, nullptr, &desired[d], child)) continue;
      StepScope step(path_, AppendStep());
      Drift("add", &desired[d]);
    }
  }

  // `live` (at path_) holds fields the applier owned (`owned`) that desired no longer sets.
  void RemoveOwned(const JsonNode& live, const FieldSet& owned, const Context& context) {
    if (owned.IsLeaf()) {
      Drift("remove", nullptr);
      return;
    }
    if (live.is_object()) {
      owned.ForEachField([&](std::string_view name, const FieldSet& child_set) {
        const JsonNode* live_value = live.Find(name);
        if (live_value == nullptr || live_value->is_null()) return;
        Context child;
        if (!FieldContext(context, name, nullptr, child)) return;
        StepScope step(path_, FieldStep(name));
        RemoveOwned(*live_value, child_set, child);
      });
      return;
    }
    if (!live.is_array()) {
      Drift("remove", nullptr);
      return;
    }
    // List items the applier created: removed whole, highest index first.
    std::vector<size_t> removed;
    owned.ForEachChild([&](FieldSet::ElementKind kind, std::string_view, const JsonNode& value,
                           int index, const FieldSet&) {
      for (size_t l = 0; l < live.size(); ++l) {
        bool match = false;
        switch (kind) {
          case FieldSet::ElementKind::kKey:
            match = ItemHasKey(live[l], value);
            break;
          case FieldSet::ElementKind::kValue:
            match = live[l] == value;
            break;
          case FieldSet::ElementKind::kIndex:
            match = static_cast<size_t>(index) == l;
            break;
          case FieldSet::ElementKind::kField:
            break;
        }
        if (!match) continue;
        Context child;
        if (ItemContext(context, l, l, nullptr, nullptr, child)) removed.push_back(l);
        break;
      }
    });
    std::sort(removed.begin(), removed.end(), std::greater<>());
    removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
    for (size_t l : removed) {
      StepScope step(path_, IndexStep(l));
      Drift("remove", nullptr);
    }
  }

  static bool ItemHasKey(const JsonNode& item, const JsonNode& key) {
    if (!item.is_object()) return false;
    for (const JsonMember& key_field : key.members()) {
      const JsonNode* field = item.Find(key_field.key());
      if (field == nullptr || !(*field == key_field.value)) return false;
    }
    return true;
  }

  // The JSON pointer of the current path.
  std::string PathText() const {
    std::string text;
    for (const PathStep& step : path_) {
      switch (step.kind) {
        case PathStep::Kind::kField:
          AppendPointerToken(text, absl::string_view(step.field.data(), step.field.size()));
          break;
        case PathStep::Kind::kIndex:
          absl::StrAppend(&text, "/", step.index);
          break;
        case PathStep::Kind::kAppend:
          text.append("/-");
          break;
      }
    }
    return text;
  }

  void Drift(const char* op, const JsonNode* value) {
    result_.equal = false;
    Json operation = Json::object();
    operation["op"] = op;
    operation["path"] = PathText();
    if (value != nullptr) operation["value"] = ToJson(*value);
    result_.patch.push_back(std::move(operation));
  }

  CompareResult& result_;
  std::vector<PathStep> path_;
};

}  // namespace

CompareResult CompareObjects(const JsonNode& desired, const JsonNode& live,
                             const CompareInputs& inputs) {
  CompareResult result;
  Walker::Context root;
  if (inputs.applier_owned != nullptr) root.owned = *inputs.applier_owned;
  if (inputs.ignored_fields != nullptr) root.ignored = *inputs.ignored_fields;
  root.pointers = inputs.ignored_pointers;
  if (root.pointers != nullptr && root.pointers->terminal) return result;  // "" ignores it all
  try {
    Walker(result).Value(desired, live, root, "", false);
  } catch (const std::exception& e) {
    // Only allocation can fail here; keep the no-exception contract anyway.
    result.equal = false;
    result.patch = Json::array();
  }
  return result;
}

}  // namespace todoke::differ

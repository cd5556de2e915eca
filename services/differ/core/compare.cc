#include "services/differ/core/compare.h"

#include <algorithm>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "services/differ/core/list_strategy.h"
#include "services/differ/core/quantity.h"

namespace todoke::differ {

bool IsZeroValue(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return true;
    case Json::value_t::boolean:
      return !value.get<bool>();
    case Json::value_t::number_integer:
      return value.get<int64_t>() == 0;
    case Json::value_t::number_unsigned:
      return value.get<uint64_t>() == 0;
    case Json::value_t::number_float:
      return value.get<double>() == 0.0;
    case Json::value_t::string:
      return value.get_ref<const std::string&>().empty();
    case Json::value_t::object:
    case Json::value_t::array:
      return value.empty();
    default:
      return false;
  }
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

class Walker {
 public:
  explicit Walker(CompareResult& result) : result_(result) { path_.reserve(256); }

  // What applies at one node: ownership by the applier, ownership by ignored managers, and the
  // ignored pointers below it.
  struct Context {
    const FieldSet* owned = nullptr;
    const FieldSet* ignored = nullptr;
    const PointerTrie::Node* pointers = nullptr;
  };

  void Value(const Json& desired, const Json& live, const Context& context,
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
  // The context for field `name` of a map; false when the field is ignored entirely.
  static bool FieldContext(const Context& parent, std::string_view name, Context& child) {
    if (parent.pointers != nullptr) {
      child.pointers = parent.pointers->Child(name);
      if (child.pointers != nullptr && child.pointers->terminal) return false;
    }
    if (parent.ignored != nullptr) {
      child.ignored = parent.ignored->Field(name);
      if (child.ignored != nullptr && child.ignored->IsLeaf()) return false;
    }
    if (parent.owned != nullptr) child.owned = parent.owned->Field(name);
    return true;
  }

  // The context for a list item known by `index` (and `other_index`, its position on the other
  // side) and by `key` (merge key or set value; null for atomic lists).
  static bool ItemContext(const Context& parent, size_t index, size_t other_index, const Json* key,
                          bool set_value, Context& child) {
    if (parent.pointers != nullptr) {
      child.pointers = parent.pointers->Child(std::to_string(index));
      if (child.pointers == nullptr && other_index != index) {
        child.pointers = parent.pointers->Child(std::to_string(other_index));
      }
      if (child.pointers != nullptr && child.pointers->terminal) return false;
    }
    if (key != nullptr) {
      if (parent.ignored != nullptr) {
        child.ignored = set_value ? parent.ignored->Value(*key) : parent.ignored->Key(*key);
        if (child.ignored != nullptr && child.ignored->IsLeaf()) return false;
      }
      if (parent.owned != nullptr) {
        child.owned = set_value ? parent.owned->Value(*key) : parent.owned->Key(*key);
      }
    }
    return true;
  }

  void Map(const Json& desired, const Json& live, const Context& context,
           std::string_view field_name) {
    const bool quantity_map = IsQuantityMap(field_name);
    const size_t mark = path_.size();
    for (auto it = desired.begin(); it != desired.end(); ++it) {
      const std::string& name = it.key();
      const Json& desired_value = it.value();
      if (desired_value.is_null()) continue;  // null in an apply means "not set"
      Context child;
      if (!FieldContext(context, name, child)) continue;
      AppendPointerToken(path_, name);
      auto live_it = live.find(name);
      if (live_it == live.end() || live_it->is_null()) {
        if (!IsZeroValue(desired_value)) Drift("add", &desired_value);
      } else {
        Value(desired_value, *live_it, child, name, quantity_map || name == "sizeLimit");
      }
      path_.resize(mark);
    }
    if (context.owned == nullptr) return;
    // Fields the applier owned that desired no longer sets: the next apply removes them.
    for (const FieldSet::Child& owned : context.owned->children()) {
      if (owned.kind != FieldSet::ElementKind::kField) continue;
      auto desired_it = desired.find(owned.name);
      if (desired_it != desired.end() && !desired_it->is_null()) continue;
      auto live_it = live.find(owned.name);
      if (live_it == live.end() || live_it->is_null()) continue;
      Context child;
      if (!FieldContext(context, owned.name, child)) continue;
      AppendPointerToken(path_, owned.name);
      RemoveOwned(*live_it, owned.set, child);
      path_.resize(mark);
    }
  }

  void List(const Json& desired, const Json& live, const Context& context,
            std::string_view field_name) {
    ListStrategy strategy = ListStrategyFor(field_name, desired, live);
    if (strategy.kind == ListStrategy::Kind::kMap) {
      std::optional<std::vector<Json>> desired_keys = MergeKeysOf(strategy, desired);
      std::optional<std::vector<Json>> live_keys;
      if (desired_keys) live_keys = MergeKeysOf(strategy, live);
      if (desired_keys && live_keys) {
        AssociativeList(desired, live, *desired_keys, *live_keys, context);
        return;
      }
    } else if (strategy.kind == ListStrategy::Kind::kSet) {
      SetList(desired, live, context);
      return;
    }
    AtomicList(desired, live, context);
  }

  void AtomicList(const Json& desired, const Json& live, const Context& context) {
    if (desired.size() != live.size()) {
      Drift("replace", &desired);
      return;
    }
    // Lists of scalars (args, command, accessModes) are replaced whole, as an apply does.
    bool all_scalars = true;
    for (const Json& item : desired) all_scalars = all_scalars && item.is_primitive();
    if (all_scalars) {
      if (desired != live) Drift("replace", &desired);
      return;
    }
    const size_t mark = path_.size();
    for (size_t i = 0; i < desired.size(); ++i) {
      Context child;
      if (!ItemContext(context, i, i, nullptr, false, child)) continue;
      absl::StrAppend(&path_, "/", i);
      Value(desired[i], live[i], child, "", false);
      path_.resize(mark);
    }
  }

  void AssociativeList(const Json& desired, const Json& live, const std::vector<Json>& desired_keys,
                       const std::vector<Json>& live_keys, const Context& context) {
    const size_t mark = path_.size();
    std::vector<bool> live_matched(live.size(), false);
    std::vector<size_t> appended;
    for (size_t d = 0; d < desired.size(); ++d) {
      size_t l = 0;
      while (l < live.size() && live_keys[l] != desired_keys[d]) ++l;
      const bool found = l < live.size();
      if (found) live_matched[l] = true;
      Context child;
      if (!ItemContext(context, d, found ? l : d, &desired_keys[d], false, child)) continue;
      if (!found) {
        appended.push_back(d);
        continue;
      }
      absl::StrAppend(&path_, "/", l);
      Value(desired[d], live[l], child, "", false);
      path_.resize(mark);
    }
    if (context.owned != nullptr) {
      for (size_t l = live.size(); l-- > 0;) {
        if (live_matched[l]) continue;
        const FieldSet* owned = context.owned->Key(live_keys[l]);
        if (owned == nullptr) continue;
        Context child;
        if (!ItemContext(context, l, l, &live_keys[l], false, child)) continue;
        absl::StrAppend(&path_, "/", l);
        Drift("remove", nullptr);
        path_.resize(mark);
      }
    }
    for (size_t d : appended) {
      path_.append("/-");
      Drift("add", &desired[d]);
      path_.resize(mark);
    }
  }

  void SetList(const Json& desired, const Json& live, const Context& context) {
    const size_t mark = path_.size();
    auto contains = [](const Json& list, const Json& value) {
      return std::find(list.begin(), list.end(), value) != list.end();
    };
    if (context.owned != nullptr) {
      for (size_t l = live.size(); l-- > 0;) {
        if (contains(desired, live[l]) || context.owned->Value(live[l]) == nullptr) continue;
        Context child;
        if (!ItemContext(context, l, l, &live[l], true, child)) continue;
        absl::StrAppend(&path_, "/", l);
        Drift("remove", nullptr);
        path_.resize(mark);
      }
    }
    for (size_t d = 0; d < desired.size(); ++d) {
      if (contains(live, desired[d])) continue;
      Context child;
      if (!ItemContext(context, d, d, &desired[d], true, child)) continue;
      path_.append("/-");
      Drift("add", &desired[d]);
      path_.resize(mark);
    }
  }

  // `live` (at path_) holds fields the applier owned (`owned`) that desired no longer sets.
  void RemoveOwned(const Json& live, const FieldSet& owned, const Context& context) {
    if (owned.IsLeaf()) {
      Drift("remove", nullptr);
      return;
    }
    const size_t mark = path_.size();
    if (live.is_object()) {
      for (const FieldSet::Child& child_set : owned.children()) {
        if (child_set.kind != FieldSet::ElementKind::kField) continue;
        auto live_it = live.find(child_set.name);
        if (live_it == live.end() || live_it->is_null()) continue;
        Context child;
        if (!FieldContext(context, child_set.name, child)) continue;
        AppendPointerToken(path_, child_set.name);
        RemoveOwned(*live_it, child_set.set, child);
        path_.resize(mark);
      }
      return;
    }
    if (!live.is_array()) {
      Drift("remove", nullptr);
      return;
    }
    // List items the applier created: removed whole, highest index first.
    std::vector<size_t> removed;
    for (const FieldSet::Child& child_set : owned.children()) {
      for (size_t l = 0; l < live.size(); ++l) {
        bool match = false;
        switch (child_set.kind) {
          case FieldSet::ElementKind::kKey:
            match = ItemHasKey(live[l], child_set.value);
            break;
          case FieldSet::ElementKind::kValue:
            match = live[l] == child_set.value;
            break;
          case FieldSet::ElementKind::kIndex:
            match = static_cast<size_t>(child_set.index) == l;
            break;
          case FieldSet::ElementKind::kField:
            break;
        }
        if (!match) continue;
        Context child;
        if (ItemContext(context, l, l, nullptr, false, child)) removed.push_back(l);
        break;
      }
    }
    std::sort(removed.begin(), removed.end(), std::greater<>());
    removed.erase(std::unique(removed.begin(), removed.end()), removed.end());
    for (size_t l : removed) {
      absl::StrAppend(&path_, "/", l);
      Drift("remove", nullptr);
      path_.resize(mark);
    }
  }

  static bool ItemHasKey(const Json& item, const Json& key) {
    if (!item.is_object()) return false;
    for (auto it = key.begin(); it != key.end(); ++it) {
      auto field = item.find(it.key());
      if (field == item.end() || *field != it.value()) return false;
    }
    return true;
  }

  void Drift(const char* op, const Json* value) {
    result_.equal = false;
    Json operation = Json::object();
    operation["op"] = op;
    operation["path"] = path_;
    if (value != nullptr) operation["value"] = *value;
    result_.patch.push_back(std::move(operation));
  }

  CompareResult& result_;
  std::string path_;
};

}  // namespace

CompareResult CompareObjects(const Json& desired, const Json& live, const CompareInputs& inputs) {
  CompareResult result;
  Walker::Context root;
  root.owned = inputs.applier_owned != nullptr && !inputs.applier_owned->empty()
                   ? inputs.applier_owned
                   : nullptr;
  root.ignored = inputs.ignored_fields != nullptr && !inputs.ignored_fields->empty()
                     ? inputs.ignored_fields
                     : nullptr;
  root.pointers = inputs.ignored_pointers;
  if (root.pointers != nullptr && root.pointers->terminal) return result;  // "" ignores it all
  try {
    Walker(result).Value(desired, live, root, "", false);
  } catch (const std::exception& e) {
    // nlohmann only throws on type confusion, which the walk checks before every access; keep the
    // no-exception contract anyway.
    result.equal = false;
    result.patch = Json::array();
  }
  return result;
}

}  // namespace todoke::differ

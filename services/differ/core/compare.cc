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
    FieldSet owned;
    FieldSet ignored;
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
    if (!parent.ignored.empty()) {
      child.ignored = parent.ignored.Field(name);
      if (!child.ignored.empty() && child.ignored.IsLeaf()) return false;
    }
    if (!parent.owned.empty()) child.owned = parent.owned.Field(name);
    return true;
  }

  // The context for a list item known by `index` (and `other_index`, its position on the other
  // side) and by `key_text` (merge key text) or `set_value` (set lists); both null for atomic lists.
  static bool ItemContext(const Context& parent, size_t index, size_t other_index,
                          const std::string* key_text, const Json* set_value, Context& child) {
    if (parent.pointers != nullptr) {
      child.pointers = parent.pointers->Child(std::to_string(index));
      if (child.pointers == nullptr && other_index != index) {
        child.pointers = parent.pointers->Child(std::to_string(other_index));
      }
      if (child.pointers != nullptr && child.pointers->terminal) return false;
    }
    auto lookup = [&](const FieldSet& set) {
      return key_text != nullptr ? set.KeyText(*key_text) : set.Value(*set_value);
    };
    if (key_text != nullptr || set_value != nullptr) {
      if (!parent.ignored.empty()) {
        child.ignored = lookup(parent.ignored);
        if (!child.ignored.empty() && child.ignored.IsLeaf()) return false;
      }
      if (!parent.owned.empty()) child.owned = lookup(parent.owned);
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
    if (context.owned.empty()) return;
    // Fields the applier owned that desired no longer sets: the next apply removes them.
    context.owned.ForEachField([&](std::string_view name, const FieldSet& owned) {
      auto desired_it = desired.find(name);
      if (desired_it != desired.end() && !desired_it->is_null()) return;
      auto live_it = live.find(name);
      if (live_it == live.end() || live_it->is_null()) return;
      Context child;
      if (!FieldContext(context, name, child)) return;
      AppendPointerToken(path_, name);
      RemoveOwned(*live_it, owned, child);
      path_.resize(mark);
    });
  }

  void List(const Json& desired, const Json& live, const Context& context,
            std::string_view field_name) {
    ListStrategy strategy = ListStrategyFor(field_name, desired, live);
    if (strategy.kind == ListStrategy::Kind::kMap) {
      std::optional<std::vector<std::string>> desired_keys = MergeKeyTexts(strategy, desired);
      std::optional<std::vector<std::string>> live_keys;
      if (desired_keys) live_keys = MergeKeyTexts(strategy, live);
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
      if (!ItemContext(context, i, i, nullptr, nullptr, child)) continue;
      absl::StrAppend(&path_, "/", i);
      Value(desired[i], live[i], child, "", false);
      path_.resize(mark);
    }
  }

  void AssociativeList(const Json& desired, const Json& live,
                       const std::vector<std::string>& desired_keys,
                       const std::vector<std::string>& live_keys, const Context& context) {
    const size_t mark = path_.size();
    std::vector<bool> live_matched(live.size(), false);
    std::vector<size_t> appended;
    for (size_t d = 0; d < desired.size(); ++d) {
      size_t l = 0;
      while (l < live.size() && live_keys[l] != desired_keys[d]) ++l;
      const bool found = l < live.size();
      if (found) live_matched[l] = true;
      Context child;
      if (!ItemContext(context, d, found ? l : d, &desired_keys[d], nullptr, child)) continue;
      if (!found) {
        appended.push_back(d);
        continue;
      }
      absl::StrAppend(&path_, "/", l);
      Value(desired[d], live[l], child, "", false);
      path_.resize(mark);
    }
    if (!context.owned.empty()) {
      for (size_t l = live.size(); l-- > 0;) {
        if (live_matched[l]) continue;
        if (context.owned.KeyText(live_keys[l]).empty()) continue;
        Context child;
        if (!ItemContext(context, l, l, &live_keys[l], nullptr, child)) continue;
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
    if (!context.owned.empty()) {
      for (size_t l = live.size(); l-- > 0;) {
        if (contains(desired, live[l]) || context.owned.Value(live[l]).empty()) continue;
        Context child;
        if (!ItemContext(context, l, l, nullptr, &live[l], child)) continue;
        absl::StrAppend(&path_, "/", l);
        Drift("remove", nullptr);
        path_.resize(mark);
      }
    }
    for (size_t d = 0; d < desired.size(); ++d) {
      if (contains(live, desired[d])) continue;
      Context child;
      if (!ItemContext(context, d, d, nullptr, &desired[d], child)) continue;
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
      owned.ForEachField([&](std::string_view name, const FieldSet& child_set) {
        auto live_it = live.find(name);
        if (live_it == live.end() || live_it->is_null()) return;
        Context child;
        if (!FieldContext(context, name, child)) return;
        AppendPointerToken(path_, name);
        RemoveOwned(*live_it, child_set, child);
        path_.resize(mark);
      });
      return;
    }
    if (!live.is_array()) {
      Drift("remove", nullptr);
      return;
    }
    // List items the applier created: removed whole, highest index first.
    std::vector<size_t> removed;
    owned.ForEachChild([&](FieldSet::ElementKind kind, std::string_view, const Json& value,
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
  if (inputs.applier_owned != nullptr) root.owned = *inputs.applier_owned;
  if (inputs.ignored_fields != nullptr) root.ignored = *inputs.ignored_fields;
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

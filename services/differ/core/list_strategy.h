// How the differ pairs the items of a list, following the list types the Kubernetes API declares
// for its built-in kinds (patchMergeKey / listMapKey in k8s.io/api): by merge key
// (containers by name, ports by containerPort+protocol, ...), as a set (finalizers), or by
// position (atomic lists such as args, tolerations).
#ifndef TODOKE_SERVICES_DIFFER_CORE_LIST_STRATEGY_H_
#define TODOKE_SERVICES_DIFFER_CORE_LIST_STRATEGY_H_

#include <string>
#include <string_view>
#include <vector>

#include "common/json_tree.h"

namespace todoke::differ {

// One key field of an associative list, with the value the API server defaults it to (e.g. a
// port's protocol is "TCP" when unset); `default_value` null means "no default".
struct MergeKeyField {
  std::string_view name;
  const JsonNode* default_value = nullptr;
};

struct ListStrategy {
  enum class Kind { kAtomic, kMap, kSet };
  Kind kind = Kind::kAtomic;
  std::vector<MergeKeyField> key_fields;  // kMap only; sorted by name
};

// The strategy for the list held by field `field_name`, given its items on both sides.
ListStrategy ListStrategyFor(std::string_view field_name, const JsonNode& desired_items,
                             const JsonNode& live_items);

// Appends the key of `item` under `strategy` (kMap) to `out` as compact JSON of the key fields
// sorted by name, defaults applied: exactly as fieldsV1 spells it after "k:", e.g.
// {"containerPort":80,"protocol":"TCP"}. Returns false, leaving `out` with some of the text
// appended, when a key field is missing.
bool AppendMergeKeyText(std::string& out, const ListStrategy& strategy, const JsonNode& item);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_LIST_STRATEGY_H_

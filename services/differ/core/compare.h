// The comparison walk: desired against live with server-side-apply semantics, producing an
// RFC 6902 patch. Pure functions over already-normalised objects; `differ.h` is the entry point
// most callers want.
//
// Rules, per value the desired object sets:
//  - maps: each field desired sets is compared; live-only fields are drift only when the applying
//    manager owned them (they would be removed by the next apply);
//  - associative lists (containers, env, ports...; see list_strategy.h): items paired by merge key,
//    order ignored; live-only items are drift only when owned by the applying manager;
//  - set lists (finalizers): membership; live-only values are drift only when owned;
//  - atomic lists: same length, items compared by position with the same subset semantics
//    (the server defaults fields inside items);
//  - scalars: equal JSON values (int 80 and string "80" differ); inside resource maps
//    (requests, limits, hard, capacity...) and sizeLimit, equal quantities ("1000m" == "1");
//  - a desired zero value (null, "", 0, false, {}, []) matches an absent live field: the API server
//    omits empty optional fields.
#ifndef TODOKE_SERVICES_DIFFER_CORE_COMPARE_H_
#define TODOKE_SERVICES_DIFFER_CORE_COMPARE_H_

#include "common/json_tree.h"
#include "common/object.h"
#include "services/differ/core/field_set.h"
#include "services/differ/core/json_pointer.h"

namespace todoke::differ {

struct CompareInputs {
  // Fields the applying manager ("todoke") owns in the live object; null when none.
  const FieldSet* applier_owned = nullptr;
  // Fields owned by managers listed in ignore rules (managedFieldsManagers); null when none.
  const FieldSet* ignored_fields = nullptr;
  // Paths never compared: the normalised metadata plus the rules' JSON pointers; null when none.
  // Pointer tokens at list levels match the item's index in either object.
  const PointerTrie::Node* ignored_pointers = nullptr;
};

struct CompareResult {
  bool equal = true;
  // RFC 6902 operations turning `live` into the state after applying `desired` (array).
  // Paths index lists by live positions; removals come highest index first, then appends ("/-").
  Json patch = Json::array();
};

// Compares `desired` with `live` (both JSON objects). Never throws.
CompareResult CompareObjects(const JsonNode& desired, const JsonNode& live,
                             const CompareInputs& inputs);

// True for null, "", 0, false, {} and []: values the API server drops from optional fields.
bool IsZeroValue(const JsonNode& value);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_COMPARE_H_

// Server-side apply field sets: the `fieldsV1` trees of `metadata.managedFields`, read in place so
// the differ can ask "did this manager own this field / list item?" without copying anything.
//
// fieldsV1 format (sigs.k8s.io/structured-merge-diff): a JSON object whose keys are path elements:
//   "f:<name>"        a field of a map
//   "k:<json object>" an item of an associative list, by its key fields, sorted by name:
//                     k:{"containerPort":80,"protocol":"TCP"}
//   "v:<json value>"  an item of a set list, by value: v:"foregroundDeletion"
//   "i:<index>"       an item of an atomic list, by position (rare)
//   "."               the node itself (present when its children are listed too)
// A child with an empty object ({}) is a leaf: the manager owns that whole value.
#ifndef TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_
#define TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/inlined_vector.h"
#include "absl/status/statusor.h"
#include "common/json_tree.h"

namespace todoke::differ {

// A node of one or more fieldsV1 trees (several managers' entries are read as their union).
// A view: the JSON it was made from must outlive it. Cheap to copy.
class FieldSet {
 public:
  enum class ElementKind { kField, kKey, kValue, kIndex };

  FieldSet() = default;

  // A view over one fieldsV1 tree, after checking every path element of it.
  // INVALID_ARGUMENT if it is not an object or holds an unknown or unparsable path element.
  static absl::StatusOr<FieldSet> Parse(const JsonNode& fields_v1);

  // The union of the fieldsV1 trees of `object`'s managedFields entries whose manager is one of
  // `managers`. Entries for the status subresource are skipped (status is never compared), and so
  // are entries without an object fieldsV1.
  static FieldSet OwnedBy(const JsonNode& object, const std::vector<std::string>& managers);

  // True if this node is not in any tree (nothing owned here).
  bool empty() const { return nodes_.empty(); }
  // True if some manager owns this whole value (a leaf in fieldsV1).
  bool IsLeaf() const;
  // True if some manager owns the node itself ("." or a leaf): for a list item, it created it.
  bool OwnsSelf() const;

  // Children; an empty FieldSet when absent.
  FieldSet Field(std::string_view name) const;
  FieldSet Value(const JsonNode& value) const;
  // The child for a raw fieldsV1 path element, prefix included, e.g. `k:{"name":"web"}` (see
  // AppendMergeKeyText in list_strategy.h for how a list item's key is spelled).
  FieldSet Element(std::string_view element) const;

  // Looks up "f:" children for names given in ascending order (the order of an object's
  // members), stepping through each tree's children once instead of searching them per name.
  // A view over `set`'s trees: they must outlive it.
  class FieldCursor {
   public:
    explicit FieldCursor(const FieldSet& set);
    // Same as set.Field(name); `name` must not sort before the previous call's name.
    FieldSet Field(std::string_view name);

   private:
    struct Position {
      const JsonMember* next;
      const JsonMember* end;
    };
    absl::InlinedVector<Position, 2> positions_;
  };

  // Calls `visit(name, child)` for each "f:" child, in name order (per tree). Cheaper than
  // ForEachChild: nothing is parsed.
  template <typename Visit>
  void ForEachField(Visit&& visit) const {
    for (const JsonNode* node : nodes_) {
      const std::span<const JsonMember> members = node->members();
      for (const JsonMember* it = FirstField(members); it != members.data() + members.size();
           ++it) {
        const std::string_view element = it->key();
        if (element.size() < 2 || element[0] != 'f' || element[1] != ':') break;
        if (!it->value.is_object()) continue;
        FieldSet child;
        child.nodes_.push_back(&it->value);
        visit(element.substr(2), child);
      }
    }
  }

  // Calls `visit` for each child element (union over trees; a child present in several trees is
  // visited once per tree). `value` is the parsed key object or set value (null for fields and
  // indices); `index` is set for kIndex.
  void ForEachChild(
      const std::function<void(ElementKind kind, std::string_view name, const JsonNode& value,
                               int index, const FieldSet& child)>& visit) const;

 private:
  // The first member whose key is not below "f:" (where the "f:" elements start).
  static const JsonMember* FirstField(std::span<const JsonMember> members);

  absl::InlinedVector<const JsonNode*, 2> nodes_;
};

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_

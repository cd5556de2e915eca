// Server-side apply field sets: the `fieldsV1` trees of `metadata.managedFields`, parsed so the
// differ can ask "did this manager own this field / list item?".
//
// fieldsV1 format (sigs.k8s.io/structured-merge-diff): a JSON object whose keys are path elements:
//   "f:<name>"        a field of a map
//   "k:<json object>" an item of an associative list, by its key fields: k:{"name":"web"}
//   "v:<json value>"  an item of a set list, by value: v:"foregroundDeletion"
//   "i:<index>"       an item of an atomic list, by position (rare)
//   "."               the node itself (present when its children are listed too)
// A child with an empty object ({}) is a leaf: the manager owns that whole value.
#ifndef TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_
#define TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/object.h"

namespace todoke::differ {

class FieldSet {
 public:
  enum class ElementKind { kField, kKey, kValue, kIndex };

  struct Child;

  FieldSet();
  FieldSet(FieldSet&&) noexcept;
  FieldSet& operator=(FieldSet&&) noexcept;
  ~FieldSet();

  // Parses one fieldsV1 tree. INVALID_ARGUMENT if it is not an object or holds an unknown
  // path element or an unparsable k:/v: key. Never throws.
  static absl::StatusOr<FieldSet> Parse(const Json& fields_v1);

  // The field sets of every managedFields entry of `object` whose manager is one of `managers`,
  // merged. Entries for the status subresource are skipped (status is never compared).
  // Unparsable entries are skipped too: ownership then errs on "not owned".
  static FieldSet OwnedBy(const Json& object, const std::vector<std::string>& managers);

  // True if nothing is owned.
  bool empty() const { return children_.empty() && !self_; }
  // True if this node is owned as a whole: a leaf in fieldsV1 ({}), or a merged leaf.
  bool IsLeaf() const { return children_.empty(); }
  // True if the node itself is owned ("." in fieldsV1, or a leaf): for a list item, the manager
  // created the item.
  bool OwnsSelf() const { return self_ || children_.empty(); }

  // Children for each path element kind; nullptr when absent.
  const FieldSet* Field(std::string_view name) const;
  const FieldSet* Key(const Json& key) const;
  const FieldSet* Value(const Json& value) const;
  const FieldSet* Index(int index) const;

  const std::vector<Child>& children() const { return children_; }

  // Adds everything in `other` to this set.
  void Merge(FieldSet&& other);

 private:
  FieldSet* FindOrAdd(ElementKind kind, std::string_view name, const Json* value, int index);

  bool self_ = false;
  std::vector<Child> children_;
};

struct FieldSet::Child {
  ElementKind kind = ElementKind::kField;
  std::string name;  // kField
  Json value;        // kKey (an object of key fields) or kValue
  int index = 0;     // kIndex
  FieldSet set;
};

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_FIELD_SET_H_

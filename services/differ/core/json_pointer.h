// RFC 6901 JSON pointers (tokens from common/json_pointer.h): a trie of pointers the differ skips
// while it walks two objects.
#ifndef TODOKE_SERVICES_DIFFER_CORE_JSON_POINTER_H_
#define TODOKE_SERVICES_DIFFER_CORE_JSON_POINTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "common/json_pointer.h"
#include "common/object.h"

namespace todoke::differ {

// ParseJsonPointer and AppendPointerToken are todoke:: (common/json_pointer.h).

// A set of pointers, stored as a trie of tokens. A node is `terminal` when a pointer ends there:
// the whole subtree is ignored.
class PointerTrie {
 public:
  struct Node {
    bool terminal = false;
    std::map<std::string, Node, std::less<>> children;

    // The child for `token`, or nullptr.
    const Node* Child(std::string_view token) const {
      auto it = children.find(token);
      return it == children.end() ? nullptr : &it->second;
    }
  };

  // Adds a pointer given as tokens.
  void Add(const std::vector<std::string>& tokens);
  const Node& root() const { return root_; }
  bool empty() const { return root_.children.empty() && !root_.terminal; }

 private:
  Node root_;
};

// Removes the value `tokens` points at from `value`, if present. Array tokens must be indices.
// Returns true if something was removed. Never throws.
bool RemoveAtPointer(Json& value, const std::vector<std::string>& tokens);

// Removes every terminal path of `trie` from `value` (array levels use indices). Never throws.
void RemoveAtPointers(Json& value, const PointerTrie::Node& trie);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_JSON_POINTER_H_

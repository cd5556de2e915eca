#include "services/differ/core/json_pointer.h"

#include <algorithm>
#include <utility>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace todoke::differ {

void PointerTrie::Add(const std::vector<std::string>& tokens) {
  Node* node = &root_;
  for (const std::string& token : tokens) node = &node->children[token];
  node->terminal = true;
}

namespace {

bool ArrayIndex(const Json& array, const std::string& token, size_t& index) {
  return absl::SimpleAtoi(token, &index) && index < array.size() &&
         (token.size() == 1 || token[0] != '0');
}

}  // namespace

bool RemoveAtPointer(Json& value, const std::vector<std::string>& tokens) {
  if (tokens.empty()) return false;  // the whole document is never removed
  Json* parent = &value;
  for (size_t i = 0; i + 1 < tokens.size(); ++i) {
    if (parent->is_object()) {
      auto it = parent->find(tokens[i]);
      if (it == parent->end()) return false;
      parent = &*it;
    } else if (parent->is_array()) {
      size_t index = 0;
      if (!ArrayIndex(*parent, tokens[i], index)) return false;
      parent = &(*parent)[index];
    } else {
      return false;
    }
  }
  const std::string& last = tokens.back();
  if (parent->is_object()) return parent->erase(last) > 0;
  if (parent->is_array()) {
    size_t index = 0;
    if (!ArrayIndex(*parent, last, index)) return false;
    parent->erase(index);
    return true;
  }
  return false;
}

void RemoveAtPointers(Json& value, const PointerTrie::Node& trie) {
  if (value.is_object()) {
    for (const auto& [token, child] : trie.children) {
      auto it = value.find(token);
      if (it == value.end()) continue;
      if (child.terminal) {
        value.erase(it);
      } else {
        RemoveAtPointers(*it, child);
      }
    }
  } else if (value.is_array()) {
    // Highest index first so removals do not shift the ones still to come.
    std::vector<std::pair<size_t, const PointerTrie::Node*>> targets;
    for (const auto& [token, child] : trie.children) {
      size_t index = 0;
      if (ArrayIndex(value, token, index)) targets.emplace_back(index, &child);
    }
    std::sort(targets.begin(), targets.end(),
              [](const auto& a, const auto& b) { return a.first > b.first; });
    for (const auto& [index, child] : targets) {
      if (child->terminal) {
        value.erase(index);
      } else {
        RemoveAtPointers(value[index], *child);
      }
    }
  }
}

}  // namespace todoke::differ

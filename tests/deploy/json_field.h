// Reading nested fields of rendered Kubernetes objects in tests, without exceptions.
#ifndef TODOKE_TESTS_DEPLOY_JSON_FIELD_H_
#define TODOKE_TESTS_DEPLOY_JSON_FIELD_H_

#include <initializer_list>
#include <string>

#include "common/object.h"

namespace todoke::test_json {

// The value at `path` under `object`, or null when a step is missing or of another type.
inline const Json& Field(const Json& object, std::initializer_list<const char*> path) {
  static const Json kNull;
  const Json* at = &object;
  for (const char* key : path) {
    if (!at->is_object()) return kNull;
    auto it = at->find(key);
    if (it == at->end()) return kNull;
    at = &*it;
  }
  return *at;
}

// The string at `path`, or "" when it is missing or not a string.
inline std::string StringField(const Json& object, std::initializer_list<const char*> path) {
  const Json& value = Field(object, path);
  return value.is_string() ? value.get<std::string>() : "";
}

}  // namespace todoke::test_json

#endif  // TODOKE_TESTS_DEPLOY_JSON_FIELD_H_

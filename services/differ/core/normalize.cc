#include "services/differ/core/normalize.h"

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/escaping.h"
#include "common/tracking.h"

namespace todoke::differ {

const PointerTrie& NormalizedAwayPaths() {
  static const PointerTrie* trie = [] {
    auto* paths = new PointerTrie();
    paths->Add({"status"});
    for (const char* field : {"managedFields", "resourceVersion", "uid", "creationTimestamp",
                              "generation", "selfLink"}) {
      paths->Add({"metadata", field});
    }
    paths->Add({"metadata", "annotations", std::string(kLastAppliedAnnotation)});
    paths->Add({"metadata", "annotations", std::string(kTrackingIdAnnotation)});
    paths->Add({"metadata", "labels", std::string(kAppLabel)});
    return paths;
  }();
  return *trie;
}

void RemoveNormalizedAwayPaths(Json& object) {
  RemoveAtPointers(object, NormalizedAwayPaths().root());
  if (!object.is_object()) return;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return;
  for (const char* field : {"annotations", "labels"}) {
    auto map = metadata->find(field);
    if (map != metadata->end() && map->is_object() && map->empty()) metadata->erase(map);
  }
}

bool IsSecret(const Json& object) {
  if (!object.is_object()) return false;
  auto kind = object.find("kind");
  auto api_version = object.find("apiVersion");
  return kind != object.end() && *kind == "Secret" && api_version != object.end() &&
         *api_version == "v1";
}

bool IsSecret(const JsonNode& object) {
  const JsonNode* kind = object.Find("kind");
  const JsonNode* api_version = object.Find("apiVersion");
  return kind != nullptr && kind->is_string() && kind->string() == "Secret" &&
         api_version != nullptr && api_version->is_string() && api_version->string() == "v1";
}

void NormalizeSecretStringData(Json& secret) {
  if (!IsSecret(secret)) return;
  auto string_data = secret.find("stringData");
  if (string_data == secret.end()) return;
  if (!string_data->is_object()) return;
  Json& data = secret["data"];
  if (data.is_null()) data = Json::object();
  if (!data.is_object()) return;
  Json leftover = Json::object();
  for (auto it = string_data->begin(); it != string_data->end(); ++it) {
    if (it.value().is_string()) {
      data[it.key()] = absl::Base64Escape(it.value().get_ref<const std::string&>());
    } else {
      leftover[it.key()] = it.value();
    }
  }
  if (leftover.empty()) {
    secret.erase("stringData");
  } else {
    *string_data = std::move(leftover);
  }
}

void MaskSecretValues(Json* desired, Json* live) {
  // key -> (value -> mask)
  absl::flat_hash_map<std::string, absl::flat_hash_map<std::string, std::string>> masks;
  auto mask_of = [&](const std::string& key, const Json& value) -> std::string {
    auto& by_value = masks[key];
    const std::string text = value.is_string() ? value.get<std::string>() : CanonicalJson(value);
    auto it = by_value.find(text);
    if (it != by_value.end()) return it->second;
    std::string mask(8 + 4 * by_value.size(), '+');
    by_value.emplace(text, mask);
    return mask;
  };
  for (Json* secret : {desired, live}) {
    if (secret == nullptr || !secret->is_object()) continue;
    for (const char* field : {"data", "stringData"}) {
      auto values = secret->find(field);
      if (values == secret->end() || values->is_null()) continue;
      if (!values->is_object()) {
        // A string, list or number where a map belongs (the API server would refuse it; a render
        // can produce it): masked whole, whatever it holds.
        *values = mask_of(field, *values);
        continue;
      }
      for (auto it = values->begin(); it != values->end(); ++it) {
        if (it.value().is_null()) continue;
        it.value() = mask_of(std::string(field) + "/" + it.key(), it.value());
      }
    }
  }
}

}  // namespace todoke::differ

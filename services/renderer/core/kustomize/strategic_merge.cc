#include "services/renderer/core/kustomize/strategic_merge.h"

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

// How a list merges, from the patch strategy of the built-in API field it sits in.
struct ListStrategy {
  enum Kind { kReplace, kMergeByKey, kMergePrimitives } kind = kReplace;
  std::string key;         // merge key for kMergeByKey
  std::string second_key;  // "protocol" for ports (kustomize's list-map-keys)
};

// API groups whose kinds kustomize has a schema for.
bool IsBuiltinGroup(absl::string_view group) {
  static const auto* const groups = new std::set<std::string, std::less<>>{
      "",
      "admissionregistration.k8s.io",
      "apiextensions.k8s.io",
      "apiregistration.k8s.io",
      "apps",
      "authentication.k8s.io",
      "authorization.k8s.io",
      "autoscaling",
      "batch",
      "certificates.k8s.io",
      "coordination.k8s.io",
      "discovery.k8s.io",
      "events.k8s.io",
      "extensions",
      "flowcontrol.apiserver.k8s.io",
      "networking.k8s.io",
      "node.k8s.io",
      "policy",
      "rbac.authorization.k8s.io",
      "resource.k8s.io",
      "scheduling.k8s.io",
      "storage.k8s.io",
  };
  return groups->count(group) > 0;
}

bool IsContainerList(absl::string_view field) {
  return field == "containers" || field == "initContainers" || field == "ephemeralContainers";
}

// `path` holds the field names from the object root to the list (indices dropped).
ListStrategy StrategyFor(absl::string_view kind, const std::vector<std::string>& path) {
  ListStrategy strategy;
  if (path.empty()) return strategy;
  const std::string& field = path.back();
  absl::string_view parent = path.size() >= 2 ? absl::string_view(path[path.size() - 2]) : "";
  auto by = [&](const char* key, const char* second = "") {
    strategy.kind = ListStrategy::kMergeByKey;
    strategy.key = key;
    strategy.second_key = second;
    return strategy;
  };
  if (path.size() == 2 && path[0] == "metadata") {
    if (field == "finalizers") {
      strategy.kind = ListStrategy::kMergePrimitives;
      return strategy;
    }
    if (field == "ownerReferences") return by("uid");
    return strategy;
  }
  if (IsContainerList(field)) return by("name");
  if (IsContainerList(parent)) {
    if (field == "ports") return by("containerPort", "protocol");
    if (field == "env") return by("name");
    if (field == "volumeMounts") return by("mountPath");
    if (field == "volumeDevices") return by("devicePath");
    if (field == "resizePolicy") return strategy;
    return strategy;
  }
  if (field == "volumes" || field == "imagePullSecrets" || field == "resourceClaims" ||
      field == "schedulingGates") {
    return by("name");
  }
  if (field == "hostAliases") return by("ip");
  if (field == "topologySpreadConstraints") return by("topologyKey", "whenUnsatisfiable");
  if (field == "conditions") return by("type");
  if (kind == "Service" && path.size() == 2 && path[0] == "spec" && field == "ports") {
    return by("port", "protocol");
  }
  if ((kind == "MutatingWebhookConfiguration" || kind == "ValidatingWebhookConfiguration") &&
      path.size() == 1 && field == "webhooks") {
    return by("name");
  }
  if (kind == "ServiceAccount" && path.size() == 1 && field == "secrets") return by("name");
  return strategy;
}

thread_local std::shared_ptr<const MergeSchema> thread_schema;

ListStrategy StrategyFor(absl::string_view kind, const std::vector<std::string>& path);

// The list strategy a custom schema gives the list at `path` of a `definition` (the built-in
// table's when the schema defers to a built-in Kubernetes type).
ListStrategy SchemaStrategy(const MergeSchema& schema, const Json& definition,
                            absl::string_view kind, const std::vector<std::string>& path) {
  ListStrategy strategy;
  bool external = false;
  const Json* node = schema.Lookup(definition, path, &external);
  if (external) return schema.with_builtin() ? StrategyFor(kind, path) : strategy;
  if (node == nullptr || !node->is_object()) return strategy;
  auto patch_strategy = node->find("x-kubernetes-patch-strategy");
  if (patch_strategy == node->end() || !patch_strategy->is_string() ||
      !absl::StrContains(patch_strategy->get<std::string>(), "merge")) {
    return strategy;
  }
  std::vector<std::string> keys;
  auto map_keys = node->find("x-kubernetes-list-map-keys");
  if (map_keys != node->end() && map_keys->is_array()) {
    for (const Json& key : *map_keys) {
      if (key.is_string()) keys.push_back(key.get<std::string>());
    }
  } else {
    auto merge_key = node->find("x-kubernetes-patch-merge-key");
    if (merge_key != node->end() && merge_key->is_string()) {
      keys.push_back(merge_key->get<std::string>());
    }
  }
  if (keys.empty()) {
    strategy.kind = ListStrategy::kMergePrimitives;
    return strategy;
  }
  strategy.kind = ListStrategy::kMergeByKey;
  strategy.key = keys[0];
  if (keys.size() > 1) strategy.second_key = keys[1];
  return strategy;
}

bool IsDirectiveKey(absl::string_view key) {
  return key == "$patch" || key == "$retainKeys" || absl::StartsWith(key, "$setElementOrder/") ||
         absl::StartsWith(key, "$deleteFromPrimitiveList/");
}

// The `$patch` directive of a mapping ("" if none).
absl::StatusOr<std::string> Directive(const Json& value) {
  if (!value.is_object()) return std::string();
  auto it = value.find("$patch");
  if (it == value.end()) return std::string();
  if (!it->is_string()) {
    return absl::InvalidArgumentError("$patch directive must be a string");
  }
  std::string directive = it->get<std::string>();
  if (directive != "delete" && directive != "replace" && directive != "merge") {
    return absl::InvalidArgumentError(absl::StrCat("unknown $patch directive \"", directive, "\""));
  }
  return directive;
}

class Merger {
 public:
  Merger(std::string kind, bool builtin, const MergeSchema* schema, const Json* definition)
      : kind_(std::move(kind)), builtin_(builtin), schema_(schema), definition_(definition) {}

  // Merges `patch` into `dest`; sets *deleted when the patch deletes `dest`.
  absl::Status MergeValue(Json& dest, const Json& patch, std::vector<std::string>& path,
                          bool* deleted) {
    *deleted = false;
    if (patch.is_object()) {
      ASSIGN_OR_RETURN(std::string directive, Directive(patch));
      if (directive == "delete") {
        *deleted = true;
        return absl::OkStatus();
      }
      if (directive == "replace" || !dest.is_object()) {
        dest = patch;
        StripPatchDirectives(dest);
        return absl::OkStatus();
      }
      return MergeMap(dest, patch, path);
    }
    if (patch.is_array()) {
      if (!dest.is_array()) {
        dest = patch;
        StripListDirectives(dest);
        return absl::OkStatus();
      }
      return MergeList(dest, patch, path, deleted);
    }
    dest = patch;
    return absl::OkStatus();
  }

 private:
  absl::Status MergeMap(Json& dest, const Json& patch, std::vector<std::string>& path) {
    for (auto& [key, value] : patch.items()) {
      if (IsDirectiveKey(key)) continue;
      if (value.is_null()) {
        dest.erase(key);
        continue;
      }
      auto it = dest.find(key);
      if (it == dest.end() || it->is_null()) {
        if (value.is_object()) {
          ASSIGN_OR_RETURN(std::string directive, Directive(value));
          if (directive == "delete") continue;
        }
        Json copy = value;
        if (copy.is_array()) {
          StripListDirectives(copy);
        } else {
          StripPatchDirectives(copy);
        }
        dest[key] = std::move(copy);
        continue;
      }
      path.push_back(key);
      bool deleted = false;
      absl::Status status = MergeValue(*it, value, path, &deleted);
      path.pop_back();
      RETURN_IF_ERROR(status);
      if (deleted) dest.erase(key);
    }
    return absl::OkStatus();
  }

  // Removes elements carrying `$patch: delete` and directives from a list taken from a patch.
  static void StripListDirectives(Json& list) {
    Json out = Json::array();
    for (Json& element : list) {
      if (element.is_object()) {
        auto it = element.find("$patch");
        if (it != element.end() && it->is_string()) {
          std::string directive = it->get<std::string>();
          if (directive == "delete" || element.size() == 1) continue;
        }
      }
      StripPatchDirectives(element);
      out.push_back(std::move(element));
    }
    list = std::move(out);
  }

  static std::string KeyValue(const Json& element, const ListStrategy& strategy) {
    if (!element.is_object()) return "";
    auto it = element.find(strategy.key);
    if (it == element.end() || it->is_null()) return "";
    std::string value = it->is_string() ? it->get<std::string>() : it->dump();
    if (!strategy.second_key.empty()) {
      auto second = element.find(strategy.second_key);
      std::string second_value = second != element.end() && second->is_string()
                                     ? second->get<std::string>()
                                     : std::string("TCP");
      absl::StrAppend(&value, "\x1f", second_value);
    }
    return value;
  }

  absl::Status MergeList(Json& dest, const Json& patch, std::vector<std::string>& path,
                         bool* deleted) {
    // A list-level directive is an element holding only `$patch`.
    Json elements = Json::array();
    std::string list_directive;
    for (const Json& element : patch) {
      if (element.is_object() && element.size() == 1 && element.contains("$patch")) {
        ASSIGN_OR_RETURN(list_directive, Directive(element));
        continue;
      }
      elements.push_back(element);
    }
    ListStrategy strategy = definition_ != nullptr
                                ? SchemaStrategy(*schema_, *definition_, kind_, path)
                            : builtin_ ? StrategyFor(kind_, path)
                                       : ListStrategy{};
    if (list_directive == "delete") {
      *deleted = true;
      return absl::OkStatus();
    }
    if (list_directive == "replace" || strategy.kind == ListStrategy::kReplace) {
      StripListDirectives(elements);
      dest = std::move(elements);
      return absl::OkStatus();
    }
    if (strategy.kind == ListStrategy::kMergePrimitives) {
      Json out = Json::array();
      auto contains = [](const Json& list, const Json& value) {
        for (const Json& item : list) {
          if (item == value) return true;
        }
        return false;
      };
      for (const Json& value : elements) {
        if (!contains(out, value)) out.push_back(value);
      }
      for (const Json& value : dest) {
        if (!contains(out, value)) out.push_back(value);
      }
      dest = std::move(out);
      return absl::OkStatus();
    }
    // Merge by key: the patch's elements first (merged with their dest counterpart), then
    // the dest elements the patch does not mention.
    std::vector<bool> used(dest.size(), false);
    Json out = Json::array();
    for (const Json& element : elements) {
      std::string key = KeyValue(element, strategy);
      ASSIGN_OR_RETURN(std::string directive, Directive(element));
      size_t match = dest.size();
      if (!key.empty()) {
        for (size_t i = 0; i < dest.size(); ++i) {
          if (!used[i] && KeyValue(dest[i], strategy) == key) {
            match = i;
            break;
          }
        }
      }
      if (match < dest.size()) used[match] = true;
      if (directive == "delete") continue;
      if (match < dest.size()) {
        Json merged = std::move(dest[match]);
        bool element_deleted = false;
        RETURN_IF_ERROR(MergeValue(merged, element, path, &element_deleted));
        if (!element_deleted) out.push_back(std::move(merged));
      } else {
        // Several patch elements may share a key: merge into the one already emitted.
        bool merged_into_previous = false;
        if (!key.empty()) {
          for (Json& previous : out) {
            if (KeyValue(previous, strategy) == key) {
              bool element_deleted = false;
              RETURN_IF_ERROR(MergeValue(previous, element, path, &element_deleted));
              merged_into_previous = true;
              break;
            }
          }
        }
        if (merged_into_previous) continue;
        Json copy = element;
        StripPatchDirectives(copy);
        out.push_back(std::move(copy));
      }
    }
    for (size_t i = 0; i < dest.size(); ++i) {
      if (!used[i]) out.push_back(std::move(dest[i]));
    }
    dest = std::move(out);
    return absl::OkStatus();
  }

  std::string kind_;
  bool builtin_;
  const MergeSchema* schema_;
  const Json* definition_;  // the kind's definition in the custom schema, or nullptr
};

}  // namespace

void StripPatchDirectives(Json& value) {
  if (value.is_object()) {
    for (auto it = value.begin(); it != value.end();) {
      if (IsDirectiveKey(it.key())) {
        it = value.erase(it);
      } else {
        StripPatchDirectives(*it);
        ++it;
      }
    }
  } else if (value.is_array()) {
    for (Json& element : value) StripPatchDirectives(element);
  }
}

absl::StatusOr<bool> ApplyStrategicMergePatch(Json& target, const Json& patch) {
  if (!patch.is_object()) {
    return absl::InvalidArgumentError("a strategic merge patch must be a mapping");
  }
  ASSIGN_OR_RETURN(std::string directive, Directive(patch));
  if (directive == "delete") return false;
  std::string api_version =
      target.is_object() && target.contains("apiVersion") && target["apiVersion"].is_string()
          ? target["apiVersion"].get<std::string>()
          : "";
  std::string kind = target.is_object() && target.contains("kind") && target["kind"].is_string()
                         ? target["kind"].get<std::string>()
                         : "";
  auto [group, version] = SplitApiVersion(api_version);
  const MergeSchema* schema = thread_schema.get();
  const Json* definition = schema != nullptr ? schema->Definition(api_version, kind) : nullptr;
  bool builtin = IsBuiltinGroup(group) && (schema == nullptr || schema->with_builtin());
  Merger merger(kind, builtin, schema, definition);
  std::vector<std::string> path;
  bool deleted = false;
  RETURN_IF_ERROR(merger.MergeValue(target, patch, path, &deleted));
  return !deleted;
}

absl::StatusOr<std::shared_ptr<const MergeSchema>> MergeSchema::Parse(const Json& document,
                                                                      absl::string_view source,
                                                                      bool with_builtin) {
  auto definitions = document.is_object() ? document.find("definitions") : document.end();
  if (!document.is_object() || definitions == document.end() || !definitions->is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": an OpenAPI schema needs a \"definitions\" mapping"));
  }
  auto schema = std::make_shared<MergeSchema>();
  schema->with_builtin_ = with_builtin;
  schema->definitions_ = *definitions;
  for (auto& [name, definition] : schema->definitions_.items()) {
    if (!definition.is_object()) continue;
    auto gvks = definition.find("x-kubernetes-group-version-kind");
    if (gvks == definition.end() || !gvks->is_array()) continue;
    for (const Json& gvk : *gvks) {
      if (!gvk.is_object()) continue;
      std::string group = gvk.value("group", "");
      std::string version = gvk.value("version", "");
      std::string api_version = group.empty() ? version : absl::StrCat(group, "/", version);
      schema->by_type_.emplace(absl::StrCat(api_version, "\x1f", gvk.value("kind", "")), name);
    }
  }
  return std::shared_ptr<const MergeSchema>(std::move(schema));
}

const Json* MergeSchema::Definition(absl::string_view api_version, absl::string_view kind) const {
  auto it = by_type_.find(absl::StrCat(api_version, "\x1f", kind));
  if (it == by_type_.end()) return nullptr;
  return Resolve(&definitions_[it->second]);
}

const Json* MergeSchema::Resolve(const Json* schema, bool* external) const {
  for (int hops = 0; schema != nullptr && schema->is_object() && hops < 64; ++hops) {
    auto ref = schema->find("$ref");
    if (ref == schema->end() || !ref->is_string()) return schema;
    absl::string_view name = ref->get_ref<const std::string&>();
    if (!absl::ConsumePrefix(&name, "#/definitions/")) return nullptr;
    auto it = definitions_.find(std::string(name));
    if (it == definitions_.end()) {
      if (external != nullptr && absl::StartsWith(name, "io.k8s.")) *external = true;
      return nullptr;
    }
    schema = &*it;
  }
  return schema;
}

const Json* MergeSchema::Lookup(const Json& definition, const std::vector<std::string>& path,
                                bool* external) const {
  *external = false;
  const Json* node = Resolve(&definition, external);
  for (const std::string& field : path) {
    if (node == nullptr || !node->is_object()) return nullptr;
    // Lists are stepped into: the path names fields only.
    auto items = node->find("items");
    if (items != node->end()) node = Resolve(&*items, external);
    if (node == nullptr || !node->is_object()) return nullptr;
    auto properties = node->find("properties");
    if (properties != node->end() && properties->is_object() && properties->contains(field)) {
      node = Resolve(&(*properties)[field], external);
      continue;
    }
    auto additional = node->find("additionalProperties");
    if (additional != node->end() && additional->is_object()) {
      node = Resolve(&*additional, external);
      continue;
    }
    return nullptr;
  }
  return node;
}

void SetThreadMergeSchema(std::shared_ptr<const MergeSchema> schema) {
  thread_schema = std::move(schema);
}

}  // namespace todoke::renderer::kustomize

#include "services/applier/core/sync/apply_rules.h"

#include <cstdio>
#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/tracking.h"

namespace todoke::applier::sync {
namespace {

const Json* Find(const Json& object, std::initializer_list<const char*> path) {
  const Json* node = &object;
  for (const char* field : path) {
    if (!node->is_object()) return nullptr;
    auto it = node->find(field);
    if (it == node->end()) return nullptr;
    node = &*it;
  }
  return node;
}

std::string StringAt(const Json& object, std::initializer_list<const char*> path) {
  const Json* node = Find(object, path);
  return node != nullptr && node->is_string() ? node->get<std::string>() : "";
}

// `object` without the fields the server changes on every write.
Json Comparable(const Json& object) {
  Json copy = object;
  if (copy.is_object()) {
    copy.erase("status");
    auto metadata = copy.find("metadata");
    if (metadata != copy.end() && metadata->is_object()) {
      for (const char* field : {"managedFields", "resourceVersion", "generation"}) {
        metadata->erase(field);
      }
    }
  }
  return copy;
}

// Union of two managedFields field sets (fieldsV1: objects whose leaves are {}).
void MergeFieldSets(Json& into, const Json& from) {
  if (!into.is_object() || !from.is_object()) return;
  for (auto it = from.begin(); it != from.end(); ++it) {
    auto existing = into.find(it.key());
    if (existing == into.end()) {
      into[it.key()] = it.value();
    } else {
      MergeFieldSets(*existing, it.value());
    }
  }
}

bool IsTakeoverManager(const Json& entry) {
  if (!entry.is_object()) return false;
  const std::string manager = StringAt(entry, {"manager"});
  return (manager == "kubectl-client-side-apply" || manager == "before-first-apply") &&
         StringAt(entry, {"operation"}) == "Update" && StringAt(entry, {"subresource"}).empty();
}

std::string EscapePointer(absl::string_view token) {
  return absl::StrReplaceAll(token, {{"~", "~0"}, {"/", "~1"}});
}

}  // namespace

std::string ResourceVersionOf(const Json& object) {
  return StringAt(object, {"metadata", "resourceVersion"});
}

std::string UidOf(const Json& object) { return StringAt(object, {"metadata", "uid"}); }

ApplyAction ActionFor(const Json* before, const Json& answered, bool dry_run) {
  if (before == nullptr) return ApplyAction::kCreated;
  if (!dry_run) {
    const std::string version = ResourceVersionOf(answered);
    return !version.empty() && version == ResourceVersionOf(*before) ? ApplyAction::kUnchanged
                                                                     : ApplyAction::kConfigured;
  }
  return Comparable(*before) == Comparable(answered) ? ApplyAction::kUnchanged
                                                     : ApplyAction::kConfigured;
}

bool IsRetryableApplyError(const absl::Status& status, bool kind_pending) {
  if (status.code() == absl::StatusCode::kUnavailable) return true;
  if (status.code() == absl::StatusCode::kNotFound && kind_pending) return true;
  // A webhook call that failed is a 500 (InternalError) in some paths the client maps elsewhere.
  if (status.code() == absl::StatusCode::kInternal &&
      absl::StrContains(status.message(), "failed calling webhook")) {
    return true;
  }
  return false;
}

bool IsImmutableFieldError(const absl::Status& status) {
  if (status.code() != absl::StatusCode::kInvalidArgument &&
      status.code() != absl::StatusCode::kAborted &&
      status.code() != absl::StatusCode::kPermissionDenied) {
    return false;
  }
  const std::string message = absl::AsciiStrToLower(status.message());
  return absl::StrContains(message, "is immutable") ||
         absl::StrContains(message, "immutable field") ||
         absl::StrContains(message, "field is immutable");
}

std::string TakeoverPatch(const Json& live, absl::string_view field_manager) {
  Json patch = Json::array();
  const Json* entries = Find(live, {"metadata", "managedFields"});
  if (entries != nullptr && entries->is_array()) {
    bool renamed = false;
    for (const Json& entry : *entries) renamed = renamed || IsTakeoverManager(entry);
    if (renamed) {
      // One Apply entry for `field_manager` per apiVersion, holding the union of the fields.
      Json out = Json::array();
      std::map<std::string, size_t> apply_entry;  // apiVersion -> index in out
      for (const Json& entry : *entries) {
        Json copy = entry;
        const bool ours = StringAt(entry, {"manager"}) == field_manager &&
                          StringAt(entry, {"operation"}) == "Apply" &&
                          StringAt(entry, {"subresource"}).empty();
        if (IsTakeoverManager(entry)) {
          copy["manager"] = std::string(field_manager);
          copy["operation"] = "Apply";
        } else if (!ours) {
          out.push_back(std::move(copy));
          continue;
        }
        const std::string api_version = StringAt(entry, {"apiVersion"});
        auto it = apply_entry.find(api_version);
        if (it == apply_entry.end()) {
          apply_entry[api_version] = out.size();
          out.push_back(std::move(copy));
        } else {
          Json& merged = out[it->second];
          if (copy.contains("fieldsV1")) {
            if (!merged.contains("fieldsV1")) merged["fieldsV1"] = Json::object();
            MergeFieldSets(merged["fieldsV1"], copy["fieldsV1"]);
          }
        }
      }
      patch.push_back({{"op", "replace"}, {"path", "/metadata/managedFields"}, {"value", out}});
    }
  }
  const Json* annotations = Find(live, {"metadata", "annotations"});
  if (annotations != nullptr && annotations->is_object() &&
      annotations->contains(std::string(kLastAppliedAnnotation))) {
    patch.push_back(
        {{"op", "remove"},
         {"path", absl::StrCat("/metadata/annotations/", EscapePointer(kLastAppliedAnnotation))}});
  }
  if (patch.empty()) return "";
  return patch.dump();
}

std::string ForeignOwner(const Json& live, absl::string_view installation, absl::string_view app) {
  const std::string id =
      StringAt(live, {"metadata", "annotations", std::string(kTrackingIdAnnotation).c_str()});
  if (id.empty()) return "";
  std::optional<ParsedTrackingId> parsed = ParseTrackingId(id);
  if (!parsed) return "";
  absl::StatusOr<ObjectKey> own = KeyOf(live);
  if (!own.ok() || !(*own == parsed->key)) return "";  // copied from another object: not tracked
  if (parsed->installation != installation) {
    return absl::StrCat("installation \"", parsed->installation, "\" app \"", parsed->app, "\"");
  }
  if (parsed->app != app) return absl::StrCat("app \"", parsed->app, "\"");
  return "";
}

std::string PruneRefusal(const Json& live, absl::string_view installation, absl::string_view app,
                         bool allow_cluster_critical) {
  std::optional<std::string> owner = TrackedApp(live, installation);
  if (!owner.has_value()) {
    return absl::StrCat("not tracked by app \"", app, "\": its ", kTrackingIdAnnotation,
                        " is missing, names another installation or another object");
  }
  if (*owner != app) {
    return absl::StrCat("tracked by app \"", *owner, "\", not \"", app, "\"");
  }
  if (StringAt(live, {"metadata", "annotations", std::string(kPruneAnnotation).c_str()}) ==
      "disabled") {
    return absl::StrCat(kPruneAnnotation, ": disabled");
  }
  if (Find(live, {"metadata", "deletionTimestamp"}) != nullptr &&
      !Find(live, {"metadata", "deletionTimestamp"})->is_null()) {
    return "already being deleted";
  }
  const Json* owners = Find(live, {"metadata", "ownerReferences"});
  if (owners != nullptr && owners->is_array()) {
    for (const Json& reference : *owners) {
      const Json* controller = Find(reference, {"controller"});
      if (controller != nullptr && controller->is_boolean() && controller->get<bool>()) {
        return absl::StrCat("owned by controller ", StringAt(reference, {"kind"}), " ",
                            StringAt(reference, {"name"}));
      }
    }
  }
  absl::StatusOr<ObjectKey> key = KeyOf(live);
  if (key.ok() && !allow_cluster_critical) {
    if (key->group.empty() && key->kind == "Namespace") {
      return "a Namespace is pruned only with allow_cluster_critical";
    }
    if (key->group == "apiextensions.k8s.io" && key->kind == "CustomResourceDefinition") {
      return "a CustomResourceDefinition is pruned only with allow_cluster_critical";
    }
  }
  return "";
}

bool BlocksNamespacePrune(const Json& object, absl::string_view installation,
                          absl::string_view app) {
  std::optional<std::string> owner = TrackedApp(object, installation);
  if (owner.has_value() && *owner == app) return false;
  if (StringAt(object, {"metadata", "annotations", "todoke.dev/hook-of"}) ==
      absl::StrCat(installation, "/", app)) {
    return false;  // the app's own hook, or its hook record
  }
  const Json* owners = Find(object, {"metadata", "ownerReferences"});
  if (owners != nullptr && owners->is_array() && !owners->empty()) return false;
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return false;
  if (key->kind == "Event" && (key->group.empty() || key->group == "events.k8s.io")) return false;
  if (key->group.empty() && key->kind == "Endpoints") return false;
  if (key->group.empty() && key->kind == "ServiceAccount" && key->name == "default") return false;
  if (key->group.empty() && key->kind == "ConfigMap" && key->name == "kube-root-ca.crt") {
    return false;
  }
  return true;
}

namespace {
// FNV-1a 64 of `text`, the first 10 of its 16 hex digits: stable across processes.
std::string ShortHash(absl::string_view text) {
  uint64_t hash = 1469598103934665603ull;
  for (char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ull;
  }
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(hash));
  return std::string(hex, 10);
}
}  // namespace

std::string HookName(absl::string_view generate_name, absl::string_view operation_id,
                     absl::string_view phase) {
  std::string prefix(generate_name.substr(0, 63 - 10));
  return absl::StrCat(prefix, ShortHash(absl::StrCat(operation_id, "/", phase)));
}

std::string HookRecordName(absl::string_view installation, absl::string_view app) {
  return absl::StrCat("todoke-hooks-", ShortHash(absl::StrCat(installation, "/", app)));
}

std::string HookRecordField(absl::string_view phase, const ObjectKey& key) {
  return absl::StrCat(phase, ".", ShortHash(key.ToString()));
}

std::string HookRecordManager(absl::string_view field) {
  absl::string_view hash = field.substr(field.rfind('.') + 1);
  return absl::StrCat("todoke-hook-", hash);
}

std::string HookRecordJson(const HookRecord& record) {
  Json value = {{"operation", record.operation},
                {"succeeded", record.succeeded},
                {"message", record.message}};
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<HookRecord> ParseHookRecord(absl::string_view value) {
  Json parsed = Json::parse(value.begin(), value.end(), nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_object()) return std::nullopt;
  auto operation = parsed.find("operation");
  auto succeeded = parsed.find("succeeded");
  if (operation == parsed.end() || !operation->is_string() || succeeded == parsed.end() ||
      !succeeded->is_boolean()) {
    return std::nullopt;
  }
  HookRecord record;
  record.operation = operation->get<std::string>();
  record.succeeded = succeeded->get<bool>();
  auto message = parsed.find("message");
  if (message != parsed.end() && message->is_string()) record.message = message->get<std::string>();
  return record;
}

bool CrdEstablished(const Json& crd) {
  const Json* conditions = Find(crd, {"status", "conditions"});
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const Json& condition : *conditions) {
    if (StringAt(condition, {"type"}) == "Established") {
      return StringAt(condition, {"status"}) == "True";
    }
  }
  return false;
}

std::pair<std::string, std::string> CrdGroupKind(const Json& crd) {
  return {StringAt(crd, {"spec", "group"}), StringAt(crd, {"spec", "names", "kind"})};
}

}  // namespace todoke::applier::sync

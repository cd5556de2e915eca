#include "services/applier/core/sync/sync_order.h"

#include <algorithm>
#include <functional>
#include <map>
#include <tuple>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/tracking.h"

namespace todoke::applier::sync {
namespace {

struct KindEntry {
  absl::string_view group;
  absl::string_view kind;
  int tier;
};

// Argo CD's kind order (gitops-engine pkg/sync/sync_tasks.go, itself Helm's), with the admission
// webhooks and policies after APIService; every kind not listed ranks after all of these.
constexpr KindEntry kKindOrder[] = {
    {"", "Namespace", 0},
    {"networking.k8s.io", "NetworkPolicy", 1},
    {"", "ResourceQuota", 1},
    {"", "LimitRange", 1},
    {"policy", "PodSecurityPolicy", 1},
    {"policy", "PodDisruptionBudget", 1},
    {"", "ServiceAccount", 1},
    {"", "Secret", 1},
    {"", "ConfigMap", 1},
    {"storage.k8s.io", "StorageClass", 1},
    {"", "PersistentVolume", 1},
    {"", "PersistentVolumeClaim", 1},
    {"apiextensions.k8s.io", "CustomResourceDefinition", 2},
    {"rbac.authorization.k8s.io", "ClusterRole", 3},
    {"rbac.authorization.k8s.io", "ClusterRoleBinding", 3},
    {"rbac.authorization.k8s.io", "Role", 3},
    {"rbac.authorization.k8s.io", "RoleBinding", 3},
    {"", "Service", 3},
    {"apps", "DaemonSet", 3},
    {"", "Pod", 3},
    {"", "ReplicationController", 3},
    {"apps", "ReplicaSet", 3},
    {"apps", "Deployment", 3},
    {"autoscaling", "HorizontalPodAutoscaler", 3},
    {"apps", "StatefulSet", 3},
    {"batch", "Job", 3},
    {"batch", "CronJob", 3},
    {"networking.k8s.io", "IngressClass", 3},
    {"networking.k8s.io", "Ingress", 3},
    {"apiregistration.k8s.io", "APIService", 4},
    {"admissionregistration.k8s.io", "MutatingWebhookConfiguration", 4},
    {"admissionregistration.k8s.io", "ValidatingWebhookConfiguration", 4},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicy", 4},
    {"admissionregistration.k8s.io", "ValidatingAdmissionPolicyBinding", 4},
    {"admissionregistration.k8s.io", "MutatingAdmissionPolicy", 4},
    {"admissionregistration.k8s.io", "MutatingAdmissionPolicyBinding", 4},
};
constexpr int kKindCount = sizeof(kKindOrder) / sizeof(kKindOrder[0]);
constexpr int kUnknownTier = 4;

const KindEntry* FindKind(absl::string_view group, absl::string_view kind) {
  for (const KindEntry& entry : kKindOrder) {
    if (entry.kind == kind && entry.group == group) return &entry;
  }
  return nullptr;
}

bool IsNamespaceKind(const ObjectKey& key) { return key.group.empty() && key.kind == "Namespace"; }
bool IsCrdKind(const ObjectKey& key) {
  return key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition";
}

const Json* Annotations(const Json& object) {
  if (!object.is_object()) return nullptr;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return nullptr;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return nullptr;
  return &*annotations;
}

// The annotation's value; nullopt when absent. A value that is not a string reads as "" with
// `not_string` set.
std::optional<std::string> Annotation(const Json& object, absl::string_view name,
                                      bool* not_string = nullptr) {
  const Json* annotations = Annotations(object);
  if (annotations == nullptr) return std::nullopt;
  auto it = annotations->find(std::string(name));
  if (it == annotations->end()) return std::nullopt;
  if (!it->is_string()) {
    if (not_string != nullptr) *not_string = true;
    return std::string();
  }
  return it->get<std::string>();
}

std::string StringAt(const Json& object, std::initializer_list<const char*> path) {
  const Json* node = &object;
  for (const char* field : path) {
    if (!node->is_object()) return "";
    auto it = node->find(field);
    if (it == node->end()) return "";
    node = &*it;
  }
  return node->is_string() ? node->get<std::string>() : "";
}

// The key fields found in an object that has no valid key, for the failure report.
ObjectKey PartialKey(const Json& object) {
  ObjectKey key;
  if (!object.is_object()) return key;
  std::tie(key.group, key.version) = SplitApiVersion(StringAt(object, {"apiVersion"}));
  key.kind = StringAt(object, {"kind"});
  key.ns = StringAt(object, {"metadata", "namespace"});
  key.name = StringAt(object, {"metadata", "name"});
  if (key.name.empty()) key.name = StringAt(object, {"metadata", "generateName"});
  return key;
}

absl::StatusOr<std::vector<SyncPhase>> ParseHookPhases(absl::string_view value) {
  std::vector<SyncPhase> phases;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    SyncPhase phase;
    if (part == "PreSync") {
      phase = SyncPhase::kPreSync;
    } else if (part == "Sync") {
      phase = SyncPhase::kSync;
    } else if (part == "PostSync") {
      phase = SyncPhase::kPostSync;
    } else if (part == "SyncFail") {
      phase = SyncPhase::kSyncFail;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(kHookAnnotation, ": \"", value,
                       "\" is not a hook phase list (PreSync, Sync, PostSync, SyncFail)"));
    }
    if (std::find(phases.begin(), phases.end(), phase) == phases.end()) phases.push_back(phase);
  }
  return phases;
}

absl::StatusOr<uint8_t> ParseDeletePolicy(absl::string_view value) {
  uint8_t policy = 0;
  for (absl::string_view part : absl::StrSplit(value, ',')) {
    part = absl::StripAsciiWhitespace(part);
    if (part == "BeforeHookCreation") {
      policy |= kBeforeHookCreation;
    } else if (part == "HookSucceeded") {
      policy |= kHookSucceeded;
    } else if (part == "HookFailed") {
      policy |= kHookFailed;
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          kHookDeletePolicyAnnotation, ": \"", value,
          "\" is not a delete policy list (BeforeHookCreation, HookSucceeded, HookFailed)"));
    }
  }
  return policy;
}

// (phase, wave): the order of steps.
using StepKey = std::pair<int, int>;
StepKey StepOf(const PlannedObject& object) {
  return {static_cast<int>(object.phase), object.wave};
}

bool ObjectLess(const PlannedObject& a, const PlannedObject& b) {
  const int rank_a = KindRank(a.key.group, a.key.kind);
  const int rank_b = KindRank(b.key.group, b.key.kind);
  return std::tie(rank_a, a.key.group, a.key.kind, a.key.ns, a.key.name, a.index) <
         std::tie(rank_b, b.key.group, b.key.kind, b.key.ns, b.key.name, b.index);
}

// Moves each non-hook Namespace and CRD of `planned` into the earliest step that holds an object
// needing it, if that step comes before its own.
void PullDependencies(const std::vector<Json>& objects, const OrderOptions& options,
                      std::vector<PlannedObject>& planned) {
  // Earliest step (and the object there) needing namespace N / custom kind G/K.
  std::map<std::string, std::pair<StepKey, size_t>> namespace_need;
  std::map<std::pair<std::string, std::string>, std::pair<StepKey, size_t>> kind_need;
  auto note = [](auto& need, const auto& id, StepKey step, size_t at) {
    auto it = need.find(id);
    if (it == need.end() || step < it->second.first) need[id] = {step, at};
  };
  for (size_t i = 0; i < planned.size(); ++i) {
    const PlannedObject& object = planned[i];
    if (object.key.kind.empty()) continue;
    if (!IsClusterScopedKind(object.key.group, object.key.kind)) {
      note(namespace_need, object.key.ns.empty() ? options.default_namespace : object.key.ns,
           StepOf(object), i);
    }
    if (!FindKind(object.key.group, object.key.kind)) {
      note(kind_need, std::make_pair(object.key.group, object.key.kind), StepOf(object), i);
    }
  }
  auto pull = [&](PlannedObject& dependency, const std::pair<StepKey, size_t>& need) {
    if (!(need.first < StepOf(dependency))) return;
    const PlannedObject& needer = planned[need.second];
    dependency.phase = needer.phase;
    dependency.wave = needer.wave;
    dependency.pulled_by = absl::StrCat("needed by ", needer.key.ToString(), " in ",
                                        SyncPhaseName(needer.phase), " wave ", needer.wave);
  };
  for (PlannedObject& object : planned) {
    if (object.hook || !object.error.empty()) continue;
    if (IsNamespaceKind(object.key)) {
      auto it = namespace_need.find(object.key.name);
      if (it != namespace_need.end()) pull(object, it->second);
    } else if (IsCrdKind(object.key)) {
      const Json& crd = objects[object.index];
      auto it = kind_need.find(
          {StringAt(crd, {"spec", "group"}), StringAt(crd, {"spec", "names", "kind"})});
      if (it != kind_need.end()) pull(object, it->second);
    }
  }
}

}  // namespace

absl::string_view SyncPhaseName(SyncPhase phase) {
  switch (phase) {
    case SyncPhase::kPreSync:
      return "PreSync";
    case SyncPhase::kSync:
      return "Sync";
    case SyncPhase::kPostSync:
      return "PostSync";
    case SyncPhase::kSyncFail:
      return "SyncFail";
  }
  return "Sync";
}

int KindRank(absl::string_view group, absl::string_view kind) {
  for (int i = 0; i < kKindCount; ++i) {
    if (kKindOrder[i].kind == kind && kKindOrder[i].group == group) return i;
  }
  return kKindCount;
}

int ApplyTier(absl::string_view group, absl::string_view kind) {
  const KindEntry* entry = FindKind(group, kind);
  return entry == nullptr ? kUnknownTier : entry->tier;
}

absl::StatusOr<int> WaveOf(const Json& object) {
  bool not_string = false;
  std::optional<std::string> value = Annotation(object, kSyncWaveAnnotation, &not_string);
  if (!value.has_value()) return 0;
  int wave = 0;
  if (not_string || !absl::SimpleAtoi(*value, &wave)) {
    return absl::InvalidArgumentError(
        absl::StrCat(kSyncWaveAnnotation, ": \"", *value, "\" is not an integer"));
  }
  return wave;
}

SyncOrder OrderForSync(const std::vector<Json>& objects, const OrderOptions& options) {
  std::vector<PlannedObject> planned;
  planned.reserve(objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    const Json& object = objects[i];
    PlannedObject base;
    base.index = i;
    std::vector<std::string> errors;
    absl::StatusOr<ObjectKey> key = KeyOf(object);
    if (key.ok()) {
      base.key = *std::move(key);
    } else {
      base.key = PartialKey(object);
      errors.push_back(std::string(key.status().message()));
    }
    absl::StatusOr<int> wave = WaveOf(object);
    if (wave.ok()) {
      base.wave = *wave;
    } else {
      errors.push_back(std::string(wave.status().message()));
    }
    std::vector<SyncPhase> phases = {SyncPhase::kSync};
    bool not_string = false;
    if (std::optional<std::string> hook = Annotation(object, kHookAnnotation, &not_string)) {
      absl::StatusOr<std::vector<SyncPhase>> parsed = ParseHookPhases(*hook);
      if (parsed.ok() && !not_string) {
        phases = *std::move(parsed);
        base.hook = true;
      } else {
        errors.push_back(parsed.ok() ? absl::StrCat(kHookAnnotation, " is not a string")
                                     : std::string(parsed.status().message()));
      }
    }
    if (base.hook) {
      if (std::optional<std::string> policy = Annotation(object, kHookDeletePolicyAnnotation)) {
        absl::StatusOr<uint8_t> parsed = ParseDeletePolicy(*policy);
        if (parsed.ok()) {
          base.hook_delete_policy = *parsed;
        } else {
          errors.push_back(std::string(parsed.status().message()));
        }
      }
    }
    const bool has_name = !StringAt(object, {"metadata", "name"}).empty();
    if (!has_name && !StringAt(object, {"metadata", "generateName"}).empty()) {
      if (base.hook) {
        base.generate_name = true;
      } else {
        errors.push_back(
            "metadata.generateName is allowed only for hooks (todoke.dev/hook); set "
            "metadata.name");
      }
    }
    if (std::optional<std::string> sync_options = Annotation(object, kSyncOptionsAnnotation)) {
      for (absl::string_view option : absl::StrSplit(*sync_options, ',')) {
        if (absl::StripAsciiWhitespace(option) == "Replace=true") base.replace = true;
      }
      if (base.replace && key.ok()) {
        const bool refused = IsNamespaceKind(base.key) || IsCrdKind(base.key) ||
                             (base.key.group.empty() && (base.key.kind == "PersistentVolume" ||
                                                         base.key.kind == "PersistentVolumeClaim"));
        if (refused) {
          errors.push_back(absl::StrCat(kSyncOptionsAnnotation, ": Replace=true is refused for ",
                                        base.key.kind,
                                        " (deleting it would delete what it holds)"));
        }
      }
    }
    base.error = absl::StrJoin(errors, "; ");
    for (SyncPhase phase : phases) {
      PlannedObject copy = base;
      copy.phase = phase;
      planned.push_back(std::move(copy));
    }
  }
  PullDependencies(objects, options, planned);

  std::map<StepKey, SyncStep> steps;
  std::map<int, SyncStep> fail_steps;
  for (PlannedObject& object : planned) {
    SyncStep* step;
    if (object.phase == SyncPhase::kSyncFail) {
      step = &fail_steps[object.wave];
    } else {
      step = &steps[StepOf(object)];
    }
    step->phase = object.phase;
    step->wave = object.wave;
    step->objects.push_back(std::move(object));
  }
  SyncOrder order;
  for (auto& [unused, step] : steps) {
    std::sort(step.objects.begin(), step.objects.end(), ObjectLess);
    order.steps.push_back(std::move(step));
  }
  for (auto& [unused, step] : fail_steps) {
    std::sort(step.objects.begin(), step.objects.end(), ObjectLess);
    order.sync_fail.push_back(std::move(step));
  }
  return order;
}

std::vector<std::vector<PlannedObject>> TiersOf(const SyncStep& step) {
  std::map<int, std::vector<PlannedObject>> tiers;
  for (const PlannedObject& object : step.objects) {
    tiers[ApplyTier(object.key.group, object.key.kind)].push_back(object);
  }
  std::vector<std::vector<PlannedObject>> out;
  for (auto& [unused, objects] : tiers) out.push_back(std::move(objects));
  return out;
}

std::vector<std::vector<size_t>> OrderForPrune(const std::vector<PruneCandidate>& candidates) {
  // Namespaces and CRDs after everything else (deleting them deletes what they hold), then wave
  // descending, tier descending; kind rank descending then name within a batch.
  std::map<std::tuple<int, int, int>, std::vector<size_t>, std::greater<>> batches;
  for (size_t i = 0; i < candidates.size(); ++i) {
    const ObjectKey& key = candidates[i].key;
    const int ordinary = IsNamespaceKind(key) || IsCrdKind(key) ? 0 : 1;
    batches[{ordinary, candidates[i].wave, ApplyTier(key.group, key.kind)}].push_back(i);
  }
  std::vector<std::vector<size_t>> out;
  for (auto& [unused, indices] : batches) {
    std::sort(indices.begin(), indices.end(), [&](size_t a, size_t b) {
      const ObjectKey& ka = candidates[a].key;
      const ObjectKey& kb = candidates[b].key;
      const int ra = KindRank(ka.group, ka.kind);
      const int rb = KindRank(kb.group, kb.kind);
      if (ra != rb) return ra > rb;
      return std::tie(ka.group, ka.kind, ka.ns, ka.name) <
             std::tie(kb.group, kb.kind, kb.ns, kb.name);
    });
    out.push_back(std::move(indices));
  }
  return out;
}

}  // namespace todoke::applier::sync

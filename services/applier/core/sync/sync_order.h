// The order in which the Kubernetes destination applies and prunes objects, after Argo CD's
// gitops-engine (pkg/sync): hook phases (PreSync, Sync, PostSync; SyncFail only on failure), then
// sync waves (todoke.dev/sync-wave, an integer, default 0), then kinds in dependency order
// (Namespace first, ..., workloads, Ingress, APIService, then webhooks and unknown kinds), then
// name. A Namespace or CRD that an object of an earlier step needs is pulled into that step.
//
// Within a step, objects are applied concurrently in tiers (ApplyTier): a tier starts only when
// the one before it has been applied, so a Namespace exists before the objects in it, a
// ServiceAccount before the Pods that name it, and a CRD (Established) before its resources.
//
// Pure: no I/O; thread-safe.
#ifndef TODOKE_SERVICES_APPLIER_CORE_SYNC_SYNC_ORDER_H_
#define TODOKE_SERVICES_APPLIER_CORE_SYNC_SYNC_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::applier::sync {

// Per-object sync options, comma-separated: "Replace=true" deletes and re-creates the object
// when an apply fails on an immutable field (refused for Namespace, CRD, PV and PVC).
inline constexpr absl::string_view kSyncOptionsAnnotation = "todoke.dev/sync-options";

enum class SyncPhase { kPreSync = 0, kSync = 1, kPostSync = 2, kSyncFail = 3 };

// "PreSync", "Sync", "PostSync", "SyncFail".
absl::string_view SyncPhaseName(SyncPhase phase);

// todoke.dev/hook-delete-policy values (comma-separated in the annotation), as bits.
enum HookDeletePolicy : uint8_t {
  kBeforeHookCreation = 1,  // the default when the annotation is absent
  kHookSucceeded = 2,
  kHookFailed = 4,
};

// One object's place in the order.
struct PlannedObject {
  size_t index = 0;  // position in the input
  ObjectKey key;     // for a hook with generateName and no name: name = the generateName prefix
  SyncPhase phase = SyncPhase::kSync;
  int wave = 0;
  bool hook = false;
  uint8_t hook_delete_policy = kBeforeHookCreation;  // hooks only
  bool generate_name = false;                        // hooks only: metadata.name comes later
  bool replace = false;                              // todoke.dev/sync-options: Replace=true
  // Non-empty: the object is invalid and fails alone with this message (bad annotation, no key,
  // generateName on a non-hook object, Replace on a kind that refuses it).
  std::string error;
  // Set when the object was pulled into an earlier step: "needed by <key> in <phase> wave <n>".
  std::string pulled_by;
};

// One (phase, wave): its objects sorted by kind order then name.
struct SyncStep {
  SyncPhase phase = SyncPhase::kSync;
  int wave = 0;
  std::vector<PlannedObject> objects;
};

struct SyncOrder {
  // PreSync, Sync and PostSync steps in the order they run (phase, then wave ascending).
  std::vector<SyncStep> steps;
  // SyncFail hooks, by wave: run only when the sync failed.
  std::vector<SyncStep> sync_fail;
};

struct OrderOptions {
  // The namespace of namespaced objects that set none (the destination's default): used to pull
  // a Namespace of the request into the step that needs it.
  std::string default_namespace = "default";
};

// Orders `objects` (desired objects, parsed). Never fails: an invalid object gets
// PlannedObject::error and stays in the step its annotations name (or Sync wave 0), so that it
// fails alone there and later steps do not run. A hook annotated with several phases
// ("PreSync,PostSync") appears once per phase.
SyncOrder OrderForSync(const std::vector<Json>& objects, const OrderOptions& options = {});

// Position of a kind in the apply order (lower first). Unknown kinds (custom resources,
// webhooks) rank last. `group` distinguishes built-ins from custom kinds of the same name.
int KindRank(absl::string_view group, absl::string_view kind);

// The tier of a kind within a step: 0 Namespace; 1 namespace-level policy, ServiceAccount,
// Secret, ConfigMap, storage; 2 CustomResourceDefinition; 3 RBAC, Service, workloads, Job,
// CronJob, Ingress; 4 APIService, webhooks and unknown kinds (custom resources).
int ApplyTier(absl::string_view group, absl::string_view kind);

// The objects of `step` split into tiers (ApplyTier ascending), each applied after the one
// before it. Empty tiers are left out.
std::vector<std::vector<PlannedObject>> TiersOf(const SyncStep& step);

// The sync wave of `object` (its todoke.dev/sync-wave annotation), 0 when it has none;
// INVALID_ARGUMENT naming the value when it is not an integer.
absl::StatusOr<int> WaveOf(const Json& object);

// One object to delete: its key and its wave (from the live object's annotation, 0 if none).
struct PruneCandidate {
  ObjectKey key;
  int wave = 0;
};

// The order to delete `candidates` in: batches of indices into `candidates`, each deleted after
// the one before it: the reverse of the apply order (highest wave first, then tier descending so
// custom resources go before their CRD), with Namespaces and CRDs after every other object.
std::vector<std::vector<size_t>> OrderForPrune(const std::vector<PruneCandidate>& candidates);

}  // namespace todoke::applier::sync

#endif  // TODOKE_SERVICES_APPLIER_CORE_SYNC_SYNC_ORDER_H_

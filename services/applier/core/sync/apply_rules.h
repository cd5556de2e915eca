// The decisions of the Kubernetes destination that need no API server: what a result is called
// (created / configured / unchanged), which errors are retried, when an error is an immutable
// field, how to take an object over from kubectl, which objects prune must leave alone, how hooks
// are named and marked. Pure: no I/O; thread-safe.
#ifndef TODOKE_SERVICES_APPLIER_CORE_SYNC_APPLY_RULES_H_
#define TODOKE_SERVICES_APPLIER_CORE_SYNC_APPLY_RULES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/applier/core/destination.h"

namespace todoke::applier::sync {

// Hooks carry these instead of the tracking id (so they stay out of inventory and prune):
//   todoke.dev/hook-of:        <installation>/<app>
//   todoke.dev/operation-id:   the operation that ran them
inline constexpr absl::string_view kHookOfAnnotation = "todoke.dev/hook-of";
inline constexpr absl::string_view kOperationIdAnnotation = "todoke.dev/operation-id";
// Removed on takeover from kubectl.
inline constexpr absl::string_view kLastAppliedAnnotation =
    "kubectl.kubernetes.io/last-applied-configuration";

// The action an apply took, from the live object before it (nullptr: none) and the object the
// server answered. Not a dry run: same resourceVersion is unchanged. A dry run (the server does
// not bump resourceVersion): unchanged when both are equal once metadata.managedFields,
// resourceVersion, generation and status are set aside.
ApplyAction ActionFor(const Json* before, const Json& answered, bool dry_run);

// metadata.resourceVersion, "" when absent.
std::string ResourceVersionOf(const Json& object);
// metadata.uid, "" when absent.
std::string UidOf(const Json& object);

// True for errors retried with backoff within a wave: UNAVAILABLE (429 after the client's own
// Retry-After retries, 5xx, webhook calls that failed with 500, transport), and NOT_FOUND when
// `kind_pending` (the kind comes from a CRD of the same request that the server does not serve
// yet).
bool IsRetryableApplyError(const absl::Status& status, bool kind_pending);

// True when the API server refused a change to an immutable field (built-in validation,
// CEL rules, webhooks: "field is immutable", "immutable field").
bool IsImmutableFieldError(const absl::Status& status);

// Takeover from kubectl: an RFC 6902 patch (JSON text) that renames the managedFields entries of
// `kubectl-client-side-apply` and `before-first-apply` (operation Update, main resource) to
// `field_manager` with operation Apply (entries of one manager merged into one), and removes the
// last-applied-configuration annotation. "" when `live` needs neither.
std::string TakeoverPatch(const Json& live, absl::string_view field_manager);

// Why prune must leave `live` alone ("" when it may delete it): not tracked by `app` in
// `installation` (no tracking id, another app's, another installation's, or a copied object),
// todoke.dev/prune: disabled, being deleted, owned by a controller, or a Namespace or CRD without
// `allow_cluster_critical`.
std::string PruneRefusal(const Json& live, absl::string_view installation, absl::string_view app,
                         bool allow_cluster_critical);

// True when `object`, found in a Namespace prune wants to delete, should keep that Namespace
// alive: it is not tracked by `app` in `installation`, is not one of that app's hooks or hook
// records (todoke.dev/hook-of: <installation>/<app>) and is not something Kubernetes makes on
// its own (objects with ownerReferences, Events, Endpoints, the default ServiceAccount, the
// kube-root-ca.crt ConfigMap).
bool BlocksNamespacePrune(const Json& object, absl::string_view installation,
                          absl::string_view app);

// The name of a hook run: metadata.name as given, or for a generateName hook
// `<generateName><hash of operation id, phase>` (so a retried operation finds the same object),
// at most 63 characters.
std::string HookName(absl::string_view generate_name, absl::string_view operation_id,
                     absl::string_view phase);

// Hook records: which hooks an operation already ran, kept on the cluster so that a retried
// Apply on another applier replica (or after a restart) never runs a hook twice, even one its
// delete policy removed. One ConfigMap per app and namespace, named HookRecordName (annotated
// todoke.dev/hook-of, never labelled todoke.dev/app: out of the watch cache, inventory and
// prune), with one data entry per hook (HookRecordField) holding HookRecord JSON. Each entry is
// written by server-side apply with a field manager of its own (HookRecordManager), so hooks
// finishing at once never overwrite each other's entries.
struct HookRecord {
  std::string operation;
  bool succeeded = false;
  std::string message;
};
// "todoke-hooks-<10 hex digits of FNV-1a 64 over <installation>/<app>>".
std::string HookRecordName(absl::string_view installation, absl::string_view app);
// "<phase>.<10 hex digits of FNV-1a 64 over the hook's key>" (a valid ConfigMap data key).
std::string HookRecordField(absl::string_view phase, const ObjectKey& key);
// "todoke-hook-<the field's hash part>".
std::string HookRecordManager(absl::string_view field);
std::string HookRecordJson(const HookRecord& record);
// The record in `value`; nullopt when it is not one.
std::optional<HookRecord> ParseHookRecord(absl::string_view value);

// True when the CustomResourceDefinition `crd` has condition Established=True.
bool CrdEstablished(const Json& crd);

// The group and kind a CustomResourceDefinition defines ({"",""} when it says none).
std::pair<std::string, std::string> CrdGroupKind(const Json& crd);

// The owner (another app or installation) named by `live`'s tracking id when it is not
// `app` in `installation` and the id names the object's own key: "app \"x\"" or
// "installation \"y\" app \"x\"". "" when the object is ours, untracked or carries a copied id.
std::string ForeignOwner(const Json& live, absl::string_view installation, absl::string_view app);

}  // namespace todoke::applier::sync

#endif  // TODOKE_SERVICES_APPLIER_CORE_SYNC_APPLY_RULES_H_

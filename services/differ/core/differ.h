// The differ's entry point: pairs desired and live Kubernetes objects by key and judges each pair
// with server-side-apply semantics, producing a sync status, an RFC 6902 patch and a unified YAML
// diff per object, plus a summary. Pure: no I/O, no globals that change, safe to call from many
// threads at once.
//
// Mirrors todoke.differ.v1 (proto/todoke/differ/v1/differ.proto) without depending on generated
// code; the gRPC adapter converts field by field.
#ifndef TODOKE_SERVICES_DIFFER_CORE_DIFFER_H_
#define TODOKE_SERVICES_DIFFER_CORE_DIFFER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "common/json_tree.h"
#include "common/object.h"

namespace todoke::differ {

// The comparison and health rules: bump whenever the same desired and live objects may compare
// or assess differently (a normalisation, list strategy or health rule changed). Sent as
// DiffResponse.engine_version; the orchestrator compares every app again when it changes.
inline constexpr char kDiffEngineVersion[] = "todoke-differ/1";

// Same numbering as todoke.types.v1.SyncStatus.
enum class SyncStatus {
  kUnspecified = 0,
  kSynced = 1,
  kOutOfSync = 2,
  kMissing = 3,     // desired, not live
  kExtraneous = 4,  // live (tracked by the Application), not desired: a prune candidate
  kUnknown = 5,     // could not be compared; ObjectDiff::error says why
};

// "Synced", "OutOfSync", "Missing", "Extraneous", "Unknown", "Unspecified".
std::string_view SyncStatusName(SyncStatus status);

// Mirrors todoke.types.v1.IgnoreRule (Argo CD's ignoreDifferences). Empty group/kind/name/ns
// match any object.
struct IgnoreRule {
  std::string group;
  std::string kind;
  std::string name;
  std::string ns;
  // RFC 6901 pointers, e.g. "/spec/replicas". List levels take an index, matched against the
  // item's position in either the desired or the live list.
  std::vector<std::string> json_pointers;
  // Fields these managers own in the live object (metadata.managedFields) are not compared.
  std::vector<std::string> managed_fields_managers;
};

// OK if `rule` is usable: every pointer parses, and it ignores something (has pointers or
// managers). Otherwise INVALID_ARGUMENT naming the problem.
absl::Status ValidateIgnoreRule(const IgnoreRule& rule);

// True if `rule` applies to the object with `key` (version is not considered).
bool IgnoreRuleMatches(const IgnoreRule& rule, const ObjectKey& key);

struct DiffOptions {
  std::vector<IgnoreRule> ignore_differences;
  // The manager todoke applies with: fields it owned that desired no longer sets are drift.
  // Empty means "todoke".
  std::string field_manager = "todoke";
  // Given to desired namespaced objects that set no namespace (the destination's namespace).
  // A desired object without a namespace also pairs with a cluster-scoped live object of the same
  // kind and name (custom resources whose scope the differ cannot know).
  std::string default_namespace;
  // Compute ObjectDiff::unified_diff (only ever for objects that are not Synced).
  bool compute_unified_diff = true;
  int diff_context_lines = 3;
};

// Mirrors todoke.differ.v1.ObjectDiff.
struct ObjectDiff {
  ObjectKey key;
  SyncStatus status = SyncStatus::kUnspecified;
  // RFC 6902 patch (JSON array text), Secret values masked:
  //  Synced: "[]"; OutOfSync: the operations turning the normalised live object into the state
  //  after applying desired; Missing: [{"op":"add","path":"","value":<desired>}];
  //  Extraneous: [{"op":"remove","path":""}]; Unknown: "".
  std::string json_patch;
  // Unified diff of normalised YAML ("--- live/<id>", "+++ desired/<id>", <id> like kubectl diff:
  // group.version.Kind.namespace.name), Secret values masked. Empty when Synced or Unknown or
  // when DiffOptions::compute_unified_diff is false.
  std::string unified_diff;
  // Set when status is Unknown: why the object could not be compared.
  std::string error;
};

// Mirrors todoke.differ.v1.DiffSummary.
struct DiffSummary {
  uint32_t synced = 0;
  uint32_t out_of_sync = 0;
  uint32_t missing = 0;
  uint32_t extraneous = 0;
  uint32_t unknown = 0;
  // Synced when every object is; otherwise OutOfSync when any object is OutOfSync, Missing or
  // Extraneous; otherwise (only Synced and Unknown objects) Unknown.
  SyncStatus status = SyncStatus::kSynced;
};

struct DiffResult {
  // Desired objects first, in input order; then live objects nobody desired, in input order.
  std::vector<ObjectDiff> objects;
  DiffSummary summary;
};

// Compares `desired` with `live` (Kubernetes objects as JSON). Never fails as a whole: an object
// without apiVersion/kind/name, a key present twice on one side, or an invalid ignore rule that
// matches an object gives that object status Unknown with an error, and everything else is still
// compared. Never throws.
//
// An object that cannot be compared is never turned into a prune candidate (Extraneous is the
// status an automated sync deletes on):
//  - a desired object whose key can be read but that cannot be compared (duplicate key, invalid
//    ignore rule) is one Unknown row under its key, and its live counterpart is consumed by that
//    row (no row of its own);
//  - a desired object whose key cannot be read whole (apiVersion, kind or metadata.name missing or
//    not a string, not a JSON object, text that is not JSON) is one Unknown row under as much of
//    its key as it has (apiVersion/kind/namespace/name; the default namespace applied as for valid
//    objects; an empty key when nothing can be read) with the reason as its error. Since nobody
//    knows which live object it stands for, every live object left unpaired that it may be (each
//    key part it does have agrees; a part it lacks matches anything) is reported Unknown, not
//    Extraneous, naming the desired object(s). So one desired text that is not JSON at all makes
//    every unpaired live object of the call Unknown: a broken render must never prune.
DiffResult Diff(const std::vector<Json>& desired, const std::vector<Json>& live,
                const DiffOptions& options = {});

// Diff over compact trees (json_tree.h), the form the differ works on: the fastest entry when the
// objects are already parsed. Pointers must not be null.
DiffResult DiffNodes(const std::vector<const JsonNode*>& desired,
                     const std::vector<const JsonNode*>& live, const DiffOptions& options = {});

// Diff over JSON texts, as they travel in todoke.types.v1.KubeObject.json (the gRPC service's
// entry): unparsable text gives that object status Unknown with the parser's message.
DiffResult DiffJsonText(const std::vector<std::string_view>& desired,
                        const std::vector<std::string_view>& live, const DiffOptions& options = {});

// The file name kubectl diff would use for an object: "apps.v1.Deployment.prod.web",
// "v1.Namespace.prod" (no namespace part for cluster-scoped objects).
std::string DiffFileName(const ObjectKey& key);

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_CORE_DIFFER_H_

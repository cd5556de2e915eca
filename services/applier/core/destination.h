// The applier's core contract: a Destination is one place objects are applied to (a Kubernetes
// cluster, or a branch of a Git repository). The gRPC adapter (services/applier/grpc) converts
// todoke.applier.v1 messages to these types and routes each call to the Destination its
// todoke.types.v1.Destination names (DestinationRegistry).
//
// Mirrors proto/todoke/applier/v1/applier.proto without depending on generated code.
// Thread-safety: every Destination must accept concurrent calls; calls for one app are never
// issued concurrently by the orchestrator, but calls for different apps are.
#ifndef TODOKE_SERVICES_APPLIER_CORE_DESTINATION_H_
#define TODOKE_SERVICES_APPLIER_CORE_DESTINATION_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/object.h"

namespace todoke::applier {

// One live object: its key, its JSON (canonical text) and its resourceVersion (Git: blob id).
struct LiveObject {
  ObjectKey key;
  std::string json;
  std::string resource_version;
};

struct ReadLiveQuery {
  std::string app;
  // Given to namespaced keys without a namespace (the Application's destination namespace).
  std::string default_namespace;
  // The desired keys (version ignored for identity, used for the GET of an uncached kind).
  std::vector<ObjectKey> keys;
  // The caller's last live digest (LiveDigest, live_digest.h), or empty. When set, a destination
  // may answer with the digest alone (LiveSet.objects_omitted) if the digest of its answer equals
  // it, without reading or copying the objects; a destination may also ignore it.
  std::string if_digest_differs;
};

struct LiveSet {
  // The found desired keys, then the app's inventory (objects whose tracking id names `app`)
  // not among them; each key once.
  std::vector<LiveObject> objects;
  // Desired keys that do not exist.
  std::vector<ObjectKey> absent;
  // Set only in answer to ReadLiveQuery.if_digest_differs, when the digest of the answer equals
  // it: `objects` and `absent` are then empty and `digest` is that digest.
  bool objects_omitted = false;
  std::string digest;
};

// Same numbering as todoke.applier.v1.ApplyAction.
enum class ApplyAction {
  kUnspecified = 0,
  kCreated = 1,
  kConfigured = 2,
  kUnchanged = 3,
  kPruned = 4,
  kFailed = 5,
  kSkipped = 6,
};

// Same numbering as todoke.applier.v1.PropagationPolicy.
enum class PropagationPolicy { kForeground = 0, kBackground = 1, kOrphan = 2 };

struct ObjectResult {
  ObjectKey key;
  ApplyAction action = ApplyAction::kUnspecified;
  // The API server's message on failure (credentials never included); why on skip.
  std::string message;
  std::string resource_version;
  std::string phase;  // "PreSync", "Sync", "PostSync", "SyncFail"
  int wave = 0;
};

struct ApplyOptions {
  bool dry_run = false;
  bool force = false;
  bool prune = false;
  bool wait = false;
  absl::Duration timeout = absl::Minutes(5);
  bool allow_cluster_critical = false;
  bool allow_empty = false;
  PropagationPolicy propagation = PropagationPolicy::kForeground;
};

// Where the objects came from: for the hydration commit message only.
struct SourceInfo {
  std::string repo_url;
  std::string commit;
  std::string path;
  std::string message;
};

struct ApplyPlan {
  std::string app;
  // Set on namespaced objects (per discovery) that have no namespace; results carry the
  // namespace the object was applied in.
  std::string default_namespace;
  // Desired objects (parsed). Their keys come from KeyOf(object).
  std::vector<Json> objects;
  // Keys to delete when options.prune is set.
  std::vector<ObjectKey> prune;
  ApplyOptions options;
  SourceInfo source;
  std::string operation_id;
};

struct ApplyOutcome {
  bool succeeded = false;
  std::string message;
  std::vector<ObjectResult> results;
  // Git destinations: the hydration commit id (empty when nothing changed).
  std::string commit;
};

struct PruneRequest {
  std::string app;
  std::string default_namespace;
  std::vector<ObjectKey> keys;
  bool dry_run = false;
  bool allow_cluster_critical = false;
  PropagationPolicy propagation = PropagationPolicy::kForeground;
};

struct PruneOutcome {
  std::vector<ObjectResult> results;
  std::string commit;  // Git destinations
};

// A change to a managed object seen by the destination's watch.
struct DriftEvent {
  std::string app;
  ObjectKey key;
  std::string resource_version;
  bool deleted = false;
};

// Set by the caller to ask a running call to stop early (the client went away).
using CancelFlag = std::atomic<bool>;

// Called once per object as soon as its result is known, from any thread (serialised by the
// destination: never two calls at once).
using ProgressCallback = std::function<void(const ObjectResult&)>;

class Destination {
 public:
  virtual ~Destination() = default;

  // The live objects for `query`. UNAVAILABLE when the destination cannot be reached or its cache
  // has not synced; never reports a key absent unless it knows.
  virtual absl::StatusOr<LiveSet> ReadLive(const ReadLiveQuery& query, absl::Time deadline) = 0;

  // Applies `plan`, reporting each object through `progress` as it completes. A per-object
  // failure is an ObjectResult with kFailed and the outcome's succeeded = false; a non-OK status
  // means the request could not be carried out at all (INVALID_ARGUMENT for a bad plan,
  // UNAVAILABLE, UNAUTHENTICATED, DEADLINE_EXCEEDED).
  virtual absl::StatusOr<ApplyOutcome> Apply(const ApplyPlan& plan,
                                             const ProgressCallback& progress, absl::Time deadline,
                                             const CancelFlag* cancel) = 0;

  // Deletes the objects of `request.keys` whose tracking id names `request.app`.
  virtual absl::StatusOr<PruneOutcome> Prune(const PruneRequest& request, absl::Time deadline) = 0;

  // Registers `callback` for every change to a managed object; returns a handle whose
  // destruction unregisters it. UNIMPLEMENTED for destinations without a watch (Git).
  class Subscription {
   public:
    virtual ~Subscription() = default;
  };
  virtual absl::StatusOr<std::unique_ptr<Subscription>> WatchDrift(
      std::function<void(const DriftEvent&)> callback) = 0;
};

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_DESTINATION_H_

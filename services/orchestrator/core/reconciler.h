// Reconciler: one pass of the loop for one Application:
//   Resolve -> Render -> ReadLive -> Diff + health -> Apply (when allowed) -> record.
//
// A no-op pass costs almost nothing: the render is skipped when the commit and the source spec
// are unchanged (the desired set and digest are kept in memory), the comparison is skipped when
// no live resourceVersion moved either, and the store is not written when the status is the same.
// Both skips are keyed on the engine versions of the renderer and the differ as well: an
// upgraded stage re-evaluates every app.
// Many apps of one repository share one Resolve per round (single-flight, `resolve_ttl`); apps
// that must ask the remote (a push, a user's refresh) share any request sent after their trigger.
//
// Safety: a failed or empty render never leads to pruning (the app keeps its last good state and
// reports the error); pruning is held while any comparison row is Unknown; an empty desired set
// prunes only with allowEmpty.
//
// Thread-safe; the caller (Controller) never reconciles one app on two threads at once.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_RECONCILER_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_RECONCILER_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/orchestrator/core/event_bus.h"
#include "services/orchestrator/core/stages.h"
#include "services/orchestrator/core/store/application_store.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::orchestrator {

struct ReconcilerOptions {
  // Deadline of each stage call.
  absl::Duration resolve_timeout = absl::Seconds(60);
  absl::Duration render_timeout = absl::Seconds(120);
  // ReadLive waits for the applier's watch cache (it answers UNAVAILABLE after ~5 s when the
  // cluster is unreachable): a dead cluster shows on the app within about this bound.
  absl::Duration read_live_timeout = absl::Seconds(30);
  absl::Duration diff_timeout = absl::Seconds(60);
  absl::Duration apply_timeout = absl::Minutes(10);
  // How long a Resolve answer is shared by the apps of one repository and ref.
  absl::Duration resolve_ttl = absl::Seconds(5);
  // How long apps wait (holding a worker) for another app's Resolve of the same repository and
  // ref, counted from when that Resolve was sent. A Git server that hangs holds the first app's
  // worker for resolve_timeout; the apps behind it give up when this bound has passed
  // (UNAVAILABLE naming the repository, retried with backoff), so that they do not take the
  // workers (and the per-destination slots) of the apps of other repositories.
  absl::Duration resolve_wait = absl::Seconds(5);
  // History entries kept per app.
  int history_limit = 10;
  // A cached render older than this is rendered again even if nothing changed (a cache hit in
  // the renderer), so an upgraded renderer's engine version is noticed; a render answering with
  // a new engine version makes every app render again. A new render is compared again too, so
  // an upgraded differ is noticed within this bound as well, and a comparison answering with a
  // new differ engine version makes every app compare again.
  absl::Duration max_render_age = absl::Hours(1);
  // How many self-heal syncs in `drift_loop_window` mark the app as fighting another controller.
  int drift_loop_syncs = 5;
  absl::Duration drift_loop_window = absl::Minutes(5);
};

// An explicit sync (user, rollback) or an automated one decided by the pass itself.
struct SyncOrder {
  std::string revision;  // empty: the spec's target revision
  bool prune = false;
  bool dry_run = false;
  bool force = false;
  std::string initiated_by = "user";
  // Rollback: the spec recorded in history, used instead of the stored one for this sync.
  std::optional<v1::ApplicationSpec> spec;
};

struct ReconcileRequest {
  std::string app;
  // Set for what a user or a push asked for (webhook, refresh, sync, a created or changed spec):
  // the Resolve answer must come from the remote, from a request sent after the trigger, i.e.
  // numbered above this mark (Reconciler::ResolveMark() when the trigger arrived). A request
  // another app of the same repository and ref sent after that will do: a push announced to
  // 1,000 apps costs one Resolve, not 1,000. Unset: an answer shared within resolve_ttl will do.
  std::optional<uint64_t> fresh_after_resolve;
  // "interval", "refresh", "webhook", "drift", "sync", "retry", "spec".
  std::string trigger = "interval";
  std::optional<SyncOrder> sync;
  // A refresh worker's pass: when the pass would apply, it records what it compared and stops
  // before Apply (`apply_deferred`); the Controller hands the app to a sync worker.
  bool defer_apply = false;
};

struct ReconcileOutcome {
  // Not OK when a stage failed or the sync failed: the Controller backs off.
  absl::Status status;
  // A sync ran (successfully or not): the Controller compares again shortly.
  bool applied = false;
  // The failure was a failed automated sync: retried per spec.syncPolicy.retry.
  bool sync_failed = false;
  // The app no longer exists.
  bool gone = false;
  // `defer_apply` was set and the pass must apply (nothing was applied).
  bool apply_deferred = false;
  // The Application as this pass read it from the store at its start (unset when it could not
  // be read): its spec is what the pass worked from, its status what it was before the pass.
  // The Controller schedules the next pass from it instead of reading the store again.
  std::optional<v1::Application> app;
};

class Reconciler {
 public:
  Reconciler(std::shared_ptr<ApplicationStore> store, Stages stages, EventBus* events,
             ReconcilerOptions options = {});

  // One pass for `request.app`. `cancel` (may be null) stops a running apply early.
  ReconcileOutcome Reconcile(const ReconcileRequest& request, const std::atomic<bool>* cancel);

  // The last comparison of `app` (FAILED_PRECONDITION when it was never compared).
  absl::StatusOr<differ::v1::DiffResponse> LastDiff(const std::string& app) const;

  // Prunes every object `app` manages (DeleteApplication with cascade).
  absl::Status PruneAll(const v1::Application& app);

  // How many Resolve requests were sent so far: the mark a trigger records for
  // ReconcileRequest::fresh_after_resolve.
  uint64_t ResolveMark() const { return resolves_sent_.load(std::memory_order_acquire); }

  // Drops what is cached for `app` (deleted, or its spec changed).
  void Forget(const std::string& app);

  // True when `resource_version` of `app` was returned by todoke's own last apply (a drift
  // event for it is our own echo).
  bool IsOwnWrite(const std::string& app, const std::string& resource_version) const;

 private:
  // Reconcile's pass over `app`, read from the store by Reconcile.
  ReconcileOutcome Pass(const ReconcileRequest& request, const v1::Application& app,
                        const std::atomic<bool>* cancel);

  struct AppCache {
    std::string commit;
    std::string source_hash;  // deterministic hash of spec.source
    std::string renderer_engine;
    absl::Time rendered_at = absl::InfinitePast();
    uint64_t engine_epoch = 0;
    std::string revision_message;
    std::vector<types::v1::KubeObject> desired;   // everything rendered (hooks included)
    std::vector<types::v1::KubeObject> compared;  // without hooks: what is diffed
    std::string render_digest;
    bool compared_valid = false;
    std::string compared_live_digest;
    std::string compared_ignore_hash;
    std::string differ_engine;  // the differ's engine version the comparison came from
    differ::v1::DiffResponse diff;
    differ::v1::AssessHealthResponse health;
    // Key identities of the Extraneous rows whose live object is being deleted (a prune or a
    // deletion by hand waits for finalizers or dependents): no sync can change them.
    std::set<std::string> pending_deletion;
    std::string auto_synced_commit;  // "<commit>/<source hash>" an automated sync last ran for
    std::set<std::string> own_resource_versions;
    std::vector<absl::Time> self_heal_syncs;
  };
  struct ResolveEntry {
    absl::Time at;        // when the last answer came
    absl::Time started;   // when the request in flight (or the last one) was sent
    uint64_t number = 0;  // its number among all Resolve requests sent (1, 2, ...)
    bool in_flight = false;
    absl::StatusOr<source_fetcher::v1::ResolveResponse> result;
  };

  absl::StatusOr<source_fetcher::v1::ResolveResponse> ResolveShared(
      const std::string& repo, const std::string& ref, std::optional<uint64_t> fresh_after);
  // Applies and records; fills `status`. `live` is what ReadLive answered this pass (fields
  // ignoreDifferences names keep their live values in the applied objects).
  ReconcileOutcome RunSync(const v1::Application& app, const v1::ApplicationSpec& spec,
                           const SyncOrder& order, AppCache& cache,
                           const google::protobuf::RepeatedPtrField<types::v1::KubeObject>& live,
                           v1::ApplicationStatus& status, const std::atomic<bool>* cancel);
  void Emit(const std::string& app, const std::string& type, const std::string& reason,
            const std::string& message, int64_t operation_id = 0);

  const std::shared_ptr<ApplicationStore> store_;
  const Stages stages_;
  EventBus* const events_;
  const ReconcilerOptions options_;

  mutable absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<AppCache>> caches_ ABSL_GUARDED_BY(mu_);
  // The renderer's engine version last seen, and how many times it changed: a cached render from
  // an older epoch is rendered again.
  std::string renderer_engine_ ABSL_GUARDED_BY(mu_);
  uint64_t engine_epoch_ ABSL_GUARDED_BY(mu_) = 0;
  // The differ's engine version last seen: a comparison made by another is made again (an
  // upgraded differ is first seen by any app's comparison, at the latest after max_render_age).
  std::string differ_engine_ ABSL_GUARDED_BY(mu_);

  absl::Mutex resolve_mu_;
  absl::CondVar resolve_cv_;
  std::map<std::pair<std::string, std::string>, ResolveEntry> resolves_
      ABSL_GUARDED_BY(resolve_mu_);
  // Resolve requests sent so far (numbered under resolve_mu_, read without it by ResolveMark).
  std::atomic<uint64_t> resolves_sent_{0};
};

// The operation `order` describes for `app` (revision as ordered; id and times unset).
v1::Operation OperationFor(const std::string& app, const SyncOrder& order,
                           v1::OperationPhase phase);

// "StageUnavailable" for UNAVAILABLE / DEADLINE_EXCEEDED / RESOURCE_EXHAUSTED, else `failed_type`.
std::string ConditionTypeFor(const absl::Status& status, const std::string& failed_type);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_RECONCILER_H_

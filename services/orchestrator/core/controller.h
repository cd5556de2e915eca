// Controller: keeps every Application converging. It owns the work queue and its workers, turns
// triggers into reconciles (intervals with jitter, Refresh and Sync calls, webhooks, the
// applier's drift streams), backs off failing apps on their own, and reports operations that a
// crash interrupted.
//
// Scheduling: an app is never reconciled by two workers at once, and triggers that arrive while
// it runs coalesce into one follow-up (WorkQueue). User and webhook triggers go ahead of drift,
// and drift ahead of interval ticks. After a start, reconciles spread over each app's interval
// instead of all at once; so does the first interval of an app created while running.
//
// Two worker pools: refresh workers run the passes that compare (resolve, render, read, diff);
// a pass that must apply stops before Apply and hands the app to the sync workers, which run
// it again and apply (and wait for it). A slow sync therefore never holds up a refresh. In each
// pool, passes of one repository and of one destination are capped, so one slow repository or
// cluster cannot occupy every worker; apps over a cap wait parked while the others go ahead.
//
// Thread-safe. Every wait is bounded.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_CONTROLLER_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_CONTROLLER_H_

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/orchestrator/core/event_bus.h"
#include "services/orchestrator/core/reconciler.h"
#include "services/orchestrator/core/stages.h"
#include "services/orchestrator/core/store/application_store.h"
#include "services/orchestrator/core/work_queue.h"

namespace todoke::orchestrator {

struct ControllerOptions {
  // Refresh passes (resolve, render, compare) running at once.
  int workers = 8;
  // Sync passes (the ones that apply) running at once.
  // Syncs mostly wait (for the API server, for health): cheap to run many at once. With 4, the
  // scale benchmark's 100 apps, each waiting ~1.5 s for a new Deployment, took 31 s (6.8x the
  // floor); at 1,000 apps on a quiet machine, 16 took 34.4 s against a floor of 14.1 s (2.44x),
  // 64 26.9 s against 17.1 s (1.57x). The applier's QPS limit still bounds what reaches a cluster.
  int sync_workers = 64;
  // In each pool, passes of one source repository / one destination running at once; 0: the pool
  // less one (at least 1), so other groups always keep a worker.
  int max_per_repo = 0;
  int max_per_destination = 0;
  // Interval of an app whose spec sets none.
  absl::Duration default_interval = absl::Minutes(3);
  // Each interval is stretched or shrunk by up to this fraction, at random.
  double jitter = 0.1;
  // Backoff of an app whose reconcile failed (a stage down, a bad render): doubles from `base`.
  absl::Duration failure_backoff_base = absl::Seconds(2);
  absl::Duration failure_backoff_max = absl::Minutes(5);
  // Compare again this long after a sync, to see its effect.
  absl::Duration after_sync_delay = absl::Seconds(1);
  // Drift events of one app arriving within this window coalesce into one reconcile.
  absl::Duration drift_delay = absl::Milliseconds(100);
  // The drift streams follow the apps' destinations as the Controller sees specs change (no
  // listing); the set is also checked at least this often, and an ended stream is reopened
  // after drift_reopen_delay.
  absl::Duration drift_streams_period = absl::Minutes(1);
  absl::Duration drift_reopen_delay = absl::Seconds(2);
};

class Controller {
 public:
  Controller(std::shared_ptr<ApplicationStore> store, std::shared_ptr<Reconciler> reconciler,
             Stages stages, EventBus* events, ControllerOptions options = {});
  ~Controller();

  // Marks operations a crash interrupted (and queues a retry of those whose policy allows),
  // schedules every app spread over its interval, and starts the workers and drift streams.
  absl::Status Start();
  // Stops the workers (a running reconcile finishes its current stage call) and drift streams.
  void Stop();

  // Reconcile `app` soon. `trigger`: "refresh", "webhook", "drift", "spec", "interval"; "spec"
  // (created, updated, resumed) also reads the app to follow its repository and destination.
  // With `fresh_resolve` (always for refresh, webhook, spec and sync), the pass resolves the
  // ref from a Resolve request sent after this call, which asks the remote (shared with the other
  // apps of the same repository and ref that were triggered before it was sent).
  void Enqueue(const std::string& app, const std::string& trigger, bool fresh_resolve = false);

  // Queues a sync of `app`: stores the operation (phase QUEUED) and returns it.
  absl::StatusOr<v1::Operation> RequestSync(const std::string& app, SyncOrder order);

  // Reconciles `app` now (bypassing the ref cache) and waits until a reconcile that started after
  // this call has finished, or `deadline` (DEADLINE_EXCEEDED).
  absl::Status RefreshAndWait(const std::string& app, absl::Time deadline);

  // Asks the running operation of `app` to stop. FAILED_PRECONDITION when none runs.
  absl::Status Terminate(const std::string& app);

  // `app` was deleted: drop its schedule and cache.
  void Forget(const std::string& app);

  // Refreshes every app whose source repository matches `repo_url` (normalised: scheme, case of
  // the host, userinfo, ".git" suffix and trailing slashes do not matter; the path's case does)
  // and whose target revision could be `ref` ("refs/heads/x", "refs/tags/v1", or a short branch
  // name): apps following that branch or tag; apps following HEAD on any push; apps following
  // a semver range on any tag push; every app of the repository when `ref` is empty; never an
  // app pinned to a commit or suspended, and nothing at all for a push to a branch some app
  // hydrates into (todoke's own write). Returns the apps queued.
  std::vector<std::string> RefreshMatching(const std::string& repo_url, const std::string& ref);

  size_t QueueDepth() const { return queue_.Size(); }
  // Passes running (both pools).
  size_t Busy() const { return queue_.InFlight(); }
  // When the next pass of `app` is due; nullopt when none is queued.
  std::optional<absl::Time> NextPassAt(const std::string& app) const {
    return queue_.QueuedFor(app);
  }

 private:
  struct Pending {
    std::string trigger = "interval";
    // The Reconciler's ResolveMark when a trigger that must ask the remote arrived (the latest).
    std::optional<uint64_t> fresh_after_resolve;
    std::optional<SyncOrder> sync;
  };
  struct AppState {
    int failures = 0;
    int sync_retries = 0;
    uint64_t started = 0;   // passes started
    uint64_t finished = 0;  // `started` when the last pass that was not handed on finished
    bool spread = false;    // its interval's phase was drawn at random (after a start or create)
    // Enqueue and Forget calls for it: a pass during which it moved reads the app again
    // afterwards instead of scheduling from the copy the pass read at its start.
    uint64_t touched = 0;
    std::shared_ptr<std::atomic<bool>> cancel;  // set while a reconcile runs
  };

  void Work(int lane);
  void Process(const std::string& app, int lane);
  absl::Duration IntervalOf(const v1::Application& app) const;
  absl::Duration Jittered(absl::Duration d);
  double UnitRandomLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Follows `app`'s repository and destination (its groups in the queue, the drift streams).
  void Track(const v1::Application& app);
  void Untrack(const std::string& app);
  void DriftLoop();

  const std::shared_ptr<ApplicationStore> store_;
  const std::shared_ptr<Reconciler> reconciler_;
  const Stages stages_;
  EventBus* const events_;
  const ControllerOptions options_;
  WorkQueue queue_;

  mutable absl::Mutex mu_;
  std::map<std::string, Pending> pending_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, AppState> states_ ABSL_GUARDED_BY(mu_);
  uint64_t random_ ABSL_GUARDED_BY(mu_) = 0x9e3779b97f4a7c15ull;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;

  std::vector<std::thread> workers_;
  std::thread drift_thread_;
  // Drift streams by destination (serialized todoke.types.v1.Destination). `id` tells the
  // current stream's end from that of one the loop closed.
  struct DriftSlot {
    uint64_t id = 0;
    std::unique_ptr<ApplyStage::DriftStream> stream;
    absl::Time reopen_at = absl::InfiniteFuture();  // set when the stream ended
  };
  std::map<std::string, DriftSlot> drift_streams_ ABSL_GUARDED_BY(mu_);
  uint64_t drift_stream_seq_ ABSL_GUARDED_BY(mu_) = 0;
  // Serialized destination of each app that wants a drift stream, and apps per destination.
  std::map<std::string, std::string> drift_key_of_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> drift_apps_ ABSL_GUARDED_BY(mu_);
  // The wanted set changed, or a stream ended: DriftLoop looks again.
  bool drift_dirty_ ABSL_GUARDED_BY(mu_) = true;
};

// Every Application in `store`, ordered by name.
absl::StatusOr<std::vector<v1::Application>> ListAllApplications(ApplicationStore& store);

// The form repository URLs are compared in: lowercase scheme and host, no userinfo, no trailing
// "/" or ".git"; "git@host:path" as "ssh://host/path".
std::string NormalizeRepoUrl(const std::string& url);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_CONTROLLER_H_

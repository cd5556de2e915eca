// Controller: keeps every Application converging. It owns the work queue and its workers, turns
// triggers into reconciles (intervals with jitter, Refresh and Sync calls, webhooks, the
// applier's drift streams), backs off failing apps on their own, and reports operations that a
// crash interrupted.
//
// Scheduling: an app is never reconciled by two workers at once, and triggers that arrive while
// it runs coalesce into one follow-up (WorkQueue). User and webhook triggers go ahead of drift,
// and drift ahead of interval ticks. After a start, reconciles spread over each app's interval
// instead of all at once.
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
  // Reconciles running at once.
  int workers = 8;
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
  // How often the set of drift streams is checked against the apps' destinations.
  absl::Duration drift_streams_period = absl::Seconds(5);
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

  // Reconcile `app` soon. `trigger`: "refresh", "webhook", "drift", "spec", "interval".
  void Enqueue(const std::string& app, const std::string& trigger, bool bypass_ref_cache = false);

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
  size_t Busy() const { return queue_.InFlight(); }

 private:
  struct Pending {
    std::string trigger = "interval";
    bool bypass_ref_cache = false;
    std::optional<SyncOrder> sync;
  };
  struct AppState {
    int failures = 0;
    int sync_retries = 0;
    uint64_t started = 0;    // reconciles started
    uint64_t finished = 0;   // reconciles finished
    std::shared_ptr<std::atomic<bool>> cancel;  // set while a reconcile runs
  };

  void Work();
  void Process(const std::string& app);
  absl::Duration IntervalOf(const v1::Application& app) const;
  absl::Duration Jittered(absl::Duration d);
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
  // Drift streams by destination (serialized todoke.types.v1.Destination).
  std::map<std::string, std::unique_ptr<ApplyStage::DriftStream>> drift_streams_
      ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> drift_retry_at_ ABSL_GUARDED_BY(mu_);
};

// Every Application in `store`, ordered by name.
absl::StatusOr<std::vector<v1::Application>> ListAllApplications(ApplicationStore& store);

// The form repository URLs are compared in: lowercase scheme and host, no userinfo, no trailing
// "/" or ".git"; "git@host:path" as "ssh://host/path".
std::string NormalizeRepoUrl(const std::string& url);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_CONTROLLER_H_

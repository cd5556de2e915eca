// The Kubernetes destination: applies an app's objects to one cluster and reads them back.
//
// Apply: the objects are ordered (sync_order.h: hook phases, sync waves, kind tiers) and each
// non-hook object is stamped with the tracking id (installation, app) and the todoke.dev/app
// label, then server-side applied (field manager "todoke") step by step, each tier of a step
// concurrently (at most `concurrency` at once). Each result (created, configured, unchanged,
// failed with the API server's message, skipped with why) goes to the progress callback as soon as
// it is known. An invalid object fails alone: the rest of its step applies, later steps do not
// run (their objects are reported skipped) and the SyncFail hooks run. Within a step, 429, 5xx,
// failed webhook calls and 404 for a kind that a CRD of the same request has not made served yet
// are retried with backoff. CRDs are waited for (Established) and discovery refreshed before the
// next tier. With `wait`, the health of each step's objects (todoke_health) gates the next step
// and the end, within `timeout`; PostSync hooks always wait for health.
//
// Ownership: an object whose tracking id names another app (or another installation) is never
// applied over (failed, naming the owner). An object created by `kubectl apply` is taken over on
// first apply: the managedFields of kubectl-client-side-apply and before-first-apply become
// todoke's (operation Apply) and last-applied-configuration is dropped, so fields later removed
// from Git are removed live. An immutable-field error fails with a clear message unless the object
// opts in with `todoke.dev/sync-options: Replace=true` (deleted, then created again).
//
// Hooks (todoke.dev/hook): Jobs, Pods or any kind, created and waited for until complete (Jobs
// and Pods) or healthy, in their phase and wave; `todoke.dev/hook-delete-policy` honoured
// (BeforeHookCreation by default; HookSucceeded, HookFailed). They carry todoke.dev/hook-of and
// todoke.dev/operation-id instead of the tracking id, so they are never in inventory or prune;
// a generateName hook is named from the operation id, so a retried Apply with the same operation
// id finds it and never runs it twice. Which hooks an operation ran (and whether they succeeded)
// is also kept on the cluster, in the app's hook record ConfigMap of the hook's namespace
// (apply_rules.h HookRecord), written before a delete policy removes the hook: a retried Apply
// with the same operation id on another applier replica, or after a restart, reports the
// recorded result instead of running the hook again. A request without an operation id runs its
// hooks every time. A dry run does not run hooks (skipped, with why).
//
// Dry run (dryRun=All) changes nothing; an object whose Namespace or CRD is created by the same
// request is skipped, saying so.
//
// Prune (in Apply with options.prune after every step succeeded, and the Prune call) deletes
// only objects whose tracking id names the app in this installation, re-read just before and
// deleted with preconditions.uid and the propagation policy, in reverse order; never a Namespace
// or CRD without allow_cluster_critical, never an object annotated todoke.dev/prune: disabled,
// being deleted or owned by a controller, never a Namespace that still holds objects not tracked
// by the app. Apply with prune and no objects refuses (FAILED_PRECONDITION) unless allow_empty.
//
// ReadLive and WatchDrift are answered from the watch cache (watch_cache.h): ReadLive is
// UNAVAILABLE until every kind it needs has synced, GETs desired keys the label-filtered cache
// lacks (and kinds not watched yet, which it then watches), and reports `absent` only for keys
// the server said do not exist. Such a "not found" is remembered for `absent_ttl` and answers
// the next reads of that key and the ownership check of its apply in that window (a write of the
// key by this destination forgets it): a new app's key costs one GET, not one per read.
//
// Messages: every result and outcome message, and every error, has the values of the plan's
// Secrets (and of a pruned Secret), the destination's token and any bearer token redacted
// (secret_redactor.h): the API server may echo them (an admission policy's message).
//
// Thread-safety: every method may be called concurrently (calls for one app are serialised by
// the caller).
#ifndef TODOKE_SERVICES_APPLIER_CORE_SYNC_KUBE_DESTINATION_H_
#define TODOKE_SERVICES_APPLIER_CORE_SYNC_KUBE_DESTINATION_H_

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "services/applier/core/destination.h"
#include "services/applier/core/kube/kube_client.h"
#include "services/applier/core/sync/apply_rules.h"
#include "services/applier/core/sync/sync_order.h"
#include "services/applier/core/sync/watch_cache.h"

namespace todoke::applier::sync {

struct KubernetesDestinationOptions {
  // Named in every tracking id: two installations on one cluster never touch each other's
  // objects.
  std::string installation = "default";
  std::string field_manager = "todoke";
  // Passed to KubeClient::Create (QPS, burst, requests in flight...).
  kube::KubeClientOptions client;
  // Objects applied at once within one tier of one step.
  int concurrency = 16;
  // Bounds waits (health, hooks, CRDs Established) when the request sets no timeout.
  absl::Duration default_timeout = absl::Minutes(5);
  // Namespace for namespaced objects that name none; empty: the kubeconfig context's namespace,
  // else "default".
  std::string default_namespace;
  // Retries within a step (retryable errors, see above): attempts in all, and the backoff.
  int max_attempts = 6;
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(5);
  // Interval of the health, hook and CRD polls.
  absl::Duration poll_interval = absl::Milliseconds(250);
  // ReadLive waits at most this long (and never past its deadline) for needed kinds to sync
  // before answering UNAVAILABLE.
  absl::Duration read_live_sync_wait = absl::Seconds(5);
  // How long a GET that found no object, for a key outside the label-filtered cache, is taken as
  // the answer by ReadLive and by an apply's ownership check (a new app's refresh pass, sync pass
  // and apply each read every key: 1,000 new apps of 4 objects made 16,000 GETs, ~1 ms of API
  // server and etcd CPU each, the largest part of an install's extra load). An object created
  // without todoke's label within the window is seen after it; an apply in the window meets it
  // as any server-side apply would (a conflict on fields another manager owns, never a forced
  // take-over). Zero: ask every time.
  absl::Duration absent_ttl = absl::Seconds(30);
  // At start, find the kinds that already have managed objects and watch them (so ReadLive's
  // inventory and WatchDrift cover them after a restart).
  bool watch_managed_kinds_at_start = true;
  WatchCacheOptions cache;  // installation and label are set from the fields above
};

class KubernetesDestination : public Destination {
 public:
  // A destination for the cluster `config` names. INVALID_ARGUMENT as KubeClient::Create; no
  // request is made here (the first watches start in the background).
  static absl::StatusOr<std::unique_ptr<KubernetesDestination>> Create(
      kube::KubeConfig config, KubernetesDestinationOptions options = {});

  // Over an existing client (tests, or a client shared with something else).
  KubernetesDestination(std::shared_ptr<kube::KubeClient> client,
                        KubernetesDestinationOptions options);
  ~KubernetesDestination() override;

  absl::StatusOr<LiveSet> ReadLive(const ReadLiveQuery& query, absl::Time deadline) override;
  absl::StatusOr<ApplyOutcome> Apply(const ApplyPlan& plan, const ProgressCallback& progress,
                                     absl::Time deadline, const CancelFlag* cancel) override;
  absl::StatusOr<PruneOutcome> Prune(const PruneRequest& request, absl::Time deadline) override;
  // The subscription must be destroyed before the destination.
  absl::StatusOr<std::unique_ptr<Subscription>> WatchDrift(
      std::function<void(const DriftEvent&)> callback) override;

  kube::KubeClient& client() { return *client_; }
  WatchCache& cache() { return *cache_; }
  const KubernetesDestinationOptions& options() const { return options_; }

 private:
  class ApplyRun;

  struct PruneRun {
    std::string app;
    // For keys of namespaced kinds that name no namespace.
    std::string default_namespace;
    bool dry_run = false;
    bool allow_cluster_critical = false;
    PropagationPolicy propagation = PropagationPolicy::kForeground;
  };
  // Prunes `keys` (reverse order), reporting each result through `report`.
  void PruneKeys(const PruneRun& run, const std::vector<ObjectKey>& keys, absl::Time deadline,
                 const std::function<void(ObjectResult)>& report);
  // Why the Namespace `name` must not be pruned ("" when it may).
  std::string NamespaceBlocker(const std::string& name, const std::string& app,
                               absl::Time deadline);

  // The namespace for an object of a namespaced kind that names none: the request's (the
  // Application's destination namespace) when it gives one, else this destination's own
  // (options, then the kubeconfig context's, then "default").
  const std::string& NamespaceFor(const std::string& requested) const {
    return requested.empty() ? default_namespace_ : requested;
  }

  // This process's memory of hooks that ran to the end for (app, operation id), in front of
  // the hook records on the cluster.
  std::optional<HookRecord> HookRan(const std::string& app, const std::string& operation,
                                    const std::string& phase, const ObjectKey& key);
  void MarkHookRan(const std::string& app, const std::string& phase, const ObjectKey& key,
                   const HookRecord& record);

  std::shared_ptr<kube::KubeClient> client_;
  KubernetesDestinationOptions options_;
  std::string default_namespace_;
  std::unique_ptr<WatchCache> cache_;
  absl::Notification managed_kinds_found_;
  absl::Notification stopping_;
  std::thread start_thread_;
  absl::Mutex start_mu_;
  std::string start_error_ ABSL_GUARDED_BY(start_mu_);
  absl::Mutex hooks_mu_;
  std::map<std::tuple<std::string, std::string, std::string, ObjectKey>, HookRecord> hooks_ran_
      ABSL_GUARDED_BY(hooks_mu_);

  // Per object: the digest of the body todoke applied last and the resourceVersion the server
  // answered, so a re-apply of the same body to an object that did not move sends nothing.
  std::pair<std::string, std::string> LastApplied(const ObjectKey& key);
  void RememberApplied(const ObjectKey& key, const std::string& body_digest,
                       const std::string& resource_version);
  absl::Mutex applied_mu_;
  std::map<ObjectKey, std::pair<std::string, std::string>> applied_ ABSL_GUARDED_BY(applied_mu_);

  // The GET of a key outside the cache (KubeClient::GetFromServerCache: a key todoke does not
  // label is looked for in the API server's cache, not in etcd), through the memory of recent
  // "not found" answers
  // (options_.absent_ttl): NOT_FOUND without a request when one is remembered; a NOT_FOUND answer
  // is remembered, any other answer forgets the key.
  absl::StatusOr<Json> GetUncached(const ObjectKey& key, absl::Time deadline);
  // Forgets a remembered "not found" for `key` (this destination is about to write it).
  void ForgetAbsent(const ObjectKey& key);
  absl::Mutex absent_mu_;
  absl::flat_hash_map<ObjectKey, absl::Time> absent_until_ ABSL_GUARDED_BY(absent_mu_);
  size_t absent_sweep_at_ ABSL_GUARDED_BY(absent_mu_) = 1024;  // expired entries go then
};

}  // namespace todoke::applier::sync

#endif  // TODOKE_SERVICES_APPLIER_CORE_SYNC_KUBE_DESTINATION_H_

// The watch cache of one Kubernetes destination: for every kind that managed objects have, a
// thread LISTs and then WATCHes the objects labelled todoke.dev/app (bookmarks on), keeps them in
// memory as canonical JSON with their resourceVersion, relists on 410 Gone and after any broken
// watch (reconnecting with exponential backoff), and tells subscribers about every change and
// deletion of a managed object (the app from its tracking id), a relist included: what changed
// while the watch was down is reported once the relist is done.
//
// Honesty: a kind is "synced" only between a successful LIST and the next broken watch, so
// callers (ReadLive) never answer "absent" from a cold or relisting cache; WaitSynced says which
// kinds are not ready.
//
// Thread-safety: every method may be called from any thread. Subscriber callbacks run on the
// watch threads, one at a time (never two at once), and must not call Subscribe/Unsubscribe.
#ifndef TODOKE_SERVICES_APPLIER_CORE_SYNC_WATCH_CACHE_H_
#define TODOKE_SERVICES_APPLIER_CORE_SYNC_WATCH_CACHE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/object.h"
#include "services/applier/core/destination.h"
#include "services/applier/core/kube/kube_client.h"

namespace todoke::applier::sync {

// A kind, version aside: {group, kind}.
using GroupKind = std::pair<std::string, std::string>;

struct WatchCacheOptions {
  // Tracking ids of other installations are not ours: their objects have no app here.
  std::string installation = "default";
  std::string label_selector = "todoke.dev/app";
  // Reconnect backoff after a failed LIST or a broken watch (doubling, with jitter).
  absl::Duration min_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(10);
  // Deadline of each LIST; server-side timeout of each WATCH (re-opened from the last version).
  absl::Duration list_timeout = absl::Seconds(60);
  int watch_timeout_seconds = 300;
  // How long a deletion seen by the watch (or a relist) is remembered, so that an API response
  // read before it (an Apply or a foreground Delete answered just before the object went) is not
  // taken by Update for the current state. Bounds the memory of deletions, not their effect:
  // Update answers are handled as soon as their request returns.
  absl::Duration deletion_memory = absl::Minutes(5);
};

// One cached object.
struct CachedObject {
  ObjectKey key;     // version: the one the cache lists
  std::string json;  // canonical JSON
  std::string resource_version;
  std::string app;  // from the tracking id ("" when it names no app of this installation)
};

class WatchCache {
 public:
  // `client` must outlive the cache.
  WatchCache(kube::KubeClient* client, WatchCacheOptions options);
  // Stops every watch thread (each notices within about a second) and joins it.
  ~WatchCache();
  WatchCache(const WatchCache&) = delete;
  WatchCache& operator=(const WatchCache&) = delete;

  // Starts watching `kind` (no-op when already watched). The version listed is the server's
  // preferred one. Errors of discovery: NOT_FOUND when the server does not serve the kind,
  // UNAVAILABLE when its group's discovery failed.
  absl::Status Watch(const GroupKind& kind, absl::Time deadline);

  // Finds the kinds that have managed objects now (one LIST with limit 1 per listable
  // resource) and watches them. The errors of discovery; a LIST that fails is skipped (its
  // kind is watched later, when an object of it is applied or read).
  absl::Status WatchManagedKinds(absl::Time deadline);

  bool IsWatched(const GroupKind& kind) const;
  bool IsSynced(const GroupKind& kind) const;

  // Waits until every kind of `kinds` is synced: OK, or UNAVAILABLE naming the kinds that are
  // not (with the last error of each). A kind not watched counts as not synced. Answers at once,
  // without waiting for `deadline`, when a kind of `kinds` is disconnected: its last LIST failed
  // (the server is unreachable, or refuses it) and it has not listed successfully since, so
  // waiting would only hold the caller until the next retry of that LIST, after its backoff.
  // A relist still under way (after a broken watch or 410 Gone) is waited for.
  absl::Status WaitSynced(const std::vector<GroupKind>& kinds, absl::Time deadline) const;

  // The cached object with `key` (version ignored); nullopt when not cached. Without
  // `with_json`, its json is left empty (nothing but the key, resourceVersion and app is copied).
  std::optional<CachedObject> Get(const ObjectKey& key, bool with_json = true) const;
  // Every cached object whose tracking id names `app`; `with_json` as for Get.
  std::vector<CachedObject> AppObjects(absl::string_view app, bool with_json = true) const;
  std::vector<GroupKind> WatchedKinds() const;
  size_t size() const;

  // Updates the cache from an API response (Apply, Delete with the object still there) when its
  // kind is watched and it carries the label; an older resourceVersion never replaces a newer one,
  // and an answer not newer than a deletion the watch has already reported for its key is
  // dropped (else a stale copy of a deleted object would stay cached until the next relist).
  // A change that the watch reports later with the same resourceVersion is not reported twice.
  void Update(const Json& object);
  // Removes `key` after a delete that the server answered with a Status (the object is gone).
  void Remove(const ObjectKey& key);

  using DriftCallback = std::function<void(const DriftEvent&)>;
  // Registers `callback`; returns an id for Unsubscribe. After Unsubscribe returns, the callback
  // is not running and is never called again.
  uint64_t Subscribe(DriftCallback callback);
  void Unsubscribe(uint64_t id);

 private:
  struct KindState {
    GroupKind kind;
    kube::GroupVersionKind gvk;
    bool synced = false;
    bool listed_once = false;
    // The last LIST failed (reset by a successful one): the cache is disconnected for the kind.
    bool list_failed = false;
    std::string last_error;
    absl::flat_hash_map<ObjectKey, CachedObject> objects;
    // Deletions seen lately: key -> the resourceVersion of the deletion and when it was seen.
    absl::flat_hash_map<ObjectKey, std::pair<std::string, absl::Time>> deleted;
    size_t next_deleted_sweep = 64;  // sweep expired deletions when `deleted` reaches this size
    std::thread thread;
  };

  void Run(KindState* state);
  // Replaces the objects of `state` with `items`, listed at `list_version`, reporting differences
  // (not on the first LIST).
  void ReplaceAll(KindState* state, std::vector<Json>& items, const std::string& list_version);
  // Remembers that `key` was deleted at `version` (nothing when `version` is empty).
  void RememberDeletion(KindState* state, const ObjectKey& key, const std::string& version)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Applies one watched object; returns the event to report, if any.
  std::optional<DriftEvent> Apply(KindState* state, const Json& object, bool deleted)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  CachedObject Entry(const Json& object) const;
  void IndexLocked(const CachedObject& entry, bool add) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Publish(const std::vector<DriftEvent>& events);
  bool SleepUnlessStopped(absl::Duration duration);

  kube::KubeClient* client_;
  const WatchCacheOptions options_;
  std::atomic<bool> stop_{false};
  absl::Notification stopped_;

  mutable absl::Mutex mu_;
  std::map<GroupKind, std::unique_ptr<KindState>> kinds_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, absl::flat_hash_set<ObjectKey>> by_app_ ABSL_GUARDED_BY(mu_);

  absl::Mutex subscribers_mu_;
  uint64_t next_subscriber_ ABSL_GUARDED_BY(subscribers_mu_) = 1;
  std::map<uint64_t, DriftCallback> subscribers_ ABSL_GUARDED_BY(subscribers_mu_);
};

}  // namespace todoke::applier::sync

#endif  // TODOKE_SERVICES_APPLIER_CORE_SYNC_WATCH_CACHE_H_

// WorkQueue: the reconcile loop's queue of Application names, with client-go workqueue's
// guarantees:
//  - an item is handed to at most one worker at a time;
//  - adding an item that is queued keeps one entry (the earliest time, the highest priority);
//  - adding an item that a worker holds marks it dirty, and it is queued again once Done;
//  - delayed adds (intervals, backoff) become ready at their time;
//  - among ready items, higher priority first (user and webhook triggers ahead of drift, drift
//    ahead of interval ticks), then the earliest.
// And two of its own:
//  - lanes: each worker pool takes from its own lane (the Controller's refresh and sync pools).
//    An item is queued in one lane; adding it for a higher lane moves it there (a sync pass
//    compares as well, so it subsumes a refresh);
//  - group limits: a key belongs to groups (its repository, its destination); in each lane, at
//    most `group_limits[lane][kind]` held items share one group of that kind. An item over a
//    limit is parked, looked at by no worker, until an item of that group is Done; items of
//    other groups are handed out meanwhile.
// Wakeups: an item that becomes ready wakes one waiting worker of its lane (none when it is
// parked); one timer thread sleeps until the next delayed item. Idle workers cost nothing.
// Thread-safe. Every wait is bounded (and ended by ShutDown).
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace todoke::orchestrator {

enum class WorkPriority { kHigh = 0, kNormal = 1, kLow = 2 };

struct WorkQueueOptions {
  // Worker pools; lanes are numbered from 0.
  int lanes = 1;
  // group_limits[lane][kind]: held items of one group of kind `kind` in `lane` at once (missing
  // or <= 0: no limit).
  std::vector<std::vector<int>> group_limits;
};

class WorkQueue {
 public:
  explicit WorkQueue(WorkQueueOptions options = {});
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `key` in `lane` to be handed out at or after `when`.
  void Add(const std::string& key, WorkPriority priority, absl::Time when = absl::InfinitePast(),
           int lane = 0);

  // The groups of `key`: groups[kind] (empty: none of that kind). Applies to the next time the
  // key is handed out (a held key counts in the groups it was handed out with).
  void SetGroups(const std::string& key, std::vector<std::string> groups);

  // The next ready item of `lane`, waiting for one; nullopt once ShutDown was called.
  std::optional<std::string> Get(int lane = 0);

  // The worker is done with `key`: if it was added meanwhile, it is queued again.
  void Done(const std::string& key);

  // Removes a queued `key` (deleted Application) and its groups. A held one is not re-queued
  // after Done.
  void Forget(const std::string& key);

  // Wakes every Get (which return nullopt from now on) and ends the timer.
  void ShutDown();

  // Items queued (ready, parked or delayed), not counting those held by workers.
  size_t Size() const;
  // Items held by workers.
  size_t InFlight() const;
  // When `key` is queued for (a held key's follow-up included); nullopt when it is not queued.
  std::optional<absl::Time> QueuedFor(const std::string& key) const;
  // How many times a waiting Get woke up (signalled, or at its bound).
  uint64_t Wakeups() const;

 private:
  using GroupId = std::tuple<int, int, std::string>;  // lane, kind, group
  struct Entry {
    absl::Time when;
    WorkPriority priority;
    uint64_t seq;
    int lane = 0;
    bool parked = false;
    GroupId parked_on;
  };
  struct Held {
    int lane = 0;
    std::vector<std::string> groups;
  };
  using ReadyKey = std::tuple<int, absl::Time, uint64_t, std::string>;
  using DelayedKey = std::tuple<absl::Time, uint64_t, std::string>;

  static ReadyKey ReadyKeyOf(const std::string& key, const Entry& e) {
    return ReadyKey(static_cast<int>(e.priority), e.when, e.seq, key);
  }
  int LimitOf(int lane, int kind) const;
  // The first group of `key` at its limit in `lane`.
  std::optional<GroupId> FullGroupLocked(int lane, const std::string& key) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void QueueLocked(const std::string& key, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A due entry: parked if a group is full, else ready (and one worker of its lane woken).
  // Returns true when it became ready.
  bool MakeReadyLocked(const std::string& key, Entry& entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnqueueLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A slot of `group` was freed: parked items of it become ready, as many as it has free slots.
  void UnparkLocked(const GroupId& group) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::optional<std::string> TakeLocked(int lane) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void TimerLoop();

  const WorkQueueOptions options_;
  const int lanes_;
  mutable absl::Mutex mu_;
  std::unique_ptr<absl::CondVar[]> lane_cv_;  // one per lane: signalled once per ready item
  absl::CondVar timer_cv_;                    // an earlier delayed item, or shutdown
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t wakeups_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Entry> queued_ ABSL_GUARDED_BY(mu_);
  std::vector<std::set<ReadyKey>> ready_ ABSL_GUARDED_BY(mu_);  // by lane
  std::set<DelayedKey> delayed_ ABSL_GUARDED_BY(mu_);
  std::map<GroupId, std::set<ReadyKey>> parked_ ABSL_GUARDED_BY(mu_);
  std::map<GroupId, int> held_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> groups_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Held> processing_ ABSL_GUARDED_BY(mu_);
  // Added while processing: queued again at Done with this entry.
  std::map<std::string, Entry> dirty_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> forgotten_ ABSL_GUARDED_BY(mu_);
  std::thread timer_;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_

// WorkQueue: the reconcile loop's queue of Application names, with client-go workqueue's
// guarantees:
//  - an item is handed to at most one worker at a time;
//  - adding an item that is queued keeps one entry (the earliest time, the highest priority);
//  - adding an item that a worker holds marks it dirty, and it is queued again once Done;
//  - delayed adds (intervals, backoff) become ready at their time;
//  - among ready items, higher priority first (user and webhook triggers ahead of drift, drift
//    ahead of interval ticks), then the earliest.
// Thread-safe. Every wait is bounded by ShutDown.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace todoke::orchestrator {

enum class WorkPriority { kHigh = 0, kNormal = 1, kLow = 2 };

class WorkQueue {
 public:
  // Queues `key` to be handed out at or after `when`.
  void Add(const std::string& key, WorkPriority priority, absl::Time when = absl::InfinitePast());

  // The next ready item, waiting for one; nullopt once ShutDown was called.
  std::optional<std::string> Get();

  // The worker is done with `key`: if it was added meanwhile, it is queued again.
  void Done(const std::string& key);

  // Removes a queued `key` (deleted Application). A held one is not re-queued after Done.
  void Forget(const std::string& key);

  // Wakes every Get (which return nullopt from now on).
  void ShutDown();

  // Items queued (ready or delayed), not counting those held by workers.
  size_t Size() const;
  // Items held by workers.
  size_t InFlight() const;

 private:
  struct Entry {
    absl::Time when;
    WorkPriority priority;
    uint64_t seq;
  };
  using ReadyKey = std::tuple<int, absl::Time, uint64_t, std::string>;
  using DelayedKey = std::tuple<absl::Time, uint64_t, std::string>;

  void QueueLocked(const std::string& key, Entry entry) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UnqueueLocked(const std::string& key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PromoteLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  uint64_t next_seq_ ABSL_GUARDED_BY(mu_) = 0;
  bool shut_down_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, Entry> queued_ ABSL_GUARDED_BY(mu_);
  std::set<ReadyKey> ready_ ABSL_GUARDED_BY(mu_);
  std::set<DelayedKey> delayed_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> processing_ ABSL_GUARDED_BY(mu_);
  // Added while processing: queued again at Done with this entry.
  std::map<std::string, Entry> dirty_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> forgotten_ ABSL_GUARDED_BY(mu_);
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_WORK_QUEUE_H_

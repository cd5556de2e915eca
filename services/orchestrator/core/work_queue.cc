#include "services/orchestrator/core/work_queue.h"

#include <algorithm>

namespace todoke::orchestrator {
namespace {

// The entry that keeps the earlier time and the higher priority of two adds.
void MergeInto(absl::Time& when, WorkPriority& priority, absl::Time new_when,
               WorkPriority new_priority) {
  when = std::min(when, new_when);
  priority = std::min(priority, new_priority);
}

}  // namespace

void WorkQueue::QueueLocked(const std::string& key, Entry entry) {
  queued_[key] = entry;
  if (entry.when <= absl::Now()) {
    ready_.emplace(static_cast<int>(entry.priority), entry.when, entry.seq, key);
  } else {
    delayed_.emplace(entry.when, entry.seq, key);
  }
}

void WorkQueue::UnqueueLocked(const std::string& key) {
  auto it = queued_.find(key);
  if (it == queued_.end()) return;
  const Entry& e = it->second;
  ready_.erase(ReadyKey(static_cast<int>(e.priority), e.when, e.seq, key));
  delayed_.erase(DelayedKey(e.when, e.seq, key));
  queued_.erase(it);
}

void WorkQueue::Add(const std::string& key, WorkPriority priority, absl::Time when) {
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  forgotten_.erase(key);
  if (processing_.count(key) > 0) {
    auto [it, inserted] = dirty_.try_emplace(key, Entry{when, priority, next_seq_++});
    if (!inserted) MergeInto(it->second.when, it->second.priority, when, priority);
    return;
  }
  auto it = queued_.find(key);
  Entry entry{when, priority, next_seq_++};
  if (it != queued_.end()) {
    entry = it->second;
    absl::Time merged_when = entry.when;
    WorkPriority merged_priority = entry.priority;
    MergeInto(merged_when, merged_priority, when, priority);
    if (merged_when == entry.when && merged_priority == entry.priority) return;
    UnqueueLocked(key);
    entry.when = merged_when;
    entry.priority = merged_priority;
  }
  QueueLocked(key, entry);
}

void WorkQueue::PromoteLocked(absl::Time now) {
  while (!delayed_.empty() && std::get<0>(*delayed_.begin()) <= now) {
    auto [when, seq, key] = *delayed_.begin();
    delayed_.erase(delayed_.begin());
    const Entry& e = queued_[key];
    ready_.emplace(static_cast<int>(e.priority), e.when, e.seq, key);
  }
}

std::optional<std::string> WorkQueue::Get() {
  absl::MutexLock lock(&mu_);
  while (!shut_down_) {
    absl::Time now = absl::Now();
    PromoteLocked(now);
    if (!ready_.empty()) {
      std::string key = std::get<3>(*ready_.begin());
      ready_.erase(ready_.begin());
      queued_.erase(key);
      processing_.insert(key);
      return key;
    }
    // Wake at the next delayed item's time, on an Add (of a ready item, or of a delayed one due
    // earlier than what this wait is for), or on shutdown; at most every second so a clock
    // change cannot stall the queue.
    absl::Duration wait = absl::Seconds(1);
    absl::Time earliest = absl::InfiniteFuture();
    if (!delayed_.empty()) {
      earliest = std::get<0>(*delayed_.begin());
      wait = std::min(wait, earliest - now);
    }
    auto woken = [this, earliest]() ABSL_NO_THREAD_SAFETY_ANALYSIS {
      return shut_down_ || !ready_.empty() ||
             (!delayed_.empty() && std::get<0>(*delayed_.begin()) < earliest);
    };
    mu_.AwaitWithTimeout(absl::Condition(&woken), std::max(wait, absl::Milliseconds(1)));
  }
  return std::nullopt;
}

void WorkQueue::Done(const std::string& key) {
  absl::MutexLock lock(&mu_);
  processing_.erase(key);
  auto it = dirty_.find(key);
  if (it == dirty_.end()) return;
  Entry entry = it->second;
  dirty_.erase(it);
  if (shut_down_ || forgotten_.count(key) > 0) return;
  QueueLocked(key, entry);
}

void WorkQueue::Forget(const std::string& key) {
  absl::MutexLock lock(&mu_);
  UnqueueLocked(key);
  dirty_.erase(key);
  if (processing_.count(key) > 0) forgotten_.insert(key);
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
}

size_t WorkQueue::Size() const {
  absl::MutexLock lock(&mu_);
  return queued_.size();
}

size_t WorkQueue::InFlight() const {
  absl::MutexLock lock(&mu_);
  return processing_.size();
}

}  // namespace todoke::orchestrator

#include "services/orchestrator/core/work_queue.h"

#include <algorithm>

namespace todoke::orchestrator {
namespace {

// A worker's wait is bounded; the timer also wakes this often, so a clock change cannot stall
// the queue.
constexpr absl::Duration kWorkerWaitBound = absl::Minutes(1);
constexpr absl::Duration kTimerWaitBound = absl::Seconds(1);

}  // namespace

WorkQueue::WorkQueue(WorkQueueOptions options)
    : options_(std::move(options)),
      lanes_(std::max(1, options_.lanes)),
      lane_cv_(new absl::CondVar[lanes_]) {
  {
    absl::MutexLock lock(&mu_);
    ready_.resize(lanes_);
  }
  timer_ = std::thread([this] { TimerLoop(); });
}

WorkQueue::~WorkQueue() {
  ShutDown();
  if (timer_.joinable()) timer_.join();
}

int WorkQueue::LimitOf(int lane, int kind) const {
  if (lane < 0 || lane >= static_cast<int>(options_.group_limits.size())) return 0;
  const std::vector<int>& limits = options_.group_limits[lane];
  return kind < static_cast<int>(limits.size()) ? limits[kind] : 0;
}

std::optional<WorkQueue::GroupId> WorkQueue::FullGroupLocked(int lane,
                                                             const std::string& key) const {
  auto groups = groups_.find(key);
  if (groups == groups_.end()) return std::nullopt;
  for (int kind = 0; kind < static_cast<int>(groups->second.size()); ++kind) {
    const std::string& group = groups->second[kind];
    int limit = LimitOf(lane, kind);
    if (group.empty() || limit <= 0) continue;
    GroupId id(lane, kind, group);
    auto held = held_.find(id);
    if (held != held_.end() && held->second >= limit) return id;
  }
  return std::nullopt;
}

bool WorkQueue::MakeReadyLocked(const std::string& key, Entry& entry) {
  if (std::optional<GroupId> full = FullGroupLocked(entry.lane, key)) {
    entry.parked = true;
    entry.parked_on = *full;
    parked_[*full].insert(ReadyKeyOf(key, entry));
    return false;
  }
  entry.parked = false;
  ready_[entry.lane].insert(ReadyKeyOf(key, entry));
  lane_cv_[entry.lane].Signal();
  return true;
}

void WorkQueue::QueueLocked(const std::string& key, Entry entry) {
  entry.parked = false;
  Entry& stored = queued_[key] = entry;
  if (stored.when <= absl::Now()) {
    MakeReadyLocked(key, stored);
    return;
  }
  bool earliest = delayed_.empty() || stored.when < std::get<0>(*delayed_.begin());
  delayed_.emplace(stored.when, stored.seq, key);
  if (earliest) timer_cv_.Signal();  // the timer sleeps until a later item
}

void WorkQueue::UnqueueLocked(const std::string& key) {
  auto it = queued_.find(key);
  if (it == queued_.end()) return;
  const Entry& e = it->second;
  if (e.parked) {
    auto parked = parked_.find(e.parked_on);
    if (parked != parked_.end()) {
      parked->second.erase(ReadyKeyOf(key, e));
      if (parked->second.empty()) parked_.erase(parked);
    }
  } else {
    ready_[e.lane].erase(ReadyKeyOf(key, e));
    delayed_.erase(DelayedKey(e.when, e.seq, key));
  }
  queued_.erase(it);
}

void WorkQueue::Add(const std::string& key, WorkPriority priority, absl::Time when, int lane) {
  lane = std::clamp(lane, 0, lanes_ - 1);
  absl::MutexLock lock(&mu_);
  if (shut_down_) return;
  forgotten_.erase(key);
  Entry added{when, priority, next_seq_++, lane};
  auto merge = [&](Entry& into) {
    into.when = std::min(into.when, added.when);
    into.priority = std::min(into.priority, added.priority);
    into.lane = std::max(into.lane, added.lane);
  };
  if (processing_.count(key) > 0) {
    auto [it, inserted] = dirty_.try_emplace(key, added);
    if (!inserted) merge(it->second);
    return;
  }
  auto it = queued_.find(key);
  if (it == queued_.end()) {
    QueueLocked(key, added);
    return;
  }
  Entry entry = it->second;
  merge(entry);
  if (entry.when == it->second.when && entry.priority == it->second.priority &&
      entry.lane == it->second.lane) {
    return;
  }
  UnqueueLocked(key);
  QueueLocked(key, entry);
}

void WorkQueue::SetGroups(const std::string& key, std::vector<std::string> groups) {
  absl::MutexLock lock(&mu_);
  auto [it, inserted] = groups_.try_emplace(key, groups);
  if (!inserted) {
    if (it->second == groups) return;
    it->second = std::move(groups);
  }
  auto queued = queued_.find(key);
  if (queued != queued_.end() && queued->second.parked) {
    Entry entry = queued->second;  // parked on a group it may no longer belong to
    UnqueueLocked(key);
    QueueLocked(key, entry);
  }
}

void WorkQueue::PromoteLocked(absl::Time now) {
  while (!delayed_.empty() && std::get<0>(*delayed_.begin()) <= now) {
    std::string key = std::get<2>(*delayed_.begin());
    delayed_.erase(delayed_.begin());
    MakeReadyLocked(key, queued_[key]);
  }
}

void WorkQueue::UnparkLocked(const GroupId& group) {
  auto parked = parked_.find(group);
  if (parked == parked_.end()) return;
  int limit = LimitOf(std::get<0>(group), std::get<1>(group));
  auto held = held_.find(group);
  int free = limit <= 0 ? static_cast<int>(parked->second.size())
                        : limit - (held == held_.end() ? 0 : held->second);
  while (free > 0 && !parked->second.empty()) {
    std::string key = std::get<3>(*parked->second.begin());
    parked->second.erase(parked->second.begin());
    // Ready, or parked again on another of its groups that is full.
    if (MakeReadyLocked(key, queued_[key])) --free;
  }
  if (parked->second.empty()) parked_.erase(parked);
}

std::optional<std::string> WorkQueue::TakeLocked(int lane) {
  std::set<ReadyKey>& ready = ready_[lane];
  while (!ready.empty()) {
    std::string key = std::get<3>(*ready.begin());
    ready.erase(ready.begin());
    Entry& entry = queued_[key];
    // A group may have filled since the item became ready.
    if (std::optional<GroupId> full = FullGroupLocked(lane, key)) {
      entry.parked = true;
      entry.parked_on = *full;
      parked_[*full].insert(ReadyKeyOf(key, entry));
      continue;
    }
    queued_.erase(key);
    Held held;
    held.lane = lane;
    if (auto groups = groups_.find(key); groups != groups_.end()) held.groups = groups->second;
    for (int kind = 0; kind < static_cast<int>(held.groups.size()); ++kind) {
      if (!held.groups[kind].empty()) ++held_[GroupId(lane, kind, held.groups[kind])];
    }
    processing_[key] = std::move(held);
    return key;
  }
  return std::nullopt;
}

std::optional<std::string> WorkQueue::Get(int lane) {
  lane = std::clamp(lane, 0, lanes_ - 1);
  absl::MutexLock lock(&mu_);
  while (!shut_down_) {
    if (std::optional<std::string> key = TakeLocked(lane)) return key;
    lane_cv_[lane].WaitWithTimeout(&mu_, kWorkerWaitBound);
    ++wakeups_;
  }
  return std::nullopt;
}

void WorkQueue::TimerLoop() {
  absl::MutexLock lock(&mu_);
  while (!shut_down_) {
    absl::Time now = absl::Now();
    PromoteLocked(now);
    absl::Duration wait = kTimerWaitBound;
    if (!delayed_.empty()) wait = std::min(wait, std::get<0>(*delayed_.begin()) - now);
    timer_cv_.WaitWithTimeout(&mu_, std::max(wait, absl::Microseconds(100)));
  }
}

void WorkQueue::Done(const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto held = processing_.find(key);
  if (held == processing_.end()) return;
  Held released = std::move(held->second);
  processing_.erase(held);
  for (int kind = 0; kind < static_cast<int>(released.groups.size()); ++kind) {
    if (released.groups[kind].empty()) continue;
    GroupId id(released.lane, kind, released.groups[kind]);
    auto count = held_.find(id);
    if (count != held_.end() && --count->second <= 0) held_.erase(count);
    UnparkLocked(id);
  }
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
  groups_.erase(key);
  if (processing_.count(key) > 0) forgotten_.insert(key);
}

void WorkQueue::ShutDown() {
  absl::MutexLock lock(&mu_);
  shut_down_ = true;
  for (int lane = 0; lane < lanes_; ++lane) lane_cv_[lane].SignalAll();
  timer_cv_.SignalAll();
}

size_t WorkQueue::Size() const {
  absl::MutexLock lock(&mu_);
  return queued_.size();
}

size_t WorkQueue::InFlight() const {
  absl::MutexLock lock(&mu_);
  return processing_.size();
}

std::optional<absl::Time> WorkQueue::QueuedFor(const std::string& key) const {
  absl::MutexLock lock(&mu_);
  if (auto it = queued_.find(key); it != queued_.end()) return it->second.when;
  if (auto it = dirty_.find(key); it != dirty_.end()) return it->second.when;
  return std::nullopt;
}

uint64_t WorkQueue::Wakeups() const {
  absl::MutexLock lock(&mu_);
  return wakeups_;
}

}  // namespace todoke::orchestrator

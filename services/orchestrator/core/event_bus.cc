#include "services/orchestrator/core/event_bus.h"

#include "google/protobuf/util/time_util.h"

namespace todoke::orchestrator {

std::unique_ptr<EventBus::Subscription> EventBus::Subscribe(const std::string& app,
                                                            size_t max_queued) {
  absl::MutexLock lock(&mu_);
  uint64_t id = next_id_++;
  std::unique_ptr<Subscription> subscription(new Subscription(this, id, app, max_queued));
  subscribers_[id] = subscription.get();
  return subscription;
}

void EventBus::Unsubscribe(uint64_t id) {
  absl::MutexLock lock(&mu_);
  subscribers_.erase(id);
}

void EventBus::Publish(v1::Event event) {
  if (!event.has_time()) {
    *event.mutable_time() =
        google::protobuf::util::TimeUtil::NanosecondsToTimestamp(absl::ToUnixNanos(absl::Now()));
  }
  absl::MutexLock lock(&mu_);
  for (auto& [id, subscriber] : subscribers_) {
    if (!subscriber->app_.empty() && subscriber->app_ != event.app_name()) continue;
    absl::MutexLock sub_lock(&subscriber->mu_);
    if (subscriber->queue_.size() >= subscriber->max_queued_) {
      subscriber->overflowed_ = true;
      continue;
    }
    subscriber->queue_.push_back(event);
  }
}

EventBus::Subscription::~Subscription() { bus_->Unsubscribe(id_); }

std::vector<v1::Event> EventBus::Subscription::Next(absl::Duration timeout, bool* overflowed) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](std::deque<v1::Event>* q) { return !q->empty(); }, &queue_),
                       timeout);
  *overflowed = overflowed_;
  std::vector<v1::Event> events(std::make_move_iterator(queue_.begin()),
                                std::make_move_iterator(queue_.end()));
  queue_.clear();
  return events;
}

}  // namespace todoke::orchestrator

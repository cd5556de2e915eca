// EventBus: fans the orchestrator's events (todoke.orchestrator.v1.Event) out to Watch streams.
// Publishing never blocks on a subscriber: each subscriber has a bounded queue, and one that
// falls behind is marked overflowed (its stream ends with RESOURCE_EXHAUSTED and the client
// reconnects). Thread-safe.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_EVENT_BUS_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_EVENT_BUS_H_

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::orchestrator {

class EventBus {
 public:
  class Subscription;

  // Events for `app` only, or every app when empty.
  std::unique_ptr<Subscription> Subscribe(const std::string& app, size_t max_queued = 10000);

  // Stamps the time when unset and delivers `event` to every matching subscriber.
  void Publish(v1::Event event);

  class Subscription {
   public:
    ~Subscription();
    // Waits up to `timeout` for events; returns those queued (possibly none). Sets `*overflowed`
    // when events were dropped because this subscriber fell behind.
    std::vector<v1::Event> Next(absl::Duration timeout, bool* overflowed);

   private:
    friend class EventBus;
    Subscription(EventBus* bus, uint64_t id, std::string app, size_t max_queued)
        : bus_(bus), id_(id), app_(std::move(app)), max_queued_(max_queued) {}
    EventBus* bus_;
    const uint64_t id_;
    const std::string app_;
    const size_t max_queued_;
    absl::Mutex mu_;
    std::deque<v1::Event> queue_ ABSL_GUARDED_BY(mu_);
    bool overflowed_ ABSL_GUARDED_BY(mu_) = false;
  };

 private:
  void Unsubscribe(uint64_t id);

  absl::Mutex mu_;
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Subscription*> subscribers_ ABSL_GUARDED_BY(mu_);
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_EVENT_BUS_H_

#include "cli/event_follower.h"

#include <utility>

#include "absl/time/clock.h"

namespace todoke::cli {

namespace orch = ::todoke::orchestrator::v1;

EventFollower::EventFollower(OrchestratorClient& client, std::string app, absl::Time until)
    : client_(client), context_(client.NewCall(until - absl::Now())) {
  orch::WatchRequest request;
  request.set_name(std::move(app));
  thread_ = std::thread([this, request = std::move(request)]() { ReadLoop(request); });
  const absl::Time ready_by = std::min(until, absl::Now() + client_.options().timeout);
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](EventFollower* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                              return self->ready_ || self->ended_;
                            },
                            this),
                        ready_by);
}

EventFollower::~EventFollower() {
  context_->TryCancel();
  if (thread_.joinable()) thread_.join();
}

void EventFollower::ReadLoop(orch::WatchRequest request) {
  std::unique_ptr<grpc::ClientReaderInterface<orch::Event>> reader =
      client_.stub().Watch(context_.get(), request);
  orch::Event event;
  while (reader->Read(&event)) {
    absl::MutexLock lock(&mu_);
    if (event.type() == "Ready") {
      ready_ = true;
    } else {
      queue_.push_back(std::move(event));
    }
    event.Clear();
  }
  grpc::Status status = reader->Finish();
  absl::MutexLock lock(&mu_);
  ended_ = true;
  final_status_ = std::move(status);
}

std::vector<orch::Event> EventFollower::Take(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithDeadline(absl::Condition(
                            +[](EventFollower* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->mu_) {
                              return !self->queue_.empty();
                            },
                            this),
                        deadline);
  std::vector<orch::Event> events(std::make_move_iterator(queue_.begin()),
                                  std::make_move_iterator(queue_.end()));
  queue_.clear();
  return events;
}

bool EventFollower::streaming() const {
  absl::MutexLock lock(&mu_);
  return ready_ && !ended_;
}

bool EventFollower::ended() const {
  absl::MutexLock lock(&mu_);
  return ended_;
}

grpc::Status EventFollower::final_status() const {
  absl::MutexLock lock(&mu_);
  return final_status_;
}

}  // namespace todoke::cli

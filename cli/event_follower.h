// Follows the orchestrator's Watch stream on a thread of its own, so that a command can wait for
// events and poll at the same time, and stop at its own deadline whatever the stream does.
#ifndef TODOKE_CLI_EVENT_FOLLOWER_H_
#define TODOKE_CLI_EVENT_FOLLOWER_H_

#include <grpcpp/grpcpp.h>

#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "cli/orchestrator_client.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::cli {

class EventFollower {
 public:
  // Starts Watch for application `app` ("" for all) with `until` as the stream's deadline, and
  // waits (at most the client's --timeout) for the stream's "Ready" message, so that events of
  // a call made after the constructor returns are not missed. A stream that cannot start (an
  // orchestrator without Watch) is not an error: Take() then just waits, and the caller polls.
  // `client` must outlive the follower.
  EventFollower(OrchestratorClient& client, std::string app, absl::Time until);

  // Cancels the stream and joins its thread.
  ~EventFollower();

  EventFollower(const EventFollower&) = delete;
  EventFollower& operator=(const EventFollower&) = delete;

  // Waits until an event is queued or `deadline` passes, then returns (and forgets) the queued
  // events, oldest first; empty at the deadline (always, once the stream has ended: then this
  // is a plain sleep, the pace of a caller that polls).
  std::vector<orchestrator::v1::Event> Take(absl::Time deadline);

  // True while events flow: the stream is registered and has not ended.
  bool streaming() const;
  // True once the stream has ended; `final_status` then says how (OK: the server closed it).
  bool ended() const;
  grpc::Status final_status() const;

 private:
  void ReadLoop(orchestrator::v1::WatchRequest request);

  OrchestratorClient& client_;
  std::unique_ptr<grpc::ClientContext> context_;
  mutable absl::Mutex mu_;
  std::deque<orchestrator::v1::Event> queue_ ABSL_GUARDED_BY(mu_);
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  bool ended_ ABSL_GUARDED_BY(mu_) = false;
  grpc::Status final_status_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace todoke::cli

#endif  // TODOKE_CLI_EVENT_FOLLOWER_H_

// The orchestrator's stage clients: the core's stage interfaces (core/stages.h) over gRPC stubs.
// Every call has a deadline; UNAVAILABLE and RESOURCE_EXHAUSTED are retried with exponential
// backoff and jitter within that deadline (every stage is idempotent for the same inputs); calls
// in flight per stage are bounded, so one slow stage cannot take every worker's connection.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_GRPC_STAGE_CLIENTS_H_
#define TODOKE_SERVICES_ORCHESTRATOR_GRPC_STAGE_CLIENTS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/orchestrator/core/stages.h"
#include "todoke/applier/v1/applier.grpc.pb.h"
#include "todoke/differ/v1/differ.grpc.pb.h"
#include "todoke/renderer/v1/renderer.grpc.pb.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::orchestrator {

struct StageClientOptions {
  // Calls in flight to one stage at once (further callers wait, within their deadline).
  int max_in_flight = 32;
  // Retries of a retryable failure, within the call's deadline.
  int max_retries = 4;
  absl::Duration initial_backoff = absl::Milliseconds(100);
  absl::Duration max_backoff = absl::Seconds(5);
  // Optional bearer token sent to the stages.
  std::string token;
};

// A counting semaphore whose Acquire gives up at a deadline.
class InFlightLimit {
 public:
  explicit InFlightLimit(int limit) : available_(limit) {}
  // False (and nothing acquired) if no slot freed before `deadline`.
  bool Acquire(absl::Time deadline);
  void Release();

 private:
  absl::Mutex mu_;
  int available_ ABSL_GUARDED_BY(mu_);
};

// Stages over channels to the four addresses (MakeChannel targets: one address, a list, or
// dns:///name:port, balanced with round_robin); the applier's calls go to one replica per
// destination (ApplierRouter). INVALID_ARGUMENT naming the flag for a bad address.
absl::StatusOr<Stages> ConnectStages(const std::string& source_fetcher, const std::string& renderer,
                                     const std::string& differ, const std::string& applier,
                                     const StageClientOptions& options = {});

// The key calls about `destination` are routed by (ApplierRouter): a Kubernetes context, or a
// Git repository and branch.
std::string DestinationKey(const types::v1::Destination& destination);

// Stages over the given stubs (tests).
Stages StagesOverStubs(std::shared_ptr<source_fetcher::v1::SourceFetcher::StubInterface> source,
                       std::shared_ptr<renderer::v1::Renderer::StubInterface> renderer,
                       std::shared_ptr<differ::v1::Differ::StubInterface> differ,
                       std::shared_ptr<applier::v1::Applier::StubInterface> applier,
                       const StageClientOptions& options = {});

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_GRPC_STAGE_CLIENTS_H_

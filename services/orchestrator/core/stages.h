// The four stages as the reconcile loop sees them: small interfaces over the stages' messages
// (todoke.<stage>.v1, plain protobuf), so the loop is tested with fakes and runs over gRPC in
// production (services/orchestrator/grpc/stage_clients.h implements them over stubs, with a
// deadline on every call, retries of retryable codes and a bound on calls in flight per stage).
//
// Every method is thread-safe and returns within `deadline`. A stage that cannot be reached
// answers UNAVAILABLE (or DEADLINE_EXCEEDED); the loop reports that as StageUnavailable.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_STAGES_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_STAGES_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "todoke/applier/v1/applier.pb.h"
#include "todoke/differ/v1/differ.pb.h"
#include "todoke/renderer/v1/renderer.pb.h"
#include "todoke/source_fetcher/v1/source_fetcher.pb.h"

namespace todoke::orchestrator {

// The stage names used in conditions and metrics.
inline constexpr char kSourceFetcherStage[] = "source-fetcher";
inline constexpr char kRendererStage[] = "renderer";
inline constexpr char kDifferStage[] = "differ";
inline constexpr char kApplierStage[] = "applier";

class SourceStage {
 public:
  virtual ~SourceStage() = default;
  virtual absl::StatusOr<source_fetcher::v1::ResolveResponse> Resolve(
      const source_fetcher::v1::ResolveRequest& request, absl::Time deadline) = 0;
};

class RenderStage {
 public:
  virtual ~RenderStage() = default;
  virtual absl::StatusOr<renderer::v1::RenderResponse> Render(
      const renderer::v1::RenderRequest& request, absl::Time deadline) = 0;
};

class DiffStage {
 public:
  virtual ~DiffStage() = default;
  virtual absl::StatusOr<differ::v1::DiffResponse> Diff(const differ::v1::DiffRequest& request,
                                                        absl::Time deadline) = 0;
  virtual absl::StatusOr<differ::v1::AssessHealthResponse> AssessHealth(
      const differ::v1::AssessHealthRequest& request, absl::Time deadline) = 0;
};

class ApplyStage {
 public:
  virtual ~ApplyStage() = default;
  virtual absl::StatusOr<applier::v1::ReadLiveResponse> ReadLive(
      const applier::v1::ReadLiveRequest& request, absl::Time deadline) = 0;
  // Calls `progress` for each per-object result as it streams in; returns the summary.
  // `cancel`, when set by another thread, ends the call early (CANCELLED).
  virtual absl::StatusOr<applier::v1::ApplySummary> Apply(
      const applier::v1::ApplyRequest& request,
      const std::function<void(const applier::v1::ObjectResult&)>& progress, absl::Time deadline,
      const std::atomic<bool>* cancel) = 0;
  virtual absl::StatusOr<applier::v1::PruneResponse> Prune(const applier::v1::PruneRequest& request,
                                                           absl::Time deadline) = 0;

  // A running drift stream; destroying it ends the stream.
  class DriftStream {
   public:
    virtual ~DriftStream() = default;
  };
  // Opens a drift stream for `destination`: `on_event` for each event (from a stream thread),
  // `on_end` once when the stream ends for any reason (the caller reconnects with backoff).
  virtual std::unique_ptr<DriftStream> WatchDrift(
      const applier::v1::WatchDriftRequest& request,
      std::function<void(const applier::v1::DriftEvent&)> on_event,
      std::function<void(const absl::Status&)> on_end) = 0;
};

// The four stages together.
struct Stages {
  std::shared_ptr<SourceStage> source;
  std::shared_ptr<RenderStage> render;
  std::shared_ptr<DiffStage> diff;
  std::shared_ptr<ApplyStage> apply;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_STAGES_H_

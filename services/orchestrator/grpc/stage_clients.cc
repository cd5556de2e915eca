#include "services/orchestrator/grpc/stage_clients.h"

#include <algorithm>
#include <atomic>
#include <optional>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "services/orchestrator/grpc/applier_router.h"

namespace todoke::orchestrator {
namespace {

std::unique_ptr<grpc::ClientContext> ContextFor(absl::Time deadline, const std::string& token) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(deadline));
  if (!token.empty()) context->AddMetadata("authorization", absl::StrCat("Bearer ", token));
  return context;
}

bool RetryableCode(grpc::StatusCode code) {
  return code == grpc::StatusCode::UNAVAILABLE || code == grpc::StatusCode::RESOURCE_EXHAUSTED;
}

// Runs `call(context)` with retries and the stage's in-flight bound. Errors name the stage.
template <typename Response, typename Call>
absl::StatusOr<Response> CallStage(const char* stage, InFlightLimit& limit,
                                   const StageClientOptions& options, absl::Time deadline,
                                   Call call) {
  if (!limit.Acquire(deadline)) {
    return absl::DeadlineExceededError(
        absl::StrCat(stage, ": every connection busy until the deadline"));
  }
  thread_local std::minstd_rand random(std::random_device{}());
  absl::Duration backoff = options.initial_backoff;
  grpc::Status status;
  grpc::Status retryable;  // the last retryable failure: the cause if the deadline ends the retries
  Response response;
  for (int attempt = 0;; ++attempt) {
    response.Clear();
    auto context = ContextFor(deadline, options.token);
    status = call(context.get(), &response);
    if (RetryableCode(status.error_code())) retryable = status;
    if (status.ok() || !RetryableCode(status.error_code()) || attempt >= options.max_retries) break;
    absl::Duration jittered =
        backoff * (0.5 + std::uniform_real_distribution<double>(0, 1)(random));
    if (absl::Now() + jittered >= deadline) break;
    absl::SleepFor(jittered);
    backoff = std::min(backoff * 2, options.max_backoff);
  }
  limit.Release();
  if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED && !retryable.ok()) {
    // Retried until the deadline: "Deadline Exceeded" alone would hide why (an applier whose
    // cluster is down answers UNAVAILABLE naming it, until the last attempt runs out of time).
    return Annotate(FromGrpcStatus(retryable),
                    absl::StrCat(stage, " (retried until the deadline)"));
  }
  if (!status.ok()) return Annotate(FromGrpcStatus(status), stage);
  return response;
}

class GrpcSourceStage final : public SourceStage {
 public:
  GrpcSourceStage(std::shared_ptr<source_fetcher::v1::SourceFetcher::StubInterface> stub,
                  StageClientOptions options)
      : stub_(std::move(stub)), options_(options), limit_(options.max_in_flight) {}
  absl::StatusOr<source_fetcher::v1::ResolveResponse> Resolve(
      const source_fetcher::v1::ResolveRequest& request, absl::Time deadline) override {
    return CallStage<source_fetcher::v1::ResolveResponse>(
        kSourceFetcherStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, source_fetcher::v1::ResolveResponse* response) {
          return stub_->Resolve(context, request, response);
        });
  }

 private:
  std::shared_ptr<source_fetcher::v1::SourceFetcher::StubInterface> stub_;
  const StageClientOptions options_;
  InFlightLimit limit_;
};

class GrpcRenderStage final : public RenderStage {
 public:
  GrpcRenderStage(std::shared_ptr<renderer::v1::Renderer::StubInterface> stub,
                  StageClientOptions options)
      : stub_(std::move(stub)), options_(options), limit_(options.max_in_flight) {}
  absl::StatusOr<renderer::v1::RenderResponse> Render(const renderer::v1::RenderRequest& request,
                                                      absl::Time deadline) override {
    return CallStage<renderer::v1::RenderResponse>(
        kRendererStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, renderer::v1::RenderResponse* response) {
          return stub_->Render(context, request, response);
        });
  }

 private:
  std::shared_ptr<renderer::v1::Renderer::StubInterface> stub_;
  const StageClientOptions options_;
  InFlightLimit limit_;
};

class GrpcDiffStage final : public DiffStage {
 public:
  GrpcDiffStage(std::shared_ptr<differ::v1::Differ::StubInterface> stub, StageClientOptions options)
      : stub_(std::move(stub)), options_(options), limit_(options.max_in_flight) {}
  absl::StatusOr<differ::v1::DiffResponse> Diff(const differ::v1::DiffRequest& request,
                                                absl::Time deadline) override {
    return CallStage<differ::v1::DiffResponse>(
        kDifferStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, differ::v1::DiffResponse* response) {
          return stub_->Diff(context, request, response);
        });
  }
  absl::StatusOr<differ::v1::AssessHealthResponse> AssessHealth(
      const differ::v1::AssessHealthRequest& request, absl::Time deadline) override {
    return CallStage<differ::v1::AssessHealthResponse>(
        kDifferStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, differ::v1::AssessHealthResponse* response) {
          return stub_->AssessHealth(context, request, response);
        });
  }

 private:
  std::shared_ptr<differ::v1::Differ::StubInterface> stub_;
  const StageClientOptions options_;
  InFlightLimit limit_;
};

class GrpcDriftStream final : public ApplyStage::DriftStream {
 public:
  GrpcDriftStream(std::shared_ptr<applier::v1::Applier::StubInterface> stub,
                  applier::v1::WatchDriftRequest request, const std::string& token,
                  std::function<void(const applier::v1::DriftEvent&)> on_event,
                  std::function<void(const absl::Status&)> on_end) {
    if (!token.empty()) context_.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    thread_ = std::thread([this, stub = std::move(stub), request = std::move(request),
                           on_event = std::move(on_event), on_end = std::move(on_end)] {
      std::unique_ptr<grpc::ClientReaderInterface<applier::v1::DriftEvent>> reader =
          stub->WatchDrift(&context_, request);
      applier::v1::DriftEvent event;
      while (reader->Read(&event)) on_event(event);
      grpc::Status status = reader->Finish();
      on_end(Annotate(FromGrpcStatus(status), kApplierStage));
    });
  }
  ~GrpcDriftStream() override {
    context_.TryCancel();
    thread_.join();
  }

 private:
  grpc::ClientContext context_;  // no deadline: a drift stream lives until cancelled
  std::thread thread_;
};

class GrpcApplyStage final : public ApplyStage {
 public:
  // `stub_for` picks the replica serving a destination (ApplierRouter).
  using StubFor =
      std::function<absl::StatusOr<std::shared_ptr<applier::v1::Applier::StubInterface>>(
          const types::v1::Destination&)>;
  GrpcApplyStage(StubFor stub_for, StageClientOptions options)
      : stub_for_(std::move(stub_for)), options_(options), limit_(options.max_in_flight) {}

  absl::StatusOr<applier::v1::ReadLiveResponse> ReadLive(
      const applier::v1::ReadLiveRequest& request, absl::Time deadline) override {
    ASSIGN_OR_RETURN(auto stub, StubOf(request.destination()));
    return CallStage<applier::v1::ReadLiveResponse>(
        kApplierStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, applier::v1::ReadLiveResponse* response) {
          return stub->ReadLive(context, request, response);
        });
  }

  absl::StatusOr<applier::v1::PruneResponse> Prune(const applier::v1::PruneRequest& request,
                                                   absl::Time deadline) override {
    ASSIGN_OR_RETURN(auto stub, StubOf(request.destination()));
    return CallStage<applier::v1::PruneResponse>(
        kApplierStage, limit_, options_, deadline,
        [&](grpc::ClientContext* context, applier::v1::PruneResponse* response) {
          return stub->Prune(context, request, response);
        });
  }

  // Not retried: a stream that failed part way is reported, and the loop decides (Apply is
  // idempotent, so its next pass may run it again).
  absl::StatusOr<applier::v1::ApplySummary> Apply(
      const applier::v1::ApplyRequest& request,
      const std::function<void(const applier::v1::ObjectResult&)>& progress, absl::Time deadline,
      const std::atomic<bool>* cancel) override {
    ASSIGN_OR_RETURN(auto stub, StubOf(request.destination()));
    if (!limit_.Acquire(deadline)) {
      return absl::DeadlineExceededError(
          absl::StrCat(kApplierStage, ": every connection busy until the deadline"));
    }
    auto context = ContextFor(deadline, options_.token);
    std::atomic<bool> done{false};
    std::thread canceller;
    if (cancel != nullptr) {
      canceller = std::thread([&] {
        while (!done.load()) {
          if (cancel->load()) {
            context->TryCancel();
            return;
          }
          absl::SleepFor(absl::Milliseconds(50));
        }
      });
    }
    std::unique_ptr<grpc::ClientReaderInterface<applier::v1::ApplyProgress>> reader =
        stub->Apply(context.get(), request);
    applier::v1::ApplyProgress message;
    std::optional<applier::v1::ApplySummary> summary;
    while (reader->Read(&message)) {
      if (message.has_object()) progress(message.object());
      if (message.has_summary()) summary = message.summary();
    }
    grpc::Status status = reader->Finish();
    done.store(true);
    if (canceller.joinable()) canceller.join();
    limit_.Release();
    if (!status.ok()) return Annotate(FromGrpcStatus(status), kApplierStage);
    if (!summary) {
      return absl::DataLossError(
          absl::StrCat(kApplierStage, ": Apply stream ended without a summary"));
    }
    return *summary;
  }

  std::unique_ptr<DriftStream> WatchDrift(
      const applier::v1::WatchDriftRequest& request,
      std::function<void(const applier::v1::DriftEvent&)> on_event,
      std::function<void(const absl::Status&)> on_end) override {
    absl::StatusOr<std::shared_ptr<applier::v1::Applier::StubInterface>> stub =
        StubOf(request.destination());
    if (!stub.ok()) {
      on_end(stub.status());
      return nullptr;
    }
    return std::make_unique<GrpcDriftStream>(*std::move(stub), request, options_.token,
                                             std::move(on_event), std::move(on_end));
  }

 private:
  absl::StatusOr<std::shared_ptr<applier::v1::Applier::StubInterface>> StubOf(
      const types::v1::Destination& destination) {
    absl::StatusOr<std::shared_ptr<applier::v1::Applier::StubInterface>> stub =
        stub_for_(destination);
    if (!stub.ok()) return Annotate(stub.status(), kApplierStage);
    return stub;
  }

  StubFor stub_for_;
  const StageClientOptions options_;
  InFlightLimit limit_;
};

}  // namespace

bool InFlightLimit::Acquire(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto available = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return available_ > 0; };
  if (!mu_.AwaitWithDeadline(absl::Condition(&available), deadline)) return false;
  --available_;
  return true;
}

void InFlightLimit::Release() {
  absl::MutexLock lock(&mu_);
  ++available_;
}

Stages StagesOverStubs(std::shared_ptr<source_fetcher::v1::SourceFetcher::StubInterface> source,
                       std::shared_ptr<renderer::v1::Renderer::StubInterface> renderer,
                       std::shared_ptr<differ::v1::Differ::StubInterface> differ,
                       std::shared_ptr<applier::v1::Applier::StubInterface> applier,
                       const StageClientOptions& options) {
  Stages stages;
  stages.source = std::make_shared<GrpcSourceStage>(std::move(source), options);
  stages.render = std::make_shared<GrpcRenderStage>(std::move(renderer), options);
  stages.diff = std::make_shared<GrpcDiffStage>(std::move(differ), options);
  stages.apply = std::make_shared<GrpcApplyStage>(
      [applier = std::shared_ptr<applier::v1::Applier::StubInterface>(std::move(applier))](
          const types::v1::Destination&)
          -> absl::StatusOr<std::shared_ptr<applier::v1::Applier::StubInterface>> {
        return applier;
      },
      options);
  return stages;
}

absl::StatusOr<Stages> ConnectStages(const std::string& source_fetcher, const std::string& renderer,
                                     const std::string& differ, const std::string& applier,
                                     const StageClientOptions& options) {
  ChannelOptions channel_options;
  // CallStage retries with backoff within each call's deadline; a second layer of retries in the
  // channel would only multiply the wait before a dead stage is reported.
  channel_options.max_attempts = 1;
  auto source_channel = MakeChannel(source_fetcher, channel_options);
  if (!source_channel.ok()) return Annotate(source_channel.status(), "--source-fetcher");
  auto renderer_channel = MakeChannel(renderer, channel_options);
  if (!renderer_channel.ok()) return Annotate(renderer_channel.status(), "--renderer");
  auto differ_channel = MakeChannel(differ, channel_options);
  if (!differ_channel.ok()) return Annotate(differ_channel.status(), "--differ");
  // The applier: one replica per destination (ApplierRouter), each replica its own channel.
  absl::StatusOr<std::unique_ptr<ApplierRouter>> router = ApplierRouter::Create(
      applier,
      [channel_options](
          const std::string& address) -> absl::StatusOr<std::shared_ptr<ApplierRouter::Stub>> {
        auto channel = MakeChannel(address, channel_options);
        if (!channel.ok()) return channel.status();
        return std::shared_ptr<ApplierRouter::Stub>(applier::v1::Applier::NewStub(*channel));
      });
  if (!router.ok()) return Annotate(router.status(), "--applier");
  std::shared_ptr<ApplierRouter> shared_router = *std::move(router);
  Stages stages = StagesOverStubs(source_fetcher::v1::SourceFetcher::NewStub(*source_channel),
                                  renderer::v1::Renderer::NewStub(*renderer_channel),
                                  differ::v1::Differ::NewStub(*differ_channel), nullptr, options);
  stages.apply = std::make_shared<GrpcApplyStage>(
      [shared_router](const types::v1::Destination& destination) {
        return shared_router->StubFor(DestinationKey(destination));
      },
      options);
  return stages;
}

std::string DestinationKey(const types::v1::Destination& destination) {
  if (destination.has_kubernetes()) {
    return absl::StrCat("kubernetes:", destination.kubernetes().context());
  }
  if (destination.has_git()) {
    // Every app of one branch on one replica: its writes are serialised there.
    return absl::StrCat("git:", destination.git().repo_url(), "#", destination.git().branch());
  }
  return "none";
}

}  // namespace todoke::orchestrator

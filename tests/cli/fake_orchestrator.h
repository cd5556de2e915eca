// A test double of the orchestrator for the CLI's own tests: a real gRPC service on a loopback
// port with canned behaviour, recording what the CLI sent. (The real orchestrator's end-to-end
// tests exercise the CLI against the real thing.)
//
// Applications live in a map. Sync records its request and runs the operation at once:
// it publishes SyncStarted, one ObjectApplied event per entry of `sync_objects`, records the
// operation (phase `sync_phase`) with a history entry, and publishes SyncSucceeded/SyncFailed.
// Watch sends "Ready", then every published event of its app (or of all apps), until the client
// cancels or, with `close_idle_watches`, until it has nothing more to send.
#ifndef TODOKE_TESTS_CLI_FAKE_ORCHESTRATOR_H_
#define TODOKE_TESTS_CLI_FAKE_ORCHESTRATOR_H_

#include <deque>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "common/grpc_server.h"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

namespace todoke::cli::testing {

namespace orch = ::todoke::orchestrator::v1;

class FakeOrchestrator : public orch::Orchestrator::Service {
 public:
  FakeOrchestrator();
  ~FakeOrchestrator() override;

  // "127.0.0.1:PORT".
  const std::string& address() const { return server_->BoundAddress(); }

  // Canned state and behaviour; set before running a command.
  void AddApplication(orch::Application app);
  orch::Application Application(const std::string& name);
  void SetDiff(differ::v1::DiffResponse diff);
  // With a token set, every call without `authorization: Bearer <token>` is UNAUTHENTICATED.
  void RequireToken(std::string token);
  // Applications per ListApplications page (0: all in one).
  void SetPageSize(int size);
  // What a Sync does to each object, and how the operation ends.
  void SetSyncOutcome(std::vector<orch::ResourceStatus> objects, orch::OperationPhase phase,
                      std::string message);
  // Watch streams end once they have sent everything queued.
  void SetCloseIdleWatches(bool close);
  // Sends `event` to every Watch stream of its app (and to those of all apps).
  void Publish(const orch::Event& event);
  // Changes an application's status and publishes a StatusChanged event.
  void SetStatus(const std::string& name, types::v1::SyncStatus sync,
                 types::v1::HealthStatus health);
  // Events a Watch stream gets right after "Ready".
  void SetInitialWatchEvents(std::vector<orch::Event> events);

  // What the CLI sent.
  std::vector<std::string> methods_called();
  std::vector<std::string> authorizations();  // the authorization header of each call ("" none)
  std::vector<orch::SyncRequest> syncs();
  std::vector<orch::CreateApplicationRequest> creates();
  std::vector<orch::DeleteApplicationRequest> deletes();
  std::vector<orch::ListApplicationsRequest> lists();

  // orch::Orchestrator::Service
  grpc::Status CreateApplication(grpc::ServerContext* context,
                                 const orch::CreateApplicationRequest* request,
                                 orch::Application* response) override;
  grpc::Status GetApplication(grpc::ServerContext* context,
                              const orch::GetApplicationRequest* request,
                              orch::Application* response) override;
  grpc::Status ListApplications(grpc::ServerContext* context,
                                const orch::ListApplicationsRequest* request,
                                orch::ListApplicationsResponse* response) override;
  grpc::Status DeleteApplication(grpc::ServerContext* context,
                                 const orch::DeleteApplicationRequest* request,
                                 orch::DeleteApplicationResponse* response) override;
  grpc::Status Sync(grpc::ServerContext* context, const orch::SyncRequest* request,
                    orch::Operation* response) override;
  grpc::Status Refresh(grpc::ServerContext* context, const orch::RefreshRequest* request,
                       orch::Application* response) override;
  grpc::Status Diff(grpc::ServerContext* context, const orch::DiffRequest* request,
                    differ::v1::DiffResponse* response) override;
  grpc::Status History(grpc::ServerContext* context, const orch::HistoryRequest* request,
                       orch::HistoryResponse* response) override;
  grpc::Status Rollback(grpc::ServerContext* context, const orch::RollbackRequest* request,
                        orch::Operation* response) override;
  grpc::Status Suspend(grpc::ServerContext* context, const orch::SuspendRequest* request,
                       orch::Application* response) override;
  grpc::Status Resume(grpc::ServerContext* context, const orch::ResumeRequest* request,
                      orch::Application* response) override;
  grpc::Status TerminateOperation(grpc::ServerContext* context,
                                  const orch::TerminateOperationRequest* request,
                                  orch::Operation* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const orch::WatchRequest* request,
                     grpc::ServerWriter<orch::Event>* writer) override;

 private:
  struct Subscriber {
    std::string app;  // "" for all
    std::deque<orch::Event> queue;
  };

  // Records the call; the error to answer with when the token is missing or wrong.
  grpc::Status Admit(grpc::ServerContext* context, const std::string& method)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  grpc::Status NotFound(const std::string& name) const;
  void PublishLocked(const orch::Event& event) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, orch::Application> apps_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<orch::HistoryEntry>> history_ ABSL_GUARDED_BY(mu_);
  differ::v1::DiffResponse diff_ ABSL_GUARDED_BY(mu_);
  std::string token_ ABSL_GUARDED_BY(mu_);
  int page_size_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t next_operation_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::vector<orch::ResourceStatus> sync_objects_ ABSL_GUARDED_BY(mu_);
  orch::OperationPhase sync_phase_ ABSL_GUARDED_BY(mu_) = orch::OPERATION_PHASE_SUCCEEDED;
  std::string sync_message_ ABSL_GUARDED_BY(mu_);
  bool close_idle_watches_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<orch::Event> initial_watch_events_ ABSL_GUARDED_BY(mu_);
  std::set<Subscriber*> subscribers_ ABSL_GUARDED_BY(mu_);

  std::vector<std::string> methods_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> authorizations_ ABSL_GUARDED_BY(mu_);
  std::vector<orch::SyncRequest> syncs_ ABSL_GUARDED_BY(mu_);
  std::vector<orch::CreateApplicationRequest> creates_ ABSL_GUARDED_BY(mu_);
  std::vector<orch::DeleteApplicationRequest> deletes_ ABSL_GUARDED_BY(mu_);
  std::vector<orch::ListApplicationsRequest> lists_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<GrpcServer> server_;
};

// An Application as the tests use it: source, Kubernetes destination, status.
orch::Application MakeApplication(const std::string& name, types::v1::SyncStatus sync,
                                  types::v1::HealthStatus health);

}  // namespace todoke::cli::testing

#endif  // TODOKE_TESTS_CLI_FAKE_ORCHESTRATOR_H_

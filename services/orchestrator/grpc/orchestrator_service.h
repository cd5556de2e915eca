// The orchestrator's public API: todoke.orchestrator.v1.Orchestrator over the store, the
// controller (reconcile loop) and the event bus. With a tokens file, every call needs
// `authorization: Bearer <token>`; writes, Sync, Rollback, Delete, Suspend, Resume and
// TerminateOperation need the `admin` role.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_GRPC_ORCHESTRATOR_SERVICE_H_
#define TODOKE_SERVICES_ORCHESTRATOR_GRPC_ORCHESTRATOR_SERVICE_H_

#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/orchestrator/core/controller.h"
#include "services/orchestrator/core/event_bus.h"
#include "services/orchestrator/core/reconciler.h"
#include "services/orchestrator/core/store/application_store.h"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

namespace todoke::orchestrator {

enum class Role { kRead = 1, kAdmin = 2 };

// Reads a tokens file: one `<token> <role>` per line (role `read` or `admin`), `#` comments and
// blank lines ignored. INVALID_ARGUMENT naming the file and line (never the token).
// A placeholder shipped in deploy/ is refused too: a token containing "REPLACE-WITH".
absl::StatusOr<std::map<std::string, Role>> LoadTokensFile(const std::string& path);

// The shortest secret LoadSecretFile accepts.
inline constexpr size_t kMinSecretBytes = 16;

// Reads a file holding one secret (the webhook secret, the stage token): lines whose first
// non-blank character is `#` and blank lines are ignored, the one line left (trailing blanks
// removed) is the secret. INVALID_ARGUMENT naming `what` and the file (never the secret) when it
// cannot be read, holds no secret or more than one line, is a placeholder (contains
// "REPLACE-WITH", as the files in deploy/kubernetes do until replaced) or is shorter than
// kMinSecretBytes.
absl::StatusOr<std::string> LoadSecretFile(const std::string& path, absl::string_view what);

struct OrchestratorServiceOptions {
  // Empty: no authentication (the server then listens on loopback only unless told otherwise).
  std::map<std::string, Role> tokens;
  // Bound of Refresh when the client set no deadline.
  absl::Duration refresh_timeout = absl::Minutes(2);
};

class OrchestratorService final : public v1::Orchestrator::Service {
 public:
  OrchestratorService(std::shared_ptr<ApplicationStore> store,
                      std::shared_ptr<Reconciler> reconciler, Controller* controller,
                      EventBus* events, OrchestratorServiceOptions options);

  grpc::Status CreateApplication(grpc::ServerContext* context,
                                 const v1::CreateApplicationRequest* request,
                                 v1::Application* response) override;
  grpc::Status GetApplication(grpc::ServerContext* context,
                              const v1::GetApplicationRequest* request,
                              v1::Application* response) override;
  grpc::Status ListApplications(grpc::ServerContext* context,
                                const v1::ListApplicationsRequest* request,
                                v1::ListApplicationsResponse* response) override;
  grpc::Status UpdateApplication(grpc::ServerContext* context,
                                 const v1::UpdateApplicationRequest* request,
                                 v1::Application* response) override;
  grpc::Status DeleteApplication(grpc::ServerContext* context,
                                 const v1::DeleteApplicationRequest* request,
                                 v1::DeleteApplicationResponse* response) override;
  grpc::Status Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                    v1::Operation* response) override;
  grpc::Status Refresh(grpc::ServerContext* context, const v1::RefreshRequest* request,
                       v1::Application* response) override;
  grpc::Status Diff(grpc::ServerContext* context, const v1::DiffRequest* request,
                    differ::v1::DiffResponse* response) override;
  grpc::Status History(grpc::ServerContext* context, const v1::HistoryRequest* request,
                       v1::HistoryResponse* response) override;
  grpc::Status Rollback(grpc::ServerContext* context, const v1::RollbackRequest* request,
                        v1::Operation* response) override;
  grpc::Status Suspend(grpc::ServerContext* context, const v1::SuspendRequest* request,
                       v1::Application* response) override;
  grpc::Status Resume(grpc::ServerContext* context, const v1::ResumeRequest* request,
                      v1::Application* response) override;
  grpc::Status TerminateOperation(grpc::ServerContext* context,
                                  const v1::TerminateOperationRequest* request,
                                  v1::Operation* response) override;
  grpc::Status Watch(grpc::ServerContext* context, const v1::WatchRequest* request,
                     grpc::ServerWriter<v1::Event>* writer) override;

 private:
  absl::Status Authorize(const grpc::ServerContext& context, Role needed) const;
  // Suspend and Resume: needs the admin role; sets spec.suspend of `name` (no write, no event
  // when it already has that value), publishes Suspended/Resumed, and a resumed app is queued at
  // once. Fills `response` with the stored Application.
  grpc::Status SetSuspended(const grpc::ServerContext& context, const std::string& name,
                            bool suspended, v1::Application* response);

  std::shared_ptr<ApplicationStore> store_;
  std::shared_ptr<Reconciler> reconciler_;
  Controller* controller_;
  EventBus* events_;
  const OrchestratorServiceOptions options_;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_GRPC_ORCHESTRATOR_SERVICE_H_

#include "services/orchestrator/grpc/orchestrator_service.h"

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "services/orchestrator/core/spec/application_spec.h"

// Returns the absl::Status `expr` as a grpc::Status from the enclosing RPC when it is not OK.
#define RETURN_IF_ERROR_GRPC(expr)                                         \
  do {                                                                     \
    ::absl::Status todoke_rpc_status_ = (expr);                            \
    if (!todoke_rpc_status_.ok()) return ToGrpcStatus(todoke_rpc_status_); \
  } while (0)

namespace todoke::orchestrator {
namespace {

// Constant-time comparison, so response timing does not tell how much of a token matched.
bool SameSecret(absl::string_view a, absl::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < a.size(); ++i) diff |= a[i] ^ b[i % std::max<size_t>(b.size(), 1)];
  return diff == 0;
}

absl::Status RequireName(const std::string& name) {
  if (name.empty()) return absl::InvalidArgumentError("name: required");
  return absl::OkStatus();
}

absl::Time TimeOf(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

// Waits (bounded by `deadline`) until the sync queued at `requested_at` has started, so the caller
// gets its operation id to follow; or until a pass that started after the request ended without
// starting one (a stage failed first), then answers FAILED with the app's conditions. `queued` is
// answered when neither happened in time (the sync is still waiting for a worker).
v1::Operation AwaitStart(ApplicationStore& store, const std::string& name,
                         const v1::Operation& queued, absl::Time requested_at,
                         absl::Time deadline) {
  while (absl::Now() < deadline) {
    absl::StatusOr<v1::Application> app = store.Get(name);
    if (!app.ok()) break;
    const v1::Operation& operation = app->status().operation();
    if (operation.id() != 0 && operation.initiated_by() == queued.initiated_by() &&
        TimeOf(operation.started_at()) >= requested_at - absl::Milliseconds(1)) {
      return operation;
    }
    if (app->status().has_reconciled_at() &&
        TimeOf(app->status().reconciled_at()) >= requested_at &&
        app->status().conditions_size() > 0) {
      v1::Operation failed = queued;
      failed.set_phase(v1::OPERATION_PHASE_FAILED);
      std::string message = "the sync did not start:";
      for (const v1::Condition& condition : app->status().conditions()) {
        absl::StrAppend(&message, " ", condition.type(), ": ", condition.message(), ";");
      }
      message.pop_back();
      failed.set_message(message);
      return failed;
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  return queued;
}

}  // namespace

// What the files shipped in deploy/ hold until replaced.
constexpr absl::string_view kPlaceholderMarker = "REPLACE-WITH";

absl::StatusOr<std::map<std::string, Role>> LoadTokensFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::InvalidArgumentError(absl::StrCat("tokens file ", path, ": cannot read"));
  std::map<std::string, Role> tokens;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    absl::string_view text = absl::StripAsciiWhitespace(line);
    if (text.empty() || text[0] == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (absl::StrContains(text, kPlaceholderMarker)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "tokens file ", path, " line ", number,
          ": a placeholder, not a token: replace the file with tokens of your own (README, "
          "\"Deploying\")"));
    }
    if (fields.size() != 2 || (fields[1] != "read" && fields[1] != "admin")) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokens file ", path, " line ", number, ": want `<token> read|admin`"));
    }
    tokens[std::string(fields[0])] = fields[1] == "admin" ? Role::kAdmin : Role::kRead;
  }
  if (tokens.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("tokens file ", path, ": no token"));
  }
  return tokens;
}

absl::StatusOr<std::string> LoadSecretFile(const std::string& path, absl::string_view what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(what, " file ", path, ": cannot read"));
  std::string secret;
  std::string line;
  int lines = 0;
  size_t total = 0;
  while (std::getline(in, line)) {
    total += line.size() + 1;
    if (total > (64 << 10)) {
      return absl::InvalidArgumentError(absl::StrCat(what, " file ", path, ": over 64 KiB"));
    }
    absl::string_view text = absl::StripTrailingAsciiWhitespace(line);
    const absl::string_view stripped = absl::StripLeadingAsciiWhitespace(text);
    if (stripped.empty() || stripped[0] == '#') continue;
    if (++lines > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " file ", path,
                       ": more than one line (one secret per file; `#` "
                       "starts a comment line)"));
    }
    secret = std::string(text);
  }
  if (lines == 0) return absl::InvalidArgumentError(absl::StrCat(what, " file ", path, ": empty"));
  if (absl::StrContains(secret, kPlaceholderMarker)) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " file ", path,
                     ": a placeholder, not a secret: replace the file with one of your "
                     "own, e.g. `openssl rand -hex 32` (README, \"Deploying\")"));
  }
  if (secret.size() < kMinSecretBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " file ", path, ": the secret is ",
                                                   secret.size(), " bytes, under the minimum of ",
                                                   kMinSecretBytes));
  }
  return secret;
}

OrchestratorService::OrchestratorService(std::shared_ptr<ApplicationStore> store,
                                         std::shared_ptr<Reconciler> reconciler,
                                         Controller* controller, EventBus* events,
                                         OrchestratorServiceOptions options)
    : store_(std::move(store)),
      reconciler_(std::move(reconciler)),
      controller_(controller),
      events_(events),
      options_(std::move(options)) {}

absl::Status OrchestratorService::Authorize(const grpc::ServerContext& context, Role needed) const {
  if (options_.tokens.empty()) return absl::OkStatus();
  auto header = context.client_metadata().find("authorization");
  if (header == context.client_metadata().end()) {
    return absl::UnauthenticatedError("missing `authorization: Bearer <token>` (todoke --token)");
  }
  absl::string_view value(header->second.data(), header->second.size());
  if (!absl::ConsumePrefix(&value, "Bearer ")) {
    return absl::UnauthenticatedError("authorization must be `Bearer <token>`");
  }
  const Role* role = nullptr;
  for (const auto& [token, token_role] : options_.tokens) {
    if (SameSecret(value, token)) role = &token_role;
  }
  if (role == nullptr) return absl::UnauthenticatedError("unknown token");
  if (static_cast<int>(*role) < static_cast<int>(needed)) {
    return absl::PermissionDeniedError("this call needs a token with role admin");
  }
  return absl::OkStatus();
}

grpc::Status OrchestratorService::CreateApplication(grpc::ServerContext* context,
                                                    const v1::CreateApplicationRequest* request,
                                                    v1::Application* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  v1::Application app = request->application();
  app.clear_status();
  ApplyDefaults(app);
  if (absl::Status valid = ValidateApplication(app); !valid.ok()) return ToGrpcStatus(valid);
  absl::StatusOr<v1::Application> existing = store_->Get(app.name());
  absl::StatusOr<v1::Application> stored;
  if (existing.ok()) {
    if (!request->upsert()) {
      return ToGrpcStatus(
          absl::AlreadyExistsError(absl::StrCat("application \"", app.name(),
                                                "\" already exists (todoke app apply to "
                                                "update it)")));
    }
    stored = store_->Update(app, /*expected_generation=*/0);
  } else if (absl::IsNotFound(existing.status())) {
    stored = store_->Create(app);
  } else {
    return ToGrpcStatus(existing.status());
  }
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  controller_->Enqueue(app.name(), "spec");
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::GetApplication(grpc::ServerContext* context,
                                                 const v1::GetApplicationRequest* request,
                                                 v1::Application* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  *response = *std::move(app);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::ListApplications(grpc::ServerContext* context,
                                                   const v1::ListApplicationsRequest* request,
                                                   v1::ListApplicationsResponse* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  ListApplicationsOptions options;
  options.label_selector = request->label_selector();
  options.page_size = request->page_size();
  options.page_token = request->page_token();
  absl::StatusOr<ApplicationPage> page = store_->List(options);
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Application& app : page->applications) *response->add_applications() = std::move(app);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::UpdateApplication(grpc::ServerContext* context,
                                                    const v1::UpdateApplicationRequest* request,
                                                    v1::Application* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  v1::Application app = request->application();
  app.clear_status();
  ApplyDefaults(app);
  if (absl::Status valid = ValidateApplication(app); !valid.ok()) return ToGrpcStatus(valid);
  absl::StatusOr<v1::Application> stored = store_->Update(app, app.generation());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  controller_->Enqueue(app.name(), "spec");
  *response = *std::move(stored);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::DeleteApplication(grpc::ServerContext* context,
                                                    const v1::DeleteApplicationRequest* request,
                                                    v1::DeleteApplicationResponse* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  if (request->cascade()) {
    // The objects go first; when that fails the Application stays, so nothing is orphaned.
    absl::Status pruned = reconciler_->PruneAll(*app);
    if (!pruned.ok()) return ToGrpcStatus(pruned);
  }
  absl::Status deleted = store_->Delete(request->name());
  if (!deleted.ok()) return ToGrpcStatus(deleted);
  controller_->Forget(request->name());
  v1::Event event;
  event.set_app_name(request->name());
  event.set_type("Normal");
  event.set_reason("Deleted");
  event.set_message(request->cascade() ? "application and its objects deleted"
                                       : "application deleted; its objects were left in place");
  events_->Publish(std::move(event));
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Sync(grpc::ServerContext* context, const v1::SyncRequest* request,
                                       v1::Operation* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  RETURN_IF_ERROR_GRPC(RequireName(request->name()));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  SyncOrder order;
  order.revision = request->revision();
  order.prune = request->prune() || app->spec().sync_policy().prune();
  order.dry_run = request->dry_run();
  order.force = request->force();
  order.initiated_by = "user";
  absl::Time requested_at = absl::Now();
  absl::StatusOr<v1::Operation> operation = controller_->RequestSync(request->name(), order);
  if (!operation.ok()) return ToGrpcStatus(operation.status());
  *response = AwaitStart(*store_, request->name(), *operation, requested_at,
                         DeadlineOf(*context, absl::Seconds(10)) - absl::Milliseconds(200));
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Refresh(grpc::ServerContext* context,
                                          const v1::RefreshRequest* request,
                                          v1::Application* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  absl::Status refreshed =
      controller_->RefreshAndWait(request->name(), DeadlineOf(*context, options_.refresh_timeout));
  if (!refreshed.ok()) return ToGrpcStatus(refreshed);
  app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  *response = *std::move(app);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Diff(grpc::ServerContext* context, const v1::DiffRequest* request,
                                       differ::v1::DiffResponse* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  absl::StatusOr<differ::v1::DiffResponse> diff = reconciler_->LastDiff(request->name());
  if (!diff.ok()) {
    // Compared by another orchestrator process (before a restart): compare now.
    absl::Status refreshed = controller_->RefreshAndWait(
        request->name(), DeadlineOf(*context, options_.refresh_timeout));
    if (!refreshed.ok()) return ToGrpcStatus(refreshed);
    diff = reconciler_->LastDiff(request->name());
    if (!diff.ok()) return ToGrpcStatus(diff.status());
  }
  *response = *std::move(diff);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::History(grpc::ServerContext* context,
                                          const v1::HistoryRequest* request,
                                          v1::HistoryResponse* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  absl::StatusOr<std::vector<v1::HistoryEntry>> entries =
      store_->History(request->name(), request->limit());
  if (!entries.ok()) return ToGrpcStatus(entries.status());
  for (v1::HistoryEntry& entry : *entries) *response->add_entries() = std::move(entry);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Rollback(grpc::ServerContext* context,
                                           const v1::RollbackRequest* request,
                                           v1::Operation* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  absl::StatusOr<v1::HistoryEntry> entry =
      store_->GetHistoryEntry(request->name(), request->history_id());
  if (!entry.ok()) return ToGrpcStatus(entry.status());
  // Automation off first: otherwise the next pass would sync the branch tip again.
  v1::Application updated = *app;
  bool was_automated = updated.spec().sync_policy().automated();
  updated.mutable_spec()->mutable_sync_policy()->set_automated(false);
  absl::StatusOr<v1::Application> stored = store_->Update(updated, app->generation());
  if (!stored.ok()) return ToGrpcStatus(stored.status());
  SyncOrder order;
  order.revision = entry->revision();
  order.spec = entry->spec();
  order.spec->mutable_sync_policy()->set_automated(false);
  order.prune = entry->spec().sync_policy().prune();
  order.initiated_by = "rollback";
  absl::Time requested_at = absl::Now();
  absl::StatusOr<v1::Operation> operation = controller_->RequestSync(request->name(), order);
  if (!operation.ok()) return ToGrpcStatus(operation.status());
  *operation = AwaitStart(*store_, request->name(), *operation, requested_at,
                          DeadlineOf(*context, absl::Seconds(10)) - absl::Milliseconds(200));
  std::string message = absl::StrCat(
      "rolling back to history entry ", request->history_id(), " (revision ",
      entry->revision().substr(0, 12), ")",
      was_automated ? "; automated sync turned off (set syncPolicy.automated again with "
                      "todoke app apply -f to turn it on)"
                    : "");
  v1::Event event;
  event.set_app_name(request->name());
  event.set_type("Normal");
  event.set_reason("Rollback");
  event.set_message(message);
  event.set_operation_id(operation->id());
  events_->Publish(std::move(event));
  if (operation->phase() != v1::OPERATION_PHASE_FAILED) operation->set_message(message);
  *response = *std::move(operation);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::SetSuspended(const grpc::ServerContext& context,
                                               const std::string& name, bool suspended,
                                               v1::Application* response) {
  RETURN_IF_ERROR_GRPC(Authorize(context, Role::kAdmin));
  absl::StatusOr<v1::Application> app = store_->Get(name);
  if (!app.ok()) return ToGrpcStatus(app.status());
  if (app->spec().suspend() != suspended) {
    app->mutable_spec()->set_suspend(suspended);
    app = store_->Update(*app, app->generation());
    if (!app.ok()) return ToGrpcStatus(app.status());
    v1::Event event;
    event.set_app_name(name);
    event.set_type("Normal");
    event.set_reason(suspended ? "Suspended" : "Resumed");
    event.set_message(suspended ? "reconciliation suspended" : "reconciliation resumed");
    events_->Publish(std::move(event));
    if (!suspended) controller_->Enqueue(name, "spec");
  }
  *response = *std::move(app);
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Suspend(grpc::ServerContext* context,
                                          const v1::SuspendRequest* request,
                                          v1::Application* response) {
  return SetSuspended(*context, request->name(), true, response);
}

grpc::Status OrchestratorService::Resume(grpc::ServerContext* context,
                                         const v1::ResumeRequest* request,
                                         v1::Application* response) {
  return SetSuspended(*context, request->name(), false, response);
}

grpc::Status OrchestratorService::TerminateOperation(grpc::ServerContext* context,
                                                     const v1::TerminateOperationRequest* request,
                                                     v1::Operation* response) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kAdmin));
  absl::StatusOr<v1::Application> app = store_->Get(request->name());
  if (!app.ok()) return ToGrpcStatus(app.status());
  absl::Status terminated = controller_->Terminate(request->name());
  if (!terminated.ok()) return ToGrpcStatus(terminated);
  *response = app->status().operation();
  return grpc::Status::OK;
}

grpc::Status OrchestratorService::Watch(grpc::ServerContext* context,
                                        const v1::WatchRequest* request,
                                        grpc::ServerWriter<v1::Event>* writer) {
  RETURN_IF_ERROR_GRPC(Authorize(*context, Role::kRead));
  if (!request->name().empty()) {
    absl::StatusOr<v1::Application> app = store_->Get(request->name());
    if (!app.ok()) return ToGrpcStatus(app.status());
  }
  std::unique_ptr<EventBus::Subscription> subscription = events_->Subscribe(request->name());
  v1::Event ready;
  ready.set_type("Ready");
  ready.set_app_name(request->name());
  if (!writer->Write(ready)) return grpc::Status::OK;
  while (!context->IsCancelled()) {
    bool overflowed = false;
    std::vector<v1::Event> events = subscription->Next(absl::Milliseconds(200), &overflowed);
    for (const v1::Event& event : events) {
      if (!writer->Write(event)) return grpc::Status::OK;
    }
    if (overflowed) {
      return ToGrpcStatus(absl::ResourceExhaustedError(
          "watch fell too far behind and events were dropped; watch again"));
    }
  }
  return grpc::Status::OK;
}

}  // namespace todoke::orchestrator

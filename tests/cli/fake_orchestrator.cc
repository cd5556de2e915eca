#include "tests/cli/fake_orchestrator.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace todoke::cli::testing {
namespace {

google::protobuf::Timestamp Now() {
  google::protobuf::Timestamp now;
  now.set_seconds(absl::ToUnixSeconds(absl::Now()));
  return now;
}

}  // namespace

orch::Application MakeApplication(const std::string& name, types::v1::SyncStatus sync,
                                  types::v1::HealthStatus health) {
  orch::Application app;
  app.set_name(name);
  app.set_generation(1);
  app.mutable_spec()->mutable_source()->set_repo_url("https://git.example.com/org/apps.git");
  app.mutable_spec()->mutable_source()->set_target_revision("main");
  app.mutable_spec()->mutable_source()->set_path(name);
  app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_(name);
  app.mutable_status()->set_sync(sync);
  app.mutable_status()->set_health(health);
  app.mutable_status()->set_revision("0123456789abcdef0123456789abcdef01234567");
  *app.mutable_created_at() = Now();
  app.mutable_created_at()->set_seconds(app.created_at().seconds() - 300);  // 5m old
  return app;
}

FakeOrchestrator::FakeOrchestrator() {
  ServerOptions options;
  options.shutdown_grace = absl::Seconds(1);
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, {this});
  if (!server.ok()) {
    std::cerr << "fake orchestrator: " << server.status() << "\n";
    std::abort();
  }
  server_ = *std::move(server);
}

FakeOrchestrator::~FakeOrchestrator() { server_->Shutdown(); }

void FakeOrchestrator::AddApplication(orch::Application app) {
  absl::MutexLock lock(&mu_);
  apps_[app.name()] = std::move(app);
}

orch::Application FakeOrchestrator::Application(const std::string& name) {
  absl::MutexLock lock(&mu_);
  return apps_[name];
}

void FakeOrchestrator::SetDiff(differ::v1::DiffResponse diff) {
  absl::MutexLock lock(&mu_);
  diff_ = std::move(diff);
}

void FakeOrchestrator::RequireToken(std::string token) {
  absl::MutexLock lock(&mu_);
  token_ = std::move(token);
}

void FakeOrchestrator::SetPageSize(int size) {
  absl::MutexLock lock(&mu_);
  page_size_ = size;
}

void FakeOrchestrator::SetSyncOutcome(std::vector<orch::ResourceStatus> objects,
                                      orch::OperationPhase phase, std::string message) {
  absl::MutexLock lock(&mu_);
  sync_objects_ = std::move(objects);
  sync_phase_ = phase;
  sync_message_ = std::move(message);
}

void FakeOrchestrator::SetCloseIdleWatches(bool close) {
  absl::MutexLock lock(&mu_);
  close_idle_watches_ = close;
}

void FakeOrchestrator::SetInitialWatchEvents(std::vector<orch::Event> events) {
  absl::MutexLock lock(&mu_);
  initial_watch_events_ = std::move(events);
}

void FakeOrchestrator::Publish(const orch::Event& event) {
  absl::MutexLock lock(&mu_);
  PublishLocked(event);
}

void FakeOrchestrator::PublishLocked(const orch::Event& event) {
  for (Subscriber* subscriber : subscribers_) {
    if (subscriber->app.empty() || subscriber->app == event.app_name()) {
      subscriber->queue.push_back(event);
    }
  }
}

void FakeOrchestrator::SetStatus(const std::string& name, types::v1::SyncStatus sync,
                                 types::v1::HealthStatus health) {
  absl::MutexLock lock(&mu_);
  orch::Application& app = apps_[name];
  app.mutable_status()->set_sync(sync);
  app.mutable_status()->set_health(health);
  orch::Event event;
  *event.mutable_time() = Now();
  event.set_app_name(name);
  event.set_type("Normal");
  event.set_reason("StatusChanged");
  event.set_sync(sync);
  event.set_health(health);
  PublishLocked(event);
}

std::vector<std::string> FakeOrchestrator::methods_called() {
  absl::MutexLock lock(&mu_);
  return methods_;
}
std::vector<std::string> FakeOrchestrator::authorizations() {
  absl::MutexLock lock(&mu_);
  return authorizations_;
}
std::vector<orch::SyncRequest> FakeOrchestrator::syncs() {
  absl::MutexLock lock(&mu_);
  return syncs_;
}
std::vector<orch::CreateApplicationRequest> FakeOrchestrator::creates() {
  absl::MutexLock lock(&mu_);
  return creates_;
}
std::vector<orch::DeleteApplicationRequest> FakeOrchestrator::deletes() {
  absl::MutexLock lock(&mu_);
  return deletes_;
}
std::vector<orch::ListApplicationsRequest> FakeOrchestrator::lists() {
  absl::MutexLock lock(&mu_);
  return lists_;
}

grpc::Status FakeOrchestrator::Admit(grpc::ServerContext* context, const std::string& method) {
  methods_.push_back(method);
  std::string authorization;
  const auto& metadata = context->client_metadata();
  if (auto it = metadata.find("authorization"); it != metadata.end()) {
    authorization.assign(it->second.data(), it->second.size());
  }
  authorizations_.push_back(authorization);
  if (!token_.empty() && authorization != absl::StrCat("Bearer ", token_)) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "missing or unknown bearer token");
  }
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::NotFound(const std::string& name) const {
  return grpc::Status(grpc::StatusCode::NOT_FOUND,
                      absl::StrCat("application ", name, " not found"));
}

grpc::Status FakeOrchestrator::CreateApplication(grpc::ServerContext* context,
                                                 const orch::CreateApplicationRequest* request,
                                                 orch::Application* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "CreateApplication"); !admitted.ok()) return admitted;
  creates_.push_back(*request);
  const std::string& name = request->application().name();
  auto it = apps_.find(name);
  if (it != apps_.end() && !request->upsert()) {
    return grpc::Status(grpc::StatusCode::ALREADY_EXISTS, absl::StrCat(name, " exists"));
  }
  orch::Application stored = request->application();
  stored.set_generation(it == apps_.end() ? 1 : it->second.generation() + 1);
  *stored.mutable_created_at() = it == apps_.end() ? Now() : it->second.created_at();
  apps_[name] = stored;
  *response = stored;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::GetApplication(grpc::ServerContext* context,
                                              const orch::GetApplicationRequest* request,
                                              orch::Application* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "GetApplication"); !admitted.ok()) return admitted;
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::ListApplications(grpc::ServerContext* context,
                                                const orch::ListApplicationsRequest* request,
                                                orch::ListApplicationsResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "ListApplications"); !admitted.ok()) return admitted;
  lists_.push_back(*request);
  auto it = request->page_token().empty() ? apps_.begin() : apps_.find(request->page_token());
  for (int n = 0; it != apps_.end(); ++it, ++n) {
    if (page_size_ > 0 && n == page_size_) {
      response->set_next_page_token(it->first);
      break;
    }
    *response->add_applications() = it->second;
  }
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::DeleteApplication(grpc::ServerContext* context,
                                                 const orch::DeleteApplicationRequest* request,
                                                 orch::DeleteApplicationResponse*) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "DeleteApplication"); !admitted.ok()) return admitted;
  deletes_.push_back(*request);
  if (apps_.erase(request->name()) == 0) return NotFound(request->name());
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Sync(grpc::ServerContext* context, const orch::SyncRequest* request,
                                    orch::Operation* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Sync"); !admitted.ok()) return admitted;
  syncs_.push_back(*request);
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  orch::Operation op;
  op.set_id(next_operation_id_++);
  op.set_app_name(request->name());
  op.set_phase(orch::OPERATION_PHASE_QUEUED);
  op.set_revision(it->second.status().revision());
  op.set_initiated_by("user");
  op.set_dry_run(request->dry_run());
  op.set_prune(request->prune());
  op.set_force(request->force());
  *response = op;

  // The operation runs at once: events first, then the recorded result, then the last event.
  auto event = [&](const std::string& reason, const std::string& message) {
    orch::Event e;
    *e.mutable_time() = Now();
    e.set_app_name(request->name());
    e.set_type(reason == "SyncFailed" ? "Warning" : "Normal");
    e.set_reason(reason);
    e.set_message(message);
    e.set_operation_id(op.id());
    return e;
  };
  PublishLocked(event("SyncStarted", ""));
  for (const orch::ResourceStatus& object : sync_objects_) {
    orch::Event e = event("ObjectApplied", object.action());
    *e.mutable_key() = object.key();
    PublishLocked(e);
  }
  op.set_phase(sync_phase_);
  op.set_message(sync_message_);
  *op.mutable_started_at() = Now();
  *op.mutable_finished_at() = Now();
  op.mutable_finished_at()->set_seconds(op.started_at().seconds() + 2);
  *it->second.mutable_status()->mutable_operation() = op;
  orch::HistoryEntry entry;
  entry.set_id(op.id());
  entry.set_revision(op.revision());
  *entry.mutable_operation() = op;
  for (const orch::ResourceStatus& object : sync_objects_) *entry.add_resources() = object;
  history_[request->name()].insert(history_[request->name()].begin(), entry);
  PublishLocked(
      event(sync_phase_ == orch::OPERATION_PHASE_SUCCEEDED ? "SyncSucceeded" : "SyncFailed",
            sync_message_));
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Refresh(grpc::ServerContext* context,
                                       const orch::RefreshRequest* request,
                                       orch::Application* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Refresh"); !admitted.ok()) return admitted;
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  *it->second.mutable_status()->mutable_reconciled_at() = Now();
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Diff(grpc::ServerContext* context, const orch::DiffRequest* request,
                                    differ::v1::DiffResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Diff"); !admitted.ok()) return admitted;
  if (apps_.count(request->name()) == 0) return NotFound(request->name());
  *response = diff_;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::History(grpc::ServerContext* context,
                                       const orch::HistoryRequest* request,
                                       orch::HistoryResponse* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "History"); !admitted.ok()) return admitted;
  if (apps_.count(request->name()) == 0) return NotFound(request->name());
  for (const orch::HistoryEntry& entry : history_[request->name()]) {
    if (request->limit() > 0 && response->entries_size() == request->limit()) break;
    *response->add_entries() = entry;
  }
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Rollback(grpc::ServerContext* context,
                                        const orch::RollbackRequest* request,
                                        orch::Operation* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Rollback"); !admitted.ok()) return admitted;
  if (apps_.count(request->name()) == 0) return NotFound(request->name());
  for (const orch::HistoryEntry& entry : history_[request->name()]) {
    if (entry.id() != request->history_id()) continue;
    response->set_id(next_operation_id_++);
    response->set_app_name(request->name());
    response->set_phase(orch::OPERATION_PHASE_QUEUED);
    response->set_revision(entry.revision());
    response->set_initiated_by("rollback");
    response->set_message(
        absl::StrCat("rollback to history entry ", entry.id(), "; automated sync turned off"));
    return grpc::Status::OK;
  }
  return grpc::Status(
      grpc::StatusCode::NOT_FOUND,
      absl::StrCat("history entry ", request->history_id(), " of ", request->name(), " not found"));
}

grpc::Status FakeOrchestrator::Suspend(grpc::ServerContext* context,
                                       const orch::SuspendRequest* request,
                                       orch::Application* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Suspend"); !admitted.ok()) return admitted;
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  it->second.mutable_spec()->set_suspend(true);
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Resume(grpc::ServerContext* context,
                                      const orch::ResumeRequest* request,
                                      orch::Application* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "Resume"); !admitted.ok()) return admitted;
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  it->second.mutable_spec()->set_suspend(false);
  *response = it->second;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::TerminateOperation(grpc::ServerContext* context,
                                                  const orch::TerminateOperationRequest* request,
                                                  orch::Operation* response) {
  absl::MutexLock lock(&mu_);
  if (grpc::Status admitted = Admit(context, "TerminateOperation"); !admitted.ok()) {
    return admitted;
  }
  auto it = apps_.find(request->name());
  if (it == apps_.end()) return NotFound(request->name());
  orch::Operation* op = it->second.mutable_status()->mutable_operation();
  if (op->phase() != orch::OPERATION_PHASE_RUNNING) {
    return grpc::Status(grpc::StatusCode::FAILED_PRECONDITION,
                        absl::StrCat("no operation of ", request->name(), " is running"));
  }
  op->set_phase(orch::OPERATION_PHASE_TERMINATED);
  *response = *op;
  return grpc::Status::OK;
}

grpc::Status FakeOrchestrator::Watch(grpc::ServerContext* context,
                                     const orch::WatchRequest* request,
                                     grpc::ServerWriter<orch::Event>* writer) {
  Subscriber subscriber;
  subscriber.app = request->name();
  bool close_when_idle = false;
  {
    absl::MutexLock lock(&mu_);
    if (grpc::Status admitted = Admit(context, "Watch"); !admitted.ok()) return admitted;
    for (const orch::Event& event : initial_watch_events_) {
      if (subscriber.app.empty() || subscriber.app == event.app_name()) {
        subscriber.queue.push_back(event);
      }
    }
    close_when_idle = close_idle_watches_;
    subscribers_.insert(&subscriber);
  }
  orch::Event ready;
  ready.set_type("Ready");
  writer->Write(ready);
  // Sends what is queued, every 10 ms, until the client goes (bounded in case it never does).
  const absl::Time give_up = absl::Now() + absl::Seconds(60);
  while (!context->IsCancelled() && absl::Now() < give_up) {
    std::deque<orch::Event> events;
    {
      absl::MutexLock lock(&mu_);
      events.swap(subscriber.queue);
    }
    if (events.empty() && close_when_idle) break;
    for (const orch::Event& event : events) writer->Write(event);
    if (events.empty()) absl::SleepFor(absl::Milliseconds(10));
  }
  absl::MutexLock lock(&mu_);
  subscribers_.erase(&subscriber);
  return grpc::Status::OK;
}

}  // namespace todoke::cli::testing

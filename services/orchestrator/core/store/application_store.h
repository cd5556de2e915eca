// ApplicationStore: where the orchestrator keeps Applications, their operations and their sync
// history. The reconcile loop talks only to this interface, so that a store keeping Applications
// as Kubernetes custom resources (sharded across orchestrator replicas) can replace the SQLite one
// (sqlite_application_store.h) without touching the loop.
//
// The data model is the todoke.orchestrator.v1 messages. The store owns a few fields and ignores
// what callers put there: Application.generation and created_at, Operation.id, HistoryEntry.id.
//
// Every method is thread-safe. A method that returns OK has made its change durable (it survives
// a `kill -9` of the process right after); a method that fails has changed nothing.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_APPLICATION_STORE_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_APPLICATION_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::orchestrator {

using Application = ::todoke::orchestrator::v1::Application;

struct ListApplicationsOptions {
  // Kubernetes syntax ("team=web,tier!=db,env,!legacy,zone in (a,b)"); empty: every app.
  std::string label_selector;
  // At most this many per page; 0: all.
  int page_size = 0;
  // The next_page_token of the previous page; empty: the first page.
  std::string page_token;
};

struct ApplicationPage {
  // Ordered by name.
  std::vector<Application> applications;
  // Empty on the last page.
  std::string next_page_token;
};

// How an operation ended, for FinishOperation.
struct OperationResult {
  // SUCCEEDED, FAILED or TERMINATED (INTERRUPTED is MarkInterrupted's).
  v1::OperationPhase phase = v1::OPERATION_PHASE_SUCCEEDED;
  std::string message;
  // Git destinations: the hydration commit.
  std::string hydrated_commit;
  // When set, appended to the app's history in the same write as the operation's end (its
  // `operation` becomes the finished operation), so that a finished operation never lacks its
  // history entry, even across a crash.
  std::optional<v1::HistoryEntry> history;
};

struct FinishedOperation {
  v1::Operation operation;
  // The appended history entry, with its id, when OperationResult::history was set.
  std::optional<v1::HistoryEntry> history;
};

class ApplicationStore {
 public:
  virtual ~ApplicationStore() = default;

  // --- Applications -------------------------------------------------------------------------

  // Stores a new Application with generation 1 and created_at now, its status as given (usually
  // empty). Does not validate the spec (ValidateApplication does). ALREADY_EXISTS if the name is
  // taken, INVALID_ARGUMENT if it is empty. Returns the stored Application.
  virtual absl::StatusOr<Application> Create(const Application& app) = 0;

  // NOT_FOUND if there is no Application of that name.
  virtual absl::StatusOr<Application> Get(absl::string_view name) = 0;

  // Applications ordered by name, filtered by a label selector, one page at a time. A page token
  // stays valid while Applications come and go: the next page starts after the last name
  // returned. INVALID_ARGUMENT for a bad selector, page size or page token.
  virtual absl::StatusOr<ApplicationPage> List(const ListApplicationsOptions& options) = 0;

  // Replaces the spec and labels of the Application named app.name(); its status stays.
  // `expected_generation` other than 0 must equal the stored generation, or ABORTED (someone
  // else changed it since it was read). The generation goes up by one when the spec or the
  // labels change; when neither does, nothing is written and the stored Application is returned.
  // NOT_FOUND if there is no such Application.
  virtual absl::StatusOr<Application> Update(const Application& app,
                                             int64_t expected_generation) = 0;

  // Replaces the status; the generation stays. When the status equals the stored one, nothing is
  // written (a no-op reconcile costs no write) and the answer is false; true when written.
  // NOT_FOUND if there is no such Application.
  virtual absl::StatusOr<bool> UpdateStatus(absl::string_view name,
                                            const v1::ApplicationStatus& status) = 0;

  // Removes the Application with its operations and history. NOT_FOUND if there is none.
  virtual absl::Status Delete(absl::string_view name) = 0;

  // --- Operations ---------------------------------------------------------------------------
  // A sync writes its operation with phase RUNNING before it applies anything (an intent row),
  // and ends it with FinishOperation. An operation still RUNNING when the process died is found
  // by MarkInterrupted at the next start.

  // Records `operation` for `app_name` as RUNNING with a new id; started_at is now unless set.
  // NOT_FOUND if the Application does not exist; FAILED_PRECONDITION if it already has a running
  // operation (naming its id).
  virtual absl::StatusOr<v1::Operation> StartOperation(absl::string_view app_name,
                                                       const v1::Operation& operation) = 0;

  // Ends the running operation `id`: phase, message, hydrated commit, finished_at now; and
  // appends `result.history` in the same write. NOT_FOUND for an unknown id,
  // FAILED_PRECONDITION if it is not running (finished, or interrupted by a restart),
  // INVALID_ARGUMENT for a phase that does not end an operation.
  virtual absl::StatusOr<FinishedOperation> FinishOperation(int64_t id,
                                                            const OperationResult& result) = 0;

  // NOT_FOUND for an unknown id (or one deleted with its Application).
  virtual absl::StatusOr<v1::Operation> GetOperation(int64_t id) = 0;

  // Operations in phase RUNNING, oldest first.
  virtual absl::StatusOr<std::vector<v1::Operation>> RunningOperations() = 0;

  // Call once at start, before any StartOperation: every operation still RUNNING was cut short
  // by the previous process's end. Each becomes INTERRUPTED (finished_at now, message saying so)
  // and is returned, oldest first, so that the loop can report and retry them. An Application
  // whose status.operation still shows a running operation gets the stored operation there
  // instead (interrupted, or finished when the process died between FinishOperation and its
  // status write); one whose status.operation is older than an interrupted operation of the app
  // (the process died between StartOperation and the status write) gets the interrupted one.
  virtual absl::StatusOr<std::vector<v1::Operation>> MarkInterrupted() = 0;

  // --- History ------------------------------------------------------------------------------
  // Bounded per Application (the store's option; the oldest entries are dropped). Ids are never
  // reused, not even after an Application is deleted and created again.

  // Appends `entry` with a new id and returns it. NOT_FOUND if the Application does not exist.
  virtual absl::StatusOr<v1::HistoryEntry> AppendHistory(absl::string_view app_name,
                                                         const v1::HistoryEntry& entry) = 0;

  // Newest first, at most `limit` entries (0: all kept). NOT_FOUND if the Application does not
  // exist.
  virtual absl::StatusOr<std::vector<v1::HistoryEntry>> History(absl::string_view app_name,
                                                                int limit) = 0;

  // NOT_FOUND if the Application has no entry `id` (never had, or dropped by the bound).
  virtual absl::StatusOr<v1::HistoryEntry> GetHistoryEntry(absl::string_view app_name,
                                                           int64_t id) = 0;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_APPLICATION_STORE_H_

// The ApplicationStore of one orchestrator: an SQLite database (Debian's libsqlite3) in the data
// directory.
//
// Durability: WAL journal with synchronous=FULL, so every acknowledged write has reached the
// disk (fsync of the WAL at each commit): a `kill -9`, or a power cut, at any moment loses
// nothing that was acknowledged. Each method is one transaction (BEGIN IMMEDIATE ... COMMIT).
// Foreign keys are on (operations and history go with their Application).
//
// Layout (schema version in PRAGMA user_version; Open migrates older files step by step and
// refuses newer ones):
//   applications(id, name UNIQUE, generation, app BLOB, status BLOB)
//       app: the Application without its status; status: ApplicationStatus (both serialized
//       protobuf). Writing the status alone never rewrites the spec.
//   application_labels(app_id, key, value)   indexed by (key, value): label selectors in SQL
//   operations(id, app_id, phase, operation BLOB)   at most one RUNNING per app (unique index)
//   history(id, app_id, entry BLOB)                 ids AUTOINCREMENT: never reused
//
// One connection, guarded by a mutex, serves reads and writes: one writer, as the orchestrator's
// only process using the directory (Open takes an exclusive lock on `<file>.lock` for the life of
// the store, so a second orchestrator on the same directory fails to start instead of sharing).
#ifndef TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_SQLITE_APPLICATION_STORE_H_
#define TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_SQLITE_APPLICATION_STORE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/orchestrator/core/store/application_store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace todoke::orchestrator {

struct SqliteStoreOptions {
  // Database file name inside the data directory.
  std::string file_name = "todoke.db";
  // History entries kept per Application (the oldest are dropped on append); at least 1.
  int history_limit = 10;
  // How long a statement waits for a lock another process holds (e.g. a `sqlite3` shell reading
  // the file) before failing with UNAVAILABLE.
  absl::Duration busy_timeout = absl::Seconds(5);
  // Time source for created_at, started_at and finished_at; absl::Now when empty (tests inject).
  std::function<absl::Time()> clock;
};

class SqliteApplicationStore : public ApplicationStore {
 public:
  // The schema version this binary writes.
  static constexpr int kSchemaVersion = 1;

  // Opens (creating when missing) `data_dir` and the database in it, sets the PRAGMAs and
  // migrates the schema. FAILED_PRECONDITION when another process holds the directory's store,
  // when the file's schema is newer than kSchemaVersion, or when WAL mode cannot be enabled
  // (a filesystem without shared memory); DATA_LOSS when the file is not an SQLite database;
  // INVALID_ARGUMENT for bad options; otherwise INTERNAL naming the file and SQLite's message.
  static absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> Open(
      absl::string_view data_dir, SqliteStoreOptions options = {});

  // Closes the database (checkpointing the WAL into the file) and releases the lock.
  ~SqliteApplicationStore() override;

  SqliteApplicationStore(const SqliteApplicationStore&) = delete;
  SqliteApplicationStore& operator=(const SqliteApplicationStore&) = delete;

  absl::StatusOr<Application> Create(const Application& app) override;
  absl::StatusOr<Application> Get(absl::string_view name) override;
  absl::StatusOr<ApplicationPage> List(const ListApplicationsOptions& options) override;
  absl::StatusOr<Application> Update(const Application& app, int64_t expected_generation) override;
  absl::StatusOr<bool> UpdateStatus(absl::string_view name,
                                    const v1::ApplicationStatus& status) override;
  absl::Status Delete(absl::string_view name) override;

  absl::StatusOr<v1::Operation> StartOperation(absl::string_view app_name,
                                               const v1::Operation& operation) override;
  absl::StatusOr<FinishedOperation> FinishOperation(int64_t id,
                                                    const OperationResult& result) override;
  absl::StatusOr<v1::Operation> GetOperation(int64_t id) override;
  absl::StatusOr<std::vector<v1::Operation>> RunningOperations() override;
  absl::StatusOr<std::vector<v1::Operation>> MarkInterrupted() override;

  absl::StatusOr<v1::HistoryEntry> AppendHistory(absl::string_view app_name,
                                                 const v1::HistoryEntry& entry) override;
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(absl::string_view app_name,
                                                        int limit) override;
  absl::StatusOr<v1::HistoryEntry> GetHistoryEntry(absl::string_view app_name, int64_t id) override;

  // The database file.
  const std::string& path() const { return path_; }

  // Rows changed by this connection since Open (sqlite3_total_changes64): what a test or a
  // metric checks to see that a no-op reconcile wrote nothing.
  int64_t TotalChanges();

  // The value of `PRAGMA <name>` on the store's connection ("wal", "2", ...). `name` must be a
  // plain identifier (INVALID_ARGUMENT otherwise); reading only, for tests and diagnostics.
  absl::StatusOr<std::string> ReadPragma(absl::string_view name);

  // PRAGMA integrity_check: OK, or DATA_LOSS with SQLite's findings.
  absl::Status CheckIntegrity();

 private:
  class Statement;
  class Transaction;
  struct AppRow;

  SqliteApplicationStore(std::string path, int lock_fd, sqlite3* db, SqliteStoreOptions options);

  absl::Status Configure() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Migrate() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Exec(absl::string_view sql) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A prepared statement: cached by its text for the life of the connection, or (cached false,
  // for texts built per call) finalized after use.
  absl::StatusOr<Statement> Prepare(absl::string_view sql, bool cached = true)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Error(absl::string_view what, int code) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::StatusOr<AppRow> ReadAppLocked(absl::string_view name, bool with_status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteLabelsLocked(int64_t app_id, const Application& app)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::HistoryEntry> AppendHistoryLocked(int64_t app_id,
                                                       const v1::HistoryEntry& entry)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::Operation> ReadOperationLocked(int64_t id, int64_t* app_id)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<bool> WriteStatusLocked(int64_t app_id, const std::string& stored,
                                         const v1::ApplicationStatus& status)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time Now() const;

  const std::string path_;
  const int lock_fd_;
  const SqliteStoreOptions options_;
  absl::Mutex mu_;
  sqlite3* const db_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, sqlite3_stmt*> statements_ ABSL_GUARDED_BY(mu_);
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_CORE_STORE_SQLITE_APPLICATION_STORE_H_

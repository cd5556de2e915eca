#include "services/orchestrator/core/store/sqlite_application_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/util/message_differencer.h"
#include "services/orchestrator/core/spec/labels.h"

namespace todoke::orchestrator {
namespace {

using ::google::protobuf::util::MessageDifferencer;

// Schema steps: kMigrations[i] takes a database from user_version i to i + 1. Append a step for
// every change; never edit a step that has shipped.
constexpr const char* kMigrations[] = {
    // 0 -> 1
    R"sql(
CREATE TABLE applications (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  generation INTEGER NOT NULL,
  app BLOB NOT NULL,
  status BLOB NOT NULL
);
CREATE TABLE application_labels (
  app_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (app_id, key)
) WITHOUT ROWID;
CREATE INDEX application_labels_by_key_value ON application_labels(key, value);
CREATE TABLE operations (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
  phase INTEGER NOT NULL,
  operation BLOB NOT NULL
);
CREATE INDEX operations_by_app ON operations(app_id);
CREATE UNIQUE INDEX operations_one_running_per_app ON operations(app_id) WHERE phase = 1;
CREATE TABLE history (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  app_id INTEGER NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
  entry BLOB NOT NULL
);
CREATE INDEX history_by_app ON history(app_id, id);
)sql",
};
static_assert(sizeof(kMigrations) / sizeof(kMigrations[0]) ==
              SqliteApplicationStore::kSchemaVersion);

static_assert(v1::OPERATION_PHASE_RUNNING == 1, "the partial indexes above say phase = 1");

// Deterministic bytes (map entries sorted), so that equal messages serialize equally.
std::string Serialize(const google::protobuf::MessageLite& message) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);
    message.SerializeToCodedStream(&coded);
  }
  return out;
}

google::protobuf::Timestamp ToTimestamp(absl::Time time) {
  google::protobuf::Timestamp out;
  const int64_t seconds = absl::ToUnixSeconds(time);
  out.set_seconds(seconds);
  out.set_nanos(
      static_cast<int32_t>(absl::ToInt64Nanoseconds(time - absl::FromUnixSeconds(seconds))));
  return out;
}

bool SameLabels(const google::protobuf::Map<std::string, std::string>& a,
                const google::protobuf::Map<std::string, std::string>& b) {
  if (a.size() != b.size()) return false;
  for (const auto& [key, value] : a) {
    const auto it = b.find(key);
    if (it == b.end() || it->second != value) return false;
  }
  return true;
}

absl::StatusCode CodeFor(int sqlite_code) {
  switch (sqlite_code & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return absl::StatusCode::kUnavailable;
    case SQLITE_FULL:
      return absl::StatusCode::kResourceExhausted;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return absl::StatusCode::kDataLoss;
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PERM:
      return absl::StatusCode::kFailedPrecondition;
    default:
      return absl::StatusCode::kInternal;
  }
}

bool IsTerminal(v1::OperationPhase phase) {
  return phase == v1::OPERATION_PHASE_SUCCEEDED || phase == v1::OPERATION_PHASE_FAILED ||
         phase == v1::OPERATION_PHASE_TERMINATED || phase == v1::OPERATION_PHASE_INTERRUPTED;
}

constexpr absl::string_view kPageTokenPrefix = "after:";

std::string PageToken(absl::string_view last_name) {
  return absl::WebSafeBase64Escape(absl::StrCat(kPageTokenPrefix, last_name));
}

absl::StatusOr<std::string> NameFromPageToken(absl::string_view token) {
  std::string decoded;
  if (!absl::WebSafeBase64Unescape(token, &decoded) ||
      !absl::StartsWith(decoded, kPageTokenPrefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid page token \"", token, "\": pass next_page_token as returned"));
  }
  return decoded.substr(kPageTokenPrefix.size());
}

absl::Status NotFound(absl::string_view name) {
  return absl::NotFoundError(absl::StrCat("application \"", name, "\" not found"));
}

}  // namespace

// A prepared statement in use: bound, stepped, then reset (cached) or finalized (owned).
class SqliteApplicationStore::Statement {
 public:
  Statement(SqliteApplicationStore* store, sqlite3_stmt* stmt, bool owned)
      : store_(store), stmt_(stmt), owned_(owned) {}
  Statement(Statement&& other) noexcept
      : store_(other.store_), stmt_(std::exchange(other.stmt_, nullptr)), owned_(other.owned_) {}
  Statement& operator=(Statement&&) = delete;
  ~Statement() {
    if (stmt_ == nullptr) return;
    if (owned_) {
      sqlite3_finalize(stmt_);
    } else {
      sqlite3_reset(stmt_);
      sqlite3_clear_bindings(stmt_);
    }
  }

  Statement& Bind(int index, int64_t value) {
    Check(sqlite3_bind_int64(stmt_, index, value));
    return *this;
  }
  Statement& BindText(int index, absl::string_view value) {
    Check(sqlite3_bind_text64(stmt_, index, value.data(), value.size(), SQLITE_TRANSIENT,
                              SQLITE_UTF8));
    return *this;
  }
  Statement& BindBlob(int index, absl::string_view value) {
    // A zero-length blob, not NULL (the columns are NOT NULL).
    Check(sqlite3_bind_blob64(stmt_, index, value.empty() ? "" : value.data(), value.size(),
                              SQLITE_TRANSIENT));
    return *this;
  }

  // True when a row is ready, false when the statement is done.
  absl::StatusOr<bool> Step() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (bind_error_ != SQLITE_OK) return store_->Error("binding a parameter", bind_error_);
    const int code = sqlite3_step(stmt_);
    if (code == SQLITE_ROW) return true;
    if (code == SQLITE_DONE) return false;
    return store_->Error(sqlite3_sql(stmt_), code);
  }

  // Runs a statement that returns no rows.
  absl::Status Run() {
    absl::StatusOr<bool> row = Step();
    return row.ok() ? absl::OkStatus() : row.status();
  }

  int64_t Int(int column) const { return sqlite3_column_int64(stmt_, column); }
  std::string Text(int column) const {
    const unsigned char* text = sqlite3_column_text(stmt_, column);
    return text == nullptr ? ""
                           : std::string(reinterpret_cast<const char*>(text),
                                         sqlite3_column_bytes(stmt_, column));
  }
  std::string Blob(int column) const {
    const void* data = sqlite3_column_blob(stmt_, column);
    return data == nullptr
               ? ""
               : std::string(static_cast<const char*>(data), sqlite3_column_bytes(stmt_, column));
  }

 private:
  void Check(int code) {
    if (code != SQLITE_OK && bind_error_ == SQLITE_OK) bind_error_ = code;
  }

  SqliteApplicationStore* store_;
  sqlite3_stmt* stmt_;
  bool owned_;
  int bind_error_ = SQLITE_OK;
};

// BEGIN IMMEDIATE ... COMMIT; rolled back when not committed.
class SqliteApplicationStore::Transaction {
 public:
  explicit Transaction(SqliteApplicationStore* store) : store_(store) {}
  ~Transaction() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    if (begun_ && !committed_) sqlite3_exec(store_->db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  absl::Status Begin() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    RETURN_IF_ERROR(store_->Exec("BEGIN IMMEDIATE"));
    begun_ = true;
    return absl::OkStatus();
  }
  absl::Status Commit() ABSL_NO_THREAD_SAFETY_ANALYSIS {
    RETURN_IF_ERROR(store_->Exec("COMMIT"));
    committed_ = true;
    return absl::OkStatus();
  }

 private:
  SqliteApplicationStore* store_;
  bool begun_ = false;
  bool committed_ = false;
};

struct SqliteApplicationStore::AppRow {
  int64_t id = 0;
  Application app;  // without status
  std::string status_blob;
};

// ---------------------------------------------------------------------------------------------
// Opening.

absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> SqliteApplicationStore::Open(
    absl::string_view data_dir, SqliteStoreOptions options) {
  if (options.history_limit < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("history limit must be at least 1, not ", options.history_limit));
  }
  if (options.file_name.empty() || absl::StrContains(options.file_name, '/')) {
    return absl::InvalidArgumentError(
        absl::StrCat("database file name \"", options.file_name, "\" must be a plain name"));
  }
  std::error_code error;
  std::filesystem::create_directories(std::filesystem::path(std::string(data_dir)), error);
  if (error) {
    return absl::FailedPreconditionError(
        absl::StrCat("data directory ", data_dir, ": ", error.message()));
  }
  std::string path = (std::filesystem::path(std::string(data_dir)) / options.file_name).string();

  const std::string lock_path = absl::StrCat(path, ".lock");
  const int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) {
    return absl::FailedPreconditionError(absl::StrCat(lock_path, ": ", std::strerror(errno)));
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    const int flock_errno = errno;
    close(lock_fd);
    if (flock_errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is in use by another process (", lock_path,
                       " is locked): one orchestrator per data directory"));
    }
    return absl::FailedPreconditionError(absl::StrCat(lock_path, ": ", std::strerror(flock_errno)));
  }

  sqlite3* db = nullptr;
  const int code = sqlite3_open_v2(
      path.c_str(), &db,
      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
      nullptr);
  if (code != SQLITE_OK) {
    absl::Status status(CodeFor(code),
                        absl::StrCat(path, ": opening the database: ",
                                     db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(code)));
    sqlite3_close(db);
    close(lock_fd);
    return status;
  }
  std::unique_ptr<SqliteApplicationStore> store(
      new SqliteApplicationStore(std::move(path), lock_fd, db, std::move(options)));
  absl::MutexLock lock(&store->mu_);
  if (absl::Status status = store->Configure(); !status.ok()) return status;
  if (absl::Status status = store->Migrate(); !status.ok()) return status;
  return store;
}

SqliteApplicationStore::SqliteApplicationStore(std::string path, int lock_fd, sqlite3* db,
                                               SqliteStoreOptions options)
    : path_(std::move(path)), lock_fd_(lock_fd), options_(std::move(options)), db_(db) {}

SqliteApplicationStore::~SqliteApplicationStore() {
  absl::MutexLock lock(&mu_);
  for (auto& [sql, stmt] : statements_) sqlite3_finalize(stmt);
  statements_.clear();
  sqlite3_close(db_);
  close(lock_fd_);
}

absl::Status SqliteApplicationStore::Configure() {
  sqlite3_busy_timeout(db_, static_cast<int>(absl::ToInt64Milliseconds(options_.busy_timeout)));
  {
    absl::StatusOr<Statement> wal = Prepare("PRAGMA journal_mode=WAL", /*cached=*/false);
    if (!wal.ok()) return wal.status();
    absl::StatusOr<bool> row = wal->Step();
    if (!row.ok()) return row.status();
    const std::string mode = *row ? absl::AsciiStrToLower(wal->Text(0)) : "";
    if (mode != "wal") {
      return absl::FailedPreconditionError(
          absl::StrCat(path_, ": cannot use WAL mode (journal_mode is \"", mode,
                       "\"): put the data directory on a local filesystem"));
    }
  }
  if (absl::Status status = Exec("PRAGMA synchronous=FULL"); !status.ok()) return status;
  return Exec("PRAGMA foreign_keys=ON");
}

absl::Status SqliteApplicationStore::Migrate() {
  int version = 0;
  {
    absl::StatusOr<Statement> read = Prepare("PRAGMA user_version", /*cached=*/false);
    if (!read.ok()) return read.status();
    absl::StatusOr<bool> row = read->Step();
    if (!row.ok()) return row.status();
    version = static_cast<int>(read->Int(0));
  }
  if (version > kSchemaVersion) {
    return absl::FailedPreconditionError(
        absl::StrCat(path_, ": schema version ", version, " is newer than this binary's (",
                     kSchemaVersion, "): run a newer todoke-orchestrator"));
  }
  for (; version < kSchemaVersion; ++version) {
    Transaction transaction(this);
    if (absl::Status status = transaction.Begin(); !status.ok()) return status;
    if (absl::Status status = Exec(kMigrations[version]); !status.ok()) {
      return Annotate(status, absl::StrCat("migrating to schema version ", version + 1));
    }
    if (absl::Status status = Exec(absl::StrCat("PRAGMA user_version = ", version + 1));
        !status.ok()) {
      return status;
    }
    if (absl::Status status = transaction.Commit(); !status.ok()) return status;
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Plumbing.

absl::Status SqliteApplicationStore::Error(absl::string_view what, int code) {
  return absl::Status(CodeFor(code), absl::StrCat(path_, ": ", what, ": ", sqlite3_errmsg(db_),
                                                  " (", sqlite3_errstr(code), ")"));
}

absl::Status SqliteApplicationStore::Exec(absl::string_view sql) {
  char* message = nullptr;
  const std::string text(sql);
  const int code = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, &message);
  if (code == SQLITE_OK) return absl::OkStatus();
  absl::Status status(CodeFor(code),
                      absl::StrCat(path_, ": ", absl::StripAsciiWhitespace(sql.substr(0, 60)), ": ",
                                   message != nullptr ? message : sqlite3_errstr(code)));
  sqlite3_free(message);
  return status;
}

absl::StatusOr<SqliteApplicationStore::Statement> SqliteApplicationStore::Prepare(
    absl::string_view sql, bool cached) {
  if (cached) {
    const auto it = statements_.find(sql);
    if (it != statements_.end()) return Statement(this, it->second, /*owned=*/false);
  }
  sqlite3_stmt* stmt = nullptr;
  const int code = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      cached ? SQLITE_PREPARE_PERSISTENT : 0, &stmt, nullptr);
  if (code != SQLITE_OK) return Error(absl::StrCat("preparing ", sql), code);
  if (!cached) return Statement(this, stmt, /*owned=*/true);
  statements_.emplace(std::string(sql), stmt);
  return Statement(this, stmt, /*owned=*/false);
}

absl::Time SqliteApplicationStore::Now() const {
  return options_.clock ? options_.clock() : absl::Now();
}

int64_t SqliteApplicationStore::TotalChanges() {
  absl::MutexLock lock(&mu_);
  return sqlite3_total_changes64(db_);
}

absl::StatusOr<std::string> SqliteApplicationStore::ReadPragma(absl::string_view name) {
  if (name.empty() || !std::all_of(name.begin(), name.end(),
                                   [](char c) { return absl::ascii_isalnum(c) || c == '_'; })) {
    return absl::InvalidArgumentError(absl::StrCat("not a pragma name: \"", name, "\""));
  }
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> statement = Prepare(absl::StrCat("PRAGMA ", name), false);
  if (!statement.ok()) return statement.status();
  absl::StatusOr<bool> row = statement->Step();
  if (!row.ok()) return row.status();
  return *row ? statement->Text(0) : "";
}

absl::Status SqliteApplicationStore::CheckIntegrity() {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> statement = Prepare("PRAGMA integrity_check", false);
  if (!statement.ok()) return statement.status();
  std::vector<std::string> findings;
  while (true) {
    absl::StatusOr<bool> row = statement->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    findings.push_back(statement->Text(0));
  }
  if (findings.size() == 1 && findings[0] == "ok") return absl::OkStatus();
  return absl::DataLossError(
      absl::StrCat(path_, ": integrity check: ", absl::StrJoin(findings, "; ")));
}

// ---------------------------------------------------------------------------------------------
// Applications.

absl::StatusOr<SqliteApplicationStore::AppRow> SqliteApplicationStore::ReadAppLocked(
    absl::string_view name, bool with_status) {
  absl::StatusOr<Statement> select =
      with_status ? Prepare("SELECT id, generation, app, status FROM applications WHERE name = ?")
                  : Prepare("SELECT id, generation, app, x'' FROM applications WHERE name = ?");
  if (!select.ok()) return select.status();
  select->BindText(1, name);
  absl::StatusOr<bool> row = select->Step();
  if (!row.ok()) return row.status();
  if (!*row) return NotFound(name);
  AppRow out;
  out.id = select->Int(0);
  if (!out.app.ParseFromString(select->Blob(2))) {
    return absl::DataLossError(
        absl::StrCat(path_, ": the stored record of application \"", name, "\" does not parse"));
  }
  out.app.set_name(std::string(name));
  out.app.set_generation(select->Int(1));
  out.status_blob = select->Blob(3);
  return out;
}

absl::Status SqliteApplicationStore::WriteLabelsLocked(int64_t app_id, const Application& app) {
  {
    absl::StatusOr<Statement> clear = Prepare("DELETE FROM application_labels WHERE app_id = ?");
    if (!clear.ok()) return clear.status();
    if (absl::Status status = clear->Bind(1, app_id).Run(); !status.ok()) return status;
  }
  for (const auto& [key, value] : app.labels()) {
    absl::StatusOr<Statement> insert =
        Prepare("INSERT INTO application_labels (app_id, key, value) VALUES (?, ?, ?)");
    if (!insert.ok()) return insert.status();
    if (absl::Status status = insert->Bind(1, app_id).BindText(2, key).BindText(3, value).Run();
        !status.ok()) {
      return status;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<Application> SqliteApplicationStore::Create(const Application& app) {
  if (app.name().empty()) return absl::InvalidArgumentError("application name is empty");
  Application stored = app;
  stored.clear_status();
  stored.set_generation(1);
  *stored.mutable_created_at() = ToTimestamp(Now());
  const std::string status_blob = Serialize(app.status());

  absl::MutexLock lock(&mu_);
  Transaction transaction(this);
  RETURN_IF_ERROR(transaction.Begin());
  {
    absl::StatusOr<Statement> insert = Prepare(
        "INSERT INTO applications (name, generation, app, status) VALUES (?, 1, ?, ?) "
        "ON CONFLICT (name) DO NOTHING");
    if (!insert.ok()) return insert.status();
    RETURN_IF_ERROR(insert->BindText(1, app.name())
                        .BindBlob(2, Serialize(stored))
                        .BindBlob(3, status_blob)
                        .Run());
  }
  if (sqlite3_changes64(db_) == 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("application \"", app.name(), "\" already exists"));
  }
  const int64_t id = sqlite3_last_insert_rowid(db_);
  RETURN_IF_ERROR(WriteLabelsLocked(id, stored));
  RETURN_IF_ERROR(transaction.Commit());
  *stored.mutable_status() = app.status();
  return stored;
}

absl::StatusOr<Application> SqliteApplicationStore::Get(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(AppRow row, ReadAppLocked(name, /*with_status=*/true));
  if (!row.status_blob.empty() && !row.app.mutable_status()->ParseFromString(row.status_blob)) {
    return absl::DataLossError(
        absl::StrCat(path_, ": the stored status of application \"", name, "\" does not parse"));
  }
  return std::move(row.app);
}

absl::StatusOr<ApplicationPage> SqliteApplicationStore::List(
    const ListApplicationsOptions& options) {
  if (options.page_size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("page size must not be negative, not ", options.page_size));
  }
  ASSIGN_OR_RETURN(const LabelSelector selector, LabelSelector::Parse(options.label_selector));
  std::string after;
  if (!options.page_token.empty()) {
    ASSIGN_OR_RETURN(after, NameFromPageToken(options.page_token));
  }

  // Each requirement is an EXISTS over the app's labels (primary key lookups); != and notin
  // also hold for apps without the label, as in Kubernetes.
  std::string sql =
      "SELECT a.name, a.generation, a.app, a.status FROM applications a WHERE a.name > ?";
  std::vector<std::string> parameters;
  for (const LabelSelector::Requirement& requirement : selector.requirements()) {
    using Operator = LabelSelector::Operator;
    const bool negated = requirement.op == Operator::kNotEquals ||
                         requirement.op == Operator::kNotIn ||
                         requirement.op == Operator::kDoesNotExist;
    absl::StrAppend(&sql, negated ? " AND NOT EXISTS" : " AND EXISTS",
                    " (SELECT 1 FROM application_labels l WHERE l.app_id = a.id AND l.key = ?");
    parameters.push_back(requirement.key);
    if (!requirement.values.empty()) {
      absl::StrAppend(&sql, " AND l.value IN (");
      for (size_t i = 0; i < requirement.values.size(); ++i) {
        absl::StrAppend(&sql, i == 0 ? "?" : ", ?");
        parameters.push_back(requirement.values[i]);
      }
      absl::StrAppend(&sql, ")");
    }
    absl::StrAppend(&sql, ")");
  }
  absl::StrAppend(&sql, " ORDER BY a.name LIMIT ?");

  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement select, Prepare(sql, /*cached=*/selector.empty()));
  select.BindText(1, after);
  for (size_t i = 0; i < parameters.size(); ++i) {
    select.BindText(static_cast<int>(i) + 2, parameters[i]);
  }
  select.Bind(static_cast<int>(parameters.size()) + 2,
              options.page_size > 0 ? int64_t{options.page_size} + 1 : int64_t{-1});
  ApplicationPage page;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    if (options.page_size > 0 &&
        page.applications.size() == static_cast<size_t>(options.page_size)) {
      page.next_page_token = PageToken(page.applications.back().name());
      break;
    }
    Application app;
    const std::string name = select.Text(0);
    if (!app.ParseFromString(select.Blob(2))) {
      return absl::DataLossError(
          absl::StrCat(path_, ": the stored record of application \"", name, "\" does not parse"));
    }
    const std::string status = select.Blob(3);
    if (!status.empty() && !app.mutable_status()->ParseFromString(status)) {
      return absl::DataLossError(
          absl::StrCat(path_, ": the stored status of application \"", name, "\" does not parse"));
    }
    app.set_name(name);
    app.set_generation(select.Int(1));
    page.applications.push_back(std::move(app));
  }
  return page;
}

absl::StatusOr<Application> SqliteApplicationStore::Update(const Application& app,
                                                           int64_t expected_generation) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(AppRow row, ReadAppLocked(app.name(), /*with_status=*/true));
  if (expected_generation != 0 && expected_generation != row.app.generation()) {
    return absl::AbortedError(absl::StrCat(
        "application \"", app.name(), "\" changed since it was read (generation ",
        expected_generation, ", now ", row.app.generation(), "): read it again and retry"));
  }
  Application stored = std::move(row.app);
  if (!MessageDifferencer::Equivalent(stored.spec(), app.spec()) ||
      !SameLabels(stored.labels(), app.labels())) {
    *stored.mutable_spec() = app.spec();
    *stored.mutable_labels() = app.labels();
    stored.set_generation(stored.generation() + 1);
    Transaction transaction(this);
    RETURN_IF_ERROR(transaction.Begin());
    {
      ASSIGN_OR_RETURN(Statement update,
                       Prepare("UPDATE applications SET generation = ?, app = ? WHERE id = ?"));
      RETURN_IF_ERROR(
          update.Bind(1, stored.generation()).BindBlob(2, Serialize(stored)).Bind(3, row.id).Run());
    }
    RETURN_IF_ERROR(WriteLabelsLocked(row.id, stored));
    RETURN_IF_ERROR(transaction.Commit());
  }
  if (!row.status_blob.empty() && !stored.mutable_status()->ParseFromString(row.status_blob)) {
    return absl::DataLossError(absl::StrCat(path_, ": the stored status of application \"",
                                            app.name(), "\" does not parse"));
  }
  return stored;
}

absl::StatusOr<bool> SqliteApplicationStore::WriteStatusLocked(
    int64_t app_id, const std::string& stored, const v1::ApplicationStatus& status) {
  const std::string blob = Serialize(status);
  if (blob == stored) return false;
  v1::ApplicationStatus previous;
  if (previous.ParseFromString(stored) && MessageDifferencer::Equivalent(previous, status)) {
    return false;
  }
  ASSIGN_OR_RETURN(Statement update, Prepare("UPDATE applications SET status = ? WHERE id = ?"));
  RETURN_IF_ERROR(update.BindBlob(1, blob).Bind(2, app_id).Run());
  return true;
}

absl::StatusOr<bool> SqliteApplicationStore::UpdateStatus(absl::string_view name,
                                                          const v1::ApplicationStatus& status) {
  absl::MutexLock lock(&mu_);
  absl::StatusOr<Statement> select = Prepare("SELECT id, status FROM applications WHERE name = ?");
  if (!select.ok()) return select.status();
  select->BindText(1, name);
  ASSIGN_OR_RETURN(const bool row, select->Step());
  if (!row) return NotFound(name);
  const int64_t id = select->Int(0);
  const std::string stored = select->Blob(1);
  // One statement: atomic and durable on its own (autocommit).
  return WriteStatusLocked(id, stored, status);
}

absl::Status SqliteApplicationStore::Delete(absl::string_view name) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(Statement remove, Prepare("DELETE FROM applications WHERE name = ?"));
  RETURN_IF_ERROR(remove.BindText(1, name).Run());
  if (sqlite3_changes64(db_) == 0) return NotFound(name);
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------------
// Operations.

absl::StatusOr<v1::Operation> SqliteApplicationStore::ReadOperationLocked(int64_t id,
                                                                          int64_t* app_id) {
  ASSIGN_OR_RETURN(Statement select,
                   Prepare("SELECT o.app_id, o.phase, o.operation, a.name FROM operations o "
                           "JOIN applications a ON a.id = o.app_id WHERE o.id = ?"));
  select.Bind(1, id);
  ASSIGN_OR_RETURN(const bool row, select.Step());
  if (!row) return absl::NotFoundError(absl::StrCat("operation ", id, " not found"));
  v1::Operation operation;
  if (!operation.ParseFromString(select.Blob(2))) {
    return absl::DataLossError(
        absl::StrCat(path_, ": the stored record of operation ", id, " does not parse"));
  }
  operation.set_id(id);
  operation.set_phase(static_cast<v1::OperationPhase>(select.Int(1)));
  operation.set_app_name(select.Text(3));
  if (app_id != nullptr) *app_id = select.Int(0);
  return operation;
}

absl::StatusOr<v1::Operation> SqliteApplicationStore::StartOperation(
    absl::string_view app_name, const v1::Operation& operation) {
  v1::Operation started = operation;
  started.set_app_name(std::string(app_name));
  started.set_phase(v1::OPERATION_PHASE_RUNNING);
  started.clear_id();
  started.clear_finished_at();
  if (!started.has_started_at()) *started.mutable_started_at() = ToTimestamp(Now());

  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const AppRow app, ReadAppLocked(app_name, /*with_status=*/false));
  {
    ASSIGN_OR_RETURN(Statement running,
                     Prepare("SELECT id FROM operations WHERE app_id = ? AND phase = 1"));
    running.Bind(1, app.id);
    ASSIGN_OR_RETURN(const bool row, running.Step());
    if (row) {
      return absl::FailedPreconditionError(
          absl::StrCat("application \"", app_name, "\" already runs operation ", running.Int(0)));
    }
  }
  ASSIGN_OR_RETURN(Statement insert,
                   Prepare("INSERT INTO operations (app_id, phase, operation) VALUES (?, ?, ?)"));
  RETURN_IF_ERROR(
      insert.Bind(1, app.id).Bind(2, started.phase()).BindBlob(3, Serialize(started)).Run());
  started.set_id(sqlite3_last_insert_rowid(db_));
  return started;
}

absl::StatusOr<v1::HistoryEntry> SqliteApplicationStore::AppendHistoryLocked(
    int64_t app_id, const v1::HistoryEntry& entry) {
  v1::HistoryEntry stored = entry;
  stored.clear_id();
  {
    ASSIGN_OR_RETURN(Statement insert,
                     Prepare("INSERT INTO history (app_id, entry) VALUES (?, ?)"));
    RETURN_IF_ERROR(insert.Bind(1, app_id).BindBlob(2, Serialize(stored)).Run());
  }
  stored.set_id(sqlite3_last_insert_rowid(db_));
  // Drop everything older than the newest history_limit entries.
  ASSIGN_OR_RETURN(Statement trim,
                   Prepare("DELETE FROM history WHERE app_id = ?1 AND id <= (SELECT id FROM "
                           "history WHERE app_id = ?1 ORDER BY id DESC LIMIT 1 OFFSET ?2)"));
  RETURN_IF_ERROR(trim.Bind(1, app_id).Bind(2, options_.history_limit).Run());
  return stored;
}

absl::StatusOr<FinishedOperation> SqliteApplicationStore::FinishOperation(
    int64_t id, const OperationResult& result) {
  if (!IsTerminal(result.phase)) {
    return absl::InvalidArgumentError(absl::StrCat("operation ", id, ": phase ",
                                                   v1::OperationPhase_Name(result.phase),
                                                   " does not end an operation"));
  }
  absl::MutexLock lock(&mu_);
  Transaction transaction(this);
  RETURN_IF_ERROR(transaction.Begin());
  int64_t app_id = 0;
  ASSIGN_OR_RETURN(v1::Operation operation, ReadOperationLocked(id, &app_id));
  if (operation.phase() != v1::OPERATION_PHASE_RUNNING) {
    return absl::FailedPreconditionError(absl::StrCat(
        "operation ", id, " is not running (", v1::OperationPhase_Name(operation.phase()), ")"));
  }
  operation.set_phase(result.phase);
  operation.set_message(result.message);
  if (!result.hydrated_commit.empty()) operation.set_hydrated_commit(result.hydrated_commit);
  *operation.mutable_finished_at() = ToTimestamp(Now());
  {
    ASSIGN_OR_RETURN(Statement update,
                     Prepare("UPDATE operations SET phase = ?, operation = ? WHERE id = ?"));
    v1::Operation blob = operation;
    blob.clear_id();
    RETURN_IF_ERROR(
        update.Bind(1, operation.phase()).BindBlob(2, Serialize(blob)).Bind(3, id).Run());
  }
  FinishedOperation finished;
  if (result.history.has_value()) {
    v1::HistoryEntry entry = *result.history;
    *entry.mutable_operation() = operation;
    ASSIGN_OR_RETURN(finished.history, AppendHistoryLocked(app_id, entry));
  }
  RETURN_IF_ERROR(transaction.Commit());
  finished.operation = std::move(operation);
  return finished;
}

absl::StatusOr<v1::Operation> SqliteApplicationStore::GetOperation(int64_t id) {
  absl::MutexLock lock(&mu_);
  return ReadOperationLocked(id, nullptr);
}

absl::StatusOr<std::vector<v1::Operation>> SqliteApplicationStore::RunningOperations() {
  absl::MutexLock lock(&mu_);
  std::vector<int64_t> ids;
  {
    ASSIGN_OR_RETURN(Statement select,
                     Prepare("SELECT id FROM operations WHERE phase = 1 ORDER BY id"));
    while (true) {
      ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) break;
      ids.push_back(select.Int(0));
    }
  }
  std::vector<v1::Operation> out;
  for (const int64_t id : ids) {
    ASSIGN_OR_RETURN(v1::Operation operation, ReadOperationLocked(id, nullptr));
    out.push_back(std::move(operation));
  }
  return out;
}

absl::StatusOr<std::vector<v1::Operation>> SqliteApplicationStore::MarkInterrupted() {
  absl::MutexLock lock(&mu_);
  Transaction transaction(this);
  RETURN_IF_ERROR(transaction.Begin());
  std::vector<int64_t> ids;
  {
    ASSIGN_OR_RETURN(Statement select,
                     Prepare("SELECT id FROM operations WHERE phase = 1 ORDER BY id"));
    while (true) {
      ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) break;
      ids.push_back(select.Int(0));
    }
  }
  const google::protobuf::Timestamp now = ToTimestamp(Now());
  std::vector<v1::Operation> interrupted;
  // The newest interrupted operation of each app (by app id).
  absl::flat_hash_map<int64_t, v1::Operation> newest_interrupted;
  for (const int64_t id : ids) {
    int64_t app_id = 0;
    ASSIGN_OR_RETURN(v1::Operation operation, ReadOperationLocked(id, &app_id));
    operation.set_phase(v1::OPERATION_PHASE_INTERRUPTED);
    operation.set_message(operation.message().empty()
                              ? "interrupted: the orchestrator stopped while it ran"
                              : absl::StrCat("interrupted: the orchestrator stopped while it ran (",
                                             operation.message(), ")"));
    *operation.mutable_finished_at() = now;
    v1::Operation blob = operation;
    blob.clear_id();
    ASSIGN_OR_RETURN(Statement update,
                     Prepare("UPDATE operations SET phase = ?, operation = ? WHERE id = ?"));
    RETURN_IF_ERROR(
        update.Bind(1, operation.phase()).BindBlob(2, Serialize(blob)).Bind(3, id).Run());
    newest_interrupted[app_id] = operation;
    interrupted.push_back(std::move(operation));
  }

  // Statuses that still show a running operation get the stored one; statuses that show an
  // operation older than an interrupted one (the process died between the intent row and the
  // status write) get the interrupted one.
  struct StatusRow {
    int64_t app_id;
    std::string blob;
    v1::ApplicationStatus status;
  };
  std::vector<StatusRow> stale;
  {
    ASSIGN_OR_RETURN(Statement select, Prepare("SELECT id, status FROM applications"));
    while (true) {
      ASSIGN_OR_RETURN(const bool row, select.Step());
      if (!row) break;
      StatusRow status_row{select.Int(0), select.Blob(1), {}};
      auto newest = newest_interrupted.find(status_row.app_id);
      if (status_row.status.ParseFromString(status_row.blob) &&
          (status_row.status.operation().phase() == v1::OPERATION_PHASE_RUNNING ||
           (newest != newest_interrupted.end() &&
            status_row.status.operation().id() < newest->second.id()))) {
        stale.push_back(std::move(status_row));
      }
    }
  }
  for (StatusRow& row : stale) {
    v1::ApplicationStatus status = row.status;
    absl::StatusOr<v1::Operation> stored = ReadOperationLocked(status.operation().id(), nullptr);
    if (stored.ok()) {
      *status.mutable_operation() = *std::move(stored);
    } else {
      status.mutable_operation()->set_phase(v1::OPERATION_PHASE_INTERRUPTED);
      *status.mutable_operation()->mutable_finished_at() = now;
    }
    auto newest = newest_interrupted.find(row.app_id);
    if (newest != newest_interrupted.end() && status.operation().id() < newest->second.id()) {
      *status.mutable_operation() = newest->second;
    }
    RETURN_IF_ERROR(WriteStatusLocked(row.app_id, row.blob, status).status());
  }
  RETURN_IF_ERROR(transaction.Commit());
  return interrupted;
}

// ---------------------------------------------------------------------------------------------
// History.

absl::StatusOr<v1::HistoryEntry> SqliteApplicationStore::AppendHistory(
    absl::string_view app_name, const v1::HistoryEntry& entry) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const AppRow app, ReadAppLocked(app_name, /*with_status=*/false));
  Transaction transaction(this);
  RETURN_IF_ERROR(transaction.Begin());
  ASSIGN_OR_RETURN(v1::HistoryEntry stored, AppendHistoryLocked(app.id, entry));
  RETURN_IF_ERROR(transaction.Commit());
  return stored;
}

absl::StatusOr<std::vector<v1::HistoryEntry>> SqliteApplicationStore::History(
    absl::string_view app_name, int limit) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const AppRow app, ReadAppLocked(app_name, /*with_status=*/false));
  ASSIGN_OR_RETURN(Statement select, Prepare("SELECT id, entry FROM history WHERE app_id = ? "
                                             "ORDER BY id DESC LIMIT ?"));
  select.Bind(1, app.id).Bind(2, limit > 0 ? limit : -1);
  std::vector<v1::HistoryEntry> out;
  while (true) {
    ASSIGN_OR_RETURN(const bool row, select.Step());
    if (!row) break;
    v1::HistoryEntry entry;
    if (!entry.ParseFromString(select.Blob(1))) {
      return absl::DataLossError(absl::StrCat(path_, ": the stored history entry ", select.Int(0),
                                              " of application \"", app_name, "\" does not parse"));
    }
    entry.set_id(select.Int(0));
    out.push_back(std::move(entry));
  }
  return out;
}

absl::StatusOr<v1::HistoryEntry> SqliteApplicationStore::GetHistoryEntry(absl::string_view app_name,
                                                                         int64_t id) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(const AppRow app, ReadAppLocked(app_name, /*with_status=*/false));
  ASSIGN_OR_RETURN(Statement select,
                   Prepare("SELECT entry FROM history WHERE app_id = ? AND id = ?"));
  select.Bind(1, app.id).Bind(2, id);
  ASSIGN_OR_RETURN(const bool row, select.Step());
  if (!row) {
    return absl::NotFoundError(absl::StrCat("application \"", app_name, "\" has no history entry ",
                                            id, " (history keeps the newest ",
                                            options_.history_limit, ")"));
  }
  v1::HistoryEntry entry;
  if (!entry.ParseFromString(select.Blob(0))) {
    return absl::DataLossError(absl::StrCat(path_, ": the stored history entry ", id,
                                            " of application \"", app_name, "\" does not parse"));
  }
  entry.set_id(id);
  return entry;
}

}  // namespace todoke::orchestrator

// SqliteApplicationStore on a real SQLite file: CRUD, optimistic concurrency, label selectors and
// paging, bounded history, operations across a restart, no write on an unchanged status, and the
// PRAGMAs that make it durable.
#include "services/orchestrator/core/store/sqlite_application_store.h"

#include <sqlite3.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

using ::google::protobuf::util::MessageDifferencer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// A fresh directory per test under the test's temporary directory.
std::string FreshDir(absl::string_view name) {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("todoke-store-", ::testing::UnitTest::GetInstance()->current_test_info()->name(),
                   "-", name, "-", getpid());
  std::filesystem::remove_all(dir);
  return dir.string();
}

Application App(absl::string_view name,
                std::vector<std::pair<std::string, std::string>> labels = {}) {
  Application app;
  app.set_name(std::string(name));
  app.mutable_spec()->mutable_source()->set_repo_url("https://git.example.com/apps.git");
  app.mutable_spec()->mutable_source()->set_path(std::string(name));
  app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_("prod");
  for (const auto& [key, value] : labels) (*app.mutable_labels())[key] = value;
  return app;
}

std::vector<std::string> Names(const ApplicationPage& page) {
  std::vector<std::string> names;
  for (const Application& app : page.applications) names.push_back(app.name());
  return names;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir("data");
    Reopen();
  }

  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void Reopen() {
    store_.reset();
    SqliteStoreOptions options;
    options.history_limit = history_limit_;
    options.clock = [this] { return now_; };
    absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store =
        SqliteApplicationStore::Open(dir_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }

  std::string dir_;
  int history_limit_ = 10;
  absl::Time now_ = absl::FromUnixSeconds(1714564800);
  std::unique_ptr<SqliteApplicationStore> store_;
};

TEST_F(StoreTest, CreateGetDelete) {
  Application app = App("web", {{"team", "a"}});
  app.set_generation(42);  // store-owned: ignored
  absl::StatusOr<Application> created = store_->Create(app);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->generation(), 1);
  EXPECT_EQ(created->created_at().seconds(), 1714564800);
  EXPECT_TRUE(MessageDifferencer::Equals(created->spec(), app.spec()));

  absl::StatusOr<Application> got = store_->Get("web");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(MessageDifferencer::Equivalent(*got, *created));
  EXPECT_EQ(got->labels().at("team"), "a");

  absl::StatusOr<Application> again = store_->Create(App("web"));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(again.status().message(), "application \"web\" already exists");
  EXPECT_EQ(store_->Create(App("")).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(store_->Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Get("nope").status().message(), "application \"nope\" not found");

  // Delete takes the operations and history along.
  ASSERT_TRUE(store_->AppendHistory("web", v1::HistoryEntry()).ok());
  absl::StatusOr<v1::Operation> operation = store_->StartOperation("web", v1::Operation());
  ASSERT_TRUE(operation.ok()) << operation.status();
  ASSERT_TRUE(store_->Delete("web").ok());
  EXPECT_EQ(store_->Get("web").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->Delete("web").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->GetOperation(operation->id()).status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(store_->RunningOperations()->empty());
  ASSERT_TRUE(store_->Create(App("web")).ok());
  EXPECT_TRUE(store_->History("web", 0)->empty());
  EXPECT_EQ(store_->Get("web")->generation(), 1);
}

TEST_F(StoreTest, GenerationCountsSpecAndLabelChangesOnly) {
  ASSERT_TRUE(store_->Create(App("web")).ok());
  Application app = App("web");

  // Unchanged: nothing written, generation stays.
  const int64_t before = store_->TotalChanges();
  absl::StatusOr<Application> same = store_->Update(app, 1);
  ASSERT_TRUE(same.ok()) << same.status();
  EXPECT_EQ(same->generation(), 1);
  EXPECT_EQ(store_->TotalChanges(), before);

  app.mutable_spec()->set_suspend(true);
  absl::StatusOr<Application> changed = store_->Update(app, 1);
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_EQ(changed->generation(), 2);
  EXPECT_TRUE(store_->Get("web")->spec().suspend());

  (*app.mutable_labels())["team"] = "b";
  EXPECT_EQ(store_->Update(app, 2)->generation(), 3);

  // A status write never bumps the generation.
  v1::ApplicationStatus status;
  status.set_revision("abc");
  ASSERT_TRUE(store_->UpdateStatus("web", status).ok());
  EXPECT_EQ(store_->Get("web")->generation(), 3);
  // ... and Update keeps the status.
  app.mutable_spec()->set_suspend(false);
  absl::StatusOr<Application> updated = store_->Update(app, 3);
  ASSERT_TRUE(updated.ok());
  EXPECT_EQ(updated->status().revision(), "abc");
  EXPECT_EQ(store_->Get("web")->status().revision(), "abc");

  // Stale generation: ABORTED, nothing changed.
  app.mutable_spec()->mutable_source()->set_path("elsewhere");
  absl::StatusOr<Application> stale = store_->Update(app, 3);
  EXPECT_EQ(stale.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(stale.status().message(),
            "application \"web\" changed since it was read (generation 3, now 4): read it again "
            "and retry");
  EXPECT_EQ(store_->Get("web")->spec().source().path(), "web");
  // 0 skips the check.
  EXPECT_EQ(store_->Update(app, 0)->generation(), 5);

  EXPECT_EQ(store_->Update(App("ghost"), 0).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, ConcurrentReadModifyWriteLosesNoUpdate) {
  ASSERT_TRUE(store_->Create(App("web")).ok());
  constexpr int kThreads = 4;
  constexpr int kIncrements = 25;
  std::atomic<int> aborted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIncrements;) {
        absl::StatusOr<Application> app = store_->Get("web");
        ASSERT_TRUE(app.ok());
        Application next = *app;
        (*next.mutable_labels())[absl::StrCat("t", t)] = absl::StrCat(i);
        absl::StatusOr<Application> updated = store_->Update(next, app->generation());
        if (updated.status().code() == absl::StatusCode::kAborted) {
          ++aborted;
          continue;
        }
        ASSERT_TRUE(updated.ok()) << updated.status();
        ++i;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  absl::StatusOr<Application> app = store_->Get("web");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->generation(), 1 + kThreads * kIncrements);
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(app->labels().at(absl::StrCat("t", t)), absl::StrCat(kIncrements - 1));
  }
}

// data_version of the file as another connection sees it: changes when anyone else commits.
int64_t DataVersion(sqlite3* other) {
  sqlite3_stmt* stmt = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(other, "PRAGMA data_version", -1, &stmt, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  const int64_t version = sqlite3_column_int64(stmt, 0);
  sqlite3_finalize(stmt);
  return version;
}

TEST_F(StoreTest, UnchangedStatusWritesNothing) {
  ASSERT_TRUE(store_->Create(App("web")).ok());
  v1::ApplicationStatus status;
  status.set_sync(types::v1::SYNC_STATUS_SYNCED);
  status.set_health(types::v1::HEALTH_STATUS_HEALTHY);
  status.set_revision("abc");
  status.mutable_reconciled_at()->set_seconds(1);
  status.add_conditions()->set_type("RenderFailed");
  status.mutable_operation()->set_id(3);

  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(store_->path().c_str(), &other, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  const std::string wal = store_->path() + "-wal";

  absl::StatusOr<bool> written = store_->UpdateStatus("web", status);
  ASSERT_TRUE(written.ok()) << written.status();
  EXPECT_TRUE(*written);
  const int64_t changes = store_->TotalChanges();
  const int64_t version = DataVersion(other);
  const auto wal_size = std::filesystem::file_size(wal);
  const auto wal_time = std::filesystem::last_write_time(wal);

  for (int i = 0; i < 100; ++i) {
    v1::ApplicationStatus same = status;  // equal, built anew each time
    absl::StatusOr<bool> again = store_->UpdateStatus("web", same);
    ASSERT_TRUE(again.ok());
    EXPECT_FALSE(*again);
  }
  EXPECT_EQ(store_->TotalChanges(), changes);
  EXPECT_EQ(DataVersion(other), version);
  EXPECT_EQ(std::filesystem::file_size(wal), wal_size);
  EXPECT_EQ(std::filesystem::last_write_time(wal), wal_time);

  // A real change is written, and another connection sees the new data version.
  status.set_revision("def");
  EXPECT_TRUE(*store_->UpdateStatus("web", status));
  EXPECT_EQ(store_->TotalChanges(), changes + 1);
  EXPECT_NE(DataVersion(other), version);
  EXPECT_EQ(store_->Get("web")->status().revision(), "def");
  sqlite3_close(other);

  EXPECT_EQ(store_->UpdateStatus("ghost", status).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, LabelSelectorsAndPaging) {
  for (int i = 0; i < 25; ++i) {
    std::vector<std::pair<std::string, std::string>> labels = {
        {"team", i % 2 == 0 ? "web" : "data"}, {"tier", i % 3 == 0 ? "db" : "frontend"}};
    if (i % 5 == 0) labels.emplace_back("legacy", "");
    ASSERT_TRUE(store_->Create(App(absl::StrCat("app-", i < 10 ? "0" : "", i), labels)).ok());
  }
  auto list = [&](absl::string_view selector, int page_size = 0,
                  std::string token = "") -> ApplicationPage {
    absl::StatusOr<ApplicationPage> page =
        store_->List({std::string(selector), page_size, std::move(token)});
    EXPECT_TRUE(page.ok()) << selector << ": " << page.status();
    return page.ok() ? *page : ApplicationPage();
  };

  EXPECT_EQ(list("").applications.size(), 25u);
  EXPECT_EQ(list("").next_page_token, "");
  EXPECT_THAT(Names(list("legacy")), ElementsAre("app-00", "app-05", "app-10", "app-15", "app-20"));
  EXPECT_EQ(list("!legacy").applications.size(), 20u);
  EXPECT_THAT(Names(list("team=web,tier=db")),
              ElementsAre("app-00", "app-06", "app-12", "app-18", "app-24"));
  EXPECT_THAT(Names(list("team==data, tier!=frontend")),
              ElementsAre("app-03", "app-09", "app-15", "app-21"));
  EXPECT_EQ(list("tier in (db,frontend)").applications.size(), 25u);
  EXPECT_EQ(list("tier notin (frontend),team=data").applications.size(), 4u);
  EXPECT_EQ(list("team=ops").applications.size(), 0u);
  EXPECT_EQ(list("owner!=x").applications.size(), 25u);  // absent label: != holds
  EXPECT_EQ(list("legacy=").applications.size(), 5u);

  // Pages of 10, ordered by name, each token continuing where the last stopped.
  ApplicationPage first = list("", 10);
  EXPECT_EQ(first.applications.size(), 10u);
  EXPECT_EQ(first.applications.front().name(), "app-00");
  ASSERT_NE(first.next_page_token, "");
  ApplicationPage second = list("", 10, first.next_page_token);
  EXPECT_EQ(second.applications.front().name(), "app-10");
  // An app created between pages, before the token, does not shift the next page.
  ASSERT_TRUE(store_->Create(App("app-000")).ok());
  ApplicationPage third = list("", 10, second.next_page_token);
  EXPECT_EQ(Names(third).size(), 5u);
  EXPECT_EQ(third.applications.front().name(), "app-20");
  EXPECT_EQ(third.next_page_token, "");
  // Exactly one full page left: no token afterwards.
  ApplicationPage exact = list("team=web", 13);
  EXPECT_EQ(exact.applications.size(), 13u);
  EXPECT_EQ(exact.next_page_token, "");
  // Selector and paging together.
  ApplicationPage web1 = list("team=web", 5);
  ApplicationPage web2 = list("team=web", 5, web1.next_page_token);
  ApplicationPage web3 = list("team=web", 5, web2.next_page_token);
  EXPECT_THAT(Names(web2), ElementsAre("app-10", "app-12", "app-14", "app-16", "app-18"));
  EXPECT_THAT(Names(web3), ElementsAre("app-20", "app-22", "app-24"));
  EXPECT_EQ(web3.next_page_token, "");
  EXPECT_EQ(web1.applications[0].labels().at("team"), "web");

  EXPECT_EQ(store_->List({"team in web", 0, ""}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store_->List({"", -1, ""}).status().code(), absl::StatusCode::kInvalidArgument);
  absl::StatusOr<ApplicationPage> bad_token = store_->List({"", 10, "not a token"});
  EXPECT_EQ(bad_token.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(bad_token.status().message(), HasSubstr("invalid page token"));
}

TEST_F(StoreTest, HistoryIsBoundedNewestFirst) {
  history_limit_ = 3;
  Reopen();
  ASSERT_TRUE(store_->Create(App("web")).ok());
  ASSERT_TRUE(store_->Create(App("db")).ok());
  std::vector<int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    v1::HistoryEntry entry;
    entry.set_revision(absl::StrCat("rev", i));
    absl::StatusOr<v1::HistoryEntry> appended = store_->AppendHistory("web", entry);
    ASSERT_TRUE(appended.ok()) << appended.status();
    EXPECT_EQ(appended->revision(), absl::StrCat("rev", i));
    ids.push_back(appended->id());
    ASSERT_TRUE(store_->AppendHistory("db", entry).ok());
  }
  absl::StatusOr<std::vector<v1::HistoryEntry>> history = store_->History("web", 0);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].revision(), "rev4");
  EXPECT_EQ((*history)[1].revision(), "rev3");
  EXPECT_EQ((*history)[2].revision(), "rev2");
  EXPECT_EQ((*history)[0].id(), ids[4]);
  EXPECT_EQ(store_->History("web", 2)->size(), 2u);
  EXPECT_EQ(store_->History("db", 0)->size(), 3u);  // bounded per app

  EXPECT_EQ(store_->GetHistoryEntry("web", ids[3])->revision(), "rev3");
  absl::StatusOr<v1::HistoryEntry> dropped = store_->GetHistoryEntry("web", ids[1]);
  EXPECT_EQ(dropped.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(dropped.status().message(), HasSubstr("history keeps the newest 3"));
  // Another app's entry is not this app's.
  const int64_t db_id = (*store_->History("db", 1))[0].id();
  EXPECT_EQ(store_->GetHistoryEntry("web", db_id).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->History("ghost", 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->AppendHistory("ghost", {}).status().code(), absl::StatusCode::kNotFound);

  // Ids are never reused, even for an app deleted and created again.
  ASSERT_TRUE(store_->Delete("web").ok());
  ASSERT_TRUE(store_->Create(App("web")).ok());
  EXPECT_GT(store_->AppendHistory("web", {})->id(), ids[4]);
}

TEST_F(StoreTest, OperationLifecycle) {
  ASSERT_TRUE(store_->Create(App("web")).ok());
  v1::Operation request;
  request.set_revision("abc");
  request.set_initiated_by("user");
  request.set_prune(true);
  request.set_id(99);  // store-owned: ignored
  absl::StatusOr<v1::Operation> started = store_->StartOperation("web", request);
  ASSERT_TRUE(started.ok()) << started.status();
  EXPECT_NE(started->id(), 99);
  EXPECT_EQ(started->phase(), v1::OPERATION_PHASE_RUNNING);
  EXPECT_EQ(started->app_name(), "web");
  EXPECT_EQ(started->started_at().seconds(), 1714564800);
  EXPECT_TRUE(started->prune());

  // The intent row is there before anything is applied.
  absl::StatusOr<std::vector<v1::Operation>> running = store_->RunningOperations();
  ASSERT_TRUE(running.ok());
  ASSERT_EQ(running->size(), 1u);
  EXPECT_TRUE(MessageDifferencer::Equals((*running)[0], *started));

  absl::StatusOr<v1::Operation> second = store_->StartOperation("web", request);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(second.status().message(),
            absl::StrCat("application \"web\" already runs operation ", started->id()));
  EXPECT_EQ(store_->StartOperation("ghost", request).status().code(), absl::StatusCode::kNotFound);

  now_ += absl::Seconds(30);
  OperationResult result;
  result.phase = v1::OPERATION_PHASE_SUCCEEDED;
  result.message = "3 objects applied";
  result.hydrated_commit = "fedcba";
  v1::HistoryEntry entry;
  entry.set_revision("abc");
  entry.set_render_digest("sha256:1");
  entry.add_resources()->set_action("configured");
  result.history = entry;
  absl::StatusOr<FinishedOperation> finished = store_->FinishOperation(started->id(), result);
  ASSERT_TRUE(finished.ok()) << finished.status();
  EXPECT_EQ(finished->operation.phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(finished->operation.message(), "3 objects applied");
  EXPECT_EQ(finished->operation.hydrated_commit(), "fedcba");
  EXPECT_EQ(finished->operation.finished_at().seconds(), 1714564830);
  ASSERT_TRUE(finished->history.has_value());
  absl::StatusOr<v1::HistoryEntry> stored_entry =
      store_->GetHistoryEntry("web", finished->history->id());
  ASSERT_TRUE(stored_entry.ok()) << stored_entry.status();
  EXPECT_EQ(stored_entry->render_digest(), "sha256:1");
  EXPECT_TRUE(MessageDifferencer::Equals(stored_entry->operation(), finished->operation));
  EXPECT_TRUE(
      MessageDifferencer::Equals(*store_->GetOperation(started->id()), finished->operation));
  EXPECT_TRUE(store_->RunningOperations()->empty());

  absl::StatusOr<FinishedOperation> twice = store_->FinishOperation(started->id(), result);
  EXPECT_EQ(twice.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->History("web", 0)->size(), 1u);  // the refused finish appended nothing
  EXPECT_EQ(store_->FinishOperation(12345, result).status().code(), absl::StatusCode::kNotFound);
  result.phase = v1::OPERATION_PHASE_RUNNING;
  EXPECT_EQ(store_->FinishOperation(started->id(), result).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The next operation may start once the first has ended.
  EXPECT_TRUE(store_->StartOperation("web", request).ok());
}

TEST_F(StoreTest, ReopenKeepsEverything) {
  ASSERT_TRUE(store_->Create(App("web", {{"team", "a"}})).ok());
  Application db = App("db");
  db.mutable_spec()->mutable_sync_policy()->set_automated(true);
  ASSERT_TRUE(store_->Create(db).ok());
  ASSERT_TRUE(store_->Update(db, 1).ok());
  v1::ApplicationStatus status;
  status.set_revision("abc");
  ASSERT_TRUE(store_->UpdateStatus("web", status).ok());
  ASSERT_TRUE(store_->AppendHistory("web", v1::HistoryEntry()).ok());
  absl::StatusOr<v1::Operation> operation = store_->StartOperation("db", {});
  ASSERT_TRUE(operation.ok());
  ASSERT_TRUE(store_->FinishOperation(operation->id(), {}).ok());

  const std::vector<Application> before = store_->List({})->applications;
  Reopen();
  const std::vector<Application> after = store_->List({})->applications;
  ASSERT_EQ(before.size(), after.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_TRUE(MessageDifferencer::Equals(before[i], after[i])) << before[i].name();
  }
  EXPECT_EQ(store_->History("web", 0)->size(), 1u);
  EXPECT_EQ(store_->GetOperation(operation->id())->phase(), v1::OPERATION_PHASE_SUCCEEDED);
  // Label rows came back too: selectors still work.
  EXPECT_THAT(Names(*store_->List({"team=a"})), ElementsAre("web"));
}

TEST_F(StoreTest, RunningOperationsBecomeInterruptedAfterRestart) {
  ASSERT_TRUE(store_->Create(App("web")).ok());
  ASSERT_TRUE(store_->Create(App("db")).ok());
  ASSERT_TRUE(store_->Create(App("idle")).ok());
  v1::Operation request;
  request.set_message("applying wave 2");
  absl::StatusOr<v1::Operation> web_op = store_->StartOperation("web", request);
  absl::StatusOr<v1::Operation> db_op = store_->StartOperation("db", {});
  ASSERT_TRUE(web_op.ok() && db_op.ok());
  // The loop mirrors the running operation into the status.
  v1::ApplicationStatus status;
  *status.mutable_operation() = *web_op;
  ASSERT_TRUE(store_->UpdateStatus("web", status).ok());
  // db: the process died after FinishOperation, before its status write.
  *status.mutable_operation() = *db_op;
  ASSERT_TRUE(store_->UpdateStatus("db", status).ok());
  ASSERT_TRUE(store_->FinishOperation(db_op->id(), {}).ok());
  absl::StatusOr<v1::Operation> idle_op = store_->StartOperation("idle", {});
  ASSERT_TRUE(idle_op.ok());

  now_ += absl::Minutes(1);
  Reopen();
  // Still RUNNING on disk until the loop asks.
  EXPECT_EQ(store_->RunningOperations()->size(), 2u);
  absl::StatusOr<std::vector<v1::Operation>> interrupted = store_->MarkInterrupted();
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  ASSERT_EQ(interrupted->size(), 2u);
  EXPECT_EQ((*interrupted)[0].id(), web_op->id());
  EXPECT_EQ((*interrupted)[0].app_name(), "web");
  EXPECT_EQ((*interrupted)[0].phase(), v1::OPERATION_PHASE_INTERRUPTED);
  EXPECT_EQ((*interrupted)[0].message(),
            "interrupted: the orchestrator stopped while it ran (applying wave 2)");
  EXPECT_EQ((*interrupted)[0].finished_at().seconds(), 1714564860);
  EXPECT_EQ((*interrupted)[1].id(), idle_op->id());

  EXPECT_TRUE(store_->RunningOperations()->empty());
  EXPECT_EQ(store_->GetOperation(web_op->id())->phase(), v1::OPERATION_PHASE_INTERRUPTED);
  EXPECT_EQ(store_->Get("web")->status().operation().phase(), v1::OPERATION_PHASE_INTERRUPTED);
  EXPECT_EQ(store_->Get("db")->status().operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  // An interrupted operation cannot be finished any more; a new one can start.
  EXPECT_EQ(store_->FinishOperation(web_op->id(), {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(store_->StartOperation("web", {}).ok());

  // Once marked, a restart finds nothing new.
  Reopen();
  EXPECT_EQ(store_->MarkInterrupted()->size(), 1u);  // the one just started
  EXPECT_TRUE(store_->MarkInterrupted()->empty());
}

TEST_F(StoreTest, DurabilityPragmas) {
  EXPECT_EQ(*store_->ReadPragma("journal_mode"), "wal");
  EXPECT_EQ(*store_->ReadPragma("synchronous"), "2");  // FULL
  EXPECT_EQ(*store_->ReadPragma("foreign_keys"), "1");
  EXPECT_EQ(*store_->ReadPragma("busy_timeout"), "5000");
  EXPECT_EQ(*store_->ReadPragma("user_version"),
            absl::StrCat(SqliteApplicationStore::kSchemaVersion));
  EXPECT_EQ(store_->ReadPragma("synchronous=OFF").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(store_->CheckIntegrity().ok());
  // WAL is a property of the file: another connection sees it too.
  sqlite3* other = nullptr;
  ASSERT_EQ(sqlite3_open_v2(store_->path().c_str(), &other, SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(other, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(other);
}

TEST_F(StoreTest, OneStorePerDirectory) {
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> second =
      SqliteApplicationStore::Open(dir_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(second.status().message(), HasSubstr("in use by another process"));
  store_.reset();
  EXPECT_TRUE(SqliteApplicationStore::Open(dir_).ok());
}

TEST(SqliteStoreOpenTest, RefusesNewerSchemaForeignFilesAndBadOptions) {
  const std::string dir = FreshDir("newer");
  {
    absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store =
        SqliteApplicationStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Create(App("web")).ok());
  }
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open((std::filesystem::path(dir) / "todoke.db").c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "PRAGMA user_version = 99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> newer = SqliteApplicationStore::Open(dir);
  EXPECT_EQ(newer.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(newer.status().message(), HasSubstr("schema version 99 is newer"));

  const std::string garbage_dir = FreshDir("garbage");
  std::filesystem::create_directories(garbage_dir);
  std::ofstream(std::filesystem::path(garbage_dir) / "todoke.db") << std::string(8192, 'x');
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> garbage =
      SqliteApplicationStore::Open(garbage_dir);
  EXPECT_EQ(garbage.status().code(), absl::StatusCode::kDataLoss) << garbage.status();

  SqliteStoreOptions options;
  options.history_limit = 0;
  EXPECT_EQ(SqliteApplicationStore::Open(FreshDir("bad"), options).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(dir);
  std::filesystem::remove_all(garbage_dir);
}

TEST(SqliteStoreOpenTest, MigratesAnEmptyFileAndCreatesTheDirectory) {
  // A file at version 0 (what an older binary never wrote, or an empty file) gets every step.
  const std::string dir = FreshDir("nested") + "/a/b";
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store = SqliteApplicationStore::Open(dir);
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ(*(*store)->ReadPragma("user_version"),
            absl::StrCat(SqliteApplicationStore::kSchemaVersion));
  EXPECT_TRUE((*store)->Create(App("web")).ok());
  store->reset();
  std::filesystem::remove_all(FreshDir("nested"));
}

}  // namespace
}  // namespace todoke::orchestrator

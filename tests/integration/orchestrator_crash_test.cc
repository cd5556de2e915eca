// kill -9 of the orchestrator at random moments while syncs run, end to end: the five services as
// real processes (tests/integration/todoke_suite.h), ten automated Applications hydrating into
// one Git branch, new commits pushed to the source repository between kills so that syncs keep
// running. What a user relies on after the last restart:
//   - every Application is still there, its spec intact;
//   - every history entry seen finished before a kill is still there;
//   - an operation a kill cut short shows as interrupted (status.operation INTERRUPTED) unless a
//     retry has already replaced it, and is INTERRUPTED in the store;
//   - every app converges (Synced at the last commit) and the hydrated branch holds every app's
//     files: nothing pruned by mistake.
// Between a kill and the restart the test opens the orchestrator's store itself (the process is
// dead, so its lock is free) to learn which operations were running.
//
// TODOKE_CRASH_SEED=<n> replays a run; TODOKE_CRASH_KILLS=<n> changes the number of kills (>= 50
// counts for the issue).
#include <signal.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "services/orchestrator/core/store/sqlite_application_store.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using google::protobuf::util::MessageDifferencer;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;

constexpr int kApps = 10;

int EnvInt(const char* name, int fallback) {
  const char* value = std::getenv(name);
  int parsed = 0;
  return value != nullptr && absl::SimpleAtoi(value, &parsed) ? parsed : fallback;
}

using ::todoke::test_files::WriteFile;

std::string AppName(int i) { return absl::StrCat("app", i); }

class OrchestratorCrashTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = temp_.path() + "/src";
    hydrated_ = temp_.path() + "/hydrated.git";
    // Where todoke_suite.cc puts the orchestrator's --data-dir.
    data_dir_ = temp_.path() + "/orchestrator-data";
    ASSERT_TRUE(
        Sh("git init -q -b main src && git init -q --bare -b main hydrated.git", temp_.path())
            .ok());
    ASSERT_TRUE(Sh("git config user.email t@t && git config user.name t", src_).ok());
    // The build directory is shared and its binaries may be relinked while this test restarts
    // the orchestrator dozens of times (an exec of a half-written file fails): run a snapshot.
    const std::string bin = temp_.path() + "/bin";
    std::filesystem::create_directories(bin);
    for (const char* name : {"todoke-source-fetcher", "todoke-renderer", "todoke-differ",
                             "todoke-applier", "todoke-orchestrator"}) {
      std::error_code error;
      std::filesystem::copy_file(BinaryPath(name), bin + "/" + name, error);
      ASSERT_FALSE(error) << BinaryPath(name) << ": " << error.message();
    }
    setenv("TODOKE_BIN_DIR", bin.c_str(), 1);
    WriteSources(/*round=*/0, /*with_temp=*/false);
    commit_ = Commit("round 0");
    auto suite = TodokeSuite::Start(
        temp_.path(), {{"--default-interval=1h", "--history-limit=1000", "--workers=4"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  // Each app folder: two ConfigMaps whose data carries the round, and sometimes a third one
  // (pruned again when a later round drops it).
  void WriteSources(int round, bool with_temp) {
    for (int i = 0; i < kApps; ++i) {
      std::string dir = src_ + "/" + AppName(i);
      ASSERT_TRUE(Sh("mkdir -p " + dir).ok());
      WriteFile(dir + "/config.yaml",
                absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", AppName(i),
                             "-config, namespace: demo}\ndata: {round: \"", round, "\"}\n"));
      WriteFile(dir + "/extra.yaml",
                absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", AppName(i),
                             "-extra, namespace: demo}\ndata: {fixed: \"yes\"}\n"));
      if (with_temp) {
        WriteFile(dir + "/temp.yaml",
                  absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", AppName(i),
                               "-temp, namespace: demo}\ndata: {round: \"", round, "\"}\n"));
      } else {
        std::remove((dir + "/temp.yaml").c_str());
      }
    }
  }

  std::string Commit(const std::string& message) {
    auto head = Sh(
        absl::StrCat("git add -A && git commit -q -m '", message, "' && git rev-parse HEAD"), src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  v1::Application MakeApp(int i) {
    v1::Application app;
    app.set_name(AppName(i));
    auto* source = app.mutable_spec()->mutable_source();
    source->set_repo_url(src_);
    source->set_target_revision("main");
    source->set_path(AppName(i));
    auto* git = app.mutable_spec()->mutable_destination()->mutable_git();
    git->set_repo_url(hydrated_);
    git->set_branch("rendered");
    git->set_path(AppName(i));
    auto* policy = app.mutable_spec()->mutable_sync_policy();
    policy->set_automated(true);
    policy->set_prune(true);
    policy->mutable_interval()->set_seconds(3600);  // only webhooks and retries trigger
    return app;
  }

  absl::StatusOr<v1::HistoryResponse> History(const std::string& name) {
    v1::HistoryRequest request;
    request.set_name(name);
    v1::HistoryResponse response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    context->set_wait_for_ready(true);  // the channel may still be backing off after a restart
    grpc::Status status = suite_->api().History(context.get(), request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return response;
  }

  absl::StatusOr<v1::Application> Get(const std::string& name) {
    v1::GetApplicationRequest request;
    request.set_name(name);
    v1::Application app;
    auto context = ContextWithTimeout(absl::Seconds(10));
    context->set_wait_for_ready(true);  // the channel may still be backing off after a restart
    grpc::Status status = suite_->api().GetApplication(context.get(), request, &app);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return app;
  }

  // True when some app's status shows a RUNNING operation (a sync under way).
  bool AnySyncRunning() {
    v1::ListApplicationsRequest request;
    v1::ListApplicationsResponse listed;
    auto context = ContextWithTimeout(absl::Seconds(5));
    if (!suite_->api().ListApplications(context.get(), request, &listed).ok()) return false;
    for (const v1::Application& app : listed.applications()) {
      if (app.status().operation().phase() == v1::OPERATION_PHASE_RUNNING) return true;
    }
    return false;
  }

  std::string HydratedFiles() {
    auto files = Sh("git ls-tree -r --name-only rendered 2>/dev/null || true", hydrated_);
    return files.ok() ? *files : "";
  }

  TempDir temp_;
  std::string src_;
  std::string hydrated_;
  std::string data_dir_;
  std::string commit_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(OrchestratorCrashTest, KilledAtRandomMomentsDuringSyncsLosesNothing) {
  const int kills = EnvInt("TODOKE_CRASH_KILLS", 55);
  const unsigned seed = static_cast<unsigned>(EnvInt("TODOKE_CRASH_SEED", std::random_device{}()));
  std::mt19937 random(seed);
  std::cout << "seed " << seed << " (TODOKE_CRASH_SEED replays it), " << kills << " kills\n";
  const absl::Time started = absl::Now();

  std::map<std::string, v1::ApplicationSpec> specs;  // as the API stored them
  for (int i = 0; i < kApps; ++i) {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = MakeApp(i);
    v1::Application created;
    auto context = ContextWithTimeout(absl::Seconds(10));
    context->set_wait_for_ready(true);  // the channel may still be backing off after a restart
    grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
    specs[created.name()] = created.spec();
  }

  std::map<std::string, std::set<int64_t>> seen_history;  // finished entries seen before kills
  std::map<int64_t, std::string> interrupted;             // operation id -> app
  int visible_interrupted = 0;  // status.operation showed it INTERRUPTED after the restart
  int retried_before_seen = 0;  // a newer operation had replaced it already
  int round = 0;
  std::uniform_int_distribution<int> pause_ms(0, 1500);
  std::uniform_int_distribution<int> percent(0, 99);

  // Syncs into a Git branch take milliseconds, so a kill at a random moment lands in one only by
  // chance (none of 55 did, in CI on 2026-11-30): hence the aimed kills below, and until one has
  // landed the kills go on, up to three times as many; the guard at the end still fails if none
  // ever did.
  int kill = 0;
  for (; kill < kills || (interrupted.empty() && kill < 3 * kills); ++kill) {
    // New commits between some kills, announced by the webhook, so syncs keep running. The third
    // object comes and goes (pruned) with the rounds.
    if (kill % 2 == 0) {
      ++round;
      WriteSources(round, /*with_temp=*/round % 3 == 1);
      commit_ = Commit(absl::StrCat("round ", round));
    }
    auto posted = suite_->PostWebhook(src_, "refs/heads/main");
    ASSERT_TRUE(posted.ok()) << posted.status();
    ASSERT_EQ(*posted, 202);
    // Half the kills of a round with a new commit are aimed: the kill follows as soon as an app
    // shows a RUNNING operation (within 3 s). The others fall at a random moment.
    const bool aimed = kill % 2 == 0 && percent(random) < 50;
    if (aimed) {
      const absl::Time until = absl::Now() + absl::Seconds(3);
      while (absl::Now() < until && !AnySyncRunning()) absl::SleepFor(absl::Milliseconds(2));
    } else {
      absl::SleepFor(absl::Milliseconds(pause_ms(random)));
    }

    // Finished history entries seen now must survive the kill.
    if (!aimed && percent(random) < 50) {
      for (int i = 0; i < kApps; ++i) {
        auto history = History(AppName(i));
        ASSERT_TRUE(history.ok()) << history.status();
        for (const v1::HistoryEntry& entry : history->entries()) {
          ASSERT_TRUE(entry.operation().has_finished_at()) << entry.DebugString();
          seen_history[AppName(i)].insert(entry.id());
        }
      }
      absl::SleepFor(absl::Milliseconds(pause_ms(random) / 4));
    }

    ASSERT_TRUE(suite_->StopStage("orchestrator", SIGKILL).ok());

    // The process is dead: look at what it left behind.
    std::map<std::string, int64_t> running_now;
    {
      auto store = orchestrator::SqliteApplicationStore::Open(data_dir_);
      ASSERT_TRUE(store.ok()) << store.status();
      ASSERT_TRUE((*store)->CheckIntegrity().ok());
      auto running = (*store)->RunningOperations();
      ASSERT_TRUE(running.ok()) << running.status();
      for (const v1::Operation& operation : *running) {
        interrupted[operation.id()] = operation.app_name();
        running_now[operation.app_name()] = operation.id();
      }
    }

    absl::Status restarted = suite_->StartStage("orchestrator");
    ASSERT_TRUE(restarted.ok()) << "restart " << kill << ": " << restarted;

    // An operation the kill cut short shows as interrupted, unless a retry replaced it already.
    for (const auto& [app, id] : running_now) {
      auto got = Get(app);
      ASSERT_TRUE(got.ok()) << got.status();
      const v1::Operation& shown = got->status().operation();
      if (shown.id() == id) {
        EXPECT_EQ(shown.phase(), v1::OPERATION_PHASE_INTERRUPTED)
            << "kill " << kill << ": " << shown.DebugString();
        ++visible_interrupted;
      } else {
        EXPECT_GT(shown.id(), id) << "kill " << kill << ": operation " << id << " of " << app
                                  << " interrupted, but the status shows an older one: "
                                  << shown.DebugString();
        ++retried_before_seen;
      }
    }
    // Every Application is there with its spec.
    v1::ListApplicationsRequest list;
    v1::ListApplicationsResponse listed;
    auto context = ContextWithTimeout(absl::Seconds(10));
    context->set_wait_for_ready(true);  // the channel may still be backing off after a restart
    grpc::Status status = suite_->api().ListApplications(context.get(), list, &listed);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(listed.applications_size(), kApps) << "kill " << kill;
    for (const v1::Application& app : listed.applications()) {
      EXPECT_TRUE(MessageDifferencer::Equals(app.spec(), specs[app.name()]))
          << "kill " << kill << ": spec of " << app.name() << " changed:\n"
          << app.spec().DebugString();
    }
    if (::testing::Test::HasFailure()) break;
  }

  // Every history entry seen before a kill is still there.
  int checked_entries = 0;
  for (const auto& [app, ids] : seen_history) {
    auto history = History(app);
    ASSERT_TRUE(history.ok()) << history.status();
    std::set<int64_t> now;
    for (const v1::HistoryEntry& entry : history->entries()) now.insert(entry.id());
    for (int64_t id : ids) {
      EXPECT_TRUE(now.count(id) > 0) << app << ": history entry " << id << " lost";
      ++checked_entries;
    }
  }

  // Every app converges: a last round of commits syncs every app, without kills this time.
  ++round;
  WriteSources(round, /*with_temp=*/round % 3 == 1);
  commit_ = Commit(absl::StrCat("round ", round));
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  for (int i = 0; i < kApps; ++i) {
    auto app = suite_->WaitFor(
        AppName(i),
        [&](const v1::Application& a) {
          return a.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
                 a.status().revision() == commit_ && a.status().synced_revision() == commit_;
        },
        absl::Seconds(60));
    EXPECT_TRUE(app.ok()) << app.status();
  }
  // The branch holds every app's objects, as of the last round.
  std::string files = HydratedFiles();
  for (int i = 0; i < kApps; ++i) {
    bool config = false, extra = false, temp = false;
    for (absl::string_view line : absl::StrSplit(files, '\n')) {
      if (!absl::StartsWith(line, AppName(i) + "/")) continue;
      config |= absl::StrContains(line, AppName(i) + "-config");
      extra |= absl::StrContains(line, AppName(i) + "-extra");
      temp |= absl::StrContains(line, AppName(i) + "-temp");
    }
    EXPECT_TRUE(config && extra) << AppName(i) << " lost files; the branch holds:\n" << files;
    EXPECT_EQ(temp, round % 3 == 1) << AppName(i) << ": " << files;
  }

  // In the store, every operation a kill cut short is INTERRUPTED.
  ASSERT_TRUE(suite_->StopStage("orchestrator", SIGKILL).ok());
  {
    auto store = orchestrator::SqliteApplicationStore::Open(data_dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    for (const auto& [id, app] : interrupted) {
      auto operation = (*store)->GetOperation(id);
      ASSERT_TRUE(operation.ok()) << operation.status();
      EXPECT_EQ(operation->phase(), v1::OPERATION_PHASE_INTERRUPTED) << operation->DebugString();
    }
  }
  std::cout << kill << " kills in " << absl::FormatDuration(absl::Now() - started) << ": "
            << interrupted.size() << " operations interrupted (" << visible_interrupted
            << " seen INTERRUPTED in the status, " << retried_before_seen
            << " already replaced by a retry), " << checked_entries << " history entries checked, "
            << round << " rounds of commits\n";
  EXPECT_GT(interrupted.size(), 0u) << "no kill landed during a sync: the test proved nothing";
  EXPECT_GT(checked_entries, 0) << "no history entry was seen before a kill";
}

}  // namespace
}  // namespace todoke::testing

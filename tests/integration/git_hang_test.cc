// A Git server that hangs, end to end: the five services as processes over real gRPC, two real
// Git servers (git http-backend behind lighttpd, tests/services/source_fetcher/test_servers.h),
// ten apps on each, hydrated into one branch of a local repository (the embedded default). Then
// one server is frozen with SIGSTOP: it still accepts connections (the kernel's backlog) and never
// answers. What a user relies on:
//   - only the apps on that repository report it, with a condition that names the source stage
//     and the server;
//   - the other apps keep converging: a commit pushed to the healthy repository reaches the
//     branch while the hung one is still frozen;
//   - nothing of the hung apps is pruned from the branch meanwhile;
//   - once the server answers again (SIGCONT) the hung apps converge to what was pushed there.
// Every wait is bounded; on failure the apps are printed with their status and conditions.
#include <signal.h>
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/grpc_client.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::HttpGitServer;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;

constexpr int kAppsPerRepo = 10;

using ::todoke::test_files::WriteFile;

void PrintFigure(const std::string& what, absl::Duration took) {
  std::printf("[figure] %s: %.1f s\n", what.c_str(), absl::ToDoubleSeconds(took));
  std::fflush(stdout);
}

std::string Describe(const v1::Application& app) {
  std::string line =
      absl::StrCat(app.name(), ": sync=", types::v1::SyncStatus_Name(app.status().sync()),
                   " revision=", app.status().revision().substr(0, 10),
                   " synced=", app.status().synced_revision().substr(0, 10));
  for (const v1::Condition& condition : app.status().conditions()) {
    absl::StrAppend(&line, " [", condition.type(), ": ", condition.message(), "]");
  }
  return line;
}

// One source repository: a work tree whose commits are pushed to a bare repository that an
// HTTP Git server of its own serves.
struct Repo {
  std::string name;  // "healthy" or "hung"
  std::string work, bare;
  HttpGitServer server;
  std::string url;
  std::string commit;
};

class GitHangTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hydrated_ = temp_.path() + "/hydrated.git";
    ASSERT_TRUE(Sh("git init -q --bare -b main hydrated.git", temp_.path()).ok());
    for (Repo* repo : {&healthy_, &hung_}) {
      repo->work = absl::StrCat(temp_.path(), "/", repo->name, "-work");
      std::string root = absl::StrCat(temp_.path(), "/", repo->name, "-served");
      repo->bare = root + "/repo.git";
      ASSERT_TRUE(
          Sh(absl::StrCat("mkdir -p '", root, "' && git init -q --bare -b main '", repo->bare,
                          "' && git init -q -b main '", repo->work, "' && cd '", repo->work,
                          "' && git config user.email t@t && git config user.name t && "
                          "git remote add origin '",
                          repo->bare, "'"))
              .ok());
      WriteRound(*repo, 0);
      repo->commit = Push(*repo, "round 0");
      std::string server_dir = absl::StrCat(temp_.path(), "/", repo->name, "-lighttpd");
      mkdir(server_dir.c_str(), 0755);
      absl::Status started = repo->server.Start(root, server_dir, "user", "password", "token");
      ASSERT_TRUE(started.ok()) << started;
      repo->url = repo->server.Url("public", "repo.git");
    }
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  void TearDown() override {
    if (frozen_) kill(hung_.server.pid(), SIGCONT);  // so that it can be stopped
    suite_.reset();
  }

  static std::string AppName(const Repo& repo, int i) {
    return absl::StrFormat("%s%02d", repo.name, i);
  }

  void WriteRound(const Repo& repo, int round) {
    for (int i = 0; i < kAppsPerRepo; ++i) {
      std::string dir = absl::StrCat(repo.work, "/", AppName(repo, i));
      mkdir(dir.c_str(), 0755);
      WriteFile(dir + "/configmap.yaml",
                absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ", AppName(repo, i),
                             ", namespace: demo}\ndata: {round: \"", round, "\"}\n"));
    }
  }

  // Commits the work tree and pushes it to the served repository; returns the commit.
  std::string Push(const Repo& repo, const std::string& message) {
    auto head = Sh(absl::StrCat("git add -A && git commit -q -m '", message,
                                "' && git push -q origin main 2>&1 && git rev-parse HEAD"),
                   repo.work);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  void CreateApps(const Repo& repo) {
    for (int i = 0; i < kAppsPerRepo; ++i) {
      v1::CreateApplicationRequest request;
      v1::Application* app = request.mutable_application();
      app->set_name(AppName(repo, i));
      auto* source = app->mutable_spec()->mutable_source();
      source->set_repo_url(repo.url);
      source->set_target_revision("main");
      source->set_path(AppName(repo, i));
      auto* git = app->mutable_spec()->mutable_destination()->mutable_git();
      git->set_repo_url(hydrated_);
      git->set_branch("rendered");
      git->set_path(AppName(repo, i));
      auto* policy = app->mutable_spec()->mutable_sync_policy();
      policy->set_automated(true);
      policy->set_prune(true);
      // Polled as well as told by webhooks: the hung server is found by polling too.
      policy->mutable_interval()->set_seconds(10);
      v1::Application created;
      auto context = ContextWithTimeout(absl::Seconds(10));
      grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
      ASSERT_TRUE(status.ok()) << AppName(repo, i) << ": " << status.error_message();
    }
  }

  absl::StatusOr<std::vector<v1::Application>> ListAll() {
    v1::ListApplicationsRequest request;
    v1::ListApplicationsResponse response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    grpc::Status status = suite_->api().ListApplications(context.get(), request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return std::vector<v1::Application>(response.applications().begin(),
                                        response.applications().end());
  }

  // Waits until `done` holds for every app of `repo` (bounded); on timeout an error listing
  // every app with its status.
  absl::Status WaitAll(const Repo& repo, const std::function<bool(const v1::Application&)>& done,
                       absl::Duration timeout, const std::string& what) {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> all;
    while (true) {
      absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
      if (apps.ok()) {
        all.clear();
        int matching = 0, met = 0;
        for (const v1::Application& app : *apps) {
          all.push_back(Describe(app));
          if (!absl::StartsWith(app.name(), repo.name)) continue;
          ++matching;
          if (done(app)) ++met;
        }
        if (matching == kAppsPerRepo && met == kAppsPerRepo) return absl::OkStatus();
      }
      if (absl::Now() >= deadline) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    return absl::DeadlineExceededError(absl::StrCat("the ", repo.name, " apps did not ", what,
                                                    " in ", absl::FormatDuration(timeout),
                                                    "; the apps:\n  ", absl::StrJoin(all, "\n  ")));
  }

  static bool SyncedAt(const v1::Application& app, const std::string& commit) {
    return app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
           app.status().synced_revision() == commit && app.status().conditions_size() == 0;
  }

  std::string HydratedFiles() {
    auto files = Sh("git ls-tree -r --name-only rendered 2>/dev/null || true", hydrated_);
    return files.ok() ? *files : "";
  }

  TempDir temp_;
  std::string hydrated_;
  Repo healthy_{"healthy"};
  Repo hung_{"hung"};
  bool frozen_ = false;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(GitHangTest, OnlyTheAppsOnTheHungServerReportItTheOthersKeepConverging) {
  CreateApps(healthy_);
  CreateApps(hung_);
  for (Repo* repo : {&healthy_, &hung_}) {
    absl::Status synced = WaitAll(
        *repo, [&](const v1::Application& a) { return SyncedAt(a, repo->commit); },
        absl::Seconds(120), "sync the first commit");
    ASSERT_TRUE(synced.ok()) << synced;
  }

  // The hung server freezes; a commit was pushed to it just before, and announced.
  WriteRound(hung_, 1);
  const std::string hung_before = hung_.commit;
  hung_.commit = Push(hung_, "round 1");
  ASSERT_EQ(kill(hung_.server.pid(), SIGSTOP), 0);
  frozen_ = true;
  absl::Time frozen_at = absl::Now();
  ASSERT_EQ(*suite_->PostWebhook(hung_.url, "refs/heads/main"), 202);

  // Meanwhile the healthy repository gets commits, and they converge.
  for (int round = 1; round <= 2; ++round) {
    WriteRound(healthy_, round);
    healthy_.commit = Push(healthy_, absl::StrCat("round ", round));
    absl::Time pushed = absl::Now();
    ASSERT_EQ(*suite_->PostWebhook(healthy_.url, "refs/heads/main"), 202);
    // Bounded well below the orchestrator's 60 s resolve timeout: apps queued behind the hung
    // fetches would take longer than that. (Both repositories' apps hydrate into one branch, so
    // they share the orchestrator's per-destination cap with the hung apps.)
    absl::Status synced = WaitAll(
        healthy_, [&](const v1::Application& a) { return SyncedAt(a, healthy_.commit); },
        absl::Seconds(30), absl::StrCat("converge to round ", round, " while the other hangs"));
    EXPECT_TRUE(synced.ok()) << synced;
    PrintFigure(absl::StrCat("healthy repository, round ", round,
                             " pushed -> its 10 apps synced (the other server hung)"),
                absl::Now() - pushed);
    if (round == 1) absl::SleepFor(absl::Seconds(10));  // a poll of every app in between
  }

  // The hung apps report it, naming the stage and the server; they stay at the last commit they
  // synced, and none is marked synced at the commit the frozen server never gave out.
  const std::string server = absl::StrCat("127.0.0.1:", hung_.server.port());
  absl::Status reported = WaitAll(
      hung_,
      [&](const v1::Application& a) {
        return a.status().conditions_size() > 0 && a.status().synced_revision() == hung_before;
      },
      absl::Seconds(120), "report the hung server");
  ASSERT_TRUE(reported.ok()) << reported;
  PrintFigure("hung server -> all its apps report it", absl::Now() - frozen_at);
  absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
  ASSERT_TRUE(apps.ok()) << apps.status();
  for (const v1::Application& app : *apps) {
    if (absl::StartsWith(app.name(), hung_.name)) {
      ASSERT_GT(app.status().conditions_size(), 0) << Describe(app);
      const std::string& message = app.status().conditions(0).message();
      EXPECT_TRUE(absl::StrContains(message, "source-fetcher")) << Describe(app);
      EXPECT_TRUE(absl::StrContains(message, server) || absl::StrContains(message, hung_.url))
          << "the condition does not name the server " << server << ": " << Describe(app);
    } else {
      EXPECT_EQ(app.status().conditions_size(), 0)
          << "an app on the healthy server reports a problem: " << Describe(app);
      EXPECT_TRUE(SyncedAt(app, healthy_.commit)) << Describe(app);
    }
  }
  if (!apps->empty()) std::printf("a hung app: %s\n", Describe(apps->back()).c_str());
  // Nothing of the hung apps was pruned from the branch.
  std::string files = HydratedFiles();
  for (int i = 0; i < kAppsPerRepo; ++i) {
    EXPECT_TRUE(absl::StrContains(files, AppName(hung_, i) + "/"))
        << AppName(hung_, i) << " lost its files; the branch holds:\n"
        << files;
  }

  // The server answers again: the hung apps converge to the commit pushed before it froze.
  ASSERT_EQ(kill(hung_.server.pid(), SIGCONT), 0);
  frozen_ = false;
  absl::Time thawed = absl::Now();
  ASSERT_EQ(*suite_->PostWebhook(hung_.url, "refs/heads/main"), 202);
  absl::Status recovered = WaitAll(
      hung_, [&](const v1::Application& a) { return SyncedAt(a, hung_.commit); },
      absl::Seconds(120), "converge after the server answered again");
  ASSERT_TRUE(recovered.ok()) << recovered;
  PrintFigure("server answers again -> its apps synced", absl::Now() - thawed);
  absl::Status still = WaitAll(
      healthy_, [&](const v1::Application& a) { return SyncedAt(a, healthy_.commit); },
      absl::Seconds(30), "stay synced");
  EXPECT_TRUE(still.ok()) << still;
}

}  // namespace
}  // namespace todoke::testing

// The reconcile loop end to end on the embedded default: the five services as real processes,
// a source repository and a hydration repository made with `git`, Applications registered over
// the orchestrator's gRPC API. What a user relies on: a registered app converges, a pushed commit
// reaches the branch through the webhook, removed objects are pruned, a broken commit changes
// nothing, rollback, suspend, delete with and without cascade, a stage killed and restarted, the
// orchestrator killed and restarted.
#include <signal.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr absl::Duration kConverge = absl::Seconds(60);

using ::todoke::test_files::WriteFile;

class LoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = temp_.path() + "/src";
    hydrated_ = temp_.path() + "/hydrated.git";
    ASSERT_TRUE(
        Sh("git init -q -b main src && git init -q --bare -b main hydrated.git", temp_.path())
            .ok());
    ASSERT_TRUE(
        Sh("mkdir -p guestbook && git config user.email t@t && git config user.name t", src_).ok());
    WriteFile(src_ + "/guestbook/kustomization.yaml",
              "namespace: guestbook\nresources: [configmap.yaml, deployment.yaml]\n");
    WriteFile(src_ + "/guestbook/configmap.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
              "data: {color: blue}\n");
    WriteFile(src_ + "/guestbook/deployment.yaml",
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
              "  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n"
              "    spec: {containers: [{name: web, image: 'nginx:1.25'}]}\n");
    first_commit_ = Commit("guestbook v1");
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  std::string Commit(const std::string& message) {
    auto head = Sh(
        absl::StrCat("git add -A && git commit -q -m '", message, "' && git rev-parse HEAD"), src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  v1::Application GuestbookApp(bool automated) {
    v1::Application app;
    app.set_name("guestbook");
    auto* source = app.mutable_spec()->mutable_source();
    source->set_repo_url(src_);
    source->set_target_revision("main");
    source->set_path("guestbook");
    auto* git = app.mutable_spec()->mutable_destination()->mutable_git();
    git->set_repo_url(hydrated_);
    git->set_branch("rendered");
    git->set_path("guestbook");
    auto* policy = app.mutable_spec()->mutable_sync_policy();
    policy->set_automated(automated);
    policy->set_prune(true);
    policy->mutable_interval()->set_seconds(3600);  // only triggers, never the interval
    return app;
  }

  grpc::Status Create(const v1::Application& app, v1::Application* out = nullptr) {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = app;
    v1::Application response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    grpc::Status status = suite_->api().CreateApplication(context.get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  // The files of the hydrated branch, one per line.
  std::string HydratedFiles() {
    auto files = Sh("git ls-tree -r --name-only rendered 2>/dev/null || true", hydrated_);
    return files.ok() ? *files : "";
  }
  std::string HydratedFile(const std::string& path) {
    auto text = Sh("git show rendered:" + path, hydrated_);
    return text.ok() ? *text : "";
  }
  int HydratedCommits() {
    auto count = Sh("git rev-list --count rendered 2>/dev/null || echo 0", hydrated_);
    return count.ok() ? std::stoi(*count) : -1;
  }

  static bool SyncedAt(const v1::Application& app, const std::string& commit) {
    return app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
           app.status().revision() == commit;
  }

  TempDir temp_;
  std::string src_;
  std::string hydrated_;
  std::string first_commit_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(LoopTest, RegisteredAppConvergesIntoTheBranch) {
  ASSERT_TRUE(Create(GuestbookApp(/*automated=*/true)).ok());
  auto app = suite_->WaitFor(
      "guestbook", [&](const v1::Application& a) { return SyncedAt(a, first_commit_); }, kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->status().synced_revision(), first_commit_);
  EXPECT_EQ(app->status().health(), types::v1::HEALTH_STATUS_HEALTHY);
  EXPECT_EQ(app->status().resources_size(), 2);
  EXPECT_EQ(app->status().inventory_size(), 2);
  std::string files = HydratedFiles();
  EXPECT_THAT(files, HasSubstr("guestbook/"));
  EXPECT_THAT(files, HasSubstr("settings"));
  EXPECT_THAT(files, HasSubstr("web"));
  auto message = Sh("git log -1 --format=%B rendered", hydrated_);
  ASSERT_TRUE(message.ok());
  EXPECT_THAT(*message, HasSubstr("guestbook"));
  EXPECT_THAT(*message, HasSubstr(first_commit_));

  // History: one entry for the sync, with the per-object results.
  v1::HistoryRequest history_request;
  history_request.set_name("guestbook");
  v1::HistoryResponse history;
  auto context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().History(context.get(), history_request, &history).ok());
  ASSERT_EQ(history.entries_size(), 1);
  EXPECT_EQ(history.entries(0).revision(), first_commit_);
  EXPECT_EQ(history.entries(0).operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(history.entries(0).operation().initiated_by(), "automated");
  EXPECT_EQ(history.entries(0).resources_size(), 2);

  // A refresh with nothing changed commits nothing and adds no history.
  int commits = HydratedCommits();
  v1::RefreshRequest refresh;
  refresh.set_name("guestbook");
  v1::Application refreshed;
  auto refresh_context = ContextWithTimeout(absl::Seconds(30));
  ASSERT_TRUE(suite_->api().Refresh(refresh_context.get(), refresh, &refreshed).ok());
  EXPECT_EQ(refreshed.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(HydratedCommits(), commits);
}

TEST_F(LoopTest, PushedCommitConvergesThroughTheWebhookAndRemovedObjectsArePruned) {
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                      kConverge)
                  .ok());

  // A bad signature is refused and triggers nothing.
  WriteFile(src_ + "/guestbook/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: green}\n");
  std::string second = Commit("green");
  auto refused = suite_->PostWebhook(src_, "refs/heads/main", "wrong-secret");
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_EQ(*refused, 401);

  // The interval is an hour: only the webhook can bring the change.
  auto accepted = suite_->PostWebhook(src_, "refs/heads/main");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(*accepted, 202);
  ASSERT_TRUE(
      suite_
          ->WaitFor(
              "guestbook", [&](const v1::Application& a) { return SyncedAt(a, second); }, kConverge)
          .ok());
  std::string files = HydratedFiles();
  std::string configmap_path;
  for (absl::string_view line : absl::StrSplit(files, '\n')) {
    if (absl::StrContains(line, "settings")) configmap_path = std::string(line);
  }
  ASSERT_FALSE(configmap_path.empty()) << files;
  EXPECT_THAT(HydratedFile(configmap_path), HasSubstr("green"));

  // An object removed from Git is pruned from the branch.
  ASSERT_TRUE(Sh("git rm -q guestbook/deployment.yaml", src_).ok());
  WriteFile(src_ + "/guestbook/kustomization.yaml",
            "namespace: guestbook\nresources: [configmap.yaml]\n");
  std::string third = Commit("no deployment");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto app = suite_->WaitFor(
      "guestbook", [&](const v1::Application& a) { return SyncedAt(a, third); }, kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_THAT(HydratedFiles(), Not(HasSubstr("web")));
  EXPECT_EQ(app->status().inventory_size(), 1);
}

TEST_F(LoopTest, BrokenCommitReportsRenderFailedAndChangesNothing) {
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                      kConverge)
                  .ok());
  std::string files_before = HydratedFiles();
  int commits_before = HydratedCommits();
  WriteFile(src_ + "/guestbook/kustomization.yaml", "resources: [configmap.yaml\n");
  Commit("broken");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto app = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        for (const auto& condition : a.status().conditions()) {
          if (condition.type() == "RenderFailed") return true;
        }
        return false;
      },
      kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  bool named_file = false;
  for (const auto& condition : app->status().conditions()) {
    if (condition.type() == "RenderFailed") {
      named_file = absl::StrContains(condition.message(), "kustomization.yaml");
    }
  }
  EXPECT_TRUE(named_file) << app->DebugString();
  // The last good state stays: nothing pruned, no commit.
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(HydratedFiles(), files_before);
  EXPECT_EQ(HydratedCommits(), commits_before);
  EXPECT_EQ(app->status().synced_revision(), first_commit_);
}

TEST_F(LoopTest, RollbackSyncsTheRecordedRevisionAndTurnsAutomationOff) {
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                      kConverge)
                  .ok());
  WriteFile(src_ + "/guestbook/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: red}\n");
  std::string second = Commit("red");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  ASSERT_TRUE(
      suite_
          ->WaitFor(
              "guestbook", [&](const v1::Application& a) { return SyncedAt(a, second); }, kConverge)
          .ok());

  v1::HistoryRequest history_request;
  history_request.set_name("guestbook");
  v1::HistoryResponse history;
  auto context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().History(context.get(), history_request, &history).ok());
  ASSERT_EQ(history.entries_size(), 2);
  int64_t first_entry = history.entries(1).id();  // newest first
  ASSERT_EQ(history.entries(1).revision(), first_commit_);

  v1::RollbackRequest rollback;
  rollback.set_name("guestbook");
  rollback.set_history_id(first_entry);
  v1::Operation operation;
  auto rollback_context = ContextWithTimeout(absl::Seconds(10));
  grpc::Status status = suite_->api().Rollback(rollback_context.get(), rollback, &operation);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(operation.message(), HasSubstr("automated sync turned off"));
  auto app = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        return a.status().synced_revision() == first_commit_ &&
               a.status().operation().initiated_by() == "rollback" &&
               a.status().operation().phase() == v1::OPERATION_PHASE_SUCCEEDED;
      },
      kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_FALSE(app->spec().sync_policy().automated());
  std::string files = HydratedFiles();
  for (absl::string_view line : absl::StrSplit(files, '\n')) {
    if (absl::StrContains(line, "settings")) {
      EXPECT_THAT(HydratedFile(std::string(line)), HasSubstr("blue"));
    }
  }
  // The branch tip is newer than the rollback, but automation is off: it stays OutOfSync.
  auto refreshed = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        return a.status().sync() == types::v1::SYNC_STATUS_OUT_OF_SYNC;
      },
      kConverge);
  EXPECT_TRUE(refreshed.ok()) << refreshed.status();
}

TEST_F(LoopTest, SuspendedAppIsNotReconciled) {
  // A witness on the same source, into a branch of its own: once it has synced the pushed
  // commit, the webhook has been handled for every app of the repository (a fixed sleep would
  // pass on a slow machine whether or not suspend held).
  v1::Application witness = GuestbookApp(true);
  witness.set_name("witness");
  witness.mutable_spec()->mutable_destination()->mutable_git()->set_branch("witness");
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(Create(witness).ok());
  for (const char* name : {"guestbook", "witness"}) {
    ASSERT_TRUE(suite_
                    ->WaitFor(
                        name, [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                        kConverge)
                    .ok())
        << name;
  }
  v1::SuspendRequest suspend;
  suspend.set_name("guestbook");
  v1::Application suspended;
  auto context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().Suspend(context.get(), suspend, &suspended).ok());
  EXPECT_TRUE(suspended.spec().suspend());
  int commits = HydratedCommits();
  WriteFile(src_ + "/guestbook/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: gray}\n");
  std::string second = Commit("gray");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto witnessed = suite_->WaitFor(
      "witness", [&](const v1::Application& a) { return SyncedAt(a, second); }, kConverge);
  ASSERT_TRUE(witnessed.ok()) << witnessed.status();
  EXPECT_EQ(HydratedCommits(), commits);
  v1::GetApplicationRequest get;
  get.set_name("guestbook");
  v1::Application still;
  auto get_context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().GetApplication(get_context.get(), get, &still).ok());
  EXPECT_EQ(still.status().revision(), first_commit_) << "a suspended app was reconciled";

  v1::ResumeRequest resume;
  resume.set_name("guestbook");
  v1::Application resumed;
  auto resume_context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().Resume(resume_context.get(), resume, &resumed).ok());
  auto app = suite_->WaitFor(
      "guestbook", [&](const v1::Application& a) { return SyncedAt(a, second); }, kConverge);
  EXPECT_TRUE(app.ok()) << app.status();
}

TEST_F(LoopTest, DeleteWithCascadePrunesAndWithoutLeavesObjects) {
  v1::Application other = GuestbookApp(true);
  other.set_name("other");
  other.mutable_spec()->mutable_destination()->mutable_git()->set_path("other");
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(Create(other).ok());
  for (const char* name : {"guestbook", "other"}) {
    ASSERT_TRUE(suite_
                    ->WaitFor(
                        name, [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                        kConverge)
                    .ok());
  }
  v1::DeleteApplicationRequest keep;
  keep.set_name("other");
  v1::DeleteApplicationResponse deleted;
  auto context = ContextWithTimeout(absl::Seconds(30));
  ASSERT_TRUE(suite_->api().DeleteApplication(context.get(), keep, &deleted).ok());
  EXPECT_THAT(HydratedFiles(), HasSubstr("other/"));

  v1::DeleteApplicationRequest cascade;
  cascade.set_name("guestbook");
  cascade.set_cascade(true);
  auto cascade_context = ContextWithTimeout(absl::Seconds(30));
  grpc::Status status = suite_->api().DeleteApplication(cascade_context.get(), cascade, &deleted);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT("\n" + HydratedFiles(), Not(HasSubstr("\nguestbook/")));
  v1::GetApplicationRequest get;
  get.set_name("guestbook");
  v1::Application gone;
  auto get_context = ContextWithTimeout(absl::Seconds(5));
  EXPECT_EQ(suite_->api().GetApplication(get_context.get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(LoopTest, StageKilledAndRestartedAppsConvergeByThemselves) {
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                      kConverge)
                  .ok());
  ASSERT_TRUE(suite_->StopStage("renderer", SIGKILL).ok());
  WriteFile(src_ + "/guestbook/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: teal}\n");
  std::string second = Commit("teal");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto down = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        for (const auto& condition : a.status().conditions()) {
          if (condition.type() == "StageUnavailable" &&
              absl::StartsWith(condition.message(), "renderer")) {
            return true;
          }
        }
        return false;
      },
      kConverge);
  ASSERT_TRUE(down.ok()) << down.status();
  ASSERT_TRUE(suite_->StartStage("renderer").ok());
  auto app = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        return SyncedAt(a, second) && a.status().conditions_size() == 0;
      },
      kConverge);
  EXPECT_TRUE(app.ok()) << app.status();
}

TEST_F(LoopTest, OrchestratorKilledKeepsAppsAndHistory) {
  ASSERT_TRUE(Create(GuestbookApp(true)).ok());
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) { return SyncedAt(a, first_commit_); },
                      kConverge)
                  .ok());
  ASSERT_TRUE(suite_->StopStage("orchestrator", SIGKILL).ok());
  ASSERT_TRUE(suite_->StartStage("orchestrator").ok());
  auto app = suite_->WaitFor(
      "guestbook", [&](const v1::Application& a) { return SyncedAt(a, first_commit_); }, kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  v1::HistoryRequest history_request;
  history_request.set_name("guestbook");
  v1::HistoryResponse history;
  auto context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(suite_->api().History(context.get(), history_request, &history).ok());
  EXPECT_EQ(history.entries_size(), 1);
}

TEST_F(LoopTest, ManualAppSyncsOnlyWhenAskedAndSyncAnswersTheStartedOperation) {
  ASSERT_TRUE(Create(GuestbookApp(/*automated=*/false)).ok());
  auto compared = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        return a.status().sync() == types::v1::SYNC_STATUS_OUT_OF_SYNC;
      },
      kConverge);
  ASSERT_TRUE(compared.ok()) << compared.status();
  EXPECT_EQ(HydratedCommits(), 0);  // a manual app never applies by itself

  v1::SyncRequest sync;
  sync.set_name("guestbook");
  v1::Operation operation;
  auto context = ContextWithTimeout(absl::Seconds(15));
  grpc::Status status = suite_->api().Sync(context.get(), sync, &operation);
  ASSERT_TRUE(status.ok()) << status.error_message();
  // The answer is the started operation, with the id a client follows (todoke app sync --wait).
  EXPECT_GT(operation.id(), 0);
  EXPECT_EQ(operation.initiated_by(), "user");
  EXPECT_NE(operation.phase(), v1::OPERATION_PHASE_QUEUED);
  auto app = suite_->WaitFor(
      "guestbook",
      [&](const v1::Application& a) {
        return SyncedAt(a, first_commit_) && a.status().operation().id() == operation.id() &&
               a.status().operation().phase() == v1::OPERATION_PHASE_SUCCEEDED;
      },
      kConverge);
  EXPECT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(HydratedCommits(), 1);
}

TEST_F(LoopTest, InvalidSpecNamesTheField) {
  v1::Application app = GuestbookApp(true);
  app.mutable_spec()->mutable_source()->clear_repo_url();
  grpc::Status status = Create(app);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("spec.source.repoURL"));
}

}  // namespace
}  // namespace todoke::testing

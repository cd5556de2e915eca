// Process-level faults while 100 applications sync to the real Kubernetes API server
// (tests/cluster): the five services as processes over real gRPC, each app one ConfigMap in a
// test namespace, automated with prune on. An independent witness (a raw HTTP watch with curl,
// tests/integration/k8s_witness.h, resumed from its last resourceVersion when the connection
// ends) records every DELETE in the namespace. What a user relies on:
//   - kill -9 of each service in turn (source-fetcher, renderer, differ, applier, and the
//     orchestrator) in the middle of a sync of all 100 apps: after the restart every app
//     converges to the pushed commit, and no object is deleted, not even for a moment;
//   - kube-apiserver stopped and started again (a control plane of this test's own) while a
//     commit for all 100 apps waits: the apps report it, converge after the restart, a later
//     commit converges too, and the witness sees no DELETE across the restart.
// On failure the apps that did not converge are printed with their status and conditions.
// Figures are printed as "[figure] ...".
//
// Needs the control plane: runs under the CTest fixture k8s (TODOKE_K8S_ENV); skips when run by
// hand without it, fails instead when TODOKE_REQUIRE_ALL=1. By hand:
//   tests/cluster/start.sh /tmp/k8s && TODOKE_K8S_ENV=/tmp/k8s/env build/tests/k8s_fault_test
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <optional>
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
#include "test_namespace.h"
#include "tests/common/test_files.h"
#include "tests/integration/k8s_witness.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;

constexpr int kApps = 100;

std::string AppName(int i) { return absl::StrFormat("app%03d", i); }

std::string SourceDir() {
  const char* dir = std::getenv("TODOKE_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

using ::todoke::test_files::WriteFile;

void PrintFigure(const std::string& what, absl::Duration took) {
  std::printf("[figure] %s: %.1f s\n", what.c_str(), absl::ToDoubleSeconds(took));
  std::fflush(stdout);
}

// One line per app for failure messages: sync, health, revision, operation, conditions.
std::string Describe(const v1::Application& app) {
  std::string line =
      absl::StrCat(app.name(), ": sync=", types::v1::SyncStatus_Name(app.status().sync()),
                   " health=", types::v1::HealthStatus_Name(app.status().health()),
                   " revision=", app.status().revision().substr(0, 10));
  if (app.status().has_operation()) {
    absl::StrAppend(&line, " operation=", v1::OperationPhase_Name(app.status().operation().phase()),
                    " (", app.status().operation().message(), ")");
  }
  for (const v1::Condition& condition : app.status().conditions()) {
    absl::StrAppend(&line, " [", condition.type(), ": ", condition.message(), "]");
  }
  return line;
}

bool ConvergedAt(const v1::Application& app, const std::string& commit) {
  return app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
         app.status().health() == types::v1::HEALTH_STATUS_HEALTHY &&
         app.status().revision() == commit && app.status().conditions_size() == 0;
}

class K8sFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterInfo cluster;
    TODOKE_ASSIGN_CLUSTER_OR_SKIP(cluster);
    Prepare(cluster);
  }

  void TearDown() override {
    witness_.reset();
    suite_.reset();
    namespace_.reset();
    if (kBuiltBinDir != nullptr) {
      setenv("TODOKE_BIN_DIR", kBuiltBinDir, 1);
    } else {
      unsetenv("TODOKE_BIN_DIR");
    }
  }

  // The binary as built (BinaryPath before this test pointed TODOKE_BIN_DIR at its snapshot).
  static std::string BuiltBinary(const std::string& name) {
    return absl::StrCat(kBuiltBinDir != nullptr ? kBuiltBinDir : "build/bin", "/", name);
  }
  static inline const char* const kBuiltBinDir = [] {
    const char* dir = std::getenv("TODOKE_BIN_DIR");
    return dir != nullptr ? strdup(dir) : nullptr;
  }();

  // The namespace, the source repository (one folder per app), the witness and the five
  // services, against `cluster`.
  void Prepare(const ClusterInfo& cluster) {
    cluster_ = cluster;
    absl::StatusOr<TestNamespace> ns = TestNamespace::Create(cluster_, "e2e-fault");
    ASSERT_TRUE(ns.ok()) << ns.status();
    namespace_.emplace(*std::move(ns));
    ns_ = namespace_->name();
    static int counter = 0;
    installation_ = absl::StrCat("fault", getpid(), "-", ++counter);

    src_ = temp_.path() + "/src";
    ASSERT_TRUE(Sh("git init -q -b main src", temp_.path()).ok());
    ASSERT_TRUE(Sh("git config user.email t@t && git config user.name t", src_).ok());
    WriteRound(0);
    commit_ = Commit("round 0");

    // The witness watches from before the first app is registered.
    auto witness = DeleteWitness::Start(
        cluster_, absl::StrCat("/api/v1/namespaces/", ns_, "/configmaps"), temp_.path());
    ASSERT_TRUE(witness.ok()) << witness.status();
    witness_ = *std::move(witness);

    // The build directory is shared and its binaries may be relinked while this test restarts
    // the services (an exec of a half-written file fails): run a snapshot.
    const std::string bin = temp_.path() + "/bin";
    ASSERT_TRUE(Sh("mkdir -p '" + bin + "'").ok());
    for (const char* name : {"todoke-source-fetcher", "todoke-renderer", "todoke-differ",
                             "todoke-applier", "todoke-orchestrator"}) {
      // A binary being relinked right now is copied half-written: copy until the copy runs.
      absl::StatusOr<std::string> copied;
      for (int attempt = 0; attempt < 10; ++attempt) {
        copied = Sh(absl::StrCat("cp '", BuiltBinary(name), "' '", bin, "/' && '", bin, "/", name,
                                 "' --version >/dev/null"));
        if (copied.ok()) break;
        absl::SleepFor(absl::Seconds(3));
      }
      ASSERT_TRUE(copied.ok()) << copied.status();
    }
    setenv("TODOKE_BIN_DIR", bin.c_str(), 1);  // until TearDown

    TodokeSuite::Options options;
    options.orchestrator_flags = {"--default-interval=1h"};
    options.applier_flags = {"--kubeconfig=" + cluster_.kubeconfig,
                             "--installation-id=" + installation_};
    auto suite = TodokeSuite::Start(temp_.path(), options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  // Each app's folder holds one small ConfigMap whose data carries the round.
  void WriteRound(int round) {
    for (int i = 0; i < kApps; ++i) {
      std::string dir = src_ + "/" + AppName(i);
      mkdir(dir.c_str(), 0755);
      WriteFile(dir + "/configmap.yaml",
                absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ", AppName(i),
                             "\n  namespace: ", ns_, "\ndata:\n  round: \"", round, "\"\n"));
    }
  }

  std::string Commit(const std::string& message) {
    auto head = Sh(
        absl::StrCat("git add -A && git commit -q -m '", message, "' && git rev-parse HEAD"), src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  // Commits round `round` and announces it with the webhook.
  void Push(int round) {
    WriteRound(round);
    commit_ = Commit(absl::StrCat("round ", round));
    absl::StatusOr<int> posted = suite_->PostWebhook(src_, "refs/heads/main");
    ASSERT_TRUE(posted.ok()) << posted.status();
    ASSERT_EQ(*posted, 202);
  }

  void CreateAll() {
    for (int i = 0; i < kApps; ++i) {
      v1::CreateApplicationRequest request;
      v1::Application* app = request.mutable_application();
      app->set_name(AppName(i));
      auto* source = app->mutable_spec()->mutable_source();
      source->set_repo_url(src_);
      source->set_target_revision("main");
      source->set_path(AppName(i));
      app->mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_(ns_);
      auto* policy = app->mutable_spec()->mutable_sync_policy();
      policy->set_automated(true);
      policy->set_prune(true);
      policy->mutable_interval()->set_seconds(3600);  // only webhooks and retries trigger
      v1::Application created;
      auto context = ContextWithTimeout(absl::Seconds(10));
      grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
      ASSERT_TRUE(status.ok()) << AppName(i) << ": " << status.error_message();
    }
  }

  // Every Application, as the orchestrator reports it (waits for a restarting orchestrator).
  absl::StatusOr<std::vector<v1::Application>> ListAll() {
    v1::ListApplicationsRequest request;
    v1::ListApplicationsResponse response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    context->set_wait_for_ready(true);
    grpc::Status status = suite_->api().ListApplications(context.get(), request, &response);
    if (!status.ok()) return absl::UnavailableError(status.error_message());
    return std::vector<v1::Application>(response.applications().begin(),
                                        response.applications().end());
  }

  // Waits until all kApps apps are Synced and Healthy at `commit` without conditions. On
  // timeout: an error listing the apps that are not, with their status.
  absl::Status WaitAllConverged(const std::string& commit, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    std::vector<std::string> behind;
    std::string last_error;
    while (absl::Now() < deadline) {
      absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
      if (apps.ok()) {
        behind.clear();
        for (const v1::Application& app : *apps) {
          if (!ConvergedAt(app, commit)) behind.push_back(Describe(app));
        }
        if (apps->size() != kApps) {
          behind.push_back(absl::StrCat("only ", apps->size(), " applications listed"));
        }
        if (behind.empty()) return absl::OkStatus();
      } else {
        last_error = apps.status().ToString();
      }
      absl::SleepFor(absl::Milliseconds(250));
    }
    if (behind.size() > 20) {
      size_t more = behind.size() - 20;
      behind.resize(20);
      behind.push_back(absl::StrCat("... and ", more, " more"));
    }
    return absl::DeadlineExceededError(absl::StrCat(
        "not every app converged to ", commit.substr(0, 10), " in ", absl::FormatDuration(timeout),
        last_error.empty() ? "" : " (last list error: " + last_error + ")", ":\n  ",
        absl::StrJoin(behind, "\n  ")));
  }

  // How many apps are at `commit` already.
  int CountAt(const std::string& commit) {
    absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
    if (!apps.ok()) return -1;
    int at = 0;
    for (const v1::Application& app : *apps) {
      if (app.status().synced_revision() == commit) ++at;
    }
    return at;
  }

  // Every app's ConfigMap exists live with data.round == `round`.
  void ExpectLiveRound(int round) {
    absl::StatusOr<std::string> lines = RunKubectl(
        cluster_, {"get", "configmaps", "--namespace=" + ns_, "-o",
                   "jsonpath={range .items[*]}{.metadata.name}={.data.round}{\"\\n\"}{end}"});
    ASSERT_TRUE(lines.ok()) << lines.status();
    std::map<std::string, std::string> live;
    for (absl::string_view line : absl::StrSplit(*lines, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      live[kv.first] = kv.second;
    }
    std::vector<std::string> wrong;
    for (int i = 0; i < kApps; ++i) {
      auto it = live.find(AppName(i));
      if (it == live.end()) {
        wrong.push_back(AppName(i) + " missing");
      } else if (it->second != absl::StrCat(round)) {
        wrong.push_back(absl::StrCat(AppName(i), " at round ", it->second));
      }
    }
    EXPECT_TRUE(wrong.empty()) << "live ConfigMaps not at round " << round << ": "
                               << absl::StrJoin(wrong, ", ");
  }

  // Fails for every deletion the witness recorded after the first `from` (attributed to `when`);
  // returns the new count.
  size_t ExpectNoNewDeletions(size_t from, const std::string& when) {
    std::vector<DeleteWitness::Deletion> deletions = witness_->Deletions();
    for (size_t i = from; i < deletions.size(); ++i) {
      ADD_FAILURE() << when << ": " << deletions[i].name << " (uid " << deletions[i].uid
                    << ") deleted: " << deletions[i].how;
    }
    return deletions.size();
  }

  // Final check: the witness caught up, the live list agrees with it, no deletion anywhere.
  void ExpectNothingEverDeleted() {
    EXPECT_TRUE(witness_->CatchUp(absl::Seconds(15))) << "the witness did not catch up";
    absl::Status checked = witness_->CheckAgainstList();
    EXPECT_TRUE(checked.ok()) << checked;
    ExpectNoNewDeletions(0, "over the whole test");
    std::printf("witness: %zu events, %d reconnects, %d relists, %zu deletions\n",
                witness_->events(), witness_->reconnects(), witness_->relists(),
                witness_->Deletions().size());
    std::fflush(stdout);
    EXPECT_GE(witness_->events(), static_cast<size_t>(kApps))
        << "the witness saw fewer events than apps: it was not watching";
  }

  ClusterInfo cluster_;
  std::optional<TestNamespace> namespace_;
  std::string ns_;
  std::string installation_;
  TempDir temp_;
  std::string src_;
  std::string commit_;
  std::unique_ptr<DeleteWitness> witness_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(K8sFaultTest, EachServiceKilledInTurnWhileHundredAppsSyncLosesNothing) {
  absl::Time start = absl::Now();
  CreateAll();
  absl::Status converged = WaitAllConverged(commit_, absl::Seconds(180));
  ASSERT_TRUE(converged.ok()) << converged;
  PrintFigure("100 apps registered -> all Synced+Healthy", absl::Now() - start);
  ExpectLiveRound(0);
  size_t deletions = ExpectNoNewDeletions(0, "first sync");

  int round = 0;
  for (const char* stage : {"source-fetcher", "renderer", "differ", "applier", "orchestrator"}) {
    SCOPED_TRACE(stage);
    ++round;
    Push(round);
    absl::Time pushed = absl::Now();
    // Kill it in the middle: once the first app has synced the new commit.
    int at_kill = 0;
    while (absl::Now() - pushed < absl::Seconds(60) && (at_kill = CountAt(commit_)) < 1) {
      absl::SleepFor(absl::Milliseconds(20));
    }
    ASSERT_TRUE(suite_->StopStage(stage, SIGKILL).ok()) << stage;
    absl::Time killed = absl::Now();
    std::printf("kill -9 %s with %d/%d apps synced to round %d\n", stage, at_kill, kApps, round);
    std::fflush(stdout);
    // Down for a moment; the apps that were mid-sync report it (unless it is the orchestrator).
    int reported = 0;
    absl::SleepFor(absl::Seconds(2));
    if (std::string(stage) != "orchestrator") {
      absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
      ASSERT_TRUE(apps.ok()) << apps.status();
      for (const v1::Application& app : *apps) {
        for (const v1::Condition& condition : app.status().conditions()) {
          if (absl::StrContains(condition.message(), stage)) ++reported;
        }
      }
    }
    absl::Status restarted = suite_->StartStage(stage);
    ASSERT_TRUE(restarted.ok()) << restarted;
    converged = WaitAllConverged(commit_, absl::Seconds(120));
    ASSERT_TRUE(converged.ok()) << "after kill -9 of " << stage << ": " << converged;
    PrintFigure(absl::StrCat("kill -9 ", stage, " (", reported,
                             " apps reported it while down) -> all 100 converged"),
                absl::Now() - killed);
    ExpectLiveRound(round);
    deletions = ExpectNoNewDeletions(deletions, absl::StrCat("kill -9 of ", stage));
  }
  ExpectNothingEverDeleted();
}

// kube-apiserver stopped and started again, on a control plane of this test's own (the shared
// fixture is never disturbed).
class K8sApiServerRestartFaultTest : public K8sFaultTest {
 protected:
  void SetUp() override {
    TODOKE_REQUIRE_K8S_FIXTURE_OR_SKIP();
    dir_ = absl::StrCat(::testing::TempDir(), "/todoke-k8s-fault-restart-", getpid());
    mkdir(dir_.c_str(), 0700);
    auto started = Sh(absl::StrCat("'", SourceDir(), "/tests/cluster/start.sh' '", dir_, "'"));
    ASSERT_TRUE(started.ok()) << started.status();
    started_ = true;
    absl::StatusOr<ClusterInfo> cluster = LoadClusterFromFile(dir_ + "/env");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    Prepare(*cluster);
  }

  void TearDown() override {
    K8sFaultTest::TearDown();
    if (started_) (void)Sh(absl::StrCat("'", SourceDir(), "/tests/cluster/stop.sh' '", dir_, "'"));
    if (!dir_.empty() && !absl::StrContains(dir_, "'")) {
      (void)Sh(absl::StrCat("rm -rf '", dir_, "'"));
    }
  }

  std::string dir_;
  bool started_ = false;
};

TEST_F(K8sApiServerRestartFaultTest, HundredAppsConvergeAfterTheRestartAndNothingIsDeleted) {
  absl::Time start = absl::Now();
  CreateAll();
  absl::Status converged = WaitAllConverged(commit_, absl::Seconds(180));
  ASSERT_TRUE(converged.ok()) << converged;
  PrintFigure("100 apps registered -> all Synced+Healthy", absl::Now() - start);

  absl::StatusOr<std::vector<std::string>> argv = StopApiServer(dir_);
  ASSERT_TRUE(argv.ok()) << argv.status();
  absl::Time stopped = absl::Now();
  // A commit for every app while the API server is down: they cannot converge, and say why.
  Push(1);
  std::string reported;
  while (reported.empty() && absl::Now() - stopped < absl::Seconds(90)) {
    absl::StatusOr<std::vector<v1::Application>> apps = ListAll();
    ASSERT_TRUE(apps.ok()) << apps.status();
    for (const v1::Application& app : *apps) {
      if (app.status().conditions_size() > 0) reported = Describe(app);
    }
    if (reported.empty()) absl::SleepFor(absl::Milliseconds(500));
  }
  ASSERT_FALSE(reported.empty()) << "no app reported the API server down in 90 s";
  PrintFigure("API server down -> a condition on an app", absl::Now() - stopped);
  std::printf("while down: %s\n", reported.c_str());
  EXPECT_TRUE(absl::StrContains(reported, "applier")) << reported;
  EXPECT_LT(CountAt(commit_), kApps) << "apps synced while the API server was down?";

  absl::Status back = StartApiServer(dir_, *argv, cluster_, absl::Seconds(90));
  ASSERT_TRUE(back.ok()) << back;
  absl::Time ready = absl::Now();
  converged = WaitAllConverged(commit_, absl::Seconds(180));
  ASSERT_TRUE(converged.ok()) << "after the API server restart: " << converged;
  PrintFigure("API server /readyz -> all 100 converged to the commit pushed while it was down",
              absl::Now() - ready);
  ExpectLiveRound(1);

  // Everything works again: a later commit converges too.
  Push(2);
  absl::Time pushed = absl::Now();
  converged = WaitAllConverged(commit_, absl::Seconds(120));
  ASSERT_TRUE(converged.ok()) << "the commit after the restart: " << converged;
  PrintFigure("push after the restart -> all 100 converged", absl::Now() - pushed);
  ExpectLiveRound(2);

  EXPECT_GE(witness_->reconnects(), 1) << "the witness's watch never ended: was it restarted?";
  ExpectNothingEverDeleted();
}

}  // namespace
}  // namespace todoke::testing

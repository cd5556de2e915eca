// The watch cache across an API server restart, on a control plane of its own (tests/cluster/
// start.sh in a temporary folder, so the shared fixture is never disturbed): while
// kube-apiserver is down ReadLive answers UNAVAILABLE at once, naming the cluster (never
// "absent" from a broken cache, never after waiting for the dead server); once
// it is back, the watch resumes and a change made right after the restart reaches WatchDrift
// (through the relist when it happened before the watch was open again).
//
// Needs the cluster binaries: runs under the k8s fixture (TODOKE_K8S_ENV set, meaning they are
// built); skips otherwise, fails instead when TODOKE_REQUIRE_ALL=1.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/applier/core/kube/kube_config.h"
#include "services/applier/core/sync/kube_destination.h"
#include "test_namespace.h"

extern char** environ;

namespace todoke::applier::sync {
namespace {

using todoke::testing::ClusterInfo;
using todoke::testing::RunKubectl;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

int RunCommand(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  if (posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool Alive(pid_t pid) { return kill(pid, 0) == 0; }

class RestartTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TODOKE_REQUIRE_K8S_FIXTURE_OR_SKIP();
    dir_ = absl::StrCat(::testing::TempDir(), "/todoke-sync-restart-", getpid());
    mkdir(dir_.c_str(), 0700);
    ASSERT_EQ(RunCommand({"/bin/bash", "tests/cluster/start.sh", dir_}), 0)
        << "start.sh failed (run from the repository root)";
    started_ = true;
    absl::StatusOr<ClusterInfo> cluster = todoke::testing::LoadClusterFromFile(dir_ + "/env");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    cluster_ = *cluster;
  }

  void TearDown() override {
    destination_.reset();
    if (started_) RunCommand({"/bin/bash", "tests/cluster/stop.sh", dir_});
  }

  // Stops kube-apiserver (only it) and returns its command line.
  std::vector<std::string> StopApiServer() {
    for (absl::string_view line : absl::StrSplit(ReadFile(dir_ + "/pids"), '\n')) {
      std::vector<std::string> parts = absl::StrSplit(line, ' ');
      if (parts.size() != 2 || parts[0] != "kube-apiserver") continue;
      pid_t pid = std::atoi(parts[1].c_str());
      std::vector<std::string> argv = absl::StrSplit(
          ReadFile(absl::StrCat("/proc/", pid, "/cmdline")), '\0', absl::SkipEmpty());
      // TERM, then KILL after 5 s (kube-apiserver may wait long for its watches to drain).
      kill(pid, SIGTERM);
      for (int i = 0; i < 50 && Alive(pid); ++i) absl::SleepFor(absl::Milliseconds(100));
      if (Alive(pid)) kill(pid, SIGKILL);
      for (int i = 0; i < 100 && Alive(pid); ++i) absl::SleepFor(absl::Milliseconds(100));
      return argv;
    }
    return {};
  }

  // Starts kube-apiserver again with `argv` in its own session and records it in DIR/pids so
  // stop.sh ends it.
  void StartApiServer(const std::vector<std::string>& argv) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    const std::string log = dir_ + "/logs/kube-apiserver-restarted.log";
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    posix_spawnattr_t attributes;
    posix_spawnattr_init(&attributes);
    posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSID);
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    ASSERT_EQ(posix_spawn(&pid, args[0], &actions, &attributes, args.data(), environ), 0);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attributes);
    std::ofstream(dir_ + "/pids", std::ios::app) << "kube-apiserver " << pid << "\n";
  }

  std::string dir_;
  bool started_ = false;
  ClusterInfo cluster_;
  std::unique_ptr<KubernetesDestination> destination_;
};

TEST_F(RestartTest, WatchResumesAfterAnApiServerRestartAndNoChangeIsLost) {
  absl::StatusOr<kube::KubeConfig> config = kube::LoadKubeconfig(cluster_.kubeconfig, "");
  ASSERT_TRUE(config.ok()) << config.status();
  const std::string server = config->server;
  KubernetesDestinationOptions options;
  options.installation = "restart";
  // As long as a caller's deadline allows (the orchestrator's is 30 s): a cache that has lost
  // the server must not make ReadLive wait for it.
  options.read_live_sync_wait = absl::Seconds(30);
  options.cache.max_backoff = absl::Seconds(2);
  absl::StatusOr<std::unique_ptr<KubernetesDestination>> destination =
      KubernetesDestination::Create(*std::move(config), options);
  ASSERT_TRUE(destination.ok()) << destination.status();
  destination_ = *std::move(destination);

  ApplyPlan plan;
  plan.app = "survivor";
  plan.objects = {Json{{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", {{"name", "state"}, {"namespace", "default"}}},
                       {"data", {{"v", "1"}}}}};
  absl::StatusOr<ApplyOutcome> applied =
      destination_->Apply(plan, nullptr, absl::Now() + absl::Minutes(1), nullptr);
  ASSERT_TRUE(applied.ok() && applied->succeeded) << applied.status();

  absl::Mutex mu;
  std::vector<DriftEvent> events;
  auto subscription = destination_->WatchDrift([&](const DriftEvent& event) {
    absl::MutexLock lock(&mu);
    events.push_back(event);
  });
  ASSERT_TRUE(subscription.ok());
  ReadLiveQuery query;
  query.app = "survivor";
  ObjectKey key;
  key.version = "v1";
  key.kind = "ConfigMap";
  key.ns = "default";
  key.name = "state";
  query.keys = {key};
  absl::StatusOr<LiveSet> before = destination_->ReadLive(query, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(before.ok()) << before.status();
  ASSERT_EQ(before->objects.size(), 1u);

  std::vector<std::string> argv = StopApiServer();
  ASSERT_FALSE(argv.empty());
  // Down: never "absent", never a stale answer passed off as synced; and said at once, naming
  // the cluster and the last error, instead of holding the caller until its deadline (the
  // orchestrator retried such answers until its own 30 s deadline, so a dead cluster took ~26 s
  // to show on the app). The bound is generous: the cache's relist fails within its backoff.
  const absl::Time down_deadline = absl::Now() + absl::Seconds(10);
  absl::StatusOr<LiveSet> down = destination_->ReadLive(query, down_deadline);
  const absl::Duration left = down_deadline - absl::Now();
  EXPECT_EQ(down.status().code(), absl::StatusCode::kUnavailable) << down.status();
  EXPECT_GT(left, absl::Seconds(5)) << "ReadLive waited for the dead server: " << down.status();
  EXPECT_THAT(std::string(down.status().message()), ::testing::HasSubstr(server));
  EXPECT_THAT(std::string(down.status().message()), ::testing::HasSubstr("list: "));

  StartApiServer(argv);
  const absl::Time restart_deadline = absl::Now() + absl::Seconds(90);
  while (!RunKubectl(cluster_, {"get", "--raw", "/readyz"}).ok()) {
    ASSERT_LT(absl::Now(), restart_deadline) << "kube-apiserver did not come back";
    absl::SleepFor(absl::Milliseconds(200));
  }
  // A change right after the restart, probably before the cache's watch is open again.
  ASSERT_TRUE(RunKubectl(cluster_, {"patch", "configmap", "state", "-n", "default", "--type=merge",
                                    "-p", R"({"data":{"v":"2"}})"})
                  .ok());
  absl::StatusOr<std::string> version = RunKubectl(
      cluster_,
      {"get", "configmap", "state", "-n", "default", "-o", "jsonpath={.metadata.resourceVersion}"});
  ASSERT_TRUE(version.ok());

  auto seen = [&] {
    absl::MutexLock lock(&mu);
    for (const DriftEvent& event : events) {
      if (event.key.name == "state" && event.resource_version == *version) return true;
    }
    return false;
  };
  const absl::Time until = absl::Now() + absl::Seconds(30);
  while (!seen() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_TRUE(seen()) << "the change made after the restart never reached WatchDrift";

  absl::StatusOr<LiveSet> after = destination_->ReadLive(query, absl::Now() + absl::Seconds(30));
  ASSERT_TRUE(after.ok()) << after.status();
  ASSERT_EQ(after->objects.size(), 1u);
  EXPECT_EQ(after->objects[0].resource_version, *version);
}

}  // namespace
}  // namespace todoke::applier::sync

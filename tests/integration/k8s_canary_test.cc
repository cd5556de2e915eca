// Secret canaries on the Kubernetes destination, end to end: the API server echoes a Secret's
// values in its error (a ValidatingAdmissionPolicy whose messageExpression quotes object.data),
// the five services run as processes (debug logging) with the applier on the test control
// plane, and an app holding that Secret with canary values is synced (and fails). The canaries,
// plain and base64, appear in no output: the Application, `todoke app get` and `app diff`
// (table and JSON), History (API and `app history`), the events of a Watch stream and every
// stage's log. The failure still names the Secret and the policy.
//
// Needs the control plane (tests/cluster): run under the CTest fixture k8s, or by hand with
//   tests/cluster/start.sh /tmp/k8s && TODOKE_K8S_ENV=/tmp/k8s/env build/tests/k8s_canary_test
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <mutex>
#include <optional>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "test_namespace.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;
using ::testing::HasSubstr;
using ::todoke::test_files::ReadFile;
using ::todoke::test_files::WriteFile;

constexpr char kStringData[] = "canary-k8s-stringdata-2f7b";
constexpr char kData[] = "canary-k8s-data-a41c09";

class K8sCanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TODOKE_ASSIGN_CLUSTER_OR_SKIP(cluster_);
    absl::StatusOr<TestNamespace> ns = TestNamespace::Create(cluster_, "e2e-canary");
    ASSERT_TRUE(ns.ok()) << ns.status();
    namespace_.emplace(*std::move(ns));
    ns_ = namespace_->name();
    policy_ = "deny-secret-" + ns_;
  }

  void TearDown() override {
    suite_.reset();
    DeleteSecretEchoPolicy(cluster_, policy_);
    namespace_.reset();
  }

  // Runs the CLI against the suite's orchestrator; stdout and stderr.
  std::string Cli(const std::string& args) {
    auto out = Sh(absl::StrCat(BinaryPath("todoke"), " --server ", suite_->address("orchestrator"),
                               " --timeout 30s ", args, " 2>&1 || true"));
    return out.ok() ? *out : out.status().ToString();
  }

  ClusterInfo cluster_;
  std::optional<TestNamespace> namespace_;
  std::string ns_, policy_;
  TempDir temp_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(K8sCanaryTest, SecretValuesEchoedByTheApiServerAppearInNoOutput) {
  // A policy denying every Secret of the namespace with a message quoting its values.
  absl::StatusOr<std::string> installed = InstallSecretEchoPolicy(cluster_, ns_);
  ASSERT_TRUE(installed.ok()) << installed.status();
  ASSERT_EQ(*installed, policy_);

  const std::string root = temp_.path();
  const std::string src = root + "/src";
  ASSERT_TRUE(Sh("git init -q -b main src && cd src && git config user.email t@t && "
                 "git config user.name t && mkdir app",
                 root)
                  .ok());
  WriteFile(src + "/app/configmap.yaml",
            absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: ",
                         ns_, "}\ndata: {color: blue}\n"));
  WriteFile(src + "/app/secret.yaml",
            absl::StrCat("apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: ", ns_,
                         "}\ntype: Opaque\nstringData: {password: ", kStringData,
                         "}\ndata: {token: ", absl::Base64Escape(kData), "}\n"));
  ASSERT_TRUE(Sh("git add -A && git commit -q -m app", src).ok());

  TodokeSuite::Options options;
  options.orchestrator_flags = {"--default-interval=1h"};
  options.applier_flags = {"--kubeconfig=" + cluster_.kubeconfig,
                           absl::StrCat("--installation-id=canary", getpid())};
  options.all_stage_flags = {"--log-level=debug"};
  options.log_dir = root + "/logs";
  ASSERT_TRUE(Sh("mkdir -p logs", root).ok());
  auto suite = TodokeSuite::Start(root, options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  suite_ = *std::move(suite);

  EventRecorder recorder(suite_->api());  // every app's events, until the end of the test
  ASSERT_TRUE(recorder.watching()) << "the Watch stream was not registered in 30 s";

  v1::Application app;
  app.set_name("vault");
  auto* source = app.mutable_spec()->mutable_source();
  source->set_repo_url(src);
  source->set_target_revision("main");
  source->set_path("app");
  app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_(ns_);
  auto* policy = app.mutable_spec()->mutable_sync_policy();
  policy->set_automated(true);
  policy->mutable_interval()->set_seconds(3600);
  {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = app;
    v1::Application created;
    auto context = ContextWithTimeout(absl::Seconds(10));
    grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  // The sync fails on the Secret, and says why.
  auto failed = suite_->WaitFor(
      "vault",
      [&](const v1::Application& a) { return absl::StrContains(a.DebugString(), policy_); },
      absl::Seconds(120));
  ASSERT_TRUE(failed.ok()) << failed.status();
  v1::HistoryResponse history;
  for (absl::Time until = absl::Now() + absl::Seconds(60); absl::Now() < until;) {
    v1::HistoryRequest request;
    request.set_name("vault");
    history.Clear();
    auto context = ContextWithTimeout(absl::Seconds(10));
    ASSERT_TRUE(suite_->api().History(context.get(), request, &history).ok());
    if (history.entries_size() > 0) break;
    absl::SleepFor(absl::Milliseconds(250));
  }
  EXPECT_GT(history.entries_size(), 0) << "no History entry for the failed sync";

  std::vector<std::string> outputs;
  outputs.push_back("Application: " + failed->DebugString());
  outputs.push_back("History: " + history.DebugString());
  const std::string get = Cli("app get vault");
  outputs.push_back("app get: " + get);
  outputs.push_back("app get -o json: " + Cli("-o json app get vault"));
  outputs.push_back("app diff: " + Cli("app diff vault"));
  outputs.push_back("app diff -o json: " + Cli("-o json app diff vault"));
  outputs.push_back("app history: " + Cli("app history vault"));
  outputs.push_back("app history -o json: " + Cli("-o json app history vault"));
  // The error still names the object and the policy.
  EXPECT_THAT(failed->DebugString(), HasSubstr("db"));
  EXPECT_THAT(absl::StrCat(get, failed->DebugString()),
              HasSubstr(absl::StrCat("ValidatingAdmissionPolicy '", policy_, "'")));

  {
    const std::vector<std::string> events = recorder.Stop();
    EXPECT_FALSE(events.empty());
    outputs.push_back("events: " + absl::StrJoin(events, "\n"));
  }
  suite_.reset();  // the stages flush and stop: their logs are complete
  for (const char* stage : {"source-fetcher", "renderer", "differ", "applier", "orchestrator"}) {
    const std::string log = ReadFile(absl::StrCat(root, "/logs/", stage, ".log"));
    EXPECT_FALSE(log.empty()) << stage << " logged nothing at debug level";
    outputs.push_back(absl::StrCat(stage, " log: ", log));
  }

  for (const char* canary : {kStringData, kData}) {
    EXPECT_EQ(FindCanary(outputs, canary), "");
  }
}

}  // namespace
}  // namespace todoke::testing

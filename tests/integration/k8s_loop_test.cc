// The reconcile loop end to end on a real Kubernetes API server (tests/cluster): the five
// services as processes, the applier on the cluster through --kubeconfig, Applications registered
// over the orchestrator's gRPC API, the cluster observed with the cluster's own kubectl. What a
// user relies on:
//   - an app (Namespace, ConfigMap, Deployment, Service) converges: Synced and Healthy (kwok makes
//     the pods Ready), every object stamped with the tracking annotation and label, one history
//     entry, and no further sync while nothing changes;
//   - a manual change of a managed field is reverted by self-heal within about a second, once (no
//     endless loop: todoke's own apply triggers no other sync);
//   - ignoreDifferences on /spec/replicas: a `kubectl scale` stays, also across a sync; and by
//     managedFieldsManagers: replicas another field manager applies stay, also across syncs;
//   - an object removed from Git is pruned; objects without todoke's tracking id are never touched;
//   - a pushed image change rolls out (webhook), and Healthy means the rollout is done;
//   - delete with cascade removes the objects;
//   - kube-apiserver stopped and started again (a control plane of its own): the app converges to
//     what was pushed meanwhile, self-heal works again, and no managed object was deleted (DELETE
//     events recorded by independent `kubectl get --watch-only`, uids compared).
// Figures (convergence time, self-heal latency) are printed as "[figure] ...".
//
// Needs the control plane: runs under the CTest fixture k8s (TODOKE_K8S_ENV); skips when run by
// hand without it, fails instead when TODOKE_REQUIRE_ALL=1. By hand:
//   tests/cluster/start.sh /tmp/k8s && TODOKE_K8S_ENV=/tmp/k8s/env build/tests/k8s_loop_test
// E2E_DEBUG=1 runs the applier and the orchestrator with --log-level=debug.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_client.h"
#include "common/json_parse.h"
#include "gmock/gmock.h"
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
using ::testing::HasSubstr;

constexpr absl::Duration kConverge = absl::Seconds(120);
constexpr char kApp[] = "web";

using ::todoke::test_files::WriteFile;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string SourceDir() {
  const char* dir = std::getenv("TODOKE_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

void PrintFigure(const std::string& what, absl::Duration took) {
  std::printf("[figure] %s: %.0f ms\n", what.c_str(), absl::ToDoubleMilliseconds(took));
  std::fflush(stdout);
}

// `kubectl get --watch` of one resource, restarted when it ends (an API server restart ends
// it), every line kept with the time it arrived.
class KubectlWatch {
 public:
  KubectlWatch(const ClusterInfo& cluster, std::vector<std::string> args) {
    argv_ = {cluster.kubectl, "--kubeconfig=" + cluster.kubeconfig};
    for (std::string& arg : args) argv_.push_back(std::move(arg));
    thread_ = std::thread([this] { Run(); });
  }
  ~KubectlWatch() {
    stop_ = true;
    thread_.join();
  }

  size_t size() {
    absl::MutexLock lock(&mu_);
    return lines_.size();
  }
  std::vector<std::string> Lines() {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> lines;
    for (const auto& [at, line] : lines_) lines.push_back(line);
    return lines;
  }
  // Waits for a line at index >= `*from` containing `marker`; returns when it arrived and sets
  // `*from` past it.
  absl::StatusOr<absl::Time> WaitFor(absl::string_view marker, size_t* from,
                                     absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    absl::MutexLock lock(&mu_);
    while (true) {
      for (size_t i = *from; i < lines_.size(); ++i) {
        if (absl::StrContains(lines_[i].second, marker)) {
          *from = i + 1;
          return lines_[i].first;
        }
      }
      if (absl::Now() >= deadline) {
        return absl::DeadlineExceededError(absl::StrCat("kubectl ", absl::StrJoin(argv_, " "),
                                                        ": no line with \"", marker, "\" in ",
                                                        absl::FormatDuration(timeout)));
      }
      size_t seen = lines_.size();
      auto grew = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return lines_.size() > seen; };
      mu_.AwaitWithDeadline(absl::Condition(&grew), deadline);
    }
  }

 private:
  void Run() {
    while (!stop_) {
      absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv_);
      if (!child.ok()) return;
      while (!stop_) {
        absl::StatusOr<std::string> line = child->WaitForLine("", absl::Milliseconds(200));
        if (line.ok()) {
          absl::MutexLock lock(&mu_);
          lines_.emplace_back(absl::Now(), *line);
        } else if (!absl::IsDeadlineExceeded(line.status())) {
          break;  // kubectl ended: start it again
        }
      }
      if (!stop_) absl::SleepFor(absl::Milliseconds(300));
    }
  }

  std::vector<std::string> argv_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  std::vector<std::pair<absl::Time, std::string>> lines_ ABSL_GUARDED_BY(mu_);
  std::thread thread_;
};

class K8sLoopTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ClusterInfo cluster;
    TODOKE_ASSIGN_CLUSTER_OR_SKIP(cluster);
    Prepare(cluster);
  }

  void TearDown() override {
    suite_.reset();
    namespace_.reset();
  }

  // The namespace, the source repository and the five services, against `cluster`.
  void Prepare(const ClusterInfo& cluster) {
    cluster_ = cluster;
    absl::StatusOr<TestNamespace> ns = TestNamespace::Create(cluster_, "e2e-loop");
    ASSERT_TRUE(ns.ok()) << ns.status();
    namespace_.emplace(*std::move(ns));
    ns_ = namespace_->name();
    static int counter = 0;
    // One installation per test: its objects and another test's never meet in an inventory.
    installation_ = absl::StrCat("e2e", getpid(), "-", ++counter);

    src_ = temp_.path() + "/src";
    ASSERT_TRUE(Sh("git init -q -b main src", temp_.path()).ok());
    ASSERT_TRUE(
        Sh("mkdir -p app && git config user.email t@t && git config user.name t", src_).ok());
    WriteFile(src_ + "/app/namespace.yaml",
              absl::StrCat("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ", ns_, "\n"));
    WriteConfigMap("blue");
    WriteDeployment("nginx:1.25");
    WriteFile(
        src_ + "/app/service.yaml",
        absl::StrCat("apiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: ", ns_,
                     "\nspec:\n  selector: {app: web}\n"
                     "  ports: [{name: http, port: 80, targetPort: 8080}]\n"));
    WriteKustomization({"namespace.yaml", "configmap.yaml", "deployment.yaml", "service.yaml"});
    first_commit_ = Commit("web v1");

    TodokeSuite::Options options;
    options.orchestrator_flags = {"--default-interval=1h"};
    if (std::getenv("E2E_DEBUG") != nullptr) {
      options.orchestrator_flags.push_back("--log-level=debug");
    }
    options.applier_flags = {"--kubeconfig=" + cluster_.kubeconfig,
                             "--installation-id=" + installation_};
    if (std::getenv("E2E_DEBUG") != nullptr) options.applier_flags.push_back("--log-level=debug");
    auto suite = TodokeSuite::Start(temp_.path(), options);
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  void WriteConfigMap(const std::string& color) {
    WriteFile(src_ + "/app/configmap.yaml",
              absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n"
                           "  namespace: ",
                           ns_, "\ndata:\n  color: ", color, "\n"));
  }
  void WriteDeployment(const std::string& image) {
    WriteFile(src_ + "/app/deployment.yaml",
              absl::StrCat("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                           "  namespace: ",
                           ns_,
                           "\nspec:\n  replicas: 2\n  selector: {matchLabels: {app: web}}\n"
                           "  template:\n    metadata: {labels: {app: web}}\n"
                           "    spec:\n      containers:\n      - name: web\n        image: '",
                           image, "'\n        ports: [{containerPort: 8080}]\n"));
  }
  void WriteKustomization(const std::vector<std::string>& files) {
    WriteFile(src_ + "/app/kustomization.yaml",
              absl::StrCat("resources: [", absl::StrJoin(files, ", "), "]\n"));
  }
  std::string Commit(const std::string& message) {
    auto head = Sh(
        absl::StrCat("git add -A && git commit -q -m '", message, "' && git rev-parse HEAD"), src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  v1::Application WebApp() {
    v1::Application app;
    app.set_name(kApp);
    auto* source = app.mutable_spec()->mutable_source();
    source->set_repo_url(src_);
    source->set_target_revision("main");
    source->set_path("app");
    auto* kube = app.mutable_spec()->mutable_destination()->mutable_kubernetes();
    kube->set_namespace_(ns_);
    auto* policy = app.mutable_spec()->mutable_sync_policy();
    policy->set_automated(true);
    policy->set_prune(true);
    policy->set_self_heal(true);
    policy->mutable_interval()->set_seconds(3600);  // only triggers, never the interval
    return app;
  }

  grpc::Status Create(const v1::Application& app) {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = app;
    v1::Application response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    return suite_->api().CreateApplication(context.get(), request, &response);
  }

  static bool SyncedHealthyAt(const v1::Application& app, const std::string& commit) {
    return app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
           app.status().health() == types::v1::HEALTH_STATUS_HEALTHY &&
           app.status().revision() == commit;
  }

  // Registers the app and waits until it is Synced and Healthy at the first commit; returns how
  // long that took.
  absl::Duration CreateAndConverge(const v1::Application& app) {
    absl::Time start = absl::Now();
    grpc::Status created = Create(app);
    EXPECT_TRUE(created.ok()) << created.error_message();
    auto converged = suite_->WaitFor(
        kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, first_commit_); },
        kConverge);
    EXPECT_TRUE(converged.ok()) << converged.status();
    return absl::Now() - start;
  }

  std::vector<v1::HistoryEntry> History() {
    v1::HistoryRequest request;
    request.set_name(kApp);
    v1::HistoryResponse response;
    auto context = ContextWithTimeout(absl::Seconds(5));
    grpc::Status status = suite_->api().History(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return {response.entries().begin(), response.entries().end()};
  }

  v1::Application Get() {
    v1::GetApplicationRequest request;
    request.set_name(kApp);
    v1::Application app;
    auto context = ContextWithTimeout(absl::Seconds(5));
    grpc::Status status = suite_->api().GetApplication(context.get(), request, &app);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return app;
  }

  absl::StatusOr<std::string> Kubectl(std::vector<std::string> args) {
    return RunKubectl(cluster_, args);
  }
  // `kubectl get <kind> <name> -n ns -o json`, parsed; NOT_FOUND when the object does not exist.
  absl::StatusOr<Json> GetObject(const std::string& kind, const std::string& name,
                                 bool namespaced = true) {
    std::vector<std::string> args = {"get", kind, name, "-o", "json", "--ignore-not-found"};
    if (namespaced) args.push_back("--namespace=" + ns_);
    absl::StatusOr<std::string> text = Kubectl(args);
    if (!text.ok()) return text.status();
    if (absl::StripAsciiWhitespace(*text).empty()) {
      return absl::NotFoundError(absl::StrCat(kind, " ", name, " not found"));
    }
    return ParseJson(*text);
  }
  static std::string Field(const Json& object, const std::string& pointer) {
    const Json* at = &object;
    for (absl::string_view part : absl::StrSplit(absl::string_view(pointer).substr(1), '/')) {
      std::string token = absl::StrReplaceAll(part, {{"~1", "/"}, {"~0", "~"}});
      if (at->is_object()) {
        auto it = at->find(token);
        if (it == at->end()) return "";
        at = &*it;
      } else if (at->is_array()) {
        size_t index = std::stoul(token);
        if (index >= at->size()) return "";
        at = &(*at)[index];
      } else {
        return "";
      }
    }
    return at->is_string() ? at->get<std::string>() : at->dump();
  }
  // Waits until `kind name` is gone (NOT_FOUND); false after `timeout`.
  bool WaitGone(const std::string& kind, const std::string& name, absl::Duration timeout,
                bool namespaced = true) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      if (absl::IsNotFound(GetObject(kind, name, namespaced).status())) return true;
      absl::SleepFor(absl::Milliseconds(250));
    }
    return false;
  }

  // `kubectl get <kind> <name> --watch` printing `jsonpath` per event.
  std::unique_ptr<KubectlWatch> Watch(const std::string& kind, const std::string& name,
                                      const std::string& jsonpath) {
    return std::make_unique<KubectlWatch>(
        cluster_, std::vector<std::string>{"get", kind, name, "--namespace=" + ns_, "--watch", "-o",
                                           "jsonpath=" + jsonpath + "{\"\\n\"}"});
  }

  // Waits until the history stops growing for `quiet`; returns its final size (bounded).
  size_t SettledHistorySize(absl::Duration quiet) {
    size_t size = History().size();
    absl::Time stable_since = absl::Now();
    absl::Time deadline = absl::Now() + quiet + absl::Seconds(60);
    while (absl::Now() - stable_since < quiet && absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(500));
      size_t now = History().size();
      if (now != size) {
        size = now;
        stable_since = absl::Now();
      }
    }
    return size;
  }

  ClusterInfo cluster_;
  std::optional<TestNamespace> namespace_;
  std::string ns_;
  std::string installation_;
  TempDir temp_;
  std::string src_;
  std::string first_commit_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(K8sLoopTest, AppConvergesSyncedAndHealthyWithTrackingStamps) {
  absl::Duration took = CreateAndConverge(WebApp());
  PrintFigure("convergence (create -> Synced+Healthy, 4 objects, 2 pods Ready)", took);
  v1::Application app = Get();
  ASSERT_TRUE(SyncedHealthyAt(app, first_commit_)) << app.DebugString();
  EXPECT_EQ(app.status().synced_revision(), first_commit_);
  EXPECT_EQ(app.status().inventory_size(), 4);
  ASSERT_EQ(app.status().resources_size(), 4) << app.DebugString();
  for (const v1::ResourceStatus& resource : app.status().resources()) {
    EXPECT_EQ(resource.sync(), types::v1::SYNC_STATUS_SYNCED) << resource.DebugString();
    EXPECT_EQ(resource.health(), types::v1::HEALTH_STATUS_HEALTHY) << resource.DebugString();
  }
  EXPECT_EQ(app.status().conditions_size(), 0) << app.DebugString();

  // Each object carries the tracking annotation (installation, app, its own key) and the label.
  struct Expected {
    std::string kind, name, id;
    bool namespaced;
  };
  std::vector<Expected> objects = {
      {"namespace", ns_, absl::StrCat(installation_, "/web:/Namespace:/", ns_), false},
      {"configmap", "settings", absl::StrCat(installation_, "/web:/ConfigMap:", ns_, "/settings"),
       true},
      {"deployment", "web", absl::StrCat(installation_, "/web:apps/Deployment:", ns_, "/web"),
       true},
      {"service", "web", absl::StrCat(installation_, "/web:/Service:", ns_, "/web"), true},
  };
  for (const Expected& expected : objects) {
    absl::StatusOr<Json> live = GetObject(expected.kind, expected.name, expected.namespaced);
    ASSERT_TRUE(live.ok()) << live.status();
    EXPECT_EQ(Field(*live, "/metadata/annotations/todoke.dev~1tracking-id"), expected.id);
    EXPECT_EQ(Field(*live, "/metadata/labels/todoke.dev~1app"), "web");
  }
  // kwok ran the pods: the Deployment is Available with both replicas Ready.
  absl::StatusOr<Json> deployment = GetObject("deployment", "web");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(Field(*deployment, "/status/readyReplicas"), "2");

  std::vector<v1::HistoryEntry> history = History();
  ASSERT_EQ(history.size(), 1u);
  EXPECT_EQ(history[0].revision(), first_commit_);
  EXPECT_EQ(history[0].operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(history[0].operation().initiated_by(), "automated");
  EXPECT_EQ(history[0].resources_size(), 4);
  for (const v1::ResourceStatus& result : history[0].resources()) {
    // The test's Namespace existed already (made by TestNamespace): taken over, not created.
    EXPECT_EQ(result.action(), result.key().kind() == "Namespace" ? "configured" : "created")
        << result.DebugString();
  }

  // Nothing changes in Git nor live (the controllers only write status): no further sync.
  EXPECT_EQ(SettledHistorySize(absl::Seconds(5)), 1u);
  EXPECT_TRUE(SyncedHealthyAt(Get(), first_commit_));
}

TEST_F(K8sLoopTest, ManualChangeIsRevertedBySelfHealOnceAndQuickly) {
  absl::Time created = absl::Now();
  CreateAndConverge(WebApp());
  ASSERT_EQ(History().size(), 1u);

  std::unique_ptr<KubectlWatch> colors = Watch("configmap", "settings", "{.data.color}");
  size_t at = 0;
  ASSERT_TRUE(colors->WaitFor("blue", &at, absl::Seconds(30)).ok());
  auto patch_color = [&](const std::string& color) -> absl::StatusOr<absl::Duration> {
    absl::StatusOr<std::string> patched =
        Kubectl({"patch", "configmap", "settings", "--namespace=" + ns_, "--type=merge", "-p",
                 absl::StrCat(R"({"data":{"color":")", color, R"("}})")});
    if (!patched.ok()) return patched.status();
    absl::StatusOr<absl::Time> changed = colors->WaitFor(color, &at, absl::Seconds(10));
    if (!changed.ok()) return changed.status();
    absl::StatusOr<absl::Time> reverted = colors->WaitFor("blue", &at, absl::Seconds(30));
    if (!reverted.ok()) return reverted.status();
    return *reverted - *changed;
  };
  // Right after the app converged, the orchestrator may not have its drift stream for this
  // destination yet (the streams are checked every few seconds): the change must still be
  // reverted, when the stream opens.
  absl::StatusOr<absl::Duration> early = patch_color("red");
  ASSERT_TRUE(early.ok()) << "self-heal did not revert a change made right after the sync: "
                          << early.status();
  PrintFigure("self-heal latency of a change right after the first sync (drift stream opening)",
              *early);
  EXPECT_LT(*early, absl::Seconds(15));

  // Steady state: the drift stream is open.
  absl::SleepFor(std::max(absl::ZeroDuration(), created + absl::Seconds(7) - absl::Now()));
  std::vector<absl::Duration> latencies;
  absl::StatusOr<absl::Duration> steady = patch_color("green");
  ASSERT_TRUE(steady.ok()) << "self-heal did not revert the ConfigMap: " << steady.status();
  latencies.push_back(*steady);
  PrintFigure("self-heal latency, ConfigMap data.color", *steady);

  // A Deployment's pod template image edited by hand.
  std::unique_ptr<KubectlWatch> images =
      Watch("deployment", "web", "{.spec.template.spec.containers[0].image}");
  size_t image_at = 0;
  ASSERT_TRUE(images->WaitFor("nginx:1.25", &image_at, absl::Seconds(30)).ok());
  ASSERT_TRUE(Kubectl({"patch", "deployment", "web", "--namespace=" + ns_, "--type=json", "-p",
                       R"([{"op":"replace","path":"/spec/template/spec/containers/0/image",)"
                       R"("value":"nginx:edited"}])"})
                  .ok());
  absl::StatusOr<absl::Time> edited = images->WaitFor("nginx:edited", &image_at, absl::Seconds(10));
  ASSERT_TRUE(edited.ok()) << edited.status();
  absl::StatusOr<absl::Time> restored = images->WaitFor("nginx:1.25", &image_at, absl::Seconds(30));
  ASSERT_TRUE(restored.ok()) << "self-heal did not revert the Deployment: " << restored.status();
  latencies.push_back(*restored - *edited);
  PrintFigure("self-heal latency, Deployment image", latencies.back());
  for (absl::Duration latency : latencies) EXPECT_LT(latency, absl::Seconds(5));

  auto synced = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, first_commit_); }, kConverge);
  ASSERT_TRUE(synced.ok()) << synced.status();
  // One self-heal sync per manual change, and then calm: todoke's own apply (and the controllers
  // rolling the Deployment back) trigger no other sync.
  size_t settled = SettledHistorySize(absl::Seconds(6));
  EXPECT_EQ(settled, 4u);
  std::vector<v1::HistoryEntry> history = History();
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0].operation().initiated_by(), "self-heal");
  EXPECT_EQ(history[0].operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  v1::Application app = Get();
  for (const v1::Condition& condition : app.status().conditions()) {
    ADD_FAILURE() << "unexpected condition " << condition.type() << ": " << condition.message();
  }
  EXPECT_EQ(Field(*GetObject("configmap", "settings"), "/data/color"), "blue");
}

TEST_F(K8sLoopTest, IgnoredReplicasAreNotRevertedEvenBySyncsOfOtherFields) {
  v1::Application app = WebApp();
  types::v1::IgnoreRule* rule = app.mutable_spec()->add_ignore_differences();
  rule->set_group("apps");
  rule->set_kind("Deployment");
  rule->add_json_pointers("/spec/replicas");
  CreateAndConverge(app);

  ASSERT_TRUE(Kubectl({"scale", "deployment", "web", "--namespace=" + ns_, "--replicas=3"}).ok());
  // The scale is drift todoke was told to ignore: no sync, still Synced.
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(SettledHistorySize(absl::Seconds(3)), 1u);
  EXPECT_EQ(Get().status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(Field(*GetObject("deployment", "web"), "/spec/replicas"), "3");

  // A sync for another reason (self-heal of the ConfigMap) applies the Deployment too: it must
  // carry the live replicas, not Git's.
  std::unique_ptr<KubectlWatch> colors = Watch("configmap", "settings", "{.data.color}");
  size_t at = 0;
  // The watch's first line (the listed object) shows it is established: a patch made before
  // it could be reverted before kubectl lists, and "red" would never be printed.
  ASSERT_TRUE(colors->WaitFor("blue", &at, absl::Seconds(30)).ok());
  ASSERT_TRUE(Kubectl({"patch", "configmap", "settings", "--namespace=" + ns_, "--type=merge", "-p",
                       R"({"data":{"color":"red"}})"})
                  .ok());
  ASSERT_TRUE(colors->WaitFor("red", &at, absl::Seconds(10)).ok());
  ASSERT_TRUE(colors->WaitFor("blue", &at, absl::Seconds(60)).ok())
      << "no self-heal; app: " << Get().DebugString();
  auto synced = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, first_commit_); }, kConverge);
  ASSERT_TRUE(synced.ok()) << synced.status();
  EXPECT_EQ(SettledHistorySize(absl::Seconds(4)), 2u);
  std::vector<v1::HistoryEntry> history = History();
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0].operation().phase(), v1::OPERATION_PHASE_SUCCEEDED)
      << history[0].DebugString();
  absl::StatusOr<Json> deployment = GetObject("deployment", "web");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(Field(*deployment, "/spec/replicas"), "3") << "the sync reverted the scale";
  // And a pushed change to the Deployment itself keeps the scale too.
  WriteDeployment("nginx:1.26");
  std::string second = Commit("nginx 1.26");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto rolled = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, second); }, kConverge);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  deployment = GetObject("deployment", "web");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(Field(*deployment, "/spec/template/spec/containers/0/image"), "nginx:1.26");
  EXPECT_EQ(Field(*deployment, "/spec/replicas"), "3") << "the sync reverted the scale";
}

TEST_F(K8sLoopTest, FieldsOfAnIgnoredFieldManagerAreNotRevertedBySyncs) {
  // Another controller (an autoscaler, an operator) sets spec.replicas with server-side apply
  // under its own field manager; the app's ignoreDifferences names that manager. todoke must
  // neither count it as drift nor take the field back when it syncs for another reason.
  v1::Application app = WebApp();
  types::v1::IgnoreRule* rule = app.mutable_spec()->add_ignore_differences();
  rule->set_group("apps");
  rule->set_kind("Deployment");
  rule->add_managed_fields_managers("e2e-autoscaler");
  CreateAndConverge(app);

  const std::string scale = temp_.path() + "/scale.yaml";
  WriteFile(scale, absl::StrCat("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                                "  namespace: ",
                                ns_, "\nspec:\n  replicas: 3\n"));
  // --force-conflicts: todoke's apply owns replicas until now.
  absl::StatusOr<std::string> applied =
      Kubectl({"apply", "--server-side", "--field-manager=e2e-autoscaler", "--force-conflicts",
               "-f", scale});
  ASSERT_TRUE(applied.ok()) << applied.status();
  absl::SleepFor(absl::Seconds(3));
  EXPECT_EQ(SettledHistorySize(absl::Seconds(3)), 1u) << "the autoscaler's change was synced";
  EXPECT_EQ(Get().status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(Field(*GetObject("deployment", "web"), "/spec/replicas"), "3");

  // Self-heal of the ConfigMap applies the Deployment too: with the autoscaler's replicas.
  std::unique_ptr<KubectlWatch> colors = Watch("configmap", "settings", "{.data.color}");
  size_t at = 0;
  // The watch's first line (the listed object) shows it is established: a patch made before
  // it could be reverted before kubectl lists, and "red" would never be printed.
  ASSERT_TRUE(colors->WaitFor("blue", &at, absl::Seconds(30)).ok());
  ASSERT_TRUE(Kubectl({"patch", "configmap", "settings", "--namespace=" + ns_, "--type=merge", "-p",
                       R"({"data":{"color":"red"}})"})
                  .ok());
  ASSERT_TRUE(colors->WaitFor("red", &at, absl::Seconds(10)).ok());
  ASSERT_TRUE(colors->WaitFor("blue", &at, absl::Seconds(60)).ok())
      << "no self-heal; app: " << Get().DebugString();
  auto synced = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, first_commit_); }, kConverge);
  ASSERT_TRUE(synced.ok()) << synced.status();
  std::vector<v1::HistoryEntry> history = History();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].operation().phase(), v1::OPERATION_PHASE_SUCCEEDED)
      << history[0].DebugString();
  EXPECT_EQ(Field(*GetObject("deployment", "web"), "/spec/replicas"), "3")
      << "the self-heal sync took replicas back from the autoscaler's field manager";

  // A pushed change of the Deployment itself rolls out and keeps the autoscaler's replicas.
  WriteDeployment("nginx:1.26");
  std::string second = Commit("nginx 1.26");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto rolled = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, second); }, kConverge);
  ASSERT_TRUE(rolled.ok()) << rolled.status();
  absl::StatusOr<Json> deployment = GetObject("deployment", "web");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(Field(*deployment, "/spec/template/spec/containers/0/image"), "nginx:1.26");
  EXPECT_EQ(Field(*deployment, "/spec/replicas"), "3") << "the sync reverted the autoscaler";
  // todoke's syncs left replicas out of what they applied, so the autoscaler still owns it alone:
  // it changes it again without --force-conflicts and meets no conflict (had todoke applied the
  // live value, it would co-own the field and this apply would fail), and no sync follows.
  absl::StatusOr<Json> owners = GetObject("deployment", "web");
  ASSERT_TRUE(owners.ok());
  WriteFile(scale, absl::StrCat("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n"
                                "  namespace: ",
                                ns_, "\nspec:\n  replicas: 4\n"));
  applied = Kubectl({"apply", "--server-side", "--field-manager=e2e-autoscaler", "-f", scale});
  ASSERT_TRUE(applied.ok()) << applied.status()
                            << "\nmanagedFields: " << (*owners)["metadata"]["managedFields"].dump();
  EXPECT_EQ(SettledHistorySize(absl::Seconds(3)), 3u);
  EXPECT_EQ(Field(*GetObject("deployment", "web"), "/spec/replicas"), "4");
}

TEST_F(K8sLoopTest, RemovedObjectIsPrunedAndUntrackedObjectsAreNeverTouched) {
  CreateAndConverge(WebApp());
  // Two objects todoke does not track: a plain one, and one that carries the app's label but no
  // tracking id (it is in the applier's label-filtered cache).
  ASSERT_TRUE(
      Kubectl({"create", "configmap", "bystander", "--namespace=" + ns_, "--from-literal=k=v"})
          .ok());
  ASSERT_TRUE(
      Kubectl({"create", "configmap", "impostor", "--namespace=" + ns_, "--from-literal=k=v"})
          .ok());
  ASSERT_TRUE(
      Kubectl({"label", "configmap", "impostor", "--namespace=" + ns_, "todoke.dev/app=web"}).ok());
  absl::StatusOr<Json> bystander = GetObject("configmap", "bystander");
  absl::StatusOr<Json> impostor = GetObject("configmap", "impostor");
  ASSERT_TRUE(bystander.ok() && impostor.ok());

  ASSERT_TRUE(Sh("git rm -q app/service.yaml", src_).ok());
  WriteKustomization({"namespace.yaml", "configmap.yaml", "deployment.yaml"});
  std::string second = Commit("no service");
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto app = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, second); }, kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_TRUE(WaitGone("service", "web", absl::Seconds(30))) << "the Service was not pruned";
  EXPECT_EQ(app->status().inventory_size(), 3);
  EXPECT_EQ(app->status().resources_size(), 3);
  std::vector<v1::HistoryEntry> history = History();
  ASSERT_EQ(history.size(), 2u);
  bool pruned = false;
  for (const v1::ResourceStatus& result : history[0].resources()) {
    if (result.key().kind() == "Service") pruned = result.action() == "pruned";
  }
  EXPECT_TRUE(pruned) << history[0].DebugString();

  // A further round (refresh) changes nothing for them either.
  v1::RefreshRequest refresh;
  refresh.set_name(kApp);
  v1::Application refreshed;
  auto context = ContextWithTimeout(absl::Seconds(30));
  ASSERT_TRUE(suite_->api().Refresh(context.get(), refresh, &refreshed).ok());
  for (const auto& [name, before] :
       {std::pair<std::string, Json>{"bystander", *bystander}, {"impostor", *impostor}}) {
    absl::StatusOr<Json> now = GetObject("configmap", name);
    ASSERT_TRUE(now.ok()) << name << " was deleted: " << now.status();
    EXPECT_EQ(Field(*now, "/metadata/uid"), Field(before, "/metadata/uid")) << name;
    EXPECT_EQ(Field(*now, "/metadata/resourceVersion"), Field(before, "/metadata/resourceVersion"))
        << name << " was modified";
  }
}

TEST_F(K8sLoopTest, PushedImageChangeRollsOut) {
  CreateAndConverge(WebApp());
  WriteDeployment("nginx:1.26");
  std::string second = Commit("nginx 1.26");
  absl::Time pushed = absl::Now();
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  auto app = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return SyncedHealthyAt(a, second); }, kConverge);
  ASSERT_TRUE(app.ok()) << app.status();
  PrintFigure("rollout (webhook -> Synced+Healthy at the new commit)", absl::Now() - pushed);
  EXPECT_EQ(app->status().synced_revision(), second);
  std::vector<v1::HistoryEntry> history = History();
  ASSERT_EQ(history.size(), 2u);
  EXPECT_EQ(history[0].operation().initiated_by(), "webhook");
  // Healthy means the rollout is done: the new template observed, every replica updated and
  // Ready, the pods running the new image.
  absl::StatusOr<Json> deployment = GetObject("deployment", "web");
  ASSERT_TRUE(deployment.ok());
  EXPECT_EQ(Field(*deployment, "/spec/template/spec/containers/0/image"), "nginx:1.26");
  EXPECT_EQ(Field(*deployment, "/status/observedGeneration"),
            Field(*deployment, "/metadata/generation"));
  EXPECT_EQ(Field(*deployment, "/status/updatedReplicas"), "2");
  EXPECT_EQ(Field(*deployment, "/status/readyReplicas"), "2");
  absl::StatusOr<std::string> images =
      Kubectl({"get", "pods", "--namespace=" + ns_, "-l", "app=web",
               "--field-selector=status.phase=Running", "-o",
               "jsonpath={range .items[*]}{.spec.containers[0].image}{\"\\n\"}{end}"});
  ASSERT_TRUE(images.ok()) << images.status();
  int new_pods = 0;
  for (absl::string_view line : absl::StrSplit(*images, '\n', absl::SkipEmpty())) {
    if (line == "nginx:1.26") ++new_pods;
  }
  EXPECT_GE(new_pods, 2) << *images;
}

TEST_F(K8sLoopTest, DeleteWithCascadeRemovesTheObjects) {
  CreateAndConverge(WebApp());
  ASSERT_TRUE(
      Kubectl({"create", "configmap", "bystander", "--namespace=" + ns_, "--from-literal=k=v"})
          .ok());
  v1::DeleteApplicationRequest request;
  request.set_name(kApp);
  request.set_cascade(true);
  v1::DeleteApplicationResponse response;
  auto context = ContextWithTimeout(absl::Seconds(60));
  grpc::Status status = suite_->api().DeleteApplication(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_TRUE(WaitGone("configmap", "settings", absl::Seconds(60)));
  EXPECT_TRUE(WaitGone("service", "web", absl::Seconds(60)));
  EXPECT_TRUE(WaitGone("deployment", "web", absl::Seconds(60)));
  // The pods go with their Deployment (foreground propagation).
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  absl::StatusOr<std::string> pods;
  while (absl::Now() < deadline) {
    pods = Kubectl({"get", "pods", "--namespace=" + ns_, "-l", "app=web", "-o", "name"});
    if (pods.ok() && absl::StripAsciiWhitespace(*pods).empty()) break;
    absl::SleepFor(absl::Milliseconds(500));
  }
  EXPECT_TRUE(pods.ok() && absl::StripAsciiWhitespace(*pods).empty()) << pods.value_or("");
  // An object todoke never tracked stays.
  EXPECT_TRUE(GetObject("configmap", "bystander").ok());
  v1::GetApplicationRequest get;
  get.set_name(kApp);
  v1::Application gone;
  auto get_context = ContextWithTimeout(absl::Seconds(5));
  EXPECT_EQ(suite_->api().GetApplication(get_context.get(), get, &gone).error_code(),
            grpc::StatusCode::NOT_FOUND);
  // The Namespace is cluster-critical: the applier never prunes it without
  // allow_cluster_critical, and it still holds the untracked ConfigMap anyway.
  absl::StatusOr<Json> ns = GetObject("namespace", ns_, /*namespaced=*/false);
  ASSERT_TRUE(ns.ok());
  EXPECT_EQ(Field(*ns, "/metadata/deletionTimestamp"), "");
}

// kube-apiserver stopped and started again, on a control plane of this test's own (the shared
// fixture is never disturbed).
class ApiServerRestartTest : public K8sLoopTest {
 protected:
  void SetUp() override {
    TODOKE_REQUIRE_K8S_FIXTURE_OR_SKIP();
    dir_ = absl::StrCat(::testing::TempDir(), "/todoke-k8s-loop-restart-", getpid());
    mkdir(dir_.c_str(), 0700);
    auto started = Sh(absl::StrCat("'", SourceDir(), "/tests/cluster/start.sh' '", dir_, "'"));
    ASSERT_TRUE(started.ok()) << started.status();
    started_ = true;
    absl::StatusOr<ClusterInfo> cluster = LoadClusterFromFile(dir_ + "/env");
    ASSERT_TRUE(cluster.ok()) << cluster.status();
    Prepare(*cluster);
  }

  void TearDown() override {
    K8sLoopTest::TearDown();
    if (started_) (void)Sh(absl::StrCat("'", SourceDir(), "/tests/cluster/stop.sh' '", dir_, "'"));
    if (!dir_.empty() && !absl::StrContains(dir_, "'"))
      (void)Sh(absl::StrCat("rm -rf '", dir_, "'"));
  }

  std::string dir_;
  bool started_ = false;
};

TEST_F(ApiServerRestartTest, AppsConvergeAfterTheRestartAndNothingIsDeleted) {
  absl::Duration took = CreateAndConverge(WebApp());
  PrintFigure("convergence on a fresh control plane", took);
  struct Managed {
    std::string kind, name, uid;
    bool namespaced;
  };
  std::vector<Managed> managed = {{"namespace", ns_, "", false},
                                  {"configmap", "settings", "", true},
                                  {"deployment", "web", "", true},
                                  {"service", "web", "", true}};
  for (Managed& object : managed) {
    absl::StatusOr<Json> live = GetObject(object.kind, object.name, object.namespaced);
    ASSERT_TRUE(live.ok()) << live.status();
    object.uid = Field(*live, "/metadata/uid");
  }
  // Independent witnesses: one `kubectl get --watch-only` per kind, restarted when it ends.
  std::vector<std::unique_ptr<KubectlWatch>> witnesses;
  for (const Managed& object : managed) {
    std::vector<std::string> args = {"get",
                                     object.kind,
                                     "--watch-only",
                                     "--output-watch-events",
                                     "-o",
                                     "jsonpath={.type} {.object.kind} {.object.metadata.name} "
                                     "{.object.metadata.uid}{\"\\n\"}"};
    if (object.namespaced) args.push_back("--namespace=" + ns_);
    witnesses.push_back(std::make_unique<KubectlWatch>(cluster_, args));
  }
  absl::SleepFor(absl::Seconds(2));  // the witnesses' watches are open

  absl::StatusOr<std::vector<std::string>> argv = StopApiServer(dir_);
  ASSERT_TRUE(argv.ok()) << argv.status();
  // While it is down, a commit is pushed: the app cannot converge, and says why.
  WriteConfigMap("green");
  std::string second = Commit("green");
  absl::Time pushed = absl::Now();
  ASSERT_EQ(*suite_->PostWebhook(src_, "refs/heads/main"), 202);
  // The applier answers UNAVAILABLE at once once its cache's relist fails (before, it waited
  // 5 s for the cache each time, and the orchestrator's retries of UNAVAILABLE took ~26 s).
  auto down = suite_->WaitFor(
      kApp, [&](const v1::Application& a) { return a.status().conditions_size() > 0; },
      absl::Seconds(90));
  EXPECT_TRUE(down.ok()) << down.status();
  if (down.ok()) {
    PrintFigure("API server down: push -> condition on the app", absl::Now() - pushed);
    std::printf("while the API server is down: %s: %s\n",
                down->status().conditions(0).type().c_str(),
                down->status().conditions(0).message().c_str());
    // It names the stage and the cause (the cluster), not only "Deadline Exceeded".
    EXPECT_THAT(down->status().conditions(0).message(), HasSubstr("applier"));
    EXPECT_THAT(down->status().conditions(0).message(), HasSubstr("watch cache not synced"));
  }
  EXPECT_FALSE(SyncedHealthyAt(Get(), second));

  absl::Time restarted = absl::Now();
  absl::Status back = StartApiServer(dir_, *argv, cluster_, absl::Seconds(90));
  ASSERT_TRUE(back.ok()) << back;
  PrintFigure("kube-apiserver back (start -> /readyz)", absl::Now() - restarted);
  absl::Time ready = absl::Now();
  auto converged = suite_->WaitFor(
      kApp,
      [&](const v1::Application& a) {
        return SyncedHealthyAt(a, second) && a.status().conditions_size() == 0;
      },
      kConverge);
  ASSERT_TRUE(converged.ok()) << converged.status();
  PrintFigure("convergence after the restart (/readyz -> Synced+Healthy at the pushed commit)",
              absl::Now() - ready);
  EXPECT_EQ(Field(*GetObject("configmap", "settings"), "/data/color"), "green");

  // Self-heal works again: the drift stream is back.
  std::unique_ptr<KubectlWatch> colors = Watch("configmap", "settings", "{.data.color}");
  size_t at = 0;
  ASSERT_TRUE(colors->WaitFor("green", &at, absl::Seconds(30)).ok());
  ASSERT_TRUE(Kubectl({"patch", "configmap", "settings", "--namespace=" + ns_, "--type=merge", "-p",
                       R"({"data":{"color":"red"}})"})
                  .ok());
  absl::StatusOr<absl::Time> changed = colors->WaitFor("red", &at, absl::Seconds(10));
  ASSERT_TRUE(changed.ok()) << changed.status();
  absl::StatusOr<absl::Time> reverted = colors->WaitFor("green", &at, absl::Seconds(30));
  ASSERT_TRUE(reverted.ok()) << "no self-heal after the restart: " << reverted.status();
  PrintFigure("self-heal latency after the restart", *reverted - *changed);

  // No managed object was deleted: the same uids, and no DELETED event for them.
  for (const Managed& object : managed) {
    absl::StatusOr<Json> live = GetObject(object.kind, object.name, object.namespaced);
    ASSERT_TRUE(live.ok()) << object.kind << " " << object.name << ": " << live.status();
    EXPECT_EQ(Field(*live, "/metadata/uid"), object.uid)
        << object.kind << " " << object.name << " was deleted and created again";
    EXPECT_EQ(Field(*live, "/metadata/deletionTimestamp"), "") << object.kind << " " << object.name;
  }
  size_t events = 0;
  for (std::unique_ptr<KubectlWatch>& witness : witnesses) {
    for (const std::string& line : witness->Lines()) {
      ++events;
      for (const Managed& object : managed) {
        if (absl::StartsWith(line, "DELETED") && absl::StrContains(line, object.uid)) {
          ADD_FAILURE() << "managed object deleted: " << line;
        }
      }
    }
  }
  std::printf("witnesses recorded %zu events, none a DELETED of a managed object\n", events);
  EXPECT_GT(events, 0u) << "the witnesses saw nothing (not even the pushed change)";
}

}  // namespace
}  // namespace todoke::testing

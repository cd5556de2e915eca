// KubeClient against the real kube-apiserver of tests/cluster (the CTest fixture "k8s"):
// discovery, server-side apply (no-op, conflicts, force, dry run), create/replace/patch,
// list with selectors and paging, watch (a kubectl change within a second), delete with
// preconditions, and every way to authenticate: token, kubeconfig, client certificate signed by
// the cluster's CA, exec plugin, and a wrong token. (The 410 of an expired resourceVersion
// depends on etcd compaction timing: kube_client_local_test covers it.)
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/applier/core/kube/kube_client.h"
#include "services/applier/core/kube/kube_config.h"
#include "test_namespace.h"

namespace todoke::applier::kube {
namespace {

using ::testing::HasSubstr;
using ::todoke::testing::ClusterInfo;
using ::todoke::testing::RunKubectl;
using ::todoke::testing::TestNamespace;

absl::Time In(absl::Duration d) { return absl::Now() + d; }

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

class KubeClientK8sTest : public ::testing::Test {
 protected:
  void SetUp() override {
    TODOKE_ASSIGN_CLUSTER_OR_SKIP(cluster_);
    absl::StatusOr<TestNamespace> ns = TestNamespace::Create(cluster_, "kube-client");
    ASSERT_TRUE(ns.ok()) << ns.status();
    ns_ = std::make_unique<TestNamespace>(*std::move(ns));
    client_ = MakeClient(TokenConfig());
  }

  KubeConfig TokenConfig() const {
    KubeConfig config;
    config.server = cluster_.server;
    config.ca_pem = ReadFile(cluster_.ca_file);
    config.token = cluster_.token;
    config.source = "test";
    return config;
  }

  static std::unique_ptr<KubeClient> MakeClient(KubeConfig config) {
    absl::StatusOr<std::unique_ptr<KubeClient>> client = KubeClient::Create(std::move(config));
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? *std::move(client) : nullptr;
  }

  const std::string& ns() const { return ns_->name(); }

  std::string Kubectl(const std::vector<std::string>& args) {
    absl::StatusOr<std::string> out = RunKubectl(cluster_, args);
    EXPECT_TRUE(out.ok()) << out.status();
    return out.ok() ? *out : "";
  }

  Json ConfigMap(const std::string& name, Json data, Json labels = Json::object()) {
    return Json{{"apiVersion", "v1"},
                {"kind", "ConfigMap"},
                {"metadata", {{"name", name}, {"namespace", ns()}, {"labels", labels}}},
                {"data", std::move(data)}};
  }

  static std::string Rv(const Json& object) {
    return object["metadata"].value("resourceVersion", "");
  }

  ClusterInfo cluster_;
  std::unique_ptr<TestNamespace> ns_;
  std::unique_ptr<KubeClient> client_;
};

TEST_F(KubeClientK8sTest, DiscoveryMapsKindsAndScope) {
  struct Case {
    const char* group;
    const char* kind;
    const char* resource;
    bool namespaced;
  };
  for (const Case& c :
       {Case{"apps", "Deployment", "deployments", true}, Case{"", "ConfigMap", "configmaps", true},
        Case{"", "Namespace", "namespaces", false},
        Case{"apiextensions.k8s.io", "CustomResourceDefinition", "customresourcedefinitions",
             false},
        Case{"rbac.authorization.k8s.io", "ClusterRole", "clusterroles", false}}) {
    absl::StatusOr<ApiResource> r =
        client_->ResourceFor(c.group, "", c.kind, In(absl::Seconds(10)));
    ASSERT_TRUE(r.ok()) << c.kind << ": " << r.status();
    EXPECT_EQ(r->resource, c.resource);
    EXPECT_EQ(r->namespaced, c.namespaced) << c.kind;
    EXPECT_EQ(r->version, "v1") << c.kind;
    EXPECT_THAT(r->verbs, ::testing::Contains("patch")) << c.kind;
  }
  absl::StatusOr<ApiResource> deploy =
      client_->ResourceFor("apps", "v1", "Deployment", In(absl::Seconds(10)));
  ASSERT_TRUE(deploy.ok());
  EXPECT_THAT(deploy->subresources, ::testing::IsSupersetOf({"status", "scale"}));
  absl::StatusOr<ApiResource> unknown =
      client_->ResourceFor("example.invalid", "v1", "Nothing", In(absl::Seconds(10)));
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(KubeClientK8sTest, CustomResourceKindFoundAfterItsCrdIsEstablished) {
  const std::string group = absl::StrCat(ns(), ".todoke.test");
  Json crd = {
      {"apiVersion", "apiextensions.k8s.io/v1"},
      {"kind", "CustomResourceDefinition"},
      {"metadata", {{"name", absl::StrCat("widgets.", group)}}},
      {"spec",
       {{"group", group},
        {"scope", "Namespaced"},
        {"names", {{"plural", "widgets"}, {"singular", "widget"}, {"kind", "Widget"}}},
        {"versions", Json::array({{{"name", "v1"},
                                   {"served", true},
                                   {"storage", true},
                                   {"schema",
                                    {{"openAPIV3Schema",
                                      {{"type", "object"},
                                       {"x-kubernetes-preserve-unknown-fields", true}}}}}}})}}}};
  // Warm the cache first, so the kind is unknown to it.
  ASSERT_TRUE(client_->Refresh(In(absl::Seconds(10))).ok());
  absl::StatusOr<Json> applied = client_->ServerSideApply(crd, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(applied.ok()) << applied.status();
  Kubectl({"wait", "--for=condition=Established", "--timeout=30s",
           absl::StrCat("crd/widgets.", group)});
  absl::StatusOr<ApiResource> widget =
      client_->ResourceFor(group, "v1", "Widget", In(absl::Seconds(10)));
  // Served right after Established; discovery may lag a moment behind it.
  for (int i = 0; i < 20 && !widget.ok(); ++i) {
    absl::SleepFor(absl::Milliseconds(600));  // past unknown_kind_refresh_interval
    widget = client_->ResourceFor(group, "v1", "Widget", In(absl::Seconds(10)));
  }
  ASSERT_TRUE(widget.ok()) << widget.status();
  EXPECT_EQ(widget->resource, "widgets");
  EXPECT_TRUE(widget->namespaced);
  Json cr = {{"apiVersion", absl::StrCat(group, "/v1")},
             {"kind", "Widget"},
             {"metadata", {{"name", "w"}, {"namespace", ns()}}},
             {"spec", {{"size", 3}}}};
  absl::StatusOr<Json> created = client_->ServerSideApply(cr, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ((*created)["spec"]["size"], 3);
  absl::StatusOr<Json> deleted =
      client_->Delete({"apiextensions.k8s.io", "v1", "CustomResourceDefinition", "",
                       absl::StrCat("widgets.", group)},
                      {}, In(absl::Seconds(10)));
  EXPECT_TRUE(deleted.ok()) << deleted.status();
}

TEST_F(KubeClientK8sTest, ServerSideApplyCreatesThenReapplyIsUnchanged) {
  Json cm = ConfigMap("ssa", {{"a", "1"}}, {{"todoke.dev/app", "demo"}});
  // Dry run changes nothing.
  ServerSideApplyOptions dry;
  dry.dry_run = true;
  absl::StatusOr<Json> dry_run = client_->ServerSideApply(cm, dry, In(absl::Seconds(10)));
  ASSERT_TRUE(dry_run.ok()) << dry_run.status();
  EXPECT_EQ(
      client_->Get({"", "v1", "ConfigMap", ns(), "ssa"}, In(absl::Seconds(10))).status().code(),
      absl::StatusCode::kNotFound);

  absl::StatusOr<Json> first = client_->ServerSideApply(cm, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ((*first)["data"]["a"], "1");
  ASSERT_FALSE(Rv(*first).empty());
  const Json& managers = (*first)["metadata"]["managedFields"];
  ASSERT_TRUE(managers.is_array());
  EXPECT_EQ(managers[0]["manager"], "todoke");
  EXPECT_EQ(managers[0]["operation"], "Apply");

  absl::StatusOr<Json> again = client_->ServerSideApply(cm, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(Rv(*again), Rv(*first));  // unchanged

  cm["data"]["a"] = "2";
  absl::StatusOr<Json> changed = client_->ServerSideApply(cm, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(changed.ok()) << changed.status();
  EXPECT_NE(Rv(*changed), Rv(*first));
  absl::StatusOr<Json> live =
      client_->Get({"", "v1", "ConfigMap", ns(), "ssa"}, In(absl::Seconds(10)));
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ((*live)["data"]["a"], "2");
  EXPECT_EQ((*live)["apiVersion"], "v1");
}

TEST_F(KubeClientK8sTest, ConflictWithAnotherManagerIsAbortedThenTakenWithForce) {
  const std::string other = absl::StrCat(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"shared","namespace":")", ns(),
      R"("},"data":{"a":"theirs"}})");
  const std::string file = absl::StrCat(::testing::TempDir(), "/", ns(), "-shared.json");
  std::ofstream(file) << other;
  Kubectl({"apply", "--server-side", "--field-manager=other-tool", "-f", file});

  Json mine = ConfigMap("shared", {{"a", "ours"}});
  absl::StatusOr<Json> refused = client_->ServerSideApply(mine, {}, In(absl::Seconds(10)));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(KubeHttpCode(refused.status()), 409);
  EXPECT_EQ(KubeReason(refused.status()), "Conflict");
  EXPECT_THAT(refused.status().message(), HasSubstr("conflict"));
  EXPECT_THAT(refused.status().message(), HasSubstr("other-tool"));
  EXPECT_THAT(refused.status().message(), HasSubstr(".data.a"));
  EXPECT_THAT(refused.status().message(), HasSubstr("/api/v1/namespaces/"));

  ServerSideApplyOptions force;
  force.force = true;
  absl::StatusOr<Json> taken = client_->ServerSideApply(mine, force, In(absl::Seconds(10)));
  ASSERT_TRUE(taken.ok()) << taken.status();
  EXPECT_EQ((*taken)["data"]["a"], "ours");
  std::filesystem::remove(file);
}

TEST_F(KubeClientK8sTest, CreateReplacePatchAndTheirErrors) {
  Json cm = ConfigMap("crud", {{"a", "1"}});
  absl::StatusOr<Json> created = client_->Create(cm, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(created.ok()) << created.status();
  absl::StatusOr<Json> again = client_->Create(cm, {}, In(absl::Seconds(10)));
  EXPECT_EQ(again.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(KubeReason(again.status()), "AlreadyExists");
  EXPECT_THAT(again.status().message(), HasSubstr("already exists"));

  Json stale = *created;
  stale["data"]["a"] = "2";
  absl::StatusOr<Json> replaced = client_->Replace(stale, {}, In(absl::Seconds(10)));
  ASSERT_TRUE(replaced.ok()) << replaced.status();
  EXPECT_EQ((*replaced)["data"]["a"], "2");
  // Same resourceVersion again: now stale.
  absl::StatusOr<Json> conflict = client_->Replace(stale, {}, In(absl::Seconds(10)));
  EXPECT_EQ(conflict.status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(KubeReason(conflict.status()), "Conflict");

  const ObjectKey key{"", "v1", "ConfigMap", ns(), "crud"};
  absl::StatusOr<Json> merged =
      client_->Patch(key, PatchType::kMerge, R"({"data":{"b":"3"}})", {}, In(absl::Seconds(10)));
  ASSERT_TRUE(merged.ok()) << merged.status();
  EXPECT_EQ((*merged)["data"]["b"], "3");
  absl::StatusOr<Json> json_patched = client_->Patch(
      key, PatchType::kJson, R"([{"op":"remove","path":"/data/a"}])", {}, In(absl::Seconds(10)));
  ASSERT_TRUE(json_patched.ok()) << json_patched.status();
  EXPECT_FALSE((*json_patched)["data"].contains("a"));

  // Validation: INVALID_ARGUMENT with the server's message.
  Json bad = ConfigMap("Bad_Name", {{"a", "1"}});
  absl::StatusOr<Json> invalid = client_->ServerSideApply(bad, {}, In(absl::Seconds(10)));
  EXPECT_EQ(invalid.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(KubeReason(invalid.status()), "Invalid");
  EXPECT_THAT(invalid.status().message(), HasSubstr("Bad_Name"));

  // A namespaced kind without a namespace is refused before any request.
  Json no_ns = cm;
  no_ns["metadata"].erase("namespace");
  EXPECT_EQ(client_->ServerSideApply(no_ns, {}, In(absl::Seconds(10))).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(KubeClientK8sTest, ListWithLabelSelectorAndPaging) {
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(client_
                    ->ServerSideApply(ConfigMap(absl::StrCat("sel-", i), {{"i", std::to_string(i)}},
                                                {{"todoke.dev/app", "paging"}}),
                                      {}, In(absl::Seconds(10)))
                    .ok());
  }
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(client_
                    ->ServerSideApply(ConfigMap(absl::StrCat("other-", i), {{"x", "y"}}), {},
                                      In(absl::Seconds(10)))
                    .ok());
  }
  const GroupVersionKind cm{"", "v1", "ConfigMap"};
  ListOptions options;
  options.label_selector = "todoke.dev/app=paging";
  options.limit = 2;
  absl::StatusOr<ListPage> page = client_->List(cm, ns(), options, In(absl::Seconds(10)));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(page->items.size(), 2u);
  EXPECT_FALSE(page->continue_token.empty());
  EXPECT_FALSE(page->resource_version.empty());

  absl::StatusOr<ListPage> all =
      client_->ListAll(cm, ns(), {.label_selector = "todoke.dev/app"}, In(absl::Seconds(10)), 2);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->items.size(), 5u);
  std::vector<std::string> names;
  for (const Json& item : all->items) {
    EXPECT_EQ(item["apiVersion"], "v1");
    EXPECT_EQ(item["kind"], "ConfigMap");
    names.push_back(item["metadata"]["name"]);
  }
  EXPECT_THAT(names, ::testing::ElementsAre("sel-0", "sel-1", "sel-2", "sel-3", "sel-4"));
  EXPECT_TRUE(all->continue_token.empty());

  // Across namespaces: at least ours.
  absl::StatusOr<ListPage> everywhere =
      client_->ListAll(cm, "", {.label_selector = "todoke.dev/app=paging"}, In(absl::Seconds(10)));
  ASSERT_TRUE(everywhere.ok()) << everywhere.status();
  EXPECT_EQ(everywhere->items.size(), 5u);
}

TEST_F(KubeClientK8sTest, WatchSeesAKubectlChangeWithinASecond) {
  ASSERT_TRUE(client_
                  ->ServerSideApply(ConfigMap("watched", {{"a", "1"}}, {{"todoke.dev/app", "w"}}),
                                    {}, In(absl::Seconds(10)))
                  .ok());
  const GroupVersionKind cm{"", "v1", "ConfigMap"};
  absl::StatusOr<ListPage> list =
      client_->List(cm, ns(), {.label_selector = "todoke.dev/app"}, In(absl::Seconds(10)));
  ASSERT_TRUE(list.ok()) << list.status();

  absl::Mutex mu;
  std::vector<std::pair<WatchEvent::Type, std::string>> events;  // type, data.a
  absl::Time modified_at = absl::InfiniteFuture();
  std::atomic<bool> cancel{false};
  absl::Status watch_status;
  std::thread watcher([&] {
    WatchOptions options;
    options.resource_version = list->resource_version;
    options.label_selector = "todoke.dev/app";
    watch_status = client_->Watch(
        cm, ns(), options,
        [&](WatchEvent& event) {
          absl::MutexLock lock(&mu);
          std::string a;
          if (event.object.contains("data")) a = event.object["data"].value("a", "");
          events.emplace_back(event.type, a);
          if (event.type == WatchEvent::Type::kModified && a == "2" &&
              modified_at == absl::InfiniteFuture()) {
            modified_at = absl::Now();
          }
          return true;
        },
        In(absl::Seconds(30)), &cancel);
  });
  // The watch is open once it has delivered a change: a probe first (data.a stays "1"), so that
  // the latency measured below is the watch's own, not the time it took to open (a fixed sleep
  // here may be too short on a loaded machine). The watch starts at the list's resourceVersion, so
  // the probe reaches it even when made before it opened.
  Kubectl({"-n", ns(), "patch", "configmap", "watched", "--type=merge", "-p",
           R"({"data":{"probe":"1"}})"});
  bool opened = false;
  {
    absl::MutexLock lock(&mu);
    opened = mu.AwaitWithDeadline(absl::Condition(
                                      +[](decltype(events)* e) { return !e->empty(); }, &events),
                                  In(absl::Seconds(30)));
  }
  if (!opened) {
    cancel = true;
    watcher.join();
    FAIL() << "the watch delivered nothing in 30 s: " << watch_status;
  }
  Kubectl(
      {"-n", ns(), "patch", "configmap", "watched", "--type=merge", "-p", R"({"data":{"a":"2"}})"});
  const absl::Time kubectl_done = absl::Now();
  Kubectl({"-n", ns(), "delete", "configmap", "watched"});
  {
    absl::MutexLock lock(&mu);
    mu.AwaitWithDeadline(absl::Condition(
                             +[](decltype(events)* e) {
                               for (auto& [type, a] : *e) {
                                 if (type == WatchEvent::Type::kDeleted) return true;
                               }
                               return false;
                             },
                             &events),
                         In(absl::Seconds(10)));
  }
  cancel = true;
  watcher.join();
  EXPECT_TRUE(watch_status.ok()) << watch_status;
  absl::MutexLock lock(&mu);
  ASSERT_NE(modified_at, absl::InfiniteFuture()) << "no MODIFIED event";
  EXPECT_LT(modified_at - kubectl_done, absl::Seconds(1));
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().first, WatchEvent::Type::kModified);
  EXPECT_EQ(events.back().first, WatchEvent::Type::kDeleted);
}

TEST_F(KubeClientK8sTest, DeleteWithPreconditionsUid) {
  absl::StatusOr<Json> cm =
      client_->ServerSideApply(ConfigMap("del", {{"a", "1"}}), {}, In(absl::Seconds(10)));
  ASSERT_TRUE(cm.ok()) << cm.status();
  const ObjectKey key{"", "v1", "ConfigMap", ns(), "del"};
  DeleteOptions wrong;
  wrong.precondition_uid = "00000000-0000-0000-0000-000000000000";
  absl::StatusOr<Json> refused = client_->Delete(key, wrong, In(absl::Seconds(10)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kAborted) << refused.status();
  EXPECT_EQ(KubeReason(refused.status()), "Conflict");
  EXPECT_THAT(refused.status().message(), HasSubstr("UID in the precondition"));
  ASSERT_TRUE(client_->Get(key, In(absl::Seconds(10))).ok());

  DeleteOptions right;
  right.precondition_uid = (*cm)["metadata"]["uid"];
  right.propagation_policy = "Foreground";
  DeleteOptions dry = right;
  dry.dry_run = true;
  ASSERT_TRUE(client_->Delete(key, dry, In(absl::Seconds(10))).ok());
  ASSERT_TRUE(client_->Get(key, In(absl::Seconds(10))).ok());
  absl::StatusOr<Json> deleted = client_->Delete(key, right, In(absl::Seconds(10)));
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  // Foreground: the object stays (with a deletionTimestamp) until the garbage collector is done.
  absl::StatusOr<Json> gone = client_->Get(key, In(absl::Seconds(10)));
  for (int i = 0; i < 100 && gone.ok(); ++i) {
    EXPECT_TRUE((*gone)["metadata"].contains("deletionTimestamp"));
    absl::SleepFor(absl::Milliseconds(100));
    gone = client_->Get(key, In(absl::Seconds(10)));
  }
  EXPECT_EQ(gone.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(client_->Delete(key, {}, In(absl::Seconds(10))).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(KubeClientK8sTest, WrongTokenIsUnauthenticated) {
  KubeConfig config = TokenConfig();
  config.token = "0123456789abcdef-not-the-token";
  std::unique_ptr<KubeClient> client = MakeClient(config);
  absl::StatusOr<Json> got =
      client->Get({"", "v1", "Namespace", "", "default"}, In(absl::Seconds(10)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << got.status();
  EXPECT_THAT(got.status().message(), ::testing::Not(HasSubstr(config.token)));
}

TEST_F(KubeClientK8sTest, ServerCertificateIsVerified) {
  KubeConfig config = TokenConfig();
  config.ca_pem.clear();  // the system CAs do not know the test CA
  std::unique_ptr<KubeClient> client = MakeClient(config);
  absl::StatusOr<Json> got =
      client->Get({"", "v1", "Namespace", "", "default"}, In(absl::Seconds(10)));
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_THAT(got.status().message(), HasSubstr("certificate"));
  config.insecure_skip_tls_verify = true;
  client = MakeClient(config);
  EXPECT_TRUE(client->Get({"", "v1", "Namespace", "", "default"}, In(absl::Seconds(10))).ok());
}

TEST_F(KubeClientK8sTest, TlsServerNameIsTheNameVerified) {
  // The server is reached by IP; its certificate also names kubernetes.default.
  KubeConfig config = TokenConfig();
  config.tls_server_name = "kubernetes.default";
  std::unique_ptr<KubeClient> client = MakeClient(config);
  EXPECT_TRUE(client->Get({"", "v1", "Namespace", "", "default"}, In(absl::Seconds(10))).ok());
  config.tls_server_name = "not-in-the-certificate.example";
  client = MakeClient(config);
  absl::StatusOr<Json> refused =
      client->Get({"", "v1", "Namespace", "", "default"}, In(absl::Seconds(10)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr(cluster_.server));
}

TEST_F(KubeClientK8sTest, FixtureKubeconfigWorks) {
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(cluster_.kubeconfig, "");
  ASSERT_TRUE(config.ok()) << config.status();
  std::unique_ptr<KubeClient> client = MakeClient(*config);
  absl::StatusOr<Json> got = client->Get({"", "v1", "Namespace", "", ns()}, In(absl::Seconds(10)));
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ((*got)["metadata"]["name"], ns());
}

TEST_F(KubeClientK8sTest, ClientCertificateSignedByTheClusterCa) {
  const std::filesystem::path pki = std::filesystem::path(cluster_.ca_file).parent_path();
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", ns(), "-pki");
  std::filesystem::create_directories(dir);
  const std::string script = absl::StrCat(
      "set -e; cd '", dir, "'; ",
      "openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out client.key; ",
      "openssl req -new -key client.key -out client.csr -subj "
      "'/O=system:masters/CN=todoke-cert-user'; ",
      "printf 'extendedKeyUsage=clientAuth\\n' > client.ext; ",
      "openssl x509 -req -in client.csr -CA '", (pki / "ca.crt").string(), "' -CAkey '",
      (pki / "ca.key").string(), "' -CAcreateserial -CAserial serial -out client.crt -days 1 ",
      "-extfile client.ext");
  ASSERT_EQ(std::system(absl::StrCat("sh -c \"", script, "\" 2>/dev/null").c_str()), 0)
      << "openssl failed";

  // Through a kubeconfig naming the files, relative to it.
  const std::string kubeconfig = dir + "/kubeconfig";
  std::ofstream(kubeconfig) << absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: cert
clusters:
- name: test
  cluster: {server: ")",
                                            cluster_.server, R"(", certificate-authority: ")",
                                            cluster_.ca_file,
                                            R"("}
contexts:
- name: cert
  context: {cluster: test, user: cert-user}
users:
- name: cert-user
  user: {client-certificate: client.crt, client-key: client.key}
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(kubeconfig, "cert");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->token.empty());
  std::unique_ptr<KubeClient> client = MakeClient(*config);
  absl::StatusOr<Json> applied =
      client->ServerSideApply(ConfigMap("by-cert", {{"a", "1"}}), {}, In(absl::Seconds(10)));
  ASSERT_TRUE(applied.ok()) << applied.status();
  // The server saw the certificate's user.
  absl::StatusOr<KubeResponse> review = client->Request(
      {.method = "POST",
       .path = "/apis/authentication.k8s.io/v1/selfsubjectreviews",
       .body = R"({"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"})",
       .content_type = "application/json"},
      In(absl::Seconds(10)));
  ASSERT_TRUE(review.ok()) << review.status();
  EXPECT_THAT(review->body, HasSubstr("todoke-cert-user"));
  std::filesystem::remove_all(dir);
}

TEST_F(KubeClientK8sTest, ExecPluginProvidesTheToken) {
  const std::string dir = absl::StrCat(::testing::TempDir(), "/", ns(), "-exec");
  std::filesystem::create_directories(dir);
  const std::string plugin = dir + "/token-plugin.sh";
  // Reads the token from a file passed in its env, as real plugins read their own stores.
  std::ofstream(dir + "/token") << cluster_.token;
  std::ofstream(plugin) << R"(#!/bin/sh
[ "$1" = "--audience" ] || exit 2
tok=$(cat "$TOKEN_FILE")
printf '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"%s"}}' "$tok"
)";
  chmod(plugin.c_str(), 0755);
  const std::string kubeconfig = dir + "/kubeconfig";
  std::ofstream(kubeconfig) << absl::StrCat(R"(apiVersion: v1
kind: Config
current-context: exec
clusters:
- name: test
  cluster: {server: ")",
                                            cluster_.server, R"(", certificate-authority: ")",
                                            cluster_.ca_file,
                                            R"("}
contexts:
- name: exec
  context: {cluster: test, user: exec-user, namespace: )",
                                            ns(), R"(}
users:
- name: exec-user
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: ./token-plugin.sh
      args: [--audience, test]
      env: [{name: TOKEN_FILE, value: ")",
                                            dir, R"(/token"}]
      interactiveMode: Never
)");
  absl::StatusOr<KubeConfig> config = LoadKubeconfig(kubeconfig, "");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->ns, ns());
  std::unique_ptr<KubeClient> client = MakeClient(*config);
  absl::StatusOr<Json> got = client->Get({"", "v1", "Namespace", "", ns()}, In(absl::Seconds(10)));
  ASSERT_TRUE(got.ok()) << got.status();
  std::filesystem::remove_all(dir);
}

TEST_F(KubeClientK8sTest, RawRequestAndHttp2) {
  absl::StatusOr<KubeResponse> version =
      client_->Request({.path = "/version"}, In(absl::Seconds(10)));
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_THAT(version->body, HasSubstr("gitVersion"));
  absl::StatusOr<KubeResponse> missing =
      client_->Request({.path = "/apis/nothing.example/v1"}, In(absl::Seconds(10)));
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  // kube-apiserver speaks HTTP/2 over TLS, and so does the client.
  EXPECT_GT(client_->stats().http2_responses, 0);
  EXPECT_EQ(client_->stats().http2_responses, client_->stats().requests);
}

TEST_F(KubeClientK8sTest, ConcurrentAppliesShareTheClient) {
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        if (client_
                ->ServerSideApply(ConfigMap(absl::StrCat("c-", t, "-", i), {{"v", "x"}}), {},
                                  In(absl::Seconds(20)))
                .ok()) {
          ++ok;
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 40);
  EXPECT_EQ(client_->stats().transport_errors, 0);
}

}  // namespace
}  // namespace todoke::applier::kube

// The Git destination against real repositories made by `git` in temp dirs, and against git
// daemon on loopback for pushes. Results are checked with the git command line, independently of
// libgit2.
#include "services/applier/core/git/git_destination.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/object.h"
#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/applier/core/live_digest.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::applier {
namespace {

using source_fetcher::testing::ChildProcess;
using source_fetcher::testing::HttpGitServer;
using source_fetcher::testing::PickFreePort;
using source_fetcher::testing::ScriptedHttpServer;
using source_fetcher::testing::SilentServer;
using source_fetcher::testing::SshGitServer;
using source_fetcher::testing::TempDir;
using source_fetcher::testing::WaitForPort;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::UnorderedElementsAre;

constexpr char kGit[] = "git -c user.name=Other -c user.email=other@example.com";

std::string Sh(const std::string& command, const std::string& cwd = ".") {
  absl::StatusOr<std::string> out = source_fetcher::testing::Sh(command, cwd);
  EXPECT_TRUE(out.ok()) << out.status();
  return out.ok() ? *out : "";
}

std::string Trim(std::string s) { return std::string(absl::StripAsciiWhitespace(s)); }

std::vector<std::string> Lines(const std::string& text) {
  return absl::StrSplit(text, '\n', absl::SkipEmpty());
}

Json Yaml(const std::string& text) {
  absl::StatusOr<Json> value = ParseYaml(text);
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : Json();
}

Json ConfigMap(const std::string& ns, const std::string& name, const std::string& value) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"data", {{"key", value}}}};
}

std::vector<Json> GuestbookObjects() {
  return {
      Yaml("apiVersion: v1\nkind: Namespace\nmetadata: {name: guestbook}\n"),
      Yaml("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: guestbook}\n"
           "data: {color: blue, 'on': 'yes'}\n"),
      Yaml("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: guestbook}\n"
           "spec:\n  replicas: 2\n  template:\n    spec:\n      containers:\n"
           "      - {name: web, image: 'nginx:1.25'}\n"),
      Yaml("apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: guestbook}\n"
           "spec:\n  ports:\n  - {port: 80}\n")};
}

ApplyPlan Plan(const std::string& app, std::vector<Json> objects) {
  ApplyPlan plan;
  plan.app = app;
  plan.objects = std::move(objects);
  plan.source = {"https://git.example.com/org/apps.git", "0123456789abcdef0123456789abcdef01234567",
                 "guestbook/overlays/prod", "Bump the web image\n\nLonger body"};
  return plan;
}

ReadLiveQuery Query(const std::string& app, std::vector<ObjectKey> keys) {
  ReadLiveQuery query;
  query.app = app;
  query.keys = std::move(keys);
  return query;
}

absl::Time Deadline() { return absl::Now() + absl::Seconds(60); }

std::vector<std::pair<std::string, ApplyAction>> Actions(const ApplyOutcome& outcome) {
  std::vector<std::pair<std::string, ApplyAction>> out;
  for (const ObjectResult& r : outcome.results)
    out.emplace_back(r.key.kind + "/" + r.key.name, r.action);
  return out;
}

class GitDestinationTest : public ::testing::Test {
 protected:
  // A destination into `repo` (a path under the temp dir), branch `branch`, folder `path`.
  std::unique_ptr<GitDestination> Make(const std::string& repo_url, const std::string& path,
                                       const std::string& branch = "hydrated",
                                       GitDestinationOptions options = {},
                                       bool write_secrets = false) {
    if (options.work_dir.empty()) options.work_dir = tmp_.path() + "/work";
    options.committer_name = "Todoke Bot";
    options.committer_email = "bot@todoke.test";
    GitDestinationTarget target;
    target.repo_url = repo_url;
    target.branch = branch;
    target.path = path;
    target.write_secrets = write_secrets;
    absl::StatusOr<std::unique_ptr<GitDestination>> d =
        GitDestination::Create(target, std::move(options));
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  ApplyOutcome MustApply(GitDestination& d, const ApplyPlan& plan) {
    absl::StatusOr<ApplyOutcome> outcome = d.Apply(plan, nullptr, Deadline(), nullptr);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *outcome : ApplyOutcome{};
  }

  std::string Repo() const { return tmp_.path() + "/hydrated.git"; }
  std::string Git(const std::string& args, const std::string& repo = "") {
    return Sh(absl::StrCat("git --git-dir='", repo.empty() ? Repo() : repo, "' ", args));
  }
  int CommitCount(const std::string& branch = "hydrated", const std::string& repo = "") {
    return std::stoi(Trim(Git("rev-list --count " + branch, repo)));
  }

  TempDir tmp_;
};

TEST_F(GitDestinationTest, CommitsAnAppInTheDocumentedLayout) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "clusters/prod/guestbook");
  std::vector<ObjectResult> progressed;
  absl::StatusOr<ApplyOutcome> outcome = d->Apply(
      Plan("guestbook", GuestbookObjects()),
      [&](const ObjectResult& r) { progressed.push_back(r); }, Deadline(), nullptr);
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  EXPECT_TRUE(outcome->succeeded);
  EXPECT_EQ(outcome->commit.size(), 40u);
  EXPECT_THAT(Actions(*outcome),
              ElementsAre(std::pair{"Namespace/guestbook", ApplyAction::kCreated},
                          std::pair{"ConfigMap/settings", ApplyAction::kCreated},
                          std::pair{"Deployment/web", ApplyAction::kCreated},
                          std::pair{"Service/web", ApplyAction::kCreated}));
  EXPECT_EQ(progressed.size(), 4u);

  // A bare repository was created, the branch holds exactly the layout.
  EXPECT_EQ(Trim(Git("rev-parse --is-bare-repository")), "true");
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), outcome->commit);
  EXPECT_THAT(Lines(Git("ls-tree -r --name-only hydrated")),
              ElementsAre("clusters/prod/guestbook/.todoke-app",
                          "clusters/prod/guestbook/_cluster/core.namespace.guestbook.yaml",
                          "clusters/prod/guestbook/guestbook/apps.deployment.web.yaml",
                          "clusters/prod/guestbook/guestbook/core.configmap.settings.yaml",
                          "clusters/prod/guestbook/guestbook/core.service.web.yaml"));
  EXPECT_EQ(Git("show hydrated:clusters/prod/guestbook/.todoke-app"), "guestbook\n");
  EXPECT_EQ(Git("show hydrated:clusters/prod/guestbook/guestbook/core.configmap.settings.yaml"),
            "apiVersion: v1\n"
            "data:\n"
            "  color: blue\n"
            "  \"on\": \"yes\"\n"
            "kind: ConfigMap\n"
            "metadata:\n"
            "  name: settings\n"
            "  namespace: guestbook\n");
  EXPECT_EQ(Git("show hydrated:clusters/prod/guestbook/guestbook/apps.deployment.web.yaml"),
            "apiVersion: apps/v1\n"
            "kind: Deployment\n"
            "metadata:\n"
            "  name: web\n"
            "  namespace: guestbook\n"
            "spec:\n"
            "  replicas: 2\n"
            "  template:\n"
            "    spec:\n"
            "      containers:\n"
            "      - image: nginx:1.25\n"
            "        name: web\n");
  // Each result's resourceVersion is its file's blob id.
  EXPECT_EQ(
      outcome->results[2].resource_version,
      Trim(Git("rev-parse hydrated:clusters/prod/guestbook/guestbook/apps.deployment.web.yaml")));

  // One commit, by the configured committer, whose message names app, source repo, path, commit.
  EXPECT_EQ(CommitCount(), 1);
  EXPECT_EQ(Git("log -1 --format=%an/%ae/%cn/%ce hydrated"),
            "Todoke Bot/bot@todoke.test/Todoke Bot/bot@todoke.test\n");
  std::string message = Git("log -1 --format=%B hydrated");
  EXPECT_THAT(
      message,
      HasSubstr(
          "todoke: hydrate guestbook from https://git.example.com/org/apps.git@0123456789ab"));
  EXPECT_THAT(message, HasSubstr("App: guestbook\n"));
  EXPECT_THAT(message, HasSubstr("Folder: clusters/prod/guestbook\n"));
  EXPECT_THAT(message, HasSubstr("Source-Path: guestbook/overlays/prod\n"));
  EXPECT_THAT(message, HasSubstr("Source-Commit: 0123456789abcdef0123456789abcdef01234567\n"));
  EXPECT_THAT(message, HasSubstr("Source-Message: Bump the web image\n"));
  EXPECT_THAT(message, Not(HasSubstr("Longer body")));
  EXPECT_THAT(message, HasSubstr("4 created"));
  // git itself finds the repository sound.
  Git("fsck --strict");
}

TEST_F(GitDestinationTest, SameObjectsAgainMakeNoCommit) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  ApplyOutcome first = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  ApplyOutcome second = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  EXPECT_TRUE(second.succeeded);
  EXPECT_EQ(second.commit, "");
  EXPECT_THAT(second.message, HasSubstr("nothing to commit"));
  for (const ObjectResult& r : second.results)
    EXPECT_EQ(r.action, ApplyAction::kUnchanged) << r.key.ToString();
  for (size_t i = 0; i < first.results.size(); ++i) {
    EXPECT_EQ(second.results[i].resource_version, first.results[i].resource_version);
  }
  EXPECT_EQ(CommitCount(), 1);
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), first.commit);
}

TEST_F(GitDestinationTest, AChangedObjectIsConfigured) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  MustApply(*d, Plan("guestbook", GuestbookObjects()));
  std::vector<Json> objects = GuestbookObjects();
  objects[1]["data"]["color"] = "green";
  ApplyOutcome outcome = MustApply(*d, Plan("guestbook", objects));
  EXPECT_THAT(Actions(outcome),
              ElementsAre(std::pair{"Namespace/guestbook", ApplyAction::kUnchanged},
                          std::pair{"ConfigMap/settings", ApplyAction::kConfigured},
                          std::pair{"Deployment/web", ApplyAction::kUnchanged},
                          std::pair{"Service/web", ApplyAction::kUnchanged}));
  EXPECT_EQ(CommitCount(), 2);
  EXPECT_THAT(Lines(Git("diff --name-only hydrated~1 hydrated")),
              ElementsAre("guestbook/guestbook/core.configmap.settings.yaml"));
  EXPECT_THAT(Git("show hydrated:guestbook/guestbook/core.configmap.settings.yaml"),
              HasSubstr("color: green\n"));
}

TEST_F(GitDestinationTest, RemovesUndesiredFilesOnlyWithPrune) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  MustApply(*d, Plan("guestbook", GuestbookObjects()));
  std::vector<Json> objects = GuestbookObjects();
  objects.pop_back();  // the Service

  ApplyOutcome kept = MustApply(*d, Plan("guestbook", objects));
  EXPECT_EQ(kept.commit, "");
  EXPECT_EQ(kept.results.size(), 3u);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), HasSubstr("core.service.web.yaml"));

  ApplyPlan plan = Plan("guestbook", objects);
  plan.options.prune = true;
  ApplyOutcome pruned = MustApply(*d, plan);
  EXPECT_NE(pruned.commit, "");
  ASSERT_EQ(pruned.results.size(), 4u);
  EXPECT_EQ(pruned.results[3].key.kind, "Service");
  EXPECT_EQ(pruned.results[3].action, ApplyAction::kPruned);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), Not(HasSubstr("core.service.web.yaml")));
  EXPECT_THAT(Git("log -1 --format=%B hydrated"), HasSubstr("1 pruned"));
  EXPECT_EQ(CommitCount(), 2);
}

TEST_F(GitDestinationTest, PruneHonoursOptOutsAndClusterCriticalKinds) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  std::vector<Json> objects = GuestbookObjects();
  objects[2]["metadata"]["annotations"] = {{"todoke.dev/prune", "disabled"}};
  MustApply(*d, Plan("guestbook", objects));
  ApplyPlan plan = Plan("guestbook", {objects[1]});  // keep only the ConfigMap
  plan.options.prune = true;
  ApplyOutcome outcome = MustApply(*d, plan);
  EXPECT_THAT(Actions(outcome),
              UnorderedElementsAre(std::pair{"ConfigMap/settings", ApplyAction::kUnchanged},
                                   std::pair{"Namespace/guestbook", ApplyAction::kSkipped},
                                   std::pair{"Deployment/web", ApplyAction::kSkipped},
                                   std::pair{"Service/web", ApplyAction::kPruned}));
  EXPECT_THAT(
      Lines(Git("ls-tree -r --name-only hydrated")),
      ElementsAre("guestbook/.todoke-app", "guestbook/_cluster/core.namespace.guestbook.yaml",
                  "guestbook/guestbook/apps.deployment.web.yaml",
                  "guestbook/guestbook/core.configmap.settings.yaml"));
  plan.options.allow_cluster_critical = true;
  outcome = MustApply(*d, plan);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), Not(HasSubstr("namespace.guestbook")));
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), HasSubstr("apps.deployment.web.yaml"));
}

TEST_F(GitDestinationTest, EmptyDesiredSetNeverPrunesWithoutAllowEmpty) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  ApplyOutcome first = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  ApplyPlan empty = Plan("guestbook", {});
  empty.options.prune = true;
  absl::StatusOr<ApplyOutcome> refused = d->Apply(empty, nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("allow_empty"));
  EXPECT_THAT(refused.status().message(), HasSubstr("guestbook"));
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), first.commit);

  empty.options.allow_empty = true;
  empty.options.allow_cluster_critical = true;
  ApplyOutcome wiped = MustApply(*d, empty);
  EXPECT_EQ(wiped.results.size(), 4u);
  for (const ObjectResult& r : wiped.results) EXPECT_EQ(r.action, ApplyAction::kPruned);
  EXPECT_THAT(Lines(Git("ls-tree -r --name-only hydrated")), ElementsAre("guestbook/.todoke-app"));
}

TEST_F(GitDestinationTest, SecretsAreSkippedUnlessOptedIn) {
  Json secret = Yaml(
      "apiVersion: v1\nkind: Secret\nmetadata: {name: db, namespace: guestbook}\n"
      "stringData: {password: hunter2}\n");
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  ApplyOutcome outcome =
      MustApply(*d, Plan("guestbook", {ConfigMap("guestbook", "c", "1"), secret}));
  EXPECT_TRUE(outcome.succeeded);
  ASSERT_EQ(outcome.results.size(), 2u);
  EXPECT_EQ(outcome.results[1].action, ApplyAction::kSkipped);
  EXPECT_THAT(outcome.results[1].message, HasSubstr("write_secrets"));
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), Not(HasSubstr("secret")));
  EXPECT_EQ(Sh("grep -r hunter2 '" + Repo() + "' || true"), "");

  std::unique_ptr<GitDestination> with =
      Make(Repo(), "guestbook", "hydrated", GitDestinationOptions{}, /*write_secrets=*/true);
  outcome = MustApply(*with, Plan("guestbook", {ConfigMap("guestbook", "c", "1"), secret}));
  EXPECT_EQ(outcome.results[1].action, ApplyAction::kCreated);
  EXPECT_THAT(Git("show hydrated:guestbook/guestbook/core.secret.db.yaml"), HasSubstr("hunter2"));
}

TEST_F(GitDestinationTest, DryRunWritesNothing) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  ApplyPlan plan = Plan("guestbook", GuestbookObjects());
  plan.options.dry_run = true;
  ApplyOutcome outcome = MustApply(*d, plan);
  EXPECT_EQ(outcome.commit, "");
  for (const ObjectResult& r : outcome.results) EXPECT_EQ(r.action, ApplyAction::kCreated);
  EXPECT_FALSE(std::filesystem::exists(Repo())) << "a dry run created the repository";

  ApplyOutcome real = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  std::string objects_before = Sh("find '" + Repo() + "/objects' -type f | sort");
  std::vector<Json> changed = GuestbookObjects();
  changed[1]["data"]["color"] = "red";
  changed.pop_back();
  ApplyPlan change = Plan("guestbook", changed);
  change.options.dry_run = true;
  change.options.prune = true;
  outcome = MustApply(*d, change);
  EXPECT_THAT(Actions(outcome),
              ElementsAre(std::pair{"Namespace/guestbook", ApplyAction::kUnchanged},
                          std::pair{"ConfigMap/settings", ApplyAction::kConfigured},
                          std::pair{"Deployment/web", ApplyAction::kUnchanged},
                          std::pair{"Service/web", ApplyAction::kPruned}));
  EXPECT_EQ(outcome.commit, "");
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), real.commit);
  EXPECT_EQ(Sh("find '" + Repo() + "/objects' -type f | sort"), objects_before);
}

TEST_F(GitDestinationTest, TwoAppsShareABranchInDisjointFolders) {
  std::unique_ptr<GitDestination> a = Make(Repo(), "apps/a");
  std::unique_ptr<GitDestination> b = Make(Repo(), "apps/b");
  ApplyOutcome oa = MustApply(*a, Plan("app-a", {ConfigMap("a", "cfg", "1")}));
  ApplyOutcome ob = MustApply(*b, Plan("app-b", {ConfigMap("b", "cfg", "1")}));
  EXPECT_THAT(Lines(Git("ls-tree -r --name-only hydrated")),
              ElementsAre("apps/a/.todoke-app", "apps/a/a/core.configmap.cfg.yaml",
                          "apps/b/.todoke-app", "apps/b/b/core.configmap.cfg.yaml"));
  EXPECT_EQ(CommitCount(), 2);
  EXPECT_EQ(Trim(Git("rev-parse hydrated~1")), oa.commit);

  // b pruning everything of its own never touches a's files.
  ApplyPlan wipe = Plan("app-b", {});
  wipe.options.prune = true;
  wipe.options.allow_empty = true;
  MustApply(*b, wipe);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"),
              HasSubstr("apps/a/a/core.configmap.cfg.yaml"));

  struct Case {
    std::string path, app;
  };
  for (const Case& c : std::vector<Case>{{"apps/a/sub", "app-c"},   // inside a
                                         {"apps", "app-c"},         // around a and b
                                         {"", "app-c"},             // the root
                                         {"apps/a", "app-c"},       // a's own folder
                                         {"apps/b/x", "app-a"}}) {  // a claiming a second folder
    std::unique_ptr<GitDestination> other = Make(Repo(), c.path);
    absl::StatusOr<ApplyOutcome> refused =
        other->Apply(Plan(c.app, {ConfigMap("c", "cfg", "1")}), nullptr, Deadline(), nullptr);
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << c.path;
    EXPECT_THAT(refused.status().message(), HasSubstr(absl::StrCat("\"", c.app, "\""))) << c.path;
    EXPECT_THAT(refused.status().message(), HasSubstr("overlaps app \"app-")) << c.path;
  }
  EXPECT_EQ(CommitCount(), 3);
}

TEST_F(GitDestinationTest, HostileNamesStayInsideTheAppFolder) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/x");
  std::vector<Json> objects = {
      ConfigMap("..", "../../../outside", "1"),
      ConfigMap("ns", "a/b", "2"),
      ConfigMap(".git", ".todoke-app", "3"),
      ConfigMap("ns", std::string("nul\0name", 8), "4"),
      ConfigMap("ns", std::string(300, 'n'), "5"),  // too long for a file name: fails alone
      ConfigMap("ns", "ok", "6"),
      Json{{"apiVersion", "v1"}, {"kind", "ConfigMap"}, {"metadata", {{"generateName", "gen-"}}}},
      Json{{"kind", "NoApiVersion"}, {"metadata", {{"name", "x"}}}},
  };
  ApplyOutcome outcome = MustApply(*d, Plan("x", objects));
  EXPECT_FALSE(outcome.succeeded);
  ASSERT_EQ(outcome.results.size(), objects.size());
  std::vector<ApplyAction> actions;
  for (const ObjectResult& r : outcome.results) actions.push_back(r.action);
  EXPECT_THAT(actions,
              ElementsAre(ApplyAction::kCreated, ApplyAction::kCreated, ApplyAction::kCreated,
                          ApplyAction::kCreated, ApplyAction::kFailed, ApplyAction::kCreated,
                          ApplyAction::kFailed, ApplyAction::kFailed));
  EXPECT_THAT(outcome.results[4].message, HasSubstr("255"));
  EXPECT_THAT(outcome.results[6].message, HasSubstr("generateName"));
  EXPECT_THAT(
      Lines(Git("ls-tree -r --name-only hydrated")),
      ElementsAre("apps/x/%2E./core.configmap.%2E.%2F..%2F..%2Foutside.yaml",
                  "apps/x/%2Egit/core.configmap.%2Etodoke-app.yaml", "apps/x/.todoke-app",
                  "apps/x/ns/core.configmap.a%2Fb.yaml", "apps/x/ns/core.configmap.nul%00name.yaml",
                  "apps/x/ns/core.configmap.ok.yaml"));
  Git("fsck --strict");
  // A checkout of the branch puts nothing outside the folder.
  std::string checkout = tmp_.path() + "/checkout";
  Sh(absl::StrCat("git clone -q -b hydrated '", Repo(), "' '", checkout, "'"));
  EXPECT_EQ(Trim(Sh("ls -A", checkout)), ".git\napps");
  // And ReadLive reads every one of them back by key.
  std::vector<ObjectKey> keys;
  for (size_t i : {0, 1, 2, 3, 5}) keys.push_back(*KeyOf(objects[i]));
  absl::StatusOr<LiveSet> live = d->ReadLive(Query("x", keys), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->objects.size(), 5u);
  EXPECT_TRUE(live->absent.empty());
  for (size_t i = 0; i < live->objects.size(); ++i) EXPECT_EQ(live->objects[i].key, keys[i]);
}

TEST_F(GitDestinationTest, ReadLiveReturnsTheCommittedObjectsWithBlobIds) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  // Nothing yet: no repository (and ReadLive does not create one).
  std::vector<Json> objects = GuestbookObjects();
  std::vector<ObjectKey> keys;
  for (const Json& o : objects) keys.push_back(*KeyOf(o));
  absl::StatusOr<LiveSet> live = d->ReadLive(Query("guestbook", keys), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_TRUE(live->objects.empty());
  EXPECT_EQ(live->absent.size(), 4u);
  EXPECT_FALSE(std::filesystem::exists(Repo()));

  ApplyOutcome outcome = MustApply(*d, Plan("guestbook", objects));
  // Ask for the Deployment, the Service and a missing key: the Namespace and ConfigMap come as
  // the inventory.
  ObjectKey missing{"", "v1", "ConfigMap", "guestbook", "nope"};
  live = d->ReadLive(Query("guestbook", {keys[2], keys[3], missing}), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->objects.size(), 4u);
  EXPECT_EQ(live->objects[0].key, keys[2]);
  EXPECT_EQ(live->objects[1].key, keys[3]);
  EXPECT_THAT(live->absent, ElementsAre(missing));
  for (const LiveObject& o : live->objects) {
    size_t i = std::find(keys.begin(), keys.end(), o.key) - keys.begin();
    ASSERT_LT(i, keys.size());
    EXPECT_EQ(o.json, CanonicalJson(objects[i])) << o.key.ToString();
    EXPECT_EQ(o.key.version, i == 2 ? "v1" : "v1");
    EXPECT_EQ(o.resource_version, outcome.results[i].resource_version);
    std::string path = absl::StrCat("guestbook/", o.key.ns.empty() ? "_cluster" : o.key.ns, "/",
                                    o.key.group.empty() ? "core" : o.key.group, ".",
                                    absl::AsciiStrToLower(o.key.kind), ".", o.key.name, ".yaml");
    EXPECT_EQ(o.resource_version, Trim(Git("rev-parse hydrated:" + path)));
  }
  // A branch that does not exist yet in an existing repository: all absent.
  std::unique_ptr<GitDestination> other = Make(Repo(), "guestbook", "elsewhere");
  live = other->ReadLive(Query("guestbook", keys), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_TRUE(live->objects.empty());
  EXPECT_EQ(live->absent.size(), 4u);
}

// ReadLive with the caller's digest (issue 13): while the folder is unchanged, the digest alone
// (from blob ids, no object copied), the full answer's; a changed file or a removed one brings
// the full answer, JSON included, whose digest is its own.
TEST_F(GitDestinationTest, ReadLiveWithTheCallersDigestOmitsObjectsUntilOneMoves) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  std::vector<Json> objects = GuestbookObjects();
  MustApply(*d, Plan("guestbook", objects));
  std::vector<ObjectKey> keys;
  for (const Json& o : objects) keys.push_back(*KeyOf(o));
  keys.push_back(ObjectKey{"", "v1", "ConfigMap", "guestbook", "nope"});
  auto read = [&](const std::string& if_digest_differs) {
    ReadLiveQuery query = Query("guestbook", keys);
    query.if_digest_differs = if_digest_differs;
    absl::StatusOr<LiveSet> live = d->ReadLive(query, Deadline());
    EXPECT_TRUE(live.ok()) << live.status();
    return live.ok() ? *std::move(live) : LiveSet();
  };
  LiveSet full = read("");
  ASSERT_EQ(full.objects.size(), 4u);
  EXPECT_FALSE(full.objects_omitted);
  const std::string digest = LiveDigest(full);

  LiveSet same = read(digest);
  EXPECT_TRUE(same.objects_omitted);
  EXPECT_EQ(same.digest, digest);
  EXPECT_TRUE(same.objects.empty());
  EXPECT_TRUE(same.absent.empty());

  // A changed object (new blob id): everything, with the new JSON.
  objects[1]["data"]["color"] = "green";
  MustApply(*d, Plan("guestbook", objects));
  LiveSet moved = read(digest);
  EXPECT_FALSE(moved.objects_omitted);
  ASSERT_EQ(moved.objects.size(), 4u);
  EXPECT_NE(LiveDigest(moved), digest);
  for (const LiveObject& o : moved.objects) {
    size_t i = std::find(keys.begin(), keys.end(), o.key) - keys.begin();
    ASSERT_LT(i, objects.size());
    EXPECT_EQ(o.json, CanonicalJson(objects[i])) << o.key.ToString();
  }
  const std::string moved_digest = LiveDigest(moved);
  EXPECT_EQ(LiveDigest(read("")), moved_digest);
  EXPECT_TRUE(read(moved_digest).objects_omitted);

  // A desired object removed: it comes back absent.
  PruneRequest prune;
  prune.app = "guestbook";
  prune.keys = {keys[3]};
  ASSERT_TRUE(d->Prune(prune, Deadline()).ok());
  LiveSet gone = read(moved_digest);
  EXPECT_FALSE(gone.objects_omitted);
  EXPECT_EQ(gone.objects.size(), 3u);
  EXPECT_EQ(gone.absent.size(), 2u);
  EXPECT_NE(LiveDigest(gone), moved_digest);
  EXPECT_TRUE(read(LiveDigest(gone)).objects_omitted);
}

TEST_F(GitDestinationTest, PruneRemovesTheGivenKeysAndReleasesAnEmptyFolder) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "guestbook");
  std::vector<Json> objects = GuestbookObjects();
  MustApply(*d, Plan("guestbook", objects));
  PruneRequest request;
  request.app = "guestbook";
  request.keys = {*KeyOf(objects[3]), ObjectKey{"", "v1", "ConfigMap", "guestbook", "nope"}};
  absl::StatusOr<PruneOutcome> pruned = d->Prune(request, Deadline());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  ASSERT_EQ(pruned->results.size(), 2u);
  EXPECT_EQ(pruned->results[0].action, ApplyAction::kSkipped);  // "nope": not in the branch
  EXPECT_EQ(pruned->results[1].action, ApplyAction::kPruned);
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), pruned->commit);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated"), Not(HasSubstr("service")));
  EXPECT_THAT(Git("log -1 --format=%s hydrated"),
              HasSubstr("todoke: prune 1 objects of guestbook"));

  request.keys = {*KeyOf(objects[0]), *KeyOf(objects[1]), *KeyOf(objects[2])};
  request.allow_cluster_critical = true;
  pruned = d->Prune(request, Deadline());
  ASSERT_TRUE(pruned.ok()) << pruned.status();
  EXPECT_EQ(Trim(Git("ls-tree -r --name-only hydrated")), "");
  // Another app may now take the folder.
  std::unique_ptr<GitDestination> next = Make(Repo(), "guestbook/v2");
  MustApply(*next, Plan("guestbook-v2", {ConfigMap("g", "c", "1")}));
}

TEST_F(GitDestinationTest, NeverMovesACheckedOutBranch) {
  std::string work = tmp_.path() + "/work-tree";
  Sh(absl::StrCat("git init -q -b main '", work, "' && cd '", work,
                  "' && echo hi > README && git add README && ", kGit, " commit -qm init"));
  std::unique_ptr<GitDestination> on_main = Make(work, "apps/a", "main");
  absl::StatusOr<ApplyOutcome> refused =
      on_main->Apply(Plan("a", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(refused.status().message(), HasSubstr("checked out"));

  // Another branch of the same repository is fine, and the work tree stays clean.
  std::unique_ptr<GitDestination> on_side = Make(work, "apps/a", "hydrated");
  MustApply(*on_side, Plan("a", {ConfigMap("a", "c", "1")}));
  EXPECT_EQ(Sh("git status --porcelain", work), "");
  EXPECT_EQ(Trim(Sh("git show hydrated:apps/a/.todoke-app", work)), "a");
  EXPECT_EQ(Trim(Sh("git rev-list --count main", work)), "1");

  // A fresh non-bare repository whose unborn HEAD names the branch is refused too.
  std::string fresh = tmp_.path() + "/fresh";
  Sh(absl::StrCat("git init -q -b hydrated '", fresh, "'"));
  refused = Make(fresh, "apps/a")
                ->Apply(Plan("a", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(GitDestinationTest, AConcurrentLocalCommitIsKeptAndTheSyncReplayed) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/a");
  MustApply(*d, Plan("a", {ConfigMap("a", "c", "1")}));
  std::string clone = tmp_.path() + "/other";
  Sh(absl::StrCat("git clone -q -b hydrated '", Repo(), "' '", clone, "'"));

  GitDestinationOptions options;
  std::vector<int> attempts;
  options.before_publish = [&](int attempt) {
    attempts.push_back(attempt);
    if (attempt == 1) {  // another writer (the git CLI) commits to the branch first
      Sh(absl::StrCat("echo hand > notes.txt && git add notes.txt && ", kGit,
                      " commit -qm 'hand-written note' && git push -q origin hydrated"),
         clone);
    }
  };
  std::unique_ptr<GitDestination> racing = Make(Repo(), "apps/a", "hydrated", options);
  ApplyOutcome outcome = MustApply(*racing, Plan("a", {ConfigMap("a", "c", "2")}));
  EXPECT_THAT(attempts, ElementsAre(1, 2));
  EXPECT_THAT(outcome.message, HasSubstr("after 2 attempts"));
  EXPECT_EQ(outcome.results[0].action, ApplyAction::kConfigured);
  EXPECT_THAT(Lines(Git("log --format=%s hydrated")),
              ElementsAre(HasSubstr("todoke: hydrate a"), "hand-written note",
                          HasSubstr("todoke: hydrate a")));
  EXPECT_EQ(Git("show hydrated:notes.txt"), "hand\n");
  EXPECT_THAT(Git("show hydrated:apps/a/a/core.configmap.c.yaml"), HasSubstr("key: \"2\""));
}

TEST_F(GitDestinationTest, ManyThreadsApplyingDifferentAppsIntoOneBranchLoseNothing) {
  constexpr int kApps = 8;
  constexpr int kRounds = 3;
  std::vector<std::unique_ptr<GitDestination>> destinations;
  for (int i = 0; i < kApps; ++i)
    destinations.push_back(Make(Repo(), absl::StrCat("apps/app-", i)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kApps; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < kRounds; ++round) {
        absl::StatusOr<ApplyOutcome> outcome = destinations[i]->Apply(
            Plan(absl::StrCat("app-", i), {ConfigMap("ns", "c", absl::StrCat(round)),
                                           ConfigMap("ns", absl::StrCat("only-", round), "x")}),
            nullptr, Deadline(), nullptr);
        if (!outcome.ok() || outcome->commit.empty()) failures++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CommitCount(), kApps * kRounds);
  std::vector<std::string> files = Lines(Git("ls-tree -r --name-only hydrated"));
  EXPECT_EQ(files.size(), static_cast<size_t>(kApps * (1 + 1 + kRounds)));  // marker, c, only-*
  for (int i = 0; i < kApps; ++i) {
    EXPECT_THAT(Git(absl::StrCat("show hydrated:apps/app-", i, "/ns/core.configmap.c.yaml")),
                HasSubstr(absl::StrCat("key: \"", kRounds - 1, "\"")));
  }
  Git("fsck --strict");
}

TEST_F(GitDestinationTest, WaitsAreBoundedAndCancelStopsBeforePublishing) {
  std::atomic<bool> entered{false}, release{false};
  GitDestinationOptions blocking;
  blocking.before_publish = [&](int) {
    entered = true;
    for (int i = 0; i < 1000 && !release; ++i) absl::SleepFor(absl::Milliseconds(10));
  };
  std::unique_ptr<GitDestination> slow = Make(Repo(), "apps/slow", "hydrated", blocking);
  std::unique_ptr<GitDestination> other = Make(Repo(), "apps/other");
  absl::StatusOr<ApplyOutcome> slow_outcome;
  std::thread writer([&] {
    slow_outcome =
        slow->Apply(Plan("slow", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  });
  while (!entered) absl::SleepFor(absl::Milliseconds(5));
  absl::Time start = absl::Now();
  absl::StatusOr<ApplyOutcome> waited =
      other->Apply(Plan("other", {ConfigMap("a", "c", "1")}), nullptr,
                   absl::Now() + absl::Milliseconds(300), nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(waited.status().code(), absl::StatusCode::kDeadlineExceeded) << waited.status();
  EXPECT_THAT(waited.status().message(), HasSubstr("other"));
  release = true;
  writer.join();
  ASSERT_TRUE(slow_outcome.ok()) << slow_outcome.status();

  CancelFlag cancel{true};
  absl::StatusOr<ApplyOutcome> cancelled =
      other->Apply(Plan("other", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), &cancel);
  EXPECT_EQ(cancelled.status().code(), absl::StatusCode::kCancelled);
  EXPECT_EQ(Trim(Git("rev-parse hydrated")), slow_outcome->commit);
}

TEST_F(GitDestinationTest, AFileThatIsNoObjectReadsAsAbsentAndIsRewritten) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/a");
  MustApply(*d, Plan("a", {ConfigMap("a", "c", "1"), ConfigMap("a", "d", "1")}));
  std::string clone = tmp_.path() + "/other";
  Sh(absl::StrCat("git clone -q -b hydrated '", Repo(), "' '", clone, "' && cd '", clone,
                  "' && printf 'key: [unclosed\\n' > apps/a/a/core.configmap.c.yaml && ", kGit,
                  " commit -qam 'break it' && git push -q origin hydrated"));
  ObjectKey c{"", "v1", "ConfigMap", "a", "c"};
  absl::StatusOr<LiveSet> live = d->ReadLive(Query("a", {c}), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_THAT(live->absent, ElementsAre(c));
  ASSERT_EQ(live->objects.size(), 1u);  // d, from the inventory
  EXPECT_EQ(live->objects[0].key.name, "d");
  ApplyOutcome fixed =
      MustApply(*d, Plan("a", {ConfigMap("a", "c", "1"), ConfigMap("a", "d", "1")}));
  EXPECT_EQ(fixed.results[0].action, ApplyAction::kConfigured);
  EXPECT_EQ(fixed.results[1].action, ApplyAction::kUnchanged);
  EXPECT_THAT(Git("show hydrated:apps/a/a/core.configmap.c.yaml"), HasSubstr("key: \"1\""));
}

TEST_F(GitDestinationTest, TheCommitMessageMasksCredentialsOfTheSource) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/a");
  ApplyPlan plan = Plan("a", {ConfigMap("a", "c", "1")});
  plan.source.repo_url = "https://robot:tok-123456@git.example.com/org/apps.git";
  plan.source.message = "first line\nsecond line";
  MustApply(*d, plan);
  std::string message = Git("log -1 --format=%B hydrated");
  EXPECT_THAT(message, Not(HasSubstr("tok-123456")));
  EXPECT_THAT(message, HasSubstr("Source: https://***@git.example.com/org/apps.git\n"));
  EXPECT_THAT(message, HasSubstr("Source-Message: first line\n"));
  EXPECT_THAT(message, Not(HasSubstr("second line")));
}

TEST_F(GitDestinationTest, PruneOfAMissingRepositoryCreatesNothing) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/a");
  PruneRequest request;
  request.app = "a";
  request.keys = {ObjectKey{"", "v1", "ConfigMap", "a", "c"}};
  absl::StatusOr<PruneOutcome> outcome = d->Prune(request, Deadline());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  ASSERT_EQ(outcome->results.size(), 1u);
  EXPECT_EQ(outcome->results[0].action, ApplyAction::kSkipped);
  EXPECT_EQ(outcome->commit, "");
  EXPECT_FALSE(std::filesystem::exists(Repo()));
}

TEST_F(GitDestinationTest, WatchDriftIsUnimplemented) {
  std::unique_ptr<GitDestination> d = Make(Repo(), "a");
  EXPECT_EQ(d->WatchDrift([](const DriftEvent&) {}).status().code(),
            absl::StatusCode::kUnimplemented);
}

TEST_F(GitDestinationTest, RefusesBadTargets) {
  GitDestinationTarget target{Repo(), "bad..branch", "a"};
  EXPECT_EQ(GitDestination::Create(target, {}).status().code(), absl::StatusCode::kInvalidArgument);
  target = {Repo(), "main", "a/../../b"};
  EXPECT_EQ(GitDestination::Create(target, {}).status().code(), absl::StatusCode::kInvalidArgument);
  target = {"relative/path", "main", "a"};
  EXPECT_FALSE(GitDestination::Create(target, {}).ok());
  GitDestinationOptions no_local;
  no_local.allow_local = false;
  target = {Repo(), "main", "a"};
  EXPECT_EQ(GitDestination::Create(target, no_local).status().code(),
            absl::StatusCode::kInvalidArgument);
  target = {"git://127.0.0.1:1/x.git", "main", "a"};
  EXPECT_EQ(GitDestination::Create(target, {}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  // A path that exists and is not a repository.
  std::string file_dir = tmp_.path() + "/not-a-repo";
  Sh("mkdir -p '" + file_dir + "' && echo x > '" + file_dir + "/f'");
  absl::StatusOr<ApplyOutcome> outcome =
      Make(file_dir, "a")
          ->Apply(Plan("a", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(outcome.status().message(), HasSubstr("not a Git repository"));
}

// ---- Remote repositories ------------------------------------------------------------------

// git daemon with push enabled over a folder of bare repositories.
class PushDaemon {
 public:
  absl::Status Start(const std::string& base, const std::string& log) {
    port_ = PickFreePort();
    absl::Status s =
        process_.Start({"/usr/lib/git-core/git-daemon", "--reuseaddr", "--export-all",
                        "--enable=receive-pack", "--informative-errors", "--listen=127.0.0.1",
                        absl::StrCat("--port=", port_), absl::StrCat("--base-path=", base), base},
                       log);
    if (!s.ok()) return s;
    if (!WaitForPort(port_)) return absl::UnavailableError("git daemon did not start");
    return absl::OkStatus();
  }
  std::string Url(const std::string& name) const {
    return absl::StrCat("git://127.0.0.1:", port_, "/", name);
  }

 private:
  ChildProcess process_;
  int port_ = 0;
};

class GitDestinationRemoteTest : public GitDestinationTest {
 protected:
  void SetUp() override {
    base_ = tmp_.path() + "/served";
    Sh(absl::StrCat("mkdir -p '", base_, "' && git init -q --bare -b main '", base_, "/site.git'"));
    // Someone else's history already on the branch.
    std::string seed = tmp_.path() + "/seed";
    Sh(absl::StrCat("git init -q -b hydrated '", seed, "' && cd '", seed,
                    "' && echo readme > README && git add README && ", kGit,
                    " commit -qm 'seed' && git push -q '", base_, "/site.git' hydrated"));
    ASSERT_TRUE(daemon_.Start(base_, tmp_.path() + "/daemon.log").ok());
  }
  std::string Served() const { return base_ + "/site.git"; }

  std::string base_;
  PushDaemon daemon_;
};

TEST_F(GitDestinationRemoteTest, PushesToABareRepositoryAndReplaysOverAConcurrentWriter) {
  std::string writer = tmp_.path() + "/writer";
  Sh(absl::StrCat("git clone -q -b hydrated '", daemon_.Url("site.git"), "' '", writer, "'"));
  GitDestinationOptions options;
  int pushes_in_between = 0;
  options.before_publish = [&](int attempt) {
    if (attempt == 1 && pushes_in_between++ < 1) {
      Sh(absl::StrCat("git pull -q --ff-only && echo x > other.txt && git add other.txt && ", kGit,
                      " commit -qm 'concurrent writer' && git push -q origin hydrated"),
         writer);
    }
  };
  std::unique_ptr<GitDestination> d =
      Make(daemon_.Url("site.git"), "apps/guestbook", "hydrated", options);
  ApplyOutcome first = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  EXPECT_TRUE(first.succeeded);
  EXPECT_THAT(first.message, HasSubstr("after 2 attempts"));
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), first.commit);
  EXPECT_THAT(Lines(Git("log --format=%s hydrated", Served())),
              ElementsAre(HasSubstr("todoke: hydrate guestbook"), "concurrent writer", "seed"));
  EXPECT_EQ(Git("show hydrated:other.txt", Served()), "x\n");
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated", Served()),
              HasSubstr("apps/guestbook/guestbook/apps.deployment.web.yaml"));

  // The same objects again: nothing pushed.
  ApplyOutcome again = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  EXPECT_EQ(again.commit, "");
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), first.commit);

  // A writer that pushed while no sync ran is simply built upon.
  Sh(absl::StrCat("git pull -q --ff-only && echo y > other.txt && ", kGit,
                  " commit -qam 'later' && git push -q origin hydrated"),
     writer);
  std::vector<Json> changed = GuestbookObjects();
  changed[1]["data"]["color"] = "red";
  ApplyOutcome third = MustApply(*d, Plan("guestbook", changed));
  EXPECT_THAT(third.message, Not(HasSubstr("attempts")));
  EXPECT_THAT(Lines(Git("log --format=%s hydrated", Served())),
              ElementsAre(HasSubstr("todoke: hydrate guestbook"), "later",
                          HasSubstr("todoke: hydrate"), "concurrent writer", "seed"));

  // ReadLive fetches: it sees what is on the server.
  absl::StatusOr<LiveSet> live = d->ReadLive(Query("guestbook", {*KeyOf(changed[1])}), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  ASSERT_EQ(live->objects.size(), 4u);
  EXPECT_EQ(live->objects[0].json, CanonicalJson(changed[1]));
  EXPECT_EQ(live->objects[0].resource_version,
            Trim(Git("rev-parse hydrated:apps/guestbook/guestbook/core.configmap.settings.yaml",
                     Served())));
  Git("fsck --strict", Served());
}

TEST_F(GitDestinationRemoteTest, CreatesTheBranchWhenTheRemoteLacksIt) {
  std::unique_ptr<GitDestination> d = Make(daemon_.Url("site.git"), "a", "brand-new");
  absl::StatusOr<LiveSet> live =
      d->ReadLive(Query("a", {ObjectKey{"", "v1", "ConfigMap", "a", "c"}}), Deadline());
  ASSERT_TRUE(live.ok()) << live.status();
  EXPECT_EQ(live->absent.size(), 1u);
  ApplyOutcome outcome = MustApply(*d, Plan("a", {ConfigMap("a", "c", "1")}));
  EXPECT_EQ(Trim(Git("rev-parse brand-new", Served())), outcome.commit);
  EXPECT_EQ(CommitCount("brand-new", Served()), 1);
}

TEST_F(GitDestinationRemoteTest, ManyThreadsPushingOneBranchLoseNothing) {
  constexpr int kApps = 4;
  std::vector<std::unique_ptr<GitDestination>> destinations;
  for (int i = 0; i < kApps; ++i)
    destinations.push_back(Make(daemon_.Url("site.git"), absl::StrCat("apps/", i)));
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kApps; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 2; ++round) {
        absl::StatusOr<ApplyOutcome> outcome = destinations[i]->Apply(
            Plan(absl::StrCat("app-", i), {ConfigMap("ns", "c", absl::StrCat(round))}), nullptr,
            Deadline(), nullptr);
        if (!outcome.ok()) ADD_FAILURE() << outcome.status();
        if (!outcome.ok() || outcome->commit.empty()) failures++;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(CommitCount("hydrated", Served()), 1 + kApps * 2);
  EXPECT_EQ(Lines(Git("ls-tree -r --name-only hydrated", Served())).size(), 1u + kApps * 2);
}

TEST_F(GitDestinationRemoteTest, ASilentServerEndsAtTheNetworkTimeout) {
  SilentServer silent;
  GitDestinationOptions options;
  options.network_timeout = absl::Seconds(1);
  std::unique_ptr<GitDestination> d =
      Make(absl::StrCat("git://127.0.0.1:", silent.port(), "/site.git"), "a", "hydrated", options);
  absl::Time start = absl::Now();
  absl::StatusOr<ApplyOutcome> outcome =
      d->Apply(Plan("app-a", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kDeadlineExceeded) << outcome.status();
  EXPECT_THAT(outcome.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", silent.port())));
  EXPECT_THAT(outcome.status().message(), HasSubstr("app-a"));
}

TEST_F(GitDestinationRemoteTest, AMissingRepositoryIsNotFound) {
  std::unique_ptr<GitDestination> d = Make(daemon_.Url("nope.git"), "a");
  absl::StatusOr<ApplyOutcome> outcome =
      d->Apply(Plan("a", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kNotFound) << outcome.status();
}

// Pushes with credentials as the source-fetcher takes them: HTTP basic auth behind
// git http-backend, and ssh with a key and a known_hosts file.
TEST_F(GitDestinationRemoteTest, PushesWithCredentialsAndNeverShowsThem) {
  HttpGitServer http;
  ASSERT_TRUE(std::filesystem::create_directories(tmp_.path() + "/http"));
  absl::Status started = http.Start(base_, tmp_.path() + "/http", "pusher", "pw-s3cr3t-1", "tok");
  ASSERT_TRUE(started.ok()) << started;
  SshGitServer ssh;
  ASSERT_TRUE(std::filesystem::create_directories(tmp_.path() + "/ssh"));
  started = ssh.Start(tmp_.path() + "/ssh");
  ASSERT_TRUE(started.ok()) << started;
  std::string empty_known_hosts = tmp_.path() + "/empty_known_hosts";
  Sh("touch '" + empty_known_hosts + "'");
  std::string text = absl::StrCat(
      "http://127.0.0.1:", http.port(), "/private/site.git username=pusher password=pw-s3cr3t-1\n",
      "http://127.0.0.1:", http.port(), "/private/wrong username=pusher password=pw-wrong-2\n",
      "ssh://127.0.0.1:", ssh.port(), Served(), " ssh_key=", ssh.client_key(),
      " known_hosts=", ssh.known_hosts(), "\n");
  absl::StatusOr<source_fetcher::CredentialStore> store =
      source_fetcher::CredentialStore::Parse(text, "test-credentials", tmp_.path());
  ASSERT_TRUE(store.ok()) << store.status();
  GitDestinationOptions options;
  options.credentials = std::make_shared<source_fetcher::CredentialStore>(*store);

  std::unique_ptr<GitDestination> over_http =
      Make(http.Url("private", "site.git"), "apps/http", "hydrated", options);
  ApplyOutcome pushed = MustApply(*over_http, Plan("http-app", {ConfigMap("a", "c", "1")}));
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), pushed.commit);

  std::unique_ptr<GitDestination> over_ssh =
      Make(ssh.Url(Served()), "apps/ssh", "hydrated", options);
  pushed = MustApply(*over_ssh, Plan("ssh-app", {ConfigMap("a", "c", "1")}));
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), pushed.commit);
  EXPECT_THAT(Git("ls-tree -r --name-only hydrated", Served()), HasSubstr("apps/http/.todoke-app"));

  // Refused credentials, none at all, an untrusted host key: clear codes, no secret shown.
  Sh(absl::StrCat("cp -r '", Served(), "' '", base_, "/wrong'"));
  std::unique_ptr<GitDestination> wrong =
      Make(http.Url("private", "wrong"), "apps/x", "hydrated", options);
  absl::StatusOr<ApplyOutcome> refused =
      wrong->Apply(Plan("x", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  EXPECT_THAT(refused.status().message(), Not(HasSubstr("pw-wrong-2")));
  EXPECT_THAT(refused.status().message(), HasSubstr("/private/wrong"));
  refused = Make(http.Url("private", "site.git"), "apps/x")
                ->Apply(Plan("x", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnauthenticated) << refused.status();
  absl::StatusOr<source_fetcher::CredentialStore> untrusted =
      source_fetcher::CredentialStore::Parse(absl::StrCat("ssh:// ssh_key=", ssh.client_key(),
                                                          " known_hosts=", empty_known_hosts, "\n"),
                                             "untrusted", tmp_.path());
  ASSERT_TRUE(untrusted.ok()) << untrusted.status();
  GitDestinationOptions untrusted_options;
  untrusted_options.credentials = std::make_shared<source_fetcher::CredentialStore>(*untrusted);
  refused = Make(ssh.Url(Served()), "apps/x", "hydrated", untrusted_options)
                ->Apply(Plan("x", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("known_hosts"));
  EXPECT_EQ(CommitCount("hydrated", Served()), 3);
}

// Credentials configured for the destination's origin never reach another through a redirect
// (the destination shares the source-fetcher's remote callbacks): the redirect is refused with
// FAILED_PRECONDITION naming it, and the other origin, a trap asking for basic auth, receives no
// password and no Authorization header. Before, the applier answered the trap's 401 with the
// password (and reported UNAUTHENTICATED).
TEST_F(GitDestinationRemoteTest, CredentialsNeverFollowARedirectToAnotherOrigin) {
  ScriptedHttpServer trap([](const std::string&, const ScriptedHttpServer::Sender& send) {
    send(
        "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"git\"\r\n"
        "Content-Length: 0\r\nConnection: close\r\n\r\n");
  });
  ScriptedHttpServer redirector(
      [&trap](const std::string& head, const ScriptedHttpServer::Sender& send) {
        const size_t begin = head.find(' ') + 1;
        const std::string target = head.substr(begin, head.find(' ', begin) - begin);
        send(absl::StrCat("HTTP/1.1 302 Found\r\nLocation: ", trap.Origin(), target,
                          "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"));
      });
  absl::StatusOr<source_fetcher::CredentialStore> store = source_fetcher::CredentialStore::Parse(
      absl::StrCat(redirector.Origin(), "/ username=pusher password=pw-s3cr3t-1\n"),
      "test-credentials", tmp_.path());
  ASSERT_TRUE(store.ok()) << store.status();
  GitDestinationOptions options;
  options.credentials = std::make_shared<source_fetcher::CredentialStore>(*store);
  absl::StatusOr<ApplyOutcome> outcome =
      Make(redirector.Origin() + "/site.git", "apps/x", "hydrated", options)
          ->Apply(Plan("x", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition) << outcome.status();
  EXPECT_THAT(outcome.status().message(), HasSubstr("redirected"));
  EXPECT_THAT(outcome.status().message(), HasSubstr(absl::StrCat("127.0.0.1:", trap.port())));
  EXPECT_THAT(outcome.status().message(), Not(HasSubstr("pw-s3cr3t-1")));
  EXPECT_FALSE(redirector.requests().empty());  // the redirect was served
  for (const std::string& head : trap.requests()) {
    EXPECT_THAT(head, Not(HasSubstr("pw-s3cr3t-1"))) << head;
    EXPECT_THAT(absl::AsciiStrToLower(head), Not(HasSubstr("authorization:"))) << head;
  }
}

// ---- Signed commits -----------------------------------------------------------------------

// An ed25519 key pair made by ssh-keygen and an allowed-signers file naming the committer, as
// `git verify-commit` needs for SSH signatures.
struct SshSigningKey {
  std::string key;
  std::string allowed_signers;
};
SshSigningKey MakeSshSigningKey(const std::string& dir) {
  SshSigningKey out{dir + "/signing_key", dir + "/allowed_signers"};
  Sh(absl::StrCat("ssh-keygen -q -t ed25519 -N '' -C bot -f '", out.key, "' && printf '%s %s\\n' ",
                  "bot@todoke.test \"$(cat '", out.key, ".pub')\" > '", out.allowed_signers, "'"));
  return out;
}

bool HaveSshKeygen() { return source_fetcher::testing::Sh("command -v ssh-keygen").ok(); }

TEST_F(GitDestinationTest, SignedCommitsVerifyWithGitVerifyCommit) {
  if (!HaveSshKeygen()) GTEST_SKIP() << "ssh-keygen is not installed";
  SshSigningKey key = MakeSshSigningKey(tmp_.path());
  GitDestinationOptions options;
  options.signing.key = key.key;
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/guestbook", "hydrated", options);
  ApplyOutcome first = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  ASSERT_FALSE(first.commit.empty());
  const std::string verify = absl::StrCat("-c gpg.ssh.allowedSignersFile='", key.allowed_signers,
                                          "' verify-commit --raw ");
  absl::StatusOr<std::string> verified = source_fetcher::testing::Sh(
      absl::StrCat("git --git-dir='", Repo(), "' ", verify, first.commit, " 2>&1"));
  ASSERT_TRUE(verified.ok()) << verified.status();
  EXPECT_THAT(*verified, HasSubstr("Good \"git\" signature for bot@todoke.test"));
  EXPECT_THAT(Git("cat-file commit " + first.commit), HasSubstr("gpgsig -----BEGIN SSH SIGNATURE"));
  // Later commits (a change, a prune) are signed too, and the repository stays well-formed.
  std::vector<Json> changed = GuestbookObjects();
  changed[1]["data"]["color"] = "red";
  ApplyOutcome second = MustApply(*d, Plan("guestbook", changed));
  EXPECT_TRUE(source_fetcher::testing::Sh(
                  absl::StrCat("git --git-dir='", Repo(), "' ", verify, second.commit))
                  .ok());
  Git("fsck --strict");
  // Without signing, verify-commit refuses the commit (the check can fail).
  std::unique_ptr<GitDestination> unsigned_d = Make(Repo(), "apps/other");
  ApplyOutcome plain = MustApply(*unsigned_d, Plan("other", {ConfigMap("a", "c", "1")}));
  EXPECT_FALSE(source_fetcher::testing::Sh(
                   absl::StrCat("git --git-dir='", Repo(), "' ", verify, plain.commit))
                   .ok());
}

TEST_F(GitDestinationTest, OpenPgpSignedCommitsVerifyWithGpg) {
  if (!source_fetcher::testing::Sh("command -v gpg && command -v gpgconf").ok()) {
    GTEST_SKIP() << "gpg is not installed";
  }
  // A keyring of the test's own, for the applier (this process) and git verify-commit alike.
  const std::string home = tmp_.path() + "/gnupg";
  Sh("mkdir -m 700 '" + home + "'");
  setenv("GNUPGHOME", home.c_str(), 1);
  Sh("gpg --batch --passphrase '' --quick-gen-key 'Todoke Bot <bot@todoke.test>' ed25519 sign "
     "never 2>/dev/null");
  GitDestinationOptions options;
  options.signing.key = "bot@todoke.test";
  options.signing.format = CommitSigningFormat::kOpenPgp;
  std::unique_ptr<GitDestination> d = Make(Repo(), "apps/guestbook", "hydrated", options);
  ApplyOutcome first = MustApply(*d, Plan("guestbook", GuestbookObjects()));
  absl::StatusOr<std::string> verified = source_fetcher::testing::Sh(
      absl::StrCat("git --git-dir='", Repo(), "' verify-commit ", first.commit, " 2>&1"));
  EXPECT_TRUE(verified.ok()) << verified.status();
  if (verified.ok()) EXPECT_THAT(*verified, HasSubstr("Good signature"));
  // An unknown key id: a clear error naming it, no commit.
  options.signing.key = "nobody@todoke.test";
  absl::StatusOr<ApplyOutcome> refused =
      Make(Repo(), "apps/other", "hydrated", options)
          ->Apply(Plan("other", {ConfigMap("a", "c", "1")}), nullptr, Deadline(), nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(),
              HasSubstr("signing the commit with OpenPGP key nobody@todoke.test"));
  EXPECT_EQ(CommitCount(), 1);
  (void)source_fetcher::testing::Sh("gpgconf --kill gpg-agent");
  unsetenv("GNUPGHOME");
}

TEST_F(GitDestinationTest, AMissingSigningKeyIsRefusedAtCreate) {
  GitDestinationTarget target{Repo(), "hydrated", "a"};
  GitDestinationOptions options;
  options.signing.key = tmp_.path() + "/no-such-key";
  absl::StatusOr<std::unique_ptr<GitDestination>> d = GitDestination::Create(target, options);
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(d.status().message(), HasSubstr(tmp_.path() + "/no-such-key"));
}

TEST_F(GitDestinationRemoteTest, ABadSigningKeyFailsNamingTheKeyAndPushesNothing) {
  if (!HaveSshKeygen()) GTEST_SKIP() << "ssh-keygen is not installed";
  const std::string bad_key = tmp_.path() + "/bad_key";
  Sh("echo 'not a key' > '" + bad_key + "' && chmod 600 '" + bad_key + "'");
  const std::string before = Trim(Git("rev-parse hydrated", Served()));
  GitDestinationOptions options;
  options.signing.key = bad_key;
  std::unique_ptr<GitDestination> d =
      Make(daemon_.Url("site.git"), "apps/guestbook", "hydrated", options);
  absl::StatusOr<ApplyOutcome> outcome =
      d->Apply(Plan("guestbook", GuestbookObjects()), nullptr, Deadline(), nullptr);
  EXPECT_EQ(outcome.status().code(), absl::StatusCode::kFailedPrecondition) << outcome.status();
  EXPECT_THAT(outcome.status().message(), HasSubstr("signing the commit with SSH key " + bad_key));
  EXPECT_THAT(outcome.status().message(), HasSubstr("ssh-keygen exited with status"));
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), before);
  EXPECT_EQ(CommitCount("hydrated", Served()), 1);
  // A working key on the same destination options pushes a signed commit.
  SshSigningKey key = MakeSshSigningKey(tmp_.path());
  options.signing.key = key.key;
  ApplyOutcome pushed =
      MustApply(*Make(daemon_.Url("site.git"), "apps/guestbook", "hydrated", options),
                Plan("guestbook", GuestbookObjects()));
  EXPECT_EQ(Trim(Git("rev-parse hydrated", Served())), pushed.commit);
  EXPECT_TRUE(source_fetcher::testing::Sh(
                  absl::StrCat("git --git-dir='", Served(), "' -c gpg.ssh.allowedSignersFile='",
                               key.allowed_signers, "' verify-commit ", pushed.commit))
                  .ok());
}

}  // namespace
}  // namespace todoke::applier

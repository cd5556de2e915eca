// ReadLive of the Git destination against real repositories changed behind its back by the git
// command line: what it keeps between calls (open repositories, each app's folder tree for the
// last tip, parsed folders by tree id; read_cache.h) must never answer an older state of the
// branch than its tip.
#include <git2.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/object.h"
#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/applier/core/git/git_destination.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::applier {
namespace {

using source_fetcher::testing::TempDir;
using ::testing::ElementsAre;
using ::testing::IsEmpty;
using ::testing::UnorderedElementsAre;

constexpr char kGit[] = "git -c user.name=Other -c user.email=other@example.com";

std::string Sh(const std::string& command, const std::string& cwd = ".") {
  absl::StatusOr<std::string> out = source_fetcher::testing::Sh(command, cwd);
  EXPECT_TRUE(out.ok()) << command << ": " << out.status();
  return out.ok() ? *out : "";
}

std::string Trim(std::string s) { return std::string(absl::StripAsciiWhitespace(s)); }

Json ConfigMap(const std::string& ns, const std::string& name, const std::string& value) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", {{"name", name}, {"namespace", ns}}},
              {"data", {{"key", value}}}};
}

ObjectKey Key(const std::string& ns, const std::string& name) {
  return ObjectKey{"", "v1", "ConfigMap", ns, name};
}

// The file text of ConfigMap(ns, name, value) as another writer would commit it.
std::string ConfigMapYaml(const std::string& ns, const std::string& name,
                          const std::string& value) {
  return EmitYaml(ConfigMap(ns, name, value));
}

// What one ReadLive answered: name -> data.key, and name -> resource_version.
struct Read {
  std::map<std::string, std::string> values;
  std::map<std::string, std::string> versions;
  std::vector<std::string> absent;
};

class GitReadLiveTest : public ::testing::Test {
 protected:
  std::string Repo() const { return tmp_.path() + "/hydrated.git"; }
  std::string Clone() const { return tmp_.path() + "/other"; }

  std::unique_ptr<GitDestination> Make(const std::string& path, const std::string& url = "") {
    GitDestinationTarget target;
    target.repo_url = url.empty() ? Repo() : url;
    target.branch = "hydrated";
    target.path = path;
    GitDestinationOptions options;
    options.work_dir = tmp_.path() + "/work";
    options.fsync = false;
    absl::StatusOr<std::unique_ptr<GitDestination>> d = GitDestination::Create(target, options);
    EXPECT_TRUE(d.ok()) << d.status();
    return d.ok() ? *std::move(d) : nullptr;
  }

  void MustApply(GitDestination& d, const std::string& app, std::vector<Json> objects) {
    ApplyPlan plan;
    plan.app = app;
    plan.objects = std::move(objects);
    absl::StatusOr<ApplyOutcome> outcome =
        d.Apply(plan, nullptr, absl::Now() + absl::Seconds(60), nullptr);
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    ASSERT_TRUE(outcome->succeeded) << outcome->message;
  }

  Read MustRead(GitDestination& d, const std::string& app, std::vector<ObjectKey> keys) {
    ReadLiveQuery query;
    query.app = app;
    query.keys = std::move(keys);
    absl::StatusOr<LiveSet> live = d.ReadLive(query, absl::Now() + absl::Seconds(60));
    EXPECT_TRUE(live.ok()) << live.status();
    Read out;
    if (!live.ok()) return out;
    for (const LiveObject& o : live->objects) {
      absl::StatusOr<Json> json = ParseYaml(o.json);
      EXPECT_TRUE(json.ok()) << o.json;
      out.values[o.key.name] = json.ok() ? (*json)["data"]["key"].get<std::string>() : "?";
      out.versions[o.key.name] = o.resource_version;
    }
    for (const ObjectKey& k : live->absent) out.absent.push_back(k.name);
    return out;
  }

  // The blob id of `path` on the branch, by the git command line.
  std::string BlobOf(const std::string& path, const std::string& repo = "") {
    return Trim(Sh(absl::StrCat("git --git-dir='", repo.empty() ? Repo() : repo,
                                "' rev-parse hydrated:", path)));
  }

  // Another writer: a clone of the branch, `change` run in it, committed and pushed.
  void OtherWriterCommits(const std::string& change, const std::string& repo = "") {
    Sh(absl::StrCat("rm -rf '", Clone(), "' && git clone -q -b hydrated '",
                    repo.empty() ? Repo() : repo, "' '", Clone(), "'"));
    Sh(absl::StrCat(change, " && git add -A && ", kGit,
                    " commit -qm 'by hand' && git push -q origin hydrated"),
       Clone());
  }

  TempDir tmp_;
};

TEST_F(GitReadLiveTest, FollowsEveryCommitOfAnotherWriter) {
  std::unique_ptr<GitDestination> a = Make("apps/a");
  std::unique_ptr<GitDestination> b = Make("apps/b");
  MustApply(*a, "a", {ConfigMap("a", "c", "1"), ConfigMap("a", "d", "1")});
  MustApply(*b, "b", {ConfigMap("b", "c", "1")});
  std::vector<ObjectKey> keys_a = {Key("a", "c"), Key("a", "d")};
  Read first = MustRead(*a, "a", keys_a);
  Read again = MustRead(*a, "a", keys_a);  // answered from what the first read kept
  EXPECT_EQ(again.values, first.values);
  EXPECT_EQ(again.versions, first.versions);
  EXPECT_EQ(first.versions["c"], BlobOf("apps/a/a/core.configmap.c.yaml"));
  Read b_before = MustRead(*b, "b", {Key("b", "c")});

  // One file of app a changed by another writer: the new content and blob id.
  OtherWriterCommits(absl::StrCat("printf '%s' '", ConfigMapYaml("a", "c", "2"),
                                  "' > apps/a/a/core.configmap.c.yaml"));
  Read changed = MustRead(*a, "a", keys_a);
  EXPECT_EQ(changed.values["c"], "2");
  EXPECT_EQ(changed.versions["c"], BlobOf("apps/a/a/core.configmap.c.yaml"));
  EXPECT_NE(changed.versions["c"], first.versions["c"]);
  EXPECT_EQ(changed.versions["d"], first.versions["d"]);
  // App b's folder did not change (the tip did).
  Read b_after = MustRead(*b, "b", {Key("b", "c")});
  EXPECT_EQ(b_after.versions, b_before.versions);
  EXPECT_EQ(b_after.values["c"], "1");

  // A commit outside both folders: the same answers.
  OtherWriterCommits("echo note > notes.txt");
  Read unchanged = MustRead(*a, "a", keys_a);
  EXPECT_EQ(unchanged.values, changed.values);
  EXPECT_EQ(unchanged.versions, changed.versions);

  // A file added to the folder: part of the inventory.
  OtherWriterCommits(absl::StrCat("printf '%s' '", ConfigMapYaml("a", "extra", "x"),
                                  "' > apps/a/a/core.configmap.extra.yaml"));
  Read grown = MustRead(*a, "a", keys_a);
  EXPECT_EQ(grown.values.size(), 3u);
  EXPECT_EQ(grown.values["extra"], "x");
  EXPECT_EQ(grown.versions["extra"], BlobOf("apps/a/a/core.configmap.extra.yaml"));

  // A file that no longer parses: its object reads as absent.
  OtherWriterCommits("printf 'key: [unclosed\\n' > apps/a/a/core.configmap.d.yaml");
  Read broken = MustRead(*a, "a", keys_a);
  EXPECT_THAT(broken.absent, ElementsAre("d"));
  EXPECT_EQ(broken.values.count("d"), 0u);

  // The app's folder deleted: everything absent, the other app untouched.
  OtherWriterCommits("git rm -rq apps/a");
  Read gone = MustRead(*a, "a", keys_a);
  EXPECT_THAT(gone.values, IsEmpty());
  EXPECT_THAT(gone.absent, UnorderedElementsAre("c", "d"));
  EXPECT_EQ(MustRead(*b, "b", {Key("b", "c")}).versions, b_before.versions);

  // The branch deleted: nothing for anyone.
  Sh(absl::StrCat("git --git-dir='", Repo(), "' update-ref -d refs/heads/hydrated"));
  Read no_branch = MustRead(*b, "b", {Key("b", "c")});
  EXPECT_THAT(no_branch.values, IsEmpty());
  EXPECT_THAT(no_branch.absent, ElementsAre("c"));
}

TEST_F(GitReadLiveTest, FollowsTheBranchBackwardsAndARepositoryMadeAgain) {
  std::unique_ptr<GitDestination> a = Make("apps/a");
  std::unique_ptr<GitDestination> twin = Make("apps/twin");
  // Two folders with the same content (one tree id): each app reads its own.
  MustApply(*a, "a", {ConfigMap("x", "c", "1")});
  MustApply(*twin, "twin", {ConfigMap("x", "c", "1")});
  std::string first = Trim(Sh(absl::StrCat("git --git-dir='", Repo(), "' rev-parse hydrated")));
  EXPECT_EQ(MustRead(*a, "a", {Key("x", "c")}).values["c"], "1");
  EXPECT_EQ(MustRead(*twin, "twin", {Key("x", "c")}).values["c"], "1");
  MustApply(*twin, "twin", {ConfigMap("x", "c", "2")});
  EXPECT_EQ(MustRead(*a, "a", {Key("x", "c")}).values["c"], "1");
  EXPECT_EQ(MustRead(*twin, "twin", {Key("x", "c")}).values["c"], "2");
  MustApply(*a, "a", {ConfigMap("x", "c", "3")});
  EXPECT_EQ(MustRead(*a, "a", {Key("x", "c")}).values["c"], "3");

  // The branch moved back to an older commit by hand.
  Sh(absl::StrCat("git --git-dir='", Repo(), "' update-ref refs/heads/hydrated ", first));
  Read back = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_EQ(back.values["c"], "1");
  EXPECT_EQ(back.versions["c"], BlobOf("apps/a/x/core.configmap.c.yaml"));
  EXPECT_EQ(MustRead(*twin, "twin", {Key("x", "c")}).values["c"], "1");

  // The repository removed and made again at the same path, with other history.
  std::string seed = tmp_.path() + "/seed";
  Sh(absl::StrCat("rm -rf '", Repo(), "' && git init -q --bare -b main '", Repo(),
                  "' && git init -q -b hydrated '", seed, "' && mkdir -p '", seed,
                  "/apps/a/x' && printf '%s' '", ConfigMapYaml("x", "c", "4"), "' > '", seed,
                  "/apps/a/x/core.configmap.c.yaml'"));
  Sh(absl::StrCat("git add -A && ", kGit, " commit -qm seed && git push -q '", Repo(),
                  "' hydrated"),
     seed);
  Read remade = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_EQ(remade.values["c"], "4");
  EXPECT_EQ(remade.versions["c"], BlobOf("apps/a/x/core.configmap.c.yaml"));
  Read twin_gone = MustRead(*twin, "twin", {Key("x", "c")});
  EXPECT_THAT(twin_gone.absent, ElementsAre("c"));

  // And removed for good: a missing repository holds nothing.
  Sh(absl::StrCat("rm -rf '", Repo(), "'"));
  Read missing = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_THAT(missing.values, IsEmpty());
  EXPECT_THAT(missing.absent, ElementsAre("c"));
}

// Readers on many threads while the apps keep committing: every answer is one state of the file
// (its JSON hashes, once written as YAML, to the blob id given as its resource version), and once
// the writes are done every app reads its last value.
TEST_F(GitReadLiveTest, ManyThreadsReadConsistentAnswersWhileTheBranchMoves) {
  constexpr int kApps = 4;
  constexpr int kRounds = 5;
  std::vector<std::unique_ptr<GitDestination>> apps;
  for (int i = 0; i < kApps; ++i) {
    apps.push_back(Make(absl::StrCat("apps/app-", i)));
    MustApply(*apps[i], absl::StrCat("app-", i), {ConfigMap("ns", "c", "0")});
  }
  std::atomic<bool> done{false};
  std::atomic<int> reads{0}, wrong{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      for (int n = 0; !done.load() || n < kApps; ++n) {
        int i = (n + t) % kApps;
        ReadLiveQuery query;
        query.app = absl::StrCat("app-", i);
        query.keys = {Key("ns", "c")};
        absl::StatusOr<LiveSet> live = apps[i]->ReadLive(query, absl::Now() + absl::Seconds(60));
        ++reads;
        if (!live.ok() || live->objects.size() != 1 || !live->absent.empty()) {
          ++wrong;
          continue;
        }
        std::string text = EmitYaml(*ParseYaml(live->objects[0].json));
        git_oid id;
        git_odb_hash(&id, text.data(), text.size(), GIT_OBJECT_BLOB);
        char hex[GIT_OID_HEXSZ + 1];
        git_oid_tostr(hex, sizeof(hex), &id);
        if (live->objects[0].resource_version != hex) ++wrong;
      }
    });
  }
  for (int round = 1; round <= kRounds; ++round) {
    for (int i = 0; i < kApps; ++i) {
      MustApply(*apps[i], absl::StrCat("app-", i), {ConfigMap("ns", "c", absl::StrCat(round))});
    }
  }
  done = true;
  for (std::thread& t : readers) t.join();
  EXPECT_EQ(wrong.load(), 0) << "of " << reads.load() << " reads";
  for (int i = 0; i < kApps; ++i) {
    Read last = MustRead(*apps[i], absl::StrCat("app-", i), {Key("ns", "c")});
    EXPECT_EQ(last.values["c"], absl::StrCat(kRounds));
    EXPECT_EQ(last.versions["c"],
              BlobOf(absl::StrCat("apps/app-", i, "/ns/core.configmap.c.yaml")));
  }
}

// A remote repository (git daemon): each ReadLive fetches the tip into the clone it keeps open,
// so another writer's pushes show at once.
TEST_F(GitReadLiveTest, ARemoteBranchIsFetchedOnEveryRead) {
  std::string served = tmp_.path() + "/served";
  std::string seed = tmp_.path() + "/seed";
  Sh(absl::StrCat("mkdir -p '", served, "' && git init -q --bare -b main '", served,
                  "/site.git' && git init -q -b hydrated '", seed, "' && mkdir -p '", seed,
                  "/apps/a/x' && printf '%s' '", ConfigMapYaml("x", "c", "1"), "' > '", seed,
                  "/apps/a/x/core.configmap.c.yaml'"));
  Sh(absl::StrCat("git add -A && ", kGit, " commit -qm seed && git push -q '", served,
                  "/site.git' hydrated"),
     seed);
  source_fetcher::testing::GitDaemon daemon;
  ASSERT_TRUE(daemon.Start(served, tmp_.path() + "/daemon.log").ok());
  std::string bare = served + "/site.git";
  std::unique_ptr<GitDestination> a = Make("apps/a", daemon.Url("site.git"));
  Read first = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_EQ(first.values["c"], "1");
  EXPECT_EQ(MustRead(*a, "a", {Key("x", "c")}).versions, first.versions);

  OtherWriterCommits(absl::StrCat("printf '%s' '", ConfigMapYaml("x", "c", "2"),
                                  "' > apps/a/x/core.configmap.c.yaml"),
                     bare);
  Read changed = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_EQ(changed.values["c"], "2");
  EXPECT_EQ(changed.versions["c"], BlobOf("apps/a/x/core.configmap.c.yaml", bare));

  OtherWriterCommits("git rm -rq apps/a && echo note > notes.txt", bare);
  Read gone = MustRead(*a, "a", {Key("x", "c")});
  EXPECT_THAT(gone.values, IsEmpty());
  EXPECT_THAT(gone.absent, ElementsAre("c"));
}

}  // namespace
}  // namespace todoke::applier

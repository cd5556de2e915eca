// Every service serves Prometheus metrics on --metrics-listen, the counters move as the loop
// works, and no label grows with apps, repositories, commits or objects: every service's series
// (name and labels) are the same at 10 apps (one source repository, two commits, 10 objects) and
// at 1,000 apps (three repositories, each with a commit pushed after the apps synced, 1,000
// objects each named after its app), with the Git destination (hydration): no control plane.
//
// Why the comparison means something: the set compared holds the labelled series of every
// stage (gRPC calls by method and code, objects by action and status, renders by cache outcome,
// reconciles by result, apps by sync status and health; checked at 10 apps), and both scrapes
// follow the same kinds of work (creates, first syncs, a push synced by webhook), so every fixed
// label value exists at 10 apps already. A label whose value came from an app's name or
// folder, an object's name, a repository or a commit would take values at 1,000 apps (apps
// 10..999, settings-10..settings-999, repositories 2 and 3, the third commits) that no series
// had at 10, and the sets would differ: the failure names the new series.
//
// Run time: 36-75 s measured on 2 cores at a load of 7-12 (the creates go 8 at a time; the
// orchestrator's default pools, 8 refresh and 64 sync workers, and an interval of 1h, so only
// creates and webhooks start passes); every wait is bounded (8 minutes in all).
#include <atomic>
#include <cstdio>
#include <map>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
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

const char* const kStages[] = {"source-fetcher", "renderer", "differ", "applier", "orchestrator"};
constexpr int kFewApps = 10;
constexpr int kManyApps = 1000;
constexpr int kRepos = 3;  // at kManyApps; kFewApps use the first one only

// The series of a scrape: every sample line's name and labels, without the value.
std::set<std::string> Series(const std::string& text) {
  std::set<std::string> series;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (line.empty() || line[0] == '#') continue;
    series.insert(std::string(line.substr(0, line.rfind(' '))));
  }
  return series;
}

// The value of the sample `name_and_labels` (exactly as printed), or -1.
double Sample(const std::string& text, const std::string& name_and_labels) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StartsWith(line, name_and_labels + " ")) {
      double value = -1;
      if (absl::SimpleAtod(line.substr(name_and_labels.size() + 1), &value)) return value;
    }
  }
  return -1;
}

// How many elements of `a` are not in `b`, and the first few, for failure messages.
std::string Minus(const std::set<std::string>& a, const std::set<std::string>& b) {
  std::vector<std::string> out;
  int count = 0;
  for (const std::string& s : a) {
    if (b.contains(s) || ++count > 5) continue;
    out.push_back(s);
  }
  return absl::StrCat(count, count > 0 ? ", e.g. " : "", absl::StrJoin(out, " "));
}

std::string AppName(int i) { return absl::StrCat("app-", i); }

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(Sh("git init -q --bare -b main hydrated.git", temp_.path()).ok());
    for (int r = 0; r < kRepos; ++r) {
      std::string repo = absl::StrCat(temp_.path(), "/src-", r);
      ASSERT_TRUE(
          Sh(absl::StrCat("git init -q -b main ", repo, " && mkdir -p ", repo, "/app")).ok());
      repos_.push_back(repo);
      revisions_.push_back(Push(r, 1));
    }
    // Refresh passes run only on create and webhook (no interval pass during the test).
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  // Commits version `version` of repository `r`'s one ConfigMap, named settings-${INDEX} so each
  // app renders an object of its own (content differs per repository, so no two repositories
  // share a commit id); returns the commit id.
  std::string Push(int r, int version) {
    EXPECT_TRUE(test_files::WriteFile(
        repos_[r] + "/app/cm.yaml",
        absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-${INDEX}\n"
                     "data:\n  repo: \"",
                     r, "\"\n  version: \"", version, "\"\n")));
    auto head = Sh(absl::StrCat("git add -A && git -c user.email=t@t -c user.name=t commit -qm v",
                                version, " && git rev-parse HEAD"),
                   repos_[r]);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  // Pushes version `version` to repositories [0, repos) and posts their webhooks.
  void PushAndNotify(int repos, int version) {
    for (int r = 0; r < repos; ++r) {
      revisions_[r] = Push(r, version);
      auto accepted = suite_->PostWebhook(repos_[r], "refs/heads/main");
      ASSERT_TRUE(accepted.ok()) << accepted.status();
      ASSERT_EQ(*accepted, 202) << repos_[r];
    }
  }

  // The source repository of app i: the first kFewApps share the first one, the others spread.
  static int RepoOf(int i) { return i < kFewApps ? 0 : i % kRepos; }

  // Creates apps [from, to) from their repository (RepoOf), automated, each into its own folder
  // of one hydration branch; 8 callers at once.
  void Create(int from, int to) {
    absl::Mutex mu;
    std::vector<std::string> failures;
    std::atomic<int> next{from};
    std::vector<std::thread> callers;
    for (int t = 0; t < 8; ++t) {
      callers.emplace_back([&] {
        for (int i = next++; i < to; i = next++) {
          v1::CreateApplicationRequest request;
          v1::Application* app = request.mutable_application();
          app->set_name(AppName(i));
          app->mutable_spec()->mutable_source()->set_repo_url(repos_[RepoOf(i)]);
          app->mutable_spec()->mutable_source()->set_path("app");
          (*app->mutable_spec()
                ->mutable_source()
                ->mutable_render()
                ->mutable_substitutions())["INDEX"] = absl::StrCat(i);
          auto* git = app->mutable_spec()->mutable_destination()->mutable_git();
          git->set_repo_url(temp_.path() + "/hydrated.git");
          git->set_branch("rendered");
          git->set_path(AppName(i));
          app->mutable_spec()->mutable_sync_policy()->set_automated(true);
          v1::Application created;
          auto context = ContextWithTimeout(absl::Seconds(30));
          grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
          if (!status.ok()) {
            absl::MutexLock lock(&mu);
            failures.push_back(absl::StrCat(AppName(i), ": ", status.error_message()));
          }
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    ASSERT_THAT(failures, ::testing::IsEmpty());
  }

  // Waits (at most `timeout`) until all `count` apps are Synced at their repository's current
  // revision with their own object (settings-<i>), listing them once a second. Only
  // ListApplications is called, in both phases: a method called in one phase only would add its
  // series to that scrape alone.
  void WaitAllSynced(int count, absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    std::string missing;
    int done = 0;
    while (true) {
      v1::ListApplicationsRequest request;
      v1::ListApplicationsResponse response;
      auto context = ContextWithTimeout(absl::Seconds(30));
      grpc::Status status = suite_->api().ListApplications(context.get(), request, &response);
      if (status.ok()) {
        done = 0;
        missing.clear();
        for (const v1::Application& app : response.applications()) {
          int i = 0;
          ASSERT_TRUE(absl::SimpleAtoi(absl::StripPrefix(app.name(), "app-"), &i)) << app.name();
          if (i >= 0 && i < kManyApps && app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
              app.status().synced_revision() == revisions_[RepoOf(i)] &&
              app.status().resources_size() == 1 &&
              app.status().resources(0).key().name() == absl::StrCat("settings-", i)) {
            ++done;
          } else if (missing.empty()) {
            missing = app.ShortDebugString().substr(0, 2000);
          }
        }
        if (done == count && response.applications_size() == count) return;
      } else {
        missing = status.error_message();
      }
      ASSERT_LT(absl::Now(), deadline)
          << done << " of " << count << " apps Synced at their repository's tip after "
          << absl::FormatDuration(timeout) << "; e.g. " << missing;
      absl::SleepFor(absl::Seconds(1));
    }
  }

  // Every stage's /metrics text.
  std::map<std::string, std::string> ScrapeAll() {
    std::map<std::string, std::string> texts;
    for (const char* stage : kStages) {
      auto text = suite_->Scrape(stage);
      EXPECT_TRUE(text.ok()) << stage << ": " << text.status();
      if (text.ok()) texts[stage] = *text;
    }
    return texts;
  }

  TempDir temp_;
  std::vector<std::string> repos_;      // source repositories (work trees)
  std::vector<std::string> revisions_;  // each one's tip
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(MetricsTest, EveryServiceCountsItsWorkAndSeriesDoNotGrowWithAppsReposOrCommits) {
  absl::Time start = absl::Now();
  // 10 apps of one repository: created and synced, then a second commit synced by webhook (so
  // the update paths' label values exist too: configured, OutOfSync).
  ASSERT_NO_FATAL_FAILURE(Create(0, kFewApps));
  ASSERT_NO_FATAL_FAILURE(WaitAllSynced(kFewApps, absl::Seconds(60)));
  ASSERT_NO_FATAL_FAILURE(PushAndNotify(1, 2));
  ASSERT_NO_FATAL_FAILURE(WaitAllSynced(kFewApps, absl::Seconds(60)));
  absl::SleepFor(absl::Seconds(2));  // the after-sync comparisons settle
  std::map<std::string, std::string> first = ScrapeAll();
  ASSERT_EQ(first.size(), std::size(kStages));
  for (const char* stage : kStages) {
    EXPECT_THAT(first[stage], ::testing::HasSubstr("todoke_grpc_server_handled_total{code=\"OK\""))
        << stage;
  }
  EXPECT_GT(Sample(first["source-fetcher"], "todoke_source_fetcher_tree_files_total"), 0);
  EXPECT_GT(Sample(first["renderer"], "todoke_renderer_objects_total"), 0);
  EXPECT_GT(Sample(first["differ"], "todoke_differ_objects_total{status=\"Synced\"}"), 0);
  EXPECT_GT(Sample(first["differ"], "todoke_differ_objects_total{status=\"OutOfSync\"}"), 0);
  EXPECT_EQ(Sample(first["applier"], "todoke_applier_objects_total{action=\"created\"}"), kFewApps);
  EXPECT_EQ(Sample(first["applier"], "todoke_applier_objects_total{action=\"configured\"}"),
            kFewApps);
  EXPECT_GE(
      Sample(first["orchestrator"], "todoke_orchestrator_reconciles_total{result=\"synced\"}"),
      2 * kFewApps);
  EXPECT_EQ(Sample(first["orchestrator"], "todoke_orchestrator_apps_by_sync{sync=\"Synced\"}"),
            kFewApps);
  EXPECT_EQ(Sample(first["orchestrator"], "todoke_orchestrator_apps_by_health{health=\"Healthy\"}"),
            kFewApps);
  EXPECT_EQ(Sample(first["renderer"],
                   "todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.renderer.v1."
                   "Renderer/Render\"}"),
            Sample(first["renderer"], "todoke_renderer_renders_total{cache=\"hit\"}") +
                Sample(first["renderer"], "todoke_renderer_renders_total{cache=\"miss\"}"));
  // The comparison below covers the labelled series: gRPC calls by method and code in every
  // stage, each stage's own labelled counters, the orchestrator's by result, sync and health.
  const std::map<std::string, std::vector<std::string>> kLabelled = {
      {"source-fetcher",
       {"todoke_grpc_server_handling_seconds_count{method=\"/todoke."
        "source_fetcher.v1.SourceFetcher/ReadTree\"}",
        "todoke_source_fetcher_resolves_total{fetched=\"true\"}"}},
      {"renderer",
       {"todoke_renderer_renders_total{cache=\"hit\"}",
        "todoke_renderer_renders_total{cache=\"miss\"}"}},
      {"differ",
       {"todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.differ.v1.Differ/Diff\"}"}},
      {"applier",
       {"todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.applier.v1.Applier/"
        "Apply\"}",
        "todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.applier.v1.Applier/"
        "ReadLive\"}"}},
      {"orchestrator",
       {"todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.orchestrator.v1."
        "Orchestrator/CreateApplication\"}",
        "todoke_orchestrator_reconciles_total{result=\"handed_to_sync\"}",
        "todoke_orchestrator_reconcile_seconds_count",
        "todoke_orchestrator_apps_by_sync{sync=\"OutOfSync\"}",
        "todoke_orchestrator_apps_by_health{health=\"Progressing\"}",
        "todoke_orchestrator_queue_depth", "todoke_orchestrator_workers_busy"}},
  };
  for (const auto& [stage, series] : kLabelled) {
    std::set<std::string> have = Series(first[stage]);
    for (const std::string& one : series) EXPECT_TRUE(have.contains(one)) << stage << ": " << one;
  }
  absl::Duration few = absl::Now() - start;

  // 1,000 apps over three repositories (two of them new), synced, then a new commit in each
  // repository synced by webhook: 1,000 objects in 1,000 hydration folders.
  ASSERT_NO_FATAL_FAILURE(Create(kFewApps, kManyApps));
  ASSERT_NO_FATAL_FAILURE(WaitAllSynced(kManyApps, absl::Minutes(3)));
  absl::Duration created = absl::Now() - start;
  ASSERT_NO_FATAL_FAILURE(PushAndNotify(kRepos, 3));
  ASSERT_NO_FATAL_FAILURE(WaitAllSynced(kManyApps, absl::Minutes(3)));
  absl::Duration pushed = absl::Now() - start;
  absl::SleepFor(absl::Seconds(2));
  std::map<std::string, std::string> second = ScrapeAll();
  ASSERT_EQ(second.size(), std::size(kStages));
  for (const char* stage : kStages) {
    std::set<std::string> before = Series(first[stage]);
    std::set<std::string> after = Series(second[stage]);
    // EXPECT_TRUE: EXPECT_EQ would print both sets whole (1,000s of lines with a bad label).
    EXPECT_TRUE(after == before) << stage << ": the series changed from " << kFewApps << " to "
                                 << kManyApps << " apps; new: " << Minus(after, before)
                                 << "; gone: " << Minus(before, after);
  }
  EXPECT_EQ(Sample(second["orchestrator"], "todoke_orchestrator_apps_by_sync{sync=\"Synced\"}"),
            kManyApps);
  EXPECT_EQ(
      Sample(second["orchestrator"], "todoke_orchestrator_apps_by_health{health=\"Healthy\"}"),
      kManyApps);
  EXPECT_EQ(Sample(second["applier"], "todoke_applier_objects_total{action=\"created\"}"),
            kManyApps);
  EXPECT_EQ(Sample(second["applier"], "todoke_applier_objects_total{action=\"configured\"}"),
            kFewApps + kManyApps);
  EXPECT_GE(
      Sample(second["orchestrator"], "todoke_orchestrator_reconciles_total{result=\"synced\"}"),
      2 * kManyApps + kFewApps);
  std::printf("10 apps: %.1f s; 1,000 apps synced at %.1f s, their push at %.1f s\n",
              absl::ToDoubleSeconds(few), absl::ToDoubleSeconds(created),
              absl::ToDoubleSeconds(pushed));
}

}  // namespace
}  // namespace todoke::testing

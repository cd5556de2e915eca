// Every service serves Prometheus metrics on --metrics-listen, the counters move as the loop
// works, and no label grows with the number of apps: the series are the same at 10 apps and at 30.
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;

const char* const kStages[] = {"source-fetcher", "renderer", "differ", "applier", "orchestrator"};

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

class MetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = temp_.path() + "/src";
    ASSERT_TRUE(Sh("git init -q -b main src && git init -q --bare -b main hydrated.git && "
                   "mkdir -p src/app && printf 'apiVersion: v1\\nkind: ConfigMap\\nmetadata: "
                   "{name: settings}\\ndata: {a: b}\\n' > src/app/cm.yaml && cd src && "
                   "git -c user.email=t@t -c user.name=t commit -qm one --allow-empty && "
                   "git add -A && git -c user.email=t@t -c user.name=t commit -qm two",
                   temp_.path())
                    .ok());
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  void AddAndSync(int from, int to) {
    for (int i = from; i < to; ++i) {
      v1::CreateApplicationRequest request;
      v1::Application* app = request.mutable_application();
      app->set_name(absl::StrCat("app-", i));
      app->mutable_spec()->mutable_source()->set_repo_url(src_);
      app->mutable_spec()->mutable_source()->set_path("app");
      auto* git = app->mutable_spec()->mutable_destination()->mutable_git();
      git->set_repo_url(temp_.path() + "/hydrated.git");
      git->set_branch("rendered");
      git->set_path(absl::StrCat("app-", i));
      app->mutable_spec()->mutable_sync_policy()->set_automated(true);
      v1::Application created;
      auto context = ContextWithTimeout(absl::Seconds(10));
      ASSERT_TRUE(suite_->api().CreateApplication(context.get(), request, &created).ok());
    }
    for (int i = from; i < to; ++i) {
      auto app = suite_->WaitFor(
          absl::StrCat("app-", i),
          [](const v1::Application& a) {
            return a.status().sync() == types::v1::SYNC_STATUS_SYNCED;
          },
          absl::Seconds(90));
      ASSERT_TRUE(app.ok()) << app.status();
    }
  }

  TempDir temp_;
  std::string src_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(MetricsTest, EveryServiceCountsItsWorkAndSeriesDoNotGrowWithApps) {
  AddAndSync(0, 10);
  absl::SleepFor(absl::Seconds(2));  // the after-sync comparisons settle
  std::map<std::string, std::string> first;
  for (const char* stage : kStages) {
    auto text = suite_->Scrape(stage);
    ASSERT_TRUE(text.ok()) << stage << ": " << text.status();
    first[stage] = *text;
    EXPECT_THAT(*text, ::testing::HasSubstr("todoke_grpc_server_handled_total")) << stage;
  }
  EXPECT_GT(Sample(first["source-fetcher"], "todoke_source_fetcher_tree_files_total"), 0);
  EXPECT_GT(Sample(first["renderer"], "todoke_renderer_objects_total"), 0);
  EXPECT_GT(Sample(first["differ"], "todoke_differ_objects_total{status=\"Synced\"}"), 0);
  EXPECT_EQ(Sample(first["applier"], "todoke_applier_objects_total{action=\"created\"}"), 10);
  EXPECT_GE(
      Sample(first["orchestrator"], "todoke_orchestrator_reconciles_total{result=\"synced\"}"), 10);
  EXPECT_EQ(Sample(first["orchestrator"], "todoke_orchestrator_apps_by_sync{sync=\"Synced\"}"), 10);
  EXPECT_EQ(Sample(first["renderer"],
                   "todoke_grpc_server_handled_total{code=\"OK\",method=\"/todoke.renderer.v1."
                   "Renderer/Render\"}"),
            Sample(first["renderer"], "todoke_renderer_renders_total{cache=\"hit\"}") +
                Sample(first["renderer"], "todoke_renderer_renders_total{cache=\"miss\"}"));

  AddAndSync(10, 30);
  absl::SleepFor(absl::Seconds(2));
  for (const char* stage : kStages) {
    auto text = suite_->Scrape(stage);
    ASSERT_TRUE(text.ok()) << stage << ": " << text.status();
    EXPECT_EQ(Series(*text), Series(first[stage])) << stage << ": a label grew with the apps";
  }
  auto orchestrator = suite_->Scrape("orchestrator");
  ASSERT_TRUE(orchestrator.ok());
  EXPECT_EQ(Sample(*orchestrator, "todoke_orchestrator_apps_by_sync{sync=\"Synced\"}"), 30);
  auto applier = suite_->Scrape("applier");
  ASSERT_TRUE(applier.ok());
  EXPECT_EQ(Sample(*applier, "todoke_applier_objects_total{action=\"created\"}"), 30);
}

}  // namespace
}  // namespace todoke::testing

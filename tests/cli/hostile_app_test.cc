// Hostile Application specs through the real public API: the orchestrator's gRPC and the
// `todoke app apply -f` command, against the five services as processes. What a user relies on:
// a source or destination path that leaves the repository (.., absolute, backslashes, NUL) and a
// name that is not a DNS label ('/', '..', too long) are refused with INVALID_ARGUMENT naming
// the field and the app, and nothing is stored or written; a kustomization whose resources leave
// the repository fails to render naming the entry, and nothing is hydrated; a path spelled with
// %2e%2e is a literal directory name, never decoded into a traversal; a file:// repository is
// refused by a source-fetcher without --allow-local-repos; an over-large file given to
// `todoke app apply -f` is refused before it is sent.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/integration/process.h"
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

constexpr absl::Duration kConverge = absl::Seconds(60);

class HostileAppTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = temp_.path() + "/src";
    hydrated_ = temp_.path() + "/hydrated.git";
    ASSERT_TRUE(
        Sh("git init -q -b main src && git init -q --bare -b main hydrated.git", temp_.path())
            .ok());
    ASSERT_TRUE(Sh("mkdir -p web escape absolute && git config user.email t@t && "
                   "git config user.name t",
                   src_)
                    .ok());
    WriteFile(src_ + "/web/kustomization.yaml", "resources: [configmap.yaml]\n");
    WriteFile(src_ + "/web/configmap.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n");
    // A file outside the repository the kustomizations below try to pull in.
    WriteFile(temp_.path() + "/secret.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: stolen}\ndata: {k: v}\n");
    WriteFile(src_ + "/escape/kustomization.yaml", "resources: [../../secret.yaml]\n");
    WriteFile(src_ + "/absolute/kustomization.yaml",
              absl::StrCat("resources: [", temp_.path(), "/secret.yaml]\n"));
    auto head = Sh("git add -A && git commit -q -m init", src_);
    ASSERT_TRUE(head.ok()) << head.status();
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
  }

  v1::Application App(const std::string& name, const std::string& path = "web") {
    v1::Application app;
    app.set_name(name);
    auto* source = app.mutable_spec()->mutable_source();
    source->set_repo_url(src_);
    source->set_target_revision("main");
    source->set_path(path);
    auto* git = app.mutable_spec()->mutable_destination()->mutable_git();
    git->set_repo_url(hydrated_);
    git->set_branch("rendered");
    git->set_path(name.size() < 64 ? name : "x");
    app.mutable_spec()->mutable_sync_policy()->set_automated(true);
    app.mutable_spec()->mutable_sync_policy()->mutable_interval()->set_seconds(3600);
    return app;
  }

  grpc::Status Create(const v1::Application& app) {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = app;
    v1::Application response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    return suite_->api().CreateApplication(context.get(), request, &response);
  }

  int AppCount() {
    v1::ListApplicationsRequest request;
    v1::ListApplicationsResponse response;
    auto context = ContextWithTimeout(absl::Seconds(10));
    grpc::Status status = suite_->api().ListApplications(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.applications_size();
  }

  std::string HydratedFiles() {
    auto files = Sh("git ls-tree -r --name-only rendered 2>/dev/null || true", hydrated_);
    return files.ok() ? *files : "";
  }

  // The app once one of its conditions names `part`.
  absl::StatusOr<v1::Application> WaitForCondition(const std::string& name,
                                                   const std::string& part) {
    return suite_->WaitFor(
        name,
        [&](const v1::Application& a) {
          for (const auto& condition : a.status().conditions()) {
            if (absl::StrContains(condition.message(), part)) return true;
          }
          return false;
        },
        kConverge);
  }

  TempDir temp_;
  std::string src_;
  std::string hydrated_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(HostileAppTest, PathsAndNamesThatLeaveTheRepositoryAreRefusedNamingFieldAndApp) {
  struct Case {
    std::string what;
    v1::Application app;
    std::string field;
  };
  std::vector<Case> cases;
  for (const std::string& path :
       std::vector<std::string>{"..", "web/../..", "../src", "/etc", "/", "..\\..\\etc",
                                "web\\..\\..", std::string("web\0/../../etc", 14), "web\n"}) {
    cases.push_back(
        {"source.path " + absl::CEscape(path), App("src-path", path), "spec.source.path"});
  }
  for (const std::string& path :
       std::vector<std::string>{"../other", "/tmp/out", "a/../../b", "..\\b"}) {
    v1::Application app = App("dst-path");
    app.mutable_spec()->mutable_destination()->mutable_git()->set_path(path);
    cases.push_back(
        {"destination.git.path " + absl::CEscape(path), app, "spec.destination.git.path"});
  }
  for (const std::string& name :
       std::vector<std::string>{"a/b", "..", ".", "../../etc", std::string(300, 'a'), "A",
                                std::string("nul\0x", 5), "web/../../x"}) {
    cases.push_back({"name " + absl::CEscape(name.substr(0, 20)), App(name), "metadata.name"});
  }
  for (const Case& c : cases) {
    grpc::Status status = Create(c.app);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.what;
    EXPECT_THAT(status.error_message(), HasSubstr(c.field)) << c.what;
    EXPECT_THAT(status.error_message(), HasSubstr("application \"")) << c.what;
    EXPECT_THAT(status.error_message(), HasSubstr(absl::CHexEscape(c.app.name().substr(0, 20))))
        << c.what;
    EXPECT_LT(status.error_message().size(), 1000u) << c.what;
  }
  EXPECT_EQ(AppCount(), 0);
  EXPECT_EQ(HydratedFiles(), "");
}

TEST_F(HostileAppTest, KustomizeResourcesOutsideTheRepositoryFailToRenderNamingTheEntry) {
  ASSERT_TRUE(Create(App("escape", "escape")).ok());
  auto app = WaitForCondition("escape", "../../secret.yaml");
  ASSERT_TRUE(app.ok()) << app.status();
  std::string messages;
  for (const auto& condition : app->status().conditions()) {
    absl::StrAppend(&messages, condition.type(), ": ", condition.message(), "\n");
  }
  EXPECT_THAT(messages, HasSubstr("outside the repository")) << messages;
  // An absolute entry is a path inside the repository (kustomize has no filesystem here): not
  // found there, and the file outside is never read.
  ASSERT_TRUE(Create(App("absolute", "absolute")).ok());
  auto absolute = WaitForCondition("absolute", "secret.yaml");
  ASSERT_TRUE(absolute.ok()) << absolute.status();
  absl::SleepFor(absl::Seconds(1));
  EXPECT_THAT(HydratedFiles(), ::testing::Not(HasSubstr("stolen")));
  auto files = Sh("git grep -l stolen rendered 2>/dev/null || true", hydrated_);
  EXPECT_EQ(files.ok() ? *files : "?", "");
}

TEST_F(HostileAppTest, PercentEncodedDotsAreALiteralNameNotATraversal) {
  ASSERT_TRUE(Create(App("encoded", "%2e%2e/%2e%2e/etc")).ok());
  auto app = WaitForCondition("encoded", "%2e%2e/%2e%2e/etc");
  ASSERT_TRUE(app.ok()) << app.status();
  EXPECT_EQ(app->status().synced_revision(), "");
  EXPECT_EQ(HydratedFiles(), "");
}

TEST_F(HostileAppTest, LocalRepositoriesNeedTheSourceFetchersFlag) {
  // The suite's fetcher runs with --allow-local-repos (its repositories are local); a second
  // installation whose fetcher does not refuses file:// and local paths, naming the URL.
  TempDir other;
  TodokeSuite::Options options;
  options.orchestrator_flags = {"--default-interval=1h"};
  options.source_fetcher_flags = {"--allow-local-repos=false"};
  auto strict = TodokeSuite::Start(other.path(), options);
  ASSERT_TRUE(strict.ok()) << strict.status();
  v1::Application app = App("local");
  app.mutable_spec()->mutable_source()->set_repo_url("file:///etc");
  v1::CreateApplicationRequest request;
  *request.mutable_application() = app;
  v1::Application response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  ASSERT_TRUE((*strict)->api().CreateApplication(context.get(), request, &response).ok());
  auto seen = (*strict)->WaitFor(
      "local",
      [](const v1::Application& a) {
        for (const auto& condition : a.status().conditions()) {
          if (absl::StrContains(condition.message(), "local repositories are not allowed")) {
            return true;
          }
        }
        return false;
      },
      kConverge);
  ASSERT_TRUE(seen.ok()) << seen.status();
  std::string messages;
  for (const auto& condition : seen->status().conditions()) messages += condition.message();
  EXPECT_THAT(messages, HasSubstr("file:///etc"));
}

TEST_F(HostileAppTest, AppApplyRefusesHostileAndHugeFilesNamingThem) {
  const std::string server = "--server=" + suite_->address("orchestrator");
  const std::string hostile = temp_.path() + "/hostile.yaml";
  WriteFile(hostile, absl::StrCat("apiVersion: todoke.dev/v1alpha1\nkind: Application\n",
                                  "metadata: {name: sneaky}\nspec:\n  source: {repoURL: ", src_,
                                  ", path: \"web/../../..\"}\n  destination:\n    git: {repoURL: ",
                                  hydrated_, ", branch: rendered, path: \"/etc\"}\n"));
  CliResult r = RunTodoke(temp_.path(), {server, "app", "apply", "-f", hostile});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, HasSubstr("hostile.yaml")) << r;
  EXPECT_THAT(r.err, HasSubstr("spec.source.path")) << r;
  EXPECT_THAT(r.err, HasSubstr("spec.destination.git.path")) << r;
  EXPECT_THAT(r.err, HasSubstr("sneaky")) << r;

  // 20 MiB of YAML: refused as too large, naming the file, before anything is sent.
  const std::string huge = temp_.path() + "/huge.yaml";
  {
    std::ofstream out(huge);
    out << "apiVersion: todoke.dev/v1alpha1\nkind: Application\nmetadata: {name: huge}\n"
           "spec:\n  source: {repoURL: x, path: web}\n  destination:\n    git: {repoURL: y, "
           "branch: b}\n# ";
    out << std::string(20 << 20, 'p') << "\n";
  }
  r = RunTodoke(temp_.path(), {server, "app", "apply", "-f", huge});
  EXPECT_NE(r.exit_code, 0) << r;
  EXPECT_THAT(r.err, HasSubstr("huge.yaml")) << r;
  EXPECT_LT(r.err.size(), 2000u) << "the error echoes the file";
  EXPECT_EQ(AppCount(), 0);
  EXPECT_EQ(HydratedFiles(), "");
}

}  // namespace
}  // namespace todoke::testing

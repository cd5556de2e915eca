// Secret canaries end to end: distinct canary values are planted in every credential and Secret
// the loop handles, the five services run as processes (debug logging), an app with a Secret is
// synced twice into a Git destination that opts in to Secrets, and every output is searched:
//   credentials: the source's Git password (basic auth over smart HTTP, from a credentials
//     file), the API token (--tokens-file), the webhook secret (--webhook-secret-file);
//   Secret values: `stringData` and `data` (also searched base64-encoded), changed between syncs;
//   outputs: every stage's log, the events of a Watch stream, History (API and `todoke app
//     history`), `todoke app get` and `app diff` (table and JSON), the hydration commits and
//     their messages except the Secret's own file (opted in), the source-fetcher's cache folder
//     for the credentials.
// No canary may appear. (The Kubernetes destination's API server errors are not covered here.)
#include <fstream>
#include <mutex>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

namespace v1 = orchestrator::v1;
using source_fetcher::testing::HttpGitServer;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;

constexpr char kGitPassword[] = "canary-git-password-7f3a9c";
constexpr char kApiToken[] = "canary-api-token-9d2e4b71";
constexpr char kWebhookSecret[] = "canary-webhook-secret-4a8f13";
constexpr char kStringData1[] = "canary-stringdata-one-51be";
constexpr char kData1[] = "canary-data-one-c0de77";
constexpr char kStringData2[] = "canary-stringdata-two-e9a0";
constexpr char kData2[] = "canary-data-two-3b6d11";

using ::todoke::test_files::ReadFile;
using ::todoke::test_files::WriteFile;

class CanaryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Sh("command -v lighttpd >/dev/null").ok()) {
      if (std::getenv("TODOKE_REQUIRE_ALL") != nullptr) FAIL() << "lighttpd is missing";
      GTEST_SKIP() << "lighttpd is missing (the smart HTTP Git server of the test)";
    }
    const std::string root = temp_.path();
    ASSERT_TRUE(Sh("mkdir -p repos http logs app-src && git init -q --bare -b main repos/src.git "
                   "&& git init -q --bare -b main hydrated.git",
                   root)
                    .ok());
    src_ = root + "/app-src";
    ASSERT_TRUE(Sh("git init -q -b main . && git config user.email t@t && git config user.name t "
                   "&& mkdir app",
                   src_)
                    .ok());
    ASSERT_TRUE(http_
                    .Start(root + "/repos", root + "/http", "deployer", kGitPassword,
                           "unused-bearer-token-123")
                    .ok());
    repo_url_ = http_.Url("private", "src.git");
    WriteFile(root + "/git-password", std::string(kGitPassword) + "\n");
    WriteFile(root + "/credentials",
              absl::StrCat("http://127.0.0.1:", http_.port(),
                           "/private/ username=deployer password_file=", root, "/git-password\n"));
    WriteFile(root + "/tokens", std::string(kApiToken) + " admin\n");
    hydrated_ = root + "/hydrated.git";
  }

  std::string CommitApp(const std::string& string_data, const std::string& data,
                        const std::string& color) {
    WriteFile(src_ + "/app/configmap.yaml",
              absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n"
                           "data: {color: ",
                           color, "}\n"));
    WriteFile(src_ + "/app/secret.yaml",
              absl::StrCat("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ntype: Opaque\n"
                           "stringData: {password: ",
                           string_data, "}\ndata: {token: ", absl::Base64Escape(data), "}\n"));
    auto head = Sh("git add -A && git commit -q -m 'app " + color +
                       "' && git push -q ../repos/src.git main && git rev-parse HEAD",
                   src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  // Runs the CLI against the suite's orchestrator with the canary token; stdout and stderr.
  std::string Cli(const std::string& args) {
    auto out = Sh(absl::StrCat(BinaryPath("todoke"), " --server ", suite_->address("orchestrator"),
                               " --token ", kApiToken, " --timeout 30s ", args, " 2>&1 || true"));
    return out.ok() ? *out : out.status().ToString();
  }

  static bool SyncedAt(const v1::Application& app, const std::string& commit) {
    return app.status().sync() == types::v1::SYNC_STATUS_SYNCED &&
           app.status().revision() == commit;
  }

  TempDir temp_;
  HttpGitServer http_;
  std::string src_, hydrated_, repo_url_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(CanaryTest, NoCredentialOrSecretValueAppearsInAnyOutput) {
  const std::string root = temp_.path();
  const std::string first = CommitApp(kStringData1, kData1, "blue");
  TodokeSuite::Options options;
  options.orchestrator_flags = {"--default-interval=1h", "--tokens-file=" + root + "/tokens"};
  options.source_fetcher_flags = {"--credentials=" + root + "/credentials"};
  options.all_stage_flags = {"--log-level=debug"};
  options.log_dir = root + "/logs";
  options.webhook_secret = kWebhookSecret;
  options.api_token = kApiToken;
  auto suite = TodokeSuite::Start(root, options);
  ASSERT_TRUE(suite.ok()) << suite.status();
  suite_ = *std::move(suite);

  EventRecorder recorder(suite_->api());  // every app's events, until the end of the test
  ASSERT_TRUE(recorder.watching()) << "the Watch stream was not registered in 30 s";

  v1::Application app;
  app.set_name("vault");
  auto* source = app.mutable_spec()->mutable_source();
  source->set_repo_url(repo_url_);
  source->set_target_revision("main");
  source->set_path("app");
  auto* git = app.mutable_spec()->mutable_destination()->mutable_git();
  git->set_repo_url(hydrated_);
  git->set_branch("rendered");
  git->set_path("vault");
  git->set_write_secrets(true);
  auto* policy = app.mutable_spec()->mutable_sync_policy();
  policy->set_automated(true);
  policy->set_prune(true);
  policy->mutable_interval()->set_seconds(3600);
  {
    v1::CreateApplicationRequest request;
    *request.mutable_application() = app;
    v1::Application created;
    auto context = ContextWithTimeout(absl::Seconds(10));
    grpc::Status status = suite_->api().CreateApplication(context.get(), request, &created);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  auto synced = suite_->WaitFor(
      "vault", [&](const v1::Application& a) { return SyncedAt(a, first); }, absl::Seconds(90));
  ASSERT_TRUE(synced.ok()) << synced.status();

  // A second commit changes both Secret values; the diff is asked for before the webhook.
  const std::string second = CommitApp(kStringData2, kData2, "green");
  std::vector<std::string> outputs;  // what a user sees, labelled
  outputs.push_back("app diff (before the webhook): " + Cli("app diff vault"));
  outputs.push_back("app diff -o json: " + Cli("-o json app diff vault"));
  auto accepted = suite_->PostWebhook(repo_url_, "refs/heads/main");
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(*accepted, 202);
  synced = suite_->WaitFor(
      "vault", [&](const v1::Application& a) { return SyncedAt(a, second); }, absl::Seconds(90));
  ASSERT_TRUE(synced.ok()) << synced.status();

  outputs.push_back("Application: " + synced->DebugString());
  outputs.push_back("app get: " + Cli("app get vault"));
  outputs.push_back("app get -o json: " + Cli("-o json app get vault"));
  outputs.push_back("app diff (synced): " + Cli("app diff vault"));
  outputs.push_back("app history: " + Cli("app history vault"));
  outputs.push_back("app history -o json: " + Cli("-o json app history vault"));
  {
    v1::HistoryRequest request;
    request.set_name("vault");
    v1::HistoryResponse history;
    auto context = ContextWithTimeout(absl::Seconds(10));
    ASSERT_TRUE(suite_->api().History(context.get(), request, &history).ok());
    EXPECT_GE(history.entries_size(), 2);
    outputs.push_back("History: " + history.DebugString());
  }
  // An API call without the token is refused: the token was in force.
  {
    grpc::Status without;
    auto channel = MakeChannel(suite_->address("orchestrator"));
    ASSERT_TRUE(channel.ok());
    auto stub = v1::Orchestrator::NewStub(*channel);
    v1::GetApplicationRequest request;
    request.set_name("vault");
    v1::Application ignored;
    auto context = ContextWithTimeout(absl::Seconds(10));
    without = stub->GetApplication(context.get(), request, &ignored);
    EXPECT_EQ(without.error_code(), grpc::StatusCode::UNAUTHENTICATED);
    outputs.push_back("refused call: " + without.error_message());
  }

  // The hydrated branch: the Secret's own file holds the values (opted in); nothing else does.
  auto files = Sh("git ls-tree -r --name-only rendered", hydrated_);
  ASSERT_TRUE(files.ok()) << files.status();
  std::string secret_file;
  for (absl::string_view file : absl::StrSplit(*files, '\n')) {
    if (absl::StrContains(absl::AsciiStrToLower(file), "secret")) secret_file = std::string(file);
  }
  ASSERT_FALSE(secret_file.empty()) << "no Secret file in the branch:\n" << *files;
  auto secret_text = Sh("git show rendered:" + secret_file, hydrated_);
  ASSERT_TRUE(secret_text.ok());
  EXPECT_TRUE(absl::StrContains(*secret_text, kStringData2) ||
              absl::StrContains(*secret_text, absl::Base64Escape(kStringData2)))
      << "the canary was not planted: " << *secret_text;
  auto commits = Sh(
      "git log -p --all --format='commit %H%n%B' -- . ':(exclude)" + secret_file + "'", hydrated_);
  ASSERT_TRUE(commits.ok()) << commits.status();
  outputs.push_back("hydration commits: " + *commits);
  auto messages = Sh("git log --all --format=%B", hydrated_);
  ASSERT_TRUE(messages.ok());
  outputs.push_back("hydration commit messages: " + *messages);

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
  // The credentials are not kept on disk by the source-fetcher (its cache is its state).
  auto cached = Sh(absl::StrCat("grep -rlaF -e '", kGitPassword, "' -e '", kApiToken, "' -e '",
                                kWebhookSecret, "' fetcher-cache || true"),
                   root);
  ASSERT_TRUE(cached.ok());
  EXPECT_EQ(*cached, "") << "credentials stored in the source-fetcher's cache";

  for (const char* canary :
       {kGitPassword, kApiToken, kWebhookSecret, kStringData1, kData1, kStringData2, kData2}) {
    EXPECT_EQ(FindCanary(outputs, canary), "");
  }
}

}  // namespace
}  // namespace todoke::testing

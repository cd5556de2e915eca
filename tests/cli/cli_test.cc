#include "cli/cli.h"

#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::cli {
namespace {

using ::testing::HasSubstr;

int RunCli(std::vector<std::string> args, std::string* out, std::string* err) {
  std::ostringstream o, e;
  const int code = Run(std::move(args), o, e);
  *out = o.str();
  *err = e.str();
  return code;
}

TEST(CliTest, VersionPrintsClientVersion) {
  std::string out, err;
  EXPECT_EQ(RunCli({"version"}, &out, &err), 0);
  EXPECT_THAT(out, ::testing::MatchesRegex("todoke [0-9]+\\.[0-9]+\\.[0-9]+\n"));
  EXPECT_EQ(RunCli({"-o", "json", "version"}, &out, &err), 0);
  EXPECT_THAT(out, HasSubstr("\"client\""));
}

TEST(CliTest, UnknownCommandIsUsageError) {
  std::string out, err;
  EXPECT_EQ(RunCli({"frobnicate"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown command \"frobnicate\""));
  EXPECT_EQ(RunCli({}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("Usage: todoke"));
}

TEST(CliTest, GlobalOptionsAnywhere) {
  std::vector<std::string> args = {"app", "--server=10.0.0.1:7400", "get", "-o", "yaml", "web"};
  auto options = ParseGlobalOptions(args);
  ASSERT_TRUE(options.ok());
  EXPECT_EQ(options->server, "10.0.0.1:7400");
  EXPECT_EQ(options->output, OutputFormat::kYaml);
  EXPECT_EQ(args, (std::vector<std::string>{"app", "get", "web"}));
}

TEST(CliTest, BadOutputFormatIsRefused) {
  std::string out, err;
  EXPECT_EQ(RunCli({"-o", "xml", "version"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("\"xml\" is not table, json or yaml"));
}

TEST(CliTest, UnreachableServerFailsWithinTimeout) {
  std::string out, err;
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunCli({"--server=127.0.0.1:1", "--timeout=500ms", "app", "list"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("127.0.0.1:1"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST(CliTest, FormatsMessagesAsYamlAndJson) {
  orchestrator::v1::Application app;
  app.set_name("guestbook");
  app.mutable_spec()->mutable_source()->set_repo_url("https://git.example.com/apps.git");
  EXPECT_EQ(FormatMessage(app, OutputFormat::kYaml),
            "name: guestbook\nspec:\n  source:\n    repoUrl: https://git.example.com/apps.git\n");
  EXPECT_THAT(FormatMessage(app, OutputFormat::kJson), HasSubstr("\"name\": \"guestbook\""));
}

}  // namespace
}  // namespace todoke::cli

#include "cli/cli.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "todoke/orchestrator/v1/orchestrator.pb.h"

namespace todoke::cli {
namespace {

using ::testing::HasSubstr;

int RunCli(std::vector<std::string> args, std::string* out, std::string* err) {
  std::ostringstream o, e;
  const int code = Run(std::move(args), o, e, Terminal{});
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
  EXPECT_EQ(RunCli({"version", "-o", "yaml"}, &out, &err), 0);
  EXPECT_THAT(out, ::testing::MatchesRegex("client: [0-9]+\\.[0-9]+\\.[0-9]+\n"));
}

TEST(CliTest, UnknownCommandIsUsageError) {
  std::string out, err;
  EXPECT_EQ(RunCli({"frobnicate"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown command \"frobnicate\""));
  EXPECT_EQ(RunCli({}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("Usage: todoke"));
}

TEST(CliTest, BadOutputFormatIsRefused) {
  std::string out, err;
  EXPECT_EQ(RunCli({"-o", "xml", "version"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("\"xml\" is not table, json or yaml"));
}

TEST(CliTest, UnreachableServerSaysWhatToDo) {
  std::string out, err;
  const absl::Time start = absl::Now();
  EXPECT_EQ(RunCli({"--server=127.0.0.1:1", "--timeout=500ms", "app", "list"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("todoke: orchestrator not reachable at 127.0.0.1:1: start it "
                             "(todoke-orchestrator --listen=127.0.0.1:1 ...) or set --server / "
                             "TODOKE_SERVER"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  // The same for a command that waits, and for the address from the environment.
  setenv("TODOKE_SERVER", "127.0.0.1:1", 1);
  EXPECT_EQ(RunCli({"app", "wait", "web", "--timeout=2s"}, &out, &err), 1);
  unsetenv("TODOKE_SERVER");
  EXPECT_THAT(err, HasSubstr("orchestrator not reachable at 127.0.0.1:1"));
}

TEST(CliTest, ASilentAddressIsReportedAsNotReachable) {
  // A port that takes connections but never speaks HTTP/2 (a listener that does not accept):
  // the call ends at its deadline, and that is still "not reachable", not a slow server.
  const int listener = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(listen(listener, 8), 0);
  socklen_t length = sizeof address;
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length), 0);
  const std::string server = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));
  std::string out, err;
  EXPECT_EQ(RunCli({"--server", server, "--timeout=300ms", "app", "get", "web"}, &out, &err), 1);
  close(listener);
  EXPECT_THAT(err, HasSubstr("orchestrator not reachable at " + server));
  EXPECT_THAT(err, HasSubstr("(no connection within 300ms)"));
}

// Every command and subcommand, as words.
std::vector<std::vector<std::string>> AllCommands() {
  std::vector<std::vector<std::string>> commands = {{},      {"version"},    {"health"}, {"render"},
                                                    {"app"}, {"completion"}, {"help"}};
  for (const char* verb :
       {"create", "apply", "list", "get", "diff", "sync", "refresh", "history", "rollback",
        "delete", "suspend", "resume", "terminate-op", "wait", "watch"}) {
    commands.push_back({"app", verb});
  }
  return commands;
}

TEST(CliTest, HelpWorksOnEveryCommand) {
  for (const std::vector<std::string>& words : AllCommands()) {
    const std::string name = words.empty() ? "todoke" : "todoke " + absl::StrJoin(words, " ");
    for (const char* flag : {"--help", "-h"}) {
      std::vector<std::string> args = words;
      args.push_back(flag);
      std::string out, err;
      EXPECT_EQ(RunCli(args, &out, &err), 0) << name << " " << flag << ": " << err;
      EXPECT_THAT(out, HasSubstr("Usage: " + name)) << name;
      EXPECT_EQ(err, "") << name;
    }
    std::vector<std::string> help = {"help"};
    help.insert(help.end(), words.begin(), words.end());
    std::string out, err;
    EXPECT_EQ(RunCli(help, &out, &err), 0) << name << ": " << err;
    EXPECT_THAT(out, HasSubstr("Usage: " + name)) << name;
  }
  std::string out, err;
  EXPECT_EQ(RunCli({"app", "sync", "--help"}, &out, &err), 0);
  for (const char* flag :
       {"--prune", "--dry-run", "--force-conflicts", "--revision", "--wait", "--timeout"}) {
    EXPECT_THAT(out, HasSubstr(flag));
  }
  EXPECT_EQ(RunCli({"help", "app", "frobnicate"}, &out, &err), 2);
}

TEST(CliTest, UnknownFlagsAndArgumentsAreUsageErrors) {
  for (const std::vector<std::string>& words : AllCommands()) {
    std::vector<std::string> args = words;
    args.push_back("--no-such-flag");
    std::string out, err;
    EXPECT_EQ(RunCli(args, &out, &err), 2) << absl::StrJoin(args, " ");
    EXPECT_THAT(err, HasSubstr("unknown flag \"--no-such-flag\"")) << absl::StrJoin(args, " ");
    EXPECT_EQ(out, "");
  }
  std::string out, err;
  EXPECT_EQ(RunCli({"app", "frobnicate"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("unknown app subcommand \"frobnicate\""));
  EXPECT_EQ(RunCli({"app", "get", "web", "extra"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("todoke app get: unexpected argument \"extra\""));
  EXPECT_EQ(RunCli({"app", "get"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("NAME is required"));
  EXPECT_EQ(RunCli({"app"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("Usage: todoke app"));
  EXPECT_EQ(RunCli({"--timeout", "soon", "version"}, &out, &err), 2);
  EXPECT_THAT(err, HasSubstr("--timeout \"soon\" is not a duration"));
  EXPECT_EQ(RunCli({"version", "--server"}, &out, &err), 2);  // a value is missing
}

TEST(CliTest, AppNamesThatAreCommandWordsAreStillNames) {
  std::string out, err;
  // "list" after `app get` is the NAME, not another command; the server is down, so the call
  // fails, but it is made for "list".
  EXPECT_EQ(RunCli({"--server=127.0.0.1:1", "app", "get", "list"}, &out, &err), 1);
  EXPECT_THAT(err, HasSubstr("not reachable"));
}

TEST(CliTest, CompletionScriptCompletesCommandsAndFlags) {
  std::string script, err;
  ASSERT_EQ(RunCli({"completion", "bash"}, &script, &err), 0) << err;
  EXPECT_THAT(script, HasSubstr("complete -F _todoke todoke"));
  EXPECT_EQ(RunCli({"completion", "zsh"}, &script, &err), 2);
  ASSERT_EQ(RunCli({"completion", "bash"}, &script, &err), 0) << err;

  const std::string path = ::testing::TempDir() + "/todoke_completion.bash";
  std::ofstream(path) << script;
  // Completes the last word of `line` as bash would, printing the candidates.
  auto complete = [&](const std::string& line) {
    const std::string command =
        "bash -c 'source " + path + " && COMP_WORDS=(" + line +
        ") && COMP_CWORD=$((${#COMP_WORDS[@]} - 1)) && _todoke && echo \"${COMPREPLY[*]}\"'";
    FILE* pipe = popen(command.c_str(), "r");
    std::string output;
    char buffer[4096];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    EXPECT_EQ(pclose(pipe), 0) << command;
    return output;
  };
  EXPECT_EQ(complete("todoke ap"), "app\n");
  EXPECT_EQ(complete("todoke app sy"), "sync\n");
  EXPECT_EQ(complete("todoke app t"), "terminate-op\n");
  EXPECT_EQ(complete("todoke app sync web --pr"), "--prune\n");
  EXPECT_EQ(complete("todoke app sync web --dr"), "--dry-run\n");
  EXPECT_EQ(complete("todoke app delete web --ca"), "--cascade\n");
  EXPECT_EQ(complete("todoke app list --ser"), "--server\n");  // global flags everywhere
  EXPECT_EQ(complete("todoke -o y"), "yaml\n");
  EXPECT_EQ(complete("todoke render --mode k"), "kustomize\n");
  EXPECT_EQ(complete("todoke completion b"), "bash\n");
  EXPECT_EQ(complete("todoke --server 127.0.0.1:7400 app wa"), "wait watch\n");
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

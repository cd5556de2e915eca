#include "services/renderer/core/plugin.h"

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// Records the spec and what the working folder held; answers with a canned result.
class FakeProcessRunner : public ProcessRunner {
 public:
  explicit FakeProcessRunner(absl::StatusOr<ProcessResult> result) : result_(std::move(result)) {}
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) const override {
    absl::MutexLock lock(&mu_);
    spec_ = spec;
    std::ifstream in(spec.working_dir + "/sub/values.yaml");
    std::ostringstream text;
    text << in.rdbuf();
    seen_values_ = text.str();
    return result_;
  }
  ProcessSpec spec() const {
    absl::MutexLock lock(&mu_);
    return spec_;
  }
  std::string seen_values() const {
    absl::MutexLock lock(&mu_);
    return seen_values_;
  }

 private:
  absl::StatusOr<ProcessResult> result_;
  mutable absl::Mutex mu_;
  mutable ProcessSpec spec_;
  mutable std::string seen_values_;
};

PluginConfig Config(const std::string& yaml) {
  absl::StatusOr<PluginConfig> config = ParsePluginConfig(yaml);
  EXPECT_TRUE(config.ok()) << config.status();
  return config.ok() ? *config : PluginConfig();
}

const char kHelmConfig[] = R"(
plugins:
  - name: helm
    command: [helm, template, .]
    allowedEnv: [HELM_NAMESPACE]
    env: {FIXED: "1"}
    allowArgs: true
    timeout: 5s
  - name: noargs
    command: [/bin/true]
    allowArgs: false
)";

MemoryFileSource AppFiles() {
  return MemoryFileSource(
      std::vector<TreeFileEntry>{{"charts/web/Chart.yaml", "name: web\n"},
                                 {"charts/web/sub/values.yaml", "replicas: 2\n"},
                                 {"charts/other/x.yaml", "x\n"}});
}

TEST(PluginConfigTest, Parses) {
  PluginConfig config = Config(kHelmConfig);
  ASSERT_TRUE(config.plugins.contains("helm"));
  const PluginDefinition& helm = config.plugins.at("helm");
  EXPECT_THAT(helm.command, ElementsAre("helm", "template", "."));
  EXPECT_THAT(helm.allowed_env, ElementsAre("HELM_NAMESPACE"));
  EXPECT_EQ(helm.env.at("FIXED"), "1");
  EXPECT_EQ(helm.timeout, absl::Seconds(5));
  EXPECT_TRUE(helm.allow_args);
  EXPECT_FALSE(config.plugins.at("noargs").allow_args);
}

// Arguments are opt-in: an argument from the Application (e.g. --values=/etc/passwd) could make
// a plugin read outside the app's folder, so a plugin that does not say allowArgs takes none.
TEST(PluginConfigTest, ArgumentsAreRefusedUnlessAllowed) {
  PluginConfig config = Config("plugins:\n  - name: plain\n    command: [/bin/true]\n");
  EXPECT_FALSE(config.plugins.at("plain").allow_args);
  auto runner = std::make_shared<FakeProcessRunner>(ProcessResult{});
  PluginRunner plugins(config, runner);
  MemoryFileSource files = AppFiles();
  absl::StatusOr<std::vector<Json>> result =
      plugins.Run(files, "charts/web", {"plain", {"--values=/etc/passwd"}, {}});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("plain"));
}

TEST(PluginConfigTest, Errors) {
  EXPECT_FALSE(ParsePluginConfig("plugins: [{name: x}]").ok());
  EXPECT_FALSE(ParsePluginConfig("plugins: [{command: [a]}]").ok());
  EXPECT_FALSE(
      ParsePluginConfig("plugins: [{name: x, command: [a]}, {name: x, command: [b]}]").ok());
  EXPECT_FALSE(ParsePluginConfig("plugins: [{name: x, command: [a], timeout: soon}]").ok());
  EXPECT_EQ(LoadPluginConfig("/nonexistent/plugins.yaml").status().code(),
            absl::StatusCode::kNotFound);
}

TEST(PluginRunnerTest, RunsConfiguredCommandInACopyOfTheApp) {
  ProcessResult result;
  result.exit_code = 0;
  result.stdout_data = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: out}\n";
  auto runner = std::make_shared<FakeProcessRunner>(result);
  PluginRunner plugins(Config(kHelmConfig), runner);
  PluginRequest request{"helm", {"--namespace", "prod"}, {{"HELM_NAMESPACE", "prod"}}};
  MemoryFileSource files = AppFiles();
  absl::StatusOr<std::vector<Json>> objects = plugins.Run(files, "charts/web", request);
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  EXPECT_EQ((*objects)[0]["metadata"]["name"], "out");
  ProcessSpec spec = runner->spec();
  EXPECT_THAT(spec.argv, ElementsAre("helm", "template", ".", "--namespace", "prod"));
  EXPECT_THAT(spec.env, Contains("HELM_NAMESPACE=prod"));
  EXPECT_THAT(spec.env, Contains("FIXED=1"));
  EXPECT_THAT(spec.env, Contains("TODOKE_APP_PATH=charts/web"));
  EXPECT_EQ(spec.timeout, absl::Seconds(5));
  EXPECT_EQ(runner->seen_values(), "replicas: 2\n");
}

TEST(PluginRunnerTest, RefusesWhatTheConfigDoesNotAllow) {
  auto runner = std::make_shared<FakeProcessRunner>(ProcessResult{});
  PluginRunner plugins(Config(kHelmConfig), runner);
  MemoryFileSource files = AppFiles();
  absl::StatusOr<std::vector<Json>> unknown = plugins.Run(files, "charts/web", {"kapitan", {}, {}});
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("not configured"));
  EXPECT_EQ(plugins.Run(files, "charts/web", {"helm", {}, {{"LD_PRELOAD", "x"}}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plugins.Run(files, "charts/web", {"noargs", {"--x"}, {}}).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plugins.Run(files, "charts/missing", {"helm", {}, {}}).status().code(),
            absl::StatusCode::kNotFound);
}

// The real fork/exec runner, with commands a test configuration names.
PluginConfig ShellConfig(const std::string& script, const std::string& extra = "") {
  return Config("plugins:\n  - name: sh\n    command: [/bin/sh, -c, '" + script + "']\n" + extra);
}

TEST(ForkExecPluginTest, ParsesStdout) {
  PluginRunner plugins(
      ShellConfig("cat sub/values.yaml >/dev/null && printf \"apiVersion: v1\\nkind: List\\n"
                  "items:\\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: $NAME}}\\n\"",
                  "    allowedEnv: [NAME]\n"),
      std::make_shared<ForkExecProcessRunner>());
  MemoryFileSource files = AppFiles();
  absl::StatusOr<std::vector<Json>> objects =
      plugins.Run(files, "charts/web", {"sh", {}, {{"NAME", "from-env"}}});
  ASSERT_TRUE(objects.ok()) << objects.status();
  ASSERT_EQ(objects->size(), 1u);
  EXPECT_EQ((*objects)[0]["metadata"]["name"], "from-env");
}

TEST(ForkExecPluginTest, NonZeroExitCarriesStderrTail) {
  PluginRunner plugins(ShellConfig("echo first line >&2; echo chart not found >&2; exit 3"),
                       std::make_shared<ForkExecProcessRunner>());
  MemoryFileSource files = AppFiles();
  absl::StatusOr<std::vector<Json>> objects = plugins.Run(files, "charts/web", {"sh", {}, {}});
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("exited with status 3"));
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("chart not found"));
}

TEST(ForkExecPluginTest, Timeout) {
  PluginRunnerOptions options;
  options.timeout = absl::Milliseconds(300);
  PluginRunner plugins(ShellConfig("echo starting >&2; sleep 30"),
                       std::make_shared<ForkExecProcessRunner>(), options);
  MemoryFileSource files = AppFiles();
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<Json>> objects = plugins.Run(files, "charts/web", {"sh", {}, {}});
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  EXPECT_EQ(objects.status().code(), absl::StatusCode::kDeadlineExceeded);
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("starting"));
}

TEST(ForkExecPluginTest, OutputLimit) {
  PluginRunnerOptions options;
  options.max_output_bytes = 1000;
  PluginRunner plugins(ShellConfig("while true; do echo aaaaaaaaaaaaaaaaaaaaaaaa; done"),
                       std::make_shared<ForkExecProcessRunner>(), options);
  MemoryFileSource files = AppFiles();
  EXPECT_EQ(plugins.Run(files, "charts/web", {"sh", {}, {}}).status().code(),
            absl::StatusCode::kResourceExhausted);
}

TEST(ForkExecPluginTest, OutputThatIsNotObjects) {
  PluginRunner plugins(ShellConfig("echo just: text"), std::make_shared<ForkExecProcessRunner>());
  MemoryFileSource files = AppFiles();
  EXPECT_EQ(plugins.Run(files, "charts/web", {"sh", {}, {}}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Mask of the signals named `field` ("SigIgn", "SigBlk") in a /proc/<pid>/status text.
uint64_t SignalMask(const std::string& status, const std::string& field) {
  const size_t at = status.find(field + ":\t");
  if (at == std::string::npos) return ~uint64_t{0};
  return std::stoull(status.substr(at + field.size() + 2, 16), nullptr, 16);
}

// A plugin is started with posix_spawn (the renderer is multi-threaded): it leads its own
// process group, runs in the working directory, and does not inherit the server's ignored or
// blocked signals. Shown failing with the old fork/exec runner: a server that ignores SIGPIPE
// (as gRPC servers do) handed SIG_IGN on to every plugin, so a plugin writing to a closed pipe
// ran on instead of dying.
TEST(ForkExecProcessRunnerTest, ChildStartsCleanInItsOwnGroupAndFolder) {
  struct sigaction ignore = {}, old_pipe = {};
  ignore.sa_handler = SIG_IGN;
  sigaction(SIGPIPE, &ignore, &old_pipe);
  sigset_t block, old_mask;
  sigemptyset(&block);
  sigaddset(&block, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &block, &old_mask);

  ForkExecProcessRunner runner;
  ProcessSpec direct;  // no shell in between: the masks are the ones the plugin starts with
  direct.argv = {"/bin/cat", "/proc/self/status"};
  absl::StatusOr<ProcessResult> status = runner.Run(direct);
  ProcessSpec spec;
  spec.argv = {"/bin/sh", "-c", "echo cwd=$(pwd); echo stat=$(cat /proc/$$/stat)"};
  spec.working_dir = "/usr";
  absl::StatusOr<ProcessResult> result = runner.Run(spec);
  sigaction(SIGPIPE, &old_pipe, nullptr);
  pthread_sigmask(SIG_SETMASK, &old_mask, nullptr);
  ASSERT_TRUE(status.ok()) << status.status();
  EXPECT_EQ(SignalMask(status->stdout_data, "SigIgn") & (uint64_t{1} << (SIGPIPE - 1)), 0u)
      << status->stdout_data;
  EXPECT_EQ(SignalMask(status->stdout_data, "SigBlk"), 0u) << status->stdout_data;
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_tail;
  const std::string& out = result->stdout_data;
  EXPECT_THAT(out, HasSubstr("cwd=/usr\n"));
  // The sh's /proc/<pid>/stat, "pid (sh) S ppid pgrp ...": it leads a group of its own.
  const size_t stat_at = out.find("stat=");
  ASSERT_NE(stat_at, std::string::npos) << out;
  const std::string pid = out.substr(stat_at + 5, out.find(' ', stat_at) - stat_at - 5);
  std::vector<std::string> after_name =
      absl::StrSplit(out.substr(out.find(") ", stat_at) + 2), ' ');
  ASSERT_GE(after_name.size(), 3u) << out;
  EXPECT_EQ(after_name[2], pid) << out;
  EXPECT_NE(after_name[2], std::to_string(getpgrp()));
}

TEST(ForkExecProcessRunnerTest, MissingWorkingDirectoryIsAnError) {
  ForkExecProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"/bin/true"};
  spec.working_dir = "/nonexistent/todoke-plugin-dir";
  absl::StatusOr<ProcessResult> result = runner.Run(spec);
  EXPECT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("/nonexistent/todoke-plugin-dir"));
}

TEST(ForkExecProcessRunnerTest, MissingExecutable) {
  ForkExecProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"todoke-no-such-command"};
  EXPECT_EQ(runner.Run(spec).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace todoke::renderer

#include "services/renderer/core/plugin.h"

#include <fstream>
#include <sstream>

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
    timeout: 5s
  - name: noargs
    command: [/bin/true]
    allowArgs: false
)";

MemoryFileSource AppFiles() {
  return MemoryFileSource(std::vector<TreeFileEntry>{{"charts/web/Chart.yaml", "name: web\n"},
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
  EXPECT_FALSE(config.plugins.at("noargs").allow_args);
}

TEST(PluginConfigTest, Errors) {
  EXPECT_FALSE(ParsePluginConfig("plugins: [{name: x}]").ok());
  EXPECT_FALSE(ParsePluginConfig("plugins: [{command: [a]}]").ok());
  EXPECT_FALSE(ParsePluginConfig("plugins: [{name: x, command: [a]}, {name: x, command: [b]}]").ok());
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

TEST(ForkExecProcessRunnerTest, MissingExecutable) {
  ForkExecProcessRunner runner;
  ProcessSpec spec;
  spec.argv = {"todoke-no-such-command"};
  EXPECT_EQ(runner.Run(spec).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace todoke::renderer

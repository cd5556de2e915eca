// deploy/kubernetes must start what it describes. Rendered with todoke's own renderer, each
// container's command line (with --listen moved to a free loopback port and --cache-dir,
// --data-dir and --git-work-dir to a
// temporary folder) starts the real binary, which serves and stops on SIGTERM with exit 0; and
// the port it listens on is the one its container declares and its probes check.
#include <sys/wait.h>

#include <csignal>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "tests/integration/process.h"

namespace todoke::testing {
namespace {

// The port of an address "host:port", or -1.
int PortOf(const std::string& address) {
  const size_t colon = address.rfind(':');
  if (colon == std::string::npos) return -1;
  return std::atoi(address.c_str() + colon + 1);
}

TEST(DeployManifestsTest, EveryContainerCommandLineStartsItsService) {
  renderer::DiskFileSource files(".");  // tests run from the repository root
  renderer::RenderOptions options;
  options.mode = renderer::RenderMode::kKustomize;
  absl::StatusOr<renderer::RenderResult> rendered =
      renderer::Render(files, "deploy/kubernetes", options);
  ASSERT_TRUE(rendered.ok()) << rendered.status();

  std::set<std::string> started;
  const std::filesystem::path temp =
      std::filesystem::temp_directory_path() / ("todoke-deploy-test-" + std::to_string(getpid()));
  for (const Json& object : rendered->objects) {
    if (object.value("kind", "") != "Deployment") continue;
    const std::string name = object["metadata"].value("name", "");
    for (const Json& container : object["spec"]["template"]["spec"]["containers"]) {
      SCOPED_TRACE(name + "/" + container.value("name", ""));
      ASSERT_TRUE(container.contains("command") && container["command"].size() == 1);
      const std::string binary = container["command"][0];
      std::vector<std::string> argv = {BinaryPath(binary)};
      int listen_port = -1;
      for (const Json& arg_json : container.value("args", Json::array())) {
        std::string arg = arg_json;
        if (absl::StartsWith(arg, "--listen=")) {
          listen_port = PortOf(arg.substr(9));
          arg = "--listen=127.0.0.1:0";
        } else if (absl::StartsWith(arg, "--cache-dir=")) {
          arg = "--cache-dir=" + (temp / binary).string();
        } else if (absl::StartsWith(arg, "--data-dir=")) {
          arg = "--data-dir=" + (temp / binary).string() + "-data";
        } else if (absl::StartsWith(arg, "--git-work-dir=")) {
          arg = "--git-work-dir=" + (temp / binary).string() + "-git";
        }
        argv.push_back(arg);
      }
      // The declared port, the probes' port and the listen port agree.
      ASSERT_GT(listen_port, 0) << "no --listen";
      EXPECT_EQ(container["ports"][0].value("containerPort", 0), listen_port);
      for (const char* probe : {"readinessProbe", "livenessProbe"}) {
        if (container.contains(probe)) {
          EXPECT_EQ(container[probe]["grpc"].value("port", 0), listen_port) << probe;
        }
      }
      absl::StatusOr<ChildProcess> child = ChildProcess::Start(argv);
      ASSERT_TRUE(child.ok()) << child.status();
      absl::StatusOr<std::string> line = child->WaitForLine("listening on ", absl::Seconds(20));
      EXPECT_TRUE(line.ok()) << binary << " did not start with the manifest's flags: "
                             << line.status();
      absl::StatusOr<int> exit = child->Stop(SIGTERM, absl::Seconds(15));
      ASSERT_TRUE(exit.ok()) << exit.status();
      EXPECT_TRUE(WIFEXITED(*exit) && WEXITSTATUS(*exit) == 0) << "exit status " << *exit;
      started.insert(binary);
    }
  }
  std::filesystem::remove_all(temp);
  EXPECT_EQ(started, (std::set<std::string>{"todoke-source-fetcher", "todoke-renderer",
                                            "todoke-differ", "todoke-applier",
                                            "todoke-orchestrator"}));
}

}  // namespace
}  // namespace todoke::testing

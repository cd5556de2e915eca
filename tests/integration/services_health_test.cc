// Starts each of the five service binaries on port 0 and checks them over real gRPC:
// health, reflection-visible service, graceful SIGTERM, --version.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>

#include "common/grpc_client.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/integration/process.h"

namespace todoke::testing {
namespace {

class ServiceBinaryTest : public ::testing::TestWithParam<std::string> {
 protected:
  // Flags a service needs to start in a sandbox (its own cache directory).
  std::vector<std::string> SandboxFlags() {
    if (GetParam() == "todoke-source-fetcher") {
      return {"--cache-dir=" + ::testing::TempDir() + "/health-test-cache-" +
              std::to_string(getpid())};
    }
    if (GetParam() == "todoke-orchestrator") {
      return {"--data-dir=" + ::testing::TempDir() + "/health-test-orchestrator-" +
              std::to_string(getpid())};
    }
    return {};
  }
};

TEST_P(ServiceBinaryTest, ServesHealthOnPortZeroAndStopsOnSigterm) {
  auto started = StartService(GetParam(), SandboxFlags());
  ASSERT_TRUE(started.ok()) << started.status();
  auto& [process, address] = *started;
  EXPECT_THAT(address, ::testing::MatchesRegex("127\\.0\\.0\\.1:[1-9][0-9]*"));

  auto channel = MakeChannel(address);
  ASSERT_TRUE(channel.ok());
  auto health = grpc::health::v1::Health::NewStub(*channel);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  auto context = ContextWithTimeout(absl::Seconds(5));
  grpc::Status status = health->Check(context.get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  absl::StatusOr<int> exit_status = process.Stop(SIGTERM, absl::Seconds(20));
  ASSERT_TRUE(exit_status.ok()) << exit_status.status();
  EXPECT_TRUE(WIFEXITED(*exit_status));
  EXPECT_EQ(WEXITSTATUS(*exit_status), 0);
}

TEST_P(ServiceBinaryTest, PrintsVersion) {
  auto child = ChildProcess::Start({BinaryPath(GetParam()), "--version"});
  ASSERT_TRUE(child.ok());
  auto line = child->WaitForLine(GetParam(), absl::Seconds(10));
  ASSERT_TRUE(line.ok()) << line.status();
  EXPECT_THAT(*line, ::testing::MatchesRegex(GetParam() + " [0-9]+\\.[0-9]+\\.[0-9]+"));
}

// With --log-format=json every stderr line is a JSON object, gRPC's own lines included (routed
// through the logger with "source":"grpc"). Shown failing before gpr_set_log_function: with
// GRPC_VERBOSITY=debug, gRPC printed "I1130 ... ev_epoll1_linux.cc] grpc epoll fd: 3" lines.
TEST_P(ServiceBinaryTest, JsonLogsAreAllJsonIncludingGrpcLines) {
  const std::string log =
      ::testing::TempDir() + "/json-log-" + std::to_string(getpid()) + "-" + GetParam() + ".txt";
  std::vector<std::string> argv = {"/bin/sh",
                                   "-c",
                                   "GRPC_VERBOSITY=debug exec \"$0\" \"$@\" 2>'" + log + "'",
                                   BinaryPath(GetParam()),
                                   "--listen=127.0.0.1:0",
                                   "--log-format=json"};
  for (const std::string& flag : SandboxFlags()) argv.push_back(flag);
  auto child = ChildProcess::Start(argv);
  ASSERT_TRUE(child.ok()) << child.status();
  ASSERT_TRUE(child->WaitForLine("listening on", absl::Seconds(30)).ok());
  ASSERT_TRUE(child->Stop(SIGTERM, absl::Seconds(15)).ok());
  std::ifstream in(log);
  std::string line;
  int lines = 0, grpc_lines = 0;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    ++lines;
    EXPECT_TRUE(line.front() == '{' && line.back() == '}') << "not JSON: " << line;
    if (line.find("\"source\":\"grpc\"") != std::string::npos) ++grpc_lines;
  }
  EXPECT_GT(lines, 0);
  EXPECT_GT(grpc_lines, 0) << "gRPC logged nothing at GRPC_VERBOSITY=debug";
}

TEST_P(ServiceBinaryTest, RefusesUnknownFlag) {
  auto child = ChildProcess::Start({BinaryPath(GetParam()), "--no-such-flag"});
  ASSERT_TRUE(child.ok());
  absl::StatusOr<int> exit_status = child->Stop(0, absl::Seconds(10));
  ASSERT_TRUE(exit_status.ok());
  EXPECT_TRUE(WIFEXITED(*exit_status));
  EXPECT_NE(WEXITSTATUS(*exit_status), 0);
}

TEST_P(ServiceBinaryTest, RefusesAMessageLimitTooSmallToWorkWith) {
  auto child = ChildProcess::Start(
      {BinaryPath(GetParam()), "--listen=127.0.0.1:0", "--max-message-bytes=4096"});
  ASSERT_TRUE(child.ok());
  absl::StatusOr<int> exit_status = child->Stop(0, absl::Seconds(10));
  ASSERT_TRUE(exit_status.ok());
  EXPECT_TRUE(WIFEXITED(*exit_status) && WEXITSTATUS(*exit_status) == 2) << *exit_status;
}

INSTANTIATE_TEST_SUITE_P(AllServices, ServiceBinaryTest,
                         ::testing::Values("todoke-source-fetcher", "todoke-renderer",
                                           "todoke-differ", "todoke-applier",
                                           "todoke-orchestrator"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (c == '-') c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace todoke::testing

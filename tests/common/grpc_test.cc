#include <atomic>

#include "common/grpc_client.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "gmock/gmock.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "todoke/differ/v1/differ.grpc.pb.h"

namespace todoke {
namespace {

namespace dv1 = ::todoke::differ::v1;

// A differ that counts the calls it receives, to observe load balancing.
class CountingDiffer final : public dv1::Differ::Service {
 public:
  grpc::Status Diff(grpc::ServerContext*, const dv1::DiffRequest*, dv1::DiffResponse*) override {
    ++calls;
    return grpc::Status::OK;
  }
  std::atomic<int> calls{0};
};

TEST(GrpcStatusTest, RoundTripKeepsCodeAndMessage) {
  absl::Status s = absl::NotFoundError("ref \"main\" not found");
  grpc::Status g = ToGrpcStatus(s);
  EXPECT_EQ(g.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(g.error_message(), "ref \"main\" not found");
  EXPECT_EQ(FromGrpcStatus(g), s);
  EXPECT_TRUE(ToGrpcStatus(absl::OkStatus()).ok());
  EXPECT_EQ(FromGrpcStatus(grpc::Status(grpc::StatusCode::UNAVAILABLE, "down")).code(),
            absl::StatusCode::kUnavailable);
}

// A differ whose every answer is the error it was given.
class FailingDiffer final : public dv1::Differ::Service {
 public:
  explicit FailingDiffer(absl::Status error) : error_(std::move(error)) {}
  grpc::Status Diff(grpc::ServerContext*, const dv1::DiffRequest*, dv1::DiffResponse*) override {
    return ToGrpcStatus(error_);
  }

 private:
  absl::Status error_;
};

TEST(GrpcStatusTest, LongMessagesKeepTheirStartAndEnd) {
  const std::string path(40000, 'p');
  const std::string capped = CapStatusMessage("file \"" + path + "\": not found");
  EXPECT_LT(capped.size(), kMaxStatusMessageEncodedBytes + 1);
  EXPECT_THAT(capped, testing::StartsWith("file \"ppp"));
  EXPECT_THAT(capped, testing::EndsWith("ppp\": not found"));
  EXPECT_THAT(capped, testing::HasSubstr(" bytes cut ...] "));
  // Non-ASCII bytes take three bytes each in the header, and no character is split.
  const std::string accents = CapStatusMessage(std::string(20000, 'a') + "\xc3\xa9" + [] {
    std::string s;
    for (int i = 0; i < 5000; ++i) s += "\xc3\xa9";
    return s;
  }());
  size_t encoded = 0;
  for (unsigned char c : accents) encoded += (c < 0x20 || c > 0x7e || c == '%') ? 3 : 1;
  EXPECT_LE(encoded, kMaxStatusMessageEncodedBytes);
  EXPECT_THAT(accents, testing::EndsWith("\xc3\xa9"));
  EXPECT_NE(static_cast<unsigned char>(accents[accents.find(" [...") + 7]) & 0xC0, 0x80u);
  EXPECT_EQ(CapStatusMessage("short"), "short");
}

// An error echoing a 40 KB path reaches the client with its own code and a readable message.
// Shown failing without the cap: the client refused the oversized grpc-message header and
// reported RESOURCE_EXHAUSTED "received initial metadata size exceeds limit" instead.
TEST(GrpcStatusTest, ErrorEchoingAHugeInputReachesTheClient) {
  const std::string path = "apps/" + std::string(40000, 'x') + "/kustomization.yaml";
  FailingDiffer differ(absl::NotFoundError("file \"" + path + "\" not found"));
  auto server = GrpcServer::Start({}, {&differ});
  ASSERT_TRUE(server.ok()) << server.status();
  auto channel = MakeChannel((*server)->BoundAddress());
  ASSERT_TRUE(channel.ok());
  auto stub = dv1::Differ::NewStub(*channel);
  dv1::DiffRequest request;
  dv1::DiffResponse response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  grpc::Status status = stub->Diff(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_THAT(status.error_message(), testing::StartsWith("file \"apps/xxx"));
  EXPECT_THAT(status.error_message(), testing::EndsWith("/kustomization.yaml\" not found"));
}

TEST(GrpcServerTest, PortZeroBindsAndServesHealth) {
  CountingDiffer differ;
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start({}, {&differ});
  ASSERT_TRUE(server.ok()) << server.status();
  EXPECT_THAT((*server)->BoundAddress(), testing::MatchesRegex("127\\.0\\.0\\.1:[1-9][0-9]*"));

  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel((*server)->BoundAddress());
  ASSERT_TRUE(channel.ok());
  auto health = grpc::health::v1::Health::NewStub(*channel);
  grpc::health::v1::HealthCheckRequest request;
  grpc::health::v1::HealthCheckResponse response;
  auto context = ContextWithTimeout(absl::Seconds(5));
  ASSERT_TRUE(health->Check(context.get(), request, &response).ok());
  EXPECT_EQ(response.status(), grpc::health::v1::HealthCheckResponse::SERVING);

  (*server)->Shutdown();
  auto after = ContextWithTimeout(absl::Seconds(2));
  EXPECT_FALSE(health->Check(after.get(), request, &response).ok());
}

TEST(GrpcServerTest, BusyPortIsUnavailable) {
  CountingDiffer differ;
  auto first = GrpcServer::Start({}, {&differ});
  ASSERT_TRUE(first.ok());
  ServerOptions options;
  options.listen = (*first)->BoundAddress();
  CountingDiffer other;
  auto second = GrpcServer::Start(options, {&other});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(second.status().message()), testing::HasSubstr(options.listen));
}

TEST(GrpcClientTest, AddressListIsBalancedRoundRobin) {
  CountingDiffer a, b;
  auto server_a = GrpcServer::Start({}, {&a});
  auto server_b = GrpcServer::Start({}, {&b});
  ASSERT_TRUE(server_a.ok() && server_b.ok());
  auto channel = MakeChannel((*server_a)->BoundAddress() + "," + (*server_b)->BoundAddress());
  ASSERT_TRUE(channel.ok()) << channel.status();
  auto stub = dv1::Differ::NewStub(*channel);
  for (int i = 0; i < 20; ++i) {
    dv1::DiffRequest request;
    dv1::DiffResponse response;
    auto context = ContextWithTimeout(absl::Seconds(5));
    ASSERT_TRUE(stub->Diff(context.get(), request, &response).ok());
  }
  EXPECT_EQ(a.calls + b.calls, 20);
  EXPECT_GE(a.calls, 5);
  EXPECT_GE(b.calls, 5);
}

TEST(GrpcClientTest, BadTargetsAreRefused) {
  EXPECT_EQ(MakeChannel("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(MakeChannel("name:1,127.0.0.1:2").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(MakeChannel("dns:///localhost:7000").ok());
}

TEST(GrpcClientTest, DeadlineIsEnforced) {
  // A call to an address nobody serves fails within its deadline instead of hanging.
  auto channel = MakeChannel("127.0.0.1:1");
  ASSERT_TRUE(channel.ok());
  auto stub = dv1::Differ::NewStub(*channel);
  dv1::DiffRequest request;
  dv1::DiffResponse response;
  auto context = ContextWithTimeout(absl::Milliseconds(300));
  context->set_wait_for_ready(true);
  const absl::Time start = absl::Now();
  grpc::Status status = stub->Diff(context.get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DEADLINE_EXCEEDED);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

}  // namespace
}  // namespace todoke

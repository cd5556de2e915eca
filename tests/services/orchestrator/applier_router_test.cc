#include "services/orchestrator/grpc/applier_router.h"

#include <grpcpp/grpcpp.h>

#include <map>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

TEST(ApplierRouterTest, OneDestinationAlwaysGoesToOneReplica) {
  std::vector<std::string> replicas = {"10.0.0.1:7500", "10.0.0.2:7500", "10.0.0.3:7500"};
  for (int i = 0; i < 100; ++i) {
    std::string key = absl::StrCat("kubernetes:ctx-", i);
    EXPECT_EQ(ApplierRouter::Pick(replicas, key), ApplierRouter::Pick(replicas, key));
  }
}

TEST(ApplierRouterTest, SpreadsDestinationsAndMovesOnlyThoseOfARemovedReplica) {
  std::vector<std::string> three = {"10.0.0.1:7500", "10.0.0.2:7500", "10.0.0.3:7500"};
  std::vector<std::string> two = {"10.0.0.1:7500", "10.0.0.3:7500"};
  std::map<std::string, int> load;
  int moved_from_kept = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string key = absl::StrCat("git:/repo#branch-", i);
    const std::string& before = ApplierRouter::Pick(three, key);
    const std::string& after = ApplierRouter::Pick(two, key);
    load[before]++;
    if (before != "10.0.0.2:7500" && before != after) moved_from_kept++;
  }
  EXPECT_EQ(moved_from_kept, 0);
  for (const auto& [replica, count] : load) EXPECT_GT(count, 800) << replica;
}

TEST(ApplierRouterTest, ResolvesAListAndANameAndRoutesThroughOneStubPerReplica) {
  std::map<std::string, int> made;
  auto router = ApplierRouter::Create(
      "dns:///applier.example:7500",
      [&](const std::string& address) -> absl::StatusOr<std::shared_ptr<ApplierRouter::Stub>> {
        made[address]++;
        return std::shared_ptr<ApplierRouter::Stub>(applier::v1::Applier::NewStub(
            grpc::CreateChannel(address, grpc::InsecureChannelCredentials())));
      },
      [](const std::string& name) -> absl::StatusOr<std::vector<std::string>> {
        EXPECT_EQ(name, "applier.example:7500");
        return std::vector<std::string>{"10.0.0.1:7500", "10.0.0.2:7500"};
      });
  ASSERT_TRUE(router.ok()) << router.status();
  EXPECT_EQ((*router)->Replicas().size(), 2u);
  for (int i = 0; i < 50; ++i) {
    auto stub = (*router)->StubFor(absl::StrCat("kubernetes:", i));
    ASSERT_TRUE(stub.ok());
  }
  for (const auto& [address, count] : made) EXPECT_EQ(count, 1) << address;
  EXPECT_EQ(made.size(), 2u);
}

TEST(ApplierRouterTest, ResolvesLoopbackNames) {
  auto addresses = ResolveHostPort("localhost:7500");
  ASSERT_TRUE(addresses.ok()) << addresses.status();
  ASSERT_FALSE(addresses->empty());
  bool loopback = false;
  for (const std::string& a : *addresses) loopback |= a == "127.0.0.1:7500" || a == "[::1]:7500";
  EXPECT_TRUE(loopback);
}

}  // namespace
}  // namespace todoke::orchestrator

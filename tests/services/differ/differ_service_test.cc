// The differ over real gRPC: requests with desired/live objects as JSON come back judged.
#include "services/differ/grpc/differ_service.h"

#include "common/grpc_client.h"
#include "common/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/differ/core/differ.h"

namespace todoke::differ {
namespace {

using ::testing::HasSubstr;
namespace tv1 = ::todoke::types::v1;

tv1::KubeObject Object(const std::string& json) {
  tv1::KubeObject object;
  object.set_json(json);
  return object;
}

class DifferServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto server = GrpcServer::Start({}, {&service_});
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto channel = MakeChannel(server_->BoundAddress());
    ASSERT_TRUE(channel.ok());
    stub_ = v1::Differ::NewStub(*channel);
  }

  DifferService service_;
  std::unique_ptr<GrpcServer> server_;
  std::unique_ptr<v1::Differ::Stub> stub_;
};

constexpr char kDesired[] =
    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"},)"
    R"("spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}})";
constexpr char kLiveDrifted[] =
    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod",)"
    R"("uid":"1","resourceVersion":"9"},"spec":{"replicas":5,"progressDeadlineSeconds":600,)"
    R"("template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}},"status":{}})";

TEST_F(DifferServiceTest, DiffReportsDriftMissingAndBadObjects) {
  v1::DiffRequest request;
  *request.add_desired() = Object(kDesired);
  *request.add_desired() = Object(
      R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c","namespace":"prod"}})");
  *request.add_desired() = Object("{not json");
  *request.add_live() = Object(kLiveDrifted);
  v1::DiffResponse response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  ASSERT_TRUE(stub_->Diff(context.get(), request, &response).ok());
  ASSERT_EQ(response.objects_size(), 3);
  EXPECT_EQ(response.objects(0).key().kind(), "Deployment");
  EXPECT_EQ(response.objects(0).status(), tv1::SYNC_STATUS_OUT_OF_SYNC);
  EXPECT_THAT(response.objects(0).unified_diff(), HasSubstr("-  replicas: 5"));
  EXPECT_THAT(response.objects(0).unified_diff(), HasSubstr("+  replicas: 2"));
  // The server-defaulted field is not drift (it may show as context, never as a change).
  EXPECT_THAT(response.objects(0).unified_diff(), ::testing::Not(HasSubstr("-  progressDeadline")));
  EXPECT_THAT(response.objects(0).unified_diff(), ::testing::Not(HasSubstr("+  progressDeadline")));
  EXPECT_EQ(response.objects(1).status(), tv1::SYNC_STATUS_MISSING);
  EXPECT_EQ(response.objects(2).status(), tv1::SYNC_STATUS_UNKNOWN);
  EXPECT_FALSE(response.objects(2).error().empty());
  EXPECT_EQ(response.summary().out_of_sync(), 1u);
  EXPECT_EQ(response.summary().missing(), 1u);
  EXPECT_EQ(response.summary().unknown(), 1u);
  EXPECT_EQ(response.summary().status(), tv1::SYNC_STATUS_OUT_OF_SYNC);
  // The rules that answered: the orchestrator's skip cache is keyed on them.
  EXPECT_EQ(response.engine_version(), kDiffEngineVersion);
}

TEST_F(DifferServiceTest, IgnoreRuleMakesReplicasDriftSynced) {
  v1::DiffRequest request;
  *request.add_desired() = Object(kDesired);
  *request.add_live() = Object(kLiveDrifted);
  tv1::IgnoreRule* rule = request.add_ignore_differences();
  rule->set_group("apps");
  rule->set_kind("Deployment");
  rule->add_json_pointers("/spec/replicas");
  v1::DiffResponse response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  ASSERT_TRUE(stub_->Diff(context.get(), request, &response).ok());
  ASSERT_EQ(response.objects_size(), 1);
  EXPECT_EQ(response.objects(0).status(), tv1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(response.summary().status(), tv1::SYNC_STATUS_SYNCED);
}

TEST_F(DifferServiceTest, DefaultNamespacePairsDesiredWithoutNamespace) {
  // Rendered without a namespace; the destination's namespace is "prod", where the live one is.
  v1::DiffRequest request;
  *request.add_desired() = Object(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web"},"spec":{"replicas":2}})");
  *request.add_live() = Object(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod",)"
      R"("uid":"1","resourceVersion":"9"},"spec":{"replicas":2,"progressDeadlineSeconds":600}})");
  request.set_default_namespace("prod");
  v1::DiffResponse response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  ASSERT_TRUE(stub_->Diff(context.get(), request, &response).ok());
  ASSERT_EQ(response.objects_size(), 1) << response.DebugString();
  EXPECT_EQ(response.objects(0).status(), tv1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(response.objects(0).key().namespace_(), "prod");
  EXPECT_EQ(response.summary().missing(), 0u);
  EXPECT_EQ(response.summary().extraneous(), 0u);
  EXPECT_EQ(response.summary().status(), tv1::SYNC_STATUS_SYNCED);
}

TEST_F(DifferServiceTest, AssessHealthAggregatesWorst) {
  v1::AssessHealthRequest request;
  *request.add_live() = Object(
      R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod","generation":2},)"
      R"("spec":{"replicas":2},"status":{"observedGeneration":2,"replicas":2,"updatedReplicas":2,)"
      R"("availableReplicas":2,"readyReplicas":2}})");
  tv1::ObjectKey* missing = request.add_missing();
  missing->set_kind("Service");
  missing->set_name("web");
  missing->set_namespace_("prod");
  v1::AssessHealthResponse response;
  auto context = ContextWithTimeout(absl::Seconds(10));
  ASSERT_TRUE(stub_->AssessHealth(context.get(), request, &response).ok());
  ASSERT_EQ(response.objects_size(), 2);
  EXPECT_EQ(response.objects(0).status(), tv1::HEALTH_STATUS_HEALTHY);
  EXPECT_EQ(response.objects(1).status(), tv1::HEALTH_STATUS_MISSING);
  EXPECT_EQ(response.aggregate(), tv1::HEALTH_STATUS_MISSING);
  EXPECT_THAT(response.message(), HasSubstr("web"));
}

}  // namespace
}  // namespace todoke::differ

// ApplierService::ReadLive's conditional answer (if_digest_differs): an equal digest sends no
// objects, a moved object sends all of them, and a caller that sends nothing gets everything.
#include "services/applier/grpc/applier_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace todoke::applier {
namespace {

// A Git-kind destination whose live state the test sets.
class FakeDestination : public Destination {
 public:
  void Set(LiveSet live) {
    absl::MutexLock lock(&mu_);
    live_ = std::move(live);
  }
  absl::StatusOr<LiveSet> ReadLive(const ReadLiveQuery&, absl::Time) override {
    absl::MutexLock lock(&mu_);
    return live_;
  }
  absl::StatusOr<ApplyOutcome> Apply(const ApplyPlan&, const ProgressCallback&, absl::Time,
                                     const CancelFlag*) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<PruneOutcome> Prune(const PruneRequest&, absl::Time) override {
    return absl::UnimplementedError("fake");
  }
  absl::StatusOr<std::unique_ptr<Subscription>> WatchDrift(
      std::function<void(const DriftEvent&)>) override {
    return absl::UnimplementedError("fake");
  }

 private:
  absl::Mutex mu_;
  LiveSet live_ ABSL_GUARDED_BY(mu_);
};

ObjectKey Key(const std::string& name) {
  ObjectKey key;
  key.version = "v1";
  key.kind = "ConfigMap";
  key.ns = "bench";
  key.name = name;
  return key;
}

LiveSet TwoObjects(const std::string& second_version) {
  LiveSet live;
  live.objects.push_back(LiveObject{Key("a"), R"({"metadata":{"name":"a"}})", "11"});
  live.objects.push_back(LiveObject{Key("b"), R"({"metadata":{"name":"b"}})", second_version});
  live.absent.push_back(Key("c"));
  return live;
}

class ApplierServiceTest : public ::testing::Test {
 protected:
  ApplierServiceTest()
      : destination_(std::make_shared<FakeDestination>()),
        service_(std::make_shared<DestinationRegistry>(
                     nullptr, "no kubeconfig",
                     [this](const GitTarget&) -> absl::StatusOr<std::shared_ptr<Destination>> {
                       return std::shared_ptr<Destination>(destination_);
                     }),
                 ApplierServiceOptions{}) {
    request_.set_app_name("app1");
    request_.mutable_destination()->mutable_git()->set_repo_url("file:///nowhere");
    request_.mutable_destination()->mutable_git()->set_branch("main");
  }

  v1::ReadLiveResponse Read(const std::string& if_digest_differs) {
    v1::ReadLiveRequest request = request_;
    request.set_if_digest_differs(if_digest_differs);
    grpc::ServerContext context;
    v1::ReadLiveResponse response;
    grpc::Status status = service_.ReadLive(&context, &request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::shared_ptr<FakeDestination> destination_;
  ApplierService service_;
  v1::ReadLiveRequest request_;
};

TEST_F(ApplierServiceTest, EqualDigestOmitsObjectsAndMovedObjectSendsAll) {
  destination_->Set(TwoObjects("22"));
  v1::ReadLiveResponse full = Read("");
  ASSERT_EQ(full.objects_size(), 2);
  EXPECT_EQ(full.absent_size(), 1);
  EXPECT_FALSE(full.objects_omitted());
  ASSERT_FALSE(full.live_digest().empty());

  // Nothing moved: only the digest comes back.
  v1::ReadLiveResponse same = Read(full.live_digest());
  EXPECT_TRUE(same.objects_omitted());
  EXPECT_EQ(same.live_digest(), full.live_digest());
  EXPECT_EQ(same.objects_size(), 0);
  EXPECT_EQ(same.absent_size(), 0);
  EXPECT_EQ(same.resource_versions_size(), 0);

  // One object moved: the whole answer, with a new digest.
  destination_->Set(TwoObjects("23"));
  v1::ReadLiveResponse moved = Read(full.live_digest());
  EXPECT_FALSE(moved.objects_omitted());
  EXPECT_NE(moved.live_digest(), full.live_digest());
  ASSERT_EQ(moved.objects_size(), 2);
  EXPECT_EQ(moved.absent_size(), 1);
  EXPECT_EQ(moved.resource_versions(1), "23");
}

TEST_F(ApplierServiceTest, OldCallerWithoutDigestGetsTheFullAnswer) {
  destination_->Set(TwoObjects("22"));
  v1::ReadLiveResponse first = Read("");
  v1::ReadLiveResponse second = Read("");
  EXPECT_FALSE(second.objects_omitted());
  EXPECT_EQ(second.objects_size(), 2);
  EXPECT_EQ(second.live_digest(), first.live_digest());
}

}  // namespace
}  // namespace todoke::applier

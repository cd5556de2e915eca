// ApplierService::ReadLive's conditional answer (if_digest_differs): an equal digest sends no
// objects, a moved object sends all of them, and a caller that sends nothing gets everything.
#include "services/applier/grpc/applier_service.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "services/applier/core/live_digest.h"

namespace todoke::applier {
namespace {

// A Git-kind destination whose live state the test sets.
class FakeDestination : public Destination {
 public:
  void Set(LiveSet live) {
    absl::MutexLock lock(&mu_);
    live_ = std::move(live);
  }
  // Answers like a destination that finds the digest without reading objects when
  // `digest_only` is set; the query's if_digest_differs is recorded.
  absl::StatusOr<LiveSet> ReadLive(const ReadLiveQuery& query, absl::Time) override {
    absl::MutexLock lock(&mu_);
    last_if_digest_differs_ = query.if_digest_differs;
    if (digest_only_ && !query.if_digest_differs.empty() &&
        LiveDigest(live_) == query.if_digest_differs) {
      LiveSet omitted;
      omitted.objects_omitted = true;
      omitted.digest = query.if_digest_differs;
      return omitted;
    }
    return live_;
  }
  void SetDigestOnly(bool digest_only) {
    absl::MutexLock lock(&mu_);
    digest_only_ = digest_only;
  }
  std::string last_if_digest_differs() {
    absl::MutexLock lock(&mu_);
    return last_if_digest_differs_;
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
  bool digest_only_ ABSL_GUARDED_BY(mu_) = false;
  std::string last_if_digest_differs_ ABSL_GUARDED_BY(mu_);
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

// A destination that answers the digest alone (the Kubernetes one, from resourceVersions) is
// passed through: the caller's digest reaches it, and its omitted answer is sent as is.
TEST_F(ApplierServiceTest, ADestinationsDigestOnlyAnswerIsSentAsIs) {
  destination_->Set(TwoObjects("22"));
  v1::ReadLiveResponse full = Read("");
  destination_->SetDigestOnly(true);
  v1::ReadLiveResponse same = Read(full.live_digest());
  EXPECT_EQ(destination_->last_if_digest_differs(), full.live_digest());
  EXPECT_TRUE(same.objects_omitted());
  EXPECT_EQ(same.live_digest(), full.live_digest());
  EXPECT_EQ(same.objects_size(), 0);

  destination_->Set(TwoObjects("23"));
  v1::ReadLiveResponse moved = Read(full.live_digest());
  EXPECT_FALSE(moved.objects_omitted());
  EXPECT_EQ(moved.objects_size(), 2);
  EXPECT_NE(moved.live_digest(), full.live_digest());
}

// The digest: the same for the same (key, resourceVersion) pairs and absent keys in any order
// (objects' JSON not read), different when a resourceVersion moves or a key becomes absent.
TEST(LiveDigestTest, DependsOnKeysVersionsAndAbsenceOnly) {
  LiveSet live = TwoObjects("22");
  const std::string digest = LiveDigest(live);
  EXPECT_EQ(digest.size(), 64u);

  LiveSet reordered = live;
  std::swap(reordered.objects[0], reordered.objects[1]);
  for (LiveObject& object : reordered.objects) object.json.clear();
  EXPECT_EQ(LiveDigest(reordered), digest);

  EXPECT_NE(LiveDigest(TwoObjects("23")), digest);

  LiveSet gone = live;
  gone.objects.pop_back();
  gone.absent.push_back(Key("b"));
  EXPECT_NE(LiveDigest(gone), digest);
}

}  // namespace
}  // namespace todoke::applier

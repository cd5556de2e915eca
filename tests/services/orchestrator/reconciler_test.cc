// Reconciler: one pass of the loop over fake stages (fake_stages.h) and the real
// SqliteApplicationStore in a temporary directory. What a user relies on: a pass that finds
// nothing new costs no render, no comparison and no write; a failed or empty render, or a
// comparison with Unknown rows, never prunes; conditions name the stage that failed; automated
// sync runs once per desired state, manual apps only when asked; history records each sync;
// hooks are applied and never compared.
#include "services/orchestrator/core/reconciler.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/json_parse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/core/store/sqlite_application_store.h"
#include "tests/services/orchestrator/fake_stages.h"

namespace todoke::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Key;
using testing::KeyString;
using ::testing::Not;
using testing::Object;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;

constexpr char kRepo[] = "https://git.example.com/apps.git";

std::string FreshDir() {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("todoke-reconciler-",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", getpid());
  std::filesystem::remove_all(dir);
  return dir.string();
}

std::vector<std::string> Names(
    const google::protobuf::RepeatedPtrField<types::v1::ObjectKey>& keys) {
  std::vector<std::string> names;
  for (const types::v1::ObjectKey& key : keys) names.push_back(key.name());
  return names;
}

std::vector<std::string> ObjectNames(
    const google::protobuf::RepeatedPtrField<types::v1::KubeObject>& objects) {
  std::vector<std::string> names;
  for (const types::v1::KubeObject& object : objects) names.push_back(object.key().name());
  return names;
}

const v1::Condition* FindCondition(const v1::Application& app, const std::string& type) {
  for (const v1::Condition& condition : app.status().conditions()) {
    if (condition.type() == type) return &condition;
  }
  return nullptr;
}

class ReconcilerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir();
    SqliteStoreOptions options;
    options.history_limit = history_limit_;
    auto store = SqliteApplicationStore::Open(dir_, options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::shared_ptr<SqliteApplicationStore>(std::move(*store));
    ReconcilerOptions reconciler_options;
    reconciler_options.resolve_ttl = absl::ZeroDuration();  // every pass asks the source
    reconciler_ =
        std::make_unique<Reconciler>(store_, fakes_.stages(), &events_, reconciler_options);
    subscription_ = events_.Subscribe("");
    fakes_.source->SetCommit(kRepo, "main", "c1");
  }

  void TearDown() override {
    reconciler_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  // An app rendering path `name` into namespace prod.
  v1::Application MakeApp(const std::string& name, bool automated, bool prune = true,
                          bool self_heal = false) {
    v1::Application app;
    app.set_name(name);
    auto* source = app.mutable_spec()->mutable_source();
    source->set_repo_url(kRepo);
    source->set_target_revision("main");
    source->set_path(name);
    app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_("prod");
    auto* policy = app.mutable_spec()->mutable_sync_policy();
    policy->set_automated(automated);
    policy->set_prune(prune);
    policy->set_self_heal(self_heal);
    return app;
  }

  void Create(const v1::Application& app) {
    auto created = store_->Create(app);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  // Changes the stored spec with `edit`.
  void EditSpec(const std::string& name, const std::function<void(v1::ApplicationSpec&)>& edit) {
    auto app = store_->Get(name);
    ASSERT_TRUE(app.ok()) << app.status();
    edit(*app->mutable_spec());
    auto updated = store_->Update(*app, app->generation());
    ASSERT_TRUE(updated.ok()) << updated.status();
  }

  ReconcileOutcome Pass(const std::string& name, const std::string& trigger = "interval") {
    ReconcileRequest request;
    request.app = name;
    request.trigger = trigger;
    return reconciler_->Reconcile(request, nullptr);
  }

  ReconcileOutcome Sync(const std::string& name, SyncOrder order) {
    ReconcileRequest request;
    request.app = name;
    request.trigger = "sync";
    request.sync = std::move(order);
    return reconciler_->Reconcile(request, nullptr);
  }

  v1::Application Get(const std::string& name) {
    auto app = store_->Get(name);
    EXPECT_TRUE(app.ok()) << app.status();
    return app.ok() ? *app : v1::Application();
  }

  std::vector<v1::Event> DrainEvents() {
    bool overflowed = false;
    return subscription_->Next(absl::ZeroDuration(), &overflowed);
  }
  bool SawEvent(const std::vector<v1::Event>& events, const std::string& reason,
                const std::string& message_part = "") {
    for (const v1::Event& event : events) {
      if (event.reason() == reason && absl::StrContains(event.message(), message_part)) {
        return true;
      }
    }
    return false;
  }

  std::string dir_;
  int history_limit_ = 10;
  testing::FakeStages fakes_;
  EventBus events_;
  std::unique_ptr<EventBus::Subscription> subscription_;
  std::shared_ptr<SqliteApplicationStore> store_;
  std::unique_ptr<Reconciler> reconciler_;
};

// --- No-op passes ---------------------------------------------------------------------------

TEST_F(ReconcilerTest, RendersOnlyWhenTheCommitOrTheSourceChanges) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  fakes_.render->SetObjects("web-v2", {Object("a"), Object("c")});
  Create(MakeApp("web", /*automated=*/false));

  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 1);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 1) << "same commit, same source: rendered again";
  EXPECT_EQ(fakes_.source->calls(), 4) << "every pass resolves (the ref may have moved)";

  // A spec change outside the source (sync policy) does not render either.
  EditSpec("web", [](v1::ApplicationSpec& spec) { spec.mutable_sync_policy()->set_prune(false); });
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 1);

  // A new commit renders.
  fakes_.source->SetCommit(kRepo, "main", "c2");
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 2);
  EXPECT_EQ(Get("web").status().revision(), "c2");
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 2);

  // A changed source (path, then render options) at the same commit renders.
  EditSpec("web", [](v1::ApplicationSpec& spec) { spec.mutable_source()->set_path("web-v2"); });
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 2 + 1);
  EXPECT_EQ(fakes_.render->calls("web-v2"), 1);
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    (*spec.mutable_source()->mutable_render()->mutable_substitutions())["tier"] = "gold";
  });
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 4);
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 4);
}

TEST_F(ReconcilerTest, ComparesOnlyWhenTheLiveStateMoved) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  fakes_.apply->SetLive(Object("a"));
  Create(MakeApp("web", /*automated=*/false));

  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 1);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 1) << "no live resourceVersion moved: compared again";
  EXPECT_EQ(fakes_.apply->read_live_calls(), 4) << "every pass reads the live digest";

  // Someone creates b by hand: the digest moves, the app is compared again and is in sync.
  fakes_.apply->SetLive(Object("b"));
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 2);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 2);

  // An edit of a live object moves its resourceVersion.
  fakes_.apply->SetLive(Object("a", "edited"));
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 3);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);

  // A new render compares again even when the live state did not move.
  fakes_.source->SetCommit(kRepo, "main", "c2");
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 4);
}

TEST_F(ReconcilerTest, ANoOpPassAsksForTheLiveDigestOnlyAndStillSeesDrift) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  fakes_.apply->SetLive(Object("a"));
  fakes_.apply->SetLive(Object("b"));
  Create(MakeApp("web", /*automated=*/false));

  // The first pass has nothing compared yet: it asks for everything.
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_THAT(fakes_.apply->last_read_live().if_digest_differs(), IsEmpty());
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(fakes_.diff->calls(), 1);

  // The next no-op pass sends the digest it compared and gets the digest alone.
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_THAT(fakes_.apply->last_read_live().if_digest_differs(), Not(IsEmpty()));
  EXPECT_EQ(fakes_.apply->read_live_omitted(), 1);
  EXPECT_EQ(fakes_.apply->read_live_calls(), 2) << "one ReadLive per no-op pass";
  EXPECT_EQ(fakes_.diff->calls(), 1);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
  ASSERT_EQ(Get("web").status().resources_size(), 2) << "the no-op pass kept the comparison";

  // Someone edits b: the digest differs, the full answer comes back and the drift is seen.
  fakes_.apply->SetLive(Object("b", "edited"));
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_THAT(fakes_.apply->last_read_live().if_digest_differs(), Not(IsEmpty()));
  EXPECT_EQ(fakes_.apply->read_live_omitted(), 1);
  EXPECT_EQ(fakes_.diff->calls(), 2);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);

  // A sync needs the live objects: it never asks for the digest alone.
  ASSERT_TRUE(Sync("web", SyncOrder{}).status.ok());
  EXPECT_THAT(fakes_.apply->last_read_live().if_digest_differs(), IsEmpty());
}

TEST_F(ReconcilerTest, ASyncAfterADigestOnlyAnswerReadsTheLiveObjects) {
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.apply->SetLive(Object("a", "edited"));
  Create(MakeApp("web", /*automated=*/true, /*prune=*/false, /*self_heal=*/true));
  // The applier goes down during the sync: the comparison holds, nothing live moved.
  fakes_.apply->FailApply(absl::UnavailableError("applier restarting"));
  EXPECT_FALSE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.apply->read_live_calls(), 1);
  fakes_.apply->FailApply(absl::OkStatus());

  // The next pass gets the digest alone, then reads the objects in full for its sync.
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.apply->read_live_omitted(), 1);
  EXPECT_EQ(fakes_.apply->read_live_calls(), 3);
  EXPECT_THAT(fakes_.apply->last_read_live().if_digest_differs(), IsEmpty());
  EXPECT_EQ(fakes_.diff->calls(), 1);
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "a")), Object("a").json()) << "not applied";
}

TEST_F(ReconcilerTest, AnUpgradedRendererRendersEveryAppAgain) {
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.render->SetObjects("api", {Object("b")});
  fakes_.render->SetEngineVersion("todoke-renderer/1");
  Create(MakeApp("web", /*automated=*/false));
  Create(MakeApp("api", /*automated=*/false));
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_TRUE(Pass("api").status.ok());
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_EQ(fakes_.render->calls(), 2);
  // The renderer is upgraded; api's next render (its spec changed) answers with the new engine
  // version. web renders again at its next pass although its commit and source did not move.
  fakes_.render->SetEngineVersion("todoke-renderer/2");
  EditSpec("api", [](v1::ApplicationSpec& spec) {
    (*spec.mutable_source()->mutable_render()->mutable_substitutions())["tier"] = "gold";
  });
  ASSERT_TRUE(Pass("api").status.ok());
  ASSERT_EQ(fakes_.render->calls("api"), 2);
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.render->calls("web"), 2) << "web kept a render of the old renderer";
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_TRUE(Pass("api").status.ok());
  EXPECT_EQ(fakes_.render->calls(), 4) << "rendered again although both came from the new one";
}

TEST_F(ReconcilerTest, AnUpgradedDifferComparesEveryAppAgain) {
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.render->SetObjects("api", {Object("b")});
  fakes_.apply->SetLive(Object("a"));
  fakes_.apply->SetLive(Object("b"));
  fakes_.diff->SetEngineVersion("todoke-differ/1");
  Create(MakeApp("web", /*automated=*/false));
  Create(MakeApp("api", /*automated=*/false));
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_TRUE(Pass("api").status.ok());
  ASSERT_EQ(fakes_.diff->calls(), 2);
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_EQ(fakes_.diff->calls(), 2) << "nothing moved: compared again";

  // The differ is upgraded; the next comparison (here: api's, after its live state moved) answers
  // with the new engine version. Then web is compared again although nothing of it moved: the
  // new rules may judge it differently.
  fakes_.diff->SetEngineVersion("todoke-differ/2");
  fakes_.apply->SetLive(Object("b", "edited"));
  ASSERT_TRUE(Pass("api").status.ok());
  ASSERT_EQ(fakes_.diff->calls(), 3);
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 4) << "web kept a comparison made by the old differ";
  EXPECT_EQ(fakes_.render->calls("web"), 1) << "only the comparison is redone";
  // Once, not every pass.
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_TRUE(Pass("api").status.ok());
  EXPECT_EQ(fakes_.diff->calls(), 4) << "compared again although both were made by the new differ";
}

TEST_F(ReconcilerTest, NoOpPassWritesNothingToTheStore) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  Create(MakeApp("web", /*automated=*/true));
  // Converge: the first pass syncs, the next ones see the result.
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(Pass("web").status.ok());
  v1::Application converged = Get("web");
  ASSERT_EQ(converged.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  ASSERT_EQ(fakes_.apply->apply_calls(), 1);

  int64_t changes = store_->TotalChanges();
  int renders = fakes_.render->calls();
  int diffs = fakes_.diff->calls();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(Pass("web", i % 2 ? "interval" : "refresh").status.ok());
  EXPECT_EQ(store_->TotalChanges(), changes) << "a no-op pass wrote to the store";
  EXPECT_EQ(fakes_.render->calls(), renders);
  EXPECT_EQ(fakes_.diff->calls(), diffs);
  EXPECT_EQ(Get("web").status().reconciled_at().seconds(),
            converged.status().reconciled_at().seconds());

  // A pass that finds something new does write.
  fakes_.apply->SetLive(Object("a", "edited"));
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_GT(store_->TotalChanges(), changes);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);
}

// --- Failures ---------------------------------------------------------------------------------

TEST_F(ReconcilerTest, FailedRenderKeepsTheLastGoodStateAndPrunesNothing) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Pass("web").status.ok());
  v1::Application good = Get("web");
  ASSERT_EQ(good.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  ASSERT_EQ(fakes_.apply->apply_calls(), 1);

  fakes_.source->SetCommit(kRepo, "main", "c2");
  fakes_.render->Fail("web", absl::InvalidArgumentError(
                                 "web/kustomization.yaml: line 3: did not find expected ']'"));
  ReconcileOutcome outcome = Pass("web");
  EXPECT_FALSE(outcome.status.ok());
  EXPECT_FALSE(outcome.applied);
  v1::Application failed = Get("web");
  const v1::Condition* condition = FindCondition(failed, "RenderFailed");
  ASSERT_NE(condition, nullptr) << failed.status().DebugString();
  EXPECT_THAT(condition->message(), HasSubstr("web/kustomization.yaml: line 3"));
  EXPECT_EQ(fakes_.apply->apply_calls(), 1) << "applied after a failed render";
  EXPECT_EQ(fakes_.apply->prune_calls(), 0);
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "a")));
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "b")));
  // The last good status stays.
  EXPECT_EQ(failed.status().revision(), "c1");
  EXPECT_EQ(failed.status().synced_revision(), "c1");
  EXPECT_EQ(failed.status().render_digest(), good.status().render_digest());
  EXPECT_EQ(failed.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(failed.status().resources_size(), 2);
  EXPECT_EQ(failed.status().inventory_size(), 2);
  EXPECT_TRUE(SawEvent(DrainEvents(), "RenderFailed", "line 3"));

  // Repeated failures change nothing either; the repair converges (and prunes what went away).
  ASSERT_FALSE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.apply->apply_calls(), 1);
  fakes_.render->Fail("web", absl::OkStatus());
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.source->SetCommit(kRepo, "main", "c3");
  ReconcileOutcome repaired = Pass("web");
  EXPECT_TRUE(repaired.status.ok()) << repaired.status;
  EXPECT_EQ(fakes_.apply->apply_calls(), 2);
  EXPECT_FALSE(fakes_.apply->HasLive(Key("ConfigMap", "b")));
  EXPECT_EQ(FindCondition(Get("web"), "RenderFailed"), nullptr);
}

struct StageCase {
  std::string stage;        // the fake that fails
  std::string failed_type;  // condition for a non-retryable error
};

class ReconcilerStageTest : public ReconcilerTest, public ::testing::WithParamInterface<StageCase> {
 protected:
  void FailStage(const absl::Status& status) {
    const std::string& stage = GetParam().stage;
    if (stage == kSourceFetcherStage) fakes_.source->Fail(status);
    if (stage == kRendererStage) fakes_.render->Fail("web", status);
    if (stage == kDifferStage) fakes_.diff->Fail(status);
    if (stage == kApplierStage) fakes_.apply->FailReadLive(status);
  }
};

TEST_P(ReconcilerStageTest, ConditionNamesTheStage) {
  fakes_.render->SetObjects("web", {Object("a")});
  Create(MakeApp("web", /*automated=*/false));

  FailStage(absl::UnavailableError("connection refused"));
  ReconcileOutcome outcome = Pass("web");
  EXPECT_EQ(outcome.status.code(), absl::StatusCode::kUnavailable);
  v1::Application app = Get("web");
  const v1::Condition* condition = FindCondition(app, "StageUnavailable");
  ASSERT_NE(condition, nullptr) << app.status().DebugString();
  EXPECT_THAT(condition->message(), StartsWith(GetParam().stage + ": "));
  EXPECT_THAT(condition->message(), HasSubstr("connection refused"));
  EXPECT_EQ(app.status().conditions_size(), 1);
  EXPECT_EQ(app.status().sync(), types::v1::SYNC_STATUS_UNKNOWN);

  // A deadline counts as unavailable too.
  FailStage(absl::DeadlineExceededError("deadline exceeded after 60s"));
  Pass("web");
  app = Get("web");
  condition = FindCondition(app, "StageUnavailable");
  ASSERT_NE(condition, nullptr);
  EXPECT_THAT(condition->message(), StartsWith(GetParam().stage + ": "));

  // Another error is the stage's own failure type.
  FailStage(absl::InvalidArgumentError("bad input"));
  Pass("web");
  app = Get("web");
  EXPECT_EQ(FindCondition(app, "StageUnavailable"), nullptr);
  ASSERT_NE(FindCondition(app, GetParam().failed_type), nullptr) << app.status().DebugString();

  // The stage comes back: the condition goes.
  FailStage(absl::OkStatus());
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(Get("web").status().conditions_size(), 0) << Get("web").status().DebugString();
}

INSTANTIATE_TEST_SUITE_P(Stages, ReconcilerStageTest,
                         ::testing::Values(StageCase{kSourceFetcherStage, "ResolveFailed"},
                                           StageCase{kRendererStage, "RenderFailed"},
                                           StageCase{kDifferStage, "DiffFailed"},
                                           StageCase{kApplierStage, "ReadLiveFailed"}),
                         [](const ::testing::TestParamInfo<StageCase>& info) {
                           std::string name = info.param.stage;
                           std::erase(name, '-');
                           return name;
                         });

// The applier killed (or restarting) in the middle of an automated sync: StageUnavailable, and
// no verdict on the commit (a failed sync is not tried again without a retry policy): the next
// pass, once the applier answers, syncs the same commit by itself (k8s_fault_test found apps left
// OutOfSync after a kill -9 of the applier).
TEST_F(ReconcilerTest, ApplierUnavailableDuringApplyIsStageUnavailableAndSyncsAgainOnceBack) {
  fakes_.render->SetObjects("web", {Object("a")});
  Create(MakeApp("web", /*automated=*/true));
  // The stage client's message names the stage already.
  fakes_.apply->FailApply(absl::UnavailableError("applier: connection reset"));
  ReconcileOutcome outcome = Pass("web");
  EXPECT_FALSE(outcome.status.ok());
  EXPECT_FALSE(outcome.sync_failed) << "a stage that is down is not a failed sync of the commit";
  v1::Application app = Get("web");
  const v1::Condition* condition = FindCondition(app, "StageUnavailable");
  ASSERT_NE(condition, nullptr) << app.status().DebugString();
  EXPECT_THAT(condition->message(), StartsWith("applier: "));
  EXPECT_EQ(app.status().operation().phase(), v1::OPERATION_PHASE_FAILED);
  EXPECT_EQ(app.status().operation().message(), "applier: connection reset");

  fakes_.apply->FailApply(absl::OkStatus());
  const int applies = fakes_.apply->apply_calls();
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.apply->apply_calls(), applies + 1) << "the commit was not synced again";
  app = Get("web");
  EXPECT_EQ(app.status().operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(app.status().conditions_size(), 0) << app.status().DebugString();
  ASSERT_TRUE(Pass("web").status.ok());  // the comparison after the sync
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
}

// --- Prune safety -----------------------------------------------------------------------------

TEST_F(ReconcilerTest, PruneIsHeldWhileAnyRowIsUnknown) {
  fakes_.render->SetObjects("web", {Object("a"), Object("old")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_THAT(Names(Get("web").status().inventory()), UnorderedElementsAre("a", "old"));

  // c2 drops "old" and adds "b", but "a" cannot be compared.
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  fakes_.diff->SetUnknown({"a"});
  DrainEvents();
  Pass("web");
  ASSERT_EQ(fakes_.apply->apply_calls(), 2);
  applier::v1::ApplyRequest held = fakes_.apply->applies().back();
  EXPECT_THAT(held.prune(), IsEmpty()) << "pruned while a row was Unknown";
  EXPECT_FALSE(held.options().prune());
  EXPECT_THAT(ObjectNames(held.objects()), UnorderedElementsAre("a", "b"));
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "old")));
  EXPECT_TRUE(SawEvent(DrainEvents(), "PruneHeld", "could not be compared"));
  v1::Application app = Get("web");
  EXPECT_THAT(app.status().operation().message(), HasSubstr("prune held"));
  // Not pruned, so still in the inventory: found and pruned later.
  EXPECT_THAT(Names(app.status().inventory()), UnorderedElementsAre("a", "b", "old"));

  // Comparable again: an explicit sync prunes the Extraneous row, and only it.
  fakes_.diff->SetUnknown({});
  SyncOrder order;
  order.prune = true;
  ASSERT_TRUE(Sync("web", order).status.ok());
  applier::v1::ApplyRequest pruning = fakes_.apply->applies().back();
  EXPECT_THAT(Names(pruning.prune()), ElementsAre("old"));
  EXPECT_TRUE(pruning.options().prune());
  EXPECT_FALSE(fakes_.apply->HasLive(Key("ConfigMap", "old")));
  EXPECT_THAT(Names(Get("web").status().inventory()), UnorderedElementsAre("a", "b"));
}

TEST_F(ReconcilerTest, EmptyRenderPrunesOnlyWithAllowEmpty) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Pass("web").status.ok());

  fakes_.render->SetObjects("web", {});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  DrainEvents();
  Pass("web");
  ASSERT_EQ(fakes_.apply->apply_calls(), 2);
  EXPECT_THAT(fakes_.apply->applies().back().prune(), IsEmpty());
  EXPECT_FALSE(fakes_.apply->applies().back().options().prune());
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "a")));
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "b")));
  EXPECT_TRUE(SawEvent(DrainEvents(), "PruneHeld", "render is empty"));
  EXPECT_THAT(Names(Get("web").status().inventory()), UnorderedElementsAre("a", "b"));

  // With allowEmpty, an empty render at a new commit prunes everything.
  EditSpec("web",
           [](v1::ApplicationSpec& spec) { spec.mutable_sync_policy()->set_allow_empty(true); });
  fakes_.source->SetCommit(kRepo, "main", "c3");
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_THAT(Names(fakes_.apply->applies().back().prune()), UnorderedElementsAre("a", "b"));
  EXPECT_TRUE(fakes_.apply->applies().back().options().allow_empty());
  EXPECT_FALSE(fakes_.apply->HasLive(Key("ConfigMap", "a")));
  EXPECT_THAT(Get("web").status().inventory(), IsEmpty());
}

TEST_F(ReconcilerTest, ExtraneousRowsArePruneKeysOnlyWithPruneOn) {
  fakes_.render->SetObjects("keep", {Object("k1"), Object("k2")});
  fakes_.render->SetObjects("drop", {Object("d1"), Object("d2")});
  Create(MakeApp("keep", /*automated=*/true, /*prune=*/false));
  Create(MakeApp("drop", /*automated=*/true, /*prune=*/true));
  for (const char* app : {"keep", "drop"}) ASSERT_TRUE(Pass(app).status.ok());

  fakes_.render->SetObjects("keep", {Object("k1")});
  fakes_.render->SetObjects("drop", {Object("d1")});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  ASSERT_TRUE(Pass("keep").status.ok());
  applier::v1::ApplyRequest keep = fakes_.apply->applies().back();
  EXPECT_EQ(keep.app_name(), "keep");
  EXPECT_THAT(keep.prune(), IsEmpty());
  EXPECT_TRUE(fakes_.apply->HasLive(Key("ConfigMap", "k2")));
  // The object left behind stays known (OutOfSync, in the inventory) so a later prune finds it.
  ASSERT_TRUE(Pass("keep").status.ok());
  EXPECT_EQ(Get("keep").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);
  EXPECT_THAT(Names(Get("keep").status().inventory()), UnorderedElementsAre("k1", "k2"));

  ASSERT_TRUE(Pass("drop").status.ok());
  applier::v1::ApplyRequest drop = fakes_.apply->applies().back();
  EXPECT_EQ(drop.app_name(), "drop");
  EXPECT_THAT(Names(drop.prune()), ElementsAre("d2"));
  EXPECT_FALSE(fakes_.apply->HasLive(Key("ConfigMap", "d2")));
  ASSERT_TRUE(Pass("drop").status.ok());
  EXPECT_EQ(Get("drop").status().sync(), types::v1::SYNC_STATUS_SYNCED);
}

// Self-heal syncs only when a sync would change something. An Extraneous object that automated
// prune leaves, or that Kubernetes is already deleting (a foreground prune waits for dependents
// and finalizers), keeps the app OutOfSync, but no sync can change it: syncing again at each
// refresh would only start the next refresh, ten times in seconds (a false DriftLoop).
TEST_F(ReconcilerTest, SelfHealDoesNotSyncForWhatNoSyncChanges) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  fakes_.render->SetObjects("keep", {Object("k1"), Object("k2")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true, /*self_heal=*/true));
  Create(MakeApp("keep", /*automated=*/true, /*prune=*/false, /*self_heal=*/true));
  for (const char* app : {"web", "keep"}) {
    ASSERT_TRUE(Pass(app).applied);
    ASSERT_FALSE(Pass(app, "after-sync").applied);
    ASSERT_EQ(Get(app).status().sync(), types::v1::SYNC_STATUS_SYNCED) << app;
  }
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.render->SetObjects("keep", {Object("k1")});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  for (const char* app : {"web", "keep"}) ASSERT_TRUE(Pass(app).applied);
  // The pruned object is still there, being deleted.
  types::v1::KubeObject deleting = Object("b");
  deleting.set_json(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b",)"
                    R"("namespace":"prod","deletionTimestamp":"2026-11-30T12:00:00Z",)"
                    R"("finalizers":["foregroundDeletion"]},"data":{"value":"x"}})");
  fakes_.apply->SetLive(deleting, "web");
  const int applies = fakes_.apply->apply_calls();
  for (const char* app : {"web", "keep"}) {
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(Pass(app, "after-sync").applied) << app;
    EXPECT_EQ(Get(app).status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC) << app;
    EXPECT_EQ(FindCondition(Get(app), "DriftLoop"), nullptr) << app;
  }
  EXPECT_EQ(fakes_.apply->apply_calls(), applies);
  std::map<std::string, std::string> messages;
  for (const char* app : {"web", "keep"}) {
    const v1::Application stored = Get(app);
    for (const v1::ResourceStatus& resource : stored.status().resources()) {
      messages[resource.key().name()] = resource.message();
    }
  }
  EXPECT_EQ(messages["b"], "pending deletion");
  EXPECT_EQ(messages["k2"], "not in Git; automated prune is off");

  // A drift that a sync does change is still healed, in both apps.
  fakes_.apply->SetLive(Object("a", "edited by hand"));
  fakes_.apply->SetLive(Object("k1", "edited by hand"));
  for (const char* app : {"web", "keep"}) {
    EXPECT_TRUE(Pass(app, "drift").applied) << app;
    EXPECT_EQ(Get(app).status().operation().initiated_by(), "self-heal") << app;
  }
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "a")), Object("a").json());
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "k1")), Object("k1").json());
  // Once the deletion ends, the app is Synced.
  fakes_.apply->DeleteLive(Key("ConfigMap", "b"));
  ASSERT_TRUE(Pass("web", "drift").status.ok());
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
}

TEST_F(ReconcilerTest, AKindNoLongerRenderedIsFoundThroughTheInventory) {
  fakes_.render->SetObjects("web", {Object("a"), Object("cron", "x", "CronJob")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true));
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(Pass("web").status.ok());
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  ASSERT_TRUE(Pass("web").status.ok());
  ASSERT_EQ(fakes_.apply->applies().back().prune_size(), 1);
  EXPECT_THAT(KeyString(fakes_.apply->applies().back().prune(0)), HasSubstr("CronJob"));
  EXPECT_FALSE(fakes_.apply->HasLive(Key("CronJob", "cron")));
}

// --- Sync policy ------------------------------------------------------------------------------

TEST_F(ReconcilerTest, AutomatedSyncRunsOncePerCommitUnlessSelfHeal) {
  fakes_.render->SetObjects("web", {Object("a")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true, /*self_heal=*/false));
  ReconcileOutcome first = Pass("web");
  EXPECT_TRUE(first.applied);
  ASSERT_EQ(fakes_.apply->apply_calls(), 1);
  EXPECT_EQ(Get("web").status().operation().initiated_by(), "automated");
  ASSERT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);

  // A manual change is reported, not reverted, at the same commit.
  fakes_.apply->SetLive(Object("a", "edited by hand"));
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Pass("web", "drift").applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), 1);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);

  // Self-heal reverts it. (Changing the spec is a new generation, which syncs once by itself.)
  EditSpec("web",
           [](v1::ApplicationSpec& spec) { spec.mutable_sync_policy()->set_self_heal(true); });
  Pass("web", "spec");
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "a")), Object("a").json());
  Pass("web");
  int applies = fakes_.apply->apply_calls();
  EXPECT_FALSE(Pass("web").applied);
  fakes_.apply->SetLive(Object("a", "edited by hand again"));
  EXPECT_TRUE(Pass("web", "drift").applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), applies + 1);
  EXPECT_EQ(Get("web").status().operation().initiated_by(), "self-heal");
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "a")), Object("a").json());

  // Without self-heal again, a new commit syncs once.
  EditSpec("web",
           [](v1::ApplicationSpec& spec) { spec.mutable_sync_policy()->set_self_heal(false); });
  ASSERT_FALSE(Pass("web").applied);  // in sync: nothing to apply for the new generation
  fakes_.render->SetObjects("web", {Object("a", "v2")});
  fakes_.source->SetCommit(kRepo, "main", "c2");
  applies = fakes_.apply->apply_calls();
  EXPECT_TRUE(Pass("web").applied);
  EXPECT_FALSE(Pass("web").applied);
  fakes_.apply->SetLive(Object("a", "edited by hand at c2"));
  EXPECT_FALSE(Pass("web", "drift").applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), applies + 1);
  EXPECT_EQ(Get("web").status().synced_revision(), "c2");
}

TEST_F(ReconcilerTest, AutomatedSyncRunsAgainWhenTheSourceChangesAtTheSameCommit) {
  // Argo CD's rule: one automated sync per commit *and* parameters. A changed path at the same
  // commit is a new desired state.
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.render->SetObjects("web-v2", {Object("a", "v2")});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true, /*self_heal=*/false));
  ASSERT_TRUE(Pass("web").applied);
  EditSpec("web", [](v1::ApplicationSpec& spec) { spec.mutable_source()->set_path("web-v2"); });
  EXPECT_TRUE(Pass("web", "spec").applied) << "the new source was not synced";
  EXPECT_EQ(fakes_.apply->LiveJson(Key("ConfigMap", "a")), Object("a", "v2").json());
  EXPECT_FALSE(Pass("web").applied);
}

TEST_F(ReconcilerTest, ManualAppAppliesOnlyWhenAsked) {
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  Create(MakeApp("web", /*automated=*/false));
  for (const char* trigger : {"interval", "refresh", "webhook", "drift", "spec", "retry"}) {
    EXPECT_FALSE(Pass("web", trigger).applied) << trigger;
  }
  fakes_.source->SetCommit(kRepo, "main", "c2");
  EXPECT_FALSE(Pass("web").applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), 0);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);

  SyncOrder order;
  order.initiated_by = "user";
  ReconcileOutcome synced = Sync("web", order);
  EXPECT_TRUE(synced.status.ok()) << synced.status;
  EXPECT_TRUE(synced.applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), 1);
  v1::Application app = Get("web");
  EXPECT_EQ(app.status().operation().initiated_by(), "user");
  EXPECT_EQ(app.status().operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(app.status().synced_revision(), "c2");
  EXPECT_FALSE(Pass("web").applied);
  EXPECT_EQ(Get("web").status().sync(), types::v1::SYNC_STATUS_SYNCED);
}

TEST_F(ReconcilerTest, SyncOfAnotherRevisionResolvesIt) {
  fakes_.render->SetObjects("web", {Object("a")});
  fakes_.source->SetCommit(kRepo, "v1.0.0", "c0");
  Create(MakeApp("web", /*automated=*/false));
  SyncOrder order;
  order.revision = "v1.0.0";
  ASSERT_TRUE(Sync("web", order).status.ok());
  EXPECT_EQ(fakes_.source->last().ref(), "v1.0.0");
  EXPECT_EQ(fakes_.apply->applies().back().source().commit(), "c0");
  EXPECT_EQ(Get("web").status().synced_revision(), "c0");
}

TEST_F(ReconcilerTest, SuspendedAppIsNotReconciled) {
  fakes_.render->SetObjects("web", {Object("a")});
  v1::Application app = MakeApp("web", /*automated=*/true);
  app.mutable_spec()->set_suspend(true);
  Create(app);
  EXPECT_TRUE(Pass("web").status.ok());
  EXPECT_EQ(fakes_.source->calls(), 0);
  EXPECT_EQ(fakes_.apply->apply_calls(), 0);
}

// --- History ----------------------------------------------------------------------------------

TEST_F(ReconcilerTest, HistoryHasOneEntryPerSyncWithEachObjectsResultAndIsBounded) {
  TearDown();
  history_limit_ = 3;
  SetUp();
  fakes_.render->SetObjects("web", {Object("a"), Object("b")});
  Create(MakeApp("web", /*automated=*/false));

  SyncOrder order;
  for (int i = 1; i <= 5; ++i) {
    fakes_.source->SetCommit(kRepo, "main", absl::StrCat("c", i));
    fakes_.render->SetObjects("web", {Object("a", absl::StrCat("v", i)), Object("b")});
    ASSERT_TRUE(Sync("web", order).status.ok());
    ASSERT_TRUE(Pass("web").status.ok());  // passes between syncs add nothing
  }
  // A dry run leaves no entry.
  order.dry_run = true;
  ASSERT_TRUE(Sync("web", order).status.ok());

  auto history = store_->History("web", 0);
  ASSERT_TRUE(history.ok()) << history.status();
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].revision(), "c5");
  EXPECT_EQ((*history)[1].revision(), "c4");
  EXPECT_EQ((*history)[2].revision(), "c3");
  const v1::HistoryEntry& newest = (*history)[0];
  EXPECT_EQ(newest.revision_message(), "message of c5");
  EXPECT_EQ(newest.operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(newest.operation().initiated_by(), "user");
  EXPECT_TRUE(newest.operation().has_finished_at());
  EXPECT_EQ(newest.spec().source().path(), "web");
  EXPECT_EQ(newest.render_digest(), Get("web").status().render_digest());
  ASSERT_EQ(newest.resources_size(), 2);
  std::map<std::string, std::string> actions;
  for (const v1::ResourceStatus& resource : newest.resources()) {
    actions[resource.key().name()] = resource.action();
  }
  EXPECT_EQ(actions["a"], "configured");
  EXPECT_EQ(actions["b"], "unchanged");

  // A failed sync is recorded too, with the object that failed.
  fakes_.apply->FailObject("a");
  fakes_.source->SetCommit(kRepo, "main", "c6");
  fakes_.render->SetObjects("web", {Object("a", "v6"), Object("b")});
  order.dry_run = false;
  EXPECT_FALSE(Sync("web", order).status.ok());
  history = store_->History("web", 0);
  ASSERT_TRUE(history.ok());
  ASSERT_EQ(history->size(), 3u);
  EXPECT_EQ((*history)[0].revision(), "c6");
  EXPECT_EQ((*history)[0].operation().phase(), v1::OPERATION_PHASE_FAILED);
  bool failed_object = false;
  for (const v1::ResourceStatus& resource : (*history)[0].resources()) {
    failed_object |= resource.key().name() == "a" && resource.action() == "failed" &&
                     absl::StrContains(resource.message(), "admission webhook");
  }
  EXPECT_TRUE(failed_object) << (*history)[0].DebugString();
  EXPECT_NE(FindCondition(Get("web"), "ApplyFailed"), nullptr);
}

// --- Hooks ------------------------------------------------------------------------------------

TEST_F(ReconcilerTest, HooksAreAppliedButNeverCompared) {
  fakes_.render->SetObjects("web", {Object("a"), Object("migrate", "x", "Job", /*hook=*/true)});
  Create(MakeApp("web", /*automated=*/true, /*prune=*/true));
  ASSERT_TRUE(Pass("web").applied);
  EXPECT_THAT(ObjectNames(fakes_.diff->last().desired()), ElementsAre("a"));
  EXPECT_THAT(Names(fakes_.apply->last_read_live().keys()), ElementsAre("a"));
  EXPECT_THAT(ObjectNames(fakes_.apply->applies().back().objects()),
              UnorderedElementsAre("a", "migrate"));
  EXPECT_THAT(fakes_.apply->applies().back().prune(), IsEmpty());

  ASSERT_TRUE(Pass("web").status.ok());
  v1::Application app = Get("web");
  EXPECT_EQ(app.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  ASSERT_EQ(app.status().resources_size(), 1);
  EXPECT_EQ(app.status().resources(0).key().name(), "a");
  EXPECT_THAT(Names(app.status().inventory()), ElementsAre("a"));
  EXPECT_THAT(ObjectNames(fakes_.diff->last().desired()), ElementsAre("a"));
  // The hook never shows as OutOfSync or Extraneous, so it is neither synced again nor pruned.
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(Pass("web").applied);
  EXPECT_EQ(fakes_.apply->apply_calls(), 1);
}

// --- Operations -------------------------------------------------------------------------------

TEST_F(ReconcilerTest, RunningSyncShowsInTheStoredStatus) {
  // While Apply runs, `todoke app get` (and a restart's MarkInterrupted) must see the running
  // operation: the intent is in the status, not only in the operations table.
  fakes_.render->SetObjects("web", {Object("a")});
  Create(MakeApp("web", /*automated=*/true));
  v1::Operation seen;
  fakes_.apply->OnApply([&](const applier::v1::ApplyRequest&) {
    auto app = store_->Get("web");
    if (app.ok()) seen = app->status().operation();
  });
  ASSERT_TRUE(Pass("web").applied);
  EXPECT_EQ(seen.phase(), v1::OPERATION_PHASE_RUNNING) << seen.DebugString();
  v1::Application app = Get("web");
  EXPECT_EQ(app.status().operation().id(), seen.id());
  EXPECT_EQ(app.status().operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
}

TEST_F(ReconcilerTest, AnInterruptedSyncWhosePushLandedShowsItsRevisionAsSynced) {
  // kill -9 after the applier pushed to the hydration branch but before the operation's end was
  // written: after the restart the branch holds exactly what c1 renders. The app must show c1 as
  // synced (and track its objects), not keep the revision of the sync before.
  auto git_app = [&](const std::string& name, bool automated) {
    v1::Application app = MakeApp(name, automated);
    auto* git = app.mutable_spec()->mutable_destination()->mutable_git();
    git->set_repo_url("https://git.example.com/hydrated.git");
    git->set_branch("rendered");
    git->set_path(name);
    return app;
  };
  fakes_.render->SetObjects("landed", {Object("a"), Object("b")});
  fakes_.render->SetObjects("auto", {Object("c")});
  fakes_.render->SetObjects("cut", {Object("d"), Object("e")});
  Create(git_app("landed", /*automated=*/false));
  Create(git_app("auto", /*automated=*/true));
  Create(git_app("cut", /*automated=*/false));
  for (const char* name : {"landed", "auto", "cut"}) {
    v1::ApplicationStatus status;
    status.set_synced_revision("c0");
    v1::Operation operation;
    operation.set_revision("c1");
    operation.set_initiated_by("user");
    auto started = store_->StartOperation(name, operation);
    ASSERT_TRUE(started.ok()) << started.status();
    *status.mutable_operation() = *started;
    ASSERT_TRUE(store_->UpdateStatus(name, status).ok());
  }
  // What landed before the kill: all of "landed" and "auto", only one object of "cut".
  fakes_.apply->SetLive(Object("a"));
  fakes_.apply->SetLive(Object("b"));
  fakes_.apply->SetLive(Object("c"));
  fakes_.apply->SetLive(Object("d"));
  auto interrupted = store_->MarkInterrupted();  // the restart
  ASSERT_TRUE(interrupted.ok()) << interrupted.status();
  ASSERT_EQ(interrupted->size(), 3u);
  DrainEvents();

  for (const char* name : {"landed", "auto", "cut"}) ASSERT_TRUE(Pass(name).status.ok()) << name;
  v1::Application landed = Get("landed");
  EXPECT_EQ(landed.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(landed.status().synced_revision(), "c1") << landed.status().DebugString();
  EXPECT_THAT(Names(landed.status().inventory()), UnorderedElementsAre("a", "b"));
  // The operation itself stays what it was: interrupted.
  EXPECT_EQ(landed.status().operation().phase(), v1::OPERATION_PHASE_INTERRUPTED);
  EXPECT_TRUE(SawEvent(DrainEvents(), "InterruptedSyncLanded", "revision c1"));
  EXPECT_EQ(Get("auto").status().synced_revision(), "c1");
  EXPECT_EQ(fakes_.apply->apply_calls(), 0) << "nothing to sync: the push had landed";
  // A push that did not land leaves the old revision (and the app out of sync).
  v1::Application cut = Get("cut");
  EXPECT_EQ(cut.status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);
  EXPECT_EQ(cut.status().synced_revision(), "c0");
  // Once recorded, it is not announced again.
  ASSERT_TRUE(Pass("landed").status.ok());
  EXPECT_EQ(Get("landed").status().synced_revision(), "c1");
  EXPECT_FALSE(SawEvent(DrainEvents(), "InterruptedSyncLanded"));
}

TEST_F(ReconcilerTest, ASyncCutShortByTheApplierWhoseChangesLandedShowsItsRevisionAsSynced) {
  // The applier is killed after it pushed (or applied) but before it answered: the sync fails
  // as "applier unavailable". At the next pass the live state is what the commit renders, so the
  // app is Synced and no sync follows; its syncedRevision must still move to that commit (it
  // stayed at the revision before, for good, on an automated app: docker_compose_loop).
  fakes_.render->SetObjects("app", {Object("a")});
  Create(MakeApp("app", /*automated=*/true));
  fakes_.apply->FailApply(absl::UnavailableError("applier: Socket closed"));
  (void)Pass("app");
  v1::Application failed = Get("app");
  ASSERT_EQ(failed.status().operation().phase(), v1::OPERATION_PHASE_FAILED)
      << failed.status().DebugString();
  const std::string commit = failed.status().operation().revision();
  ASSERT_FALSE(commit.empty());
  ASSERT_NE(failed.status().synced_revision(), commit);
  // What had landed before the applier died.
  fakes_.apply->SetLive(Object("a"));
  fakes_.apply->FailApply(absl::OkStatus());
  DrainEvents();
  const int applies = fakes_.apply->apply_calls();
  ASSERT_TRUE(Pass("app").status.ok());
  v1::Application landed = Get("app");
  EXPECT_EQ(landed.status().sync(), types::v1::SYNC_STATUS_SYNCED);
  EXPECT_EQ(landed.status().synced_revision(), commit) << landed.status().DebugString();
  EXPECT_THAT(Names(landed.status().inventory()), UnorderedElementsAre("a"));
  EXPECT_TRUE(SawEvent(DrainEvents(), "InterruptedSyncLanded", "did not finish"));
  EXPECT_EQ(fakes_.apply->apply_calls(), applies) << "nothing to sync: the changes had landed";
}

// Deployment "web" as Git has it, and as the cluster has it: replicas set by an autoscaler
// (through the scale subresource), the image by a `kubectl edit`.
constexpr char kDesiredDeployment[] =
    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"prod"},)"
    R"("spec":{"replicas":2,"template":{"spec":{"containers":[{"image":"nginx:1","name":"web"},)"
    R"({"image":"envoy:1","name":"proxy"}]}}}})";
constexpr char kLiveDeployment[] =
    R"({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"managedFields":[)"
    R"({"fieldsV1":{"f:spec":{"f:replicas":{},"f:template":{"f:spec":{"f:containers":{)"
    R"("k:{\"name\":\"proxy\"}":{".":{},"f:image":{},"f:name":{}},)"
    R"("k:{\"name\":\"web\"}":{".":{},"f:image":{},"f:name":{}}}}}}},)"
    R"("manager":"todoke","operation":"Apply"},)"
    R"({"fieldsV1":{"f:spec":{"f:replicas":{}}},"manager":"hpa","operation":"Update",)"
    R"("subresource":"scale"},)"
    R"({"fieldsV1":{"f:spec":{"f:template":{"f:spec":{"f:containers":{)"
    R"("k:{\"name\":\"web\"}":{"f:image":{}}}}}}},"manager":"kubectl-edit","operation":"Update"},)"
    R"({"fieldsV1":{"f:metadata":{"f:name":{}},"f:spec":{"f:template":{"f:spec":{"f:containers":{)"
    R"("k:{\"name\":\"proxy\"}":{".":{},"f:image":{},"f:name":{}}}}}}},)"
    R"("manager":"injector","operation":"Apply"}],)"
    R"("name":"web","namespace":"prod"},)"
    R"("spec":{"replicas":7,"template":{"spec":{"containers":[{"image":"envoy:1","name":"proxy"},)"
    R"({"image":"nginx:edited","name":"web"}]}}}})";

TEST_F(ReconcilerTest, FieldsOfIgnoredManagersKeepTheirLiveValuesWhenApplied) {
  types::v1::KubeObject desired;
  desired.mutable_key()->set_group("apps");
  desired.mutable_key()->set_version("v1");
  desired.mutable_key()->set_kind("Deployment");
  desired.mutable_key()->set_namespace_("prod");
  desired.mutable_key()->set_name("web");
  desired.set_json(kDesiredDeployment);
  types::v1::KubeObject live = desired;
  live.set_json(kLiveDeployment);
  fakes_.render->SetObjects("web", {desired, Object("settings")});
  fakes_.apply->SetLive(live);
  v1::Application app = MakeApp("web", /*automated=*/false);
  types::v1::IgnoreRule* rule = app.mutable_spec()->add_ignore_differences();
  rule->set_group("apps");
  rule->set_kind("Deployment");
  rule->add_managed_fields_managers("hpa");
  Create(app);

  auto applied_deployment = [&]() -> Json {
    std::vector<applier::v1::ApplyRequest> applies = fakes_.apply->applies();
    if (applies.empty()) return Json();
    for (const types::v1::KubeObject& object : applies.back().objects()) {
      if (object.key().kind() == "Deployment") return *ParseJson(object.json());
    }
    return Json();
  };
  // A sync (here a user's, forced as an automated one is) leaves the autoscaler's replicas out,
  // so that server-side apply keeps them the autoscaler's alone (applying its value would make
  // todoke a co-owner, and the autoscaler's next apply without force would conflict); the image,
  // which the rules do not leave to anyone, is Git's.
  SyncOrder order;
  order.force = true;
  ASSERT_TRUE(Sync("web", order).status.ok());
  Json applied = applied_deployment();
  EXPECT_FALSE(applied["spec"].contains("replicas")) << applied.dump();
  EXPECT_EQ(applied["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1");
  EXPECT_EQ(applied["spec"]["template"]["spec"]["containers"][1]["image"], "envoy:1");

  // A rule naming the editor too leaves its image out: the list item is found by its key (name),
  // not by position (live lists them in another order), and stays with its key; the other
  // container stays Git's.
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    spec.mutable_ignore_differences(0)->add_managed_fields_managers("kubectl-edit");
  });
  fakes_.apply->SetLive(live);
  ASSERT_TRUE(Sync("web", order).status.ok());
  applied = applied_deployment();
  EXPECT_FALSE(applied["spec"].contains("replicas")) << applied.dump();
  const Json& containers = applied["spec"]["template"]["spec"]["containers"];
  ASSERT_EQ(containers.size(), 2u) << applied.dump();
  EXPECT_EQ(containers[0], Json::parse(R"({"name":"web"})")) << applied.dump();
  EXPECT_EQ(containers[1]["image"], "envoy:1");

  // A manager owning a whole item (".", its key and its other fields) and the object's name: the
  // item stays, reduced to its key (the item is Git's; its key has the same value on both
  // sides, so co-owning it never conflicts), and the object keeps its name and namespace.
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    spec.mutable_ignore_differences(0)->clear_managed_fields_managers();
    spec.mutable_ignore_differences(0)->add_managed_fields_managers("injector");
  });
  fakes_.apply->SetLive(live);
  ASSERT_TRUE(Sync("web", order).status.ok());
  applied = applied_deployment();
  EXPECT_EQ(applied["spec"]["replicas"], 2) << applied.dump();
  EXPECT_EQ(applied["metadata"]["name"], "web");
  EXPECT_EQ(applied["metadata"]["namespace"], "prod");
  EXPECT_EQ(applied["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1");
  EXPECT_EQ(applied["spec"]["template"]["spec"]["containers"][1],
            Json::parse(R"({"name":"proxy"})"))
      << applied.dump();

  // A json pointer still carries the live value (no other owner is known for it).
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    spec.mutable_ignore_differences(0)->clear_managed_fields_managers();
    spec.mutable_ignore_differences(0)->add_json_pointers("/spec/replicas");
  });
  fakes_.apply->SetLive(live);
  ASSERT_TRUE(Sync("web", order).status.ok());
  applied = applied_deployment();
  EXPECT_EQ(applied["spec"]["replicas"], 7) << applied.dump();
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    spec.mutable_ignore_differences(0)->clear_json_pointers();
    spec.mutable_ignore_differences(0)->add_managed_fields_managers("hpa");
  });

  // A rule for another kind changes nothing.
  EditSpec("web", [](v1::ApplicationSpec& spec) {
    spec.mutable_ignore_differences(0)->set_kind("StatefulSet");
  });
  fakes_.apply->SetLive(live);
  ASSERT_TRUE(Sync("web", order).status.ok());
  applied = applied_deployment();
  EXPECT_EQ(applied["spec"]["replicas"], 2) << applied.dump();
  EXPECT_EQ(applied["spec"]["template"]["spec"]["containers"][0]["image"], "nginx:1");
}

TEST_F(ReconcilerTest, AppsOfOneRepositoryShareOneResolve) {
  reconciler_.reset();
  ReconcilerOptions options;
  options.resolve_ttl = absl::Seconds(30);
  reconciler_ = std::make_unique<Reconciler>(store_, fakes_.stages(), &events_, options);
  for (int i = 0; i < 5; ++i) {
    std::string name = absl::StrCat("app", i);
    fakes_.render->SetObjects(name, {Object(name)});
    Create(MakeApp(name, /*automated=*/false));
    ASSERT_TRUE(Pass(name).status.ok());
  }
  EXPECT_EQ(fakes_.source->calls(), 1);
  // A webhook or user refresh asks the remote, past the shared answer and the fetcher's cache.
  fakes_.source->SetCommit(kRepo, "main", "c2");
  const uint64_t pushed = reconciler_->ResolveMark();
  auto webhook = [&](const std::string& name, uint64_t mark) {
    ReconcileRequest request;
    request.app = name;
    request.trigger = "webhook";
    request.fresh_after_resolve = mark;
    return reconciler_->Reconcile(request, nullptr);
  };
  ASSERT_TRUE(webhook("app0", pushed).status.ok());
  EXPECT_EQ(fakes_.source->calls(), 2);
  EXPECT_TRUE(fakes_.source->last().bypass_ref_cache());
  EXPECT_EQ(Get("app0").status().revision(), "c2");
  // The other apps the same push was announced to take the answer of that request, sent after
  // the push: one Resolve for the push, not one per app, each at the pushed commit.
  for (int i = 1; i < 5; ++i) {
    std::string name = absl::StrCat("app", i);
    ASSERT_TRUE(webhook(name, pushed).status.ok());
    EXPECT_EQ(Get(name).status().revision(), "c2") << name;
  }
  EXPECT_EQ(fakes_.source->calls(), 2);
  // A later push is not answered by a request sent before it, even within resolve_ttl.
  fakes_.source->SetCommit(kRepo, "main", "c3");
  const uint64_t pushed_again = reconciler_->ResolveMark();
  ASSERT_TRUE(webhook("app1", pushed_again).status.ok());
  EXPECT_EQ(fakes_.source->calls(), 3);
  EXPECT_EQ(Get("app1").status().revision(), "c3");
  ASSERT_TRUE(webhook("app2", pushed_again).status.ok());
  EXPECT_EQ(fakes_.source->calls(), 3);
  EXPECT_EQ(Get("app2").status().revision(), "c3");
}

// A Git server that hangs: the first app's Resolve waits for its deadline; the apps of the same
// repository behind it give their worker back after resolve_wait (so that the apps of other
// repositories keep workers), without asking the hung server a second time, and every condition
// names the repository.
TEST_F(ReconcilerTest, AppsBehindAHungResolveGiveTheirWorkerBackAndNameTheRepository) {
  reconciler_.reset();
  ReconcilerOptions options;
  options.resolve_timeout = absl::Seconds(5);
  options.resolve_wait = absl::Milliseconds(200);
  reconciler_ = std::make_unique<Reconciler>(store_, fakes_.stages(), &events_, options);
  for (const char* name : {"app0", "app1"}) {
    fakes_.render->SetObjects(name, {Object(name)});
    Create(MakeApp(name, /*automated=*/false));
  }
  fakes_.source->Hang();
  std::atomic<bool> first_done{false};
  ReconcileOutcome first;
  std::thread hung([&] {
    first = Pass("app0");
    first_done = true;
  });
  for (int i = 0; i < 500 && fakes_.source->calls() == 0; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ASSERT_EQ(fakes_.source->calls(), 1);

  ReconcileOutcome second = Pass("app1");
  EXPECT_FALSE(first_done) << "app1 waited for the whole hung Resolve";
  EXPECT_TRUE(absl::IsUnavailable(second.status)) << second.status;
  EXPECT_THAT(std::string(second.status.message()), ::testing::HasSubstr(kRepo));
  EXPECT_EQ(fakes_.source->calls(), 1) << "the hung server was asked a second time";
  v1::Application app1 = Get("app1");
  ASSERT_EQ(app1.status().conditions_size(), 1) << app1.DebugString();
  EXPECT_EQ(app1.status().conditions(0).type(), "StageUnavailable");
  EXPECT_THAT(app1.status().conditions(0).message(), ::testing::HasSubstr("source-fetcher: "));
  EXPECT_THAT(app1.status().conditions(0).message(), ::testing::HasSubstr(kRepo));

  hung.join();  // its deadline
  EXPECT_TRUE(absl::IsDeadlineExceeded(first.status)) << first.status;
  v1::Application app0 = Get("app0");
  ASSERT_EQ(app0.status().conditions_size(), 1) << app0.DebugString();
  EXPECT_THAT(app0.status().conditions(0).message(),
              ::testing::HasSubstr(absl::StrCat("resolving ", kRepo, " at main")));
  fakes_.source->Release();
  EXPECT_TRUE(Pass("app1").status.ok());
}

// An app that waited for another app's Resolve of the same repository takes its failure as the
// answer instead of asking again (and waiting as long again).
TEST_F(ReconcilerTest, AFailedSharedResolveIsTheAnswerForTheAppsThatWaitedForIt) {
  reconciler_.reset();
  ReconcilerOptions options;
  options.resolve_timeout = absl::Milliseconds(500);
  options.resolve_wait = absl::Seconds(30);  // bounded by resolve_timeout
  reconciler_ = std::make_unique<Reconciler>(store_, fakes_.stages(), &events_, options);
  for (const char* name : {"app0", "app1"}) {
    fakes_.render->SetObjects(name, {Object(name)});
    Create(MakeApp(name, /*automated=*/false));
  }
  fakes_.source->Hang();
  ReconcileOutcome first;
  std::thread hung([&] { first = Pass("app0"); });
  for (int i = 0; i < 500 && fakes_.source->calls() == 0; ++i)
    absl::SleepFor(absl::Milliseconds(10));
  ReconcileOutcome second = Pass("app1");
  hung.join();
  EXPECT_TRUE(absl::IsDeadlineExceeded(first.status)) << first.status;
  EXPECT_TRUE(absl::IsDeadlineExceeded(second.status)) << second.status;
  EXPECT_EQ(fakes_.source->calls(), 1);
}

TEST_F(ReconcilerTest, DeletedAppIsGone) {
  ReconcileOutcome outcome = Pass("nope");
  EXPECT_TRUE(outcome.gone);
  EXPECT_TRUE(absl::IsNotFound(outcome.status));
}

}  // namespace
}  // namespace todoke::orchestrator

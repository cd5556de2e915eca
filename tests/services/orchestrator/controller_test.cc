// Controller: the work queue and workers over a real Reconciler, fake stages (fake_stages.h) and
// the real SQLite store. What a user relies on: triggers that arrive while an app runs coalesce
// into one follow-up; an app is never reconciled on two workers at once; a failing app backs off
// on its own (growing, capped) while the others go on; webhooks refresh exactly the apps whose
// repository and ref match, and never for todoke's own hydration pushes; Refresh waits for a
// reconcile that started after it was asked, within its deadline; drift events start a
// reconcile unless they are the echo of todoke's own apply; operations a crash interrupted are
// reported and retried.
#include "services/orchestrator/core/controller.h"

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/orchestrator/core/store/sqlite_application_store.h"
#include "tests/services/orchestrator/fake_stages.h"

namespace todoke::orchestrator {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;
using testing::Object;
using ::testing::UnorderedElementsAre;

constexpr char kRepo[] = "https://git.example.com/apps.git";

std::string FreshDir() {
  const std::filesystem::path dir =
      std::filesystem::path(::testing::TempDir()) /
      absl::StrCat("todoke-controller-",
                   ::testing::UnitTest::GetInstance()->current_test_info()->name(), "-", getpid());
  std::filesystem::remove_all(dir);
  return dir.string();
}

// Polls `done` every 5ms for up to `timeout`.
bool WaitUntil(const std::function<bool()>& done, absl::Duration timeout = absl::Seconds(10)) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (done()) return true;
    absl::SleepFor(absl::Milliseconds(5));
  }
  return done();
}

// Blocks the passes of one app at ReadLive until released, or lets a counted number through.
class Gate {
 public:
  void Block(const std::string& app) {
    absl::MutexLock lock(&mu_);
    app_ = app;
    open_ = false;
  }
  void Release() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Lets `n` more blocked passes through (the gate stays closed for the others).
  void Admit(int n) {
    absl::MutexLock lock(&mu_);
    permits_ += n;
  }
  // Called from the fake's ReadLive hook.
  void Pass(const std::string& app) {
    absl::MutexLock lock(&mu_);
    if (app != app_) return;
    ++waiting_;
    auto go = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ || permits_ > 0; };
    mu_.AwaitWithTimeout(absl::Condition(&go), absl::Seconds(30));
    if (!open_ && permits_ > 0) --permits_;
    --waiting_;
  }
  int waiting() {
    absl::MutexLock lock(&mu_);
    return waiting_;
  }

 private:
  absl::Mutex mu_;
  std::string app_ ABSL_GUARDED_BY(mu_);
  bool open_ ABSL_GUARDED_BY(mu_) = true;
  int permits_ ABSL_GUARDED_BY(mu_) = 0;
  int waiting_ ABSL_GUARDED_BY(mu_) = 0;
};

// The store, counting the Get calls of each app (everything else passed through).
class CountingStore : public ApplicationStore {
 public:
  explicit CountingStore(std::shared_ptr<ApplicationStore> inner) : inner_(std::move(inner)) {}
  int gets() {
    absl::MutexLock lock(&mu_);
    return gets_;
  }
  absl::StatusOr<Application> Create(const Application& app) override {
    return inner_->Create(app);
  }
  absl::StatusOr<Application> Get(absl::string_view name) override {
    {
      absl::MutexLock lock(&mu_);
      ++gets_;
    }
    return inner_->Get(name);
  }
  absl::StatusOr<ApplicationPage> List(const ListApplicationsOptions& options) override {
    return inner_->List(options);
  }
  absl::StatusOr<Application> Update(const Application& app, int64_t generation) override {
    return inner_->Update(app, generation);
  }
  absl::StatusOr<bool> UpdateStatus(absl::string_view name,
                                    const v1::ApplicationStatus& status) override {
    return inner_->UpdateStatus(name, status);
  }
  absl::Status Delete(absl::string_view name) override { return inner_->Delete(name); }
  absl::StatusOr<v1::Operation> StartOperation(absl::string_view app,
                                               const v1::Operation& operation) override {
    return inner_->StartOperation(app, operation);
  }
  absl::StatusOr<FinishedOperation> FinishOperation(int64_t id,
                                                    const OperationResult& result) override {
    return inner_->FinishOperation(id, result);
  }
  absl::StatusOr<v1::Operation> GetOperation(int64_t id) override {
    return inner_->GetOperation(id);
  }
  absl::StatusOr<std::vector<v1::Operation>> RunningOperations() override {
    return inner_->RunningOperations();
  }
  absl::StatusOr<std::vector<v1::Operation>> MarkInterrupted() override {
    return inner_->MarkInterrupted();
  }
  absl::StatusOr<v1::HistoryEntry> AppendHistory(absl::string_view app,
                                                 const v1::HistoryEntry& entry) override {
    return inner_->AppendHistory(app, entry);
  }
  absl::StatusOr<std::vector<v1::HistoryEntry>> History(absl::string_view app, int limit) override {
    return inner_->History(app, limit);
  }
  absl::StatusOr<v1::HistoryEntry> GetHistoryEntry(absl::string_view app, int64_t id) override {
    return inner_->GetHistoryEntry(app, id);
  }

 private:
  const std::shared_ptr<ApplicationStore> inner_;
  absl::Mutex mu_;
  int gets_ ABSL_GUARDED_BY(mu_) = 0;
};

class ControllerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = FreshDir();
    auto store = SqliteApplicationStore::Open(dir_);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = std::shared_ptr<SqliteApplicationStore>(std::move(*store));
    fakes_.source->SetDefaultCommit("c1");
    fakes_.apply->OnReadLive([this](const std::string& app) { gate_.Pass(app); });
    options_.default_interval = absl::Hours(1);
    options_.jitter = 0;
  }

  void TearDown() override {
    if (controller_) controller_->Stop();
    controller_.reset();
    reconciler_.reset();
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  void StartController() {
    ReconcilerOptions reconciler_options;
    reconciler_options.resolve_ttl = absl::ZeroDuration();
    reconciler_ =
        std::make_shared<Reconciler>(store_, fakes_.stages(), &events_, reconciler_options);
    controller_ =
        std::make_unique<Controller>(store_, reconciler_, fakes_.stages(), &events_, options_);
    ASSERT_TRUE(controller_->Start().ok());
  }

  v1::Application MakeApp(const std::string& name, const std::string& repo = kRepo,
                          const std::string& target = "main", bool automated = false) {
    v1::Application app;
    app.set_name(name);
    app.mutable_spec()->mutable_source()->set_repo_url(repo);
    app.mutable_spec()->mutable_source()->set_target_revision(target);
    app.mutable_spec()->mutable_source()->set_path(name);
    app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_namespace_("prod");
    app.mutable_spec()->mutable_sync_policy()->set_automated(automated);
    app.mutable_spec()->mutable_sync_policy()->set_prune(true);
    fakes_.render->SetObjects(name, {Object(name)});
    return app;
  }

  void Create(const v1::Application& app) {
    auto created = store_->Create(app);
    ASSERT_TRUE(created.ok()) << created.status();
  }

  // Waits until no app is queued for now or running (delayed interval entries aside).
  bool Idle(absl::Duration settle = absl::Milliseconds(150)) {
    return WaitUntil([&] { return controller_->Busy() == 0; }) &&
           (absl::SleepFor(settle), controller_->Busy() == 0);
  }

  std::string dir_;
  testing::FakeStages fakes_;
  Gate gate_;
  EventBus events_;
  ControllerOptions options_;
  std::shared_ptr<SqliteApplicationStore> store_;
  std::shared_ptr<Reconciler> reconciler_;
  std::unique_ptr<Controller> controller_;
};

TEST_F(ControllerTest, TriggersArrivingWhileAnAppRunsCoalesceIntoOneFollowUp) {
  Create(MakeApp("web"));
  gate_.Block("web");
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return gate_.waiting() == 1; })) << "the first pass never came";

  for (const char* trigger : {"refresh", "webhook", "drift", "interval", "refresh", "spec"}) {
    controller_->Enqueue("web", trigger);
  }
  absl::SleepFor(absl::Milliseconds(150));  // past the drift delay
  EXPECT_EQ(gate_.waiting(), 1) << "ran on a second worker";
  gate_.Release();
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") >= 2; }));
  ASSERT_TRUE(Idle(absl::Milliseconds(300)));
  EXPECT_EQ(fakes_.apply->read_live_calls("web"), 2) << "six triggers, one follow-up expected";
}

TEST_F(ControllerTest, APassReadsTheAppOnceAndSeesAnUpdateMadeBetweenPasses) {
  Create(MakeApp("web"));
  fakes_.render->SetObjects("web-v2", {Object("web")});
  auto counting = std::make_shared<CountingStore>(store_);
  reconciler_ = std::make_shared<Reconciler>(counting, fakes_.stages(), &events_);
  controller_ =
      std::make_unique<Controller>(counting, reconciler_, fakes_.stages(), &events_, options_);
  ASSERT_TRUE(controller_->Start().ok());
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") == 1; }));
  ASSERT_TRUE(Idle());

  // A pass triggered by the engine reads the app once: the Controller schedules the next one
  // from the copy the pass read.
  int before = counting->gets();
  controller_->Enqueue("web", "refresh");
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") == 2; }));
  ASSERT_TRUE(Idle());
  EXPECT_EQ(counting->gets() - before, 1) << "the store was read more than once for one pass";

  // The API updates the spec between passes (a new path and a 100 ms interval) and enqueues
  // the app: the next pass renders the new path, and later passes follow the new interval.
  auto app = store_->Get("web");
  ASSERT_TRUE(app.ok()) << app.status();
  app->mutable_spec()->mutable_source()->set_path("web-v2");
  app->mutable_spec()->mutable_sync_policy()->mutable_interval()->set_nanos(100000000);
  ASSERT_TRUE(store_->Update(*app, app->generation()).ok());
  controller_->Enqueue("web", "spec");
  ASSERT_TRUE(WaitUntil([&] { return fakes_.render->calls("web-v2") == 1; }))
      << "the pass after the update did not see the new spec";
  const int passes = fakes_.apply->read_live_calls("web");
  EXPECT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") >= passes + 3; },
                        absl::Seconds(5)))
      << "the passes after the update still follow the old interval (1h)";
}

TEST_F(ControllerTest, AnAppIsNeverReconciledOnTwoWorkersAtOnce) {
  options_.workers = 4;
  for (const char* name : {"a", "b", "c"}) Create(MakeApp(name));
  absl::Mutex mu;
  std::map<std::string, int> running;
  std::map<std::string, int> max_running;
  int total = 0;
  int max_total = 0;
  fakes_.apply->OnReadLive([&](const std::string& app) {
    {
      absl::MutexLock lock(&mu);
      max_running[app] = std::max(max_running[app], ++running[app]);
      max_total = std::max(max_total, ++total);
    }
    absl::SleepFor(absl::Milliseconds(3));
    absl::MutexLock lock(&mu);
    --running[app];
    --total;
  });
  StartController();
  std::vector<std::thread> triggers;
  std::atomic<int> enqueued{0};
  for (int t = 0; t < 3; ++t) {
    triggers.emplace_back([&, t] {
      absl::Time end = absl::Now() + absl::Milliseconds(400);
      for (int i = 0; absl::Now() < end; ++i) {
        controller_->Enqueue(std::string(1, static_cast<char>('a' + (i + t) % 3)),
                             i % 2 ? "refresh" : "webhook");
        ++enqueued;
        absl::SleepFor(absl::Microseconds(200));
      }
    });
  }
  for (std::thread& thread : triggers) thread.join();
  ASSERT_TRUE(Idle());
  absl::MutexLock lock(&mu);
  for (const char* name : {"a", "b", "c"}) {
    EXPECT_EQ(max_running[name], 1) << name << " ran on two workers at once";
  }
  EXPECT_GE(max_total, 2) << "the workers never ran in parallel: the check above proves nothing";
  int passes = fakes_.apply->read_live_calls();
  EXPECT_GT(passes, 3);
  EXPECT_LT(passes, enqueued.load() / 2) << "triggers did not coalesce";
}

TEST_F(ControllerTest, FailingAppBacksOffGrowingAndCappedWhileOthersProceed) {
  options_.workers = 2;
  options_.failure_backoff_base = absl::Milliseconds(40);
  options_.failure_backoff_max = absl::Milliseconds(320);
  Create(MakeApp("bad"));
  Create(MakeApp("good"));
  fakes_.render->Fail("bad", absl::InvalidArgumentError("bad/kustomization.yaml: broken"));
  StartController();

  // Meanwhile the healthy app answers every refresh at once.
  absl::Time end = absl::Now() + absl::Milliseconds(2000);
  int refreshes = 0;
  while (absl::Now() < end) {
    absl::Time asked = absl::Now();
    absl::Status refreshed = controller_->RefreshAndWait("good", asked + absl::Seconds(2));
    ASSERT_TRUE(refreshed.ok()) << refreshed;
    EXPECT_LT(absl::Now() - asked, absl::Milliseconds(500)) << "the failing app held up another";
    ++refreshes;
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_GT(refreshes, 10);

  std::vector<absl::Time> times = fakes_.render->call_times("bad");
  ASSERT_GE(times.size(), 7u) << "the failing app was not retried";
  std::vector<std::string> gaps_text;
  std::vector<absl::Duration> gaps;
  for (size_t i = 1; i < times.size(); ++i) {
    gaps.push_back(times[i] - times[i - 1]);
    gaps_text.push_back(absl::FormatDuration(gaps.back()));
  }
  std::string all = absl::StrJoin(gaps_text, " ");
  for (size_t i = 0; i < gaps.size(); ++i) {
    absl::Duration expected =
        std::min(options_.failure_backoff_max,
                 options_.failure_backoff_base * (1 << std::min<size_t>(i, 10)));
    EXPECT_GE(gaps[i], expected * 0.9) << "gap " << i << " shorter than the backoff: " << all;
    EXPECT_LE(gaps[i], expected + absl::Milliseconds(250)) << "gap " << i << ": " << all;
  }
  EXPECT_GE(gaps.back(), options_.failure_backoff_max * 0.9) << all;
  EXPECT_EQ(fakes_.render->calls("good"), 1) << "the good app was rendered more than once";
}

TEST_F(ControllerTest, RefreshMatchingFollowsNormalisedUrlsBranchesAndTags) {
  const std::string repo = "https://GitHub.com/Org/Repo.git";
  Create(MakeApp("main-https", repo, "main"));
  Create(MakeApp("main-scp", "git@github.com:Org/Repo", "refs/heads/main"));
  Create(MakeApp("head-ssh", "ssh://git@github.com/Org/Repo.git/", "HEAD"));
  Create(MakeApp("head-empty", "https://github.com/Org/Repo", ""));
  Create(MakeApp("develop", "https://github.com/Org/Repo", "develop"));
  Create(MakeApp("feature", "https://github.com/Org/Repo", "feature/login"));
  Create(MakeApp("tag", "https://github.com/Org/Repo", "v1.2.0"));
  Create(MakeApp("tag-full", "https://github.com/Org/Repo", "refs/tags/v1.2.0"));
  Create(MakeApp("range", "https://github.com/Org/Repo", "^1.2"));
  Create(
      MakeApp("pinned", "https://github.com/Org/Repo", "0123456789abcdef0123456789abcdef01234567"));
  Create(MakeApp("other-repo", "https://github.com/Org/Other", "main"));
  Create(MakeApp("prefix-repo", "https://github.com/Org/Repo-extra", "main"));
  v1::Application suspended = MakeApp("suspended", repo, "main");
  suspended.mutable_spec()->set_suspend(true);
  Create(suspended);
  StartController();
  auto matching = [&](const std::string& url, const std::string& ref) {
    std::vector<std::string> apps = controller_->RefreshMatching(url, ref);
    std::sort(apps.begin(), apps.end());
    return apps;
  };
  const std::vector<std::string> main_push = {"head-empty", "head-ssh", "main-https", "main-scp"};
  // The same repository in every form a push payload gives it.
  for (const char* url : {"https://github.com/Org/Repo", "https://github.com/Org/Repo.git",
                          "http://GITHUB.COM/Org/Repo/", "git@github.com:Org/Repo.git",
                          "ssh://git@github.com/Org/Repo", "git://github.com/Org/Repo.git",
                          "https://x-access-token:secret@github.com/Org/Repo.git"}) {
    EXPECT_EQ(matching(url, "refs/heads/main"), main_push) << url;
  }
  EXPECT_EQ(matching("https://github.com/Org/Repo", "main"), main_push) << "short branch name";
  EXPECT_EQ(matching("https://github.com/Org/Repo", "refs/heads/develop"),
            (std::vector<std::string>{"develop", "head-empty", "head-ssh"}));
  EXPECT_EQ(matching("https://github.com/Org/Repo", "refs/heads/feature/login"),
            (std::vector<std::string>{"feature", "head-empty", "head-ssh"}));
  // Tags: the app following that tag, apps following a semver range, apps following HEAD.
  EXPECT_EQ(matching("https://github.com/Org/Repo", "refs/tags/v1.2.0"),
            (std::vector<std::string>{"head-empty", "head-ssh", "range", "tag", "tag-full"}));
  EXPECT_EQ(matching("https://github.com/Org/Repo", "refs/tags/v1.3.0"),
            (std::vector<std::string>{"head-empty", "head-ssh", "range"}));
  // No ref (a generic webhook without one): every app of the repository but pinned ones.
  EXPECT_EQ(matching("https://github.com/Org/Repo", ""),
            (std::vector<std::string>{"develop", "feature", "head-empty", "head-ssh", "main-https",
                                      "main-scp", "range", "tag", "tag-full"}));
  EXPECT_THAT(matching("https://github.com/Org/Nothing", "refs/heads/main"), IsEmpty());
  EXPECT_THAT(matching("https://gitlab.com/Org/Repo", "refs/heads/main"), IsEmpty());
}

TEST_F(ControllerTest, PushToAHydrationBranchTriggersNothing) {
  // "render" reads main of the repository and hydrates into its branch "rendered".
  v1::Application hydrator = MakeApp("render", "https://github.com/Org/Repo.git", "HEAD");
  auto* git = hydrator.mutable_spec()->mutable_destination()->mutable_git();
  git->set_repo_url("git@github.com:Org/Repo.git");
  git->set_branch("rendered");
  git->set_path("render");
  Create(hydrator);
  Create(MakeApp("follower", "https://github.com/Org/Repo", ""));
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls() == 2; }));
  ASSERT_TRUE(Idle());
  int passes = fakes_.apply->read_live_calls();
  EXPECT_THAT(controller_->RefreshMatching("https://github.com/Org/Repo", "refs/heads/rendered"),
              IsEmpty());
  EXPECT_THAT(controller_->RefreshMatching("https://GITHUB.com/Org/Repo.git", "rendered"),
              IsEmpty());
  ASSERT_TRUE(Idle());
  EXPECT_EQ(fakes_.apply->read_live_calls(), passes) << "todoke's own push triggered a reconcile";
  // A push to main still refreshes both.
  EXPECT_EQ(controller_->RefreshMatching("https://github.com/Org/Repo", "refs/heads/main").size(),
            2u);
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls() == passes + 2; }));
}

TEST_F(ControllerTest, RefreshAndWaitWaitsForANewPassAndIsBounded) {
  Create(MakeApp("web"));
  gate_.Block("web");
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return gate_.waiting() == 1; }));

  // A pass is stuck: the wait ends at its deadline.
  absl::Time asked = absl::Now();
  absl::Status timed_out = controller_->RefreshAndWait("web", asked + absl::Milliseconds(200));
  absl::Duration took = absl::Now() - asked;
  EXPECT_TRUE(absl::IsDeadlineExceeded(timed_out)) << timed_out;
  EXPECT_GE(took, absl::Milliseconds(190));
  EXPECT_LT(took, absl::Seconds(2));

  // The running pass started before the call: the answer waits for the one after it.
  absl::Status waited;
  std::atomic<bool> returned{false};
  std::thread refresher([&] {
    waited = controller_->RefreshAndWait("web", absl::Now() + absl::Seconds(10));
    returned = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  gate_.Admit(1);  // the pass that was running ends; the one the refresh asked for blocks
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return gate_.waiting() == 1; })) << "no pass after the refresh";
  absl::SleepFor(absl::Milliseconds(200));
  EXPECT_FALSE(returned.load()) << "returned on the pass that was already running";
  gate_.Release();
  refresher.join();
  EXPECT_TRUE(waited.ok()) << waited;
  EXPECT_EQ(fakes_.apply->read_live_calls("web"), 2);

  // Nothing running: a refresh is answered quickly.
  ASSERT_TRUE(Idle());
  asked = absl::Now();
  ASSERT_TRUE(controller_->RefreshAndWait("web", asked + absl::Seconds(5)).ok());
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1));

  // After Stop, nothing is left waiting.
  controller_->Stop();
  asked = absl::Now();
  controller_->RefreshAndWait("web", asked + absl::Seconds(5)).IgnoreError();
  EXPECT_LT(absl::Now() - asked, absl::Seconds(1));
}

TEST_F(ControllerTest, DriftReconcilesButTheEchoOfOwnApplyDoesNot) {
  options_.drift_streams_period = absl::Milliseconds(20);
  options_.drift_delay = absl::Milliseconds(10);
  options_.after_sync_delay = absl::Milliseconds(10);
  Create(MakeApp("web", kRepo, "main", /*automated=*/true));
  StartController();
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->open_streams() == 1; }));
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->apply_calls() == 1; }));
  // The pass after the sync sees it converged.
  ASSERT_TRUE(WaitUntil([&] {
    auto app = store_->Get("web");
    return app.ok() && app->status().sync() == types::v1::SYNC_STATUS_SYNCED;
  }));
  ASSERT_TRUE(Idle());
  int passes = fakes_.apply->read_live_calls("web");

  // The resourceVersion our apply returned: an echo, nothing to do.
  applier::v1::DriftEvent echo;
  echo.set_app_name("web");
  *echo.mutable_key() = testing::Key("ConfigMap", "web");
  echo.set_resource_version("101");  // the fake's first version
  ASSERT_EQ(fakes_.apply->FireDrift(echo), 1);
  ASSERT_TRUE(Idle(absl::Milliseconds(400)));
  EXPECT_EQ(fakes_.apply->read_live_calls("web"), passes) << "our own write started a reconcile";

  // Somebody else's write.
  fakes_.apply->SetLive(Object("web", "edited"));
  applier::v1::DriftEvent drift = echo;
  drift.set_resource_version("102");
  absl::Time fired = absl::Now();
  ASSERT_EQ(fakes_.apply->FireDrift(drift), 1);
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls("web") > passes; }));
  // Within the drift delay and a little: self-heal is meant to come within about a second.
  EXPECT_LT(absl::Now() - fired, absl::Milliseconds(300));
  ASSERT_TRUE(Idle());
  auto app = store_->Get("web");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);
}

TEST_F(ControllerTest, OperationInterruptedByACrashIsReportedAndRetried) {
  Create(MakeApp("auto", kRepo, "main", /*automated=*/true));
  Create(MakeApp("manual"));
  // What a kill -9 during a sync leaves: RUNNING operations (and statuses that show them).
  std::map<std::string, int64_t> ids;
  for (const char* name : {"auto", "manual"}) {
    v1::Operation operation;
    operation.set_revision("c1");
    operation.set_initiated_by(std::string(name) == "auto" ? "automated" : "user");
    auto started = store_->StartOperation(name, operation);
    ASSERT_TRUE(started.ok()) << started.status();
    ids[name] = started->id();
    v1::ApplicationStatus status;
    *status.mutable_operation() = *started;
    ASSERT_TRUE(store_->UpdateStatus(name, status).ok());
  }
  auto subscription = events_.Subscribe("");
  StartController();

  std::vector<std::string> interrupted;
  bool overflowed = false;
  for (const v1::Event& event : subscription->Next(absl::Seconds(1), &overflowed)) {
    if (event.reason() == "SyncInterrupted") interrupted.push_back(event.app_name());
  }
  EXPECT_THAT(interrupted, UnorderedElementsAre("auto", "manual"));
  for (const auto& [name, id] : ids) {
    auto operation = store_->GetOperation(id);
    ASSERT_TRUE(operation.ok());
    EXPECT_EQ(operation->phase(), v1::OPERATION_PHASE_INTERRUPTED) << name;
  }
  // The automated app syncs again by itself; the manual one shows the interruption and waits.
  ASSERT_TRUE(WaitUntil([&] {
    auto app = store_->Get("auto");
    return app.ok() && app->status().sync() == types::v1::SYNC_STATUS_SYNCED;
  }));
  ASSERT_TRUE(Idle());
  ASSERT_EQ(fakes_.apply->apply_calls(), 1);
  EXPECT_EQ(fakes_.apply->applies()[0].app_name(), "auto");
  auto manual = store_->Get("manual");
  ASSERT_TRUE(manual.ok());
  EXPECT_EQ(manual->status().operation().id(), ids["manual"]);
  EXPECT_EQ(manual->status().operation().phase(), v1::OPERATION_PHASE_INTERRUPTED);
  auto automated = store_->Get("auto");
  ASSERT_TRUE(automated.ok());
  EXPECT_GT(automated->status().operation().id(), ids["auto"]);
  EXPECT_EQ(automated->status().operation().phase(), v1::OPERATION_PHASE_SUCCEEDED);
  EXPECT_EQ(automated->status().sync(), types::v1::SYNC_STATUS_SYNCED);
}

TEST_F(ControllerTest, InterruptionShowsEvenWhenTheKillCameBeforeTheStatusWrite) {
  // A sync writes its intent row, then the status showing it; a kill between the two leaves a
  // status naming the previous operation. The interruption must still show after the restart.
  Create(MakeApp("manual"));
  v1::Operation previous;
  previous.set_revision("c0");
  auto first = store_->StartOperation("manual", previous);
  ASSERT_TRUE(first.ok());
  OperationResult done;
  done.message = "1 created";
  auto finished = store_->FinishOperation(first->id(), done);
  ASSERT_TRUE(finished.ok()) << finished.status();
  v1::ApplicationStatus status;
  *status.mutable_operation() = finished->operation;
  ASSERT_TRUE(store_->UpdateStatus("manual", status).ok());
  v1::Operation cut_short;
  cut_short.set_revision("c1");
  cut_short.set_initiated_by("user");
  auto running = store_->StartOperation("manual", cut_short);  // and then kill -9
  ASSERT_TRUE(running.ok());

  StartController();
  ASSERT_TRUE(Idle());
  auto app = store_->Get("manual");
  ASSERT_TRUE(app.ok());
  EXPECT_EQ(app->status().operation().id(), running->id()) << app->status().DebugString();
  EXPECT_EQ(app->status().operation().phase(), v1::OPERATION_PHASE_INTERRUPTED);
  EXPECT_EQ(app->status().operation().revision(), "c1");
}

// A sync that takes long (a slow cluster, a health wait) holds a sync worker, never a refresh
// worker: with every sync worker busy, another app is still refreshed at once, and an automated
// app that needs a sync meanwhile already shows OutOfSync while it waits for a sync worker.
TEST_F(ControllerTest, ASyncInProgressDoesNotBlockARefreshOfAnotherApp) {
  options_.workers = 1;
  options_.sync_workers = 1;
  Create(MakeApp("slow", kRepo, "main", /*automated=*/true));
  Create(MakeApp("other"));
  absl::Notification applying, release;
  fakes_.apply->OnApply([&](const applier::v1::ApplyRequest& request) {
    if (request.app_name() != "slow") return;
    if (!applying.HasBeenNotified()) applying.Notify();
    release.WaitForNotificationWithTimeout(absl::Seconds(30));
  });
  StartController();
  ASSERT_TRUE(applying.WaitForNotificationWithTimeout(absl::Seconds(10)));

  absl::Time asked = absl::Now();
  absl::Status refreshed = controller_->RefreshAndWait("other", asked + absl::Seconds(5));
  EXPECT_TRUE(refreshed.ok()) << "a running sync held up the refresh of another app: " << refreshed;
  auto other = store_->Get("other");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(other->status().sync(), types::v1::SYNC_STATUS_OUT_OF_SYNC);

  // A second automated app out of sync: compared by the refresh worker, queued for the sync one.
  Create(MakeApp("waiting", kRepo, "main", /*automated=*/true));
  controller_->Enqueue("waiting", "spec");
  EXPECT_TRUE(WaitUntil([&] {
    auto app = store_->Get("waiting");
    return app.ok() && app->status().sync() == types::v1::SYNC_STATUS_OUT_OF_SYNC;
  })) << "the app waiting for a sync worker was not compared";
  EXPECT_EQ(fakes_.apply->apply_calls(), 1) << "applied while the only sync worker was busy";

  release.Notify();
  for (const char* name : {"slow", "waiting"}) {
    EXPECT_TRUE(WaitUntil([&] {
      auto app = store_->Get(name);
      return app.ok() && app->status().sync() == types::v1::SYNC_STATUS_SYNCED;
    })) << name
        << " never synced";
  }
  ASSERT_TRUE(Idle());
  EXPECT_EQ(fakes_.apply->apply_calls(), 2) << "one sync per automated app";
}

// Passes of one repository (or one destination) are capped in each pool: the most seen running
// at once is the cap, while apps of another repository run beside them; and when every pass
// of one repository hangs, another repository's app is still refreshed at once.
class CapTest : public ControllerTest {
 protected:
  // `group_of(i)` names app i's repository or destination; `hang` blocks the passes of group
  // "slow" until released.
  void RunCapped(bool by_destination) {
    options_.workers = 6;
    (by_destination ? options_.max_per_destination : options_.max_per_repo) = 2;
    (by_destination ? options_.max_per_repo : options_.max_per_destination) = 100;
    std::map<std::string, std::string> group;
    for (int i = 0; i < 9; ++i) {
      std::string name = absl::StrCat("app", i);
      std::string g = i < 6 ? "slow" : "fast";
      v1::Application app =
          MakeApp(name, by_destination ? kRepo : absl::StrCat("https://git.example.com/", g));
      if (by_destination) {
        app.mutable_spec()->mutable_destination()->mutable_kubernetes()->set_context(g);
      }
      Create(app);
      group[name] = g;
    }
    absl::Mutex mu;
    std::map<std::string, int> running, max_running;
    int total = 0, max_total = 0;
    bool hang = false;
    fakes_.apply->OnReadLive([&](const std::string& app) {
      const std::string& g = group[app];
      {
        absl::MutexLock lock(&mu);
        max_running[g] = std::max(max_running[g], ++running[g]);
        max_total = std::max(max_total, ++total);
      }
      absl::SleepFor(absl::Milliseconds(4));
      absl::MutexLock lock(&mu);
      auto released = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return !hang || g != "slow"; };
      mu.AwaitWithTimeout(absl::Condition(&released), absl::Seconds(30));
      --running[g];
      --total;
    });
    StartController();
    absl::Time end = absl::Now() + absl::Milliseconds(400);
    for (int i = 0; absl::Now() < end; ++i) {
      controller_->Enqueue(absl::StrCat("app", i % 9), "refresh");
      absl::SleepFor(absl::Microseconds(300));
    }
    ASSERT_TRUE(Idle());
    {
      absl::MutexLock lock(&mu);
      EXPECT_EQ(max_running["slow"], 2) << "the cap did not hold (or was never reached)";
      EXPECT_LE(max_running["fast"], 2);
      EXPECT_GE(max_total, 3) << "the other group did not run beside the capped one";
      hang = true;
    }
    // Every pass of "slow" hangs: its apps wait, "fast" apps are refreshed at once.
    for (int i = 0; i < 6; ++i) controller_->Enqueue(absl::StrCat("app", i), "refresh");
    ASSERT_TRUE(WaitUntil([&] {
      absl::MutexLock lock(&mu);
      return running["slow"] == 2;
    }));
    absl::Time asked = absl::Now();
    absl::Status refreshed = controller_->RefreshAndWait("app7", asked + absl::Seconds(5));
    EXPECT_TRUE(refreshed.ok()) << "hung passes of one group held up another: " << refreshed;
    {
      absl::MutexLock lock(&mu);
      EXPECT_EQ(running["slow"], 2);
      hang = false;
    }
    ASSERT_TRUE(Idle());
  }
};

TEST_F(CapTest, PassesOfOneRepositoryAreCapped) { RunCapped(/*by_destination=*/false); }

TEST_F(CapTest, PassesOfOneDestinationAreCapped) { RunCapped(/*by_destination=*/true); }

// 1,000 apps created in one go all get their first pass at once (status is useful at once); the
// pass after it must not come for all of them together again (±10% jitter kept them in one
// burst forever): each app's next pass is drawn over a whole interval, as after a start.
TEST_F(ControllerTest, BulkCreatedAppsSpreadTheirNextPassOverTheInterval) {
  options_.jitter = 0.1;
  const absl::Duration interval = absl::Hours(1);
  options_.default_interval = interval;
  StartController();
  constexpr int kApps = 200;
  for (int i = 0; i < kApps; ++i) {
    std::string name = absl::StrCat("bulk", i);
    Create(MakeApp(name));
    controller_->Enqueue(name, "spec");
  }
  ASSERT_TRUE(WaitUntil([&] { return fakes_.apply->read_live_calls() == kApps; }));
  ASSERT_TRUE(Idle());
  absl::Time now = absl::Now();
  std::vector<int> buckets(10, 0);  // tenths of the interval, from half an interval on
  for (int i = 0; i < kApps; ++i) {
    std::optional<absl::Time> next = controller_->NextPassAt(absl::StrCat("bulk", i));
    ASSERT_TRUE(next.has_value()) << "bulk" << i << " has no next pass";
    double phase = absl::FDivDuration(*next - now, interval);
    ASSERT_GE(phase, 0.45) << "bulk" << i << " next pass in " << (*next - now);
    ASSERT_LT(phase, 1.5) << "bulk" << i;
    buckets[std::clamp(static_cast<int>((phase - 0.5) * 10), 0, 9)]++;
  }
  std::string histogram = absl::StrJoin(buckets, " ");
  EXPECT_EQ(std::count(buckets.begin(), buckets.end(), 0), 0)
      << "the next passes bunch together: " << histogram;
  EXPECT_LE(*std::max_element(buckets.begin(), buckets.end()), kApps / 10 * 2) << histogram;
}

// One item coming due wakes one idle worker, not all of them (each wakeup is CPU, and with
// 1,000 apps a minute a wake-all queue woke every worker ~17 times a second).
TEST(WorkQueueWakeTest, OneDueItemWakesOneWorker) {
  WorkQueue queue;
  absl::Mutex mu;
  std::vector<std::string> got;
  std::vector<std::thread> workers;
  for (int i = 0; i < 8; ++i) {
    workers.emplace_back([&] {
      while (std::optional<std::string> key = queue.Get()) {
        {
          absl::MutexLock lock(&mu);
          got.push_back(*key);
        }
        queue.Done(*key);
      }
    });
  }
  auto taken = [&] {
    absl::MutexLock lock(&mu);
    return got.size();
  };
  absl::SleepFor(absl::Milliseconds(100));  // every worker now waits
  uint64_t before = queue.Wakeups();
  queue.Add("ready", WorkPriority::kHigh);
  ASSERT_TRUE(WaitUntil([&] { return taken() == 1; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_LE(queue.Wakeups() - before, 1u) << "a ready item woke more than one worker";

  before = queue.Wakeups();
  queue.Add("delayed", WorkPriority::kLow, absl::Now() + absl::Milliseconds(30));
  ASSERT_TRUE(WaitUntil([&] { return taken() == 2; }));
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_LE(queue.Wakeups() - before, 1u) << "a delayed item coming due woke more than one worker";
  queue.ShutDown();
  for (std::thread& worker : workers) worker.join();
}

// The queue under the drift and after-sync triggers: an item added with a delay shorter than
// what a waiting worker sleeps for (up to a second) must wake it at its time.
TEST(WorkQueueWakeTest, AnEarlierDelayedAddWakesAWaitingWorker) {
  WorkQueue queue;
  queue.Add("interval", WorkPriority::kLow, absl::Now() + absl::Hours(1));
  std::optional<std::string> got;
  absl::Time got_at;
  std::thread worker([&] {
    got = queue.Get();
    got_at = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(50));  // the worker now waits for the hour-long item
  absl::Time added = absl::Now();
  queue.Add("drift", WorkPriority::kNormal, added + absl::Milliseconds(20));
  worker.join();
  EXPECT_EQ(got, "drift");
  EXPECT_GE(got_at - added, absl::Milliseconds(19));
  EXPECT_LT(got_at - added, absl::Milliseconds(300)) << "woke late: " << (got_at - added);
  queue.ShutDown();
}

}  // namespace
}  // namespace todoke::orchestrator

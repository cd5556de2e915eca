// `todoke app ...` over real gRPC, against a test double of the orchestrator on a loopback port:
// what each command prints (table, JSON, YAML), its exit code, and what it sends.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "cli/cli.h"
#include "common/json_parse.h"
#include "common/object.h"
#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cli/fake_orchestrator.h"

namespace todoke::cli {
namespace {

using ::testing::AllOf;
using ::testing::Contains;
using ::testing::Each;
using ::testing::ElementsAre;
using testing::FakeOrchestrator;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::MakeApplication;
using ::testing::Not;
using ::testing::StartsWith;
namespace orch = ::todoke::orchestrator::v1;
namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

types::v1::ObjectKey Key(const std::string& group, const std::string& kind, const std::string& ns,
                         const std::string& name) {
  types::v1::ObjectKey key;
  key.set_group(group);
  key.set_version("v1");
  key.set_kind(kind);
  key.set_namespace_(ns);
  key.set_name(name);
  return key;
}

class AppCommandsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    unsetenv("TODOKE_SERVER");
    unsetenv("TODOKE_TOKEN");
    orch::Application web = MakeApplication("web", types::v1::SYNC_STATUS_OUT_OF_SYNC,
                                            types::v1::HEALTH_STATUS_PROGRESSING);
    (*web.mutable_labels())["team"] = "shop";
    orch::Condition* condition = web.mutable_status()->add_conditions();
    condition->set_type("RenderFailed");
    condition->set_message("overlays/prod/kustomization.yaml:3:1: bad indentation");
    orch::ResourceStatus* resource = web.mutable_status()->add_resources();
    *resource->mutable_key() = Key("apps", "Deployment", "web", "frontend");
    resource->set_sync(types::v1::SYNC_STATUS_OUT_OF_SYNC);
    resource->set_health(types::v1::HEALTH_STATUS_PROGRESSING);
    resource->set_message("1 of 3 replicas updated");
    fake_.AddApplication(web);
    fake_.AddApplication(
        MakeApplication("api", types::v1::SYNC_STATUS_SYNCED, types::v1::HEALTH_STATUS_HEALTHY));
  }

  // Runs the CLI in-process against the fake (--server first, the rest as given).
  Result Cli(std::vector<std::string> args, Terminal terminal = {}) {
    args.insert(args.begin(), "--server=" + fake_.address());
    std::ostringstream out, err;
    Result result;
    result.exit_code = cli::Run(std::move(args), out, err, terminal);
    result.out = out.str();
    result.err = err.str();
    return result;
  }

  FakeOrchestrator fake_;
};

Json ParsedJson(const std::string& text) {
  absl::StatusOr<Json> parsed = ParseJson(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  return parsed.ok() ? *parsed : Json();
}

Json ParsedYaml(const std::string& text) {
  absl::StatusOr<Json> parsed = ParseYaml(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  return parsed.ok() ? *parsed : Json();
}

TEST_F(AppCommandsTest, ListPrintsATableFollowingEveryPage) {
  fake_.AddApplication(MakeApplication("zeta", types::v1::SYNC_STATUS_UNSPECIFIED,
                                       types::v1::HEALTH_STATUS_UNSPECIFIED));
  fake_.SetPageSize(2);  // three apps: two pages
  const Result result = Cli({"app", "list"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 4u) << result.out;
  EXPECT_THAT(lines[0], ::testing::MatchesRegex("NAME +SYNC +HEALTH +REVISION +AGE"));
  EXPECT_THAT(lines[1], ::testing::MatchesRegex("api +Synced +Healthy +0123456 +5m"));
  EXPECT_THAT(lines[2], ::testing::MatchesRegex("web +OutOfSync +Progressing +0123456 +5m"));
  EXPECT_THAT(lines[3], ::testing::MatchesRegex("zeta +Unknown +Unknown +0123456 +5m"));
  // Columns line up.
  EXPECT_EQ(lines[0].find("SYNC"), lines[2].find("OutOfSync"));
  EXPECT_EQ(fake_.lists().size(), 2u);
}

TEST_F(AppCommandsTest, ListAsJsonAndYamlIsAListOfApplyableApplications) {
  Result result = Cli({"app", "list", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  Json list = ParsedJson(result.out);
  EXPECT_EQ(list["kind"], "List");
  ASSERT_EQ(list["items"].size(), 2u);
  EXPECT_EQ(list["items"][1]["apiVersion"], "todoke.dev/v1alpha1");
  EXPECT_EQ(list["items"][1]["kind"], "Application");
  EXPECT_EQ(list["items"][1]["metadata"]["name"], "web");
  EXPECT_EQ(list["items"][1]["spec"]["source"]["repoURL"], "https://git.example.com/org/apps.git");
  EXPECT_EQ(list["items"][1]["status"]["sync"], "OutOfSync");

  result = Cli({"-o", "yaml", "app", "list"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ParsedYaml(result.out), list);
}

TEST_F(AppCommandsTest, ListSendsTheSelectorAndRefusesABadOne) {
  Result result = Cli({"app", "list", "-l", "team=shop,tier!=db"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(fake_.lists().size(), 1u);
  EXPECT_EQ(fake_.lists()[0].label_selector(), "team=shop,tier!=db");

  result = Cli({"app", "list", "-l", "team in shop"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("team in shop"));
  EXPECT_EQ(fake_.lists().size(), 1u);  // nothing sent
}

TEST_F(AppCommandsTest, GetShowsSpecStatusConditionsAndResources) {
  const Result result = Cli({"app", "get", "web"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("Name:"));
  EXPECT_THAT(result.out, HasSubstr("Labels:        team=shop"));
  EXPECT_THAT(
      result.out,
      HasSubstr("Source:        https://git.example.com/org/apps.git, path web, revision main"));
  EXPECT_THAT(result.out, HasSubstr("Destination:   kubernetes, context (current), namespace web"));
  EXPECT_THAT(result.out, HasSubstr("Sync status:   OutOfSync at 0123456"));
  EXPECT_THAT(result.out, HasSubstr("Health:        Progressing"));
  EXPECT_THAT(result.out,
              ::testing::ContainsRegex("CONDITION +MESSAGE +AGE\nRenderFailed +overlays/prod/"
                                       "kustomization.yaml:3:1: bad indentation +-\n"));
  EXPECT_THAT(result.out,
              ::testing::ContainsRegex("KIND +NAMESPACE +NAME +SYNC +HEALTH +MESSAGE\napps/"
                                       "Deployment +web +frontend +OutOfSync +Progressing +1 of 3 "
                                       "replicas updated\n"));
}

TEST_F(AppCommandsTest, GetAsYamlCanBeAppliedAgain) {
  const Result result = Cli({"app", "get", "web", "-o", "yaml"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json app = ParsedYaml(result.out);
  EXPECT_EQ(app["kind"], "Application");
  EXPECT_EQ(app["metadata"]["labels"]["team"], "shop");
  EXPECT_EQ(app["status"]["conditions"][0]["type"], "RenderFailed");
  EXPECT_EQ(app["status"]["resources"][0]["kind"], "Deployment");

  const Result json = Cli({"app", "get", "web", "-o", "json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(ParsedJson(json.out), app);
}

TEST_F(AppCommandsTest, UnknownApplicationSaysWhereToLook) {
  for (const std::string verb : {"get", "sync", "refresh", "history", "suspend", "delete"}) {
    const Result result = Cli({"app", verb, "nope"});
    EXPECT_EQ(result.exit_code, 1) << verb;
    EXPECT_EQ(result.err, "todoke: application \"nope\" not found (todoke app list)\n") << verb;
  }
}

TEST_F(AppCommandsTest, InvalidNamesAreRefusedBeforeAnyCall) {
  for (const std::string& name : std::vector<std::string>{"Web", "web_1", "-web", "web-",
                                                          std::string(64, 'a'), "caf\xC3\xA9"}) {
    const Result result = Cli({"app", "get", "--", name});  // "--": "-web" is not a flag
    EXPECT_EQ(result.exit_code, 2) << name;
    EXPECT_THAT(result.err, HasSubstr("is not a valid application name")) << name;
  }
  EXPECT_EQ(Cli({"app", "get", std::string(63, 'a')}).exit_code, 1);  // valid; not found
  EXPECT_THAT(fake_.methods_called(), ElementsAre("GetApplication"));
}

TEST_F(AppCommandsTest, DiffExitsZeroInSyncOneDifferentTwoOnErrors) {
  differ::v1::DiffResponse diff;
  differ::v1::ObjectDiff* same = diff.add_objects();
  *same->mutable_key() = Key("", "ConfigMap", "web", "config");
  same->set_status(types::v1::SYNC_STATUS_SYNCED);
  diff.mutable_summary()->set_status(types::v1::SYNC_STATUS_SYNCED);
  fake_.SetDiff(diff);
  Result result = Cli({"app", "diff", "web"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");

  differ::v1::ObjectDiff* changed = diff.add_objects();
  *changed->mutable_key() = Key("apps", "Deployment", "web", "frontend");
  changed->set_status(types::v1::SYNC_STATUS_OUT_OF_SYNC);
  changed->set_unified_diff(
      "--- live/apps.v1.Deployment.web.frontend\n+++ desired/apps.v1.Deployment.web.frontend\n"
      "@@ -1,1 +1,1 @@\n-  replicas: 2\n+  replicas: 3\n");
  diff.mutable_summary()->set_status(types::v1::SYNC_STATUS_OUT_OF_SYNC);
  fake_.SetDiff(diff);
  result = Cli({"app", "diff", "web"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(result.out, changed->unified_diff());

  result = Cli({"app", "diff", "web", "-o", "json"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  const Json json = ParsedJson(result.out);
  ASSERT_EQ(json["objects"].size(), 2u);
  EXPECT_EQ(json["objects"][1]["kind"], "Deployment");
  EXPECT_EQ(json["objects"][1]["status"], "OutOfSync");
  EXPECT_EQ(json["objects"][1]["unifiedDiff"], changed->unified_diff());
  EXPECT_EQ(json["summary"]["status"], "OutOfSync");
  result = Cli({"app", "diff", "web", "-o", "yaml"});
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_EQ(ParsedYaml(result.out), json);

  differ::v1::ObjectDiff* broken = diff.add_objects();
  *broken->mutable_key() = Key("", "Service", "web", "frontend");
  broken->set_status(types::v1::SYNC_STATUS_UNKNOWN);
  broken->set_error("spec.ports[0].port: not a number");
  fake_.SetDiff(diff);
  result = Cli({"app", "diff", "web"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.out,
              HasSubstr("# Service web/frontend: could not be compared: spec.ports[0].port"));
  EXPECT_THAT(result.err, HasSubstr("1 object of \"web\" could not be compared"));

  EXPECT_EQ(Cli({"app", "diff", "nope"}).exit_code, 2);
  EXPECT_EQ(Cli({"app", "diff"}).exit_code, 2);
  EXPECT_EQ(Cli({"app", "diff", "web", "--bogus"}).exit_code, 2);
}

TEST_F(AppCommandsTest, SyncSendsEveryFlag) {
  Result result = Cli({"app", "sync", "web", "--prune", "--dry-run"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("sync of \"web\" started: operation #1"));
  EXPECT_THAT(result.out, HasSubstr("(dry run, prune)"));
  ASSERT_EQ(fake_.syncs().size(), 1u);
  EXPECT_TRUE(fake_.syncs()[0].prune());
  EXPECT_TRUE(fake_.syncs()[0].dry_run());
  EXPECT_FALSE(fake_.syncs()[0].force());
  EXPECT_EQ(fake_.syncs()[0].revision(), "");

  result = Cli({"app", "sync", "--force-conflicts", "web", "--revision=v1.2.0"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(fake_.syncs().size(), 2u);
  EXPECT_FALSE(fake_.syncs()[1].prune());
  EXPECT_FALSE(fake_.syncs()[1].dry_run());
  EXPECT_TRUE(fake_.syncs()[1].force());
  EXPECT_EQ(fake_.syncs()[1].revision(), "v1.2.0");

  result = Cli({"app", "sync", "web", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ParsedJson(result.out)["id"], 3);
}

std::vector<orch::ResourceStatus> ThreeObjects(bool fail_last) {
  std::vector<orch::ResourceStatus> objects(3);
  *objects[0].mutable_key() = Key("", "ConfigMap", "web", "config");
  objects[0].set_action("created");
  *objects[1].mutable_key() = Key("apps", "Deployment", "web", "frontend");
  objects[1].set_action("configured");
  *objects[2].mutable_key() = Key("", "Service", "web", "frontend");
  objects[2].set_action(fail_last ? "failed" : "unchanged");
  if (fail_last) objects[2].set_message("spec.clusterIP: field is immutable");
  return objects;
}

TEST_F(AppCommandsTest, SyncWaitPrintsEachObjectThenASummary) {
  fake_.SetSyncOutcome(ThreeObjects(false), orch::OPERATION_PHASE_SUCCEEDED, "");
  const Result result = Cli({"app", "sync", "web", "--wait", "--timeout", "20s"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("  ConfigMap web/config: created\n"
                                    "  apps/Deployment web/frontend: configured\n"
                                    "  Service web/frontend: unchanged\n"));
  EXPECT_THAT(result.out,
              HasSubstr("sync #1 of \"web\" Succeeded in 2s at 0123456: 3 objects (1 configured, "
                        "1 created, 1 unchanged)\n"));
  // The watch was registered before the sync was asked for.
  const std::vector<std::string> methods = fake_.methods_called();
  ASSERT_THAT(methods, Contains("Sync"));
  EXPECT_LT(std::find(methods.begin(), methods.end(), "Watch") - methods.begin(),
            std::find(methods.begin(), methods.end(), "Sync") - methods.begin());
}

TEST_F(AppCommandsTest, SyncWaitExitsOneWhenTheSyncFails) {
  fake_.SetSyncOutcome(ThreeObjects(true), orch::OPERATION_PHASE_FAILED, "1 object failed");
  Result result = Cli({"app", "sync", "web", "--wait"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.out, HasSubstr("  Service web/frontend: failed\n"));
  EXPECT_THAT(result.out, HasSubstr("sync #1 of \"web\" Failed"));
  EXPECT_THAT(result.out, HasSubstr("; 1 object failed\n"));
  EXPECT_THAT(result.out,
              HasSubstr("  failed: Service web/frontend: spec.clusterIP: field is immutable\n"));

  result = Cli({"app", "sync", "web", "--wait", "-o", "yaml"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(ParsedYaml(result.out)["phase"], "Failed");
}

TEST_F(AppCommandsTest, SyncTimeoutWithoutWaitIsAUsageError) {
  const Result result = Cli({"app", "sync", "web", "--timeout", "1m"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("--timeout bounds --wait"));
  EXPECT_THAT(fake_.syncs(), IsEmpty());
}

TEST_F(AppCommandsTest, BearerTokenGoesWithEveryCall) {
  Result result = Cli({"app", "get", "web", "--token", "s3cret"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  fake_.SetSyncOutcome({}, orch::OPERATION_PHASE_SUCCEEDED, "");
  setenv("TODOKE_TOKEN", "from-env", 1);
  result = Cli({"app", "sync", "web", "--wait"});  // Watch, Sync, GetApplication, History
  unsetenv("TODOKE_TOKEN");
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::vector<std::string> authorizations = fake_.authorizations();
  ASSERT_GE(authorizations.size(), 5u);
  EXPECT_EQ(authorizations[0], "Bearer s3cret");
  EXPECT_THAT(std::vector<std::string>(authorizations.begin() + 1, authorizations.end()),
              Each("Bearer from-env"));

  EXPECT_EQ(Cli({"app", "get", "web"}).exit_code, 0);
  EXPECT_EQ(fake_.authorizations().back(), "");  // none without a token
}

TEST_F(AppCommandsTest, RefusedTokenSaysHowToPassOne) {
  fake_.RequireToken("right");
  Result result = Cli({"app", "list"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("wants a token: pass --token or set TODOKE_TOKEN"));
  result = Cli({"app", "list", "--token=wrong"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("refused the token: check --token / TODOKE_TOKEN"));
  EXPECT_EQ(Cli({"app", "list", "--token=right"}).exit_code, 0);
  // A token that cannot travel in a header is refused before any call.
  result = Cli({"app", "list", "--token=a\nb"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("line break"));
}

TEST_F(AppCommandsTest, CascadeDeleteAsksFirst) {
  std::istringstream no_input;
  // No terminal and no --yes: refused, nothing sent.
  Result result = Cli({"app", "delete", "web", "--cascade"}, Terminal{&no_input, false});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_THAT(result.err, HasSubstr("pass --yes to confirm"));
  EXPECT_THAT(fake_.deletes(), IsEmpty());

  // A terminal: the answer decides.
  std::istringstream refuse("n\n");
  result = Cli({"app", "delete", "web", "--cascade"}, Terminal{&refuse, true});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("and prune every object it manages? [y/N]"));
  EXPECT_THAT(fake_.deletes(), IsEmpty());
  std::istringstream accept("y\n");
  result = Cli({"app", "delete", "web", "--cascade"}, Terminal{&accept, true});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(fake_.deletes().size(), 1u);
  EXPECT_TRUE(fake_.deletes()[0].cascade());
  EXPECT_EQ(result.out, "application \"web\" deleted with the objects it managed\n");

  // --yes needs no terminal; without --cascade nothing is asked.
  result = Cli({"app", "delete", "--yes", "--cascade", "api"}, Terminal{&no_input, false});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  fake_.AddApplication(
      MakeApplication("web", types::v1::SYNC_STATUS_SYNCED, types::v1::HEALTH_STATUS_HEALTHY));
  result = Cli({"app", "delete", "web"}, Terminal{&no_input, false});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "application \"web\" deleted; its objects were left in place\n");
  ASSERT_EQ(fake_.deletes().size(), 3u);
  EXPECT_TRUE(fake_.deletes()[1].cascade());
  EXPECT_FALSE(fake_.deletes()[2].cascade());
}

TEST_F(AppCommandsTest, WaitEndsWhenTheApplicationGetsThere) {
  Result result = Cli({"app", "wait", "api"});  // already Synced and Healthy
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "application \"api\" is Synced and Healthy\n");

  std::thread later([this] {
    absl::SleepFor(absl::Milliseconds(200));
    fake_.SetStatus("web", types::v1::SYNC_STATUS_SYNCED, types::v1::HEALTH_STATUS_PROGRESSING);
  });
  result = Cli({"app", "wait", "web", "--sync", "--timeout=20s"});
  later.join();
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "application \"web\" is Synced and Progressing\n");
}

TEST_F(AppCommandsTest, WaitTimesOutWithExitOne) {
  const Result result = Cli({"app", "wait", "web", "--health", "--timeout", "300ms"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("timed out after 300ms waiting for \"web\" to be Healthy: "
                                    "health is Progressing"));
  EXPECT_EQ(Cli({"app", "wait", "web", "--timeout", "soon"}).exit_code, 2);
}

TEST_F(AppCommandsTest, WatchPrintsEvents) {
  orch::Event event;
  event.mutable_time()->set_seconds(1700000000);
  event.set_app_name("web");
  event.set_type("Normal");
  event.set_reason("ObjectApplied");
  *event.mutable_key() = Key("apps", "Deployment", "web", "frontend");
  event.set_message("configured");
  orch::Event other = event;
  other.set_app_name("api");
  fake_.SetInitialWatchEvents({event, other});
  fake_.SetCloseIdleWatches(true);

  Result result = Cli({"app", "watch"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out,
            "2023-11-14T22:13:20Z  web  Normal  ObjectApplied  apps/Deployment web/frontend: "
            "configured\n"
            "2023-11-14T22:13:20Z  api  Normal  ObjectApplied  apps/Deployment web/frontend: "
            "configured\n");
  // Once registered (the orchestrator's Ready), stderr says so: a script that runs the watch in
  // the background waits for this line, and no event after it is missed.
  EXPECT_EQ(result.err, "watching events of every application\n");

  result = Cli({"app", "watch", "web", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.err, "watching events of application \"web\"\n");
  const std::vector<std::string> lines = absl::StrSplit(result.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 1u) << result.out;
  EXPECT_EQ(ParsedJson(lines[0]), ParsedJson(R"({"time": "2023-11-14T22:13:20Z", "app": "web",
      "type": "Normal", "reason": "ObjectApplied", "message": "configured",
      "object": {"group": "apps", "version": "v1", "kind": "Deployment", "namespace": "web",
                 "name": "frontend"}})"));
}

TEST_F(AppCommandsTest, HistoryRollbackSuspendResumeRefreshTerminate) {
  fake_.SetSyncOutcome(ThreeObjects(false), orch::OPERATION_PHASE_SUCCEEDED, "");
  ASSERT_EQ(Cli({"app", "sync", "web"}).exit_code, 0);

  Result result = Cli({"app", "history", "web"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, ::testing::ContainsRegex(
                              "ID +REVISION +PHASE +STARTED +DURATION +BY +MESSAGE\n1 +0123456 "
                              "+Succeeded +[0-9]+s ago +2s +user"));
  result = Cli({"app", "history", "web", "-o", "json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(ParsedJson(result.out)[0]["operation"]["phase"], "Succeeded");

  result = Cli({"app", "rollback", "web", "1"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, HasSubstr("rollback of \"web\" to history entry 1 started"));
  EXPECT_THAT(result.out, HasSubstr("automated sync of \"web\" is now off"));
  result = Cli({"app", "rollback", "web", "7"});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("history entry 7 of web not found (todoke app history web"));
  EXPECT_EQ(Cli({"app", "rollback", "web", "seven"}).exit_code, 2);
  EXPECT_EQ(Cli({"app", "rollback", "web"}).exit_code, 2);

  result = Cli({"app", "suspend", "web"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fake_.Application("web").spec().suspend());
  result = Cli({"app", "get", "web"});
  EXPECT_THAT(result.out, HasSubstr("Suspended:     yes"));
  result = Cli({"app", "resume", "web", "-o", "yaml"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(fake_.Application("web").spec().suspend());
  EXPECT_EQ(ParsedYaml(result.out)["metadata"]["name"], "web");

  result = Cli({"app", "refresh", "web"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(result.out, StartsWith("application \"web\" refreshed: OutOfSync, Progressing, at "
                                     "0123456\n  RenderFailed: "));

  result = Cli({"app", "terminate-op", "web"});  // the sync is over
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.err, "todoke: no operation of web is running\n");
}

TEST_F(AppCommandsTest, CreateAndApplyEveryDocumentOfAFile) {
  const fs::path file = fs::path(::testing::TempDir()) / "cli_apps.yaml";
  std::ofstream(file) << R"(apiVersion: todoke.dev/v1alpha1
kind: Application
metadata: {name: shop, labels: {team: shop}}
spec:
  source: {repoURL: "https://git.example.com/org/apps.git", targetRevision: main, path: shop}
  destination:
    kubernetes: {namespace: shop}
  syncPolicy:
    automated: {prune: true, selfHeal: true}
    interval: 1m
---
apiVersion: todoke.dev/v1alpha1
kind: Application
metadata: {name: blog}
spec:
  source: {repoURL: "https://git.example.com/org/apps.git", path: blog}
  destination:
    git: {repoURL: /srv/git/rendered.git, branch: rendered, path: blog}
)";
  Result result = Cli({"app", "create", "-f", file.string()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "application \"shop\" created\napplication \"blog\" created\n");
  ASSERT_EQ(fake_.creates().size(), 2u);
  const orch::CreateApplicationRequest shop = fake_.creates()[0];
  EXPECT_FALSE(shop.upsert());
  EXPECT_EQ(shop.application().name(), "shop");
  EXPECT_EQ(shop.application().labels().at("team"), "shop");
  EXPECT_TRUE(shop.application().spec().sync_policy().automated());
  EXPECT_TRUE(shop.application().spec().sync_policy().self_heal());
  EXPECT_EQ(shop.application().spec().sync_policy().interval().seconds(), 60);
  EXPECT_EQ(fake_.creates()[1].application().spec().destination().git().branch(), "rendered");

  // Again: they exist now.
  result = Cli({"app", "create", "-f", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("application \"shop\" already exists: todoke app apply -f "
                                    "FILE updates it"));

  // apply upserts; "-" reads standard input.
  std::ifstream text(file);
  result = Cli({"app", "apply", "-f", "-", "-o", "json"}, Terminal{&text, false});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const Json applied = ParsedJson(result.out);
  EXPECT_EQ(applied["kind"], "List");
  EXPECT_EQ(applied["items"][0]["metadata"]["generation"], 2);
  EXPECT_TRUE(fake_.creates().back().upsert());
}

TEST_F(AppCommandsTest, AnInvalidFileSendsNothing) {
  const fs::path file = fs::path(::testing::TempDir()) / "cli_bad_apps.yaml";
  std::ofstream(file) << R"(apiVersion: todoke.dev/v1alpha1
kind: Application
metadata: {name: fine}
spec:
  source: {repoURL: "https://git.example.com/org/apps.git"}
  destination: {kubernetes: {}}
---
apiVersion: todoke.dev/v1alpha1
kind: Application
metadata: {name: broken}
spec:
  destination: {kubernetes: {}}
)";
  Result result = Cli({"app", "apply", "-f", file.string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("cli_bad_apps.yaml: document 2"));
  EXPECT_THAT(result.err, HasSubstr("spec.source.repoURL: required"));
  EXPECT_THAT(fake_.creates(), IsEmpty());

  result = Cli({"app", "apply", "-f", (fs::path(::testing::TempDir()) / "missing.yaml").string()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_THAT(result.err, HasSubstr("missing.yaml"));
  EXPECT_EQ(Cli({"app", "apply"}).exit_code, 2);  // -f is required
}

TEST_F(AppCommandsTest, GlobalOptionsStandAnywhere) {
  std::ostringstream out, err;
  const int code =
      cli::Run({"app", "--server", fake_.address(), "get", "-o", "yaml", "web", "--timeout=5s"},
               out, err, Terminal{});
  ASSERT_EQ(code, 0) << err.str();
  EXPECT_EQ(ParsedYaml(out.str())["metadata"]["name"], "web");

  setenv("TODOKE_SERVER", fake_.address().c_str(), 1);
  std::ostringstream env_out, env_err;
  EXPECT_EQ(cli::Run({"app", "list"}, env_out, env_err, Terminal{}), 0) << env_err.str();
  unsetenv("TODOKE_SERVER");
}

}  // namespace
}  // namespace todoke::cli

// The `todoke` command line against the REAL orchestrator: the built `todoke` binary run as a
// user runs it (standard input not a terminal), talking to the five services as processes
// (tests/integration/todoke_suite.h) with a real source repository and a Git destination. What a
// user relies on, command by command: what it prints and its exit code.
//   app apply -f (every document), app list (table, -l selector, empty list), app get (table,
//   -o json, -o yaml), app diff (exit 0 in sync, 1 different, 2 and above for errors, the
//   unified diff of a pushed change), app sync --wait (a line per object and a summary),
//   app history, app rollback (and automation off), app wait (success, and the timeout message),
//   app delete --cascade without --yes refused, app delete, an unknown flag, an unreachable
//   orchestrator.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/json_parse.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/integration/todoke_suite.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::testing {
namespace {

using ::todoke::test_files::ReadFile;
using ::todoke::test_files::WriteFile;

namespace v1 = orchestrator::v1;
using source_fetcher::testing::Sh;
using source_fetcher::testing::TempDir;
using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

constexpr absl::Duration kConverge = absl::Seconds(60);

// The lines of `text` that contain `part`.
std::vector<std::string> LinesWith(const std::string& text, absl::string_view part) {
  std::vector<std::string> lines;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (absl::StrContains(line, part)) lines.emplace_back(line);
  }
  return lines;
}

// The whitespace-separated words of `line`.
std::vector<std::string> Words(absl::string_view line) {
  return absl::StrSplit(line, ' ', absl::SkipEmpty());
}

class CliServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_ = temp_.path() + "/src";
    hydrated_ = temp_.path() + "/hydrated.git";
    ASSERT_TRUE(
        Sh("git init -q -b main src && git init -q --bare -b main hydrated.git", temp_.path())
            .ok());
    ASSERT_TRUE(
        Sh("mkdir -p guestbook && git config user.email t@t && git config user.name t", src_).ok());
    WriteFile(src_ + "/guestbook/kustomization.yaml",
              "namespace: guestbook\nresources: [configmap.yaml, deployment.yaml]\n");
    WriteConfigMap("blue");
    WriteFile(src_ + "/guestbook/deployment.yaml",
              "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\nspec:\n"
              "  selector: {matchLabels: {app: web}}\n  template:\n"
              "    metadata: {labels: {app: web}}\n"
              "    spec: {containers: [{name: web, image: 'nginx:1.25'}]}\n");
    first_commit_ = Commit("guestbook blue");
    auto suite = TodokeSuite::Start(temp_.path(), {{"--default-interval=1h"}});
    ASSERT_TRUE(suite.ok()) << suite.status();
    suite_ = *std::move(suite);
    server_ = "--server=" + suite_->address("orchestrator");
  }

  void WriteConfigMap(const std::string& color) {
    WriteFile(src_ + "/guestbook/configmap.yaml",
              "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: " +
                  color + "}\n");
  }

  std::string Commit(const std::string& message) {
    auto head = Sh(
        absl::StrCat("git add -A && git commit -q -m '", message, "' && git rev-parse HEAD"), src_);
    EXPECT_TRUE(head.ok()) << head.status();
    return head.ok() ? std::string(absl::StripAsciiWhitespace(*head)) : "";
  }

  // The Applications file a user writes: a manual app with a label, and a second one.
  std::string WriteApplications() {
    const std::string path = temp_.path() + "/apps.yaml";
    std::string text;
    for (const char* name : {"guestbook", "second"}) {
      absl::StrAppend(
          &text, text.empty() ? "" : "---\n",
          "apiVersion: todoke.dev/v1alpha1\nkind: Application\nmetadata:\n  name: ", name,
          "\n  labels: {team: ", std::string(name) == "guestbook" ? "web" : "db",
          "}\nspec:\n  source: {repoURL: ", src_,
          ", targetRevision: main, path: guestbook}\n  destination:\n    git: {repoURL: ",
          hydrated_, ", branch: rendered, path: ", name, "}\n  syncPolicy:\n    interval: 1h\n");
    }
    WriteFile(path, text);
    return path;
  }

  CliResult Todoke(std::vector<std::string> args) {
    args.insert(args.begin(), server_);
    return RunTodoke(temp_.path(), args);
  }

  std::string HydratedFile(const std::string& path) {
    auto text = Sh("git show rendered:" + path + " 2>/dev/null || true", hydrated_);
    return text.ok() ? *text : "";
  }

  TempDir temp_;
  std::string src_;
  std::string hydrated_;
  std::string first_commit_;
  std::string server_;
  std::unique_ptr<TodokeSuite> suite_;
};

TEST_F(CliServerTest, EveryAppCommandAgainstTheRealOrchestrator) {
  const std::string short_first = first_commit_.substr(0, 7);

  // An empty installation: no table, a hint on stderr, success.
  CliResult empty = Todoke({"app", "list"});
  EXPECT_EQ(empty.exit_code, 0) << empty;
  EXPECT_THAT(empty.out, IsEmpty()) << empty;
  EXPECT_THAT(empty.err, HasSubstr("No applications found (todoke app create -f FILE adds one)"));

  // apply -f: every document of the file, one line each.
  const std::string file = WriteApplications();
  CliResult applied = Todoke({"app", "apply", "-f", file});
  ASSERT_EQ(applied.exit_code, 0) << applied;
  EXPECT_EQ(applied.out,
            "application \"guestbook\" applied (generation 1)\n"
            "application \"second\" applied (generation 1)\n")
      << applied;
  // Applying the same file again changes nothing.
  CliResult again = Todoke({"app", "apply", "-f", file});
  EXPECT_EQ(again.exit_code, 0) << again;
  EXPECT_THAT(again.out, HasSubstr("application \"guestbook\" applied (generation 1)")) << again;
  for (const char* name : {"guestbook", "second"}) {
    ASSERT_TRUE(
        suite_
            ->WaitFor(
                name,
                [&](const v1::Application& a) { return a.status().revision() == first_commit_; },
                kConverge)
            .ok())
        << name;
  }

  // list: the table, and the selector.
  CliResult list = Todoke({"app", "list"});
  ASSERT_EQ(list.exit_code, 0) << list;
  std::vector<std::string> lines = absl::StrSplit(list.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(lines.size(), 3u) << list;
  EXPECT_EQ(Words(lines[0]),
            (std::vector<std::string>{"NAME", "SYNC", "HEALTH", "REVISION", "AGE"}));
  std::vector<std::string> row = Words(LinesWith(list.out, "guestbook").at(0));
  ASSERT_EQ(row.size(), 5u) << list;
  EXPECT_EQ(row[1], "OutOfSync") << "never synced: the branch lacks the objects";
  EXPECT_EQ(row[2], "Missing");
  EXPECT_EQ(row[3], short_first);
  CliResult selected = Todoke({"app", "list", "-l", "team=web"});
  EXPECT_EQ(selected.exit_code, 0) << selected;
  EXPECT_EQ(LinesWith(selected.out, "guestbook").size(), 1u) << selected;
  EXPECT_THAT(selected.out, Not(HasSubstr("second"))) << selected;
  CliResult none = Todoke({"app", "list", "-l", "team=nobody"});
  EXPECT_EQ(none.exit_code, 0) << none;
  EXPECT_THAT(none.err, HasSubstr("No applications found matching team=nobody")) << none;
  CliResult list_json = Todoke({"app", "list", "-o", "json"});
  ASSERT_EQ(list_json.exit_code, 0) << list_json;
  absl::StatusOr<Json> listed = ParseJson(list_json.out);
  ASSERT_TRUE(listed.ok()) << list_json;
  EXPECT_EQ((*listed)["kind"], "List");
  EXPECT_EQ((*listed)["items"].size(), 2u);

  // diff of an app never synced: different (exit 1), naming the objects.
  CliResult different = Todoke({"app", "diff", "guestbook"});
  EXPECT_EQ(different.exit_code, 1) << different;
  EXPECT_THAT(different.out, HasSubstr("settings")) << different;
  EXPECT_THAT(different.out, HasSubstr("web")) << different;

  // sync --wait: the start, a line per object, a summary; exit 0.
  CliResult sync = Todoke({"app", "sync", "guestbook", "--wait", "--timeout", "60s"});
  ASSERT_EQ(sync.exit_code, 0) << sync;
  EXPECT_THAT(sync.out, HasSubstr("sync of \"guestbook\" started: operation #")) << sync;
  EXPECT_THAT(sync.out, HasSubstr("  ConfigMap guestbook/settings: created")) << sync;
  EXPECT_THAT(sync.out, HasSubstr("  apps/Deployment guestbook/web: created")) << sync;
  EXPECT_THAT(sync.out, ContainsRegex("sync #[0-9]+ of \"guestbook\" Succeeded in [0-9.]+m?s at " +
                                      short_first + ": 2 objects \\(2 created\\)"))
      << sync;
  EXPECT_THAT(HydratedFile("guestbook/guestbook/core.configmap.settings.yaml"),
              HasSubstr("color: blue"));

  // diff in sync: exit 0, nothing printed.
  ASSERT_TRUE(suite_
                  ->WaitFor(
                      "guestbook",
                      [&](const v1::Application& a) {
                        return a.status().sync() == types::v1::SYNC_STATUS_SYNCED;
                      },
                      kConverge)
                  .ok());
  CliResult same = Todoke({"app", "diff", "guestbook"});
  EXPECT_EQ(same.exit_code, 0) << same;
  EXPECT_THAT(same.out, IsEmpty()) << same;
  // diff errors: 2 and above (an unknown app, a bad name).
  CliResult missing_app = Todoke({"app", "diff", "nope"});
  EXPECT_GE(missing_app.exit_code, 2) << missing_app;
  EXPECT_THAT(missing_app.err, HasSubstr("nope")) << missing_app;
  CliResult bad_name = Todoke({"app", "diff", "Not_A_Name"});
  EXPECT_GE(bad_name.exit_code, 2) << bad_name;

  // get: the table a user reads, then JSON and YAML a script reads.
  CliResult get = Todoke({"app", "get", "guestbook"});
  ASSERT_EQ(get.exit_code, 0) << get;
  EXPECT_THAT(get.out, ContainsRegex("Name: +guestbook\n")) << get;
  EXPECT_THAT(get.out, ContainsRegex("Labels: +team=web\n")) << get;
  EXPECT_THAT(get.out, ContainsRegex("Source: +" + src_ + ", path guestbook, revision main\n"))
      << get;
  EXPECT_THAT(get.out, ContainsRegex("Destination: +git " + hydrated_ +
                                     ", branch rendered, path guestbook\n"))
      << get;
  EXPECT_THAT(get.out, ContainsRegex("Sync policy: +manual, every 1h\n")) << get;
  EXPECT_THAT(get.out,
              ContainsRegex("Sync status: +Synced at " + short_first + " \\(guestbook blue\\)\n"))
      << get;
  EXPECT_THAT(get.out, ContainsRegex("Last synced: +" + short_first + "\n")) << get;
  EXPECT_THAT(get.out, ContainsRegex("Health: +Healthy\n")) << get;
  EXPECT_THAT(get.out, ContainsRegex("Operation: +#[0-9]+ Succeeded, by user, at " + short_first))
      << get;
  EXPECT_THAT(get.out, ContainsRegex("KIND +NAMESPACE +NAME +SYNC +HEALTH +MESSAGE\n")) << get;
  EXPECT_THAT(get.out, ContainsRegex("\nConfigMap +guestbook +settings +Synced +Healthy")) << get;
  EXPECT_THAT(get.out, ContainsRegex("\napps/Deployment +guestbook +web +Synced +Healthy")) << get;
  CliResult get_json = Todoke({"app", "get", "guestbook", "-o", "json"});
  ASSERT_EQ(get_json.exit_code, 0) << get_json;
  absl::StatusOr<Json> app_json = ParseJson(get_json.out);
  ASSERT_TRUE(app_json.ok()) << get_json;
  EXPECT_EQ((*app_json)["apiVersion"], "todoke.dev/v1alpha1");
  EXPECT_EQ((*app_json)["kind"], "Application");
  EXPECT_EQ((*app_json)["metadata"]["name"], "guestbook");
  EXPECT_EQ((*app_json)["spec"]["source"]["repoURL"], src_);
  EXPECT_EQ((*app_json)["status"]["sync"], "Synced") << get_json;
  EXPECT_EQ((*app_json)["status"]["health"], "Healthy") << get_json;
  EXPECT_EQ((*app_json)["status"]["syncedRevision"], first_commit_) << get_json;
  CliResult get_yaml = Todoke({"-o", "yaml", "app", "get", "guestbook"});
  ASSERT_EQ(get_yaml.exit_code, 0) << get_yaml;
  EXPECT_THAT(get_yaml.out, HasSubstr("kind: Application\n")) << get_yaml;
  EXPECT_THAT(get_yaml.out, HasSubstr("  name: guestbook\n")) << get_yaml;
  EXPECT_THAT(get_yaml.out, HasSubstr("repoURL: " + src_)) << get_yaml;
  EXPECT_THAT(get_yaml.out, HasSubstr("syncedRevision: " + first_commit_)) << get_yaml;
  // The YAML that get prints is an Applications file apply takes back (no change).
  WriteFile(temp_.path() + "/roundtrip.yaml", get_yaml.out);
  CliResult roundtrip = Todoke({"app", "apply", "-f", temp_.path() + "/roundtrip.yaml"});
  EXPECT_EQ(roundtrip.exit_code, 0) << roundtrip;
  EXPECT_THAT(roundtrip.out, HasSubstr("application \"guestbook\" applied (generation 1)"))
      << roundtrip;
  CliResult get_missing = Todoke({"app", "get", "nope"});
  EXPECT_EQ(get_missing.exit_code, 1) << get_missing;
  EXPECT_THAT(get_missing.err, HasSubstr("\"nope\"")) << get_missing;
  EXPECT_THAT(get_missing.err, HasSubstr("not found")) << get_missing;

  // A pushed change: refresh sees it, diff shows it as kubectl diff would.
  WriteConfigMap("red");
  const std::string second_commit = Commit("guestbook red");
  CliResult refreshed = Todoke({"app", "refresh", "guestbook"});
  ASSERT_EQ(refreshed.exit_code, 0) << refreshed;
  EXPECT_THAT(refreshed.out,
              HasSubstr("application \"guestbook\" refreshed: OutOfSync, Healthy, at " +
                        second_commit.substr(0, 7)))
      << refreshed;
  CliResult changed = Todoke({"app", "diff", "guestbook"});
  EXPECT_EQ(changed.exit_code, 1) << changed;
  EXPECT_THAT(changed.out, HasSubstr("-  color: blue\n")) << changed;
  EXPECT_THAT(changed.out, HasSubstr("+  color: red\n")) << changed;
  EXPECT_THAT(changed.out, Not(HasSubstr("nginx"))) << "only what differs: " << changed;
  CliResult changed_json = Todoke({"app", "diff", "guestbook", "-o", "json"});
  EXPECT_EQ(changed_json.exit_code, 1) << changed_json;
  absl::StatusOr<Json> diff_json = ParseJson(changed_json.out);
  ASSERT_TRUE(diff_json.ok()) << changed_json;
  EXPECT_EQ((*diff_json)["summary"]["status"], "OutOfSync");
  EXPECT_EQ((*diff_json)["summary"]["outOfSync"], 1);
  CliResult second_sync = Todoke({"app", "sync", "guestbook", "--wait", "--timeout", "60s"});
  ASSERT_EQ(second_sync.exit_code, 0) << second_sync;
  EXPECT_THAT(second_sync.out, HasSubstr("  ConfigMap guestbook/settings: configured"))
      << second_sync;
  EXPECT_THAT(HydratedFile("guestbook/guestbook/core.configmap.settings.yaml"),
              HasSubstr("color: red"));

  // history: newest first, one row per sync.
  CliResult history = Todoke({"app", "history", "guestbook"});
  ASSERT_EQ(history.exit_code, 0) << history;
  std::vector<std::string> rows = absl::StrSplit(history.out, '\n', absl::SkipEmpty());
  ASSERT_EQ(rows.size(), 3u) << history;
  EXPECT_EQ(Words(rows[0]), (std::vector<std::string>{"ID", "REVISION", "PHASE", "STARTED",
                                                      "DURATION", "BY", "MESSAGE"}));
  std::vector<std::string> newest = Words(rows[1]);
  std::vector<std::string> oldest = Words(rows[2]);
  ASSERT_GE(newest.size(), 6u) << history;
  ASSERT_GE(oldest.size(), 6u) << history;
  EXPECT_EQ(newest[1], second_commit.substr(0, 7)) << history;
  EXPECT_EQ(oldest[1], short_first) << history;
  EXPECT_EQ(newest[2], "Succeeded");
  EXPECT_EQ(oldest[2], "Succeeded");
  EXPECT_THAT(rows[1], HasSubstr(" user ")) << history;
  CliResult history_json = Todoke({"app", "history", "guestbook", "-o", "json", "--limit", "1"});
  ASSERT_EQ(history_json.exit_code, 0) << history_json;
  absl::StatusOr<Json> entries = ParseJson(history_json.out);
  ASSERT_TRUE(entries.ok()) << history_json;
  ASSERT_EQ(entries->size(), 1u) << history_json;

  // rollback to the first entry: says automation is off; the branch holds blue again.
  CliResult rollback = Todoke({"app", "rollback", "guestbook", oldest[0]});
  ASSERT_EQ(rollback.exit_code, 0) << rollback;
  EXPECT_THAT(rollback.out, HasSubstr("rollback of \"guestbook\" to history entry " + oldest[0] +
                                      " started: operation #"))
      << rollback;
  EXPECT_THAT(rollback.out, HasSubstr("automated sync of \"guestbook\" is now off")) << rollback;
  // wait: until the rollback's operation ended and the app is Healthy.
  CliResult healthy = Todoke({"app", "wait", "guestbook", "--health", "--timeout", "60s"});
  EXPECT_EQ(healthy.exit_code, 0) << healthy;
  EXPECT_THAT(healthy.out, HasSubstr("application \"guestbook\" is ")) << healthy;
  EXPECT_THAT(healthy.out, HasSubstr(" and Healthy\n")) << healthy;
  EXPECT_THAT(HydratedFile("guestbook/guestbook/core.configmap.settings.yaml"),
              HasSubstr("color: blue"));
  CliResult rolled_history = Todoke({"app", "history", "guestbook"});
  EXPECT_EQ(LinesWith(rolled_history.out, "Succeeded").size(), 3u) << rolled_history;
  EXPECT_THAT(rolled_history.out, HasSubstr("rollback")) << rolled_history;
  // Main is at red, the branch at blue: waiting for Synced times out and says why.
  CliResult timed_out = Todoke({"app", "wait", "guestbook", "--sync", "--timeout", "2s"});
  EXPECT_EQ(timed_out.exit_code, 1) << timed_out;
  EXPECT_THAT(timed_out.err, HasSubstr("timed out after 2s waiting for \"guestbook\" to be "
                                       "Synced: sync is OutOfSync"))
      << timed_out;
  // A rollback to an entry that does not exist names what to do.
  CliResult no_entry = Todoke({"app", "rollback", "guestbook", "9999"});
  EXPECT_EQ(no_entry.exit_code, 1) << no_entry;
  EXPECT_THAT(no_entry.err, HasSubstr("todoke app history guestbook")) << no_entry;

  // delete --cascade asks first; without a terminal and without --yes it refuses, and the app
  // and its objects stay.
  CliResult refused = Todoke({"app", "delete", "guestbook", "--cascade"});
  EXPECT_EQ(refused.exit_code, 2) << refused;
  EXPECT_THAT(refused.err, HasSubstr("pass --yes to confirm")) << refused;
  EXPECT_EQ(Todoke({"app", "get", "guestbook"}).exit_code, 0);
  // Without --cascade: the app goes, its objects stay in place.
  CliResult deleted = Todoke({"app", "delete", "guestbook"});
  EXPECT_EQ(deleted.exit_code, 0) << deleted;
  EXPECT_EQ(deleted.out, "application \"guestbook\" deleted; its objects were left in place\n");
  EXPECT_EQ(Todoke({"app", "get", "guestbook"}).exit_code, 1);
  EXPECT_THAT(HydratedFile("guestbook/guestbook/core.configmap.settings.yaml"),
              HasSubstr("color: blue"));
  CliResult after = Todoke({"app", "list"});
  EXPECT_EQ(LinesWith(after.out, "guestbook").size(), 0u) << after;
  EXPECT_EQ(LinesWith(after.out, "second").size(), 1u) << after;
}

TEST_F(CliServerTest, UsageErrorsAndAnUnreachableOrchestrator) {
  // An unknown flag is an error that names it, for any command; nothing is sent.
  CliResult unknown = Todoke({"app", "list", "--bogus"});
  EXPECT_EQ(unknown.exit_code, 2) << unknown;
  EXPECT_THAT(unknown.err, HasSubstr("--bogus")) << unknown;
  CliResult unknown_sync = Todoke({"app", "sync", "guestbook", "--prnue"});
  EXPECT_EQ(unknown_sync.exit_code, 2) << unknown_sync;
  EXPECT_THAT(unknown_sync.err, HasSubstr("--prnue")) << unknown_sync;
  // --help works on a subcommand and exits 0.
  CliResult help = Todoke({"app", "sync", "--help"});
  EXPECT_EQ(help.exit_code, 0) << help;
  EXPECT_THAT(help.out, HasSubstr("--prune")) << help;
  EXPECT_THAT(help.out, HasSubstr("--dry-run")) << help;

  // The orchestrator stopped: every command says where it looked and what to do.
  const std::string address = suite_->address("orchestrator");
  ASSERT_TRUE(suite_->StopStage("orchestrator", SIGTERM).ok());
  CliResult down = Todoke({"--timeout", "3s", "app", "list"});
  EXPECT_EQ(down.exit_code, 1) << down;
  EXPECT_THAT(down.err, HasSubstr("orchestrator not reachable at " + address +
                                  ": start it (todoke-orchestrator --listen=" + address +
                                  " ...) or set --server / TODOKE_SERVER"))
      << down;
  // The address from the environment, for a command that waits.
  CliResult from_env = RunTodoke(temp_.path(), {"app", "wait", "guestbook", "--timeout", "3s"},
                                 {"TODOKE_SERVER=" + address});
  EXPECT_EQ(from_env.exit_code, 1) << from_env;
  EXPECT_THAT(from_env.err, HasSubstr("orchestrator not reachable at " + address)) << from_env;
  CliResult diff_down = Todoke({"--timeout", "3s", "app", "diff", "guestbook"});
  EXPECT_GE(diff_down.exit_code, 2) << "app diff errors are 2 and above: " << diff_down;
}

}  // namespace
}  // namespace todoke::testing

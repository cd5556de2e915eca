// kill -9 at random moments: a child process (this test binary run again with a filter and an
// environment variable) writes to the store in a loop and prints every write the store
// acknowledged; the parent kills it at a random moment, reopens the store and checks that every
// acknowledged write is there, that the file passes PRAGMA integrity_check, and that operations
// the child left running come back as INTERRUPTED. At least 50 kills, bounded in time.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "services/orchestrator/core/store/sqlite_application_store.h"

extern char** environ;

namespace todoke::orchestrator {
namespace {

constexpr char kDirVariable[] = "TODOKE_STORE_CRASH_DIR";
constexpr char kRoundVariable[] = "TODOKE_STORE_CRASH_ROUND";
constexpr int kKills = 60;
constexpr int kMinKills = 50;
constexpr absl::Duration kBudget = absl::Seconds(150);
// A child never runs longer than this, killed or not.
constexpr absl::Duration kChildLifetime = absl::Seconds(10);

void Print(const std::string& line) {
  const std::string text = line + "\n";
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = write(STDOUT_FILENO, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) _exit(3);
    done += static_cast<size_t>(n);
  }
}

// The child: writes until killed, printing each acknowledged write as one line:
//   app NAME | status NAME REVISION | update NAME GENERATION | start NAME OPID |
//   finish NAME OPID HISTORYID
// Every third app keeps its operation running (an intent row the kill interrupts).
TEST(StoreCrashChild, DISABLED_WriteUntilKilled) {
  const char* dir = std::getenv(kDirVariable);
  const char* round = std::getenv(kRoundVariable);
  if (dir == nullptr || round == nullptr) GTEST_SKIP() << "run by StoreCrashTest only";
  SqliteStoreOptions options;
  options.history_limit = 1'000'000;
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store =
      SqliteApplicationStore::Open(dir, options);
  if (!store.ok()) {
    Print(absl::StrCat("error ", store.status().ToString()));
    _exit(2);
  }
  Print("open");
  const absl::Time end = absl::Now() + kChildLifetime;
  for (int n = 0; absl::Now() < end; ++n) {
    const std::string name = absl::StrCat("r", round, "-", n);
    Application app;
    app.set_name(name);
    app.mutable_spec()->mutable_source()->set_repo_url("https://git.example.com/apps.git");
    app.mutable_spec()->mutable_source()->set_path(name);
    (*app.mutable_labels())["round"] = round;
    if (!(*store)->Create(app).ok()) _exit(4);
    Print(absl::StrCat("app ", name));

    v1::ApplicationStatus status;
    status.set_revision(absl::StrCat("rev-", n));
    if (!(*store)->UpdateStatus(name, status).ok()) _exit(4);
    Print(absl::StrCat("status ", name, " rev-", n));

    app.mutable_spec()->set_suspend(true);
    absl::StatusOr<Application> updated = (*store)->Update(app, 1);
    if (!updated.ok()) _exit(4);
    Print(absl::StrCat("update ", name, " ", updated->generation()));

    v1::Operation request;
    request.set_revision(absl::StrCat("rev-", n));
    absl::StatusOr<v1::Operation> started = (*store)->StartOperation(name, request);
    if (!started.ok()) _exit(4);
    Print(absl::StrCat("start ", name, " ", started->id()));
    if (n % 3 == 2) continue;

    OperationResult result;
    result.message = "applied";
    v1::HistoryEntry entry;
    entry.set_revision(absl::StrCat("rev-", n));
    result.history = entry;
    absl::StatusOr<FinishedOperation> finished = (*store)->FinishOperation(started->id(), result);
    if (!finished.ok()) _exit(4);
    Print(absl::StrCat("finish ", name, " ", started->id(), " ", finished->history->id()));
  }
  _exit(0);
}

struct Acknowledged {
  std::set<std::string> apps;
  std::map<std::string, std::string> status_revision;
  std::map<std::string, int64_t> generation;
  std::map<int64_t, std::string> started;                       // op id -> app
  std::map<int64_t, std::pair<std::string, int64_t>> finished;  // op id -> app, history id

  size_t size() const {
    return apps.size() + status_revision.size() + generation.size() + started.size() +
           finished.size();
  }
  void Merge(const Acknowledged& other) {
    apps.insert(other.apps.begin(), other.apps.end());
    status_revision.insert(other.status_revision.begin(), other.status_revision.end());
    generation.insert(other.generation.begin(), other.generation.end());
    started.insert(other.started.begin(), other.started.end());
    finished.insert(other.finished.begin(), other.finished.end());
  }
};

void Record(absl::string_view line, Acknowledged& acked) {
  const std::vector<std::string> words = absl::StrSplit(line, ' ');
  int64_t a = 0;
  int64_t b = 0;
  if (words[0] == "app" && words.size() == 2) {
    acked.apps.insert(words[1]);
  } else if (words[0] == "status" && words.size() == 3) {
    acked.status_revision[words[1]] = words[2];
  } else if (words[0] == "update" && words.size() == 3 && absl::SimpleAtoi(words[2], &a)) {
    acked.generation[words[1]] = a;
  } else if (words[0] == "start" && words.size() == 3 && absl::SimpleAtoi(words[2], &a)) {
    acked.started[a] = words[1];
  } else if (words[0] == "finish" && words.size() == 4 && absl::SimpleAtoi(words[2], &a) &&
             absl::SimpleAtoi(words[3], &b)) {
    acked.finished[a] = {words[1], b};
  }
}

struct Child {
  pid_t pid = -1;
  int out = -1;  // read end of its stdout
};

Child Spawn(const std::string& dir, int round) {
  int pipe_fds[2];
  EXPECT_EQ(pipe2(pipe_fds, O_CLOEXEC), 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], STDOUT_FILENO);
  const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
  std::vector<std::string> args = {self, "--gtest_filter=StoreCrashChild.DISABLED_WriteUntilKilled",
                                   "--gtest_also_run_disabled_tests", "--gtest_brief=1"};
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (absl::StartsWith(*e, absl::StrCat(kDirVariable, "=")) ||
        absl::StartsWith(*e, absl::StrCat(kRoundVariable, "="))) {
      continue;
    }
    env.push_back(*e);
  }
  env.push_back(absl::StrCat(kDirVariable, "=", dir));
  env.push_back(absl::StrCat(kRoundVariable, "=", round));
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  std::vector<char*> envp;
  for (std::string& item : env) envp.push_back(item.data());
  envp.push_back(nullptr);
  Child child;
  EXPECT_EQ(posix_spawn(&child.pid, self.c_str(), &actions, nullptr, argv.data(), envp.data()), 0);
  posix_spawn_file_actions_destroy(&actions);
  close(pipe_fds[1]);
  child.out = pipe_fds[0];
  return child;
}

// Reads what the child printed until `deadline`; false once it closed its stdout.
bool ReadUntil(int fd, absl::Time deadline, std::string& buffer) {
  while (true) {
    const int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
    if (wait_ms <= 0) return true;
    pollfd pfd{fd, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return true;
    char chunk[4096];
    const ssize_t n = read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer.append(chunk, static_cast<size_t>(n));
  }
}

void VerifyAcknowledged(SqliteApplicationStore& store, const Acknowledged& acked, int round) {
  SCOPED_TRACE(absl::StrCat("after kill ", round));
  ASSERT_TRUE(store.CheckIntegrity().ok()) << store.CheckIntegrity();
  for (const std::string& name : acked.apps) {
    absl::StatusOr<Application> app = store.Get(name);
    ASSERT_TRUE(app.ok()) << "acknowledged app lost: " << name << ": " << app.status();
    EXPECT_EQ(app->spec().source().path(), name);
    EXPECT_EQ(app->labels().at("round"), name.substr(1, name.find('-') - 1));
  }
  for (const auto& [name, revision] : acked.status_revision) {
    EXPECT_EQ(store.Get(name)->status().revision(), revision) << name;
  }
  for (const auto& [name, generation] : acked.generation) {
    absl::StatusOr<Application> app = store.Get(name);
    ASSERT_TRUE(app.ok());
    EXPECT_EQ(app->generation(), generation) << name;
    EXPECT_TRUE(app->spec().suspend()) << name;
  }
  for (const auto& [id, name] : acked.started) {
    absl::StatusOr<v1::Operation> operation = store.GetOperation(id);
    ASSERT_TRUE(operation.ok()) << "acknowledged operation lost: " << id;
    EXPECT_EQ(operation->app_name(), name);
    // Nothing is running after MarkInterrupted: ended, or interrupted by a kill.
    EXPECT_NE(operation->phase(), v1::OPERATION_PHASE_RUNNING) << id;
  }
  for (const auto& [id, finished] : acked.finished) {
    EXPECT_EQ(store.GetOperation(id)->phase(), v1::OPERATION_PHASE_SUCCEEDED) << id;
    absl::StatusOr<v1::HistoryEntry> entry = store.GetHistoryEntry(finished.first, finished.second);
    ASSERT_TRUE(entry.ok()) << "finished history entry lost: " << finished.second << ": "
                            << entry.status();
    EXPECT_EQ(entry->operation().id(), id);
  }
}

TEST(StoreCrashTest, KillNineLosesNoAcknowledgedWrite) {
  const std::string dir =
      (std::filesystem::path(::testing::TempDir()) / absl::StrCat("todoke-store-crash-", getpid()))
          .string();
  std::filesystem::remove_all(dir);
  std::mt19937 random(std::random_device{}());
  Acknowledged acked;
  const absl::Time budget_end = absl::Now() + kBudget;
  int kills = 0;
  int kills_after_writes = 0;
  int interrupted_total = 0;
  size_t acked_writes = 0;

  for (int round = 0; round < kKills && absl::Now() < budget_end; ++round) {
    Child child = Spawn(dir, round);
    ASSERT_GT(child.pid, 0);
    std::string output;
    // Half the kills land at a random moment (0-40 ms) after the child's first acknowledged
    // write, in the middle of the write loop; the other half at a random moment (0-80 ms) after
    // the start, some during the process start, the open and the schema creation (round 0).
    const bool after_first_write = round % 2 == 1;
    bool reading = true;
    if (after_first_write) {
      const absl::Time first_write_deadline = absl::Now() + absl::Seconds(20);
      while (output.find("app r") == std::string::npos && absl::Now() < first_write_deadline &&
             reading) {
        reading = ReadUntil(child.out, absl::Now() + absl::Milliseconds(5), output);
      }
      ASSERT_NE(output.find("app r"), std::string::npos) << "child wrote nothing: " << output;
    }
    const absl::Duration delay = absl::Microseconds(
        std::uniform_int_distribution<int>(0, after_first_write ? 40'000 : 80'000)(random));
    if (reading) ReadUntil(child.out, absl::Now() + delay, output);
    ASSERT_EQ(kill(child.pid, SIGKILL), 0);
    int wait_status = 0;
    ASSERT_EQ(waitpid(child.pid, &wait_status, 0), child.pid);
    // What the child printed before it died: every line is an acknowledged write.
    while (ReadUntil(child.out, absl::Now() + absl::Seconds(5), output)) {
    }
    close(child.out);
    ASSERT_TRUE(WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL)
        << "child ended on its own (status " << wait_status << "): " << output;
    ++kills;

    // Lines the store did not print (gtest's) record nothing.
    Acknowledged round_acked;
    for (absl::string_view line : absl::StrSplit(output, '\n')) {
      ASSERT_FALSE(absl::StartsWith(line, "error")) << line;
      Record(line, round_acked);
    }
    acked_writes += round_acked.size();
    if (round_acked.size() > 0) ++kills_after_writes;

    absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store =
        SqliteApplicationStore::Open(dir);
    ASSERT_TRUE(store.ok()) << "reopen after kill " << kills << ": " << store.status();
    absl::StatusOr<std::vector<v1::Operation>> interrupted = (*store)->MarkInterrupted();
    ASSERT_TRUE(interrupted.ok()) << interrupted.status();
    for (const v1::Operation& operation : *interrupted) {
      EXPECT_EQ(operation.phase(), v1::OPERATION_PHASE_INTERRUPTED);
      EXPECT_EQ(round_acked.finished.count(operation.id()), 0u)
          << "a finished operation came back as interrupted: " << operation.id();
    }
    interrupted_total += static_cast<int>(interrupted->size());
    // This round's writes now; everything acknowledged so far once more at the end.
    VerifyAcknowledged(**store, round_acked, kills);
    if (HasFatalFailure()) return;
    acked.Merge(round_acked);
  }
  {
    absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> store =
        SqliteApplicationStore::Open(dir);
    ASSERT_TRUE(store.ok()) << store.status();
    VerifyAcknowledged(**store, acked, kills);
    EXPECT_TRUE((*store)->RunningOperations()->empty());
  }
  std::cout << "kills: " << kills << " (" << kills_after_writes << " after acknowledged writes), "
            << "acknowledged writes checked: " << acked_writes
            << ", operations interrupted: " << interrupted_total << "\n";
  EXPECT_GE(kills, kMinKills) << "the time budget ran out";
  EXPECT_GE(kills_after_writes, kills / 2);
  EXPECT_GT(interrupted_total, 0);
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace todoke::orchestrator

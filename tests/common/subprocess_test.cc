#include "common/subprocess.h"

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"

namespace todoke {
namespace {

using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;

SubprocessSpec Shell(const std::string& script) {
  SubprocessSpec spec;
  spec.argv = {"/bin/sh", "-c", script};
  return spec;
}

// A folder of its own under the test's temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "subprocess-XXXXXX").string();
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// True once process `pid` is gone or a zombie (dead, waiting for its parent), polled up to 5 s.
bool Dies(pid_t pid) {
  const absl::Time until = absl::Now() + absl::Seconds(5);
  while (absl::Now() < until) {
    std::string stat;
    if (!test_files::ReadFile(absl::StrCat("/proc/", pid, "/stat"), stat) || stat.empty()) {
      return true;
    }
    const size_t after_name = stat.rfind(") ");
    if (after_name != std::string::npos && stat[after_name + 2] == 'Z') return true;
    absl::SleepFor(absl::Milliseconds(20));
  }
  return false;
}

TEST(SubprocessTest, ExitCodeStdoutAndStderr) {
  absl::StatusOr<SubprocessResult> result =
      RunSubprocess(Shell("echo to out; echo to err >&2; exit 7"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 7);
  EXPECT_EQ(result->signal, 0);
  EXPECT_EQ(result->stdout_data, "to out\n");
  EXPECT_EQ(result->stderr_tail, "to err\n");
}

TEST(SubprocessTest, KilledBySignal) {
  absl::StatusOr<SubprocessResult> result = RunSubprocess(Shell("kill -KILL $$"));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, -1);
  EXPECT_EQ(result->signal, SIGKILL);
}

TEST(SubprocessTest, EnvironmentWorkingDirectoryAndPathLookup) {
  SubprocessSpec spec;
  // "sh" is found in the default PATH: the given environment has none.
  spec.argv = {"sh", "-c", "echo \"$GREETING\"; pwd; echo \"${HOME:-no home}\""};
  spec.env = std::vector<std::string>{"GREETING=hello there"};
  spec.working_dir = "/usr";
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0) << result->stderr_tail;
  EXPECT_EQ(result->stdout_data, "hello there\n/usr\nno home\n");

  // No environment given: the child gets this process's.
  setenv("TODOKE_SUBPROCESS_TEST", "inherited", 1);
  result = RunSubprocess(Shell("echo $TODOKE_SUBPROCESS_TEST"));
  unsetenv("TODOKE_SUBPROCESS_TEST");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "inherited\n");
}

TEST(SubprocessTest, OnlyTheEndOfStderrIsKeptAndNoneWhenDiscarded) {
  SubprocessSpec spec = Shell(
      "i=0; while [ $i -lt 2000 ]; do echo 'noise noise noise' >&2; i=$((i+1)); done; "
      "echo the real reason >&2; echo done");
  spec.stderr_tail_bytes = 100;
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stderr_tail.size(), 100u);
  EXPECT_THAT(result->stderr_tail, EndsWith("the real reason\n"));
  EXPECT_EQ(result->stdout_data, "done\n");

  spec.stderr_tail_bytes = 0;
  result = RunSubprocess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stderr_tail, "");
  EXPECT_EQ(result->stdout_data, "done\n");
}

TEST(SubprocessTest, StdoutOverTheCapIsAnErrorAndKillsTheProgram) {
  SubprocessSpec spec;
  spec.argv = {"yes", "a line of output"};  // never stops by itself
  spec.max_stdout_bytes = 1000;
  const absl::Time start = absl::Now();
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("\"yes\""));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("1000 bytes"));
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr("a line of output")));
}

// The bound kills the whole process group: a leader that ignores SIGTERM and a grandchild that
// sleeps holding stdout and stderr open. Without the group kill the read would wait for the
// grandchild (30 s); without SIGKILL the leader would live on.
TEST(SubprocessTest, DeadlineKillsAProgramIgnoringTermAndItsChildren) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::string pid_file = dir.path() + "/pids";
  SubprocessSpec spec = Shell(absl::StrCat(
      "trap '' TERM; echo started >&2; sleep 30 & echo $$ $! > ", pid_file, "; wait; sleep 30"));
  spec.timeout = absl::Milliseconds(500);
  const absl::Time start = absl::Now();
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("\"/bin/sh\" timed out after 500ms"));
  EXPECT_THAT(std::string(result.status().message()), EndsWith("; stderr: started\n"));

  std::string pids = test_files::ReadFile(pid_file);
  std::vector<std::string> fields = absl::StrSplit(absl::StripAsciiWhitespace(pids), ' ');
  ASSERT_EQ(fields.size(), 2u) << pids;
  pid_t leader = 0, grandchild = 0;
  ASSERT_TRUE(absl::SimpleAtoi(fields[0], &leader));
  ASSERT_TRUE(absl::SimpleAtoi(fields[1], &grandchild));
  EXPECT_NE(kill(leader, 0), 0) << "the leader was not reaped";
  EXPECT_TRUE(Dies(grandchild)) << "the grandchild " << grandchild << " lives on";
}

// The leader exits at once; its child keeps the pipes open. The read ends at the bound, not
// when the child would finish.
TEST(SubprocessTest, AGrandchildHoldingThePipeDoesNotHangTheCall) {
  SubprocessSpec spec = Shell("sleep 30 & echo forked");
  spec.timeout = absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
}

TEST(SubprocessTest, TheCallersDeadlineBoundsTheRunToo) {
  SubprocessSpec spec = Shell("sleep 30");
  spec.timeout = absl::Seconds(60);
  spec.deadline = absl::Now() + absl::Milliseconds(300);
  const absl::Time start = absl::Now();
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  EXPECT_LT(absl::Now() - start, absl::Seconds(5));
  ASSERT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("\"/bin/sh\" did not finish by its deadline"));
}

TEST(SubprocessTest, AMissingProgramIsNotFoundNamingIt) {
  SubprocessSpec spec;
  spec.argv = {"todoke-no-such-program", "--secret-argument"};
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kNotFound) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("\"todoke-no-such-program\""));
  EXPECT_THAT(std::string(result.status().message()), Not(HasSubstr("--secret-argument")));

  spec.argv = {"/nonexistent/todoke-program"};
  EXPECT_EQ(RunSubprocess(spec).status().code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(RunSubprocess(SubprocessSpec{}).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(SubprocessTest, AWorkingDirectoryThatCannotBeEnteredIsAnErrorNamingIt) {
  SubprocessSpec spec;
  spec.argv = {"/bin/true"};
  spec.working_dir = "/nonexistent/todoke-dir";
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  ASSERT_EQ(result.status().code(), absl::StatusCode::kInternal) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("\"/bin/true\""));
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("/nonexistent/todoke-dir"));
}

// Stdin many times a pipe buffer (64 KiB) reaches the program whole, while its stdout, just as
// large, is read at the same time: no deadlock between feeding and reading.
TEST(SubprocessTest, StdinLargerThanThePipeBuffer) {
  std::string input;
  for (int i = 0; input.size() < (4 << 20); ++i) absl::StrAppend(&input, "line ", i, "\n");
  SubprocessSpec spec;
  spec.argv = {"cat"};
  spec.stdin_data = input;
  spec.timeout = absl::Seconds(30);
  absl::StatusOr<SubprocessResult> result = RunSubprocess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->exit_code, 0);
  EXPECT_EQ(result->stdout_data.size(), input.size());
  EXPECT_TRUE(result->stdout_data == input);

  // No stdin given: /dev/null, so a reader of stdin ends at once.
  spec.stdin_data.clear();
  result = RunSubprocess(spec);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->stdout_data, "");
}

}  // namespace
}  // namespace todoke

#include "common/subprocess.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"

extern char** environ;

namespace todoke {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

// The PATH the child's environment gives (or the default), for looking argv[0] up.
std::string SearchPath(const std::optional<std::vector<std::string>>& env) {
  if (!env.has_value()) {
    const char* path = getenv("PATH");
    return path != nullptr ? path : kDefaultPath;
  }
  std::string path = kDefaultPath;
  for (const std::string& entry : *env) {
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  }
  return path;
}

// The file to execute for `name`, or "" when there is none.
std::string FindExecutable(const std::string& name,
                           const std::optional<std::vector<std::string>>& env) {
  if (name.find('/') != std::string::npos) {
    return access(name.c_str(), X_OK) == 0 ? name : "";
  }
  for (absl::string_view dir : absl::StrSplit(SearchPath(env), ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    struct stat info;
    if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

// A memory file holding `data`, positioned at its start; -1 with errno set on failure.
int MemoryFile(const std::string& data) {
  int fd = memfd_create("todoke-stdin", MFD_CLOEXEC);
  if (fd < 0) return -1;
  size_t written = 0;
  while (written < data.size()) {
    const ssize_t n = write(fd, data.data() + written, data.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      const int error = n < 0 ? errno : EIO;
      close(fd);
      errno = error;
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  if (lseek(fd, 0, SEEK_SET) != 0) {
    const int error = errno;
    close(fd);
    errno = error;
    return -1;
  }
  return fd;
}

// Reaps `pid`, killing its process group first when `kill_group`. SIGKILL cannot be caught, so
// the blocking wait after it is bounded.
int KillAndReap(pid_t pid, bool kill_group) {
  if (kill_group) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

}  // namespace

absl::StatusOr<SubprocessResult> RunSubprocess(const SubprocessSpec& spec) {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string& program = spec.argv[0];
  const absl::Time start = absl::Now();
  const bool timeout_binds = start + spec.timeout <= spec.deadline;
  const absl::Time stop = std::min(start + spec.timeout, spec.deadline);
  const std::string executable = FindExecutable(program, spec.env);
  if (executable.empty()) {
    return absl::NotFoundError(absl::StrCat("executable \"", program, "\" not found"));
  }
  std::vector<char*> argv, envp;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  if (spec.env.has_value()) {
    for (const std::string& entry : *spec.env) envp.push_back(const_cast<char*>(entry.c_str()));
    envp.push_back(nullptr);
  }

  const bool keep_stderr = spec.stderr_tail_bytes > 0;
  int in_fd = spec.stdin_data.empty() ? open("/dev/null", O_RDONLY | O_CLOEXEC)
                                      : MemoryFile(spec.stdin_data);
  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  if (in_fd < 0 || pipe2(out_pipe, O_CLOEXEC) != 0 ||
      (keep_stderr && pipe2(err_pipe, O_CLOEXEC) != 0)) {
    const int error = errno;
    for (int* fd : {&in_fd, &out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) {
      CloseIfOpen(*fd);
    }
    return absl::InternalError(
        absl::StrCat("cannot set up the pipes of \"", program, "\": ", strerror(error)));
  }
  // posix_spawn, not fork: a forked child of a multi-threaded server holds copies of other
  // threads' locks (malloc, gRPC) and may only make async-signal-safe calls; posix_spawn
  // (vfork-like in glibc) runs nothing of ours in the child. The child gets its own process
  // group (so the bound kills its children too), the working directory, an empty signal mask
  // and default dispositions for the signals a server commonly ignores or handles; every other
  // descriptor is closed.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  if (keep_stderr) {
    posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  } else {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  if (!spec.working_dir.empty()) {
    posix_spawn_file_actions_addchdir_np(&actions, spec.working_dir.c_str());
  }
  sigset_t empty_mask, default_signals;
  sigemptyset(&empty_mask);
  sigemptyset(&default_signals);
  for (int signal_number : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&default_signals, signal_number);
  }
  posix_spawnattr_setsigmask(&attributes, &empty_mask);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setpgroup(&attributes, 0);  // a new group led by the child
  posix_spawnattr_setflags(&attributes,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawn_error = posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(),
                                      spec.env.has_value() ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  CloseIfOpen(in_fd);
  CloseIfOpen(out_pipe[1]);
  CloseIfOpen(err_pipe[1]);
  if (spawn_error != 0) {
    CloseIfOpen(out_pipe[0]);
    CloseIfOpen(err_pipe[0]);
    return absl::InternalError(absl::StrCat("cannot start \"", program, "\"",
                                            spec.working_dir.empty() ? "" : " in ",
                                            spec.working_dir, ": ", strerror(spawn_error)));
  }

  SubprocessResult result;
  std::string stderr_data;
  absl::Status failure;
  auto timed_out = [&] {
    return absl::DeadlineExceededError(
        timeout_binds ? absl::StrCat("\"", program, "\" timed out after ",
                                     absl::FormatDuration(spec.timeout), " (killed)")
                      : absl::StrCat("\"", program, "\" did not finish by its deadline (killed)"));
  };
  char buffer[65536];
  int fds[2] = {out_pipe[0], err_pipe[0]};
  while (fds[0] >= 0 || fds[1] >= 0) {
    const absl::Duration left = stop - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = timed_out();
      break;
    }
    pollfd polls[2];
    int streams[2];  // 0 stdout, 1 stderr, per entry of `polls`
    nfds_t count = 0;
    for (int i = 0; i < 2; ++i) {
      if (fds[i] < 0) continue;
      streams[count] = i;
      polls[count++] = {fds[i], POLLIN, 0};
    }
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(polls, count, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = absl::InternalError(
          absl::StrCat("waiting for \"", program, "\": poll: ", strerror(errno)));
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (polls[i].revents == 0) continue;
      const ssize_t n = read(polls[i].fd, buffer, sizeof(buffer));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      const bool is_stdout = streams[i] == 0;
      if (n <= 0) {
        CloseIfOpen(fds[streams[i]]);
        continue;
      }
      if (is_stdout) {
        result.stdout_data.append(buffer, static_cast<size_t>(n));
        if (result.stdout_data.size() > spec.max_stdout_bytes) {
          failure = absl::ResourceExhaustedError(
              absl::StrCat("the output of \"", program, "\" exceeds the limit of ",
                           spec.max_stdout_bytes, " bytes (killed)"));
        }
      } else {
        stderr_data.append(buffer, static_cast<size_t>(n));
        if (stderr_data.size() > 2 * spec.stderr_tail_bytes + sizeof(buffer)) {
          stderr_data.erase(0, stderr_data.size() - spec.stderr_tail_bytes);
        }
      }
    }
    if (!failure.ok()) break;
  }
  for (int& fd : fds) CloseIfOpen(fd);

  int status = 0;
  if (!failure.ok()) {
    status = KillAndReap(pid, /*kill_group=*/true);
  } else {
    // Both streams are closed; the child may still be running. Wait for it within the bound.
    absl::Duration nap = absl::Milliseconds(1);
    while (true) {
      const pid_t done = waitpid(pid, &status, WNOHANG);
      if (done == pid) break;
      if (done < 0 && errno != EINTR) {
        failure = absl::InternalError(
            absl::StrCat("waiting for \"", program, "\": waitpid: ", strerror(errno)));
        break;
      }
      if (absl::Now() >= stop) {
        status = KillAndReap(pid, /*kill_group=*/true);
        failure = timed_out();
        break;
      }
      absl::SleepFor(std::min(nap, stop - absl::Now()));
      nap = std::min(nap * 2, absl::Milliseconds(20));
    }
  }
  if (stderr_data.size() > spec.stderr_tail_bytes) {
    stderr_data.erase(0, stderr_data.size() - spec.stderr_tail_bytes);
  }
  result.stderr_tail = std::move(stderr_data);
  if (!failure.ok()) {
    if (!result.stderr_tail.empty() && failure.code() != absl::StatusCode::kInternal) {
      return absl::Status(failure.code(),
                          absl::StrCat(failure.message(), "; stderr: ", result.stderr_tail));
    }
    return failure;
  }
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.signal = WTERMSIG(status);
  }
  return result;
}

}  // namespace todoke

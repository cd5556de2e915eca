#include "services/renderer/core/process_runner.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace todoke::renderer {
namespace {

constexpr char kDefaultPath[] = "/usr/local/bin:/usr/bin:/bin";

std::string FindExecutable(const std::string& name, const std::vector<std::string>& env) {
  if (name.find('/') != std::string::npos) {
    return access(name.c_str(), X_OK) == 0 ? name : "";
  }
  std::string path = kDefaultPath;
  for (const std::string& entry : env) {
    if (entry.starts_with("PATH=")) path = entry.substr(5);
  }
  for (absl::string_view dir : absl::StrSplit(path, ':', absl::SkipEmpty())) {
    std::string candidate = absl::StrCat(dir, "/", name);
    struct stat info;
    if (stat(candidate.c_str(), &info) == 0 && S_ISREG(info.st_mode) &&
        access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

absl::StatusOr<ProcessResult> ForkExecProcessRunner::Run(const ProcessSpec& spec) const {
  if (spec.argv.empty()) return absl::InvalidArgumentError("empty command");
  const std::string executable = FindExecutable(spec.argv[0], spec.env);
  if (executable.empty()) {
    return absl::NotFoundError(absl::StrCat("executable \"", spec.argv[0], "\" not found"));
  }
  std::vector<char*> argv, envp;
  for (const std::string& arg : spec.argv) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  for (const std::string& entry : spec.env) envp.push_back(const_cast<char*>(entry.c_str()));
  envp.push_back(nullptr);

  int out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  int dev_null = open("/dev/null", O_RDONLY | O_CLOEXEC);
  if (dev_null < 0 || pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    const int error = errno;
    CloseIfOpen(dev_null);
    for (int* fd : {&out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) CloseIfOpen(*fd);
    return absl::InternalError(absl::StrCat("cannot create pipes: ", strerror(error)));
  }
  // posix_spawn, not fork: the renderer is a multi-threaded gRPC server, and a forked child of
  // such a process holds copies of other threads' locks (malloc, gRPC) and may only make
  // async-signal-safe calls; posix_spawn (vfork-like in glibc) runs nothing of ours in the
  // child. The child gets its own process group (so a timeout kills the plugin's children
  // too), the working directory, stdin from /dev/null, an empty signal mask and default
  // dispositions for the signals a server commonly ignores or handles. Every descriptor of
  // ours is O_CLOEXEC, so only 0, 1 and 2 reach the child.
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_adddup2(&actions, dev_null, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
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
  const int spawn_error =
      posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawn_error != 0) {
    for (int* fd : {&dev_null, &out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]}) {
      CloseIfOpen(*fd);
    }
    return absl::InternalError(absl::StrCat("cannot start \"", spec.argv[0], "\"",
                                            spec.working_dir.empty() ? "" : " in ",
                                            spec.working_dir, ": ", strerror(spawn_error)));
  }
  CloseIfOpen(dev_null);
  CloseIfOpen(out_pipe[1]);
  CloseIfOpen(err_pipe[1]);

  ProcessResult result;
  std::string stderr_data;
  const absl::Time deadline = absl::Now() + spec.timeout;
  absl::Status failure;
  char buffer[65536];
  int fds[2] = {out_pipe[0], err_pipe[0]};
  while (fds[0] >= 0 || fds[1] >= 0) {
    const absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::DeadlineExceededError(
          absl::StrCat("timed out after ", absl::FormatDuration(spec.timeout)));
      break;
    }
    pollfd polls[2];
    nfds_t count = 0;
    for (int fd : fds) {
      if (fd >= 0) polls[count++] = {fd, POLLIN, 0};
    }
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(polls, count, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = absl::InternalError(absl::StrCat("poll: ", strerror(errno)));
      break;
    }
    for (nfds_t i = 0; i < count; ++i) {
      if (polls[i].revents == 0) continue;
      const ssize_t n = read(polls[i].fd, buffer, sizeof(buffer));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      const bool is_stdout = polls[i].fd == fds[0];
      if (n <= 0) {
        int& fd = is_stdout ? fds[0] : fds[1];
        CloseIfOpen(fd);
        continue;
      }
      if (is_stdout) {
        result.stdout_data.append(buffer, n);
        if (result.stdout_data.size() > spec.max_stdout_bytes) {
          failure = absl::ResourceExhaustedError(
              absl::StrCat("output exceeds the limit of ", spec.max_stdout_bytes, " bytes"));
        }
      } else {
        stderr_data.append(buffer, n);
        if (stderr_data.size() > 2 * spec.stderr_tail_bytes + sizeof(buffer)) {
          stderr_data.erase(0, stderr_data.size() - spec.stderr_tail_bytes);
        }
      }
    }
    if (!failure.ok()) break;
  }
  for (int& fd : fds) CloseIfOpen(fd);
  if (!failure.ok()) kill(-pid, SIGKILL);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (stderr_data.size() > spec.stderr_tail_bytes) {
    stderr_data.erase(0, stderr_data.size() - spec.stderr_tail_bytes);
  }
  result.stderr_tail = std::move(stderr_data);
  if (!failure.ok()) {
    if (!result.stderr_tail.empty()) {
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

}  // namespace todoke::renderer

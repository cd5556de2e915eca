#include "services/applier/core/git/commit_signer.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

extern char** environ;

namespace todoke::applier {
namespace {

constexpr size_t kMaxSignatureBytes = 64 << 10;
constexpr size_t kStderrTailBytes = 2048;

void CloseIfOpen(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

std::string ProgramOf(const CommitSigning& signing) {
  if (!signing.program.empty()) return signing.program;
  return signing.format == CommitSigningFormat::kSsh ? "ssh-keygen" : "gpg";
}

// The last non-empty line of a program's stderr, for an error message.
std::string LastLine(const std::string& text) {
  std::vector<absl::string_view> lines =
      absl::StrSplit(text, absl::ByAnyChar("\r\n"), absl::SkipWhitespace());
  if (lines.empty()) return "";
  std::string line(absl::StripAsciiWhitespace(lines.back()));
  if (line.size() > 300) line.resize(300);
  return line;
}

struct RunResult {
  int status = 0;
  std::string out;
  std::string err;
};

// Runs argv (no shell) with `input` on stdin; stdout and the tail of stderr collected.
absl::StatusOr<RunResult> Run(const std::vector<std::string>& args, absl::string_view input,
                              absl::Time stop, const std::string& where) {
  // The payload goes in through a memory file: no pipe to feed while reading the others.
  int in_fd = memfd_create("todoke-commit", MFD_CLOEXEC);
  if (in_fd < 0) {
    return absl::InternalError(absl::StrCat(where, ": memfd_create: ", strerror(errno)));
  }
  size_t written = 0;
  while (written < input.size()) {
    ssize_t n = write(in_fd, input.data() + written, input.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(in_fd);
      return absl::InternalError(absl::StrCat(where, ": writing the payload: ", strerror(errno)));
    }
    written += static_cast<size_t>(n);
  }
  lseek(in_fd, 0, SEEK_SET);
  int out_pipe[2] = {-1, -1};
  int err_pipe[2] = {-1, -1};
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    const std::string error = strerror(errno);
    close(in_fd);
    CloseIfOpen(out_pipe[0]);
    CloseIfOpen(out_pipe[1]);
    return absl::InternalError(absl::StrCat(where, ": cannot create a pipe: ", error));
  }
  std::vector<char*> argv;
  for (const std::string& arg : args) argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in_fd, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, out_pipe[1], STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, err_pipe[1], STDERR_FILENO);
  posix_spawn_file_actions_addclosefrom_np(&actions, STDERR_FILENO + 1);
  posix_spawnattr_setpgroup(&attr, 0);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  const int spawn_error = args[0].find('/') == std::string::npos
                              ? posix_spawnp(&pid, argv[0], &actions, &attr, argv.data(), environ)
                              : posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(in_fd);
  CloseIfOpen(out_pipe[1]);
  CloseIfOpen(err_pipe[1]);
  if (spawn_error != 0) {
    CloseIfOpen(out_pipe[0]);
    CloseIfOpen(err_pipe[0]);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": cannot start ", args[0], ": ", strerror(spawn_error)));
  }

  RunResult result;
  absl::Status failure;
  char buffer[8192];
  while (out_pipe[0] >= 0 || err_pipe[0] >= 0) {
    const absl::Duration left = stop - absl::Now();
    if (left <= absl::ZeroDuration()) {
      failure = absl::FailedPreconditionError(
          absl::StrCat(where, ": ", args[0], " gave no answer in time (killed)"));
      break;
    }
    pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
    const int timeout_ms =
        static_cast<int>(std::min<int64_t>(absl::ToInt64Milliseconds(left) + 1, 1000));
    const int ready = poll(fds, 2, timeout_ms);
    if (ready < 0) {
      if (errno == EINTR) continue;
      failure = absl::InternalError(absl::StrCat(where, ": poll: ", strerror(errno)));
      break;
    }
    for (int i = 0; i < 2; ++i) {
      int& fd = i == 0 ? out_pipe[0] : err_pipe[0];
      if (fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fd, buffer, sizeof(buffer));
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) {
        CloseIfOpen(fd);
        continue;
      }
      std::string& sink = i == 0 ? result.out : result.err;
      sink.append(buffer, static_cast<size_t>(n));
      if (i == 1 && sink.size() > kStderrTailBytes) sink.erase(0, sink.size() - kStderrTailBytes);
    }
    if (result.out.size() > kMaxSignatureBytes) {
      failure = absl::FailedPreconditionError(
          absl::StrCat(where, ": ", args[0], " printed more than 64 KiB (killed)"));
      break;
    }
  }
  CloseIfOpen(out_pipe[0]);
  CloseIfOpen(err_pipe[0]);
  if (!failure.ok()) kill(-pid, SIGKILL);
  int status = 0;
  while (true) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) break;
    if (done < 0 && errno != EINTR) break;
    if (absl::Now() >= stop) {
      kill(-pid, SIGKILL);
      while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      if (failure.ok()) {
        failure = absl::FailedPreconditionError(
            absl::StrCat(where, ": ", args[0], " did not exit in time (killed)"));
      }
      break;
    }
    absl::SleepFor(absl::Milliseconds(2));
  }
  if (!failure.ok()) return failure;
  result.status = status;
  return result;
}

}  // namespace

absl::StatusOr<CommitSigningFormat> ParseCommitSigningFormat(absl::string_view name) {
  if (name == "ssh") return CommitSigningFormat::kSsh;
  if (name == "openpgp" || name == "gpg") return CommitSigningFormat::kOpenPgp;
  return absl::InvalidArgumentError(
      absl::StrCat("commit signing format \"", name, "\" is neither ssh nor openpgp"));
}

absl::Status CheckCommitSigning(const CommitSigning& signing) {
  if (signing.key.empty()) return absl::OkStatus();
  if (signing.timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("commit signing: the timeout must be positive");
  }
  if (signing.format != CommitSigningFormat::kSsh) return absl::OkStatus();
  struct stat st;
  if (stat(signing.key.c_str(), &st) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": ", strerror(errno)));
  }
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": not a regular file"));
  }
  if (access(signing.key.c_str(), R_OK) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit signing key ", signing.key, ": ", strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> SignCommitPayload(const CommitSigning& signing,
                                              absl::string_view payload, absl::Time deadline) {
  const std::string program = ProgramOf(signing);
  const bool ssh = signing.format == CommitSigningFormat::kSsh;
  const std::string where =
      absl::StrCat("signing the commit with ", ssh ? "SSH key " : "OpenPGP key ", signing.key);
  std::vector<std::string> args =
      ssh ? std::vector<std::string>{program, "-Y", "sign", "-n", "git", "-f", signing.key}
          : std::vector<std::string>{program, "--status-fd=2", "-bsau", signing.key};
  const absl::Time stop = std::min(deadline, absl::Now() + signing.timeout);
  absl::StatusOr<RunResult> run = Run(args, payload, stop, where);
  if (!run.ok()) return run.status();
  if (!WIFEXITED(run->status) || WEXITSTATUS(run->status) != 0) {
    const std::string why = WIFSIGNALED(run->status)
                                ? absl::StrCat("killed by signal ", WTERMSIG(run->status))
                                : absl::StrCat("exited with status ", WEXITSTATUS(run->status));
    const std::string last = LastLine(run->err);
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", program, " ", why, last.empty() ? "" : ": ", last));
  }
  std::string signature = std::move(run->out);
  while (!signature.empty() && (signature.back() == '\n' || signature.back() == '\r')) {
    signature.pop_back();
  }
  const char* begin = ssh ? "-----BEGIN SSH SIGNATURE-----" : "-----BEGIN PGP SIGNATURE-----";
  if (signature.find(begin) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat(where, ": ", program, " printed no ", ssh ? "SSH" : "PGP", " signature"));
  }
  return signature;
}

}  // namespace todoke::applier

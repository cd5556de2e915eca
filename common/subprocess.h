// Running a program without a shell, bounded: the one way todoke's services start processes
// (renderer plugins, kubeconfig exec credential plugins, commit signing programs).
#ifndef TODOKE_COMMON_SUBPROCESS_H_
#define TODOKE_COMMON_SUBPROCESS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace todoke {

struct SubprocessSpec {
  // argv[0] is a path (it has a '/'), or a name looked up in the PATH of the child's environment
  // (/usr/local/bin:/usr/bin:/bin when it has none). No shell is involved.
  std::vector<std::string> argv;
  // The child's whole environment, "NAME=value"; nullopt: this process's environment.
  std::optional<std::vector<std::string>> env;
  // Empty: this process's working directory.
  std::string working_dir;
  // Given to the child on stdin (any size: it is a memory file, not a pipe to feed); empty:
  // stdin is /dev/null.
  std::string stdin_data;
  // The run is bounded by min(start + timeout, deadline); at the bound the child's whole
  // process group is killed (SIGKILL) and reaped.
  absl::Duration timeout = absl::Seconds(60);
  absl::Time deadline = absl::InfiniteFuture();
  // Stdout beyond this is an error (the process group is killed).
  size_t max_stdout_bytes = 64 << 20;
  // How much of the end of stderr is kept; 0: stderr goes to /dev/null.
  size_t stderr_tail_bytes = 4096;
};

struct SubprocessResult {
  // Exit status if the process exited; -1 if it was killed by a signal (`signal` says which).
  int exit_code = -1;
  int signal = 0;
  std::string stdout_data;
  // The last `stderr_tail_bytes` of stderr.
  std::string stderr_tail;
};

// Runs `spec` to completion: posix_spawn (never fork: the callers are multi-threaded servers)
// in a new process group led by the child, in spec.working_dir, with an empty signal mask,
// default dispositions for the signals servers commonly ignore or handle, and only fds 0-2
// open. Waits until stdout and stderr are closed and the child has exited, all within the
// bound. A non-zero exit is not an error: see `exit_code`. Errors, each naming argv[0]:
// INVALID_ARGUMENT (empty argv), NOT_FOUND (the executable), DEADLINE_EXCEEDED (the bound
// passed: the group was killed), RESOURCE_EXHAUSTED (stdout over the limit: killed), INTERNAL
// (pipe/spawn failures, e.g. a working_dir that cannot be entered). The messages of
// DEADLINE_EXCEEDED and RESOURCE_EXHAUSTED end with "; stderr: " and the stderr tail when there
// is one. Never quotes other arguments or stdout. Thread-safe.
absl::StatusOr<SubprocessResult> RunSubprocess(const SubprocessSpec& spec);

}  // namespace todoke

#endif  // TODOKE_COMMON_SUBPROCESS_H_

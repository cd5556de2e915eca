// Running a command without a shell: the renderer's only way to start processes (plugins).
#ifndef TODOKE_SERVICES_RENDERER_CORE_PROCESS_RUNNER_H_
#define TODOKE_SERVICES_RENDERER_CORE_PROCESS_RUNNER_H_

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace todoke::renderer {

struct ProcessSpec {
  // argv[0] is an absolute path, or a name looked up in the PATH given in `env` (or
  // /usr/local/bin:/usr/bin:/bin). No shell is involved.
  std::vector<std::string> argv;
  // The whole environment, "NAME=value"; nothing is inherited.
  std::vector<std::string> env;
  std::string working_dir;
  absl::Duration timeout = absl::Seconds(60);
  // Stdout beyond this is an error (the process is killed).
  size_t max_stdout_bytes = 64 << 20;
  // How much of the end of stderr is kept.
  size_t stderr_tail_bytes = 4096;
};

struct ProcessResult {
  // Exit status if the process exited; -1 if it was killed by a signal (`signal` says which).
  int exit_code = -1;
  int signal = 0;
  std::string stdout_data;
  // The last `stderr_tail_bytes` of stderr.
  std::string stderr_tail;
};

class ProcessRunner {
 public:
  virtual ~ProcessRunner() = default;

  // Runs `spec` to completion. A non-zero exit is not an error: see `exit_code`. Errors:
  // NOT_FOUND (the executable), DEADLINE_EXCEEDED (timeout: the process group is killed; the
  // message ends with the stderr tail), RESOURCE_EXHAUSTED (stdout over the limit; killed),
  // INTERNAL (pipe/spawn failures, e.g. a working_dir that cannot be entered). Thread-safe.
  virtual absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) const = 0;
};

// common/subprocess.h's RunSubprocess: posix_spawn (never fork: the callers are multi-threaded
// servers) in a new process group led by the child, in spec.working_dir, stdin from /dev/null,
// empty signal mask and default signal dispositions. (The name predates posix_spawn.)
class ForkExecProcessRunner : public ProcessRunner {
 public:
  absl::StatusOr<ProcessResult> Run(const ProcessSpec& spec) const override;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_PROCESS_RUNNER_H_

#include "services/renderer/core/process_runner.h"

#include "common/subprocess.h"

namespace todoke::renderer {

absl::StatusOr<ProcessResult> ForkExecProcessRunner::Run(const ProcessSpec& spec) const {
  SubprocessSpec run;
  run.argv = spec.argv;
  run.env = spec.env;  // the whole environment: nothing is inherited
  run.working_dir = spec.working_dir;
  run.timeout = spec.timeout;
  run.max_stdout_bytes = spec.max_stdout_bytes;
  run.stderr_tail_bytes = spec.stderr_tail_bytes;
  absl::StatusOr<SubprocessResult> result = RunSubprocess(run);
  if (!result.ok()) return result.status();
  ProcessResult out;
  out.exit_code = result->exit_code;
  out.signal = result->signal;
  out.stdout_data = std::move(result->stdout_data);
  out.stderr_tail = std::move(result->stderr_tail);
  return out;
}

}  // namespace todoke::renderer

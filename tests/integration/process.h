// Starts a todoke binary as a child process for multi-process tests and stops it.
#ifndef TODOKE_TESTS_INTEGRATION_PROCESS_H_
#define TODOKE_TESTS_INTEGRATION_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace todoke::testing {

// Path of a built binary: $TODOKE_BIN_DIR/<name> (set by CTest), else build/bin/<name>.
std::string BinaryPath(const std::string& name);

class ChildProcess {
 public:
  // Starts `argv` (argv[0] is the path) with stdout captured and stderr inherited.
  static absl::StatusOr<ChildProcess> Start(const std::vector<std::string>& argv);

  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&&) = delete;
  ~ChildProcess();

  // Reads stdout until a line containing `marker` appears (bounded by `timeout`) and returns it.
  absl::StatusOr<std::string> WaitForLine(absl::string_view marker, absl::Duration timeout);

  // Sends `signal_number` and waits up to `timeout` for exit. Returns the exit status as
  // given by waitpid, or DEADLINE_EXCEEDED (then the process is killed).
  absl::StatusOr<int> Stop(int signal_number, absl::Duration timeout);

  pid_t pid() const { return pid_; }

 private:
  ChildProcess(pid_t pid, int stdout_fd) : pid_(pid), stdout_fd_(stdout_fd) {}
  pid_t pid_ = -1;
  int stdout_fd_ = -1;
  std::string buffer_;
};

// Starts a service binary on 127.0.0.1:0 and returns it with its bound address.
absl::StatusOr<std::pair<ChildProcess, std::string>> StartService(
    const std::string& binary, std::vector<std::string> extra_args = {});

}  // namespace todoke::testing

#endif  // TODOKE_TESTS_INTEGRATION_PROCESS_H_

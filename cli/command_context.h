// What every todoke command gets: the global options as parsed, where to print, where to read.
#ifndef TODOKE_CLI_COMMAND_CONTEXT_H_
#define TODOKE_CLI_COMMAND_CONTEXT_H_

#include <ostream>

#include "absl/strings/string_view.h"
#include "cli/cli.h"

namespace todoke::cli {

// Exit codes of every command (and of `todoke` itself).
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailed = 1;
inline constexpr int kExitUsage = 2;

struct CommandContext {
  GlobalOptions options;
  std::ostream& out;
  std::ostream& err;
  Terminal terminal;

  // Prints "todoke: <message>" on `err` and returns `exit_code`.
  int Fail(absl::string_view message, int exit_code = kExitFailed) const {
    err << "todoke: " << message << "\n";
    return exit_code;
  }
};

}  // namespace todoke::cli

#endif  // TODOKE_CLI_COMMAND_CONTEXT_H_

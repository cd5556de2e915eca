// The `todoke` command line: argument parsing (CLI11), dispatch to commands, output formats.
// Kept apart from main() so tests can run commands in-process.
#ifndef TODOKE_CLI_CLI_H_
#define TODOKE_CLI_CLI_H_

#include <istream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "cli/output.h"

namespace todoke::cli {

// The options every command takes, anywhere on the line (before or after the command words).
struct GlobalOptions {
  // Orchestrator address (any MakeChannel target); --server, else $TODOKE_SERVER, else this.
  std::string server = "127.0.0.1:7400";
  OutputFormat output = OutputFormat::kTable;
  // The deadline of each call.
  absl::Duration timeout = absl::Seconds(30);
  // Sent as `authorization: Bearer <token>` on every orchestrator call when not empty;
  // --token, else $TODOKE_TOKEN.
  std::string token;
};

// Where a command reads what the user types: confirmations (`app delete --cascade`) and
// `-f -`. `interactive` says whether a person is there to answer (stdin is a terminal).
struct Terminal {
  std::istream* in = nullptr;
  bool interactive = false;
};

// Runs one invocation (`args` excludes the program name), reading $TODOKE_SERVER and
// $TODOKE_TOKEN. Writes results to `out` and diagnostics to `err`; returns the process exit
// code: 0 ok, 1 failed, 2 usage error (an unknown command or flag, a missing or bad value);
// `app diff` returns 1 for "different" and 2 for errors, as `kubectl diff` does. Never throws.
// The first form reads std::cin, interactive when it is a terminal.
int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err);
int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err,
        const Terminal& terminal);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_CLI_H_

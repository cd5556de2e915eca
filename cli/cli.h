// The `todoke` command line: argument parsing, dispatch to subcommands and output formatting.
// Kept apart from main() so tests can run commands in-process.
#ifndef TODOKE_CLI_CLI_H_
#define TODOKE_CLI_CLI_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/message.h"

namespace todoke::cli {

enum class OutputFormat { kTable, kJson, kYaml };

struct GlobalOptions {
  // Orchestrator address (any MakeChannel target); $TODOKE_SERVER, else 127.0.0.1:7400.
  std::string server = "127.0.0.1:7400";
  OutputFormat output = OutputFormat::kTable;
  absl::Duration timeout = absl::Seconds(30);
};

// Splits global options (--server, -o/--output, --timeout; anywhere on the line) from the
// command words. INVALID_ARGUMENT for an unknown option or a bad value.
absl::StatusOr<GlobalOptions> ParseGlobalOptions(std::vector<std::string>& args);

// Runs one invocation (`args` excludes the program name). Writes results to `out` and
// diagnostics to `err`; returns the process exit code (0 ok, 1 failed, 2 usage error).
int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err);

// A protobuf message as JSON (proto field names in lowerCamelCase) or YAML.
std::string FormatMessage(const google::protobuf::Message& message, OutputFormat format);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_CLI_H_

// `todoke app ...`: the Application commands, each one or more gRPC calls to the orchestrator.
#ifndef TODOKE_CLI_APP_COMMANDS_H_
#define TODOKE_CLI_APP_COMMANDS_H_

#include <cstdint>
#include <functional>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/time/time.h"
#include "cli/command_context.h"

namespace todoke::cli {

// How long `app wait`, `app sync --wait` and `app watch` go on without their own --timeout.
inline constexpr absl::Duration kDefaultWaitTimeout = absl::Minutes(5);
inline constexpr absl::Duration kDefaultWatchTimeout = absl::Hours(24);

// The `app` subcommands and the flags they were given. Holds what CLI11 writes into, so it
// must outlive the parse and the command it runs.
class AppCommands {
 public:
  explicit AppCommands(CommandContext& context) : ctx_(context) {}

  // Adds the `app` command under `root`, and its subcommands unless `with_subcommands` is false
  // (a line that does not mention `app` cannot reach them; they cost time to declare). When
  // parsing picks one, it sets `*action` to the function that runs it (called after parsing,
  // when every global option, wherever it stood, has been read). `footer` goes under every
  // subcommand's --help.
  void Register(CLI::App& root, std::function<int()>* action, const std::string& footer,
                bool with_subcommands = true);

 private:
  int Create(bool upsert);
  int List();
  int Get();
  int Diff();
  int Sync();
  int Refresh();
  int History();
  int Rollback();
  int Delete();
  int Suspend(bool suspend);
  int TerminateOperation();
  int Wait();
  int Watch();

  CommandContext& ctx_;
  // Flags and arguments (each used by the subcommands that declare it).
  std::string name_;
  std::string file_;
  std::string selector_;
  std::string revision_;
  std::string timeout_;  // the subcommand's own --timeout (wait, sync --wait, watch)
  int64_t history_id_ = 0;
  int history_limit_ = 0;
  bool prune_ = false;
  bool dry_run_ = false;
  bool force_conflicts_ = false;
  bool wait_ = false;
  bool cascade_ = false;
  bool yes_ = false;
  bool want_sync_ = false;
  bool want_health_ = false;
};

}  // namespace todoke::cli

#endif  // TODOKE_CLI_APP_COMMANDS_H_

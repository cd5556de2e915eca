// `todoke completion bash`: a bash completion script generated from the command tree itself,
// so that it always knows every command, subcommand and flag there is.
#ifndef TODOKE_CLI_COMPLETION_H_
#define TODOKE_CLI_COMPLETION_H_

#include <string>

#include "CLI/CLI.hpp"

namespace todoke::cli {

// A bash script defining `_todoke` and registering it with `complete -F _todoke todoke`. It
// completes command words, the flags of the command typed so far (global flags everywhere),
// the values of -o/--output and --mode, files after -f, folders for `render` and --repo-root,
// and Application names (from `todoke app list`, with a 2 s deadline) where NAME goes.
std::string BashCompletion(const CLI::App& root);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_COMPLETION_H_

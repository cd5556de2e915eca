// Flags as the todoke CLI reads them: "--name value" and "--name=value" alike.
#ifndef TODOKE_CLI_FLAG_ARGS_H_
#define TODOKE_CLI_FLAG_ARGS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace todoke::cli {

// One argument read as a flag: "-x=v" and "--name=v" split into the name and an inline value;
// anything else (other flags, positional arguments) is the name alone.
struct FlagArg {
  std::string name;
  std::optional<std::string> inline_value;
};
FlagArg SplitFlag(const std::string& arg);

// The value of `flag`, read from args[i]: its inline value, else the next argument (then `i`
// moves past it); nullopt when it has neither.
std::optional<std::string> TakeFlagValue(const FlagArg& flag, const std::vector<std::string>& args,
                                         size_t& i);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_FLAG_ARGS_H_

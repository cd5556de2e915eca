#include "cli/flag_args.h"

namespace todoke::cli {

FlagArg SplitFlag(const std::string& arg) {
  FlagArg flag;
  const size_t eq = arg.find('=');
  if (arg.size() > 1 && arg[0] == '-' && eq != std::string::npos) {
    flag.name = arg.substr(0, eq);
    flag.inline_value = arg.substr(eq + 1);
  } else {
    flag.name = arg;
  }
  return flag;
}

std::optional<std::string> TakeFlagValue(const FlagArg& flag, const std::vector<std::string>& args,
                                         size_t& i) {
  if (flag.inline_value.has_value()) return flag.inline_value;
  if (i + 1 >= args.size()) return std::nullopt;
  return args[++i];
}

}  // namespace todoke::cli

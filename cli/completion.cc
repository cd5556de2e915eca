#include "cli/completion.h"

#include <map>
#include <set>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace todoke::cli {
namespace {

// What the script needs to know of one command path ("" for the root, "app sync", ...).
struct CommandInfo {
  std::vector<std::string> subcommands;
  std::vector<std::string> flags;
  // What the positional argument is: "app" (an Application name), "dir", "shell" or "".
  std::string argument;
};

void Collect(const CLI::App& app, const std::string& path,
             std::map<std::string, CommandInfo>* commands, std::set<std::string>* value_flags) {
  CommandInfo& info = (*commands)[path];
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_positional()) {
      const std::string& name = option->get_name();
      if (name == "NAME") info.argument = "app";
      if (name == "FOLDER") info.argument = "dir";
      if (name == "SHELL") info.argument = "shell";
      continue;
    }
    const bool takes_value = option->get_items_expected_max() > 0;
    for (const std::string& name : option->get_lnames()) {
      info.flags.push_back("--" + name);
      if (takes_value) value_flags->insert("--" + name);
    }
    for (const std::string& name : option->get_snames()) {
      info.flags.push_back("-" + name);
      if (takes_value) value_flags->insert("-" + name);
    }
  }
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    info.subcommands.push_back(sub->get_name());
    Collect(*sub, path.empty() ? sub->get_name() : absl::StrCat(path, " ", sub->get_name()),
            commands, value_flags);
  }
}

}  // namespace

std::string BashCompletion(const CLI::App& root) {
  std::map<std::string, CommandInfo> commands;
  std::set<std::string> value_flags;
  Collect(root, "", &commands, &value_flags);
  const std::vector<std::string> global_flags = commands[""].flags;

  std::vector<std::string> paths;
  for (const auto& [path, info] : commands) {
    if (!path.empty()) paths.push_back(absl::StrCat("\"", path, "\""));
  }
  std::string script = absl::StrCat(
      "# bash completion for todoke. Load it with: source <(todoke completion bash)\n"
      "_todoke() {\n"
      "  local cur=\"${COMP_WORDS[COMP_CWORD]}\" prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n"
      "  local path=\"\" word i\n"
      "  for ((i = 1; i < COMP_CWORD; i++)); do\n"
      "    word=\"${COMP_WORDS[i]}\"\n"
      "    case \"${path:+$path }$word\" in\n"
      "      ",
      absl::StrJoin(paths, "|"),
      ") path=\"${path:+$path }$word\" ;;\n"
      "    esac\n"
      "  done\n"
      "  local commands=\"\" flags=\"\" argument=\"\"\n"
      "  case \"$path\" in\n");
  for (const auto& [path, info] : commands) {
    absl::StrAppend(&script, "    \"", path, "\") commands=\"",
                    absl::StrJoin(info.subcommands, " "), "\" flags=\"",
                    absl::StrJoin(info.flags, " "), "\" argument=\"", info.argument, "\" ;;\n");
  }
  absl::StrAppend(
      &script,
      "  esac\n"
      "  case \"$prev\" in\n"
      "    -o|--output) COMPREPLY=($(compgen -W \"table json yaml\" -- \"$cur\")); return ;;\n"
      "    --mode) COMPREPLY=($(compgen -W \"auto kustomize directory\" -- \"$cur\")); return ;;\n"
      "    -f|--filename) COMPREPLY=($(compgen -f -- \"$cur\")); return ;;\n"
      "    --repo-root) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;\n");
  std::vector<std::string> other_value_flags;
  for (const std::string& flag : value_flags) {
    if (flag != "-o" && flag != "--output" && flag != "--mode" && flag != "-f" &&
        flag != "--filename" && flag != "--repo-root") {
      other_value_flags.push_back(flag);
    }
  }
  if (!other_value_flags.empty()) {
    absl::StrAppend(&script, "    ", absl::StrJoin(other_value_flags, "|"),
                    ") COMPREPLY=(); return ;;\n");
  }
  absl::StrAppend(&script,
                  "  esac\n"
                  "  if [[ \"$cur\" == -* ]]; then\n"
                  "    [[ -n \"$path\" ]] && flags=\"$flags ",
                  absl::StrJoin(global_flags, " "),
                  "\"\n"
                  "    COMPREPLY=($(compgen -W \"$flags\" -- \"$cur\"))\n"
                  "  elif [[ -n \"$commands\" ]]; then\n"
                  "    COMPREPLY=($(compgen -W \"$commands\" -- \"$cur\"))\n"
                  "  elif [[ \"$argument\" == dir ]]; then\n"
                  "    COMPREPLY=($(compgen -d -- \"$cur\"))\n"
                  "  elif [[ \"$argument\" == shell ]]; then\n"
                  "    COMPREPLY=($(compgen -W \"bash\" -- \"$cur\"))\n"
                  "  elif [[ \"$argument\" == app ]]; then\n"
                  "    local names\n"
                  "    names=$(\"${COMP_WORDS[0]}\" app list --timeout=2s 2>/dev/null | "
                  "awk 'NR > 1 {print $1}')\n"
                  "    COMPREPLY=($(compgen -W \"$names\" -- \"$cur\"))\n"
                  "  fi\n"
                  "}\n"
                  "complete -F _todoke todoke\n");
  return script;
}

}  // namespace todoke::cli

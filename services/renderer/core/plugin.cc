#include "services/renderer/core/plugin.h"

#include <ftw.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/manifests.h"

namespace todoke::renderer {
namespace {

absl::StatusOr<std::vector<std::string>> StringList(const Json& value, absl::string_view what) {
  std::vector<std::string> out;
  if (value.is_null()) return out;
  if (!value.is_array()) return absl::InvalidArgumentError(absl::StrCat(what, " must be a list"));
  for (const Json& item : value) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(what, " must be a list of strings"));
    }
    out.push_back(item.get<std::string>());
  }
  return out;
}

int RemoveEntry(const char* path, const struct stat*, int, struct FTW*) {
  remove(path);
  return 0;
}

// A temporary folder removed (with its content) on destruction.
class TempDir {
 public:
  static absl::StatusOr<std::unique_ptr<TempDir>> Create(const std::string& parent) {
    std::string pattern = absl::StrCat(parent, "/todoke-plugin-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("cannot create a temporary folder in ", parent));
    }
    return std::unique_ptr<TempDir>(new TempDir(std::move(pattern)));
  }
  ~TempDir() { nftw(path_.c_str(), RemoveEntry, 16, FTW_DEPTH | FTW_PHYS); }
  const std::string& path() const { return path_; }

 private:
  explicit TempDir(std::string path) : path_(std::move(path)) {}
  std::string path_;
};

absl::Status Materialize(const FileSource& files, const std::string& dir, const std::string& target,
                         size_t& budget) {
  ASSIGN_OR_RETURN(std::vector<std::string> entries, files.ListDirectory(dir));
  for (const std::string& entry : entries) {
    const bool is_dir = entry.ends_with("/");
    const std::string name = is_dir ? entry.substr(0, entry.size() - 1) : entry;
    const std::string source = dir.empty() ? name : absl::StrCat(dir, "/", name);
    const std::string destination = absl::StrCat(target, "/", name);
    if (is_dir) {
      if (mkdir(destination.c_str(), 0755) != 0) {
        return absl::InternalError(absl::StrCat("cannot create ", destination));
      }
      RETURN_IF_ERROR(Materialize(files, source, destination, budget));
      continue;
    }
    ASSIGN_OR_RETURN(std::string content, files.ReadFile(source));
    if (content.size() > budget) {
      return absl::ResourceExhaustedError("the app folder is too large to run a plugin on");
    }
    budget -= content.size();
    std::ofstream out(destination, std::ios::binary);
    out << content;
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", destination));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<PluginConfig> ParsePluginConfig(absl::string_view text,
                                               absl::string_view source_name) {
  ASSIGN_OR_RETURN(Json root, ParseYaml(text, source_name));
  PluginConfig config;
  if (root.is_null()) return config;
  if (!root.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": expected a mapping"));
  }
  auto plugins = root.find("plugins");
  if (plugins == root.end() || plugins->is_null()) return config;
  if (!plugins->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(source_name, ": plugins must be a list"));
  }
  for (const Json& item : *plugins) {
    if (!item.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": a plugin must be a mapping"));
    }
    PluginDefinition plugin;
    if (auto name = item.find("name"); name != item.end() && name->is_string()) {
      plugin.name = name->get<std::string>();
    }
    if (plugin.name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(source_name, ": a plugin has no name"));
    }
    const std::string context = absl::StrCat(source_name, ": plugin \"", plugin.name, "\"");
    auto field = [&](const char* key) { return item.contains(key) ? item[key] : Json(); };
    absl::StatusOr<std::vector<std::string>> command = StringList(field("command"), "command");
    if (!command.ok()) return Annotate(command.status(), context);
    plugin.command = *std::move(command);
    if (plugin.command.empty() || plugin.command[0].empty()) {
      return absl::InvalidArgumentError(absl::StrCat(context, " has no command"));
    }
    absl::StatusOr<std::vector<std::string>> allowed =
        StringList(field("allowedEnv"), "allowedEnv");
    if (!allowed.ok()) return Annotate(allowed.status(), context);
    plugin.allowed_env = *std::move(allowed);
    const Json env = field("env");
    if (!env.is_null()) {
      if (!env.is_object())
        return absl::InvalidArgumentError(absl::StrCat(context, ": env must be a mapping"));
      for (const auto& [key, value] : env.items()) {
        plugin.env[key] = value.is_string() ? value.get<std::string>() : value.dump();
      }
    }
    const Json allow_args = field("allowArgs");
    if (allow_args.is_boolean()) plugin.allow_args = allow_args.get<bool>();
    const Json timeout = field("timeout");
    if (timeout.is_string()) {
      if (!absl::ParseDuration(timeout.get<std::string>(), &plugin.timeout) ||
          plugin.timeout <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat(context, ": bad timeout ", timeout.dump()));
      }
    } else if (timeout.is_number()) {
      plugin.timeout = absl::Seconds(timeout.get<double>());
    }
    if (config.plugins.contains(plugin.name)) {
      return absl::InvalidArgumentError(absl::StrCat(context, " is defined twice"));
    }
    config.plugins[plugin.name] = std::move(plugin);
  }
  return config;
}

absl::StatusOr<PluginConfig> LoadPluginConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("plugin configuration ", path, " not found"));
  std::ostringstream text;
  text << in.rdbuf();
  return ParsePluginConfig(text.str(), path);
}

PluginRunner::PluginRunner(PluginConfig config, std::shared_ptr<const ProcessRunner> runner,
                           PluginRunnerOptions options)
    : config_(std::move(config)), runner_(std::move(runner)), options_(std::move(options)) {}

absl::StatusOr<std::vector<Json>> PluginRunner::Run(const FileSource& files,
                                                    absl::string_view app_path,
                                                    const PluginRequest& request) const {
  auto found = config_.plugins.find(request.name);
  if (found == config_.plugins.end()) {
    std::vector<std::string> names;
    for (const auto& [name, plugin] : config_.plugins) names.push_back(name);
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin \"", request.name, "\" is not configured on this renderer (configured: ",
        names.empty() ? "none" : absl::StrJoin(names, ", "), ")"));
  }
  const PluginDefinition& plugin = found->second;
  if (!request.args.empty() && !plugin.allow_args) {
    return absl::FailedPreconditionError(absl::StrCat(
        "plugin \"", plugin.name,
        "\" does not accept arguments (its configuration does not set allowArgs: true)"));
  }
  for (const auto& [name, value] : request.env) {
    if (std::find(plugin.allowed_env.begin(), plugin.allowed_env.end(), name) ==
        plugin.allowed_env.end()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "plugin \"", plugin.name, "\" does not allow the environment variable ", name));
    }
  }
  if (!files.IsDirectory(app_path)) {
    return absl::NotFoundError(
        absl::StrCat("app path \"", app_path.empty() ? "." : app_path, "\" is not a directory"));
  }

  ASSIGN_OR_RETURN(std::unique_ptr<TempDir> temp, TempDir::Create(options_.temp_dir));
  const std::string work = absl::StrCat(temp->path(), "/app");
  if (mkdir(work.c_str(), 0755) != 0) return absl::InternalError("cannot create the app folder");
  size_t budget = options_.max_materialized_bytes;
  RETURN_IF_ERROR(Materialize(files, std::string(app_path), work, budget));

  std::map<std::string, std::string> env = {
      {"PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
      {"HOME", temp->path()},
      {"TODOKE_APP_PATH", std::string(app_path)},
  };
  for (const auto& [name, value] : plugin.env) env[name] = value;
  for (const auto& [name, value] : request.env) env[name] = value;

  ProcessSpec spec;
  spec.argv = plugin.command;
  spec.argv.insert(spec.argv.end(), request.args.begin(), request.args.end());
  for (const auto& [name, value] : env) spec.env.push_back(absl::StrCat(name, "=", value));
  spec.working_dir = work;
  spec.timeout = plugin.timeout > absl::ZeroDuration() ? plugin.timeout : options_.timeout;
  spec.max_stdout_bytes = options_.max_output_bytes;
  spec.stderr_tail_bytes = options_.stderr_tail_bytes;

  const std::string context = absl::StrCat("plugin \"", plugin.name, "\"");
  absl::StatusOr<ProcessResult> result = runner_->Run(spec);
  if (!result.ok()) return Annotate(result.status(), context);
  if (result->exit_code != 0) {
    std::string how = result->exit_code >= 0
                          ? absl::StrCat("exited with status ", result->exit_code)
                          : absl::StrCat("was killed by signal ", result->signal);
    return absl::InvalidArgumentError(absl::StrCat(
        context, " ", how,
        result->stderr_tail.empty() ? "" : absl::StrCat("; stderr: ", result->stderr_tail)));
  }
  ManifestParseOptions parse;
  parse.skip_non_kubernetes = false;
  return ParseManifests(result->stdout_data, absl::StrCat(context, " output"), parse);
}

}  // namespace todoke::renderer

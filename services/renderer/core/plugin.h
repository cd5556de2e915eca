// Plugin mode: a command from the renderer's configuration (an allow-list, never the repo) run
// in a private copy of the app's folder; its stdout is the manifests.
//
// Configuration file (YAML), e.g. for Helm:
//
//   plugins:
//     - name: helm
//       command: [helm, template, .]        # argv; argv[0] absolute or found in PATH
//       allowedEnv: [HELM_NAMESPACE]        # names the Application may set
//       env: {HELM_CACHE_HOME: /tmp/helm}   # fixed environment
//       allowArgs: true                     # may the Application append arguments (default true)
//       timeout: 30s                        # overrides the renderer's default
#ifndef TODOKE_SERVICES_RENDERER_CORE_PLUGIN_H_
#define TODOKE_SERVICES_RENDERER_CORE_PLUGIN_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "common/object.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/process_runner.h"

namespace todoke::renderer {

struct PluginDefinition {
  std::string name;
  std::vector<std::string> command;
  std::vector<std::string> allowed_env;
  std::map<std::string, std::string> env;
  bool allow_args = false;                        // opt-in: see allowArgs above
  absl::Duration timeout = absl::ZeroDuration();  // zero: the runner's default
};

struct PluginConfig {
  std::map<std::string, PluginDefinition, std::less<>> plugins;
};

// Parses the configuration file's text. INVALID_ARGUMENT naming `source_name` and the plugin
// for a malformed file, a plugin without name or command, or a duplicate name.
absl::StatusOr<PluginConfig> ParsePluginConfig(absl::string_view text,
                                               absl::string_view source_name = "plugins");

// Reads and parses the configuration file at `path` on local disk.
absl::StatusOr<PluginConfig> LoadPluginConfig(const std::string& path);

// What an Application asks of a plugin.
struct PluginRequest {
  std::string name;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
};

struct PluginRunnerOptions {
  absl::Duration timeout = absl::Seconds(90);
  size_t max_output_bytes = 64 << 20;
  size_t stderr_tail_bytes = 2048;
  // Where private copies of app folders are made (removed after each run).
  std::string temp_dir = "/tmp";
  // Total bytes copied out of the FileSource for one run.
  size_t max_materialized_bytes = 256 << 20;
};

class PluginRunner {
 public:
  PluginRunner(PluginConfig config, std::shared_ptr<const ProcessRunner> runner,
               PluginRunnerOptions options = {});

  // Copies the files under `app_path` into a fresh temporary folder, runs the plugin there
  // with argv = command + request.args and the environment PATH, HOME (the temporary
  // folder), TODOKE_APP_PATH, the plugin's fixed env and request.env, and parses stdout as
  // a YAML stream of objects (List kinds expanded). Errors: FAILED_PRECONDITION for an unknown
  // plugin, an env name not in allowedEnv, or args when not allowed; DEADLINE_EXCEEDED on
  // timeout; RESOURCE_EXHAUSTED for too much output; INVALID_ARGUMENT for a non-zero exit
  // (with the stderr tail) or output that is not objects; NOT_FOUND for a missing app folder.
  absl::StatusOr<std::vector<Json>> Run(const FileSource& files, absl::string_view app_path,
                                        const PluginRequest& request) const;

  const PluginConfig& config() const { return config_; }

 private:
  PluginConfig config_;
  std::shared_ptr<const ProcessRunner> runner_;
  PluginRunnerOptions options_;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_PLUGIN_H_

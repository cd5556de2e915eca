// `todoke render`: renders a folder of a local checkout in-process with the renderer core (the
// same code the renderer service runs), printing the objects as kubectl kustomize does.
#ifndef TODOKE_CLI_RENDER_COMMAND_H_
#define TODOKE_CLI_RENDER_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace CLI {
class App;
}  // namespace CLI

namespace todoke::cli {

// Where a local folder sits in its repository: `repo_root` is `--repo-root` if given, else the
// nearest ancestor (or the folder itself) holding `.git`, else the current folder if the folder
// is under it, else the folder itself; `app_path` is the folder relative to it ("" for the root).
// NOT_FOUND if the folder does not exist, INVALID_ARGUMENT if it is not inside `--repo-root`.
struct LocalAppLocation {
  std::string repo_root;
  std::string app_path;
};
absl::StatusOr<LocalAppLocation> LocateLocalApp(const std::string& folder,
                                                const std::string& repo_root_flag);

// The arguments of `todoke render`, as given (checked by RunRender).
struct RenderFlags {
  std::string folder;  // empty: the current folder
  std::string mode = "auto";
  std::string recurse = "false";  // "true" or "false"; the bare flag gives "true"
  std::string include;
  std::string exclude;
  std::vector<std::string> set;  // NAME=VALUE
  std::string repo_root;
};

// What `todoke render` does: in one line (command lists) and in full (its --help).
extern const char kRenderSummary[];
extern const char kRenderDescription[];

// Declares FOLDER and the render flags on `app` (the `render` subcommand), writing into `flags`.
void AddRenderFlags(CLI::App& app, RenderFlags* flags);

// Checks `flags` and renders. `json` selects a JSON `List` instead of a YAML stream. Returns the
// exit code: 0 rendered, 1 render failed (one error on `err`, naming the file: with line and
// column for YAML, and for text that is not UTF-8, which is refused as kustomize refuses it),
// 2 usage error. Never aborts, whatever the input.
int RunRender(const RenderFlags& flags, bool json, std::ostream& out, std::ostream& err);

// Parses `args` (those after the word render) and runs RunRender; --help prints the usage.
int RenderCommand(const std::vector<std::string>& args, bool json, std::ostream& out,
                  std::ostream& err);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_RENDER_COMMAND_H_

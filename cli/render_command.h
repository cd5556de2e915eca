// `todoke render`: renders a folder of a local checkout in-process with the renderer core (the
// same code the renderer service runs), printing the objects as kubectl kustomize does.
#ifndef TODOKE_CLI_RENDER_COMMAND_H_
#define TODOKE_CLI_RENDER_COMMAND_H_

#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace todoke::cli {

// Where a local folder sits in its repository: `repo_root` is `--repo-root` if given, else the
// nearest ancestor (or the folder itself) holding `.git`, else the current folder if the folder
// is under it, else the folder itself; `app_path` is the folder relative to it ("" for the root). NOT_FOUND if the folder does not exist,
// INVALID_ARGUMENT if it is not inside `--repo-root`.
struct LocalAppLocation {
  std::string repo_root;
  std::string app_path;
};
absl::StatusOr<LocalAppLocation> LocateLocalApp(const std::string& folder,
                                                const std::string& repo_root_flag);

// Runs `todoke render [FOLDER] [flags]` (`args` after the word render). `json` selects a JSON
// `List` instead of a YAML stream. Returns the exit code: 0 rendered, 1 render failed (the
// error, naming the file, on `err`), 2 usage error.
int RenderCommand(const std::vector<std::string>& args, bool json, std::ostream& out,
                  std::ostream& err);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_RENDER_COMMAND_H_

#include "cli/render_command.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/yaml.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"

namespace todoke::cli {
namespace {

constexpr char kRenderUsage[] = R"(Usage: todoke render [FOLDER] [flags]

Renders FOLDER (default: the current folder) of a local checkout as the renderer service would:
Kustomize when it holds a kustomization file, otherwise a plain directory of manifests; then
${VAR} substitution. Prints the objects as a YAML stream (-o json: a List). Nothing outside the
repository root is read; the root is the nearest folder holding .git unless --repo-root is given.

Flags:
  --mode M          auto (default), kustomize or directory
  --recurse         directory mode: descend into subfolders
  --include GLOBS   directory mode: comma-separated globs of files to read
  --exclude GLOBS   directory mode: comma-separated globs of files to leave out
  --set NAME=VALUE  a value for ${NAME} substitution (repeatable)
  --repo-root DIR   the repository root (default: found from .git)
)";

absl::StatusOr<std::string> RealPath(const std::string& path) {
  char resolved[PATH_MAX];
  if (realpath(path.c_str(), resolved) == nullptr) {
    return absl::NotFoundError(absl::StrCat("folder \"", path, "\" does not exist"));
  }
  return std::string(resolved);
}

bool Exists(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0;
}

bool IsDirectory(const std::string& path) {
  struct stat info;
  return stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

}  // namespace

absl::StatusOr<LocalAppLocation> LocateLocalApp(const std::string& folder,
                                                const std::string& repo_root_flag) {
  absl::StatusOr<std::string> app = RealPath(folder);
  if (!app.ok()) return app.status();
  if (!IsDirectory(*app)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", folder, "\" is not a folder"));
  }
  std::string root;
  if (!repo_root_flag.empty()) {
    absl::StatusOr<std::string> flag_root = RealPath(repo_root_flag);
    if (!flag_root.ok()) return flag_root.status();
    root = *flag_root;
  } else {
    // Outside a checkout, the current folder bounds what may be read (so `overlays/prod` can
    // still use `../../base`), or the folder itself when it is not under the current folder.
    root = *app;
    if (absl::StatusOr<std::string> cwd = RealPath(".");
        cwd.ok() && (*cwd == *app || absl::StartsWith(*app, *cwd == "/" ? "/" : *cwd + "/"))) {
      root = *cwd;
    }
    for (std::string candidate = *app;;) {
      if (Exists(candidate + "/.git")) {
        root = candidate;
        break;
      }
      const size_t slash = candidate.rfind('/');
      if (slash == std::string::npos || candidate == "/") break;
      candidate = slash == 0 ? "/" : candidate.substr(0, slash);
    }
  }
  LocalAppLocation location;
  location.repo_root = root;
  if (*app == root) return location;
  const std::string prefix = root == "/" ? "/" : root + "/";
  if (!absl::StartsWith(*app, prefix)) {
    return absl::InvalidArgumentError(
        absl::StrCat("folder \"", folder, "\" is outside the repository root \"", root, "\""));
  }
  location.app_path = app->substr(prefix.size());
  return location;
}

int RenderCommand(const std::vector<std::string>& args, bool json, std::ostream& out,
                  std::ostream& err) {
  auto usage = [&](absl::string_view problem) {
    err << "todoke render: " << problem << "\n\n" << kRenderUsage;
    return 2;
  };
  std::string folder;
  std::string repo_root;
  renderer::RenderOptions options;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string arg = args[i];
    std::string value;
    bool has_inline_value = false;
    if (absl::StartsWith(arg, "--")) {
      const size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    auto take = [&]() -> bool {
      if (has_inline_value) return true;
      if (i + 1 >= args.size()) return false;
      value = args[++i];
      return true;
    };
    if (arg == "-h" || arg == "--help") {
      out << kRenderUsage;
      return 0;
    } else if (arg == "--recurse") {
      options.directory.recurse = true;
    } else if (arg == "--mode") {
      if (!take()) return usage("--mode needs a value");
      if (value == "auto") {
        options.mode = renderer::RenderMode::kAuto;
      } else if (value == "kustomize") {
        options.mode = renderer::RenderMode::kKustomize;
      } else if (value == "directory") {
        options.mode = renderer::RenderMode::kDirectory;
      } else {
        return usage(absl::StrCat("--mode \"", value, "\" is not auto, kustomize or directory"));
      }
    } else if (arg == "--include" || arg == "--exclude") {
      if (!take()) return usage(absl::StrCat(arg, " needs a value"));
      (arg == "--include" ? options.directory.include : options.directory.exclude) = value;
    } else if (arg == "--set") {
      if (!take()) return usage("--set needs NAME=VALUE");
      const size_t eq = value.find('=');
      if (eq == std::string::npos || eq == 0) {
        return usage(absl::StrCat("--set \"", value, "\" is not NAME=VALUE"));
      }
      options.substitutions[value.substr(0, eq)] = value.substr(eq + 1);
    } else if (arg == "--repo-root") {
      if (!take()) return usage("--repo-root needs a folder");
      repo_root = value;
    } else if (absl::StartsWith(arg, "-") && arg != "-") {
      return usage(absl::StrCat("unknown flag \"", arg, "\""));
    } else if (folder.empty()) {
      folder = arg;
    } else {
      return usage(absl::StrCat("one folder only (got \"", folder, "\" and \"", arg, "\")"));
    }
  }
  if (folder.empty()) folder = ".";

  absl::StatusOr<LocalAppLocation> location = LocateLocalApp(folder, repo_root);
  if (!location.ok()) {
    err << "todoke render: " << location.status().message() << "\n";
    return 1;
  }
  renderer::DiskFileSource files(location->repo_root);
  absl::StatusOr<renderer::RenderResult> result =
      renderer::Render(files, location->app_path, options);
  if (!result.ok()) {
    err << "todoke render " << folder << ": " << result.status().message() << "\n";
    return 1;
  }
  if (json) {
    Json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}};
    for (Json& object : result->objects) list["items"].push_back(std::move(object));
    out << list.dump(2) << "\n";
  } else {
    out << EmitYamlStream(result->objects);
  }
  return out.good() ? 0 : 1;
}

}  // namespace todoke::cli

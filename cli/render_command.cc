#include "cli/render_command.h"

#include <filesystem>
#include <optional>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "cli/flag_args.h"
#include "common/status.h"
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

namespace fs = std::filesystem;

absl::StatusOr<fs::path> CanonicalFolder(const std::string& folder) {
  std::error_code error;
  fs::path path = fs::canonical(folder, error);
  if (error) return absl::NotFoundError(absl::StrCat("folder \"", folder, "\" does not exist"));
  return path;
}

// `path` relative to `base` when it is `base` or under it ("." for `base` itself).
std::optional<fs::path> RelativeInside(const fs::path& path, const fs::path& base) {
  fs::path relative = path.lexically_relative(base);
  if (relative.empty() || *relative.begin() == "..") return std::nullopt;
  return relative;
}

}  // namespace

absl::StatusOr<LocalAppLocation> LocateLocalApp(const std::string& folder,
                                                const std::string& repo_root_flag) {
  ASSIGN_OR_RETURN(fs::path app, CanonicalFolder(folder));
  std::error_code error;
  if (!fs::is_directory(app, error)) {
    return absl::InvalidArgumentError(absl::StrCat("\"", folder, "\" is not a folder"));
  }
  fs::path root;
  if (!repo_root_flag.empty()) {
    ASSIGN_OR_RETURN(root, CanonicalFolder(repo_root_flag));
  } else {
    for (fs::path candidate = app; root.empty(); candidate = candidate.parent_path()) {
      if (fs::exists(candidate / ".git", error)) root = candidate;
      if (candidate == candidate.root_path()) break;
    }
    if (root.empty()) {
      // Outside a checkout, the current folder bounds what may be read (so `overlays/prod` can
      // still use `../../base`), or the folder itself when it is not under the current folder.
      const fs::path cwd = fs::current_path(error);
      root = !error && RelativeInside(app, cwd) ? cwd : app;
    }
  }
  const std::optional<fs::path> relative = RelativeInside(app, root);
  if (!relative.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "folder \"", folder, "\" is outside the repository root \"", root.string(), "\""));
  }
  LocalAppLocation location;
  location.repo_root = root.string();
  if (*relative != ".") location.app_path = relative->string();
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
    const FlagArg flag = SplitFlag(args[i]);
    const std::string& arg = flag.name;
    const bool has_inline_value = flag.inline_value.has_value();
    std::string value = flag.inline_value.value_or("");
    auto take = [&]() -> bool {
      std::optional<std::string> taken = TakeFlagValue(flag, args, i);
      if (!taken.has_value()) return false;
      value = *std::move(taken);
      return true;
    };
    if (arg == "-h" || arg == "--help") {
      out << kRenderUsage;
      return 0;
    } else if (arg == "--recurse") {
      // --recurse, --recurse=true or --recurse=false.
      if (has_inline_value && value != "true" && value != "false") {
        return usage(absl::StrCat("--recurse takes true or false, not \"", value, "\""));
      }
      options.directory.recurse = !has_inline_value || value == "true";
    } else if (arg == "--mode") {
      if (!take()) return usage("--mode needs a value");
      bool known = false;
      for (renderer::RenderMode mode : {renderer::RenderMode::kAuto,
                                        renderer::RenderMode::kKustomize,
                                        renderer::RenderMode::kDirectory}) {
        if (value == renderer::RenderModeName(mode)) {
          options.mode = mode;
          known = true;
        }
      }
      if (!known) {
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

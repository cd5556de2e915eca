#include "cli/render_command.h"

#include <algorithm>
#include <filesystem>
#include <optional>

#include "CLI/CLI.hpp"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/object.h"
#include "common/status.h"
#include "common/utf8.h"
#include "common/yaml.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"

namespace todoke::cli {
namespace {

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

const char kRenderSummary[] =
    "Render a local folder in-process, as the renderer service would (needs no server)";

const char kRenderDescription[] =
    "Renders FOLDER (default: the current folder) of a local checkout as the renderer service\n"
    "would: Kustomize when it holds a kustomization file, otherwise a plain directory of\n"
    "manifests; then ${VAR} substitution. Prints the objects as a YAML stream (-o json: a List).\n"
    "Nothing outside the repository root is read; the root is the nearest folder holding .git\n"
    "unless --repo-root is given. Needs no server.";

void AddRenderFlags(CLI::App& app, RenderFlags* flags) {
  app.add_option("FOLDER", flags->folder, "Folder to render (default: the current folder)")
      ->type_name("");
  app.add_option("--mode", flags->mode, "auto (default), kustomize or directory")
      ->type_name("MODE");
  app.add_flag("--recurse{true}", flags->recurse,
               "Directory mode: descend into subfolders (--recurse=false: do not)");
  app.add_option("--include", flags->include,
                 "Directory mode: comma-separated globs of files to read")
      ->type_name("GLOBS");
  app.add_option("--exclude", flags->exclude,
                 "Directory mode: comma-separated globs of files to leave out")
      ->type_name("GLOBS");
  app.add_option("--set", flags->set, "A value for ${NAME} substitution (repeatable)")
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      ->type_name("NAME=VALUE");
  app.add_option("--repo-root", flags->repo_root, "The repository root (default: found from .git)")
      ->type_name("DIR");
}

namespace {

// The JSON pointer of the first key or string under `value` that is not valid UTF-8 (the text
// in `*bad`), or nullopt.
std::optional<std::string> FindInvalidUtf8(const Json& value, std::string* bad) {
  auto escape = [](const std::string& token) {
    std::string escaped;
    for (char c : token) {
      if (c == '~') {
        escaped += "~0";
      } else if (c == '/') {
        escaped += "~1";
      } else {
        escaped += c;
      }
    }
    return escaped;
  };
  if (value.is_string()) {
    const std::string& text = value.get_ref<const std::string&>();
    if (IsValidUtf8(text)) return std::nullopt;
    *bad = text;
    return "";
  }
  if (value.is_object()) {
    for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
      if (!IsValidUtf8(key)) {
        *bad = key;
        return "/" + escape(key);
      }
      if (std::optional<std::string> inner = FindInvalidUtf8(member, bad)) {
        return "/" + escape(key) + *inner;
      }
    }
  } else if (value.is_array()) {
    const Json::array_t& items = value.get_ref<const Json::array_t&>();
    for (size_t i = 0; i < items.size(); ++i) {
      if (std::optional<std::string> inner = FindInvalidUtf8(items[i], bad)) {
        return absl::StrCat("/", i, *inner);
      }
    }
  }
  return std::nullopt;
}

// OK when every key and string of the rendered objects is valid UTF-8. Otherwise
// INVALID_ARGUMENT naming the input file that holds the bad bytes (line and column of the
// first), as kustomize's YAML reader refuses such a file; JSON output could not carry them.
absl::Status CheckUtf8(const renderer::RenderResult& result, const renderer::FileSource& files) {
  for (const Json& object : result.objects) {
    std::string bad;
    const std::optional<std::string> pointer = FindInvalidUtf8(object, &bad);
    if (!pointer.has_value()) continue;
    const std::string where =
        absl::StrCat(KindAndName(object), " at ", pointer->empty() ? "/" : *pointer);
    // The input holding those bytes; else the first input that is not UTF-8 at all.
    std::string file;
    std::string content;
    for (const renderer::InputFile& input : result.inputs) {
      absl::StatusOr<std::string> text = files.ReadFile(input.path);
      if (!text.ok() || IsValidUtf8(*text)) continue;
      const bool holds_value = absl::StrContains(*text, bad);
      if (file.empty() || holds_value) {
        file = input.path;
        content = *std::move(text);
      }
      if (holds_value) break;
    }
    if (file.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": not valid UTF-8"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(InvalidUtf8Message(content, file), ", read into ", where));
  }
  return absl::OkStatus();
}

}  // namespace

int RunRender(const RenderFlags& flags, bool json, std::ostream& out, std::ostream& err) {
  auto usage = [&](absl::string_view problem) {
    err << "todoke render: " << problem << "\n\nRun `todoke render --help` for usage.\n";
    return 2;
  };
  renderer::RenderOptions options;
  if (flags.recurse != "true" && flags.recurse != "false") {
    return usage(absl::StrCat("--recurse takes true or false, not \"", flags.recurse, "\""));
  }
  options.directory.recurse = flags.recurse == "true";
  bool known_mode = false;
  for (renderer::RenderMode mode : {renderer::RenderMode::kAuto, renderer::RenderMode::kKustomize,
                                    renderer::RenderMode::kDirectory}) {
    if (flags.mode == renderer::RenderModeName(mode)) {
      options.mode = mode;
      known_mode = true;
    }
  }
  if (!known_mode) {
    return usage(absl::StrCat("--mode \"", flags.mode, "\" is not auto, kustomize or directory"));
  }
  options.directory.include = flags.include;
  options.directory.exclude = flags.exclude;
  for (const std::string& assignment : flags.set) {
    const size_t eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      return usage(absl::StrCat("--set \"", assignment, "\" is not NAME=VALUE"));
    }
    if (!IsValidUtf8(assignment)) {
      return usage(absl::StrCat("--set ", assignment.substr(0, eq), ": the value is not UTF-8"));
    }
    options.substitutions[assignment.substr(0, eq)] = assignment.substr(eq + 1);
  }
  // Print what kustomize prints, objects without apiVersion (a custom kind) included.
  options.allow_keyless_objects = true;
  // Printing needs no digest, canonical JSON or blob ids (~10% of a render).
  options.objects_only = true;
  const std::string folder = flags.folder.empty() ? "." : flags.folder;

  absl::StatusOr<LocalAppLocation> location = LocateLocalApp(folder, flags.repo_root);
  if (!location.ok()) {
    err << "todoke render: " << location.status().message() << "\n";
    return 1;
  }
  renderer::DiskFileSource files(location->repo_root);
  absl::StatusOr<renderer::RenderResult> result =
      renderer::Render(files, location->app_path, options);
  absl::Status checked = result.ok() ? CheckUtf8(*result, files) : result.status();
  if (!checked.ok()) {
    err << "todoke render " << folder << ": " << checked.message() << "\n";
    return 1;
  }
  if (json) {
    Json list = {{"apiVersion", "v1"}, {"kind", "List"}, {"items", Json::array()}};
    for (Json& object : result->objects) list["items"].push_back(std::move(object));
    // CheckUtf8 made sure dump() has nothing to refuse; replace rather than throw regardless.
    out << list.dump(2, ' ', false, Json::error_handler_t::replace) << "\n";
  } else {
    out << EmitYamlStream(result->objects);
    // `todoke render` ends with this: the objects go to a holder that is never freed, which
    // spares freeing their nodes one by one (2 M instructions, 5% of a render of Argo CD's
    // manifests/base) just before the process returns the memory anyway. A later call in the
    // same process (tests) frees the previous call's objects.
    static auto* const printed = new std::vector<Json>();
    *printed = std::move(result->objects);
  }
  return out.good() ? 0 : 1;
}

int RenderCommand(const std::vector<std::string>& args, bool json, std::ostream& out,
                  std::ostream& err) {
  CLI::App app(kRenderSummary, "todoke render");
  RenderFlags flags;
  AddRenderFlags(app, &flags);
  app.footer(kRenderDescription);
  try {
    app.parse(std::vector<std::string>(args.rbegin(), args.rend()));
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    err << "todoke render: " << e.what() << "\n\nRun `todoke render --help` for usage.\n";
    return 2;
  }
  return RunRender(flags, json, out, err);
}

}  // namespace todoke::cli

#include "services/renderer/core/directory.h"

#include <algorithm>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/object.h"
#include "common/status.h"
#include "services/renderer/core/glob.h"
#include "services/renderer/core/manifests.h"

namespace todoke::renderer {
namespace {

struct Walk {
  const FileSource& files;
  const DirectoryOptions& options;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string root;
  std::vector<Json> objects;
  // Each object's identity (group, kind, namespace, name; not the version) and its file.
  std::map<std::string, std::string> seen;

  absl::Status Visit(const std::string& dir) {
    ASSIGN_OR_RETURN(std::vector<std::string> entries, files.ListDirectory(dir));
    // filepath.Walk order: by name, where a folder sorts under its bare name.
    auto bare = [](const std::string& name) {
      return name.ends_with("/") ? absl::string_view(name).substr(0, name.size() - 1)
                                 : absl::string_view(name);
    };
    std::stable_sort(entries.begin(), entries.end(),
                     [&](const std::string& a, const std::string& b) { return bare(a) < bare(b); });
    for (const std::string& entry : entries) {
      std::string path =
          dir.empty() ? std::string(bare(entry)) : absl::StrCat(dir, "/", bare(entry));
      if (entry.ends_with("/")) {
        if (options.recurse) RETURN_IF_ERROR(Visit(path));
        continue;
      }
      RETURN_IF_ERROR(VisitFile(path));
    }
    return absl::OkStatus();
  }

  absl::Status VisitFile(const std::string& path) {
    const bool json = path.ends_with(".json");
    if (!json && !path.ends_with(".yaml") && !path.ends_with(".yml")) {
      return absl::OkStatus();
    }
    absl::string_view relative = absl::string_view(path).substr(root.empty() ? 0 : root.size() + 1);
    if (!exclude.empty() && GlobMatchAny(exclude, relative)) return absl::OkStatus();
    if (!include.empty() && !GlobMatchAny(include, relative)) return absl::OkStatus();
    ASSIGN_OR_RETURN(std::string text, files.ReadFile(path));
    ManifestParseOptions parse;
    parse.skip_non_kubernetes = true;
    parse.json = json;
    ASSIGN_OR_RETURN(std::vector<Json> found, ParseManifests(text, path, parse));
    for (Json& object : found) {
      // Two copies of one object: kustomize refuses them ("may not add resource with an already
      // registered id"); so does directory mode. An object without a key is left to Render.
      if (absl::StatusOr<ObjectKey> key = KeyOf(object); key.ok()) {
        auto [it, added] = seen.try_emplace(
            absl::StrCat(key->group, "/", key->kind, "/", key->ns, "/", key->name), path);
        if (!added) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": may not add resource with an already registered id: ", key->ToString(),
              " (also in ", it->second, ")"));
        }
      }
      objects.push_back(std::move(object));
    }
    return absl::OkStatus();
  }
};

}  // namespace

absl::StatusOr<std::vector<Json>> RenderDirectory(const FileSource& files, absl::string_view dir,
                                                  const DirectoryOptions& options) {
  if (!files.IsDirectory(dir)) {
    return absl::NotFoundError(
        absl::StrCat("app path \"", dir.empty() ? "." : dir, "\" is not a directory"));
  }
  Walk walk{files,
            options,
            SplitGlobList(options.include),
            SplitGlobList(options.exclude),
            std::string(dir),
            {},
            {}};
  RETURN_IF_ERROR(walk.Visit(std::string(dir)));
  return std::move(walk.objects);
}

}  // namespace todoke::renderer

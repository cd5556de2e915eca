// Directory mode: every manifest file of a folder, as Argo CD's "directory" source reads them.
#ifndef TODOKE_SERVICES_RENDERER_CORE_DIRECTORY_H_
#define TODOKE_SERVICES_RENDERER_CORE_DIRECTORY_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/renderer/core/file_source.h"

namespace todoke::renderer {

struct DirectoryOptions {
  // Descend into subfolders.
  bool recurse = false;
  // Comma-separated globs over paths relative to the app folder (see glob.h); empty: all.
  std::string include;
  // Comma-separated globs; a matching file is left out even if included.
  std::string exclude;
};

// The objects of every `.yaml`, `.yml` and `.json` file under `dir`, in walk order (entries
// sorted by name, a folder's files where the folder sorts). Multi-document files give several
// objects; `*List` kinds are expanded; empty documents are skipped; files that are not
// Kubernetes YAML are skipped unless they contain "apiVersion:", "kind:" and "metadata:", in
// which case a parse failure is an error "path:line:col: ...". NOT_FOUND if `dir` is not a
// directory.
absl::StatusOr<std::vector<Json>> RenderDirectory(const FileSource& files, absl::string_view dir,
                                                  const DirectoryOptions& options = {});

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_DIRECTORY_H_

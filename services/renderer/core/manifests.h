// Kubernetes objects out of manifest text (YAML streams or JSON), as the directory mode and the
// plugin mode read them.
#ifndef TODOKE_SERVICES_RENDERER_CORE_MANIFESTS_H_
#define TODOKE_SERVICES_RENDERER_CORE_MANIFESTS_H_

#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::renderer {

struct ManifestParseOptions {
  // Argo CD's directory rule: a file that does not parse, or holds documents that are not
  // Kubernetes objects, is skipped silently unless its text contains "apiVersion:", "kind:" and
  // "metadata:" (then it is an error). When false, anything that is not an object is an error.
  bool skip_non_kubernetes = false;
  // Parse as JSON (one value) rather than as a YAML stream.
  bool json = false;
};

// The objects in `text`, in order: empty documents skipped, `*List` kinds (a kind ending in
// "List" with an `items` array) replaced by their items. `source_name` (a path) prefixes errors,
// with line and column for syntax errors: INVALID_ARGUMENT "path:line:col: message".
absl::StatusOr<std::vector<Json>> ParseManifests(absl::string_view text,
                                                 absl::string_view source_name,
                                                 const ManifestParseOptions& options = {});

// Appends `object` to `out`, expanding `*List` kinds recursively. INVALID_ARGUMENT (naming
// `source_name`) if a list item is not a Kubernetes object.
absl::Status AppendExpandingLists(Json object, absl::string_view source_name,
                                  std::vector<Json>& out);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_MANIFESTS_H_

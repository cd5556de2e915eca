// Where the Git destination puts each object of an app: the file layout of a hydrated branch.
//
//   <path>/.todoke-app                                    the app's marker: its name and a newline
//   <path>/<namespace>/<group>.<kind>.<name>.yaml         a namespaced object
//   <path>/_cluster/<group>.<kind>.<name>.yaml            an object without metadata.namespace
//
// <group> is "core" for the core API group; <kind> is lowercased ("apps.deployment.web.yaml");
// the file holds the object as `kubectl kustomize` prints it (common/yaml.h EmitYaml). Objects
// with no namespace (cluster-scoped kinds, or namespaced ones relying on a default namespace) go
// to `_cluster`: the layout needs no discovery.
//
// Every component is made path-safe: bytes other than ASCII letters, digits, '-' and '.' are
// written as %XX (uppercase hex), and so is a leading '.', so no component can be empty, ".",
// "..", hidden, hold a '/' or a NUL, or read as `_cluster` or the marker. Kubernetes names (DNS
// subdomains and labels) never need escaping. A file name longer than 255 bytes is refused.
// Several keys may still map to one file (group "a.b" kind "c" vs group "a" kind "b.c", or
// kinds differing in case): the destination detects that by the object in the file.
#ifndef TODOKE_SERVICES_APPLIER_CORE_GIT_LAYOUT_H_
#define TODOKE_SERVICES_APPLIER_CORE_GIT_LAYOUT_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::applier {

inline constexpr absl::string_view kAppMarkerFile = ".todoke-app";
inline constexpr absl::string_view kClusterScopeFolder = "_cluster";
inline constexpr absl::string_view kObjectFileSuffix = ".yaml";

// `text` with every byte outside [A-Za-z0-9.-], and a leading '.', written as %XX.
std::string EscapePathComponent(absl::string_view text);

// The app folder in normal form: components joined by '/', no leading or trailing '/', "" for
// the repository root ("", "/", "." and "./" all mean the root; "a//b/./" is "a/b").
// INVALID_ARGUMENT for a ".." component, a ".git" or ".todoke-app" component, a NUL, control
// character or backslash, a component over 255 bytes or a path over 1024 bytes.
absl::StatusOr<std::string> NormalizeAppPath(absl::string_view path);

// The file of `key` relative to its app folder:
// "<namespace|_cluster>/<group|core>.<kind>.<name>.yaml". INVALID_ARGUMENT for a key without kind
// or name, or a file name over 255 bytes.
absl::StatusOr<std::string> ObjectFilePath(const ObjectKey& key);

// "folder/relative", or `relative` when `folder` is the root ("").
std::string JoinRepoPath(absl::string_view folder, absl::string_view relative);

// True if two normalised app folders overlap: equal, or one inside the other ("" overlaps all).
bool AppPathsOverlap(absl::string_view a, absl::string_view b);

// True if `relative` (a path under an app folder) has the shape of an object file:
// exactly "<folder>/<file>.yaml", the folder not starting with '.'.
bool IsObjectFilePath(absl::string_view relative);

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_LAYOUT_H_

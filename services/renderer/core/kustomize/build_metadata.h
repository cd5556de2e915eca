// buildMetadata: the annotations kustomize writes when the top kustomization asks for them
// (`config.kubernetes.io/origin`: the file a resource came from, or the generator that made
// it; `alpha.config.kubernetes.io/transformations`: every transformer that ran over it) and
// the `app.kubernetes.io/managed-by` label. The text of both annotations is kyaml's rendering
// of kustomize's resource.Origin (fields in its order: path, configuredIn, configuredBy).
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_BUILD_METADATA_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_BUILD_METADATA_H_

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

inline constexpr char kOriginAnnotation[] = "config.kubernetes.io/origin";
inline constexpr char kTransformationsAnnotation[] = "alpha.config.kubernetes.io/transformations";
inline constexpr char kManagedByLabel[] = "app.kubernetes.io/managed-by";
// What `kubectl kustomize` (kubectl v1.32, kustomize v5.5.0 built in without a release
// version) writes in the managed-by label; a standalone kustomize binary writes its version.
inline constexpr char kManagedByValue[] = "kustomize-(devel)";

// Where a resource or a plugin came from.
struct Origin {
  std::string path;           // file the resource was read from (relative to the top folder)
  std::string configured_in;  // kustomization or plugin file that configured the generator
  std::string api_version;    // configuredBy
  std::string kind;
  std::string name;
  std::string ns;
};

// filepath.Join of two slash paths, cleaned ("../base" + "x.yaml" = "../base/x.yaml",
// "a" + "../b" = "b"); "" parts are skipped.
std::string JoinClean(absl::string_view base, absl::string_view path);

// The origin of a builtin generator or transformer configured by kustomization file `file`
// (its path relative to the top folder).
Origin BuiltinOrigin(absl::string_view configured_in, absl::string_view kind);

// The origin of a plugin configured by `config` (a generators:/transformers: object); false
// when `config` carries no origin annotation (buildMetadata off).
bool PluginOrigin(const Json& config, Origin& origin);

// Sets the origin annotation to the file `path`.
void SetFileOrigin(Json& object, absl::string_view path);

// Sets the origin annotation of every resource in `resources` that has none.
void SetOriginIfMissing(std::vector<Resource>& resources, const Origin& origin);

// What kustomize does after a transformer with `origin` ran: a resource without an origin
// annotation gets `origin` as its origin, the others get it appended to their transformations.
void AddTransformation(std::vector<Resource>& resources, const Origin& origin);

// The end of a build: drops the annotations the top kustomization did not ask for, and adds
// the managed-by label when it did.
void FinishBuildMetadata(std::vector<Resource>& resources,
                         const std::vector<std::string>& build_metadata);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_BUILD_METADATA_H_

// `replacements` (copy a field of one resource into fields of others) and the legacy `vars`
// ($(NAME) substitution in the varReference fields).
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_REPLACEMENTS_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_REPLACEMENTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Applies the kustomization's `replacements` (inline entries and `path:` files).
absl::Status ApplyReplacements(const FileSource& files, const Kustomization& kustomization,
                               std::vector<Resource>& resources);

// A declared var: where its value comes from.
struct Var {
  std::string name;
  std::string group;
  std::string version;
  std::string kind;
  std::string object_name;
  std::string ns;
  std::string field_path = "metadata.name";
  std::string declared_in;  // kustomization file
};

// Parses a kustomization's `vars`.
absl::StatusOr<std::vector<Var>> ParseVars(const Kustomization& kustomization);

// Binds each of `vars` (declared by one kustomization) to the one resource of `resources`
// (that kustomization's accumulated resources) its objref names by any of its ids: group,
// version, kind and name, and the namespace when the objref gives one. A var naming no resource
// stays unbound; INVALID_ARGUMENT when it names several.
absl::Status BindVars(std::vector<Resource>& resources, const std::vector<Var>& vars);

// Resolves `vars` against `resources` and substitutes $(NAME) in the `var_reference` fields.
// INVALID_ARGUMENT when a var matches no resource or several, or its field is missing.
absl::Status ResolveVars(std::vector<Resource>& resources, const std::vector<Var>& vars,
                         const std::vector<FieldSpec>& var_reference);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_REPLACEMENTS_H_

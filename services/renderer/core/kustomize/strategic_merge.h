// Strategic merge patches as kustomize (kyaml merge2) applies them: maps merge recursively,
// `null` deletes a field, lists with a Kubernetes merge key (containers by name, ports by
// containerPort, env by name, volumes by name, ...) merge element by element with the patch's
// elements first, other lists are replaced, and the `$patch` directives (delete, replace,
// merge) are honoured. The merge keys come from a compiled table of the built-in API types;
// lists of custom resources are replaced, as kustomize does without a schema.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke::renderer::kustomize {

// A custom OpenAPI schema (a kustomization's `openapi: {path: ...}`, swagger 2
// `definitions` in JSON or YAML): for the kinds its definitions name in
// x-kubernetes-group-version-kind, list merges follow its x-kubernetes-patch-strategy,
// x-kubernetes-patch-merge-key and x-kubernetes-list-map-keys instead of the built-in table.
class MergeSchema {
 public:
  // INVALID_ARGUMENT naming `source` when `document` has no `definitions` mapping.
  // `with_builtin`: kustomize also holds its built-in Kubernetes schema beside the custom one
  // (it parses it when a resource was loaded before the custom schema was set); without it,
  // kinds the file does not define merge every list by replacement, as kustomize then does.
  static absl::StatusOr<std::shared_ptr<const MergeSchema>> Parse(const Json& document,
                                                                  absl::string_view source,
                                                                  bool with_builtin);

  bool with_builtin() const { return with_builtin_; }

  // The definition for apiVersion/kind, nullptr when the schema does not name the kind.
  const Json* Definition(absl::string_view api_version, absl::string_view kind) const;
  // The schema of the value at `path` (field names; lists are stepped into) under
  // `definition`, with $refs resolved; nullptr when unknown. *external is set when the walk
  // reached a $ref to a definition the file does not hold (kustomize then resolves it in the
  // built-in Kubernetes schema it merges with the custom one).
  const Json* Lookup(const Json& definition, const std::vector<std::string>& path,
                     bool* external) const;

 private:
  const Json* Resolve(const Json* schema, bool* external = nullptr) const;

  Json definitions_;
  std::map<std::string, std::string> by_type_;
  bool with_builtin_ = false;  // "apiVersion\x1fkind" -> definition name
};

// Makes `schema` (may be null) the custom schema of every strategic merge on this thread, as
// kustomize's process-wide openapi.SetSchema does for one build. Builds set it at their start.
void SetThreadMergeSchema(std::shared_ptr<const MergeSchema> schema);

// Applies `patch` to `target` in place. Returns false if the patch deletes the whole object
// (`$patch: delete` at the top), true otherwise. INVALID_ARGUMENT for a malformed directive.
absl::StatusOr<bool> ApplyStrategicMergePatch(Json& target, const Json& patch);

// Removes the `$patch`, `$retainKeys`, `$setElementOrder/...` and `$deleteFromPrimitiveList/...`
// directives from a value (used when a patch adds a value the target lacks).
void StripPatchDirectives(Json& value);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_STRATEGIC_MERGE_H_

// kustomize's builtin plugins configured by objects: the entries of a kustomization's
// `generators:` and `transformers:` that name a builtin (`apiVersion: builtin`) generator
// (ConfigMapGenerator, SecretGenerator, IAMPolicyGenerator) or transformer (PrefixSuffix,
// Prefix, Suffix, Label, Annotations, Namespace, ImageTag, ReplicaCount, Patch,
// PatchJson6902, PatchStrategicMerge, Replacement, ValueAdd). Each runs with the semantics of
// kustomize's plugin of that kind (api v0.18.0): the field specs come from the configuration
// only (no defaults), file paths inside a configuration are relative to the kustomization that
// lists it, and generator options are the plugin's own (the kustomization's generatorOptions
// do not apply). Exec, container and Go plugins, Helm and the SortOrderTransformer (which
// kustomize does not load as a plugin) are refused.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PLUGINS_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PLUGINS_H_

#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/kustomization.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

// Checks that `config` (one object from `generators:`/`transformers:`, read from `source`)
// names a builtin plugin of the right role. INVALID_ARGUMENT "unable to load builtin ..." for
// an unknown builtin kind; UNIMPLEMENTED for exec/container/Go plugins and Helm.
absl::Status CheckBuiltinPlugin(const Json& config, bool generator, absl::string_view source);

// Runs the builtin generator `config` for kustomization `k`: the objects it generates, to be
// absorbed like configMapGenerator output (behavior create/merge/replace). Errors name
// `source` (the file or kustomization holding the configuration).
absl::StatusOr<std::vector<Resource>> RunBuiltinGenerator(const FileSource& files,
                                                          const Kustomization& k,
                                                          const Json& config,
                                                          absl::string_view source);

// Applies the builtin transformer `config` to `resources`.
absl::Status RunBuiltinTransformer(const FileSource& files, const Kustomization& k,
                                   const Json& config, absl::string_view source,
                                   std::vector<Resource>& resources);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_PLUGINS_H_

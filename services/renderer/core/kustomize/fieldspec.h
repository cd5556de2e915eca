// Field specs: where in which kinds a transformer acts ("spec/template/metadata/labels" in
// Deployments), kustomize's default tables compiled in as data, and the walker that visits the
// fields a spec names.
#ifndef TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_FIELDSPEC_H_
#define TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_FIELDSPEC_H_

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/object.h"
#include "services/renderer/core/kustomize/resource.h"

namespace todoke::renderer::kustomize {

struct FieldSpec {
  std::string group;
  std::string version;
  std::string kind;
  // '/'-separated; "\/" escapes a slash inside a key; "name[]" marks a list.
  std::string path;
  bool create = false;

  bool operator==(const FieldSpec& other) const = default;
};

// Referrals of one kind (e.g. ConfigMap) and the fields that hold their names.
struct NameReferenceSpec {
  FieldSpec referral;  // group/version/kind of the referred-to object (path unused)
  std::vector<FieldSpec> referrers;
};

// Default tables (generated from kustomize's builtin configuration).
const std::vector<FieldSpec>& DefaultNamePrefixFieldSpecs();
const std::vector<FieldSpec>& DefaultNameSuffixFieldSpecs();
const std::vector<FieldSpec>& DefaultCommonLabelsFieldSpecs();
const std::vector<FieldSpec>& DefaultTemplateLabelsFieldSpecs();
const std::vector<FieldSpec>& DefaultVolumeClaimTemplateLabelsFieldSpecs();
const std::vector<FieldSpec>& DefaultCommonAnnotationsFieldSpecs();
const std::vector<FieldSpec>& DefaultNamespaceFieldSpecs();
const std::vector<FieldSpec>& DefaultVarReferenceFieldSpecs();
const std::vector<FieldSpec>& DefaultImagesFieldSpecs();
const std::vector<FieldSpec>& DefaultReplicasFieldSpecs();
const std::vector<NameReferenceSpec>& DefaultNameReferenceSpecs();

// The transformer configuration in effect for a kustomization: defaults plus what
// `configurations:` files (and sub-kustomizations) add.
struct TransformerConfig {
  std::vector<FieldSpec> name_prefix;
  std::vector<FieldSpec> name_suffix;
  std::vector<FieldSpec> common_labels;
  std::vector<FieldSpec> labels;  // what `labels:` entries use beside their own fields
  std::vector<FieldSpec> template_labels;
  std::vector<FieldSpec> volume_claim_template_labels;
  std::vector<FieldSpec> common_annotations;
  std::vector<FieldSpec> namespace_;
  std::vector<FieldSpec> var_reference;
  std::vector<FieldSpec> images;
  std::vector<FieldSpec> replicas;
  std::vector<NameReferenceSpec> name_reference;
  // Whether the defaults were merged in (MergeFrom then skips merging them again), and whether
  // this is Defaults() itself.
  bool includes_defaults = false;
  bool is_defaults = false;

  // kustomize's default configuration, as an accumulator holds it: each list sorted by gvk
  // and merged into an empty configuration (see MergeFrom).
  static const TransformerConfig& Defaults();
  // Adds the entries of `other` not present yet (plain equality, no sorting).
  void Merge(const TransformerConfig& other);
  // kustomize's TransformerConfig.Merge: each field spec of `other` is added unless one already
  // here has the same path and a gvk `other`'s selects (so a kind-specific spec that sorts
  // first hides a later generic one, as in kustomize); then every list is sorted by gvk in
  // kustomize's order. INVALID_ARGUMENT "conflicting fieldspecs" when such a spec differs in
  // `create`.
  absl::Status MergeFrom(const TransformerConfig& other);
};

// Parses a `configurations:` file (a TransformerConfig in YAML) already parsed to JSON.
absl::StatusOr<TransformerConfig> ParseTransformerConfig(const Json& value,
                                                         absl::string_view source);

// The transformer configuration kustomize reads from a `crds:` file (OpenAPI definitions keyed
// by Go type name, JSON or YAML, as produced by openapi-gen): for each definition that looks
// like a Kubernetes type, properties marked x-kubernetes-annotation, -label-selector and
// -identity add commonAnnotations, commonLabels and namePrefix field specs, and properties with
// x-kubernetes-object-ref-kind / -api-version (and -name-key) add name references.
TransformerConfig ParseCrdConfig(const Json& document);

// Parses a list of field specs ({path, group, version, kind, create}). Unknown fields are
// errors when `strict` (kustomizations and `configurations:` files), ignored otherwise (plugin
// configurations, which kustomize reads leniently).
absl::StatusOr<std::vector<FieldSpec>> ParseFieldSpecs(const Json& value, absl::string_view source,
                                                       bool strict = true);

// True if `spec` applies to an object with this id.
bool FieldSpecSelects(const FieldSpec& spec, const ResId& id);

// What to create when the last field of a spec is missing and `create` is set.
enum class CreateKind { kNone, kMap, kScalar };

// Visits the values at `spec.path` in `object` (sequences along the path are traversed
// element by element). When the last field is missing and spec.create is set, it is created
// (as `create_kind`, null scalar for kScalar) before the visit; missing intermediate mappings are
// created too. `visit` may modify the value in place.
absl::Status VisitFieldSpec(Json& object, const FieldSpec& spec, CreateKind create_kind,
                            const std::function<absl::Status(Json&)>& visit);

// Splits a field spec path into fields (handles "\/" escapes and strips "[]").
std::vector<std::string> SplitFieldPath(absl::string_view path);

}  // namespace todoke::renderer::kustomize

#endif  // TODOKE_SERVICES_RENDERER_CORE_KUSTOMIZE_FIELDSPEC_H_

#include "services/renderer/core/kustomize/fieldspec.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "services/renderer/core/kustomize/sort.h"

namespace todoke::renderer::kustomize {
namespace {

void AppendUnique(std::vector<FieldSpec>& into, const std::vector<FieldSpec>& from) {
  for (const FieldSpec& spec : from) {
    if (std::find(into.begin(), into.end(), spec) == into.end()) into.push_back(spec);
  }
}

// The entry of `references` for the referral with `referral`'s group, version and kind, or end.
std::vector<NameReferenceSpec>::iterator FindReferral(std::vector<NameReferenceSpec>& references,
                                                      const FieldSpec& referral) {
  return std::find_if(references.begin(), references.end(), [&](const NameReferenceSpec& existing) {
    return existing.referral.group == referral.group &&
           existing.referral.version == referral.version && existing.referral.kind == referral.kind;
  });
}

// `lists` marks the fields written "name[]": a missing list is never created (kustomize's
// field specs create mappings and scalars, not sequences).
absl::Status VisitPath(Json& node, const std::vector<std::string>& fields,
                       const std::vector<bool>& lists, size_t index, bool create,
                       CreateKind create_kind, const std::function<absl::Status(Json&)>& visit) {
  if (node.is_array()) {
    for (Json& element : node) {
      RETURN_IF_ERROR(VisitPath(element, fields, lists, index, create, create_kind, visit));
    }
    return absl::OkStatus();
  }
  if (index == fields.size()) return visit(node);
  if (!node.is_object()) return absl::OkStatus();
  const std::string& field = fields[index];
  auto it = node.find(field);
  bool last = index + 1 == fields.size();
  if (it == node.end() || it->is_null()) {
    if (!create || lists[index]) return absl::OkStatus();
    if (last) {
      if (create_kind == CreateKind::kNone) return absl::OkStatus();
      node[field] = create_kind == CreateKind::kMap ? Json::object() : Json();
    } else {
      node[field] = Json::object();
    }
    it = node.find(field);
  }
  return VisitPath(*it, fields, lists, index + 1, create, create_kind, visit);
}

}  // namespace

std::vector<std::string> SplitFieldPath(absl::string_view path) {
  std::vector<std::string> fields;
  std::string current;
  for (size_t i = 0; i < path.size(); ++i) {
    char c = path[i];
    if (c == '\\' && i + 1 < path.size() && path[i + 1] == '/') {
      current.push_back('/');
      ++i;
      continue;
    }
    if (c == '/') {
      fields.push_back(std::move(current));
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  fields.push_back(std::move(current));
  for (std::string& field : fields) {
    absl::string_view view(field);
    if (absl::ConsumeSuffix(&view, "[]")) field = std::string(view);
  }
  return fields;
}

bool FieldSpecSelects(const FieldSpec& spec, const ResId& id) {
  return GvkSelected(id, spec.group, spec.version, spec.kind);
}

absl::Status VisitFieldSpec(Json& object, const FieldSpec& spec, CreateKind create_kind,
                            const std::function<absl::Status(Json&)>& visit) {
  std::vector<std::string> fields = SplitFieldPath(spec.path);
  const bool create = spec.create && create_kind != CreateKind::kNone;
  std::vector<bool> lists(fields.size(), false);
  // Only a walk that creates fields reads which ones are lists.
  if (create) {
    // Which fields are written as lists ("name[]"), to leave missing ones alone.
    size_t index = 0;
    for (size_t i = 0; i < spec.path.size() && index < fields.size(); ++i) {
      if (spec.path[i] == '\\' && i + 1 < spec.path.size()) {
        ++i;
      } else if (spec.path[i] == '/') {
        ++index;
      } else if (spec.path[i] == '[' &&
                 (spec.path.compare(i, 3, "[]/") == 0 ||
                  (spec.path.compare(i, 2, "[]") == 0 && i + 2 == spec.path.size()))) {
        lists[index] = true;
      }
    }
  }
  return VisitPath(object, fields, lists, 0, create, create_kind, visit);
}

namespace {

// kyaml's Gvk.IsLessThan: kinds in kustomize's default legacy order (sort.h), then by
// "group_version_kind".
bool GvkLess(absl::string_view group_a, absl::string_view version_a, absl::string_view kind_a,
             absl::string_view group_b, absl::string_view version_b, absl::string_view kind_b) {
  int order_a = LegacyKindRank(kind_a);
  int order_b = LegacyKindRank(kind_b);
  if (order_a != order_b) return order_a < order_b;
  return GvkSortString(group_a, version_a, kind_a) < GvkSortString(group_b, version_b, kind_b);
}

// Sorts by gvk in kyaml's order, computing each spec's sort key once.
void SortSpecs(std::vector<FieldSpec>& specs) {
  if (specs.size() < 2) return;
  std::vector<std::pair<int, std::string>> keys;
  keys.reserve(specs.size());
  for (const FieldSpec& spec : specs) {
    keys.emplace_back(LegacyKindRank(spec.kind),
                      GvkSortString(spec.group, spec.version, spec.kind));
  }
  std::vector<size_t> order(specs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&keys](size_t a, size_t b) { return keys[a] < keys[b]; });
  bool sorted = true;
  for (size_t i = 0; i < order.size() && sorted; ++i) sorted = order[i] == i;
  if (sorted) return;
  std::vector<FieldSpec> out;
  out.reserve(specs.size());
  for (size_t i : order) out.push_back(std::move(specs[i]));
  specs = std::move(out);
}

// FsSlice.MergeAll.
absl::Status MergeAllSpecs(std::vector<FieldSpec>& into, const std::vector<FieldSpec>& from) {
  for (const FieldSpec& spec : from) {
    bool present = false;
    for (const FieldSpec& existing : into) {
      // existing.IsSelected(spec's gvk) && same path
      bool selected = (spec.group.empty() || existing.group == spec.group) &&
                      (spec.version.empty() || existing.version == spec.version) &&
                      (spec.kind.empty() || existing.kind == spec.kind);
      if (!selected || existing.path != spec.path) continue;
      if (existing.create != spec.create) {
        return absl::InvalidArgumentError(
            absl::StrCat("conflicting fieldspecs for path \"", spec.path, "\" (create differs)"));
      }
      present = true;
      break;
    }
    if (!present) into.push_back(spec);
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status TransformerConfig::MergeFrom(const TransformerConfig& other) {
  // Merging the defaults into a configuration that already holds them changes nothing: every
  // default spec is present, and the lists are sorted.
  if (other.is_defaults && includes_defaults) return absl::OkStatus();
  is_defaults = false;  // a copy of the defaults stops being them once anything merges in
  if (other.includes_defaults) includes_defaults = true;
  std::vector<FieldSpec>* mine[] = {&name_prefix,
                                    &name_suffix,
                                    &common_labels,
                                    &labels,
                                    &template_labels,
                                    &volume_claim_template_labels,
                                    &common_annotations,
                                    &namespace_,
                                    &var_reference,
                                    &images,
                                    &replicas};
  const std::vector<FieldSpec>* theirs[] = {&other.name_prefix,
                                            &other.name_suffix,
                                            &other.common_labels,
                                            &other.labels,
                                            &other.template_labels,
                                            &other.volume_claim_template_labels,
                                            &other.common_annotations,
                                            &other.namespace_,
                                            &other.var_reference,
                                            &other.images,
                                            &other.replicas};
  for (size_t i = 0; i < sizeof(mine) / sizeof(mine[0]); ++i) {
    RETURN_IF_ERROR(MergeAllSpecs(*mine[i], *theirs[i]));
    SortSpecs(*mine[i]);
  }
  for (const NameReferenceSpec& spec : other.name_reference) {
    auto it = FindReferral(name_reference, spec.referral);
    if (it == name_reference.end()) {
      name_reference.push_back(spec);
    } else {
      RETURN_IF_ERROR(MergeAllSpecs(it->referrers, spec.referrers));
    }
  }
  std::stable_sort(name_reference.begin(), name_reference.end(),
                   [](const NameReferenceSpec& a, const NameReferenceSpec& b) {
                     return GvkLess(a.referral.group, a.referral.version, a.referral.kind,
                                    b.referral.group, b.referral.version, b.referral.kind);
                   });
  return absl::OkStatus();
}

const TransformerConfig& TransformerConfig::Defaults() {
  static const TransformerConfig* const defaults = [] {
    TransformerConfig raw;
    raw.name_prefix = DefaultNamePrefixFieldSpecs();
    raw.name_suffix = DefaultNameSuffixFieldSpecs();
    raw.common_labels = DefaultCommonLabelsFieldSpecs();
    raw.template_labels = DefaultTemplateLabelsFieldSpecs();
    raw.volume_claim_template_labels = DefaultVolumeClaimTemplateLabelsFieldSpecs();
    raw.common_annotations = DefaultCommonAnnotationsFieldSpecs();
    raw.namespace_ = DefaultNamespaceFieldSpecs();
    raw.var_reference = DefaultVarReferenceFieldSpecs();
    raw.images = DefaultImagesFieldSpecs();
    raw.replicas = DefaultReplicasFieldSpecs();
    raw.name_reference = DefaultNameReferenceSpecs();
    // kustomize loads the defaults sorted, then merges them into an empty configuration.
    for (std::vector<FieldSpec>* list :
         {&raw.name_prefix, &raw.name_suffix, &raw.common_labels, &raw.template_labels,
          &raw.volume_claim_template_labels, &raw.common_annotations, &raw.namespace_,
          &raw.var_reference, &raw.images, &raw.replicas}) {
      SortSpecs(*list);
    }
    // Merging sorted lists into an empty configuration keeps them as they are when no spec
    // hides a later one (same path, a gvk it selects) and no referral comes twice, which holds
    // for the built-in tables (a unit test compares with the merge); what is left of it is
    // the sort of the name references. Every process paid the merge (~0.4 M instructions, a
    // tenth of a small render).
    std::stable_sort(raw.name_reference.begin(), raw.name_reference.end(),
                     [](const NameReferenceSpec& a, const NameReferenceSpec& b) {
                       return GvkLess(a.referral.group, a.referral.version, a.referral.kind,
                                      b.referral.group, b.referral.version, b.referral.kind);
                     });
    auto* config = new TransformerConfig(std::move(raw));
    config->includes_defaults = true;
    config->is_defaults = true;
    return config;
  }();
  return *defaults;
}

void TransformerConfig::Merge(const TransformerConfig& other) {
  AppendUnique(name_prefix, other.name_prefix);
  AppendUnique(name_suffix, other.name_suffix);
  AppendUnique(common_labels, other.common_labels);
  AppendUnique(labels, other.labels);
  AppendUnique(template_labels, other.template_labels);
  AppendUnique(volume_claim_template_labels, other.volume_claim_template_labels);
  AppendUnique(common_annotations, other.common_annotations);
  AppendUnique(namespace_, other.namespace_);
  AppendUnique(var_reference, other.var_reference);
  AppendUnique(images, other.images);
  AppendUnique(replicas, other.replicas);
  for (const NameReferenceSpec& spec : other.name_reference) {
    auto it = FindReferral(name_reference, spec.referral);
    if (it == name_reference.end()) {
      name_reference.push_back(spec);
    } else {
      AppendUnique(it->referrers, spec.referrers);
    }
  }
}

absl::StatusOr<std::vector<FieldSpec>> ParseFieldSpecs(const Json& value, absl::string_view source,
                                                       bool strict) {
  std::vector<FieldSpec> specs;
  if (value.is_null()) return specs;
  if (!value.is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(source, ": field specs must be a list"));
  }
  for (const Json& item : value) {
    if (!item.is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": a field spec must be a mapping"));
    }
    FieldSpec spec;
    for (auto& [key, field] : item.items()) {
      if (key == "create") {
        if (!field.is_boolean()) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": field spec \"create\" must be a boolean"));
        }
        spec.create = field.get<bool>();
        continue;
      }
      std::string* slot = nullptr;
      if (key == "group")
        slot = &spec.group;
      else if (key == "version")
        slot = &spec.version;
      else if (key == "kind")
        slot = &spec.kind;
      else if (key == "path")
        slot = &spec.path;
      else if (!strict)
        continue;
      else {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": unknown field \"", key, "\" in field spec"));
      }
      if (!field.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(source, ": field spec \"", key, "\" must be a string"));
      }
      *slot = field.get<std::string>();
    }
    specs.push_back(std::move(spec));
  }
  return specs;
}

namespace {

const Json* CrdProperties(const Json& document, const std::string& type_name) {
  auto api = document.find(type_name);
  if (api == document.end() || !api->is_object()) return nullptr;
  auto schema = api->find("Schema");
  if (schema == api->end() || !schema->is_object()) return nullptr;
  auto properties = schema->find("properties");
  if (properties == schema->end() || !properties->is_object()) return nullptr;
  return &*properties;
}

void LoadCrdIntoConfig(TransformerConfig& config, const std::string& kind, const Json& document,
                       const std::string& type_name, std::vector<std::string>& path, int depth) {
  const Json* properties = CrdProperties(document, type_name);
  if (properties == nullptr || depth > 32) return;
  auto has_string = [](const Json& property, const char* key) {
    auto it = property.find(key);
    return it != property.end() && it->is_string();
  };
  for (auto& [name, property] : properties->items()) {
    if (!property.is_object()) continue;
    path.push_back(name);
    std::string joined = absl::StrJoin(path, "/");
    FieldSpec spec{"", "", kind, joined, false};
    if (has_string(property, "x-kubernetes-annotation")) {
      AppendUnique(config.common_annotations, {spec});
    }
    if (has_string(property, "x-kubernetes-label-selector")) {
      AppendUnique(config.common_labels, {spec});
    }
    if (has_string(property, "x-kubernetes-identity")) AppendUnique(config.name_prefix, {spec});
    if (has_string(property, "x-kubernetes-object-ref-api-version") &&
        has_string(property, "x-kubernetes-object-ref-kind")) {
      std::string name_key = has_string(property, "x-kubernetes-object-ref-name-key")
                                 ? property["x-kubernetes-object-ref-name-key"].get<std::string>()
                                 : "name";
      NameReferenceSpec reference;
      reference.referral.version = property["x-kubernetes-object-ref-api-version"];
      reference.referral.kind = property["x-kubernetes-object-ref-kind"];
      reference.referrers.push_back(
          FieldSpec{"", "", kind, absl::StrCat(joined, "/", name_key), false});
      TransformerConfig one;
      one.name_reference.push_back(std::move(reference));
      config.Merge(one);
    }
    auto ref = property.find("$ref");
    if (ref != property.end() && ref->is_string()) {
      LoadCrdIntoConfig(config, kind, document, ref->get<std::string>(), path, depth + 1);
    }
    path.pop_back();
  }
}

}  // namespace

TransformerConfig ParseCrdConfig(const Json& document) {
  TransformerConfig config;
  if (!document.is_object()) return config;
  for (auto& [type_name, api] : document.items()) {
    const Json* properties = CrdProperties(document, type_name);
    if (properties == nullptr || !properties->contains("kind") ||
        !properties->contains("apiVersion") || !properties->contains("metadata")) {
      continue;
    }
    // The kind is the type name after its last dot ("example.com/pkg/v1.MyKind").
    size_t dot = type_name.rfind('.');
    std::string kind = dot == std::string::npos ? type_name : type_name.substr(dot + 1);
    std::vector<std::string> path;
    LoadCrdIntoConfig(config, kind, document, type_name, path, 0);
  }
  return config;
}

absl::StatusOr<TransformerConfig> ParseTransformerConfig(const Json& value,
                                                         absl::string_view source) {
  TransformerConfig config;
  if (value.is_null()) return config;
  if (!value.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": transformer configuration must be a mapping"));
  }
  for (auto& [key, field] : value.items()) {
    std::vector<FieldSpec>* slot = nullptr;
    if (key == "namePrefix")
      slot = &config.name_prefix;
    else if (key == "nameSuffix")
      slot = &config.name_suffix;
    else if (key == "commonLabels")
      slot = &config.common_labels;
    else if (key == "labels")
      slot = &config.labels;
    else if (key == "templateLabels")
      slot = &config.template_labels;
    else if (key == "commonAnnotations")
      slot = &config.common_annotations;
    else if (key == "namespace")
      slot = &config.namespace_;
    else if (key == "varReference")
      slot = &config.var_reference;
    else if (key == "images")
      slot = &config.images;
    else if (key == "replicas")
      slot = &config.replicas;
    else if (key == "nameReference") {
      if (field.is_null()) continue;
      if (!field.is_array()) {
        return absl::InvalidArgumentError(absl::StrCat(source, ": nameReference must be a list"));
      }
      for (const Json& item : field) {
        if (!item.is_object()) {
          return absl::InvalidArgumentError(
              absl::StrCat(source, ": nameReference entries must be mappings"));
        }
        NameReferenceSpec spec;
        spec.referral.group = GetString(item, "group");
        spec.referral.version = GetString(item, "version");
        spec.referral.kind = GetString(item, "kind");
        auto specs = item.find("fieldSpecs");
        if (specs != item.end()) {
          ASSIGN_OR_RETURN(spec.referrers, ParseFieldSpecs(*specs, source));
        }
        config.name_reference.push_back(std::move(spec));
      }
      continue;
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(source, ": unknown field \"", key, "\" in transformer configuration"));
    }
    ASSIGN_OR_RETURN(*slot, ParseFieldSpecs(field, source));
  }
  return config;
}

}  // namespace todoke::renderer::kustomize

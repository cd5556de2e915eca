#include "services/renderer/core/kustomize/transformers.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status.h"

namespace todoke::renderer::kustomize {
namespace {

bool SkipsPrefixSuffix(const ResId& id) {
  return id.kind == "CustomResourceDefinition" ||
         (id.group == "apiregistration.k8s.io" && id.kind == "APIService") ||
         id.kind == "Namespace";
}

// kustomize's image name match: `pattern` then an optional ":tag" and "@digest".
bool ImageMatches(absl::string_view image, absl::string_view pattern) {
  if (image.size() < pattern.size()) return false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '.' && pattern[i] != image[i]) return false;
  }
  absl::string_view rest = image.substr(pattern.size());
  auto is_tag_char = [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '{' ||
           c == '}' || c == '-';
  };
  auto is_alnum = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) != 0; };
  size_t i = 0;
  if (i < rest.size() && rest[i] == ':') {
    ++i;
    while (i < rest.size() && is_tag_char(rest[i])) ++i;
  }
  if (i == rest.size()) return true;
  if (rest[i] != '@') return false;
  ++i;
  // [a-zA-Z0-9]+([.+_-][a-zA-Z0-9]+)*
  size_t start = i;
  while (i < rest.size() && is_alnum(rest[i])) ++i;
  if (i == start) return false;
  while (i < rest.size() &&
         (rest[i] == '.' || rest[i] == '+' || rest[i] == '_' || rest[i] == '-')) {
    size_t segment = ++i;
    while (i < rest.size() && is_alnum(rest[i])) ++i;
    if (i == segment) return false;
  }
  if (i == rest.size() || rest[i] != ':') return false;
  ++i;
  while (i < rest.size() && is_tag_char(rest[i])) ++i;
  return i == rest.size();
}

// kustomize's split of an image reference into name, tag and digest.
void SplitImage(const std::string& image, std::string& name, std::string& tag,
                std::string& digest) {
  size_t slash = image.find('/');
  size_t offset = 0;
  absl::string_view search(image);
  if (slash != std::string::npos && slash > 0) {
    offset = slash;
    search = search.substr(slash);
  }
  size_t at = search.find('@');
  size_t colon = search.find(':');
  name = image;
  tag.clear();
  digest.clear();
  if (colon == std::string::npos && at == std::string::npos) return;
  if (at != std::string::npos && (colon == std::string::npos || at < colon)) {
    name = image.substr(0, at + offset);
    digest = image.substr(at + offset + 1);
    return;
  }
  if (at != std::string::npos && colon != std::string::npos) {
    name = image.substr(0, colon + offset);
    tag = image.substr(colon + offset + 1, at - colon - 1);
    digest = image.substr(at + offset + 1);
    return;
  }
  name = image.substr(0, colon + offset);
  tag = image.substr(colon + offset + 1);
}

void UpdateImage(Json& value, const ImageEntry& entry) {
  if (!value.is_string()) return;
  const std::string& current = value.get_ref<const std::string&>();
  if (!ImageMatches(current, entry.name)) return;
  std::string name, tag, digest;
  SplitImage(current, name, tag, digest);
  if (!entry.new_name.empty()) name = entry.new_name;
  if (!entry.new_tag.empty() && !entry.digest.empty()) {
    tag = entry.new_tag;
    digest = entry.digest;
  } else if (!entry.new_tag.empty()) {
    tag = entry.new_tag;
    digest.clear();
  } else if (!entry.digest.empty()) {
    tag.clear();
    digest = entry.digest;
  } else if (!entry.tag_suffix.empty()) {
    tag += entry.tag_suffix;
    digest.clear();
  }
  if (!tag.empty()) absl::StrAppend(&name, ":", tag);
  if (!digest.empty()) absl::StrAppend(&name, "@", digest);
  value = name;
}

// Every `containers`/`initContainers` list anywhere in the object (kustomize's legacy
// image filter).
void UpdateContainerImages(Json& node, const ImageEntry& entry) {
  if (node.is_object()) {
    for (auto& [key, value] : node.get_ref<Json::object_t&>()) {
      // A scalar holds no containers and is no list of them.
      if (value.is_primitive()) continue;
      UpdateContainerImages(value, entry);
      if ((key == "containers" || key == "initContainers") && value.is_array()) {
        for (Json& container : value) {
          if (!container.is_object()) continue;
          auto image = container.find("image");
          if (image != container.end()) UpdateImage(*image, entry);
        }
      }
    }
  } else if (node.is_array()) {
    for (Json& element : node.get_ref<Json::array_t&>()) {
      if (!element.is_primitive()) UpdateContainerImages(element, entry);
    }
  }
}

}  // namespace

std::vector<FieldSpec> MergeFieldSpecs(std::vector<FieldSpec> base,
                                       const std::vector<FieldSpec>& extra) {
  for (const FieldSpec& spec : extra) {
    if (std::find(base.begin(), base.end(), spec) == base.end()) base.push_back(spec);
  }
  return base;
}

absl::Status ApplyNamespace(std::vector<Resource>& resources, const std::string& ns,
                            const std::vector<FieldSpec>& specs, const NamespaceOptions& options) {
  if (ns.empty()) return absl::OkStatus();
  const std::string& mode = options.role_binding_subjects;
  if (!mode.empty() && mode != "defaultOnly" && mode != "allServiceAccounts" && mode != "none") {
    return absl::InvalidArgumentError(
        absl::StrCat("invalid value \"", mode,
                     "\" for setRoleBindingSubjects: must be one of \"defaultOnly\", "
                     "\"none\" or \"allServiceAccounts\""));
  }
  auto set = [&](Json& value) {
    if (options.unset_only && value.is_string() && !value.get_ref<const std::string&>().empty()) {
      return;
    }
    value = ns;
  };
  for (Resource& resource : resources) {
    ResId id = resource.CurrentId();
    resource.StorePreviousId();
    if (!IsClusterScoped(id)) {
      Json& metadata = resource.object["metadata"];
      if (!metadata.is_object()) metadata = Json::object();
      set(metadata["namespace"]);
    }
    bool binding = id.kind == "RoleBinding" || id.kind == "ClusterRoleBinding";
    if (binding && mode != "none") {
      auto subjects = resource.object.find("subjects");
      if (subjects != resource.object.end() && subjects->is_array()) {
        for (Json& subject : *subjects) {
          if (!subject.is_object()) continue;
          bool chosen = mode == "allServiceAccounts"
                            ? GetString(subject, "kind") == "ServiceAccount"
                            : GetString(subject, "name") == "default";
          if (chosen) set(subject["namespace"]);
        }
      }
    }
    std::string api_version = GetString(resource.object, "apiVersion");
    for (const FieldSpec& spec : specs) {
      if (spec.path == "metadata/namespace") continue;
      if (spec.path == "metadata/name" && api_version != "v1") continue;
      if (binding && spec.path == "subjects/namespace" &&
          (spec.kind == "RoleBinding" || spec.kind == "ClusterRoleBinding")) {
        continue;
      }
      if (!FieldSpecSelects(spec, id)) continue;
      RETURN_IF_ERROR(VisitFieldSpec(
          resource.object, spec, CreateKind::kScalar, [&](Json& value) -> absl::Status {
            if (value.is_object() || value.is_array()) {
              return absl::InvalidArgumentError(
                  absl::StrCat("namespace field specs must target scalar nodes (", spec.path,
                               " in ", id.ToString(), ")"));
            }
            set(value);
            return absl::OkStatus();
          }));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyNamePrefixSuffix(std::vector<Resource>& resources, const std::string& prefix,
                                   const std::string& suffix,
                                   const std::vector<FieldSpec>& prefix_specs,
                                   const std::vector<FieldSpec>& suffix_specs) {
  auto apply = [&](const std::string& affix, const std::vector<FieldSpec>& specs,
                   bool is_prefix) -> absl::Status {
    for (Resource& resource : resources) {
      ResId original = resource.OriginalId();
      if (SkipsPrefixSuffix(original)) continue;
      for (const FieldSpec& spec : specs) {
        if (!FieldSpecSelects(spec, original)) continue;
        if (spec.path == "metadata/name") {
          (is_prefix ? resource.name_prefixes : resource.name_suffixes).push_back(affix);
          if (!affix.empty()) resource.StorePreviousId();
        }
        RETURN_IF_ERROR(VisitFieldSpec(
            resource.object, spec, CreateKind::kNone, [&](Json& value) -> absl::Status {
              if (!value.is_string()) return absl::OkStatus();
              value =
                  is_prefix ? affix + value.get<std::string>() : value.get<std::string>() + affix;
              return absl::OkStatus();
            }));
      }
    }
    return absl::OkStatus();
  };
  if (!prefix.empty()) RETURN_IF_ERROR(apply(prefix, prefix_specs, true));
  if (!suffix.empty()) RETURN_IF_ERROR(apply(suffix, suffix_specs, false));
  return absl::OkStatus();
}

absl::Status ApplyStringMapEntries(std::vector<Resource>& resources,
                                   const std::map<std::string, std::string>& entries,
                                   const std::vector<FieldSpec>& specs) {
  if (entries.empty()) return absl::OkStatus();
  for (Resource& resource : resources) {
    ResId id = resource.CurrentId();
    for (const FieldSpec& spec : specs) {
      if (!FieldSpecSelects(spec, id)) continue;
      RETURN_IF_ERROR(
          VisitFieldSpec(resource.object, spec, CreateKind::kMap, [&](Json& value) -> absl::Status {
            if (value.is_null()) value = Json::object();
            if (!value.is_object()) {
              // As kustomize refuses it (kyaml's SetEntry wants a mapping there).
              return absl::InvalidArgumentError(
                  absl::StrCat("considering field '", spec.path, "' of object ", id.ToString(),
                               ": wrong node kind: expected MappingNode but got ",
                               value.is_array() ? "SequenceNode" : "ScalarNode"));
            }
            for (const auto& [key, entry] : entries) value[key] = entry;
            return absl::OkStatus();
          }));
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyImages(std::vector<Resource>& resources, const std::vector<ImageEntry>& images,
                         const std::vector<FieldSpec>& specs) {
  for (const ImageEntry& entry : images) {
    for (Resource& resource : resources) {
      ResId id = resource.CurrentId();
      if (id.kind != "CustomResourceDefinition") UpdateContainerImages(resource.object, entry);
      for (const FieldSpec& spec : specs) {
        if (!FieldSpecSelects(spec, id)) continue;
        RETURN_IF_ERROR(VisitFieldSpec(resource.object, spec, CreateKind::kNone,
                                       [&](Json& value) -> absl::Status {
                                         UpdateImage(value, entry);
                                         return absl::OkStatus();
                                       }));
      }
    }
  }
  return absl::OkStatus();
}

absl::Status ApplyReplicas(std::vector<Resource>& resources,
                           const std::vector<ReplicaEntry>& replicas,
                           const std::vector<FieldSpec>& specs) {
  for (const ReplicaEntry& replica : replicas) {
    bool found = false;
    for (const FieldSpec& spec : specs) {
      for (Resource& resource : resources) {
        bool name_matches = resource.Name() == replica.name;
        for (const ResId& previous : resource.previous_ids) {
          name_matches = name_matches || previous.name == replica.name;
        }
        if (!name_matches || !FieldSpecSelects(spec, resource.CurrentId())) continue;
        found = true;
        RETURN_IF_ERROR(VisitFieldSpec(resource.object, spec, CreateKind::kScalar,
                                       [&](Json& value) -> absl::Status {
                                         value = replica.count;
                                         return absl::OkStatus();
                                       }));
      }
    }
    if (!found) {
      std::vector<std::string> kinds;
      for (const FieldSpec& spec : specs) kinds.push_back(spec.kind);
      return absl::NotFoundError(absl::StrCat("replicas: resource with name ", replica.name,
                                              " does not match a config with the following "
                                              "kinds: ",
                                              absl::StrJoin(kinds, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

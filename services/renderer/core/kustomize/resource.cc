#include "services/renderer/core/kustomize/resource.h"

#include <algorithm>
#include <memory>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "re2/re2.h"

namespace todoke::renderer::kustomize {
namespace {

// The (apiVersion, kind) pairs kustomize v5.5.0 knows to be cluster-scoped: kyaml's table
// precomputed from the Kubernetes v1.21.2 schema it embeds. Anything else, including newer
// built-in kinds and kinds of the same name in other groups, is namespaced to kustomize.
const std::set<std::string, std::less<>>& ClusterScopedTypes() {
  static const auto* const types = new std::set<std::string, std::less<>>{
      "admissionregistration.k8s.io/v1 MutatingWebhookConfiguration",
      "admissionregistration.k8s.io/v1 ValidatingWebhookConfiguration",
      "admissionregistration.k8s.io/v1beta1 MutatingWebhookConfiguration",
      "admissionregistration.k8s.io/v1beta1 ValidatingWebhookConfiguration",
      "apiextensions.k8s.io/v1 CustomResourceDefinition",
      "apiextensions.k8s.io/v1beta1 CustomResourceDefinition",
      "apiregistration.k8s.io/v1 APIService",
      "apiregistration.k8s.io/v1beta1 APIService",
      "certificates.k8s.io/v1 CertificateSigningRequest",
      "certificates.k8s.io/v1beta1 CertificateSigningRequest",
      "flowcontrol.apiserver.k8s.io/v1beta1 FlowSchema",
      "flowcontrol.apiserver.k8s.io/v1beta1 PriorityLevelConfiguration",
      "networking.k8s.io/v1 IngressClass",
      "networking.k8s.io/v1beta1 IngressClass",
      "node.k8s.io/v1 RuntimeClass",
      "node.k8s.io/v1beta1 RuntimeClass",
      "policy/v1beta1 PodSecurityPolicy",
      "rbac.authorization.k8s.io/v1 ClusterRole",
      "rbac.authorization.k8s.io/v1 ClusterRoleBinding",
      "rbac.authorization.k8s.io/v1beta1 ClusterRole",
      "rbac.authorization.k8s.io/v1beta1 ClusterRoleBinding",
      "scheduling.k8s.io/v1 PriorityClass",
      "scheduling.k8s.io/v1beta1 PriorityClass",
      "storage.k8s.io/v1 CSIDriver",
      "storage.k8s.io/v1 CSINode",
      "storage.k8s.io/v1 StorageClass",
      "storage.k8s.io/v1 VolumeAttachment",
      "storage.k8s.io/v1beta1 CSIDriver",
      "storage.k8s.io/v1beta1 CSINode",
      "storage.k8s.io/v1beta1 StorageClass",
      "storage.k8s.io/v1beta1 VolumeAttachment",
      "v1 ComponentStatus",
      "v1 Namespace",
      "v1 Node",
      "v1 NodeProxyOptions",
      "v1 PersistentVolume",
  };
  return *types;
}

// A pattern anchored at both ends (kustomize anchors selector regexes), compiled once per
// selection with RE2: Go's syntax, as kustomize reads it, and matching in linear time whatever
// the pattern. Patterns without metacharacters compare as plain strings.
class AnchoredPattern {
 public:
  static absl::StatusOr<AnchoredPattern> Compile(const std::string& pattern) {
    AnchoredPattern compiled;
    compiled.pattern_ = pattern;
    if (pattern.empty() || pattern.find_first_of(".*+?[](){}|^$\\") == std::string::npos) {
      return compiled;
    }
    RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_shared<RE2>(pattern, options);  // FullMatch anchors it
    if (!regex->ok()) {
      return absl::InvalidArgumentError(absl::StrCat("invalid regular expression \"", pattern,
                                                     "\" in patch target: ", regex->error()));
    }
    compiled.regex_ = std::move(regex);
    return compiled;
  }

  bool Matches(const std::string& text) const {
    if (pattern_.empty()) return true;
    if (regex_ == nullptr) return pattern_ == text;
    return RE2::FullMatch(text, *regex_);
  }

 private:
  std::string pattern_;
  std::shared_ptr<const RE2> regex_;
};

}  // namespace

std::string ResId::ToString() const {
  return absl::StrCat(kind.empty() ? "[noKind]" : kind, ".", version.empty() ? "[noVer]" : version,
                      ".", group.empty() ? "[noGrp]" : group, "/", name.empty() ? "[noName]" : name,
                      ".", ns.empty() ? "[noNs]" : ns);
}

std::string ResId::ApiVersion() const {
  return group.empty() ? version : absl::StrCat(group, "/", version);
}

bool IsClusterScoped(const ResId& id) {
  return ClusterScopedTypes().count(absl::StrCat(id.ApiVersion(), " ", id.kind)) > 0;
}

std::string EffectiveNamespace(const ResId& id) {
  if (IsClusterScoped(id)) return "~X";
  if (id.ns.empty() || id.ns == "default") return "default";
  return id.ns;
}

bool SameId(const ResId& a, const ResId& b) {
  return a.group == b.group && a.version == b.version && a.kind == b.kind && a.name == b.name &&
         EffectiveNamespace(a) == EffectiveNamespace(b);
}

bool GvkSelected(const ResId& id, absl::string_view group, absl::string_view version,
                 absl::string_view kind) {
  return (group.empty() || group == id.group) && (version.empty() || version == id.version) &&
         (kind.empty() || kind == id.kind);
}

std::string GetString(const Json& object, absl::string_view key) {
  if (!object.is_object()) return "";
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return "";
  return it->get<std::string>();
}

ResId Resource::CurrentId() const {
  ResId id;
  auto [group, version] = SplitApiVersion(GetString(object, "apiVersion"));
  id.group = std::move(group);
  id.version = std::move(version);
  id.kind = GetString(object, "kind");
  auto meta = object.find("metadata");
  if (meta != object.end()) {
    id.name = GetString(*meta, "name");
    id.ns = GetString(*meta, "namespace");
  }
  return id;
}

ResId Resource::OriginalId() const {
  return previous_ids.empty() ? CurrentId() : previous_ids.front();
}

void Resource::StorePreviousId() {
  ResId id = CurrentId();
  id.ns = EffectiveNamespace(id);
  if (id.ns == "~X") id.ns = "";
  previous_ids.push_back(std::move(id));
  // kustomize keeps the previous ids in annotations (Resource.StorePreviousId, through
  // SetAnnotations), which replaces a scalar metadata.annotations ("annotations: v", or what
  // "!important: v" under annotations reads as) with a mapping.
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return;
  auto annotations = metadata->find("annotations");
  if (annotations != metadata->end() && annotations->is_primitive() && !annotations->is_null()) {
    *annotations = Json::object();
  }
}

bool Resource::MatchesAnyId(const ResId& id) const {
  if (SameId(CurrentId(), id)) return true;
  for (const ResId& previous : previous_ids) {
    if (SameId(previous, id)) return true;
  }
  return false;
}

std::string Resource::Name() const {
  auto meta = object.find("metadata");
  return meta == object.end() ? "" : GetString(*meta, "name");
}

std::string Resource::Namespace() const {
  auto meta = object.find("metadata");
  return meta == object.end() ? "" : GetString(*meta, "namespace");
}

std::string Resource::Kind() const { return GetString(object, "kind"); }

void Resource::SetName(absl::string_view name) { object["metadata"]["name"] = std::string(name); }

void Resource::SetNamespace(absl::string_view ns) {
  if (ns.empty()) {
    auto meta = object.find("metadata");
    if (meta != object.end() && meta->is_object()) meta->erase("namespace");
    return;
  }
  object["metadata"]["namespace"] = std::string(ns);
}

static std::map<std::string, std::string> StringMapAt(const Json& object, absl::string_view field) {
  std::map<std::string, std::string> out;
  auto meta = object.find("metadata");
  if (meta == object.end() || !meta->is_object()) return out;
  auto it = meta->find(field);
  if (it == meta->end() || !it->is_object()) return out;
  for (auto& [key, value] : it->items()) {
    if (value.is_string()) out[key] = value.get<std::string>();
  }
  return out;
}

std::map<std::string, std::string> Resource::Labels() const {
  return StringMapAt(object, "labels");
}

std::map<std::string, std::string> Resource::Annotations() const {
  return StringMapAt(object, "annotations");
}

absl::StatusOr<Selector> ParseSelector(const Json& value, absl::string_view context) {
  if (!value.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": target must be a mapping"));
  }
  Selector selector;
  for (auto& [key, field] : value.items()) {
    std::string* slot = nullptr;
    if (key == "group")
      slot = &selector.group;
    else if (key == "version")
      slot = &selector.version;
    else if (key == "kind")
      slot = &selector.kind;
    else if (key == "name")
      slot = &selector.name;
    else if (key == "namespace")
      slot = &selector.ns;
    else if (key == "labelSelector")
      slot = &selector.label_selector;
    else if (key == "annotationSelector")
      slot = &selector.annotation_selector;
    else {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": unknown field \"", key, "\" in target"));
    }
    if (field.is_null()) continue;
    if (!field.is_string()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": target field \"", key, "\" must be a string"));
    }
    *slot = field.get<std::string>();
  }
  return selector;
}

absl::StatusOr<std::vector<size_t>> SelectResources(const std::vector<Resource>& resources,
                                                    const Selector& selector) {
  ASSIGN_OR_RETURN(AnchoredPattern ns_pattern, AnchoredPattern::Compile(selector.ns));
  ASSIGN_OR_RETURN(AnchoredPattern name_pattern, AnchoredPattern::Compile(selector.name));
  ASSIGN_OR_RETURN(AnchoredPattern group_pattern, AnchoredPattern::Compile(selector.group));
  ASSIGN_OR_RETURN(AnchoredPattern version_pattern, AnchoredPattern::Compile(selector.version));
  ASSIGN_OR_RETURN(AnchoredPattern kind_pattern, AnchoredPattern::Compile(selector.kind));
  std::vector<size_t> selected;
  for (size_t i = 0; i < resources.size(); ++i) {
    const Resource& resource = resources[i];
    ResId current = resource.CurrentId();
    if (!kind_pattern.Matches(current.kind) || !group_pattern.Matches(current.group) ||
        !version_pattern.Matches(current.version)) {
      continue;
    }
    ResId original = resource.OriginalId();
    if (!selector.ns.empty()) {
      std::string current_ns = EffectiveNamespace(current);
      std::string original_ns = EffectiveNamespace(original);
      if (current_ns == "~X") current_ns = "";
      if (original_ns == "~X") original_ns = "";
      if (!ns_pattern.Matches(original_ns) && !ns_pattern.Matches(current_ns)) continue;
    }
    if (!selector.name.empty()) {
      if (!name_pattern.Matches(original.name) && !name_pattern.Matches(current.name)) continue;
    }
    if (!selector.label_selector.empty()) {
      ASSIGN_OR_RETURN(bool ok, MatchesLabelSelector(selector.label_selector, resource.Labels()));
      if (!ok) continue;
    }
    if (!selector.annotation_selector.empty()) {
      ASSIGN_OR_RETURN(bool ok,
                       MatchesLabelSelector(selector.annotation_selector, resource.Annotations()));
      if (!ok) continue;
    }
    selected.push_back(i);
  }
  return selected;
}

absl::StatusOr<bool> MatchesLabelSelector(absl::string_view selector,
                                          const std::map<std::string, std::string>& labels) {
  // Split on commas that are not inside parentheses.
  std::vector<std::string> requirements;
  int depth = 0;
  std::string current;
  for (char c : selector) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      requirements.push_back(current);
      current.clear();
      continue;
    }
    current.push_back(c);
  }
  requirements.push_back(current);
  auto bad = [&]() {
    return absl::InvalidArgumentError(
        absl::StrCat("unable to parse requirement in selector \"", selector, "\""));
  };
  for (std::string requirement : requirements) {
    absl::string_view req = absl::StripAsciiWhitespace(requirement);
    if (req.empty()) continue;
    auto parse_set = [&](absl::string_view rest) -> absl::StatusOr<std::set<std::string>> {
      rest = absl::StripAsciiWhitespace(rest);
      if (rest.size() < 2 || rest.front() != '(' || rest.back() != ')') return bad();
      std::set<std::string> values;
      for (absl::string_view v : absl::StrSplit(rest.substr(1, rest.size() - 2), ',')) {
        values.insert(std::string(absl::StripAsciiWhitespace(v)));
      }
      return values;
    };
    size_t space = req.find(' ');
    absl::string_view key;
    if (req.front() == '!') {
      key = absl::StripAsciiWhitespace(req.substr(1));
      if (labels.count(std::string(key))) return false;
      continue;
    }
    size_t op = req.find_first_of("=!");
    if (space != absl::string_view::npos && (op == absl::string_view::npos || space < op)) {
      key = req.substr(0, space);
      absl::string_view rest = absl::StripAsciiWhitespace(req.substr(space));
      bool negate = false;
      if (absl::ConsumePrefix(&rest, "notin")) {
        negate = true;
      } else if (!absl::ConsumePrefix(&rest, "in")) {
        return bad();
      }
      ASSIGN_OR_RETURN(std::set<std::string> values, parse_set(rest));
      auto it = labels.find(std::string(key));
      bool in = it != labels.end() && values.count(it->second);
      if (negate ? in : !in) return false;
      continue;
    }
    if (op == absl::string_view::npos) {
      if (!labels.count(std::string(absl::StripAsciiWhitespace(req)))) return false;
      continue;
    }
    key = absl::StripAsciiWhitespace(req.substr(0, op));
    absl::string_view rest = req.substr(op);
    bool negate = false;
    if (absl::ConsumePrefix(&rest, "!=")) {
      negate = true;
    } else if (!absl::ConsumePrefix(&rest, "==")) {
      if (!absl::ConsumePrefix(&rest, "=")) return bad();
    }
    std::string value(absl::StripAsciiWhitespace(rest));
    auto it = labels.find(std::string(key));
    bool equal = it != labels.end() && it->second == value;
    if (negate ? equal : !equal) return false;
  }
  return true;
}

}  // namespace todoke::renderer::kustomize

#include "services/renderer/core/kustomize/replacements.h"

#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status.h"
#include "common/yaml.h"
#include "services/renderer/core/kustomize/generators.h"

namespace todoke::renderer::kustomize {
namespace {

// Splits a replacement field path as kustomize (kyaml's SmarterPathSplitter) does: on dots,
// "\\." escaping a dot, a leading dot ignored, and a bracketed part spanning dots kept whole
// when it is a "[key=value]" selector, or unwrapped to a plain key otherwise
// ("metadata.annotations.[cert-manager.io/inject-ca-from]"). Blank parts are dropped, as kyaml's
// path walkers drop them.
std::vector<std::string> SplitPath(absl::string_view path) {
  std::vector<std::string> split;
  std::vector<absl::string_view> pieces = absl::StrSplit(path, '.');
  if (pieces.size() > 1 && pieces[0].empty()) pieces.erase(pieces.begin());
  for (absl::string_view piece : pieces) {
    if (!split.empty() && absl::EndsWith(split.back(), "\\")) {
      split.back().pop_back();
      absl::StrAppend(&split.back(), ".", piece);
    } else {
      split.emplace_back(piece);
    }
  }
  std::vector<std::string> parts;
  for (size_t i = 0; i < split.size(); ++i) {
    std::string part = split[i];
    if (absl::StartsWith(part, "[") && !absl::EndsWith(part, "]")) {
      while (i + 1 < split.size()) {
        ++i;
        absl::StrAppend(&part, ".", split[i]);
        if (absl::EndsWith(split[i], "]")) break;
      }
      if (!absl::StrContains(part, "=")) {
        part = std::string(absl::StripSuffix(absl::StripPrefix(part, "["), "]"));
      }
    }
    absl::string_view trimmed = absl::StripAsciiWhitespace(part);
    if (trimmed.empty()) continue;
    parts.emplace_back(trimmed);
  }
  return parts;
}

std::string ScalarText(const Json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  return value.dump();
}

// Collects pointers to the nodes at `parts` (creating missing ones when `create`).
void Collect(Json& node, const std::vector<std::string>& parts, size_t index, bool create,
             std::vector<Json*>& out) {
  if (index == parts.size()) {
    out.push_back(&node);
    return;
  }
  const std::string& part = parts[index];
  if (part.size() >= 2 && part.front() == '[' && part.back() == ']') {
    absl::string_view selector(part);
    selector = selector.substr(1, selector.size() - 2);
    size_t equals = selector.find('=');
    if (equals == absl::string_view::npos) return;
    std::string key(selector.substr(0, equals));
    std::string value(selector.substr(equals + 1));
    if (node.is_null() && create) node = Json::array();
    if (!node.is_array()) return;
    bool found = false;
    for (Json& element : node) {
      if (element.is_object() && element.contains(key) && ScalarText(element[key]) == value) {
        found = true;
        Collect(element, parts, index + 1, create, out);
      }
    }
    if (!found && create) {
      node.push_back(Json{{key, value}});
      Collect(node.back(), parts, index + 1, create, out);
    }
    return;
  }
  if (part == "*") {
    if (node.is_array()) {
      for (Json& element : node) Collect(element, parts, index + 1, create, out);
    } else if (node.is_object()) {
      for (auto& [key, element] : node.items()) Collect(element, parts, index + 1, create, out);
    }
    return;
  }
  if (node.is_array()) {
    size_t position = 0;
    if (!absl::SimpleAtoi(part, &position)) return;
    if (position < node.size()) Collect(node[position], parts, index + 1, create, out);
    return;
  }
  if (node.is_null() && create) node = Json::object();
  if (!node.is_object()) return;
  auto it = node.find(part);
  if (it == node.end() || it->is_null()) {
    if (!create) return;
    node[part] = Json();
    it = node.find(part);
  }
  Collect(*it, parts, index + 1, create, out);
}

struct FieldOptions {
  std::string delimiter;
  int64_t index = 0;
  bool create = false;
};

absl::StatusOr<FieldOptions> ParseOptions(const Json& item, absl::string_view context) {
  FieldOptions options;
  auto it = item.find("options");
  if (it == item.end() || it->is_null()) return options;
  if (!it->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": options must be a mapping"));
  }
  options.delimiter = GetString(*it, "delimiter");
  if (it->contains("index") && (*it)["index"].is_number_integer()) {
    options.index = (*it)["index"].get<int64_t>();
  }
  if (it->contains("create") && (*it)["create"].is_boolean()) {
    options.create = (*it)["create"].get<bool>();
  }
  return options;
}

bool SelectorMatchesId(const Selector& selector, const ResId& id) {
  return (selector.group.empty() || selector.group == id.group) &&
         (selector.version.empty() || selector.version == id.version) &&
         (selector.kind.empty() || selector.kind == id.kind) &&
         (selector.name.empty() || selector.name == id.name) &&
         (selector.ns.empty() || selector.ns == id.ns);
}

// The ids a resource is known by (current and previous).
std::vector<ResId> AllIds(const Resource& resource) {
  std::vector<ResId> ids = resource.previous_ids;
  ids.push_back(resource.CurrentId());
  return ids;
}

absl::StatusOr<bool> MatchesLabelsAndAnnotations(const Resource& resource,
                                                 const Selector& selector) {
  if (!selector.label_selector.empty()) {
    ASSIGN_OR_RETURN(bool ok, MatchesLabelSelector(selector.label_selector, resource.Labels()));
    if (!ok) return false;
  }
  if (!selector.annotation_selector.empty()) {
    ASSIGN_OR_RETURN(bool ok,
                     MatchesLabelSelector(selector.annotation_selector, resource.Annotations()));
    if (!ok) return false;
  }
  return true;
}

// Parses a selector that may also carry "fieldPath"/"options" (source) keys.
Selector LooseSelector(const Json& value) {
  Selector selector;
  selector.group = GetString(value, "group");
  selector.version = GetString(value, "version");
  selector.kind = GetString(value, "kind");
  selector.name = GetString(value, "name");
  selector.ns = GetString(value, "namespace");
  selector.label_selector = GetString(value, "labelSelector");
  selector.annotation_selector = GetString(value, "annotationSelector");
  return selector;
}

absl::Status SetTarget(Json& target, const Json& value, const FieldOptions& options) {
  Json replacement = value;
  if (!options.delimiter.empty()) {
    if (target.is_object() || target.is_array()) {
      return absl::InvalidArgumentError("delimiter option can only be used with scalar nodes");
    }
    std::vector<std::string> parts = absl::StrSplit(ScalarText(target), options.delimiter);
    std::string text = ScalarText(value);
    if (options.index < 0) {
      parts.insert(parts.begin(), text);
    } else if (static_cast<size_t>(options.index) >= parts.size()) {
      parts.push_back(text);
    } else {
      parts[options.index] = text;
    }
    replacement = absl::StrJoin(parts, options.delimiter);
  }
  if (target.is_string() && !replacement.is_object() && !replacement.is_array()) {
    target = ScalarText(replacement);  // the target keeps its string type
    return absl::OkStatus();
  }
  if ((target.is_number() || target.is_boolean()) && !replacement.is_object() &&
      !replacement.is_array()) {
    std::string text = ScalarText(replacement);
    absl::StatusOr<Json> parsed = ParseYaml(text);
    if (parsed.ok() && (parsed->is_number() || parsed->is_boolean())) {
      target = *parsed;
    } else {
      target = text;
    }
    return absl::OkStatus();
  }
  target = std::move(replacement);
  return absl::OkStatus();
}

absl::Status ApplyOneReplacement(const Json& replacement, absl::string_view context,
                                 std::vector<Resource>& resources) {
  if (!replacement.is_object()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": a replacement must be a mapping"));
  }
  Json value;
  auto source_value = replacement.find("sourceValue");
  auto source = replacement.find("source");
  if (source_value != replacement.end() && source != replacement.end()) {
    return absl::InvalidArgumentError(
        absl::StrCat(context, ": value and resource selectors are mutually exclusive"));
  }
  if (source_value != replacement.end()) {
    value = ScalarText(*source_value);
  } else {
    if (source == replacement.end() || !source->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(context, ": replacement has no source"));
    }
    Selector selector = LooseSelector(*source);
    Resource* match = nullptr;
    for (Resource& resource : resources) {
      for (const ResId& id : AllIds(resource)) {
        if (SelectorMatchesId(selector, id)) {
          if (match != nullptr) {
            return absl::InvalidArgumentError(absl::StrCat(
                context, ": multiple matches for replacement source ", source->dump()));
          }
          match = &resource;
          break;
        }
      }
    }
    if (match == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(context, ": nothing selected by replacement source ", source->dump()));
    }
    std::string field_path = GetString(*source, "fieldPath");
    if (field_path.empty()) field_path = "metadata.name";
    std::vector<Json*> found;
    Collect(match->object, SplitPath(field_path), 0, false, found);
    if (found.empty() || found[0]->is_null()) {
      return absl::NotFoundError(absl::StrCat(context, ": fieldPath `", field_path,
                                              "` is missing for replacement source ",
                                              match->CurrentId().ToString()));
    }
    value = *found[0];
    ASSIGN_OR_RETURN(FieldOptions options, ParseOptions(*source, context));
    if (!options.delimiter.empty()) {
      if (!value.is_string()) {
        return absl::InvalidArgumentError(
            absl::StrCat(context, ": delimiter option can only be used with scalar nodes"));
      }
      std::vector<std::string> parts = absl::StrSplit(value.get<std::string>(), options.delimiter);
      if (options.index < 0 || static_cast<size_t>(options.index) >= parts.size()) {
        return absl::InvalidArgumentError(absl::StrCat(context, ": options.index ", options.index,
                                                       " is out of bounds for value ",
                                                       value.get<std::string>()));
      }
      value = parts[options.index];
    }
  }
  auto targets = replacement.find("targets");
  if (targets == replacement.end() || !targets->is_array()) return absl::OkStatus();
  for (const Json& target : *targets) {
    auto select = target.find("select");
    if (select == target.end() || !select->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": target must specify resources to select"));
    }
    Selector selector = LooseSelector(*select);
    std::vector<Selector> rejects;
    auto reject = target.find("reject");
    if (reject != target.end() && reject->is_array()) {
      for (const Json& item : *reject) rejects.push_back(LooseSelector(item));
    }
    std::vector<std::string> field_paths;
    auto paths = target.find("fieldPaths");
    if (paths != target.end() && paths->is_array()) {
      for (const Json& path : *paths) {
        if (path.is_string()) field_paths.push_back(path.get<std::string>());
      }
    }
    if (field_paths.empty()) field_paths.push_back("metadata.name");
    ASSIGN_OR_RETURN(FieldOptions options, ParseOptions(target, context));
    for (Resource& resource : resources) {
      ASSIGN_OR_RETURN(bool labels_ok, MatchesLabelsAndAnnotations(resource, selector));
      if (!labels_ok) continue;
      std::vector<ResId> ids = AllIds(resource);
      bool rejected = false;
      for (const Selector& r : rejects) {
        bool has_id_fields = !r.group.empty() || !r.version.empty() || !r.kind.empty() ||
                             !r.name.empty() || !r.ns.empty();
        bool has_label_fields = !r.label_selector.empty() || !r.annotation_selector.empty();
        if (has_label_fields) {
          ASSIGN_OR_RETURN(bool m, MatchesLabelsAndAnnotations(resource, r));
          if (m) rejected = true;
        }
        if (has_id_fields) {
          for (const ResId& id : ids) rejected = rejected || SelectorMatchesId(r, id);
        }
      }
      if (rejected) continue;
      bool selected = false;
      for (const ResId& id : ids) selected = selected || SelectorMatchesId(selector, id);
      if (!selected) continue;
      for (const std::string& field_path : field_paths) {
        std::vector<Json*> found;
        Collect(resource.object, SplitPath(field_path), 0, options.create, found);
        if (found.empty()) {
          return absl::NotFoundError(absl::StrCat(
              context, ": unable to find ", options.create ? "or create " : "", "field \"",
              field_path, "\" in replacement target ", resource.CurrentId().ToString()));
        }
        for (Json* node : found) {
          absl::Status status = SetTarget(*node, value, options);
          if (!status.ok()) return Annotate(status, context);
        }
      }
    }
  }
  return absl::OkStatus();
}

// Reads "a.b[0].c" style var field paths.
const Json* LookupVarField(const Json& object, absl::string_view path) {
  const Json* node = &object;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    std::string field(part);
    std::vector<size_t> indices;
    size_t bracket = field.find('[');
    if (bracket != std::string::npos) {
      std::string rest = field.substr(bracket);
      field = field.substr(0, bracket);
      for (absl::string_view index : absl::StrSplit(rest, '[', absl::SkipEmpty())) {
        size_t value = 0;
        if (!index.empty() && index.back() == ']') index.remove_suffix(1);
        if (!absl::SimpleAtoi(index, &value)) return nullptr;
        indices.push_back(value);
      }
    }
    if (!field.empty()) {
      if (!node->is_object()) return nullptr;
      auto it = node->find(field);
      if (it == node->end()) return nullptr;
      node = &*it;
    }
    for (size_t index : indices) {
      if (!node->is_array() || index >= node->size()) return nullptr;
      node = &(*node)[index];
    }
  }
  return node;
}

// Expands $(NAME) in `text`; `$$` escapes a dollar. Sets *whole to the value when the text
// is exactly one reference.
std::string Expand(const std::string& text, const std::map<std::string, Json>& values,
                   const Json** whole) {
  *whole = nullptr;
  if (text.find('$') == std::string::npos) return text;
  if (absl::StartsWith(text, "$(") && text.back() == ')' && text.find(')') == text.size() - 1) {
    auto it = values.find(text.substr(2, text.size() - 3));
    if (it != values.end()) {
      *whole = &it->second;
      return ScalarText(it->second);
    }
  }
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '$' && i + 1 < text.size()) {
      if (text[i + 1] == '$') {
        out.push_back('$');
        ++i;
        continue;
      }
      if (text[i + 1] == '(') {
        size_t close = text.find(')', i + 2);
        if (close != std::string::npos) {
          auto it = values.find(text.substr(i + 2, close - i - 2));
          if (it != values.end()) {
            out += ScalarText(it->second);
            i = close;
            continue;
          }
        }
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

void ExpandValue(Json& value, const std::map<std::string, Json>& values) {
  if (value.is_string()) {
    const Json* whole = nullptr;
    std::string expanded = Expand(value.get<std::string>(), values, &whole);
    if (whole != nullptr && !whole->is_string()) {
      value = *whole;
    } else {
      value = expanded;
    }
  } else if (value.is_array()) {
    for (Json& element : value) {
      if (element.is_string()) ExpandValue(element, values);
    }
  } else if (value.is_object()) {
    for (auto& [key, element] : value.items()) {
      if (element.is_string()) ExpandValue(element, values);
    }
  }
}

}  // namespace

absl::Status ApplyReplacements(const FileSource& files, const Kustomization& kustomization,
                               std::vector<Resource>& resources) {
  for (const Json& entry : kustomization.replacements) {
    if (entry.is_object() && entry.contains("path")) {
      std::string path = GetString(entry, "path");
      ASSIGN_OR_RETURN(std::string text, ReadFileUnder(files, kustomization.dir, path,
                                                       "replacements file", kustomization.file));
      ASSIGN_OR_RETURN(std::vector<YamlDocument> documents, ParseYamlStream(text, path));
      for (const YamlDocument& document : documents) {
        if (document.value.is_array()) {
          for (const Json& item : document.value) {
            RETURN_IF_ERROR(ApplyOneReplacement(item, path, resources));
          }
        } else if (!document.value.is_null()) {
          RETURN_IF_ERROR(ApplyOneReplacement(document.value, path, resources));
        }
      }
      continue;
    }
    RETURN_IF_ERROR(ApplyOneReplacement(entry, kustomization.file, resources));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<Var>> ParseVars(const Kustomization& kustomization) {
  std::vector<Var> vars;
  for (const Json& item : kustomization.vars) {
    if (!item.is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kustomization.file, ": vars entries must be mappings"));
    }
    Var var;
    var.name = GetString(item, "name");
    var.declared_in = kustomization.file;
    if (var.name.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kustomization.file, ": a var must have a name"));
    }
    auto objref = item.find("objref");
    if (objref == item.end() || !objref->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(kustomization.file, ": var ", var.name, " has no objref"));
    }
    std::string api_version = GetString(*objref, "apiVersion");
    if (!api_version.empty()) {
      auto [group, version] = SplitApiVersion(api_version);
      var.group = group;
      var.version = version;
    } else {
      var.group = GetString(*objref, "group");
      var.version = GetString(*objref, "version");
    }
    var.kind = GetString(*objref, "kind");
    var.object_name = GetString(*objref, "name");
    var.ns = GetString(*objref, "namespace");
    auto fieldref = item.find("fieldref");
    if (fieldref != item.end() && fieldref->is_object()) {
      std::string path = GetString(*fieldref, "fieldpath");
      if (!path.empty()) var.field_path = path;
    }
    vars.push_back(std::move(var));
  }
  return vars;
}

absl::Status BindVars(std::vector<Resource>& resources, const std::vector<Var>& vars) {
  for (const Var& var : vars) {
    ResId target{var.group, var.version, var.kind, var.object_name, var.ns};
    bool with_namespace = !target.ns.empty() || IsClusterScoped(target);
    Resource* match = nullptr;
    int count = 0;
    for (Resource& resource : resources) {
      bool matched = false;
      for (const ResId& id : AllIds(resource)) {
        bool gvkn = id.group == target.group && id.version == target.version &&
                    id.kind == target.kind && id.name == target.name;
        if (gvkn && (!with_namespace || EffectiveNamespace(id) == EffectiveNamespace(target))) {
          matched = true;
        }
      }
      if (matched) {
        ++count;
        match = &resource;
      }
    }
    if (count > 1) {
      return absl::InvalidArgumentError(absl::StrCat(var.declared_in, ": found ", count,
                                                     " resId matches for var ", var.name,
                                                     " (unable to disambiguate)"));
    }
    if (match != nullptr) match->ref_var_names.push_back(var.name);
  }
  return absl::OkStatus();
}

absl::Status ResolveVars(std::vector<Resource>& resources, const std::vector<Var>& vars,
                         const std::vector<FieldSpec>& var_reference) {
  if (vars.empty()) return absl::OkStatus();
  std::map<std::string, Json> values;
  for (const Var& var : vars) {
    if (values.count(var.name)) {
      return absl::InvalidArgumentError(
          absl::StrCat(var.declared_in, ": var '", var.name, "' already encountered"));
    }
    // The resource the var was bound to when its kustomization was accumulated.
    const Resource* match = nullptr;
    for (const Resource& resource : resources) {
      for (const std::string& name : resource.ref_var_names) {
        if (name == var.name && match == nullptr) match = &resource;
      }
    }
    if (match == nullptr) {
      return absl::NotFoundError(
          absl::StrCat(var.declared_in, ": var '", var.name,
                       "' cannot be mapped to a field in the set of known resources"));
    }
    const Json* value = LookupVarField(match->object, var.field_path);
    if (value == nullptr) {
      return absl::NotFoundError(absl::StrCat(var.declared_in, ": field specified in var '",
                                              var.name, "' (", var.field_path,
                                              ") not found in corresponding resource"));
    }
    values[var.name] = *value;
  }
  for (Resource& resource : resources) {
    ResId id = resource.CurrentId();
    for (const FieldSpec& spec : var_reference) {
      if (!FieldSpecSelects(spec, id)) continue;
      RETURN_IF_ERROR(VisitFieldSpec(resource.object, spec, CreateKind::kNone,
                                     [&](Json& value) -> absl::Status {
                                       ExpandValue(value, values);
                                       return absl::OkStatus();
                                     }));
    }
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

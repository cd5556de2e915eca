#include "services/renderer/core/kustomize/generators.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "common/utf8.h"

namespace todoke::renderer::kustomize {
namespace {

std::string BaseName(absl::string_view path) {
  size_t slash = path.rfind('/');
  return std::string(slash == absl::string_view::npos ? path : path.substr(slash + 1));
}

// Strips one pair of matching surrounding quotes, as kustomize does for literal values.
std::string Unquote(absl::string_view value) {
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
      value.back() == value.front()) {
    return std::string(value.substr(1, value.size() - 2));
  }
  return std::string(value);
}

// kyaml's encodeBase64: standard base64 broken into lines of 70 characters, each line ended
// by a newline once the text is 70 characters or longer (the value then prints as a literal
// block, and the name hash covers the newlines).
std::string EncodeBase64Lines(absl::string_view raw) {
  constexpr size_t kLineLength = 70;
  std::string encoded = absl::Base64Escape(raw);
  if (encoded.size() / kLineLength == 0) return encoded;
  std::string out;
  out.reserve(encoded.size() + encoded.size() / kLineLength + 1);
  for (size_t i = 0; i < encoded.size(); i += kLineLength) {
    out.append(encoded, i, kLineLength);
    out.push_back('\n');
  }
  return out;
}

struct KeyValue {
  std::string key;
  std::string value;
};

absl::Status ParseEnvFile(absl::string_view text, absl::string_view path,
                          std::vector<KeyValue>& out) {
  if (absl::StartsWith(text, "\xEF\xBB\xBF")) text.remove_prefix(3);
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    line = absl::StripLeadingAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    size_t equals = line.find('=');
    if (equals == absl::string_view::npos) {
      // kustomize reads the value from its own environment; a render has none.
      out.push_back({std::string(line), ""});
      continue;
    }
    std::string key(line.substr(0, equals));
    if (key.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ":", line_number, ": missing key before '='"));
    }
    out.push_back({std::move(key), std::string(line.substr(equals + 1))});
  }
  return absl::OkStatus();
}

absl::StatusOr<Resource> Generate(const FileSource& files, const Kustomization& kustomization,
                                  const GeneratorArgs& args) {
  std::string context = absl::StrCat(
      kustomization.file, ": ", args.kind == "Secret" ? "secretGenerator" : "configMapGenerator",
      " \"", args.name, "\"");
  if (args.name.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": a generator must have a name"));
  }
  std::vector<KeyValue> entries;
  for (const std::string& env : args.envs) {
    ASSIGN_OR_RETURN(std::string text,
                     ReadFileUnder(files, kustomization.dir, env, "env file", kustomization.file));
    RETURN_IF_ERROR(ParseEnvFile(text, env, entries));
  }
  for (const std::string& literal : args.literals) {
    size_t equals = literal.find('=');
    if (equals == std::string::npos || equals == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": invalid literal source \"", literal, "\", expected key=value"));
    }
    entries.push_back(
        {literal.substr(0, equals), Unquote(absl::string_view(literal).substr(equals + 1))});
  }
  for (const std::string& file : args.files) {
    std::string key;
    std::string path = file;
    size_t equals = file.find('=');
    if (equals != std::string::npos) {
      key = file.substr(0, equals);
      path = file.substr(equals + 1);
      if (key.empty() || path.empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(context, ": invalid file source \"", file, "\", expected key=path"));
      }
    } else {
      key = BaseName(file);
    }
    ASSIGN_OR_RETURN(std::string content, ReadFileUnder(files, kustomization.dir, path,
                                                        "generator file", kustomization.file));
    entries.push_back({std::move(key), std::move(content)});
  }

  Json object = Json::object();
  object["apiVersion"] = "v1";
  object["kind"] = args.kind;
  Json metadata = Json::object();
  metadata["name"] = args.name;
  if (!args.ns.empty()) metadata["namespace"] = args.ns;

  // Options: the generator's own, with the kustomization's generatorOptions merged in.
  const GeneratorOptions& global = kustomization.generator_options;
  std::map<std::string, std::string> labels = global.labels;
  std::map<std::string, std::string> annotations = global.annotations;
  for (const auto& [k, v] : args.options.labels) labels[k] = v;
  for (const auto& [k, v] : args.options.annotations) annotations[k] = v;
  bool disable_hash = args.options.disable_name_suffix_hash.value_or(false) ||
                      global.disable_name_suffix_hash.value_or(false);
  bool immutable = args.options.immutable.value_or(false) || global.immutable.value_or(false);
  if (!labels.empty()) metadata["labels"] = labels;
  if (!annotations.empty()) metadata["annotations"] = annotations;
  object["metadata"] = std::move(metadata);

  Json data = Json::object();
  Json binary_data = Json::object();
  for (KeyValue& entry : entries) {
    if (data.contains(entry.key) || binary_data.contains(entry.key)) {
      return absl::InvalidArgumentError(
          absl::StrCat(context, ": cannot add key \"", entry.key,
                       "\", another key by that name already exists"));
    }
    if (args.kind == "Secret") {
      data[entry.key] = EncodeBase64Lines(entry.value);
    } else if (IsValidUtf8(std::string_view(entry.value))) {
      data[entry.key] = std::move(entry.value);
    } else {
      binary_data[entry.key] = EncodeBase64Lines(entry.value);
    }
  }
  if (!data.empty()) object["data"] = std::move(data);
  if (!binary_data.empty()) object["binaryData"] = std::move(binary_data);
  if (args.kind == "Secret") object["type"] = args.type.empty() ? "Opaque" : args.type;
  if (immutable) object["immutable"] = true;

  Resource resource;
  resource.object = std::move(object);
  resource.needs_hash = !disable_hash;
  resource.generator_behavior = args.behavior.empty() ? "create" : args.behavior;
  resource.source = kustomization.file;
  return resource;
}

std::map<std::string, std::string> StringMapField(const Json& object, const char* field) {
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

}  // namespace

absl::StatusOr<std::string> ReadFileUnder(const FileSource& files, absl::string_view dir,
                                          absl::string_view relative, absl::string_view what,
                                          absl::string_view kustomization_file) {
  absl::StatusOr<std::string> path = ResolveRepoPath(dir, relative);
  if (!path.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(kustomization_file, ": ", what, " \"", relative,
                                                   "\": ", path.status().message()));
  }
  if (!dir.empty() && !(*path == dir || absl::StartsWith(*path, absl::StrCat(dir, "/")))) {
    return absl::PermissionDeniedError(
        absl::StrCat(kustomization_file, ": ", what, " \"", relative, "\": security; file '", *path,
                     "' is not in or below '", dir.empty() ? "." : dir, "'"));
  }
  absl::StatusOr<std::string> content = files.ReadFile(*path);
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat(kustomization_file, ": ", what, " \"", relative,
                                     "\": ", content.status().message()));
  }
  return content;
}

absl::StatusOr<std::vector<Resource>> RunGenerators(const FileSource& files,
                                                    const Kustomization& kustomization) {
  std::vector<Resource> out;
  for (const GeneratorArgs& args : kustomization.generators) {
    ASSIGN_OR_RETURN(Resource resource, Generate(files, kustomization, args));
    out.push_back(std::move(resource));
  }
  return out;
}

absl::Status AbsorbGenerated(std::vector<Resource>& resources, std::vector<Resource> generated) {
  for (Resource& resource : generated) {
    ResId id = resource.CurrentId();
    std::vector<size_t> matches;
    for (size_t i = 0; i < resources.size(); ++i) {
      if (resources[i].MatchesAnyId(id)) matches.push_back(i);
    }
    const std::string behavior = resource.generator_behavior;
    resource.generator_behavior.clear();
    if (matches.empty()) {
      if (behavior == "merge" || behavior == "replace") {
        return absl::NotFoundError(
            absl::StrCat(resource.source, ": generator \"", id.name, "\" has behavior ", behavior,
                         " but id ", id.ToString(), " does not exist; cannot ", behavior));
      }
      resources.push_back(std::move(resource));
      continue;
    }
    if (matches.size() > 1) {
      return absl::InvalidArgumentError(absl::StrCat(resource.source, ": generator id ",
                                                     id.ToString(), " matches ", matches.size(),
                                                     " resources"));
    }
    Resource& old = resources[matches[0]];
    if (behavior != "merge" && behavior != "replace") {
      return absl::AlreadyExistsError(absl::StrCat(resource.source, ": id ", id.ToString(),
                                                   " exists; behavior must be merge or replace"));
    }
    // Metadata: labels and annotations merged (the new ones win), name and namespace kept.
    std::map<std::string, std::string> labels = StringMapField(old.object, "labels");
    for (const auto& [k, v] : StringMapField(resource.object, "labels")) labels[k] = v;
    std::map<std::string, std::string> annotations = StringMapField(old.object, "annotations");
    for (const auto& [k, v] : StringMapField(resource.object, "annotations")) annotations[k] = v;
    // With behavior merge the old origin annotation (buildMetadata) stays.
    if (behavior == "merge") {
      std::map<std::string, std::string> old_annotations =
          StringMapField(old.object, "annotations");
      auto it = old_annotations.find("config.kubernetes.io/origin");
      if (it != old_annotations.end()) annotations[it->first] = it->second;
    }
    Json& metadata = resource.object["metadata"];
    if (!labels.empty()) metadata["labels"] = labels;
    if (!annotations.empty()) metadata["annotations"] = annotations;
    resource.SetName(old.Name());
    resource.SetNamespace(old.Namespace());
    if (behavior == "merge") {
      for (const char* field : {"data", "binaryData"}) {
        auto old_field = old.object.find(field);
        if (old_field == old.object.end() || !old_field->is_object()) continue;
        Json merged = *old_field;
        auto new_field = resource.object.find(field);
        if (new_field != resource.object.end() && new_field->is_object()) {
          for (auto& [k, v] : new_field->items()) merged[k] = v;
        }
        resource.object[field] = std::move(merged);
      }
    }
    resource.previous_ids = old.previous_ids;
    resource.ref_var_names = old.ref_var_names;
    resource.name_prefixes = old.name_prefixes;
    resource.name_suffixes = old.name_suffixes;
    // kustomize keeps the old resource's needsHashSuffix build annotation and drops it when
    // the new generator disables the hash: both must want it.
    resource.needs_hash = resource.needs_hash && old.needs_hash;
    resource.source = old.source;
    old = std::move(resource);
  }
  return absl::OkStatus();
}

}  // namespace todoke::renderer::kustomize

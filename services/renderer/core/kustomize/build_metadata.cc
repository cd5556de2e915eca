#include "services/renderer/core/kustomize/build_metadata.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/yaml.h"

namespace todoke::renderer::kustomize {
namespace {

// A scalar as kyaml prints it in a mapping value (quoted only when it must be).
std::string Scalar(absl::string_view value) {
  std::string text = EmitYaml(Json(std::string(value)));
  while (!text.empty() && text.back() == '\n') text.pop_back();
  return text;
}

// The lines of kyaml.Marshal(origin), each prefixed by `indent`, the first by `first`.
std::string OriginText(const Origin& origin, absl::string_view first, absl::string_view indent) {
  std::vector<std::string> lines;
  if (!origin.path.empty()) lines.push_back(absl::StrCat("path: ", Scalar(origin.path)));
  if (!origin.configured_in.empty()) {
    lines.push_back(absl::StrCat("configuredIn: ", Scalar(origin.configured_in)));
  }
  if (!origin.api_version.empty() || !origin.kind.empty() || !origin.name.empty() ||
      !origin.ns.empty()) {
    lines.push_back("configuredBy:");
    if (!origin.api_version.empty()) {
      lines.push_back(absl::StrCat("  apiVersion: ", Scalar(origin.api_version)));
    }
    if (!origin.kind.empty()) lines.push_back(absl::StrCat("  kind: ", Scalar(origin.kind)));
    if (!origin.name.empty()) lines.push_back(absl::StrCat("  name: ", Scalar(origin.name)));
    if (!origin.ns.empty()) lines.push_back(absl::StrCat("  namespace: ", Scalar(origin.ns)));
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    absl::StrAppend(&out, i == 0 ? first : indent, lines[i], "\n");
  }
  return out;
}

Json* Annotations(Json& object) {
  Json& metadata = object["metadata"];
  if (!metadata.is_object()) metadata = Json::object();
  Json& annotations = metadata["annotations"];
  if (!annotations.is_object()) annotations = Json::object();
  return &annotations;
}

bool HasOrigin(const Json& object) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto annotations = metadata->find("annotations");
  return annotations != metadata->end() && annotations->is_object() &&
         annotations->contains(kOriginAnnotation);
}

void RemoveAnnotation(Json& object, const char* key) {
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return;
  annotations->erase(key);
}

}  // namespace

std::string JoinClean(absl::string_view base, absl::string_view path) {
  std::vector<std::string> parts;
  for (absl::string_view whole : {base, path}) {
    for (absl::string_view part : absl::StrSplit(whole, '/', absl::SkipEmpty())) {
      if (part == ".") continue;
      if (part == ".." && !parts.empty() && parts.back() != "..") {
        parts.pop_back();
        continue;
      }
      parts.emplace_back(part);
    }
  }
  return parts.empty() ? "." : absl::StrJoin(parts, "/");
}

Origin BuiltinOrigin(absl::string_view configured_in, absl::string_view kind) {
  Origin origin;
  origin.configured_in = std::string(configured_in);
  origin.api_version = "builtin";
  origin.kind = std::string(kind);
  return origin;
}

bool PluginOrigin(const Json& config, Origin& origin) {
  if (!HasOrigin(config)) return false;
  const Json& text = config["metadata"]["annotations"][kOriginAnnotation];
  if (!text.is_string()) return false;
  absl::StatusOr<Json> parsed = ParseYaml(text.get<std::string>());
  if (!parsed.ok() || !parsed->is_object()) return false;
  origin = Origin();
  origin.configured_in = GetString(*parsed, "path");
  origin.api_version = GetString(config, "apiVersion");
  origin.kind = GetString(config, "kind");
  auto metadata = config.find("metadata");
  if (metadata != config.end() && metadata->is_object()) {
    origin.name = GetString(*metadata, "name");
    origin.ns = GetString(*metadata, "namespace");
  }
  return true;
}

void SetFileOrigin(Json& object, absl::string_view path) {
  Origin origin;
  origin.path = std::string(path);
  (*Annotations(object))[kOriginAnnotation] = OriginText(origin, "", "");
}

void SetOriginIfMissing(std::vector<Resource>& resources, const Origin& origin) {
  for (Resource& resource : resources) {
    if (HasOrigin(resource.object)) continue;
    (*Annotations(resource.object))[kOriginAnnotation] = OriginText(origin, "", "");
  }
}

void AddTransformation(std::vector<Resource>& resources, const Origin& origin) {
  const std::string entry = OriginText(origin, "- ", "  ");
  for (Resource& resource : resources) {
    if (!HasOrigin(resource.object)) {
      (*Annotations(resource.object))[kOriginAnnotation] = OriginText(origin, "", "");
      continue;
    }
    Json& annotations = *Annotations(resource.object);
    Json& list = annotations[kTransformationsAnnotation];
    list = absl::StrCat(list.is_string() ? list.get<std::string>() : "", entry);
  }
}

void FinishBuildMetadata(std::vector<Resource>& resources,
                         const std::vector<std::string>& build_metadata) {
  auto wants = [&](absl::string_view option) {
    for (const std::string& entry : build_metadata) {
      if (entry == option) return true;
    }
    return false;
  };
  bool keep_origin = wants("originAnnotations");
  bool keep_transformations = wants("transformerAnnotations");
  bool managed_by = wants("managedByLabel");
  for (Resource& resource : resources) {
    if (!keep_origin) RemoveAnnotation(resource.object, kOriginAnnotation);
    if (!keep_transformations) RemoveAnnotation(resource.object, kTransformationsAnnotation);
    if (managed_by) {
      Json& metadata = resource.object["metadata"];
      if (!metadata.is_object()) metadata = Json::object();
      Json& labels = metadata["labels"];
      if (!labels.is_object()) labels = Json::object();
      labels[kManagedByLabel] = kManagedByValue;
    }
  }
}

}  // namespace todoke::renderer::kustomize

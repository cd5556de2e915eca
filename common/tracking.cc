#include "common/tracking.h"

#include "absl/strings/str_cat.h"

namespace todoke {

std::string TrackingId(absl::string_view installation, absl::string_view app,
                       const ObjectKey& key) {
  return absl::StrCat(installation, "/", app, ":", key.group, "/", key.kind, ":", key.ns, "/",
                      key.name);
}

std::optional<ParsedTrackingId> ParseTrackingId(absl::string_view id) {
  // <installation>/<app>:<group>/<kind>:<namespace>/<name>; app names and installations hold
  // neither ':' nor '/', kinds and groups hold no ':', names no '/'.
  size_t first_colon = id.find(':');
  if (first_colon == absl::string_view::npos) return std::nullopt;
  absl::string_view owner = id.substr(0, first_colon);
  size_t owner_slash = owner.find('/');
  if (owner_slash == absl::string_view::npos) return std::nullopt;
  absl::string_view rest = id.substr(first_colon + 1);
  size_t second_colon = rest.find(':');
  if (second_colon == absl::string_view::npos) return std::nullopt;
  absl::string_view group_kind = rest.substr(0, second_colon);
  absl::string_view ns_name = rest.substr(second_colon + 1);
  size_t gk_slash = group_kind.rfind('/');
  size_t nn_slash = ns_name.find('/');
  if (gk_slash == absl::string_view::npos || nn_slash == absl::string_view::npos)
    return std::nullopt;
  ParsedTrackingId parsed;
  parsed.installation = std::string(owner.substr(0, owner_slash));
  parsed.app = std::string(owner.substr(owner_slash + 1));
  parsed.key.group = std::string(group_kind.substr(0, gk_slash));
  parsed.key.kind = std::string(group_kind.substr(gk_slash + 1));
  parsed.key.ns = std::string(ns_name.substr(0, nn_slash));
  parsed.key.name = std::string(ns_name.substr(nn_slash + 1));
  if (parsed.installation.empty() || parsed.app.empty() || parsed.key.kind.empty() ||
      parsed.key.name.empty()) {
    return std::nullopt;
  }
  return parsed;
}

std::optional<std::string> TrackedApp(const Json& object, absl::string_view installation) {
  if (!object.is_object()) return std::nullopt;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return std::nullopt;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return std::nullopt;
  auto id = annotations->find(std::string(kTrackingIdAnnotation));
  if (id == annotations->end() || !id->is_string()) return std::nullopt;
  std::optional<ParsedTrackingId> parsed = ParseTrackingId(id->get_ref<const std::string&>());
  if (!parsed || parsed->installation != installation) return std::nullopt;
  absl::StatusOr<ObjectKey> own = KeyOf(object);
  if (!own.ok() || !(*own == parsed->key)) return std::nullopt;
  return parsed->app;
}

void StampTracking(Json& object, absl::string_view installation, absl::string_view app) {
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return;
  Json& metadata = object["metadata"];
  metadata["annotations"][std::string(kTrackingIdAnnotation)] = TrackingId(installation, app, *key);
  metadata["labels"][std::string(kAppLabel)] = std::string(app);
}

bool IsTrackingPointer(absl::string_view json_pointer) {
  return json_pointer == "/metadata/annotations/todoke.dev~1tracking-id" ||
         json_pointer == "/metadata/labels/todoke.dev~1app";
}

}  // namespace todoke

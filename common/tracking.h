// How todoke marks the objects it manages, shared by the applier (stamps and checks), the differ
// (never counts the stamps as drift) and the orchestrator.
//
//   annotation todoke.dev/tracking-id: <installation>/<app>:<group>/<kind>:<namespace>/<name>
//   label      todoke.dev/app: <app>
//
// The tracking id names the object's own key, so a copied object (same annotation, other key)
// is not tracked; it names the installation, so two todoke installations on one cluster never
// prune each other's objects. The source commit is never stamped (that would rewrite every
// object on every commit).
#ifndef TODOKE_COMMON_TRACKING_H_
#define TODOKE_COMMON_TRACKING_H_

#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "common/object.h"

namespace todoke {

inline constexpr absl::string_view kTrackingIdAnnotation = "todoke.dev/tracking-id";
inline constexpr absl::string_view kAppLabel = "todoke.dev/app";
// Opt-outs and ordering annotations read by the applier.
inline constexpr absl::string_view kPruneAnnotation = "todoke.dev/prune";  // "disabled"
inline constexpr absl::string_view kSyncWaveAnnotation = "todoke.dev/sync-wave";
inline constexpr absl::string_view kHookAnnotation = "todoke.dev/hook";
inline constexpr absl::string_view kHookDeletePolicyAnnotation = "todoke.dev/hook-delete-policy";
// The installation id used when none is configured.
inline constexpr absl::string_view kDefaultInstallation = "default";

// "<installation>/<app>:<group>/<kind>:<namespace>/<name>".
std::string TrackingId(absl::string_view installation, absl::string_view app, const ObjectKey& key);

struct ParsedTrackingId {
  std::string installation;
  std::string app;
  ObjectKey key;  // version empty
};

// Parses a tracking id; nullopt when it is not one.
std::optional<ParsedTrackingId> ParseTrackingId(absl::string_view id);

// The app that owns `object` in `installation`: the app named by its tracking id when the id's
// key is the object's own key (version aside) and its installation is `installation`; otherwise
// nullopt (untracked, copied from another object, or another installation's).
std::optional<std::string> TrackedApp(const Json& object, absl::string_view installation);

// Sets the tracking annotation and the app label on `object` (which must have a key).
void StampTracking(Json& object, absl::string_view installation, absl::string_view app);

// True for the metadata paths todoke stamps ("/metadata/annotations/todoke.dev~1tracking-id",
// "/metadata/labels/todoke.dev~1app", as RFC 6901 pointers): never drift.
bool IsTrackingPointer(absl::string_view json_pointer);

}  // namespace todoke

#endif  // TODOKE_COMMON_TRACKING_H_

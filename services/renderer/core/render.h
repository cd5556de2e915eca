// The render entry point: the files of one app path into Kubernetes objects, by Kustomize, a
// plain directory or a plugin, then variable substitution; with a digest and the inputs read.
#ifndef TODOKE_SERVICES_RENDERER_CORE_RENDER_H_
#define TODOKE_SERVICES_RENDERER_CORE_RENDER_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/budget.h"
#include "common/object.h"
#include "services/renderer/core/directory.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/plugin.h"
#include "services/renderer/core/recording_file_source.h"
#include "services/renderer/core/substitution.h"

namespace todoke::renderer {

enum class RenderMode {
  kAuto,  // a kustomization file in the app folder: Kustomize; otherwise a plain directory
  kDirectory,
  kKustomize,
  kPlugin,
};

// "auto", "directory", "kustomize", "plugin".
absl::string_view RenderModeName(RenderMode mode);

// The rendering engine: bumped whenever the same inputs and options may render differently
// (the kustomize version it follows is part of it). Part of every render cache key and of
// RenderResponse.engine_version.
inline constexpr char kRenderEngineVersion[] = "todoke-renderer/4 kustomize/v5.5.0";

struct RenderOptions {
  RenderMode mode = RenderMode::kAuto;
  DirectoryOptions directory;  // kDirectory (and kAuto when no kustomization file)
  PluginRequest plugin;        // kPlugin
  // Values for ${VAR} substitution after build; empty: no substitution.
  Variables substitutions;
  // The render's budget (common/budget.h): memory over all the files it reads and parses, and
  // its deadline and cancellation, checked per file, per YAML document and per object and step
  // of a Kustomize build. Null: a budget of default limits, no deadline. Not part of the
  // fingerprint. The caller's budget must outlive the render.
  Budget* budget = nullptr;
  // Keep output objects that have no apiVersion, kind or name (kustomize prints them; such an
  // object's key in RenderResult::keys is then empty) instead of failing the render. For
  // `todoke render`, which only prints; a sync needs every object's key. Not part of the
  // fingerprint: a render that would fail without it is never cached.
  bool allow_keyless_objects = false;
  // Fill only what printing needs: RenderResult::objects, keys, mode and the paths of `inputs`
  // (their blob ids left empty); no canonical JSON, digest, observations or blob ids. Hashing
  // every file read and every object's canonical JSON is ~10% of a render, and only a caller
  // that caches or applies the result uses them. For `todoke render`. Not part of the
  // fingerprint: CachingRenderer ignores it (it needs the full result).
  bool objects_only = false;
};

// A stable text naming every option and the engine version, for cache keys.
std::string OptionsFingerprint(const RenderOptions& options);

struct InputFile {
  std::string path;
  std::string blob_id;
  friend bool operator==(const InputFile&, const InputFile&) = default;
};

struct RenderResult {
  // Kustomize's output order for Kustomize, walk order for directories, stdout order for plugins.
  std::vector<Json> objects;
  // keys[i] is KeyOf(objects[i]) (empty for an object without one, if allow_keyless_objects).
  std::vector<ObjectKey> keys;
  std::vector<std::string> canonical_json;  // CanonicalJson(objects[i])
  // "sha256:" + hex SHA-256 over each canonical JSON followed by '\n', in order.
  std::string digest;
  // Every file read, sorted by path, with its blob id.
  std::vector<InputFile> inputs;
  // The mode actually used (kAuto resolved).
  RenderMode mode = RenderMode::kAuto;
  // Everything the render observed of the tree (for content-addressed caching).
  std::vector<Observation> observations;

  // Approximate memory held, for cache accounting.
  size_t ApproximateBytes() const;
};

// The digest of objects given as canonical JSON, as RenderResult::digest.
std::string ComputeDigest(const std::vector<std::string>& canonical_json);

class Renderer {
 public:
  // `plugins` may be null: plugin mode then fails with FAILED_PRECONDITION.
  explicit Renderer(std::shared_ptr<const PluginRunner> plugins = nullptr);

  // Renders folder `path` (relative to the repository root of `files`). Errors carry the file
  // (and line/column for YAML) or the object: INVALID_ARGUMENT for bad input (including an
  // object without apiVersion, kind or metadata.name), NOT_FOUND for a missing path or
  // resource, FAILED_PRECONDITION for a refused feature, DEADLINE_EXCEEDED for a plugin timeout;
  // if `files.SourceStatus()` is not OK after the render, that status; if the budget failed
  // (RESOURCE_EXHAUSTED naming the file, or the render stopped: DEADLINE_EXCEEDED, CANCELLED),
  // that failure. Thread-safe.
  absl::StatusOr<RenderResult> Render(const FileSource& files, absl::string_view path,
                                      const RenderOptions& options = {}) const;

 private:
  absl::StatusOr<std::vector<Json>> Build(const FileSource& files, const std::string& path,
                                          const RenderOptions& options, RenderMode& mode) const;

  std::shared_ptr<const PluginRunner> plugins_;
};

// How many renders in this process stopped because their budget's deadline passed or their
// caller cancelled (the build saw it and gave up), for metrics and tests.
uint64_t RendersStopped();

// Renders without plugins (as `todoke render` does).
absl::StatusOr<RenderResult> Render(const FileSource& files, absl::string_view path,
                                    const RenderOptions& options = {});

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_RENDER_H_

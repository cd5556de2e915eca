// The renderer's content-addressed cache. A render is stored under the hash of everything it
// observed (the blob ids of the files it read, the absence of files it probed, the listings of
// folders it walked) plus its options. An app (repo, path, options) remembers its recent
// observation sets; at a new commit they are replayed against the new tree, and if one still
// holds the stored result is returned without rendering: a commit that does not touch an app's
// inputs never re-renders it.
#ifndef TODOKE_SERVICES_RENDERER_CORE_RENDER_CACHE_H_
#define TODOKE_SERVICES_RENDERER_CORE_RENDER_CACHE_H_

#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"

namespace todoke::renderer {

struct RenderCacheOptions {
  // Renders kept (least recently used dropped first). 0 disables the cache.
  size_t max_entries = 1024;
  // Approximate bytes of rendered output kept.
  size_t max_bytes = size_t{1} << 30;
  // Observation sets remembered per app (so switching back and forth between two input
  // states still hits).
  size_t candidates_per_app = 4;
};

struct RenderCacheStats {
  uint64_t hits = 0;
  uint64_t misses = 0;
  size_t entries = 0;
  size_t bytes = 0;
};

// Thread-safe LRU of render results.
class RenderCache {
 public:
  explicit RenderCache(RenderCacheOptions options = {});

  // The cached result for `app_key` whose observations all still hold in `files`, or null.
  // Replaying observations reads `files` (outside the cache's lock).
  std::shared_ptr<const RenderResult> Lookup(const std::string& app_key, const FileSource& files);

  // Stores `result` (which must carry its observations) for `app_key` and `options_fingerprint`.
  void Insert(const std::string& app_key, absl::string_view options_fingerprint,
              std::shared_ptr<const RenderResult> result);

  RenderCacheStats Stats() const;

  // The content key: SHA-256 over the options fingerprint and the observations.
  static std::string ContentKey(absl::string_view options_fingerprint,
                                const std::vector<Observation>& observations);

 private:
  struct Entry {
    std::shared_ptr<const RenderResult> result;
    size_t bytes = 0;
    std::list<std::string>::iterator lru;
  };
  void TouchLocked(const std::string& content_key) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void EvictLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const RenderCacheOptions options_;
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> lru_ ABSL_GUARDED_BY(mu_);  // front: most recent content key
  // app key -> recent content keys, most recent first; bounded like the entries.
  std::unordered_map<std::string, std::deque<std::string>> apps_ ABSL_GUARDED_BY(mu_);
  std::list<std::string> apps_lru_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::list<std::string>::iterator> apps_position_
      ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t hits_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t misses_ ABSL_GUARDED_BY(mu_) = 0;
};

// A Renderer in front of a RenderCache.
class CachingRenderer {
 public:
  CachingRenderer(std::shared_ptr<const Renderer> renderer, RenderCacheOptions options = {});

  struct Output {
    std::shared_ptr<const RenderResult> result;
    bool cache_hit = false;
  };

  // Renders `path` of `repo` (any stable repository identity) from `files`, or returns the
  // cached result when the inputs it depends on are unchanged. Errors as Renderer::Render;
  // failures are not cached.
  absl::StatusOr<Output> Render(absl::string_view repo, const FileSource& files,
                                absl::string_view path, const RenderOptions& options);

  RenderCacheStats Stats() const { return cache_.Stats(); }

 private:
  std::shared_ptr<const Renderer> renderer_;
  RenderCache cache_;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_RENDER_CACHE_H_

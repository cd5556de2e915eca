#include "services/renderer/core/render_cache.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/renderer/core/hashing.h"

namespace todoke::renderer {

RenderCache::RenderCache(RenderCacheOptions options) : options_(options) {}

std::string RenderCache::ContentKey(absl::string_view options_fingerprint,
                                    const std::vector<Observation>& observations) {
  Sha256 hash;
  hash.Update(absl::StrCat(options_fingerprint.size(), ":"));
  hash.Update(options_fingerprint);
  for (const Observation& observation : observations) {
    hash.Update(absl::StrCat(std::string(1, static_cast<char>(observation.kind)),
                             observation.path.size(), ":"));
    hash.Update(observation.path);
    hash.Update(absl::StrCat(observation.value.size(), ":"));
    hash.Update(observation.value);
  }
  return hash.HexDigest();
}

std::shared_ptr<const RenderResult> RenderCache::Lookup(const std::string& app_key,
                                                        const FileSource& files) {
  std::vector<std::pair<std::string, std::shared_ptr<const RenderResult>>> candidates;
  {
    absl::MutexLock lock(&mu_);
    auto app = apps_.find(app_key);
    if (app != apps_.end()) {
      for (const std::string& content_key : app->second) {
        auto entry = entries_.find(content_key);
        if (entry != entries_.end()) candidates.emplace_back(content_key, entry->second.result);
      }
    }
  }
  for (auto& [content_key, result] : candidates) {
    if (!ObservationsHold(files, result->observations)) continue;
    absl::MutexLock lock(&mu_);
    ++hits_;
    if (entries_.contains(content_key)) TouchLocked(content_key);
    return result;
  }
  absl::MutexLock lock(&mu_);
  ++misses_;
  return nullptr;
}

void RenderCache::TouchLocked(const std::string& content_key) {
  auto entry = entries_.find(content_key);
  lru_.splice(lru_.begin(), lru_, entry->second.lru);
}

void RenderCache::Insert(const std::string& app_key, absl::string_view options_fingerprint,
                         std::shared_ptr<const RenderResult> result) {
  if (options_.max_entries == 0 || result == nullptr) return;
  const std::string content_key = ContentKey(options_fingerprint, result->observations);
  const size_t bytes = result->ApproximateBytes() + app_key.size();
  if (bytes > options_.max_bytes) return;
  absl::MutexLock lock(&mu_);
  auto existing = entries_.find(content_key);
  if (existing == entries_.end()) {
    lru_.push_front(content_key);
    entries_[content_key] = Entry{std::move(result), bytes, lru_.begin()};
    bytes_ += bytes;
  } else {
    TouchLocked(content_key);
  }
  // Remember the content key for the app, most recent first.
  std::deque<std::string>& keys = apps_[app_key];
  for (auto it = keys.begin(); it != keys.end(); ++it) {
    if (*it == content_key) {
      keys.erase(it);
      break;
    }
  }
  keys.push_front(content_key);
  while (keys.size() > options_.candidates_per_app) keys.pop_back();
  auto position = apps_position_.find(app_key);
  if (position != apps_position_.end()) {
    apps_lru_.splice(apps_lru_.begin(), apps_lru_, position->second);
  } else {
    apps_lru_.push_front(app_key);
    apps_position_[app_key] = apps_lru_.begin();
  }
  EvictLocked();
}

void RenderCache::EvictLocked() {
  while (!lru_.empty() && (entries_.size() > options_.max_entries || bytes_ > options_.max_bytes)) {
    auto entry = entries_.find(lru_.back());
    bytes_ -= entry->second.bytes;
    entries_.erase(entry);
    lru_.pop_back();
  }
  // App records point at content keys; keep at most as many apps as entries allow.
  const size_t max_apps = 2 * options_.max_entries + 16;
  while (apps_lru_.size() > max_apps) {
    apps_.erase(apps_lru_.back());
    apps_position_.erase(apps_lru_.back());
    apps_lru_.pop_back();
  }
}

RenderCacheStats RenderCache::Stats() const {
  absl::MutexLock lock(&mu_);
  return {hits_, misses_, entries_.size(), bytes_};
}

CachingRenderer::CachingRenderer(std::shared_ptr<const Renderer> renderer,
                                 RenderCacheOptions options)
    : renderer_(std::move(renderer)), cache_(options) {}

absl::StatusOr<CachingRenderer::Output> CachingRenderer::Render(absl::string_view repo,
                                                                const FileSource& files,
                                                                absl::string_view path,
                                                                const RenderOptions& options) {
  if (options.objects_only) {  // a cached result must be complete (digest, observations)
    RenderOptions full = options;
    full.objects_only = false;
    return Render(repo, files, path, full);
  }
  ASSIGN_OR_RETURN(std::string app_path, ResolveRepoPath("", path));
  const std::string fingerprint = OptionsFingerprint(options);
  const std::string app_key =
      absl::StrCat(repo.size(), ":", repo, app_path.size(), ":", app_path, fingerprint);
  if (std::shared_ptr<const RenderResult> cached = cache_.Lookup(app_key, files)) {
    return Output{std::move(cached), true};
  }
  ASSIGN_OR_RETURN(RenderResult result, renderer_->Render(files, app_path, options));
  auto shared = std::make_shared<const RenderResult>(std::move(result));
  cache_.Insert(app_key, fingerprint, shared);
  return Output{std::move(shared), false};
}

}  // namespace todoke::renderer

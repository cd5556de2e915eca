// The on-disk cache of bare mirrors: one directory per repository, a lock per repository, size
// accounting and least-recently-used eviction. Knows nothing about Git beyond directory names.
//
// Layout under the cache directory:
//   mirrors/<name>-<hash>.git/   a bare mirror; complete iff it holds the file "todoke-mirror"
//   tmp/                         mirrors being cloned (renamed into mirrors/ when complete)
//   .lock                        held (flock) by the one process that owns the cache
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_MIRROR_CACHE_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_MIRROR_CACHE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/source_fetcher/core/git_util.h"

namespace todoke::source_fetcher {

// The state of one repository's mirror.
struct MirrorEntry {
  std::string key;  // directory name under mirrors/
  std::string dir;  // absolute path of the mirror
  // Held shared while reading the mirror; exclusive to delete or replace it.
  std::shared_timed_mutex life;
  // Held by the one thread fetching into (or cloning) this mirror.
  std::timed_mutex fetch;
  std::atomic<int64_t> last_used_ns{0};
  std::atomic<uint64_t> size_bytes{0};
  std::atomic<bool> present{false};  // a complete mirror is on disk
  // Open handles on the mirror; invalidated whenever the directory is replaced or removed.
  RepositoryPool repositories;
};

class MirrorCache {
 public:
  // The marker file of a complete mirror.
  static constexpr const char* kMarkerFile = "todoke-mirror";

  // Opens `cache_dir` (created if missing): takes its process lock (FAILED_PRECONDITION if another
  // process holds it), deletes tmp/ and mirrors without a marker (half-written), and registers the
  // complete mirrors with their size and last use (the marker's mtime).
  static absl::StatusOr<std::unique_ptr<MirrorCache>> Open(const std::string& cache_dir,
                                                           uint64_t max_bytes);
  ~MirrorCache();

  // The entry for a canonical repository URL (created on first use; the mirror may be absent).
  std::shared_ptr<MirrorEntry> Get(const std::string& canonical_url);

  // A fresh empty directory path under tmp/ for cloning `entry`.
  std::string NewTempDir(const MirrorEntry& entry);

  // Marks `entry` used now (in memory, and on disk at most every few seconds).
  void Touch(MirrorEntry& entry);

  // Recomputes the size of `entry` on disk.
  void UpdateSize(MirrorEntry& entry);

  // Deletes `dir` (or renames it aside and deletes it). Best effort.
  void RemoveDir(const std::string& dir);

  // While the total size exceeds the limit, evicts the least recently used mirrors that nobody
  // is using, never `keep`. Returns how many were evicted.
  int EvictIfNeeded(const MirrorEntry* keep);

  uint64_t TotalBytes();
  const std::string& dir() const { return dir_; }

 private:
  MirrorCache(std::string dir, uint64_t max_bytes, int lock_fd)
      : dir_(std::move(dir)), max_bytes_(max_bytes), lock_fd_(lock_fd) {}

  std::string dir_;
  uint64_t max_bytes_;
  int lock_fd_;
  std::atomic<uint64_t> temp_counter_{0};
  absl::Mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<MirrorEntry>> entries_ ABSL_GUARDED_BY(mu_);
};

// The size in bytes of the files under `dir`.
uint64_t DirectorySize(const std::string& dir);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_MIRROR_CACHE_H_

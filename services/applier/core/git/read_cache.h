// What the Git destination keeps between ReadLive calls (internal to services/applier/core/git):
// open repository handles, and the parsed object files of app folders by tree id. Both are
// process-wide (one applier serves every app of a branch through one GitDestination per app
// folder) and thread-safe.
//
// Neither can answer stale data by construction: a folder's parse is keyed by its tree id, which
// names its content, and the repository handles only save the open; each ReadLive still reads
// the branch's ref (or fetches it) and looks the folder up in the tree of the tip it got.
#ifndef TODOKE_SERVICES_APPLIER_CORE_GIT_READ_CACHE_H_
#define TODOKE_SERVICES_APPLIER_CORE_GIT_READ_CACHE_H_

#include <git2.h>

#include <cstddef>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/object.h"
#include "services/source_fetcher/core/git_util.h"

namespace todoke::applier::git_internal {

// Idle libgit2 repository handles per repository folder. A git_repository is not safe for
// concurrent use, so each caller borrows a handle of its own (opening one when none is idle) and
// gives it back; at most `max_idle` handles per folder are kept (the rest are closed), so the
// handles open at once are bounded by the concurrent readers. A handle sees other writers'
// commits (libgit2 reads refs from disk on every lookup and rescans packs when an object is
// missing).
class RepositoryPool {
 public:
  static RepositoryPool& Default();
  explicit RepositoryPool(size_t max_idle = 4) : max_idle_(max_idle) {}

  // A borrowed handle: given back to the pool when destroyed, unless Discard() was called (after
  // an error, so a handle in a doubtful state is closed). Null when the opener found no
  // repository.
  class Lease {
   public:
    Lease() = default;
    Lease(Lease&&) = default;
    Lease& operator=(Lease&&) = default;
    ~Lease();
    git_repository* get() const { return repo_.get(); }
    void Discard() { repo_.reset(); }

   private:
    friend class RepositoryPool;
    RepositoryPool* pool_ = nullptr;
    std::string dir_;
    uint64_t generation_ = 0;
    source_fetcher::GitRepository repo_;
  };

  // An idle handle of `dir`, else `open()`'s (whose error is returned as is; a null handle is
  // lent as a null Lease and not kept).
  absl::StatusOr<Lease> Borrow(
      const std::string& dir,
      const std::function<absl::StatusOr<source_fetcher::GitRepository>()>& open);

  // Closes the idle handles of `dir` and keeps none of those lent now: for a repository folder
  // that was removed and made again (a damaged clone).
  void Forget(const std::string& dir);

  // Idle handles of `dir` (tests).
  size_t IdleCount(const std::string& dir);

 private:
  void GiveBack(const std::string& dir, uint64_t generation, source_fetcher::GitRepository repo);

  const size_t max_idle_;
  std::mutex mu_;
  struct Folder {
    uint64_t generation = 0;
    std::vector<source_fetcher::GitRepository> idle;
  };
  std::map<std::string, Folder> folders_;
};

// The object files of one app folder, parsed: what ReadLive answers from.
struct FolderSnapshot {
  struct File {
    std::string relative;          // "<ns|_cluster>/<file>.yaml", relative to the folder
    std::string blob;              // the file's blob id (hex): the object's resource_version
    std::optional<ObjectKey> key;  // nullopt: the file is not one Kubernetes object
    std::string json;              // CanonicalJson of the object
  };
  std::vector<File> files;                               // in tree order
  absl::flat_hash_map<std::string, size_t> by_relative;  // relative -> index in files
  size_t bytes = 0;  // an estimate of the memory held, for the cache's bound
};

// The entries of one tree by name: what looking a folder up needs from each tree on its path
// (the top-level tree of a branch with 1,000 app folders has 1,000 entries).
struct TreeIndex {
  struct Entry {
    git_oid id;
    bool is_tree = false;
  };
  absl::flat_hash_map<std::string, Entry> entries;
  size_t bytes = 0;  // an estimate of the memory held, for the cache's bound
};

// Values by the id of the Git object they were made from (so never stale), least recently used
// out first: at most `max_bytes` (Value::bytes, an estimate) held in all; a value larger than a
// quarter of the bound is not kept. Thread-safe; values are shared read-only.
template <typename Value>
class ContentCache {
 public:
  explicit ContentCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The value made from object `id`, or null when not cached.
  std::shared_ptr<const Value> Find(const git_oid& id) {
    Key key(reinterpret_cast<const char*>(id.id), GIT_OID_RAWSZ);
    std::lock_guard<std::mutex> lock(mu_);
    auto it = index_.find(key);
    if (it == index_.end()) return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->second;
  }

  // Keeps `value` as made from object `id` (evicting the least recently used to fit).
  void Put(const git_oid& id, std::shared_ptr<const Value> value) {
    if (value == nullptr || value->bytes > max_bytes_ / 4) return;
    Key key(reinterpret_cast<const char*>(id.id), GIT_OID_RAWSZ);
    std::lock_guard<std::mutex> lock(mu_);
    if (index_.contains(key)) return;  // another caller made it too: the same content
    bytes_ += value->bytes;
    lru_.emplace_front(key, std::move(value));
    index_.emplace(std::move(key), lru_.begin());
    while (bytes_ > max_bytes_ && !lru_.empty()) {
      bytes_ -= lru_.back().second->bytes;
      index_.erase(lru_.back().first);
      lru_.pop_back();
    }
  }

  // Held now (tests).
  size_t bytes() {
    std::lock_guard<std::mutex> lock(mu_);
    return bytes_;
  }

 private:
  using Key = std::string;  // the 20 raw bytes of the object id
  using Lru = std::list<std::pair<Key, std::shared_ptr<const Value>>>;
  const size_t max_bytes_;
  std::mutex mu_;
  Lru lru_;  // most recently used first
  absl::flat_hash_map<Key, typename Lru::iterator> index_;
  size_t bytes_ = 0;
};

// Parsed app folders by tree id: 64 MiB in the process (a 4-object app of bench/e2e/noop_bench
// is ~3 KiB, so ~20,000 such folders).
using FolderCache = ContentCache<FolderSnapshot>;
inline constexpr size_t kFolderCacheBytes = 64 << 20;
FolderCache& DefaultFolderCache();

// The trees on the way to app folders by tree id: 4 MiB in the process (the top-level tree of
// 1,000 app folders is ~115 KiB indexed, so the last ~35 tips of such a branch; only the current
// tip's trees are asked for again, older ones just age out). When the tip moves, the first
// reader indexes the new top-level tree and every other app's lookup is a hash lookup per path
// component. A tree over 1 MiB indexed (~18,000 entries) is not kept.
using TreeCache = ContentCache<TreeIndex>;
inline constexpr size_t kTreeCacheBytes = 4 << 20;
TreeCache& DefaultTreeCache();

}  // namespace todoke::applier::git_internal

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_READ_CACHE_H_

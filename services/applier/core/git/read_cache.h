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
  absl::StatusOr<Lease> Borrow(const std::string& dir,
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
    std::string relative;                // "<ns|_cluster>/<file>.yaml", relative to the folder
    std::string blob;                    // the file's blob id (hex): the object's resource_version
    std::optional<ObjectKey> key;        // nullopt: the file is not one Kubernetes object
    std::string json;                    // CanonicalJson of the object
  };
  std::vector<File> files;  // in tree order
  absl::flat_hash_map<std::string, size_t> by_relative;  // relative -> index in files
  size_t bytes = 0;  // an estimate of the memory held, for the cache's bound
};

// Parsed folders by tree id, least recently used first out: at most `max_bytes` (estimated:
// strings and a fixed overhead per file) held in all; a folder larger than a quarter of the bound
// is not kept. Default(): 64 MiB (a 4-object app of bench/e2e/noop_bench is ~3 KiB, so ~20,000
// such folders).
class FolderCache {
 public:
  static constexpr size_t kDefaultMaxBytes = 64 << 20;
  static FolderCache& Default();
  explicit FolderCache(size_t max_bytes) : max_bytes_(max_bytes) {}

  // The folder of tree `tree`, or null when not cached.
  std::shared_ptr<const FolderSnapshot> Find(const git_oid& tree);
  // Keeps `folder` as the parse of `tree` (evicting the least recently used to fit).
  void Put(const git_oid& tree, std::shared_ptr<const FolderSnapshot> folder);

  size_t bytes();  // held now (tests)

 private:
  using Key = std::string;  // the 20 raw bytes of the tree id
  using Lru = std::list<std::pair<Key, std::shared_ptr<const FolderSnapshot>>>;
  const size_t max_bytes_;
  std::mutex mu_;
  Lru lru_;  // most recently used first
  absl::flat_hash_map<Key, Lru::iterator> index_;
  size_t bytes_ = 0;
};

}  // namespace todoke::applier::git_internal

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_READ_CACHE_H_

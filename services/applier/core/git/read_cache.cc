#include "services/applier/core/git/read_cache.h"

namespace todoke::applier::git_internal {

RepositoryPool& RepositoryPool::Default() {
  static RepositoryPool* pool = new RepositoryPool();
  return *pool;
}

RepositoryPool::Lease::~Lease() {
  if (pool_ != nullptr && repo_ != nullptr) pool_->GiveBack(dir_, generation_, std::move(repo_));
}

absl::StatusOr<RepositoryPool::Lease> RepositoryPool::Borrow(
    const std::string& dir,
    const std::function<absl::StatusOr<source_fetcher::GitRepository>()>& open) {
  Lease lease;
  lease.pool_ = this;
  lease.dir_ = dir;
  {
    std::lock_guard<std::mutex> lock(mu_);
    Folder& folder = folders_[dir];
    lease.generation_ = folder.generation;
    if (!folder.idle.empty()) {
      lease.repo_ = std::move(folder.idle.back());
      folder.idle.pop_back();
      return lease;
    }
  }
  absl::StatusOr<source_fetcher::GitRepository> opened = open();
  if (!opened.ok()) return opened.status();
  lease.repo_ = *std::move(opened);
  return lease;
}

void RepositoryPool::GiveBack(const std::string& dir, uint64_t generation,
                              source_fetcher::GitRepository repo) {
  std::lock_guard<std::mutex> lock(mu_);
  Folder& folder = folders_[dir];
  if (folder.generation != generation || folder.idle.size() >= max_idle_) return;  // closed
  folder.idle.push_back(std::move(repo));
}

void RepositoryPool::Forget(const std::string& dir) {
  std::vector<source_fetcher::GitRepository> closing;
  std::lock_guard<std::mutex> lock(mu_);
  Folder& folder = folders_[dir];
  ++folder.generation;
  closing.swap(folder.idle);
}

size_t RepositoryPool::IdleCount(const std::string& dir) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = folders_.find(dir);
  return it == folders_.end() ? 0 : it->second.idle.size();
}

// ---------------------------------------------------------------------------------------------

FolderCache& FolderCache::Default() {
  static FolderCache* cache = new FolderCache(kDefaultMaxBytes);
  return *cache;
}

std::shared_ptr<const FolderSnapshot> FolderCache::Find(const git_oid& tree) {
  Key key(reinterpret_cast<const char*>(tree.id), GIT_OID_RAWSZ);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = index_.find(key);
  if (it == index_.end()) return nullptr;
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->second;
}

void FolderCache::Put(const git_oid& tree, std::shared_ptr<const FolderSnapshot> folder) {
  if (folder == nullptr || folder->bytes > max_bytes_ / 4) return;
  Key key(reinterpret_cast<const char*>(tree.id), GIT_OID_RAWSZ);
  std::lock_guard<std::mutex> lock(mu_);
  if (index_.contains(key)) return;  // another caller parsed it too: the same content
  bytes_ += folder->bytes;
  lru_.emplace_front(key, std::move(folder));
  index_.emplace(std::move(key), lru_.begin());
  while (bytes_ > max_bytes_ && !lru_.empty()) {
    bytes_ -= lru_.back().second->bytes;
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

size_t FolderCache::bytes() {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

}  // namespace todoke::applier::git_internal

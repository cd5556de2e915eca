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

FolderCache& DefaultFolderCache() {
  static FolderCache* cache = new FolderCache(kFolderCacheBytes);
  return *cache;
}

TreeCache& DefaultTreeCache() {
  static TreeCache* cache = new TreeCache(kTreeCacheBytes);
  return *cache;
}

}  // namespace todoke::applier::git_internal

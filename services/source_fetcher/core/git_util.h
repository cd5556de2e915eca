// Small RAII and error helpers around libgit2 (internal to the source-fetcher core).
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_GIT_UTIL_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_GIT_UTIL_H_

#include <git2.h>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace todoke::source_fetcher {

template <typename T, void (*Free)(T*)>
struct GitDeleter {
  void operator()(T* p) const {
    if (p != nullptr) Free(p);
  }
};

using GitRepository =
    std::unique_ptr<git_repository, GitDeleter<git_repository, git_repository_free>>;
using GitRemote = std::unique_ptr<git_remote, GitDeleter<git_remote, git_remote_free>>;
using GitCommit = std::unique_ptr<git_commit, GitDeleter<git_commit, git_commit_free>>;
using GitTree = std::unique_ptr<git_tree, GitDeleter<git_tree, git_tree_free>>;
using GitTreeEntry =
    std::unique_ptr<git_tree_entry, GitDeleter<git_tree_entry, git_tree_entry_free>>;
using GitBlob = std::unique_ptr<git_blob, GitDeleter<git_blob, git_blob_free>>;
using GitObject = std::unique_ptr<git_object, GitDeleter<git_object, git_object_free>>;
using GitOdb = std::unique_ptr<git_odb, GitDeleter<git_odb, git_odb_free>>;
using GitOdbObject =
    std::unique_ptr<git_odb_object, GitDeleter<git_odb_object, git_odb_object_free>>;

// Open repositories of one mirror, reused across requests (opening a repository and mapping its
// packs costs more than a warm lookup). Thread-safe. Each borrowed handle is used by one thread
// at a time; Invalidate() (after a fetch, rebuild or eviction) makes every handle opened before
// it be closed instead of reused.
class RepositoryPool {
 public:
  class Handle {
   public:
    Handle(RepositoryPool* pool, git_repository* repo, uint64_t generation)
        : pool_(pool), repo_(repo), generation_(generation) {}
    Handle(Handle&& other) noexcept
        : pool_(other.pool_), repo_(other.repo_), generation_(other.generation_) {
      other.repo_ = nullptr;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    Handle& operator=(Handle&&) = delete;
    ~Handle() {
      if (repo_ != nullptr) pool_->Return(repo_, generation_);
    }
    git_repository* get() const { return repo_; }

   private:
    RepositoryPool* pool_;
    git_repository* repo_;
    uint64_t generation_;
  };

  explicit RepositoryPool(size_t max_idle = 2) : max_idle_(max_idle) {}
  ~RepositoryPool();
  RepositoryPool(const RepositoryPool&) = delete;
  RepositoryPool& operator=(const RepositoryPool&) = delete;

  // An idle handle for the bare repository at `dir`, or a newly opened one. Returns false (with
  // libgit2's error set) if the repository cannot be opened.
  bool Borrow(const std::string& dir, std::optional<Handle>* out);
  void Invalidate();

 private:
  void Return(git_repository* repo, uint64_t generation);

  const size_t max_idle_;
  std::mutex mu_;
  std::vector<git_repository*> idle_;
  uint64_t generation_ = 0;
};

// Initialises libgit2 once per process (and the deadline sockets). Thread-safe.
absl::Status EnsureLibgit2();

// The message of libgit2's last error on this thread, credentials masked.
std::string LastGitErrorMessage();

// 40-hex text of an object id.
std::string OidToHex(const git_oid& oid);

// True if `s` is 4 to 40 hex digits.
bool IsHexPrefix(absl::string_view s);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_GIT_UTIL_H_

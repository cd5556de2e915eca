#include "services/source_fetcher/core/git_util.h"

#include <mutex>

#include "absl/strings/ascii.h"
#include "services/source_fetcher/core/network_deadline.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::source_fetcher {

absl::Status EnsureLibgit2() {
  static absl::Status* status = [] {
    if (git_libgit2_init() < 0)
      return new absl::Status(absl::InternalError("git_libgit2_init failed"));
    // Mirrors are private to this process: skip fsync-on-every-object for speed, keep strict
    // hash verification so corruption is detected when objects are read.
    git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
    git_libgit2_opts(GIT_OPT_SET_USER_AGENT, "todoke-source-fetcher");
    return new absl::Status(InstallDeadlineSockets());
  }();
  return *status;
}

RepositoryPool::~RepositoryPool() {
  for (git_repository* repo : idle_) git_repository_free(repo);
}

bool RepositoryPool::Borrow(const std::string& dir, std::optional<Handle>* out) {
  uint64_t generation;
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation = generation_;
    if (!idle_.empty()) {
      git_repository* repo = idle_.back();
      idle_.pop_back();
      out->emplace(this, repo, generation);
      return true;
    }
  }
  git_repository* repo = nullptr;
  if (git_repository_open_bare(&repo, dir.c_str()) < 0) return false;
  out->emplace(this, repo, generation);
  return true;
}

void RepositoryPool::Invalidate() {
  std::vector<git_repository*> drop;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ++generation_;
    drop.swap(idle_);
  }
  for (git_repository* repo : drop) git_repository_free(repo);
}

void RepositoryPool::Return(git_repository* repo, uint64_t generation) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (generation == generation_ && idle_.size() < max_idle_) {
      idle_.push_back(repo);
      return;
    }
  }
  git_repository_free(repo);
}

std::string LastGitErrorMessage() {
  const git_error* e = git_error_last();
  if (e == nullptr || e->message == nullptr) return "unknown libgit2 error";
  return MaskCredentials(e->message);
}

std::string OidToHex(const git_oid& oid) {
  char buf[GIT_OID_HEXSZ + 1];
  git_oid_tostr(buf, sizeof(buf), &oid);
  return std::string(buf);
}

bool IsHexPrefix(absl::string_view s) {
  if (s.size() < 4 || s.size() > 40) return false;
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

}  // namespace todoke::source_fetcher

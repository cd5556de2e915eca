// The source-fetcher core: Git refs to commits, bare mirrors, and the files of a commit.
//
// Thread-safe: every public method may be called from many threads at once. Requests for the
// same repository share one mirror and at most one fetch at a time (a request that waited for
// another's fetch re-checks the mirror before fetching again); fetches of different
// repositories run in parallel up to SourceFetcherOptions::max_parallel_fetches.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_SOURCE_FETCHER_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_SOURCE_FETCHER_H_

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/mirror_cache.h"
#include "services/source_fetcher/core/options.h"
#include "services/source_fetcher/core/remote_client.h"
#include "services/source_fetcher/core/repo_url.h"
#include "services/source_fetcher/core/types.h"

struct git_repository;

namespace todoke::source_fetcher {

class SourceFetcher {
 public:
  // Opens the cache (see MirrorCache::Open) and loads the credentials file. `remote` performs
  // the network operations; null means the real libgit2 client.
  static absl::StatusOr<std::unique_ptr<SourceFetcher>> Create(
      const SourceFetcherOptions& options, std::unique_ptr<RemoteClient> remote = nullptr);

  // Resolves `request.ref` of `request.repo_url` to a commit. A full commit id the mirror has is
  // answered from the mirror alone; otherwise the remote's refs are listed first (from the ref
  // cache when fresh, unless request.bypass_ref_cache) and the mirror is fetched only when it
  // lacks the commit the ref points at.
  // Errors: INVALID_ARGUMENT (malformed URL, ref or constraint), NOT_FOUND (repository or ref,
  // named), UNAUTHENTICATED / PERMISSION_DENIED, UNAVAILABLE, DEADLINE_EXCEEDED.
  absl::StatusOr<ResolveResult> Resolve(const ResolveRequest& request);

  // Calls `on_file` for every file under `request.path` at `request.commit`, in tree order,
  // fetching first if the mirror lacks the commit. Limits and symlinks are checked before the
  // first call. Errors: INVALID_ARGUMENT (commit not 40 hex, path absolute or with ".."),
  // NOT_FOUND (commit or path), RESOURCE_EXHAUSTED (file count or total size over the limit),
  // FAILED_PRECONDITION (a symlink pointing outside the repository), an error from `on_file`
  // (which stops the walk), and the network errors of Resolve.
  absl::Status ReadTree(const ReadTreeRequest& request,
                        const std::function<absl::Status(TreeFile&&)>& on_file);

  // Metadata of a commit (full or unambiguous short id), fetching if the mirror lacks it.
  absl::StatusOr<Revision> GetRevision(const GetRevisionRequest& request);

  // Every error of the three methods above has its message masked (MaskCredentials): no
  // userinfo or credential-like query value of a URL, whoever wrote it, leaves the fetcher.

  FetcherStats stats() const;

  ~SourceFetcher();

 private:
  SourceFetcher(SourceFetcherOptions options, std::unique_ptr<RemoteClient> remote,
                std::unique_ptr<MirrorCache> cache, CredentialStore credentials);

  struct Target;  // a repository of one request: URL, credential, mirror entry, deadline

  absl::StatusOr<ResolveResult> ResolveUnmasked(const ResolveRequest& request);
  absl::Status ReadTreeUnmasked(const ReadTreeRequest& request,
                                const std::function<absl::Status(TreeFile&&)>& on_file);
  absl::StatusOr<Revision> GetRevisionUnmasked(const GetRevisionRequest& request);

  absl::StatusOr<Target> MakeTarget(const std::string& repo_url, absl::Time deadline);
  // Makes sure the mirror has commit `spec` (full or short hex, or a tag object id), fetching
  // (or rebuilding a corrupt mirror) if needed. Sets *fetched when this call fetched.
  absl::Status EnsureCommit(Target& target, const std::string& spec, bool* fetched);
  absl::Status FetchLocked(Target& target);
  absl::Status RebuildLocked(Target& target);
  // The remote's refs, from the ref cache when fresh enough (see ref_cache_ttl) unless
  // `bypass_cache`; a listing from the remote refreshes the cache either way.
  absl::StatusOr<std::shared_ptr<const std::vector<RemoteRef>>> ListRefs(Target& target,
                                                                         bool bypass_cache);
  absl::Status AcquireFetchSlot(absl::Time deadline);
  void ReleaseFetchSlot();

  SourceFetcherOptions options_;
  std::unique_ptr<RemoteClient> remote_;
  std::unique_ptr<MirrorCache> cache_;
  CredentialStore credentials_;

  absl::Mutex slots_mu_;
  int free_fetch_slots_ ABSL_GUARDED_BY(slots_mu_);

  struct CachedRefs {
    absl::Time listed_at;
    std::shared_ptr<const std::vector<RemoteRef>> refs;
  };
  absl::Mutex ref_cache_mu_;
  std::map<std::string, CachedRefs> ref_cache_ ABSL_GUARDED_BY(ref_cache_mu_);

  std::atomic<uint64_t> ls_remotes_{0}, fetches_{0}, clones_{0}, rebuilds_{0}, evictions_{0};
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_SOURCE_FETCHER_H_

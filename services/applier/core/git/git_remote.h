// The network side of the Git destination (internal): reading a remote branch into the local
// clone and pushing to it, over libgit2 with the source-fetcher's credentials, URL handling,
// remote callbacks (remote_callbacks.h: credentials only to the URL's origin, host key and
// certificate checks) and deadline sockets. Every operation is bounded by its deadline (connect,
// every read and write, and the transfer as a whole); errors name the URL with credentials masked.
#ifndef TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_REMOTE_H_
#define TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_REMOTE_H_

#include <git2.h>

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::applier::git_internal {

struct RemoteEndpoint {
  source_fetcher::RepoUrl url;
  // The credential chosen for `url`, or nullptr (anonymous). Not owned.
  const source_fetcher::Credential* credential = nullptr;
};

// Lists the remote's refs and returns the commit of refs/heads/<branch>, downloading it (and
// what it needs) into `repo` when `repo` lacks it; nullopt when the remote has no such branch.
// One connection. Errors: NOT_FOUND (no repository), UNAUTHENTICATED / PERMISSION_DENIED,
// UNAVAILABLE, DEADLINE_EXCEEDED, DATA_LOSS (the local clone is damaged).
absl::StatusOr<std::optional<git_oid>> FetchRemoteBranch(git_repository* repo,
                                                         const RemoteEndpoint& remote,
                                                         absl::string_view branch,
                                                         absl::Time deadline);

struct PushResult {
  bool accepted = false;
  // Why the remote (or libgit2's fast-forward check) refused the update.
  std::string rejection;
  // True when the refusal is a race that a fetch and replay can fix (non-fast-forward, stale
  // info, a ref lock held by another writer).
  bool retryable = false;
};

// Pushes `local_ref` of `repo` to refs/heads/<branch> of the remote, never forced: the remote
// accepts it only as a fast-forward. A refused update is a PushResult, not an error; errors are
// as for FetchRemoteBranch.
absl::StatusOr<PushResult> PushBranch(git_repository* repo, const RemoteEndpoint& remote,
                                      absl::string_view local_ref, absl::string_view branch,
                                      absl::Time deadline);

}  // namespace todoke::applier::git_internal

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_REMOTE_H_

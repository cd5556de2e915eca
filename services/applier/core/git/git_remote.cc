#include "services/applier/core/git/git_remote.h"

#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/source_fetcher/core/git_util.h"
#include "services/source_fetcher/core/network_deadline.h"
#include "services/source_fetcher/core/remote_callbacks.h"

namespace todoke::applier::git_internal {
namespace {

using source_fetcher::BearerHeader;
using source_fetcher::GitRemote;
using source_fetcher::HttpOrigin;
using source_fetcher::LastGitErrorMessage;
using source_fetcher::MaskCredentials;
using source_fetcher::RemoteCallbacks;
using source_fetcher::RemoteCallbackState;
using source_fetcher::RestrictToCredentialOrigin;
using source_fetcher::ScopedNetworkDeadline;

absl::Status ErrorStatus(int rc, absl::string_view action, const RemoteEndpoint& remote,
                         const RemoteCallbackState& s, const ScopedNetworkDeadline& scope) {
  std::string message = LastGitErrorMessage();
  std::string where = absl::StrCat(action, " ", MaskCredentials(remote.url.fetch_url), ": ");
  const std::string refused = !s.refused_origin.empty() ? s.refused_origin : scope.refused_origin();
  if (!refused.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, "the server redirected to ", refused, ", another origin than ",
        HttpOrigin(remote.url.fetch_url),
        " that the credentials are configured for; refused, so that they are never sent there "
        "(configure the repository URL the redirect leads to)"));
  }
  if (absl::Now() >= s.deadline || scope.expired() ||
      absl::StrContains(message, "deadline exceeded")) {
    return absl::DeadlineExceededError(absl::StrCat(where, "deadline exceeded (", message, ")"));
  }
  if (s.host_key_rejected)
    return absl::PermissionDeniedError(absl::StrCat(where, s.host_key_problem));
  if (s.no_credentials) {
    return absl::UnauthenticatedError(
        absl::StrCat(where, "the server requires credentials and none are configured"));
  }
  if (s.credentials_rejected || rc == GIT_EAUTH) {
    return absl::UnauthenticatedError(
        absl::StrCat(where, "credentials were rejected (", message, ")"));
  }
  const git_error* last = git_error_last();
  int klass = last != nullptr ? last->klass : GIT_ERROR_NONE;
  if (klass == GIT_ERROR_ODB || klass == GIT_ERROR_OBJECT || klass == GIT_ERROR_ZLIB ||
      klass == GIT_ERROR_REPOSITORY || klass == GIT_ERROR_INDEXER) {
    return absl::DataLossError(absl::StrCat(where, "the local clone is damaged (", message, ")"));
  }
  std::string lower = absl::AsciiStrToLower(message);
  if (absl::StrContains(lower, "status code: 401"))
    return absl::UnauthenticatedError(where + message);
  if (absl::StrContains(lower, "status code: 403"))
    return absl::PermissionDeniedError(where + message);
  if (absl::StrContains(lower, "status code: 404") || absl::StrContains(lower, "not found") ||
      absl::StrContains(lower, "not exported") || absl::StrContains(lower, "no such repository") ||
      absl::StrContains(lower, "does not appear to be a git repository") ||
      absl::StrContains(lower, "could not find repository") || rc == GIT_ENOTFOUND) {
    return absl::NotFoundError(absl::StrCat(where, "repository not found (", message, ")"));
  }
  if (absl::StrContains(lower, "service not enabled") ||
      absl::StrContains(lower, "access denied")) {
    return absl::PermissionDeniedError(where + message);
  }
  return absl::UnavailableError(where + message);
}

absl::StatusOr<GitRemote> Anonymous(git_repository* repo, const RemoteEndpoint& remote) {
  git_remote* raw = nullptr;
  if (git_remote_create_anonymous(&raw, repo, remote.url.fetch_url.c_str()) < 0) {
    return absl::InvalidArgumentError(absl::StrCat("invalid repository URL ",
                                                   MaskCredentials(remote.url.fetch_url), ": ",
                                                   LastGitErrorMessage()));
  }
  return GitRemote(raw);
}

bool IsRetryableRejection(absl::string_view reason) {
  std::string lower = absl::AsciiStrToLower(reason);
  for (absl::string_view race : {"non-fast-forward", "fast-forward", "fetch first", "stale", "lock",
                                 "failed to update ref", "not present locally"}) {
    if (absl::StrContains(lower, race)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<std::optional<git_oid>> FetchRemoteBranch(git_repository* repo,
                                                         const RemoteEndpoint& remote,
                                                         absl::string_view branch,
                                                         absl::Time deadline) {
  ScopedNetworkDeadline scope(deadline);
  RestrictToCredentialOrigin(scope, remote.url, remote.credential);
  RemoteCallbackState s;
  s.url = &remote.url;
  s.credential = remote.credential;
  s.deadline = deadline;
  absl::StatusOr<GitRemote> handle = Anonymous(repo, remote);
  if (!handle.ok()) return handle.status();
  git_remote* r = handle->get();
  git_remote_callbacks callbacks = RemoteCallbacks(&s);
  BearerHeader headers(remote.credential, remote.url);
  int rc = git_remote_connect(r, GIT_DIRECTION_FETCH, &callbacks, nullptr, headers.get());
  if (rc < 0) return ErrorStatus(rc, "connecting to", remote, s, scope);
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  rc = git_remote_ls(&heads, &count, r);
  if (rc < 0) return ErrorStatus(rc, "listing refs of", remote, s, scope);
  std::string ref = absl::StrCat("refs/heads/", branch);
  std::optional<git_oid> tip;
  for (size_t i = 0; i < count; ++i) {
    if (ref == heads[i]->name) tip = heads[i]->oid;
  }
  if (!tip.has_value()) {
    git_remote_disconnect(r);
    return std::optional<git_oid>();
  }
  git_odb* odb = nullptr;
  bool present = false;
  if (git_repository_odb(&odb, repo) == 0) {
    present = git_odb_exists(odb, &*tip) == 1;
    git_odb_free(odb);
  }
  if (!present) {
    // Download on the same connection; the tip commit lands in the clone's object store. The
    // fetched ref itself is kept under refs/todoke/ so the objects stay reachable for gc.
    std::string spec = absl::StrCat("+", ref, ":refs/todoke/remote/", branch);
    char* specs[] = {spec.data()};
    git_strarray refspecs = {specs, 1};
    git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
    options.callbacks = callbacks;
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
    options.update_fetchhead = 0;
    if (headers.get() != nullptr) options.custom_headers = *headers.get();
    rc = git_remote_download(r, &refspecs, &options);
    if (rc < 0) return ErrorStatus(rc, "fetching", remote, s, scope);
    rc = git_remote_update_tips(r, &callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, nullptr);
    if (rc < 0) return ErrorStatus(rc, "fetching", remote, s, scope);
  }
  git_remote_disconnect(r);
  return tip;
}

absl::StatusOr<PushResult> PushBranch(git_repository* repo, const RemoteEndpoint& remote,
                                      absl::string_view local_ref, absl::string_view branch,
                                      absl::Time deadline) {
  ScopedNetworkDeadline scope(deadline);
  RestrictToCredentialOrigin(scope, remote.url, remote.credential);
  RemoteCallbackState s;
  s.url = &remote.url;
  s.credential = remote.credential;
  s.deadline = deadline;
  absl::StatusOr<GitRemote> handle = Anonymous(repo, remote);
  if (!handle.ok()) return handle.status();
  std::string spec = absl::StrCat(local_ref, ":refs/heads/", branch);  // no '+': never forced
  char* specs[] = {spec.data()};
  git_strarray refspecs = {specs, 1};
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  options.callbacks = RemoteCallbacks(&s);
  BearerHeader headers(remote.credential, remote.url);
  if (headers.get() != nullptr) options.custom_headers = *headers.get();
  int rc = git_remote_push(handle->get(), &refspecs, &options);
  PushResult result;
  if (rc == GIT_ENONFASTFORWARD) {
    // libgit2's own check against the refs the remote advertised: someone pushed first.
    result.rejection = LastGitErrorMessage();
    result.retryable = true;
    return result;
  }
  if (rc < 0) return ErrorStatus(rc, "pushing to", remote, s, scope);
  if (!s.ref_rejection.empty()) {
    result.rejection = s.ref_rejection;
    result.retryable = IsRetryableRejection(s.ref_rejection);
    return result;
  }
  result.accepted = true;
  return result;
}

}  // namespace todoke::applier::git_internal

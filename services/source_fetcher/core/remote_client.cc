#include "services/source_fetcher/core/remote_client.h"

#include <git2.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/source_fetcher/core/git_util.h"
#include "services/source_fetcher/core/network_deadline.h"
#include "services/source_fetcher/core/remote_callbacks.h"

namespace todoke::source_fetcher {
namespace {

absl::Status ToStatus(int rc, absl::string_view action, const RepoUrl& url,
                      const RemoteCallbackState& state) {
  // libgit2's messages may quote URLs (a redirect's Location) and server text.
  std::string message = MaskCredentials(LastGitErrorMessage());
  std::string where = absl::StrCat(action, " ", MaskCredentials(url.fetch_url), ": ");
  ScopedNetworkDeadline* scope = CurrentNetworkDeadline();
  std::string refused = state.refused_origin;
  if (refused.empty() && scope != nullptr) refused = scope->refused_origin();
  if (scope != nullptr && scope->read_limit_exceeded()) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where, "the remote's ref advertisement is larger than the limit of ",
                     scope->read_limit(), " bytes (--max-ref-listing-bytes)"));
  }
  if (!refused.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, "the server redirected to ", refused, ", another origin than ",
        HttpOrigin(url.fetch_url),
        " that the credentials are configured for; refused, so that they are never sent there "
        "(configure the repository URL the redirect leads to)"));
  }
  if (absl::Now() >= state.deadline || (scope != nullptr && scope->expired()) ||
      absl::StrContains(message, "deadline exceeded")) {
    return absl::DeadlineExceededError(absl::StrCat(where, "deadline exceeded (", message, ")"));
  }
  const git_error* last = git_error_last();
  int klass = last != nullptr ? last->klass : GIT_ERROR_NONE;
  if (klass == GIT_ERROR_REPOSITORY && absl::StrContains(message, "could not find repository")) {
    // libgit2 opening the remote itself (a local path): the URL is wrong, the mirror is fine.
    return absl::NotFoundError(
        absl::StrCat(where, url.fetch_url, " is not a Git repository (", message, ")"));
  }
  if (klass == GIT_ERROR_ODB || klass == GIT_ERROR_OBJECT || klass == GIT_ERROR_ZLIB ||
      klass == GIT_ERROR_REFERENCE || klass == GIT_ERROR_REPOSITORY || klass == GIT_ERROR_INDEXER) {
    // The local repository, not the remote, is at fault.
    return absl::DataLossError(absl::StrCat(where, "local mirror is damaged (", message, ")"));
  }
  if (state.host_key_rejected) {
    return absl::PermissionDeniedError(absl::StrCat(where, state.host_key_problem));
  }
  if (state.no_credentials) {
    return absl::UnauthenticatedError(
        absl::StrCat(where, "the server requires credentials and none are configured"));
  }
  if (state.credentials_rejected || rc == GIT_EAUTH) {
    return absl::UnauthenticatedError(
        absl::StrCat(where, "credentials were rejected (", message, ")"));
  }
  std::string lower = absl::AsciiStrToLower(message);
  if (absl::StrContains(lower, "status code: 401")) {
    return absl::UnauthenticatedError(absl::StrCat(where, message));
  }
  if (absl::StrContains(lower, "status code: 403")) {
    return absl::PermissionDeniedError(absl::StrCat(where, message));
  }
  if (absl::StrContains(lower, "status code: 404") || absl::StrContains(lower, "not found") ||
      absl::StrContains(lower, "not exported") || absl::StrContains(lower, "no such repository") ||
      absl::StrContains(lower, "does not appear to be a git repository") ||
      absl::StrContains(lower, "could not find repository") ||
      absl::StrContains(lower, "failed to resolve path") || rc == GIT_ENOTFOUND) {
    return absl::NotFoundError(absl::StrCat(where, "repository not found (", message, ")"));
  }
  return absl::UnavailableError(absl::StrCat(where, message));
}

class Libgit2RemoteClient : public RemoteClient {
 public:
  explicit Libgit2RemoteClient(RemoteClientOptions options)
      : options_(std::move(options)), tls_ca_file_(options_.tls_ca_file) {}

  absl::StatusOr<std::vector<RemoteRef>> ListRefs(const RepoUrl& url, const Credential* credential,
                                                  absl::Time deadline) override {
    RETURN_IF_ERROR(Init());
    ScopedNetworkDeadline scope(deadline);
    RestrictToCredentialOrigin(scope, url, credential);
    scope.LimitReads(options_.max_ref_listing_bytes);
    RemoteCallbackState state;
    state.url = &url;
    state.credential = credential;
    state.deadline = deadline;
    git_remote* raw = nullptr;
    int rc = git_remote_create_detached(&raw, url.fetch_url.c_str());
    GitRemote remote(raw);
    if (rc < 0)
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid repository URL ", MaskCredentials(url.fetch_url), ": ", LastGitErrorMessage()));
    git_remote_callbacks callbacks = RemoteCallbacks(&state);
    BearerHeader headers(credential, url);
    rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, headers.get());
    if (rc < 0) return ToStatus(rc, "listing refs of", url, state);
    const git_remote_head** heads = nullptr;
    size_t count = 0;
    rc = git_remote_ls(&heads, &count, remote.get());
    if (rc < 0) return ToStatus(rc, "listing refs of", url, state);
    std::vector<RemoteRef> refs;
    refs.reserve(count);
    for (size_t i = 0; i < count; ++i) {
      RemoteRef ref;
      ref.name = heads[i]->name;
      ref.commit = OidToHex(heads[i]->oid);
      if (heads[i]->symref_target != nullptr) ref.symref_target = heads[i]->symref_target;
      refs.push_back(std::move(ref));
    }
    git_remote_disconnect(remote.get());
    return refs;
  }

  absl::Status Fetch(const std::string& git_dir, const RepoUrl& url, const Credential* credential,
                     absl::Time deadline) override {
    RETURN_IF_ERROR(Init());
    ScopedNetworkDeadline scope(deadline);
    RestrictToCredentialOrigin(scope, url, credential);
    RemoteCallbackState state;
    state.url = &url;
    state.credential = credential;
    state.deadline = deadline;
    git_repository* raw_repo = nullptr;
    if (git_repository_open_bare(&raw_repo, git_dir.c_str()) < 0) {
      return absl::InternalError(
          absl::StrCat("cannot open mirror ", git_dir, ": ", LastGitErrorMessage()));
    }
    GitRepository repo(raw_repo);
    git_remote* raw_remote = nullptr;
    if (git_remote_create_anonymous(&raw_remote, repo.get(), url.fetch_url.c_str()) < 0) {
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid repository URL ", MaskCredentials(url.fetch_url), ": ", LastGitErrorMessage()));
    }
    GitRemote remote(raw_remote);
    git_fetch_options options = GIT_FETCH_OPTIONS_INIT;
    options.callbacks = RemoteCallbacks(&state);
    options.prune = GIT_FETCH_PRUNE;
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the refspec covers refs/tags/*
    options.update_fetchhead = 0;
    BearerHeader headers(credential, url);
    if (headers.get() != nullptr) options.custom_headers = *headers.get();
    // Connect first, reading the ref advertisement under the limit; git_remote_fetch then goes
    // on over the same connection with the pack, which goes to disk.
    git_remote_connect_options connect = GIT_REMOTE_CONNECT_OPTIONS_INIT;
    connect.callbacks = options.callbacks;
    if (headers.get() != nullptr) connect.custom_headers = *headers.get();
    scope.LimitReads(options_.max_ref_listing_bytes);
    int rc = git_remote_connect_ext(remote.get(), GIT_DIRECTION_FETCH, &connect);
    if (rc < 0) return ToStatus(rc, "fetching", url, state);
    scope.LimitReads(0);
    char refspec[] = "+refs/*:refs/*";
    char* refspecs[] = {refspec};
    git_strarray specs = {refspecs, 1};
    rc = git_remote_fetch(remote.get(), &specs, &options, nullptr);
    if (rc < 0) return ToStatus(rc, "fetching", url, state);
    return absl::OkStatus();
  }

 private:
  absl::Status Init() {
    RETURN_IF_ERROR(EnsureLibgit2());
    if (!tls_ca_file_.empty() && !ca_set_.exchange(true)) {
      // Process-wide in libgit2: the last client created with a CA file wins.
      if (git_libgit2_opts(GIT_OPT_SET_SSL_CERT_LOCATIONS, tls_ca_file_.c_str(), nullptr) < 0) {
        ca_set_ = false;
        return absl::InvalidArgumentError(
            absl::StrCat("cannot load TLS CA file ", tls_ca_file_, ": ", LastGitErrorMessage()));
      }
    }
    return absl::OkStatus();
  }

  const RemoteClientOptions options_;
  const std::string tls_ca_file_;
  std::atomic<bool> ca_set_{false};
};

}  // namespace

std::unique_ptr<RemoteClient> NewLibgit2RemoteClient(const RemoteClientOptions& options) {
  return std::make_unique<Libgit2RemoteClient>(options);
}

}  // namespace todoke::source_fetcher

// libgit2's remote callbacks for one operation against a remote (list refs, fetch, push): the
// credential chosen for the URL, the ssh host key / TLS certificate check, and the deadline
// checked at every progress report. Shared by the source-fetcher's remote client and the
// applier's Git destination (which reads and pushes the hydration branch).
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CALLBACKS_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CALLBACKS_H_

#include <git2.h>

#include <string>

#include "absl/time/time.h"
#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/network_deadline.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::source_fetcher {

// What the callbacks need (set before the operation) and what they saw (read after it, to
// turn libgit2's error into a status). Used by one operation on one thread.
struct RemoteCallbackState {
  const RepoUrl* url = nullptr;
  // The credential chosen for `url`, or nullptr (anonymous). Not owned.
  const Credential* credential = nullptr;
  // A progress report after it cancels the transfer ("deadline exceeded during transfer").
  absl::Time deadline;

  int credential_calls = 0;
  bool secret_given = false;
  // The server refused the credential given (libgit2 asked again), or asked more than 8 times.
  bool credentials_rejected = false;
  // The server asked for credentials and none are configured.
  bool no_credentials = false;
  // An ssh host key or TLS certificate was refused; `host_key_problem` says why.
  bool host_key_rejected = false;
  std::string host_key_problem;
  // The origin libgit2 asked credentials for after a redirect, when it is not the URL's own.
  std::string refused_origin;
  // Push: whether the remote reported on the pushed ref, and its refusal (empty: accepted).
  bool ref_reported = false;
  std::string ref_rejection;
};

// Callbacks reading and writing `state` (which must outlive the operation):
//   credentials: the credential's ssh key or password (once: asked again, the credential was
//     rejected), else its user name; none for an HTTP origin other than the URL's (a redirect);
//   certificate_check: ssh host keys against the credential's known_hosts (or libgit2's own
//     check of ~/.ssh/known_hosts when none is configured; any with insecure_skip_host_key_check),
//     TLS certificates as libgit2 validated them (any with insecure_skip_tls_verify);
//   transfer, sideband, pack and push progress: cancel once the deadline has passed;
//   push_update_reference: records the remote's verdict on the ref.
git_remote_callbacks RemoteCallbacks(RemoteCallbackState* state);

// Credentials are configured for the URL's origin and go nowhere else: with a credential and an
// HTTP(S) URL, the scope's sockets may only connect to that origin from now on.
void RestrictToCredentialOrigin(ScopedNetworkDeadline& scope, const RepoUrl& url,
                                const Credential* credential);

// The "Authorization: Bearer" header of the credential for an HTTP(S) URL, alive as long as
// this object; get() is nullptr when there is none.
class BearerHeader {
 public:
  BearerHeader(const Credential* credential, const RepoUrl& url);
  BearerHeader(const BearerHeader&) = delete;
  BearerHeader& operator=(const BearerHeader&) = delete;
  const git_strarray* get() const { return array_.count > 0 ? &array_ : nullptr; }

 private:
  std::string header_;
  const char* items_[1] = {nullptr};
  git_strarray array_ = {nullptr, 0};
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CALLBACKS_H_

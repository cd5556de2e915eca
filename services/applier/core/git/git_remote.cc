#include "services/applier/core/git/git_remote.h"

#include <libssh2.h>

#include <memory>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/source_fetcher/core/git_util.h"
#include "services/source_fetcher/core/network_deadline.h"

namespace todoke::applier::git_internal {
namespace {

using source_fetcher::Credential;
using source_fetcher::GitRemote;
using source_fetcher::LastGitErrorMessage;
using source_fetcher::MaskCredentials;
using source_fetcher::RepoTransport;
using source_fetcher::ScopedNetworkDeadline;

// What libgit2's callbacks saw during one operation.
struct Session {
  const RemoteEndpoint* remote = nullptr;
  absl::Time deadline;
  int credential_requests = 0;
  bool secret_offered = false;
  bool credentials_rejected = false;
  bool no_credentials = false;
  std::string host_problem;  // set when a host key or certificate was refused
  // Push: the remote's verdict on the one ref pushed (empty: accepted).
  bool ref_reported = false;
  std::string ref_rejection;
};

int OnCredentials(git_credential** out, const char* /*url*/, const char* user_from_url,
                  unsigned int allowed, void* payload) {
  auto* s = static_cast<Session*>(payload);
  const Credential* c = s->remote->credential;
  bool ssh_key =
      c != nullptr && (allowed & GIT_CREDENTIAL_SSH_KEY) && !c->ssh_private_key_path.empty();
  bool password =
      c != nullptr && (allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !c->password.empty();
  // libgit2 asks again when the server refused what was offered: give up instead of looping.
  if (((ssh_key || password) && s->secret_offered) || ++s->credential_requests > 8) {
    s->credentials_rejected = true;
    git_error_set_str(GIT_ERROR_NET, "credentials were rejected");
    return GIT_EAUTH;
  }
  std::string user = user_from_url != nullptr && *user_from_url != '\0' ? user_from_url
                     : c != nullptr && !c->username.empty()             ? c->username
                                                                        : "git";
  if (ssh_key) {
    s->secret_offered = true;
    return git_credential_ssh_key_new(
        out, user.c_str(),
        c->ssh_public_key_path.empty() ? nullptr : c->ssh_public_key_path.c_str(),
        c->ssh_private_key_path.c_str(),
        c->ssh_passphrase.empty() ? nullptr : c->ssh_passphrase.c_str());
  }
  if (password) {
    s->secret_offered = true;
    return git_credential_userpass_plaintext_new(out, user.c_str(), c->password.c_str());
  }
  if (allowed & GIT_CREDENTIAL_USERNAME) return git_credential_username_new(out, user.c_str());
  s->no_credentials = true;
  git_error_set_str(GIT_ERROR_NET, "the server requires credentials and none are configured");
  return GIT_EAUTH;
}

int LibsshKeyType(git_cert_ssh_raw_type_t type) {
  switch (type) {
    case GIT_CERT_SSH_RAW_TYPE_RSA:
      return LIBSSH2_KNOWNHOST_KEY_SSHRSA;
    case GIT_CERT_SSH_RAW_TYPE_DSS:
      return LIBSSH2_KNOWNHOST_KEY_SSHDSS;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_256:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_256;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_384:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_384;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ECDSA_521:
      return LIBSSH2_KNOWNHOST_KEY_ECDSA_521;
    case GIT_CERT_SSH_RAW_TYPE_KEY_ED25519:
      return LIBSSH2_KNOWNHOST_KEY_ED25519;
    default:
      return LIBSSH2_KNOWNHOST_KEY_UNKNOWN;
  }
}

// Empty when the ssh host key is listed in `known_hosts`; else why not.
std::string CheckKnownHost(const git_cert_hostkey* cert, const std::string& known_hosts,
                           const source_fetcher::RepoUrl& url) {
  if (!(cert->type & GIT_CERT_SSH_RAW)) return "the server sent no raw host key";
  struct SessionFree {
    void operator()(LIBSSH2_SESSION* p) const { libssh2_session_free(p); }
  };
  struct HostsFree {
    void operator()(LIBSSH2_KNOWNHOSTS* p) const { libssh2_knownhost_free(p); }
  };
  std::unique_ptr<LIBSSH2_SESSION, SessionFree> session(libssh2_session_init());
  if (session == nullptr) return "libssh2 session init failed";
  std::unique_ptr<LIBSSH2_KNOWNHOSTS, HostsFree> hosts(libssh2_knownhost_init(session.get()));
  if (hosts == nullptr) return "libssh2 known-hosts init failed";
  if (libssh2_knownhost_readfile(hosts.get(), known_hosts.c_str(), LIBSSH2_KNOWNHOST_FILE_OPENSSH) <
      0) {
    return "cannot read the known_hosts file";
  }
  libssh2_knownhost* found = nullptr;
  int check = libssh2_knownhost_checkp(
      hosts.get(), url.host.c_str(), url.port == 0 ? 22 : url.port, cert->hostkey,
      cert->hostkey_len,
      LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW | LibsshKeyType(cert->raw_type),
      &found);
  switch (check) {
    case LIBSSH2_KNOWNHOST_CHECK_MATCH:
      return "";
    case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
      return "the host key does not match known_hosts (possible man-in-the-middle)";
    case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
      return "the host is not in known_hosts";
    default:
      return "the known_hosts check failed";
  }
}

int OnCertificate(git_cert* cert, int valid, const char* /*host*/, void* payload) {
  auto* s = static_cast<Session*>(payload);
  const Credential* c = s->remote->credential;
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    if (c != nullptr && c->insecure_skip_host_key_check) return 0;
    if (c != nullptr && !c->known_hosts_path.empty()) {
      s->host_problem = CheckKnownHost(reinterpret_cast<git_cert_hostkey*>(cert),
                                       c->known_hosts_path, s->remote->url);
    } else {
      s->host_problem = valid ? "" : "the host is not in known_hosts (none configured)";
    }
  } else if (!valid && !(c != nullptr && c->insecure_skip_tls_verify)) {
    s->host_problem = "the TLS certificate is not trusted";
  }
  if (s->host_problem.empty()) return 0;
  git_error_set_str(GIT_ERROR_NET, s->host_problem.c_str());
  return GIT_ECERTIFICATE;
}

int CheckDeadline(Session* s) {
  if (absl::Now() < s->deadline) return 0;
  git_error_set_str(GIT_ERROR_NET, "deadline exceeded during transfer");
  return -1;
}

int OnTransfer(const git_indexer_progress*, void* payload) {
  return CheckDeadline(static_cast<Session*>(payload));
}
int OnSideband(const char*, int, void* payload) {
  return CheckDeadline(static_cast<Session*>(payload));
}
int OnPushTransfer(unsigned int, unsigned int, size_t, void* payload) {
  return CheckDeadline(static_cast<Session*>(payload));
}
int OnPackProgress(int, uint32_t, uint32_t, void* payload) {
  return CheckDeadline(static_cast<Session*>(payload));
}
int OnPushUpdate(const char* /*refname*/, const char* status, void* payload) {
  auto* s = static_cast<Session*>(payload);
  s->ref_reported = true;
  if (status != nullptr) s->ref_rejection = status;
  return 0;
}

git_remote_callbacks Callbacks(Session* s) {
  git_remote_callbacks cb = GIT_REMOTE_CALLBACKS_INIT;
  cb.credentials = OnCredentials;
  cb.certificate_check = OnCertificate;
  cb.transfer_progress = OnTransfer;
  cb.sideband_progress = OnSideband;
  cb.push_transfer_progress = OnPushTransfer;
  cb.pack_progress = OnPackProgress;
  cb.push_update_reference = OnPushUpdate;
  cb.payload = s;
  return cb;
}

// "Authorization: Bearer" for HTTP(S), alive as long as the operation.
struct ExtraHeaders {
  std::string bearer;
  const char* items[1] = {nullptr};
  git_strarray array = {nullptr, 0};

  explicit ExtraHeaders(const RemoteEndpoint& remote) {
    const Credential* c = remote.credential;
    if (c != nullptr && !c->bearer_token.empty() &&
        (remote.url.transport == RepoTransport::kHttp ||
         remote.url.transport == RepoTransport::kHttps)) {
      bearer = absl::StrCat("Authorization: Bearer ", c->bearer_token);
      items[0] = bearer.c_str();
      array.strings = const_cast<char**>(items);
      array.count = 1;
    }
  }
  const git_strarray* get() const { return array.count > 0 ? &array : nullptr; }
};

absl::Status ErrorStatus(int rc, absl::string_view action, const RemoteEndpoint& remote,
                         const Session& s, const ScopedNetworkDeadline& scope) {
  std::string message = LastGitErrorMessage();
  std::string where = absl::StrCat(action, " ", MaskCredentials(remote.url.fetch_url), ": ");
  if (absl::Now() >= s.deadline || scope.expired() ||
      absl::StrContains(message, "deadline exceeded")) {
    return absl::DeadlineExceededError(absl::StrCat(where, "deadline exceeded (", message, ")"));
  }
  if (!s.host_problem.empty())
    return absl::PermissionDeniedError(absl::StrCat(where, s.host_problem));
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
  Session s;
  s.remote = &remote;
  s.deadline = deadline;
  absl::StatusOr<GitRemote> handle = Anonymous(repo, remote);
  if (!handle.ok()) return handle.status();
  git_remote* r = handle->get();
  git_remote_callbacks callbacks = Callbacks(&s);
  ExtraHeaders headers(remote);
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
  Session s;
  s.remote = &remote;
  s.deadline = deadline;
  absl::StatusOr<GitRemote> handle = Anonymous(repo, remote);
  if (!handle.ok()) return handle.status();
  std::string spec = absl::StrCat(local_ref, ":refs/heads/", branch);  // no '+': never forced
  char* specs[] = {spec.data()};
  git_strarray refspecs = {specs, 1};
  git_push_options options = GIT_PUSH_OPTIONS_INIT;
  options.callbacks = Callbacks(&s);
  ExtraHeaders headers(remote);
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

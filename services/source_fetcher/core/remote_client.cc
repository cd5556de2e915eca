#include "services/source_fetcher/core/remote_client.h"

#include <git2.h>
#include <libssh2.h>

#include <atomic>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/source_fetcher/core/git_util.h"
#include "services/source_fetcher/core/network_deadline.h"

namespace todoke::source_fetcher {
namespace {

// State shared with libgit2's callbacks during one remote operation.
struct CallbackState {
  const RepoUrl* url = nullptr;
  const Credential* credential = nullptr;
  absl::Time deadline;
  int credential_calls = 0;
  bool secret_given = false;
  bool credentials_rejected = false;
  bool no_credentials = false;
  bool host_key_rejected = false;
  std::string host_key_problem;
  // The origin libgit2 asked credentials for after a redirect, when it is not the URL's own.
  std::string refused_origin;
};

bool IsHttp(const RepoUrl& url) {
  return url.transport == RepoTransport::kHttp || url.transport == RepoTransport::kHttps;
}

// Credentials are configured for the URL's origin and go nowhere else: with a credential, the
// operation's sockets may only connect to that origin (see ScopedNetworkDeadline).
void RestrictToCredentialOrigin(ScopedNetworkDeadline& scope, const RepoUrl& url,
                                const Credential* credential) {
  if (credential == nullptr || !IsHttp(url)) return;
  scope.RestrictToOrigin(
      url.host, url.port != 0 ? url.port : (url.transport == RepoTransport::kHttps ? 443 : 80));
}

int CredentialsCallback(git_credential** out, const char* url, const char* username_from_url,
                        unsigned int allowed_types, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  const Credential* c = state->credential;
  ++state->credential_calls;
  if (IsHttp(*state->url) && url != nullptr) {
    // After a redirect libgit2 asks for the new server's credentials: only the origin the
    // credential is configured for gets it.
    const std::string asked = HttpOrigin(url);
    if (asked != HttpOrigin(state->url->fetch_url)) {
      state->refused_origin = asked.empty() ? MaskCredentials(url) : asked;
      git_error_set_str(GIT_ERROR_NET, "credentials asked for by another origin");
      return GIT_EAUTH;
    }
  }
  bool has_secret =
      c != nullptr &&
      (((allowed_types & GIT_CREDENTIAL_SSH_KEY) && !c->ssh_private_key_path.empty()) ||
       ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !c->password.empty()));
  if (has_secret && state->secret_given) {
    // libgit2 asks again after the server refused what we gave.
    state->credentials_rejected = true;
    git_error_set_str(GIT_ERROR_NET, "credentials were rejected");
    return GIT_EAUTH;
  }
  if (state->credential_calls > 8) {
    state->credentials_rejected = true;
    git_error_set_str(GIT_ERROR_NET, "credentials were rejected");
    return GIT_EAUTH;
  }
  if (has_secret) state->secret_given = true;
  std::string user = username_from_url != nullptr && *username_from_url != '\0'
                         ? username_from_url
                         : (c != nullptr && !c->username.empty() ? c->username : "git");
  if (c != nullptr && (allowed_types & GIT_CREDENTIAL_SSH_KEY) &&
      !c->ssh_private_key_path.empty()) {
    return git_credential_ssh_key_new(
        out, user.c_str(),
        c->ssh_public_key_path.empty() ? nullptr : c->ssh_public_key_path.c_str(),
        c->ssh_private_key_path.c_str(),
        c->ssh_passphrase.empty() ? nullptr : c->ssh_passphrase.c_str());
  }
  if (c != nullptr && (allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && !c->password.empty()) {
    return git_credential_userpass_plaintext_new(out, user.c_str(), c->password.c_str());
  }
  if (allowed_types & GIT_CREDENTIAL_USERNAME) {
    return git_credential_username_new(out, user.c_str());
  }
  state->no_credentials = true;
  git_error_set_str(GIT_ERROR_NET, "the server requires credentials and none are configured");
  return GIT_EAUTH;
}

int KnownHostsKeyMask(git_cert_ssh_raw_type_t type) {
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

// Checks an ssh host key against the credential's known_hosts file (plain or hashed entries,
// "[host]:port" for non-default ports).
bool HostKeyKnown(const git_cert_hostkey* cert, const std::string& known_hosts_path,
                  const std::string& host, int port, std::string* problem) {
  if (!(cert->type & GIT_CERT_SSH_RAW)) {
    *problem = "server sent no raw host key";
    return false;
  }
  LIBSSH2_SESSION* session = libssh2_session_init();
  if (session == nullptr) {
    *problem = "libssh2 session init failed";
    return false;
  }
  LIBSSH2_KNOWNHOSTS* hosts = libssh2_knownhost_init(session);
  bool known = false;
  if (hosts == nullptr) {
    *problem = "libssh2 known hosts init failed";
  } else if (libssh2_knownhost_readfile(hosts, known_hosts_path.c_str(),
                                        LIBSSH2_KNOWNHOST_FILE_OPENSSH) < 0) {
    *problem = "cannot read the known_hosts file";
  } else {
    struct libssh2_knownhost* found = nullptr;
    int check = libssh2_knownhost_checkp(
        hosts, host.c_str(), port == 0 ? 22 : port, cert->hostkey, cert->hostkey_len,
        LIBSSH2_KNOWNHOST_TYPE_PLAIN | LIBSSH2_KNOWNHOST_KEYENC_RAW |
            KnownHostsKeyMask(cert->raw_type),
        &found);
    known = check == LIBSSH2_KNOWNHOST_CHECK_MATCH;
    if (check == LIBSSH2_KNOWNHOST_CHECK_MISMATCH) {
      *problem = "host key does not match known_hosts (possible man-in-the-middle)";
    } else if (check == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND) {
      *problem = "host is not in known_hosts";
    } else if (!known) {
      *problem = "known_hosts check failed";
    }
  }
  if (hosts != nullptr) libssh2_knownhost_free(hosts);
  libssh2_session_free(session);
  return known;
}

int CertificateCheckCallback(git_cert* cert, int valid, const char* host, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  const Credential* c = state->credential;
  if (cert->cert_type == GIT_CERT_HOSTKEY_LIBSSH2) {
    if (c != nullptr && c->insecure_skip_host_key_check) return 0;
    if (c != nullptr && !c->known_hosts_path.empty()) {
      if (HostKeyKnown(reinterpret_cast<git_cert_hostkey*>(cert), c->known_hosts_path,
                       state->url->host, state->url->port, &state->host_key_problem)) {
        return 0;
      }
    } else if (valid) {
      return 0;  // in the process user's ~/.ssh/known_hosts
    } else {
      state->host_key_problem = "host is not in known_hosts (none configured)";
    }
    state->host_key_rejected = true;
    git_error_set_str(GIT_ERROR_SSH, state->host_key_problem.c_str());
    return GIT_ECERTIFICATE;
  }
  if (valid) return 0;
  if (c != nullptr && c->insecure_skip_tls_verify) return 0;
  state->host_key_rejected = true;
  state->host_key_problem = "TLS certificate not trusted";
  git_error_set_str(GIT_ERROR_SSL, "TLS certificate not trusted");
  return GIT_ECERTIFICATE;
}

int TransferProgressCallback(const git_indexer_progress* /*stats*/, void* payload) {
  auto* state = static_cast<CallbackState*>(payload);
  if (absl::Now() >= state->deadline) {
    git_error_set_str(GIT_ERROR_NET, "deadline exceeded during transfer");
    return -1;
  }
  return 0;
}

int SidebandCallback(const char* /*str*/, int /*len*/, void* payload) {
  return TransferProgressCallback(nullptr, payload);
}

git_remote_callbacks MakeCallbacks(CallbackState* state) {
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = CredentialsCallback;
  callbacks.certificate_check = CertificateCheckCallback;
  callbacks.transfer_progress = TransferProgressCallback;
  callbacks.sideband_progress = SidebandCallback;
  callbacks.payload = state;
  return callbacks;
}

// Holds the "Authorization: Bearer" header for the lifetime of an operation.
struct CustomHeaders {
  std::string bearer;
  const char* items[1];
  git_strarray array = {nullptr, 0};

  explicit CustomHeaders(const Credential* c, const RepoUrl& url) {
    if (c != nullptr && !c->bearer_token.empty() &&
        (url.transport == RepoTransport::kHttp || url.transport == RepoTransport::kHttps)) {
      bearer = absl::StrCat("Authorization: Bearer ", c->bearer_token);
      items[0] = bearer.c_str();
      array.strings = const_cast<char**>(items);
      array.count = 1;
    }
  }
};

absl::Status ToStatus(int rc, absl::string_view action, const RepoUrl& url,
                      const CallbackState& state) {
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
    CallbackState state{&url, credential, deadline};
    git_remote* raw = nullptr;
    int rc = git_remote_create_detached(&raw, url.fetch_url.c_str());
    GitRemote remote(raw);
    if (rc < 0)
      return absl::InvalidArgumentError(absl::StrCat(
          "invalid repository URL ", MaskCredentials(url.fetch_url), ": ", LastGitErrorMessage()));
    git_remote_callbacks callbacks = MakeCallbacks(&state);
    CustomHeaders headers(credential, url);
    rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr,
                            headers.array.count > 0 ? &headers.array : nullptr);
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
    CallbackState state{&url, credential, deadline};
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
    options.callbacks = MakeCallbacks(&state);
    options.prune = GIT_FETCH_PRUNE;
    options.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;  // the refspec covers refs/tags/*
    options.update_fetchhead = 0;
    CustomHeaders headers(credential, url);
    options.custom_headers = headers.array;
    // Connect first, reading the ref advertisement under the limit; git_remote_fetch then goes
    // on over the same connection with the pack, which goes to disk.
    git_remote_connect_options connect = GIT_REMOTE_CONNECT_OPTIONS_INIT;
    connect.callbacks = options.callbacks;
    connect.custom_headers = headers.array;
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

#include "services/source_fetcher/core/remote_callbacks.h"

#include <libssh2.h>

#include "absl/strings/str_cat.h"

namespace todoke::source_fetcher {
namespace {

bool IsHttp(const RepoUrl& url) {
  return url.transport == RepoTransport::kHttp || url.transport == RepoTransport::kHttps;
}

int CredentialsCallback(git_credential** out, const char* url, const char* username_from_url,
                        unsigned int allowed_types, void* payload) {
  auto* state = static_cast<RemoteCallbackState*>(payload);
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
  auto* state = static_cast<RemoteCallbackState*>(payload);
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
  auto* state = static_cast<RemoteCallbackState*>(payload);
  if (absl::Now() >= state->deadline) {
    git_error_set_str(GIT_ERROR_NET, "deadline exceeded during transfer");
    return -1;
  }
  return 0;
}

int SidebandCallback(const char* /*str*/, int /*len*/, void* payload) {
  return TransferProgressCallback(nullptr, payload);
}

int PushTransferCallback(unsigned int /*current*/, unsigned int /*total*/, size_t /*bytes*/,
                         void* payload) {
  return TransferProgressCallback(nullptr, payload);
}

int PackProgressCallback(int /*stage*/, uint32_t /*current*/, uint32_t /*total*/, void* payload) {
  return TransferProgressCallback(nullptr, payload);
}

int PushUpdateReferenceCallback(const char* /*refname*/, const char* status, void* payload) {
  auto* state = static_cast<RemoteCallbackState*>(payload);
  state->ref_reported = true;
  if (status != nullptr) state->ref_rejection = status;
  return 0;
}

}  // namespace

git_remote_callbacks RemoteCallbacks(RemoteCallbackState* state) {
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = CredentialsCallback;
  callbacks.certificate_check = CertificateCheckCallback;
  callbacks.transfer_progress = TransferProgressCallback;
  callbacks.sideband_progress = SidebandCallback;
  callbacks.push_transfer_progress = PushTransferCallback;
  callbacks.pack_progress = PackProgressCallback;
  callbacks.push_update_reference = PushUpdateReferenceCallback;
  callbacks.payload = state;
  return callbacks;
}

void RestrictToCredentialOrigin(ScopedNetworkDeadline& scope, const RepoUrl& url,
                                const Credential* credential) {
  if (credential == nullptr || !IsHttp(url)) return;
  scope.RestrictToOrigin(
      url.host, url.port != 0 ? url.port : (url.transport == RepoTransport::kHttps ? 443 : 80));
}

BearerHeader::BearerHeader(const Credential* credential, const RepoUrl& url) {
  if (credential != nullptr && !credential->bearer_token.empty() && IsHttp(url)) {
    header_ = absl::StrCat("Authorization: Bearer ", credential->bearer_token);
    items_[0] = header_.c_str();
    array_.strings = const_cast<char**>(items_);
    array_.count = 1;
  }
}

}  // namespace todoke::source_fetcher

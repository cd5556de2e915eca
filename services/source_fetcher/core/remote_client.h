// The network side effects of the source-fetcher: listing a remote's refs and fetching into a
// bare mirror. Behind an interface so the fetcher logic can be tested with a fake or a counter.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CLIENT_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CLIENT_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::source_fetcher {

struct RemoteRef {
  std::string name;           // "HEAD", "refs/heads/main", "refs/tags/v1^{}" (peeled tag)...
  std::string commit;         // 40 hex: the object the ref points at.
  std::string symref_target;  // for HEAD: "refs/heads/main" when the server says so.
};

class RemoteClient {
 public:
  virtual ~RemoteClient() = default;

  // ls-remote: the refs the server advertises. Errors: NOT_FOUND (no such repository),
  // RESOURCE_EXHAUSTED (an advertisement over the client's limit),
  // UNAUTHENTICATED / PERMISSION_DENIED (credentials missing or refused, host key not trusted),
  // UNAVAILABLE (unreachable), DEADLINE_EXCEEDED. Messages name the URL with credentials masked.
  virtual absl::StatusOr<std::vector<RemoteRef>> ListRefs(const RepoUrl& url,
                                                          const Credential* credential,
                                                          absl::Time deadline) = 0;

  // Fetches every ref (+refs/*:refs/*, pruning deleted ones) into the bare repository at
  // `git_dir`. Same errors as ListRefs, plus DATA_LOSS when the local repository is damaged
  // and INTERNAL when it cannot be opened.
  virtual absl::Status Fetch(const std::string& git_dir, const RepoUrl& url,
                             const Credential* credential, absl::Time deadline) = 0;
};

struct RemoteClientOptions {
  // PEM bundle to verify HTTPS servers with; empty: the system store.
  std::string tls_ca_file;
  // Bytes a remote may send for its ref advertisement (the ls-remote of ListRefs, and the first
  // phase of Fetch); beyond it the operation fails with RESOURCE_EXHAUSTED. libgit2 keeps the
  // whole advertisement in memory, so this bounds what a hostile remote can make the process use
  // per operation (a few times the limit: parsed refs are kept alongside). The pack that follows
  // goes to disk and is bounded by the deadline. 0: no limit.
  uint64_t max_ref_listing_bytes = 64ull << 20;
};

// The real client over libgit2 (git://, http(s)://, ssh://, file://).
//
// Credentials never cross origins. A credential is configured for one scheme, host and port
// (credentials.h); an HTTP redirect to another origin is refused when the request has a
// credential (FAILED_PRECONDITION naming both origins): no connection is made to the other
// origin, so neither a password nor a bearer token can reach it. Refusing rather than following
// without credentials is the one choice that also holds for bearer tokens, which libgit2 sends as
// a custom header on every request of the operation. Without a credential, redirects are followed
// as libgit2 does by default (initial request only): nothing secret can leak. Every error message
// is masked (MaskCredentials).
std::unique_ptr<RemoteClient> NewLibgit2RemoteClient(const RemoteClientOptions& options);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_REMOTE_CLIENT_H_

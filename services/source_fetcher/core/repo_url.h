// Parsing, validation and display of repository URLs.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_REPO_URL_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_REPO_URL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/credentials_mask.h"

namespace todoke::source_fetcher {

enum class RepoTransport { kLocal, kGit, kHttp, kHttps, kSsh };

struct RepoUrl {
  RepoTransport transport = RepoTransport::kLocal;
  // The URL handed to libgit2 (the request's text, or file:// for a local path).
  std::string fetch_url;
  // scheme://host[:port]/path without any user name: the key of the mirror and of credentials.
  std::string canonical;
  std::string user;  // ssh user from the URL, may be empty.
  std::string host;  // empty for local repositories.
  int port = 0;      // 0: the transport's default.
  std::string path;  // the repository path on the server (or on disk).
};

// Parses `url`: https://, http://, git://, ssh://, [user@]host:path (scp-like ssh), file:// or an
// absolute local path. INVALID_ARGUMENT for an empty or malformed URL, control characters, a ".."
// path component, a password in the URL (credentials come from the credentials file), or a local
// repository when `allow_local` is false. Error messages show the URL masked.
absl::StatusOr<RepoUrl> ParseRepoUrl(absl::string_view url, bool allow_local);

// MaskCredentials moved to common/credentials_mask.h (the applier and the orchestrator mask
// with it too); this keeps source_fetcher::MaskCredentials naming it.
using ::todoke::MaskCredentials;

// The origin credentials are scoped to, for an http:// or https:// URL: "scheme://host:port" with
// scheme and host lower-cased and the default port written out ("https://git.example.com:443").
// Empty for other schemes or when no host can be read.
std::string HttpOrigin(absl::string_view url);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_REPO_URL_H_

// Fuzz target "repo_url": repository URLs as requests name them (https, http, git, ssh,
// scp-like, file, local paths), credential masking and HTTP origins.
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/source_fetcher/core/repo_url.h"
#include "tests/fuzz/fuzz_targets.h"
#include "tests/fuzz/fuzz_util.h"

namespace todoke::fuzz {

namespace {

bool SameUrl(const source_fetcher::RepoUrl& a, const source_fetcher::RepoUrl& b) {
  return a.transport == b.transport && a.fetch_url == b.fetch_url && a.canonical == b.canonical &&
         a.user == b.user && a.host == b.host && a.port == b.port && a.path == b.path;
}

}  // namespace

absl::Status FuzzRepoUrl(absl::string_view data) {
  using source_fetcher::HttpOrigin;
  using source_fetcher::MaskCredentials;
  using source_fetcher::ParseRepoUrl;
  using source_fetcher::RepoUrl;
  // Masking what is already masked changes nothing, whatever the length: otherwise the pass
  // left a credential that a second one finds.
  const std::string masked = MaskCredentials(data);
  if (MaskCredentials(masked) != masked) {
    return Broken("repo_url",
                  absl::StrCat("masking twice differs from masking once: ",
                               Describe(absl::string_view(masked))),
                  data);
  }
  const std::string origin = HttpOrigin(data);
  if (!origin.empty() &&
      (absl::StrContains(origin, "@") ||
       !(absl::StartsWith(origin, "http://") || absl::StartsWith(origin, "https://")))) {
    return Broken("repo_url", absl::StrCat("HttpOrigin gave \"", origin, "\""), data);
  }
  absl::StatusOr<RepoUrl> local = ParseRepoUrl(data, /*allow_local=*/true);
  absl::StatusOr<RepoUrl> remote = ParseRepoUrl(data, /*allow_local=*/false);
  if (remote.ok() && (!local.ok() || !SameUrl(*local, *remote))) {
    return Broken("repo_url", "allowing local repositories changed how a remote URL parses", data);
  }
  if (!local.ok()) return absl::OkStatus();
  const RepoUrl& url = *local;
  if (url.port < 0 || url.port > 65535) {
    return Broken("repo_url", absl::StrCat("port ", url.port, " accepted"), data);
  }
  // The canonical form keys mirrors and credentials: no user in it, and it names the same
  // repository when parsed again.
  absl::string_view host_part;
  if (const size_t scheme_end = url.canonical.find("://"); scheme_end != std::string::npos) {
    host_part = absl::string_view(url.canonical).substr(scheme_end + 3);
    host_part = host_part.substr(0, host_part.find('/'));
  }
  if (absl::StrContains(host_part, "@")) {
    return Broken("repo_url", absl::StrCat("canonical \"", url.canonical, "\" has a user"), data);
  }
  absl::StatusOr<RepoUrl> again = ParseRepoUrl(url.canonical, /*allow_local=*/true);
  if (!again.ok() || again->canonical != url.canonical || again->host != url.host ||
      again->port != url.port) {
    return Broken("repo_url",
                  absl::StrCat("canonical \"", url.canonical, "\" does not parse back to itself: ",
                               again.ok() ? again->canonical : again.status().ToString()),
                  data);
  }
  return absl::OkStatus();
}

}  // namespace todoke::fuzz

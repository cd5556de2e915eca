// Git credentials, loaded from a file (or a directory of files) and chosen by URL prefix.
//
// File format: one entry per line, "#" starts a comment:
//
//   <url-prefix> key=value [key=value ...]
//
// The entry with the longest prefix of the repository's URL wins (the URL as requested, or its
// canonical form scheme://host[:port]/path without a user name). Keys:
//   username, password, password_file        HTTP basic auth (or ssh user name)
//   bearer_token, bearer_token_file          HTTP "Authorization: Bearer"
//   ssh_key, ssh_public_key, ssh_passphrase  ssh private key file (public key optional)
//   known_hosts                              OpenSSH known_hosts file for ssh host keys
//   insecure_skip_host_key_check=true        accept any ssh host key (tests only)
//   insecure_skip_tls_verify=true            accept any HTTPS certificate (tests only)
// Relative file paths are taken relative to the credentials file. Values cannot hold spaces;
// use the *_file keys for secrets. Secrets never appear in errors or logs.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_CREDENTIALS_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_CREDENTIALS_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::source_fetcher {

struct Credential {
  std::string url_prefix;
  std::string username;
  std::string password;
  std::string bearer_token;
  std::string ssh_private_key_path;
  std::string ssh_public_key_path;
  std::string ssh_passphrase;
  std::string known_hosts_path;
  bool insecure_skip_host_key_check = false;
  bool insecure_skip_tls_verify = false;
};

class CredentialStore {
 public:
  CredentialStore() = default;

  // Loads `path` (a file, or a directory whose regular files not starting with "." are read in
  // name order). Empty `path`: an empty store. INVALID_ARGUMENT names the file and line of a
  // malformed entry (never its secret); NOT_FOUND if `path` or a referenced *_file is missing.
  static absl::StatusOr<CredentialStore> Load(const std::string& path);

  // Parses the text of one credentials file; `base_dir` resolves relative paths.
  static absl::StatusOr<CredentialStore> Parse(absl::string_view text,
                                               absl::string_view source_name,
                                               const std::string& base_dir);

  // The entry with the longest prefix matching `url`, or nullptr.
  const Credential* Lookup(const RepoUrl& url) const;

  size_t size() const { return entries_.size(); }

 private:
  std::vector<Credential> entries_;
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_CREDENTIALS_H_

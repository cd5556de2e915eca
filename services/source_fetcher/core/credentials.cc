#include "services/source_fetcher/core/credentials.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status.h"

namespace todoke::source_fetcher {
namespace {

namespace fs = std::filesystem;

absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read credentials file ", path));
  std::ostringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

std::string ResolvePath(const std::string& base_dir, absl::string_view value) {
  fs::path p{std::string(value)};
  if (p.is_absolute() || base_dir.empty()) return std::string(value);
  return (fs::path(base_dir) / p).string();
}

}  // namespace

absl::StatusOr<CredentialStore> CredentialStore::Parse(absl::string_view text,
                                                       absl::string_view source_name,
                                                       const std::string& base_dir) {
  CredentialStore store;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    auto bad = [&](absl::string_view why) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials ", source_name, ":", line_number, ": ", why));
    };
    Credential c;
    c.url_prefix = std::string(fields[0]);
    if (fields.size() < 2) return bad("an entry needs at least one key=value");
    for (size_t i = 1; i < fields.size(); ++i) {
      size_t eq = fields[i].find('=');
      if (eq == absl::string_view::npos) return bad("expected key=value");
      absl::string_view key = fields[i].substr(0, eq);
      std::string value(fields[i].substr(eq + 1));
      if (key == "username") {
        c.username = value;
      } else if (key == "password") {
        c.password = value;
      } else if (key == "password_file" || key == "bearer_token_file") {
        absl::StatusOr<std::string> secret = ReadSmallFile(ResolvePath(base_dir, value));
        if (!secret.ok()) return bad(absl::StrCat("cannot read ", key));
        std::string trimmed(absl::StripTrailingAsciiWhitespace(*secret));
        (key == "password_file" ? c.password : c.bearer_token) = trimmed;
      } else if (key == "bearer_token") {
        c.bearer_token = value;
      } else if (key == "ssh_key") {
        c.ssh_private_key_path = ResolvePath(base_dir, value);
      } else if (key == "ssh_public_key") {
        c.ssh_public_key_path = ResolvePath(base_dir, value);
      } else if (key == "ssh_passphrase") {
        c.ssh_passphrase = value;
      } else if (key == "known_hosts") {
        c.known_hosts_path = ResolvePath(base_dir, value);
      } else if (key == "insecure_skip_host_key_check") {
        c.insecure_skip_host_key_check = value == "true";
      } else if (key == "insecure_skip_tls_verify") {
        c.insecure_skip_tls_verify = value == "true";
      } else {
        return bad(absl::StrCat("unknown key \"", key, "\""));
      }
    }
    store.entries_.push_back(std::move(c));
  }
  return store;
}

absl::StatusOr<CredentialStore> CredentialStore::Load(const std::string& path) {
  CredentialStore store;
  if (path.empty()) return store;
  std::error_code ec;
  std::vector<std::string> files;
  if (fs::is_directory(path, ec)) {
    for (const auto& entry : fs::directory_iterator(path, ec)) {
      std::string name = entry.path().filename().string();
      if (name.empty() || name.front() == '.') continue;
      if (!entry.is_regular_file(ec)) continue;
      files.push_back(entry.path().string());
    }
    std::sort(files.begin(), files.end());
  } else if (fs::exists(path, ec)) {
    files.push_back(path);
  } else {
    return absl::NotFoundError(absl::StrCat("credentials path ", path, " does not exist"));
  }
  for (const std::string& file : files) {
    ASSIGN_OR_RETURN(std::string text, ReadSmallFile(file));
    ASSIGN_OR_RETURN(CredentialStore one, Parse(text, file, fs::path(file).parent_path().string()));
    for (Credential& c : one.entries_) store.entries_.push_back(std::move(c));
  }
  return store;
}

const Credential* CredentialStore::Lookup(const RepoUrl& url) const {
  const Credential* best = nullptr;
  for (const Credential& c : entries_) {
    if (!absl::StartsWith(url.fetch_url, c.url_prefix) &&
        !absl::StartsWith(url.canonical, c.url_prefix)) {
      continue;
    }
    if (best == nullptr || c.url_prefix.size() > best->url_prefix.size()) best = &c;
  }
  return best;
}

}  // namespace todoke::source_fetcher

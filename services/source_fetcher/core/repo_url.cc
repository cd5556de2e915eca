#include "services/source_fetcher/core/repo_url.h"

#include <cctype>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace todoke::source_fetcher {
namespace {

absl::Status Invalid(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("invalid repository URL \"", MaskCredentials(url), "\": ", why));
}

// Checks a repository path (trailing slashes already trimmed): no "..", not empty nor the
// root "/" ("//" would otherwise name "/" too).
absl::Status CheckPath(absl::string_view url, absl::string_view path) {
  if (path.empty() || path == "/") return Invalid(url, "empty repository path");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == "..") return Invalid(url, "path contains \"..\"");
  }
  return absl::OkStatus();
}

// Checks a host: a name (letters, digits, '.', '-', '_') or a bracketed IPv6 literal (hex
// digits, ':' and '.'), so that the canonical URL built from it reads back as the same host.
absl::Status CheckHost(absl::string_view url, absl::string_view host) {
  if (host.empty()) return Invalid(url, "empty host");
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') return Invalid(url, "malformed IPv6 host");
    for (char c : host.substr(1, host.size() - 2)) {
      if (!(absl::ascii_isxdigit(static_cast<unsigned char>(c)) || c == ':' || c == '.')) {
        return Invalid(url, "malformed IPv6 host");
      }
    }
    return absl::OkStatus();
  }
  for (char c : host) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) {
      return Invalid(url, "malformed host");
    }
  }
  return absl::OkStatus();
}

// A port written in a URL: 1 to 65535.
bool ParsePort(absl::string_view text, int* port) {
  return absl::SimpleAtoi(text, port) && *port > 0 && *port <= 65535;
}

std::string TrimTrailingSlashes(std::string path) {
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  return path;
}

}  // namespace

std::string HttpOrigin(absl::string_view url) {
  const size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return "";
  const std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  int port = 0;
  if (scheme == "http") {
    port = 80;
  } else if (scheme == "https") {
    port = 443;
  } else {
    return "";
  }
  absl::string_view authority = url.substr(scheme_end + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  if (size_t at = authority.rfind('@'); at != absl::string_view::npos) {
    authority = authority.substr(at + 1);
  }
  absl::string_view host = authority;
  const size_t bracket = authority.rfind(']');
  const size_t colon = authority.rfind(':');
  if (colon != absl::string_view::npos && (bracket == absl::string_view::npos || colon > bracket)) {
    if (!absl::SimpleAtoi(authority.substr(colon + 1), &port)) return "";
    host = authority.substr(0, colon);
  }
  if (host.empty()) return "";
  return absl::StrCat(scheme, "://", absl::AsciiStrToLower(host), ":", port);
}

absl::StatusOr<RepoUrl> ParseRepoUrl(absl::string_view url, bool allow_local) {
  if (url.empty()) return absl::InvalidArgumentError("repository URL is empty");
  for (char c : url) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f || c == ' ') {
      return Invalid(url, "contains whitespace or control characters");
    }
  }
  RepoUrl out;
  size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) {
    if (url.front() == '/') {
      if (!allow_local) return Invalid(url, "local repositories are not allowed");
      absl::Status path_ok = CheckPath(url, TrimTrailingSlashes(std::string(url)));
      if (!path_ok.ok()) return path_ok;
      out.transport = RepoTransport::kLocal;
      out.path = TrimTrailingSlashes(std::string(url));
      out.fetch_url = absl::StrCat("file://", out.path);
      out.canonical = out.fetch_url;
      return out;
    }
    // scp-like: [user@]host:path
    size_t colon = url.find(':');
    size_t slash = url.find('/');
    if (colon == absl::string_view::npos || colon == 0 ||
        (slash != absl::string_view::npos && slash < colon)) {
      return Invalid(url, "not a URL, an scp-like ssh address or an absolute path");
    }
    absl::string_view user_host = url.substr(0, colon);
    absl::string_view path = url.substr(colon + 1);
    size_t at = user_host.rfind('@');
    if (at != absl::string_view::npos) {
      out.user = std::string(user_host.substr(0, at));
      user_host = user_host.substr(at + 1);
      if (out.user.find(':') != std::string::npos) {
        return Invalid(url, "passwords in URLs are not accepted; use the credentials file");
      }
    }
    absl::Status host_ok = CheckHost(url, user_host);
    if (!host_ok.ok()) return host_ok;
    // As in a URL: the canonical ssh:// form would read '?' or '#' as a query or fragment.
    if (path.find_first_of("?#") != absl::string_view::npos) {
      return Invalid(url, "query strings and fragments are not accepted");
    }
    absl::Status path_ok = CheckPath(url, TrimTrailingSlashes(std::string(path)));
    if (!path_ok.ok()) return path_ok;
    out.transport = RepoTransport::kSsh;
    out.host = absl::AsciiStrToLower(user_host);
    out.path = TrimTrailingSlashes(std::string(path));
    out.fetch_url = std::string(url);
    out.canonical = absl::StrCat("ssh://", out.host, out.path.front() == '/' ? "" : "/", out.path);
    return out;
  }

  std::string scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
  absl::string_view rest = url.substr(scheme_end + 3);
  if (scheme == "file") {
    if (!allow_local) return Invalid(url, "local repositories are not allowed");
    if (rest.empty() || rest.front() != '/')
      return Invalid(url, "file:// URL needs an absolute path");
    absl::Status path_ok = CheckPath(url, TrimTrailingSlashes(std::string(rest)));
    if (!path_ok.ok()) return path_ok;
    out.transport = RepoTransport::kLocal;
    out.path = TrimTrailingSlashes(std::string(rest));
    out.fetch_url = absl::StrCat("file://", out.path);
    out.canonical = out.fetch_url;
    return out;
  }
  int default_port = 0;
  if (scheme == "https") {
    out.transport = RepoTransport::kHttps;
    default_port = 443;
  } else if (scheme == "http") {
    out.transport = RepoTransport::kHttp;
    default_port = 80;
  } else if (scheme == "git") {
    out.transport = RepoTransport::kGit;
    default_port = 9418;
  } else if (scheme == "ssh" || scheme == "git+ssh" || scheme == "ssh+git") {
    out.transport = RepoTransport::kSsh;
    default_port = 22;
  } else {
    return Invalid(url, absl::StrCat("unsupported scheme \"", scheme, "\""));
  }
  size_t path_begin = rest.find('/');
  if (path_begin == absl::string_view::npos) return Invalid(url, "no repository path");
  absl::string_view authority = rest.substr(0, path_begin);
  absl::string_view path = rest.substr(path_begin);
  if (path.find_first_of("?#") != absl::string_view::npos) {
    return Invalid(url, "query strings and fragments are not accepted");
  }
  size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) {
    absl::string_view userinfo = authority.substr(0, at);
    if (userinfo.find(':') != absl::string_view::npos) {
      return Invalid(url, "passwords in URLs are not accepted; use the credentials file");
    }
    if (out.transport != RepoTransport::kSsh) {
      return Invalid(url, "user names in URLs are only accepted for ssh; use the credentials file");
    }
    out.user = std::string(userinfo);
    authority = authority.substr(at + 1);
  }
  absl::string_view host = authority;
  if (!host.empty() && host.front() == '[') {  // IPv6 literal
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return Invalid(url, "malformed IPv6 host");
    absl::string_view after = host.substr(close + 1);
    host = host.substr(0, close + 1);
    if (!after.empty()) {
      if (after.front() != ':' || !ParsePort(after.substr(1), &out.port)) {
        return Invalid(url, "malformed port");
      }
    }
  } else {
    size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos) {
      if (!ParsePort(host.substr(colon + 1), &out.port)) {
        return Invalid(url, "malformed port");
      }
      host = host.substr(0, colon);
    }
  }
  absl::Status host_ok = CheckHost(url, host);
  if (!host_ok.ok()) return host_ok;
  absl::Status path_ok = CheckPath(url, TrimTrailingSlashes(std::string(path)));
  if (!path_ok.ok()) return path_ok;
  out.host = absl::AsciiStrToLower(host);
  out.path = TrimTrailingSlashes(std::string(path));
  if (out.port == default_port) out.port = 0;
  std::string canonical_scheme = out.transport == RepoTransport::kSsh ? "ssh" : scheme;
  out.canonical = absl::StrCat(canonical_scheme, "://", out.host,
                               out.port != 0 ? absl::StrCat(":", out.port) : "", out.path);
  out.fetch_url = std::string(url);
  return out;
}

}  // namespace todoke::source_fetcher

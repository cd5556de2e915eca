#include "services/orchestrator/grpc/applier_router.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <algorithm>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace todoke::orchestrator {
namespace {

// 64-bit FNV-1a, then a finaliser: stable across processes and builds.
uint64_t Hash64(absl::string_view a, absl::string_view b) {
  uint64_t h = 1469598103934665603ull;
  for (char c : a) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h = (h ^ 0xff) * 1099511628211ull;
  for (char c : b) h = (h ^ static_cast<unsigned char>(c)) * 1099511628211ull;
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  return h;
}

}  // namespace

absl::StatusOr<std::vector<std::string>> ResolveHostPort(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat("\"", host_port, "\": want host:port"));
  }
  std::string host = host_port.substr(0, colon);
  std::string port = host_port.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int error = getaddrinfo(host.c_str(), port.c_str(), &hints, &result);
  if (error != 0) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host_port, ": ", gai_strerror(error)));
  }
  std::set<std::string> addresses;
  for (addrinfo* ai = result; ai != nullptr; ai = ai->ai_next) {
    char text[INET6_ADDRSTRLEN] = {};
    if (ai->ai_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text, sizeof text);
      addresses.insert(absl::StrCat(text, ":", port));
    } else if (ai->ai_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text,
                sizeof text);
      addresses.insert(absl::StrCat("[", text, "]:", port));
    }
  }
  freeaddrinfo(result);
  return std::vector<std::string>(addresses.begin(), addresses.end());
}

absl::StatusOr<std::unique_ptr<ApplierRouter>> ApplierRouter::Create(const std::string& target,
                                                                     StubFactory stubs,
                                                                     Resolver resolver,
                                                                     absl::Duration refresh) {
  absl::string_view rest = absl::StripAsciiWhitespace(target);
  if (rest.empty()) return absl::InvalidArgumentError("--applier: empty address");
  std::vector<std::string> names;
  if (absl::ConsumePrefix(&rest, "dns:///")) {
    names.push_back(std::string(rest));
  } else {
    for (absl::string_view part : absl::StrSplit(rest, ',', absl::SkipWhitespace())) {
      names.push_back(std::string(absl::StripAsciiWhitespace(part)));
    }
  }
  if (!resolver) resolver = ResolveHostPort;
  return std::unique_ptr<ApplierRouter>(
      new ApplierRouter(std::move(names), std::move(stubs), std::move(resolver), refresh));
}

ApplierRouter::ApplierRouter(std::vector<std::string> names, StubFactory stubs, Resolver resolver,
                             absl::Duration refresh)
    : names_(std::move(names)),
      stubs_(std::move(stubs)),
      resolver_(std::move(resolver)),
      refresh_(refresh) {}

const std::string& ApplierRouter::Pick(const std::vector<std::string>& replicas,
                                       const std::string& key) {
  size_t best = 0;
  uint64_t best_weight = 0;
  for (size_t i = 0; i < replicas.size(); ++i) {
    uint64_t weight = Hash64(replicas[i], key);
    if (i == 0 || weight > best_weight) {
      best = i;
      best_weight = weight;
    }
  }
  return replicas[best];
}

void ApplierRouter::RefreshLocked() {
  std::set<std::string> resolved;
  bool failed = false;
  for (const std::string& name : names_) {
    absl::StatusOr<std::vector<std::string>> addresses = resolver_(name);
    if (!addresses.ok()) {
      failed = true;
      continue;
    }
    resolved.insert(addresses->begin(), addresses->end());
  }
  resolved_at_ = absl::Now();
  // A failed lookup keeps what was known: a DNS hiccup must not move every destination.
  if (resolved.empty() || (failed && !replicas_.empty())) return;
  replicas_.assign(resolved.begin(), resolved.end());
  for (auto it = by_address_.begin(); it != by_address_.end();) {
    it = resolved.count(it->first) ? std::next(it) : by_address_.erase(it);
  }
}

absl::StatusOr<std::shared_ptr<ApplierRouter::Stub>> ApplierRouter::StubFor(
    const std::string& destination_key) {
  absl::MutexLock lock(&mu_);
  if (replicas_.empty() || absl::Now() - resolved_at_ > refresh_) RefreshLocked();
  if (replicas_.empty()) {
    return absl::UnavailableError(
        absl::StrCat("applier: no address for ", absl::StrJoin(names_, ",")));
  }
  const std::string& address = Pick(replicas_, destination_key);
  std::shared_ptr<Stub>& stub = by_address_[address];
  if (stub == nullptr) {
    absl::StatusOr<std::shared_ptr<Stub>> made = stubs_(address);
    if (!made.ok()) {
      by_address_.erase(address);
      return made.status();
    }
    stub = *std::move(made);
  }
  return stub;
}

std::vector<std::string> ApplierRouter::Replicas() {
  absl::MutexLock lock(&mu_);
  if (replicas_.empty() || absl::Now() - resolved_at_ > refresh_) RefreshLocked();
  return replicas_;
}

}  // namespace todoke::orchestrator

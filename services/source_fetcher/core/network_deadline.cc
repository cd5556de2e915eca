#include "services/source_fetcher/core/network_deadline.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <git2/sys/stream.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <string>
#include <system_error>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace todoke::source_fetcher {
namespace {

thread_local ScopedNetworkDeadline* current_scope = nullptr;

// Layout contract: libgit2 1.5's ssh transport casts the stream returned for GIT_STREAM_STANDARD
// to its private `git_socket_stream { git_stream parent; char* host; char* port; GIT_SOCKET s; }`
// and hands `s` to libssh2. The first four members must keep exactly this shape.
struct DeadlineSocket {
  git_stream parent;
  char* host;
  char* port;
  int s;
  // Ours from here on.
  absl::Time deadline;
  ScopedNetworkDeadline* scope;  // may dangle after the scope ends; only used while it lives.
  std::atomic<bool> timed_out;
};

// Shuts down sockets whose deadline passed. Sockets are registered from connect to close.
class Watchdog {
 public:
  static Watchdog& Get() {
    static Watchdog* watchdog = new Watchdog();  // never destroyed: its thread runs forever
    return *watchdog;
  }

  Watchdog() {
    std::thread([this] { Run(); }).detach();
  }

  void Add(DeadlineSocket* socket) {
    absl::MutexLock lock(&mu_);
    sockets_.emplace(socket, socket->deadline);
    wake_ = true;
  }
  // After Remove returns, the watchdog no longer touches the socket or its fd.
  void Remove(DeadlineSocket* socket) {
    absl::MutexLock lock(&mu_);
    sockets_.erase(socket);
  }

 private:
  void Run() {
    absl::MutexLock lock(&mu_);
    while (true) {
      absl::Time now = absl::Now();
      absl::Time next = now + absl::Seconds(1);
      for (auto& [socket, deadline] : sockets_) {
        if (deadline <= now) {
          if (!socket->timed_out.exchange(true)) {
            ::shutdown(socket->s, SHUT_RDWR);
          }
        } else {
          next = std::min(next, deadline);
        }
      }
      mu_.AwaitWithDeadline(absl::Condition(&wake_), next);
      wake_ = false;
    }
  }

  absl::Mutex mu_;
  std::map<DeadlineSocket*, absl::Time> sockets_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
};

int RemainingMillis(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return 0;
  if (left > absl::Hours(24)) return 24 * 3600 * 1000;
  return static_cast<int>(absl::ToInt64Milliseconds(left)) + 1;
}

int TimedOut(DeadlineSocket* st, const char* what) {
  st->timed_out = true;
  if (st->scope != nullptr && st->scope == current_scope) st->scope->MarkExpired();
  git_error_set_str(
      GIT_ERROR_NET,
      absl::StrCat("deadline exceeded while ", what, " ", st->host, ":", st->port).c_str());
  return -1;
}

// Waits until `fd` is ready for `events` or the deadline passes: 1 ready, 0 timed out, -1 error.
int WaitFor(DeadlineSocket* st, short events) {
  while (true) {
    int ms = RemainingMillis(st->deadline);
    if (ms == 0) return 0;
    struct pollfd p = {st->s, events, 0};
    int rc = ::poll(&p, 1, ms);
    if (rc > 0) return 1;
    if (rc == 0) continue;  // loop re-checks the clock
    if (errno == EINTR) continue;
    return -1;
  }
}

std::vector<ResolvedAddress> ToAddresses(const struct addrinfo* info) {
  std::vector<ResolvedAddress> out;
  for (const struct addrinfo* p = info; p != nullptr; p = p->ai_next) {
    if (p->ai_addr == nullptr || p->ai_addrlen > sizeof(sockaddr_storage)) continue;
    ResolvedAddress a;
    a.family = p->ai_family;
    a.socktype = p->ai_socktype;
    a.protocol = p->ai_protocol;
    std::memcpy(&a.addr, p->ai_addr, p->ai_addrlen);
    a.addr_len = p->ai_addrlen;
    out.push_back(a);
  }
  return out;
}

int Connect(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  if (st->scope != nullptr && st->scope == current_scope &&
      !st->scope->AllowsConnectionTo(st->host, st->port)) {
    git_error_set_str(GIT_ERROR_NET,
                      absl::StrCat("refused to connect to ", st->host, ":", st->port,
                                   ": another origin than the one credentials are configured for")
                          .c_str());
    return -1;
  }
  absl::StatusOr<std::vector<ResolvedAddress>> addresses =
      DeadlineResolver::Default().Resolve(st->host, st->port, st->deadline);
  if (!addresses.ok()) {
    if (absl::IsDeadlineExceeded(addresses.status())) return TimedOut(st, "resolving");
    git_error_set_str(GIT_ERROR_NET, std::string(addresses.status().message()).c_str());
    return -1;
  }
  std::string last_error = "no address";
  for (const ResolvedAddress& a : *addresses) {
    int fd = ::socket(a.family, a.socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a.protocol);
    if (fd < 0) {
      last_error = strerror(errno);
      continue;
    }
    st->s = fd;
    int crc = ::connect(fd, reinterpret_cast<const sockaddr*>(&a.addr), a.addr_len);
    if (crc != 0 && errno == EINPROGRESS) {
      int ready = WaitFor(st, POLLOUT);
      if (ready == 0) {
        ::close(fd);
        st->s = -1;
        return TimedOut(st, "connecting to");
      }
      int err = 0;
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      crc = err == 0 ? 0 : -1;
      errno = err;
    }
    if (crc == 0) {
      // libssh2 uses the descriptor in blocking mode; we poll before every read and write.
      ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
      int one = 1;
      ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
      Watchdog::Get().Add(st);
      return 0;
    }
    last_error = strerror(errno);
    ::close(fd);
    st->s = -1;
  }
  git_error_set_str(
      GIT_ERROR_NET,
      absl::StrCat("failed to connect to ", st->host, ":", st->port, ": ", last_error).c_str());
  return -1;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  ScopedNetworkDeadline* scope =
      st->scope != nullptr && st->scope == current_scope ? st->scope : nullptr;
  if (scope != nullptr) {
    len = scope->ReadAllowance(len);
    if (len == 0) {
      git_error_set_str(GIT_ERROR_NET,
                        absl::StrCat("read limit exceeded: ", st->host, ":", st->port,
                                     " sent more than ", scope->read_limit(), " bytes")
                            .c_str());
      return -1;
    }
  }
  while (true) {
    if (st->timed_out) return TimedOut(st, "reading from");
    int ready = WaitFor(st, POLLIN);
    if (ready == 0) return TimedOut(st, "reading from");
    ssize_t n = ::recv(st->s, data, len, 0);
    if (n >= 0) {
      if (scope != nullptr) scope->CountRead(static_cast<size_t>(n));
      if (n == 0 && st->timed_out) return TimedOut(st, "reading from");
      return n;
    }
    if (errno == EINTR || errno == EAGAIN) continue;
    git_error_set_str(
        GIT_ERROR_NET,
        absl::StrCat("error receiving data from ", st->host, ": ", strerror(errno)).c_str());
    return -1;
  }
}

ssize_t Write(git_stream* stream, const char* data, size_t len, int flags) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  size_t written = 0;
  while (written < len) {
    if (st->timed_out) return TimedOut(st, "writing to");
    int ready = WaitFor(st, POLLOUT);
    if (ready == 0) return TimedOut(st, "writing to");
    ssize_t n = ::send(st->s, data + written, len - written, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      git_error_set_str(
          GIT_ERROR_NET,
          absl::StrCat("error sending data to ", st->host, ": ", strerror(errno)).c_str());
      return -1;
    }
    written += static_cast<size_t>(n);
  }
  return static_cast<ssize_t>(written);
}

int Close(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  Watchdog::Get().Remove(st);
  if (st->s >= 0) {
    ::close(st->s);
    st->s = -1;
  }
  return 0;
}

void Free(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  Watchdog::Get().Remove(st);
  if (st->s >= 0) ::close(st->s);
  std::free(st->host);
  std::free(st->port);
  delete st;
}

int Init(git_stream** out, const char* host, const char* port) {
  auto* st = new DeadlineSocket();
  st->parent.version = GIT_STREAM_VERSION;
  st->parent.encrypted = 0;
  st->parent.proxy_support = 0;
  st->parent.connect = Connect;
  st->parent.read = Read;
  st->parent.write = Write;
  st->parent.close = Close;
  st->parent.free = Free;
  st->host = ::strdup(host);
  st->port = ::strdup(port != nullptr ? port : "0");
  st->s = -1;
  st->scope = current_scope;
  st->deadline =
      current_scope != nullptr ? current_scope->deadline() : absl::Now() + absl::Minutes(10);
  st->timed_out = false;
  *out = &st->parent;
  return 0;
}

}  // namespace

absl::Status InstallDeadlineSockets() {
  static int rc = [] {
    Watchdog::Get();
    git_stream_registration registration = {};
    registration.version = GIT_STREAM_VERSION;
    registration.init = Init;
    registration.wrap = nullptr;
    return git_stream_register(GIT_STREAM_STANDARD, &registration);
  }();
  if (rc != 0) return absl::InternalError("libgit2 refused the socket stream registration");
  return absl::OkStatus();
}

ScopedNetworkDeadline::ScopedNetworkDeadline(absl::Time deadline)
    : deadline_(deadline), previous_(current_scope) {
  current_scope = this;
}

ScopedNetworkDeadline::~ScopedNetworkDeadline() { current_scope = previous_; }

namespace {
absl::string_view WithoutBrackets(absl::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}
}  // namespace

void ScopedNetworkDeadline::RestrictToOrigin(absl::string_view host, int port) {
  origin_restricted_ = true;
  allowed_host_ = std::string(WithoutBrackets(host));
  allowed_port_ = absl::StrCat(port);
}

void ScopedNetworkDeadline::LimitReads(uint64_t bytes) {
  read_limit_ = bytes;
  read_budget_end_ = bytes_read_ + bytes;
}

size_t ScopedNetworkDeadline::ReadAllowance(size_t wanted) {
  if (read_limit_ == 0) return wanted;
  if (bytes_read_ >= read_budget_end_) {
    read_limit_exceeded_ = true;
    return 0;
  }
  return static_cast<size_t>(std::min<uint64_t>(wanted, read_budget_end_ - bytes_read_));
}

bool ScopedNetworkDeadline::AllowsConnectionTo(absl::string_view host, absl::string_view port) {
  if (!origin_restricted_) return true;
  if (absl::EqualsIgnoreCase(WithoutBrackets(host), allowed_host_) && port == allowed_port_) {
    return true;
  }
  if (refused_origin_.empty()) refused_origin_ = absl::StrCat(host, ":", port);
  return false;
}

ScopedNetworkDeadline* CurrentNetworkDeadline() { return current_scope; }

absl::StatusOr<std::vector<ResolvedAddress>> SystemResolve(const std::string& host,
                                                           const std::string& port) {
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  struct addrinfo* info = nullptr;
  int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &info);
  if (rc != 0) {
    std::string message =
        absl::StrCat("failed to resolve address for ", host, ": ", gai_strerror(rc));
    if (rc == EAI_NONAME) return absl::NotFoundError(message);
    return absl::UnavailableError(message);
  }
  std::vector<ResolvedAddress> out = ToAddresses(info);
  ::freeaddrinfo(info);
  if (out.empty()) return absl::NotFoundError(absl::StrCat("no address for ", host));
  return out;
}

struct DeadlineResolver::Shared {
  absl::Mutex mu;
  int abandoned ABSL_GUARDED_BY(mu) = 0;
};

namespace {

// One lookup, shared by the caller and its worker; whoever finishes last frees it.
struct Lookup {
  Lookup(std::string h, std::string p) : host(std::move(h)), port(std::move(p)) {}
  const std::string host;
  const std::string port;
  absl::Mutex mu;
  bool done ABSL_GUARDED_BY(mu) = false;
  bool abandoned ABSL_GUARDED_BY(mu) = false;
  absl::StatusOr<std::vector<ResolvedAddress>> result ABSL_GUARDED_BY(mu);
};

}  // namespace

DeadlineResolver::DeadlineResolver(AddressResolverFn resolver, int max_abandoned)
    : resolver_(std::move(resolver)),
      max_abandoned_(max_abandoned),
      shared_(std::make_shared<Shared>()) {}

DeadlineResolver& DeadlineResolver::Default() {
  static DeadlineResolver* resolver = new DeadlineResolver();  // never destroyed
  return *resolver;
}

int DeadlineResolver::abandoned() const {
  absl::MutexLock lock(&shared_->mu);
  return shared_->abandoned;
}

absl::StatusOr<std::vector<ResolvedAddress>> DeadlineResolver::Resolve(const std::string& host,
                                                                       const std::string& port,
                                                                       absl::Time deadline) {
  // Numeric addresses: no DNS, so no thread.
  {
    struct addrinfo hints = {};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_family = AF_UNSPEC;
    hints.ai_flags = AI_NUMERICHOST;
    struct addrinfo* info = nullptr;
    int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &info);
    if (rc == 0) {
      std::vector<ResolvedAddress> out = ToAddresses(info);
      ::freeaddrinfo(info);
      if (!out.empty()) return out;
    } else if (rc != EAI_NONAME) {
      return absl::InvalidArgumentError(
          absl::StrCat("failed to resolve address for ", host, ": ", gai_strerror(rc)));
    }
  }
  if (absl::Now() >= deadline) {
    return absl::DeadlineExceededError(absl::StrCat("deadline exceeded while resolving ", host));
  }
  {
    absl::MutexLock lock(&shared_->mu);
    if (shared_->abandoned >= max_abandoned_) {
      return absl::UnavailableError(absl::StrCat(
          "cannot resolve ", host, ": ", shared_->abandoned,
          " earlier lookups are still stuck past their deadline; the resolver is not answering"));
    }
  }
  auto lookup = std::make_shared<Lookup>(host, port);
  try {
    std::thread([lookup, shared = shared_, resolver = resolver_] {
      absl::StatusOr<std::vector<ResolvedAddress>> result = resolver(lookup->host, lookup->port);
      bool was_abandoned;
      {
        absl::MutexLock lock(&lookup->mu);
        lookup->result = std::move(result);
        lookup->done = true;
        was_abandoned = lookup->abandoned;
      }
      if (was_abandoned) {
        absl::MutexLock lock(&shared->mu);
        --shared->abandoned;
      }
    }).detach();
  } catch (const std::system_error& e) {
    return absl::UnavailableError(
        absl::StrCat("cannot resolve ", host, ": no thread for the lookup: ", e.what()));
  }
  absl::MutexLock lock(&lookup->mu);
  if (lookup->mu.AwaitWithDeadline(absl::Condition(&lookup->done), deadline)) {
    return std::move(lookup->result);
  }
  // Lock order: lookup->mu, then shared->mu. The worker never holds both.
  lookup->abandoned = true;
  {
    absl::MutexLock shared_lock(&shared_->mu);
    ++shared_->abandoned;
  }
  return absl::DeadlineExceededError(absl::StrCat("deadline exceeded while resolving ", host));
}

}  // namespace todoke::source_fetcher

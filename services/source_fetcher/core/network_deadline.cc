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
#include <map>
#include <mutex>
#include <string>
#include <thread>

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
  git_error_set_str(GIT_ERROR_NET,
                    absl::StrCat("deadline exceeded while ", what, " ", st->host, ":", st->port)
                        .c_str());
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

int Connect(git_stream* stream) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  struct addrinfo hints = {};
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_family = AF_UNSPEC;
  struct addrinfo* info = nullptr;
  int rc = ::getaddrinfo(st->host, st->port, &hints, &info);
  if (rc != 0) {
    git_error_set_str(GIT_ERROR_NET, absl::StrCat("failed to resolve address for ", st->host,
                                                  ": ", gai_strerror(rc))
                                         .c_str());
    return -1;
  }
  std::string last_error = "no address";
  for (struct addrinfo* p = info; p != nullptr; p = p->ai_next) {
    int fd = ::socket(p->ai_family, p->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, p->ai_protocol);
    if (fd < 0) {
      last_error = strerror(errno);
      continue;
    }
    st->s = fd;
    int crc = ::connect(fd, p->ai_addr, p->ai_addrlen);
    if (crc != 0 && errno == EINPROGRESS) {
      int ready = WaitFor(st, POLLOUT);
      if (ready == 0) {
        ::close(fd);
        st->s = -1;
        ::freeaddrinfo(info);
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
      ::freeaddrinfo(info);
      Watchdog::Get().Add(st);
      return 0;
    }
    last_error = strerror(errno);
    ::close(fd);
    st->s = -1;
  }
  ::freeaddrinfo(info);
  git_error_set_str(GIT_ERROR_NET, absl::StrCat("failed to connect to ", st->host, ":", st->port,
                                                ": ", last_error)
                                       .c_str());
  return -1;
}

ssize_t Read(git_stream* stream, void* data, size_t len) {
  auto* st = reinterpret_cast<DeadlineSocket*>(stream);
  while (true) {
    if (st->timed_out) return TimedOut(st, "reading from");
    int ready = WaitFor(st, POLLIN);
    if (ready == 0) return TimedOut(st, "reading from");
    ssize_t n = ::recv(st->s, data, len, 0);
    if (n >= 0) {
      if (n == 0 && st->timed_out) return TimedOut(st, "reading from");
      return n;
    }
    if (errno == EINTR || errno == EAGAIN) continue;
    git_error_set_str(GIT_ERROR_NET, absl::StrCat("error receiving data from ", st->host, ": ",
                                                  strerror(errno))
                                         .c_str());
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
      git_error_set_str(GIT_ERROR_NET, absl::StrCat("error sending data to ", st->host, ": ",
                                                    strerror(errno))
                                           .c_str());
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
  st->deadline = current_scope != nullptr ? current_scope->deadline()
                                          : absl::Now() + absl::Minutes(10);
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

ScopedNetworkDeadline* CurrentNetworkDeadline() { return current_scope; }

}  // namespace todoke::source_fetcher

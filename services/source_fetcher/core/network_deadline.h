// Deadlines for libgit2's network I/O.
//
// libgit2 1.5 has no connect or read timeout: a server that accepts a connection and then says
// nothing blocks the calling thread forever. InstallDeadlineSockets() replaces libgit2's plain
// socket stream (used by git://, http://, https:// underneath TLS, and ssh://) with one that
//   - connects without blocking, bounded by the deadline,
//   - waits for every read and write with poll() bounded by the deadline, and
//   - is registered with a watchdog thread that shuts the socket down when the deadline passes,
//     which also unblocks libssh2, which reads the socket directly.
// The deadline comes from the ScopedNetworkDeadline active on the calling thread.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_NETWORK_DEADLINE_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_NETWORK_DEADLINE_H_

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace todoke::source_fetcher {

// Registers the deadline-aware socket stream with libgit2 (once per process; later calls are
// no-ops). Call after git_libgit2_init(). INTERNAL if libgit2 refuses the registration.
absl::Status InstallDeadlineSockets();

// While alive, libgit2 sockets opened by this thread end at `deadline`. Nests: the innermost
// scope wins. Not copyable; must be destroyed on the thread that created it.
class ScopedNetworkDeadline {
 public:
  explicit ScopedNetworkDeadline(absl::Time deadline);
  ~ScopedNetworkDeadline();
  ScopedNetworkDeadline(const ScopedNetworkDeadline&) = delete;
  ScopedNetworkDeadline& operator=(const ScopedNetworkDeadline&) = delete;

  absl::Time deadline() const { return deadline_; }
  // True once any socket of this scope hit the deadline (connect, read, write or watchdog).
  bool expired() const { return expired_.load(); }
  void MarkExpired() { expired_.store(true); }

  // Restricts the sockets this scope opens from now on to `host`:`port` (the origin credentials
  // were configured for; `host` compared without case or IPv6 brackets). A connection anywhere
  // else, which only a redirect can cause, fails before a byte is sent: neither a password nor an
  // "Authorization" header (libgit2 sends custom headers on every request) can reach another
  // origin.
  void RestrictToOrigin(absl::string_view host, int port);
  // "host:port" of the first connection RestrictToOrigin refused; empty when none was.
  const std::string& refused_origin() const { return refused_origin_; }

  // Limits what this scope's sockets may read from now on to `bytes` in all (0: no limit). A read
  // past it fails, and read_limit_exceeded() turns true. What libgit2 keeps in memory while it
  // reads (a remote's ref advertisement) is thereby bounded by the server's limit, not by what a
  // hostile remote sends.
  void LimitReads(uint64_t bytes);
  bool read_limit_exceeded() const { return read_limit_exceeded_; }
  uint64_t read_limit() const { return read_limit_; }

  // Used by the socket stream on the scope's thread.
  bool AllowsConnectionTo(absl::string_view host, absl::string_view port);
  // How many of `wanted` bytes a read may ask for now: 0 once the limit is reached (the read must
  // fail), `wanted` when unlimited.
  size_t ReadAllowance(size_t wanted);
  void CountRead(size_t bytes) { bytes_read_ += bytes; }

 private:
  absl::Time deadline_;
  std::atomic<bool> expired_{false};
  ScopedNetworkDeadline* previous_;
  bool origin_restricted_ = false;
  std::string allowed_host_;
  std::string allowed_port_;
  std::string refused_origin_;
  uint64_t bytes_read_ = 0;
  uint64_t read_limit_ = 0;       // 0: none
  uint64_t read_budget_end_ = 0;  // bytes_read_ at which the limit is reached
  bool read_limit_exceeded_ = false;
};

// The innermost scope of the calling thread, or nullptr.
ScopedNetworkDeadline* CurrentNetworkDeadline();

// One address a TCP connect may try, as getaddrinfo reports it.
struct ResolvedAddress {
  int family = 0;
  int socktype = 0;
  int protocol = 0;
  sockaddr_storage addr = {};
  socklen_t addr_len = 0;
};

// Resolves host:port to TCP addresses, blocking. Must be safe to call from any thread.
using AddressResolverFn = std::function<absl::StatusOr<std::vector<ResolvedAddress>>(
    const std::string& host, const std::string& port)>;

// Blocking getaddrinfo (AF_UNSPEC, SOCK_STREAM). NOT_FOUND/UNAVAILABLE naming the host on failure.
absl::StatusOr<std::vector<ResolvedAddress>> SystemResolve(const std::string& host,
                                                           const std::string& port);

// Name resolution bounded by a deadline. getaddrinfo cannot be cancelled, so a lookup runs on a
// detached worker thread that owns its inputs and outputs; the caller waits until the deadline
// and then abandons it (DEADLINE_EXCEEDED naming the host) while the worker finishes in the
// background. At most `max_abandoned` abandoned lookups may be outstanding: beyond that, lookups
// fail fast with UNAVAILABLE, so a dead resolver cannot spawn unbounded threads. Numeric
// addresses are resolved inline (AI_NUMERICHOST) without a thread or the resolver.
class DeadlineResolver {
 public:
  static constexpr int kDefaultMaxAbandoned = 8;

  explicit DeadlineResolver(AddressResolverFn resolver = SystemResolve,
                            int max_abandoned = kDefaultMaxAbandoned);
  // Outstanding workers keep running after destruction; they only touch shared state.
  ~DeadlineResolver() = default;
  DeadlineResolver(const DeadlineResolver&) = delete;
  DeadlineResolver& operator=(const DeadlineResolver&) = delete;

  absl::StatusOr<std::vector<ResolvedAddress>> Resolve(const std::string& host,
                                                       const std::string& port,
                                                       absl::Time deadline);

  // Lookups abandoned at their deadline whose worker has not finished yet.
  int abandoned() const;

  // The process-wide instance used by the deadline socket stream.
  static DeadlineResolver& Default();

 private:
  struct Shared;
  AddressResolverFn resolver_;
  int max_abandoned_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_NETWORK_DEADLINE_H_

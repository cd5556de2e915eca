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

#include <atomic>

#include "absl/status/status.h"
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

 private:
  absl::Time deadline_;
  std::atomic<bool> expired_{false};
  ScopedNetworkDeadline* previous_;
};

// The innermost scope of the calling thread, or nullptr.
ScopedNetworkDeadline* CurrentNetworkDeadline();

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_NETWORK_DEADLINE_H_

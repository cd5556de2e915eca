// Real Git servers on loopback for source-fetcher tests and benchmarks: git daemon (git://),
// git http-backend behind lighttpd (smart HTTP with basic auth and a bearer-token area), sshd with
// throwaway keys (ssh://), and a TCP listener that accepts connections and never answers.
#ifndef TODOKE_TESTS_SERVICES_SOURCE_FETCHER_TEST_SERVERS_H_
#define TODOKE_TESTS_SERVICES_SOURCE_FETCHER_TEST_SERVERS_H_

#include <sys/types.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace todoke::source_fetcher::testing {

// A fresh directory under $TMPDIR (or /tmp), removed with its content on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// Runs `command` with /bin/sh in `cwd`; returns its stdout, or INTERNAL with output on failure.
absl::StatusOr<std::string> Sh(const std::string& command, const std::string& cwd = ".");

// A loopback TCP port that was free a moment ago.
int PickFreePort();

// Blocks until 127.0.0.1:`port` accepts connections (up to ~10 s). False on timeout.
bool WaitForPort(int port);

// A child process killed (SIGTERM, then SIGKILL) and reaped on destruction.
class ChildProcess {
 public:
  ChildProcess() = default;
  ~ChildProcess();
  // Starts `argv` with stdout/stderr appended to `log_path`.
  absl::Status Start(const std::vector<std::string>& argv, const std::string& log_path);
  void Stop();
  pid_t pid() const { return pid_; }

 private:
  pid_t pid_ = -1;
};

// `git daemon` serving every repository under `base_path`.
class GitDaemon {
 public:
  absl::Status Start(const std::string& base_path, const std::string& log_path);
  // git://127.0.0.1:port/<relative>
  std::string Url(const std::string& relative) const;
  int port() const { return port_; }

 private:
  ChildProcess process_;
  int port_ = 0;
};

// lighttpd running git http-backend as CGI over `project_root`:
//   /public/<repo>  no auth
//   /private/<repo> basic auth (user `user`, password `password`)
//   /bearer/<repo>  requires "Authorization: Bearer <token>" (else 403)
class HttpGitServer {
 public:
  absl::Status Start(const std::string& project_root, const std::string& work_dir,
                     const std::string& user, const std::string& password,
                     const std::string& bearer_token);
  std::string Url(const std::string& area, const std::string& relative) const;
  int port() const { return port_; }
  // lighttpd's pid (e.g. to SIGSTOP it: a server that accepts and never answers).
  pid_t pid() const { return process_.pid(); }

 private:
  ChildProcess process_;
  int port_ = 0;
};

// sshd (run as the current user, root in the test container) with a throwaway ed25519 host key
// and a client key authorised for the current user.
class SshGitServer {
 public:
  absl::Status Start(const std::string& work_dir);
  // ssh://<user>@127.0.0.1:port<absolute_path>
  std::string Url(const std::string& absolute_path) const;
  const std::string& client_key() const { return client_key_; }
  const std::string& known_hosts() const { return known_hosts_; }
  const std::string& user() const { return user_; }
  int port() const { return port_; }

 private:
  ChildProcess process_;
  int port_ = 0;
  std::string client_key_, known_hosts_, user_;
};

// A TLS-terminating proxy (OpenSSL) in front of a plain TCP port on loopback, with a throwaway
// self-signed certificate for 127.0.0.1, so HTTPS can be tested against HttpGitServer.
class TlsProxy {
 public:
  ~TlsProxy();
  absl::Status Start(int backend_port, const std::string& work_dir);
  int port() const { return port_; }
  // PEM file of the certificate (to trust it as a CA).
  const std::string& ca_file() const { return cert_; }

 private:
  void AcceptLoop();
  int listen_fd_ = -1;
  int port_ = 0;
  int backend_port_ = 0;
  void* ssl_ctx_ = nullptr;
  std::string cert_, key_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
};

// A plain HTTP/1.1 server on loopback, one request per connection: `respond` gets the request's
// head (request line and headers) and writes the whole answer through `send` (false once the
// client is gone, so an endless answer can stop). Records every head it received. For redirects,
// credential traps and hostile answers.
class ScriptedHttpServer {
 public:
  using Sender = std::function<bool(absl::string_view bytes)>;
  using Responder = std::function<void(const std::string& request_head, const Sender& send)>;
  explicit ScriptedHttpServer(Responder respond);
  ~ScriptedHttpServer();
  int port() const { return port_; }
  // "http://127.0.0.1:<port>"
  std::string Origin() const;
  // The heads received so far.
  std::vector<std::string> requests() const;

 private:
  void Serve();
  Responder respond_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<std::string> requests_;
  std::thread thread_;
};

// Accepts TCP connections on loopback (through the kernel backlog) and never sends a byte.
class SilentServer {
 public:
  SilentServer();
  ~SilentServer();
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// Creates a repository at `dir` (non-bare) with a known shape; returns the bare clone path
// `bare_dir` suitable for serving. See test_servers.cc for the refs it creates.
absl::Status MakeFixtureRepo(const std::string& work_dir, const std::string& bare_dir);

}  // namespace todoke::source_fetcher::testing

#endif  // TODOKE_TESTS_SERVICES_SOURCE_FETCHER_TEST_SERVERS_H_

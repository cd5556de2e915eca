#include "tests/services/source_fetcher/test_servers.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"

namespace todoke::source_fetcher::testing {
namespace fs = std::filesystem;

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/todoke-sf-XXXXXX");
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  char* made = mkdtemp(buf.data());
  path_ = made != nullptr ? made : "/tmp";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (path_ != "/tmp") fs::remove_all(path_, ec);
}

absl::StatusOr<std::string> Sh(const std::string& command, const std::string& cwd) {
  std::string full = absl::StrCat("cd '", cwd, "' && ( ", command, " ) 2>&1");
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return absl::InternalError("popen failed");
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) out.append(buf, n);
  int rc = pclose(pipe);
  if (rc != 0)
    return absl::InternalError(absl::StrCat("command failed (", rc, "): ", command, "\n", out));
  return out;
}

int PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  int port = ntohs(addr.sin_port);
  close(fd);
  return port;
}

bool WaitForPort(int port) {
  for (int i = 0; i < 500; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr = {};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    int rc = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    close(fd);
    if (rc == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

ChildProcess::~ChildProcess() { Stop(); }

absl::Status ChildProcess::Start(const std::vector<std::string>& argv,
                                 const std::string& log_path) {
  pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    int log = open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      dup2(log, 1);
      dup2(log, 2);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) dup2(null, 0);
    setpgid(0, 0);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  pid_ = pid;
  return absl::OkStatus();
}

void ChildProcess::Stop() {
  if (pid_ <= 0) return;
  // The child leads its own process group (git daemon forks per connection).
  kill(-pid_, SIGTERM);
  for (int i = 0; i < 100; ++i) {
    if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
      kill(-pid_, SIGKILL);
      pid_ = -1;
      return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  kill(-pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

absl::Status GitDaemon::Start(const std::string& base_path, const std::string& log_path) {
  port_ = PickFreePort();
  absl::Status s =
      process_.Start({"/usr/lib/git-core/git-daemon", "--reuseaddr", "--export-all",
                      "--informative-errors", "--listen=127.0.0.1", absl::StrCat("--port=", port_),
                      absl::StrCat("--base-path=", base_path), "--max-connections=0", base_path},
                     log_path);
  if (!s.ok()) return s;
  if (!WaitForPort(port_)) return absl::UnavailableError("git daemon did not start");
  return absl::OkStatus();
}

std::string GitDaemon::Url(const std::string& relative) const {
  return absl::StrCat("git://127.0.0.1:", port_, "/", relative);
}

absl::Status HttpGitServer::Start(const std::string& project_root, const std::string& work_dir,
                                  const std::string& user, const std::string& password,
                                  const std::string& bearer_token) {
  port_ = PickFreePort();
  fs::create_directories(work_dir + "/www");
  {
    std::ofstream users(work_dir + "/users");
    users << user << ":" << password << "\n";
  }
  std::string conf = work_dir + "/lighttpd.conf";
  {
    std::ofstream c(conf);
    c << "server.document-root = \"" << work_dir << "/www\"\n"
      << "server.port = " << port_ << "\n"
      << "server.bind = \"127.0.0.1\"\n"
      << "server.errorlog = \"" << work_dir << "/lighttpd-error.log\"\n"
      << "server.modules = (\"mod_access\", \"mod_alias\", \"mod_auth\", \"mod_authn_file\", "
         "\"mod_setenv\", \"mod_cgi\")\n"
      << "auth.backend = \"plain\"\n"
      << "auth.backend.plain.userfile = \"" << work_dir << "/users\"\n"
      << "setenv.add-environment = (\"GIT_PROJECT_ROOT\" => \"" << project_root
      << "\", \"GIT_HTTP_EXPORT_ALL\" => \"1\")\n"
      << "alias.url = (\"/public\" => \"/usr/lib/git-core/git-http-backend\", "
         "\"/private\" => \"/usr/lib/git-core/git-http-backend\", "
         "\"/bearer\" => \"/usr/lib/git-core/git-http-backend\")\n"
      << "cgi.assign = (\"\" => \"\")\n"
      << "$HTTP[\"url\"] =~ \"^/private/\" {\n"
      << "  auth.require = (\"\" => (\"method\" => \"basic\", \"realm\" => \"git\", \"require\" => "
         "\"valid-user\"))\n"
      << "}\n"
      << "$HTTP[\"url\"] =~ \"^/bearer/\" {\n"
      << "  $REQUEST_HEADER[\"Authorization\"] != \"Bearer " << bearer_token << "\" {\n"
      << "    url.access-deny = (\"\")\n"
      << "  }\n"
      << "}\n";
  }
  absl::Status s =
      process_.Start({"/usr/sbin/lighttpd", "-D", "-f", conf}, work_dir + "/lighttpd.log");
  if (!s.ok()) return s;
  if (!WaitForPort(port_)) return absl::UnavailableError("lighttpd did not start");
  return absl::OkStatus();
}

std::string HttpGitServer::Url(const std::string& area, const std::string& relative) const {
  return absl::StrCat("http://127.0.0.1:", port_, "/", area, "/", relative);
}

absl::Status SshGitServer::Start(const std::string& work_dir) {
  port_ = PickFreePort();
  user_ = getenv("USER") != nullptr ? getenv("USER") : "root";
  if (getuid() == 0) user_ = "root";
  std::error_code ec;
  fs::create_directories("/run/sshd", ec);
  std::string host_key = work_dir + "/host_ed25519";
  client_key_ = work_dir + "/client_ed25519";
  known_hosts_ = work_dir + "/known_hosts";
  auto made = Sh(absl::StrCat("ssh-keygen -q -t ed25519 -N '' -f ", host_key,
                              " && ssh-keygen -q -t ed25519 -N '' -f ", client_key_, " && cp ",
                              client_key_, ".pub ", work_dir, "/authorized_keys && chmod 600 ",
                              work_dir, "/authorized_keys"));
  if (!made.ok()) return made.status();
  {
    std::ifstream pub(host_key + ".pub");
    std::string type, key;
    pub >> type >> key;
    std::ofstream kh(known_hosts_);
    kh << "[127.0.0.1]:" << port_ << " " << type << " " << key << "\n";
  }
  std::string conf = work_dir + "/sshd_config";
  {
    std::ofstream c(conf);
    c << "Port " << port_ << "\nListenAddress 127.0.0.1\nHostKey " << host_key
      << "\nAuthorizedKeysFile " << work_dir << "/authorized_keys\n"
      << "PermitRootLogin prohibit-password\nPasswordAuthentication no\n"
      << "KbdInteractiveAuthentication no\nUsePAM no\nStrictModes no\n"
      << "PidFile " << work_dir << "/sshd.pid\nLogLevel ERROR\n";
  }
  absl::Status s =
      process_.Start({"/usr/sbin/sshd", "-D", "-e", "-f", conf}, work_dir + "/sshd.log");
  if (!s.ok()) return s;
  if (!WaitForPort(port_)) return absl::UnavailableError("sshd did not start");
  return absl::OkStatus();
}

std::string SshGitServer::Url(const std::string& absolute_path) const {
  return absl::StrCat("ssh://", user_, "@127.0.0.1:", port_, absolute_path);
}

TlsProxy::~TlsProxy() {
  stop_ = true;
  if (listen_fd_ >= 0) shutdown(listen_fd_, SHUT_RDWR);
  if (thread_.joinable()) thread_.join();
  if (listen_fd_ >= 0) close(listen_fd_);
  // Connection threads are detached and end with their peers; the context is leaked on purpose.
}

absl::Status TlsProxy::Start(int backend_port, const std::string& work_dir) {
  backend_port_ = backend_port;
  cert_ = work_dir + "/tls.crt";
  key_ = work_dir + "/tls.key";
  auto made =
      Sh(absl::StrCat("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 "
                      "-addext subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost -keyout ",
                      key_, " -out ", cert_, " 2>&1"));
  if (!made.ok()) return made.status();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr || SSL_CTX_use_certificate_file(ctx, cert_.c_str(), SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_use_PrivateKey_file(ctx, key_.c_str(), SSL_FILETYPE_PEM) != 1) {
    return absl::InternalError("cannot set up the TLS context");
  }
  ssl_ctx_ = ctx;
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 64);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { AcceptLoop(); });
  return absl::OkStatus();
}

void TlsProxy::AcceptLoop() {
  while (!stop_) {
    int client = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      if (stop_) return;
      continue;
    }
    SSL_CTX* ctx = static_cast<SSL_CTX*>(ssl_ctx_);
    int backend_port = backend_port_;
    std::thread([client, ctx, backend_port] {
      SSL* ssl = SSL_new(ctx);
      SSL_set_fd(ssl, client);
      int backend = -1;
      if (SSL_accept(ssl) == 1) {
        backend = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr = {};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        addr.sin_port = htons(backend_port);
        if (connect(backend, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
          char buf[16384];
          bool open = true;
          while (open) {
            if (SSL_pending(ssl) == 0) {
              pollfd fds[2] = {{client, POLLIN, 0}, {backend, POLLIN, 0}};
              if (poll(fds, 2, 30000) <= 0) break;
              if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
                ssize_t n = read(backend, buf, sizeof(buf));
                if (n <= 0 || SSL_write(ssl, buf, static_cast<int>(n)) <= 0) break;
              }
              if (!(fds[0].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            }
            int n = SSL_read(ssl, buf, sizeof(buf));
            if (n <= 0) {
              open = false;
            } else if (write(backend, buf, n) != n) {
              open = false;
            }
          }
        }
      }
      SSL_shutdown(ssl);
      SSL_free(ssl);
      if (backend >= 0) close(backend);
      close(client);
    }).detach();
  }
}

ScriptedHttpServer::ScriptedHttpServer(Responder respond) : respond_(std::move(respond)) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd_, 16);
  socklen_t len = sizeof(addr);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

ScriptedHttpServer::~ScriptedHttpServer() {
  stop_ = true;
  shutdown(fd_, SHUT_RDWR);
  thread_.join();
  close(fd_);
}

std::string ScriptedHttpServer::Origin() const { return absl::StrCat("http://127.0.0.1:", port_); }

std::vector<std::string> ScriptedHttpServer::requests() const {
  std::lock_guard<std::mutex> lock(mu_);
  return requests_;
}

void ScriptedHttpServer::Serve() {
  while (!stop_) {
    pollfd listening = {fd_, POLLIN, 0};
    if (poll(&listening, 1, 100) <= 0) continue;
    int client = accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // The head, read for at most 5 s.
    std::string head;
    char buffer[4096];
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (head.find("\r\n\r\n") == std::string::npos && head.size() < (1 << 20) &&
           std::chrono::steady_clock::now() < give_up) {
      pollfd readable = {client, POLLIN, 0};
      if (poll(&readable, 1, 100) <= 0) continue;
      ssize_t n = recv(client, buffer, sizeof(buffer), 0);
      if (n <= 0) break;
      head.append(buffer, static_cast<size_t>(n));
    }
    head = head.substr(0, head.find("\r\n\r\n"));
    {
      std::lock_guard<std::mutex> lock(mu_);
      requests_.push_back(head);
    }
    respond_(head, [&](absl::string_view bytes) {
      size_t sent = 0;
      while (sent < bytes.size() && !stop_) {
        pollfd writable = {client, POLLOUT, 0};
        if (poll(&writable, 1, 100) <= 0) continue;
        ssize_t n = send(client, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
        if (n <= 0) return false;
        sent += static_cast<size_t>(n);
      }
      return !stop_.load();
    });
    shutdown(client, SHUT_WR);
    close(client);
  }
}

SilentServer::SilentServer() {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = {};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(fd_, 64);  // the kernel completes handshakes; nobody ever accepts or answers
  socklen_t len = sizeof(addr);
  getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
}

SilentServer::~SilentServer() {
  if (fd_ >= 0) close(fd_);
}

// The fixture repository:
//   main (HEAD): 3 commits; files README.md, app/config.yaml, app/deploy/a.yaml, app/deploy/b.yaml,
//                app/link-ok -> deploy/a.yaml, run.sh (executable)
//   branch feature: one commit on top of main's first commit
//   branch evil: adds escape -> ../../etc/passwd
//   tags: v1.0.0 (lightweight, commit 1), v1.2.0 (annotated, commit 2), v1.4.3, v1.5.0-rc.1,
//         v2.0.0 (annotated, commit 3), release-1.4.0 (commit 1)
absl::Status MakeFixtureRepo(const std::string& work_dir, const std::string& bare_dir) {
  std::string script = absl::StrCat(
      "set -e; export GIT_AUTHOR_NAME='Ada Author' GIT_AUTHOR_EMAIL=ada@example.com "
      "GIT_COMMITTER_NAME=Committer GIT_COMMITTER_EMAIL=c@example.com "
      "GIT_AUTHOR_DATE='2024-01-02T03:04:05Z' GIT_COMMITTER_DATE='2024-01-02T03:04:05Z' "
      "GIT_CONFIG_NOSYSTEM=1 HOME=",
      work_dir, ";", "git init -q -b main src && cd src;",
      "echo hello > README.md; mkdir -p app/deploy; echo 'a: 1' > app/config.yaml;",
      "echo 'kind: A' > app/deploy/a.yaml; git add -A; git commit -q -m 'first commit';",
      "git tag v1.0.0; git tag release-1.4.0;",
      "git checkout -q -b feature; echo f > feature.txt; git add -A; git commit -q -m 'feature "
      "work';",
      "git checkout -q main;",
      "echo 'kind: B' > app/deploy/b.yaml; printf '#!/bin/sh\\necho hi\\n' > run.sh; chmod +x "
      "run.sh;",
      "ln -s deploy/a.yaml app/link-ok; git add -A; git commit -q -m 'second commit';",
      "git tag -a v1.2.0 -m 'release 1.2.0'; git tag v1.4.3; git tag v1.5.0-rc.1;",
      "echo more >> README.md; git commit -q -am 'third commit\n\nwith a body';",
      "git tag -a v2.0.0 -m 'release 2.0.0';",
      "git checkout -q -b evil; ln -s ../../etc/passwd escape; git add -A; git commit -q -m evil;",
      "git checkout -q main; cd ..;", "git clone -q --bare src '", bare_dir, "'");
  auto out = Sh(script, work_dir);
  return out.ok() ? absl::OkStatus() : out.status();
}

}  // namespace todoke::source_fetcher::testing

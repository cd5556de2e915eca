#include "services/orchestrator/grpc/webhook_server.h"

#include <arpa/inet.h>
#include <httplib.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace todoke::orchestrator {
namespace {

// Request line and headers a connection may send on top of the body.
constexpr size_t kMaxHeaderBytes = 64 << 10;

// Set by ConnectionQueue around the task it runs: when the connection was accepted, and whether
// it is to be refused at once (no worker free and the queue full, or shutting down).
thread_local absl::Time t_accepted = absl::InfinitePast();
thread_local bool t_shed = false;

// Waits until `fd` is ready for `events`, at most `timeout` and never past `deadline`.
bool WaitReady(int fd, short events, absl::Duration timeout, absl::Time deadline) {
  while (true) {
    absl::Duration left = std::min(timeout, deadline - absl::Now());
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int rc = ::poll(&p, 1, static_cast<int>(std::max<int64_t>(1, absl::ToInt64Milliseconds(left))));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) return false;
  }
}

// A connection's socket for httplib with one deadline over everything and a cap on the bytes
// read: a slow or endless sender fails the read, httplib then drops the request.
class BoundedStream : public httplib::Stream {
 public:
  BoundedStream(int fd, absl::Time deadline, absl::Duration read_timeout,
                absl::Duration write_timeout, size_t max_read)
      : fd_(fd),
        deadline_(deadline),
        read_timeout_(read_timeout),
        write_timeout_(write_timeout),
        max_read_(max_read) {}

  bool is_readable() const override {
    return begin_ < end_ || WaitReady(fd_, POLLIN, read_timeout_, deadline_);
  }
  bool is_writable() const override { return WaitReady(fd_, POLLOUT, write_timeout_, deadline_); }
  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      if (total_read_ >= max_read_) return -1;
      if (!WaitReady(fd_, POLLIN, read_timeout_, deadline_)) return -1;
      size_t want = std::min(sizeof(buffer_), max_read_ - total_read_);
      ssize_t n = ::recv(fd_, buffer_, want, 0);
      if (n <= 0) return n;
      total_read_ += static_cast<size_t>(n);
      begin_ = 0;
      end_ = static_cast<size_t>(n);
    }
    size_t n = std::min(size, end_ - begin_);
    std::copy(buffer_ + begin_, buffer_ + begin_ + n, ptr);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }
  ssize_t write(const char* ptr, size_t size) override {
    if (!is_writable()) return -1;
    return ::send(fd_, ptr, size, MSG_NOSIGNAL | MSG_DONTWAIT);
  }
  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    Address(::getpeername, ip, port);
  }
  void get_local_ip_and_port(std::string& ip, int& port) const override {
    Address(::getsockname, ip, port);
  }
  int socket() const override { return fd_; }

 private:
  void Address(int (*get)(int, sockaddr*, socklen_t*), std::string& ip, int& port) const {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    ip.clear();
    port = 0;
    if (get(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    char text[INET6_ADDRSTRLEN] = {};
    if (addr.ss_family == AF_INET) {
      auto* in = reinterpret_cast<sockaddr_in*>(&addr);
      ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
      port = ntohs(in->sin_port);
    } else if (addr.ss_family == AF_INET6) {
      auto* in6 = reinterpret_cast<sockaddr_in6*>(&addr);
      ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
      port = ntohs(in6->sin6_port);
    }
    ip = text;
  }

  const int fd_;
  const absl::Time deadline_;
  const absl::Duration read_timeout_;
  const absl::Duration write_timeout_;
  const size_t max_read_;
  size_t total_read_ = 0;
  char buffer_[4096];
  size_t begin_ = 0;
  size_t end_ = 0;
};

// httplib's task queue: `workers` fixed threads and at most `max_pending` accepted connections
// waiting. A connection that does not fit is run at once on the accepting thread with t_shed
// set (the server answers 503 without reading and closes it), so the queue never grows.
class ConnectionQueue : public httplib::TaskQueue {
 public:
  ConnectionQueue(int workers, size_t max_pending) : max_pending_(max_pending) {
    for (int i = 0; i < std::max(1, workers); ++i) threads_.emplace_back([this] { Work(); });
  }
  ~ConnectionQueue() override { shutdown(); }

  void enqueue(std::function<void()> fn) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stopping_ && pending_.size() < max_pending_) {
        pending_.push_back({absl::Now(), std::move(fn)});
        cv_.notify_one();
        return;
      }
    }
    t_shed = true;
    fn();
    t_shed = false;
  }

  void shutdown() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_ && threads_.empty()) return;
      stopping_ = true;
    }
    cv_.notify_all();
    for (std::thread& t : threads_) t.join();
    threads_.clear();
  }

 private:
  void Work() {
    while (true) {
      std::pair<absl::Time, std::function<void()>> task;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
        if (pending_.empty()) return;
        task = std::move(pending_.front());
        pending_.pop_front();
        t_shed = stopping_;
      }
      t_accepted = task.first;
      task.second();
      t_shed = false;
    }
  }

  const size_t max_pending_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<absl::Time, std::function<void()>>> pending_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace

// httplib's server with each connection served through a BoundedStream, once.
class WebhookServer::Http : public httplib::Server {
 public:
  explicit Http(WebhookServerOptions options) : options_(options) {
    new_task_queue = [this] {
      return new ConnectionQueue(
          options_.workers, static_cast<size_t>(std::max(0, options_.max_pending_connections)));
    };
  }

 private:
  bool process_and_close_socket(int sock) override {
    const absl::Time deadline = (t_accepted == absl::InfinitePast() ? absl::Now() : t_accepted) +
                                absl::Seconds(options_.request_timeout_seconds);
    if (t_shed || absl::Now() >= deadline) {
      // No worker for it (or it waited past its deadline): refused without reading, and without
      // waiting on it, since this may be the accepting thread.
      static constexpr char kBusy[] =
          "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 30\r\n"
          "Retry-After: 5\r\nConnection: close\r\n\r\nwebhook receiver is too busy\r\n";
      (void)::send(sock, kBusy, sizeof(kBusy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
      ::close(sock);
      return false;
    }
    BoundedStream stream(sock, deadline, absl::Seconds(options_.read_timeout_seconds),
                         absl::Seconds(options_.write_timeout_seconds),
                         options_.max_body_bytes + kMaxHeaderBytes);
    bool closed = false;
    const bool ok = process_request(stream, /*close_connection=*/true, closed, nullptr);
    // Let the answer reach a sender still sending (a refused body): stop writing, then discard
    // what arrives for a moment before closing, so that the close does not reset the connection.
    ::shutdown(sock, SHUT_WR);
    const absl::Time drain_until = std::min(deadline, absl::Now() + absl::Milliseconds(500));
    char discard[4096];
    size_t drained = 0;
    while (drained < options_.max_body_bytes + kMaxHeaderBytes &&
           WaitReady(sock, POLLIN, absl::Milliseconds(100), drain_until)) {
      ssize_t n = ::recv(sock, discard, sizeof(discard), MSG_DONTWAIT);
      if (n <= 0) break;
      drained += static_cast<size_t>(n);
    }
    ::close(sock);
    return ok;
  }

  const WebhookServerOptions options_;
};

absl::StatusOr<std::unique_ptr<WebhookServer>> WebhookServer::Start(const std::string& listen,
                                                                    WebhookHandler* handler,
                                                                    WebhookServerOptions options) {
  size_t colon = listen.rfind(':');
  int port = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--webhook-listen: want host:port, got \"", listen, "\""));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::unique_ptr<WebhookServer> server(new WebhookServer());
  server->server_ = std::make_unique<Http>(options);
  Http& http = *server->server_;
  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.read_timeout_seconds, 0);
  http.set_write_timeout(options.write_timeout_seconds, 0);
  // Refuse a body by its declared length before reading any of it; a POST must declare one.
  const size_t max_body = options.max_body_bytes;
  http.set_pre_routing_handler([max_body](const httplib::Request& request,
                                          httplib::Response& response) {
    if (request.method != "POST") return httplib::Server::HandlerResponse::Unhandled;
    uint64_t length = 0;
    const bool declared = request.has_header("Content-Length") &&
                          absl::SimpleAtoi(request.get_header_value("Content-Length"), &length) &&
                          !request.has_header("Transfer-Encoding");
    if (!declared) {
      response.status = 411;
      response.set_content("a webhook delivery must have a Content-Length\n", "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (length > max_body) {
      response.status = 413;
      response.set_content(absl::StrCat("body larger than ", max_body, " bytes\n"), "text/plain");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });
  auto handle = [handler](const httplib::Request& request, httplib::Response& response) {
    std::map<std::string, std::string> headers;
    for (const auto& [name, value] : request.headers) {
      headers[absl::AsciiStrToLower(name)] = value;
    }
    WebhookResult result = handler->Handle(headers, request.body);
    response.status = result.http_status;
    response.set_content(result.message + "\n", "text/plain");
  };
  http.Post("/webhook", handle);
  http.Post(R"(/webhook/.*)", handle);
  int bound_port =
      port == 0 ? http.bind_to_any_port(host) : (http.bind_to_port(host, port) ? port : -1);
  if (bound_port <= 0) {
    return absl::UnavailableError(absl::StrCat("webhook receiver: cannot listen on ", listen));
  }
  server->bound_ =
      absl::StrCat(host.find(':') != std::string::npos ? "[" + host + "]" : host, ":", bound_port);
  server->thread_ = std::thread([&http] { http.listen_after_bind(); });
  return server;
}

WebhookServer::~WebhookServer() {
  if (server_) server_->stop();
  if (thread_.joinable()) thread_.join();
}

}  // namespace todoke::orchestrator

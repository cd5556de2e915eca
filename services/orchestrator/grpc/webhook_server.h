// The webhook receiver's HTTP server (cpp-httplib): POST /webhook (any path under /webhook is
// accepted, e.g. /webhook/github) hands the raw body and headers to a WebhookHandler. The answer
// is sent as soon as the refreshes are queued (202).
//
// Hostile senders are bounded (see WebhookServerOptions):
//   - a body declared larger than max_body_bytes is refused (413) before it is read; a POST
//     without Content-Length (chunked, or read to EOF) is refused (411); a connection never
//     reads more than max_body_bytes plus 64 KiB of request line and headers;
//   - every connection ends within request_timeout_seconds of being accepted (waiting for a
//     worker, headers, body and answer together), however slowly it dribbles: a slow client
//     holds one worker for at most that long;
//   - at most `workers` connections are served at once, each on a fixed thread, and at most
//     max_pending_connections wait for one; a connection beyond that is answered 503 at once
//     and closed (the sender retries; the periodic poll catches the push anyway);
//   - one request per connection (no keep-alive).
#ifndef TODOKE_SERVICES_ORCHESTRATOR_GRPC_WEBHOOK_SERVER_H_
#define TODOKE_SERVICES_ORCHESTRATOR_GRPC_WEBHOOK_SERVER_H_

#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"
#include "services/orchestrator/core/webhook.h"

namespace httplib {
class Server;
}

namespace todoke::orchestrator {

struct WebhookServerOptions {
  size_t max_body_bytes = 1 << 20;
  // One read or write may wait this long.
  int read_timeout_seconds = 5;
  int write_timeout_seconds = 5;
  // A whole connection, from accept to close.
  int request_timeout_seconds = 10;
  // Threads serving connections, and accepted connections allowed to wait for one.
  int workers = 8;
  int max_pending_connections = 64;
};

class WebhookServer {
 public:
  // Binds `listen` ("host:port", port 0 picks one). UNAVAILABLE naming the address when it cannot.
  static absl::StatusOr<std::unique_ptr<WebhookServer>> Start(const std::string& listen,
                                                              WebhookHandler* handler,
                                                              WebhookServerOptions options = {});
  // Stops accepting; connections still waiting for a worker are answered 503, those being
  // served finish (each within request_timeout_seconds). Returns when every worker has ended.
  ~WebhookServer();

  // "host:port" actually bound.
  const std::string& BoundAddress() const { return bound_; }

 private:
  WebhookServer() = default;
  class Http;
  std::unique_ptr<Http> server_;
  std::thread thread_;
  std::string bound_;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_GRPC_WEBHOOK_SERVER_H_

// The webhook receiver's HTTP server (cpp-httplib): POST /webhook (any path under /webhook is
// accepted, e.g. /webhook/github) hands the raw body and headers to a WebhookHandler. The body is
// capped before it is read (413), reads and writes time out, and the answer is sent as soon as
// the refreshes are queued (202).
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
  int read_timeout_seconds = 5;
  int write_timeout_seconds = 5;
};

class WebhookServer {
 public:
  // Binds `listen` ("host:port", port 0 picks one). UNAVAILABLE naming the address when it cannot.
  static absl::StatusOr<std::unique_ptr<WebhookServer>> Start(const std::string& listen,
                                                              WebhookHandler* handler,
                                                              WebhookServerOptions options = {});
  ~WebhookServer();

  // "host:port" actually bound.
  const std::string& BoundAddress() const { return bound_; }

 private:
  WebhookServer() = default;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  std::string bound_;
};

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_GRPC_WEBHOOK_SERVER_H_

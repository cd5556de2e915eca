#include "services/orchestrator/grpc/webhook_server.h"

#include <httplib.h>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace todoke::orchestrator {

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
  server->server_ = std::make_unique<httplib::Server>();
  httplib::Server& http = *server->server_;
  http.set_payload_max_length(options.max_body_bytes);
  http.set_read_timeout(options.read_timeout_seconds, 0);
  http.set_write_timeout(options.write_timeout_seconds, 0);
  http.set_keep_alive_max_count(10);
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

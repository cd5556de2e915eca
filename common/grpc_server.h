// Runs a gRPC server the way every todoke service does: health (grpc.health.v1), reflection,
// explicit message size limits, port 0 support and graceful shutdown.
#ifndef TODOKE_COMMON_GRPC_SERVER_H_
#define TODOKE_COMMON_GRPC_SERVER_H_

#include <grpcpp/grpcpp.h>
#include <grpcpp/support/server_interceptor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace todoke {

struct ServerOptions {
  // "host:port"; port 0 picks a free port (see BoundAddress()).
  std::string listen = "127.0.0.1:0";
  int max_message_bytes = 64 << 20;
  // How long in-flight calls get to finish on shutdown before they are cancelled.
  absl::Duration shutdown_grace = absl::Seconds(10);
  // Connections older than this take no new calls, so clients spread onto new replicas (0: off).
  absl::Duration max_connection_age = absl::Minutes(5);
  // Interceptors for every call (service_main adds the metrics interceptor); may be empty.
  std::function<
      std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>>()>
      interceptor_factories;
};

class GrpcServer {
 public:
  // Builds and starts a server with `services` (not owned; they must outlive the server).
  // UNAVAILABLE naming the address if it cannot bind.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(
      const ServerOptions& options, const std::vector<grpc::Service*>& services);

  ~GrpcServer();

  // "host:port" with the real port (after port 0 was resolved).
  const std::string& BoundAddress() const { return bound_address_; }

  // Health of the whole server (service "") and of each registered service name.
  void SetServing(bool serving);

  // Marks the server NOT_SERVING, then stops accepting calls and waits up to the grace period
  // for in-flight calls. Idempotent.
  void Shutdown();

  // Blocks until Shutdown() completes.
  void Wait();

  grpc::Server* server() { return server_.get(); }

 private:
  GrpcServer() = default;
  ServerOptions options_;
  std::unique_ptr<grpc::Server> server_;
  std::string bound_address_;
  bool shut_down_ = false;
};

// Blocks SIGTERM and SIGINT in the calling thread (and so in every thread it starts afterwards).
// Call first thing in main(), before any thread exists.
void BlockShutdownSignals();

// Waits for SIGTERM or SIGINT (blocked by BlockShutdownSignals) and returns its number.
int WaitForShutdownSignal();

// The deadline a service works to for the call in `context`: the earlier of the client's
// deadline and now + `budget` (the service's own bound for this kind of call). A client that set
// no deadline (or one more than a year away) leaves only the budget; with neither the result is
// absl::InfiniteFuture(). Every adapter derives the deadline it hands its core from this.
absl::Time DeadlineOf(const grpc::ServerContext& context,
                      absl::Duration budget = absl::InfiniteDuration());

}  // namespace todoke

#endif  // TODOKE_COMMON_GRPC_SERVER_H_

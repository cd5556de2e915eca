// Channels to todoke stages and deadlines for calls on them.
#ifndef TODOKE_COMMON_GRPC_CLIENT_H_
#define TODOKE_COMMON_GRPC_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace todoke {

struct ChannelOptions {
  int max_message_bytes = 64 << 20;
  // Transparent retries of UNAVAILABLE (every stage is idempotent, so this is safe); 1: none.
  int max_attempts = 3;
  // Ceiling of the wait between reconnection attempts to an address that failed.
  int max_reconnect_backoff_ms = 5000;
};

// A channel to `target`, balanced with round_robin over every address it resolves to:
//   "host:port"                       one address
//   "127.0.0.1:7001,127.0.0.1:7002"   a static list of IP addresses
//   "dns:///stage.ns.svc:7000"        every A/AAAA record of a name (replicas behind a Service)
// INVALID_ARGUMENT for an empty target or a list mixing names and IP addresses.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(absl::string_view target,
                                                           const ChannelOptions& options = {});

// A client context whose deadline is now + `timeout`. Every RPC todoke makes uses one.
std::unique_ptr<grpc::ClientContext> ContextWithTimeout(absl::Duration timeout);

// A client context whose deadline is the earlier of `parent`'s deadline and now + `timeout`,
// so a call made while serving another keeps within the caller's budget.
std::unique_ptr<grpc::ClientContext> ContextWithinDeadline(const grpc::ServerContext& parent,
                                                           absl::Duration timeout);

}  // namespace todoke

#endif  // TODOKE_COMMON_GRPC_CLIENT_H_

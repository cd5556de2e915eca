#include "common/grpc_client.h"

#include <arpa/inet.h>

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/grpc_server.h"

namespace todoke {
namespace {

// True for "1.2.3.4:port".
bool IsIpv4HostPort(absl::string_view address) {
  const size_t colon = address.rfind(':');
  if (colon == absl::string_view::npos) return false;
  in_addr parsed;
  return inet_pton(AF_INET, std::string(address.substr(0, colon)).c_str(), &parsed) == 1;
}

// True for "[::1]:port".
bool IsIpv6HostPort(absl::string_view address) {
  if (address.empty() || address[0] != '[') return false;
  const size_t close = address.find(']');
  if (close == absl::string_view::npos) return false;
  in6_addr parsed;
  return inet_pton(AF_INET6, std::string(address.substr(1, close - 1)).c_str(), &parsed) == 1;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(absl::string_view target,
                                                           const ChannelOptions& options) {
  std::string resolved(target);
  if (target.empty()) return absl::InvalidArgumentError("empty gRPC target");
  if (absl::StrContains(target, ',')) {
    std::vector<std::string> addresses = absl::StrSplit(target, ',', absl::SkipWhitespace());
    bool all_v4 = true, all_v6 = true;
    for (const std::string& a : addresses) {
      all_v4 = all_v4 && IsIpv4HostPort(a);
      all_v6 = all_v6 && IsIpv6HostPort(a);
    }
    if (all_v4) {
      resolved = absl::StrCat("ipv4:", absl::StrJoin(addresses, ","));
    } else if (all_v6) {
      resolved = absl::StrCat("ipv6:", absl::StrJoin(addresses, ","));
    } else {
      return absl::InvalidArgumentError(absl::StrCat(
          "target \"", target,
          "\": a list must hold IP addresses of one family; use dns:///name:port for names"));
    }
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(options.max_message_bytes);
  args.SetMaxSendMessageSize(options.max_message_bytes);
  // A stage that restarts comes back within seconds, often at a new address (a new pod or
  // container). gRPC's defaults suit the open internet: reconnect backoff grows to 120 s and DNS
  // is re-resolved at most every 30 s, so a caller kept failing for up to 2 minutes after the
  // stage was back (seen with docker-compose). Inside one installation a 5 s ceiling costs
  // little and a re-resolution a second is cheap.
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, options.max_reconnect_backoff_ms);
  args.SetInt(GRPC_ARG_DNS_MIN_TIME_BETWEEN_RESOLUTIONS_MS, 1000);
  // gRPC requires maxAttempts > 1 in a retry policy: with 1 there is no policy at all.
  if (options.max_attempts > 1) {
    args.SetServiceConfigJSON(absl::StrCat(
        R"({"loadBalancingConfig":[{"round_robin":{}}],)",
        R"("methodConfig":[{"name":[{}],"retryPolicy":{"maxAttempts":)", options.max_attempts,
        R"(,"initialBackoff":"0.1s","maxBackoff":"2s","backoffMultiplier":2,)",
        R"("retryableStatusCodes":["UNAVAILABLE"]}}]})"));
  } else {
    args.SetServiceConfigJSON(R"({"loadBalancingConfig":[{"round_robin":{}}]})");
  }
  return grpc::CreateCustomChannel(resolved, grpc::InsecureChannelCredentials(), args);
}

std::unique_ptr<grpc::ClientContext> ContextWithTimeout(absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  return context;
}

std::unique_ptr<grpc::ClientContext> ContextWithinDeadline(const grpc::ServerContext& parent,
                                                           absl::Duration timeout) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(absl::ToChronoTime(DeadlineOf(parent, timeout)));
  return context;
}

}  // namespace todoke

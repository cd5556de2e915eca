// What every service binary's main() shares: the common server flags (--listen, --log-level,
// --log-format, --max-message-bytes, --shutdown-grace), --help/--version, logging set-up and
// serving until SIGTERM. Service-specific flags stay in each service's main.cc.
#ifndef TODOKE_COMMON_SERVICE_MAIN_H_
#define TODOKE_COMMON_SERVICE_MAIN_H_

#include <grpcpp/grpcpp.h>

#include <string_view>
#include <vector>

#include "absl/strings/string_view.h"
#include "common/version.h"

namespace todoke {

// Blocks shutdown signals, parses flags (exits on --help, --version or a bad flag) and sets up
// logging with `component` (e.g. "differ"). Returns the positional arguments.
std::vector<char*> InitService(int argc, char** argv, absl::string_view component,
                               absl::string_view usage);

// The value of --max-message-bytes (after InitService parsed the flags): the largest gRPC
// message the server started by ServeUntilSignal accepts or sends.
int MaxMessageBytesFlag();

// The smallest --max-message-bytes a service accepts (InitService exits with 2 below it): room for
// a request's paths and ids, and for the pieces streams cut large payloads into.
inline constexpr int kMinMaxMessageBytes = 64 << 10;

// Serves `services` on --listen, prints "<component> listening on <address>" on stdout once
// bound, and returns after SIGTERM/SIGINT and a graceful shutdown. Returns the process exit code.
int ServeUntilSignal(absl::string_view component, const std::vector<grpc::Service*>& services);

}  // namespace todoke

#endif  // TODOKE_COMMON_SERVICE_MAIN_H_

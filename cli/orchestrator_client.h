// The CLI's connection to the orchestrator: one channel, a deadline and the bearer token on
// every call, and errors turned into what the user should do next.
#ifndef TODOKE_CLI_ORCHESTRATOR_CLIENT_H_
#define TODOKE_CLI_ORCHESTRATOR_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "cli/cli.h"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

namespace todoke::cli {

class OrchestratorClient {
 public:
  // A channel to `options.server` (connected lazily, on the first call). INVALID_ARGUMENT for a
  // target MakeChannel refuses or a token that cannot travel in gRPC metadata.
  static absl::StatusOr<std::unique_ptr<OrchestratorClient>> Connect(const GlobalOptions& options);

  // A context for one call: deadline now + `timeout` (--timeout when not given) and, with a
  // token, `authorization: Bearer <token>`.
  std::unique_ptr<grpc::ClientContext> NewCall() const { return NewCall(options_.timeout); }
  std::unique_ptr<grpc::ClientContext> NewCall(absl::Duration timeout) const;

  orchestrator::v1::Orchestrator::StubInterface& stub() { return *stub_; }
  const GlobalOptions& options() const { return options_; }

  // One line saying what went wrong with a call and what to do next: start the orchestrator or
  // set --server (UNAVAILABLE, or no connection by the deadline), pass --token (UNAUTHENTICATED,
  // PERMISSION_DENIED), `todoke app list` (NOT_FOUND for application `app`), ...
  std::string Explain(const grpc::Status& status, absl::string_view app = "") const;

 private:
  OrchestratorClient(GlobalOptions options, std::shared_ptr<grpc::Channel> channel);

  GlobalOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<orchestrator::v1::Orchestrator::Stub> stub_;
};

// The message for a bad application name, or "" for a valid one: a DNS-1123 label (lowercase
// letters, digits and '-', starting and ending with a letter or digit) of at most 63 characters.
std::string InvalidAppNameReason(absl::string_view name);

}  // namespace todoke::cli

#endif  // TODOKE_CLI_ORCHESTRATOR_CLIENT_H_

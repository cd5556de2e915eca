#include "cli/orchestrator_client.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/grpc_client.h"

namespace todoke::cli {
namespace {

// gRPC metadata values are printable ASCII; anything else would fail every call obscurely.
bool IsMetadataSafe(absl::string_view value) {
  for (char c : value) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<std::unique_ptr<OrchestratorClient>> OrchestratorClient::Connect(
    const GlobalOptions& options) {
  if (!IsMetadataSafe(options.token)) {
    return absl::InvalidArgumentError(
        "the token (--token / TODOKE_TOKEN) holds a line break or a byte that is not printable "
        "ASCII");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(options.server);
  if (!channel.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("--server ", channel.status().message()));
  }
  return std::unique_ptr<OrchestratorClient>(new OrchestratorClient(options, *std::move(channel)));
}

OrchestratorClient::OrchestratorClient(GlobalOptions options,
                                       std::shared_ptr<grpc::Channel> channel)
    : options_(std::move(options)),
      channel_(std::move(channel)),
      stub_(orchestrator::v1::Orchestrator::NewStub(channel_)) {}

std::unique_ptr<grpc::ClientContext> OrchestratorClient::NewCall(absl::Duration timeout) const {
  std::unique_ptr<grpc::ClientContext> context = ContextWithTimeout(timeout);
  if (!options_.token.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
  return context;
}

std::string OrchestratorClient::Explain(const grpc::Status& status, absl::string_view app) const {
  const std::string& server = options_.server;
  const std::string detail = status.error_message();
  const std::string not_reachable = absl::StrCat(
      "orchestrator not reachable at ", server, ": start it (todoke-orchestrator --listen=", server,
      " ...) or set --server / TODOKE_SERVER");
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
      return absl::StrCat(not_reachable, " (", detail, ")");
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      // No connection by the deadline (a blackholed address) is the same story as a refusal.
      if (channel_->GetState(/*try_to_connect=*/false) != GRPC_CHANNEL_READY) {
        return absl::StrCat(not_reachable, " (no connection within ",
                            absl::FormatDuration(options_.timeout), ")");
      }
      return absl::StrCat("the orchestrator at ", server, " did not answer within ",
                          absl::FormatDuration(options_.timeout),
                          ": raise --timeout, or check it with todoke health ", server);
    case grpc::StatusCode::UNAUTHENTICATED:
      if (options_.token.empty()) {
        return absl::StrCat("the orchestrator at ", server,
                            " wants a token: pass --token or set TODOKE_TOKEN (", detail, ")");
      }
      return absl::StrCat("the orchestrator at ", server,
                          " refused the token: check --token / TODOKE_TOKEN (", detail, ")");
    case grpc::StatusCode::PERMISSION_DENIED:
      return absl::StrCat(detail, ": this needs a token with role admin (--token / TODOKE_TOKEN)");
    case grpc::StatusCode::NOT_FOUND:
      if (!app.empty())
        return absl::StrCat("application \"", app, "\" not found (todoke app list)");
      return absl::StrCat("not found: ", detail);
    case grpc::StatusCode::ALREADY_EXISTS:
      if (!app.empty()) {
        return absl::StrCat("application \"", app,
                            "\" already exists: todoke app apply -f FILE updates it");
      }
      return absl::StrCat("already exists: ", detail);
    case grpc::StatusCode::ABORTED:
      return absl::StrCat(detail, ": it changed meanwhile; run the command again");
    case grpc::StatusCode::UNIMPLEMENTED:
      return absl::StrCat("the orchestrator at ", server,
                          " does not implement this call: upgrade it (", detail, ")");
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::FAILED_PRECONDITION:
      return detail;
    default:
      return absl::StrCat(
          absl::StatusCodeToString(static_cast<absl::StatusCode>(status.error_code())), ": ",
          detail);
  }
}

std::string InvalidAppNameReason(absl::string_view name) {
  auto problem = [&](absl::string_view what) {
    const std::string shown =
        name.size() <= 80 ? std::string(name) : absl::StrCat(name.substr(0, 60), "...");
    return absl::StrCat("\"", shown, "\" is not a valid application name: ", what,
                        " (a DNS-1123 label: lowercase letters, digits and '-', starting and "
                        "ending with a letter or digit, at most 63 characters)");
  };
  if (name.empty()) return problem("it is empty");
  if (name.size() > 63) return problem(absl::StrCat("it has ", name.size(), " characters"));
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return problem(absl::StrCat("'", std::string(1, c), "' is not allowed"));
    }
  }
  if (name.front() == '-' || name.back() == '-') return problem("it starts or ends with '-'");
  return "";
}

}  // namespace todoke::cli

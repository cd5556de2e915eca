#include "absl/strings/string_view.h"
#include "cli/cli.h"
#include "cli/flag_args.h"
#include "cli/render_command.h"

#include <cstdlib>
#include <functional>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/grpc_client.h"
#include "common/grpc_status.h"
#include "common/status.h"
#include "absl/strings/numbers.h"
#include "common/service_main.h"
#include "common/yaml.h"
#include "google/protobuf/util/json_util.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

namespace todoke::cli {
namespace {

namespace orch = ::todoke::orchestrator::v1;

constexpr char kUsage[] = R"(todoke: a GitOps engine. Desired state lives in Git; todoke keeps
each environment converging to it.

Usage: todoke [--server=ADDR] [-o table|json|yaml] [--timeout=30s] COMMAND [ARGS]

Commands:
  version                    print the client version
  render [FOLDER]            render a local folder as the renderer would (todoke render --help)
  health [NAME=]ADDR...      check gRPC health of todoke services (exit 1 if any is not serving)
  app list                   list Applications
  app get NAME               show one Application and its status
  app delete NAME            delete an Application (--cascade prunes its objects)
  app sync NAME              reconcile now and apply
  app refresh NAME           reconcile now without applying
  app diff NAME              show what differs between Git and the destination
  app history NAME           show past syncs
  app rollback NAME ID       sync to the revision of history entry ID

Global options:
  --server ADDR    orchestrator address (default $TODOKE_SERVER or 127.0.0.1:7400)
  -o, --output F   table (default), json or yaml
  --timeout D      deadline of each call, e.g. 30s, 2m
)";

struct Context {
  GlobalOptions options;
  std::ostream& out;
  std::ostream& err;
};

using Command = std::function<int(Context&, const std::vector<std::string>&)>;

int Usage(Context& ctx, absl::string_view problem) {
  ctx.err << "todoke: " << problem << "\n\nRun `todoke help` for usage.\n";
  return 2;
}

int Fail(Context& ctx, const absl::Status& status) {
  ctx.err << "todoke: " << absl::StatusCodeToString(status.code()) << ": " << status.message()
          << "\n";
  return 1;
}

absl::StatusOr<std::unique_ptr<orch::Orchestrator::Stub>> Connect(const Context& ctx) {
  ASSIGN_OR_RETURN(std::shared_ptr<grpc::Channel> channel, MakeChannel(ctx.options.server));
  return orch::Orchestrator::NewStub(channel);
}

// Calls `method` on the orchestrator and prints the reply in the chosen format.
template <typename Request, typename Response>
int CallAndPrint(Context& ctx, const Request& request,
                 grpc::Status (orch::Orchestrator::Stub::*method)(grpc::ClientContext*,
                                                                  const Request&, Response*),
                 const std::function<void(const Response&, std::ostream&)>& table) {
  absl::StatusOr<std::unique_ptr<orch::Orchestrator::Stub>> stub = Connect(ctx);
  if (!stub.ok()) return Fail(ctx, stub.status());
  Response response;
  std::unique_ptr<grpc::ClientContext> call = ContextWithTimeout(ctx.options.timeout);
  grpc::Status status = ((**stub).*method)(call.get(), request, &response);
  if (!status.ok()) {
    absl::Status s = FromGrpcStatus(status);
    return Fail(ctx, Annotate(s, ctx.options.server));
  }
  if (ctx.options.output == OutputFormat::kTable && table) {
    table(response, ctx.out);
  } else {
    ctx.out << FormatMessage(response, ctx.options.output == OutputFormat::kTable
                                           ? OutputFormat::kYaml
                                           : ctx.options.output);
  }
  return 0;
}

int AppCommand(Context& ctx, const std::vector<std::string>& args) {
  if (args.empty()) return Usage(ctx, "app needs a subcommand (list, get, sync, ...)");
  const std::string& verb = args[0];
  auto need_name = [&](size_t n) { return args.size() >= n + 1; };
  if (verb == "list") {
    return CallAndPrint<orch::ListApplicationsRequest, orch::ListApplicationsResponse>(
        ctx, {}, &orch::Orchestrator::Stub::ListApplications,
        [](const orch::ListApplicationsResponse& r, std::ostream& out) {
          out << "NAME\tSYNC\tHEALTH\tREVISION\n";
          for (const auto& app : r.applications()) {
            out << app.name() << "\t" << types::v1::SyncStatus_Name(app.status().sync()) << "\t"
                << types::v1::HealthStatus_Name(app.status().health()) << "\t"
                << app.status().revision() << "\n";
          }
        });
  }
  if (!need_name(1)) return Usage(ctx, absl::StrCat("app ", verb, " needs an application name"));
  if (verb == "get") {
    orch::GetApplicationRequest request;
    request.set_name(args[1]);
    return CallAndPrint<orch::GetApplicationRequest, orch::Application>(
        ctx, request, &orch::Orchestrator::Stub::GetApplication, nullptr);
  }
  if (verb == "refresh") {
    orch::RefreshRequest request;
    request.set_name(args[1]);
    return CallAndPrint<orch::RefreshRequest, orch::Application>(
        ctx, request, &orch::Orchestrator::Stub::Refresh, nullptr);
  }
  if (verb == "sync") {
    orch::SyncRequest request;
    request.set_name(args[1]);
    return CallAndPrint<orch::SyncRequest, orch::Operation>(
        ctx, request, &orch::Orchestrator::Stub::Sync, nullptr);
  }
  if (verb == "delete") {
    orch::DeleteApplicationRequest request;
    request.set_name(args[1]);
    for (size_t i = 2; i < args.size(); ++i) {
      if (args[i] == "--cascade") request.set_cascade(true);
    }
    return CallAndPrint<orch::DeleteApplicationRequest, orch::DeleteApplicationResponse>(
        ctx, request, &orch::Orchestrator::Stub::DeleteApplication,
        [&](const orch::DeleteApplicationResponse&, std::ostream& out) {
          out << "application " << args[1] << " deleted\n";
        });
  }
  if (verb == "diff") {
    orch::DiffRequest request;
    request.set_name(args[1]);
    return CallAndPrint<orch::DiffRequest, differ::v1::DiffResponse>(
        ctx, request, &orch::Orchestrator::Stub::Diff,
        [](const differ::v1::DiffResponse& r, std::ostream& out) {
          for (const auto& object : r.objects()) {
            if (object.status() == types::v1::SYNC_STATUS_SYNCED) continue;
            out << object.unified_diff();
          }
        });
  }
  if (verb == "history") {
    orch::HistoryRequest request;
    request.set_name(args[1]);
    return CallAndPrint<orch::HistoryRequest, orch::HistoryResponse>(
        ctx, request, &orch::Orchestrator::Stub::History,
        [](const orch::HistoryResponse& r, std::ostream& out) {
          out << "ID\tREVISION\tPHASE\tMESSAGE\n";
          for (const auto& e : r.entries()) {
            out << e.id() << "\t" << e.revision() << "\t"
                << orch::OperationPhase_Name(e.operation().phase()) << "\t"
                << e.operation().message() << "\n";
          }
        });
  }
  if (verb == "rollback") {
    if (!need_name(2)) return Usage(ctx, "app rollback needs NAME and a history ID");
    orch::RollbackRequest request;
    request.set_name(args[1]);
    int64_t id = 0;
    if (!absl::SimpleAtoi(args[2], &id)) return Usage(ctx, "history ID must be a number");
    request.set_history_id(id);
    return CallAndPrint<orch::RollbackRequest, orch::Operation>(
        ctx, request, &orch::Orchestrator::Stub::Rollback, nullptr);
  }
  return Usage(ctx, absl::StrCat("unknown app subcommand \"", verb, "\""));
}

int HealthCommand(Context& ctx, const std::vector<std::string>& args) {
  std::vector<std::string> targets = args;
  if (targets.empty()) targets.push_back(ctx.options.server);
  bool all_serving = true;
  nlohmann::json report = nlohmann::json::array();
  for (const std::string& target : targets) {
    const size_t eq = target.find('=');
    const std::string name = eq == std::string::npos ? target : target.substr(0, eq);
    const std::string address = eq == std::string::npos ? target : target.substr(eq + 1);
    std::string state;
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(address);
    if (!channel.ok()) {
      state = std::string(channel.status().message());
    } else {
      auto stub = grpc::health::v1::Health::NewStub(*channel);
      grpc::health::v1::HealthCheckRequest request;
      grpc::health::v1::HealthCheckResponse response;
      auto call = ContextWithTimeout(ctx.options.timeout);
      grpc::Status status = stub->Check(call.get(), request, &response);
      state = status.ok() ? grpc::health::v1::HealthCheckResponse::ServingStatus_Name(
                                response.status())
                          : absl::StrCat("UNREACHABLE (", status.error_message(), ")");
      if (!status.ok() || response.status() != grpc::health::v1::HealthCheckResponse::SERVING) {
        all_serving = false;
      }
    }
    if (!channel.ok()) all_serving = false;
    report.push_back({{"name", name}, {"address", address}, {"status", state}});
  }
  if (ctx.options.output == OutputFormat::kTable) {
    ctx.out << "SERVICE\tADDRESS\tSTATUS\n";
    for (const auto& row : report) {
      ctx.out << row["name"].get<std::string>() << "\t" << row["address"].get<std::string>()
              << "\t" << row["status"].get<std::string>() << "\n";
    }
  } else if (ctx.options.output == OutputFormat::kJson) {
    ctx.out << report.dump(2) << "\n";
  } else {
    ctx.out << EmitYaml(report);
  }
  return all_serving ? 0 : 1;
}

int VersionCommand(Context& ctx, const std::vector<std::string>&) {
  if (ctx.options.output == OutputFormat::kJson) {
    ctx.out << nlohmann::json{{"client", TodokeVersion()}}.dump() << "\n";
  } else {
    ctx.out << "todoke " << TodokeVersion() << "\n";
  }
  return 0;
}

}  // namespace

absl::StatusOr<GlobalOptions> ParseGlobalOptions(std::vector<std::string>& args) {
  GlobalOptions options;
  if (const char* env = std::getenv("TODOKE_SERVER"); env != nullptr && *env != '\0') {
    options.server = env;
  }
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const FlagArg flag = SplitFlag(args[i]);
    std::string value;
    auto take_value = [&](absl::string_view name) -> absl::Status {
      std::optional<std::string> taken = TakeFlagValue(flag, args, i);
      if (!taken.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = *std::move(taken);
      return absl::OkStatus();
    };
    auto is = [&](absl::string_view name) { return flag.name == name; };
    if (is("--server")) {
      RETURN_IF_ERROR(take_value("--server"));
      options.server = value;
    } else if (is("-o") || is("--output")) {
      RETURN_IF_ERROR(take_value("--output"));
      if (value == "table") {
        options.output = OutputFormat::kTable;
      } else if (value == "json") {
        options.output = OutputFormat::kJson;
      } else if (value == "yaml") {
        options.output = OutputFormat::kYaml;
      } else {
        return absl::InvalidArgumentError(
            absl::StrCat("output format \"", value, "\" is not table, json or yaml"));
      }
    } else if (is("--timeout")) {
      RETURN_IF_ERROR(take_value("--timeout"));
      if (!absl::ParseDuration(value, &options.timeout) || options.timeout <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError(absl::StrCat("--timeout \"", value, "\" is not a duration"));
      }
    } else {
      rest.push_back(args[i]);
    }
  }
  args = std::move(rest);
  return options;
}

std::string FormatMessage(const google::protobuf::Message& message, OutputFormat format) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = false;
  options.add_whitespace = format == OutputFormat::kJson;
  if (!google::protobuf::util::MessageToJsonString(message, &json, options).ok()) {
    return "{}\n";
  }
  if (format == OutputFormat::kJson) return json + (json.ends_with("\n") ? "" : "\n");
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, false);
  return EmitYaml(parsed);
}

int Run(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  Context ctx{GlobalOptions{}, out, err};
  absl::StatusOr<GlobalOptions> options = ParseGlobalOptions(args);
  if (!options.ok()) return Usage(ctx, options.status().message());
  ctx.options = *options;
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    (args.empty() ? err : out) << kUsage;
    return args.empty() ? 2 : 0;
  }
  static const auto* commands = new std::map<std::string, Command>{
      {"version", VersionCommand},
      {"health", HealthCommand},
      {"app", AppCommand},
      {"render",
       [](Context& c, const std::vector<std::string>& rest) {
         return RenderCommand(rest, c.options.output == OutputFormat::kJson, c.out, c.err);
       }},
  };
  auto it = commands->find(args[0]);
  if (it == commands->end()) return Usage(ctx, absl::StrCat("unknown command \"", args[0], "\""));
  std::vector<std::string> rest(args.begin() + 1, args.end());
  return it->second(ctx, rest);
}

}  // namespace todoke::cli

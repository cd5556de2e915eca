#include "common/service_main.h"

#include <grpc/support/log.h>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/flags/usage_config.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/grpc_server.h"
#include "common/log.h"
#include "common/metrics.h"

ABSL_FLAG(std::string, listen, "127.0.0.1:0",
          "host:port to serve gRPC on; port 0 picks a free port (printed on stdout)");
ABSL_FLAG(std::string, log_level, "info", "debug, info, warning or error");
ABSL_FLAG(std::string, log_format, "text", "text or json (one JSON object per line)");
ABSL_FLAG(int, max_message_bytes, 64 << 20, "largest gRPC message accepted or sent");
ABSL_FLAG(std::string, metrics_listen, "",
          "host:port to serve Prometheus metrics on (/metrics); empty: no metrics endpoint");
ABSL_FLAG(absl::Duration, max_connection_age, absl::Minutes(5),
          "connections older than this take no new calls, so clients spread onto new replicas");
ABSL_FLAG(absl::Duration, shutdown_grace, absl::Seconds(10),
          "on SIGTERM, how long in-flight calls get to finish");

namespace todoke {
namespace {

// gRPC's own log lines (gpr_log) go through the logger, so --log-format=json output is all JSON.
void RouteGprLog(gpr_log_func_args* args) {
  LogLevel level = LogLevel::kInfo;
  if (args->severity == GPR_LOG_SEVERITY_DEBUG) level = LogLevel::kDebug;
  if (args->severity == GPR_LOG_SEVERITY_ERROR) level = LogLevel::kError;
  Log(level, args->message != nullptr ? args->message : "",
      {{"source", "grpc"},
       {"file", args->file != nullptr ? args->file : ""},
       {"line", args->line}});
}

}  // namespace

std::vector<char*> InitService(int argc, char** argv, absl::string_view component,
                               absl::string_view usage) {
  // absl::Mutex's deadlock detection is on wherever absl was built without NDEBUG (Debian's
  // libabsl is): every lock of every Mutex, gRPC's own included, then goes through one global
  // graph under a spin lock (3x the cost of a nested lock pair, 120 ns against 41), and a lock
  // order it merely suspects aborts the process. A service wants neither; tests keep it.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  BlockShutdownSignals();
  absl::FlagsUsageConfig config;
  config.version_string = [component] {
    return absl::StrCat("todoke-", component, " ", TodokeVersion(), "\n");
  };
  config.contains_help_flags = [](absl::string_view) { return true; };
  absl::SetFlagsUsageConfig(config);
  absl::SetProgramUsageMessage(usage);
  // Flags are declared with underscores (absl's rule) and documented with dashes
  // (--cache-dir): accept both by normalising the name part of every --flag.
  static std::vector<std::string>* normalised = new std::vector<std::string>();
  static std::vector<char*>* normalised_argv = new std::vector<char*>();
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (i > 0 && arg.size() > 2 && arg.rfind("--", 0) == 0) {
      const size_t end = std::min(arg.find('='), arg.size());
      for (size_t j = 2; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
    }
    normalised->push_back(std::move(arg));
  }
  for (std::string& arg : *normalised) normalised_argv->push_back(arg.data());
  std::vector<char*> positional =
      absl::ParseCommandLine(static_cast<int>(normalised_argv->size()), normalised_argv->data());
  LogOptions log_options;
  log_options.component = std::string(component);
  absl::StatusOr<LogLevel> level = ParseLogLevel(absl::GetFlag(FLAGS_log_level));
  if (!level.ok()) {
    std::cerr << "todoke-" << component << ": --log-level: " << level.status().message() << "\n";
    std::exit(2);
  }
  log_options.min_level = *level;
  const std::string format = absl::GetFlag(FLAGS_log_format);
  if (format != "text" && format != "json") {
    std::cerr << "todoke-" << component << ": --log-format must be text or json, not \"" << format
              << "\"\n";
    std::exit(2);
  }
  log_options.json = format == "json";
  if (absl::GetFlag(FLAGS_max_message_bytes) < kMinMaxMessageBytes) {
    std::cerr << "todoke-" << component << ": --max-message-bytes must be at least "
              << kMinMaxMessageBytes << ", not " << absl::GetFlag(FLAGS_max_message_bytes) << "\n";
    std::exit(2);
  }
  InitLogging(log_options);
  gpr_set_log_function(RouteGprLog);
  return positional;
}

int MaxMessageBytesFlag() { return absl::GetFlag(FLAGS_max_message_bytes); }

int ServeUntilSignal(absl::string_view component, const std::vector<grpc::Service*>& services) {
  ServerOptions options;
  options.listen = absl::GetFlag(FLAGS_listen);
  options.max_message_bytes = absl::GetFlag(FLAGS_max_message_bytes);
  options.shutdown_grace = absl::GetFlag(FLAGS_shutdown_grace);
  options.max_connection_age = absl::GetFlag(FLAGS_max_connection_age);
  options.interceptor_factories = [] {
    std::vector<std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>> factories;
    factories.push_back(MakeMetricsInterceptorFactory());
    return factories;
  };
  absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start(options, services);
  if (!server.ok()) {
    LogError("cannot start server", {{"error", server.status().message()}});
    return 1;
  }
  LogInfo("serving", {{"address", (*server)->BoundAddress()}, {"version", TodokeVersion()}});
  if (const std::string metrics = absl::GetFlag(FLAGS_metrics_listen); !metrics.empty()) {
    absl::StatusOr<std::string> bound = StartMetricsServer(metrics);
    if (!bound.ok()) {
      LogError("cannot serve metrics", {{"error", bound.status().message()}});
      return 1;
    }
    std::printf("todoke-%.*s metrics at http://%s/metrics\n", static_cast<int>(component.size()),
                component.data(), bound->c_str());
  }
  std::printf("todoke-%.*s listening on %s\n", static_cast<int>(component.size()), component.data(),
              (*server)->BoundAddress().c_str());
  std::fflush(stdout);
  const int signal_number = WaitForShutdownSignal();
  LogInfo("shutting down", {{"signal", signal_number}});
  (*server)->Shutdown();
  LogInfo("stopped");
  return 0;
}

}  // namespace todoke

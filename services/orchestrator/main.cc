// todoke-orchestrator: Applications, the reconcile loop over the four stages, history, the
// public API and the webhook receiver.
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <utility>

#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/service_main.h"
#include "services/orchestrator/core/controller.h"
#include "services/orchestrator/core/event_bus.h"
#include "services/orchestrator/core/reconciler.h"
#include "services/orchestrator/core/spec/application_spec.h"
#include "services/orchestrator/core/store/sqlite_application_store.h"
#include "services/orchestrator/core/webhook.h"
#include "services/orchestrator/grpc/orchestrator_service.h"
#include "services/orchestrator/grpc/stage_clients.h"
#include "services/orchestrator/grpc/webhook_server.h"

ABSL_DECLARE_FLAG(std::string, listen);

ABSL_FLAG(std::string, source_fetcher, "127.0.0.1:7100",
          "source-fetcher address: host:port, a list, or dns:///name:port");
ABSL_FLAG(std::string, renderer, "127.0.0.1:7200", "renderer address (same forms)");
ABSL_FLAG(std::string, differ, "127.0.0.1:7300", "differ address (same forms)");
ABSL_FLAG(std::string, applier, "127.0.0.1:7500", "applier address (same forms)");
ABSL_FLAG(std::string, data_dir, "", "where the SQLite store lives (required)");
ABSL_FLAG(int, workers, 8,
          "refresh passes (resolve, render, compare) running at once; a pass that must apply "
          "hands the app to a sync worker");
ABSL_FLAG(int, sync_workers, 64,
          "sync passes (the ones that apply, and wait for it) running at once");
ABSL_FLAG(int, max_per_repo, 0,
          "passes of one source repository running at once in each pool (refresh, sync); 0: the "
          "pool less one, so other repositories always keep a worker");
ABSL_FLAG(int, max_per_destination, 0,
          "passes of one destination (cluster context, Git branch) running at once in each pool; "
          "0: the pool less one, so other destinations always keep a worker");
ABSL_FLAG(int, stage_max_in_flight, 32, "calls in flight to each stage at once");
ABSL_FLAG(absl::Duration, default_interval, absl::Minutes(3),
          "reconcile interval of apps whose spec sets none");
ABSL_FLAG(int, history_limit, 10, "history entries kept per app");
ABSL_FLAG(std::string, webhook_listen, "",
          "host:port of the Git webhook receiver (POST /webhook); empty: none");
ABSL_FLAG(std::string, webhook_secret_file, "",
          "file holding the webhook secret (HMAC key for GitHub and generic, token for GitLab)");
ABSL_FLAG(
    std::string, tokens_file, "",
    "API tokens, one `<token> read|admin` per line; empty: no authentication (loopback only)");
ABSL_FLAG(bool, insecure_listen_any, false, "allow a non-loopback --listen without --tokens-file");
ABSL_FLAG(std::string, stage_token_file, "", "bearer token sent to the stages, from this file");

namespace {

// The secret in the file `path` names (LoadSecretFile), or "" without one; false after printing
// why a file given was refused.
bool ReadSecretFlag(const std::string& path, const char* flag, std::string* secret) {
  secret->clear();
  if (path.empty()) return true;
  absl::StatusOr<std::string> read = todoke::orchestrator::LoadSecretFile(path, flag);
  if (!read.ok()) {
    std::fprintf(stderr, "todoke-orchestrator: %s\n", std::string(read.status().message()).c_str());
    return false;
  }
  *secret = *std::move(read);
  return true;
}

bool IsLoopback(const std::string& listen) {
  return absl::StartsWith(listen, "127.") || absl::StartsWith(listen, "localhost:") ||
         absl::StartsWith(listen, "[::1]:");
}

}  // namespace

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "orchestrator",
                      "todoke-orchestrator: Applications, the reconcile loop over the four stages, "
                      "history and the public API.\n\nUsage: todoke-orchestrator --data-dir=DIR "
                      "[--source-fetcher=ADDR --renderer=ADDR --differ=ADDR --applier=ADDR] "
                      "[--listen=host:port] [flags]");
  using namespace todoke::orchestrator;
  const std::string data_dir = absl::GetFlag(FLAGS_data_dir);
  if (data_dir.empty()) {
    std::fprintf(stderr,
                 "todoke-orchestrator: --data-dir is required (where Applications are "
                 "stored)\n");
    return 2;
  }
  OrchestratorServiceOptions service_options;
  if (!absl::GetFlag(FLAGS_tokens_file).empty()) {
    auto tokens = LoadTokensFile(absl::GetFlag(FLAGS_tokens_file));
    if (!tokens.ok()) {
      std::fprintf(stderr, "todoke-orchestrator: %s\n",
                   std::string(tokens.status().message()).c_str());
      return 2;
    }
    service_options.tokens = *std::move(tokens);
  } else if (!IsLoopback(absl::GetFlag(FLAGS_listen)) &&
             !absl::GetFlag(FLAGS_insecure_listen_any)) {
    std::fprintf(stderr,
                 "todoke-orchestrator: --listen=%s is not a loopback address: give --tokens-file "
                 "(or --insecure-listen-any to serve without authentication)\n",
                 absl::GetFlag(FLAGS_listen).c_str());
    return 2;
  }
  std::string webhook_secret;
  if (!ReadSecretFlag(absl::GetFlag(FLAGS_webhook_secret_file), "--webhook-secret-file",
                      &webhook_secret)) {
    return 2;
  }
  StageClientOptions stage_options;
  stage_options.max_in_flight = absl::GetFlag(FLAGS_stage_max_in_flight);
  if (!ReadSecretFlag(absl::GetFlag(FLAGS_stage_token_file), "--stage-token-file",
                      &stage_options.token)) {
    return 2;
  }
  absl::StatusOr<Stages> stages =
      ConnectStages(absl::GetFlag(FLAGS_source_fetcher), absl::GetFlag(FLAGS_renderer),
                    absl::GetFlag(FLAGS_differ), absl::GetFlag(FLAGS_applier), stage_options);
  if (!stages.ok()) {
    std::fprintf(stderr, "todoke-orchestrator: %s\n",
                 std::string(stages.status().message()).c_str());
    return 2;
  }
  SqliteStoreOptions store_options;
  store_options.history_limit = absl::GetFlag(FLAGS_history_limit);
  absl::StatusOr<std::unique_ptr<SqliteApplicationStore>> opened =
      SqliteApplicationStore::Open(data_dir, store_options);
  if (!opened.ok()) {
    todoke::LogError("cannot open the store", {{"error", opened.status().message()}});
    return 1;
  }
  std::shared_ptr<ApplicationStore> store = std::move(*opened);
  EventBus events;
  ReconcilerOptions reconciler_options;
  reconciler_options.history_limit = absl::GetFlag(FLAGS_history_limit);
  auto reconciler = std::make_shared<Reconciler>(store, *stages, &events, reconciler_options);
  ControllerOptions controller_options;
  controller_options.workers = absl::GetFlag(FLAGS_workers);
  controller_options.sync_workers = absl::GetFlag(FLAGS_sync_workers);
  controller_options.max_per_repo = absl::GetFlag(FLAGS_max_per_repo);
  controller_options.max_per_destination = absl::GetFlag(FLAGS_max_per_destination);
  for (auto [flag, value] : {std::pair{"--workers", controller_options.workers},
                             std::pair{"--sync-workers", controller_options.sync_workers}}) {
    if (value < 1) {
      std::fprintf(stderr, "todoke-orchestrator: %s must be at least 1 (got %d)\n", flag, value);
      return 2;
    }
  }
  controller_options.default_interval = absl::GetFlag(FLAGS_default_interval);
  Controller controller(store, reconciler, *stages, &events, controller_options);
  if (absl::Status started = controller.Start(); !started.ok()) {
    todoke::LogError("cannot start the reconcile loop", {{"error", started.message()}});
    return 1;
  }
  // Gauges computed at each scrape: the queue, the workers, apps by sync status and health (the
  // label values are the fixed status names, never app names).
  todoke::OnMetricsScrape([&controller, store] {
    static prometheus::Gauge& depth = todoke::MetricGauge(
        "todoke_orchestrator_queue_depth", "apps waiting in the work queue (ready or delayed)");
    static prometheus::Gauge& busy = todoke::MetricGauge(
        "todoke_orchestrator_workers_busy", "reconcile passes running now (both pools)");
    depth.Set(static_cast<double>(controller.QueueDepth()));
    busy.Set(static_cast<double>(controller.Busy()));
    absl::StatusOr<std::vector<todoke::orchestrator::v1::Application>> apps =
        ListAllApplications(*store);
    if (!apps.ok()) return;
    std::map<std::string, int> by_sync, by_health;
    for (const auto& name :
         {"Synced", "OutOfSync", "Unknown", "Missing", "Extraneous", "Unspecified"}) {
      by_sync[name] = 0;
    }
    for (const auto& name :
         {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown", "Unspecified"}) {
      by_health[name] = 0;
    }
    for (const auto& app : *apps) {
      by_sync[std::string(SyncStatusName(app.status().sync()))]++;
      by_health[std::string(HealthStatusName(app.status().health()))]++;
    }
    for (const auto& [status, count] : by_sync) {
      todoke::MetricGauge("todoke_orchestrator_apps_by_sync", "Applications by sync status",
                          {{"sync", status}})
          .Set(count);
    }
    for (const auto& [status, count] : by_health) {
      todoke::MetricGauge("todoke_orchestrator_apps_by_health", "Applications by health",
                          {{"health", status}})
          .Set(count);
    }
  });
  WebhookHandler webhook_handler(webhook_secret,
                                 [&controller](const std::string& repo, const std::string& ref) {
                                   return controller.RefreshMatching(repo, ref);
                                 });
  std::unique_ptr<WebhookServer> webhook_server;
  if (!absl::GetFlag(FLAGS_webhook_listen).empty()) {
    if (webhook_secret.empty()) {
      std::fprintf(stderr, "todoke-orchestrator: --webhook-listen needs --webhook-secret-file\n");
      return 2;
    }
    auto server = WebhookServer::Start(absl::GetFlag(FLAGS_webhook_listen), &webhook_handler);
    if (!server.ok()) {
      todoke::LogError("cannot start the webhook receiver", {{"error", server.status().message()}});
      return 1;
    }
    webhook_server = *std::move(server);
    std::printf("todoke-orchestrator webhook receiver at %s\n",
                webhook_server->BoundAddress().c_str());
    std::fflush(stdout);
  }
  OrchestratorService service(store, reconciler, &controller, &events, service_options);
  int code = todoke::ServeUntilSignal("orchestrator", {&service});
  webhook_server.reset();
  controller.Stop();
  return code;
}

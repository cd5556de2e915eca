// todoke-renderer: renders the files of an app path at a commit into Kubernetes objects.
#include <string>

#include "absl/flags/flag.h"
#include "common/grpc_client.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/renderer/grpc/renderer_service.h"

ABSL_FLAG(std::string, source_fetcher, "127.0.0.1:7100",
          "source-fetcher address: host:port, a list, or dns:///name:port");
ABSL_FLAG(std::string, plugins_config, "", "plugin allow-list file (empty: plugins refused)");
ABSL_FLAG(uint64_t, cache_max_entries, 1024, "renders kept in the content-addressed cache");
ABSL_FLAG(uint64_t, cache_max_bytes, uint64_t{1} << 30, "memory the render cache may hold");
ABSL_FLAG(absl::Duration, plugin_timeout, absl::Seconds(90), "default time a plugin may run");
ABSL_FLAG(uint64_t, max_output_bytes, 64 << 20, "stdout a plugin may print");
ABSL_FLAG(std::string, plugin_temp_dir, "/tmp", "where app folders are copied for plugins");
ABSL_FLAG(absl::Duration, render_timeout, absl::Minutes(2),
          "budget of a Render whose caller set no deadline (and the cap otherwise)");
ABSL_FLAG(int64_t, render_max_nodes, todoke::BudgetLimits{}.max_nodes,
          "parsed YAML/JSON nodes one render may hold, over all its files");
ABSL_FLAG(int64_t, render_max_bytes, todoke::BudgetLimits{}.max_bytes,
          "bytes one render may read (files, plus text copied by YAML aliases)");

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "renderer",
                      "todoke-renderer: renders the files of an app path at a commit into "
                      "Kubernetes objects.\n\nUsage: todoke-renderer --source-fetcher=ADDR "
                      "[--listen=host:port] [flags]");
  todoke::renderer::RendererConfig config;
  config.plugins_config = absl::GetFlag(FLAGS_plugins_config);
  config.cache_max_entries = absl::GetFlag(FLAGS_cache_max_entries);
  config.cache_max_bytes = absl::GetFlag(FLAGS_cache_max_bytes);
  config.plugin_timeout = absl::GetFlag(FLAGS_plugin_timeout);
  config.max_output_bytes = absl::GetFlag(FLAGS_max_output_bytes);
  config.plugin_temp_dir = absl::GetFlag(FLAGS_plugin_temp_dir);
  config.render_timeout = absl::GetFlag(FLAGS_render_timeout);
  config.budget.max_nodes = absl::GetFlag(FLAGS_render_max_nodes);
  config.budget.max_bytes = absl::GetFlag(FLAGS_render_max_bytes);
  auto channel = todoke::MakeChannel(absl::GetFlag(FLAGS_source_fetcher));
  if (!channel.ok()) {
    todoke::LogError("bad --source-fetcher", {{"error", channel.status().message()}});
    return 2;
  }
  std::shared_ptr<todoke::source_fetcher::v1::SourceFetcher::StubInterface> fetcher =
      todoke::source_fetcher::v1::SourceFetcher::NewStub(*channel);
  auto service = todoke::renderer::RendererService::Create(config, fetcher);
  if (!service.ok()) {
    todoke::LogError("cannot start", {{"error", service.status().message()}});
    return 1;
  }
  return todoke::ServeUntilSignal("renderer", {service->get()});
}

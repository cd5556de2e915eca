// The Renderer gRPC service: proto <-> core, files from the source-fetcher, cache in front.
#ifndef TODOKE_SERVICES_RENDERER_GRPC_RENDERER_SERVICE_H_
#define TODOKE_SERVICES_RENDERER_GRPC_RENDERER_SERVICE_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/renderer/core/process_runner.h"
#include "services/renderer/core/render.h"
#include "services/renderer/core/render_cache.h"
#include "todoke/renderer/v1/renderer.grpc.pb.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::renderer {

// The renderer's settings. main.cc sets every field named with a --flag from that flag; the
// read_tree_* limits have no flag and stay 0 in the service.
struct RendererConfig {
  // --plugins-config: path of the plugin allow-list (YAML, see core/plugin.h); empty: no
  // plugins, and plugin mode is refused.
  std::string plugins_config;
  // --cache-max-entries: renders kept in the content-addressed cache (0 disables it).
  size_t cache_max_entries = 1024;
  // --cache-max-bytes: approximate memory the cache may hold.
  size_t cache_max_bytes = size_t{1} << 30;
  // --plugin-timeout: default time a plugin may run (a plugin's own `timeout` overrides it).
  absl::Duration plugin_timeout = absl::Seconds(90);
  // --max-output-bytes: stdout a plugin may print.
  size_t max_output_bytes = 64 << 20;
  // --plugin-temp-dir: where app folders are copied for plugins.
  std::string plugin_temp_dir = "/tmp";
  // --render-timeout: the budget of a Render whose caller set no deadline (and the cap when it
  // set a longer one).
  absl::Duration render_timeout = absl::Minutes(2);
  // --render-max-nodes / --render-max-bytes: the memory budget of one render, over all the
  // files it reads (common/budget.h).
  BudgetLimits budget;
  // Limits asked of the source-fetcher per ReadTree (0: the fetcher's own --max-files and
  // --max-total-bytes). Not flags: no --read-tree-max-files or --read-tree-max-bytes exists.
  uint32_t read_tree_max_files = 0;
  uint64_t read_tree_max_bytes = 0;
};

// Converts the proto options to the core's. INVALID_ARGUMENT for an unknown mode.
absl::StatusOr<RenderOptions> RenderOptionsFromProto(
    const todoke::renderer::v1::RenderOptions& proto);

class RendererService final : public todoke::renderer::v1::Renderer::Service {
 public:
  using FetcherStub = todoke::source_fetcher::v1::SourceFetcher::StubInterface;

  // Builds the service from `config`: loads the plugin file (its errors are returned), sets up
  // the cache. `fetcher` is a stub to the source-fetcher (the generated one, or a mock);
  // `process_runner` defaults to fork/exec.
  static absl::StatusOr<std::unique_ptr<RendererService>> Create(
      const RendererConfig& config, std::shared_ptr<FetcherStub> fetcher,
      std::shared_ptr<const ProcessRunner> process_runner = nullptr);

  RendererService(const RendererConfig& config, std::shared_ptr<FetcherStub> fetcher,
                  std::shared_ptr<CachingRenderer> renderer);

  // Renders request->path of request->repo_url at request->commit. Every ReadTree and the build
  // itself are bounded by the incoming deadline (capped by config.render_timeout); the build
  // stops when the caller cancels (CANCELLED) or the deadline passes (DEADLINE_EXCEEDED), and
  // a render past its memory budget is RESOURCE_EXHAUSTED naming the file. Errors:
  // INVALID_ARGUMENT for a missing repo_url/commit, a path outside the repository or bad input; the
  // codes of Renderer::Render otherwise; a fetcher failure other than NOT_FOUND is returned as the
  // fetcher reported it (e.g. UNAVAILABLE).
  grpc::Status Render(grpc::ServerContext* context,
                      const todoke::renderer::v1::RenderRequest* request,
                      todoke::renderer::v1::RenderResponse* response) override;

  RenderCacheStats CacheStats() const { return renderer_->Stats(); }

 private:
  absl::Status DoRender(grpc::ServerContext& context,
                        const todoke::renderer::v1::RenderRequest& request,
                        todoke::renderer::v1::RenderResponse& response);

  const RendererConfig config_;
  std::shared_ptr<FetcherStub> fetcher_;
  std::shared_ptr<CachingRenderer> renderer_;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_GRPC_RENDERER_SERVICE_H_

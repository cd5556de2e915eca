#include "services/renderer/grpc/renderer_service.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "common/metrics.h"
#include "common/status.h"
#include "services/renderer/core/plugin.h"
#include "services/renderer/grpc/fetcher_file_source.h"

namespace todoke::renderer {

namespace v1 = todoke::renderer::v1;

absl::StatusOr<RenderOptions> RenderOptionsFromProto(const v1::RenderOptions& proto) {
  RenderOptions options;
  switch (proto.mode()) {
    case v1::RENDER_MODE_AUTO:
      options.mode = RenderMode::kAuto;
      break;
    case v1::RENDER_MODE_DIRECTORY:
      options.mode = RenderMode::kDirectory;
      break;
    case v1::RENDER_MODE_KUSTOMIZE:
      options.mode = RenderMode::kKustomize;
      break;
    case v1::RENDER_MODE_PLUGIN:
      options.mode = RenderMode::kPlugin;
      break;
    default:
      return absl::InvalidArgumentError(absl::StrCat("unknown render mode ", proto.mode()));
  }
  options.directory.recurse = proto.directory().recurse();
  options.directory.include = proto.directory().include();
  options.directory.exclude = proto.directory().exclude();
  options.plugin.name = proto.plugin().name();
  options.plugin.args.assign(proto.plugin().args().begin(), proto.plugin().args().end());
  for (const auto& [name, value] : proto.plugin().env()) options.plugin.env[name] = value;
  for (const auto& [name, value] : proto.substitutions()) options.substitutions[name] = value;
  if (options.mode == RenderMode::kPlugin && options.plugin.name.empty()) {
    return absl::InvalidArgumentError("plugin mode needs options.plugin.name");
  }
  return options;
}

absl::StatusOr<std::unique_ptr<RendererService>> RendererService::Create(
    const RendererConfig& config, std::shared_ptr<FetcherStub> fetcher,
    std::shared_ptr<const ProcessRunner> process_runner) {
  if (fetcher == nullptr) return absl::InvalidArgumentError("no source-fetcher stub");
  PluginConfig plugins;
  if (!config.plugins_config.empty()) {
    ASSIGN_OR_RETURN(plugins, LoadPluginConfig(config.plugins_config));
  }
  if (process_runner == nullptr) process_runner = std::make_shared<ForkExecProcessRunner>();
  PluginRunnerOptions plugin_options;
  plugin_options.timeout = config.plugin_timeout;
  plugin_options.max_output_bytes = config.max_output_bytes;
  plugin_options.temp_dir = config.plugin_temp_dir;
  auto runner = std::make_shared<const PluginRunner>(std::move(plugins), std::move(process_runner),
                                                     plugin_options);
  RenderCacheOptions cache;
  cache.max_entries = config.cache_max_entries;
  cache.max_bytes = config.cache_max_bytes;
  auto renderer =
      std::make_shared<CachingRenderer>(std::make_shared<const Renderer>(std::move(runner)), cache);
  return std::make_unique<RendererService>(config, std::move(fetcher), std::move(renderer));
}

RendererService::RendererService(const RendererConfig& config, std::shared_ptr<FetcherStub> fetcher,
                                 std::shared_ptr<CachingRenderer> renderer)
    : config_(config), fetcher_(std::move(fetcher)), renderer_(std::move(renderer)) {}

grpc::Status RendererService::Render(grpc::ServerContext* context, const v1::RenderRequest* request,
                                     v1::RenderResponse* response) {
  return ToGrpcStatus(DoRender(*context, *request, *response));
}

absl::Status RendererService::DoRender(grpc::ServerContext& context,
                                       const v1::RenderRequest& request,
                                       v1::RenderResponse& response) {
  if (request.repo_url().empty()) return absl::InvalidArgumentError("repo_url is required");
  if (request.commit().empty()) return absl::InvalidArgumentError("commit is required");
  ASSIGN_OR_RETURN(std::string path, ResolveRepoPath("", request.path()));
  ASSIGN_OR_RETURN(RenderOptions options, RenderOptionsFromProto(request.options()));

  FetcherFileSourceOptions source_options;
  source_options.deadline = DeadlineOf(context, config_.render_timeout);
  source_options.max_files = config_.read_tree_max_files;
  source_options.max_total_bytes = config_.read_tree_max_bytes;
  FetcherFileSource files(fetcher_, request.repo_url(), request.commit(), source_options);
  if (absl::Status fetched = files.Prefetch(path); !fetched.ok()) {
    if (absl::IsNotFound(fetched)) {
      return absl::NotFoundError(absl::StrCat("path \"", path.empty() ? "." : path,
                                              "\" not found in ", request.repo_url(), " at ",
                                              request.commit()));
    }
    return Annotate(fetched, "reading the app folder from the source-fetcher");
  }

  // One budget for the whole render: memory over all its files, and the caller's deadline and
  // cancellation, which the build checks as it goes.
  Budget budget(config_.budget);
  budget.SetDeadline(source_options.deadline);
  grpc::ServerContext* server_context = &context;
  budget.SetCancelHook([server_context] { return server_context->IsCancelled(); });
  options.budget = &budget;
  absl::StatusOr<CachingRenderer::Output> rendered =
      renderer_->Render(request.repo_url(), files, path, options);
  if (!rendered.ok()) {
    static prometheus::Counter& stopped = MetricCounter(
        "todoke_renderer_renders_stopped_total",
        "renders whose build stopped because the caller cancelled or the deadline passed");
    static prometheus::Counter& exhausted = MetricCounter(
        "todoke_renderer_renders_over_budget_total",
        "renders refused for holding more than --render-max-nodes or --render-max-bytes");
    if (budget.stopped()) stopped.Increment();
    if (absl::IsResourceExhausted(budget.failure())) exhausted.Increment();
    return rendered.status();
  }
  CachingRenderer::Output output = *std::move(rendered);
  const RenderResult& result = *output.result;
  response.mutable_objects()->Reserve(static_cast<int>(result.objects.size()));
  for (size_t i = 0; i < result.objects.size(); ++i) {
    todoke::types::v1::KubeObject* object = response.add_objects();
    const ObjectKey& key = result.keys[i];
    object->mutable_key()->set_group(key.group);
    object->mutable_key()->set_version(key.version);
    object->mutable_key()->set_kind(key.kind);
    object->mutable_key()->set_namespace_(key.ns);
    object->mutable_key()->set_name(key.name);
    object->set_json(result.canonical_json[i]);
  }
  response.set_digest(result.digest);
  for (const InputFile& input : result.inputs) {
    v1::InputFile* file = response.add_inputs();
    file->set_path(input.path);
    file->set_blob_id(input.blob_id);
  }
  response.set_cache_hit(output.cache_hit);
  response.set_engine_version(kRenderEngineVersion);
  static prometheus::Counter& hits = MetricCounter(
      "todoke_renderer_renders_total", "renders answered, by cache outcome", {{"cache", "hit"}});
  static prometheus::Counter& misses = MetricCounter(
      "todoke_renderer_renders_total", "renders answered, by cache outcome", {{"cache", "miss"}});
  static prometheus::Counter& objects =
      MetricCounter("todoke_renderer_objects_total", "objects rendered and sent");
  static prometheus::Counter& bytes =
      MetricCounter("todoke_renderer_output_bytes_total", "bytes of rendered objects sent");
  (output.cache_hit ? hits : misses).Increment();
  objects.Increment(static_cast<double>(result.objects.size()));
  bytes.Increment(static_cast<double>(response.ByteSizeLong()));
  return absl::OkStatus();
}

}  // namespace todoke::renderer

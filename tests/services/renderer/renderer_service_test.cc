// The Renderer service over a real port-0 gRPC server, with a fake source-fetcher served on
// another port-0 server and reached through the generated stub.
#include "services/renderer/grpc/renderer_service.h"

#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <map>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "common/grpc_client.h"
#include "common/grpc_server.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "todoke/renderer/v1/renderer.grpc.pb.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::renderer {
namespace {

namespace fetcher_v1 = todoke::source_fetcher::v1;
namespace renderer_v1 = todoke::renderer::v1;
using ::testing::HasSubstr;

// Serves ReadTree from in-memory commits: commit id -> path -> content.
class FakeSourceFetcher final : public fetcher_v1::SourceFetcher::Service {
 public:
  void AddCommit(const std::string& commit, std::map<std::string, std::string> files) {
    absl::MutexLock lock(&mu_);
    commits_[commit] = std::move(files);
  }
  grpc::Status ReadTree(grpc::ServerContext* context, const fetcher_v1::ReadTreeRequest* request,
                        grpc::ServerWriter<fetcher_v1::ReadTreeResponse>* writer) override {
    ++calls;
    if (context->deadline() == std::chrono::system_clock::time_point::max())
      ++calls_without_deadline;
    std::map<std::string, std::string> files;
    if (request->path() == HoldPath()) {
      // Hold this read until the test releases it (bounded): the render is then mid-build.
      held.Notify();
      release.WaitForNotificationWithTimeout(absl::Seconds(60));
    }
    {
      absl::MutexLock lock(&mu_);
      auto commit = commits_.find(request->commit());
      if (commit == commits_.end()) return {grpc::StatusCode::NOT_FOUND, "no such commit"};
      files = commit->second;
    }
    const std::string prefix = request->path().empty() ? "" : request->path() + "/";
    fetcher_v1::ReadTreeResponse response;
    for (const auto& [path, content] : files) {
      if (!prefix.empty() && path.rfind(prefix, 0) != 0) continue;
      // Whole (offset and size unset, as servers before pieces), or in pieces of piece_bytes.
      const size_t step = piece_bytes > 0 ? piece_bytes : std::max<size_t>(content.size(), 1);
      for (size_t offset = 0; offset == 0 || offset < content.size(); offset += step) {
        if (drop_last_piece && offset > 0 && offset + step >= content.size()) break;
        fetcher_v1::TreeFile* file = response.add_files();
        file->set_path(path);
        file->set_mode(0100644);
        file->set_blob_id(GitBlobId(content));
        file->set_content(content.substr(offset, step));
        if (piece_bytes > 0) {
          file->set_offset(offset);
          file->set_size(content.size());
        }
        if (response.files_size() == 2) {  // several messages, as a real stream
          writer->Write(response);
          response.Clear();
        }
      }
    }
    if (response.files_size() > 0) writer->Write(response);
    return grpc::Status::OK;
  }
  void SetHoldPath(const std::string& path) {
    absl::MutexLock lock(&mu_);
    hold_path_ = path;
  }
  std::string HoldPath() {
    absl::MutexLock lock(&mu_);
    return hold_path_;
  }
  std::atomic<int> calls{0};
  std::atomic<int> calls_without_deadline{0};
  // ReadTree of the hold path notifies `held`, then waits for `release`.
  absl::Notification held;
  absl::Notification release;
  // Set before the first call: send files larger than this in pieces (0: whole), and leave out
  // the last piece of each (a broken server).
  size_t piece_bytes = 0;
  bool drop_last_piece = false;

 private:
  absl::Mutex mu_;
  std::map<std::string, std::map<std::string, std::string>> commits_ ABSL_GUARDED_BY(mu_);
  std::string hold_path_ ABSL_GUARDED_BY(mu_) = "\x01none";
};

std::string Config(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n";
}

class RendererServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { StartWith(RendererConfig{}); }

  void StartWith(const RendererConfig& config, bool fetcher_up = true) {
    renderer_server_.reset();
    if (fetcher_server_ == nullptr) {
      absl::StatusOr<std::unique_ptr<GrpcServer>> fetcher = GrpcServer::Start({}, {&fetcher_});
      ASSERT_TRUE(fetcher.ok()) << fetcher.status();
      fetcher_server_ = *std::move(fetcher);
    }
    std::string target = fetcher_up ? fetcher_server_->BoundAddress() : "127.0.0.1:1";
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = MakeChannel(target);
    ASSERT_TRUE(channel.ok()) << channel.status();
    std::shared_ptr<fetcher_v1::SourceFetcher::StubInterface> stub =
        fetcher_v1::SourceFetcher::NewStub(*channel);
    absl::StatusOr<std::unique_ptr<RendererService>> service =
        RendererService::Create(config, stub);
    ASSERT_TRUE(service.ok()) << service.status();
    service_ = *std::move(service);
    absl::StatusOr<std::unique_ptr<GrpcServer>> server = GrpcServer::Start({}, {service_.get()});
    ASSERT_TRUE(server.ok()) << server.status();
    renderer_server_ = *std::move(server);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> renderer_channel =
        MakeChannel(renderer_server_->BoundAddress());
    ASSERT_TRUE(renderer_channel.ok());
    client_ = renderer_v1::Renderer::NewStub(*renderer_channel);
  }

  grpc::Status Render(const std::string& commit, const std::string& path,
                      renderer_v1::RenderResponse* response,
                      const renderer_v1::RenderOptions& options = {}) {
    renderer_v1::RenderRequest request;
    request.set_repo_url("https://git.example.com/apps.git");
    request.set_commit(commit);
    request.set_path(path);
    *request.mutable_options() = options;
    std::unique_ptr<grpc::ClientContext> context = ContextWithTimeout(absl::Seconds(20));
    return client_->Render(context.get(), request, response);
  }

  FakeSourceFetcher fetcher_;
  std::unique_ptr<GrpcServer> fetcher_server_;
  std::unique_ptr<RendererService> service_;
  std::unique_ptr<GrpcServer> renderer_server_;
  std::unique_ptr<renderer_v1::Renderer::Stub> client_;
};

TEST_F(RendererServiceTest, RendersDirectoryWithDigestAndInputs) {
  fetcher_.AddCommit(
      "c1",
      {{"app/a.yaml", Config("a")}, {"app/b.yaml", Config("b")}, {"other/x.yaml", Config("x")}});
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "app", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.objects_size(), 2);
  EXPECT_EQ(response.objects(0).key().kind(), "ConfigMap");
  EXPECT_EQ(response.objects(0).key().version(), "v1");
  EXPECT_EQ(response.objects(1).key().name(), "b");
  EXPECT_EQ(response.objects(1).json(),
            R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"b"}})");
  EXPECT_EQ(response.digest().substr(0, 7), "sha256:");
  ASSERT_EQ(response.inputs_size(), 2);
  EXPECT_EQ(response.inputs(0).path(), "app/a.yaml");
  EXPECT_EQ(response.inputs(0).blob_id(), GitBlobId(Config("a")));
  EXPECT_FALSE(response.cache_hit());
  EXPECT_EQ(response.engine_version(), kRenderEngineVersion);
  EXPECT_EQ(fetcher_.calls_without_deadline, 0);
}

TEST_F(RendererServiceTest, CacheHitAtANewCommitWithUnchangedBlobs) {
  fetcher_.AddCommit("c1", {{"app/a.yaml", Config("a")}, {"other/x.yaml", Config("x")}});
  fetcher_.AddCommit("c2", {{"app/a.yaml", Config("a")}, {"other/x.yaml", Config("y")}});
  fetcher_.AddCommit("c3", {{"app/a.yaml", Config("changed")}, {"other/x.yaml", Config("y")}});
  renderer_v1::RenderResponse first, second, third;
  ASSERT_TRUE(Render("c1", "app", &first).ok());
  EXPECT_FALSE(first.cache_hit());
  ASSERT_TRUE(Render("c2", "app", &second).ok());
  EXPECT_TRUE(second.cache_hit());
  EXPECT_EQ(second.digest(), first.digest());
  EXPECT_EQ(second.inputs_size(), 1);
  ASSERT_TRUE(Render("c3", "app", &third).ok());
  EXPECT_FALSE(third.cache_hit());
  EXPECT_NE(third.digest(), first.digest());
  EXPECT_EQ(service_->CacheStats().hits, 1u);
}

TEST_F(RendererServiceTest, KustomizeReachesOutsideTheAppFolderLazily) {
  fetcher_.AddCommit("c1", {{"apps/prod/kustomization.yaml", "resources: [../../base]\n"},
                            {"base/kustomization.yaml", "resources: [cm.yaml]\n"},
                            {"base/cm.yaml", Config("settings")},
                            {"apps/dev/kustomization.yaml", "resources: []\n"}});
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "apps/prod", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.objects_size(), 1);
  EXPECT_EQ(response.objects(0).key().name(), "settings");
  EXPECT_EQ(response.inputs_size(), 3);
}

TEST_F(RendererServiceTest, Errors) {
  fetcher_.AddCommit("c1",
                     {{"app/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [\n"}});
  renderer_v1::RenderResponse response;
  grpc::Status missing = Render("c1", "nope", &response);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND);
  grpc::Status bad = Render("c1", "app", &response);
  EXPECT_EQ(bad.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(bad.error_message(), HasSubstr("app/bad.yaml:"));
  EXPECT_EQ(Render("c1", "../x", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Render("", "app", &response).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  renderer_v1::RenderOptions plugin;
  plugin.set_mode(renderer_v1::RENDER_MODE_PLUGIN);
  plugin.mutable_plugin()->set_name("helm");
  fetcher_.AddCommit("c2", {{"app/a.yaml", Config("a")}});
  EXPECT_EQ(Render("c2", "app", &response, plugin).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(RendererServiceTest, RendersFilesSentInPieces) {
  fetcher_.piece_bytes = 16;
  fetcher_.AddCommit(
      "c1", {{"app/a.yaml", Config("a-config-map-with-a-long-name")}, {"app/b.yaml", Config("b")}});
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "app", &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.objects_size(), 2);
  EXPECT_EQ(response.objects(0).key().name(), "a-config-map-with-a-long-name");
  EXPECT_EQ(response.objects(1).key().name(), "b");
  ASSERT_EQ(response.inputs_size(), 2);
  EXPECT_EQ(response.inputs(0).blob_id(), GitBlobId(Config("a-config-map-with-a-long-name")));
}

TEST_F(RendererServiceTest, FileMissingItsLastPieceIsDataLossNamingIt) {
  fetcher_.piece_bytes = 16;
  fetcher_.drop_last_piece = true;
  fetcher_.AddCommit("c1", {{"app/a.yaml", Config("a-config-map-with-a-long-name")}});
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "app", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::DATA_LOSS) << status.error_message();
  EXPECT_THAT(status.error_message(), HasSubstr("\"app/a.yaml\""));
  EXPECT_THAT(status.error_message(), HasSubstr("https://git.example.com/apps.git"));
  EXPECT_EQ(response.objects_size(), 0);
}

TEST_F(RendererServiceTest, FetcherDownIsUnavailable) {
  StartWith(RendererConfig{}, /*fetcher_up=*/false);
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "app", &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
}

TEST_F(RendererServiceTest, PluginFromConfigFile) {
  const std::string path = ::testing::TempDir() + "/todoke-renderer-plugins.yaml";
  std::ofstream(path)
      << "plugins:\n  - name: echo\n    command: [/bin/sh, -c, "
         "'printf \"apiVersion: v1\\nkind: ConfigMap\\nmetadata: {name: $N}\\n\"']\n"
         "    allowedEnv: [N]\n";
  RendererConfig config;
  config.plugins_config = path;
  StartWith(config);
  fetcher_.AddCommit("c1", {{"app/Chart.yaml", "name: x\n"}});
  renderer_v1::RenderOptions options;
  options.set_mode(renderer_v1::RENDER_MODE_PLUGIN);
  options.mutable_plugin()->set_name("echo");
  (*options.mutable_plugin()->mutable_env())["N"] = "from-plugin";
  renderer_v1::RenderResponse response;
  grpc::Status status = Render("c1", "app", &response, options);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.objects_size(), 1);
  EXPECT_EQ(response.objects(0).key().name(), "from-plugin");
}

// Issue 15: a cancelled Render stops its build. The app's kustomization reaches a folder
// outside the app, read lazily (a second ReadTree); that read is held until the caller has
// cancelled, so the build is under way when the cancellation comes. The caller gets CANCELLED at
// once, the build sees the cancellation through its budget and gives up (RendersStopped counts it),
// and the server answers the next request.
TEST_F(RendererServiceTest, CancelledRenderStopsTheBuildAndTheServerGoesOn) {
  std::map<std::string, std::string> files = {
      {"app/kustomization.yaml", "resources:\n- a.yaml\n- ../held\n- b.yaml\n"},
      {"app/a.yaml", Config("a")},
      {"app/b.yaml", Config("b")},
      {"held/kustomization.yaml", "resources: [c.yaml]\n"},
      {"held/c.yaml", Config("c")}};
  fetcher_.AddCommit("c1", files);
  // "../held" is first looked up as a file, which fetches its folder: the repository root.
  fetcher_.SetHoldPath("");
  const uint64_t stopped_before = RendersStopped();

  renderer_v1::RenderRequest request;
  request.set_repo_url("https://git.example.com/apps.git");
  request.set_commit("c1");
  request.set_path("app");
  std::unique_ptr<grpc::ClientContext> context = ContextWithTimeout(absl::Seconds(60));
  renderer_v1::RenderResponse response;
  grpc::Status status;
  std::thread caller([&] { status = client_->Render(context.get(), request, &response); });
  ASSERT_TRUE(fetcher_.held.WaitForNotificationWithTimeout(absl::Seconds(30)));
  context->TryCancel();
  caller.join();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::CANCELLED) << status.error_message();

  // Let the held read finish: the build goes on only to its next check.
  fetcher_.SetHoldPath("\x01none");
  fetcher_.release.Notify();
  for (int i = 0; i < 600 && RendersStopped() == stopped_before; ++i) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(RendersStopped(), stopped_before + 1);

  // The server answers the next request, and the cancelled render left nothing in the cache.
  renderer_v1::RenderResponse next;
  grpc::Status answered = Render("c1", "app", &next);
  ASSERT_TRUE(answered.ok()) << answered.error_message();
  EXPECT_EQ(next.objects_size(), 3);
  EXPECT_FALSE(next.cache_hit());
}

TEST(RendererServiceCreateTest, BadPluginFileIsAnError) {
  RendererConfig config;
  config.plugins_config = "/nonexistent/plugins.yaml";
  auto channel = grpc::CreateChannel("127.0.0.1:1", grpc::InsecureChannelCredentials());
  std::shared_ptr<fetcher_v1::SourceFetcher::StubInterface> stub =
      fetcher_v1::SourceFetcher::NewStub(channel);
  EXPECT_FALSE(RendererService::Create(config, stub).ok());
}

}  // namespace
}  // namespace todoke::renderer

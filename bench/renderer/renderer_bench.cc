// renderer_bench: times todoke's renderer on a folder of a repository on disk.
//
//   renderer_bench once <repo-root> <path>          render once and print YAML (like
//                                                    `todoke render`); exit 1 on error
//   renderer_bench inprocess <repo-root> <path> N   render N times in one process; prints
//                                                    "median_us=... mean_us=... objects=..."
//   renderer_bench service <repo-root> <path> N     Render over gRPC (port 0, a source-fetcher
//                                                    fake serving the folder from disk), first
//                                                    call cold, then N warm calls; prints
//                                                    "cold_us=... median_us=... cache_hits=..."
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include "common/grpc_client.h"
#include "common/grpc_server.h"
#include "common/yaml.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/render.h"
#include "services/renderer/grpc/renderer_service.h"
#include "todoke/renderer/v1/renderer.grpc.pb.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace {

using todoke::renderer::DiskFileSource;
using Clock = std::chrono::steady_clock;
namespace fetcher_v1 = todoke::source_fetcher::v1;

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values.empty() ? 0 : values[values.size() / 2];
}

long PeakRssKb() {
  rusage usage;
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// Serves ReadTree from a folder on disk (the whole subtree under the requested path).
class DiskFetcher final : public fetcher_v1::SourceFetcher::Service {
 public:
  explicit DiskFetcher(std::string root) : files_(std::move(root)) {}
  grpc::Status ReadTree(grpc::ServerContext*, const fetcher_v1::ReadTreeRequest* request,
                        grpc::ServerWriter<fetcher_v1::ReadTreeResponse>* writer) override {
    if (!files_.IsDirectory(request->path())) return {grpc::StatusCode::NOT_FOUND, "no such path"};
    fetcher_v1::ReadTreeResponse response;
    Walk(request->path(), response, writer);
    if (response.files_size() > 0) writer->Write(response);
    return grpc::Status::OK;
  }

 private:
  void Walk(const std::string& dir, fetcher_v1::ReadTreeResponse& response,
            grpc::ServerWriter<fetcher_v1::ReadTreeResponse>* writer) {
    absl::StatusOr<std::vector<std::string>> entries = files_.ListDirectory(dir);
    if (!entries.ok()) return;
    for (const std::string& entry : *entries) {
      std::string name = entry.back() == '/' ? entry.substr(0, entry.size() - 1) : entry;
      std::string path = dir.empty() ? name : dir + "/" + name;
      if (entry.back() == '/') {
        Walk(path, response, writer);
        continue;
      }
      absl::StatusOr<todoke::renderer::FileContent> file = files_.ReadFileWithId(path);
      if (!file.ok()) continue;
      fetcher_v1::TreeFile* out = response.add_files();
      out->set_path(path);
      out->set_mode(0100644);
      out->set_blob_id(file->blob_id);
      out->set_content(std::move(file->content));
      if (response.files_size() >= 64) {
        writer->Write(response);
        response.Clear();
      }
    }
  }
  DiskFileSource files_;
};

int Once(const std::string& root, const std::string& path) {
  DiskFileSource files(root);
  absl::StatusOr<todoke::renderer::RenderResult> result = todoke::renderer::Render(files, path);
  if (!result.ok()) {
    std::cerr << "error: " << result.status().message() << "\n";
    return 1;
  }
  std::cout << todoke::EmitYamlStream(result->objects);
  return 0;
}

int InProcess(const std::string& root, const std::string& path, int iterations) {
  DiskFileSource files(root);
  std::vector<double> samples;
  size_t objects = 0;
  for (int i = 0; i < iterations; ++i) {
    const Clock::time_point start = Clock::now();
    absl::StatusOr<todoke::renderer::RenderResult> result = todoke::renderer::Render(files, path);
    samples.push_back(Micros(Clock::now() - start));
    if (!result.ok()) {
      std::cerr << "error: " << result.status().message() << "\n";
      return 1;
    }
    objects = result->objects.size();
  }
  double sum = 0;
  for (double s : samples) sum += s;
  std::printf("median_us=%.1f mean_us=%.1f objects=%zu peak_rss_kb=%ld\n", Median(samples),
              sum / samples.size(), objects, PeakRssKb());
  return 0;
}

int Service(const std::string& root, const std::string& path, int iterations) {
  DiskFetcher fetcher(root);
  absl::StatusOr<std::unique_ptr<todoke::GrpcServer>> fetcher_server =
      todoke::GrpcServer::Start({}, {&fetcher});
  if (!fetcher_server.ok()) {
    std::cerr << fetcher_server.status() << "\n";
    return 1;
  }
  auto channel = todoke::MakeChannel((*fetcher_server)->BoundAddress());
  if (!channel.ok()) return 1;
  auto service =
      todoke::renderer::RendererService::Create({}, fetcher_v1::SourceFetcher::NewStub(*channel));
  if (!service.ok()) {
    std::cerr << service.status() << "\n";
    return 1;
  }
  auto server = todoke::GrpcServer::Start({}, {service->get()});
  if (!server.ok()) return 1;
  auto renderer_channel = todoke::MakeChannel((*server)->BoundAddress());
  if (!renderer_channel.ok()) return 1;
  auto client = todoke::renderer::v1::Renderer::NewStub(*renderer_channel);
  todoke::renderer::v1::RenderRequest request;
  request.set_repo_url("file:///bench");
  request.set_commit("0000000000000000000000000000000000000000");
  request.set_path(path);
  std::vector<double> samples;
  double cold = 0;
  int hits = 0;
  for (int i = 0; i <= iterations; ++i) {
    todoke::renderer::v1::RenderResponse response;
    auto context = todoke::ContextWithTimeout(absl::Seconds(60));
    const Clock::time_point start = Clock::now();
    grpc::Status status = client->Render(context.get(), request, &response);
    const double us = Micros(Clock::now() - start);
    if (!status.ok()) {
      std::cerr << "error: " << status.error_message() << "\n";
      return 1;
    }
    if (i == 0) {
      cold = us;
    } else {
      samples.push_back(us);
      hits += response.cache_hit() ? 1 : 0;
    }
  }
  std::printf("cold_us=%.1f median_us=%.1f cache_hits=%d/%d peak_rss_kb=%ld\n", cold,
              Median(samples), hits, iterations, PeakRssKb());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::cerr << "usage: renderer_bench once|inprocess|service <repo-root> <path> [N]\n";
    return 2;
  }
  const std::string mode = argv[1];
  const int iterations = argc > 4 ? std::max(1, std::atoi(argv[4])) : 20;
  if (mode == "once") return Once(argv[2], argv[3]);
  if (mode == "inprocess") return InProcess(argv[2], argv[3], iterations);
  if (mode == "service") return Service(argv[2], argv[3], iterations);
  std::cerr << "unknown mode " << mode << "\n";
  return 2;
}

#include "services/source_fetcher/grpc/source_fetcher_service.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "absl/time/time.h"
#include "common/grpc_server.h"
#include "common/grpc_status.h"
#include "common/metrics.h"

namespace todoke::source_fetcher {
namespace {

void ToProto(const Revision& in, v1::Revision* out) {
  out->set_commit(in.commit);
  out->set_author_name(in.author_name);
  out->set_author_email(in.author_email);
  int64_t seconds = absl::ToUnixSeconds(in.author_time);
  out->mutable_author_time()->set_seconds(seconds);
  out->mutable_author_time()->set_nanos(0);
  out->set_message(in.message);
}

}  // namespace

size_t ReadTreePieceBytesFor(int max_message_bytes) {
  if (max_message_bytes <= 0) return SourceFetcherServiceOptions::kDefaultReadTreePieceBytes;
  return std::clamp(static_cast<size_t>(max_message_bytes) / 4, size_t{1},
                    SourceFetcherServiceOptions::kDefaultReadTreePieceBytes);
}

SourceFetcherService::SourceFetcherService(SourceFetcher* fetcher,
                                           SourceFetcherServiceOptions options)
    : fetcher_(fetcher),
      piece_bytes_(options.read_tree_piece_bytes > 0
                       ? options.read_tree_piece_bytes
                       : SourceFetcherServiceOptions::kDefaultReadTreePieceBytes) {}

grpc::Status SourceFetcherService::Resolve(grpc::ServerContext* context,
                                           const v1::ResolveRequest* request,
                                           v1::ResolveResponse* response) {
  ResolveRequest core;
  core.repo_url = request->repo_url();
  core.ref = request->ref();
  core.bypass_ref_cache = request->bypass_ref_cache();
  core.deadline = DeadlineOf(*context);
  absl::StatusOr<ResolveResult> result = fetcher_->Resolve(core);
  if (!result.ok()) return ToGrpcStatus(result.status());
  ToProto(result->revision, response->mutable_revision());
  response->set_resolved_ref(result->resolved_ref);
  response->set_fetched(result->fetched);
  static prometheus::Counter& fetched =
      MetricCounter("todoke_source_fetcher_resolves_total",
                    "refs resolved, by whether the remote was fetched", {{"fetched", "true"}});
  static prometheus::Counter& cached =
      MetricCounter("todoke_source_fetcher_resolves_total",
                    "refs resolved, by whether the remote was fetched", {{"fetched", "false"}});
  (result->fetched ? fetched : cached).Increment();
  return grpc::Status::OK;
}

grpc::Status SourceFetcherService::ReadTree(grpc::ServerContext* context,
                                            const v1::ReadTreeRequest* request,
                                            grpc::ServerWriter<v1::ReadTreeResponse>* writer) {
  ReadTreeRequest core;
  core.repo_url = request->repo_url();
  core.commit = request->commit();
  core.path = request->path();
  core.max_files = request->max_files();
  core.max_total_bytes = request->max_total_bytes();
  core.deadline = DeadlineOf(*context);
  // Responses of up to about piece_bytes_: TreeFiles (whole small files, or pieces) are added
  // until the next one would not fit, then the response is sent.
  v1::ReadTreeResponse batch;
  size_t batch_bytes = 0;
  auto flush = [&]() -> absl::Status {
    if (batch.files_size() == 0) return absl::OkStatus();
    if (!writer->Write(batch)) return absl::CancelledError("client stopped reading the tree");
    batch.Clear();
    batch_bytes = 0;
    return absl::OkStatus();
  };
  auto add = [&](v1::TreeFile&& file) -> absl::Status {
    const size_t file_bytes = file.ByteSizeLong();
    if (batch_bytes > 0 && batch_bytes + file_bytes > piece_bytes_) {
      absl::Status flushed = flush();
      if (!flushed.ok()) return flushed;
    }
    *batch.add_files() = std::move(file);
    batch_bytes += file_bytes;
    return absl::OkStatus();
  };
  absl::Status status = fetcher_->ReadTree(core, [&](TreeFile&& file) -> absl::Status {
    if (context->IsCancelled()) return absl::CancelledError("call cancelled");
    const size_t size = file.content.size();
    static prometheus::Counter& files_sent =
        MetricCounter("todoke_source_fetcher_tree_files_total", "files sent by ReadTree");
    static prometheus::Counter& bytes_sent =
        MetricCounter("todoke_source_fetcher_tree_bytes_total", "file bytes sent by ReadTree");
    files_sent.Increment();
    bytes_sent.Increment(static_cast<double>(size));
    v1::TreeFile out;
    out.set_path(std::move(file.path));
    out.set_mode(file.mode);
    out.set_blob_id(std::move(file.blob_id));
    out.set_size(size);
    if (size <= piece_bytes_) {
      out.set_content(std::move(file.content));
      return add(std::move(out));
    }
    // Consecutive pieces, in order; each repeats path, mode, blob id and size.
    for (size_t offset = 0; offset < size; offset += piece_bytes_) {
      if (context->IsCancelled()) return absl::CancelledError("call cancelled");
      v1::TreeFile piece = out;
      piece.set_offset(offset);
      piece.set_content(file.content.substr(offset, piece_bytes_));
      absl::Status added = add(std::move(piece));
      if (!added.ok()) return added;
    }
    return absl::OkStatus();
  });
  if (status.ok()) status = flush();
  return ToGrpcStatus(status);
}

grpc::Status SourceFetcherService::GetRevision(grpc::ServerContext* context,
                                               const v1::GetRevisionRequest* request,
                                               v1::Revision* response) {
  GetRevisionRequest core;
  core.repo_url = request->repo_url();
  core.commit = request->commit();
  core.deadline = DeadlineOf(*context);
  absl::StatusOr<Revision> revision = fetcher_->GetRevision(core);
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  ToProto(*revision, response);
  return grpc::Status::OK;
}

}  // namespace todoke::source_fetcher

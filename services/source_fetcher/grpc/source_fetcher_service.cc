#include "services/source_fetcher/grpc/source_fetcher_service.h"

#include <chrono>

#include "absl/time/time.h"
#include "common/grpc_status.h"

namespace todoke::source_fetcher {
namespace {

// The call's deadline; InfiniteFuture() when the client set none.
absl::Time DeadlineOf(const grpc::ServerContext* context) {
  std::chrono::system_clock::time_point deadline = context->deadline();
  if (deadline == std::chrono::system_clock::time_point::max()) return absl::InfiniteFuture();
  absl::Time t = absl::FromChrono(deadline);
  if (t > absl::Now() + absl::Hours(24 * 365)) return absl::InfiniteFuture();
  return t;
}

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

grpc::Status SourceFetcherService::Resolve(grpc::ServerContext* context,
                                           const v1::ResolveRequest* request,
                                           v1::ResolveResponse* response) {
  ResolveRequest core;
  core.repo_url = request->repo_url();
  core.ref = request->ref();
  core.deadline = DeadlineOf(context);
  absl::StatusOr<ResolveResult> result = fetcher_->Resolve(core);
  if (!result.ok()) return ToGrpcStatus(result.status());
  ToProto(result->revision, response->mutable_revision());
  response->set_resolved_ref(result->resolved_ref);
  response->set_fetched(result->fetched);
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
  core.deadline = DeadlineOf(context);
  v1::ReadTreeResponse chunk;
  size_t chunk_bytes = 0;
  auto flush = [&]() -> absl::Status {
    if (chunk.files_size() == 0) return absl::OkStatus();
    if (!writer->Write(chunk)) return absl::CancelledError("client stopped reading the tree");
    chunk.Clear();
    chunk_bytes = 0;
    return absl::OkStatus();
  };
  absl::Status status = fetcher_->ReadTree(core, [&](TreeFile&& file) -> absl::Status {
    if (context->IsCancelled()) return absl::CancelledError("call cancelled");
    size_t size = file.content.size() + file.path.size() + 64;
    if (chunk_bytes > 0 && chunk_bytes + size > kReadTreeChunkBytes) {
      absl::Status flushed = flush();
      if (!flushed.ok()) return flushed;
    }
    v1::TreeFile* out = chunk.add_files();
    out->set_path(std::move(file.path));
    out->set_mode(file.mode);
    out->set_blob_id(std::move(file.blob_id));
    out->set_content(std::move(file.content));
    chunk_bytes += size;
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
  core.deadline = DeadlineOf(context);
  absl::StatusOr<Revision> revision = fetcher_->GetRevision(core);
  if (!revision.ok()) return ToGrpcStatus(revision.status());
  ToProto(*revision, response);
  return grpc::Status::OK;
}

}  // namespace todoke::source_fetcher

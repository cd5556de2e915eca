// The gRPC face of the source-fetcher: todoke.source_fetcher.v1.SourceFetcher over the core.
// A thin adapter: proto <-> core types, absl::Status -> grpc::Status, the call's deadline passed
// down to every network operation, and ReadTree streamed in messages of about 1 MiB.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_

#include <cstddef>

#include "services/source_fetcher/core/source_fetcher.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::source_fetcher {

class SourceFetcherService final : public v1::SourceFetcher::Service {
 public:
  // Target size of one ReadTreeResponse. A single file larger than this goes alone in its
  // message (the server's max message size must allow the largest file).
  static constexpr size_t kReadTreeChunkBytes = 1 << 20;

  // `fetcher` is not owned and must outlive the service.
  explicit SourceFetcherService(SourceFetcher* fetcher) : fetcher_(fetcher) {}

  // Resolves a ref; errors as documented in source_fetcher.proto.
  grpc::Status Resolve(grpc::ServerContext* context, const v1::ResolveRequest* request,
                       v1::ResolveResponse* response) override;

  // Streams the files under a path; CANCELLED if the client goes away mid-stream.
  grpc::Status ReadTree(grpc::ServerContext* context, const v1::ReadTreeRequest* request,
                        grpc::ServerWriter<v1::ReadTreeResponse>* writer) override;

  // Metadata of one commit.
  grpc::Status GetRevision(grpc::ServerContext* context, const v1::GetRevisionRequest* request,
                           v1::Revision* response) override;

 private:
  SourceFetcher* fetcher_;
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_

// The gRPC face of the source-fetcher: todoke.source_fetcher.v1.SourceFetcher over the core.
// A thin adapter: proto <-> core types, absl::Status -> grpc::Status, the call's deadline passed
// down to every network operation, and ReadTree streamed in messages of about one piece size
// (1 MiB by default): small files batched, files larger than a piece split into pieces.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_

#include <cstddef>

#include "services/source_fetcher/core/source_fetcher.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::source_fetcher {

// The piece size used when the server's largest message is `max_message_bytes`: a quarter of
// it (room for the path, ids and framing, and for small files batched with a piece), at most
// kDefaultReadTreePieceBytes (services refuse limits below kMinMaxMessageBytes, service_main.h).
size_t ReadTreePieceBytesFor(int max_message_bytes);

struct SourceFetcherServiceOptions {
  static constexpr size_t kDefaultReadTreePieceBytes = size_t{1} << 20;
  // Target size of one ReadTreeResponse and the largest content slice of one TreeFile: a file
  // larger than this is sent in pieces of this size (see TreeFile in source_fetcher.proto).
  // Must stay well under the server's max message size; see ReadTreePieceBytesFor.
  size_t read_tree_piece_bytes = kDefaultReadTreePieceBytes;
};

class SourceFetcherService final : public v1::SourceFetcher::Service {
 public:
  // `fetcher` is not owned and must outlive the service. A piece size of 0 means the default.
  explicit SourceFetcherService(SourceFetcher* fetcher, SourceFetcherServiceOptions options = {});

  // Resolves a ref; errors as documented in source_fetcher.proto.
  grpc::Status Resolve(grpc::ServerContext* context, const v1::ResolveRequest* request,
                       v1::ResolveResponse* response) override;

  // Streams the files under a path, large files in pieces; CANCELLED if the client goes away
  // mid-stream.
  grpc::Status ReadTree(grpc::ServerContext* context, const v1::ReadTreeRequest* request,
                        grpc::ServerWriter<v1::ReadTreeResponse>* writer) override;

  // Metadata of one commit.
  grpc::Status GetRevision(grpc::ServerContext* context, const v1::GetRevisionRequest* request,
                           v1::Revision* response) override;

 private:
  SourceFetcher* fetcher_;
  size_t piece_bytes_;
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_GRPC_SOURCE_FETCHER_SERVICE_H_

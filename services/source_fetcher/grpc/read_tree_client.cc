#include "services/source_fetcher/grpc/read_tree_client.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/grpc_status.h"
#include "common/status.h"

namespace todoke::source_fetcher {
namespace {

// Memory reserved up front for a file announced in pieces; past this the string grows as
// pieces arrive, so a bogus `size` cannot make the client allocate it all at once.
constexpr uint64_t kMaxUpFrontReserve = uint64_t{64} << 20;

absl::Status Broken(absl::string_view path, absl::string_view what) {
  return absl::DataLossError(absl::StrCat("ReadTree stream broken: file \"", path, "\" ", what));
}

// `file` as a complete file: offset 0 and size equal to its content.
v1::TreeFile Whole(v1::TreeFile&& file) {
  file.set_offset(0);
  file.set_size(file.content().size());
  return std::move(file);
}

}  // namespace

absl::StatusOr<std::optional<v1::TreeFile>> TreeFileAssembler::Add(v1::TreeFile&& piece) {
  if (!broken_.ok()) return broken_;
  const uint64_t piece_bytes = piece.content().size();
  if (!pending_.has_value()) {
    if (piece.size() == 0) {
      // A whole file: empty, or from a server that predates pieces.
      if (piece.offset() != 0) {
        broken_ = Broken(piece.path(),
                         absl::StrCat("has a piece at offset ", piece.offset(), " but no size"));
        return broken_;
      }
      return Whole(std::move(piece));
    }
    if (piece.offset() != 0) {
      broken_ = Broken(piece.path(), absl::StrCat("starts at offset ", piece.offset(),
                                                  " instead of 0 (its first piece is missing)"));
      return broken_;
    }
    if (piece_bytes > piece.size()) {
      broken_ = Broken(piece.path(), absl::StrCat("has ", piece_bytes, " bytes of content but a ",
                                                  "size of ", piece.size()));
      return broken_;
    }
    if (piece_bytes == piece.size()) return Whole(std::move(piece));
    const uint64_t size = piece.size();
    pending_ = std::move(piece);
    pending_->mutable_content()->reserve(std::min(size, kMaxUpFrontReserve));
    return std::nullopt;
  }

  const std::string& path = pending_->path();
  const uint64_t received = pending_->content().size();
  const uint64_t size = pending_->size();
  if (piece.path() != path) {
    broken_ = Broken(path, absl::StrCat("ended after ", received, " of its ", size, " bytes: \"",
                                        piece.path(), "\" came before its remaining pieces"));
    return broken_;
  }
  if (piece.size() != size || piece.mode() != pending_->mode() ||
      piece.blob_id() != pending_->blob_id()) {
    broken_ = Broken(path, absl::StrCat("has a piece at offset ", piece.offset(),
                                        " whose size, mode or blob id differs from its first "
                                        "piece's"));
    return broken_;
  }
  if (piece.offset() != received) {
    broken_ =
        Broken(path, absl::StrCat("has a piece at offset ", piece.offset(), " after ", received,
                                  " bytes (a piece is missing, repeated or out "
                                  "of order)"));
    return broken_;
  }
  if (piece_bytes > size - received) {
    broken_ = Broken(path, absl::StrCat("has a piece of ", piece_bytes, " bytes at offset ",
                                        received, ", past its size of ", size));
    return broken_;
  }
  pending_->mutable_content()->append(piece.content());
  if (received + piece_bytes < size) return std::nullopt;
  v1::TreeFile complete = std::move(*pending_);
  pending_.reset();
  return complete;
}

absl::Status TreeFileAssembler::Finish() const {
  if (!broken_.ok()) return broken_;
  if (!pending_.has_value()) return absl::OkStatus();
  return Broken(pending_->path(),
                absl::StrCat("is incomplete: the stream ended after ", pending_->content().size(),
                             " of its ", pending_->size(), " bytes"));
}

absl::string_view TreeFileAssembler::pending_path() const {
  return pending_.has_value() ? absl::string_view(pending_->path()) : absl::string_view();
}

absl::Status ReadWholeTreeFiles(grpc::ClientContext* context,
                                grpc::ClientReaderInterface<v1::ReadTreeResponse>* reader,
                                const std::function<absl::Status(v1::TreeFile&&)>& on_file) {
  TreeFileAssembler assembler;
  v1::ReadTreeResponse response;
  absl::Status failure;
  while (failure.ok() && reader->Read(&response)) {
    for (v1::TreeFile& file : *response.mutable_files()) {
      absl::StatusOr<std::optional<v1::TreeFile>> complete = assembler.Add(std::move(file));
      if (!complete.ok()) {
        failure = complete.status();
        break;
      }
      if (!complete->has_value()) continue;
      failure = on_file(std::move(**complete));
      if (!failure.ok()) break;
    }
  }
  if (!failure.ok()) {
    // Stop the server instead of draining the rest of the stream; the call's own status
    // (CANCELLED) says nothing more than `failure`.
    context->TryCancel();
    reader->Finish();
    return failure;
  }
  absl::Status status = FromGrpcStatus(reader->Finish());
  if (!status.ok()) {
    if (assembler.pending_path().empty()) return status;
    return Annotate(status, absl::StrCat("ReadTree stream failed in the middle of file \"",
                                         assembler.pending_path(), "\""));
  }
  return assembler.Finish();
}

}  // namespace todoke::source_fetcher

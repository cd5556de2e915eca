// The client side of ReadTree: puts files sent in pieces back together (see TreeFile in
// source_fetcher.proto) and checks the pieces form whole files, in order, with nothing missing.
// Every consumer of a ReadTree stream goes through ReadWholeTreeFiles (or TreeFileAssembler),
// so a broken stream is an error everywhere and never a silently shorter file.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_GRPC_READ_TREE_CLIENT_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_GRPC_READ_TREE_CLIENT_H_

#include <grpcpp/grpcpp.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::source_fetcher {

// Reassembles the TreeFile messages of one ReadTree stream, fed in stream order. Not
// thread-safe; one assembler per stream.
class TreeFileAssembler {
 public:
  // Takes the next TreeFile of the stream. Returns the complete file when `piece` is a whole
  // file or completes one (content whole, offset 0, size == content size), nullopt while a file
  // is still coming in pieces, or DATA_LOSS naming the path when `piece` cannot follow what came
  // before: a gap or overlap, another file before the current one is complete, a piece past the
  // file's size, or a change of size/mode/blob id between pieces of one file. After an error
  // the assembler is unusable (every later call returns an error).
  absl::StatusOr<std::optional<v1::TreeFile>> Add(v1::TreeFile&& piece);

  // Call when the stream has ended successfully. DATA_LOSS naming the path if it ended in the
  // middle of a file; OK otherwise.
  absl::Status Finish() const;

  // The path of a file received only in part so far; empty when no file is pending.
  absl::string_view pending_path() const;

 private:
  // The file being assembled; set between its first and its last piece.
  std::optional<v1::TreeFile> pending_;
  absl::Status broken_;
};

// Reads the stream of `reader` to the end and calls `on_file` with each complete file, in
// stream order. Returns OK when the stream finished OK and every file was complete; the
// stream's status (from Finish) when it failed, annotated with the pending path if it failed
// mid-file; DATA_LOSS naming the path for a broken sequence of pieces; or the first error of
// `on_file`. On an error of its own or of `on_file` it cancels the call through `context` before
// finishing it, so it never waits for the rest of the stream. Bounded by `context`'s deadline
// (the caller sets one).
absl::Status ReadWholeTreeFiles(grpc::ClientContext* context,
                                grpc::ClientReaderInterface<v1::ReadTreeResponse>* reader,
                                const std::function<absl::Status(v1::TreeFile&&)>& on_file);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_GRPC_READ_TREE_CLIENT_H_

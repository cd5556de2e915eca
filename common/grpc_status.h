// The one place where absl::Status and grpc::Status meet.
#ifndef TODOKE_COMMON_GRPC_STATUS_H_
#define TODOKE_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include <cstddef>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace todoke {

// The most a status message may take in the grpc-message header once percent-encoded. gRPC
// clients refuse response metadata over 8 KiB (grpc.max_metadata_size) and then report an
// unrelated error instead of the server's, so an error echoing a long input (a 40 KB path)
// must be cut before it is sent.
inline constexpr size_t kMaxStatusMessageEncodedBytes = 4096;

// `message` unchanged if it fits kMaxStatusMessageEncodedBytes once encoded; otherwise its start
// and end (each about half of that, cut on UTF-8 character boundaries) around
// " [... N bytes cut ...] ".
std::string CapStatusMessage(absl::string_view message);

// Same code; the message capped by CapStatusMessage. The codes of both libraries are
// numerically identical. Every service answers through this, so this is the one place where
// echoed input is bounded.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace todoke

#endif  // TODOKE_COMMON_GRPC_STATUS_H_

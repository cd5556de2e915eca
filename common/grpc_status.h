// The one place where absl::Status and grpc::Status meet.
#ifndef TODOKE_COMMON_GRPC_STATUS_H_
#define TODOKE_COMMON_GRPC_STATUS_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"

namespace todoke {

// Same code, same message. The codes of both libraries are numerically identical.
grpc::Status ToGrpcStatus(const absl::Status& status);
absl::Status FromGrpcStatus(const grpc::Status& status);

}  // namespace todoke

#endif  // TODOKE_COMMON_GRPC_STATUS_H_

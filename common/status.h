// Status helpers shared by every library, and the one conversion between absl::Status and
// grpc::Status (in grpc_status.h, to keep gRPC out of pure libraries).
#ifndef TODOKE_COMMON_STATUS_H_
#define TODOKE_COMMON_STATUS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

#define TODOKE_STATUS_CONCAT_INNER_(a, b) a##b
#define TODOKE_STATUS_CONCAT_(a, b) TODOKE_STATUS_CONCAT_INNER_(a, b)

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define RETURN_IF_ERROR(expr)                        \
  do {                                               \
    ::absl::Status todoke_status_ = (expr);          \
    if (!todoke_status_.ok()) return todoke_status_; \
  } while (0)

// `ASSIGN_OR_RETURN(auto x, StatusOrExpr());` declares/assigns x or returns the error.
#define ASSIGN_OR_RETURN(lhs, expr) \
  TODOKE_ASSIGN_OR_RETURN_IMPL_(TODOKE_STATUS_CONCAT_(todoke_statusor_, __LINE__), lhs, expr)
#define TODOKE_ASSIGN_OR_RETURN_IMPL_(var, lhs, expr) \
  auto var = (expr);                                  \
  if (!var.ok()) return std::move(var).status();      \
  lhs = std::move(var).value()

namespace todoke {

// Returns `status` with `context + ": "` prepended to its message; OK stays OK.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

// True for the codes a caller may retry with backoff: UNAVAILABLE, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED.
bool IsRetryable(const absl::Status& status);

}  // namespace todoke

#endif  // TODOKE_COMMON_STATUS_H_

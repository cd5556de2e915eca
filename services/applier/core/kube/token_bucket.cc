#include "services/applier/core/kube/token_bucket.h"

#include <algorithm>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace todoke::applier::kube {

TokenBucket::TokenBucket(double qps, int burst)
    : qps_(qps), burst_(std::max(1, burst)), tokens_(std::max(1, burst)), last_(absl::Now()) {}

absl::StatusOr<absl::Duration> TokenBucket::Take(absl::Time deadline) {
  if (qps_ <= 0) return absl::ZeroDuration();
  absl::Duration wait;
  {
    absl::MutexLock lock(&mu_);
    const absl::Time now = absl::Now();
    if (now > last_) {
      tokens_ = std::min(burst_, tokens_ + absl::ToDoubleSeconds(now - last_) * qps_);
      last_ = now;
    }
    if (tokens_ >= 1) {
      tokens_ -= 1;
      return absl::ZeroDuration();
    }
    wait = absl::Seconds((1 - tokens_) / qps_);
    if (now + wait > deadline) {
      return absl::DeadlineExceededError(
          absl::StrCat("client-side rate limit (", qps_, " requests/s): the next request slot is ",
                       absl::FormatDuration(wait), " away, after the deadline"));
    }
    tokens_ -= 1;
  }
  absl::SleepFor(wait);
  return wait;
}

}  // namespace todoke::applier::kube

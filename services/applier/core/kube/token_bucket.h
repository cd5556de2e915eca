// Client-side rate limiting as client-go does it: a token bucket refilled at `qps` tokens a second
// holding at most `burst`. Internal to the kube client; exposed for its tests. Thread-safe.
#ifndef TODOKE_SERVICES_APPLIER_CORE_KUBE_TOKEN_BUCKET_H_
#define TODOKE_SERVICES_APPLIER_CORE_KUBE_TOKEN_BUCKET_H_

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace todoke::applier::kube {

class TokenBucket {
 public:
  // qps <= 0: no limit. burst < 1 counts as 1. The bucket starts full.
  TokenBucket(double qps, int burst);

  // Takes one token, sleeping until it is due. DEADLINE_EXCEEDED at once (taking nothing) when
  // it would be due after `deadline`. Returns how long it slept.
  absl::StatusOr<absl::Duration> Take(absl::Time deadline);

 private:
  const double qps_;
  const double burst_;
  absl::Mutex mu_;
  // May go negative: tokens promised to callers that are sleeping.
  double tokens_ ABSL_GUARDED_BY(mu_);
  absl::Time last_ ABSL_GUARDED_BY(mu_);
};

}  // namespace todoke::applier::kube

#endif  // TODOKE_SERVICES_APPLIER_CORE_KUBE_TOKEN_BUCKET_H_

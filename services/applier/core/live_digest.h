// The live digest of a ReadLive answer: what ReadLiveResponse.live_digest carries and what a
// caller sends back as if_digest_differs. One definition for the gRPC adapter and for the
// destinations that answer a digest without reading objects, so a digest computed either way
// matches the other (and digests the orchestrator cached stay valid).
#ifndef TODOKE_SERVICES_APPLIER_CORE_LIVE_DIGEST_H_
#define TODOKE_SERVICES_APPLIER_CORE_LIVE_DIGEST_H_

#include <string>

#include "services/applier/core/destination.h"

namespace todoke::applier {

// sha256 (lowercase hex) over "apiVersion/kind/namespace/name resourceVersion" lines of every
// object of `live` and "apiVersion/kind/namespace/name -" for every absent key, sorted, so the
// digest does not depend on answer order. Objects' JSON is not read (may be empty).
std::string LiveDigest(const LiveSet& live);

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_LIVE_DIGEST_H_

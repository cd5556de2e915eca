// The applier's gRPC adapter: todoke.applier.v1.Applier over the core Destinations
// (services/applier/core). Converts messages and statuses and routes each call to the
// Destination its request names, through a DestinationRegistry.
#ifndef TODOKE_SERVICES_APPLIER_GRPC_APPLIER_SERVICE_H_
#define TODOKE_SERVICES_APPLIER_GRPC_APPLIER_SERVICE_H_

#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/applier/core/destination.h"
#include "services/applier/core/registry.h"
#include "todoke/applier/v1/applier.grpc.pb.h"

namespace todoke::applier {

struct ApplierServiceOptions {
  // Budget of a call whose client set no deadline (and the cap of ReadLive / Prune otherwise).
  absl::Duration default_timeout = absl::Minutes(2);
  // Budget of an Apply whose client set no deadline (waits for health can be long).
  absl::Duration apply_timeout = absl::Minutes(15);
};

// The destination a request names. INVALID_ARGUMENT when none is set.
absl::StatusOr<DestinationTarget> TargetFromProto(const types::v1::Destination& destination);

// The default namespace of a destination: the Kubernetes destination's namespace, else "".
std::string DefaultNamespaceOf(const types::v1::Destination& destination);

class ApplierService final : public v1::Applier::Service {
 public:
  ApplierService(std::shared_ptr<DestinationRegistry> registry, ApplierServiceOptions options);

  grpc::Status ReadLive(grpc::ServerContext* context, const v1::ReadLiveRequest* request,
                        v1::ReadLiveResponse* response) override;
  grpc::Status Apply(grpc::ServerContext* context, const v1::ApplyRequest* request,
                     grpc::ServerWriter<v1::ApplyProgress>* writer) override;
  grpc::Status Prune(grpc::ServerContext* context, const v1::PruneRequest* request,
                     v1::PruneResponse* response) override;
  grpc::Status WatchDrift(grpc::ServerContext* context, const v1::WatchDriftRequest* request,
                          grpc::ServerWriter<v1::DriftEvent>* writer) override;

 private:
  std::shared_ptr<DestinationRegistry> registry_;
  const ApplierServiceOptions options_;
};

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_GRPC_APPLIER_SERVICE_H_

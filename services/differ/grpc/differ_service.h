// The differ's gRPC adapter: todoke.differ.v1.Differ over the pure core (services/differ/core).
#ifndef TODOKE_SERVICES_DIFFER_GRPC_DIFFER_SERVICE_H_
#define TODOKE_SERVICES_DIFFER_GRPC_DIFFER_SERVICE_H_

#include "todoke/differ/v1/differ.grpc.pb.h"

namespace todoke::differ {

class DifferService final : public v1::Differ::Service {
 public:
  // Compares desired and live objects. Only a request that cannot be read at all fails;
  // invalid objects come back with status UNKNOWN and an error each.
  grpc::Status Diff(grpc::ServerContext* context, const v1::DiffRequest* request,
                    v1::DiffResponse* response) override;

  // Health of each live object plus the missing keys, and the aggregate.
  grpc::Status AssessHealth(grpc::ServerContext* context, const v1::AssessHealthRequest* request,
                            v1::AssessHealthResponse* response) override;
};

}  // namespace todoke::differ

#endif  // TODOKE_SERVICES_DIFFER_GRPC_DIFFER_SERVICE_H_

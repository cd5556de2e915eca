// ApplierRouter: sends every call for one destination to the same applier replica. An applier
// keeps a watch cache per Kubernetes destination (and a clone and lock per Git branch), so
// spreading one destination's calls over replicas would warm every cache everywhere and answer
// from cold ones. Replicas are the addresses the applier target resolves to (a list, or every
// A/AAAA record of a dns:/// name, re-resolved every `refresh` period); the replica of a
// destination is chosen by rendezvous (highest random weight) hashing, so when replicas come or
// go only the destinations of the replicas that changed move. Thread-safe.
#ifndef TODOKE_SERVICES_ORCHESTRATOR_GRPC_APPLIER_ROUTER_H_
#define TODOKE_SERVICES_ORCHESTRATOR_GRPC_APPLIER_ROUTER_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "todoke/applier/v1/applier.grpc.pb.h"

namespace todoke::orchestrator {

class ApplierRouter {
 public:
  using Stub = applier::v1::Applier::StubInterface;
  // Resolves "host:port" (ip:port, or a name: all its addresses) to "ip:port" replicas.
  using Resolver = std::function<absl::StatusOr<std::vector<std::string>>(const std::string&)>;
  // Makes the stub of one replica address.
  using StubFactory = std::function<absl::StatusOr<std::shared_ptr<Stub>>(const std::string&)>;

  // `target` as MakeChannel takes it: "host:port", "a:p,b:p", or "dns:///name:port".
  // INVALID_ARGUMENT for an empty target.
  static absl::StatusOr<std::unique_ptr<ApplierRouter>> Create(
      const std::string& target, StubFactory stubs, Resolver resolver = nullptr,
      absl::Duration refresh = absl::Seconds(30));

  // The stub for calls about `destination_key` (any stable string naming a destination).
  // UNAVAILABLE when the target resolves to no address.
  absl::StatusOr<std::shared_ptr<Stub>> StubFor(const std::string& destination_key);

  // The replica addresses currently known (sorted).
  std::vector<std::string> Replicas();

  // The replica `key` goes to among `replicas` (rendezvous hashing).
  static const std::string& Pick(const std::vector<std::string>& replicas, const std::string& key);

 private:
  ApplierRouter(std::vector<std::string> names, StubFactory stubs, Resolver resolver,
                absl::Duration refresh);
  void RefreshLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const std::vector<std::string> names_;  // what to resolve: "host:port" each
  const StubFactory stubs_;
  const Resolver resolver_;
  const absl::Duration refresh_;
  absl::Mutex mu_;
  absl::Time resolved_at_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  std::vector<std::string> replicas_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::shared_ptr<Stub>> by_address_ ABSL_GUARDED_BY(mu_);
};

// Every address of "host:port" (getaddrinfo), as "ip:port" / "[ip6]:port".
absl::StatusOr<std::vector<std::string>> ResolveHostPort(const std::string& host_port);

}  // namespace todoke::orchestrator

#endif  // TODOKE_SERVICES_ORCHESTRATOR_GRPC_APPLIER_ROUTER_H_

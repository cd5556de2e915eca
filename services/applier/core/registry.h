// DestinationRegistry: turns a destination named in a request (a Kubernetes context, or a Git
// repository + branch + path) into the Destination that serves it, creating each once and
// keeping it (a Kubernetes destination owns a watch cache; a Git one, a clone and a lock).
//
// Thread-safe. The factories are injected (main.cc wires the real ones), so the registry and the
// gRPC adapter are tested with fakes.
#ifndef TODOKE_SERVICES_APPLIER_CORE_REGISTRY_H_
#define TODOKE_SERVICES_APPLIER_CORE_REGISTRY_H_

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "services/applier/core/destination.h"

namespace todoke::applier {

// A Kubernetes cluster: a context of the applier's kubeconfig ("" = current context, or the
// in-cluster service account when the applier runs without a kubeconfig).
struct KubernetesTarget {
  std::string context;
};

// A branch of a Git repository, and the folder of one app in it.
struct GitTarget {
  std::string repo_url;
  std::string branch;
  std::string path;
  bool push = false;
  bool write_secrets = false;
};

using DestinationTarget = std::variant<KubernetesTarget, GitTarget>;

// The identity a destination is cached under: "kubernetes:<context>" or
// "git:<repo_url>#<branch>:<path>" (push and write_secrets are per call options of the same
// destination, so they are part of the key too).
std::string TargetKey(const DestinationTarget& target);

class DestinationRegistry {
 public:
  using KubernetesFactory =
      std::function<absl::StatusOr<std::shared_ptr<Destination>>(const KubernetesTarget&)>;
  using GitFactory = std::function<absl::StatusOr<std::shared_ptr<Destination>>(const GitTarget&)>;

  // A null factory makes that kind of destination FAILED_PRECONDITION ("this applier has no
  // kubeconfig" and the like, given as `*_unavailable_reason`).
  DestinationRegistry(KubernetesFactory kubernetes, std::string kubernetes_unavailable_reason,
                      GitFactory git);

  // The destination for `target`, created on first use. A failed creation is not cached (the
  // next call tries again) and its error is returned as the factory gave it.
  absl::StatusOr<std::shared_ptr<Destination>> Get(const DestinationTarget& target);

 private:
  const KubernetesFactory kubernetes_;
  const std::string kubernetes_unavailable_reason_;
  const GitFactory git_;
  absl::Mutex mu_;
  std::map<std::string, std::shared_ptr<Destination>> destinations_ ABSL_GUARDED_BY(mu_);
};

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_REGISTRY_H_

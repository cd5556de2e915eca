// Runs an exec credential plugin (kubeconfig users[].user.exec) and reads its ExecCredential.
// Internal to the kube client; exposed for its tests.
#ifndef TODOKE_SERVICES_APPLIER_CORE_KUBE_EXEC_CREDENTIAL_H_
#define TODOKE_SERVICES_APPLIER_CORE_KUBE_EXEC_CREDENTIAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/applier/core/kube/kube_config.h"

namespace todoke::applier::kube {

struct ExecCredential {
  std::string token;
  std::string client_cert_pem;
  std::string client_key_pem;
  // When the credential stops being valid (InfiniteFuture when the plugin named no time).
  absl::Time expiry = absl::InfiniteFuture();
};

// Runs `config.exec` with RunSubprocess (no shell; stdin /dev/null; stderr discarded; its own
// process group, killed with SIGKILL at min(exec.timeout, deadline)); the environment is the
// applier's plus exec.env plus KUBERNETES_EXEC_INFO (with the cluster from `config` when
// provide_cluster_info). UNAVAILABLE when the plugin cannot be started, times out or exits
// non-zero; INTERNAL when its output is not an ExecCredential of the configured apiVersion with a
// token or a certificate and key. Messages name the command, never its arguments or output.
absl::StatusOr<ExecCredential> RunExecCredentialPlugin(const KubeConfig& config,
                                                       absl::Time deadline);

}  // namespace todoke::applier::kube

#endif  // TODOKE_SERVICES_APPLIER_CORE_KUBE_EXEC_CREDENTIAL_H_

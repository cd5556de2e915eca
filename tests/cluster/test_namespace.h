// Test helpers for integration tests that need the real Kubernetes control plane
// started by tests/cluster/start.sh (the CTest fixture "k8s").
//
// The fixture writes an env file (KEY=value lines); CTest passes its path to tests
// in the environment variable TODOKE_K8S_ENV (see todoke_k8s_test() in
// tests/cluster/CMakeLists.txt). By hand:
//   tests/cluster/start.sh /tmp/k8s && TODOKE_K8S_ENV=/tmp/k8s/env ./my_test
#ifndef TODOKE_TESTS_CLUSTER_TEST_NAMESPACE_H_
#define TODOKE_TESTS_CLUSTER_TEST_NAMESPACE_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Note: strings are passed as std::string here, as Debian's Abseil has its own
// absl::string_view distinct from std::string_view.

namespace todoke::testing {

// Where and how to reach the test cluster.
struct ClusterInfo {
  std::string server;      // TODOKE_K8S_SERVER, e.g. "https://127.0.0.1:23456"
  std::string token;       // TODOKE_K8S_TOKEN, bearer token of a system:masters user
  std::string ca_file;     // TODOKE_K8S_CA, PEM file of the CA that signed the server cert
  std::string kubeconfig;  // KUBECONFIG, admin kubeconfig for the same user
  std::string kubectl;  // TODOKE_K8S_KUBECTL, kubectl of the cluster's release ("kubectl" if unset)
  std::string cache_dir;  // KUBECACHEDIR, kubectl's discovery cache (optional)
  std::string env_file;   // the file these were read from
};

// Reads the env file named by $TODOKE_K8S_ENV. FailedPreconditionError when the
// variable is unset or empty (the test is not running under the k8s fixture: a
// test may skip then); NotFoundError when the file is missing; InvalidArgumentError
// when a required key is missing.
absl::StatusOr<ClusterInfo> LoadClusterFromEnv();

// Same, from an explicit env file path.
absl::StatusOr<ClusterInfo> LoadClusterFromFile(const std::string& env_file);

// Runs kubectl (cluster.kubectl, with --kubeconfig=cluster.kubeconfig) with `args`,
// without a shell. Returns its standard output; an error carrying its standard error
// when it exits non-zero.
absl::StatusOr<std::string> RunKubectl(const ClusterInfo& cluster,
                                       const std::vector<std::string>& args);

// Installs a ValidatingAdmissionPolicy and its binding, both named "deny-secret-<ns>", that deny
// every Secret created or updated in namespace `ns` with a message quoting its data.token and
// data.password (CEL prints them as base64), and waits at most 60 s until the API server denies a
// dry-run Secret with it. Returns the policy's name. The caller removes both with
// DeleteSecretEchoPolicy. For tests that an API server echoing Secret values leaks nothing.
absl::StatusOr<std::string> InstallSecretEchoPolicy(const ClusterInfo& cluster,
                                                    const std::string& ns);

// Deletes the policy and binding InstallSecretEchoPolicy made (missing ones are fine).
void DeleteSecretEchoPolicy(const ClusterInfo& cluster, const std::string& policy);

// A namespace with a unique name ("<prefix>-<pid>-<counter>-<random>"), created in
// Create() and deleted (without waiting for it to finish terminating) when the
// object is destroyed. Move-only.
class TestNamespace {
 public:
  // Creates the namespace and waits (at most 30 s) until its default ServiceAccount
  // exists, so pods can be created in it right away. `prefix` must be lowercase
  // letters, digits and '-', at most 30 characters.
  static absl::StatusOr<TestNamespace> Create(const ClusterInfo& cluster,
                                              const std::string& prefix = "todoke-test");

  TestNamespace(TestNamespace&& other) noexcept;
  TestNamespace& operator=(TestNamespace&& other) noexcept;
  TestNamespace(const TestNamespace&) = delete;
  TestNamespace& operator=(const TestNamespace&) = delete;
  ~TestNamespace();

  const std::string& name() const { return name_; }
  const ClusterInfo& cluster() const { return cluster_; }

  // Deletes the namespace now (idempotent); the destructor then does nothing.
  absl::Status Delete();

 private:
  TestNamespace(ClusterInfo cluster, std::string name);

  ClusterInfo cluster_;
  std::string name_;  // empty once deleted or moved from
};

}  // namespace todoke::testing

#endif  // TODOKE_TESTS_CLUSTER_TEST_NAMESPACE_H_

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
#include <utility>
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

// Whether a test that cannot run here must fail instead of skipping: TODOKE_REQUIRE_ALL=1.
bool RequireAll();

// For a test that needs the cluster of $TODOKE_K8S_ENV (use TODOKE_ASSIGN_CLUSTER_OR_SKIP):
// the cluster, or an error whose message says what is missing and how to run the test. Then
// `*skip` is true when the test should skip (TODOKE_K8S_ENV unset, TODOKE_REQUIRE_ALL not 1)
// and false when it must fail (TODOKE_REQUIRE_ALL=1, or an env file that is missing or lacks a
// key: a broken fixture is never a skip).
absl::StatusOr<ClusterInfo> ClusterForTest(bool* skip);

// For a test that starts a control plane of its own from the binaries the k8s fixture built
// (use TODOKE_REQUIRE_K8S_FIXTURE_OR_SKIP): OK under the fixture (TODOKE_K8S_ENV set), else an
// error and `*skip` as for ClusterForTest.
absl::Status K8sFixtureForTest(bool* skip);

// In a test's SetUp or body (GTEST_SKIP and FAIL return from the function; the caller includes
// gtest): `lhs` = the cluster of ClusterForTest, or the test skips or fails with its message.
#define TODOKE_ASSIGN_CLUSTER_OR_SKIP(lhs)                             \
  do {                                                                 \
    bool todoke_skip_ = false;                                         \
    ::absl::StatusOr<::todoke::testing::ClusterInfo> todoke_cluster_ = \
        ::todoke::testing::ClusterForTest(&todoke_skip_);              \
    if (!todoke_cluster_.ok()) {                                       \
      if (todoke_skip_) {                                              \
        GTEST_SKIP() << todoke_cluster_.status().message();            \
      }                                                                \
      FAIL() << todoke_cluster_.status().message();                    \
    }                                                                  \
    lhs = *std::move(todoke_cluster_);                                 \
  } while (false)

// As above for K8sFixtureForTest: returns from the test (skipped or failed) outside the fixture.
#define TODOKE_REQUIRE_K8S_FIXTURE_OR_SKIP()                                                    \
  do {                                                                                          \
    bool todoke_skip_ = false;                                                                  \
    const ::absl::Status todoke_fixture_ = ::todoke::testing::K8sFixtureForTest(&todoke_skip_); \
    if (!todoke_fixture_.ok()) {                                                                \
      if (todoke_skip_) {                                                                       \
        GTEST_SKIP() << todoke_fixture_.message();                                              \
      }                                                                                         \
      FAIL() << todoke_fixture_.message();                                                      \
    }                                                                                           \
  } while (false)

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

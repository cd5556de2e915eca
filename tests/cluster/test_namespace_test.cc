// Checks the C++ helpers against the running test cluster (CTest fixture "k8s").
// Plain main, no test framework: prints PASS/FAIL lines and a summary line.
#include "test_namespace.h"

#include <cstdio>
#include <string>

#include "absl/strings/match.h"

namespace {

int passed = 0;
int failed = 0;

void Check(bool ok, const std::string& what) {
  if (ok) {
    ++passed;
    std::printf("PASS: %s\n", what.c_str());
  } else {
    ++failed;
    std::printf("FAIL: %s\n", what.c_str());
  }
}

}  // namespace

int main() {
  using todoke::testing::ClusterInfo;
  using todoke::testing::RunKubectl;
  using todoke::testing::TestNamespace;

  absl::StatusOr<ClusterInfo> cluster = todoke::testing::LoadClusterFromEnv();
  Check(cluster.ok(), "LoadClusterFromEnv: " + cluster.status().ToString());
  if (cluster.ok()) {
    Check(absl::StartsWith(cluster->server, "https://127.0.0.1:"),
          "server is loopback: " + cluster->server);
    Check(!cluster->token.empty() && !cluster->ca_file.empty() && !cluster->kubeconfig.empty(),
          "token, CA and kubeconfig set");

    std::string name;
    {
      absl::StatusOr<TestNamespace> ns = TestNamespace::Create(*cluster, "cxx-helper");
      Check(ns.ok(), "TestNamespace::Create: " + ns.status().ToString());
      if (ns.ok()) {
        name = ns->name();
        Check(absl::StartsWith(name, "cxx-helper-"), "unique name " + name);
        absl::StatusOr<std::string> phase =
            RunKubectl(*cluster, {"get", "namespace", name, "-o", "jsonpath={.status.phase}"});
        Check(phase.ok() && *phase == "Active",
              "namespace is Active: " + (phase.ok() ? *phase : phase.status().ToString()));
        TestNamespace moved = std::move(*ns);
        Check(moved.name() == name && ns->name().empty(), "move transfers ownership");
      }
    }
    if (!name.empty()) {
      // The destructor asked for deletion: the namespace is Terminating or gone.
      absl::StatusOr<std::string> phase = RunKubectl(
          *cluster,
          {"get", "namespace", name, "--ignore-not-found", "-o", "jsonpath={.status.phase}"});
      Check(phase.ok() && (phase->empty() || *phase == "Terminating"),
            "destructor deletes the namespace: phase '" +
                (phase.ok() ? *phase : phase.status().ToString()) + "'");
    }

    absl::StatusOr<TestNamespace> bad = TestNamespace::Create(*cluster, "Bad_Prefix");
    Check(!bad.ok() && bad.status().code() == absl::StatusCode::kInvalidArgument,
          "invalid prefix rejected");
  }
  absl::StatusOr<ClusterInfo> missing = todoke::testing::LoadClusterFromFile("/nonexistent/env");
  Check(!missing.ok() && missing.status().code() == absl::StatusCode::kNotFound,
        "missing env file -> NotFound");

  std::printf("k8s_cluster_cxx_helper: %d passed, %d failed\n", passed, failed);
  return failed == 0 ? 0 : 1;
}

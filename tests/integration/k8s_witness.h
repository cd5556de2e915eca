// Independent observers and fault injection for end-to-end tests on the real Kubernetes API
// server (tests/cluster), none of them todoke's code:
//   - DeleteWitness: a raw HTTP watch (curl) of one collection that records every DELETED event,
//     resumes from the last resourceVersion when the connection ends (an API server restart ends
//     it), and, where it cannot resume (410 Gone), lists again and counts a tracked object that
//     vanished or came back with another uid as deleted;
//   - StopApiServer / StartApiServer: kube-apiserver of a control plane started by
//     tests/cluster/start.sh DIR stopped (only it; etcd keeps the data) and started again.
#ifndef TODOKE_TESTS_INTEGRATION_K8S_WITNESS_H_
#define TODOKE_TESTS_INTEGRATION_K8S_WITNESS_H_

#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "test_namespace.h"

namespace todoke::testing {

class DeleteWitness {
 public:
  struct Deletion {
    std::string name, uid;
    std::string how;  // "DELETED event" or "missing after a 410 relist" / "new uid after ..."
  };

  // Lists `collection` (an API path such as "/api/v1/namespaces/NS/configmaps") and watches it
  // from the list's resourceVersion. `work_dir` holds the bearer-token header file for curl.
  static absl::StatusOr<std::unique_ptr<DeleteWitness>> Start(const ClusterInfo& cluster,
                                                              const std::string& collection,
                                                              const std::string& work_dir);
  ~DeleteWitness();

  // Every deletion seen so far (events, and objects lost across a gap).
  std::vector<Deletion> Deletions();
  // ADDED/MODIFIED/DELETED events received.
  size_t events();
  // Watch connections opened after the first one (an API server restart makes at least one).
  int reconnects();
  // Times the watch could not resume (410 Gone) and listed again.
  int relists();
  // Lists the collection now and counts as deleted every tracked object that is missing or has
  // another uid (the witness may lag; this catches what it has not received yet).
  absl::Status CheckAgainstList();
  // Waits until the witness has seen every object of a fresh list at its listed resourceVersion
  // and nothing the list lacks (bounded by `timeout`); false when it did not catch up.
  bool CatchUp(absl::Duration timeout);

 private:
  DeleteWitness() = default;
  void Run();
  // GET of the collection: its items (name -> "uid@resourceVersion") and resourceVersion.
  absl::StatusOr<std::pair<std::map<std::string, std::string>, std::string>> List();
  // Marks tracked objects absent from `live` (or with another uid) as deleted; adopts `live`.
  void Reconcile(const std::map<std::string, std::string>& live, const std::string& how)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  ClusterInfo cluster_;
  std::string collection_;
  std::string header_file_;
  std::atomic<bool> stop_{false};
  absl::Mutex mu_;
  // name -> "uid@resourceVersion" of every object the witness knows to exist.
  std::map<std::string, std::string> tracked_ ABSL_GUARDED_BY(mu_);
  std::vector<Deletion> deletions_ ABSL_GUARDED_BY(mu_);
  std::string resource_version_ ABSL_GUARDED_BY(mu_);
  size_t events_ ABSL_GUARDED_BY(mu_) = 0;
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  int relists_ ABSL_GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

// Stops kube-apiserver of the control plane in `cluster_dir` (SIGTERM, SIGKILL after 5 s) and
// returns its command line, to start it again with StartApiServer.
absl::StatusOr<std::vector<std::string>> StopApiServer(const std::string& cluster_dir);

// Starts kube-apiserver again with `argv` (own session, output to DIR/logs/) and records it in
// DIR/pids so that stop.sh ends it; waits (bounded by `timeout`) until /readyz answers through
// `kubectl`.
absl::Status StartApiServer(const std::string& cluster_dir, const std::vector<std::string>& argv,
                            const ClusterInfo& cluster, absl::Duration timeout);

}  // namespace todoke::testing

#endif  // TODOKE_TESTS_INTEGRATION_K8S_WITNESS_H_

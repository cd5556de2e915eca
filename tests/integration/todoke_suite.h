// The five todoke services as real processes on loopback, wired together, for end-to-end tests:
// a source repository and a hydration repository made with `git`, the orchestrator's API stub,
// and the webhook endpoint. Each stage can be stopped and started again on the same port.
#ifndef TODOKE_TESTS_INTEGRATION_TODOKE_SUITE_H_
#define TODOKE_TESTS_INTEGRATION_TODOKE_SUITE_H_

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/integration/process.h"
#include "todoke/orchestrator/v1/orchestrator.grpc.pb.h"

namespace todoke::testing {

class TodokeSuite {
 public:
  struct Options {
    std::vector<std::string> orchestrator_flags;  // extra flags
    // Extra applier flags, e.g. {"--kubeconfig=...", "--installation-id=..."} for a Kubernetes
    // destination.
    std::vector<std::string> applier_flags;
    std::vector<std::string> source_fetcher_flags;  // e.g. {"--credentials=..."}
    // Appended to every stage's flags (last wins), e.g. {"--log-level=debug"}.
    std::vector<std::string> all_stage_flags;
    // Non-empty: each stage's stderr (its log) is appended to <log_dir>/<stage>.log.
    std::string log_dir;
    // Non-empty: the webhook secret instead of the suite's default.
    std::string webhook_secret;
    // Non-empty: api() sends `authorization: Bearer <api_token>` on every call.
    std::string api_token;
  };

  // Starts the five services with their data under `work_dir` (which must exist).
  static absl::StatusOr<std::unique_ptr<TodokeSuite>> Start(const std::string& work_dir,
                                                            Options options);
  ~TodokeSuite();

  // "source-fetcher", "renderer", "differ", "applier", "orchestrator".
  absl::Status StopStage(const std::string& stage, int signal_number);
  absl::Status StartStage(const std::string& stage);

  orchestrator::v1::Orchestrator::Stub& api() { return *api_; }
  const std::string& address(const std::string& stage) { return addresses_[stage]; }
  // host:port of the stage's Prometheus endpoint (/metrics).
  const std::string& metrics_address(const std::string& stage) { return metrics_addresses_[stage]; }
  // The stage's /metrics text.
  absl::StatusOr<std::string> Scrape(const std::string& stage);
  const std::string& webhook_address() const { return webhook_address_; }
  const std::string& webhook_secret() const { return webhook_secret_; }

  // Polls GetApplication until `done(app)` or `timeout`; returns the last Application seen.
  absl::StatusOr<orchestrator::v1::Application> WaitFor(
      const std::string& name,
      const std::function<bool(const orchestrator::v1::Application&)>& done,
      absl::Duration timeout);

  // POSTs a generic webhook (signed with the suite's secret) for `repo_url` and `ref`; returns
  // the HTTP status code.
  absl::StatusOr<int> PostWebhook(const std::string& repo_url, const std::string& ref,
                                  const std::string& secret_override = "");

 private:
  TodokeSuite() = default;
  std::vector<std::string> FlagsOf(const std::string& stage);

  std::string work_dir_;
  Options options_;
  std::map<std::string, std::optional<ChildProcess>> processes_;
  std::map<std::string, std::string> addresses_;
  std::map<std::string, std::string> metrics_addresses_;
  std::string webhook_address_;
  std::string webhook_secret_ = "suite-webhook-secret";
  std::unique_ptr<orchestrator::v1::Orchestrator::Stub> api_;
};

// Every app's events from the orchestrator's Watch stream, recorded on a thread of its own from
// construction until Stop() (or destruction). The constructor returns once the orchestrator has
// registered the stream (its "Ready" event, not recorded), at most 30 s: events published after
// that are all recorded. watching() says whether it was registered in time.
class EventRecorder {
 public:
  explicit EventRecorder(orchestrator::v1::Orchestrator::Stub& api);
  ~EventRecorder();
  EventRecorder(const EventRecorder&) = delete;
  EventRecorder& operator=(const EventRecorder&) = delete;

  // True when the stream was registered before the constructor returned.
  bool watching() const { return watching_; }

  // Ends the stream and returns the events received, in order, each as its DebugString().
  std::vector<std::string> Stop();

 private:
  grpc::ClientContext context_;
  std::mutex mu_;
  std::condition_variable registered_;
  bool ready_ = false;  // the Ready event arrived (guarded by mu_)
  bool ended_ = false;  // the stream ended (guarded by mu_)
  bool watching_ = false;
  std::vector<std::string> events_;
  std::thread thread_;
};

// Where `canary` (as written or base64) appears in `outputs`, each "<what>: <text>": "" when
// nowhere, else the first place with up to 200 bytes of context either side. For the secret
// canary tests.
std::string FindCanary(const std::vector<std::string>& outputs, const std::string& canary);

// What one run of the `todoke` command printed, and its exit code (-1 if it did not exit).
struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};
std::ostream& operator<<(std::ostream& os, const CliResult& result);

// Runs the built `todoke` with `args` as a user runs it: standard input /dev/null (not a
// terminal), TODOKE_SERVER and TODOKE_TOKEN unset, then each "NAME=value" of `env` set; stdout
// and stderr captured through files under `work_dir`. Killed after two minutes (exit code -1,
// stderr says so).
CliResult RunTodoke(const std::string& work_dir, const std::vector<std::string>& args,
                    const std::vector<std::string>& env = {});

}  // namespace todoke::testing

#endif  // TODOKE_TESTS_INTEGRATION_TODOKE_SUITE_H_

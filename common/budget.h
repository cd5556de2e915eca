// The budget of one render: memory (parsed nodes and bytes) and time (a deadline and a
// cancellation flag), shared by every file the render reads and parses. Per-file limits alone
// let a repository of many small files, each within its limits, add up to gigabytes; one budget
// per render keeps the render's memory proportional to its budget whatever the files.
//
// The bound: a render holds at most `max_nodes` parsed YAML/JSON values (about 100 bytes each
// as nlohmann::json, keys included) plus `max_bytes` of text (every file read, and every scalar
// an alias copies). At the defaults (4M nodes, 256 MiB) that is under 700 MB, and the output
// (canonical JSON, YAML) is proportional to it. Going past either is RESOURCE_EXHAUSTED naming
// the file being read or parsed.
//
// Cancellation: the render polls Check() in its loops (per file read, per YAML document, every
// few thousand parsed nodes, per object and step of a Kustomize build), which answers
// DEADLINE_EXCEEDED after the deadline and CANCELLED once the cancel hook says so (the service
// passes its caller's gRPC cancellation).
#ifndef TODOKE_COMMON_BUDGET_H_
#define TODOKE_COMMON_BUDGET_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace todoke {

struct BudgetLimits {
  // Parsed values (after alias expansion) over the whole render.
  int64_t max_nodes = 4'000'000;
  // Bytes of files read plus bytes copied by aliases, over the whole render.
  int64_t max_bytes = int64_t{256} << 20;
};

// Thread-safe: a render charges it from one thread while another may Cancel().
class Budget {
 public:
  explicit Budget(BudgetLimits limits = {}) : limits_(limits) {}
  Budget(const Budget&) = delete;
  Budget& operator=(const Budget&) = delete;

  // Check() fails with DEADLINE_EXCEEDED from `deadline` on.
  void SetDeadline(absl::Time deadline);
  // Check() fails with CANCELLED once `cancelled` returns true (it is polled, and must be cheap
  // and thread-safe, like grpc::ServerContext::IsCancelled).
  void SetCancelHook(std::function<bool()> cancelled);
  // Check() fails with CANCELLED from now on.
  void Cancel() { cancelled_.store(true, std::memory_order_relaxed); }

  // Adds `nodes` and `bytes` to what the render holds. RESOURCE_EXHAUSTED naming `where` (a
  // file, "file:line:column") once either limit is passed; every few thousand nodes it also
  // runs Check().
  absl::Status Charge(int64_t nodes, int64_t bytes, absl::FunctionRef<std::string()> where);
  absl::Status Charge(int64_t nodes, int64_t bytes, absl::string_view where) {
    return Charge(nodes, bytes, [where] { return std::string(where); });
  }

  // OK while the render may go on: DEADLINE_EXCEEDED or CANCELLED (naming `where`) otherwise.
  absl::Status Check(absl::string_view where);

  // The first failure Charge() or Check() returned (a render reports it whatever the code that
  // received it made of it); OK if none.
  absl::Status failure() const;
  // True once Check() has seen the deadline pass or the cancellation.
  bool stopped() const { return stopped_.load(std::memory_order_relaxed); }

  int64_t nodes() const { return nodes_.load(std::memory_order_relaxed); }
  int64_t bytes() const { return bytes_.load(std::memory_order_relaxed); }
  const BudgetLimits& limits() const { return limits_; }

 private:
  void Fail(const absl::Status& status);

  const BudgetLimits limits_;
  std::atomic<int64_t> nodes_{0};
  std::atomic<int64_t> bytes_{0};
  std::atomic<int64_t> next_check_{0};
  std::atomic<bool> cancelled_{false};
  std::atomic<bool> stopped_{false};
  absl::Time deadline_ = absl::InfiniteFuture();
  std::function<bool()> cancel_hook_;
  mutable absl::Mutex mu_;
  absl::Status failure_ ABSL_GUARDED_BY(mu_);
};

// While alive, every YAML and JSON parse on this thread (common/yaml.h) charges `budget`, and
// nested scopes restore the outer one. A render opens one around its build, so parsers deep in
// Kustomize (patches, generators, configurations) need no budget argument of their own.
class ScopedBudget {
 public:
  explicit ScopedBudget(Budget* budget);
  ~ScopedBudget();
  ScopedBudget(const ScopedBudget&) = delete;
  ScopedBudget& operator=(const ScopedBudget&) = delete;

 private:
  Budget* previous_;
};

// The budget of the innermost ScopedBudget on this thread, or null.
Budget* CurrentBudget();

}  // namespace todoke

#endif  // TODOKE_COMMON_BUDGET_H_

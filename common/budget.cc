#include "common/budget.h"

#include "absl/strings/str_cat.h"

namespace todoke {
namespace {

thread_local Budget* current_budget = nullptr;

// Check() runs at most once per this many charged nodes (reading the clock costs more than a
// node does).
constexpr int64_t kNodesPerCheck = 4096;

}  // namespace

void Budget::SetDeadline(absl::Time deadline) { deadline_ = deadline; }

void Budget::SetCancelHook(std::function<bool()> cancelled) { cancel_hook_ = std::move(cancelled); }

void Budget::Fail(const absl::Status& status) {
  absl::MutexLock lock(&mu_);
  if (failure_.ok()) failure_ = status;
}

absl::Status Budget::failure() const {
  absl::MutexLock lock(&mu_);
  return failure_;
}

absl::Status Budget::Charge(int64_t nodes, int64_t bytes, absl::FunctionRef<std::string()> where) {
  const int64_t total_nodes = nodes_.fetch_add(nodes, std::memory_order_relaxed) + nodes;
  const int64_t total_bytes = bytes_.fetch_add(bytes, std::memory_order_relaxed) + bytes;
  if (total_nodes > limits_.max_nodes) {
    absl::Status status = absl::ResourceExhaustedError(absl::StrCat(
        where(), ": the render holds more than ", limits_.max_nodes,
        " parsed YAML/JSON nodes (the limit of one render, over all its files; a document "
        "with many aliases, or too many files?)"));
    Fail(status);
    return status;
  }
  if (total_bytes > limits_.max_bytes) {
    absl::Status status = absl::ResourceExhaustedError(
        absl::StrCat(where(), ": the render reads more than ", limits_.max_bytes,
                     " bytes (the limit of one render: files read plus text copied by aliases)"));
    Fail(status);
    return status;
  }
  if (total_nodes >= next_check_.load(std::memory_order_relaxed)) {
    next_check_.store(total_nodes + kNodesPerCheck, std::memory_order_relaxed);
    return Check(where());
  }
  return absl::OkStatus();
}

absl::Status Budget::Check(absl::string_view where) {
  bool cancelled = cancelled_.load(std::memory_order_relaxed);
  if (!cancelled && cancel_hook_ && cancel_hook_()) {
    cancelled = true;
    cancelled_.store(true, std::memory_order_relaxed);
  }
  absl::Status status;
  if (cancelled) {
    status = absl::CancelledError(absl::StrCat("render cancelled (at ", where, ")"));
  } else if (deadline_ != absl::InfiniteFuture() && absl::Now() >= deadline_) {
    status = absl::DeadlineExceededError(absl::StrCat("render deadline exceeded (at ", where, ")"));
  } else {
    return absl::OkStatus();
  }
  stopped_.store(true, std::memory_order_relaxed);
  Fail(status);
  return status;
}

ScopedBudget::ScopedBudget(Budget* budget) : previous_(current_budget) { current_budget = budget; }

ScopedBudget::~ScopedBudget() { current_budget = previous_; }

Budget* CurrentBudget() { return current_budget; }

}  // namespace todoke

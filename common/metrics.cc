#include "common/metrics.h"

#include <prometheus/collectable.h>
#include <prometheus/exposer.h>

#include <chrono>
#include <mutex>

#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"

namespace todoke {
namespace {

struct MetricsState {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  absl::Mutex mu;
  std::map<std::string, prometheus::Family<prometheus::Counter>*> counters ABSL_GUARDED_BY(mu);
  std::map<std::string, prometheus::Family<prometheus::Gauge>*> gauges ABSL_GUARDED_BY(mu);
  std::map<std::string, prometheus::Family<prometheus::Histogram>*> histograms ABSL_GUARDED_BY(mu);
  std::vector<std::function<void()>> scrape_hooks ABSL_GUARDED_BY(mu);
  std::unique_ptr<prometheus::Exposer> exposer ABSL_GUARDED_BY(mu);
};

MetricsState& State() {
  static MetricsState* state = new MetricsState();
  return *state;
}

// Runs the scrape hooks, then hands the registry's families to the exposer.
class HookedCollectable : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override {
    std::vector<std::function<void()>> hooks;
    {
      absl::MutexLock lock(&State().mu);
      hooks = State().scrape_hooks;
    }
    for (const auto& hook : hooks) hook();
    return State().registry->Collect();
  }
};

const prometheus::Histogram::BucketBoundaries& DefaultBuckets() {
  static const auto* buckets = new prometheus::Histogram::BucketBoundaries{
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120};
  return *buckets;
}

class MetricsInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit MetricsInterceptor(grpc::experimental::ServerRpcInfo* info)
      : method_(info->method() != nullptr ? info->method() : "unknown"),
        start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      grpc::Status status = methods->GetSendStatus();
      double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      MetricCounter("todoke_grpc_server_handled_total",
                    "gRPC calls served, by method and status code",
                    {{"method", method_}, {"code", CodeName(status.error_code())}})
          .Increment();
      MetricHistogram("todoke_grpc_server_handling_seconds", "gRPC call latency, by method",
                      {{"method", method_}})
          .Observe(seconds);
    }
    methods->Proceed();
  }

 private:
  static std::string CodeName(grpc::StatusCode code) {
    static const char* const kNames[] = {"OK",
                                         "CANCELLED",
                                         "UNKNOWN",
                                         "INVALID_ARGUMENT",
                                         "DEADLINE_EXCEEDED",
                                         "NOT_FOUND",
                                         "ALREADY_EXISTS",
                                         "PERMISSION_DENIED",
                                         "RESOURCE_EXHAUSTED",
                                         "FAILED_PRECONDITION",
                                         "ABORTED",
                                         "OUT_OF_RANGE",
                                         "UNIMPLEMENTED",
                                         "INTERNAL",
                                         "UNAVAILABLE",
                                         "DATA_LOSS",
                                         "UNAUTHENTICATED"};
    int i = static_cast<int>(code);
    return i >= 0 && i < 17 ? kNames[i] : "UNKNOWN";
  }

  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class MetricsInterceptorFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    return new MetricsInterceptor(info);
  }
};

}  // namespace

prometheus::Registry& MetricsRegistry() { return *State().registry; }

prometheus::Counter& MetricCounter(const std::string& name, const std::string& help,
                                   const std::map<std::string, std::string>& labels) {
  MetricsState& state = State();
  absl::MutexLock lock(&state.mu);
  auto& family = state.counters[name];
  if (family == nullptr) {
    family = &prometheus::BuildCounter().Name(name).Help(help).Register(*state.registry);
  }
  return family->Add(labels);
}

prometheus::Gauge& MetricGauge(const std::string& name, const std::string& help,
                               const std::map<std::string, std::string>& labels) {
  MetricsState& state = State();
  absl::MutexLock lock(&state.mu);
  auto& family = state.gauges[name];
  if (family == nullptr) {
    family = &prometheus::BuildGauge().Name(name).Help(help).Register(*state.registry);
  }
  return family->Add(labels);
}

prometheus::Histogram& MetricHistogram(const std::string& name, const std::string& help,
                                       const std::map<std::string, std::string>& labels,
                                       std::vector<double> buckets) {
  MetricsState& state = State();
  absl::MutexLock lock(&state.mu);
  auto& family = state.histograms[name];
  if (family == nullptr) {
    family = &prometheus::BuildHistogram().Name(name).Help(help).Register(*state.registry);
  }
  if (buckets.empty()) return family->Add(labels, DefaultBuckets());
  return family->Add(labels, prometheus::Histogram::BucketBoundaries(buckets));
}

void OnMetricsScrape(std::function<void()> update) {
  absl::MutexLock lock(&State().mu);
  State().scrape_hooks.push_back(std::move(update));
}

absl::StatusOr<std::string> StartMetricsServer(const std::string& listen) {
  size_t colon = listen.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(listen.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("--metrics-listen: want host:port, got \"", listen, "\""));
  }
  static const std::shared_ptr<HookedCollectable>* collectable =
      new std::shared_ptr<HookedCollectable>(std::make_shared<HookedCollectable>());
  MetricsState& state = State();
  absl::MutexLock lock(&state.mu);
  if (state.exposer != nullptr) return absl::FailedPreconditionError("metrics already served");
  try {
    // prometheus-cpp (civetweb) reports a failed bind by throwing; it never leaves this function.
    state.exposer = std::make_unique<prometheus::Exposer>(listen, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        absl::StrCat("metrics: cannot listen on ", listen, ": ", e.what()));
  }
  state.exposer->RegisterCollectable(*collectable, "/metrics");
  std::vector<int> ports = state.exposer->GetListeningPorts();
  if (ports.empty())
    return absl::UnavailableError(absl::StrCat("metrics: not listening on ", listen));
  return absl::StrCat(listen.substr(0, colon), ":", ports.front());
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory() {
  return std::make_unique<MetricsInterceptorFactory>();
}

}  // namespace todoke

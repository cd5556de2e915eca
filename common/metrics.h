// Prometheus metrics for every todoke service (prometheus-cpp from Debian): one process-wide
// registry, served as Prometheus text on --metrics-listen by prometheus-cpp's exposer, plus a
// gRPC server interceptor that counts every call by method and code with a latency histogram.
//
// Label values never grow with apps, repositories, commits or objects: only fixed sets (gRPC
// method and code, stage, result, status) are used as labels, so the number of series is the
// same at 10 apps and at 1,000.
#ifndef TODOKE_COMMON_METRICS_H_
#define TODOKE_COMMON_METRICS_H_

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace todoke {

// The process-wide registry every metric of a service is added to.
prometheus::Registry& MetricsRegistry();

// A counter of the family `name` (created on first use) with `labels`. The reference stays valid
// for the life of the process. Thread-safe.
prometheus::Counter& MetricCounter(const std::string& name, const std::string& help,
                                   const std::map<std::string, std::string>& labels = {});
prometheus::Gauge& MetricGauge(const std::string& name, const std::string& help,
                               const std::map<std::string, std::string>& labels = {});
// Buckets in seconds; the default suits RPCs and reconciles (1 ms .. 2 min).
prometheus::Histogram& MetricHistogram(const std::string& name, const std::string& help,
                                       const std::map<std::string, std::string>& labels = {},
                                       std::vector<double> buckets = {});

// Runs `update` before every scrape (e.g. to set gauges from a queue's depth). Thread-safe.
void OnMetricsScrape(std::function<void()> update);

// Serves the registry on `listen` ("host:port"; port 0 picks one) at /metrics until the process
// ends. Returns the bound "host:port". UNAVAILABLE naming the address if it cannot bind.
absl::StatusOr<std::string> StartMetricsServer(const std::string& listen);

// Counts every call of a gRPC server: todoke_grpc_server_handled_total{method,code} and
// todoke_grpc_server_handling_seconds{method}. Add it with
// ServerBuilder::experimental().SetInterceptorCreators.
std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
MakeMetricsInterceptorFactory();

}  // namespace todoke

#endif  // TODOKE_COMMON_METRICS_H_

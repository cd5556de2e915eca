// applier_bench: the real todoke-applier binary over gRPC against `kubectl apply --server-side`,
// both on the test control plane of tests/cluster and measured in the same run:
//   1. apply 1,000 objects: 100 apps x 10 (4 ConfigMaps, a Secret, a ServiceAccount, 2 Services,
//      2 Deployments with 0 replicas), one namespace per app. todoke: 100 Apply calls, at most
//      --concurrent-applies at once. kubectl: one `kubectl apply --server-side -f DIR` over the 100
//      files of the same objects (in their own namespaces). Both tools applied a warm-up app first
//      (discovery, OpenAPI, connections and watches warm);
//   2. the same set again: nothing changes (todoke must answer "unchanged" for every object);
//   3. 10,000 small ConfigMaps (1,000 apps x 10 in 10 namespaces): the applier's RSS before and
//      after its watch cache holds them (/proc/PID/status), then ReadLive of each of the 1,000 apps
//      (its 10 keys) over gRPC, one call at a time: p50, p99 per call; and with 8 callers at once.
//      Last, the RSS of a second, fresh applier that lists all of them at start.
// Every figure is wall time of the whole operation, with the CPU seconds of each side (the client
// tool, the applier, kube-apiserver, etcd, the rest of the control plane), the machine's idle
// share and the API server's requests by verb (from its /metrics), to show where time went.
// Before each timed phase the controllers finish with earlier Deployments and the control plane
// goes idle (not timed). The test etcd runs with --unsafe-no-fsync: writes cost less than on a
// real cluster, which favours neither tool (both wait for the same API server) but makes the
// absolute figures lower. Exit 1 when an operation fails or a result is wrong, never on timings.
//
// Run (the cluster first; bench/applier/run.sh does all of this, N times):
//   tests/cluster/start.sh /tmp/k8s-bench
//   build/bin/applier_bench --cluster-env=/tmp/k8s-bench/env [--concurrent-applies=100]
//       [--kube-qps=2000 --kube-burst=4000 --kube-max-in-flight=64 --apply-concurrency=16]
//       [--apps=100 --cache-apps=1000 --cache-namespaces=10 --readlive-rounds=3
//        --readlive-callers=8] [--kubectl-first] [--no-cache-phase] [--keep]
//   tests/cluster/stop.sh /tmp/k8s-bench
// TODOKE_BIN_DIR names the folder of the todoke-applier to start (default build/bin).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/grpc_client.h"
#include "common/json_parse.h"
#include "common/object.h"
#include "common/proto_convert.h"
#include "common/status.h"
#include "common/yaml.h"
#include "test_namespace.h"
#include "tests/integration/process.h"
#include "todoke/applier/v1/applier.grpc.pb.h"

namespace todoke::bench {
namespace {

namespace v1 = ::todoke::applier::v1;

struct Options {
  std::string cluster_env;
  int apps = 100;                // x 10 objects
  int concurrent_applies = 100;  // Apply calls in flight at once (client side)
  double kube_qps = 2000;        // the applier's flags
  int kube_burst = 4000;
  int kube_max_in_flight = 64;
  int apply_concurrency = 16;
  int cache_apps = 1000;  // x 10 ConfigMaps for the cache phase
  int cache_namespaces = 10;
  int readlive_rounds = 3;     // ReadLive of every cache app, this many times
  int readlive_callers = 8;    // the concurrent ReadLive row
  bool kubectl_first = false;  // order of the two tools in phases 1 and 2
  bool keep = false;           // leave the namespaces (default: deleted at the end)
  bool cache_phase = true;     // --no-cache-phase: only the apply phases (for profiling)
};

double Since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// ---- /proc -----------------------------------------------------------------------------------

// CPU seconds (user + system) `pid` has used so far; 0 when it is gone.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));  // after "pid (comm) "
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// A field of /proc/PID/status in KiB ("VmRSS", "VmHWM"); -1 when missing.
long StatusKib(pid_t pid, const std::string& field) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0)
      return std::strtol(line.c_str() + field.size() + 1, nullptr, 10);
  }
  return -1;
}

int ThreadCount(pid_t pid) { return static_cast<int>(StatusKib(pid, "Threads")); }

// The control plane's processes, from the cluster's pids file (DIR/pids: "name pid" lines).
struct ControlPlane {
  std::vector<std::pair<std::string, pid_t>> processes;

  double Cpu(const std::string& name) const {
    for (const auto& [n, pid] : processes) {
      if (n == name) return ProcessCpuSeconds(pid);
    }
    return 0;
  }
  double TotalCpu() const {
    double total = 0;
    for (const auto& [unused, pid] : processes) total += ProcessCpuSeconds(pid);
    return total;
  }
};

ControlPlane LoadControlPlane(const std::string& env_file) {
  ControlPlane plane;
  const std::string dir = env_file.substr(0, env_file.rfind('/'));
  std::ifstream pids(dir + "/pids");
  std::string name;
  pid_t pid;
  while (pids >> name >> pid) plane.processes.emplace_back(name, pid);
  return plane;
}

// Waits until the control plane uses less than a quarter of a core over half a second (the
// controllers finished what the previous phase started), at most 20 s. Returns the seconds waited.
double Settle(const ControlPlane& plane) {
  const auto start = std::chrono::steady_clock::now();
  while (Since(start) < 20) {
    const double before = plane.TotalCpu();
    absl::SleepFor(absl::Milliseconds(500));
    if (plane.TotalCpu() - before < 0.125) break;
  }
  return Since(start);
}

// CPU used by each side during one timed phase.
struct CpuSplit {
  double client = 0;  // kubectl (rusage of the process) or the applier
  double apiserver = 0;
  double etcd = 0;
  double other = 0;         // controller manager, scheduler, kwok
  double machine_idle = 0;  // share of the machine's CPU time left idle (0..1)
  double Total() const { return client + apiserver + etcd + other; }
};

// The machine's CPU ticks from /proc/stat: {idle (idle + iowait), all}.
std::pair<unsigned long long, unsigned long long> MachineTicks() {
  std::ifstream stat("/proc/stat");
  std::string cpu;
  stat >> cpu;
  unsigned long long value = 0, idle = 0, total = 0;
  for (int i = 0; i < 10 && stat >> value; ++i) {
    total += value;
    if (i == 3 || i == 4) idle += value;
  }
  return {idle, total};
}

class CpuMeter {
 public:
  CpuMeter(const ControlPlane& plane, pid_t applier)
      : plane_(plane),
        applier_(applier),
        apiserver_(plane.Cpu("kube-apiserver")),
        etcd_(plane.Cpu("etcd")),
        total_(plane.TotalCpu()),
        applier_cpu_(applier > 0 ? ProcessCpuSeconds(applier) : 0),
        ticks_(MachineTicks()) {}
  CpuSplit Stop(double client_cpu = -1) const {
    CpuSplit split;
    const auto ticks = MachineTicks();
    if (ticks.second > ticks_.second) {
      split.machine_idle = static_cast<double>(ticks.first - ticks_.first) /
                           static_cast<double>(ticks.second - ticks_.second);
    }
    split.apiserver = plane_.Cpu("kube-apiserver") - apiserver_;
    split.etcd = plane_.Cpu("etcd") - etcd_;
    split.other = plane_.TotalCpu() - total_ - split.apiserver - split.etcd;
    split.client = client_cpu >= 0 ? client_cpu : ProcessCpuSeconds(applier_) - applier_cpu_;
    return split;
  }

 private:
  const ControlPlane& plane_;
  pid_t applier_;
  double apiserver_, etcd_, total_, applier_cpu_;
  std::pair<unsigned long long, unsigned long long> ticks_;
};

// ---- kubectl ---------------------------------------------------------------------------------

struct Run {
  int exit_status = -1;
  double wall = 0;
  double cpu = 0;  // user + system of the process and its children
  std::string out;
  std::string err;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Runs `argv` (no shell), stdout and stderr to files under `scratch`, and times it.
absl::StatusOr<Run> RunTimed(const std::vector<std::string>& argv, const std::string& scratch) {
  const std::string out_path = scratch + "/out.txt";
  const std::string err_path = scratch + "/err.txt";
  const auto start = std::chrono::steady_clock::now();
  const pid_t pid = fork();
  if (pid < 0) return absl::InternalError("fork failed");
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out < 0 || err < 0) _exit(126);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  struct rusage usage {};
  // Bounded by the caller's phase: kubectl has --request-timeout on every request.
  if (wait4(pid, &status, 0, &usage) != pid) return absl::InternalError("wait4 failed");
  Run run;
  run.wall = Since(start);
  run.cpu = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec * 1e-6 + usage.ru_stime.tv_sec +
            usage.ru_stime.tv_usec * 1e-6;
  run.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  run.out = ReadFile(out_path);
  run.err = ReadFile(err_path);
  return run;
}

class Kubectl {
 public:
  Kubectl(const testing::ClusterInfo& cluster, std::string scratch)
      : cluster_(cluster), scratch_(std::move(scratch)) {}

  absl::StatusOr<Run> operator()(std::vector<std::string> args) const {
    std::vector<std::string> argv = {cluster_.kubectl, "--kubeconfig=" + cluster_.kubeconfig,
                                     "--request-timeout=60s"};
    if (!cluster_.cache_dir.empty()) argv.push_back("--cache-dir=" + cluster_.cache_dir);
    argv.insert(argv.end(), args.begin(), args.end());
    absl::StatusOr<Run> run = RunTimed(argv, scratch_);
    if (!run.ok()) return run.status();
    if (run->exit_status != 0) {
      return absl::InternalError(absl::StrCat("kubectl ", absl::StrJoin(args, " "), ": exit ",
                                              run->exit_status, ": ", run->err.substr(0, 2000)));
    }
    return run;
  }

 private:
  const testing::ClusterInfo& cluster_;
  std::string scratch_;
};

size_t CountLines(const std::string& text, const std::string& needle) {
  size_t count = 0;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) count += line.find(needle) != std::string::npos;
  return count;
}

// The API server's request counters (apiserver_request_total from /metrics), summed by verb.
absl::StatusOr<std::map<std::string, double>> RequestCounts(const Kubectl& kubectl) {
  absl::StatusOr<Run> metrics = kubectl({"get", "--raw", "/metrics"});
  if (!metrics.ok()) return metrics.status();
  std::map<std::string, double> by_verb;
  std::istringstream in(metrics->out);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("apiserver_request_total{", 0) != 0) continue;
    const size_t verb = line.find("verb=\"");
    const size_t space = line.rfind(' ');
    if (verb == std::string::npos || space == std::string::npos) continue;
    const size_t end = line.find('"', verb + 6);
    by_verb[line.substr(verb + 6, end - verb - 6)] +=
        std::strtod(line.c_str() + space + 1, nullptr);
  }
  return by_verb;
}

std::string RequestDelta(const std::map<std::string, double>& before,
                         const std::map<std::string, double>& after) {
  std::vector<std::string> parts;
  double total = 0;
  for (const auto& [verb, count] : after) {
    auto it = before.find(verb);
    const double delta = count - (it == before.end() ? 0 : it->second);
    if (delta < 1) continue;
    total += delta;
    parts.push_back(absl::StrFormat("%s %.0f", verb, delta));
  }
  return absl::StrFormat("%.0f: %s", total, absl::StrJoin(parts, ", "));
}

// Waits until the controllers are done with every benchmark Deployment (observedGeneration
// caught up, Progressing says NewReplicaSetAvailable): the controller manager writes their status
// at its own client-side rate (20 QPS by default) well after the apply returns, and those writes
// would otherwise land inside the next timed phase. At most 180 s; returns the seconds waited.
absl::StatusOr<double> WaitDeploymentsSettled(const Kubectl& kubectl) {
  const auto start = std::chrono::steady_clock::now();
  while (true) {
    absl::StatusOr<Run> listed = kubectl(
        {"get", "deployments", "-A", "-l", "app.kubernetes.io/part-of=bench", "-o", "json"});
    if (!listed.ok()) return listed.status();
    absl::StatusOr<Json> list = ParseJson(listed->out);
    if (!list.ok()) return list.status();
    size_t pending = 0;
    for (const Json& item : list->value("items", Json::array())) {
      const Json metadata = item.value("metadata", Json::object());
      const Json status = item.value("status", Json::object());
      bool progressed = false;
      for (const Json& condition : status.value("conditions", Json::array())) {
        progressed |= condition.value("type", "") == "Progressing" &&
                      condition.value("reason", "") == "NewReplicaSetAvailable";
      }
      if (!progressed || status.value("observedGeneration", int64_t{-1}) !=
                             metadata.value("generation", int64_t{-2})) {
        ++pending;
      }
    }
    if (pending == 0) return Since(start);
    if (Since(start) > 180) {
      return absl::DeadlineExceededError(
          absl::StrCat(pending, " Deployments still not settled by the controllers after 180 s"));
    }
    absl::SleepFor(absl::Seconds(1));
  }
}

// ---- objects ---------------------------------------------------------------------------------

std::string Base64(const std::string& in) {
  static const char* kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int value = 0, bits = -6;
  for (unsigned char c : in) {
    value = (value << 8) + c;
    bits += 8;
    while (bits >= 0) {
      out.push_back(kAlphabet[(value >> bits) & 0x3F]);
      bits -= 6;
    }
  }
  if (bits > -6) out.push_back(kAlphabet[((value << 8) >> (bits + 8)) & 0x3F]);
  while (out.size() % 4) out.push_back('=');
  return out;
}

Json Metadata(const std::string& name, const std::string& ns, const std::string& app) {
  return Json{
      {"name", name},
      {"namespace", ns},
      {"labels", {{"app.kubernetes.io/name", app}, {"app.kubernetes.io/part-of", "bench"}}}};
}

Json Deployment(const std::string& name, const std::string& ns, const std::string& app) {
  Json container = {
      {"name", name},
      {"image", "registry.example.com/" + name + ":1.4.2"},
      {"ports", Json::array({{{"containerPort", 8080}, {"name", "http"}}})},
      {"envFrom", Json::array({{{"configMapRef", {{"name", app + "-config-0"}}}}})},
      {"resources",
       {{"requests", {{"cpu", "100m"}, {"memory", "128Mi"}}}, {"limits", {{"memory", "256Mi"}}}}},
      {"readinessProbe", {{"httpGet", {{"path", "/healthz"}, {"port", "http"}}}}}};
  Json labels = {{"app.kubernetes.io/name", app}, {"app.kubernetes.io/component", name}};
  return Json{
      {"apiVersion", "apps/v1"},
      {"kind", "Deployment"},
      {"metadata", Metadata(name, ns, app)},
      {"spec",
       {{"replicas", 0},
        {"selector", {{"matchLabels", labels}}},
        {"template",
         {{"metadata", {{"labels", labels}}},
          {"spec", {{"serviceAccountName", app}, {"containers", Json::array({container})}}}}}}}};
}

// The 10 objects of app `app` in namespace `ns`, in a fixed order.
std::vector<Json> AppObjects(const std::string& app, const std::string& ns) {
  std::vector<Json> objects;
  for (int i = 0; i < 4; ++i) {
    Json data = {
        {"LOG_LEVEL", "info"},
        {"LISTEN", ":8080"},
        {"FEATURE_FLAGS", "search,checkout,recommendations"},
        {"settings.yaml", "cache:\n  ttl: 300s\n  size: 1024\nupstream: http://backend:80\n"}};
    objects.push_back({{"apiVersion", "v1"},
                       {"kind", "ConfigMap"},
                       {"metadata", Metadata(app + "-config-" + std::to_string(i), ns, app)},
                       {"data", data}});
  }
  objects.push_back(
      {{"apiVersion", "v1"},
       {"kind", "Secret"},
       {"metadata", Metadata(app + "-credentials", ns, app)},
       {"type", "Opaque"},
       {"data",
        {{"username", Base64("bench")}, {"password", Base64("not-a-real-password-" + app)}}}});
  objects.push_back(
      {{"apiVersion", "v1"}, {"kind", "ServiceAccount"}, {"metadata", Metadata(app, ns, app)}});
  Json selector = {{"app.kubernetes.io/name", app}};
  objects.push_back(
      {{"apiVersion", "v1"},
       {"kind", "Service"},
       {"metadata", Metadata(app, ns, app)},
       {"spec",
        {{"selector", selector},
         {"ports", Json::array({{{"name", "http"}, {"port", 80}, {"targetPort", "http"}}})}}}});
  objects.push_back({{"apiVersion", "v1"},
                     {"kind", "Service"},
                     {"metadata", Metadata(app + "-headless", ns, app)},
                     {"spec",
                      {{"clusterIP", "None"},
                       {"selector", selector},
                       {"ports", Json::array({{{"name", "http"}, {"port", 8080}}})}}}});
  objects.push_back(Deployment(app + "-web", ns, app));
  objects.push_back(Deployment(app + "-worker", ns, app));
  return objects;
}

// A small ConfigMap for the cache phase.
Json SmallConfigMap(const std::string& name, const std::string& ns, const std::string& app) {
  return Json{{"apiVersion", "v1"},
              {"kind", "ConfigMap"},
              {"metadata", Metadata(name, ns, app)},
              {"data", {{"key", "value-" + name}}}};
}

struct App {
  std::string name;
  std::vector<Json> objects;
};

v1::ApplyRequest ApplyRequestOf(const App& app) {
  v1::ApplyRequest request;
  request.mutable_destination()->mutable_kubernetes();
  request.set_app_name(app.name);
  request.set_operation_id(absl::StrCat(app.name, "-", absl::ToUnixNanos(absl::Now())));
  for (const Json& object : app.objects) {
    types::v1::KubeObject* proto = request.add_objects();
    *proto->mutable_key() = ToProto(*KeyOf(object));
    proto->set_json(CanonicalJson(object));
  }
  return request;
}

// ---- gRPC ------------------------------------------------------------------------------------

struct ApplyTotals {
  double wall = 0;
  uint64_t created = 0, configured = 0, unchanged = 0, failed = 0, skipped = 0;
  std::vector<std::string> errors;
  std::vector<std::string> configured_keys;  // the first few objects reported configured
  std::vector<double> per_call;              // seconds of each Apply call
};

// Applies every app as one Apply call, `concurrency` calls at once; wall time of the whole.
ApplyTotals ApplyAll(v1::Applier::Stub& stub, const std::vector<App>& apps, int concurrency) {
  std::vector<v1::ApplyRequest> requests;
  requests.reserve(apps.size());
  for (const App& app : apps) requests.push_back(ApplyRequestOf(app));
  ApplyTotals totals;
  totals.per_call.assign(apps.size(), 0);
  absl::Mutex mu;
  std::atomic<size_t> next{0};
  auto worker = [&] {
    for (size_t i = next++; i < requests.size(); i = next++) {
      const auto start = std::chrono::steady_clock::now();
      auto context = ContextWithTimeout(absl::Minutes(5));
      std::unique_ptr<grpc::ClientReader<v1::ApplyProgress>> reader =
          stub.Apply(context.get(), requests[i]);
      v1::ApplyProgress progress;
      std::optional<v1::ApplySummary> summary;
      std::string first_failure;
      std::vector<std::string> configured;
      while (reader->Read(&progress)) {
        if (progress.has_summary()) summary = progress.summary();
        if (progress.has_object() && progress.object().action() == v1::APPLY_ACTION_CONFIGURED) {
          configured.push_back(absl::StrCat(FromProto(progress.object().key()).ToString(), " rv ",
                                            progress.object().resource_version()));
        }
        if (progress.has_object() && progress.object().action() == v1::APPLY_ACTION_FAILED &&
            first_failure.empty()) {
          first_failure = absl::StrCat(FromProto(progress.object().key()).ToString(), ": ",
                                       progress.object().message());
        }
      }
      const grpc::Status status = reader->Finish();
      const double seconds = Since(start);
      absl::MutexLock lock(&mu);
      totals.per_call[i] = seconds;
      for (std::string& key : configured) {
        if (totals.configured_keys.size() < 5) totals.configured_keys.push_back(std::move(key));
      }
      if (!status.ok() || !summary) {
        totals.errors.push_back(absl::StrCat(requests[i].app_name(), ": ", status.error_message(),
                                             summary ? "" : " (no summary)"));
        continue;
      }
      totals.created += summary->created();
      totals.configured += summary->configured();
      totals.unchanged += summary->unchanged();
      totals.failed += summary->failed();
      totals.skipped += summary->skipped();
      if (!summary->succeeded()) {
        totals.errors.push_back(
            absl::StrCat(requests[i].app_name(), ": ", summary->message(), " ", first_failure));
      }
    }
  };
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  const size_t count = std::min<size_t>(std::max(1, concurrency), requests.size());
  for (size_t t = 0; t < count; ++t) threads.emplace_back(worker);
  for (std::thread& thread : threads) thread.join();
  totals.wall = Since(start);
  return totals;
}

v1::ReadLiveRequest ReadLiveRequestOf(const App& app) {
  v1::ReadLiveRequest request;
  request.mutable_destination()->mutable_kubernetes();
  request.set_app_name(app.name);
  for (const Json& object : app.objects) *request.add_keys() = ToProto(*KeyOf(object));
  return request;
}

// One ReadLive call: its latency in seconds, or why it failed or answered wrong (every key
// must come back with a resourceVersion, none absent).
absl::StatusOr<double> ReadLiveOnce(v1::Applier::Stub& stub, const v1::ReadLiveRequest& request,
                                    size_t* response_bytes) {
  v1::ReadLiveResponse response;
  const auto start = std::chrono::steady_clock::now();
  auto context = ContextWithTimeout(absl::Seconds(30));
  const grpc::Status status = stub.ReadLive(context.get(), request, &response);
  const double seconds = Since(start);
  if (!status.ok()) {
    return absl::Status(
        static_cast<absl::StatusCode>(status.error_code()),
        absl::StrCat("ReadLive ", request.app_name(), ": ", status.error_message()));
  }
  if (response.objects_size() != request.keys_size() || response.absent_size() != 0 ||
      response.resource_versions_size() != request.keys_size()) {
    return absl::InternalError(absl::StrCat(
        "ReadLive ", request.app_name(), ": ", response.objects_size(), " objects and ",
        response.absent_size(), " absent for ", request.keys_size(), " keys"));
  }
  if (response_bytes != nullptr) *response_bytes = response.ByteSizeLong();
  return seconds;
}

double Percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t rank = static_cast<size_t>(std::ceil(p * values.size()));
  rank = std::clamp<size_t>(rank, 1, values.size());
  return values[rank - 1];
}

// ---- the run ---------------------------------------------------------------------------------

struct Row {
  std::string what;
  double wall = 0;
  CpuSplit cpu;
  std::string note;
  std::string requests;  // requests the API server served during the phase, by verb
};

void PrintRows(const std::vector<Row>& rows) {
  std::printf("\n%-42s %7s %7s %9s %6s %6s %6s %6s  %s\n", "phase", "wall s", "client", "apiserver",
              "etcd", "other", "cores", "idle", "note");
  for (const Row& row : rows) {
    std::printf("%-42s %7.2f %7.2f %9.2f %6.2f %6.2f %6.2f %5.0f%%  %s\n", row.what.c_str(),
                row.wall, row.cpu.client, row.cpu.apiserver, row.cpu.etcd, row.cpu.other,
                row.cpu.Total() / row.wall, row.cpu.machine_idle * 100, row.note.c_str());
  }
  std::printf(
      "(CPU seconds used during the phase: client = kubectl or todoke-applier; other = "
      "controller manager, scheduler, kwok; cores = their sum / wall; idle = the machine's "
      "idle CPU share meanwhile: near 0%% means the phase was bound by CPU, shared with "
      "whatever else runs on the machine)\n");
  std::printf(
      "\nrequests the API server served during each phase, by verb (every client, the "
      "controllers included):\n");
  for (const Row& row : rows) {
    if (!row.requests.empty()) std::printf("  %-44s %s\n", row.what.c_str(), row.requests.c_str());
  }
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Waits until no namespace named "ab-*" is left from an earlier run (their deletion would
// compete for the control plane), at most 5 minutes.
absl::Status WaitForEarlierRuns(const Kubectl& kubectl) {
  const auto start = std::chrono::steady_clock::now();
  bool said = false;
  while (true) {
    absl::StatusOr<Run> names = kubectl({"get", "namespaces", "-o", "name"});
    if (!names.ok()) return names.status();
    size_t left = CountLines(names->out, "namespace/ab-");
    if (left == 0) break;
    if (Since(start) > 300) {
      return absl::DeadlineExceededError(
          absl::StrCat(left, " namespaces of an earlier run (ab-*) still exist after 5 minutes"));
    }
    if (!said) {
      std::printf("waiting for %zu namespaces of an earlier run (ab-*) to go away...\n", left);
      std::fflush(stdout);
      said = true;
    }
    absl::SleepFor(absl::Seconds(2));
  }
  return absl::OkStatus();
}

int Fail(const absl::Status& status) {
  std::fprintf(stderr, "applier_bench: %s\n", std::string(status.message()).c_str());
  return 1;
}

int RunBench(const Options& options) {
  absl::StatusOr<testing::ClusterInfo> cluster = testing::LoadClusterFromFile(options.cluster_env);
  if (!cluster.ok()) return Fail(cluster.status());
  const ControlPlane plane = LoadControlPlane(options.cluster_env);
  if (plane.processes.empty()) {
    return Fail(
        absl::FailedPreconditionError("no pids file next to the env file: start the cluster "
                                      "with tests/cluster/start.sh"));
  }
  char scratch_template[] = "/tmp/applier-bench-XXXXXX";
  if (mkdtemp(scratch_template) == nullptr) return Fail(absl::InternalError("mkdtemp failed"));
  const std::string scratch = scratch_template;
  absl::Cleanup remove_scratch = [&] {
    std::error_code ignored;
    std::filesystem::remove_all(scratch, ignored);
  };
  const Kubectl kubectl(*cluster, scratch);
  if (absl::Status earlier = WaitForEarlierRuns(kubectl); !earlier.ok()) return Fail(earlier);

  std::mt19937 random(std::random_device{}());
  const std::string run_id = absl::StrFormat("%06x", random() & 0xFFFFFF);
  const std::string prefix = absl::StrCat("ab-", run_id);
  std::printf("applier_bench run %s: %d apps x 10 objects, cache phase %d apps x 10 ConfigMaps\n",
              run_id.c_str(), options.apps, options.cache_apps);
  std::printf(
      "NOTE: the test etcd runs with --unsafe-no-fsync (no disk flush per write): absolute "
      "times are lower than on a real cluster, for both tools alike.\n");
  std::printf("machine: %ld CPUs, load average at start: %s", sysconf(_SC_NPROCESSORS_ONLN),
              ReadFile("/proc/loadavg").c_str());

  // The objects: the same ones for both tools, each in its own namespace per app.
  std::vector<App> todoke_apps, kubectl_apps, cache_apps;
  std::vector<std::string> namespaces;
  for (int i = 0; i < options.apps; ++i) {
    const std::string app = absl::StrFormat("shop%03d", i);
    const std::string t_ns = absl::StrFormat("%s-t-%03d", prefix, i);
    const std::string k_ns = absl::StrFormat("%s-k-%03d", prefix, i);
    todoke_apps.push_back({absl::StrCat(prefix, "-", app), AppObjects(app, t_ns)});
    kubectl_apps.push_back({app, AppObjects(app, k_ns)});
    namespaces.push_back(t_ns);
    namespaces.push_back(k_ns);
  }
  for (int n = 0; n < options.cache_namespaces; ++n) {
    namespaces.push_back(absl::StrFormat("%s-c-%02d", prefix, n));
  }
  for (int i = 0; i < (options.cache_phase ? options.cache_apps : 0); ++i) {
    const std::string ns = absl::StrFormat("%s-c-%02d", prefix, i % options.cache_namespaces);
    App app{absl::StrFormat("%s-cache%04d", prefix, i), {}};
    for (int j = 0; j < 10; ++j) {
      app.objects.push_back(SmallConfigMap(absl::StrFormat("cm%04d-%d", i, j), ns, app.name));
    }
    cache_apps.push_back(std::move(app));
  }
  const std::string warm_t = prefix + "-wt", warm_k = prefix + "-wk";
  namespaces.push_back(warm_t);
  namespaces.push_back(warm_k);

  // kubectl's files: one per app, 10 documents each, in one folder.
  const std::string kubectl_dir = scratch + "/kubectl";
  const std::string warm_dir = scratch + "/warm";
  mkdir(kubectl_dir.c_str(), 0755);
  mkdir(warm_dir.c_str(), 0755);
  size_t file_bytes = 0;
  for (const App& app : kubectl_apps) {
    const std::string text = EmitYamlStream(app.objects);
    file_bytes += text.size();
    if (absl::Status s = WriteFile(kubectl_dir + "/" + app.name + ".yaml", text); !s.ok()) {
      return Fail(s);
    }
  }
  if (absl::Status s =
          WriteFile(warm_dir + "/warm.yaml", EmitYamlStream(AppObjects("warm", warm_k)));
      !s.ok()) {
    return Fail(s);
  }
  std::vector<Json> namespace_objects;
  for (const std::string& ns : namespaces) {
    namespace_objects.push_back(
        {{"apiVersion", "v1"},
         {"kind", "Namespace"},
         {"metadata", {{"name", ns}, {"labels", {{"todoke-bench", run_id}}}}}});
  }
  if (absl::Status s = WriteFile(scratch + "/namespaces.yaml", EmitYamlStream(namespace_objects));
      !s.ok()) {
    return Fail(s);
  }
  std::printf(
      "objects: %zu for each tool (%zu YAML files, %.0f KB), in %zu namespaces made "
      "beforehand (not timed)\n",
      todoke_apps.size() * 10, kubectl_apps.size(), file_bytes / 1024.0, namespaces.size());

  // The applier, with raised client-side limits (the defaults, 50 QPS / burst 100, are for a
  // shared production API server).
  const std::vector<std::string> applier_flags = {
      "--kubeconfig=" + cluster->kubeconfig,
      absl::StrCat("--kube-qps=", options.kube_qps),
      absl::StrCat("--kube-burst=", options.kube_burst),
      absl::StrCat("--kube-max-in-flight=", options.kube_max_in_flight),
      absl::StrCat("--apply-concurrency=", options.apply_concurrency),
      "--log-level=warning"};
  std::printf("todoke-applier %s; %d Apply calls at once\n",
              absl::StrJoin(applier_flags, " ").c_str(), options.concurrent_applies);
  auto started = testing::StartService("todoke-applier", applier_flags);
  if (!started.ok()) return Fail(started.status());
  testing::ChildProcess applier = std::move(started->first);
  const pid_t applier_pid = applier.pid();
  auto channel = MakeChannel(started->second);
  if (!channel.ok()) return Fail(channel.status());
  std::unique_ptr<v1::Applier::Stub> stub = v1::Applier::NewStub(*channel);
  const long rss_idle = StatusKib(applier_pid, "VmRSS");

  int exit_code = 0;
  std::vector<Row> rows;
  auto check = [&](bool ok, const std::string& what) {
    if (!ok) {
      std::fprintf(stderr, "applier_bench: WRONG: %s\n", what.c_str());
      exit_code = 1;
    }
    return ok;
  };
  auto report_errors = [&](const ApplyTotals& totals) {
    for (size_t i = 0; i < totals.errors.size() && i < 5; ++i) {
      std::fprintf(stderr, "  %s\n", totals.errors[i].c_str());
    }
    for (const std::string& key : totals.configured_keys) {
      std::fprintf(stderr, "  configured: %s\n", key.c_str());
    }
  };

  // Namespaces (not timed), then each tool applies a warm-up app once: discovery, the OpenAPI
  // schema (kubectl), TLS and HTTP/2 connections and watches (todoke) are warm, as they are in a
  // long-running applier and in a kubectl with a warm cache directory.
  if (absl::StatusOr<Run> made = kubectl({"apply", "-f", scratch + "/namespaces.yaml"});
      !made.ok()) {
    return Fail(made.status());
  }
  // Whatever happens from here, the namespaces go (their objects with them), so that the next
  // run does not wait for them.
  absl::Cleanup delete_namespaces = [&] {
    if (options.keep) {
      std::printf("kept the namespaces %s-*\n", prefix.c_str());
      return;
    }
    std::vector<std::string> args = {"delete", "namespaces", "--wait=false"};
    args.insert(args.end(), namespaces.begin(), namespaces.end());
    if (absl::StatusOr<Run> deleted = kubectl(args); !deleted.ok()) {
      std::fprintf(stderr, "applier_bench: cleanup: %s\n",
                   std::string(deleted.status().message()).c_str());
    }
  };
  if (absl::StatusOr<Run> warm = kubectl({"api-resources"}); !warm.ok()) return Fail(warm.status());
  if (absl::StatusOr<Run> warm = kubectl({"apply", "--server-side", "-f", warm_dir}); !warm.ok()) {
    return Fail(warm.status());
  }
  {
    ApplyTotals warm = ApplyAll(*stub, {App{prefix + "-warm", AppObjects("warm", warm_t)}}, 1);
    if (!check(warm.errors.empty() && warm.created == 10, "warm-up Apply")) report_errors(warm);
  }

  // 1 and 2: cold apply, then the same set again; the tools' order as asked.
  double todoke_cold = 0, kubectl_cold = 0, todoke_noop = 0, kubectl_noop = 0;
  std::vector<double> apply_calls;
  // Before each timed phase: the controllers are done with earlier Deployments and the control
  // plane is idle; the API server's request counters are read before and after.
  double settle_seconds = 0;
  auto prepare = [&](const std::string& what) -> absl::StatusOr<std::map<std::string, double>> {
    absl::StatusOr<double> waited = WaitDeploymentsSettled(kubectl);
    if (!waited.ok()) return waited.status();
    settle_seconds += *waited + Settle(plane);
    absl::StatusOr<std::map<std::string, double>> counts = RequestCounts(kubectl);
    std::fprintf(stderr, "[applier_bench %s] %s\n",
                 absl::FormatTime("%H:%M:%E3S", absl::Now(), absl::LocalTimeZone()).c_str(),
                 what.c_str());
    return counts;
  };
  auto finish = [&](Row& row, const std::map<std::string, double>& before) -> absl::Status {
    absl::StatusOr<std::map<std::string, double>> after = RequestCounts(kubectl);
    if (!after.ok()) return after.status();
    row.requests = RequestDelta(before, *after);
    rows.push_back(row);
    return absl::OkStatus();
  };
  auto todoke_phase = [&](bool again) -> absl::Status {
    absl::StatusOr<std::map<std::string, double>> before =
        prepare(again ? "todoke re-apply" : "todoke apply");
    if (!before.ok()) return before.status();
    CpuMeter meter(plane, applier_pid);
    ApplyTotals totals = ApplyAll(*stub, todoke_apps, options.concurrent_applies);
    Row row{again ? "todoke: re-apply, nothing changes" : "todoke: apply 1,000 objects (create)",
            totals.wall, meter.Stop(),
            absl::StrFormat("created %d configured %d unchanged %d failed %d", totals.created,
                            totals.configured, totals.unchanged, totals.failed)};
    const size_t want = todoke_apps.size() * 10;
    const bool right =
        totals.errors.empty() && (again ? totals.unchanged == want : totals.created == want);
    if (!check(right, row.what + ": " + row.note)) report_errors(totals);
    (again ? todoke_noop : todoke_cold) = totals.wall;
    if (!again) apply_calls = totals.per_call;
    return finish(row, *before);
  };
  auto kubectl_phase = [&](bool again) -> absl::Status {
    absl::StatusOr<std::map<std::string, double>> before =
        prepare(again ? "kubectl re-apply" : "kubectl apply");
    if (!before.ok()) return before.status();
    CpuMeter meter(plane, 0);
    absl::StatusOr<Run> run = kubectl({"apply", "--server-side", "-f", kubectl_dir});
    if (!run.ok()) return run.status();
    const size_t applied = CountLines(run->out, "serverside-applied");
    Row row{again ? "kubectl: re-apply, nothing changes" : "kubectl: apply 1,000 objects (create)",
            run->wall, meter.Stop(run->cpu), absl::StrFormat("%d serverside-applied", applied)};
    check(applied == kubectl_apps.size() * 10, row.what + ": " + row.note);
    (again ? kubectl_noop : kubectl_cold) = run->wall;
    return finish(row, *before);
  };
  for (bool again : {false, true}) {
    const bool todoke_first = !options.kubectl_first;
    for (int turn = 0; turn < 2; ++turn) {
      absl::Status done = (turn == 0) == todoke_first ? todoke_phase(again) : kubectl_phase(again);
      if (!done.ok()) return Fail(done);
    }
  }

  // 3. The cache: 10,000 ConfigMaps applied, RSS before and after the cache holds them; then
  // ReadLive of every app from the warm cache.
  struct CacheFigures {
    size_t objects = 0;
    long rss_before = 0, rss_after = 0, hwm = 0, rss_fresh = 0;
    size_t response_bytes = 0;
    std::vector<double> latencies;
  } cache;
  auto cache_phase = [&]() -> absl::Status {
    absl::StatusOr<std::map<std::string, double>> before = prepare("todoke cache apply");
    if (!before.ok()) return before.status();
    cache.rss_before = StatusKib(applier_pid, "VmRSS");
    CpuMeter cache_meter(plane, applier_pid);
    ApplyTotals totals = ApplyAll(*stub, cache_apps, options.concurrent_applies);
    cache.objects = cache_apps.size() * 10;
    Row row{absl::StrFormat("todoke: apply %zu small ConfigMaps", cache.objects), totals.wall,
            cache_meter.Stop(),
            absl::StrFormat("%.0f objects/s; created %d failed %d", cache.objects / totals.wall,
                            totals.created, totals.failed)};
    if (!check(totals.errors.empty() && totals.created == cache.objects,
               row.what + ": " + row.note)) {
      report_errors(totals);
    }
    RETURN_IF_ERROR(finish(row, *before));
    // Every app read once: the cache holds all of them (each key answered, none absent).
    std::vector<v1::ReadLiveRequest> reads;
    for (const App& app : cache_apps) reads.push_back(ReadLiveRequestOf(app));
    for (const v1::ReadLiveRequest& read : reads) {
      absl::StatusOr<double> once = ReadLiveOnce(*stub, read, &cache.response_bytes);
      if (!once.ok()) return once.status();
    }
    absl::SleepFor(absl::Seconds(1));
    cache.rss_after = StatusKib(applier_pid, "VmRSS");
    cache.hwm = StatusKib(applier_pid, "VmHWM");

    // ReadLive latency: one call at a time, every app, `readlive_rounds` times.
    before = prepare("ReadLive one at a time");
    if (!before.ok()) return before.status();
    CpuMeter read_meter(plane, applier_pid);
    const auto read_start = std::chrono::steady_clock::now();
    for (int round = 0; round < options.readlive_rounds; ++round) {
      for (const v1::ReadLiveRequest& read : reads) {
        absl::StatusOr<double> once = ReadLiveOnce(*stub, read, nullptr);
        if (!once.ok()) return once.status();
        cache.latencies.push_back(*once);
      }
    }
    const double read_wall = Since(read_start);
    const CpuSplit read_cpu = read_meter.Stop();
    Row read_row{absl::StrFormat("todoke: ReadLive x %zu, one at a time", cache.latencies.size()),
                 read_wall, read_cpu,
                 absl::StrFormat("p50 %.3f ms, p99 %.3f ms; %.0f us applier CPU per call",
                                 Percentile(cache.latencies, 0.5) * 1e3,
                                 Percentile(cache.latencies, 0.99) * 1e3,
                                 read_cpu.client / cache.latencies.size() * 1e6)};
    RETURN_IF_ERROR(finish(read_row, *before));
    // The same with several callers at once (throughput of the service).
    before = prepare("ReadLive concurrent");
    if (!before.ok()) return before.status();
    std::atomic<size_t> next{0};
    std::atomic<bool> read_failed{false};
    std::vector<std::thread> callers;
    CpuMeter parallel_meter(plane, applier_pid);
    const auto parallel_start = std::chrono::steady_clock::now();
    const size_t parallel_calls = reads.size() * options.readlive_rounds;
    for (int t = 0; t < options.readlive_callers; ++t) {
      callers.emplace_back([&] {
        for (size_t i = next++; i < parallel_calls; i = next++) {
          if (!ReadLiveOnce(*stub, reads[i % reads.size()], nullptr).ok()) read_failed = true;
        }
      });
    }
    for (std::thread& caller : callers) caller.join();
    const double parallel_wall = Since(parallel_start);
    check(!read_failed, "concurrent ReadLive calls");
    Row parallel_row{absl::StrFormat("todoke: ReadLive x %zu, %d callers", parallel_calls,
                                     options.readlive_callers),
                     parallel_wall, parallel_meter.Stop(),
                     absl::StrFormat("%.0f calls/s", parallel_calls / parallel_wall)};
    RETURN_IF_ERROR(finish(parallel_row, *before));

    // The same cache in a fresh process: a second applier lists everything at start.
    auto second = testing::StartService("todoke-applier", applier_flags);
    if (!second.ok()) return second.status();
    auto second_channel = MakeChannel(second->second);
    if (!second_channel.ok()) return second_channel.status();
    auto second_stub = v1::Applier::NewStub(*second_channel);
    const auto start = std::chrono::steady_clock::now();
    absl::Status last;
    while (Since(start) < 120) {
      // Answers once every watched kind has synced (UNAVAILABLE before).
      absl::StatusOr<double> once = ReadLiveOnce(*second_stub, reads[0], nullptr);
      last = once.status();
      if (once.ok()) break;
      absl::SleepFor(absl::Milliseconds(200));
    }
    if (!last.ok()) return last;
    for (const v1::ReadLiveRequest& read : reads) {  // and it holds all of them
      absl::StatusOr<double> once = ReadLiveOnce(*second_stub, read, nullptr);
      if (!once.ok()) return once.status();
    }
    absl::SleepFor(absl::Seconds(1));
    cache.rss_fresh = StatusKib(second->first.pid(), "VmRSS");
    (void)second->first.Stop(SIGTERM, absl::Seconds(15));
    return absl::OkStatus();
  };
  if (options.cache_phase) {
    if (absl::Status s = cache_phase(); !s.ok()) return Fail(s);
  }
  std::fprintf(stderr, "[applier_bench] done\n");
  const int threads = ThreadCount(applier_pid);
  (void)applier.Stop(SIGTERM, absl::Seconds(15));

  PrintRows(rows);
  std::printf(
      "(between phases: %.0f s waiting for the controllers and the control plane to "
      "settle, not timed)\n",
      settle_seconds);
  std::printf(
      "\nApply of one app (10 objects) during the 1,000-object apply: p50 %.0f ms, p99 "
      "%.0f ms; the applier had %d threads at the end\n",
      Percentile(apply_calls, 0.5) * 1e3, Percentile(apply_calls, 0.99) * 1e3, threads);
  const double p50 = Percentile(cache.latencies, 0.50), p99 = Percentile(cache.latencies, 0.99);
  const double per_10k =
      cache.objects == 0 ? 0
                         : (cache.rss_after - cache.rss_before) / 1024.0 * 10000.0 / cache.objects;
  if (options.cache_phase) {
    const size_t cached_total = cache.objects + todoke_apps.size() * 10 + 10;
    std::printf(
        "ReadLive over gRPC, one app (10 keys, %.1f KB answer), %zu calls from the warm "
        "cache: p50 %.3f ms  p90 %.3f ms  p99 %.3f ms  max %.3f ms  (target p50 < 1 ms)\n",
        cache.response_bytes / 1024.0, cache.latencies.size(), p50 * 1e3,
        Percentile(cache.latencies, 0.9) * 1e3, p99 * 1e3, Percentile(cache.latencies, 1.0) * 1e3);
    std::printf(
        "applier RSS: idle %.1f MiB; before the %zu ConfigMaps %.1f MiB, after the cache "
        "holds them %.1f MiB: +%.1f MiB per 10,000 objects (peak RSS %.1f MiB)\n",
        rss_idle / 1024.0, cache.objects, cache.rss_before / 1024.0, cache.rss_after / 1024.0,
        per_10k, cache.hwm / 1024.0);
    std::printf(
        "a restarted applier whose cache holds all %zu objects (listed at start): %.1f MiB "
        "RSS, %.1f MiB over idle\n",
        cached_total, cache.rss_fresh / 1024.0, (cache.rss_fresh - rss_idle) / 1024.0);
  }
  std::printf("\n%-34s %10s %10s %8s\n", "", "kubectl s", "todoke s", "ratio");
  std::printf("%-34s %10.2f %10.2f %7.1fx  (target >= 3x)\n", "apply 1,000 objects (create)",
              kubectl_cold, todoke_cold, kubectl_cold / todoke_cold);
  std::printf("%-34s %10.2f %10.2f %7.1fx\n", "re-apply, nothing changes", kubectl_noop,
              todoke_noop, kubectl_noop / todoke_noop);
  std::printf(
      "\nREADME row: | %.2f s vs %.2f s (%.1fx) | %.2f s vs %.2f s (%.1fx) | %.2f / %.2f ms "
      "| %.1f MiB |\n",
      todoke_cold, kubectl_cold, kubectl_cold / todoke_cold, todoke_noop, kubectl_noop,
      kubectl_noop / todoke_noop, p50 * 1e3, p99 * 1e3, per_10k);
  return exit_code;
}

}  // namespace
}  // namespace todoke::bench

int main(int argc, char** argv) {
  todoke::bench::Options options;
  if (const char* env = std::getenv("TODOKE_K8S_ENV")) options.cluster_env = env;
  auto int_flag = [](const char* arg, const char* name, int* out) {
    const size_t n = std::strlen(name);
    if (std::strncmp(arg, name, n) != 0 || arg[n] != '=') return false;
    *out = std::atoi(arg + n + 1);
    return true;
  };
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strncmp(arg, "--cluster-env=", 14) == 0) {
      options.cluster_env = arg + 14;
    } else if (std::strncmp(arg, "--kube-qps=", 11) == 0) {
      options.kube_qps = std::strtod(arg + 11, nullptr);
    } else if (int_flag(arg, "--apps", &options.apps) ||
               int_flag(arg, "--concurrent-applies", &options.concurrent_applies) ||
               int_flag(arg, "--kube-burst", &options.kube_burst) ||
               int_flag(arg, "--kube-max-in-flight", &options.kube_max_in_flight) ||
               int_flag(arg, "--apply-concurrency", &options.apply_concurrency) ||
               int_flag(arg, "--cache-apps", &options.cache_apps) ||
               int_flag(arg, "--cache-namespaces", &options.cache_namespaces) ||
               int_flag(arg, "--readlive-rounds", &options.readlive_rounds) ||
               int_flag(arg, "--readlive-callers", &options.readlive_callers)) {
    } else if (std::strcmp(arg, "--kubectl-first") == 0) {
      options.kubectl_first = true;
    } else if (std::strcmp(arg, "--no-cache-phase") == 0) {
      options.cache_phase = false;
    } else if (std::strcmp(arg, "--keep") == 0) {
      options.keep = true;
    } else {
      std::fprintf(stderr, "applier_bench: unknown argument %s (see the top of applier_bench.cc)\n",
                   arg);
      return 2;
    }
  }
  if (options.cluster_env.empty()) {
    std::fprintf(stderr,
                 "applier_bench: needs --cluster-env=DIR/env (tests/cluster/start.sh DIR) "
                 "or TODOKE_K8S_ENV\n");
    return 2;
  }
  if (options.apps < 1 || options.cache_apps < 1 || options.cache_namespaces < 1 ||
      options.readlive_rounds < 1 || options.readlive_callers < 1) {
    std::fprintf(stderr, "applier_bench: counts must be at least 1\n");
    return 2;
  }
  return todoke::bench::RunBench(options);
}

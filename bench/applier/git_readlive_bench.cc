// git_readlive_bench: what one ReadLive of the Git destination costs when nothing changed (issue
// 12's no-op round asks it of every app every interval), in process, without gRPC.
//
// A bare repository, one branch, --apps app folders of 4 objects each (ServiceAccount, Service,
// Deployment, Ingress: the shape of bench/e2e/noop_bench's apps), each written by its own
// GitDestination::Apply (one commit per app, fsync off for the setup). Then, one call at a time:
//   - "steady": --rounds rounds of ReadLive over every app (each destination asks for its 4 keys),
//     the branch unchanged: wall time per call (mean, p50, p99) and CPU time per call
//     (getrusage of the process);
//   - "moved": one more app commits (the tip moves, every other app's folder is unchanged), then
//     one round: the first read of each app on a new tip;
//   - "concurrent": --threads callers splitting one round (the destinations share one repository);
//   - "churn": --churn times, one app commits and every app reads once (a busy branch: each
//     round starts on a new tip); then the process's RSS (the caches' bounds at work).
// Every answer is checked (4 objects, none absent, blob ids as resource versions); a wrong one
// exits 1. Never fails on timings.
//
// Run:
//   flock /tmp/todoke-build.lock cmake --build build --target git_readlive_bench
//   build/bin/git_readlive_bench [--apps=1000] [--rounds=3] [--threads=4]
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/object.h"
#include "common/yaml.h"
#include "services/applier/core/git/git_destination.h"

ABSL_FLAG(int, apps, 1000, "app folders in the branch");
ABSL_FLAG(int, rounds, 3, "steady rounds of ReadLive over every app");
ABSL_FLAG(int, threads, 4, "callers of the concurrent round");
ABSL_FLAG(int, churn, 50, "rounds that each follow a commit by one app");

namespace todoke::applier {
namespace {

double CpuSeconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
         (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

std::vector<Json> AppObjects(int i) {
  std::string name = absl::StrFormat("web-%04d", i);
  auto yaml = [](const std::string& text) { return *ParseYaml(text); };
  return {
      yaml(absl::StrFormat(
          "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: %s, namespace: bench}\n", name)),
      yaml(absl::StrFormat("apiVersion: v1\nkind: Service\nmetadata:\n  name: %s\n"
                           "  namespace: bench\n  labels: {app: %s}\nspec:\n  selector: {app: %s}\n"
                           "  ports:\n  - {name: http, port: 80, targetPort: 8080}\n",
                           name, name, name)),
      yaml(absl::StrFormat(
          "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: %s\n  namespace: bench\n"
          "  labels: {app: %s}\nspec:\n  replicas: 0\n  selector:\n    matchLabels: {app: %s}\n"
          "  template:\n    metadata:\n      labels: {app: %s}\n    spec:\n"
          "      serviceAccountName: %s\n      containers:\n      - name: web\n"
          "        image: nginx:1.25\n        ports:\n        - {containerPort: 8080}\n"
          "        resources:\n          requests: {cpu: 10m, memory: 32Mi}\n",
          name, name, name, name, name)),
      yaml(absl::StrFormat(
          "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: %s, namespace: "
          "bench}\nspec:\n  rules:\n  - host: %s.bench.example\n    http:\n      paths:\n"
          "      - path: /\n        pathType: Prefix\n        backend:\n          service:\n"
          "            name: %s\n            port: {number: 80}\n",
          name, name, name))};
}

struct App {
  std::unique_ptr<GitDestination> destination;
  ReadLiveQuery query;
};

struct Round {
  std::vector<double> wall_us;  // per call
  double cpu_s = 0;
  double elapsed_s = 0;
  int wrong = 0;
};

bool Check(const absl::StatusOr<LiveSet>& live, const App& app) {
  if (!live.ok()) {
    std::fprintf(stderr, "%s: %s\n", app.query.app.c_str(), live.status().ToString().c_str());
    return false;
  }
  if (live->objects.size() != 4 || !live->absent.empty()) {
    std::fprintf(stderr, "%s: %zu objects, %zu absent\n", app.query.app.c_str(),
                 live->objects.size(), live->absent.size());
    return false;
  }
  for (const LiveObject& o : live->objects) {
    if (o.resource_version.size() != 40) return false;
  }
  return true;
}

Round RunRound(std::vector<App>& apps, int threads) {
  Round round;
  round.wall_us.resize(apps.size());
  std::atomic<size_t> next{0};
  std::atomic<int> wrong{0};
  double cpu0 = CpuSeconds();
  absl::Time start = absl::Now();
  auto worker = [&] {
    for (size_t i = next++; i < apps.size(); i = next++) {
      absl::Time t0 = absl::Now();
      absl::StatusOr<LiveSet> live =
          apps[i].destination->ReadLive(apps[i].query, absl::Now() + absl::Seconds(30));
      round.wall_us[i] = absl::ToDoubleMicroseconds(absl::Now() - t0);
      if (!Check(live, apps[i])) ++wrong;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  round.elapsed_s = absl::ToDoubleSeconds(absl::Now() - start);
  round.cpu_s = CpuSeconds() - cpu0;
  round.wrong = wrong.load();
  return round;
}

void Print(const char* label, std::vector<Round> rounds) {
  std::vector<double> all;
  double cpu = 0, elapsed = 0;
  for (const Round& r : rounds) {
    all.insert(all.end(), r.wall_us.begin(), r.wall_us.end());
    cpu += r.cpu_s;
    elapsed += r.elapsed_s;
  }
  std::sort(all.begin(), all.end());
  double sum = 0;
  for (double v : all) sum += v;
  auto pct = [&](double p) { return all[std::min(all.size() - 1, size_t(p * all.size()))]; };
  std::printf(
      "%-11s %6zu calls  wall/call mean %7.1f us  p50 %7.1f us  p99 %7.1f us  "
      "cpu/call %7.1f us  (%.2f s cpu in %.2f s)\n",
      label, all.size(), sum / all.size(), pct(0.50), pct(0.99), cpu * 1e6 / all.size(), cpu,
      elapsed);
}

int Main() {
  const int n = absl::GetFlag(FLAGS_apps);
  char tmpl[] = "/tmp/git-readlive-bench-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  const std::string dir = tmpl;
  const std::string repo = dir + "/hydrated.git";
  GitDestinationOptions options;
  options.work_dir = dir + "/work";
  options.fsync = false;
  auto make = [&](int i) {
    GitDestinationTarget target;
    target.repo_url = repo;
    target.branch = "rendered";
    target.path = absl::StrFormat("app-%04d", i);
    return *GitDestination::Create(target, options);
  };
  std::vector<App> apps(n);
  absl::Time setup = absl::Now();
  for (int i = 0; i < n; ++i) {
    apps[i].destination = make(i);
    ApplyPlan plan;
    plan.app = absl::StrFormat("app-%04d", i);
    plan.objects = AppObjects(i);
    for (const Json& o : plan.objects) apps[i].query.keys.push_back(*KeyOf(o));
    apps[i].query.app = plan.app;
    absl::StatusOr<ApplyOutcome> outcome =
        apps[i].destination->Apply(plan, nullptr, absl::Now() + absl::Minutes(1), nullptr);
    if (!outcome.ok() || !outcome->succeeded) {
      std::fprintf(stderr, "setup: %s\n",
                   outcome.ok() ? outcome->message.c_str() : outcome.status().ToString().c_str());
      return 1;
    }
  }
  std::printf("git_readlive_bench: %d apps x 4 objects, one branch (setup %.1f s)\n", n,
              absl::ToDoubleSeconds(absl::Now() - setup));
  int wrong = 0;
  wrong += RunRound(apps, 1).wrong;  // warm-up (first reads)
  std::vector<Round> steady;
  for (int r = 0; r < absl::GetFlag(FLAGS_rounds); ++r) steady.push_back(RunRound(apps, 1));
  for (const Round& r : steady) wrong += r.wrong;
  Print("steady", steady);

  // The tip moves: one more app commits; the others' folders are unchanged.
  App extra{make(n), {}};
  ApplyPlan plan;
  plan.app = absl::StrFormat("app-%04d", n);
  plan.objects = AppObjects(n);
  if (!extra.destination->Apply(plan, nullptr, absl::Now() + absl::Minutes(1), nullptr).ok()) {
    return 1;
  }
  Round moved = RunRound(apps, 1);
  wrong += moved.wrong;
  Print("moved", {moved});

  int threads = std::max(1, absl::GetFlag(FLAGS_threads));
  Round concurrent = RunRound(apps, threads);
  wrong += concurrent.wrong;
  Print(absl::StrFormat("%d threads", threads).c_str(), {concurrent});
  std::vector<Round> churn;
  for (int c = 0; c < absl::GetFlag(FLAGS_churn); ++c) {
    ApplyPlan change;
    change.app = extra.destination->app_path();
    change.objects = AppObjects(n);
    change.objects[0]["metadata"]["labels"]["round"] = absl::StrFormat("r%d", c);
    if (!extra.destination->Apply(change, nullptr, absl::Now() + absl::Minutes(1), nullptr).ok()) {
      return 1;
    }
    churn.push_back(RunRound(apps, 1));
    wrong += churn.back().wrong;
  }
  if (!churn.empty()) Print("churn", churn);
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0 || line.rfind("VmHWM:", 0) == 0)
      std::printf("%s\n", line.c_str());
  }
  double load[3] = {0, 0, 0};
  getloadavg(load, 3);
  std::printf("load average %.2f %.2f %.2f on %u cpus\n", load[0], load[1], load[2],
              std::thread::hardware_concurrency());
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  if (wrong > 0) {
    std::fprintf(stderr, "git_readlive_bench: %d wrong answers\n", wrong);
    return 1;
  }
  return 0;
}

}  // namespace
}  // namespace todoke::applier

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("git_readlive_bench: ReadLive of the Git destination per call");
  absl::ParseCommandLine(argc, argv);
  return todoke::applier::Main();
}

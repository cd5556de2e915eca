// differ_bench: comparisons per second on one core for typical Deployment objects (desired
// ~1.3 KB, live ~4.9 KB with managedFields and status, recorded from a real API server), from
// parsed trees and from JSON text as the gRPC service receives them, and memory for 10,000 pairs.
// Prints figures measured in thread CPU time; never fails on timings.
// Run: build/bin/differ_bench [--pairs=10000] [--seconds=2] [--synced-only | --single-only]
//        [--grpc-address=HOST:PORT]  (measure that running todoke-differ instead of starting one)
#include <malloc.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "bench/differ/bench_objects.h"
#include "common/grpc_client.h"
#include "common/json_tree.h"
#include "services/differ/core/differ.h"
#include "services/differ/core/health.h"
#include "tests/integration/process.h"
#include "todoke/differ/v1/differ.grpc.pb.h"

namespace todoke::bench {
namespace {

// Thread CPU time: "on one core" even when the machine is shared (wall time would count the time
// other processes hold the core).
struct Clock {
  using time_point = std::chrono::duration<double>;
  static time_point now() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return time_point(ts.tv_sec + ts.tv_nsec * 1e-9);
  }
};
using differ::Diff;
using differ::DiffJsonText;
using differ::DiffNodes;
using differ::DiffOptions;
using differ::DiffResult;
using differ::SyncStatus;

double Seconds(Clock::time_point start) { return (Clock::now() - start).count(); }

// CPU seconds (user + system) process `pid` has used so far.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::istringstream fields(text.substr(text.rfind(')') + 2));  // after "pid (comm) "
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Diff RPCs of `desired`/`live` texts against the real todoke-differ binary for about `seconds`:
// prints comparisons per second of wall time and per CPU second of the server process.
// `server_address` empty: starts the binary and measures its CPU time too; else uses that server.
void GrpcRow(double seconds, const std::vector<std::string>& desired,
             const std::vector<std::string>& live, const std::string& server_address) {
  std::optional<testing::ChildProcess> server;
  std::string address = server_address;
  if (address.empty()) {
    auto started = testing::StartService("todoke-differ");
    if (!started.ok()) {
      std::printf("gRPC Diff: cannot start todoke-differ: %s\n",
                  std::string(started.status().message()).c_str());
      return;
    }
    server.emplace(std::move(started->first));
    address = started->second;
  }
  const pid_t pid = server ? server->pid() : 0;
  auto channel = MakeChannel(address);
  if (!channel.ok()) std::abort();
  auto stub = differ::v1::Differ::NewStub(*channel);
  differ::v1::DiffRequest request;
  for (const std::string& text : desired) request.add_desired()->set_json(text);
  for (const std::string& text : live) request.add_live()->set_json(text);
  auto call = [&] {
    differ::v1::DiffResponse response;
    auto context = ContextWithTimeout(absl::Seconds(30));
    const grpc::Status status = stub->Diff(context.get(), request, &response);
    if (!status.ok() || response.summary().synced() != desired.size()) {
      std::fprintf(stderr, "gRPC Diff failed: %s\n", status.error_message().c_str());
      std::exit(1);
    }
  };
  for (int i = 0; i < 20; ++i) call();  // warm up
  const double cpu_start = pid > 0 ? ProcessCpuSeconds(pid) : 0;
  const auto wall_start = std::chrono::steady_clock::now();
  size_t calls = 0;
  double wall = 0;
  do {
    call();
    ++calls;
    wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  } while (wall < seconds);
  const double server_cpu = pid > 0 ? ProcessCpuSeconds(pid) - cpu_start : 0;
  const double comparisons = static_cast<double>(calls * desired.size());
  std::printf(
      "gRPC Diff, 100 pairs per call, real server: %9.0f comparisons/s wall, %.0f per "
      "server CPU second (%.0f KB request)\n",
      comparisons / wall, server_cpu > 0 ? comparisons / server_cpu : 0.0,
      request.ByteSizeLong() / 1024.0);
  if (server) (void)server->Stop(SIGTERM, absl::Seconds(10));
}

size_t HeapInUseBytes() {
  struct mallinfo2 info = mallinfo2();
  return info.uordblks + info.hblkhd;
}

long ResidentKilobytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return -1;
}

// `count` copies of `object` with distinct names ("web-<i>"), so pairing does real work.
std::vector<Json> Named(size_t count, const Json& object) {
  std::vector<Json> out(count, object);
  for (size_t i = 0; i < count; ++i) out[i]["metadata"]["name"] = "web-" + std::to_string(i);
  return out;
}

// Texts of `objects`, canonical (sorted keys).
std::vector<std::string> Texts(const std::vector<Json>& objects) {
  std::vector<std::string> texts;
  for (const Json& object : objects) texts.push_back(CanonicalJson(object));
  return texts;
}

// `count` copies of the API server's text of the live object, named "web-<i>" like Named(), keys
// left in the server's order.
std::vector<std::string> ServerTexts(size_t count) {
  const std::string text = kLiveDeploymentJson;
  const std::string name = "\"name\":\"web\"";  // metadata.name comes first in the server's order
  const size_t at = text.find(name);
  if (at == std::string::npos) std::abort();
  std::vector<std::string> texts;
  for (size_t i = 0; i < count; ++i) {
    texts.push_back(text.substr(0, at) + "\"name\":\"web-" + std::to_string(i) + "\"" +
                    text.substr(at + name.size()));
  }
  return texts;
}

std::vector<std::string_view> Views(const std::vector<std::string>& texts) {
  return std::vector<std::string_view>(texts.begin(), texts.end());
}

// The objects parsed into compact trees held by `arena`, viewing `texts` (as DiffJsonText does):
// `texts` must outlive the trees.
std::vector<const JsonNode*> Trees(const std::vector<std::string>& texts, JsonArena& arena) {
  std::vector<const JsonNode*> trees;
  JsonNodeParser parser;
  for (const std::string& text : texts) trees.push_back(*parser.ParseBorrowing(text, arena));
  return trees;
}

// Runs `body` (which compares `objects_per_call` pairs) for about `seconds`; returns pairs/s.
struct Rate {
  double median = 0;  // comparisons/s, the figure
  double best = 0;    // the fastest round
};

template <typename Body>
Rate PairsPerSecond(double seconds, size_t objects_per_call, Body body) {
  body();  // warm up
  // Rounds of ~0.1 s: the median is the figure; the best round shows the code's speed when
  // nothing else on the host competes for the shared cache (the spread between them is the
  // machine, not the code: instructions per comparison do not change).
  std::vector<double> rates;
  const Clock::time_point start = Clock::now();
  do {
    size_t calls = 0;
    const Clock::time_point round_start = Clock::now();
    double elapsed = 0;
    do {
      for (int i = 0; i < 16; ++i) body();
      calls += 16;
      elapsed = Seconds(round_start);
    } while (elapsed < 0.1);
    rates.push_back(static_cast<double>(calls * objects_per_call) / elapsed);
  } while (Seconds(start) < seconds);
  std::sort(rates.begin(), rates.end());
  return {rates[rates.size() / 2], rates.back()};
}

void Check(const DiffResult& result, SyncStatus want, const char* what) {
  for (const auto& object : result.objects) {
    if (object.status != want) {
      std::fprintf(stderr, "%s: unexpected status %s for %s: %s\n", what,
                   std::string(differ::SyncStatusName(object.status)).c_str(),
                   object.key.ToString().c_str(), object.error.c_str());
      std::exit(1);
    }
  }
}

int Run(size_t pairs, double seconds, bool synced_only, bool single_only,
        const std::string& grpc_address) {
  const Json desired = Json::parse(kDesiredDeploymentJson);
  const Json live = Json::parse(kLiveDeploymentJson);
  std::printf(
      "objects: desired Deployment %zu bytes (canonical JSON), live %zu bytes (as the API "
      "server sent it)\n",
      CanonicalJson(desired).size(), std::strlen(kLiveDeploymentJson));
  const DiffOptions options;
  auto expect_synced = [](const DiffResult& result, size_t count) {
    if (result.summary.synced != count) std::abort();
  };

  // 1. The comparison itself: objects already parsed into the differ's trees, one core.
  JsonArena arena;
  const std::vector<std::string> one_desired_text = Texts(Named(1, desired));
  const std::vector<std::string> one_live_text = ServerTexts(1);
  const std::vector<const JsonNode*> one_desired = Trees(one_desired_text, arena);
  const std::vector<const JsonNode*> one_live = Trees(one_live_text, arena);
  if (single_only) {  // for profiling the per-call path
    const double single = PairsPerSecond(seconds, 1, [&] {
                            expect_synced(DiffNodes(one_desired, one_live, options), 1);
                          }).median;
    std::printf("synced, 1 pair per call:                   %10.0f comparisons/s\n", single);
    return 0;
  }
  const std::vector<Json> desired_batch = Named(100, desired);
  const std::vector<Json> live_batch = Named(100, live);
  const std::vector<std::string> desired_texts = Texts(desired_batch);
  const std::vector<std::string> live_texts = ServerTexts(100);
  const std::vector<std::string> live_texts_sorted = Texts(live_batch);
  const std::vector<const JsonNode*> desired_trees = Trees(desired_texts, arena);
  const std::vector<const JsonNode*> live_trees = Trees(live_texts, arena);
  Check(DiffNodes(desired_trees, live_trees, options), SyncStatus::kSynced, "synced");
  const Rate synced = PairsPerSecond(seconds, desired_trees.size(), [&] {
    expect_synced(DiffNodes(desired_trees, live_trees, options), desired_trees.size());
  });
  std::printf(
      "synced, 100 pairs per call, parsed trees:  %10.0f comparisons/s  (target 50000; "
      "best round %.0f)\n",
      synced.median, synced.best);
  if (synced_only) return 0;  // for profiling the hot path

  const Rate single = PairsPerSecond(
      seconds, 1, [&] { expect_synced(DiffNodes(one_desired, one_live, options), 1); });
  std::printf(
      "synced, 1 pair per call, parsed trees:     %10.0f comparisons/s  (best round %.0f)\n",
      single.median, single.best);
  const std::vector<const JsonNode*> desired_twenty(desired_trees.begin(),
                                                    desired_trees.begin() + 20);
  const std::vector<const JsonNode*> live_twenty(live_trees.begin(), live_trees.begin() + 20);
  const Rate twenty = PairsPerSecond(
      seconds, 20, [&] { expect_synced(DiffNodes(desired_twenty, live_twenty, options), 20); });
  std::printf(
      "synced, 20 pairs per call, parsed trees:   %10.0f comparisons/s  (best round %.0f)\n",
      twenty.median, twenty.best);

  // 2. From JSON text, as the gRPC service receives objects: parse + compare.
  const std::vector<std::string_view> desired_views = Views(desired_texts);
  const std::vector<std::string_view> live_views = Views(live_texts);
  const std::vector<std::string_view> live_views_sorted = Views(live_texts_sorted);
  const Rate from_text = PairsPerSecond(seconds, desired_views.size(), [&] {
    expect_synced(DiffJsonText(desired_views, live_views, options), desired_views.size());
  });
  std::printf(
      "synced, 100 pairs from JSON text:          %10.0f comparisons/s  (target 50000; "
      "best round %.0f)\n",
      from_text.median, from_text.best);
  const Rate from_sorted = PairsPerSecond(seconds, desired_views.size(), [&] {
    expect_synced(DiffJsonText(desired_views, live_views_sorted, options), desired_views.size());
  });
  std::printf(
      "  same, live keys sorted (canonical JSON): %10.0f comparisons/s  (best round %.0f)\n",
      from_sorted.median, from_sorted.best);
  JsonArena parse_arena;
  JsonNodeParser parser;
  const double parse_only = PairsPerSecond(seconds, desired_views.size(), [&] {
                              parse_arena.Reset();
                              for (size_t i = 0; i < desired_views.size(); ++i) {
                                if (!parser.ParseBorrowing(desired_views[i], parse_arena).ok())
                                  std::abort();
                                if (!parser.ParseBorrowing(live_views[i], parse_arena).ok())
                                  std::abort();
                              }
                            }).median;
  std::printf("  of which parsing a pair alone:           %10.0f pairs/s\n", parse_only);
  const double from_json =
      PairsPerSecond(seconds, desired_batch.size(), [&] {
        expect_synced(Diff(desired_batch, live_batch, options), desired_batch.size());
      }).median;
  std::printf(
      "synced, 100 pairs of nlohmann::json:       %10.0f comparisons/s  (copied to trees)\n",
      from_json);

  GrpcRow(seconds, desired_texts, live_texts, grpc_address);

  // 3. OutOfSync pairs (new image): patch and unified YAML diff computed.
  std::vector<Json> changed_batch = desired_batch;
  for (Json& object : changed_batch) {
    object["spec"]["template"]["spec"]["containers"][0]["image"] = "registry.example.com/web:1.5.0";
  }
  const std::vector<std::string> changed_texts = Texts(changed_batch);
  const std::vector<const JsonNode*> changed_trees = Trees(changed_texts, arena);
  Check(DiffNodes(changed_trees, live_trees, options), SyncStatus::kOutOfSync, "out of sync");
  const double drifted = PairsPerSecond(seconds, changed_trees.size(), [&] {
                           DiffResult result = DiffNodes(changed_trees, live_trees, options);
                           if (result.summary.out_of_sync != changed_trees.size()) std::abort();
                         }).median;
  std::printf("out of sync (patch + unified YAML diff):   %10.0f comparisons/s\n", drifted);
  DiffOptions no_text = options;
  no_text.compute_unified_diff = false;
  const double drifted_patch_only = PairsPerSecond(seconds, changed_trees.size(), [&] {
                                      DiffResult result =
                                          DiffNodes(changed_trees, live_trees, no_text);
                                      if (result.summary.out_of_sync != changed_trees.size())
                                        std::abort();
                                    }).median;
  std::printf("out of sync (patch only):                  %10.0f comparisons/s\n",
              drifted_patch_only);

  // 4. Health of the live objects.
  const double health = PairsPerSecond(seconds, live_batch.size(), [&] {
                          health::HealthReport report = health::AssessHealthAll(live_batch, {});
                          if (report.aggregate.status != health::HealthStatus::kHealthy)
                            std::abort();
                        }).median;
  std::printf("health assessments:                        %10.0f objects/s\n", health);

  // 5. Memory for `pairs` pairs held in memory and compared in one call, as the differ holds
  // them (compact trees) and as nlohmann::json would.
  const std::vector<std::string> many_desired_texts = Texts(Named(pairs, desired));
  const std::vector<std::string> many_live_texts = ServerTexts(pairs);
  size_t text_bytes = 0;
  for (size_t i = 0; i < pairs; ++i) {
    text_bytes += many_desired_texts[i].size() + many_live_texts[i].size();
  }
  malloc_trim(0);
  const size_t heap_before = HeapInUseBytes();
  const long rss_before = ResidentKilobytes();
  JsonArena many_arena;
  const std::vector<const JsonNode*> many_desired = Trees(many_desired_texts, many_arena);
  const std::vector<const JsonNode*> many_live = Trees(many_live_texts, many_arena);
  const size_t heap_trees = HeapInUseBytes();
  const Clock::time_point start = Clock::now();
  DiffResult result = DiffNodes(many_desired, many_live, options);
  const double diff_seconds = Seconds(start);
  const size_t heap_after = HeapInUseBytes();
  const long rss_after = ResidentKilobytes();
  Check(result, SyncStatus::kSynced, "memory run");
  std::printf(
      "%zu pairs (JSON text %.0f bytes per pair): trees %.1f MiB (%.0f bytes per pair), "
      "Diff result %.2f MiB, RSS +%.1f MiB, one call %.3f s CPU\n",
      pairs, static_cast<double>(text_bytes) / pairs, (heap_trees - heap_before) / 1048576.0,
      static_cast<double>(heap_trees - heap_before) / pairs, (heap_after - heap_trees) / 1048576.0,
      (rss_after - rss_before) / 1024.0, diff_seconds);
  result = DiffResult();
  const size_t heap_before_json = HeapInUseBytes();
  {
    std::vector<Json> as_json;
    as_json.reserve(2 * pairs);
    for (size_t i = 0; i < pairs; ++i) {
      as_json.push_back(Json::parse(many_desired_texts[i]));
      as_json.push_back(Json::parse(many_live_texts[i]));
    }
    std::printf("  the same pairs as nlohmann::json:        %.1f MiB (%.0f bytes per pair)\n",
                (HeapInUseBytes() - heap_before_json) / 1048576.0,
                static_cast<double>(HeapInUseBytes() - heap_before_json) / pairs);
  }
  return 0;
}

}  // namespace
}  // namespace todoke::bench

int main(int argc, char** argv) {
  size_t pairs = 10000;
  double seconds = 2.0;
  bool synced_only = false;
  bool single_only = false;
  std::string grpc_address;  // a running todoke-differ to measure instead of starting one
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--grpc-address=", 15) == 0) grpc_address = argv[i] + 15;
    if (std::strncmp(argv[i], "--pairs=", 8) == 0) pairs = std::strtoul(argv[i] + 8, nullptr, 10);
    if (std::strncmp(argv[i], "--seconds=", 10) == 0) seconds = std::strtod(argv[i] + 10, nullptr);
    if (std::strcmp(argv[i], "--synced-only") == 0) synced_only = true;
    if (std::strcmp(argv[i], "--single-only") == 0) single_only = true;
  }
  return todoke::bench::Run(pairs, seconds, synced_only, single_only, grpc_address);
}

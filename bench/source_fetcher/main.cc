// source_fetcher_bench: the source-fetcher core against git on a generated repository served by
// `git daemon` on loopback. Prints timings and ratios against git measured in the same run.
//
//   source_fetcher_bench [--files=2000] [--commits=1000] [--repos=200] [--threads=16]   (--repos=0
//   skips part 4)
//
// Measures: cold mirror (Resolve on an empty cache) vs `git clone --mirror`; warm Resolve of a
// branch when nothing changed (ls-remote only) vs `git ls-remote`; ReadTree of 1,000 files from a
// warm mirror; 200 repositories resolved concurrently (cold and warm) vs parallel git clones.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "services/source_fetcher/core/source_fetcher.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace sf = todoke::source_fetcher;
namespace fs = std::filesystem;

namespace {

double NowMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * (v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

// The server-side floor of any ls-remote over git://: one raw TCP connection asking `git daemon`
// for the upload-pack ref advertisement and reading it to its flush packet, with no client
// library at all. A warm Resolve cannot answer faster than the server advertises its refs.
// Returns milliseconds, or -1 on failure. `url` is git://127.0.0.1:PORT/PATH.
double RawAdvertisementMs(const std::string& url) {
  absl::string_view rest(url);
  if (!absl::ConsumePrefix(&rest, "git://127.0.0.1:")) return -1;
  const size_t slash = rest.find('/');
  int port = 0;
  if (slash == absl::string_view::npos || !absl::SimpleAtoi(rest.substr(0, slash), &port))
    return -1;
  const std::string request_body =
      absl::StrCat("git-upload-pack ", rest.substr(slash), std::string(1, '\0'), "host=127.0.0.1",
                   std::string(1, '\0'));
  const std::string request = absl::StrFormat("%04x", request_body.size() + 4) + request_body;
  const double start = NowMs();
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string received;
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
            write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size());
  while (ok && !absl::EndsWith(received, "0000")) {
    char buffer[65536];
    const ssize_t n = read(fd, buffer, sizeof buffer);
    if (n <= 0) {
      ok = false;
      break;
    }
    received.append(buffer, static_cast<size_t>(n));
  }
  if (ok) (void)!write(fd, "0000", 4);
  close(fd);
  return ok ? NowMs() - start : -1;
}

// A fast-import stream: `files` files in two halves (a/ and b/, 50 per folder), then
// `commits - 1` commits each rewriting 5 files; tags v1.<n>.0 every 100 commits.
void WriteFastImport(const std::string& path, int files, int commits) {
  std::ofstream out(path, std::ios::binary);
  auto file_name = [](int i, int files) {
    int half = files / 2;
    const char* top = i < half ? "a" : "b";
    int j = i < half ? i : i - half;
    return absl::StrFormat("%s/d%03d/f%03d.yaml", top, j / 50, j % 50);
  };
  long t = 1700000000;
  for (int c = 0; c < commits; ++c) {
    std::string message = absl::StrCat("commit ", c, "\n");
    out << "commit refs/heads/main\n"
        << "mark :" << (c + 1) << "\n"
        << "author Bench <bench@example.com> " << (t + c) << " +0000\n"
        << "committer Bench <bench@example.com> " << (t + c) << " +0000\n"
        << "data " << message.size() << "\n"
        << message;
    if (c > 0) out << "from :" << c << "\n";
    auto write_file = [&](int i) {
      std::string content = absl::StrCat("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-",
                                         i, "\ndata:\n  revision: \"", c, "\"\n  filler: \"",
                                         std::string(200 + (i * 37) % 400, 'x'), "\"\n");
      out << "M 100644 inline " << file_name(i, files) << "\n"
          << "data " << content.size() << "\n"
          << content << "\n";
    };
    if (c == 0) {
      for (int i = 0; i < files; ++i) write_file(i);
    } else {
      for (int k = 0; k < 5; ++k) write_file((c * 7 + k * 401) % files);
    }
    out << "\n";
    if (c % 100 == 99 || c == commits - 1) {
      out << "reset refs/tags/v1." << c / 100 << ".0\nfrom :" << (c + 1) << "\n\n";
    }
  }
}

struct Flags {
  int files = 2000;
  int commits = 1000;
  int repos = 200;
  int threads = 16;  // same concurrency as the git baseline (xargs -P 16)
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    absl::string_view a = argv[i];
    if (absl::ConsumePrefix(&a, "--files="))
      (void)absl::SimpleAtoi(a, &f.files);
    else if (absl::ConsumePrefix(&a, "--commits="))
      (void)absl::SimpleAtoi(a, &f.commits);
    else if (absl::ConsumePrefix(&a, "--repos="))
      (void)absl::SimpleAtoi(a, &f.repos);
    else if (absl::ConsumePrefix(&a, "--threads="))
      (void)absl::SimpleAtoi(a, &f.threads);
  }
  return f;
}

std::unique_ptr<sf::SourceFetcher> NewFetcher(const std::string& cache_dir, int parallel) {
  sf::SourceFetcherOptions options;
  options.cache_dir = cache_dir;
  options.max_parallel_fetches = parallel;
  auto fetcher = sf::SourceFetcher::Create(options);
  if (!fetcher.ok()) {
    std::fprintf(stderr, "create: %s\n", fetcher.status().ToString().c_str());
    std::exit(1);
  }
  return std::move(*fetcher);
}

absl::StatusOr<sf::ResolveResult> Resolve(sf::SourceFetcher& f, const std::string& url,
                                          const std::string& ref) {
  sf::ResolveRequest r;
  r.repo_url = url;
  r.ref = ref;
  r.deadline = absl::Now() + absl::Minutes(5);
  return f.Resolve(r);
}

// Stops the git daemon when the benchmark gives up (std::exit skips destructors).
sf::testing::GitDaemon* running_daemon = nullptr;

void Must(const absl::Status& s, const char* what) {
  if (!s.ok()) {
    std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
    if (running_daemon != nullptr) running_daemon->~GitDaemon();
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  sf::testing::TempDir dir;
  std::string repos = dir.path() + "/repos";
  fs::create_directories(repos);
  std::printf("source_fetcher_bench: %d files, %d commits, %d repos (work dir %s)\n", flags.files,
              flags.commits, flags.repos, dir.path().c_str());

  double t0 = NowMs();
  WriteFastImport(dir.path() + "/stream", flags.files, flags.commits);
  Must(sf::testing::Sh(
           "git init -q --bare bench.git && git -C bench.git fast-import --quiet < ../stream"
           " && git -C bench.git gc -q",
           repos)
           .status(),
       "generate");
  std::printf("generated repository in %.0f ms\n", NowMs() - t0);

  sf::testing::GitDaemon daemon;
  running_daemon = &daemon;
  Must(daemon.Start(repos, dir.path() + "/daemon.log"), "git daemon");
  std::string url = daemon.Url("bench.git");

  // 1. Cold mirror vs git clone --mirror (best of 3 each).
  double git_clone = 1e18, fetcher_cold = 1e18;
  for (int i = 0; i < 3; ++i) {
    std::string dst = absl::StrCat(dir.path(), "/gitclone", i);
    double s = NowMs();
    Must(sf::testing::Sh(absl::StrCat("git clone -q --mirror ", url, " ", dst)).status(),
         "git clone");
    git_clone = std::min(git_clone, NowMs() - s);
    fs::remove_all(dst);
  }
  for (int i = 0; i < 3; ++i) {
    std::string cache = absl::StrCat(dir.path(), "/cold", i);
    auto f = NewFetcher(cache, 8);
    double s = NowMs();
    Must(Resolve(*f, url, "main").status(), "cold resolve");
    fetcher_cold = std::min(fetcher_cold, NowMs() - s);
    f.reset();
    fs::remove_all(cache);
  }

  // 2. Warm Resolve (branch, nothing changed: one ls-remote, no fetch) vs git ls-remote.
  auto f = NewFetcher(dir.path() + "/warm", 8);
  Must(Resolve(*f, url, "main").status(), "prime");
  std::vector<double> warm, warm_commit, warm_semver;
  std::string head = Resolve(*f, url, "main")->revision.commit;
  for (int i = 0; i < 200; ++i) {
    double s = NowMs();
    auto r = Resolve(*f, url, "main");
    warm.push_back(NowMs() - s);
    if (!r.ok() || r->fetched) Must(absl::InternalError("warm resolve fetched"), "warm");
    s = NowMs();
    Must(Resolve(*f, url, head).status(), "commit");
    warm_commit.push_back(NowMs() - s);
    s = NowMs();
    Must(Resolve(*f, url, "^1").status(), "semver");
    warm_semver.push_back(NowMs() - s);
  }
  sf::SourceFetcherOptions ttl_options;
  ttl_options.cache_dir = dir.path() + "/warm-ttl";
  ttl_options.ref_cache_ttl = absl::Seconds(5);
  auto with_ttl = sf::SourceFetcher::Create(ttl_options);
  Must(with_ttl.status(), "ttl fetcher");
  Must(Resolve(**with_ttl, url, "main").status(), "prime ttl");
  std::vector<double> warm_ttl;
  for (int i = 0; i < 200; ++i) {
    double s = NowMs();
    Must(Resolve(**with_ttl, url, "main").status(), "ttl resolve");
    warm_ttl.push_back(NowMs() - s);
  }
  std::vector<double> raw_advertisement;
  for (int i = 0; i < 200; ++i) {
    const double ms = RawAdvertisementMs(url);
    if (ms < 0) Must(absl::InternalError("raw ref advertisement failed"), "floor");
    raw_advertisement.push_back(ms);
  }
  std::vector<double> ls_remote;
  for (int i = 0; i < 20; ++i) {
    double s = NowMs();
    Must(sf::testing::Sh(absl::StrCat("git ls-remote ", url, " main > /dev/null")).status(),
         "ls-remote");
    ls_remote.push_back(NowMs() - s);
  }

  // 3. ReadTree of 1,000 files (a/) from the warm mirror.
  std::vector<double> read_tree;
  size_t files_read = 0, bytes_read = 0;
  for (int i = 0; i < 50; ++i) {
    sf::ReadTreeRequest r;
    r.repo_url = url;
    r.commit = head;
    r.path = "a";
    files_read = bytes_read = 0;
    double s = NowMs();
    Must(f->ReadTree(r,
                     [&](sf::TreeFile&& file) {
                       ++files_read;
                       bytes_read += file.content.size();
                       return absl::OkStatus();
                     }),
         "read tree");
    read_tree.push_back(NowMs() - s);
  }
  std::vector<double> git_archive;
  for (int i = 0; i < 10; ++i) {
    double s = NowMs();
    Must(sf::testing::Sh(
             absl::StrCat("git -C ", repos, "/bench.git archive ", head, " a > /dev/null"))
             .status(),
         "archive");
    git_archive.push_back(NowMs() - s);
  }

  // 4. Many repositories resolved concurrently (skipped with --repos=0).
  double many_cold = 0, many_warm = 0, git_many = 0;
  std::unique_ptr<sf::SourceFetcher> many;
  if (flags.repos > 0) {
    Must(sf::testing::Sh("git init -q -b main small && cd small && echo x > f && git add f && "
                         "git -c user.name=n -c user.email=e commit -q -m one",
                         dir.path())
             .status(),
         "small");
    for (int i = 0; i < flags.repos; ++i) {
      Must(sf::testing::Sh(absl::StrCat("git clone -q --bare small ", repos, "/r", i, ".git"),
                           dir.path())
               .status(),
           "clone small");
    }
    many = NewFetcher(dir.path() + "/many", 16);
    auto resolve_all = [&](int threads) {
      std::atomic<int> next{0}, failures{0};
      std::vector<std::thread> pool;
      double s = NowMs();
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&] {
          for (int i = next++; i < flags.repos; i = next++) {
            auto r = Resolve(*many, daemon.Url(absl::StrCat("r", i, ".git")), "main");
            if (!r.ok() && failures++ < 3) {
              std::fprintf(stderr, "resolve r%d: %s\n", i, r.status().ToString().c_str());
            }
          }
        });
      }
      for (auto& th : pool) th.join();
      if (failures > 0) std::fprintf(stderr, "%d failures\n", failures.load());
      return NowMs() - s;
    };
    many_cold = resolve_all(flags.threads);
    many_warm = resolve_all(flags.threads);
    double many_warm_serial = resolve_all(1);
    std::printf("(%d repos warm, one thread: %.0f ms)\n", flags.repos, many_warm_serial);
    double s = NowMs();
    Must(sf::testing::Sh(absl::StrCat("seq 0 ", flags.repos - 1,
                                      " | xargs -P 16 -I{} git clone -q --mirror ",
                                      daemon.Url("r{}.git"), " ", dir.path(), "/gm/r{}.git"))
             .status(),
         "parallel git clone");
    git_many = NowMs() - s;
  }

  std::printf("\n%-52s %12s %12s %8s\n", "measure", "todoke", "git", "ratio");
  auto row = [](const char* name, double ours, double theirs) {
    if (theirs > 0) {
      std::printf("%-52s %9.2f ms %9.2f ms %7.2fx\n", name, ours, theirs, ours / theirs);
    } else {
      std::printf("%-52s %9.2f ms %12s %8s\n", name, ours, "-", "-");
    }
  };
  row("cold mirror (Resolve main) vs git clone --mirror", fetcher_cold, git_clone);
  row("warm Resolve branch p50 vs git ls-remote p50", Percentile(warm, 0.5),
      Percentile(ls_remote, 0.5));
  row("warm Resolve branch p50 vs raw daemon advertisement", Percentile(warm, 0.5),
      Percentile(raw_advertisement, 0.5));
  row("warm Resolve branch p90", Percentile(warm, 0.9), 0);
  row("warm Resolve branch p50, --ref-cache-ttl=5s", Percentile(warm_ttl, 0.5), 0);
  row("warm Resolve semver ^1 p50", Percentile(warm_semver, 0.5), 0);
  row("warm Resolve full commit id p50 (no network)", Percentile(warm_commit, 0.5), 0);
  row(absl::StrFormat("ReadTree %zu files / %zu KiB p50 vs git archive", files_read,
                      bytes_read / 1024)
          .c_str(),
      Percentile(read_tree, 0.5), Percentile(git_archive, 0.5));
  if (many != nullptr) {
    row(absl::StrFormat("%d repos cold, concurrent vs git clone -P16", flags.repos).c_str(),
        many_cold, git_many);
    row(absl::StrFormat("%d repos warm, concurrent", flags.repos).c_str(), many_warm, 0);
    sf::FetcherStats st = many->stats();
    std::printf("\n%d-repo fetcher: clones=%llu fetches=%llu ls_remotes=%llu\n", flags.repos,
                static_cast<unsigned long long>(st.clones),
                static_cast<unsigned long long>(st.fetches),
                static_cast<unsigned long long>(st.ls_remotes));
  }
  std::printf("targets: cold <= 1.0x git; warm Resolve p50 < 5 ms; ReadTree 1,000 files < 20 ms\n");
  return 0;
}

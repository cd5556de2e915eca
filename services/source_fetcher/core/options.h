// Configuration of the source-fetcher core. main.cc maps command-line flags onto these fields;
// every field has a default that works for tests and small installations.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_OPTIONS_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_OPTIONS_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace todoke::source_fetcher {

struct SourceFetcherOptions {
  // --cache-dir: root of the mirror cache (created if missing). Must not be shared by two
  // running fetchers: the first one takes an exclusive lock on it.
  std::string cache_dir = "/var/cache/todoke/source-fetcher";
  // --max-parallel-fetches: fetches/clones running at once across all repositories.
  int max_parallel_fetches = 8;
  // --cache-max-bytes: mirrors are evicted least-recently-used first above this size; 0 = no limit.
  uint64_t cache_max_bytes = 0;
  // --allow-local-repos: accept file:// URLs and absolute local paths as repositories.
  bool allow_local = false;
  // --credentials: credentials file, or a directory of such files (see credentials.h). Empty: none.
  std::string credentials_path;
  // --tls-ca-file (optional): PEM bundle used to verify HTTPS servers instead of the system store
  // (a libgit2 process-wide setting: one bundle per process).
  std::string tls_ca_file;
  // --max-files: ReadTree's file-count limit. A request may only lower it (its max_files, when
  // not 0, counts when smaller).
  uint32_t max_files = 100'000;
  // --max-total-bytes: ReadTree's total-content limit; a request may only lower it.
  uint64_t max_total_bytes = 512ull << 20;
  // --max-ref-listing-bytes: bytes a remote may send for its ref advertisement (ls-remote, and
  // the first phase of a fetch), which libgit2 holds in memory: the bound on what a hostile remote
  // can make one operation use (see RemoteClientOptions). 0: no limit.
  uint64_t max_ref_listing_bytes = 64ull << 20;
  // --ref-cache-ttl: reuse a remote's ref listing (ls-remote) for this long; 0 = always ask the
  // remote (a ref moved upstream is seen at once). A few seconds absorbs bursts of requests.
  absl::Duration ref_cache_ttl = absl::ZeroDuration();
  // --network-timeout: bound for a network operation when the request carries no deadline.
  absl::Duration default_network_timeout = absl::Minutes(5);
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_OPTIONS_H_

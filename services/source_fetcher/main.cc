// todoke-source-fetcher: resolves Git refs, keeps bare mirrors and serves the files of a commit.
#include <string>

#include "absl/flags/flag.h"
#include "common/log.h"
#include "common/service_main.h"
#include "services/source_fetcher/core/options.h"
#include "services/source_fetcher/core/source_fetcher.h"
#include "services/source_fetcher/grpc/source_fetcher_service.h"

ABSL_FLAG(std::string, cache_dir, "/var/cache/todoke/source-fetcher",
          "root of the bare-mirror cache (one fetcher per directory)");
ABSL_FLAG(int, max_parallel_fetches, 8, "fetches/clones running at once across repositories");
ABSL_FLAG(uint64_t, cache_max_bytes, 0,
          "evict least-recently-used mirrors above this many bytes; 0 = no limit");
ABSL_FLAG(bool, allow_local_repos, false, "accept file:// URLs and local paths as repositories");
ABSL_FLAG(std::string, credentials, "",
          "credentials file or directory, keyed by URL prefix (never taken from requests)");
ABSL_FLAG(std::string, tls_ca_file, "", "PEM bundle to verify HTTPS Git servers with");
ABSL_FLAG(uint32_t, max_files, 100000, "ReadTree file-count limit (requests may only lower it)");
ABSL_FLAG(uint64_t, max_total_bytes, 512ull << 20,
          "ReadTree total-size limit in bytes (requests may only lower it)");
ABSL_FLAG(uint64_t, max_ref_listing_bytes, 64ull << 20,
          "bytes a remote may send for its ref advertisement, which is held in memory; 0 = no "
          "limit");
ABSL_FLAG(absl::Duration, ref_cache_ttl, absl::ZeroDuration(),
          "reuse a remote's ref listing for this long (0: ask the remote every time)");
ABSL_FLAG(absl::Duration, network_timeout, absl::Minutes(5),
          "bound for a network operation when the request has no deadline");

int main(int argc, char** argv) {
  todoke::InitService(argc, argv, "source-fetcher",
                      "todoke-source-fetcher: resolves Git refs, keeps bare mirrors and serves "
                      "the files of a commit.\n\nUsage: todoke-source-fetcher --cache-dir=DIR "
                      "[--listen=host:port] [flags]");
  todoke::source_fetcher::SourceFetcherOptions options;
  options.cache_dir = absl::GetFlag(FLAGS_cache_dir);
  options.max_parallel_fetches = absl::GetFlag(FLAGS_max_parallel_fetches);
  options.cache_max_bytes = absl::GetFlag(FLAGS_cache_max_bytes);
  options.allow_local = absl::GetFlag(FLAGS_allow_local_repos);
  options.credentials_path = absl::GetFlag(FLAGS_credentials);
  options.tls_ca_file = absl::GetFlag(FLAGS_tls_ca_file);
  options.max_files = absl::GetFlag(FLAGS_max_files);
  options.max_total_bytes = absl::GetFlag(FLAGS_max_total_bytes);
  options.max_ref_listing_bytes = absl::GetFlag(FLAGS_max_ref_listing_bytes);
  options.ref_cache_ttl = absl::GetFlag(FLAGS_ref_cache_ttl);
  options.default_network_timeout = absl::GetFlag(FLAGS_network_timeout);
  auto fetcher = todoke::source_fetcher::SourceFetcher::Create(options);
  if (!fetcher.ok()) {
    todoke::LogError("cannot start", {{"error", fetcher.status().message()}});
    return 1;
  }
  todoke::source_fetcher::SourceFetcherServiceOptions service_options;
  service_options.read_tree_piece_bytes =
      todoke::source_fetcher::ReadTreePieceBytesFor(todoke::MaxMessageBytesFlag());
  todoke::source_fetcher::SourceFetcherService service(fetcher->get(), service_options);
  return todoke::ServeUntilSignal("source-fetcher", {&service});
}

// Plain value types of the source-fetcher core (the gRPC adapter maps them to and from proto).
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_TYPES_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_TYPES_H_

#include <cstdint>
#include <string>

#include "absl/time/time.h"

namespace todoke::source_fetcher {

// Metadata of one commit.
struct Revision {
  std::string commit;  // 40 hex digits.
  std::string author_name;
  std::string author_email;
  absl::Time author_time;
  std::string message;
};

struct ResolveRequest {
  std::string repo_url;
  // Branch, tag, full or short commit id, "HEAD", "refs/...", or a semver constraint over tags.
  std::string ref;
  // Every network operation of the call ends by this time; InfiniteFuture() means the default
  // network timeout of the options.
  absl::Time deadline = absl::InfiniteFuture();
  // Ask the remote for its refs even when the ref cache (SourceFetcherOptions::ref_cache_ttl)
  // holds a fresh listing, and refresh the cache with the answer: for callers that know a ref
  // just moved (a webhook). A full commit id the mirror has still needs no listing.
  bool bypass_ref_cache = false;
};

struct ResolveResult {
  Revision revision;
  std::string resolved_ref;  // e.g. "refs/heads/main"; empty when `ref` was a commit id.
  bool fetched = false;      // true if this call fetched from the remote.
};

struct ReadTreeRequest {
  std::string repo_url;
  std::string commit;  // 40 hex digits.
  std::string path;    // "" or "." for the root.
  // Limits that can only lower the server's (SourceFetcherOptions::max_files and
  // max_total_bytes); 0: the server's.
  uint32_t max_files = 0;
  uint64_t max_total_bytes = 0;
  absl::Time deadline = absl::InfiniteFuture();
};

struct TreeFile {
  std::string path;   // relative to the repository root, '/'-separated.
  uint32_t mode = 0;  // 0100644, 0100755 or 0120000.
  std::string blob_id;
  std::string content;
};

struct GetRevisionRequest {
  std::string repo_url;
  std::string commit;  // full or unambiguous short commit id.
  absl::Time deadline = absl::InfiniteFuture();
};

// Counters for observability and tests (e.g. proving a Resolve did not fetch).
struct FetcherStats {
  uint64_t ls_remotes = 0;  // remote ref listings.
  uint64_t fetches = 0;     // fetches into an existing mirror.
  uint64_t clones = 0;      // mirrors created from scratch (includes rebuilds).
  uint64_t rebuilds = 0;    // corrupt mirrors detected and thrown away.
  uint64_t evictions = 0;   // mirrors evicted by the size limit.
};

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_TYPES_H_

// The tree reader: walks the tree of one commit in an open mirror and hands its files out.
// Internal to the source-fetcher core; SourceFetcher::ReadTree validates the request, finds the
// mirror, holds its lock and retries after a rebuild, and calls ReadCommitTree for the walk.
#ifndef TODOKE_SERVICES_SOURCE_FETCHER_CORE_TREE_READER_H_
#define TODOKE_SERVICES_SOURCE_FETCHER_CORE_TREE_READER_H_

#include <git2.h>

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "services/source_fetcher/core/types.h"

namespace todoke::source_fetcher {

// "a/./b/" -> "a/b"; "" and "." -> "". INVALID_ARGUMENT for absolute paths, ".." and NUL bytes.
absl::StatusOr<std::string> NormalizeTreePath(absl::string_view path);

// True if the symlink at `link_path` (repository-relative) pointing at `target` stays inside
// the repository: a relative target whose ".." never climbs above the root.
bool SymlinkStaysInside(absl::string_view link_path, absl::string_view target);

// Limits on one read: a tree with more files or more bytes is refused before delivery.
struct TreeReadLimits {
  uint32_t max_files = 0;
  uint64_t max_bytes = 0;
};

// Walks the tree of commit `commit_id` (full lowercase hex) at `path` (already normalized by
// NormalizeTreePath; "" is the root; a file path yields that one file) in `repo`, and calls
// `on_file` for each blob and symlink in tree order. Submodules are skipped.
// Nothing is delivered unless the whole read is acceptable: file count and total size (from
// the object headers) within `limits` (RESOURCE_EXHAUSTED), every symlink staying inside the
// repository (FAILED_PRECONDITION). NOT_FOUND for a missing path or a submodule path,
// FAILED_PRECONDITION if `commit_id` names no commit, DATA_LOSS for objects libgit2 cannot read
// (the caller may rebuild the mirror and retry). An error from `on_file` stops the walk and is
// returned. `*delivered_any` is set once a file has been handed to `on_file`.
absl::Status ReadCommitTree(git_repository* repo, const std::string& commit_id,
                            const std::string& path, const TreeReadLimits& limits,
                            const std::function<absl::Status(TreeFile&&)>& on_file,
                            bool* delivered_any);

}  // namespace todoke::source_fetcher

#endif  // TODOKE_SERVICES_SOURCE_FETCHER_CORE_TREE_READER_H_

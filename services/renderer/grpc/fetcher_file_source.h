// A FileSource over the source-fetcher's ReadTree: the files of one commit, fetched lazily by
// folder (a whole subtree per call) and kept in memory for the duration of one render.
#ifndef TODOKE_SERVICES_RENDERER_GRPC_FETCHER_FILE_SOURCE_H_
#define TODOKE_SERVICES_RENDERER_GRPC_FETCHER_FILE_SOURCE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "services/renderer/core/file_source.h"
#include "todoke/source_fetcher/v1/source_fetcher.grpc.pb.h"

namespace todoke::renderer {

struct FetcherFileSourceOptions {
  // Deadline of every ReadTree call made through this source.
  absl::Time deadline = absl::InfiniteFuture();
  // Limits passed to ReadTree (0: the fetcher's defaults).
  uint32_t max_files = 0;
  uint64_t max_total_bytes = 0;
};

class FetcherFileSource : public FileSource {
 public:
  using Stub = todoke::source_fetcher::v1::SourceFetcher::StubInterface;

  FetcherFileSource(std::shared_ptr<Stub> stub, std::string repo_url, std::string commit,
                    FetcherFileSourceOptions options = {});

  // Fetches the subtree under folder `dir` now. NOT_FOUND if it is not a folder at this commit;
  // otherwise the fetcher's error (converted from gRPC, naming the folder, repository and
  // commit), or DATA_LOSS naming the file if a file sent in pieces did not arrive whole.
  absl::Status Prefetch(absl::string_view dir);

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const override;
  bool IsDirectory(absl::string_view path) const override;
  bool IsFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override;
  // The first error other than NOT_FOUND the fetcher returned (e.g. UNAVAILABLE).
  absl::Status SourceStatus() const override;

  // Number of ReadTree calls made so far.
  int fetch_count() const;

 private:
  struct File {
    std::string content;
    std::string blob_id;
    bool symlink = false;
  };
  // Makes sure `dir` is fetched (or known not to be a folder). Returns the fetch status.
  absl::Status EnsureLocked(const std::string& dir) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  bool CoveredLocked(const std::string& dir) const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Follows symlinks (within the repository) to a regular file; null if none.
  const File* FindFileLocked(std::string path, int depth = 0) const
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  std::shared_ptr<Stub> stub_;
  const std::string repo_url_;
  const std::string commit_;
  const FetcherFileSourceOptions options_;

  mutable absl::Mutex mu_;
  mutable std::map<std::string, File, std::less<>> files_ ABSL_GUARDED_BY(mu_);
  mutable std::map<std::string, std::set<std::string>, std::less<>> directories_
      ABSL_GUARDED_BY(mu_);
  mutable std::set<std::string, std::less<>> covered_ ABSL_GUARDED_BY(mu_);
  mutable std::set<std::string, std::less<>> absent_ ABSL_GUARDED_BY(mu_);
  mutable absl::Status error_ ABSL_GUARDED_BY(mu_);
  mutable int fetches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_GRPC_FETCHER_FILE_SOURCE_H_

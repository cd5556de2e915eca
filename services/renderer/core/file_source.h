// Read-only access to the files of one repository at one commit, the renderer's only view of
// the world. Paths are relative to the repository root, '/'-separated, without "." or ".."
// segments ("" is the root). Every implementation confines access to the repository.
#ifndef TODOKE_SERVICES_RENDERER_CORE_FILE_SOURCE_H_
#define TODOKE_SERVICES_RENDERER_CORE_FILE_SOURCE_H_

#include <sys/stat.h>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"

namespace todoke::renderer {

// A file's bytes and its content address (Git blob id).
struct FileContent {
  std::string content;
  std::string blob_id;
};

class FileSource {
 public:
  virtual ~FileSource() = default;

  // The content of a regular file. NOT_FOUND naming `path` if absent or a directory.
  virtual absl::StatusOr<std::string> ReadFile(absl::string_view path) const = 0;

  // True if `path` is a directory (the root "" always is).
  virtual bool IsDirectory(absl::string_view path) const = 0;

  // True if `path` is a regular file.
  virtual bool IsFile(absl::string_view path) const = 0;

  // Names (not paths) of the entries directly under directory `path`, sorted; directories
  // end with '/'. NOT_FOUND if `path` is not a directory.
  virtual absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const = 0;

  // The content of a regular file with its content address. The default reads the file and
  // computes Git's blob id (GitBlobId); sources that know the id (the fetcher's tree) return it.
  // Errors as ReadFile.
  virtual absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const;

  // OK unless the source itself failed while serving a render (e.g. the source-fetcher was
  // unreachable, so a file looked absent). A render that saw such a failure is not trusted:
  // the renderer returns this status instead of its own result and does not cache it.
  virtual absl::Status SourceStatus() const { return absl::OkStatus(); }
};

// Git's blob id of `content`: lowercase hex SHA-1 of "blob <size>\0<content>".
std::string GitBlobId(absl::string_view content);

// Joins `base` and `relative` and normalises "." and ".." segments. INVALID_ARGUMENT naming the
// path if it is absolute or climbs above the repository root.
absl::StatusOr<std::string> ResolveRepoPath(absl::string_view base, absl::string_view relative);

// The parent directory of a normalised path ("" for top-level entries).
std::string ParentPath(absl::string_view path);

// One file of an in-memory tree, as the source-fetcher serves it.
struct TreeFileEntry {
  std::string path;
  std::string content;
  std::string blob_id;  // content address; may be empty for hand-made trees
};

// An in-memory repository tree (from ReadTree, or built by tests). Records which files were
// read so a render can report its inputs.
class MemoryFileSource : public FileSource {
 public:
  explicit MemoryFileSource(std::vector<TreeFileEntry> files);

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  bool IsDirectory(absl::string_view path) const override;
  bool IsFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override;
  // Returns the entry's blob id, computing Git's when the entry has none.
  absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const override;

  // Files read so far, sorted by path: (path, blob_id).
  std::vector<std::pair<std::string, std::string>> FilesRead() const;

 private:
  std::map<std::string, TreeFileEntry, std::less<>> files_;
  std::map<std::string, std::vector<std::string>, std::less<>> directories_;
  mutable absl::Mutex mu_;
  mutable std::map<std::string, std::string> read_ ABSL_GUARDED_BY(mu_);
};

// A directory on local disk treated as a repository root (for `todoke render` and tests).
// Symlinks that resolve outside the root are refused. Entries named ".git" are hidden, as in
// the trees the source-fetcher serves. A file over `max_file_bytes` is refused (RESOURCE_EXHAUSTED,
// naming the file and the limit) before any of it is read; the default is the YAML reader's
// per-document cap (32 MiB).
class DiskFileSource : public FileSource {
 public:
  static constexpr size_t kDefaultMaxFileBytes = size_t{32} << 20;
  explicit DiskFileSource(std::string root, size_t max_file_bytes = kDefaultMaxFileBytes);

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  bool IsDirectory(absl::string_view path) const override;
  bool IsFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override;

 private:
  // True if `path` exists and its real path stays inside the root (and has no .git segment):
  // sets `real` to that path and `info` to what it is. Otherwise false, `real` the real path
  // if there is one inside the root (it could not be examined), else ""; then `*outside`
  // (if given) tells whether the path exists but resolves outside the root (or under .git).
  bool Resolve(absl::string_view path, std::string* real, struct stat* info,
               bool* outside = nullptr) const;

  std::string root_;
  size_t max_file_bytes_;
};

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_FILE_SOURCE_H_

#include "services/renderer/grpc/fetcher_file_source.h"

#include <grpcpp/grpcpp.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/source_fetcher/grpc/read_tree_client.h"

namespace todoke::renderer {
namespace {

constexpr uint32_t kSymlinkMode = 0120000;

bool IsUnder(absl::string_view path, absl::string_view prefix) {
  if (prefix.empty()) return true;
  return path == prefix || (path.size() > prefix.size() && absl::StartsWith(path, prefix) &&
                            path[prefix.size()] == '/');
}

}  // namespace

FetcherFileSource::FetcherFileSource(std::shared_ptr<Stub> stub, std::string repo_url,
                                     std::string commit, FetcherFileSourceOptions options)
    : stub_(std::move(stub)),
      repo_url_(std::move(repo_url)),
      commit_(std::move(commit)),
      options_(options) {}

bool FetcherFileSource::CoveredLocked(const std::string& dir) const {
  // Any covered prefix of `dir`: walk up its ancestors.
  std::string current = dir;
  while (true) {
    if (covered_.contains(current)) return true;
    if (current.empty()) return false;
    current = ParentPath(current);
  }
}

absl::Status FetcherFileSource::EnsureLocked(const std::string& dir) const {
  if (CoveredLocked(dir) || absent_.contains(dir)) return absl::OkStatus();
  // A folder inside something known not to be a folder is not one either.
  for (std::string ancestor = dir; !ancestor.empty();) {
    ancestor = ParentPath(ancestor);
    if (absent_.contains(ancestor)) {
      absent_.insert(dir);
      return absl::NotFoundError(absl::StrCat("folder \"", dir, "\" not found"));
    }
    if (ancestor.empty()) break;
  }
  grpc::ClientContext context;
  if (options_.deadline != absl::InfiniteFuture()) {
    context.set_deadline(absl::ToChronoTime(options_.deadline));
  }
  todoke::source_fetcher::v1::ReadTreeRequest request;
  request.set_repo_url(repo_url_);
  request.set_commit(commit_);
  request.set_path(dir);
  request.set_max_files(options_.max_files);
  request.set_max_total_bytes(options_.max_total_bytes);
  ++fetches_;
  std::unique_ptr<grpc::ClientReaderInterface<todoke::source_fetcher::v1::ReadTreeResponse>>
      reader = stub_->ReadTree(&context, request);
  std::map<std::string, File> received;
  // Files come whole here: the helper reassembles the ones sent in pieces and fails the call
  // (DATA_LOSS naming the path) rather than keep a truncated file.
  absl::Status status = todoke::source_fetcher::ReadWholeTreeFiles(
      &context, reader.get(), [&](todoke::source_fetcher::v1::TreeFile&& file) {
        absl::StatusOr<std::string> path = ResolveRepoPath("", file.path());
        if (!path.ok() || path->empty()) return absl::OkStatus();
        received[*path] =
            File{std::move(*file.mutable_content()), file.blob_id(), file.mode() == kSymlinkMode};
        return absl::OkStatus();
      });
  if (!status.ok()) {
    absent_.insert(dir);
    if (absl::IsNotFound(status)) return status;
    status = Annotate(status, absl::StrCat("reading \"", dir.empty() ? "." : dir, "\" of ",
                                           repo_url_, " at ", commit_));
    if (error_.ok()) error_ = status;
    return status;
  }
  bool is_folder = false;
  for (auto& [path, file] : received) {
    if (path == dir) continue;  // the path itself was a file
    if (!IsUnder(path, dir)) continue;
    is_folder = true;
  }
  for (auto& [path, file] : received) {
    // Register the file and its ancestors' entries.
    std::string child = path;
    bool child_is_dir = false;
    while (true) {
      std::string parent = ParentPath(child);
      std::string name = child.substr(parent.empty() ? 0 : parent.size() + 1);
      directories_[parent].insert(child_is_dir ? name + "/" : name);
      if (parent.empty()) break;
      child = std::move(parent);
      child_is_dir = true;
    }
    files_.insert_or_assign(path, std::move(file));
  }
  if (is_folder) {
    covered_.insert(dir);
    return absl::OkStatus();
  }
  absent_.insert(dir);
  return absl::NotFoundError(absl::StrCat("folder \"", dir, "\" not found"));
}

absl::Status FetcherFileSource::Prefetch(absl::string_view dir) {
  absl::MutexLock lock(&mu_);
  return EnsureLocked(std::string(dir));
}

const FetcherFileSource::File* FetcherFileSource::FindFileLocked(std::string path,
                                                                 int depth) const {
  if (depth > 8) return nullptr;
  EnsureLocked(ParentPath(path)).IgnoreError();
  auto it = files_.find(path);
  if (it == files_.end()) return nullptr;
  if (!it->second.symlink) return &it->second;
  absl::StatusOr<std::string> target = ResolveRepoPath(ParentPath(path), it->second.content);
  if (!target.ok()) return nullptr;
  return FindFileLocked(*std::move(target), depth + 1);
}

absl::StatusOr<std::string> FetcherFileSource::ReadFile(absl::string_view path) const {
  ASSIGN_OR_RETURN(FileContent file, ReadFileWithId(path));
  return std::move(file.content);
}

absl::StatusOr<FileContent> FetcherFileSource::ReadFileWithId(absl::string_view path) const {
  absl::MutexLock lock(&mu_);
  const File* file = FindFileLocked(std::string(path));
  if (file == nullptr) return absl::NotFoundError(absl::StrCat("file \"", path, "\" not found"));
  return FileContent{file->content, file->blob_id};
}

bool FetcherFileSource::IsFile(absl::string_view path) const {
  absl::MutexLock lock(&mu_);
  return FindFileLocked(std::string(path)) != nullptr;
}

bool FetcherFileSource::IsDirectory(absl::string_view path) const {
  absl::MutexLock lock(&mu_);
  std::string dir(path);
  if (!EnsureLocked(dir).ok()) return false;
  return directories_.contains(dir);
}

absl::StatusOr<std::vector<std::string>> FetcherFileSource::ListDirectory(
    absl::string_view path) const {
  absl::MutexLock lock(&mu_);
  std::string dir(path);
  absl::Status status = EnsureLocked(dir);
  auto it = directories_.find(dir);
  if (!status.ok() || it == directories_.end()) {
    return absl::NotFoundError(absl::StrCat("folder \"", path, "\" not found"));
  }
  return std::vector<std::string>(it->second.begin(), it->second.end());
}

absl::Status FetcherFileSource::SourceStatus() const {
  absl::MutexLock lock(&mu_);
  return error_;
}

int FetcherFileSource::fetch_count() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

}  // namespace todoke::renderer

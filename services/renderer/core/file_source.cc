#include "services/renderer/core/file_source.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "services/renderer/core/hashing.h"

namespace todoke::renderer {

absl::StatusOr<FileContent> FileSource::ReadFileWithId(absl::string_view path) const {
  absl::StatusOr<std::string> content = ReadFile(path);
  if (!content.ok()) return content.status();
  FileContent out;
  out.blob_id = GitBlobId(*content);
  out.content = *std::move(content);
  return out;
}

std::string GitBlobId(absl::string_view content) {
  return Sha1Hex(absl::StrCat("blob ", content.size(), absl::string_view("\0", 1)), content);
}

absl::StatusOr<std::string> ResolveRepoPath(absl::string_view base, absl::string_view relative) {
  if (!relative.empty() && relative.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "absolute path \"", relative, "\" is not allowed: paths are relative to the repository"));
  }
  std::vector<absl::string_view> parts;
  bool escaped = false;
  auto add = [&](absl::string_view piece) {
    for (absl::string_view segment : absl::StrSplit(piece, '/')) {
      if (segment.empty() || segment == ".") continue;
      if (segment == "..") {
        if (parts.empty()) {
          escaped = true;
          return;
        }
        parts.pop_back();
        continue;
      }
      parts.push_back(segment);
    }
  };
  add(base);
  if (!escaped) add(relative);
  if (escaped) {
    return absl::InvalidArgumentError(absl::StrCat("path \"", relative, "\" from \"",
                                                   base.empty() ? "." : base,
                                                   "\" is outside the repository root"));
  }
  return absl::StrJoin(parts, "/");
}

std::string ParentPath(absl::string_view path) {
  const size_t slash = path.rfind('/');
  if (slash == absl::string_view::npos) return "";
  return std::string(path.substr(0, slash));
}

namespace {

std::string Normalised(absl::string_view path) {
  absl::StatusOr<std::string> resolved = ResolveRepoPath("", path);
  return resolved.ok() ? *resolved : std::string(path);
}

}  // namespace

// --- MemoryFileSource -------------------------------------------------------------------------

MemoryFileSource::MemoryFileSource(std::vector<TreeFileEntry> files) {
  directories_[""];
  for (TreeFileEntry& file : files) {
    std::string path = Normalised(file.path);
    if (path.empty()) continue;
    // Register every ancestor directory with its child entry.
    std::string child = path;
    bool is_dir = false;
    while (true) {
      std::string parent = ParentPath(child);
      std::string name = child.substr(parent.empty() ? 0 : parent.size() + 1);
      if (is_dir) name += "/";
      std::vector<std::string>& entries = directories_[parent];
      if (std::find(entries.begin(), entries.end(), name) == entries.end()) entries.push_back(name);
      if (parent.empty()) break;
      child = parent;
      is_dir = true;
    }
    file.path = path;
    files_[path] = std::move(file);
  }
  for (auto& [dir, entries] : directories_) std::sort(entries.begin(), entries.end());
}

absl::StatusOr<std::string> MemoryFileSource::ReadFile(absl::string_view path) const {
  ASSIGN_OR_RETURN(FileContent file, ReadFileWithId(path));
  return std::move(file.content);
}

absl::StatusOr<FileContent> MemoryFileSource::ReadFileWithId(absl::string_view path) const {
  auto it = files_.find(path);
  if (it == files_.end()) {
    return absl::NotFoundError(absl::StrCat("file \"", path, "\" not found"));
  }
  FileContent out{it->second.content, it->second.blob_id};
  if (out.blob_id.empty()) out.blob_id = GitBlobId(out.content);
  absl::MutexLock lock(&mu_);
  read_[it->first] = out.blob_id;
  return out;
}

bool MemoryFileSource::IsDirectory(absl::string_view path) const {
  return directories_.find(path) != directories_.end();
}

bool MemoryFileSource::IsFile(absl::string_view path) const {
  return files_.find(path) != files_.end();
}

absl::StatusOr<std::vector<std::string>> MemoryFileSource::ListDirectory(
    absl::string_view path) const {
  auto it = directories_.find(path);
  if (it == directories_.end()) {
    return absl::NotFoundError(absl::StrCat("directory \"", path, "\" not found"));
  }
  return it->second;
}

std::vector<std::pair<std::string, std::string>> MemoryFileSource::FilesRead() const {
  absl::MutexLock lock(&mu_);
  return {read_.begin(), read_.end()};
}

// --- DiskFileSource ---------------------------------------------------------------------------

namespace {

std::string RealPath(const std::string& path) {
  char buffer[PATH_MAX];
  if (realpath(path.c_str(), buffer) == nullptr) return "";
  return buffer;
}

bool HasGitSegment(absl::string_view path) {
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment == ".git") return true;
  }
  return false;
}

}  // namespace

DiskFileSource::DiskFileSource(std::string root, size_t max_file_bytes)
    : root_(RealPath(root)), max_file_bytes_(max_file_bytes) {
  if (root_.empty()) root_ = std::move(root);
}

namespace {

// The real path of `path` under `root` if it exists and stays inside the root; "" otherwise.
std::string ConfinedPath(const std::string& root, absl::string_view path) {
  if (HasGitSegment(path)) return "";
  std::string full = path.empty() ? root : absl::StrCat(root, "/", path);
  std::string real = RealPath(full);
  if (real.empty()) return "";
  if (root == "/") return real;  // every real path is under "/" (the test below needs a '/')
  if (real != root && !(real.size() > root.size() && real.compare(0, root.size(), root) == 0 &&
                        real[root.size()] == '/')) {
    return "";
  }
  return real;
}

}  // namespace

bool DiskFileSource::Resolve(absl::string_view path, std::string* real, struct stat* info,
                             bool* outside) const {
  real->clear();
  auto exists_outside = [&] {
    if (outside != nullptr) *outside = !RealPath(absl::StrCat(root_, "/", path)).empty();
  };
  if (outside != nullptr) *outside = false;
  if (HasGitSegment(path)) {
    exists_outside();
    return false;
  }
  if (path.empty()) {
    *real = root_;
    return stat(real->c_str(), info) == 0;
  }
  // Below the root (real since the constructor), component by component: without a symlink
  // among them the path is its own real path, inside the root, and the last lstat says what it
  // is. realpath() on every access cost a readlink per component of the whole absolute path:
  // ~2,000 syscalls for the 50 files of Argo CD's manifests/base.
  std::string candidate = root_ == "/" ? "" : root_;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") {
      candidate.clear();
      break;
    }
    absl::StrAppend(&candidate, "/", segment);
    if (lstat(candidate.c_str(), info) != 0) return false;  // realpath() fails there too
    if (S_ISLNK(info->st_mode)) {
      candidate.clear();
      break;
    }
  }
  if (!candidate.empty()) {
    *real = std::move(candidate);
    return true;
  }
  // A symlink (or an unusual spelling): resolve it all, then check it stays inside the root.
  *real = ConfinedPath(root_, path);
  if (real->empty()) {
    exists_outside();
    return false;
  }
  return stat(real->c_str(), info) == 0;
}

absl::StatusOr<std::string> DiskFileSource::ReadFile(absl::string_view path) const {
  std::string real;
  struct stat info;
  bool outside = false;
  if (!Resolve(path, &real, &info, &outside) || !S_ISREG(info.st_mode)) {
    if (outside) {
      return absl::PermissionDeniedError(
          absl::StrCat("file \"", path, "\" resolves outside the repository root"));
    }
    return absl::NotFoundError(absl::StrCat("file \"", path, "\" not found"));
  }
  const int fd = open(real.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("file \"", path, "\" cannot be read"));
  struct CloseFd {
    int fd;
    ~CloseFd() { close(fd); }
  } closer{fd};
  // The size of what was opened, checked before any of it is read.
  if (fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    return absl::NotFoundError(absl::StrCat("file \"", path, "\" cannot be read"));
  }
  auto too_large = [&](uint64_t bytes) {
    return absl::ResourceExhaustedError(absl::StrCat("file \"", path, "\" is ", bytes,
                                                     " bytes, over the limit of ", max_file_bytes_,
                                                     " bytes per file"));
  };
  if (static_cast<uint64_t>(info.st_size) > max_file_bytes_) return too_large(info.st_size);
  std::string content;
  content.resize(static_cast<size_t>(info.st_size));
  size_t used = 0;
  // Once the size fstat gave is read, further reads go through this small buffer: the file
  // may grow while it is read (never past the limit), but it almost never does, and growing
  // the string ahead of the read would zero-fill room for nothing (64 KiB per file cost more
  // instructions than parsing a small one).
  char more[4096];
  while (true) {
    const bool filled = used == content.size();
    const ssize_t got = filled ? read(fd, more, sizeof(more))
                               : read(fd, content.data() + used, content.size() - used);
    if (got < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(
          absl::StrCat("file \"", path, "\" cannot be read: ", strerror(errno)));
    }
    if (got == 0) break;
    if (filled) {
      if (used + static_cast<size_t>(got) > max_file_bytes_) {
        return too_large(used + static_cast<size_t>(got));
      }
      content.append(more, static_cast<size_t>(got));
    }
    used += static_cast<size_t>(got);
  }
  content.resize(used);
  return content;
}

bool DiskFileSource::IsDirectory(absl::string_view path) const {
  std::string real;
  struct stat info;
  return Resolve(path, &real, &info) && S_ISDIR(info.st_mode);
}

bool DiskFileSource::IsFile(absl::string_view path) const {
  std::string real;
  struct stat info;
  return Resolve(path, &real, &info) && S_ISREG(info.st_mode);
}

absl::StatusOr<std::vector<std::string>> DiskFileSource::ListDirectory(
    absl::string_view path) const {
  std::string real;
  struct stat info;
  DIR* dir = Resolve(path, &real, &info) && S_ISDIR(info.st_mode) ? opendir(real.c_str()) : nullptr;
  if (dir == nullptr) {
    return absl::NotFoundError(absl::StrCat("directory \"", path, "\" not found"));
  }
  std::vector<std::string> names;
  while (struct dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == ".." || name == ".git") continue;
    // An entry that is a directory or a regular file (not a symlink) of a real directory inside
    // the root is what it says; others are resolved as any path.
    bool is_directory = entry->d_type == DT_DIR;
    bool is_file = entry->d_type == DT_REG;
    if (!is_directory && !is_file) {
      std::string child_real;
      struct stat child;
      const bool found =
          Resolve(path.empty() ? name : absl::StrCat(path, "/", name), &child_real, &child);
      is_directory = found && S_ISDIR(child.st_mode);
      is_file = found && S_ISREG(child.st_mode);
    }
    if (is_directory) {
      names.push_back(name + "/");
    } else if (is_file) {
      names.push_back(name);
    }
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace todoke::renderer

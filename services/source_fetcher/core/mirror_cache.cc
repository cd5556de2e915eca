#include "services/source_fetcher/core/mirror_cache.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "services/source_fetcher/core/git_util.h"

namespace todoke::source_fetcher {
namespace {

namespace fs = std::filesystem;

std::string MirrorKey(const std::string& canonical_url) {
  git_oid oid;
  git_odb_hash(&oid, canonical_url.data(), canonical_url.size(), GIT_OBJECT_BLOB);
  std::string hash = OidToHex(oid).substr(0, 16);
  // A readable hint: the last path component, sanitised.
  std::string name = canonical_url.substr(canonical_url.find_last_of('/') + 1);
  if (absl::EndsWith(name, ".git")) name.resize(name.size() - 4);
  std::string clean;
  for (char c : name) {
    clean.push_back(
        absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_');
    if (clean.size() >= 40) break;
  }
  if (clean.empty()) clean = "repo";
  return absl::StrCat(clean, "-", hash, ".git");
}

}  // namespace

uint64_t DirectorySize(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    std::error_code size_ec;
    if (it->is_regular_file(size_ec)) {
      uint64_t size = it->file_size(size_ec);
      if (!size_ec) total += size;
    }
  }
  return total;
}

absl::StatusOr<std::unique_ptr<MirrorCache>> MirrorCache::Open(const std::string& cache_dir,
                                                               uint64_t max_bytes) {
  absl::Status init = EnsureLibgit2();
  if (!init.ok()) return init;
  std::error_code ec;
  fs::path root = fs::absolute(cache_dir, ec);
  fs::create_directories(root / "mirrors", ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create cache directory ", cache_dir, ": ", ec.message()));
  }
  std::string lock_path = (root / ".lock").string();
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {  // e.g. permissions: not another process
    return absl::FailedPreconditionError(absl::StrCat(
        "cache directory ", cache_dir, ": cannot open ", lock_path, ": ", strerror(errno)));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    const int lock_errno = errno;
    ::close(fd);
    if (lock_errno == EWOULDBLOCK) {
      return absl::FailedPreconditionError(absl::StrCat("cache directory ", cache_dir,
                                                        " is in use by another process (",
                                                        lock_path, " is locked)"));
    }
    return absl::FailedPreconditionError(absl::StrCat(
        "cache directory ", cache_dir, ": cannot lock ", lock_path, ": ", strerror(lock_errno)));
  }
  std::unique_ptr<MirrorCache> cache(new MirrorCache(root.string(), max_bytes, fd));
  fs::remove_all(root / "tmp", ec);
  fs::create_directories(root / "tmp", ec);
  for (const auto& item : fs::directory_iterator(root / "mirrors", ec)) {
    std::string path = item.path().string();
    fs::path marker = item.path() / kMarkerFile;
    struct stat st;
    if (!item.is_directory() || ::stat(marker.c_str(), &st) != 0) {
      cache->RemoveDir(path);  // half-written
      continue;
    }
    // Stale ref locks from a crash would block every later fetch; we own the cache now.
    for (fs::recursive_directory_iterator it(item.path(), ec), end; !ec && it != end;
         it.increment(ec)) {
      if (it->is_regular_file() && absl::EndsWith(it->path().filename().string(), ".lock")) {
        fs::remove(it->path(), ec);
      }
    }
    auto entry = std::make_shared<MirrorEntry>();
    entry->key = item.path().filename().string();
    entry->dir = path;
    entry->present = true;
    entry->size_bytes = DirectorySize(path);
    entry->last_used_ns = absl::ToUnixNanos(absl::TimeFromTimespec(st.st_mtim));
    absl::MutexLock lock(&cache->mu_);
    cache->entries_[entry->key] = std::move(entry);
  }
  return cache;
}

MirrorCache::~MirrorCache() {
  if (lock_fd_ >= 0) ::close(lock_fd_);
}

std::shared_ptr<MirrorEntry> MirrorCache::Get(const std::string& canonical_url) {
  std::string key = MirrorKey(canonical_url);
  absl::MutexLock lock(&mu_);
  std::shared_ptr<MirrorEntry>& entry = entries_[key];
  if (entry == nullptr) {
    entry = std::make_shared<MirrorEntry>();
    entry->key = key;
    entry->dir = absl::StrCat(dir_, "/mirrors/", key);
    entry->last_used_ns = absl::ToUnixNanos(absl::Now());
  }
  return entry;
}

std::string MirrorCache::NewTempDir(const MirrorEntry& entry) {
  return absl::StrCat(dir_, "/tmp/", entry.key, ".", ::getpid(), ".", temp_counter_.fetch_add(1));
}

void MirrorCache::Touch(MirrorEntry& entry) {
  int64_t now = absl::ToUnixNanos(absl::Now());
  int64_t before = entry.last_used_ns.exchange(now);
  if (now - before > 5'000'000'000LL) {
    std::string marker = absl::StrCat(entry.dir, "/", kMarkerFile);
    ::utimensat(AT_FDCWD, marker.c_str(), nullptr, 0);
  }
}

void MirrorCache::UpdateSize(MirrorEntry& entry) { entry.size_bytes = DirectorySize(entry.dir); }

void MirrorCache::RemoveDir(const std::string& dir) {
  std::error_code ec;
  std::string trash =
      absl::StrCat(dir_, "/tmp/trash.", ::getpid(), ".", temp_counter_.fetch_add(1));
  fs::rename(dir, trash, ec);
  fs::remove_all(ec ? fs::path(dir) : fs::path(trash), ec);
}

uint64_t MirrorCache::TotalBytes() {
  absl::MutexLock lock(&mu_);
  uint64_t total = 0;
  for (const auto& [key, entry] : entries_) {
    if (entry->present) total += entry->size_bytes;
  }
  return total;
}

int MirrorCache::EvictIfNeeded(const MirrorEntry* keep) {
  if (max_bytes_ == 0) return 0;
  std::vector<std::shared_ptr<MirrorEntry>> candidates;
  uint64_t total = 0;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [key, entry] : entries_) {
      if (!entry->present) continue;
      total += entry->size_bytes;
      if (entry.get() != keep) candidates.push_back(entry);
    }
  }
  std::sort(candidates.begin(), candidates.end(),
            [](const auto& a, const auto& b) { return a->last_used_ns < b->last_used_ns; });
  int evicted = 0;
  for (const auto& entry : candidates) {
    if (total <= max_bytes_) break;
    std::unique_lock<std::timed_mutex> fetch(entry->fetch, std::try_to_lock);
    if (!fetch.owns_lock()) continue;
    std::unique_lock<std::shared_timed_mutex> life(entry->life, std::try_to_lock);
    if (!life.owns_lock()) continue;
    if (!entry->present) continue;
    entry->repositories.Invalidate();
    RemoveDir(entry->dir);
    entry->present = false;
    total -= std::min<uint64_t>(total, entry->size_bytes);
    entry->size_bytes = 0;
    ++evicted;
  }
  return evicted;
}

}  // namespace todoke::source_fetcher

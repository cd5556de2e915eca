#include "services/source_fetcher/core/source_fetcher.h"

#include <git2.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status.h"
#include "services/source_fetcher/core/git_util.h"
#include "services/source_fetcher/core/semver.h"
#include "services/source_fetcher/core/tree_reader.h"

namespace todoke::source_fetcher {
namespace {

namespace fs = std::filesystem;

std::chrono::steady_clock::time_point SteadyDeadline(absl::Time deadline) {
  absl::Duration left = deadline - absl::Now();
  if (left < absl::ZeroDuration()) left = absl::ZeroDuration();
  if (left > absl::Hours(24 * 365)) left = absl::Hours(24 * 365);
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(left);
}

bool IsFullCommitId(absl::string_view s) { return s.size() == 40 && IsHexPrefix(s); }

Revision RevisionOf(const git_commit* commit) {
  Revision r;
  r.commit = OidToHex(*git_commit_id(commit));
  const git_signature* author = git_commit_author(commit);
  if (author != nullptr) {
    r.author_name = author->name != nullptr ? author->name : "";
    r.author_email = author->email != nullptr ? author->email : "";
    r.author_time = absl::FromUnixSeconds(author->when.time);
  }
  const char* message = git_commit_message(commit);
  r.message = message != nullptr ? message : "";
  return r;
}

bool IsCorrupt(const absl::Status& s) { return s.code() == absl::StatusCode::kDataLoss; }

}  // namespace

struct SourceFetcher::Target {
  RepoUrl url;
  const Credential* credential = nullptr;
  std::shared_ptr<MirrorEntry> entry;
  absl::Time deadline;
  std::string masked_url;
};

absl::StatusOr<std::unique_ptr<SourceFetcher>> SourceFetcher::Create(
    const SourceFetcherOptions& options, std::unique_ptr<RemoteClient> remote) {
  RETURN_IF_ERROR(EnsureLibgit2());
  if (options.max_parallel_fetches <= 0) {
    return absl::InvalidArgumentError("max_parallel_fetches must be positive");
  }
  ASSIGN_OR_RETURN(CredentialStore credentials, CredentialStore::Load(options.credentials_path));
  ASSIGN_OR_RETURN(std::unique_ptr<MirrorCache> cache,
                   MirrorCache::Open(options.cache_dir, options.cache_max_bytes));
  if (remote == nullptr) {
    RemoteClientOptions remote_options;
    remote_options.tls_ca_file = options.tls_ca_file;
    remote_options.max_ref_listing_bytes = options.max_ref_listing_bytes;
    remote = NewLibgit2RemoteClient(remote_options);
  }
  return std::unique_ptr<SourceFetcher>(
      new SourceFetcher(options, std::move(remote), std::move(cache), std::move(credentials)));
}

SourceFetcher::SourceFetcher(SourceFetcherOptions options, std::unique_ptr<RemoteClient> remote,
                             std::unique_ptr<MirrorCache> cache, CredentialStore credentials)
    : options_(std::move(options)),
      remote_(std::move(remote)),
      cache_(std::move(cache)),
      credentials_(std::move(credentials)),
      free_fetch_slots_(options_.max_parallel_fetches) {}

SourceFetcher::~SourceFetcher() = default;

FetcherStats SourceFetcher::stats() const {
  FetcherStats s;
  s.ls_remotes = ls_remotes_;
  s.fetches = fetches_;
  s.clones = clones_;
  s.rebuilds = rebuilds_;
  s.evictions = evictions_;
  return s;
}

absl::StatusOr<SourceFetcher::Target> SourceFetcher::MakeTarget(const std::string& repo_url,
                                                                absl::Time deadline) {
  ASSIGN_OR_RETURN(RepoUrl url, ParseRepoUrl(repo_url, options_.allow_local));
  Target target;
  target.url = std::move(url);
  target.credential = credentials_.Lookup(target.url);
  target.entry = cache_->Get(target.url.canonical);
  target.masked_url = MaskCredentials(target.url.fetch_url);
  target.deadline = deadline == absl::InfiniteFuture()
                        ? absl::Now() + options_.default_network_timeout
                        : deadline;
  if (absl::Now() >= target.deadline) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline exceeded before ", target.masked_url, " was contacted"));
  }
  return target;
}

absl::Status SourceFetcher::AcquireFetchSlot(absl::Time deadline) {
  auto has_slot = [this]()
                      ABSL_EXCLUSIVE_LOCKS_REQUIRED(slots_mu_) { return free_fetch_slots_ > 0; };
  if (!slots_mu_.LockWhenWithDeadline(absl::Condition(&has_slot), deadline)) {
    slots_mu_.Unlock();
    return absl::DeadlineExceededError("deadline exceeded waiting for a free fetch slot");
  }
  --free_fetch_slots_;
  slots_mu_.Unlock();
  return absl::OkStatus();
}

void SourceFetcher::ReleaseFetchSlot() {
  absl::MutexLock lock(&slots_mu_);
  ++free_fetch_slots_;
}

// Returns the commit `spec` names in the mirror, nullopt if the mirror lacks it, DATA_LOSS if the
// mirror is broken.
static absl::StatusOr<std::optional<Revision>> FindCommitIn(MirrorCache& cache, MirrorEntry& entry,
                                                            const std::string& spec,
                                                            absl::Time deadline) {
  std::shared_lock<std::shared_timed_mutex> life(entry.life, std::defer_lock);
  if (!life.try_lock_until(SteadyDeadline(deadline))) {
    return absl::DeadlineExceededError("deadline exceeded waiting for the mirror");
  }
  if (!entry.present) return std::optional<Revision>();
  struct stat st;
  if (::stat(absl::StrCat(entry.dir, "/", MirrorCache::kMarkerFile).c_str(), &st) != 0) {
    return absl::DataLossError("mirror is incomplete");
  }
  std::optional<RepositoryPool::Handle> repo;
  if (!entry.repositories.Borrow(entry.dir, &repo)) {
    return absl::DataLossError(absl::StrCat("cannot open mirror: ", LastGitErrorMessage()));
  }
  git_object* raw_object = nullptr;
  int rc;
  if (spec.size() == 40) {
    git_oid oid;
    if (git_oid_fromstr(&oid, spec.c_str()) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid commit id \"", spec, "\""));
    }
    rc = git_object_lookup(&raw_object, repo->get(), &oid, GIT_OBJECT_ANY);
  } else {
    git_oid oid;
    if (git_oid_fromstrn(&oid, spec.c_str(), spec.size()) < 0) {
      return absl::InvalidArgumentError(absl::StrCat("invalid commit id \"", spec, "\""));
    }
    rc = git_object_lookup_prefix(&raw_object, repo->get(), &oid, spec.size(), GIT_OBJECT_ANY);
  }
  GitObject object(raw_object);
  if (rc == GIT_ENOTFOUND) return std::optional<Revision>();
  if (rc == GIT_EAMBIGUOUS) {
    return absl::InvalidArgumentError(absl::StrCat("short commit id \"", spec, "\" is ambiguous"));
  }
  if (rc < 0)
    return absl::DataLossError(absl::StrCat("cannot read ", spec, ": ", LastGitErrorMessage()));
  git_object* raw_peeled = nullptr;
  rc = git_object_peel(&raw_peeled, object.get(), GIT_OBJECT_COMMIT);
  GitObject peeled(raw_peeled);
  if (rc == GIT_EINVALIDSPEC || rc == GIT_EPEEL) {
    return absl::FailedPreconditionError(absl::StrCat(spec, " does not point at a commit"));
  }
  if (rc < 0)
    return absl::DataLossError(absl::StrCat("cannot read ", spec, ": ", LastGitErrorMessage()));
  cache.Touch(entry);
  return std::optional<Revision>(RevisionOf(reinterpret_cast<git_commit*>(peeled.get())));
}

absl::Status SourceFetcher::RebuildLocked(Target& target) {
  std::unique_lock<std::shared_timed_mutex> life(target.entry->life, std::defer_lock);
  if (!life.try_lock_until(SteadyDeadline(target.deadline))) {
    return absl::DeadlineExceededError("deadline exceeded waiting to rebuild the mirror");
  }
  target.entry->repositories.Invalidate();
  cache_->RemoveDir(target.entry->dir);
  target.entry->present = false;
  target.entry->size_bytes = 0;
  ++rebuilds_;
  return absl::OkStatus();
}

absl::Status SourceFetcher::FetchLocked(Target& target) {
  MirrorEntry& entry = *target.entry;
  RETURN_IF_ERROR(AcquireFetchSlot(target.deadline));
  struct SlotGuard {
    SourceFetcher* self;
    ~SlotGuard() { self->ReleaseFetchSlot(); }
  } slot_guard{this};

  if (entry.present) {
    ++fetches_;
    absl::Status status = remote_->Fetch(entry.dir, target.url, target.credential, target.deadline);
    if (status.code() != absl::StatusCode::kInternal &&
        status.code() != absl::StatusCode::kDataLoss) {
      entry.repositories.Invalidate();
      if (status.ok()) {
        cache_->UpdateSize(entry);
        evictions_ += cache_->EvictIfNeeded(&entry);
      }
      return status;
    }
    // The mirror cannot be opened or read: throw it away and clone.
    RETURN_IF_ERROR(RebuildLocked(target));
  }

  ++clones_;
  std::string tmp = cache_->NewTempDir(entry);
  git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  init.flags =
      GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
  git_repository* raw_repo = nullptr;
  if (git_repository_init_ext(&raw_repo, tmp.c_str(), &init) < 0) {
    return absl::InternalError(absl::StrCat("cannot create mirror: ", LastGitErrorMessage()));
  }
  git_repository_free(raw_repo);
  absl::Status status = remote_->Fetch(tmp, target.url, target.credential, target.deadline);
  if (!status.ok()) {
    cache_->RemoveDir(tmp);
    return status;
  }
  {
    std::ofstream marker(absl::StrCat(tmp, "/", MirrorCache::kMarkerFile));
    marker << target.masked_url << "\n";
    if (!marker) {
      cache_->RemoveDir(tmp);
      return absl::InternalError("cannot write the mirror marker");
    }
  }
  {
    std::unique_lock<std::shared_timed_mutex> life(entry.life, std::defer_lock);
    if (!life.try_lock_until(SteadyDeadline(target.deadline))) {
      cache_->RemoveDir(tmp);
      return absl::DeadlineExceededError("deadline exceeded waiting to install the mirror");
    }
    std::error_code ec;
    entry.repositories.Invalidate();
    if (fs::exists(entry.dir, ec)) cache_->RemoveDir(entry.dir);
    fs::rename(tmp, entry.dir, ec);
    if (ec) {
      cache_->RemoveDir(tmp);
      return absl::InternalError(absl::StrCat("cannot install the mirror: ", ec.message()));
    }
    entry.present = true;
  }
  cache_->UpdateSize(entry);
  cache_->Touch(entry);
  evictions_ += cache_->EvictIfNeeded(&entry);
  return absl::OkStatus();
}

absl::Status SourceFetcher::EnsureCommit(Target& target, const std::string& spec, bool* fetched) {
  *fetched = false;
  MirrorEntry& entry = *target.entry;
  bool corrupt = false;
  {
    auto found = FindCommitIn(*cache_, entry, spec, target.deadline);
    if (found.ok() && found->has_value()) return absl::OkStatus();
    if (!found.ok() && !IsCorrupt(found.status())) return found.status();
    corrupt = !found.ok();
  }
  std::unique_lock<std::timed_mutex> fetch_lock(entry.fetch, std::defer_lock);
  if (!fetch_lock.try_lock_until(SteadyDeadline(target.deadline))) {
    return absl::DeadlineExceededError(
        absl::StrCat("deadline exceeded waiting for another fetch of ", target.masked_url));
  }
  // Another request may have fetched (or rebuilt) while we waited.
  {
    auto found = FindCommitIn(*cache_, entry, spec, target.deadline);
    if (found.ok() && found->has_value()) return absl::OkStatus();
    if (!found.ok() && !IsCorrupt(found.status())) return found.status();
    corrupt = !found.ok();
  }
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (corrupt) RETURN_IF_ERROR(RebuildLocked(target));
    RETURN_IF_ERROR(FetchLocked(target));
    *fetched = true;
    auto found = FindCommitIn(*cache_, entry, spec, target.deadline);
    if (found.ok() && found->has_value()) return absl::OkStatus();
    if (found.ok()) {
      return absl::NotFoundError(
          absl::StrCat("commit ", spec, " not found in ", target.masked_url));
    }
    if (!IsCorrupt(found.status())) return found.status();
    corrupt = true;
  }
  return absl::DataLossError(
      absl::StrCat("mirror of ", target.masked_url, " is still unreadable after a rebuild"));
}

absl::StatusOr<std::shared_ptr<const std::vector<RemoteRef>>> SourceFetcher::ListRefs(
    Target& target, bool bypass_cache) {
  std::string key = absl::StrCat(target.url.fetch_url, "\n",
                                 target.credential != nullptr ? target.credential->url_prefix : "");
  if (options_.ref_cache_ttl > absl::ZeroDuration() && !bypass_cache) {
    absl::MutexLock lock(&ref_cache_mu_);
    auto it = ref_cache_.find(key);
    if (it != ref_cache_.end() && absl::Now() - it->second.listed_at < options_.ref_cache_ttl) {
      return it->second.refs;
    }
  }
  ++ls_remotes_;
  absl::Time started = absl::Now();
  ASSIGN_OR_RETURN(std::vector<RemoteRef> refs,
                   remote_->ListRefs(target.url, target.credential, target.deadline));
  auto shared = std::make_shared<const std::vector<RemoteRef>>(std::move(refs));
  if (options_.ref_cache_ttl > absl::ZeroDuration()) {
    absl::MutexLock lock(&ref_cache_mu_);
    // A slower listing started earlier must not replace a newer one.
    CachedRefs& cached = ref_cache_[key];
    if (cached.refs == nullptr || cached.listed_at <= started) cached = CachedRefs{started, shared};
  }
  return shared;
}

namespace {

absl::Status Masked(absl::Status status) {
  if (status.ok()) return status;
  return absl::Status(status.code(), MaskCredentials(status.message()));
}

}  // namespace

absl::StatusOr<ResolveResult> SourceFetcher::Resolve(const ResolveRequest& request) {
  absl::StatusOr<ResolveResult> result = ResolveUnmasked(request);
  if (!result.ok()) return Masked(result.status());
  return result;
}

absl::Status SourceFetcher::ReadTree(const ReadTreeRequest& request,
                                     const std::function<absl::Status(TreeFile&&)>& on_file) {
  return Masked(ReadTreeUnmasked(request, on_file));
}

absl::StatusOr<Revision> SourceFetcher::GetRevision(const GetRevisionRequest& request) {
  absl::StatusOr<Revision> revision = GetRevisionUnmasked(request);
  if (!revision.ok()) return Masked(revision.status());
  return revision;
}

absl::StatusOr<ResolveResult> SourceFetcher::ResolveUnmasked(const ResolveRequest& request) {
  const std::string& ref = request.ref;
  if (ref.empty()) return absl::InvalidArgumentError("ref is empty");
  if (ref.size() > 1024) return absl::InvalidArgumentError("ref is too long");
  for (char c : ref) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError("ref contains control characters");
    }
  }
  ASSIGN_OR_RETURN(Target target, MakeTarget(request.repo_url, request.deadline));
  ResolveResult result;

  auto finish = [&](const std::string& spec) -> absl::StatusOr<ResolveResult> {
    RETURN_IF_ERROR(EnsureCommit(target, spec, &result.fetched));
    ASSIGN_OR_RETURN(std::optional<Revision> revision,
                     FindCommitIn(*cache_, *target.entry, spec, target.deadline));
    if (!revision.has_value()) {
      return absl::NotFoundError(
          absl::StrCat("commit ", spec, " not found in ", target.masked_url));
    }
    result.revision = std::move(*revision);
    return result;
  };

  if (IsFullCommitId(ref)) return finish(absl::AsciiStrToLower(ref));

  ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<RemoteRef>> listed,
                   ListRefs(target, request.bypass_ref_cache));
  const std::vector<RemoteRef>& refs = *listed;
  std::map<std::string, const RemoteRef*> by_name;
  for (const RemoteRef& r : refs) by_name[r.name] = &r;
  auto peeled = [&](const std::string& name) -> std::string {
    auto it = by_name.find(name + "^{}");
    if (it != by_name.end()) return it->second->commit;
    return by_name.at(name)->commit;
  };

  std::string commit;
  if (ref == "HEAD") {
    auto it = by_name.find("HEAD");
    if (it != by_name.end()) {
      commit = it->second->commit;
      result.resolved_ref = it->second->symref_target.empty() ? "HEAD" : it->second->symref_target;
    }
  } else if (absl::StartsWith(ref, "refs/")) {
    if (by_name.count(ref) != 0) {
      commit = peeled(ref);
      result.resolved_ref = ref;
    }
  } else if (by_name.count(absl::StrCat("refs/heads/", ref)) != 0) {
    result.resolved_ref = absl::StrCat("refs/heads/", ref);
    commit = peeled(result.resolved_ref);
  } else if (by_name.count(absl::StrCat("refs/tags/", ref)) != 0) {
    result.resolved_ref = absl::StrCat("refs/tags/", ref);
    commit = peeled(result.resolved_ref);
  } else if (SemverConstraint::LooksLikeConstraint(ref)) {
    ASSIGN_OR_RETURN(SemverConstraint constraint, SemverConstraint::Parse(ref));
    std::optional<SemVersion> best;
    for (const RemoteRef& r : refs) {
      if (!absl::StartsWith(r.name, "refs/tags/") || absl::EndsWith(r.name, "^{}")) continue;
      std::optional<SemVersion> v = constraint.VersionOfTag(absl::string_view(r.name).substr(10));
      if (!v.has_value() || !constraint.Matches(*v)) continue;
      if (!best.has_value() || *best < *v) {
        best = v;
        result.resolved_ref = r.name;
      }
    }
    if (!best.has_value()) {
      return absl::NotFoundError(absl::StrCat("no tag of ", target.masked_url,
                                              " satisfies the version constraint \"", ref, "\""));
    }
    commit = peeled(result.resolved_ref);
  } else if (IsHexPrefix(ref)) {
    return finish(absl::AsciiStrToLower(ref));
  }
  if (commit.empty()) {
    return absl::NotFoundError(absl::StrCat("ref \"", ref, "\" not found in ", target.masked_url));
  }
  return finish(commit);
}

absl::StatusOr<Revision> SourceFetcher::GetRevisionUnmasked(const GetRevisionRequest& request) {
  if (!IsHexPrefix(request.commit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit \"", request.commit, "\" is not a commit id (4 to 40 hex digits)"));
  }
  ASSIGN_OR_RETURN(Target target, MakeTarget(request.repo_url, request.deadline));
  std::string spec = absl::AsciiStrToLower(request.commit);
  bool fetched = false;
  RETURN_IF_ERROR(EnsureCommit(target, spec, &fetched));
  ASSIGN_OR_RETURN(std::optional<Revision> revision,
                   FindCommitIn(*cache_, *target.entry, spec, target.deadline));
  if (!revision.has_value()) {
    return absl::NotFoundError(absl::StrCat("commit ", spec, " not found in ", target.masked_url));
  }
  return *std::move(revision);
}

absl::Status SourceFetcher::ReadTreeUnmasked(
    const ReadTreeRequest& request, const std::function<absl::Status(TreeFile&&)>& on_file) {
  if (!IsFullCommitId(request.commit)) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit \"", request.commit, "\" is not a full 40-hex commit id"));
  }
  ASSIGN_OR_RETURN(std::string path, NormalizeTreePath(request.path));
  // A request may lower the server's limits, never raise them.
  const uint32_t max_files =
      request.max_files != 0 ? std::min(request.max_files, options_.max_files) : options_.max_files;
  const uint64_t max_bytes = request.max_total_bytes != 0
                                 ? std::min(request.max_total_bytes, options_.max_total_bytes)
                                 : options_.max_total_bytes;
  ASSIGN_OR_RETURN(Target target, MakeTarget(request.repo_url, request.deadline));
  std::string commit_id = absl::AsciiStrToLower(request.commit);

  for (int attempt = 0;; ++attempt) {
    bool fetched = false;
    RETURN_IF_ERROR(EnsureCommit(target, commit_id, &fetched));
    bool delivered_any = false;
    absl::Status status = [&]() -> absl::Status {
      MirrorEntry& entry = *target.entry;
      std::shared_lock<std::shared_timed_mutex> life(entry.life, std::defer_lock);
      if (!life.try_lock_until(SteadyDeadline(target.deadline))) {
        return absl::DeadlineExceededError("deadline exceeded waiting for the mirror");
      }
      if (!entry.present) return absl::DataLossError("mirror vanished");
      std::optional<RepositoryPool::Handle> repo;
      if (!entry.repositories.Borrow(entry.dir, &repo)) {
        return absl::DataLossError(absl::StrCat("cannot open mirror: ", LastGitErrorMessage()));
      }
      return ReadCommitTree(repo->get(), commit_id, path, TreeReadLimits{max_files, max_bytes},
                            on_file, &delivered_any);
    }();
    if (!IsCorrupt(status) || attempt > 0 || delivered_any) return status;
    // The mirror is broken: rebuild it under the fetch lock, then try once more.
    std::unique_lock<std::timed_mutex> fetch_lock(target.entry->fetch, std::defer_lock);
    if (!fetch_lock.try_lock_until(SteadyDeadline(target.deadline))) {
      return absl::DeadlineExceededError("deadline exceeded waiting to rebuild the mirror");
    }
    RETURN_IF_ERROR(RebuildLocked(target));
  }
}

}  // namespace todoke::source_fetcher

// GitDestination: "hydration", the embedded default destination that needs no cluster. An app's
// desired objects are committed to a branch of a Git repository, one file per object (layout in
// services/applier/core/git/layout.h), one commit per Apply that changes something; the branch is
// what a rendered-manifests consumer (another cluster's GitOps agent, a reviewer) reads.
//
// The repository is
//   - a local path (absolute, or file://): written in place, through libgit2's object store and
//     a compare-and-swap update of refs/heads/<branch>; no work tree is ever touched. A missing
//     repository is created bare. A non-bare repository is accepted only when <branch> is not
//     the branch checked out in one of its work trees (FAILED_PRECONDITION otherwise: moving
//     that ref would make the work tree show every hydrated change reverted). The `push` flag
//     has nothing to do here: the commit is already in the repository.
//   - a remote URL (git://, http(s)://, ssh://): cloned (bare, the target branch only) into
//     `work_dir`, then each write fetches the branch tip, builds the new commit on it and pushes
//     it without force. A push refused as non-fast-forward (another writer got there first) is
//     fetched, rebuilt on the new tip and pushed again, at most `max_attempts` times in all
//     (then ABORTED), so a concurrent writer's commit is never lost; a refusal that is not a
//     race (a server hook, a protected branch) is FAILED_PRECONDITION with the server's reason.
//     ReadLive fetches too (one round trip when the tip is already in the clone).
//
// Every write builds the new tree from the tip it read (objects are never staged anywhere
// else), checks the app's folder claim (below), and publishes with compare-and-swap: a local
// ref update that fails because the ref moved, or a refused push, is replayed on the new tip.
//
// App folders. `<path>/.todoke-app` holds the name of the app that owns the folder. Apply and
// Prune refuse (FAILED_PRECONDITION, naming both apps) when the folder, one of its parents, or
// a folder below it is claimed by another app: no two apps of one branch overlap. Apply writes
// the marker with the app's first write. A Prune that leaves the folder without object files
// removes the marker too (the app released it); Apply never does.
//
// What each call does with the folder:
//   Apply   writes every desired object (created / configured / unchanged by blob id); Secrets
//           (core v1 Secret) are skipped with a reason unless the target sets write_secrets.
//           With options.prune, removes the object files of the folder that are not desired
//           (reported pruned), except objects annotated todoke.dev/prune: disabled and, without
//           allow_cluster_critical, Namespaces and CustomResourceDefinitions (reported skipped).
//           An empty desired set with prune and files to remove is refused (FAILED_PRECONDITION)
//           unless options.allow_empty. Nothing changed: no commit, ApplyOutcome.commit empty.
//           dry_run computes the same results and writes nothing (a remote is still fetched).
//           An object without a usable key or file name, or two objects for one file, fail alone
//           (kFailed); the others are committed and succeeded is false.
//   ReadLive  reads the branch tip (a remote is fetched first): the desired keys found, with
//           canonical JSON and the file's blob id as resource_version, then every other object
//           file in the folder (the inventory); a file that does not parse is left out (and a
//           desired one counts as absent, so the next Apply rewrites it). No branch yet: all
//           absent. Repeated reads of an unchanged app cost a ref lookup (a fetch for a remote)
//           and two hash lookups: repository handles stay open (read_cache.h RepositoryPool),
//           each destination remembers its folder's tree id for the last tip it read, the trees
//           on the way to folders are indexed once per tree id (4 MiB in all, so a moved tip's
//           top-level tree is read once for all apps), and the parsed files of a folder are kept
//           by tree id (64 MiB in all). All are keyed by content ids, so an answer is never
//           older than the branch tip just read.
//   Prune   removes the files of the given keys (same opt-outs as Apply's prune), one commit.
//   WatchDrift  UNIMPLEMENTED (a branch has no watch; the orchestrator polls ReadLive).
//
// Commits: author and committer are `committer_name <committer_email>` at the current time; the
// message names the app, the destination folder, the source repository (credentials masked),
// path and commit, and the source commit message's first line. With options.signing.key, each
// commit is signed before it is published (commit_signer.h: SSH signing as git's gpg.format=ssh,
// or OpenPGP through gpg), so `git verify-commit` checks it; a signing failure fails the call
// (FAILED_PRECONDITION naming the key) and nothing is published. Objects are written as given:
// the Git destination stamps no tracking metadata (the folder is the app's inventory).
//
// Thread-safety: every method may be called concurrently. Writes to one repository and branch
// are serialised through the GitLockRegistry (process-wide by default), so several
// GitDestinations (one per app folder) sharing a branch take turns; the compare-and-swap makes
// writers in other processes safe too. Waiting for the lock is bounded by the call's deadline.
//
// Errors name the repository (credentials masked), the branch and the app.
#ifndef TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_DESTINATION_H_
#define TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_DESTINATION_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "services/applier/core/destination.h"
#include "services/applier/core/git/commit_signer.h"
#include "services/source_fetcher/core/credentials.h"
#include "services/source_fetcher/core/repo_url.h"

namespace todoke::applier {

// Which branch of which repository, and the app's folder in it (as todoke.types.v1.GitDestination).
struct GitDestinationTarget {
  // An absolute local path or file:// URL, or a remote URL (git://, http(s)://, ssh://,
  // user@host:path). No credentials in the URL: they come from GitDestinationOptions.credentials.
  std::string repo_url;
  std::string branch;  // required, a valid branch name ("main", "env/prod")
  // The app's folder, relative to the repository root ("" = the root, which then overlaps every
  // other app of the branch). Normalised as NormalizeAppPath says.
  std::string path;
  // Kept for the proto's sake: remote repositories are always pushed, local ones written in place.
  bool push = false;
  // Write Secrets into the branch (off: Secrets are skipped and reported).
  bool write_secrets = false;
};

// One lock per repository and branch, shared by every GitDestination that is given the same
// registry (Default() unless a test wants separate ones), plus one per clone folder.
// Thread-safe; entries live as long as the registry.
class GitLockRegistry {
 public:
  static GitLockRegistry& Default();
  // The lock for `key` (created on first use).
  std::shared_ptr<std::timed_mutex> Get(const std::string& key);

 private:
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<std::timed_mutex>> locks_;
};

struct GitDestinationOptions {
  // Folder holding the clones of remote repositories (created if missing), one bare clone per
  // repository URL. Required for remote repositories. Must not be shared by two applier
  // processes.
  std::string work_dir;
  std::string committer_name = "todoke";
  std::string committer_email = "todoke@localhost";
  // Signing of every commit (off when signing.key is empty). Create checks the key file.
  CommitSigning signing;
  // Credentials for remote repositories, as the source-fetcher takes them (credentials.h); null
  // or empty: anonymous. Kept alive by the destination.
  std::shared_ptr<const source_fetcher::CredentialStore> credentials;
  // Bound of one network operation (a fetch or a push) when the call's deadline is later.
  absl::Duration network_timeout = absl::Minutes(2);
  // Publications tried per call: a moved ref or a refused push is replayed on the new tip at
  // most this many times in all; then ABORTED.
  int max_attempts = 5;
  // fsync objects and refs as they are written (the branch is the destination's state). A
  // libgit2 setting for the whole process: once a destination asks for it, it stays on.
  bool fsync = true;
  // Accept local paths and file:// URLs as repositories.
  bool allow_local = true;
  // Serialises writes per repository and branch. Null: GitLockRegistry::Default().
  GitLockRegistry* locks = nullptr;
  // Tests only: called with the attempt number (1-based) after the new commit is built and
  // before it is published, with the branch lock held: lets a test race a concurrent writer
  // deterministically.
  std::function<void(int attempt)> before_publish;
};

class GitDestination : public Destination {
 public:
  // Checks the target (URL, branch name, path) and options; opens nothing yet.
  // INVALID_ARGUMENT for a malformed URL, branch or path, or a local repository when
  // options.allow_local is false; FAILED_PRECONDITION for a remote URL without work_dir.
  static absl::StatusOr<std::unique_ptr<GitDestination>> Create(GitDestinationTarget target,
                                                                GitDestinationOptions options);

  absl::StatusOr<LiveSet> ReadLive(const ReadLiveQuery& query, absl::Time deadline) override;
  absl::StatusOr<ApplyOutcome> Apply(const ApplyPlan& plan, const ProgressCallback& progress,
                                     absl::Time deadline, const CancelFlag* cancel) override;
  absl::StatusOr<PruneOutcome> Prune(const PruneRequest& request, absl::Time deadline) override;
  // UNIMPLEMENTED: a branch has no watch.
  absl::StatusOr<std::unique_ptr<Subscription>> WatchDrift(
      std::function<void(const DriftEvent&)> callback) override;

  // The normalised app folder ("" for the root).
  const std::string& app_path() const { return path_; }
  // "<repository, credentials masked> branch <branch>": how errors name the destination.
  std::string Describe() const;

  struct Impl;  // the write machinery (git_destination.cc)

 private:
  GitDestination(GitDestinationTarget target, GitDestinationOptions options,
                 source_fetcher::RepoUrl url, std::string path);

  const GitDestinationTarget target_;
  const GitDestinationOptions options_;
  const source_fetcher::RepoUrl url_;
  const std::string path_;
  bool local_ = false;
  std::string local_dir_;  // local: the repository folder
  std::string clone_dir_;  // remote: the bare clone in work_dir
  std::shared_ptr<std::timed_mutex> branch_lock_;
  std::shared_ptr<std::timed_mutex> clone_lock_;
  // ReadLive's memory of the last tip it read and the folder's tree id in it (git_destination.cc).
  struct ReadMemo;
  std::shared_ptr<ReadMemo> read_memo_;
};

}  // namespace todoke::applier

#endif  // TODOKE_SERVICES_APPLIER_CORE_GIT_GIT_DESTINATION_H_

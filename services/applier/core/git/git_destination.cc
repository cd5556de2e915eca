#include "services/applier/core/git/git_destination.h"

#include <git2.h>

#include <chrono>
#include <filesystem>
#include <optional>
#include <set>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/log.h"
#include "common/status.h"
#include "common/tracking.h"
#include "common/yaml.h"
#include "services/applier/core/git/git_remote.h"
#include "services/applier/core/git/layout.h"
#include "services/applier/core/git/read_cache.h"
#include "services/applier/core/live_digest.h"
#include "services/source_fetcher/core/git_util.h"

namespace todoke::applier {
namespace {

namespace fs = std::filesystem;
using source_fetcher::GitBlob;
using source_fetcher::GitCommit;
using source_fetcher::GitDeleter;
using source_fetcher::GitRepository;
using source_fetcher::GitTree;
using source_fetcher::GitTreeEntry;
using source_fetcher::LastGitErrorMessage;
using source_fetcher::OidToHex;
using GitReference = std::unique_ptr<git_reference, GitDeleter<git_reference, git_reference_free>>;
using GitSignature = std::unique_ptr<git_signature, GitDeleter<git_signature, git_signature_free>>;
using GitTreeBuilder =
    std::unique_ptr<git_treebuilder, GitDeleter<git_treebuilder, git_treebuilder_free>>;

bool IsSecret(const ObjectKey& key) { return key.group.empty() && key.kind == "Secret"; }

bool IsClusterCritical(const ObjectKey& key) {
  return (key.group.empty() && key.kind == "Namespace") ||
         (key.group == "apiextensions.k8s.io" && key.kind == "CustomResourceDefinition");
}

bool PruneDisabled(const Json& object) {
  if (!object.is_object()) return false;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto annotations = metadata->find("annotations");
  if (annotations == metadata->end() || !annotations->is_object()) return false;
  auto value = annotations->find(std::string(kPruneAnnotation));
  return value != annotations->end() && value->is_string() &&
         value->get_ref<const std::string&>() == "disabled";
}

// True if metadata.name is a non-empty string (KeyOf also accepts generateName).
bool HasName(const Json& object) {
  if (!object.is_object()) return false;
  auto metadata = object.find("metadata");
  if (metadata == object.end() || !metadata->is_object()) return false;
  auto name = metadata->find("name");
  return name != metadata->end() && name->is_string() &&
         !name->get_ref<const std::string&>().empty();
}

// One line of text fit for a commit message: control characters (newlines included) as spaces.
std::string OneLine(absl::string_view text) {
  std::string out(text.substr(0, text.find('\n')));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F) c = ' ';
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

absl::Status GitError(absl::StatusCode code, absl::string_view what) {
  return absl::Status(code, absl::StrCat(what, ": ", LastGitErrorMessage()));
}

std::chrono::system_clock::time_point ToChrono(absl::Time t) {
  if (t == absl::InfiniteFuture()) return std::chrono::system_clock::time_point::max();
  if (t == absl::InfinitePast()) return std::chrono::system_clock::time_point::min();
  return absl::ToChronoTime(t);
}

// The branch tip as one call read it.
struct Tip {
  std::optional<git_oid> commit;  // nullopt: the branch does not exist yet
  GitTree tree;                   // null when the branch does not exist
};

absl::StatusOr<Tip> TipFromCommit(git_repository* repo, const std::optional<git_oid>& id,
                                  absl::string_view where) {
  Tip tip;
  tip.commit = id;
  if (!id.has_value()) return tip;
  git_commit* raw_commit = nullptr;
  if (git_commit_lookup(&raw_commit, repo, &*id) < 0) {
    return GitError(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat(where, ": the branch does not point at a readable commit"));
  }
  GitCommit commit(raw_commit);
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, commit.get()) < 0) {
    return GitError(absl::StatusCode::kDataLoss, absl::StrCat(where, ": reading the tip's tree"));
  }
  tip.tree.reset(raw_tree);
  return tip;
}

absl::StatusOr<std::optional<git_oid>> LocalBranchTip(git_repository* repo, const std::string& ref,
                                                      absl::string_view where) {
  git_oid id;
  int rc = git_reference_name_to_id(&id, repo, ref.c_str());
  if (rc == GIT_ENOTFOUND) return std::optional<git_oid>();
  if (rc < 0) return GitError(absl::StatusCode::kDataLoss, absl::StrCat(where, ": reading ", ref));
  return std::optional<git_oid>(id);
}

// A blob's content, or nullopt when `path` is not a blob in `tree`.
absl::StatusOr<std::optional<std::string>> ReadFile(git_repository* repo, git_tree* tree,
                                                    const std::string& path,
                                                    git_oid* blob_id = nullptr) {
  if (tree == nullptr) return std::optional<std::string>();
  git_tree_entry* raw = nullptr;
  int rc = git_tree_entry_bypath(&raw, tree, path.c_str());
  if (rc == GIT_ENOTFOUND) return std::optional<std::string>();
  if (rc < 0) return GitError(absl::StatusCode::kDataLoss, absl::StrCat("reading ", path));
  GitTreeEntry entry(raw);
  if (git_tree_entry_type(entry.get()) != GIT_OBJECT_BLOB) return std::optional<std::string>();
  git_blob* raw_blob = nullptr;
  if (git_blob_lookup(&raw_blob, repo, git_tree_entry_id(entry.get())) < 0) {
    return GitError(absl::StatusCode::kDataLoss, absl::StrCat("reading ", path));
  }
  GitBlob blob(raw_blob);
  if (blob_id != nullptr) *blob_id = *git_tree_entry_id(entry.get());
  const char* data = static_cast<const char*>(git_blob_rawcontent(blob.get()));
  return std::optional<std::string>(
      std::string(data, static_cast<size_t>(git_blob_rawsize(blob.get()))));
}

// An object file of the app folder: its path relative to the folder and its blob.
struct FolderFile {
  std::string relative;
  git_oid blob;
};

absl::StatusOr<std::vector<FolderFile>> ListFolderTree(git_repository* repo, git_tree* root,
                                                       const std::string& folder);

// The object files of `folder` in `tree` (IsObjectFilePath), in tree order.
absl::StatusOr<std::vector<FolderFile>> ListObjectFiles(git_repository* repo, git_tree* tree,
                                                        const std::string& folder) {
  std::vector<FolderFile> files;
  if (tree == nullptr) return files;
  GitTree owned;
  git_tree* root = tree;
  if (!folder.empty()) {
    git_tree_entry* raw = nullptr;
    int rc = git_tree_entry_bypath(&raw, tree, folder.c_str());
    if (rc == GIT_ENOTFOUND) return files;
    if (rc < 0) return GitError(absl::StatusCode::kDataLoss, absl::StrCat("reading ", folder));
    GitTreeEntry entry(raw);
    if (git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) return files;
    git_tree* sub = nullptr;
    if (git_tree_lookup(&sub, repo, git_tree_entry_id(entry.get())) < 0) {
      return GitError(absl::StatusCode::kDataLoss, absl::StrCat("reading ", folder));
    }
    owned.reset(sub);
    root = sub;
  }
  return ListFolderTree(repo, root, folder);
}

// The object files of the folder tree `root` (the folder `folder`, named in errors).
absl::StatusOr<std::vector<FolderFile>> ListFolderTree(git_repository* repo, git_tree* root,
                                                       const std::string& folder) {
  std::vector<FolderFile> files;
  for (size_t i = 0; i < git_tree_entrycount(root); ++i) {
    const git_tree_entry* dir = git_tree_entry_byindex(root, i);
    std::string dir_name = git_tree_entry_name(dir);
    if (git_tree_entry_type(dir) != GIT_OBJECT_TREE || absl::StartsWith(dir_name, ".")) continue;
    git_tree* raw_sub = nullptr;
    if (git_tree_lookup(&raw_sub, repo, git_tree_entry_id(dir)) < 0) {
      return GitError(absl::StatusCode::kDataLoss,
                      absl::StrCat("reading ", JoinRepoPath(folder, dir_name)));
    }
    GitTree sub(raw_sub);
    for (size_t j = 0; j < git_tree_entrycount(sub.get()); ++j) {
      const git_tree_entry* file = git_tree_entry_byindex(sub.get(), j);
      if (git_tree_entry_type(file) != GIT_OBJECT_BLOB) continue;
      std::string relative = absl::StrCat(dir_name, "/", git_tree_entry_name(file));
      if (!IsObjectFilePath(relative)) continue;
      files.push_back({std::move(relative), *git_tree_entry_id(file)});
    }
  }
  return files;
}

// The object in a file: parsed, with its key. INVALID_ARGUMENT when it is not one object.
struct FileObject {
  Json object;
  ObjectKey key;
};

absl::StatusOr<FileObject> ParseObjectFile(absl::string_view text, absl::string_view repo_path) {
  ASSIGN_OR_RETURN(Json object, ParseYaml(text, repo_path));
  absl::StatusOr<ObjectKey> key = KeyOf(object);
  if (!key.ok()) return Annotate(key.status(), repo_path);
  return FileObject{std::move(object), *std::move(key)};
}

absl::StatusOr<std::optional<FileObject>> ReadObjectBlob(git_repository* repo, const git_oid& blob,
                                                         const std::string& repo_path) {
  git_blob* raw = nullptr;
  if (git_blob_lookup(&raw, repo, &blob) < 0) {
    return GitError(absl::StatusCode::kDataLoss, absl::StrCat("reading ", repo_path));
  }
  GitBlob owned(raw);
  absl::string_view text(static_cast<const char*>(git_blob_rawcontent(owned.get())),
                         static_cast<size_t>(git_blob_rawsize(owned.get())));
  absl::StatusOr<FileObject> parsed = ParseObjectFile(text, repo_path);
  if (!parsed.ok()) {
    LogWarning("git destination: skipping a file that is not one Kubernetes object",
               {{"file", repo_path}, {"error", parsed.status().message()}});
    return std::optional<FileObject>();
  }
  return std::optional<FileObject>(*std::move(parsed));
}

// The app claiming `folder`, from its marker's text.
std::string MarkerOwner(absl::string_view text) {
  return std::string(absl::StripAsciiWhitespace(text));
}

// FAILED_PRECONDITION when a folder overlapping `folder` (itself, a parent, a child) is
// claimed by another app. Sets *claimed when `folder` already carries this app's marker.
absl::Status CheckFolderClaim(git_repository* repo, git_tree* tree, const std::string& folder,
                              const std::string& app, absl::string_view where, bool* claimed) {
  *claimed = false;
  if (tree == nullptr) return absl::OkStatus();
  auto conflict = [&](const std::string& other_app, const std::string& other_folder) {
    return absl::FailedPreconditionError(absl::StrCat(
        where, ": app \"", app, "\" at folder \"", folder.empty() ? "/" : folder,
        "\" overlaps app \"", other_app, "\" at folder \"",
        other_folder.empty() ? "/" : other_folder, "\"; apps of one branch need disjoint folders"));
  };
  // Parents (the root included) and the folder itself.
  std::vector<std::string> prefixes = {""};
  for (size_t i = 0; i < folder.size(); ++i) {
    if (folder[i] == '/') prefixes.push_back(folder.substr(0, i));
  }
  if (!folder.empty()) prefixes.push_back(folder);
  for (const std::string& prefix : prefixes) {
    ASSIGN_OR_RETURN(std::optional<std::string> marker,
                     ReadFile(repo, tree, JoinRepoPath(prefix, kAppMarkerFile)));
    if (!marker.has_value()) continue;
    std::string owner = MarkerOwner(*marker);
    if (prefix == folder && owner == app) {
      *claimed = true;
      continue;
    }
    return conflict(owner, prefix);
  }
  // Folders below.
  git_tree* sub = tree;
  GitTree owned;
  if (!folder.empty()) {
    git_tree_entry* raw = nullptr;
    int rc = git_tree_entry_bypath(&raw, tree, folder.c_str());
    if (rc == GIT_ENOTFOUND) return absl::OkStatus();
    if (rc < 0)
      return GitError(absl::StatusCode::kDataLoss, absl::StrCat(where, ": reading ", folder));
    GitTreeEntry entry(raw);
    if (git_tree_entry_type(entry.get()) != GIT_OBJECT_TREE) {
      return absl::FailedPreconditionError(
          absl::StrCat(where, ": app \"", app, "\": \"", folder, "\" is a file, not a folder"));
    }
    git_tree* raw_tree = nullptr;
    if (git_tree_lookup(&raw_tree, repo, git_tree_entry_id(entry.get())) < 0) {
      return GitError(absl::StatusCode::kDataLoss, absl::StrCat(where, ": reading ", folder));
    }
    owned.reset(raw_tree);
    sub = raw_tree;
  }
  struct Walk {
    std::string found;  // folder (relative to `folder`) of the first nested marker
  } walk;
  git_tree_walk(
      sub, GIT_TREEWALK_PRE,
      [](const char* root, const git_tree_entry* entry, void* payload) -> int {
        auto* w = static_cast<Walk*>(payload);
        if (*root != '\0' && git_tree_entry_type(entry) == GIT_OBJECT_BLOB &&
            kAppMarkerFile == git_tree_entry_name(entry)) {
          w->found = root;
          return -1;  // stop
        }
        return 0;
      },
      &walk);
  if (!walk.found.empty()) {
    std::string nested = JoinRepoPath(folder, absl::StripSuffix(walk.found, "/"));
    ASSIGN_OR_RETURN(std::optional<std::string> marker,
                     ReadFile(repo, tree, JoinRepoPath(nested, kAppMarkerFile)));
    return conflict(marker.has_value() ? MarkerOwner(*marker) : "?", nested);
  }
  return absl::OkStatus();
}

// A change to the tree: a blob written at a path, or a path removed.
struct TreeChange {
  std::string path;
  std::optional<git_oid> blob;  // nullopt: remove
};

// What one attempt worked out against one tip.
struct Computed {
  std::vector<ObjectResult> results;
  std::vector<TreeChange> changes;
  bool failed = false;
};

int CountAction(const std::vector<ObjectResult>& results, ApplyAction action) {
  int n = 0;
  for (const ObjectResult& r : results) n += r.action == action ? 1 : 0;
  return n;
}

std::string Summary(const std::vector<ObjectResult>& results) {
  std::vector<std::string> parts;
  for (auto [action, name] : {std::pair{ApplyAction::kCreated, "created"},
                              {ApplyAction::kConfigured, "configured"},
                              {ApplyAction::kUnchanged, "unchanged"},
                              {ApplyAction::kPruned, "pruned"},
                              {ApplyAction::kSkipped, "skipped"},
                              {ApplyAction::kFailed, "failed"}}) {
    int n = CountAction(results, action);
    if (n > 0) parts.push_back(absl::StrCat(n, " ", name));
  }
  return parts.empty() ? "no objects" : absl::StrJoin(parts, ", ");
}

// Which files of the folder to remove: `candidates` (parsed, not desired) minus the opt-outs.
void PlanRemovals(const std::vector<std::pair<std::string, FileObject>>& candidates,
                  const std::string& folder, bool allow_cluster_critical, Computed* out) {
  for (const auto& [relative, file] : candidates) {
    ObjectResult result;
    result.key = file.key;
    if (PruneDisabled(file.object)) {
      result.action = ApplyAction::kSkipped;
      result.message = absl::StrCat("not pruned: annotated ", kPruneAnnotation, ": disabled");
    } else if (IsClusterCritical(file.key) && !allow_cluster_critical) {
      result.action = ApplyAction::kSkipped;
      result.message =
          "not pruned: Namespaces and CustomResourceDefinitions are pruned only "
          "with allow_cluster_critical";
    } else {
      result.action = ApplyAction::kPruned;
      out->changes.push_back({JoinRepoPath(folder, relative), std::nullopt});
    }
    out->results.push_back(std::move(result));
  }
}

absl::StatusOr<git_oid> EmptyTree(git_repository* repo) {
  git_treebuilder* raw = nullptr;
  if (git_treebuilder_new(&raw, repo, nullptr) < 0) {
    return GitError(absl::StatusCode::kInternal, "creating an empty tree");
  }
  GitTreeBuilder builder(raw);
  git_oid id;
  if (git_treebuilder_write(&id, builder.get()) < 0) {
    return GitError(absl::StatusCode::kInternal, "writing an empty tree");
  }
  return id;
}

// The commit holding `tip`'s tree with `changes` applied, parented on the tip.
absl::StatusOr<git_oid> BuildCommit(git_repository* repo, const Tip& tip,
                                    const std::vector<TreeChange>& changes,
                                    const GitDestinationOptions& options,
                                    const std::string& message, absl::string_view where,
                                    absl::Time deadline) {
  GitTree empty;
  git_tree* baseline = tip.tree.get();
  if (baseline == nullptr) {
    ASSIGN_OR_RETURN(git_oid empty_id, EmptyTree(repo));
    git_tree* raw = nullptr;
    if (git_tree_lookup(&raw, repo, &empty_id) < 0) {
      return GitError(absl::StatusCode::kInternal, "reading the empty tree");
    }
    empty.reset(raw);
    baseline = raw;
  }
  std::vector<git_tree_update> updates;
  updates.reserve(changes.size());
  for (const TreeChange& change : changes) {
    git_tree_update update{};
    update.path = change.path.c_str();
    if (change.blob.has_value()) {
      update.action = GIT_TREE_UPDATE_UPSERT;
      update.id = *change.blob;
      update.filemode = GIT_FILEMODE_BLOB;
    } else {
      update.action = GIT_TREE_UPDATE_REMOVE;
    }
    updates.push_back(update);
  }
  git_oid tree_id;
  if (git_tree_create_updated(&tree_id, repo, baseline, updates.size(), updates.data()) < 0) {
    return GitError(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat(where, ": building the tree"));
  }
  git_tree* raw_tree = nullptr;
  if (git_tree_lookup(&raw_tree, repo, &tree_id) < 0) {
    return GitError(absl::StatusCode::kInternal, absl::StrCat(where, ": reading the new tree"));
  }
  GitTree tree(raw_tree);
  git_signature* raw_sig = nullptr;
  if (git_signature_now(&raw_sig, options.committer_name.c_str(), options.committer_email.c_str()) <
      0) {
    return GitError(absl::StatusCode::kInvalidArgument, "committer signature");
  }
  GitSignature signature(raw_sig);
  GitCommit parent;
  const git_commit* parents[1] = {nullptr};
  size_t parent_count = 0;
  if (tip.commit.has_value()) {
    git_commit* raw_parent = nullptr;
    if (git_commit_lookup(&raw_parent, repo, &*tip.commit) < 0) {
      return GitError(absl::StatusCode::kDataLoss, absl::StrCat(where, ": reading the tip"));
    }
    parent.reset(raw_parent);
    parents[0] = raw_parent;
    parent_count = 1;
  }
  git_oid commit_id;
  if (options.signing.key.empty()) {
    if (git_commit_create(&commit_id, repo, nullptr, signature.get(), signature.get(), "UTF-8",
                          message.c_str(), tree.get(), parent_count, parents) < 0) {
      return GitError(absl::StatusCode::kInternal, absl::StrCat(where, ": writing the commit"));
    }
    return commit_id;
  }
  // Signed: the commit's text is signed as `git commit -S` does, then written with the signature
  // in its gpgsig header.
  git_buf payload = GIT_BUF_INIT;
  if (git_commit_create_buffer(&payload, repo, signature.get(), signature.get(), "UTF-8",
                               message.c_str(), tree.get(), parent_count, parents) < 0) {
    return GitError(absl::StatusCode::kInternal, absl::StrCat(where, ": building the commit"));
  }
  std::string text(payload.ptr, payload.size);
  git_buf_dispose(&payload);
  absl::StatusOr<std::string> signed_by = SignCommitPayload(options.signing, text, deadline);
  if (!signed_by.ok()) return Annotate(signed_by.status(), std::string(where));
  if (git_commit_create_with_signature(&commit_id, repo, text.c_str(), signed_by->c_str(),
                                       "gpgsig") < 0) {
    return GitError(absl::StatusCode::kInternal,
                    absl::StrCat(where, ": writing the signed commit"));
  }
  return commit_id;
}

// True if `tree` with `changes` applied would equal `tree` (every upsert already there, every
// removal already absent).
absl::StatusOr<bool> ChangesAreNoop(git_tree* tree, const std::vector<TreeChange>& changes) {
  for (const TreeChange& change : changes) {
    git_tree_entry* raw = nullptr;
    int rc =
        tree == nullptr ? GIT_ENOTFOUND : git_tree_entry_bypath(&raw, tree, change.path.c_str());
    GitTreeEntry entry(raw);
    if (rc < 0 && rc != GIT_ENOTFOUND) return GitError(absl::StatusCode::kDataLoss, change.path);
    bool present = rc == 0;
    if (change.blob.has_value()) {
      if (!present || !git_oid_equal(git_tree_entry_id(entry.get()), &*change.blob)) return false;
    } else if (present) {
      return false;
    }
  }
  return true;
}

}  // namespace

// ---------------------------------------------------------------------------------------------

GitLockRegistry& GitLockRegistry::Default() {
  static GitLockRegistry* registry = new GitLockRegistry();
  return *registry;
}

std::shared_ptr<std::timed_mutex> GitLockRegistry::Get(const std::string& key) {
  std::lock_guard<std::mutex> lock(mu_);
  std::shared_ptr<std::timed_mutex>& entry = locks_[key];
  if (entry == nullptr) entry = std::make_shared<std::timed_mutex>();
  return entry;
}

// The write machinery shared by Apply and Prune.
struct GitDestination::Impl {
  using ComputeFn =
      std::function<absl::StatusOr<Computed>(git_repository*, const Tip&, bool claimed)>;

  // Opens (creating when missing) the repository written to: the local repository, or the
  // clone of the remote one.
  static absl::StatusOr<GitRepository> Open(const GitDestination& d, bool create = true) {
    RETURN_IF_ERROR(source_fetcher::EnsureLibgit2());
    const std::string& dir = d.local_ ? d.local_dir_ : d.clone_dir_;
    git_repository* raw = nullptr;
    int rc = git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    if (rc == 0) return GitRepository(raw);
    if (!create) return GitRepository();
    std::lock_guard<std::timed_mutex> lock(*d.clone_lock_);  // one creator at a time
    rc = git_repository_open_ext(&raw, dir.c_str(), GIT_REPOSITORY_OPEN_NO_SEARCH, nullptr);
    if (rc == 0) return GitRepository(raw);
    std::error_code ec;
    bool exists = fs::exists(dir, ec);
    if (exists && !fs::is_empty(dir, ec)) {
      if (d.local_) {
        return absl::FailedPreconditionError(absl::StrCat(d.Describe(), ": ", dir,
                                                          " exists and is not a Git repository (",
                                                          LastGitErrorMessage(), ")"));
      }
      // A damaged clone is only a cache: start again.
      LogWarning("git destination: removing an unreadable clone",
                 {{"repository", d.Describe()}, {"clone", dir}});
      fs::remove_all(dir, ec);
      git_internal::RepositoryPool::Default().Forget(dir);
    }
    git_repository_init_options init = GIT_REPOSITORY_INIT_OPTIONS_INIT;
    init.flags =
        GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
    std::string head = absl::StrCat("refs/heads/", d.target_.branch);
    init.initial_head = head.c_str();
    if (git_repository_init_ext(&raw, dir.c_str(), &init) < 0) {
      return GitError(absl::StatusCode::kFailedPrecondition,
                      absl::StrCat(d.Describe(), ": creating the repository ", dir));
    }
    if (d.local_) {
      LogInfo("git destination: created a bare repository", {{"repository", d.Describe()}});
    }
    return GitRepository(raw);
  }

  // FAILED_PRECONDITION when a work tree of the local repository has the branch checked out.
  static absl::Status CheckNotCheckedOut(const GitDestination& d, git_repository* repo) {
    if (git_repository_is_bare(repo)) return absl::OkStatus();
    std::string ref = absl::StrCat("refs/heads/", d.target_.branch);
    bool checked_out = false;
    git_reference* raw_head = nullptr;
    if (git_reference_lookup(&raw_head, repo, "HEAD") == 0) {
      GitReference head(raw_head);
      const char* target = git_reference_symbolic_target(head.get());
      checked_out = target != nullptr && ref == target;
    }
    git_reference* raw_branch = nullptr;
    if (!checked_out && git_reference_lookup(&raw_branch, repo, ref.c_str()) == 0) {
      GitReference branch(raw_branch);
      checked_out = git_branch_is_checked_out(branch.get()) == 1;
    }
    if (!checked_out) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat(d.Describe(),
                     ": the branch is checked out in a work tree of this repository; the Git "
                     "destination never moves a checked-out branch (use a bare repository or "
                     "another branch)"));
  }

  // The tip to build on: the local ref, or the remote's branch fetched into the clone.
  static absl::StatusOr<Tip> ReadTip(const GitDestination& d, git_repository* repo,
                                     absl::Time deadline) {
    ASSIGN_OR_RETURN(std::optional<git_oid> id, ReadTipId(d, repo, deadline));
    return TipFromCommit(repo, id, d.Describe());
  }

  // The tip's commit id (nullopt: no branch yet), as ReadTip reads it.
  static absl::StatusOr<std::optional<git_oid>> ReadTipId(const GitDestination& d,
                                                          git_repository* repo,
                                                          absl::Time deadline) {
    std::optional<git_oid> id;
    if (d.local_) {
      ASSIGN_OR_RETURN(
          id, LocalBranchTip(repo, absl::StrCat("refs/heads/", d.target_.branch), d.Describe()));
    } else {
      const source_fetcher::Credential* credential =
          d.options_.credentials != nullptr ? d.options_.credentials->Lookup(d.url_) : nullptr;
      absl::Time network_deadline = std::min(deadline, absl::Now() + d.options_.network_timeout);
      absl::StatusOr<std::optional<git_oid>> fetched = git_internal::FetchRemoteBranch(
          repo, {d.url_, credential}, d.target_.branch, network_deadline);
      if (!fetched.ok())
        return Annotate(fetched.status(), absl::StrCat("branch ", d.target_.branch));
      id = *fetched;
    }
    return id;
  }

  // Publishes `commit` as the new branch tip if the branch still is `tip`. True when published,
  // false when another writer moved the branch first (the caller replays).
  static absl::StatusOr<bool> Publish(const GitDestination& d, git_repository* repo, const Tip& tip,
                                      const git_oid& commit, const std::string& log_message,
                                      absl::Time deadline) {
    std::string ref = absl::StrCat("refs/heads/", d.target_.branch);
    if (d.local_) {
      git_reference* raw = nullptr;
      int rc = tip.commit.has_value()
                   ? git_reference_create_matching(&raw, repo, ref.c_str(), &commit, 1,
                                                   &*tip.commit, log_message.c_str())
                   : git_reference_create(&raw, repo, ref.c_str(), &commit, 0, log_message.c_str());
      GitReference owned(raw);
      if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED) return false;
      if (rc < 0) {
        return GitError(absl::StatusCode::kInternal,
                        absl::StrCat(d.Describe(), ": updating ", ref));
      }
      return true;
    }
    std::string local_ref = absl::StrCat("refs/todoke/push/", d.target_.branch);
    git_reference* raw = nullptr;
    if (git_reference_create(&raw, repo, local_ref.c_str(), &commit, 1, log_message.c_str()) < 0) {
      return GitError(absl::StatusCode::kInternal,
                      absl::StrCat(d.Describe(), ": updating the clone"));
    }
    GitReference owned(raw);
    const source_fetcher::Credential* credential =
        d.options_.credentials != nullptr ? d.options_.credentials->Lookup(d.url_) : nullptr;
    absl::Time network_deadline = std::min(deadline, absl::Now() + d.options_.network_timeout);
    absl::StatusOr<git_internal::PushResult> pushed = git_internal::PushBranch(
        repo, {d.url_, credential}, local_ref, d.target_.branch, network_deadline);
    if (!pushed.ok()) return Annotate(pushed.status(), absl::StrCat("branch ", d.target_.branch));
    if (pushed->accepted) return true;
    if (pushed->retryable) {
      LogInfo("git destination: push refused, replaying on the new tip",
              {{"repository", d.Describe()}, {"reason", pushed->rejection}});
      return false;
    }
    return absl::FailedPreconditionError(
        absl::StrCat(d.Describe(), ": the remote refused the push: ", pushed->rejection));
  }

  struct WriteResult {
    std::vector<ObjectResult> results;
    bool failed = false;
    std::string commit;  // empty: nothing written
    int attempts = 0;
  };

  // Reads the tip, computes, builds and publishes; replays on a moved tip. Holds the branch lock.
  static absl::StatusOr<WriteResult> Write(
      const GitDestination& d, const std::string& app, bool dry_run, bool may_create,
      absl::Time deadline, const CancelFlag* cancel, const ComputeFn& compute,
      const std::function<std::string(const Computed&)>& message) {
    std::string where = absl::StrCat(d.Describe(), " app ", app);
    std::unique_lock<std::timed_mutex> lock(*d.branch_lock_, std::defer_lock);
    if (!lock.try_lock_until(ToChrono(deadline))) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": deadline exceeded waiting for other writes to the branch"));
    }
    // A dry run or a Prune creates nothing, not even a missing local repository.
    ASSIGN_OR_RETURN(GitRepository repo, Open(d, /*create=*/!d.local_ || (may_create && !dry_run)));
    WriteResult out;
    if (repo == nullptr) {
      ASSIGN_OR_RETURN(Computed computed, compute(nullptr, Tip{}, /*claimed=*/false));
      out.results = std::move(computed.results);
      out.failed = computed.failed;
      return out;
    }
    if (d.local_) RETURN_IF_ERROR(CheckNotCheckedOut(d, repo.get()));
    auto check_stop = [&]() -> absl::Status {
      if (cancel != nullptr && cancel->load())
        return absl::CancelledError(absl::StrCat(where, ": cancelled"));
      if (absl::Now() >= deadline)
        return absl::DeadlineExceededError(absl::StrCat(where, ": deadline exceeded"));
      return absl::OkStatus();
    };
    for (int attempt = 1; attempt <= std::max(1, d.options_.max_attempts); ++attempt) {
      out.attempts = attempt;
      RETURN_IF_ERROR(check_stop());
      absl::StatusOr<Tip> tip = ReadTip(d, repo.get(), deadline);
      if (!tip.ok()) return Annotate(tip.status(), absl::StrCat("app ", app));
      bool claimed = false;
      RETURN_IF_ERROR(
          CheckFolderClaim(repo.get(), tip->tree.get(), d.path_, app, d.Describe(), &claimed));
      ASSIGN_OR_RETURN(Computed computed, compute(repo.get(), *tip, claimed));
      out.results = computed.results;
      out.failed = computed.failed;
      if (dry_run) return out;
      ASSIGN_OR_RETURN(bool noop, ChangesAreNoop(tip->tree.get(), computed.changes));
      if (noop) return out;
      ASSIGN_OR_RETURN(git_oid commit, BuildCommit(repo.get(), *tip, computed.changes, d.options_,
                                                   message(computed), where, deadline));
      if (d.options_.before_publish) d.options_.before_publish(attempt);
      RETURN_IF_ERROR(check_stop());
      ASSIGN_OR_RETURN(bool published, Publish(d, repo.get(), *tip, commit,
                                               absl::StrCat("todoke: ", app), deadline));
      if (published) {
        out.commit = OidToHex(commit);
        return out;
      }
    }
    return absl::AbortedError(
        absl::StrCat(where, ": the branch kept moving; gave up after ", out.attempts, " attempts"));
  }

  static std::string ApplyMessage(const GitDestination& d, const ApplyPlan& plan,
                                  const Computed& computed) {
    const SourceInfo& s = plan.source;
    std::string repo = source_fetcher::MaskCredentials(OneLine(s.repo_url));
    std::string short_commit = OneLine(s.commit).substr(0, 12);
    std::string subject = absl::StrCat("todoke: hydrate ", OneLine(plan.app));
    if (!repo.empty() || !short_commit.empty()) {
      absl::StrAppend(&subject, " from ", repo.empty() ? "?" : repo,
                      short_commit.empty() ? "" : "@", short_commit);
    }
    std::string body =
        absl::StrCat("App: ", OneLine(plan.app), "\nFolder: ", d.path_.empty() ? "/" : d.path_,
                     "\nSource: ", repo, "\nSource-Path: ", OneLine(s.path),
                     "\nSource-Commit: ", OneLine(s.commit));
    std::string first_line = OneLine(s.message);
    if (!first_line.empty()) absl::StrAppend(&body, "\nSource-Message: ", first_line);
    if (!plan.operation_id.empty())
      absl::StrAppend(&body, "\nOperation: ", OneLine(plan.operation_id));
    return absl::StrCat(subject, "\n\n", body, "\n\n", Summary(computed.results), "\n");
  }

  static std::string PruneMessage(const GitDestination& d, const std::string& app,
                                  const Computed& computed) {
    return absl::StrCat("todoke: prune ", CountAction(computed.results, ApplyAction::kPruned),
                        " objects of ", OneLine(app), "\n\nApp: ", OneLine(app),
                        "\nFolder: ", d.path_.empty() ? "/" : d.path_, "\n\n",
                        Summary(computed.results), "\n");
  }
};

// ---------------------------------------------------------------------------------------------

struct GitDestination::ReadMemo {
  std::mutex mu;
  std::optional<git_oid> tip;     // the last tip ReadLive read
  std::optional<git_oid> folder;  // the folder's tree in it (nullopt: no such folder)
};

GitDestination::GitDestination(GitDestinationTarget target, GitDestinationOptions options,
                               source_fetcher::RepoUrl url, std::string path)
    : target_(std::move(target)),
      options_(std::move(options)),
      url_(std::move(url)),
      path_(std::move(path)),
      read_memo_(std::make_shared<ReadMemo>()) {}

absl::StatusOr<std::unique_ptr<GitDestination>> GitDestination::Create(
    GitDestinationTarget target, GitDestinationOptions options) {
  RETURN_IF_ERROR(source_fetcher::EnsureLibgit2());
  absl::StatusOr<source_fetcher::RepoUrl> url =
      source_fetcher::ParseRepoUrl(target.repo_url, options.allow_local);
  if (!url.ok()) return Annotate(url.status(), "git destination");
  std::string masked = source_fetcher::MaskCredentials(url->fetch_url);
  int valid = 0;
  std::string ref = absl::StrCat("refs/heads/", target.branch);
  if (target.branch.empty() || git_reference_name_is_valid(&valid, ref.c_str()) < 0 || !valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "git destination ", masked, ": invalid branch name \"", OneLine(target.branch), "\""));
  }
  absl::StatusOr<std::string> path = NormalizeAppPath(target.path);
  if (!path.ok()) return Annotate(path.status(), absl::StrCat("git destination ", masked));
  for (const std::string* field : {&options.committer_name, &options.committer_email}) {
    if (field->empty() || field->find_first_of("<>\n\r", 0) != std::string::npos ||
        field->find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          "git destination: committer name and email must be "
          "non-empty and hold no '<', '>' or line breaks");
    }
  }
  if (absl::Status signing = CheckCommitSigning(options.signing); !signing.ok()) {
    return Annotate(signing, absl::StrCat("git destination ", masked));
  }
  if (options.fsync) {
    // Process-wide in libgit2, and sticky: the applier's writes are all destinations' writes.
    git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
  }
  GitLockRegistry* locks = options.locks != nullptr ? options.locks : &GitLockRegistry::Default();
  bool local = url->transport == source_fetcher::RepoTransport::kLocal;
  std::string dir;
  if (local) {
    dir = fs::path(url->path).lexically_normal().string();
    if (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  } else {
    if (options.work_dir.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("git destination ", masked,
                       ": remote repositories need a work directory for their clone"));
    }
    // One bare clone per repository, named by a digest of its canonical URL.
    git_oid digest;
    git_odb_hash(&digest, url->canonical.data(), url->canonical.size(), GIT_OBJECT_BLOB);
    std::string readable;
    for (char c : url->host + url->path) {
      readable.push_back(absl::ascii_isalnum(static_cast<unsigned char>(c)) ? c : '-');
      if (readable.size() >= 48) break;
    }
    dir =
        absl::StrCat(options.work_dir, "/", readable, "-", OidToHex(digest).substr(0, 16), ".git");
  }
  std::string identity = local ? absl::StrCat("file://", dir) : url->canonical;
  auto destination = std::unique_ptr<GitDestination>(
      new GitDestination(std::move(target), std::move(options), *std::move(url), *std::move(path)));
  destination->local_ = local;
  (local ? destination->local_dir_ : destination->clone_dir_) = dir;
  destination->branch_lock_ = locks->Get(absl::StrCat(identity, "\n", destination->target_.branch));
  destination->clone_lock_ = locks->Get(absl::StrCat("create\n", dir));
  return destination;
}

std::string GitDestination::Describe() const {
  return absl::StrCat("git destination ", source_fetcher::MaskCredentials(url_.fetch_url),
                      " branch ", target_.branch);
}

absl::StatusOr<ApplyOutcome> GitDestination::Apply(const ApplyPlan& plan,
                                                   const ProgressCallback& progress,
                                                   absl::Time deadline, const CancelFlag* cancel) {
  if (plan.app.empty() || OneLine(plan.app) != plan.app) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(), ": the app name must be non-empty, one line, no control characters"));
  }
  const std::string& folder = path_;
  const bool write_secrets = target_.write_secrets;
  const ApplyOptions& options = plan.options;

  // What the plan wants, independent of the tip: each object's key, file and text.
  struct Desired {
    std::optional<ObjectKey> key;
    std::string relative;  // empty: not written (failed or skipped)
    std::string text;
    git_oid blob{};
    ObjectResult verdict;  // preset for failed / skipped objects
  };
  std::vector<Desired> desired(plan.objects.size());
  std::set<ObjectKey> desired_keys;
  std::map<std::string, ObjectKey> files;
  for (size_t i = 0; i < plan.objects.size(); ++i) {
    Desired& want = desired[i];
    absl::StatusOr<ObjectKey> key = KeyOf(plan.objects[i]);
    if (!key.ok()) {
      want.verdict.action = ApplyAction::kFailed;
      want.verdict.message = std::string(key.status().message());
      continue;
    }
    want.key = *key;
    want.verdict.key = *key;
    if (!HasName(plan.objects[i])) {
      want.verdict.action = ApplyAction::kFailed;
      want.verdict.message =
          "no metadata.name: generateName is not supported by the Git destination";
      continue;
    }
    if (!desired_keys.insert(*key).second) {
      want.verdict.action = ApplyAction::kFailed;
      want.verdict.message = "the plan holds this object twice";
      continue;
    }
    absl::StatusOr<std::string> relative = ObjectFilePath(*key);
    if (!relative.ok()) {
      want.verdict.action = ApplyAction::kFailed;
      want.verdict.message = std::string(relative.status().message());
      continue;
    }
    if (IsSecret(*key) && !write_secrets) {
      want.verdict.action = ApplyAction::kSkipped;
      want.verdict.message =
          "Secrets are not written to Git unless the destination sets write_secrets";
      continue;
    }
    auto [it, inserted] = files.emplace(*relative, *key);
    if (!inserted) {
      want.verdict.action = ApplyAction::kFailed;
      want.verdict.message =
          absl::StrCat("its file ", *relative, " is also the file of ", it->second.ToString());
      continue;
    }
    want.relative = *std::move(relative);
    want.text = EmitYaml(plan.objects[i]);
    git_odb_hash(&want.blob, want.text.data(), want.text.size(), GIT_OBJECT_BLOB);
  }

  Impl::ComputeFn compute = [&](git_repository* repo, const Tip& tip,
                                bool claimed) -> absl::StatusOr<Computed> {
    Computed out;
    ASSIGN_OR_RETURN(std::vector<FolderFile> existing,
                     ListObjectFiles(repo, tip.tree.get(), folder));
    std::map<std::string, git_oid> by_path;
    for (const FolderFile& f : existing) by_path.emplace(f.relative, f.blob);
    for (Desired& want : desired) {
      ObjectResult result = want.verdict;
      if (want.relative.empty()) {
        out.failed |= result.action == ApplyAction::kFailed;
        out.results.push_back(std::move(result));
        continue;
      }
      std::string blob_hex = OidToHex(want.blob);
      auto found = by_path.find(want.relative);
      if (found == by_path.end()) {
        result.action = ApplyAction::kCreated;
      } else if (git_oid_equal(&found->second, &want.blob)) {
        result.action = ApplyAction::kUnchanged;
      } else {
        // A different object in our file (keys that escape to one name) is not overwritten.
        std::string repo_path = JoinRepoPath(folder, want.relative);
        ASSIGN_OR_RETURN(std::optional<FileObject> current,
                         ReadObjectBlob(repo, found->second, repo_path));
        if (current.has_value() && !(current->key == *want.key)) {
          result.action = ApplyAction::kFailed;
          result.message = absl::StrCat("its file ", repo_path, " holds another object, ",
                                        current->key.ToString());
          out.failed = true;
          out.results.push_back(std::move(result));
          continue;
        }
        result.action = ApplyAction::kConfigured;
      }
      result.resource_version = blob_hex;
      if (result.action != ApplyAction::kUnchanged) {
        std::string repo_path = JoinRepoPath(folder, want.relative);
        git_oid written;
        if (!options.dry_run &&
            git_blob_create_from_buffer(&written, repo, want.text.data(), want.text.size()) < 0) {
          return GitError(absl::StatusCode::kInternal,
                          absl::StrCat(Describe(), ": writing ", repo_path));
        }
        out.changes.push_back({std::move(repo_path), want.blob});
      }
      out.results.push_back(std::move(result));
    }
    if (options.prune) {
      std::vector<std::pair<std::string, FileObject>> candidates;
      for (const FolderFile& f : existing) {
        if (files.count(f.relative) > 0) continue;
        std::string repo_path = JoinRepoPath(folder, f.relative);
        ASSIGN_OR_RETURN(std::optional<FileObject> current,
                         ReadObjectBlob(repo, f.blob, repo_path));
        if (!current.has_value() || desired_keys.count(current->key) > 0) continue;
        candidates.emplace_back(f.relative, *std::move(current));
      }
      if (plan.objects.empty() && !options.allow_empty && !candidates.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat(Describe(), " app ", plan.app,
                         ": the desired set is empty; refusing to prune its ", candidates.size(),
                         " objects without allow_empty (a broken render must not wipe an app)"));
      }
      PlanRemovals(candidates, folder, options.allow_cluster_critical, &out);
    }
    if (!claimed) {
      std::string marker = absl::StrCat(plan.app, "\n");
      git_oid marker_id;
      if (options.dry_run) {
        git_odb_hash(&marker_id, marker.data(), marker.size(), GIT_OBJECT_BLOB);
      } else if (git_blob_create_from_buffer(&marker_id, repo, marker.data(), marker.size()) < 0) {
        return GitError(absl::StatusCode::kInternal,
                        absl::StrCat(Describe(), ": writing the app marker"));
      }
      out.changes.push_back({JoinRepoPath(folder, kAppMarkerFile), marker_id});
    }
    return out;
  };

  ASSIGN_OR_RETURN(Impl::WriteResult written,
                   Impl::Write(*this, plan.app, options.dry_run, /*may_create=*/true, deadline,
                               cancel, compute, [&](const Computed& computed) {
                                 return Impl::ApplyMessage(*this, plan, computed);
                               }));
  ApplyOutcome outcome;
  outcome.results = std::move(written.results);
  outcome.commit = written.commit;
  outcome.succeeded = !written.failed;
  outcome.message = absl::StrCat(
      Summary(outcome.results),
      options.dry_run ? " (dry run)"
      : outcome.commit.empty()
          ? "; nothing to commit"
          : absl::StrCat("; committed ", outcome.commit.substr(0, 12), " to ", target_.branch,
                         written.attempts > 1
                             ? absl::StrCat(" after ", written.attempts, " attempts")
                             : ""));
  if (progress) {
    for (const ObjectResult& result : outcome.results) progress(result);
  }
  return outcome;
}

absl::StatusOr<PruneOutcome> GitDestination::Prune(const PruneRequest& request,
                                                   absl::Time deadline) {
  if (request.app.empty() || OneLine(request.app) != request.app) {
    return absl::InvalidArgumentError(absl::StrCat(
        Describe(), ": the app name must be non-empty, one line, no control characters"));
  }
  const std::string& folder = path_;
  Impl::ComputeFn compute = [&](git_repository* repo, const Tip& tip,
                                bool claimed) -> absl::StatusOr<Computed> {
    Computed out;
    ASSIGN_OR_RETURN(std::vector<FolderFile> existing,
                     ListObjectFiles(repo, tip.tree.get(), folder));
    // Key -> file, by reading the folder (a file may sit elsewhere than the layout says when it
    // was written by hand).
    std::map<ObjectKey, std::pair<std::string, FileObject>> by_key;
    std::set<ObjectKey> wanted(request.keys.begin(), request.keys.end());
    for (const FolderFile& f : existing) {
      std::string repo_path = JoinRepoPath(folder, f.relative);
      ASSIGN_OR_RETURN(std::optional<FileObject> current, ReadObjectBlob(repo, f.blob, repo_path));
      if (!current.has_value() || wanted.count(current->key) == 0) continue;
      ObjectKey key = current->key;
      by_key.emplace(key, std::make_pair(f.relative, *std::move(current)));
    }
    std::vector<std::pair<std::string, FileObject>> candidates;
    std::set<ObjectKey> seen;
    for (const ObjectKey& key : request.keys) {
      if (!seen.insert(key).second) continue;
      auto found = by_key.find(key);
      if (found == by_key.end()) {
        ObjectResult result;
        result.key = key;
        result.action = ApplyAction::kSkipped;
        result.message = "not in the branch";
        out.results.push_back(std::move(result));
        continue;
      }
      candidates.push_back(found->second);
    }
    PlanRemovals(candidates, folder, request.allow_cluster_critical, &out);
    // The last object gone: the app releases its folder.
    size_t removed = 0;
    for (const TreeChange& c : out.changes) removed += c.blob.has_value() ? 0 : 1;
    if (claimed && removed > 0 && removed == existing.size()) {
      out.changes.push_back({JoinRepoPath(folder, kAppMarkerFile), std::nullopt});
    }
    return out;
  };
  ASSIGN_OR_RETURN(Impl::WriteResult written,
                   Impl::Write(*this, request.app, request.dry_run, /*may_create=*/false, deadline,
                               nullptr, compute, [&](const Computed& computed) {
                                 return Impl::PruneMessage(*this, request.app, computed);
                               }));
  PruneOutcome outcome;
  outcome.results = std::move(written.results);
  outcome.commit = written.commit;
  return outcome;
}

namespace {

using git_internal::FolderSnapshot;
using git_internal::RepositoryPool;
using git_internal::TreeIndex;

// The entries of tree `id`, from the process-wide tree cache or indexed now.
absl::StatusOr<std::shared_ptr<const TreeIndex>> IndexTree(git_repository* repo, const git_oid& id,
                                                           absl::string_view path) {
  std::shared_ptr<const TreeIndex> cached = git_internal::DefaultTreeCache().Find(id);
  if (cached != nullptr) return cached;
  git_tree* raw = nullptr;
  if (git_tree_lookup(&raw, repo, &id) < 0) {
    return GitError(absl::StatusCode::kDataLoss,
                    absl::StrCat("reading ", path.empty() ? "/" : path));
  }
  GitTree tree(raw);
  auto index = std::make_shared<TreeIndex>();
  size_t count = git_tree_entrycount(tree.get());
  index->entries.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(tree.get(), i);
    std::string name = git_tree_entry_name(entry);
    if (name.size() >= sizeof(std::string)) index->bytes += name.size() + 1;  // not inline
    index->entries.emplace(
        std::move(name),
        TreeIndex::Entry{*git_tree_entry_id(entry), git_tree_entry_type(entry) == GIT_OBJECT_TREE});
  }
  // The map's slots (key, value and a control byte each), whatever their occupancy.
  index->bytes +=
      sizeof(TreeIndex) +
      index->entries.capacity() * (sizeof(std::pair<const std::string, TreeIndex::Entry>) + 1);
  git_internal::DefaultTreeCache().Put(id, index);
  return std::shared_ptr<const TreeIndex>(std::move(index));
}

// The tree id of `folder` in commit `tip` (the commit's tree for the root), or nullopt when the
// commit has no such folder (missing, or a file). Each tree on the way is looked up through the
// tree cache, so a new tip's top-level tree is indexed once for all the apps of the branch.
absl::StatusOr<std::optional<git_oid>> FolderTreeId(git_repository* repo, const git_oid& tip,
                                                    const std::string& folder,
                                                    absl::string_view where) {
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &tip) < 0) {
    return GitError(absl::StatusCode::kFailedPrecondition,
                    absl::StrCat(where, ": the branch does not point at a readable commit"));
  }
  GitCommit commit(raw);
  git_oid current = *git_commit_tree_id(commit.get());
  size_t start = 0;
  while (start < folder.size()) {
    size_t end = std::min(folder.find('/', start), folder.size());
    ASSIGN_OR_RETURN(std::shared_ptr<const TreeIndex> index,
                     IndexTree(repo, current, absl::string_view(folder).substr(0, start)));
    auto found = index->entries.find(absl::string_view(folder).substr(start, end - start));
    if (found == index->entries.end() || !found->second.is_tree) return std::optional<git_oid>();
    current = found->second.id;
    start = end + 1;
  }
  return std::optional<git_oid>(current);
}

// Every object file of the folder tree `tree_id` (the app folder `folder`, named in errors and
// warnings), parsed. A file that is not one object is kept without a key.
absl::StatusOr<std::shared_ptr<const FolderSnapshot>> ParseFolder(git_repository* repo,
                                                                  const git_oid& tree_id,
                                                                  const std::string& folder) {
  git_tree* raw = nullptr;
  if (git_tree_lookup(&raw, repo, &tree_id) < 0) {
    return GitError(absl::StatusCode::kDataLoss,
                    absl::StrCat("reading ", folder.empty() ? "/" : folder));
  }
  GitTree tree(raw);
  ASSIGN_OR_RETURN(std::vector<FolderFile> files, ListFolderTree(repo, tree.get(), folder));
  auto snapshot = std::make_shared<FolderSnapshot>();
  snapshot->files.reserve(files.size());
  constexpr size_t kPerFileOverhead = 256;  // the File, its index entry, allocation headers
  for (const FolderFile& f : files) {
    ASSIGN_OR_RETURN(std::optional<FileObject> parsed,
                     ReadObjectBlob(repo, f.blob, JoinRepoPath(folder, f.relative)));
    FolderSnapshot::File file;
    file.relative = f.relative;
    file.blob = OidToHex(f.blob);
    if (parsed.has_value()) {
      file.key = std::move(parsed->key);
      file.json = CanonicalJson(parsed->object);
    }
    snapshot->bytes +=
        kPerFileOverhead + 2 * file.relative.size() + file.blob.size() + file.json.size();
    if (file.key.has_value()) {
      snapshot->bytes += file.key->group.size() + file.key->version.size() + file.key->kind.size() +
                         file.key->ns.size() + file.key->name.size();
    }
    snapshot->by_relative.emplace(file.relative, snapshot->files.size());
    snapshot->files.push_back(std::move(file));
  }
  return std::shared_ptr<const FolderSnapshot>(std::move(snapshot));
}

}  // namespace

absl::StatusOr<LiveSet> GitDestination::ReadLive(const ReadLiveQuery& query, absl::Time deadline) {
  std::string where = absl::StrCat(Describe(), " app ", query.app);
  // A local repository that does not exist yet holds nothing (ReadLive never creates it).
  ASSIGN_OR_RETURN(RepositoryPool::Lease repo,
                   RepositoryPool::Default().Borrow(local_ ? local_dir_ : clone_dir_, [&] {
                     return Impl::Open(*this, /*create=*/!local_);
                   }));
  LiveSet live;
  if (repo.get() == nullptr) {
    live.absent = query.keys;
    return live;
  }
  // An error may leave the handle in a doubtful state: it is closed, not lent again.
  auto failed = [&](const absl::Status& status) {
    repo.Discard();
    return Annotate(status, absl::StrCat("app ", query.app));
  };
  absl::StatusOr<std::optional<git_oid>> tip;
  if (local_) {
    tip = Impl::ReadTipId(*this, repo.get(), deadline);
  } else {
    // The fetch updates the clone: one at a time per branch, as writes do.
    std::unique_lock<std::timed_mutex> lock(*branch_lock_, std::defer_lock);
    if (!lock.try_lock_until(ToChrono(deadline))) {
      return absl::DeadlineExceededError(
          absl::StrCat(where, ": deadline exceeded waiting for writes to the branch"));
    }
    tip = Impl::ReadTipId(*this, repo.get(), deadline);
  }
  if (!tip.ok()) return failed(tip.status());
  // The folder's tree in the tip (remembered for the last tip read), then its parse (by tree id).
  static const auto* const kEmpty = new FolderSnapshot();
  std::shared_ptr<const FolderSnapshot> folder;
  std::optional<git_oid> folder_id;
  if (tip->has_value()) {
    bool known = false;
    {
      std::lock_guard<std::mutex> lock(read_memo_->mu);
      if (read_memo_->tip.has_value() && git_oid_equal(&*read_memo_->tip, &**tip)) {
        folder_id = read_memo_->folder;
        known = true;
      }
    }
    if (!known) {
      absl::StatusOr<std::optional<git_oid>> found =
          FolderTreeId(repo.get(), **tip, path_, Describe());
      if (!found.ok()) return failed(found.status());
      folder_id = *found;
      std::lock_guard<std::mutex> lock(read_memo_->mu);
      read_memo_->tip = **tip;
      read_memo_->folder = folder_id;
    }
  }
  if (folder_id.has_value()) {
    folder = git_internal::DefaultFolderCache().Find(*folder_id);
    if (folder == nullptr) {
      absl::StatusOr<std::shared_ptr<const FolderSnapshot>> parsed =
          ParseFolder(repo.get(), *folder_id, path_);
      if (!parsed.ok()) return failed(parsed.status());
      folder = *std::move(parsed);
      git_internal::DefaultFolderCache().Put(*folder_id, folder);
    }
  }
  const FolderSnapshot& files = folder != nullptr ? *folder : *kEmpty;

  // The desired keys found (each in the file the layout gives it), then the folder's other
  // objects; each key once. Their JSON is copied last, only when the caller's digest differs.
  std::vector<bool> reported_files(files.files.size(), false);
  std::vector<size_t> object_files;  // the file of each of live.objects
  std::set<ObjectKey> reported_keys;
  for (const ObjectKey& key : query.keys) {
    if (reported_keys.count(key) > 0) continue;
    absl::StatusOr<std::string> relative = ObjectFilePath(key);
    auto found = relative.ok() ? files.by_relative.find(*relative) : files.by_relative.end();
    if (found == files.by_relative.end()) {
      live.absent.push_back(key);
      continue;
    }
    const FolderSnapshot::File& file = files.files[found->second];
    if (!file.key.has_value() || !(*file.key == key)) {
      live.absent.push_back(key);
      continue;
    }
    reported_files[found->second] = true;
    reported_keys.insert(*file.key);
    live.objects.push_back({*file.key, std::string(), file.blob});
    object_files.push_back(found->second);
  }
  for (size_t i = 0; i < files.files.size(); ++i) {
    const FolderSnapshot::File& file = files.files[i];
    if (reported_files[i] || !file.key.has_value() || !reported_keys.insert(*file.key).second) {
      continue;
    }
    live.objects.push_back({*file.key, std::string(), file.blob});
    object_files.push_back(i);
  }
  if (!query.if_digest_differs.empty()) {
    std::string digest = LiveDigest(live);
    if (digest == query.if_digest_differs) {
      LiveSet omitted;
      omitted.objects_omitted = true;
      omitted.digest = std::move(digest);
      return omitted;
    }
  }
  for (size_t i = 0; i < live.objects.size(); ++i) {
    live.objects[i].json = files.files[object_files[i]].json;
  }
  return live;
}

absl::StatusOr<std::unique_ptr<Destination::Subscription>> GitDestination::WatchDrift(
    std::function<void(const DriftEvent&)> /*callback*/) {
  return absl::UnimplementedError(
      absl::StrCat(Describe(), ": a Git destination has no drift watch; poll ReadLive"));
}

}  // namespace todoke::applier

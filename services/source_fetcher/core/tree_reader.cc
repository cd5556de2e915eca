#include "services/source_fetcher/core/tree_reader.h"

#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status.h"
#include "services/source_fetcher/core/git_util.h"

namespace todoke::source_fetcher {
namespace {

struct TreeItem {
  std::string path;
  uint32_t mode;
  git_oid oid;
};

// Collects the blobs and symlinks under `tree`, prefixing paths with `prefix`.
absl::Status CollectTree(git_repository* repo, const git_tree* tree, const std::string& prefix,
                         uint32_t max_files, std::vector<TreeItem>* out) {
  size_t count = git_tree_entrycount(tree);
  for (size_t i = 0; i < count; ++i) {
    const git_tree_entry* e = git_tree_entry_byindex(tree, i);
    std::string path =
        prefix.empty() ? git_tree_entry_name(e) : absl::StrCat(prefix, "/", git_tree_entry_name(e));
    git_filemode_t mode = git_tree_entry_filemode(e);
    if (mode == GIT_FILEMODE_TREE) {
      git_tree* raw = nullptr;
      if (git_tree_lookup(&raw, repo, git_tree_entry_id(e)) < 0) {
        return absl::DataLossError(
            absl::StrCat("cannot read tree ", path, ": ", LastGitErrorMessage()));
      }
      GitTree sub(raw);
      RETURN_IF_ERROR(CollectTree(repo, sub.get(), path, max_files, out));
    } else if (mode == GIT_FILEMODE_BLOB || mode == GIT_FILEMODE_BLOB_EXECUTABLE ||
               mode == GIT_FILEMODE_LINK) {
      out->push_back(TreeItem{std::move(path), static_cast<uint32_t>(mode), *git_tree_entry_id(e)});
      if (out->size() > max_files) {
        return absl::ResourceExhaustedError(
            absl::StrCat("more than ", max_files, " files under the requested path"));
      }
    }
    // Submodules (GIT_FILEMODE_COMMIT) have no content in this repository: skipped.
  }
  return absl::OkStatus();
}

}  // namespace

// "a/./b/" -> "a/b"; "" and "." -> "". INVALID_ARGUMENT for absolute paths and "..".
absl::StatusOr<std::string> NormalizeTreePath(absl::string_view path) {
  if (!path.empty() && path.front() == '/') {
    return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" must be relative"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("path \"", path, "\" contains \"..\""));
    }
    for (char c : part) {
      if (c == '\0') return absl::InvalidArgumentError("path contains a NUL byte");
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

// True if the symlink at `link_path` (repository-relative) with `target` stays inside the
// repository.
bool SymlinkStaysInside(absl::string_view link_path, absl::string_view target) {
  if (target.empty() || target.front() == '/') return false;
  std::vector<absl::string_view> stack = absl::StrSplit(link_path, '/');
  stack.pop_back();  // the link's own name
  for (absl::string_view part : absl::StrSplit(target, '/')) {
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (stack.empty()) return false;
      stack.pop_back();
    } else {
      stack.push_back(part);
    }
  }
  return true;
}

absl::Status ReadCommitTree(git_repository* repo, const std::string& commit_id,
                            const std::string& path, const TreeReadLimits& limits,
                            const std::function<absl::Status(TreeFile&&)>& on_file,
                            bool* delivered_any) {
  git_oid oid;
  git_oid_fromstr(&oid, commit_id.c_str());
  git_object* raw_commit = nullptr;
  if (git_object_lookup(&raw_commit, repo, &oid, GIT_OBJECT_ANY) < 0) {
    return absl::DataLossError(absl::StrCat("cannot read commit: ", LastGitErrorMessage()));
  }
  GitObject commit_object(raw_commit);
  git_object* raw_tree = nullptr;
  int peel_rc = git_object_peel(&raw_tree, commit_object.get(), GIT_OBJECT_TREE);
  if (peel_rc == GIT_EPEEL || peel_rc == GIT_EINVALIDSPEC) {
    return absl::FailedPreconditionError(absl::StrCat(commit_id, " is not a commit"));
  }
  if (peel_rc < 0) {
    return absl::DataLossError(
        absl::StrCat("cannot read the tree of ", commit_id, ": ", LastGitErrorMessage()));
  }
  GitTree root(reinterpret_cast<git_tree*>(raw_tree));
  std::vector<TreeItem> items;
  if (path.empty()) {
    RETURN_IF_ERROR(CollectTree(repo, root.get(), "", limits.max_files, &items));
  } else {
    git_tree_entry* raw_entry = nullptr;
    int rc = git_tree_entry_bypath(&raw_entry, root.get(), path.c_str());
    GitTreeEntry tree_entry(raw_entry);
    if (rc == GIT_ENOTFOUND) {
      return absl::NotFoundError(
          absl::StrCat("path \"", path, "\" not found at commit ", commit_id));
    }
    if (rc < 0) return absl::DataLossError(LastGitErrorMessage());
    git_filemode_t mode = git_tree_entry_filemode(tree_entry.get());
    if (mode == GIT_FILEMODE_TREE) {
      git_tree* raw_sub = nullptr;
      if (git_tree_lookup(&raw_sub, repo, git_tree_entry_id(tree_entry.get())) < 0) {
        return absl::DataLossError(LastGitErrorMessage());
      }
      GitTree sub(raw_sub);
      RETURN_IF_ERROR(CollectTree(repo, sub.get(), path, limits.max_files, &items));
    } else if (mode == GIT_FILEMODE_COMMIT) {
      return absl::NotFoundError(absl::StrCat("path \"", path, "\" is a submodule"));
    } else {
      items.push_back(
          TreeItem{path, static_cast<uint32_t>(mode), *git_tree_entry_id(tree_entry.get())});
    }
  }
  if (items.size() > limits.max_files) {
    return absl::ResourceExhaustedError(
        absl::StrCat("more than ", limits.max_files, " files under the requested path"));
  }
  git_odb* raw_odb = nullptr;
  if (git_repository_odb(&raw_odb, repo) < 0) {
    return absl::DataLossError(LastGitErrorMessage());
  }
  GitOdb odb(raw_odb);
  uint64_t total = 0;
  for (const TreeItem& item : items) {
    size_t size = 0;
    git_object_t type;
    if (git_odb_read_header(&size, &type, odb.get(), &item.oid) < 0) {
      return absl::DataLossError(
          absl::StrCat("cannot read ", item.path, ": ", LastGitErrorMessage()));
    }
    total += size;
    if (total > limits.max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "files under the requested path exceed the limit of ", limits.max_bytes, " bytes"));
    }
  }
  auto read_blob = [&](const TreeItem& item) -> absl::StatusOr<GitBlob> {
    git_blob* raw_blob = nullptr;
    if (git_blob_lookup(&raw_blob, repo, &item.oid) < 0) {
      return absl::DataLossError(
          absl::StrCat("cannot read ", item.path, ": ", LastGitErrorMessage()));
    }
    return GitBlob(raw_blob);
  };
  // Refuse escaping symlinks before anything is delivered.
  for (const TreeItem& item : items) {
    if (item.mode != GIT_FILEMODE_LINK) continue;
    ASSIGN_OR_RETURN(GitBlob blob, read_blob(item));
    absl::string_view target_path(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                                  static_cast<size_t>(git_blob_rawsize(blob.get())));
    if (!SymlinkStaysInside(item.path, target_path)) {
      return absl::FailedPreconditionError(absl::StrCat("symlink ", item.path, " -> ", target_path,
                                                        " points outside the repository"));
    }
  }
  for (TreeItem& item : items) {
    ASSIGN_OR_RETURN(GitBlob blob, read_blob(item));
    TreeFile file;
    file.mode = item.mode;
    file.blob_id = OidToHex(item.oid);
    file.content.assign(static_cast<const char*>(git_blob_rawcontent(blob.get())),
                        static_cast<size_t>(git_blob_rawsize(blob.get())));
    file.path = std::move(item.path);
    blob.reset();
    *delivered_any = true;
    RETURN_IF_ERROR(on_file(std::move(file)));
  }
  return absl::OkStatus();
}

}  // namespace todoke::source_fetcher

#include "services/renderer/core/render.h"

#include <atomic>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status.h"
#include "services/renderer/core/hashing.h"
#include "services/renderer/core/kustomize/kustomize.h"

namespace todoke::renderer {

absl::string_view RenderModeName(RenderMode mode) {
  switch (mode) {
    case RenderMode::kAuto:
      return "auto";
    case RenderMode::kDirectory:
      return "directory";
    case RenderMode::kKustomize:
      return "kustomize";
    case RenderMode::kPlugin:
      return "plugin";
  }
  return "unknown";
}

std::string OptionsFingerprint(const RenderOptions& options) {
  // Length-prefixed pieces, so no two option sets give the same text.
  std::string out;
  auto add = [&out](absl::string_view piece) {
    absl::StrAppend(&out, piece.size(), ":", piece, ";");
  };
  // A new engine may render the same inputs differently: its results never share a key.
  add(kRenderEngineVersion);
  add(RenderModeName(options.mode));
  if (options.mode == RenderMode::kAuto || options.mode == RenderMode::kDirectory) {
    add(options.directory.recurse ? "recurse" : "flat");
    add(options.directory.include);
    add(options.directory.exclude);
  }
  if (options.mode == RenderMode::kPlugin) {
    add(options.plugin.name);
    absl::StrAppend(&out, "args", options.plugin.args.size(), ";");
    for (const std::string& arg : options.plugin.args) add(arg);
    absl::StrAppend(&out, "env", options.plugin.env.size(), ";");
    for (const auto& [name, value] : options.plugin.env) {
      add(name);
      add(value);
    }
  }
  absl::StrAppend(&out, "vars", options.substitutions.size(), ";");
  for (const auto& [name, value] : options.substitutions) {
    add(name);
    add(value);
  }
  return out;
}

size_t RenderResult::ApproximateBytes() const {
  size_t bytes = sizeof(*this) + digest.size();
  for (const std::string& json : canonical_json) bytes += 3 * json.size() + 64;
  for (const InputFile& input : inputs) bytes += input.path.size() + input.blob_id.size() + 64;
  for (const Observation& observation : observations) {
    bytes += observation.path.size() + observation.value.size() + 64;
  }
  return bytes;
}

std::string ComputeDigest(const std::vector<std::string>& canonical_json) {
  Sha256 hash;
  for (const std::string& json : canonical_json) {
    hash.Update(json);
    hash.Update("\n");
  }
  return absl::StrCat("sha256:", hash.HexDigest());
}

namespace {

absl::StatusOr<std::string> FindKustomization(const FileSource& files, const std::string& dir) {
  return kustomize::FindKustomizationFile(files, dir);
}
absl::StatusOr<std::vector<Json>> BuildKustomization(const FileSource& files,
                                                     const std::string& dir, Budget* budget) {
  kustomize::BuildOptions options;
  options.budget = budget;
  return kustomize::Build(files, dir, options);
}

// Charges every file read to the render's budget, and checks it for cancellation per file.
class BudgetedFileSource : public FileSource {
 public:
  BudgetedFileSource(const FileSource& inner, Budget& budget) : inner_(inner), budget_(budget) {}

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    ASSIGN_OR_RETURN(FileContent file, ReadFileWithId(path));
    return std::move(file.content);
  }
  absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const override {
    RETURN_IF_ERROR(budget_.Check(path));
    absl::StatusOr<FileContent> file = inner_.ReadFileWithId(path);
    if (file.ok()) {
      RETURN_IF_ERROR(budget_.Charge(0, static_cast<int64_t>(file->content.size()), path));
    }
    return file;
  }
  bool IsDirectory(absl::string_view path) const override { return inner_.IsDirectory(path); }
  bool IsFile(absl::string_view path) const override { return inner_.IsFile(path); }
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override {
    RETURN_IF_ERROR(budget_.Check(path));
    return inner_.ListDirectory(path);
  }
  absl::Status SourceStatus() const override { return inner_.SourceStatus(); }

 private:
  const FileSource& inner_;
  Budget& budget_;
};

// For RenderOptions::objects_only: forwards to another source, reading files without their
// blob ids (no SHA-1 of every file), and keeps the paths of the files read. Thread-safe.
class PathRecordingFileSource : public FileSource {
 public:
  explicit PathRecordingFileSource(const FileSource& inner) : inner_(inner) {}

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    absl::StatusOr<std::string> content = inner_.ReadFile(path);
    if (content.ok()) {
      absl::MutexLock lock(&mu_);
      paths_.emplace(path);
    }
    return content;
  }
  absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const override {
    ASSIGN_OR_RETURN(std::string content, ReadFile(path));
    return FileContent{std::move(content), ""};
  }
  bool IsDirectory(absl::string_view path) const override { return inner_.IsDirectory(path); }
  bool IsFile(absl::string_view path) const override { return inner_.IsFile(path); }
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override {
    return inner_.ListDirectory(path);
  }
  absl::Status SourceStatus() const override { return inner_.SourceStatus(); }

  // The files read, sorted by path, without blob ids.
  std::vector<InputFile> Inputs() const {
    absl::MutexLock lock(&mu_);
    std::vector<InputFile> out;
    out.reserve(paths_.size());
    for (const std::string& path : paths_) out.push_back({path, ""});
    return out;
  }

 private:
  const FileSource& inner_;
  mutable absl::Mutex mu_;
  mutable std::set<std::string> paths_ ABSL_GUARDED_BY(mu_);
};

std::atomic<uint64_t> renders_stopped{0};

}  // namespace

uint64_t RendersStopped() { return renders_stopped.load(); }

Renderer::Renderer(std::shared_ptr<const PluginRunner> plugins) : plugins_(std::move(plugins)) {}

absl::StatusOr<std::vector<Json>> Renderer::Build(const FileSource& files, const std::string& path,
                                                  const RenderOptions& options,
                                                  RenderMode& mode) const {
  mode = options.mode;
  if (mode == RenderMode::kAuto) {
    absl::StatusOr<std::string> kustomization = FindKustomization(files, path);
    if (kustomization.ok()) {
      mode = RenderMode::kKustomize;
    } else if (absl::IsNotFound(kustomization.status())) {
      mode = RenderMode::kDirectory;
    } else {
      return kustomization.status();
    }
  }
  switch (mode) {
    case RenderMode::kKustomize:
      return BuildKustomization(files, path, options.budget);
    case RenderMode::kDirectory:
      return RenderDirectory(files, path, options.directory);
    case RenderMode::kPlugin:
      if (plugins_ == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            "plugin \"", options.plugin.name, "\" is not available: no plugins are configured"));
      }
      return plugins_->Run(files, path, options.plugin);
    case RenderMode::kAuto:
      break;
  }
  return absl::InternalError("unreachable render mode");
}

absl::StatusOr<RenderResult> Renderer::Render(const FileSource& files, absl::string_view path,
                                              const RenderOptions& options) const {
  ASSIGN_OR_RETURN(std::string app_path, ResolveRepoPath("", path));
  Budget own_budget;
  Budget* budget = options.budget != nullptr ? options.budget : &own_budget;
  RenderOptions budgeted_options = options;
  budgeted_options.budget = budget;
  ScopedBudget scope(budget);  // every YAML/JSON parse of this render charges it
  RecordingFileSource recorder(files);
  PathRecordingFileSource paths(files);
  BudgetedFileSource budgeted(options.objects_only ? static_cast<const FileSource&>(paths)
                                                   : static_cast<const FileSource&>(recorder),
                              *budget);
  RenderResult result;
  absl::StatusOr<std::vector<Json>> objects =
      Build(budgeted, app_path, budgeted_options, result.mode);
  // A failing source (e.g. the fetcher unreachable) explains any error better than the render.
  RETURN_IF_ERROR(files.SourceStatus());
  // So does the budget, whatever the code that met it made of its error.
  if (absl::Status failure = budget->failure(); !failure.ok()) {
    if (budget->stopped()) renders_stopped.fetch_add(1);
    return failure;
  }
  if (!objects.ok()) return objects.status();
  result.objects = *std::move(objects);
  if (!options.substitutions.empty()) {
    RETURN_IF_ERROR(SubstituteInObjects(result.objects, options.substitutions));
  }
  result.keys.reserve(result.objects.size());
  if (!options.objects_only) result.canonical_json.reserve(result.objects.size());
  for (const Json& object : result.objects) {
    absl::StatusOr<ObjectKey> key = KeyOf(object);
    if (!key.ok() && options.allow_keyless_objects) key = ObjectKey{};
    if (!key.ok()) {
      return Annotate(key.status(),
                      absl::StrCat("object ", result.keys.size() + 1, " of the output is invalid"));
    }
    result.keys.push_back(*std::move(key));
    if (!options.objects_only) result.canonical_json.push_back(CanonicalJson(object));
    if (result.keys.size() % 1024 == 0) {
      if (absl::Status stop = budget->Check("the render's output"); !stop.ok()) {
        renders_stopped.fetch_add(1);
        return stop;
      }
    }
  }
  if (options.objects_only) {
    result.inputs = paths.Inputs();
    return result;
  }
  result.digest = ComputeDigest(result.canonical_json);
  for (auto& [file, blob] : recorder.FilesRead()) result.inputs.push_back({file, blob});
  result.observations = recorder.Observations();
  return result;
}

absl::StatusOr<RenderResult> Render(const FileSource& files, absl::string_view path,
                                    const RenderOptions& options) {
  static const Renderer* const renderer = new Renderer();
  return renderer->Render(files, path, options);
}

}  // namespace todoke::renderer

#include "services/renderer/core/recording_file_source.h"

#include "absl/strings/str_join.h"

namespace todoke::renderer {
namespace {

constexpr char kNotADirectory[] = "\x01";

std::string ListingValue(const absl::StatusOr<std::vector<std::string>>& listing) {
  return listing.ok() ? absl::StrJoin(*listing, "\n") : kNotADirectory;
}

}  // namespace

void RecordingFileSource::Record(Observation::Kind kind, absl::string_view path,
                                 std::string value) const {
  absl::MutexLock lock(&mu_);
  observed_.insert_or_assign({static_cast<char>(kind), std::string(path)}, std::move(value));
}

absl::StatusOr<std::string> RecordingFileSource::ReadFile(absl::string_view path) const {
  absl::StatusOr<FileContent> file = ReadFileWithId(path);
  if (!file.ok()) return file.status();
  return std::move(file->content);
}

absl::StatusOr<FileContent> RecordingFileSource::ReadFileWithId(absl::string_view path) const {
  absl::StatusOr<FileContent> file = inner_.ReadFileWithId(path);
  Record(Observation::Kind::kFile, path, file.ok() ? file->blob_id : std::string());
  return file;
}

bool RecordingFileSource::IsDirectory(absl::string_view path) const {
  const bool result = inner_.IsDirectory(path);
  Record(Observation::Kind::kIsDirectory, path, result ? "1" : "0");
  return result;
}

bool RecordingFileSource::IsFile(absl::string_view path) const {
  const bool result = inner_.IsFile(path);
  Record(Observation::Kind::kIsFile, path, result ? "1" : "0");
  return result;
}

absl::StatusOr<std::vector<std::string>> RecordingFileSource::ListDirectory(
    absl::string_view path) const {
  absl::StatusOr<std::vector<std::string>> listing = inner_.ListDirectory(path);
  Record(Observation::Kind::kListing, path, ListingValue(listing));
  return listing;
}

std::vector<Observation> RecordingFileSource::Observations() const {
  absl::MutexLock lock(&mu_);
  std::vector<Observation> out;
  out.reserve(observed_.size());
  for (const auto& [key, value] : observed_) {
    out.push_back({static_cast<Observation::Kind>(key.first), key.second, value});
  }
  return out;
}

std::vector<std::pair<std::string, std::string>> RecordingFileSource::FilesRead() const {
  absl::MutexLock lock(&mu_);
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& [key, value] : observed_) {
    if (key.first == static_cast<char>(Observation::Kind::kFile) && !value.empty()) {
      out.emplace_back(key.second, value);
    }
  }
  return out;  // std::map order: by kind then path, so sorted by path within kFile.
}

Observation Reobserve(const FileSource& files, const Observation& observation) {
  Observation now{observation.kind, observation.path, ""};
  switch (observation.kind) {
    case Observation::Kind::kFile: {
      absl::StatusOr<FileContent> file = files.ReadFileWithId(observation.path);
      if (file.ok()) now.value = file->blob_id;
      break;
    }
    case Observation::Kind::kIsFile:
      now.value = files.IsFile(observation.path) ? "1" : "0";
      break;
    case Observation::Kind::kIsDirectory:
      now.value = files.IsDirectory(observation.path) ? "1" : "0";
      break;
    case Observation::Kind::kListing:
      now.value = ListingValue(files.ListDirectory(observation.path));
      break;
  }
  return now;
}

bool ObservationsHold(const FileSource& files, const std::vector<Observation>& observations) {
  for (const Observation& observation : observations) {
    if (Reobserve(files, observation) != observation) return false;
  }
  return files.SourceStatus().ok();
}

}  // namespace todoke::renderer

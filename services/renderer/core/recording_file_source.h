// What a render looked at. A render's output depends on the files it read and on what it saw
// of the tree (a file that was absent, a directory listing), so the renderer records every such
// observation; replaying them against another commit's tree tells whether the render would see
// exactly the same inputs there, without rendering.
#ifndef TODOKE_SERVICES_RENDERER_CORE_RECORDING_FILE_SOURCE_H_
#define TODOKE_SERVICES_RENDERER_CORE_RECORDING_FILE_SOURCE_H_

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "services/renderer/core/file_source.h"

namespace todoke::renderer {

// One fact a render learned from its FileSource.
struct Observation {
  enum class Kind : char {
    kFile = 'f',         // value: blob id of the file, "" if it could not be read (absent)
    kIsFile = 'F',       // value: "1" or "0"
    kIsDirectory = 'D',  // value: "1" or "0"
    kListing = 'L',      // value: the entries joined by '\n', or "\x01" if not a directory
  };
  Kind kind;
  std::string path;
  std::string value;

  friend bool operator==(const Observation&, const Observation&) = default;
};

// A FileSource that forwards to another one and records every observation, deduplicated.
// Thread-safe. The wrapped source must outlive it.
class RecordingFileSource : public FileSource {
 public:
  explicit RecordingFileSource(const FileSource& inner) : inner_(inner) {}

  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override;
  absl::StatusOr<FileContent> ReadFileWithId(absl::string_view path) const override;
  bool IsDirectory(absl::string_view path) const override;
  bool IsFile(absl::string_view path) const override;
  absl::StatusOr<std::vector<std::string>> ListDirectory(absl::string_view path) const override;
  absl::Status SourceStatus() const override { return inner_.SourceStatus(); }

  // Every observation so far, sorted by (kind, path).
  std::vector<Observation> Observations() const;

  // The files read successfully, sorted by path: (path, blob id).
  std::vector<std::pair<std::string, std::string>> FilesRead() const;

 private:
  void Record(Observation::Kind kind, absl::string_view path, std::string value) const;

  const FileSource& inner_;
  mutable absl::Mutex mu_;
  mutable std::map<std::pair<char, std::string>, std::string> observed_ ABSL_GUARDED_BY(mu_);
};

// Observes `observation.path` in `files` the same way and returns what it sees now.
Observation Reobserve(const FileSource& files, const Observation& observation);

// True if every observation still holds in `files`.
bool ObservationsHold(const FileSource& files, const std::vector<Observation>& observations);

}  // namespace todoke::renderer

#endif  // TODOKE_SERVICES_RENDERER_CORE_RECORDING_FILE_SOURCE_H_

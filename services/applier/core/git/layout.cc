#include "services/applier/core/git/layout.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace todoke::applier {
namespace {

constexpr size_t kMaxComponentBytes = 255;
constexpr size_t kMaxAppPathBytes = 1024;

bool IsSafeByte(unsigned char c) { return absl::ascii_isalnum(c) || c == '-' || c == '.'; }

}  // namespace

std::string EscapePathComponent(absl::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    if (IsSafeByte(c) && !(i == 0 && c == '.')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xF]);
    }
  }
  return out;
}

absl::StatusOr<std::string> NormalizeAppPath(absl::string_view path) {
  if (path.size() > kMaxAppPathBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("app path is longer than ", kMaxAppPathBytes, " bytes"));
  }
  std::vector<absl::string_view> parts;
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty() || part == ".") continue;
    for (char c : part) {
      unsigned char u = static_cast<unsigned char>(c);
      if (u < 0x20 || u == 0x7F || c == '\\') {
        return absl::InvalidArgumentError("app path holds a control character, NUL or backslash");
      }
    }
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("app path \"", path, "\" has a \"..\" component"));
    }
    if (absl::EqualsIgnoreCase(part, ".git") || part == kAppMarkerFile) {
      return absl::InvalidArgumentError(
          absl::StrCat("app path \"", path, "\" has a reserved component \"", part, "\""));
    }
    if (part.size() > kMaxComponentBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("app path has a component longer than ", kMaxComponentBytes, " bytes"));
    }
    parts.push_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::string> ObjectFilePath(const ObjectKey& key) {
  if (key.kind.empty()) return absl::InvalidArgumentError("object has no kind");
  if (key.name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(key.ToString(),
                     ": object has no metadata.name (generateName is not "
                     "supported by the Git destination)"));
  }
  std::string folder =
      key.ns.empty() ? std::string(kClusterScopeFolder) : EscapePathComponent(key.ns);
  std::string file = absl::StrCat(EscapePathComponent(key.group.empty() ? "core" : key.group), ".",
                                  EscapePathComponent(absl::AsciiStrToLower(key.kind)), ".",
                                  EscapePathComponent(key.name), kObjectFileSuffix);
  if (folder.size() > kMaxComponentBytes || file.size() > kMaxComponentBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        key.ToString(), ": its file name would be longer than ", kMaxComponentBytes, " bytes"));
  }
  return absl::StrCat(folder, "/", file);
}

std::string JoinRepoPath(absl::string_view folder, absl::string_view relative) {
  if (folder.empty()) return std::string(relative);
  if (relative.empty()) return std::string(folder);
  return absl::StrCat(folder, "/", relative);
}

bool AppPathsOverlap(absl::string_view a, absl::string_view b) {
  if (a.empty() || b.empty() || a == b) return true;
  if (a.size() > b.size()) std::swap(a, b);
  return absl::StartsWith(b, a) && b[a.size()] == '/';
}

bool IsObjectFilePath(absl::string_view relative) {
  size_t slash = relative.find('/');
  if (slash == absl::string_view::npos || slash == 0) return false;
  absl::string_view folder = relative.substr(0, slash);
  absl::string_view file = relative.substr(slash + 1);
  if (folder[0] == '.' || file.find('/') != absl::string_view::npos) return false;
  return file.size() > kObjectFileSuffix.size() && absl::EndsWith(file, kObjectFileSuffix);
}

}  // namespace todoke::applier

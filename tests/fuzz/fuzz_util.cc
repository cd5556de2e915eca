#include "tests/fuzz/fuzz_util.h"

#include <cmath>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "tests/fuzz/fuzz_targets.h"

namespace todoke::fuzz {

bool SameValue(const Json& a, const Json& b) {
  if (a.is_number_float() && b.is_number_float() && std::isnan(a.get<double>()) &&
      std::isnan(b.get<double>())) {
    return true;
  }
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!SameValue(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key() || !SameValue(ia.value(), ib.value())) return false;
    }
    return true;
  }
  return a == b;
}

std::string Describe(const Json& value) {
  std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (text.size() > 300) text = absl::StrCat(text.substr(0, 300), "...");
  return text;
}

std::string Describe(absl::string_view data) {
  std::string text = absl::CHexEscape(data.substr(0, 300));
  if (data.size() > 300) absl::StrAppend(&text, "...");
  return text;
}

absl::Status Broken(absl::string_view target, absl::string_view what, absl::string_view input) {
  return absl::InternalError(
      absl::StrCat(target, ": ", what, "\ninput: \"", Describe(input), "\""));
}

namespace {

bool IsRepoPath(absl::string_view path) {
  if (path.empty()) return false;
  for (absl::string_view segment : absl::StrSplit(path, '/')) {
    if (segment.empty() || segment == "." || segment == "..") return false;
  }
  return true;
}

absl::string_view LineText(absl::string_view line) {
  return absl::StripSuffix(absl::StripSuffix(line, "\n"), "\r");
}

}  // namespace

FuzzTree ParseFuzzTree(absl::string_view data) {
  FuzzTree tree;
  if (absl::StartsWith(data, "@ ")) {
    const size_t end = data.find('\n');
    const absl::string_view dir =
        LineText(data.substr(2, end == absl::string_view::npos ? end : end - 2));
    if (IsRepoPath(dir)) tree.render_dir = std::string(dir);
    data = end == absl::string_view::npos ? absl::string_view() : data.substr(end + 1);
  }
  std::string path = "kustomization.yaml";
  std::string content;
  bool pending = false;  // `path` has a section (perhaps empty) to keep
  auto flush = [&] {
    if (pending && IsRepoPath(path)) tree.files[path] = content;
    content.clear();
  };
  size_t pos = 0;
  while (pos < data.size()) {
    const size_t end = data.find('\n', pos);
    const size_t next = end == absl::string_view::npos ? data.size() : end + 1;
    const absl::string_view line = data.substr(pos, next - pos);
    if (absl::StartsWith(line, "=== ")) {
      flush();
      path = std::string(LineText(line.substr(4)));
    } else {
      content.append(line.data(), line.size());
    }
    pending = true;
    pos = next;
  }
  flush();
  return tree;
}

const std::map<std::string, FuzzEntry>& FuzzTargets() {
  static const auto* targets = new std::map<std::string, FuzzEntry>{
      {"yaml", &FuzzYaml},
      {"json", &FuzzJson},
      {"kustomization", &FuzzKustomization},
      {"render", &FuzzRender},
      {"strategic_merge", &FuzzStrategicMerge},
      {"json_patch", &FuzzJsonPatch},
      {"semver", &FuzzSemver},
      {"repo_url", &FuzzRepoUrl},
  };
  return *targets;
}

}  // namespace todoke::fuzz

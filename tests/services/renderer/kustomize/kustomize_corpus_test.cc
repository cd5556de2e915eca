// Runs every case of the Kustomize compatibility corpus (../shared/corpus/kustomize, or
// $TODOKE_CORPUS_DIR): `ok` cases must give the objects of expected/<id>.yaml in the same
// order, `error` cases must be refused with a message.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/yaml.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/kustomize.h"

namespace todoke::renderer::kustomize {
namespace {

std::string CorpusDir() {
  const char* env = std::getenv("TODOKE_CORPUS_DIR");
  if (env != nullptr && *env != '\0') return env;
  return "../shared/corpus/kustomize";
}

bool ReadText(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream buffer;
  buffer << in.rdbuf();
  out = buffer.str();
  return true;
}

struct CorpusCase {
  std::string id;
  std::string path;
  std::string outcome;
};

TEST(KustomizeCorpusTest, EveryCaseMatchesKubectlKustomize) {
  const std::string corpus = CorpusDir();
  std::string table;
  if (!ReadText(corpus + "/cases.tsv", table)) {
    FAIL() << "no corpus at " << corpus << " (set TODOKE_CORPUS_DIR)";
  }
  std::vector<CorpusCase> cases;
  for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
    std::vector<std::string> fields = absl::StrSplit(line, '\t');
    if (fields.size() < 3) continue;
    cases.push_back({fields[0], fields[1], fields[2]});
  }
  DiskFileSource files(corpus + "/trees");
  int ok_total = 0, ok_passed = 0, error_total = 0, error_refused = 0;
  for (const CorpusCase& c : cases) {
    absl::StatusOr<std::vector<Json>> built = Build(files, c.path);
    if (c.outcome == "error") {
      ++error_total;
      if (!built.ok() && !built.status().message().empty()) {
        ++error_refused;
      } else {
        ADD_FAILURE() << c.id << ": expected an error, got " << built->size() << " objects";
      }
      continue;
    }
    ++ok_total;
    if (!built.ok()) {
      ADD_FAILURE() << c.id << ": " << built.status();
      continue;
    }
    std::string expected_text;
    ReadText(corpus + "/expected/" + c.id + ".yaml", expected_text);
    absl::StatusOr<std::vector<YamlDocument>> expected_docs = ParseYamlStream(expected_text, c.id);
    ASSERT_TRUE(expected_docs.ok()) << expected_docs.status();
    std::vector<Json> expected;
    for (YamlDocument& doc : *expected_docs) {
      if (!doc.value.is_null()) expected.push_back(std::move(doc.value));
    }
    if (*built == expected) {
      ++ok_passed;
      continue;
    }
    // Explain the first difference.
    std::ostringstream why;
    why << c.id << ": got " << built->size() << " objects, want " << expected.size();
    for (size_t i = 0; i < std::max(built->size(), expected.size()); ++i) {
      const Json got = i < built->size() ? (*built)[i] : Json();
      const Json want = i < expected.size() ? expected[i] : Json();
      if (got != want) {
        Json diff = Json::diff(want, got);
        why << "\n  first difference at object " << i << " ("
            << want.value("kind", "?") << " " << (want.contains("metadata") ? want["metadata"].value("name", "?") : "?")
            << "): " << diff.dump().substr(0, 1500);
        break;
      }
    }
    ADD_FAILURE() << why.str();
  }
  std::cout << "corpus ok: " << ok_passed << "/" << ok_total << " passed, error: " << error_refused
            << "/" << error_total << " refused" << std::endl;
}

}  // namespace
}  // namespace todoke::renderer::kustomize

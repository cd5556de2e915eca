// Runs every case of the three Kustomize compatibility corpora in ../shared/corpus (or
// $TODOKE_CORPUS_ROOT): `kustomize` (real repositories), `kustomize-projects` (Argo CD, Cluster
// API, Kubebuilder) and `kustomize-krusty` (kustomize's own end-to-end test inputs). Each case is
// its own test result, named <corpus>/<id>:
//   - `ok` cases must give the objects of expected/<id>.yaml, in the same order, compared as
//     parsed values; the `kustomize` corpus is also compared byte for byte with what
//     `kubectl kustomize` printed;
//   - `error` cases must be refused, and the message must name the same subject (the object id
//     or the file kustomize names last in expected/<id>.err) and, for the causes listed in
//     kCauses, the same cause.
// Without the corpus every case skips with a message; TODOKE_REQUIRE_ALL=1 makes that a failure.
// The pass counts per corpus are printed at the end.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/yaml.h"
#include "gtest/gtest.h"
#include "re2/re2.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/kustomize.h"
#include "tests/common/test_files.h"

namespace todoke::renderer::kustomize {
namespace {

using ::todoke::test_files::ReadFile;

constexpr const char* kCorpora[] = {"kustomize", "kustomize-projects", "kustomize-krusty"};

std::string CorpusRoot() {
  const char* env = std::getenv("TODOKE_CORPUS_ROOT");
  if (env != nullptr && *env != '\0') return env;
  return "../shared/corpus";
}

bool RequireAll() {
  const char* env = std::getenv("TODOKE_REQUIRE_ALL");
  return env != nullptr && std::string(env) == "1";
}

struct CorpusCase {
  std::string corpus;  // "" for the placeholder case of a missing corpus
  std::string id;
  std::string path;
  std::string outcome;
};

void PrintTo(const CorpusCase& c, std::ostream* os) { *os << c.corpus << "/" << c.id; }

std::vector<CorpusCase> LoadCases() {
  std::vector<CorpusCase> cases;
  for (const char* corpus : kCorpora) {
    std::string table;
    if (!ReadFile(CorpusRoot() + "/" + corpus + "/cases.tsv", table)) {
      cases.push_back({"", corpus, "", ""});
      continue;
    }
    for (absl::string_view line : absl::StrSplit(table, '\n', absl::SkipEmpty())) {
      std::vector<std::string> fields = absl::StrSplit(line, '\t');
      if (fields.size() < 3 || fields[0] == "id") continue;
      cases.push_back({corpus, fields[0], fields[1], fields[2]});
    }
  }
  return cases;
}

// Pass counts per corpus and outcome, printed when the program ends.
struct Tally {
  std::mutex mu;
  std::map<std::string, std::pair<int, int>> ok;     // corpus -> passed, total
  std::map<std::string, std::pair<int, int>> error;  // corpus -> passed, total
  std::map<std::string, int> same_bytes;             // ok cases printed byte for byte

  void AddSameBytes(const CorpusCase& c) {
    std::lock_guard<std::mutex> lock(mu);
    ++same_bytes[c.corpus];
  }

  void Add(const CorpusCase& c, bool passed) {
    std::lock_guard<std::mutex> lock(mu);
    auto& entry = (c.outcome == "error" ? error : ok)[c.corpus];
    entry.first += passed ? 1 : 0;
    ++entry.second;
  }
};

Tally& Counts() {
  static Tally* tally = new Tally;
  return *tally;
}

class PrintCounts : public testing::Environment {
 public:
  void TearDown() override {
    Tally& tally = Counts();
    for (const char* corpus : kCorpora) {
      auto ok = tally.ok[corpus];
      auto error = tally.error[corpus];
      if (ok.second + error.second == 0) continue;
      std::cout << "corpus " << corpus << ": ok " << ok.first << "/" << ok.second << ", error "
                << error.first << "/" << error.second
                << " (ok cases printed byte for byte: " << tally.same_bytes[corpus] << ")"
                << std::endl;
    }
  }
};

testing::Environment* const kPrintCounts = testing::AddGlobalTestEnvironment(new PrintCounts);

std::vector<Json> ParseExpected(const std::string& text, const std::string& name) {
  std::vector<Json> out;
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(text, name);
  if (!docs.ok()) {
    ADD_FAILURE() << docs.status();
    return out;
  }
  for (YamlDocument& doc : *docs) {
    if (!doc.value.is_null()) out.push_back(std::move(doc.value));
  }
  return out;
}

std::string DescribeDifference(const std::vector<Json>& got, const std::vector<Json>& want) {
  std::ostringstream why;
  why << "got " << got.size() << " objects, want " << want.size();
  for (size_t i = 0; i < std::max(got.size(), want.size()); ++i) {
    const Json a = i < got.size() ? got[i] : Json();
    const Json b = i < want.size() ? want[i] : Json();
    if (a == b) continue;
    std::string kind = b.is_object() ? b.value("kind", "?") : "?";
    std::string name = "?";
    if (b.is_object() && b.contains("metadata") && b["metadata"].is_object()) {
      name = b["metadata"].value("name", "?");
    }
    why << "; first difference at object " << i << " (" << kind << " " << name
        << "), patch from want to got: " << Json::diff(b, a).dump().substr(0, 2000);
    break;
  }
  return why.str();
}

// The message kustomize printed, without its warnings, with the machine-specific corpus
// location removed.
std::string KustomizeMessage(const std::string& err_text) {
  std::string out;
  for (absl::string_view line : absl::StrSplit(err_text, '\n')) {
    if (absl::StartsWith(line, "# Warning")) continue;
    out.append(line.data(), line.size());
    out.push_back('\n');
  }
  RE2::GlobalReplace(&out, R"(/[^ '"]*/shared/corpus/[^/]+/trees/[^/ '"]+/?)", "");
  return out;
}

// What kustomize's message is about: the object (its name) or the file (its base name) it
// names last, "" when it names neither.
std::string Subject(const std::string& message) {
  // Resource ids: Kind.version.group/name.namespace
  static const RE2 id_pattern(
      R"(([A-Za-z0-9]+)\.(?:\[noVer\]|v[0-9a-z]+)\.(?:\[noGrp\]|[a-z0-9.-]+)/([a-z0-9A-Z._:-]+?)\.(?:\[noNs\]|[a-z0-9-]+)\b)");
  re2::StringPiece input(message);
  std::string kind, name, subject;
  while (RE2::FindAndConsume(&input, id_pattern, &kind, &name)) subject = name;
  if (!subject.empty()) return subject;
  static const RE2 file_pattern(R"('([^' ]+\.(?:yaml|yml|json|txt|env|properties))')");
  input = message;
  std::string file;
  while (RE2::FindAndConsume(&input, file_pattern, &file)) subject = file;
  if (!subject.empty()) {
    size_t slash = subject.rfind('/');
    return slash == std::string::npos ? subject : subject.substr(slash + 1);
  }
  return "";
}

// Causes kustomize names and the words todoke's message must then contain (RE2, searched
// case-insensitively).
struct Cause {
  const char* kustomize;  // substring of kustomize's message
  const char* todoke;     // pattern todoke's message must match
};
constexpr Cause kCauses[] = {
    {"is not in or below", "not in or below"},
    {"already registered id", "already registered id"},
    {"unable to find one of", "unable to find one of"},
    {"Found multiple kustomization files", "multiple kustomization files"},
    {"no matches for Id", "no match|failed to find unique target"},
    {"multiple matches for Id", "multiple matches"},
    {"behavior must be merge or replace", "merge or replace"},
    {"expected kind 'Component'", "expected kind 'Component'"},
    {"expected kind != 'Component'", "expected kind != 'Component'"},
    {"cycle detected", "cycle"},
    {"found multiple possible referrals", "multiple possible referrals"},
    {"MalformedYAMLError", "yaml|:[0-9]+:[0-9]+"},
    {"HelmChartInflationGenerator", "helm"},
    {"Get \"http", "remote"},
    {"evalsymlink failure", "no such file|not found|does not exist|remote"},
    {"patch appears to be empty", "empty"},
    {"namespace is blank", "namespace is blank"},
    {"cannot unmarshal", "invalid Kustomization"},
    {"unable to load builtin", "unable to load builtin|not supported"},
    {"sortOptions", "sortOptions"},
    {"OpenAPI", "openapi"},
    {"schema", "schema|openapi"},
    {"apiVersion for Component", "apiVersion"},
};

std::string CaseName(const testing::TestParamInfo<CorpusCase>& info) {
  std::string name = (info.param.corpus.empty() ? std::string("missing_") : info.param.corpus) +
                     "_" + info.param.id;
  for (char& c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return name;
}

class KustomizeCorpusTest : public testing::TestWithParam<CorpusCase> {};

TEST_P(KustomizeCorpusTest, MatchesKubectlKustomize) {
  const CorpusCase& c = GetParam();
  if (c.corpus.empty()) {
    std::string message = "no corpus at " + CorpusRoot() + "/" + c.id +
                          " (clone ../shared next to the checkout or set TODOKE_CORPUS_ROOT)";
    if (RequireAll()) FAIL() << message;
    GTEST_SKIP() << message;
  }
  const std::string dir = CorpusRoot() + "/" + c.corpus;
  DiskFileSource files(dir + "/trees");
  absl::StatusOr<std::vector<Json>> built = Build(files, c.path);
  bool passed = false;
  if (c.outcome == "error") {
    std::string err_text;
    ReadFile(dir + "/expected/" + c.id + ".err", err_text);
    const std::string want = KustomizeMessage(err_text);
    if (built.ok()) {
      ADD_FAILURE() << "expected an error like kustomize's: " << want << "got " << built->size()
                    << " objects";
    } else {
      const std::string got(built.status().message());
      const std::string subject = Subject(want);
      bool subject_named = subject.empty() || absl::StrContains(got, subject);
      EXPECT_TRUE(subject_named) << "todoke's message does not name '" << subject
                                 << "'\n todoke: " << got << "\n kustomize: " << want;
      bool cause_named = true;
      for (const Cause& cause : kCauses) {
        if (!absl::StrContains(want, cause.kustomize)) continue;
        RE2 pattern(std::string("(?i)") + cause.todoke);
        if (!RE2::PartialMatch(got, pattern)) {
          cause_named = false;
          ADD_FAILURE() << "todoke's message does not give the cause (/" << cause.todoke
                        << "/)\n todoke: " << got << "\n kustomize: " << want;
        }
        break;
      }
      passed = subject_named && cause_named;
    }
  } else if (!built.ok()) {
    ADD_FAILURE() << built.status();
  } else {
    std::string expected_text;
    ASSERT_TRUE(ReadFile(dir + "/expected/" + c.id + ".yaml", expected_text));
    std::vector<Json> expected = ParseExpected(expected_text, c.id);
    if (*built == expected) {
      passed = true;
      std::string text = EmitYamlStream(*built);
      if (text == expected_text) {
        Counts().AddSameBytes(c);
      } else {
        std::cout << c.corpus << "/" << c.id << ": same objects, different bytes" << std::endl;
      }
      if (c.corpus == "kustomize") {
        EXPECT_EQ(text, expected_text) << "same objects, different bytes";
        passed = text == expected_text;
      }
    } else {
      ADD_FAILURE() << DescribeDifference(*built, expected);
    }
  }
  Counts().Add(c, passed);
}

INSTANTIATE_TEST_SUITE_P(Corpus, KustomizeCorpusTest, testing::ValuesIn(LoadCases()), CaseName);

}  // namespace
}  // namespace todoke::renderer::kustomize

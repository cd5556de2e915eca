#include "common/yaml.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/budget.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/common/test_files.h"

namespace todoke {
namespace {

using ::todoke::test_files::ReadFile;

using ::nlohmann::json;
using ::testing::HasSubstr;

std::string CorpusDir() {
  const char* env = std::getenv("TODOKE_CORPUS_DIR");
  return env != nullptr ? env : "../shared/corpus/kustomize";
}

json ParseOne(absl::string_view text) {
  absl::StatusOr<json> value = ParseYaml(text, "test.yaml");
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : json();
}

TEST(YamlTest, EveryCorpusOutputRoundTrips) {
  const std::filesystem::path dir = std::filesystem::path(CorpusDir()) / "expected";
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  int files = 0, documents = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    const std::string name = entry.path().filename().string();
    absl::StatusOr<std::vector<YamlDocument>> parsed =
        ParseYamlStream(ReadFile(entry.path()), name);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    std::vector<json> values;
    for (const YamlDocument& doc : *parsed) {
      if (!doc.value.is_null()) values.push_back(doc.value);
    }
    documents += values.size();
    const std::string emitted = EmitYamlStream(values);
    absl::StatusOr<std::vector<YamlDocument>> reparsed = ParseYamlStream(emitted, name);
    ASSERT_TRUE(reparsed.ok()) << name << ": " << reparsed.status() << "\n" << emitted;
    std::vector<json> again;
    for (const YamlDocument& doc : *reparsed) {
      if (!doc.value.is_null()) again.push_back(doc.value);
    }
    ASSERT_EQ(values.size(), again.size()) << name;
    for (size_t i = 0; i < values.size(); ++i) {
      EXPECT_EQ(values[i], again[i]) << name << " document " << i;
    }
  }
  EXPECT_GT(files, 40);
  EXPECT_GT(documents, 300);
}

TEST(YamlTest, EmitsCorpusFilesByteForByte) {
  // kustomize's own output is in the style we emit: sorted keys, compact sequences, quoting
  // only where needed, long flow scalars folded after column 80. Every expected file of the
  // corpus must come back byte for byte.
  const std::filesystem::path dir = std::filesystem::path(CorpusDir()) / "expected";
  int identical = 0, total = 0;
  std::vector<std::string> different;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string text = ReadFile(entry.path());
    absl::StatusOr<std::vector<YamlDocument>> parsed = ParseYamlStream(text);
    ASSERT_TRUE(parsed.ok());
    std::vector<json> values;
    for (const YamlDocument& doc : *parsed) {
      if (!doc.value.is_null()) values.push_back(doc.value);
    }
    if (values.empty()) continue;
    ++total;
    if (EmitYamlStream(values) == text) {
      ++identical;
    } else {
      different.push_back(entry.path().filename().string());
    }
  }
  EXPECT_GE(total, 40);
  EXPECT_EQ(identical, total) << "first different: " << (different.empty() ? "" : different[0]);
}

// go-yaml v3 (kustomize's emitter) breaks a plain or quoted value at the first single space
// after column 80, continuing two columns deeper; keys are never folded, and in double quotes
// a break before a space writes "\\" so the space survives.
TEST(YamlTest, FoldsLongScalarsAsKustomizeDoes) {
  const std::string words =
      "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho";
  json value = {{"spec", {{"args", json::array({words})}, {"plain", words}}}};
  EXPECT_EQ(EmitYaml(value),
            "spec:\n"
            "  args:\n"
            "  - alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron\n"
            "    pi rho\n"
            "  plain: alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi\n"
            "    omicron pi rho\n");
  // Expected text as `kubectl kustomize` printed it for the same ConfigMap data.
  json quoted = {{"data",
                  {{"k", "line one \n" + words + "  two spaces"},
                   {"s",
                    "'alpha' beta gamma delta epsilon zeta eta theta iota kappa lambda mu "
                    "nu xi omicron pi rho: x"}}}};
  EXPECT_EQ(
      EmitYaml(quoted),
      "data:\n"
      "  k: \"line one \\nalpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu\n"
      "    nu xi omicron pi rho  two spaces\"\n"
      "  s: '''alpha'' beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi\n"
      "    omicron pi rho: x'\n");
  json escaped_space = {{"k", "a \n" + std::string(76, 'x') + "  y"}};
  EXPECT_EQ(EmitYaml(escaped_space), "k: \"a \\n" + std::string(76, 'x') + "\n  \\ y\"\n");
  json key = {{words, 1}};
  EXPECT_EQ(EmitYaml(key), words + ": 1\n");
}

// Whatever the string, what we emit must parse back to the same value: folding long lines,
// escaping and quoting may change the text, never the data. Strings are drawn from the pieces
// that make emitters go wrong: runs of spaces around the fold column, quotes, backslashes,
// line breaks, tabs, YAML indicators and multi-byte characters.
TEST(YamlTest, EmittedTextAlwaysParsesBackToTheSameValue) {
  const std::vector<std::string> pieces = {
      " ",  "  ", "   ", "a", "word", "longerword", "'", "\"", "\\", "\n",  "\n\n", "\t",
      ": ", " #", "- ",  "é", "日本", "x:",         "{", "}",  "0",  "1.5", "true", "null"};
  uint64_t seed = 42;
  auto next = [&seed]() {
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<size_t>(seed >> 33);
  };
  for (int round = 0; round < 3000; ++round) {
    std::string value;
    const size_t target_length = next() % 240;
    while (value.size() < target_length) value += pieces[next() % pieces.size()];
    json doc = {{"metadata", {{"name", "x"}, {"annotations", {{"note", value}}}}},
                {"list", json::array({value, {{"deep", {{"key", value}}}}})},
                {value.empty() ? "empty" : value, 1}};
    const std::string text = EmitYaml(doc);
    absl::StatusOr<json> back = ParseYaml(text, "emitted.yaml");
    ASSERT_TRUE(back.ok()) << back.status() << "\nvalue: " << json(value).dump() << "\n" << text;
    ASSERT_EQ(*back, doc) << "value: " << json(value).dump() << "\nemitted:\n" << text;
  }
}

TEST(YamlTest, ScalarTypingMatchesKustomize) {
  json v = ParseOne(R"(
quoted_true: "true"
single: 'false'
plain_true: true
plain_False: False
yes_word: yes
on_word: on
int: 42
negative: -7
hex: 0x1F
octal12: 0o17
float: 1.5
exp: 1e3
inf: .inf
null_word: null
tilde: ~
empty:
version: 1.20
semver: 1.2.3
date: 2001-12-14
datetime: 2001-12-14t21:59:43.10-05:00
zero_prefixed: 017
binary: 0b101
underscored: 1_000
big: 9223372036854775808
literal: |
  line one
  line two
explicit: !!str 123
dotted: .5
port_string: "8080"
)");
  EXPECT_EQ(v["quoted_true"], json("true"));
  EXPECT_EQ(v["single"], json("false"));
  EXPECT_EQ(v["plain_true"], json(true));
  EXPECT_EQ(v["plain_False"], json(false));
  EXPECT_EQ(v["yes_word"], json("yes"));
  EXPECT_EQ(v["on_word"], json("on"));
  EXPECT_EQ(v["int"], json(42));
  EXPECT_EQ(v["negative"], json(-7));
  EXPECT_EQ(v["hex"], json(31));
  EXPECT_EQ(v["octal12"], json(15));
  EXPECT_EQ(v["float"], json(1.5));
  EXPECT_EQ(v["exp"], json(1000.0));
  EXPECT_TRUE(v["inf"].is_number_float());
  EXPECT_TRUE(v["null_word"].is_null());
  EXPECT_TRUE(v["tilde"].is_null());
  EXPECT_TRUE(v["empty"].is_null());
  EXPECT_EQ(v["version"], json(1.2));
  EXPECT_EQ(v["semver"], json("1.2.3"));
  // kustomize turns plain timestamps into RFC 3339 strings (its output goes through JSON).
  EXPECT_EQ(v["date"], json("2001-12-14T00:00:00Z"));
  EXPECT_EQ(v["datetime"], json("2001-12-14T21:59:43.1-05:00"));
  EXPECT_EQ(v["zero_prefixed"], json(15));
  EXPECT_EQ(v["binary"], json(5));
  EXPECT_EQ(v["underscored"], json(1000));
  EXPECT_EQ(v["big"], json(9223372036854775808ull));
  EXPECT_EQ(v["literal"], json("line one\nline two\n"));
  EXPECT_EQ(v["explicit"], json("123"));
  EXPECT_EQ(v["dotted"], json(0.5));
  EXPECT_EQ(v["port_string"], json("8080"));
}

TEST(YamlTest, EmitQuotesStringsThatWouldChangeType) {
  json v = {{"a", "true"}, {"b", "8080"},  {"c", "yes"},         {"d", "plain text"},
            {"e", ""},     {"f", "> 1.0"}, {"g", "a: b"},        {"h", "line\nnext\n"},
            {"i", 3},      {"j", nullptr}, {"k", json::array()}, {"l", json::object()},
            {"m", "1.5"},  {"n", "-"}};
  EXPECT_EQ(EmitYaml(v),
            "a: \"true\"\n"
            "b: \"8080\"\n"
            "c: \"yes\"\n"
            "d: plain text\n"
            "e: \"\"\n"
            "f: '> 1.0'\n"
            "g: 'a: b'\n"
            "h: |\n  line\n  next\n"
            "i: 3\n"
            "j: null\n"
            "k: []\n"
            "l: {}\n"
            "m: \"1.5\"\n"
            // "n" is a YAML 1.1 boolean: quoted as a key too, as kustomize does.
            "\"n\": '-'\n");
  // Whatever we emit reads back as the same value.
  EXPECT_EQ(ParseOne(EmitYaml(v)), v);
}

TEST(YamlTest, EmitMatchesKubectlKustomizeForNumbersAndTimestamps) {
  // Output of `kubectl kustomize` (v5.5) for the same input, checked by hand.
  json v = ParseOne("f: 1e3\ng: 1.0\nh: 0.5\ni: 2001-12-14\nj: \"1:20\"\nk: 'it''s'\n");
  EXPECT_EQ(EmitYaml(v),
            "f: 1000\n"
            "g: 1\n"
            "h: 0.5\n"
            "i: \"2001-12-14T00:00:00Z\"\n"
            "j: \"1:20\"\n"
            "k: it's\n");
}

TEST(YamlTest, EmitsSequencesCompactLikeKustomize) {
  json v = {{"spec", {{"containers", {{{"name", "web"}, {"ports", {{{"containerPort", 80}}}}}}}}}};
  EXPECT_EQ(EmitYaml(v),
            "spec:\n"
            "  containers:\n"
            "  - name: web\n"
            "    ports:\n"
            "    - containerPort: 80\n");
}

TEST(YamlTest, MultiDocumentStreamKeepsEmptyDocumentsAsNull) {
  absl::StatusOr<std::vector<YamlDocument>> docs =
      ParseYamlStream("a: 1\n---\n---\nb: 2\n", "multi.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  ASSERT_EQ(docs->size(), 3u);
  EXPECT_EQ((*docs)[0].value, json({{"a", 1}}));
  EXPECT_TRUE((*docs)[1].value.is_null());
  EXPECT_EQ((*docs)[2].value, json({{"b", 2}}));
  EXPECT_EQ((*docs)[2].line, 4);
}

TEST(YamlTest, MergeKeysAreApplied) {
  json v = ParseOne("base: &b {x: 1, y: 2}\nderived:\n  <<: *b\n  y: 3\n");
  EXPECT_EQ(v["derived"], json({{"x", 1}, {"y", 3}}));
}

TEST(YamlTest, MergeOfNonMapsIsAnError) {
  absl::StatusOr<json> v = ParseYaml("a: &a [1]\nb:\n  <<: [*a]\n", "merge.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("map merge requires"));
}

TEST(YamlTest, SyntaxErrorNamesFileLineAndColumn) {
  absl::StatusOr<json> v = ParseYaml("a: 1\nb: [1, 2\nc: 3\n", "apps/web/deploy.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(v.status().message()),
              testing::MatchesRegex("apps/web/deploy.yaml:[0-9]+:[0-9]+: .*"));
}

TEST(YamlTest, BadIndentationIsAnError) {
  absl::StatusOr<json> v = ParseYaml("a:\n  b: 1\n c: 2\n", "bad.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("bad.yaml:3:"));
}

TEST(YamlTest, DuplicateKeyIsAnError) {
  absl::StatusOr<json> v = ParseYaml("a: 1\nb: 2\na: 3\n", "dup.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("dup.yaml:3:1"));
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("\"a\" already defined"));
}

TEST(YamlTest, BillionLaughsFailsFast) {
  std::string text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  for (int i = 1; i <= 9; ++i) {
    text += absl::StrCat("a", i, ": &a", i, " [");
    for (int j = 0; j < 10; ++j) text += absl::StrCat(j ? ", " : "", "*a", i - 1);
    text += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<json> v = ParseYaml(text, "bomb.yaml");
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("bomb.yaml"));
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("alias"));
  // Generous bound: a real expansion would take minutes and gigabytes.
  EXPECT_LT(elapsed, std::chrono::seconds(20));
}

TEST(YamlTest, DeepNestingIsRefused) {
  std::string text(1000, '[');
  text += std::string(1000, ']');
  absl::StatusOr<json> v = ParseYaml(text, "deep.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("deep.yaml"));
}

TEST(YamlTest, OversizedDocumentIsRefused) {
  YamlLimits limits;
  limits.max_document_bytes = 100;
  absl::StatusOr<json> v = ParseYaml(std::string(200, 'a'), "big.yaml", limits);
  ASSERT_FALSE(v.ok());
  EXPECT_EQ(v.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("big.yaml"));
}

TEST(YamlTest, NonScalarKeyIsAnError) {
  absl::StatusOr<json> v = ParseYaml("? [a, b]\n: 1\n", "key.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("mapping keys must be scalars"));
}

TEST(YamlTest, ParseYamlRejectsSeveralDocuments) {
  absl::StatusOr<json> v = ParseYaml("a: 1\n---\nb: 2\n", "two.yaml");
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()),
              HasSubstr("two.yaml: expected one YAML document, found 2"));
}

// A small document whose aliases expand it to about 11,000 nodes: well within the per-parse
// limit (100,000 + 8 per byte), which is all the old parser checked.
std::string ExpandingDocument() {
  return "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
         "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
         "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
         "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n";
}

TEST(YamlBudgetTest, OneBudgetCountsEveryParseOfARender) {
  Budget budget(BudgetLimits{100'000, int64_t{1} << 30});
  YamlLimits limits;
  limits.budget = &budget;
  absl::StatusOr<json> one = ParseYaml(ExpandingDocument(), "file-0.yaml", limits);
  ASSERT_TRUE(one.ok()) << one.status();
  const int64_t per_file = budget.nodes();
  EXPECT_GT(per_file, 11'000);
  EXPECT_LT(per_file, 13'000);
  // Files each within their own limit add up: the tenth is refused, naming it, and what the
  // render holds stays within the budget plus one file's expansion.
  absl::Status refused;
  int parsed = 1;
  for (int i = 1; i < 100 && refused.ok(); ++i) {
    absl::StatusOr<json> next =
        ParseYaml(ExpandingDocument(), absl::StrCat("file-", i, ".yaml"), limits);
    if (next.ok()) {
      ++parsed;
    } else {
      refused = next.status();
    }
  }
  EXPECT_EQ(refused.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(refused.message()), HasSubstr(absl::StrCat("file-", parsed, ".yaml:")));
  EXPECT_THAT(std::string(refused.message()), HasSubstr("more than 100000 parsed YAML/JSON nodes"));
  EXPECT_EQ(parsed, 100'000 / per_file);
  EXPECT_LE(budget.nodes(), 100'000 + per_file);
  EXPECT_EQ(budget.failure().code(), absl::StatusCode::kResourceExhausted);
}

TEST(YamlBudgetTest, ScopedBudgetIsChargedByParsesOnItsThread) {
  Budget budget;
  {
    ScopedBudget scope(&budget);
    ASSERT_TRUE(ParseYaml("a: [1, 2, 3]\n").ok());
  }
  EXPECT_EQ(budget.nodes(), 6);  // the mapping, its key, the sequence, three items
  ASSERT_TRUE(ParseYaml("a: [1, 2, 3]\n").ok());
  EXPECT_EQ(budget.nodes(), 6);  // no scope: not charged
}

TEST(YamlBudgetTest, AliasesChargeTheBytesTheyCopy) {
  Budget budget(BudgetLimits{1'000'000, 10'000});
  YamlLimits limits;
  limits.budget = &budget;
  const std::string text(1000, 'x');
  // One anchored 1000-byte string copied by 9 aliases: 9000 bytes.
  std::string nine = absl::StrCat("a: &a ", text, "\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n");
  ASSERT_TRUE(ParseYaml(nine, "nine.yaml", limits).ok());
  EXPECT_EQ(budget.bytes(), 9000);
  absl::StatusOr<json> more = ParseYaml(nine, "more.yaml", limits);
  EXPECT_EQ(more.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(more.status().message()), HasSubstr("more.yaml:2:"));
}

TEST(YamlBudgetTest, CancelledOrPastDeadlineStopsTheParse) {
  Budget cancelled;
  cancelled.Cancel();
  YamlLimits limits;
  limits.budget = &cancelled;
  absl::StatusOr<json> stopped = ParseYaml("a: 1\n", "a.yaml", limits);
  EXPECT_EQ(stopped.status().code(), absl::StatusCode::kCancelled);
  EXPECT_THAT(std::string(stopped.status().message()), HasSubstr("a.yaml"));
  EXPECT_TRUE(cancelled.stopped());

  Budget late;
  late.SetDeadline(absl::Now() - absl::Seconds(1));
  limits.budget = &late;
  EXPECT_EQ(ParseYaml("a: 1\n", "a.yaml", limits).status().code(),
            absl::StatusCode::kDeadlineExceeded);

  // A hook is polled as the parse goes: a long document stops part-way.
  Budget hooked;
  int polls = 0;
  hooked.SetCancelHook([&polls] { return ++polls > 2; });
  limits.budget = &hooked;
  std::string big = "[";
  for (int i = 0; i < 100'000; ++i) absl::StrAppend(&big, i, ", ");
  big += "0]\n";
  EXPECT_EQ(ParseYaml(big, "big.yaml", limits).status().code(), absl::StatusCode::kCancelled);
  EXPECT_LT(hooked.nodes(), 100'000);
}

// kubectl kustomize orders keys with yaml.v2's sorter, which asks Go's unicode.IsLetter and
// unicode.IsDigit of each rune: non-ASCII digits start digit runs compared as numbers (a rune's
// value minus '0', as Go computes it), and non-letters outside ASCII sort before letters.
// Expected order: kubectl kustomize v5.5.0's output for these keys.
TEST(YamlTest, EmitOrdersNonAsciiKeysAsGoUnicodeClassesDo) {
  const std::vector<std::string> kubectl_order = {
      "_",  "ⅷ",   "−1",  "1",   "٣.١٤", "١٢٣", "１２３", "a", "a\u00a0b", "x²",  "x05",
      "x9", "x10", "x٠٥", "x١٢", "x５",  "zz",  "ª",      "é", "ǅ",        "日本"};
  json object = json::object();
  for (const std::string& key : kubectl_order) object[key] = 1;
  std::string expected;
  for (const std::string& key : kubectl_order) {
    absl::StrAppend(&expected, key == "1" ? "\"1\"" : key, ": 1\n");
  }
  EXPECT_EQ(EmitYaml(object), expected);
}

YamlLimits KyamlLimits() {
  YamlLimits limits;
  limits.kyaml_node_rules = true;
  return limits;
}

// kyaml's DeAnchor removes the first entry whose key reads "<<" from every mapping, quoted or
// tagged !!str as well, whatever its value; go-yaml reads such keys as strings.
TEST(YamlTest, KyamlNodeRulesDropTheFirstKeyNamedMerge) {
  const char* text =
      "base: &b {x: 1, y: 2}\n"
      "quoted: {\"<<\": v, z: 3}\n"
      "single:\n  '<<': {a: 1}\n  z: 3\n"
      "tagged:\n  !!str <<: [a]\n  z: 3\n"
      "quotedThenMerge:\n  \"<<\": v\n  <<: *b\n  y: own\n"
      "mergeThenQuoted:\n  <<: *b\n  \"<<\": stays\n"
      "twoQuoted:\n  \"<<\": 1\n  '<<': 2\n"
      "explicitMergeTag:\n  !!merge <<: *b\n";
  absl::StatusOr<json> kyaml = ParseYaml(text, "merge.yaml", KyamlLimits());
  ASSERT_TRUE(kyaml.ok()) << kyaml.status();
  EXPECT_EQ((*kyaml)["quoted"], json({{"z", 3}}));
  EXPECT_EQ((*kyaml)["single"], json({{"z", 3}}));
  EXPECT_EQ((*kyaml)["tagged"], json({{"z", 3}}));
  EXPECT_EQ((*kyaml)["quotedThenMerge"], json({{"x", 1}, {"y", "own"}}));
  EXPECT_EQ((*kyaml)["mergeThenQuoted"], json({{"<<", "stays"}, {"x", 1}, {"y", 2}}));
  EXPECT_EQ((*kyaml)["twoQuoted"], json({{"<<", 2}}));
  EXPECT_EQ((*kyaml)["explicitMergeTag"], json({{"x", 1}, {"y", 2}}));

  // Without the rule (go-yaml alone) a quoted "<<" is a string key.
  absl::StatusOr<json> plain = ParseYaml("quoted: {\"<<\": v, z: 3}\n", "merge.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)["quoted"], json({{"<<", "v"}, {"z", 3}}));
}

TEST(YamlTest, KyamlNodeRulesRefuseASecondMergeKey) {
  absl::StatusOr<json> v = ParseYaml("a: &a {x: 1}\nb: &b {y: 2}\nm:\n  <<: *a\n  <<: *b\n",
                                     "merge.yaml", KyamlLimits());
  ASSERT_FALSE(v.ok());
  EXPECT_THAT(std::string(v.status().message()), HasSubstr("merge.yaml:5:3: duplicate merge key"));
}

// kustomize prints a folded block as go-yaml reads back what go-yaml's emitter wrote: one more
// line break before a more-indented line and at the end of a kept block. Expected values:
// kubectl kustomize v5.5.0's output (testdata/output-folded-blocks has the whole case).
TEST(YamlTest, KyamlNodeRulesReadFoldedBlocksAsKustomizePrintsThem) {
  const char* text =
      "metadata:\n"
      "  annotations:\n    a: >\n      a\n        more\n"
      "spec:\n"
      "  keep: >+\n    a\n    b\n\n"
      "  clip: >\n    a\n    b\n\n"
      "  more: >\n    a\n      indented\n    b\n"
      "  leadingBlank: >2\n     lead\n    a\n      indented\n"
      "  leadingBreak: >\n\n    a\n      indented\n"
      "  tab: >\n    a\n    \ttabbed\n"
      "  trailingSpace: >\n    a \n      indented\n"
      "  literal: |\n    a\n      indented\n";
  YamlLimits limits = KyamlLimits();
  limits.annotation_values_as_text = true;
  absl::StatusOr<json> v = ParseYaml(text, "folded.yaml", limits);
  ASSERT_TRUE(v.ok()) << v.status();
  const json& spec = (*v)["spec"];
  EXPECT_EQ(spec["keep"], "a b\n\n\n");
  EXPECT_EQ(spec["clip"], "a b\n");
  EXPECT_EQ(spec["more"], "a\n\n  indented\nb\n");
  EXPECT_EQ(spec["leadingBlank"], " lead\na\n  indented\n");
  EXPECT_EQ(spec["leadingBreak"], "\na\n\n  indented\n");
  EXPECT_EQ(spec["tab"], "a\n\n\ttabbed\n");
  EXPECT_EQ(spec["trailingSpace"], "a \n  indented\n");  // written double-quoted: unchanged
  EXPECT_EQ(spec["literal"], "a\n  indented\n");
  // kustomize rewrites annotations from their text before printing: no extra break.
  EXPECT_EQ((*v)["metadata"]["annotations"]["a"], "a\n  more\n");

  // Without the rule the values are what the YAML says.
  absl::StatusOr<json> plain = ParseYaml("more: >\n  a\n    indented\n  b\n", "folded.yaml");
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ((*plain)["more"], "a\n  indented\nb\n");
}

// go-yaml reads a plain scalar in a flow collection on through a ':' that a flow indicator
// follows ("x:"), which libyaml's scanner refuses; kubectl kustomize reads these documents.
TEST(YamlTest, PlainScalarEndingInAColonInAFlowCollectionIsAString) {
  json v = ParseOne("f: [a, x:, z]\nm: {k: x:, j: !!str y:}\nn: [é, a:b:]\n");
  EXPECT_EQ(v["f"], json({"a", "x:", "z"}));
  EXPECT_EQ(v["m"], json({{"k", "x:"}, {"j", "y:"}}));
  EXPECT_EQ(v["n"], json({"é", "a:b:"}));
  // An error later on the line names its column in the text as written.
  absl::StatusOr<json> bad = ParseYaml("f: [x:, y: @]\n", "flow.yaml");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()), HasSubstr("flow.yaml:1:12:"));
}

}  // namespace
}  // namespace todoke

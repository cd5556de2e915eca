// Golden cases: every directory under tests/services/differ/testdata holds
//   desired.yaml   the objects as rendered from Git
//   desired.jsonl  instead of desired.yaml: one JSON text per line, as the gRPC service receives
//                  them (for texts that are not JSON); the case then runs through DiffJsonText only
//   live.yaml      the objects as the API server returns them (defaults, managedFields, status)
//   options.yaml   optional: {fieldManager, defaultNamespace, ignoreDifferences: [...]}
//   expected.yaml  summary: {synced, outOfSync, missing, extraneous, unknown, status}
//                  objects: [{key: "<ObjectKey::ToString()>", status, jsonPatch (exact, as YAML),
//                             diffContains: [...], diffNotContains: [...], errorContains}]
//                  health: [{key, status, messageContains}]   (AssessHealth on live.yaml)
//                  aggregateHealth: {status, messageContains}
// Objects are listed in Diff's output order. Secrets in outputs are checked with diffNotContains.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/yaml.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/differ/core/differ.h"
#include "services/differ/core/health.h"
#include "tests/common/test_files.h"

namespace todoke::differ {
namespace {

using ::todoke::test_files::ReadFile;

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kTestdata[] = "tests/services/differ/testdata";

std::vector<Json> ReadObjects(const std::filesystem::path& path) {
  std::vector<Json> objects;
  if (!std::filesystem::exists(path)) return objects;
  auto documents = ParseYamlStream(ReadFile(path), path.string());
  EXPECT_TRUE(documents.ok()) << documents.status();
  if (!documents.ok()) return objects;
  for (YamlDocument& document : *documents) {
    if (!document.value.is_null()) objects.push_back(std::move(document.value));
  }
  return objects;
}

Json ReadOne(const std::filesystem::path& path) {
  if (!std::filesystem::exists(path)) return Json::object();
  auto value = ParseYaml(ReadFile(path), path.string());
  EXPECT_TRUE(value.ok()) << value.status();
  return value.ok() ? *value : Json::object();
}

std::vector<std::string> Strings(const Json& value) {
  std::vector<std::string> out;
  if (value.is_array()) {
    for (const Json& item : value) out.push_back(item.get<std::string>());
  }
  return out;
}

DiffOptions ReadOptions(const Json& options_yaml) {
  DiffOptions options;
  if (options_yaml.contains("fieldManager")) options.field_manager = options_yaml["fieldManager"];
  if (options_yaml.contains("defaultNamespace")) {
    options.default_namespace = options_yaml["defaultNamespace"];
  }
  for (const Json& rule_yaml : options_yaml.value("ignoreDifferences", Json::array())) {
    IgnoreRule rule;
    rule.group = rule_yaml.value("group", "");
    rule.kind = rule_yaml.value("kind", "");
    rule.name = rule_yaml.value("name", "");
    rule.ns = rule_yaml.value("namespace", "");
    rule.json_pointers = Strings(rule_yaml.value("jsonPointers", Json::array()));
    rule.managed_fields_managers = Strings(rule_yaml.value("managedFieldsManagers", Json::array()));
    options.ignore_differences.push_back(std::move(rule));
  }
  return options;
}

std::vector<std::string> GoldenCases() {
  std::vector<std::string> cases;
  std::error_code
      error;  // run from elsewhere than the repository root: no cases, and a failure below
  for (const auto& entry : std::filesystem::directory_iterator(kTestdata, error)) {
    if (entry.is_directory()) cases.push_back(entry.path().filename().string());
  }
  std::sort(cases.begin(), cases.end());
  return cases;
}

// `value` as JSON text with every object's keys in reverse order: an API server writes keys in
// its own (struct) order, never sorted.
std::string ReversedKeysJson(const Json& value) {
  if (value.is_object()) {
    std::string text = "{";
    for (auto it = value.rbegin(); it != value.rend(); ++it) {
      if (text.size() > 1) text += ",";
      text += Json(it.key()).dump() + ":" + ReversedKeysJson(it.value());
    }
    return text + "}";
  }
  if (value.is_array()) {
    std::string text = "[";
    for (const Json& item : value) text += (text.size() > 1 ? "," : "") + ReversedKeysJson(item);
    return text + "]";
  }
  return value.dump();
}

class GoldenTest : public ::testing::TestWithParam<std::string> {};
GTEST_ALLOW_UNINSTANTIATED_PARAMETERIZED_TEST(GoldenTest);

TEST_P(GoldenTest, MatchesExpected) {
  const std::filesystem::path dir = std::filesystem::path(kTestdata) / GetParam();
  const std::vector<Json> desired = ReadObjects(dir / "desired.yaml");
  const std::vector<Json> live = ReadObjects(dir / "live.yaml");
  const DiffOptions options = ReadOptions(ReadOne(dir / "options.yaml"));
  const Json expected = ReadOne(dir / "expected.yaml");
  ASSERT_TRUE(expected.is_object() && !expected.empty()) << "no expected.yaml in " << dir;

  const bool from_text_only = std::filesystem::exists(dir / "desired.jsonl");
  std::vector<std::string> desired_lines, live_lines;
  if (from_text_only) {
    std::stringstream lines(ReadFile(dir / "desired.jsonl"));
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty()) desired_lines.push_back(line);
    }
    for (const Json& object : live) live_lines.push_back(ReversedKeysJson(object));
  }
  const DiffResult result =
      from_text_only
          ? DiffJsonText(std::vector<std::string_view>(desired_lines.begin(), desired_lines.end()),
                         std::vector<std::string_view>(live_lines.begin(), live_lines.end()),
                         options)
          : Diff(desired, live, options);

  if (expected.contains("summary")) {
    const Json& summary = expected["summary"];
    EXPECT_EQ(result.summary.synced, summary.value("synced", 0u));
    EXPECT_EQ(result.summary.out_of_sync, summary.value("outOfSync", 0u));
    EXPECT_EQ(result.summary.missing, summary.value("missing", 0u));
    EXPECT_EQ(result.summary.extraneous, summary.value("extraneous", 0u));
    EXPECT_EQ(result.summary.unknown, summary.value("unknown", 0u));
    EXPECT_EQ(SyncStatusName(result.summary.status), summary.value("status", ""));
  }
  if (expected.contains("objects")) {
    const Json& objects = expected["objects"];
    ASSERT_EQ(result.objects.size(), objects.size());
    for (size_t i = 0; i < objects.size(); ++i) {
      const Json& want = objects[i];
      const ObjectDiff& got = result.objects[i];
      SCOPED_TRACE("object #" + std::to_string(i) + " " + got.key.ToString() + "\n" +
                   got.json_patch + "\n" + got.unified_diff + got.error);
      EXPECT_EQ(got.key.ToString(), want.value("key", ""));
      EXPECT_EQ(SyncStatusName(got.status), want.value("status", ""));
      if (want.contains("jsonPatch")) {
        EXPECT_EQ(Json::parse(got.json_patch), want["jsonPatch"]);
      }
      for (const std::string& text : Strings(want.value("diffContains", Json::array()))) {
        EXPECT_THAT(got.unified_diff, HasSubstr(text));
      }
      for (const std::string& text : Strings(want.value("diffNotContains", Json::array()))) {
        EXPECT_THAT(got.unified_diff, Not(HasSubstr(text)));
        EXPECT_THAT(got.json_patch, Not(HasSubstr(text)));
      }
      if (want.contains("errorContains")) {
        EXPECT_THAT(got.error, HasSubstr(want["errorContains"].get<std::string>()));
      } else {
        EXPECT_EQ(got.error, "");
      }
    }
  }
  if (!from_text_only) {
    // The gRPC service's path, JSON text in the API server's key order, gives the same result.
    std::vector<std::string> desired_texts, live_texts;
    for (const Json& object : desired) desired_texts.push_back(ReversedKeysJson(object));
    for (const Json& object : live) live_texts.push_back(ReversedKeysJson(object));
    const DiffResult from_text =
        DiffJsonText(std::vector<std::string_view>(desired_texts.begin(), desired_texts.end()),
                     std::vector<std::string_view>(live_texts.begin(), live_texts.end()), options);
    ASSERT_EQ(from_text.objects.size(), result.objects.size());
    for (size_t i = 0; i < result.objects.size(); ++i) {
      SCOPED_TRACE("from text, object #" + std::to_string(i));
      EXPECT_EQ(from_text.objects[i].key.ToString(), result.objects[i].key.ToString());
      EXPECT_EQ(from_text.objects[i].status, result.objects[i].status);
      EXPECT_EQ(from_text.objects[i].json_patch, result.objects[i].json_patch);
      EXPECT_EQ(from_text.objects[i].unified_diff, result.objects[i].unified_diff);
      EXPECT_EQ(from_text.objects[i].error, result.objects[i].error);
    }
  }
  if (expected.contains("health")) {
    const Json& health = expected["health"];
    const health::HealthReport report = health::AssessHealthAll(live, {});
    ASSERT_EQ(report.objects.size(), health.size());
    for (size_t i = 0; i < health.size(); ++i) {
      const health::ObjectHealth& got = report.objects[i];
      SCOPED_TRACE("health #" + std::to_string(i) + " " + got.key.ToString() + ": " + got.message);
      EXPECT_EQ(got.key.ToString(), health[i].value("key", ""));
      EXPECT_EQ(health::HealthStatusName(got.status), health[i].value("status", ""));
      if (health[i].contains("messageContains")) {
        EXPECT_THAT(got.message, HasSubstr(health[i]["messageContains"].get<std::string>()));
      }
    }
    if (expected.contains("aggregateHealth")) {
      EXPECT_EQ(health::HealthStatusName(report.aggregate.status),
                expected["aggregateHealth"].value("status", ""));
      EXPECT_THAT(report.aggregate.message,
                  HasSubstr(expected["aggregateHealth"].value("messageContains", "")));
    }
  }
}

TEST(GoldenCasesTest, TestdataIsFound) {
  EXPECT_GE(GoldenCases().size(), 10u) << "run from the repository root";
}

INSTANTIATE_TEST_SUITE_P(Testdata, GoldenTest, ::testing::ValuesIn(GoldenCases()),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace todoke::differ

// Feature tests for the native Kustomize: every folder under testdata/ is a small tree whose
// expected.yaml was produced by `kubectl kustomize` (kustomize v5.5.0), or whose
// expected_error.txt holds a fragment of the message a refusal must contain. The tree to build
// is the case folder itself, or the path written in its build_path file.
#include "services/renderer/core/kustomize/kustomize.h"

#include <dirent.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "common/yaml.h"
#include "gtest/gtest.h"
#include "services/renderer/core/file_source.h"
#include "services/renderer/core/kustomize/fieldspec.h"
#include "services/renderer/core/kustomize/hash.h"
#include "services/renderer/core/kustomize/json_patch.h"
#include "services/renderer/core/kustomize/resource.h"
#include "services/renderer/core/kustomize/strategic_merge.h"
#include "tests/common/test_files.h"

namespace todoke::renderer::kustomize {
namespace {

using ::todoke::test_files::ReadFile;

constexpr char kTestdata[] = "tests/services/renderer/kustomize/testdata";

std::vector<std::string> CaseNames() {
  std::vector<std::string> names;
  DIR* dir = opendir(kTestdata);
  if (dir == nullptr) return names;
  while (dirent* entry = readdir(dir)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    names.push_back(name);
  }
  closedir(dir);
  std::sort(names.begin(), names.end());
  return names;
}

class KustomizeCaseTest : public testing::TestWithParam<std::string> {};

TEST_P(KustomizeCaseTest, MatchesKubectlKustomize) {
  const std::string name = GetParam();
  const std::string case_dir = std::string(kTestdata) + "/" + name;
  std::string build_path = name;
  std::string text;
  if (ReadFile(case_dir + "/build_path", text)) {
    build_path = name + "/" + std::string(absl::StripAsciiWhitespace(text));
  }
  DiskFileSource files(kTestdata);
  absl::StatusOr<std::vector<Json>> built = Build(files, build_path);
  std::string expected_error;
  if (ReadFile(case_dir + "/expected_error.txt", expected_error)) {
    ASSERT_FALSE(built.ok()) << "expected an error containing: " << expected_error;
    EXPECT_NE(built.status().message().find(absl::StripAsciiWhitespace(expected_error)),
              std::string::npos)
        << built.status();
    return;
  }
  ASSERT_TRUE(built.ok()) << built.status();
  ASSERT_TRUE(ReadFile(case_dir + "/expected.yaml", text)) << "missing expected.yaml";
  absl::StatusOr<std::vector<YamlDocument>> docs = ParseYamlStream(text, "expected.yaml");
  ASSERT_TRUE(docs.ok()) << docs.status();
  std::vector<Json> expected;
  for (YamlDocument& doc : *docs) {
    if (!doc.value.is_null()) expected.push_back(std::move(doc.value));
  }
  if (ReadFile(case_dir + "/compare_bytes", text)) {
    // Output details: the printed text must be kubectl kustomize's, byte for byte.
    std::string expected_text;
    ReadFile(case_dir + "/expected.yaml", expected_text);
    EXPECT_EQ(EmitYamlStream(*built), expected_text);
  }
  ASSERT_EQ(built->size(), expected.size()) << EmitYamlStream(*built);
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ((*built)[i], expected[i]) << "object " << i << "\ngot:\n"
                                        << EmitYaml((*built)[i]) << "want:\n"
                                        << EmitYaml(expected[i]);
  }
}

INSTANTIATE_TEST_SUITE_P(Testdata, KustomizeCaseTest, testing::ValuesIn(CaseNames()),
                         [](const testing::TestParamInfo<std::string>& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST(KustomizeHashTest, MatchesKustomizeForAConfigMap) {
  // kubectl kustomize: configMapGenerator name "g", literals a=1 -> g-<hash>.
  Json config_map = Json::parse(R"({"apiVersion":"v1","kind":"ConfigMap",
      "metadata":{"name":"g"},"data":{"a":"1"}})");
  std::string hash = KustomizeContentHash(config_map);
  EXPECT_EQ(hash.size(), 10u);
}

TEST(KustomizeJsonPatchTest, AppliesOperations) {
  Json target = Json::parse(R"({"a":{"b":[1,2]},"c":"x"})");
  Json ops = Json::parse(R"([{"op":"add","path":"/a/b/-","value":3},
      {"op":"replace","path":"/c","value":"y"},{"op":"remove","path":"/a/b/0"},
      {"op":"copy","from":"/c","path":"/d"},{"op":"move","from":"/d","path":"/e"},
      {"op":"test","path":"/e","value":"y"}])");
  ASSERT_TRUE(ApplyJsonPatch(target, ops).ok());
  EXPECT_EQ(target, Json::parse(R"({"a":{"b":[2,3]},"c":"y","e":"y"})"));
  EXPECT_FALSE(
      ApplyJsonPatch(target, Json::parse(R"([{"op":"replace","path":"/zz","value":1}])")).ok());
}

TEST(KustomizeStrategicMergeTest, MergesContainersByNameWithPatchFirst) {
  Json target = Json::parse(R"({"apiVersion":"apps/v1","kind":"Deployment","spec":{"template":
      {"spec":{"containers":[{"name":"a","image":"a"},{"name":"b","image":"b"}],
      "tolerations":[{"key":"x"}]}}}})");
  Json patch = Json::parse(R"({"spec":{"template":{"spec":{"containers":[{"name":"b","image":"b2"},
      {"name":"a","$patch":"delete"}],"tolerations":[{"key":"y"}]}}}})");
  ASSERT_TRUE(ApplyStrategicMergePatch(target, patch).ok());
  EXPECT_EQ(target["spec"]["template"]["spec"]["containers"],
            Json::parse(R"([{"name":"b","image":"b2"}])"));
  EXPECT_EQ(target["spec"]["template"]["spec"]["tolerations"], Json::parse(R"([{"key":"y"}])"));
}

TEST(KustomizeLabelSelectorTest, ParsesRequirements) {
  std::map<std::string, std::string> labels = {{"app", "web"}, {"tier", "front"}};
  EXPECT_TRUE(*MatchesLabelSelector("app=web,tier in (front,back),!missing", labels));
  EXPECT_FALSE(*MatchesLabelSelector("app!=web", labels));
  EXPECT_TRUE(*MatchesLabelSelector("tier notin (back)", labels));
}

TEST(KustomizeTransformerConfigTest, DefaultsMergeWithoutConflicts) {
  // Merged into an empty configuration (as a kustomization's accumulator does), the defaults
  // give exactly the defaults: the build shares them instead of merging (kustomize.cc).
  const TransformerConfig& defaults = TransformerConfig::Defaults();
  TransformerConfig config;
  EXPECT_TRUE(config.MergeFrom(defaults).ok());
  EXPECT_EQ(config.name_prefix, defaults.name_prefix);
  EXPECT_EQ(config.name_suffix, defaults.name_suffix);
  EXPECT_EQ(config.common_labels, defaults.common_labels);
  EXPECT_EQ(config.labels, defaults.labels);
  EXPECT_EQ(config.template_labels, defaults.template_labels);
  EXPECT_EQ(config.volume_claim_template_labels, defaults.volume_claim_template_labels);
  EXPECT_EQ(config.common_annotations, defaults.common_annotations);
  EXPECT_EQ(config.namespace_, defaults.namespace_);
  EXPECT_EQ(config.var_reference, defaults.var_reference);
  EXPECT_EQ(config.images, defaults.images);
  EXPECT_EQ(config.replicas, defaults.replicas);
  ASSERT_EQ(config.name_reference.size(), defaults.name_reference.size());
  for (size_t i = 0; i < config.name_reference.size(); ++i) {
    EXPECT_EQ(config.name_reference[i].referral, defaults.name_reference[i].referral);
    EXPECT_EQ(config.name_reference[i].referrers, defaults.name_reference[i].referrers);
  }
  EXPECT_TRUE(config.includes_defaults);
  EXPECT_FALSE(defaults.common_labels.empty());
  EXPECT_FALSE(defaults.name_reference.empty());
}

// Defaults() skips kustomize's merge of the sorted tables into an empty configuration, which
// changes nothing for the built-in tables: the same lists and name references as that merge.
TEST(KustomizeTransformerConfigTest, DefaultsAreTheSortedTablesMergedIntoNothing) {
  TransformerConfig raw;
  raw.name_prefix = DefaultNamePrefixFieldSpecs();
  raw.name_suffix = DefaultNameSuffixFieldSpecs();
  raw.common_labels = DefaultCommonLabelsFieldSpecs();
  raw.template_labels = DefaultTemplateLabelsFieldSpecs();
  raw.volume_claim_template_labels = DefaultVolumeClaimTemplateLabelsFieldSpecs();
  raw.common_annotations = DefaultCommonAnnotationsFieldSpecs();
  raw.namespace_ = DefaultNamespaceFieldSpecs();
  raw.var_reference = DefaultVarReferenceFieldSpecs();
  raw.images = DefaultImagesFieldSpecs();
  raw.replicas = DefaultReplicasFieldSpecs();
  raw.name_reference = DefaultNameReferenceSpecs();
  // MergeFrom sorts every list it merges into, so merging the unsorted tables gives what
  // merging the sorted ones does when nothing is dropped; merged twice checks that too.
  TransformerConfig merged;
  ASSERT_TRUE(merged.MergeFrom(raw).ok());
  TransformerConfig again;
  ASSERT_TRUE(again.MergeFrom(merged).ok());
  const TransformerConfig& defaults = TransformerConfig::Defaults();
  for (const TransformerConfig* config : {&merged, &again}) {
    EXPECT_EQ(config->name_prefix, defaults.name_prefix);
    EXPECT_EQ(config->name_suffix, defaults.name_suffix);
    EXPECT_EQ(config->common_labels, defaults.common_labels);
    EXPECT_EQ(config->template_labels, defaults.template_labels);
    EXPECT_EQ(config->volume_claim_template_labels, defaults.volume_claim_template_labels);
    EXPECT_EQ(config->common_annotations, defaults.common_annotations);
    EXPECT_EQ(config->namespace_, defaults.namespace_);
    EXPECT_EQ(config->var_reference, defaults.var_reference);
    EXPECT_EQ(config->images, defaults.images);
    EXPECT_EQ(config->replicas, defaults.replicas);
    ASSERT_EQ(config->name_reference.size(), defaults.name_reference.size());
    for (size_t i = 0; i < defaults.name_reference.size(); ++i) {
      EXPECT_EQ(config->name_reference[i].referral, defaults.name_reference[i].referral);
      EXPECT_EQ(config->name_reference[i].referrers, defaults.name_reference[i].referrers);
    }
  }
  size_t specs = 0;
  for (const auto* list : {&raw.name_prefix, &raw.common_labels, &raw.namespace_}) {
    specs += list->size();
  }
  EXPECT_EQ(merged.name_prefix.size() + merged.common_labels.size() + merged.namespace_.size(),
            specs);
}

TEST(KustomizeTransformerConfigTest, MergesAsKustomizeDoes) {
  // A spec is skipped when one already merged has its path and a gvk it selects; lists end
  // sorted by kind in kustomize's order (Namespace ... Deployment, then others).
  TransformerConfig into;
  TransformerConfig extra;
  extra.name_prefix = {{"", "", "Host", "metadata/name", false},
                       {"", "", "", "metadata/name", false},
                       {"", "", "Deployment", "metadata/name", false}};
  ASSERT_TRUE(into.MergeFrom(extra).ok());
  ASSERT_EQ(into.name_prefix.size(), 2u);
  EXPECT_EQ(into.name_prefix[0].kind, "Deployment");
  EXPECT_EQ(into.name_prefix[1].kind, "Host");
  TransformerConfig conflicting;
  conflicting.name_prefix = {{"", "", "Host", "metadata/name", true}};
  EXPECT_FALSE(into.MergeFrom(conflicting).ok());
}

TEST(KustomizeFindTest, FindsExactlyOneKustomizationFile) {
  MemoryFileSource files({{"a/kustomization.yaml", "", ""},
                          {"b/Kustomization", "", ""},
                          {"b/kustomization.yml", "", ""}});
  EXPECT_EQ(*FindKustomizationFile(files, "a"), "a/kustomization.yaml");
  EXPECT_FALSE(FindKustomizationFile(files, "b").ok());
  EXPECT_EQ(FindKustomizationFile(files, "c").status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(IsKustomizationFile("Kustomization"));
  EXPECT_FALSE(IsKustomizationFile("kustomization.json"));
}

}  // namespace
}  // namespace todoke::renderer::kustomize

#include "services/renderer/core/render.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::string Config(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n";
}

TEST(RenderTest, AutoDetectsDirectory) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}, {"app/b.yaml", Config("b")}});
  absl::StatusOr<RenderResult> result = Render(files, "app");
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->mode, RenderMode::kDirectory);
  ASSERT_EQ(result->objects.size(), 2u);
  EXPECT_EQ(result->keys[1].name, "b");
  EXPECT_EQ(result->keys[1].kind, "ConfigMap");
  EXPECT_EQ(result->canonical_json[0], CanonicalJson(result->objects[0]));
  EXPECT_EQ(result->digest, ComputeDigest(result->canonical_json));
  EXPECT_EQ(result->digest.substr(0, 7), "sha256:");
  EXPECT_EQ(result->digest.size(), 7u + 64u);
  EXPECT_THAT(result->inputs, ElementsAre(InputFile{"app/a.yaml", GitBlobId(Config("a"))},
                                          InputFile{"app/b.yaml", GitBlobId(Config("b"))}));
}

TEST(RenderTest, AutoDetectsKustomize) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/kustomization.yaml", "resources: [../base]\nnamePrefix: prod-\n"},
      {"base/kustomization.yaml", "resources: [cm.yaml]\n"},
      {"base/cm.yaml", Config("settings")},
      {"unrelated/x.yaml", Config("x")},
  });
  absl::StatusOr<RenderResult> result = Render(files, "app");
#ifdef TODOKE_TEST_NO_KUSTOMIZE
  GTEST_SKIP();
#endif
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->mode, RenderMode::kKustomize);
  ASSERT_EQ(result->objects.size(), 1u);
  EXPECT_EQ(result->keys[0].name, "prod-settings");
  std::vector<std::string> paths;
  for (const InputFile& input : result->inputs) paths.push_back(input.path);
  EXPECT_THAT(paths, ElementsAre("app/kustomization.yaml", "base/cm.yaml",
                                 "base/kustomization.yaml"));
}

TEST(RenderTest, SeveralKustomizationFilesAreAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/kustomization.yaml", "resources: []\n"},
                          {"app/kustomization.yml", "resources: []\n"}});
  absl::StatusOr<RenderResult> result = Render(files, "app");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("kustomization"));
}

TEST(RenderTest, ForcedDirectoryModeIgnoresKustomization) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/kustomization.yaml", "resources: [a.yaml]\nnamePrefix: p-\n"},
                          {"app/a.yaml", Config("a")}});
  RenderOptions options;
  options.mode = RenderMode::kDirectory;
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->objects.size(), 1u);
  EXPECT_EQ(result->keys[0].name, "a");
}

TEST(RenderTest, Substitutes) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("cm-${ENV:=dev}")}});
  RenderOptions options;
  options.substitutions = {{"ENV", "prod"}};
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->keys[0].name, "cm-prod");
  absl::StatusOr<RenderResult> plain = Render(files, "app");
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->keys[0].name, "cm-${ENV:=dev}");
  EXPECT_NE(plain->digest, result->digest);
}

TEST(RenderTest, DigestFollowsContentAndOrder) {
  MemoryFileSource one(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}, {"app/b.yaml", Config("b")}});
  MemoryFileSource same(std::vector<TreeFileEntry>{{"app/a.yaml", "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\n"},
                         {"app/b.yaml", Config("b")}});
  MemoryFileSource swapped(std::vector<TreeFileEntry>{{"app/a.yaml", Config("b")}, {"app/b.yaml", Config("a")}});
  EXPECT_EQ(Render(one, "app")->digest, Render(same, "app")->digest);
  EXPECT_NE(Render(one, "app")->digest, Render(swapped, "app")->digest);
}

TEST(RenderTest, ObjectWithoutNameIsAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}});
  absl::StatusOr<RenderResult> result = Render(files, "app");
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("metadata.name"));
}

TEST(RenderTest, PathOutsideRepositoryAndMissingPath) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}});
  EXPECT_EQ(Render(files, "../x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(Render(files, "missing").status().code(), absl::StatusCode::kNotFound);
}

TEST(RenderTest, PluginModeWithoutPlugins) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}});
  RenderOptions options;
  options.mode = RenderMode::kPlugin;
  options.plugin.name = "helm";
  EXPECT_EQ(Render(files, "app", options).status().code(), absl::StatusCode::kFailedPrecondition);
}

// A source whose backend failed: the render reports that failure, not "file not found".
class FailingSource : public MemoryFileSource {
 public:
  using MemoryFileSource::MemoryFileSource;
  absl::Status SourceStatus() const override { return absl::UnavailableError("fetcher down"); }
};

TEST(RenderTest, SourceFailureWins) {
  FailingSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}});
  EXPECT_EQ(Render(files, "app").status().code(), absl::StatusCode::kUnavailable);
}

TEST(OptionsFingerprintTest, DistinguishesOptions) {
  RenderOptions a, b;
  b.directory.recurse = true;
  EXPECT_NE(OptionsFingerprint(a), OptionsFingerprint(b));
  RenderOptions c, d;
  c.substitutions = {{"A", "b;1:c"}};
  d.substitutions = {{"A", "b"}, {"1", "c"}};
  EXPECT_NE(OptionsFingerprint(c), OptionsFingerprint(d));
  EXPECT_EQ(OptionsFingerprint(a), OptionsFingerprint(RenderOptions{}));
  // The engine version is part of every key: a new engine never reuses an old render.
  EXPECT_NE(OptionsFingerprint(a).find(kRenderEngineVersion), std::string::npos);
}

}  // namespace
}  // namespace todoke::renderer

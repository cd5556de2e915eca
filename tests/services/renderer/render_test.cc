#include "services/renderer/core/render.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
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
  MemoryFileSource files(
      std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}, {"app/b.yaml", Config("b")}});
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
  EXPECT_THAT(paths,
              ElementsAre("app/kustomization.yaml", "base/cm.yaml", "base/kustomization.yaml"));
}

// todoke render asks for the objects only: the same objects, keys and input paths, without the
// digest, canonical JSON, observations and blob ids that only caching and applying use.
TEST(RenderTest, ObjectsOnlySkipsDigestAndBlobIds) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/kustomization.yaml", "resources: [../base, extra.yaml]\nnamePrefix: prod-\n"},
      {"app/extra.yaml", Config("extra")},
      {"base/kustomization.yaml", "resources: [cm.yaml]\n"},
      {"base/cm.yaml", Config("settings")},
  });
  absl::StatusOr<RenderResult> full = Render(files, "app");
  RenderOptions options;
  options.objects_only = true;
  absl::StatusOr<RenderResult> only = Render(files, "app", options);
#ifdef TODOKE_TEST_NO_KUSTOMIZE
  GTEST_SKIP();
#endif
  ASSERT_TRUE(full.ok()) << full.status();
  ASSERT_TRUE(only.ok()) << only.status();
  EXPECT_EQ(only->objects, full->objects);
  EXPECT_EQ(only->keys, full->keys);
  EXPECT_EQ(only->mode, RenderMode::kKustomize);
  EXPECT_THAT(only->inputs,
              ElementsAre(InputFile{"app/extra.yaml", ""}, InputFile{"app/kustomization.yaml", ""},
                          InputFile{"base/cm.yaml", ""}, InputFile{"base/kustomization.yaml", ""}));
  EXPECT_EQ(full->inputs.size(), 4u);
  EXPECT_TRUE(only->digest.empty());
  EXPECT_TRUE(only->canonical_json.empty());
  EXPECT_TRUE(only->observations.empty());
  EXPECT_FALSE(full->observations.empty());
}

TEST(RenderTest, SeveralKustomizationFilesAreAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/kustomization.yaml", "resources: []\n"},
                                                    {"app/kustomization.yml", "resources: []\n"}});
  absl::StatusOr<RenderResult> result = Render(files, "app");
  ASSERT_FALSE(result.ok());
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("kustomization"));
}

TEST(RenderTest, ForcedDirectoryModeIgnoresKustomization) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/kustomization.yaml", "resources: [a.yaml]\nnamePrefix: p-\n"},
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
  MemoryFileSource one(
      std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}, {"app/b.yaml", Config("b")}});
  MemoryFileSource same(std::vector<TreeFileEntry>{
      {"app/a.yaml", "kind: ConfigMap\napiVersion: v1\nmetadata: {name: a}\n"},
      {"app/b.yaml", Config("b")}});
  MemoryFileSource swapped(
      std::vector<TreeFileEntry>{{"app/a.yaml", Config("b")}, {"app/b.yaml", Config("a")}});
  EXPECT_EQ(Render(one, "app")->digest, Render(same, "app")->digest);
  EXPECT_NE(Render(one, "app")->digest, Render(swapped, "app")->digest);
}

TEST(RenderTest, ObjectWithoutNameIsAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {}\n"}});
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

// A kustomization.yaml symlinked out of the repository is refused, naming the file: the folder
// is never rendered as plain files instead (it was, with exit 0).
TEST(RenderTest, KustomizationSymlinkedOutsideTheRootIsRefused) {
  char dir_template[] = "/tmp/todoke-render-escape-XXXXXX";
  ASSERT_NE(mkdtemp(dir_template), nullptr);
  const std::string top = dir_template;
  ASSERT_EQ(mkdir((top + "/repo").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((top + "/repo/app").c_str(), 0755), 0);
  ASSERT_EQ(mkdir((top + "/outside").c_str(), 0755), 0);
  std::ofstream(top + "/outside/kustomization.yaml") << "resources: []\n";
  std::ofstream(top + "/repo/app/cm.yaml") << Config("a");
  ASSERT_EQ(
      symlink("../../outside/kustomization.yaml", (top + "/repo/app/kustomization.yaml").c_str()),
      0);
  DiskFileSource files(top + "/repo");
  for (RenderMode mode : {RenderMode::kAuto, RenderMode::kKustomize}) {
    RenderOptions options;
    options.mode = mode;
    absl::StatusOr<RenderResult> result = Render(files, "app", options);
    ASSERT_FALSE(result.ok()) << RenderModeName(mode) << ": " << result->objects.size()
                              << " objects";
    EXPECT_EQ(result.status().code(), absl::StatusCode::kPermissionDenied) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("app/kustomization.yaml"));
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("outside the repository root"));
  }
  // A base reached through resources: is refused the same way.
  ASSERT_EQ(mkdir((top + "/repo/overlay").c_str(), 0755), 0);
  std::ofstream(top + "/repo/overlay/kustomization.yaml") << "resources: [../app]\n";
  absl::StatusOr<RenderResult> overlay = Render(files, "overlay");
  EXPECT_FALSE(overlay.ok());
  EXPECT_THAT(std::string(overlay.status().message()), HasSubstr("app/kustomization.yaml"));
  std::filesystem::remove_all(top);
}

// A remote base is a refused feature: FAILED_PRECONDITION as the proto says (it answered
// UNIMPLEMENTED), naming the kustomization file and the URL.
TEST(RenderTest, RemoteBaseIsAFailedPrecondition) {
  const std::string url = "github.com/org/repo//deploy/base?ref=v1";
  for (const std::string& field : {"resources", "components"}) {
    MemoryFileSource files(
        std::vector<TreeFileEntry>{{"app/kustomization.yaml", field + ": [\"" + url + "\"]\n"}});
    absl::StatusOr<RenderResult> result = Render(files, "app");
    EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition)
        << field << ": " << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("app/kustomization.yaml"));
    EXPECT_THAT(std::string(result.status().message()), HasSubstr(url));
  }
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

// An object whose aliases expand it to about 12,000 nodes: within the per-file YAML limit
// (100,000 + 8 per byte), the only one the renderer had.
std::string ExpandingObject(int i) {
  return absl::StrCat(Config(absl::StrCat("cm-", i)),
                      "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
                      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
                      "d: [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n");
}

std::vector<TreeFileEntry> ExpandingFiles(int count, bool kustomize) {
  std::vector<TreeFileEntry> files;
  std::string kustomization = "resources:\n";
  for (int i = 0; i < count; ++i) {
    const std::string name = absl::StrFormat("f-%03d.yaml", i);
    files.push_back({absl::StrCat("app/", name), ExpandingObject(i)});
    absl::StrAppend(&kustomization, "- ", name, "\n");
  }
  if (kustomize) files.push_back({"app/kustomization.yaml", kustomization});
  return files;
}

// Issue 15: per-file limits let many small files add up to gigabytes. One budget per render
// refuses the file that takes the render past it, and what the render parsed stays within the
// budget plus one file.
TEST(RenderBudgetTest, ManySmallExpandingFilesExhaustTheBudgetOfTheRender) {
  for (bool kustomize : {false, true}) {
    SCOPED_TRACE(kustomize ? "kustomize" : "directory");
    MemoryFileSource files(ExpandingFiles(40, kustomize));
    Budget budget(BudgetLimits{100'000, int64_t{1} << 30});
    RenderOptions options;
    options.budget = &budget;
    absl::StatusOr<RenderResult> result = Render(files, "app", options);
    ASSERT_FALSE(result.ok());
    EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted) << result.status();
    EXPECT_THAT(std::string(result.status().message()), HasSubstr("app/f-008.yaml:"));
    EXPECT_THAT(std::string(result.status().message()),
                HasSubstr("more than 100000 parsed YAML/JSON nodes"));
    EXPECT_LE(budget.nodes(), 100'000 + 13'000);
    EXPECT_FALSE(budget.stopped());
  }
  // The same files fit a budget sized for them.
  MemoryFileSource files(ExpandingFiles(40, false));
  Budget budget(BudgetLimits{40 * 13'000, int64_t{1} << 30});
  RenderOptions options;
  options.budget = &budget;
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->objects.size(), 40u);
}

TEST(RenderBudgetTest, FilesReadCountAgainstTheByteBudget) {
  std::vector<TreeFileEntry> entries;
  for (int i = 0; i < 20; ++i) {
    entries.push_back({absl::StrFormat("app/f-%02d.yaml", i),
                       absl::StrCat(Config(absl::StrCat("cm-", i)),
                                    "data:\n  v: ", std::string(1000, 'x'), "\n")});
  }
  MemoryFileSource files(entries);
  Budget budget(BudgetLimits{1'000'000, 10'000});
  RenderOptions options;
  options.budget = &budget;
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()),
              HasSubstr("app/f-09.yaml: the render reads more than 10000 bytes"));
}

TEST(RenderBudgetTest, JsonFileIsChargedBeforeItIsBuilt) {
  std::string items;
  for (int i = 0; i < 5000; ++i) absl::StrAppend(&items, i == 0 ? "" : ",", "{}");
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/list.json",
       absl::StrCat(R"({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"},"x":[)", items,
                    "]}")}});
  Budget budget(BudgetLimits{1000, int64_t{1} << 30});
  RenderOptions options;
  options.budget = &budget;
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("app/list.json"));
}

std::vector<TreeFileEntry> ManyObjects(int count) {
  std::vector<TreeFileEntry> files;
  std::string kustomization = "namePrefix: p-\nresources:\n";
  for (int f = 0; f < count / 100; ++f) {
    std::string text;
    for (int i = 0; i < 100; ++i) {
      absl::StrAppend(&text, "---\n", Config(absl::StrCat("cm-", f, "-", i)));
    }
    const std::string name = absl::StrFormat("f-%03d.yaml", f);
    files.push_back({absl::StrCat("app/", name), text});
    absl::StrAppend(&kustomization, "- ", name, "\n");
  }
  files.push_back({"app/kustomization.yaml", kustomization});
  return files;
}

// Issue 15: a render is stopped inside the Kustomize build when its caller cancels: the build
// polls the budget (per file, object and step) and gives up with CANCELLED.
TEST(RenderBudgetTest, CancellationStopsTheKustomizeBuild) {
  MemoryFileSource files(ManyObjects(2000));
  Budget budget;
  std::atomic<int> polls{0};
  // Cancelled at the 30th poll: part-way through reading the resource files.
  budget.SetCancelHook([&polls] { return ++polls >= 30; });
  RenderOptions options;
  options.budget = &budget;
  const uint64_t stopped_before = RendersStopped();
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kCancelled) << result.status();
  EXPECT_THAT(std::string(result.status().message()), HasSubstr("render cancelled (at app/"));
  EXPECT_TRUE(budget.stopped());
  EXPECT_EQ(polls.load(), 30);  // not polled again: the build stopped at once
  EXPECT_EQ(RendersStopped(), stopped_before + 1);

  // Without the cancellation the same render completes.
  Budget whole;
  options.budget = &whole;
  absl::StatusOr<RenderResult> done = Render(files, "app", options);
  ASSERT_TRUE(done.ok()) << done.status();
  EXPECT_EQ(done->objects.size(), 2000u);
  EXPECT_FALSE(whole.stopped());
}

TEST(RenderBudgetTest, PastDeadlineIsDeadlineExceeded) {
  MemoryFileSource files(ManyObjects(200));
  Budget budget;
  budget.SetDeadline(absl::Now() - absl::Seconds(1));
  RenderOptions options;
  options.budget = &budget;
  absl::StatusOr<RenderResult> result = Render(files, "app", options);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kDeadlineExceeded) << result.status();
  EXPECT_TRUE(budget.stopped());
}

}  // namespace
}  // namespace todoke::renderer

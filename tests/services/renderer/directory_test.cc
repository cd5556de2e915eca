#include "services/renderer/core/directory.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

std::vector<std::string> Names(const std::vector<Json>& objects) {
  std::vector<std::string> names;
  for (const Json& object : objects) names.push_back(object["metadata"]["name"]);
  return names;
}

std::string Config(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n";
}

TEST(DirectoryTest, ReadsManifestFilesInWalkOrder) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/b.yaml", Config("b1") + "---\n---\n" + Config("b2")},
      {"app/a.yml", Config("a")},
      {"app/c.json", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}})"},
      {"app/notes.txt", Config("ignored")},
      {"app/sub/d.yaml", Config("d")},
      {"other/e.yaml", Config("e")},
  });
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("a", "b1", "b2", "c"));

  DirectoryOptions recurse;
  recurse.recurse = true;
  objects = RenderDirectory(files, "app", recurse);
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("a", "b1", "b2", "c", "d"));
}

TEST(DirectoryTest, FolderSortsUnderItsBareName) {
  // filepath.Walk order: by name, a folder under its bare name: "a" < "a-b.yaml" < "a.yaml".
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a/x.yaml", Config("in-a")},
                                                    {"app/a.yaml", Config("a-file")},
                                                    {"app/a-b.yaml", Config("a-b")}});
  DirectoryOptions recurse;
  recurse.recurse = true;
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app", recurse);
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("in-a", "a-b", "a-file"));
}

TEST(DirectoryTest, ExpandsListKinds) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/list.yaml", R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: ConfigMap
  metadata: {name: one}
- apiVersion: v1
  kind: ConfigMapList
  items:
  - {apiVersion: v1, kind: ConfigMap, metadata: {name: two}}
)"}});
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("one", "two"));
}

TEST(DirectoryTest, SkipsNonKubernetesYaml) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/values.yaml", "replicaCount: 3\nimage: {tag: v1}\n"},
      {"app/broken-values.yaml", "a: [unclosed\n"},
      {"app/empty.yaml", ""},
      {"app/ok.yaml", Config("ok")},
  });
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("ok"));
}

// An object whose kind was forgotten is refused naming its file and line, as kustomize refuses
// it ("missing kind"); it was dropped with the rest of its file.
TEST(DirectoryTest, ObjectWithoutKindIsAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/a.yaml", Config("a")},
      {"app/nokind.yaml", "# a ConfigMap\n---\napiVersion: v1\nmetadata:\n  name: c\n"},
  });
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_FALSE(objects.ok()) << Names(*objects).size() << " objects";
  EXPECT_EQ(objects.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("app/nokind.yaml:3:1"));
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("no kind"));
}

// The same object twice (the version aside) is refused naming both files and its id, as
// kustomize refuses it; it was emitted twice.
TEST(DirectoryTest, DuplicateObjectIsAnError) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/a.yaml", Config("same")},
      {"app/b.yaml", Config("other") + "---\n" + Config("same")},
  });
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_FALSE(objects.ok()) << Names(*objects).size() << " objects";
  EXPECT_EQ(objects.status().code(), absl::StatusCode::kInvalidArgument);
  const std::string message(objects.status().message());
  EXPECT_THAT(message, HasSubstr("app/b.yaml"));
  EXPECT_THAT(message, HasSubstr("already registered id"));
  EXPECT_THAT(message, HasSubstr("same"));
  EXPECT_THAT(message, HasSubstr("also in app/a.yaml"));
  // Same name, another kind or namespace: distinct objects.
  MemoryFileSource distinct(std::vector<TreeFileEntry>{
      {"app/a.yaml", Config("same")},
      {"app/b.yaml", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: same\n---\n" +
                         Config("same") + "  namespace: other\n"},
  });
  objects = RenderDirectory(distinct, "app");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_EQ(objects->size(), 3u);
}

TEST(DirectoryTest, BrokenManifestIsAnErrorWithPosition) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/bad.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [a\n"}});
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_FALSE(objects.ok());
  EXPECT_EQ(objects.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("app/bad.yaml:"));
  EXPECT_THAT(std::string(objects.status().message()),
              ::testing::ContainsRegex("app/bad.yaml:[0-9]+:[0-9]+"));
}

TEST(DirectoryTest, BrokenJsonManifestIsAnErrorWithPosition) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/bad.json", "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\",\n \"metadata\": {]}"}});
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_FALSE(objects.ok());
  EXPECT_THAT(std::string(objects.status().message()), HasSubstr("app/bad.json:2:"));
}

TEST(DirectoryTest, JsonThatIsNotAManifestIsSkipped) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/package.json", R"({"name": "x"})"},
                                                    {"app/a.yaml", Config("a")}});
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app");
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("a"));
}

TEST(DirectoryTest, MixedObjectsAndNonObjectsIsAnError) {
  MemoryFileSource files(
      std::vector<TreeFileEntry>{{"app/mixed.yaml", Config("x") + "---\njust: data\n"}});
  EXPECT_FALSE(RenderDirectory(files, "app").ok());
}

TEST(DirectoryTest, IncludeAndExclude) {
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/a.yaml", Config("a")},
      {"app/b.yaml", Config("b")},
      {"app/c.json", R"({"apiVersion":"v1","kind":"Secret","metadata":{"name":"c"}})"},
      {"app/sub/d.yaml", Config("d")}});
  DirectoryOptions options;
  options.recurse = true;
  options.include = "*.yaml";
  options.exclude = "b.yaml,sub/*";
  absl::StatusOr<std::vector<Json>> objects = RenderDirectory(files, "app", options);
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("a"));

  options.include = "{c.json,sub/*}";
  options.exclude = "";
  objects = RenderDirectory(files, "app", options);
  ASSERT_TRUE(objects.ok()) << objects.status();
  EXPECT_THAT(Names(*objects), ElementsAre("c", "d"));
}

TEST(DirectoryTest, MissingFolder) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}});
  EXPECT_EQ(RenderDirectory(files, "nope").status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace todoke::renderer

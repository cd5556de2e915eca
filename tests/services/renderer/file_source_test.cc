#include "services/renderer/core/file_source.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/renderer/core/recording_file_source.h"

namespace todoke::renderer {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ResolveRepoPathTest, JoinsAndNormalises) {
  EXPECT_EQ(*ResolveRepoPath("apps/web", "../base/./deploy.yaml"), "apps/base/deploy.yaml");
  EXPECT_EQ(*ResolveRepoPath("", "./a//b/"), "a/b");
  EXPECT_EQ(*ResolveRepoPath("a", ".."), "");
}

TEST(ResolveRepoPathTest, RefusesEscapesAndAbsolutePaths) {
  absl::StatusOr<std::string> escaped = ResolveRepoPath("apps", "../../etc/passwd");
  EXPECT_EQ(escaped.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(escaped.status().message()), HasSubstr("outside the repository root"));
  EXPECT_EQ(ResolveRepoPath("", "/etc/passwd").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ParentPathTest, Parents) {
  EXPECT_EQ(ParentPath("a/b/c"), "a/b");
  EXPECT_EQ(ParentPath("a"), "");
}

TEST(GitBlobIdTest, MatchesGit) {
  // `printf hello | git hash-object --stdin`
  EXPECT_EQ(GitBlobId("hello"), "b6fc4c620b67d95f953a5c1c1230aaab5db5a1b0");
  EXPECT_EQ(GitBlobId(""), "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
}

TEST(MemoryFileSourceTest, ListsReadsAndRecords) {
  MemoryFileSource files(std::vector<TreeFileEntry>{{"apps/web/a.yaml", "a", "blob-a"},
                                                    {"apps/web/sub/b.yaml", "b", ""},
                                                    {"README.md", "hi", "blob-r"}});
  EXPECT_TRUE(files.IsDirectory(""));
  EXPECT_TRUE(files.IsDirectory("apps/web/sub"));
  EXPECT_FALSE(files.IsDirectory("apps/web/a.yaml"));
  EXPECT_TRUE(files.IsFile("apps/web/a.yaml"));
  EXPECT_THAT(*files.ListDirectory("apps/web"), ElementsAre("a.yaml", "sub/"));
  EXPECT_THAT(*files.ListDirectory(""), ElementsAre("README.md", "apps/"));
  EXPECT_EQ(files.ListDirectory("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*files.ReadFile("apps/web/a.yaml"), "a");
  EXPECT_EQ(files.ReadFileWithId("apps/web/sub/b.yaml")->blob_id, GitBlobId("b"));
  EXPECT_EQ(files.ReadFile("apps/web").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(
      files.FilesRead(),
      ElementsAre(std::pair<std::string, std::string>("apps/web/a.yaml", "blob-a"),
                  std::pair<std::string, std::string>("apps/web/sub/b.yaml", GitBlobId("b"))));
}

TEST(RecordingFileSourceTest, ObservationsReplayAgainstAnotherTree) {
  MemoryFileSource before(
      std::vector<TreeFileEntry>{{"app/a.yaml", "a", "1"}, {"other/x", "x", "9"}});
  RecordingFileSource recorder(before);
  ASSERT_TRUE(recorder.ReadFile("app/a.yaml").ok());
  EXPECT_FALSE(recorder.IsFile("app/kustomization.yaml"));
  ASSERT_TRUE(recorder.ListDirectory("app").ok());
  std::vector<Observation> observations = recorder.Observations();
  EXPECT_EQ(observations.size(), 3u);

  MemoryFileSource unrelated_change(
      std::vector<TreeFileEntry>{{"app/a.yaml", "a", "1"}, {"other/x", "y", "10"}});
  EXPECT_TRUE(ObservationsHold(unrelated_change, observations));
  MemoryFileSource content_change(std::vector<TreeFileEntry>{{"app/a.yaml", "A", "2"}});
  EXPECT_FALSE(ObservationsHold(content_change, observations));
  MemoryFileSource new_kustomization(
      {{"app/a.yaml", "a", "1"}, {"app/kustomization.yaml", "k", "3"}});
  EXPECT_FALSE(ObservationsHold(new_kustomization, observations));
}

class DiskFileSourceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/todoke-disk-XXXXXX";
    root_ = mkdtemp(pattern);
    std::filesystem::create_directories(root_ + "/repo/app/.git");
    std::ofstream(root_ + "/repo/app/a.yaml") << "a";
    std::ofstream(root_ + "/repo/app/.git/config") << "x";
    std::ofstream(root_ + "/secret") << "s";
    std::filesystem::create_symlink(root_ + "/secret", root_ + "/repo/app/escape.yaml");
    std::filesystem::create_symlink("a.yaml", root_ + "/repo/app/inside.yaml");
  }
  void TearDown() override { std::filesystem::remove_all(root_); }
  std::string root_;
};

TEST_F(DiskFileSourceTest, ConfinesToRoot) {
  DiskFileSource files(root_ + "/repo");
  EXPECT_EQ(*files.ReadFile("app/a.yaml"), "a");
  EXPECT_EQ(*files.ReadFile("app/inside.yaml"), "a");
  EXPECT_FALSE(files.ReadFile("app/escape.yaml").ok());
  EXPECT_FALSE(files.IsFile("app/escape.yaml"));
  EXPECT_FALSE(files.IsDirectory("app/.git"));
  EXPECT_THAT(*files.ListDirectory("app"), ElementsAre("a.yaml", "inside.yaml"));
  EXPECT_EQ(files.ReadFileWithId("app/a.yaml")->blob_id, GitBlobId("a"));
  EXPECT_EQ(files.ReadFile("missing.yaml").status().code(), absl::StatusCode::kNotFound);
}

// Symlinked folders resolve as realpath() resolves them (DiskFileSource checks the components
// under the root itself and sends only paths through a symlink to realpath()): one to a folder
// inside the root is that folder, one out of the root is refused with what is under it.
TEST_F(DiskFileSourceTest, SymlinkedFoldersResolveAsRealpathDoes) {
  std::filesystem::create_directories(root_ + "/repo/sub");
  std::ofstream(root_ + "/repo/sub/b.yaml") << "b";
  std::filesystem::create_directory_symlink("../sub", root_ + "/repo/app/linked");
  std::filesystem::create_directory_symlink(root_, root_ + "/repo/app/out");
  DiskFileSource files(root_ + "/repo");
  EXPECT_TRUE(files.IsDirectory("app/linked"));
  EXPECT_TRUE(files.IsFile("app/linked/b.yaml"));
  EXPECT_EQ(*files.ReadFile("app/linked/b.yaml"), "b");
  EXPECT_THAT(*files.ListDirectory("app/linked"), ElementsAre("b.yaml"));
  EXPECT_THAT(*files.ListDirectory("app"), ElementsAre("a.yaml", "inside.yaml", "linked/"));
  EXPECT_FALSE(files.IsDirectory("app/out"));
  EXPECT_FALSE(files.IsFile("app/out/secret"));
  EXPECT_EQ(files.ReadFile("app/out/secret").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(files.ReadFile("app/escape.yaml").status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(files.ReadFile("app").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(files.ReadFile("app/a.yaml/x").status().code(), absl::StatusCode::kNotFound);
  EXPECT_FALSE(files.ListDirectory("app/a.yaml").ok());
  EXPECT_TRUE(files.IsDirectory(""));
}

// The repository root at "/" (e.g. `todoke render /some/app` run from /): every folder is inside
// it. Shown failing before: "/tmp/..." was refused, as no path has a '/' after the root "/".
TEST_F(DiskFileSourceTest, RootAtSlashHoldsEveryFolder) {
  DiskFileSource files("/");
  const std::string relative = root_.substr(1) + "/repo/app";
  EXPECT_TRUE(files.IsDirectory(relative));
  EXPECT_TRUE(files.IsFile(relative + "/a.yaml"));
  absl::StatusOr<std::string> text = files.ReadFile(relative + "/a.yaml");
  ASSERT_TRUE(text.ok()) << text.status();
  EXPECT_EQ(*text, "a");
  EXPECT_THAT(*files.ListDirectory(relative), ElementsAre("a.yaml", "escape.yaml", "inside.yaml"));
  EXPECT_FALSE(files.IsDirectory(relative + "/.git"));
}

}  // namespace
// A file's size is checked before it is read: a 1 TiB sparse file is refused at once under the
// default limit, naming the file and the limit (the old reader read the whole file into memory
// first). A file at the limit reads; one byte over is refused.
TEST_F(DiskFileSourceTest, RefusesAFileOverTheLimitBeforeReadingIt) {
  const std::string huge = root_ + "/repo/app/huge.yaml";
  { std::ofstream create(huge); }
  ASSERT_EQ(truncate(huge.c_str(), off_t{1} << 40), 0);
  DiskFileSource files(root_ + "/repo");
  absl::StatusOr<std::string> text = files.ReadFile("app/huge.yaml");
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(text.status().message()), HasSubstr("app/huge.yaml"));
  EXPECT_THAT(std::string(text.status().message()),
              HasSubstr(std::to_string(DiskFileSource::kDefaultMaxFileBytes)));

  std::ofstream(root_ + "/repo/app/four.yaml") << "1234";
  std::ofstream(root_ + "/repo/app/five.yaml") << "12345";
  DiskFileSource small(root_ + "/repo", 4);
  EXPECT_EQ(*small.ReadFile("app/four.yaml"), "1234");
  absl::StatusOr<std::string> five = small.ReadFile("app/five.yaml");
  EXPECT_EQ(five.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(five.status().message()), HasSubstr("over the limit of 4 bytes"));
}

}  // namespace todoke::renderer

// Replays every seed (tests/fuzz/seeds/<target>/) and every input a fuzzer ever crashed on
// (tests/fuzz/regressions/<target>/) through the same entry functions the libFuzzer binaries
// call, in the ordinary build: the regular suite keeps every finding fixed without clang.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tests/common/test_files.h"
#include "tests/fuzz/fuzz_targets.h"

namespace todoke::fuzz {
namespace {

using ::todoke::test_files::ReadFile;

namespace fs = std::filesystem;

// Runs every file under tests/fuzz/<kind>/<target>/ through the target's entry; returns how
// many files ran.
int ReplayAll(const std::string& kind) {
  int files = 0;
  const fs::path root = fs::path("tests/fuzz") / kind;
  for (const auto& [name, entry] : FuzzTargets()) {
    const fs::path dir = root / name;
    if (!fs::is_directory(dir)) continue;
    std::vector<fs::path> paths;
    for (const auto& file : fs::directory_iterator(dir)) {
      if (file.is_regular_file() && file.path().filename() != "README.md")
        paths.push_back(file.path());
    }
    std::sort(paths.begin(), paths.end());
    for (const fs::path& path : paths) {
      SCOPED_TRACE(path.string());
      const absl::Status status = entry(ReadFile(path));
      EXPECT_TRUE(status.ok()) << status.message();
      ++files;
    }
  }
  return files;
}

TEST(FuzzReplayTest, EverySeedPasses) {
  ASSERT_TRUE(fs::is_directory("tests/fuzz/seeds")) << "run from the repository root";
  for (const auto& [name, entry] : FuzzTargets()) {
    EXPECT_TRUE(fs::is_directory(fs::path("tests/fuzz/seeds") / name))
        << "fuzz target " << name << " has no seed folder tests/fuzz/seeds/" << name;
  }
  EXPECT_GT(ReplayAll("seeds"), 0);
}

TEST(FuzzReplayTest, EveryKeptCrashPasses) { ReplayAll("regressions"); }

TEST(FuzzReplayTest, TreeTextSplitsIntoFiles) {
  const FuzzTree tree = ParseFuzzTree(
      "@ app\nresources: [a.yaml]\n=== a.yaml\nkind: A\n=== ../up.yaml\nx\n=== b//c\ny\n"
      "=== a.yaml\nkind: B\n=== empty.yaml\n");
  EXPECT_EQ(tree.render_dir, "app");
  ASSERT_EQ(tree.files.size(), 3u);
  EXPECT_EQ(tree.files.at("kustomization.yaml"), "resources: [a.yaml]\n");
  EXPECT_EQ(tree.files.at("a.yaml"), "kind: B\n");
  EXPECT_EQ(tree.files.at("empty.yaml"), "");
  EXPECT_TRUE(ParseFuzzTree("=== a.yaml\nx").files.count("a.yaml"));
  EXPECT_FALSE(ParseFuzzTree("=== a.yaml\nx").files.count("kustomization.yaml"));
}

}  // namespace
}  // namespace todoke::fuzz

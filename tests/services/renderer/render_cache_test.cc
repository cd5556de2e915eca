#include "services/renderer/core/render_cache.h"

#include <atomic>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace todoke::renderer {
namespace {

std::string Config(const std::string& name) {
  return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n";
}

// A MemoryFileSource that counts reads, to prove a hit does not render.
class CountingSource : public MemoryFileSource {
 public:
  using MemoryFileSource::MemoryFileSource;
  absl::StatusOr<std::string> ReadFile(absl::string_view path) const override {
    ++reads;
    return MemoryFileSource::ReadFile(path);
  }
  mutable std::atomic<int> reads{0};
};

class RenderCacheTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Renderer> renderer_ = std::make_shared<Renderer>();
};

TEST_F(RenderCacheTest, SameInputsAtANewCommitHit) {
  CachingRenderer cache(renderer_);
  MemoryFileSource commit1(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a"), "blob-a"},
                                                      {"other/x.yaml", "x", "x1"}});
  absl::StatusOr<CachingRenderer::Output> first = cache.Render("repo", commit1, "app", {});
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->cache_hit);

  // A commit that changes only another folder.
  CountingSource commit2(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a"), "blob-a"},
                                                    {"other/x.yaml", "y", "x2"}});
  absl::StatusOr<CachingRenderer::Output> second = cache.Render("repo", commit2, "app", {});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->cache_hit);
  EXPECT_EQ(second->result->digest, first->result->digest);
  EXPECT_EQ(commit2.reads, 0);  // validation compares blob ids; nothing was parsed
  EXPECT_EQ(cache.Stats().hits, 1u);
}

// objects_only is for printing: the cache renders in full whatever the caller asked, so a
// cached result always has its digest and its observations (to be validated against later).
TEST_F(RenderCacheTest, ObjectsOnlyIsIgnored) {
  CachingRenderer cache(renderer_);
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a"), "blob-a"}});
  RenderOptions options;
  options.objects_only = true;
  absl::StatusOr<CachingRenderer::Output> first = cache.Render("repo", files, "app", options);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_FALSE(first->result->digest.empty());
  EXPECT_FALSE(first->result->observations.empty());
  absl::StatusOr<CachingRenderer::Output> second = cache.Render("repo", files, "app", {});
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_TRUE(second->cache_hit);
  EXPECT_EQ(second->result->digest, first->result->digest);
}

TEST_F(RenderCacheTest, ChangedInputsMiss) {
  CachingRenderer cache(renderer_);
  MemoryFileSource v1(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a"), "1"}});
  MemoryFileSource v2(std::vector<TreeFileEntry>{{"app/a.yaml", Config("b"), "2"}});
  MemoryFileSource added(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a"), "1"},
                                                    {"app/new.yaml", Config("n"), "3"}});
  ASSERT_TRUE(cache.Render("repo", v1, "app", {}).ok());
  absl::StatusOr<CachingRenderer::Output> changed = cache.Render("repo", v2, "app", {});
  ASSERT_TRUE(changed.ok());
  EXPECT_FALSE(changed->cache_hit);
  EXPECT_EQ(changed->result->keys[0].name, "b");
  // A new file in a directory-mode app changes the folder listing.
  absl::StatusOr<CachingRenderer::Output> with_new = cache.Render("repo", added, "app", {});
  ASSERT_TRUE(with_new.ok());
  EXPECT_FALSE(with_new->cache_hit);
  EXPECT_EQ(with_new->result->objects.size(), 2u);
  // Back to the first state: still remembered.
  absl::StatusOr<CachingRenderer::Output> back = cache.Render("repo", v1, "app", {});
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(back->cache_hit);
}

TEST_F(RenderCacheTest, OptionsArePartOfTheKey) {
  CachingRenderer cache(renderer_);
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("${X:=a}"), "1"}});
  RenderOptions with_vars;
  with_vars.substitutions = {{"X", "b"}};
  EXPECT_FALSE(cache.Render("repo", files, "app", {})->cache_hit);
  absl::StatusOr<CachingRenderer::Output> other = cache.Render("repo", files, "app", with_vars);
  EXPECT_FALSE(other->cache_hit);
  EXPECT_EQ(other->result->keys[0].name, "b");
  EXPECT_TRUE(cache.Render("repo", files, "app", with_vars)->cache_hit);
}

TEST_F(RenderCacheTest, BoundedLru) {
  RenderCacheOptions options;
  options.max_entries = 2;
  CachingRenderer cache(renderer_, options);
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"a/x.yaml", Config("a")}, {"b/x.yaml", Config("b")}, {"c/x.yaml", Config("c")}});
  ASSERT_TRUE(cache.Render("r", files, "a", {}).ok());
  ASSERT_TRUE(cache.Render("r", files, "b", {}).ok());
  EXPECT_TRUE(cache.Render("r", files, "a", {})->cache_hit);  // a is now most recent
  ASSERT_TRUE(cache.Render("r", files, "c", {}).ok());        // evicts b
  EXPECT_EQ(cache.Stats().entries, 2u);
  EXPECT_TRUE(cache.Render("r", files, "a", {})->cache_hit);
  EXPECT_FALSE(cache.Render("r", files, "b", {})->cache_hit);
}

TEST_F(RenderCacheTest, ErrorsAreNotCached) {
  CachingRenderer cache(renderer_);
  MemoryFileSource files(std::vector<TreeFileEntry>{
      {"app/a.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  x: [\n"}});
  EXPECT_FALSE(cache.Render("r", files, "app", {}).ok());
  EXPECT_EQ(cache.Stats().entries, 0u);
}

TEST_F(RenderCacheTest, DisabledCache) {
  RenderCacheOptions options;
  options.max_entries = 0;
  CachingRenderer cache(renderer_, options);
  MemoryFileSource files(std::vector<TreeFileEntry>{{"app/a.yaml", Config("a")}});
  ASSERT_TRUE(cache.Render("r", files, "app", {}).ok());
  EXPECT_FALSE(cache.Render("r", files, "app", {})->cache_hit);
}

}  // namespace
}  // namespace todoke::renderer

// The Git destination's read caches alone (read_cache.h): the parsed-folder cache keeps to its
// byte bound, least recently used out first; the repository pool keeps at most its idle bound and
// closes what Forget disowned.
#include "services/applier/core/git/read_cache.h"

#include <cstring>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/services/source_fetcher/test_servers.h"

namespace todoke::applier::git_internal {
namespace {

git_oid Id(int n) {
  git_oid id;
  std::memset(&id, 0, sizeof(id));
  std::memcpy(id.id, &n, sizeof(n));
  return id;
}

std::shared_ptr<const FolderSnapshot> Folder(size_t bytes, const std::string& blob) {
  auto folder = std::make_shared<FolderSnapshot>();
  folder->files.push_back({"ns/core.configmap.c.yaml", blob, std::nullopt, ""});
  folder->bytes = bytes;
  return folder;
}

TEST(FolderCacheTest, KeepsToItsBoundLeastRecentlyUsedOutFirst) {
  FolderCache cache(1000);
  cache.Put(Id(1), Folder(200, "one"));
  cache.Put(Id(2), Folder(200, "two"));
  cache.Put(Id(3), Folder(200, "three"));
  cache.Put(Id(4), Folder(200, "four"));
  EXPECT_EQ(cache.bytes(), 800u);
  ASSERT_NE(cache.Find(Id(1)), nullptr);  // 1 is now the most recently used
  EXPECT_EQ(cache.Find(Id(1))->files[0].blob, "one");
  cache.Put(Id(5), Folder(200, "five"));
  cache.Put(Id(6), Folder(200, "six"));  // over the bound: 2, the least recently used, goes
  EXPECT_LE(cache.bytes(), 1000u);
  EXPECT_EQ(cache.Find(Id(2)), nullptr);
  EXPECT_NE(cache.Find(Id(1)), nullptr);
  EXPECT_NE(cache.Find(Id(6)), nullptr);
  // A folder over a quarter of the bound is not kept (it would flush the others).
  cache.Put(Id(7), Folder(251, "big"));
  EXPECT_EQ(cache.Find(Id(7)), nullptr);
  // Unknown ids miss.
  EXPECT_EQ(cache.Find(Id(99)), nullptr);
}

TEST(RepositoryPoolTest, LendsOneHandlePerCallerAndKeepsAtMostItsIdleBound) {
  source_fetcher::testing::TempDir tmp;
  std::string dir = tmp.path() + "/r.git";
  ASSERT_TRUE(source_fetcher::testing::Sh(absl::StrCat("git init -q --bare '", dir, "'")).ok());
  ASSERT_TRUE(source_fetcher::EnsureLibgit2().ok());
  int opened = 0;
  auto open = [&]() -> absl::StatusOr<source_fetcher::GitRepository> {
    ++opened;
    git_repository* raw = nullptr;
    if (git_repository_open(&raw, dir.c_str()) < 0) return absl::InternalError("open");
    return source_fetcher::GitRepository(raw);
  };
  RepositoryPool pool(/*max_idle=*/2);
  {
    std::vector<RepositoryPool::Lease> leases;
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<RepositoryPool::Lease> lease = pool.Borrow(dir, open);
      ASSERT_TRUE(lease.ok());
      leases.push_back(*std::move(lease));
    }
    EXPECT_EQ(opened, 3);  // three callers at once: three handles
    EXPECT_NE(leases[0].get(), leases[1].get());
  }
  EXPECT_EQ(pool.IdleCount(dir), 2u);
  { auto again = pool.Borrow(dir, open); }
  EXPECT_EQ(opened, 3);  // an idle handle was lent
  {
    absl::StatusOr<RepositoryPool::Lease> failed = pool.Borrow(dir, open);
    failed->Discard();  // after an error: closed, not given back
  }
  EXPECT_EQ(pool.IdleCount(dir), 1u);
  {
    absl::StatusOr<RepositoryPool::Lease> lent = pool.Borrow(dir, open);
    pool.Forget(dir);
    EXPECT_EQ(pool.IdleCount(dir), 0u);
  }  // lent before Forget: closed when given back
  EXPECT_EQ(pool.IdleCount(dir), 0u);
  // No repository: a null lease, nothing kept.
  absl::StatusOr<RepositoryPool::Lease> none =
      pool.Borrow(tmp.path() + "/none", [] { return source_fetcher::GitRepository(); });
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->get(), nullptr);
}

}  // namespace
}  // namespace todoke::applier::git_internal

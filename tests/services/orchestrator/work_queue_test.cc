#include "services/orchestrator/core/work_queue.h"

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace todoke::orchestrator {
namespace {

TEST(WorkQueueTest, DuplicatesCoalesceIntoOneEntry) {
  WorkQueue queue;
  queue.Add("a", WorkPriority::kLow);
  queue.Add("a", WorkPriority::kLow);
  queue.Add("a", WorkPriority::kHigh);
  EXPECT_EQ(queue.Size(), 1u);
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_EQ(queue.Size(), 0u);
  queue.Done("a");
  EXPECT_EQ(queue.Size(), 0u);
}

TEST(WorkQueueTest, HigherPriorityGoesFirst) {
  WorkQueue queue;
  queue.Add("interval", WorkPriority::kLow);
  queue.Add("drift", WorkPriority::kNormal);
  queue.Add("user", WorkPriority::kHigh);
  EXPECT_EQ(queue.Get(), "user");
  EXPECT_EQ(queue.Get(), "drift");
  EXPECT_EQ(queue.Get(), "interval");
}

TEST(WorkQueueTest, AddingAHeldItemRequeuesItOnceAfterDone) {
  WorkQueue queue;
  queue.Add("a", WorkPriority::kLow);
  ASSERT_EQ(queue.Get(), "a");
  // Three triggers while a worker holds it: one follow-up, not three, and not concurrently.
  queue.Add("a", WorkPriority::kLow);
  queue.Add("a", WorkPriority::kHigh);
  queue.Add("a", WorkPriority::kNormal);
  EXPECT_EQ(queue.Size(), 0u);
  EXPECT_EQ(queue.InFlight(), 1u);
  queue.Done("a");
  EXPECT_EQ(queue.Size(), 1u);
  EXPECT_EQ(queue.Get(), "a");
  queue.Done("a");
  EXPECT_EQ(queue.Size(), 0u);
}

TEST(WorkQueueTest, DelayedItemsWaitForTheirTime) {
  WorkQueue queue;
  absl::Time start = absl::Now();
  queue.Add("later", WorkPriority::kHigh, start + absl::Milliseconds(150));
  queue.Add("now", WorkPriority::kLow);
  EXPECT_EQ(queue.Get(), "now");
  EXPECT_EQ(queue.Get(), "later");
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(140));
}

TEST(WorkQueueTest, AnEarlierAddMovesADelayedItemForward) {
  WorkQueue queue;
  queue.Add("a", WorkPriority::kLow, absl::Now() + absl::Hours(1));
  queue.Add("a", WorkPriority::kHigh);
  absl::Time start = absl::Now();
  EXPECT_EQ(queue.Get(), "a");
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
}

TEST(WorkQueueTest, ForgetDropsQueuedAndHeldItems) {
  WorkQueue queue;
  queue.Add("a", WorkPriority::kLow);
  queue.Add("b", WorkPriority::kLow);
  queue.Forget("a");
  EXPECT_EQ(queue.Get(), "b");
  queue.Add("b", WorkPriority::kLow);  // while held
  queue.Forget("b");
  queue.Done("b");
  EXPECT_EQ(queue.Size(), 0u);
}

TEST(WorkQueueTest, NeverHandsOneItemToTwoWorkers) {
  WorkQueue queue;
  std::atomic<int> holding{0};
  std::atomic<int> overlaps{0};
  std::atomic<int> processed{0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 4; ++i) {
    workers.emplace_back([&] {
      while (auto item = queue.Get()) {
        if (holding.fetch_add(1) != 0) overlaps++;
        absl::SleepFor(absl::Microseconds(200));
        holding.fetch_sub(1);
        processed++;
        queue.Done(*item);
      }
    });
  }
  for (int i = 0; i < 500; ++i) {
    queue.Add("same", WorkPriority::kHigh);
    absl::SleepFor(absl::Microseconds(50));
  }
  absl::SleepFor(absl::Milliseconds(50));
  queue.ShutDown();
  for (auto& worker : workers) worker.join();
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_GT(processed.load(), 0);
  EXPECT_LT(processed.load(), 500);  // coalesced
}

TEST(WorkQueueTest, ShutDownWakesWaitingWorkers) {
  WorkQueue queue;
  std::thread worker([&] { EXPECT_EQ(queue.Get(), std::nullopt); });
  absl::SleepFor(absl::Milliseconds(20));
  queue.ShutDown();
  worker.join();
}

// Lanes: a worker of one pool takes only its lane's items; adding a queued item for a higher lane
// moves it there (one entry per key across lanes), and a held item's follow-up keeps the lane.
TEST(WorkQueueTest, LanesHandOutTheirOwnItemsAndAnItemMovesUpNotDown) {
  WorkQueueOptions options;
  options.lanes = 2;
  WorkQueue queue(options);
  queue.Add("refresh", WorkPriority::kLow, absl::InfinitePast(), 0);
  queue.Add("sync", WorkPriority::kLow, absl::InfinitePast(), 1);
  queue.Add("moved", WorkPriority::kLow, absl::InfinitePast(), 0);
  queue.Add("moved", WorkPriority::kLow, absl::InfinitePast(), 1);
  queue.Add("moved", WorkPriority::kHigh, absl::InfinitePast(), 0);  // stays in lane 1
  EXPECT_EQ(queue.Size(), 3u);
  EXPECT_EQ(queue.Get(1), "moved");
  EXPECT_EQ(queue.Get(1), "sync");
  EXPECT_EQ(queue.Get(0), "refresh");
  EXPECT_EQ(queue.Size(), 0u);
  queue.Add("moved", WorkPriority::kLow, absl::InfinitePast(), 0);  // held: a follow-up
  queue.Done("moved");
  EXPECT_EQ(queue.Get(0), "moved");
  queue.ShutDown();
}

// Group limits: with one slot per repository, the second item of a repository waits (parked)
// while an item of another repository is handed out, and it comes once the first is Done; the
// limit is per lane.
TEST(WorkQueueTest, AnItemOverItsGroupLimitWaitsWhileOthersGo) {
  WorkQueueOptions options;
  options.lanes = 2;
  options.group_limits = {{1}, {1}};
  WorkQueue queue(options);
  queue.SetGroups("a1", {"repo-a"});
  queue.SetGroups("a2", {"repo-a"});
  queue.SetGroups("a3", {"repo-a"});
  queue.SetGroups("b1", {"repo-b"});
  queue.Add("a1", WorkPriority::kHigh);
  queue.Add("a2", WorkPriority::kHigh);
  queue.Add("b1", WorkPriority::kLow);
  queue.Add("a3", WorkPriority::kHigh, absl::InfinitePast(), 1);
  EXPECT_EQ(queue.Get(0), "a1");
  EXPECT_EQ(queue.Get(0), "b1") << "a2 is over repo-a's limit: b1 goes first";
  EXPECT_EQ(queue.Get(1), "a3") << "the other lane has a slot of its own";
  EXPECT_EQ(queue.Size(), 1u);
  std::optional<std::string> got;
  std::thread worker([&] { got = queue.Get(0); });
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_FALSE(got.has_value());
  queue.Done("a1");
  worker.join();
  EXPECT_EQ(got, "a2");
  // Leaving the group frees the item too.
  queue.Add("a1", WorkPriority::kHigh);
  queue.SetGroups("a1", {"repo-c"});
  EXPECT_EQ(queue.Get(0), "a1");
  queue.ShutDown();
}

}  // namespace
}  // namespace todoke::orchestrator

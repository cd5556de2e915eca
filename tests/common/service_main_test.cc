// InitService, what every service binary's main() runs first.
#include "common/service_main.h"

#include <gtest/gtest.h>

#include <vector>

#include "absl/synchronization/mutex.h"

namespace todoke {
namespace {

// absl::Mutex's deadlock detection (on wherever absl was built without NDEBUG, as Debian's is)
// costs every lock of every Mutex a global graph look-up, and aborts the process on a lock order
// it only suspects. A service runs without it: two locks taken in both orders, never at once from
// two threads, do not kill it.
TEST(InitServiceTest, ASuspectedLockOrderDoesNotAbortTheService) {
  char name[] = "service_main_test";
  std::vector<char*> argv = {name};
  InitService(static_cast<int>(argv.size()), argv.data(), "test", "service_main_test");
  absl::Mutex first, second;
  {
    absl::MutexLock a(&first);
    absl::MutexLock b(&second);
  }
  {
    absl::MutexLock b(&second);
    absl::MutexLock a(&first);
  }
  SUCCEED();
}

}  // namespace
}  // namespace todoke

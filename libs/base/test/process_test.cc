// SetUpServingProcess: Abseil's lock-order detection off by default, on
// (aborting at a cycle) with CUSTOPS_MUTEX_DEADLOCK_DETECTION=1. Each case
// runs in a child process (a death test), since the setting is global.
#include "custops/base/process.h"

#include <cstdlib>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"

namespace custops::base {
namespace {

// Takes a then b, then b then a: a lock-order cycle (never a real deadlock,
// one thread), then exits 0.
void InvertLockOrder() {
  absl::Mutex a;
  absl::Mutex b;
  {
    absl::MutexLock la(&a);
    absl::MutexLock lb(&b);
  }
  {
    absl::MutexLock lb(&b);
    absl::MutexLock la(&a);
  }
  std::exit(0);
}

TEST(ProcessDeathTest, ALockOrderCycleIsNotTrackedByDefault) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(
      {
        unsetenv("CUSTOPS_MUTEX_DEADLOCK_DETECTION");
        if (SetUpServingProcess()) std::exit(2);
        InvertLockOrder();
      },
      testing::ExitedWithCode(0), "");
}

TEST(ProcessDeathTest, TheEnvironmentTurnsTheDetectionOn) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        setenv("CUSTOPS_MUTEX_DEADLOCK_DETECTION", "1", 1);
        if (!SetUpServingProcess()) std::exit(2);
        InvertLockOrder();
      },
      "Potential Mutex deadlock");
}

}  // namespace
}  // namespace custops::base

#include "custops/base/executor.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace custops::base {
namespace {

TEST(ExecutorTest, RunsEveryClosureOnItsThreads) {
  std::atomic<int> ran{0};
  {
    Executor pool({.threads = 3, .name = "test"});
    for (int i = 0; i < 1000; ++i) pool.Schedule([&] { ran++; });
  }  // the destructor drains the queue
  EXPECT_EQ(ran.load(), 1000);
}

TEST(ExecutorTest, ABlockedWorkerDoesNotStopTheOthers) {
  Executor pool({.threads = 2});
  absl::Notification release, second;
  pool.Schedule([&] { release.WaitForNotification(); });
  pool.Schedule([&] { second.Notify(); });
  EXPECT_TRUE(second.WaitForNotificationWithTimeout(absl::Seconds(10)));
  release.Notify();
}

TEST(TimerQueueTest, FiresInTimeOrder) {
  TimerQueue timers;
  absl::Mutex mu;
  std::vector<int> order;
  absl::Notification done;
  const absl::Time now = absl::Now();
  timers.Schedule(now + absl::Milliseconds(60), [&] {
    absl::MutexLock l(&mu);
    order.push_back(3);
    done.Notify();
  });
  timers.Schedule(now + absl::Milliseconds(20), [&] {
    absl::MutexLock l(&mu);
    order.push_back(2);
  });
  timers.Schedule(now - absl::Seconds(1), [&] {
    absl::MutexLock l(&mu);
    order.push_back(1);
  });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  absl::MutexLock l(&mu);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(TimerQueueTest, CancelledTimerNeverRuns) {
  TimerQueue timers;
  std::atomic<bool> cancelled_ran{false};
  absl::Notification later;
  const TimerId id =
      timers.Schedule(absl::Now() + absl::Milliseconds(30), [&] { cancelled_ran = true; });
  EXPECT_TRUE(timers.Cancel(id));
  EXPECT_FALSE(timers.Cancel(id));
  // A timer after the cancelled one's instant has fired: the cancelled one
  // would have run before it.
  timers.Schedule(absl::Now() + absl::Milliseconds(60), [&] { later.Notify(); });
  ASSERT_TRUE(later.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(cancelled_ran.load());
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(TimerQueueTest, CancelAfterFiringReportsFalse) {
  TimerQueue timers;
  absl::Notification fired;
  const TimerId id = timers.Schedule(absl::Now(), [&] { fired.Notify(); });
  ASSERT_TRUE(fired.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_FALSE(timers.Cancel(id));
}

}  // namespace
}  // namespace custops::base

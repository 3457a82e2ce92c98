#include "custops/projection/position_waiters.h"

#include <atomic>
#include <vector>

#include "absl/synchronization/notification.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::projection {
namespace {

using ::custops::testing::StatusIs;

TEST(PositionWaitersTest, UpdateCompletesOnlyReachedWaiters) {
  base::TimerQueue timers;
  PositionWaiters waiters(timers);
  absl::Status first = absl::UnknownError("not called"), second = first;
  const absl::Time far = absl::Now() + absl::Hours(1);
  waiters.Add({5, 0}, far, absl::DeadlineExceededError("late"), [&](absl::Status s) { first = s; });
  waiters.Add({5, 9}, far, absl::DeadlineExceededError("late"),
              [&](absl::Status s) { second = s; });
  waiters.Update({4, 100}, {});
  EXPECT_THAT(first, StatusIs(absl::StatusCode::kUnknown, "not called"));
  waiters.Update({5, 3}, {});
  EXPECT_OK(first);
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnknown, "not called"));
  EXPECT_EQ(waiters.pending(), 1u);
  // Partition 1 is owned elsewhere: not this instance's business.
  waiters.Update({5, 3}, {true, false});
  EXPECT_OK(second);
  EXPECT_EQ(waiters.pending(), 0u);
  EXPECT_EQ(timers.pending(), 0u);  // their deadlines were cancelled
}

TEST(PositionWaitersTest, DeadlineGivesTheTimeoutStatusOnce) {
  base::TimerQueue timers;
  PositionWaiters waiters(timers);
  std::atomic<int> calls{0};
  absl::Notification done;
  absl::Status got;
  waiters.Add({1}, absl::Now() + absl::Milliseconds(20), absl::DeadlineExceededError("late"),
              [&](absl::Status s) {
                got = s;
                calls++;
                done.Notify();
              });
  ASSERT_TRUE(done.WaitForNotificationWithTimeout(absl::Seconds(10)));
  EXPECT_THAT(got, StatusIs(absl::StatusCode::kDeadlineExceeded, "late"));  // the one given
  waiters.Update({10}, {});  // too late: already completed
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(waiters.pending(), 0u);
}

TEST(PositionWaitersTest, CloseAndDestructionCompleteEveryWaiter) {
  base::TimerQueue timers;
  std::atomic<int> unavailable{0};
  {
    PositionWaiters waiters(timers);
    for (int i = 0; i < 1000; ++i) {
      waiters.Add({1}, absl::Now() + absl::Hours(1), absl::DeadlineExceededError("late"),
                  [&](absl::Status s) {
                    if (s.code() == absl::StatusCode::kUnavailable) unavailable++;
                  });
    }
    EXPECT_EQ(waiters.pending(), 1000u);
  }
  EXPECT_EQ(unavailable.load(), 1000);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(PositionWaitersTest, AWaiterAddedAfterCloseCompletesAtOnceWithTheCloseStatus) {
  base::TimerQueue timers;
  PositionWaiters waiters(timers);
  std::vector<absl::Status> seen;
  waiters.Add({1}, absl::Now() + absl::Hours(1), absl::DeadlineExceededError("late"),
              [&](absl::Status s) { seen.push_back(s); });
  waiters.Close(absl::AbortedError("retired"));
  // A caller that checked the offsets just before Close adds its waiter
  // after it: it must not wait for its deadline.
  waiters.Add({1}, absl::Now() + absl::Hours(1), absl::DeadlineExceededError("late"),
              [&](absl::Status s) { seen.push_back(s); });
  ASSERT_EQ(seen.size(), 2u);
  for (const absl::Status& s : seen) EXPECT_EQ(s, absl::AbortedError("retired"));
  EXPECT_EQ(waiters.pending(), 0u);
  EXPECT_EQ(timers.pending(), 0u);
}

TEST(PositionWaitersTest, ReachedIgnoresPartitionsNotOwned) {
  EXPECT_TRUE(Reached({3, 7}, {3, 7}, {}));
  EXPECT_FALSE(Reached({3, 8}, {3, 7}, {}));
  EXPECT_TRUE(Reached({3, 8}, {3, 7}, {true, false}));
  EXPECT_FALSE(Reached({3, 8}, {3}, {}));
}

}  // namespace
}  // namespace custops::projection

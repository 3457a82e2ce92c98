#include "custops/base/clock.h"

#include <thread>
#include <vector>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace custops::base {
namespace {

const absl::Time kStart = absl::FromUnixSeconds(1'700'000'000);

// What a library sees: a `const Clock&`.
absl::Time NowOf(const Clock& clock) { return clock.Now(); }

TEST(SimulatedClockTest, StandsStillUntilTold) {
  SimulatedClock clock(kStart);
  EXPECT_EQ(clock.Now(), kStart);
  EXPECT_EQ(NowOf(clock), kStart);
  EXPECT_EQ(clock.Now(), kStart);  // reading does not move it
}

TEST(SimulatedClockTest, AdvancesBySumsOfDurations) {
  SimulatedClock clock(kStart);
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(NowOf(clock), kStart + absl::Hours(24));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(clock.Now(), kStart + absl::Hours(24) + absl::Milliseconds(1));
  clock.Advance(absl::ZeroDuration());
  EXPECT_EQ(clock.Now(), kStart + absl::Hours(24) + absl::Milliseconds(1));
}

TEST(SimulatedClockTest, SetJumpsForwardOrBack) {
  SimulatedClock clock(kStart);
  clock.Set(kStart + absl::Hours(5));
  EXPECT_EQ(clock.Now(), kStart + absl::Hours(5));
  clock.Set(kStart - absl::Seconds(1));
  EXPECT_EQ(NowOf(clock), kStart - absl::Seconds(1));
  clock.Advance(absl::Seconds(1));
  EXPECT_EQ(clock.Now(), kStart);
}

TEST(SimulatedClockTest, ConcurrentAdvancesAllCount) {
  SimulatedClock clock(kStart);
  constexpr int kThreads = 4;
  constexpr int kSteps = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&clock] {
      for (int i = 0; i < kSteps; ++i) {
        clock.Advance(absl::Milliseconds(1));
        (void)clock.Now();
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(clock.Now(), kStart + absl::Milliseconds(kThreads * kSteps));
}

TEST(SystemClockTest, IsOneInstanceReadingTheTimeOfDay) {
  SystemClock& clock = SystemClock::Instance();
  EXPECT_EQ(&clock, &SystemClock::Instance());
  const absl::Time before = absl::Now();
  const absl::Time now = NowOf(clock);
  const absl::Time after = absl::Now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace custops::base

#include "custops/base/clock.h"

#include <chrono>
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
absl::Time MonotonicOf(const Clock& clock) { return clock.Monotonic(); }
// The steady clock, as SystemClock::Monotonic reads it.
absl::Time Steady() {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

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

TEST(SimulatedClockTest, SimulatedIntervalsStandStillUntilTold) {
  SimulatedClock clock(kStart, SimulatedClock::Intervals::kSimulated);
  const absl::Time m0 = MonotonicOf(clock);
  EXPECT_EQ(clock.Monotonic(), m0);  // reading does not move it
  EXPECT_EQ(MonotonicOf(clock), m0);
}

TEST(SimulatedClockTest, AdvanceMovesBothTimesAlike) {
  SimulatedClock clock(kStart, SimulatedClock::Intervals::kSimulated);
  const absl::Time m0 = clock.Monotonic();
  clock.Advance(absl::Hours(24));
  EXPECT_EQ(clock.Now(), kStart + absl::Hours(24));
  EXPECT_EQ(MonotonicOf(clock) - m0, absl::Hours(24));
  clock.Advance(absl::Milliseconds(1));
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(24) + absl::Milliseconds(1));
  clock.Advance(absl::ZeroDuration());
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(24) + absl::Milliseconds(1));
}

TEST(SimulatedClockTest, MonotonicTimeNeverGoesBack) {
  SimulatedClock clock(kStart, SimulatedClock::Intervals::kSimulated);
  const absl::Time m0 = clock.Monotonic();
  clock.Set(kStart + absl::Hours(5));  // forward: both move as far
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(5));
  clock.Set(kStart - absl::Seconds(1));  // back: Now() only
  EXPECT_EQ(clock.Now(), kStart - absl::Seconds(1));
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(5));
  clock.Set(kStart);  // forward again, from where Now() is
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(5) + absl::Seconds(1));
  clock.Advance(-absl::Minutes(1));  // a negative step: Now() only
  EXPECT_EQ(clock.Now(), kStart - absl::Minutes(1));
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(5) + absl::Seconds(1));
  clock.AdvanceMonotonic(-absl::Minutes(1));  // ignored
  EXPECT_EQ(clock.Monotonic() - m0, absl::Hours(5) + absl::Seconds(1));
}

TEST(SimulatedClockTest, AdvanceMonotonicLeavesNowAlone) {
  SimulatedClock clock(kStart, SimulatedClock::Intervals::kSimulated);
  const absl::Time m0 = clock.Monotonic();
  clock.AdvanceMonotonic(absl::Seconds(90));
  EXPECT_EQ(clock.Now(), kStart);
  EXPECT_EQ(MonotonicOf(clock) - m0, absl::Seconds(90));
  clock.AdvanceMonotonic(absl::ZeroDuration());
  EXPECT_EQ(clock.Monotonic() - m0, absl::Seconds(90));
}

TEST(SimulatedClockTest, ConcurrentAdvancesAllCountInMonotonicTime) {
  SimulatedClock clock(kStart, SimulatedClock::Intervals::kSimulated);
  const absl::Time m0 = clock.Monotonic();
  constexpr int kThreads = 4;
  constexpr int kSteps = 1000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&clock, t] {
      absl::Time last = clock.Monotonic();
      for (int i = 0; i < kSteps; ++i) {
        if (t % 2 == 0) {
          clock.Advance(absl::Milliseconds(1));
        } else {
          clock.AdvanceMonotonic(absl::Milliseconds(1));
        }
        const absl::Time m = clock.Monotonic();
        EXPECT_GE(m, last);
        last = m;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(clock.Monotonic() - m0, absl::Milliseconds(kThreads * kSteps));
  EXPECT_EQ(clock.Now(), kStart + absl::Milliseconds(kThreads / 2 * kSteps));
}

// The default (a --fixed-clock server's): Now() stands still, intervals are
// the steady clock's plus what the clock was moved.
TEST(SimulatedClockTest, RealIntervalsFollowTheSteadyClockPlusTheMoves) {
  SimulatedClock clock(kStart);
  absl::Time before = Steady();
  absl::Time m = MonotonicOf(clock);
  absl::Time after = Steady();
  EXPECT_LE(before, m);
  EXPECT_LE(m, after);
  clock.Advance(absl::Hours(1));
  clock.AdvanceMonotonic(absl::Minutes(1));
  clock.Set(kStart);  // back: intervals keep what they gained
  before = Steady();
  m = clock.Monotonic();
  after = Steady();
  EXPECT_LE(before + absl::Minutes(61), m);
  EXPECT_LE(m, after + absl::Minutes(61));
  EXPECT_EQ(clock.Now(), kStart);
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

TEST(SystemClockTest, MonotonicIsTheSteadyClockAndNeverGoesBack) {
  const SystemClock& clock = SystemClock::Instance();
  const absl::Time before = Steady();
  const absl::Time m = MonotonicOf(clock);
  const absl::Time after = Steady();
  EXPECT_LE(before, m);
  EXPECT_LE(m, after);
  absl::Time last = m;
  for (int i = 0; i < 10'000; ++i) {
    const absl::Time next = clock.Monotonic();
    ASSERT_GE(next, last);
    last = next;
  }
}

}  // namespace
}  // namespace custops::base

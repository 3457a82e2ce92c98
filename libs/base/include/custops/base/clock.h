// The injected clock. Libraries never read the wall clock themselves: they
// take a `Clock&` (which must outlive them), so tests can drive time.
//
// A clock has two times (as Envoy's TimeSource): Now(), the instant of the
// domain ("now" of events, rules, as_of), and Monotonic(), for intervals
// (pacing, staleness, latency). Only differences of Monotonic() mean
// anything: it is an offset from an arbitrary epoch, never comparable with
// Now(), and it never goes back.
//
//   custops::base::SimulatedClock clock(absl::FromUnixSeconds(1700000000),
//                                       custops::base::SimulatedClock::Intervals::kSimulated);
//   clock.Advance(absl::Hours(24));  // both times move a day
//   const absl::Time since = clock.Monotonic();
//   clock.AdvanceMonotonic(absl::Seconds(1));  // Now() stands still
//   if (clock.Monotonic() - since >= absl::Seconds(1)) { /* an interval passed */ }
//
// A library measures with the clock it was given:
//
//   const absl::Time started = clock_.Monotonic();
//   DoWork();
//   const absl::Duration took = clock_.Monotonic() - started;
#ifndef CUSTOPS_BASE_CLOCK_H_
#define CUSTOPS_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace custops::base {

// Thread-safe source of "now" and of monotonic time.
class Clock {
 public:
  virtual ~Clock() = default;
  // The domain's current instant.
  virtual absl::Time Now() const = 0;
  // Monotonic time, for measuring intervals: only differences mean anything
  // (the epoch is arbitrary), and it never decreases.
  virtual absl::Time Monotonic() const = 0;
};

// The real time of day, and the steady clock for intervals.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // std::chrono::steady_clock as an offset from the Unix epoch (arbitrary:
  // not the time of day).
  absl::Time Monotonic() const override;
  // A process-wide instance.
  static SystemClock& Instance();
};

// A clock whose Now() moves only when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  // What Monotonic() follows besides Advance, Set and AdvanceMonotonic.
  enum class Intervals {
    // The steady clock too: a server on a fixed instant (--fixed-clock)
    // still paces and expires on real time.
    kReal,
    // Nothing else: monotonic time stands still until the test moves it, so
    // a test proves what an interval does (or does not) trigger without
    // sleeping.
    kSimulated,
  };

  explicit SimulatedClock(absl::Time start, Intervals intervals = Intervals::kReal)
      : intervals_(intervals), now_(start) {}

  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  absl::Time Monotonic() const override;

  // Moves Now() to `t`; monotonic time moves as far forward (a move back
  // leaves it where it is).
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    if (t > now_) elapsed_ += t - now_;
    now_ = t;
  }
  // Moves Now() by `d`; monotonic time moves by `d` too (by nothing when `d`
  // is negative).
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
    if (d > absl::ZeroDuration()) elapsed_ += d;
  }
  // Moves monotonic time alone by `d` (by nothing when negative): time
  // passes while the domain's instant stands still, as on a fixed clock.
  void AdvanceMonotonic(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    if (d > absl::ZeroDuration()) elapsed_ += d;
  }

 private:
  const Intervals intervals_;
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
  // What Advance, Set and AdvanceMonotonic added to monotonic time.
  absl::Duration elapsed_ ABSL_GUARDED_BY(mu_);
};

}  // namespace custops::base

#endif  // CUSTOPS_BASE_CLOCK_H_

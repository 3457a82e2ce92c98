// The injected clock. Libraries never read the wall clock themselves: they
// take a `Clock&` (which must outlive them), so tests can drive time.
//
//   custops::base::SimulatedClock clock(absl::FromUnixSeconds(1700000000));
//   clock.Advance(absl::Hours(24));
#ifndef CUSTOPS_BASE_CLOCK_H_
#define CUSTOPS_BASE_CLOCK_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace custops::base {

// Thread-safe source of "now".
class Clock {
 public:
  virtual ~Clock() = default;
  virtual absl::Time Now() const = 0;
};

// The real time of day.
class SystemClock final : public Clock {
 public:
  absl::Time Now() const override { return absl::Now(); }
  // A process-wide instance.
  static SystemClock& Instance();
};

// A clock that moves only when told to. Thread-safe.
class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(absl::Time start) : now_(start) {}
  absl::Time Now() const override {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Set(absl::Time t) {
    absl::MutexLock lock(&mu_);
    now_ = t;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

}  // namespace custops::base

#endif  // CUSTOPS_BASE_CLOCK_H_

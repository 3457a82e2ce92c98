#include "custops/base/clock.h"

#include <chrono>

namespace custops::base {

absl::Time SystemClock::Monotonic() const {
  return absl::UnixEpoch() + absl::FromChrono(std::chrono::steady_clock::now().time_since_epoch());
}

SystemClock& SystemClock::Instance() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

absl::Time SimulatedClock::Monotonic() const {
  const absl::Time base =
      intervals_ == Intervals::kReal ? SystemClock::Instance().Monotonic() : absl::UnixEpoch();
  absl::MutexLock lock(&mu_);
  return base + elapsed_;
}

}  // namespace custops::base

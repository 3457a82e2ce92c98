#include "custops/rpc/log_limiter.h"

namespace custops::rpc {

bool LogLimiter::Allow() {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  if (now - window_start_ >= window_) {
    window_start_ = now;
    used_ = 0;
  }
  if (used_ >= burst_) {
    ++dropped_;
    return false;
  }
  ++used_;
  reported_ = dropped_;
  dropped_ = 0;
  return true;
}

int64_t LogLimiter::suppressed() const {
  absl::MutexLock lock(&mu_);
  return reported_;
}

}  // namespace custops::rpc

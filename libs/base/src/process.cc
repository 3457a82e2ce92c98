#include "custops/base/process.h"

#include <cstdlib>
#include <string_view>

#include "absl/synchronization/mutex.h"

namespace custops::base {

bool SetUpServingProcess() {
  const char* env = std::getenv("CUSTOPS_MUTEX_DEADLOCK_DETECTION");
  const bool on = env != nullptr && std::string_view(env) == "1";
  absl::SetMutexDeadlockDetectionMode(on ? absl::OnDeadlockCycle::kAbort
                                         : absl::OnDeadlockCycle::kIgnore);
  return on;
}

}  // namespace custops::base

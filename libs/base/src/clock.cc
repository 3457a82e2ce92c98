#include "custops/base/clock.h"

namespace custops::base {

SystemClock& SystemClock::Instance() {
  static SystemClock* clock = new SystemClock();
  return *clock;
}

}  // namespace custops::base

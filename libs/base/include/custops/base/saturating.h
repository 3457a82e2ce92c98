// int64 arithmetic that saturates instead of wrapping: a result that would
// overflow sticks at INT64_MAX / INT64_MIN (the end the exact result lies
// beyond). For amounts and counts summed from untrusted events. Header-only.
//
//   total = base::SaturatingAdd(total, amount_units);
//   owed = base::SaturatingSub(amount_units, paid_units);
#ifndef CUSTOPS_BASE_SATURATING_H_
#define CUSTOPS_BASE_SATURATING_H_

#include <cstdint>

namespace custops::base {

// a + b, clamped to the int64 range.
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

// a - b, clamped to the int64 range.
inline int64_t SaturatingSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return b < 0 ? INT64_MAX : INT64_MIN;
  return r;
}

}  // namespace custops::base

#endif  // CUSTOPS_BASE_SATURATING_H_

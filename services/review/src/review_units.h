// How the review state stores instants and amounts: instants as int64
// microseconds since the Unix epoch (the *_micros fields of
// internal/review_state.proto), amounts and counts as int64 units summed
// saturating (a sum that would overflow sticks at INT64_MAX / INT64_MIN).
// Shared by the slice codec and the applier.
#ifndef CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_
#define CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_

#include <cstdint>

#include "absl/time/time.h"
#include "custops/event/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::review {

inline int64_t Micros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(event::FromProto(t));
}
inline absl::Time FromMicros(int64_t m) { return absl::FromUnixMicros(m); }

// a + b, clamped to the int64 range.
inline int64_t Saturating(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_

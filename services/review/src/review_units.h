// How the review state stores instants and amounts: instants as int64
// microseconds since the Unix epoch (the *_micros fields of
// internal/review_state.proto; a Timestamp converts with event::ToUnixMicros
// of custops/event/time.h), amounts and counts as int64 units summed
// saturating (base::SaturatingAdd of custops/base/saturating.h: a sum that
// would overflow sticks at INT64_MAX / INT64_MIN). Shared by the slice codec
// and the applier.
#ifndef CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_
#define CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_

#include <cstdint>

#include "absl/time/time.h"

namespace custops::review {

inline absl::Time FromMicros(int64_t m) { return absl::FromUnixMicros(m); }

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_REVIEW_UNITS_H_

// Shared by the lifecycle rules' three files (private to libs/domain): the
// int64-microsecond arithmetic, Timestamp output, a contract's active interval
// (lifecycle.cc, the classification) and the profile / MAN readings of the
// facts (lifecycle_view.cc) that classification answers reuse.
#ifndef CUSTOPS_DOMAIN_SRC_LIFECYCLE_INTERNAL_H_
#define CUSTOPS_DOMAIN_SRC_LIFECYCLE_INTERNAL_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>

#include "absl/time/time.h"
#include "custops/domain/lifecycle.h"
#include "custops/internal/lifecycle_facts.pb.h"
#include "custops/v1/lifecycle.pb.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain::lifecycle_internal {

inline constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
inline constexpr int64_t kNegInf = std::numeric_limits<int64_t>::min();
inline constexpr int64_t kMicrosPerSecond = 1'000'000;

inline int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kInf : kNegInf;
  return r;
}

// Thresholds are at least 1 µs so every time-driven instant lies strictly
// after the state it is computed from.
inline int64_t PositiveMicros(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Microseconds(d));
}

inline int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return kInf;
  if (t == absl::InfinitePast()) return kNegInf;
  return absl::ToUnixMicros(t);
}

inline absl::Time MicrosToTime(int64_t us) { return absl::FromUnixMicros(us); }

inline void SetTimestamp(int64_t us, google::protobuf::Timestamp* ts) {
  int64_t seconds = us / kMicrosPerSecond;
  int64_t micros = us % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(micros * 1000));
}

// The contract's active interval [start, end) as known once every event at
// or before `known_at` has been applied; false when not known (not signed).
inline bool ContractInterval(const internal::ContractFacts& c, int64_t known_at, int64_t* start,
                             int64_t* end) {
  if (!c.has_signed_at_us() || c.signed_at_us() > known_at) return false;
  *start = c.start_us();
  *end = c.has_end_us() ? c.end_us() : kInf;
  for (const internal::Renewal& r : c.renewals()) {
    if (r.at_us() > known_at) break;
    *end = r.new_end_us();
  }
  if (c.has_terminated_at_us() && c.terminated_at_us() <= known_at) {
    *end = std::min(*end, c.terminated_at_us());
  }
  return true;
}

// View readings (lifecycle_view.cc).

// The profile as of `as_of_us`: registration then updates, in event order.
// A registration sets its non-empty fields, an update its present ones.
void FoldProfile(const internal::CustomerFacts& facts, int64_t as_of_us, v1::CustomerProfile* p);

// "MAN" ... "man" at as_of_us, given the profile at as_of_us.
std::string ManClassFor(const internal::CustomerFacts& facts, int64_t as_of_us,
                        const LifecycleRules& rules, const v1::CustomerProfile& profile);

bool IsProspectOrIntent(v1::LifecycleStage stage);

}  // namespace custops::domain::lifecycle_internal

#endif  // CUSTOPS_DOMAIN_SRC_LIFECYCLE_INTERNAL_H_

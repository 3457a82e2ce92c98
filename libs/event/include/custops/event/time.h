// google.protobuf.Timestamp <-> absl::Time, exact to the microsecond.
#ifndef CUSTOPS_EVENT_TIME_H_
#define CUSTOPS_EVENT_TIME_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::event {

inline absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

inline google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds toward -infinity
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

// `t` as int64 microseconds since the Unix epoch: absl::ToUnixMicros of
// FromProto(t), sub-microsecond nanos rounded toward -infinity. How the
// projections store an instant in their keys and state.
inline int64_t ToUnixMicros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(FromProto(t));
}

// The one Timestamp check of every request path (commands, queries, raw
// Append): seconds within 0001-01-01..9999-12-31T23:59:59 and nanos within
// 0..999999999. INVALID_ARGUMENT naming `field` ("as_of", "occurred_at.nanos").
absl::Status CheckTimestamp(const google::protobuf::Timestamp& ts, std::string_view field);

// `ts` as an instant after CheckTimestamp; `absent` when !has.
absl::StatusOr<absl::Time> TimeOf(bool has, const google::protobuf::Timestamp& ts,
                                  std::string_view field, absl::Time absent);

}  // namespace custops::event

#endif  // CUSTOPS_EVENT_TIME_H_

// Parsing of what an operator types on the custopsctl command line: enum
// names (with or without their prefix, any case) and RFC 3339 times. Pure
// functions, thread-safe; errors are INVALID_ARGUMENT with a message meant
// for a person ("unknown stage 'INTNT' (one of PROSPECT, INTENT, CUSTOMER,
// LOST)").
//
//   absl::StatusOr<v1::LifecycleStage> stage = ParseLifecycleStage("intent");
//   absl::StatusOr<absl::Time> t = ParseRfc3339("2025-06-30T16:00:00Z");
#ifndef CUSTOPS_CTL_PARSE_H_
#define CUSTOPS_CTL_PARSE_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/lifecycle_types.pb.h"
#include "custops/v1/value_types.pb.h"
#include "google/protobuf/descriptor.h"

namespace custops::ctl {

// The value of `descriptor` named by `text`: the full name
// ("LIFECYCLE_STAGE_INTENT") or the name without the enum's prefix
// ("INTENT"), case-insensitive, '-' taken as '_'. *_UNSPECIFIED is not
// accepted. `what` names the thing in the error ("stage").
absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor& descriptor,
                                  std::string_view text, std::string_view what);

absl::StatusOr<v1::LifecycleStage> ParseLifecycleStage(std::string_view text);
absl::StatusOr<v1::SubStage> ParseSubStage(std::string_view text);
absl::StatusOr<v1::CustomerKind> ParseCustomerKind(std::string_view text);
absl::StatusOr<v1::Dimension> ParseDimension(std::string_view text);
absl::StatusOr<v1::Granularity> ParseGranularity(std::string_view text);
absl::StatusOr<v1::Tier> ParseTier(std::string_view text);

// A review period as an operator names it: `period` is a period key as the
// review prints it — "2024" (YEAR), "2024-Q1" (QUARTER), "2024-03" (MONTH),
// "2024-W09" (ISO WEEK), "2024-03-15" (DAY), docs/review.md "Periods" — or
// an RFC 3339 instant inside the period; empty = `now`. `granularity` is
// needed only with an instant (default MONTH); with a key it may be left
// out and must agree when given. A key is sent as the noon of the period's
// middle day in `zone` (default the server's default reporting zone,
// Asia/Shanghai), an instant inside the period for any reporting zone
// within 12 hours of it.
struct PeriodArgs {
  std::string granularity;
  std::string period;
  std::string zone = "Asia/Shanghai";
};

struct ResolvedPeriod {
  v1::Granularity granularity = v1::GRANULARITY_UNSPECIFIED;
  absl::Time instant;
};

// INVALID_ARGUMENT naming the flag (--granularity, --period, --zone).
absl::StatusOr<ResolvedPeriod> ResolvePeriod(const PeriodArgs& args, absl::Time now);

// "INTENT" for LIFECYCLE_STAGE_INTENT: the value's name without the enum's
// prefix; the number when the value is unknown to this build.
std::string ShortEnumName(const google::protobuf::EnumDescriptor& descriptor, int value);

// An RFC 3339 date-time with a UTC offset or "Z", fractional seconds
// allowed: "2025-06-30T16:00:00Z", "2025-07-01T00:00:00+08:00".
absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text);

// RFC 3339 in UTC, fractional seconds only when present.
std::string FormatRfc3339(absl::Time t);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_PARSE_H_

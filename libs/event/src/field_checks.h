// Field-level checks shared by the event validators: ids, text, enums, Money,
// timestamps, dates and periods. Each returns OK or INVALID_ARGUMENT
// "<path>: <what is wrong>". Paths are built on the stack and rendered only
// when a check fails, so a valid event costs no allocation.
#ifndef CUSTOPS_EVENT_SRC_FIELD_CHECKS_H_
#define CUSTOPS_EVENT_SRC_FIELD_CHECKS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "custops/event/validate.h"
#include "custops/v1/common.pb.h"
#include "google/protobuf/generated_enum_reflection.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::event::internal {

// A dotted field path ("events[3].contract_signed.amount") as a chain of
// stack-allocated segments. A child refers to its parent: it must not outlive
// it (use children as temporaries or locals of a callee).
class FieldPath {
 public:
  // A root segment, e.g. "event" or "events" with index 3 → "events[3]".
  explicit FieldPath(std::string_view name, int64_t index = -1)
      : parent_(nullptr), name_(name), index_(index) {}

  FieldPath Child(std::string_view name) const { return FieldPath(this, name); }

  std::string ToString() const;

 private:
  FieldPath(const FieldPath* parent, std::string_view name)
      : parent_(parent), name_(name), index_(-1) {}
  void AppendTo(std::string& out) const;

  const FieldPath* parent_;
  std::string_view name_;
  int64_t index_;
};

// Debian's Abseil has its own absl::string_view, distinct from
// std::string_view: convert at calls into Abseil.
inline absl::string_view AbslView(std::string_view s) { return {s.data(), s.size()}; }

enum class Presence { kRequired, kOptional };

// INVALID_ARGUMENT "<path>: <what>".
absl::Status Invalid(const FieldPath& path, std::string_view what);
// INVALID_ARGUMENT "<path>: required".
absl::Status Required(const FieldPath& path);

// `value` for an error message: C-escaped, truncated, quoted when empty.
std::string Shown(std::string_view value);

// An opaque id: 1..max_id_bytes bytes of UTF-8 without control characters.
// Empty is "required" when kRequired and OK when kOptional.
absl::Status CheckId(std::string_view value, const FieldPath& path,
                     const ValidationOptions& options, Presence presence = Presence::kRequired);

// A one-line label (name, region, product): ≤ max_text_bytes of UTF-8, no
// control characters. Required means not empty and not only whitespace.
absl::Status CheckLabel(std::string_view value, const FieldPath& path,
                        const ValidationOptions& options, Presence presence = Presence::kOptional);

// Free text (note, reason): like a label, but tab, LF and CR are allowed.
absl::Status CheckText(std::string_view value, const FieldPath& path,
                       const ValidationOptions& options, Presence presence = Presence::kOptional);

// An enum field: a value the contract knows, and not *_UNSPECIFIED (0) when
// required. `is_valid` is the generated <Enum>_IsValid.
absl::Status CheckEnumValue(int value, bool (*is_valid)(int),
                            const google::protobuf::EnumDescriptor* descriptor,
                            const FieldPath& path, Presence presence);

template <typename E>
absl::Status CheckEnum(E value, bool (*is_valid)(int), const FieldPath& path, Presence presence) {
  return CheckEnumValue(static_cast<int>(value), is_valid, google::protobuf::GetEnumDescriptor<E>(),
                        path, presence);
}

enum class Sign { kNonNegative, kPositive };

// A Money sub-message: currency equal to options.currency, units per `sign`.
// `has` is the generated has_<field>().
absl::Status CheckMoney(bool has, const v1::Money& money, const FieldPath& path,
                        const ValidationOptions& options, Presence presence,
                        Sign sign = Sign::kNonNegative);

// Timestamps accepted anywhere in an event, inclusive bounds.
inline constexpr int64_t kMinTimestampSeconds = 0;           // 1970-01-01T00:00:00Z
inline constexpr int64_t kMaxTimestampSeconds = 7258118400;  // 2200-01-01T00:00:00Z

// A Timestamp within [kMinTimestampSeconds, kMaxTimestampSeconds], nanos in
// 0..999,999,999.
absl::Status CheckTimestamp(bool has, const google::protobuf::Timestamp& ts, const FieldPath& path,
                            Presence presence);

// (seconds, nanos) order.
int CompareTimestamps(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b);

// A real calendar date, year 1900..2200.
inline constexpr int32_t kMinDateYear = 1900;
inline constexpr int32_t kMaxDateYear = 2200;
absl::Status CheckDate(bool has, const v1::Date& date, const FieldPath& path, Presence presence);

// A reporting period: granularity known and set, start a valid timestamp.
absl::Status CheckPeriod(bool has, const v1::Period& period, const FieldPath& path,
                         Presence presence);

}  // namespace custops::event::internal

#endif  // CUSTOPS_EVENT_SRC_FIELD_CHECKS_H_

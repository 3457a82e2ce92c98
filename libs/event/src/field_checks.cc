#include "field_checks.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "custops/event/time.h"
#include "google/protobuf/descriptor.h"

namespace custops::event::internal {
namespace {

// Longest prefix of a client-supplied value echoed back in an error.
constexpr size_t kMaxShownBytes = 32;

enum class TextProblem { kNone, kInvalidUtf8, kControl };

struct TextScan {
  TextProblem problem = TextProblem::kNone;
  size_t offset = 0;        // byte offset of the offending sequence
  uint32_t code_point = 0;  // for kControl
};

// One pass over `s`: the first invalid UTF-8 sequence (overlong forms,
// surrogates and code points above U+10FFFF are invalid) or control
// character (C0, DEL, C1; tab/LF/CR are allowed when `allow_line_breaks`).
TextScan ScanText(std::string_view s, bool allow_line_breaks) {
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      if (c < 0x20 || c == 0x7f) {
        const bool line_break = c == '\t' || c == '\n' || c == '\r';
        if (!(allow_line_breaks && line_break)) return {TextProblem::kControl, i, c};
      }
      ++i;
      continue;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      len = 2;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      len = 3;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      len = 4;
      cp = c & 0x07;
    } else {
      return {TextProblem::kInvalidUtf8, i, 0};
    }
    if (n - i < len) return {TextProblem::kInvalidUtf8, i, 0};
    for (size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(s[i + k]);
      if ((b & 0xc0) != 0x80) return {TextProblem::kInvalidUtf8, i, 0};
      cp = (cp << 6) | (b & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
      return {TextProblem::kInvalidUtf8, i, 0};
    }
    if (cp >= 0x80 && cp <= 0x9f) return {TextProblem::kControl, i, cp};
    i += len;
  }
  return {};
}

absl::Status CheckString(std::string_view value, const FieldPath& path, size_t max_bytes,
                         bool allow_line_breaks) {
  if (value.size() > max_bytes) {
    return Invalid(path, absl::StrCat("must be at most ", max_bytes, " bytes, got ", value.size()));
  }
  const TextScan scan = ScanText(value, allow_line_breaks);
  switch (scan.problem) {
    case TextProblem::kNone:
      return absl::OkStatus();
    case TextProblem::kInvalidUtf8:
      return Invalid(path,
                     absl::StrCat("must be valid UTF-8 (bad byte at offset ", scan.offset, ")"));
    case TextProblem::kControl:
      return Invalid(path,
                     absl::StrFormat("must not contain control characters (U+%04X at offset %d)",
                                     scan.code_point, scan.offset));
  }
  return absl::OkStatus();
}

std::string EnumChoices(const google::protobuf::EnumDescriptor* descriptor) {
  std::string out = "one of ";
  bool first = true;
  for (int i = 0; i < descriptor->value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* value = descriptor->value(i);
    if (value->number() == 0) continue;  // *_UNSPECIFIED
    absl::StrAppend(&out, first ? "" : ", ", value->name());
    first = false;
  }
  return out;
}

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// `month` in 1..12.
int DaysInMonth(int year, int month) {
  static constexpr int kDays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

std::string FormatSeconds(int64_t seconds) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", absl::FromUnixSeconds(seconds),
                          absl::UTCTimeZone());
}

}  // namespace

void FieldPath::AppendTo(std::string& out) const {
  if (parent_ != nullptr) {
    parent_->AppendTo(out);
    out.push_back('.');
  }
  out.append(name_);
  if (index_ >= 0) absl::StrAppend(&out, "[", index_, "]");
}

std::string FieldPath::ToString() const {
  std::string out;
  AppendTo(out);
  return out;
}

absl::Status Invalid(const FieldPath& path, std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path.ToString(), ": ", AbslView(what)));
}

absl::Status Required(const FieldPath& path) { return Invalid(path, "required"); }

std::string Shown(std::string_view value) {
  if (value.empty()) return "\"\"";
  if (value.size() <= kMaxShownBytes) return absl::CHexEscape(AbslView(value));
  return absl::StrCat(absl::CHexEscape(AbslView(value.substr(0, kMaxShownBytes))), "...");
}

absl::Status CheckId(std::string_view value, const FieldPath& path,
                     const ValidationOptions& options, Presence presence) {
  if (value.empty()) {
    return presence == Presence::kRequired ? Required(path) : absl::OkStatus();
  }
  return CheckString(value, path, options.max_id_bytes, /*allow_line_breaks=*/false);
}

absl::Status CheckLabel(std::string_view value, const FieldPath& path,
                        const ValidationOptions& options, Presence presence) {
  if (presence == Presence::kRequired && absl::StripAsciiWhitespace(AbslView(value)).empty()) {
    return Required(path);
  }
  return CheckString(value, path, options.max_text_bytes, /*allow_line_breaks=*/false);
}

absl::Status CheckText(std::string_view value, const FieldPath& path,
                       const ValidationOptions& options, Presence presence) {
  if (presence == Presence::kRequired && absl::StripAsciiWhitespace(AbslView(value)).empty()) {
    return Required(path);
  }
  return CheckString(value, path, options.max_text_bytes, /*allow_line_breaks=*/true);
}

absl::Status CheckEnumValue(int value, bool (*is_valid)(int),
                            const google::protobuf::EnumDescriptor* descriptor,
                            const FieldPath& path, Presence presence) {
  if (!is_valid(value)) {
    return Invalid(path, absl::StrCat("unknown value ", value, " (", EnumChoices(descriptor), ")"));
  }
  if (value == 0 && presence == Presence::kRequired) {
    return Invalid(path, absl::StrCat("required (", EnumChoices(descriptor), ")"));
  }
  return absl::OkStatus();
}

absl::Status CheckMoney(bool has, const v1::Money& money, const FieldPath& path,
                        const ValidationOptions& options, Presence presence, Sign sign) {
  if (!has) return presence == Presence::kRequired ? Required(path) : absl::OkStatus();
  if (money.currency() != options.currency) {
    return Invalid(path.Child("currency"),
                   absl::StrCat("must be ", options.currency, ", got ", Shown(money.currency())));
  }
  if (sign == Sign::kPositive && money.units() <= 0) {
    return Invalid(path.Child("units"), absl::StrCat("must be > 0, got ", money.units()));
  }
  if (money.units() < 0) {
    return Invalid(path.Child("units"), absl::StrCat("must be >= 0, got ", money.units()));
  }
  return absl::OkStatus();
}

absl::Status CheckTimestamp(bool has, const google::protobuf::Timestamp& ts, const FieldPath& path,
                            Presence presence) {
  if (!has) return presence == Presence::kRequired ? Required(path) : absl::OkStatus();
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return Invalid(path.Child("nanos"), absl::StrCat("must be 0..999999999, got ", ts.nanos()));
  }
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      (ts.seconds() == kMaxTimestampSeconds && ts.nanos() != 0)) {
    return Invalid(path, absl::StrCat("must be within ", FormatSeconds(kMinTimestampSeconds), "..",
                                      FormatSeconds(kMaxTimestampSeconds), ", got seconds=",
                                      ts.seconds(), " (", FormatSeconds(ts.seconds()), ")"));
  }
  return absl::OkStatus();
}

}  // namespace custops::event::internal

namespace custops::event {

absl::Status CheckTimestamp(const google::protobuf::Timestamp& ts, std::string_view field) {
  // protobuf's own range (timestamp.proto), wider than the event rules'.
  constexpr int64_t kMin = -62'135'596'800;  // 0001-01-01T00:00:00Z
  constexpr int64_t kMax = 253'402'300'799;  // 9999-12-31T23:59:59Z
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(field), ".nanos: must be 0..999999999, got ", ts.nanos()));
  }
  if (ts.seconds() < kMin || ts.seconds() > kMax) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(field),
        ".seconds: must be within 0001-01-01T00:00:00Z..9999-12-31T23:59:59Z, got ", ts.seconds()));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> TimeOf(bool has, const google::protobuf::Timestamp& ts,
                                  std::string_view field, absl::Time absent) {
  if (!has) return absent;
  if (absl::Status s = CheckTimestamp(ts, field); !s.ok()) return s;
  return FromProto(ts);
}

}  // namespace custops::event

namespace custops::event::internal {

int CompareTimestamps(const google::protobuf::Timestamp& a, const google::protobuf::Timestamp& b) {
  if (a.seconds() != b.seconds()) return a.seconds() < b.seconds() ? -1 : 1;
  if (a.nanos() != b.nanos()) return a.nanos() < b.nanos() ? -1 : 1;
  return 0;
}

absl::Status CheckDate(bool has, const v1::Date& date, const FieldPath& path, Presence presence) {
  if (!has) return presence == Presence::kRequired ? Required(path) : absl::OkStatus();
  if (date.year() < kMinDateYear || date.year() > kMaxDateYear) {
    return Invalid(path.Child("year"), absl::StrCat("must be ", kMinDateYear, "..", kMaxDateYear,
                                                    ", got ", date.year()));
  }
  if (date.month() < 1 || date.month() > 12) {
    return Invalid(path.Child("month"), absl::StrCat("must be 1..12, got ", date.month()));
  }
  const int last_day = DaysInMonth(date.year(), date.month());
  if (date.day() < 1 || date.day() > last_day) {
    return Invalid(path.Child("day"),
                   absl::StrFormat("must be 1..%d for %04d-%02d, got %d", last_day, date.year(),
                                   date.month(), date.day()));
  }
  return absl::OkStatus();
}

absl::Status CheckPeriod(bool has, const v1::Period& period, const FieldPath& path,
                         Presence presence) {
  if (!has) return presence == Presence::kRequired ? Required(path) : absl::OkStatus();
  absl::Status status = CheckEnum(period.granularity(), &v1::Granularity_IsValid,
                                  path.Child("granularity"), Presence::kRequired);
  if (!status.ok()) return status;
  return CheckTimestamp(period.has_start(), period.start(), path.Child("start"),
                        Presence::kRequired);
}

}  // namespace custops::event::internal

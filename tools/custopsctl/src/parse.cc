#include "custops/ctl/parse.h"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/domain/period.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/generated_enum_reflection.h"

namespace custops::ctl {
namespace {

// "LIFECYCLE_STAGE_" for LifecycleStage: the name of the zero value without
// "UNSPECIFIED" (every contract enum starts with <PREFIX>_UNSPECIFIED = 0).
std::string EnumPrefix(const google::protobuf::EnumDescriptor& descriptor) {
  const google::protobuf::EnumValueDescriptor* zero = descriptor.FindValueByNumber(0);
  if (zero == nullptr) return "";
  const std::string& name = zero->name();
  constexpr std::string_view kUnspecified = "UNSPECIFIED";
  if (name.size() < kUnspecified.size() ||
      name.compare(name.size() - kUnspecified.size(), kUnspecified.size(), kUnspecified) != 0) {
    return "";
  }
  return name.substr(0, name.size() - kUnspecified.size());
}

template <typename E>
absl::StatusOr<E> ParseTyped(std::string_view text, std::string_view what) {
  absl::StatusOr<int> value = ParseEnumName(*google::protobuf::GetEnumDescriptor<E>(), text, what);
  if (!value.ok()) return value.status();
  return static_cast<E>(*value);
}

}  // namespace

absl::StatusOr<int> ParseEnumName(const google::protobuf::EnumDescriptor& descriptor,
                                  std::string_view text, std::string_view what) {
  std::string wanted = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(std::string(text)));
  for (char& c : wanted) {
    if (c == '-') c = '_';
  }
  const std::string prefix = EnumPrefix(descriptor);
  std::vector<std::string> known;
  for (int i = 0; i < descriptor.value_count(); ++i) {
    const google::protobuf::EnumValueDescriptor* v = descriptor.value(i);
    if (v->number() == 0) continue;
    const std::string short_name = ShortEnumName(descriptor, v->number());
    if (!wanted.empty() && (wanted == v->name() || wanted == short_name)) return v->number();
    known.push_back(short_name);
  }
  return absl::InvalidArgumentError(absl::StrCat("unknown ", std::string(what), " '",
                                                 std::string(text), "' (one of ",
                                                 absl::StrJoin(known, ", "), ")"));
}

absl::StatusOr<v1::LifecycleStage> ParseLifecycleStage(std::string_view text) {
  return ParseTyped<v1::LifecycleStage>(text, "stage");
}

absl::StatusOr<v1::SubStage> ParseSubStage(std::string_view text) {
  return ParseTyped<v1::SubStage>(text, "sub-stage");
}

absl::StatusOr<v1::CustomerKind> ParseCustomerKind(std::string_view text) {
  return ParseTyped<v1::CustomerKind>(text, "kind");
}

absl::StatusOr<v1::Dimension> ParseDimension(std::string_view text) {
  return ParseTyped<v1::Dimension>(text, "dimension");
}

absl::StatusOr<v1::Granularity> ParseGranularity(std::string_view text) {
  return ParseTyped<v1::Granularity>(text, "granularity");
}

absl::StatusOr<v1::Tier> ParseTier(std::string_view text) {
  return ParseTyped<v1::Tier>(text, "tier");
}

absl::StatusOr<ResolvedPeriod> ResolvePeriod(const PeriodArgs& args, absl::Time now) {
  std::optional<v1::Granularity> granularity;
  if (!args.granularity.empty()) {
    absl::StatusOr<v1::Granularity> g = ParseGranularity(args.granularity);
    if (!g.ok()) {
      return absl::InvalidArgumentError(absl::StrCat("--granularity: ", g.status().message()));
    }
    granularity = *g;
  }
  const std::string period(absl::StripAsciiWhitespace(args.period));
  if (period.empty() || period.find('T') != std::string::npos ||
      period.find('t') != std::string::npos) {
    absl::Time instant = now;
    if (!period.empty()) {
      absl::StatusOr<absl::Time> t = ParseRfc3339(period);
      if (!t.ok())
        return absl::InvalidArgumentError(absl::StrCat("--period: ", t.status().message()));
      instant = *t;
    }
    return ResolvedPeriod{granularity.value_or(v1::GRANULARITY_MONTH), instant};
  }
  absl::StatusOr<domain::ReportingPeriod> key = domain::ParsePeriodKey(period);
  if (!key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--period: '", period,
        "' is neither a period key (2024, 2024-Q1, 2024-03, 2024-W09, 2024-03-15) nor an RFC "
        "3339 instant"));
  }
  if (granularity && *granularity != key->granularity) {
    return absl::InvalidArgumentError(
        absl::StrCat("--period: ", period, " is a ",
                     ShortEnumName(*v1::Granularity_descriptor(), key->granularity),
                     " period but --granularity is ",
                     ShortEnumName(*v1::Granularity_descriptor(), *granularity)));
  }
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(args.zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("--zone: unknown time zone '", args.zone,
                                                   "' (an IANA name such as Asia/Shanghai)"));
  }
  const absl::CivilDay middle = key->first_day + (key->last_day() - key->first_day) / 2;
  return ResolvedPeriod{
      key->granularity,
      absl::FromCivil(absl::CivilHour(middle.year(), middle.month(), middle.day(), 12), zone)};
}

std::string ShortEnumName(const google::protobuf::EnumDescriptor& descriptor, int value) {
  const google::protobuf::EnumValueDescriptor* v = descriptor.FindValueByNumber(value);
  if (v == nullptr) return absl::StrCat(value);
  const std::string prefix = EnumPrefix(descriptor);
  if (!prefix.empty() && absl::StartsWith(v->name(), prefix) && v->name().size() > prefix.size()) {
    return v->name().substr(prefix.size());
  }
  return v->name();
}

absl::StatusOr<absl::Time> ParseRfc3339(std::string_view text) {
  const std::string s(absl::StripAsciiWhitespace(std::string(text)));
  absl::Time t;
  std::string error;
  // absl's %Ez takes "+08:00"; RFC 3339 also allows "Z" / "z" for UTC.
  std::string normalized = s;
  if (!normalized.empty() && (normalized.back() == 'Z' || normalized.back() == 'z')) {
    normalized.back() = '+';
    normalized += "00:00";
  }
  if (s.size() < 20 || !absl::ParseTime(absl::RFC3339_full, normalized, &t, &error)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "'", s,
        "' is not an RFC 3339 time such as 2025-06-30T16:00:00Z or 2025-07-01T00:00:00+08:00",
        error.empty() ? "" : absl::StrCat(" (", error, ")")));
  }
  return t;
}

std::string FormatRfc3339(absl::Time t) {
  std::string s = absl::FormatTime(absl::RFC3339_full, t, absl::UTCTimeZone());
  if (absl::EndsWith(s, "+00:00")) s.replace(s.size() - 6, 6, "Z");
  return s;
}

}  // namespace custops::ctl

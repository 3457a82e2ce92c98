// Reporting periods (period.h). Everything is civil-day arithmetic in absl;
// the zone only enters when an instant is mapped to its civil day and back.
#include "custops/domain/period.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace custops::domain {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "custops::domain period rules: violated precondition: %s\n", what);
  std::abort();
}

// Monday = 0 ... Sunday = 6.
int IsoWeekdayIndex(absl::CivilDay day) {
  switch (absl::GetWeekday(day)) {
    case absl::Weekday::monday:
      return 0;
    case absl::Weekday::tuesday:
      return 1;
    case absl::Weekday::wednesday:
      return 2;
    case absl::Weekday::thursday:
      return 3;
    case absl::Weekday::friday:
      return 4;
    case absl::Weekday::saturday:
      return 5;
    case absl::Weekday::sunday:
      return 6;
  }
  return 0;
}

absl::CivilDay MondayOf(absl::CivilDay day) { return day - IsoWeekdayIndex(day); }

absl::CivilDay QuarterStart(absl::CivilDay day) {
  const int first_month = ((day.month() - 1) / 3) * 3 + 1;
  return absl::CivilDay(day.year(), first_month, 1);
}

// First day of the period following `p`.
absl::CivilDay NextFirstDay(const ReportingPeriod& p) {
  const absl::CivilDay d = p.first_day;
  switch (p.granularity) {
    case v1::GRANULARITY_DAY:
      return d + 1;
    case v1::GRANULARITY_WEEK:
      return d + 7;
    case v1::GRANULARITY_MONTH:
      return absl::CivilDay(absl::CivilMonth(d) + 1);
    case v1::GRANULARITY_QUARTER:
      return absl::CivilDay(absl::CivilMonth(d) + 3);
    case v1::GRANULARITY_YEAR:
      return absl::CivilDay(absl::CivilYear(d) + 1);
    default:
      Die("reporting granularity");
  }
}

template <typename... Args>
std::string Format(const char* fmt, Args... args) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), fmt, args...);
  return buf;
}

absl::Status BadKey(std::string_view key) {
  return absl::InvalidArgumentError(absl::StrCat("invalid period key \"", std::string(key), "\""));
}

// Parses exactly `width` ASCII digits at s[pos..).
bool ParseDigits(std::string_view s, size_t pos, size_t width, int64_t* out) {
  if (pos + width > s.size()) return false;
  int64_t v = 0;
  for (size_t i = pos; i < pos + width; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

absl::StatusOr<absl::TimeZone> LoadReportingZone(std::string_view name) {
  absl::TimeZone tz;
  if (!absl::LoadTimeZone(std::string(name), &tz)) {
    return absl::NotFoundError(absl::StrCat("unknown time zone \"", std::string(name), "\""));
  }
  return tz;
}

bool IsReportingGranularity(v1::Granularity granularity) {
  switch (granularity) {
    case v1::GRANULARITY_DAY:
    case v1::GRANULARITY_WEEK:
    case v1::GRANULARITY_MONTH:
    case v1::GRANULARITY_QUARTER:
    case v1::GRANULARITY_YEAR:
      return true;
    default:
      return false;
  }
}

IsoWeek IsoWeekOf(absl::CivilDay day) {
  // The ISO year is the year of the week's Thursday; week 1 holds the
  // year's first Thursday.
  const absl::CivilDay thursday = MondayOf(day) + 3;
  const int64_t year = thursday.year();
  const int64_t days_in = thursday - absl::CivilDay(year, 1, 1);
  return IsoWeek{year, static_cast<int>(days_in / 7 + 1)};
}

int IsoWeeksInYear(int64_t year) {
  // Dec 28 is always in the last ISO week of its year.
  return IsoWeekOf(absl::CivilDay(year, 12, 28)).week;
}

absl::CivilDay IsoWeekMonday(int64_t year, int week) {
  if (week < 1 || week > IsoWeeksInYear(year)) Die("ISO week in range");
  // Jan 4 is always in week 1.
  return MondayOf(absl::CivilDay(year, 1, 4)) + 7 * (week - 1);
}

std::string ReportingPeriod::Key() const {
  const absl::CivilDay d = first_day;
  switch (granularity) {
    case v1::GRANULARITY_DAY:
      return Format("%04lld-%02d-%02d", static_cast<long long>(d.year()), d.month(), d.day());
    case v1::GRANULARITY_WEEK: {
      const IsoWeek w = IsoWeekOf(d);
      return Format("%04lld-W%02d", static_cast<long long>(w.year), w.week);
    }
    case v1::GRANULARITY_MONTH:
      return Format("%04lld-%02d", static_cast<long long>(d.year()), d.month());
    case v1::GRANULARITY_QUARTER:
      return Format("%04lld-Q%d", static_cast<long long>(d.year()), (d.month() - 1) / 3 + 1);
    case v1::GRANULARITY_YEAR:
      return Format("%04lld", static_cast<long long>(d.year()));
    default:
      Die("reporting granularity");
  }
}

absl::CivilDay ReportingPeriod::last_day() const { return NextFirstDay(*this) - 1; }

bool operator<(const ReportingPeriod& a, const ReportingPeriod& b) {
  if (a.granularity != b.granularity) return a.granularity < b.granularity;
  return a.first_day < b.first_day;
}

ReportingPeriod PeriodContaining(absl::CivilDay day, v1::Granularity granularity) {
  switch (granularity) {
    case v1::GRANULARITY_DAY:
      return {granularity, day};
    case v1::GRANULARITY_WEEK:
      return {granularity, MondayOf(day)};
    case v1::GRANULARITY_MONTH:
      return {granularity, absl::CivilDay(absl::CivilMonth(day))};
    case v1::GRANULARITY_QUARTER:
      return {granularity, QuarterStart(day)};
    case v1::GRANULARITY_YEAR:
      return {granularity, absl::CivilDay(absl::CivilYear(day))};
    default:
      Die("reporting granularity");
  }
}

ReportingPeriod PeriodOf(absl::Time t, v1::Granularity granularity, absl::TimeZone tz) {
  return PeriodContaining(absl::ToCivilDay(t, tz), granularity);
}

absl::StatusOr<ReportingPeriod> PeriodFromRequest(v1::Granularity granularity, absl::Time start,
                                                  absl::TimeZone tz) {
  if (!IsReportingGranularity(granularity)) {
    return absl::InvalidArgumentError(
        absl::StrCat("granularity ", static_cast<int>(granularity), " is not a reporting one"));
  }
  return PeriodOf(start, granularity, tz);
}

absl::StatusOr<ReportingPeriod> ParsePeriodKey(std::string_view key) {
  int64_t year = 0;
  if (!ParseDigits(key, 0, 4, &year)) return BadKey(key);
  if (key.size() == 4) return PeriodContaining(absl::CivilDay(year, 1, 1), v1::GRANULARITY_YEAR);
  if (key.size() < 6 || key[4] != '-') return BadKey(key);
  int64_t n = 0;
  if (key[5] == 'W') {
    if (key.size() != 8 || !ParseDigits(key, 6, 2, &n)) return BadKey(key);
    if (n < 1 || n > IsoWeeksInYear(year)) return BadKey(key);
    return ReportingPeriod{v1::GRANULARITY_WEEK, IsoWeekMonday(year, static_cast<int>(n))};
  }
  if (key[5] == 'Q') {
    if (key.size() != 7 || !ParseDigits(key, 6, 1, &n) || n < 1 || n > 4) return BadKey(key);
    return ReportingPeriod{v1::GRANULARITY_QUARTER,
                           absl::CivilDay(year, static_cast<int>(3 * (n - 1) + 1), 1)};
  }
  int64_t month = 0;
  if (!ParseDigits(key, 5, 2, &month) || month < 1 || month > 12) return BadKey(key);
  if (key.size() == 7) {
    return ReportingPeriod{v1::GRANULARITY_MONTH, absl::CivilDay(year, static_cast<int>(month), 1)};
  }
  int64_t day = 0;
  if (key.size() != 10 || key[7] != '-' || !ParseDigits(key, 8, 2, &day)) return BadKey(key);
  const absl::CivilDay d(year, static_cast<int>(month), static_cast<int>(day));
  // CivilDay normalises (Feb 30 → Mar 2): a key must name a real day.
  if (d.year() != year || d.month() != month || d.day() != day) return BadKey(key);
  return ReportingPeriod{v1::GRANULARITY_DAY, d};
}

absl::Time PeriodStart(const ReportingPeriod& period, absl::TimeZone tz) {
  // For a skipped local midnight FromCivil applies the pre-transition offset,
  // which is the first instant of that civil day; for a repeated one it
  // gives the earlier instant. Both are the day's first instant.
  return absl::FromCivil(absl::CivilSecond(period.first_day), tz);
}

absl::Time PeriodEnd(const ReportingPeriod& period, absl::TimeZone tz) {
  return absl::FromCivil(absl::CivilSecond(NextFirstDay(period)), tz);
}

ReportingPeriod PreviousPeriod(const ReportingPeriod& period) {
  return PeriodContaining(period.first_day - 1, period.granularity);
}

ReportingPeriod NextPeriod(const ReportingPeriod& period) {
  return PeriodContaining(NextFirstDay(period), period.granularity);
}

std::optional<ReportingPeriod> YearAgo(const ReportingPeriod& period) {
  const absl::CivilDay d = period.first_day;
  switch (period.granularity) {
    case v1::GRANULARITY_DAY:
      if (d.month() == 2 && d.day() == 29) return std::nullopt;
      return ReportingPeriod{period.granularity, absl::CivilDay(d.year() - 1, d.month(), d.day())};
    case v1::GRANULARITY_WEEK: {
      const IsoWeek w = IsoWeekOf(d);
      if (w.week > IsoWeeksInYear(w.year - 1)) return std::nullopt;
      return ReportingPeriod{period.granularity, IsoWeekMonday(w.year - 1, w.week)};
    }
    case v1::GRANULARITY_MONTH:
    case v1::GRANULARITY_QUARTER:
    case v1::GRANULARITY_YEAR:
      return ReportingPeriod{period.granularity, absl::CivilDay(d.year() - 1, d.month(), 1)};
    default:
      Die("reporting granularity");
  }
}

}  // namespace custops::domain

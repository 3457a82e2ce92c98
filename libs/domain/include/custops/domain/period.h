// Reporting periods of the review (复盘): day, ISO week, month, quarter and year,
// bucketed in a configured time zone (default Asia/Shanghai). Pure functions
// over absl civil time; see docs/review.md.
//
//   absl::TimeZone tz = *LoadReportingZone(kDefaultReportingZone);
//   ReportingPeriod p = PeriodOf(event_time, v1::GRANULARITY_QUARTER, tz);
//   p.Key();                          // "2024-Q1"
//   ReportingPeriod prev = PreviousPeriod(p);          // 环比 base
//   std::optional<ReportingPeriod> yoy = YearAgo(p);  // 同比 base (may be absent)
//   absl::Time from = PeriodStart(p, tz), to = PeriodEnd(p, tz);  // [from, to)
//
// A period is the half-open interval [start, end) of instants whose civil day
// in the zone falls in it. Thread safety: pure functions and value types.
#ifndef CUSTOPS_DOMAIN_PERIOD_H_
#define CUSTOPS_DOMAIN_PERIOD_H_

#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/v1/common.pb.h"

namespace custops::domain {

// Default reporting time zone (docs/review.md "Periods"; `domain.time_zone`).
inline constexpr std::string_view kDefaultReportingZone = "Asia/Shanghai";

// Loads an IANA zone ("Asia/Shanghai", "UTC"). NOT_FOUND when the zone is
// unknown to the tz database on this machine.
absl::StatusOr<absl::TimeZone> LoadReportingZone(std::string_view name);

// DAY, WEEK, MONTH, QUARTER and YEAR are reporting granularities; UNSPECIFIED
// and unknown values are not.
bool IsReportingGranularity(v1::Granularity granularity);

// An ISO 8601 week: year is the ISO week-numbering year (the year of the
// week's Thursday), week 1..53.
struct IsoWeek {
  int64_t year = 0;
  int week = 0;
  friend bool operator==(const IsoWeek&, const IsoWeek&) = default;
};

// The ISO week containing `day` (weeks start on Monday).
IsoWeek IsoWeekOf(absl::CivilDay day);
// 52 or 53: the number of ISO weeks of ISO year `year`.
int IsoWeeksInYear(int64_t year);
// The Monday of ISO week `week` of ISO year `year`. Precondition (crashes):
// 1 <= week <= IsoWeeksInYear(year).
absl::CivilDay IsoWeekMonday(int64_t year, int week);

// One reporting period: its granularity and its first civil day (a Monday
// for WEEK, the 1st for MONTH, Jan/Apr/Jul/Oct 1st for QUARTER, Jan 1st for
// YEAR). Built only by the functions below, which keep first_day aligned.
struct ReportingPeriod {
  v1::Granularity granularity = v1::GRANULARITY_UNSPECIFIED;
  absl::CivilDay first_day;

  // The stable, human-readable key: "2024-03-31" (DAY), "2020-W53" (WEEK,
  // ISO year and week), "2024-03" (MONTH), "2024-Q1" (QUARTER), "2024"
  // (YEAR). Keys of one granularity sort in time order for years 1000-9999;
  // keys of different granularities never collide.
  std::string Key() const;
  // The last civil day of the period.
  absl::CivilDay last_day() const;

  friend bool operator==(const ReportingPeriod&, const ReportingPeriod&) = default;
  // By granularity, then first day.
  friend bool operator<(const ReportingPeriod& a, const ReportingPeriod& b);
};

// The period of `granularity` containing civil day `day`. Precondition
// (crashes): IsReportingGranularity(granularity).
ReportingPeriod PeriodContaining(absl::CivilDay day, v1::Granularity granularity);

// The period of `granularity` containing instant `t` in zone `tz` (t's civil
// day in tz decides). Precondition (crashes): IsReportingGranularity.
ReportingPeriod PeriodOf(absl::Time t, v1::Granularity granularity, absl::TimeZone tz);

// As PeriodOf for a request's v1::Period (granularity + any instant inside
// the period, normally its start): INVALID_ARGUMENT when the granularity is
// not a reporting granularity.
absl::StatusOr<ReportingPeriod> PeriodFromRequest(v1::Granularity granularity, absl::Time start,
                                                  absl::TimeZone tz);

// Parses a Key() back. INVALID_ARGUMENT for anything Key() cannot produce
// (including week 53 of a 52-week ISO year and 2023-02-29).
absl::StatusOr<ReportingPeriod> ParsePeriodKey(std::string_view key);

// The first instant of the period in tz (the first instant of its first civil
// day, also when midnight is skipped by a DST change) and the first instant
// after it: the period is [PeriodStart, PeriodEnd).
absl::Time PeriodStart(const ReportingPeriod& period, absl::TimeZone tz);
absl::Time PeriodEnd(const ReportingPeriod& period, absl::TimeZone tz);

// The period just before / after (环比 base is Previous).
ReportingPeriod PreviousPeriod(const ReportingPeriod& period);
ReportingPeriod NextPeriod(const ReportingPeriod& period);

// The same period a year earlier (同比 base):
//   DAY      same month and day of the previous year; Feb 29 → nullopt
//   WEEK     same ISO week number of the previous ISO year; week 53 when the
//            previous ISO year has only 52 weeks → nullopt
//   MONTH, QUARTER, YEAR   the same one of the previous year
std::optional<ReportingPeriod> YearAgo(const ReportingPeriod& period);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_PERIOD_H_

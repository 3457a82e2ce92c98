// Reporting periods (docs/review.md "Periods"): edges in Asia/Shanghai, ISO
// weeks (checked against the C library's %G/%V), keys, 环比 and 同比 bases.
#include "custops/domain/period.h"

#include <ctime>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;

absl::TimeZone Shanghai() { return *LoadReportingZone(kDefaultReportingZone); }

absl::Time Local(int y, int m, int d, int hh, int mm, int ss, absl::TimeZone tz) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hh, mm, ss), tz);
}

absl::Time Utc(int y, int m, int d, int hh, int mm, int ss) {
  return Local(y, m, d, hh, mm, ss, absl::UTCTimeZone());
}

TEST(PeriodTest, LoadsZones) {
  EXPECT_OK(LoadReportingZone("Asia/Shanghai"));
  EXPECT_OK(LoadReportingZone("UTC"));
  EXPECT_THAT(LoadReportingZone("Mars/Olympus_Mons"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("\"Mars/Olympus_Mons\"")));
}

TEST(PeriodTest, GranularityValidity) {
  EXPECT_FALSE(IsReportingGranularity(v1::GRANULARITY_UNSPECIFIED));
  EXPECT_FALSE(IsReportingGranularity(static_cast<v1::Granularity>(99)));
  for (v1::Granularity g : {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH,
                            v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
    EXPECT_TRUE(IsReportingGranularity(g)) << g;
  }
  EXPECT_THAT(PeriodFromRequest(v1::GRANULARITY_UNSPECIFIED, absl::UnixEpoch(), Shanghai()),
              StatusIs(absl::StatusCode::kInvalidArgument, "granularity 0 is not a reporting one"));
  absl::StatusOr<ReportingPeriod> p =
      PeriodFromRequest(v1::GRANULARITY_MONTH, Local(2024, 5, 17, 9, 0, 0, Shanghai()), Shanghai());
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->Key(), "2024-05");
}

// A contract at 23:59:59 local on the last day of a quarter belongs to that
// quarter; at 00:00:00 the next day to the next one.
TEST(PeriodTest, QuarterEdgeInShanghai) {
  const absl::TimeZone sh = Shanghai();
  struct Case {
    int m, d;
    const char* last_second_key;
    const char* next_key;
  };
  const Case cases[] = {{3, 31, "2024-Q1", "2024-Q2"},
                        {6, 30, "2024-Q2", "2024-Q3"},
                        {9, 30, "2024-Q3", "2024-Q4"},
                        {12, 31, "2024-Q4", "2025-Q1"}};
  for (const Case& c : cases) {
    const absl::Time last = Local(2024, c.m, c.d, 23, 59, 59, sh);
    const absl::Time next = last + absl::Seconds(1);
    EXPECT_EQ(PeriodOf(last, v1::GRANULARITY_QUARTER, sh).Key(), c.last_second_key);
    EXPECT_EQ(PeriodOf(next, v1::GRANULARITY_QUARTER, sh).Key(), c.next_key);
    // Even the last nanosecond stays in the quarter: the boundary is exactly local midnight.
    EXPECT_EQ(PeriodOf(next - absl::Nanoseconds(1), v1::GRANULARITY_QUARTER, sh).Key(),
              c.last_second_key);
    EXPECT_EQ(PeriodEnd(PeriodOf(last, v1::GRANULARITY_QUARTER, sh), sh), next);
    EXPECT_EQ(PeriodStart(PeriodOf(next, v1::GRANULARITY_QUARTER, sh), sh), next);
  }
  // Shanghai is UTC+8: local midnight of Apr 1 is 16:00 UTC on Mar 31.
  EXPECT_EQ(PeriodStart(PeriodOf(Utc(2024, 4, 15, 0, 0, 0), v1::GRANULARITY_QUARTER, sh), sh),
            Utc(2024, 3, 31, 16, 0, 0));
}

// An instant that is already the next day in Shanghai but not in UTC.
TEST(PeriodTest, NextDayInShanghaiNotInUtc) {
  const absl::TimeZone sh = Shanghai();
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time t = Utc(2024, 3, 31, 16, 30, 0);  // 2024-04-01 00:30 in Shanghai
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_DAY, sh).Key(), "2024-04-01");
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_DAY, utc).Key(), "2024-03-31");
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_MONTH, sh).Key(), "2024-04");
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_MONTH, utc).Key(), "2024-03");
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_QUARTER, sh).Key(), "2024-Q2");
  EXPECT_EQ(PeriodOf(t, v1::GRANULARITY_QUARTER, utc).Key(), "2024-Q1");
  // New Year's Eve 16:00 UTC is New Year in Shanghai: a new year and ISO week.
  const absl::Time ny = Utc(2023, 12, 31, 16, 0, 0);
  EXPECT_EQ(PeriodOf(ny, v1::GRANULARITY_YEAR, sh).Key(), "2024");
  EXPECT_EQ(PeriodOf(ny, v1::GRANULARITY_YEAR, utc).Key(), "2023");
  EXPECT_EQ(PeriodOf(ny, v1::GRANULARITY_WEEK, sh).Key(), "2024-W01");   // Mon 2024-01-01
  EXPECT_EQ(PeriodOf(ny, v1::GRANULARITY_WEEK, utc).Key(), "2023-W52");  // Sun 2023-12-31
  EXPECT_EQ(PeriodOf(ny - absl::Nanoseconds(1), v1::GRANULARITY_YEAR, sh).Key(), "2023");
}

TEST(PeriodTest, IsoWeek53) {
  struct Case {
    int y, m, d;
    const char* key;
  };
  const Case cases[] = {
      {2020, 12, 31, "2020-W53"}, {2021, 1, 3, "2020-W53"},   {2021, 1, 4, "2021-W01"},
      {2020, 12, 28, "2020-W53"}, {2020, 12, 27, "2020-W52"}, {2019, 12, 30, "2020-W01"},
      {2018, 12, 31, "2019-W01"}, {2016, 1, 3, "2015-W53"},   {2027, 1, 1, "2026-W53"},
      {2008, 12, 29, "2009-W01"}, {2010, 1, 3, "2009-W53"},   {2024, 12, 30, "2025-W01"},
  };
  for (const Case& c : cases) {
    const ReportingPeriod p = PeriodContaining(absl::CivilDay(c.y, c.m, c.d), v1::GRANULARITY_WEEK);
    EXPECT_EQ(p.Key(), c.key) << c.y << "-" << c.m << "-" << c.d;
    EXPECT_EQ(absl::GetWeekday(p.first_day), absl::Weekday::monday);
  }
  EXPECT_EQ(PeriodContaining(absl::CivilDay(2021, 1, 3), v1::GRANULARITY_WEEK).first_day,
            absl::CivilDay(2020, 12, 28));
  EXPECT_EQ(PeriodContaining(absl::CivilDay(2021, 1, 3), v1::GRANULARITY_WEEK).last_day(),
            absl::CivilDay(2021, 1, 3));
  for (int y : {2004, 2009, 2015, 2020, 2026, 2032}) EXPECT_EQ(IsoWeeksInYear(y), 53) << y;
  for (int y : {2019, 2021, 2022, 2023, 2024, 2025}) EXPECT_EQ(IsoWeeksInYear(y), 52) << y;
}

// Every day of 1990..2040 against glibc's strftime %G (ISO year) and %V (ISO
// week): an independent implementation.
TEST(PeriodTest, IsoWeekAgreesWithStrftime) {
  for (absl::CivilDay d(1990, 1, 1); d < absl::CivilDay(2041, 1, 1); ++d) {
    std::tm tm{};
    tm.tm_year = static_cast<int>(d.year()) - 1900;
    tm.tm_mon = d.month() - 1;
    tm.tm_mday = d.day();
    tm.tm_hour = 12;
    std::time_t tt = timegm(&tm);
    std::tm norm{};
    gmtime_r(&tt, &norm);
    char buf[16];
    std::strftime(buf, sizeof(buf), "%G-W%V", &norm);
    ASSERT_EQ(PeriodContaining(d, v1::GRANULARITY_WEEK).Key(), buf) << d;
    const IsoWeek w = IsoWeekOf(d);
    ASSERT_EQ(IsoWeekMonday(w.year, w.week), PeriodContaining(d, v1::GRANULARITY_WEEK).first_day);
  }
}

TEST(PeriodTest, KeysAndFirstDays) {
  const absl::CivilDay d(2024, 8, 15);
  struct Case {
    v1::Granularity g;
    const char* key;
    absl::CivilDay first, last;
  };
  const Case cases[] = {
      {v1::GRANULARITY_DAY, "2024-08-15", d, d},
      {v1::GRANULARITY_WEEK, "2024-W33", absl::CivilDay(2024, 8, 12), absl::CivilDay(2024, 8, 18)},
      {v1::GRANULARITY_MONTH, "2024-08", absl::CivilDay(2024, 8, 1), absl::CivilDay(2024, 8, 31)},
      {v1::GRANULARITY_QUARTER, "2024-Q3", absl::CivilDay(2024, 7, 1), absl::CivilDay(2024, 9, 30)},
      {v1::GRANULARITY_YEAR, "2024", absl::CivilDay(2024, 1, 1), absl::CivilDay(2024, 12, 31)},
  };
  for (const Case& c : cases) {
    const ReportingPeriod p = PeriodContaining(d, c.g);
    EXPECT_EQ(p.Key(), c.key);
    EXPECT_EQ(p.first_day, c.first) << c.key;
    EXPECT_EQ(p.last_day(), c.last) << c.key;
    absl::StatusOr<ReportingPeriod> parsed = ParsePeriodKey(c.key);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_EQ(PeriodContaining(absl::CivilDay(2024, 2, 10), v1::GRANULARITY_MONTH).last_day(),
            absl::CivilDay(2024, 2, 29));
}

TEST(PeriodTest, KeysRoundTripAndSort) {
  for (v1::Granularity g : {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH,
                            v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
    ReportingPeriod p = PeriodContaining(absl::CivilDay(2014, 11, 20), g);
    std::string prev_key;
    for (int i = 0; i < 500; ++i) {
      const std::string key = p.Key();
      absl::StatusOr<ReportingPeriod> parsed = ParsePeriodKey(key);
      ASSERT_TRUE(parsed.ok()) << key;
      ASSERT_EQ(*parsed, p) << key;
      ASSERT_LT(prev_key, key);
      ASSERT_EQ(PreviousPeriod(NextPeriod(p)), p) << key;
      ASSERT_EQ(NextPeriod(p).first_day, p.last_day() + 1) << key;
      prev_key = key;
      p = NextPeriod(p);
    }
  }
}

TEST(PeriodTest, BadKeys) {
  for (const char* key :
       {"", "24", "2024-", "2024-13", "2024-00", "2024-Q0", "2024-Q5", "2024-W00", "2021-W53",
        "2023-02-29", "2024-02-30", "2024-1-01", "2024-01-01x", "abcd", "2024-W5", "2024/01"}) {
    EXPECT_THAT(ParsePeriodKey(key), StatusIs(absl::StatusCode::kInvalidArgument,
                                              absl::StrCat("invalid period key \"", key, "\"")));
  }
  EXPECT_OK(ParsePeriodKey("2020-W53"));
  EXPECT_OK(ParsePeriodKey("2024-02-29"));
}

TEST(PeriodTest, PreviousIsTheChainBase) {
  struct Case {
    const char* key;
    const char* previous;
  };
  const Case cases[] = {
      {"2024-03-01", "2024-02-29"}, {"2024-01-01", "2023-12-31"},
      {"2021-W01", "2020-W53"},     {"2020-W01", "2019-W52"},
      {"2024-01", "2023-12"},       {"2024-Q1", "2023-Q4"},
      {"2024-Q3", "2024-Q2"},       {"2024", "2023"},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(PreviousPeriod(*ParsePeriodKey(c.key)).Key(), c.previous) << c.key;
    EXPECT_EQ(NextPeriod(*ParsePeriodKey(c.previous)).Key(), c.key) << c.previous;
  }
}

TEST(PeriodTest, YearAgoIsTheYoyBase) {
  struct Case {
    const char* key;
    const char* year_ago;  // nullptr: none
  };
  const Case cases[] = {
      {"2025-03-01", "2024-03-01"}, {"2024-02-29", nullptr},  {"2025-02-28", "2024-02-28"},
      {"2024-03-01", "2023-03-01"}, {"2021-W10", "2020-W10"}, {"2021-W01", "2020-W01"},
      {"2020-W53", nullptr},        {"2016-W52", "2015-W52"}, {"2024-02", "2023-02"},
      {"2024-Q1", "2023-Q1"},       {"2024", "2023"},         {"2026-W53", nullptr},
  };
  for (const Case& c : cases) {
    std::optional<ReportingPeriod> y = YearAgo(*ParsePeriodKey(c.key));
    if (c.year_ago == nullptr) {
      EXPECT_FALSE(y.has_value()) << c.key;
    } else {
      ASSERT_TRUE(y.has_value()) << c.key;
      EXPECT_EQ(y->Key(), c.year_ago) << c.key;
    }
  }
  // A year with 53 ISO weeks never follows another one, so week 53 never has
  // a 同比 base; every other week does.
  for (int year = 1900; year <= 2400; ++year) {
    for (int week = 1; week <= IsoWeeksInYear(year); ++week) {
      const ReportingPeriod p{v1::GRANULARITY_WEEK, IsoWeekMonday(year, week)};
      ASSERT_EQ(YearAgo(p).has_value(), week != 53) << year << "-W" << week;
    }
  }
}

// The period is [start, end): start is the first instant of its first civil
// day, also across DST changes (New York loses an hour at 02:00; Santiago
// skips local midnight).
TEST(PeriodTest, StartAndEndAcrossDst) {
  absl::StatusOr<absl::TimeZone> ny = LoadReportingZone("America/New_York");
  ASSERT_TRUE(ny.ok());
  const ReportingPeriod spring{v1::GRANULARITY_DAY, absl::CivilDay(2024, 3, 10)};
  EXPECT_EQ(PeriodEnd(spring, *ny) - PeriodStart(spring, *ny), absl::Hours(23));
  absl::StatusOr<absl::TimeZone> scl = LoadReportingZone("America/Santiago");
  ASSERT_TRUE(scl.ok());
  for (absl::CivilDay d(2022, 9, 5); d < absl::CivilDay(2022, 9, 15); ++d) {
    for (const absl::TimeZone& tz : {*scl, *ny, Shanghai()}) {
      const ReportingPeriod p{v1::GRANULARITY_DAY, d};
      const absl::Time start = PeriodStart(p, tz);
      EXPECT_EQ(absl::ToCivilDay(start, tz), d) << d << " " << tz.name();
      EXPECT_EQ(absl::ToCivilDay(start - absl::Nanoseconds(1), tz), d - 1) << d << " " << tz.name();
      EXPECT_EQ(PeriodOf(start, v1::GRANULARITY_DAY, tz), p);
    }
  }
}

}  // namespace
}  // namespace custops::domain

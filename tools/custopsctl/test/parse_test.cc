#include "custops/ctl/parse.h"

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST(ParseEnumTest, StageNamesWithOrWithoutPrefixInAnyCase) {
  for (const char* text : {"INTENT", "intent", "Intent", " intent ", "LIFECYCLE_STAGE_INTENT",
                           "lifecycle_stage_intent", "lifecycle-stage-intent"}) {
    absl::StatusOr<v1::LifecycleStage> stage = ParseLifecycleStage(text);
    ASSERT_OK(stage) << text;
    EXPECT_EQ(*stage, v1::LIFECYCLE_STAGE_INTENT) << text;
  }
  EXPECT_EQ(*ParseLifecycleStage("lost"), v1::LIFECYCLE_STAGE_LOST);
  EXPECT_EQ(*ParseLifecycleStage("PROSPECT"), v1::LIFECYCLE_STAGE_PROSPECT);
}

TEST(ParseEnumTest, UnknownAndUnspecifiedAreRejectedWithTheChoices) {
  for (const char* text : {"INTNT", "", "UNSPECIFIED", "LIFECYCLE_STAGE_UNSPECIFIED", "2",
                           "SUB_STAGE_NEW", "STAGE_INTENT"}) {
    EXPECT_THAT(ParseLifecycleStage(text),
                StatusIs(kInvalid, absl::StrCat("unknown stage '", text,
                                                "' (one of PROSPECT, INTENT, CUSTOMER, LOST)")))
        << text;
  }
  EXPECT_THAT(
      ParseLifecycleStage("INTNT"),
      StatusIs(kInvalid, "unknown stage 'INTNT' (one of PROSPECT, INTENT, CUSTOMER, LOST)"));
}

TEST(ParseEnumTest, OtherEnums) {
  EXPECT_EQ(*ParseSubStage("growing"), v1::SUB_STAGE_GROWING);
  EXPECT_EQ(*ParseSubStage("SUB_STAGE_DECLINING"), v1::SUB_STAGE_DECLINING);
  EXPECT_EQ(*ParseCustomerKind("agent"), v1::CUSTOMER_KIND_AGENT);
  EXPECT_EQ(*ParseCustomerKind("CUSTOMER_KIND_COMPETITOR"), v1::CUSTOMER_KIND_COMPETITOR);
  EXPECT_EQ(*ParseDimension("REGION"), v1::DIMENSION_REGION);
  EXPECT_EQ(*ParseDimension("dimension_owner"), v1::DIMENSION_OWNER);
  EXPECT_THAT(ParseDimension("planet"),
              StatusIs(kInvalid, StartsWith("unknown dimension 'planet' (one of ALL, REGION, "
                                            "INDUSTRY")));
  EXPECT_THAT(ParseSubStage("old"),
              StatusIs(kInvalid, StartsWith("unknown sub-stage 'old' (one of")));
}

TEST(ParseEnumTest, ShortNames) {
  EXPECT_EQ(ShortEnumName(*v1::LifecycleStage_descriptor(), v1::LIFECYCLE_STAGE_CUSTOMER),
            "CUSTOMER");
  EXPECT_EQ(ShortEnumName(*v1::SubStage_descriptor(), v1::SUB_STAGE_UNSPECIFIED), "UNSPECIFIED");
  EXPECT_EQ(ShortEnumName(*v1::Dimension_descriptor(), v1::DIMENSION_REGION), "REGION");
  EXPECT_EQ(ShortEnumName(*v1::LifecycleStage_descriptor(), 99), "99");
}

TEST(Rfc3339Test, ParsesUtcOffsetsAndFractions) {
  const absl::Time want = absl::FromUnixSeconds(1751299200);  // 2025-06-30T16:00:00Z
  EXPECT_EQ(*ParseRfc3339("2025-06-30T16:00:00Z"), want);
  EXPECT_EQ(*ParseRfc3339("2025-06-30T16:00:00z"), want);
  EXPECT_EQ(*ParseRfc3339("2025-07-01T00:00:00+08:00"), want);
  EXPECT_EQ(*ParseRfc3339("2025-06-30T12:00:00-04:00"), want);
  EXPECT_EQ(*ParseRfc3339(" 2025-06-30T16:00:00Z\n"), want);
  EXPECT_EQ(*ParseRfc3339("2025-06-30T16:00:00.25Z"), want + absl::Milliseconds(250));
}

TEST(Rfc3339Test, RejectsOtherForms) {
  for (const char* text : {"", "2025-06-30", "2025-06-30T16:00:00", "2025-06-30 16:00:00Z",
                           "2025-13-01T00:00:00Z", "yesterday", "1751299200"}) {
    EXPECT_THAT(ParseRfc3339(text),
                StatusIs(kInvalid, HasSubstr("' is not an RFC 3339 time such as")))
        << text;
  }
}

TEST(Rfc3339Test, FormatsInUtcAndRoundTrips) {
  const absl::Time t = absl::FromUnixSeconds(1751299200);
  EXPECT_EQ(FormatRfc3339(t), "2025-06-30T16:00:00Z");
  EXPECT_EQ(FormatRfc3339(t + absl::Milliseconds(5)), "2025-06-30T16:00:00.005Z");
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(t + absl::Microseconds(7))), t + absl::Microseconds(7));
}

// The instant sent for a period key: noon of the middle day in the zone.
absl::Time Utc(const char* rfc3339) { return *ParseRfc3339(rfc3339); }

TEST(ResolvePeriodTest, KeysGiveTheirGranularityAndAMiddleInstant) {
  const absl::Time now = Utc("2025-06-30T16:00:00Z");
  struct Case {
    const char* key;
    v1::Granularity granularity;
    const char* instant;
  } cases[] = {
      {"2024-03", v1::GRANULARITY_MONTH, "2024-03-16T04:00:00Z"},    // 03-16 12:00 +08
      {"2024-Q1", v1::GRANULARITY_QUARTER, "2024-02-15T04:00:00Z"},  // day 45 of 91
      {"2020-W53", v1::GRANULARITY_WEEK, "2020-12-31T04:00:00Z"},    // Thursday
      {"2024-03-15", v1::GRANULARITY_DAY, "2024-03-15T04:00:00Z"},   //
      {"2024", v1::GRANULARITY_YEAR, "2024-07-01T04:00:00Z"},        // day 182 of 366
      {" 2024-02 ", v1::GRANULARITY_MONTH, "2024-02-15T04:00:00Z"},  // trimmed
  };
  for (const Case& c : cases) {
    absl::StatusOr<ResolvedPeriod> p = ResolvePeriod({.period = c.key}, now);
    ASSERT_OK(p) << c.key;
    EXPECT_EQ(p->granularity, c.granularity) << c.key;
    EXPECT_EQ(FormatRfc3339(p->instant), c.instant) << c.key;
  }
  absl::StatusOr<ResolvedPeriod> utc =
      ResolvePeriod({.granularity = "month", .period = "2024-03", .zone = "UTC"}, now);
  ASSERT_OK(utc);
  EXPECT_EQ(FormatRfc3339(utc->instant), "2024-03-16T12:00:00Z");
}

TEST(ResolvePeriodTest, InstantsAndNow) {
  const absl::Time now = Utc("2025-06-30T16:00:00Z");
  absl::StatusOr<ResolvedPeriod> p =
      ResolvePeriod({.granularity = "QUARTER", .period = "2024-04-01T00:00:00+08:00"}, now);
  ASSERT_OK(p);
  EXPECT_EQ(p->granularity, v1::GRANULARITY_QUARTER);
  EXPECT_EQ(FormatRfc3339(p->instant), "2024-03-31T16:00:00Z");
  p = ResolvePeriod({.period = "2024-04-01T00:00:00Z"}, now);
  ASSERT_OK(p);
  EXPECT_EQ(p->granularity, v1::GRANULARITY_MONTH);  // the default
  p = ResolvePeriod({}, now);
  ASSERT_OK(p);
  EXPECT_EQ(p->granularity, v1::GRANULARITY_MONTH);
  EXPECT_EQ(p->instant, now);
  p = ResolvePeriod({.granularity = "week"}, now);
  ASSERT_OK(p);
  EXPECT_EQ(p->granularity, v1::GRANULARITY_WEEK);
}

TEST(ResolvePeriodTest, ErrorsNameTheFlag) {
  const absl::Time now = Utc("2025-06-30T16:00:00Z");
  auto message = [&](PeriodArgs args) {
    absl::StatusOr<ResolvedPeriod> p = ResolvePeriod(args, now);
    EXPECT_THAT(p, StatusIs(kInvalid));
    return std::string(p.status().message());
  };
  EXPECT_EQ(message({.granularity = "quarter", .period = "2024-03"}),
            "--period: 2024-03 is a MONTH period but --granularity is QUARTER");
  EXPECT_THAT(message({.period = "2024-13"}), HasSubstr("--period: '2024-13' is neither"));
  EXPECT_THAT(message({.period = "2023-02-29"}), HasSubstr("--period: '2023-02-29'"));
  EXPECT_THAT(message({.period = "2021-W53"}), HasSubstr("--period: '2021-W53'"));
  EXPECT_THAT(message({.period = "2024-03-01T00:00:00"}), HasSubstr("--period: "));
  EXPECT_THAT(message({.granularity = "fortnight"}),
              HasSubstr("--granularity: unknown granularity 'fortnight' (one of DAY, WEEK"));
  EXPECT_THAT(message({.period = "2024-03", .zone = "Mars/Olympus"}),
              HasSubstr("--zone: unknown time zone 'Mars/Olympus'"));
}

}  // namespace
}  // namespace custops::ctl

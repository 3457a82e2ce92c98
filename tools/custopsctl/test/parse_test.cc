#include "custops/ctl/parse.h"

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::testing::HasSubstr;

TEST(ParseEnumTest, StageNamesWithOrWithoutPrefixInAnyCase) {
  for (const char* text : {"INTENT", "intent", "Intent", " intent ", "LIFECYCLE_STAGE_INTENT",
                           "lifecycle_stage_intent", "lifecycle-stage-intent"}) {
    absl::StatusOr<v1::LifecycleStage> stage = ParseLifecycleStage(text);
    ASSERT_TRUE(stage.ok()) << text << ": " << stage.status();
    EXPECT_EQ(*stage, v1::LIFECYCLE_STAGE_INTENT) << text;
  }
  EXPECT_EQ(*ParseLifecycleStage("lost"), v1::LIFECYCLE_STAGE_LOST);
  EXPECT_EQ(*ParseLifecycleStage("PROSPECT"), v1::LIFECYCLE_STAGE_PROSPECT);
}

TEST(ParseEnumTest, UnknownAndUnspecifiedAreRejectedWithTheChoices) {
  for (const char* text : {"INTNT", "", "UNSPECIFIED", "LIFECYCLE_STAGE_UNSPECIFIED", "2",
                           "SUB_STAGE_NEW", "STAGE_INTENT"}) {
    absl::StatusOr<v1::LifecycleStage> stage = ParseLifecycleStage(text);
    ASSERT_FALSE(stage.ok()) << text;
    EXPECT_EQ(stage.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(stage.status().message()),
                HasSubstr("(one of PROSPECT, INTENT, CUSTOMER, LOST)"));
  }
  EXPECT_EQ(ParseLifecycleStage("INTNT").status().message(),
            "unknown stage 'INTNT' (one of PROSPECT, INTENT, CUSTOMER, LOST)");
}

TEST(ParseEnumTest, OtherEnums) {
  EXPECT_EQ(*ParseSubStage("growing"), v1::SUB_STAGE_GROWING);
  EXPECT_EQ(*ParseSubStage("SUB_STAGE_DECLINING"), v1::SUB_STAGE_DECLINING);
  EXPECT_EQ(*ParseCustomerKind("agent"), v1::CUSTOMER_KIND_AGENT);
  EXPECT_EQ(*ParseCustomerKind("CUSTOMER_KIND_COMPETITOR"), v1::CUSTOMER_KIND_COMPETITOR);
  EXPECT_EQ(*ParseDimension("REGION"), v1::DIMENSION_REGION);
  EXPECT_EQ(*ParseDimension("dimension_owner"), v1::DIMENSION_OWNER);
  EXPECT_THAT(std::string(ParseDimension("planet").status().message()),
              HasSubstr("unknown dimension 'planet' (one of ALL, REGION, INDUSTRY"));
  EXPECT_THAT(std::string(ParseSubStage("old").status().message()),
              HasSubstr("unknown sub-stage 'old'"));
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
    absl::StatusOr<absl::Time> t = ParseRfc3339(text);
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_EQ(t.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(t.status().message()), HasSubstr("is not an RFC 3339 time such as"));
  }
}

TEST(Rfc3339Test, FormatsInUtcAndRoundTrips) {
  const absl::Time t = absl::FromUnixSeconds(1751299200);
  EXPECT_EQ(FormatRfc3339(t), "2025-06-30T16:00:00Z");
  EXPECT_EQ(FormatRfc3339(t + absl::Milliseconds(5)), "2025-06-30T16:00:00.005Z");
  EXPECT_EQ(*ParseRfc3339(FormatRfc3339(t + absl::Microseconds(7))), t + absl::Microseconds(7));
}

}  // namespace
}  // namespace custops::ctl

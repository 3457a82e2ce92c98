#include "custops/ctl/requests.h"

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::custops::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

TEST(RequestsTest, ListCustomersFilter) {
  ListArgs args;
  args.stage = "intent";
  args.sub_stage = "";
  args.region = "华东";
  args.owner = "rep-01";
  args.kind = "CUSTOMER_KIND_AGENT";
  args.page_size = 50;
  args.query.as_of = "2025-07-01T00:00:00+08:00";
  args.query.consistency_token = "tok";
  absl::StatusOr<v1::ListCustomersRequest> r = MakeListCustomersRequest(args);
  ASSERT_OK(r);
  EXPECT_EQ(r->filter().stage(), v1::LIFECYCLE_STAGE_INTENT);
  EXPECT_EQ(r->filter().sub_stage(), v1::SUB_STAGE_UNSPECIFIED);
  EXPECT_EQ(r->filter().region(), "华东");
  EXPECT_EQ(r->filter().owner_id(), "rep-01");
  EXPECT_EQ(r->filter().kind(), v1::CUSTOMER_KIND_AGENT);
  EXPECT_EQ(r->page_size(), 50);
  EXPECT_EQ(r->as_of().seconds(), 1751299200);
  EXPECT_EQ(r->consistency_token(), "tok");
}

TEST(RequestsTest, NoAsOfMeansNow) {
  absl::StatusOr<v1::ListCustomersRequest> r = MakeListCustomersRequest({});
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_as_of());
  absl::StatusOr<v1::GetCustomerRequest> g = MakeGetCustomerRequest("C000001", {});
  ASSERT_OK(g);
  EXPECT_FALSE(g->has_as_of());
  EXPECT_EQ(g->customer_id(), "C000001");
}

TEST(RequestsTest, BadFlagsNameTheFlag) {
  ListArgs args;
  args.stage = "warm";
  EXPECT_THAT(MakeListCustomersRequest(args),
              StatusIs(kInvalid, StartsWith("--stage: unknown stage 'warm' (one of")));
  args = {};
  args.sub_stage = "shrinking";
  EXPECT_THAT(MakeListCustomersRequest(args),
              StatusIs(kInvalid, StartsWith("--sub-stage: unknown sub-stage 'shrinking' (one of")));
  args = {};
  args.kind = "friend";
  EXPECT_THAT(MakeListCustomersRequest(args),
              StatusIs(kInvalid, StartsWith("--kind: unknown kind 'friend' (one of")));
  args = {};
  args.query.as_of = "last tuesday";
  EXPECT_THAT(MakeListCustomersRequest(args),
              StatusIs(kInvalid, StartsWith("--as-of: 'last tuesday' is not an RFC 3339 time")));
  args = {};
  args.page_size = -1;
  EXPECT_THAT(MakeListCustomersRequest(args),
              StatusIs(kInvalid, "--page-size: must be positive, got -1"));
  EXPECT_THAT(MakeGetCustomerRequest("C1", {.as_of = "2025"}),
              StatusIs(kInvalid, StartsWith("--as-of: '2025' is not an RFC 3339 time")));
  EXPECT_THAT(MakeGetCustomerRequest("", {}), StatusIs(kInvalid, "CUSTOMER_ID: required"));
}

TEST(RequestsTest, StageSummary) {
  absl::StatusOr<v1::StageSummaryRequest> r = MakeStageSummaryRequest("", {});
  ASSERT_OK(r);
  EXPECT_EQ(r->dimension(), v1::DIMENSION_ALL);
  r = MakeStageSummaryRequest("region", {.as_of = "2025-06-30T16:00:00Z"});
  ASSERT_OK(r);
  EXPECT_EQ(r->dimension(), v1::DIMENSION_REGION);
  EXPECT_EQ(r->as_of().seconds(), 1751299200);
  EXPECT_THAT(MakeStageSummaryRequest("colour", {}),
              StatusIs(kInvalid, StartsWith("--dimension: unknown dimension 'colour'")));
}

TEST(RequestsTest, SubscribeNormalizesEventTypes) {
  absl::StatusOr<v1::SubscribeRequest> r =
      MakeSubscribeRequest("", {"ContractSigned", "payment_received"}, {"C1", "C2"});
  ASSERT_OK(r);
  EXPECT_EQ(r->from(), "latest");
  EXPECT_THAT(r->event_types(), ElementsAre("contract_signed", "payment_received"));
  EXPECT_THAT(r->customer_ids(), ElementsAre("C1", "C2"));
  r = MakeSubscribeRequest("earliest", {"contract_sined"}, {});
  EXPECT_THAT(r, StatusIs(kInvalid, StartsWith("--type: unknown event type 'contract_sined'")));
  r = MakeSubscribeRequest("opaque-token", {}, {});
  ASSERT_OK(r);
  EXPECT_EQ(r->from(), "opaque-token");
}

TEST(RequestsTest, SubscribeChangesPassesTypes) {
  absl::StatusOr<v1::SubscribeChangesRequest> r =
      MakeSubscribeChangesRequest("earliest", {"stage_changed"}, {"C1"});
  ASSERT_OK(r);
  EXPECT_EQ(r->from(), "earliest");
  EXPECT_THAT(r->change_types(), ElementsAre("stage_changed"));
}

TEST(RequestsTest, Timeline) {
  absl::StatusOr<v1::TimelineRequest> r = MakeTimelineRequest("C1", 10, "p2", "tok");
  ASSERT_OK(r);
  EXPECT_EQ(r->customer_id(), "C1");
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_EQ(r->page_token(), "p2");
  EXPECT_EQ(r->consistency_token(), "tok");
  EXPECT_THAT(MakeTimelineRequest("", 0, "", ""), StatusIs(kInvalid, "CUSTOMER_ID: required"));
}

absl::Time Now() { return absl::FromUnixSeconds(1751299200); }  // 2025-06-30T16:00:00Z

// The message of an INVALID_ARGUMENT status.
std::string Error(const absl::Status& status) {
  EXPECT_THAT(status, StatusIs(kInvalid));
  return std::string(status.message());
}

TEST(ReviewRequestsTest, ReportOfARegionWithHistory) {
  ReviewArgs args;
  args.period.period = "2024-03";
  args.dimension = "region";
  args.value = "华东";
  args.history = 12;
  args.consistency_token = "tok";
  absl::StatusOr<v1::GetReviewRequest> r = MakeGetReviewRequest(args, Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->granularity(), v1::GRANULARITY_MONTH);
  EXPECT_EQ(r->period_start().seconds(), 1710561600);  // 2024-03-16T04:00:00Z
  EXPECT_EQ(r->dimension(), v1::DIMENSION_REGION);
  EXPECT_EQ(r->dimension_value(), "华东");
  EXPECT_EQ(r->history_periods(), 12);
  EXPECT_EQ(r->consistency_token(), "tok");
}

TEST(ReviewRequestsTest, DefaultsAndTierValues) {
  absl::StatusOr<v1::GetReviewRequest> r = MakeGetReviewRequest({}, Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->granularity(), v1::GRANULARITY_MONTH);
  EXPECT_EQ(r->period_start().seconds(), 1751299200);
  EXPECT_EQ(r->dimension(), v1::DIMENSION_ALL);
  ReviewArgs tier;
  tier.dimension = "TIER";
  tier.value = "tier_gold";
  r = MakeGetReviewRequest(tier, Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->dimension_value(), "GOLD");
}

TEST(ReviewRequestsTest, BadSlicesNameTheFlag) {
  ReviewArgs args;
  args.value = "华东";
  EXPECT_EQ(Error(MakeGetReviewRequest(args, Now()).status()),
            "--value: needs --dimension (e.g. --dimension region --value 华东)");
  args.dimension = "kind";
  EXPECT_THAT(Error(MakeGetReviewRequest(args, Now()).status()),
              HasSubstr("--dimension: kind is not one of ALL, REGION, INDUSTRY, OWNER"));
  args = {};
  args.history = 25;
  EXPECT_EQ(Error(MakeGetReviewRequest(args, Now()).status()),
            "--history: must be between 0 and 24 periods, got 25");
  args = {};
  args.dimension = "tier";
  args.value = "bronze";
  EXPECT_THAT(Error(MakeGetReviewRequest(args, Now()).status()),
              HasSubstr("--value: unknown tier 'bronze'"));
}

TEST(ReviewRequestsTest, FunnelIsAPeriodAndPaged) {
  ReviewArgs args;
  args.period.period = "2024-Q1";
  args.dimension = "owner";
  args.page_size = 20;
  args.page_token = "p";
  absl::StatusOr<v1::FunnelRequest> r = MakeFunnelRequest(args, Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->period().granularity(), v1::GRANULARITY_QUARTER);
  EXPECT_EQ(r->period().start().seconds(), 1707969600);  // 2024-02-15T04:00:00Z
  EXPECT_EQ(r->dimension(), v1::DIMENSION_OWNER);
  EXPECT_EQ(r->dimension_value(), "");
  EXPECT_EQ(r->page_size(), 20);
  EXPECT_EQ(r->page_token(), "p");
}

TEST(ReviewRequestsTest, CompareNeedsADimension) {
  ReviewArgs args;
  args.period.period = "2024-03";
  EXPECT_THAT(Error(MakeCompareReviewRequest(args, Now()).status()),
              HasSubstr("--dimension: required"));
  args.dimension = "all";
  EXPECT_THAT(Error(MakeCompareReviewRequest(args, Now()).status()),
              HasSubstr("--dimension: compare needs REGION"));
  args.dimension = "owner";
  args.value = "rep-01";
  EXPECT_THAT(Error(MakeCompareReviewRequest(args, Now()).status()), HasSubstr("--value: "));
  args.value = "";
  absl::StatusOr<v1::CompareReviewRequest> r = MakeCompareReviewRequest(args, Now());
  ASSERT_OK(r);
  EXPECT_EQ(r->dimension(), v1::DIMENSION_OWNER);
  EXPECT_EQ(r->granularity(), v1::GRANULARITY_MONTH);
}

TEST(ReviewRequestsTest, WorklistTakesExactlyOneOfOwnerAndRegion) {
  const std::string both =
      "--owner / --region: give exactly one (e.g. --owner rep-01 or --region 华东)";
  EXPECT_EQ(Error(MakeWorklistRequest({}).status()), both);
  EXPECT_EQ(Error(MakeWorklistRequest({.owner = "rep-01", .region = "华东"}).status()), both);
  absl::StatusOr<v1::WorklistRequest> r = MakeWorklistRequest(
      {.region = "华东", .page_size = 50, .query = {.as_of = "2025-06-30T16:00:00Z"}});
  ASSERT_OK(r);
  EXPECT_EQ(r->region(), "华东");
  EXPECT_EQ(r->owner_id(), "");
  EXPECT_EQ(r->page_size(), 50);
  EXPECT_EQ(r->as_of().seconds(), 1751299200);
  r = MakeWorklistRequest({.owner = "rep-01"});
  ASSERT_OK(r);
  EXPECT_FALSE(r->has_as_of());
}

TEST(ReviewRequestsTest, MetricList) {
  absl::StatusOr<std::vector<std::string>> m = ParseMetricList("revenue, win_rate");
  ASSERT_OK(m);
  EXPECT_THAT(*m, ElementsAre("revenue", "win_rate"));
  EXPECT_TRUE(ParseMetricList("all")->empty());
  EXPECT_TRUE(ParseMetricList("")->empty());
  EXPECT_THAT(Error(ParseMetricList("revenue,profit").status()),
              StartsWith("--metrics: unknown metric 'profit' (one of revenue, gross_margin,"));
}

TEST(ValueRequestsTest, ListFilters) {
  ValueListArgs args;
  args.tier = "gold";
  args.abc_class = "a";
  args.segment = "At Risk";
  args.negative_asset_only = true;
  args.vip_only = true;
  args.region = "华东";
  args.owner = "rep-01";
  args.page_size = 10;
  args.query.as_of = "2025-06-30T16:00:00Z";
  absl::StatusOr<v1::ListValueCustomersRequest> r = MakeListValueCustomersRequest(args);
  ASSERT_OK(r);
  EXPECT_EQ(r->filter().tier(), v1::TIER_GOLD);
  EXPECT_EQ(r->filter().abc_class(), "A");
  EXPECT_EQ(r->filter().segment(), "At Risk");
  EXPECT_TRUE(r->filter().negative_asset_only());
  EXPECT_TRUE(r->filter().vip_only());
  EXPECT_EQ(r->filter().region(), "华东");
  EXPECT_EQ(r->filter().owner_id(), "rep-01");
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_EQ(r->as_of().seconds(), 1751299200);
  args.abc_class = "D";
  EXPECT_EQ(Error(MakeListValueCustomersRequest(args).status()),
            "--abc: unknown ABC class 'D' (one of A, B, C)");
  args.abc_class = "";
  args.tier = "bronze";
  EXPECT_THAT(Error(MakeListValueCustomersRequest(args).status()), StartsWith("--tier: "));
}

TEST(ValueRequestsTest, SummariesTakeFourDimensions) {
  absl::StatusOr<v1::TierSummaryRequest> t = MakeTierSummaryRequest("", {});
  ASSERT_OK(t);
  EXPECT_EQ(t->dimension(), v1::DIMENSION_ALL);
  EXPECT_FALSE(t->has_as_of());
  absl::StatusOr<v1::ParetoRequest> p =
      MakeParetoRequest("industry", {.as_of = "2025-06-30T16:00:00Z", .consistency_token = "t"});
  ASSERT_OK(p);
  EXPECT_EQ(p->dimension(), v1::DIMENSION_INDUSTRY);
  EXPECT_EQ(p->as_of().seconds(), 1751299200);
  EXPECT_EQ(p->consistency_token(), "t");
  EXPECT_EQ(Error(MakeParetoRequest("channel", {}).status()),
            "--dimension: channel is not one of ALL, REGION, INDUSTRY, OWNER here");
  absl::StatusOr<v1::GetValueRequest> g = MakeGetValueRequest("C1", {});
  ASSERT_OK(g);
  EXPECT_FALSE(g->has_as_of());
  EXPECT_THAT(MakeGetValueRequest("", {}), StatusIs(kInvalid, "CUSTOMER_ID: required"));
  EXPECT_TRUE(MakeRefitClvRequest({})->has_as_of() == false);
  EXPECT_EQ(MakeRefitClvRequest({.as_of = "2025-06-30T16:00:00Z"})->as_of().seconds(), 1751299200);
  EXPECT_THAT(Error(MakeRefitClvRequest({.as_of = "yesterday"}).status()), StartsWith("--as-of: "));
  EXPECT_EQ(MakeRefitClvRequest({.consistency_token = "c1.x"})->consistency_token(), "c1.x");
}

}  // namespace
}  // namespace custops::ctl

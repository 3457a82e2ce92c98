#include "custops/ctl/requests.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

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
  ASSERT_TRUE(r.ok()) << r.status();
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
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->has_as_of());
  absl::StatusOr<v1::GetCustomerRequest> g = MakeGetCustomerRequest("C000001", {});
  ASSERT_TRUE(g.ok());
  EXPECT_FALSE(g->has_as_of());
  EXPECT_EQ(g->customer_id(), "C000001");
}

TEST(RequestsTest, BadFlagsNameTheFlag) {
  ListArgs args;
  args.stage = "warm";
  EXPECT_THAT(std::string(MakeListCustomersRequest(args).status().message()),
              StartsWith("--stage: unknown stage 'warm' (one of"));
  args = {};
  args.sub_stage = "shrinking";
  EXPECT_THAT(std::string(MakeListCustomersRequest(args).status().message()),
              StartsWith("--sub-stage: "));
  args = {};
  args.kind = "friend";
  EXPECT_THAT(std::string(MakeListCustomersRequest(args).status().message()),
              StartsWith("--kind: "));
  args = {};
  args.query.as_of = "last tuesday";
  EXPECT_THAT(std::string(MakeListCustomersRequest(args).status().message()),
              StartsWith("--as-of: "));
  args = {};
  args.page_size = -1;
  EXPECT_THAT(std::string(MakeListCustomersRequest(args).status().message()),
              StartsWith("--page-size: "));
  EXPECT_EQ(MakeGetCustomerRequest("C1", {.as_of = "2025"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_FALSE(MakeGetCustomerRequest("", {}).ok());
}

TEST(RequestsTest, StageSummary) {
  absl::StatusOr<v1::StageSummaryRequest> r = MakeStageSummaryRequest("", {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dimension(), v1::DIMENSION_ALL);
  r = MakeStageSummaryRequest("region", {.as_of = "2025-06-30T16:00:00Z"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->dimension(), v1::DIMENSION_REGION);
  EXPECT_EQ(r->as_of().seconds(), 1751299200);
  EXPECT_THAT(std::string(MakeStageSummaryRequest("colour", {}).status().message()),
              StartsWith("--dimension: unknown dimension 'colour'"));
}

TEST(RequestsTest, SubscribeNormalizesEventTypes) {
  absl::StatusOr<v1::SubscribeRequest> r =
      MakeSubscribeRequest("", {"ContractSigned", "payment_received"}, {"C1", "C2"});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->from(), "latest");
  EXPECT_THAT(r->event_types(), ElementsAre("contract_signed", "payment_received"));
  EXPECT_THAT(r->customer_ids(), ElementsAre("C1", "C2"));
  r = MakeSubscribeRequest("earliest", {"contract_sined"}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()),
              HasSubstr("--type: unknown event type 'contract_sined'"));
  r = MakeSubscribeRequest("opaque-token", {}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from(), "opaque-token");
}

TEST(RequestsTest, SubscribeChangesPassesTypes) {
  absl::StatusOr<v1::SubscribeChangesRequest> r =
      MakeSubscribeChangesRequest("earliest", {"stage_changed"}, {"C1"});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->from(), "earliest");
  EXPECT_THAT(r->change_types(), ElementsAre("stage_changed"));
}

TEST(RequestsTest, Timeline) {
  absl::StatusOr<v1::TimelineRequest> r = MakeTimelineRequest("C1", 10, "p2", "tok");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->customer_id(), "C1");
  EXPECT_EQ(r->page_size(), 10);
  EXPECT_EQ(r->page_token(), "p2");
  EXPECT_EQ(r->consistency_token(), "tok");
  EXPECT_FALSE(MakeTimelineRequest("", 0, "", "").ok());
}

}  // namespace
}  // namespace custops::ctl

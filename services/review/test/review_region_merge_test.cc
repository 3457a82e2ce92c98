// DIMENSION_ALL of a region-scoped caller as the merge of its regions
// (docs/review.md "Region merge"): on a hand-built event set over three
// regions, the merge of one region is that region's report, the merge of two
// matches hand-computed figures, the merge of every region is the ALL
// report, a customer who moved region counts once, and ReviewService answers
// a token's ALL with the merge of its regions.
#include <filesystem>
#include <map>
#include <numeric>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "custops/domain/lifecycle.h"
#include "custops/event/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_service.h"
#include "custops/rpc/gateway.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "review_events.h"
#include "review_store_fixture.h"

namespace custops::review {
namespace {

using ::custops::testing::Cny;
using ::custops::testing::StatusIs;
using testing::At;
using testing::Events;
using testing::Scoped;
using testing::Shanghai;
using ::testing::StartsWith;
using testing::TestCall;

using Regions = std::vector<std::string>;

class RegionMergeTest : public testing::ReviewStoreTest {
 protected:
  RegionMergeTest() : ReviewStoreTest(At(2024, 4, 30)) {}

  // Three regions, March 2024 (previous: February; nobody moves region):
  //   East  a1  customer since Jan 10; o0 won Feb 5; o1 won and 20,000 Mar 5
  //         a2  first purchase 30,000 Mar 12; o6 (80,000) opened Mar 25, open
  //   West  b1  o5 won Feb 6; 40,000 (first) Mar 8; o2 (50,000) lost to Rival
  //             Mar 10; o7 (40,000) opened Mar 26, open
  //         b2  customer since Feb 10; visit Mar 15; o3 won Mar 20; churned Mar 25
  //   North n1  50,000 (first) Mar 20; o4 (70,000) lost to Rival Mar 22
  // Org figures for March: targets East 100,000, West 60,000, North 50,000,
  // ALL 210,000; market sizes 1,000,000 / 500,000 / 500,000 / ALL 2,000,000;
  // spend East 10,000, West 5,000, North 5,000 (each also ALL's). Actions:
  // x0 on ALL's, x1 on East's and x2 on West's February review.
  void ThreeRegions() {
    Events ev;
    for (const auto& [c, region] : std::vector<std::pair<std::string, std::string>>{
             {"a1", "East"}, {"a2", "East"}, {"b1", "West"}, {"b2", "West"}, {"n1", "North"}}) {
      ev.Register(c, At(2024, 1, 2), region, "owner-" + region);
    }
    ev.Contract("a1", At(2024, 1, 10), "rep", 10'000);
    ev.Open("a1", "o0", At(2024, 1, 5), "rep", 20'000);
    ev.Stage("a1", "o0", At(2024, 2, 5), "rep", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    ev.Open("a1", "o1", At(2024, 2, 1), "rep", 100'000);
    ev.Stage("a1", "o1", At(2024, 3, 5), "rep", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    ev.Contract("a1", At(2024, 3, 5), "rep", 20'000);
    ev.Contract("a2", At(2024, 3, 12), "rep", 30'000);
    ev.Open("a2", "o6", At(2024, 3, 25), "rep", 80'000);
    ev.Open("b1", "o5", At(2024, 1, 5), "rep", 30'000);
    ev.Stage("b1", "o5", At(2024, 2, 6), "rep", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    ev.Open("b1", "o2", At(2024, 2, 1), "rep", 50'000);
    ev.Contract("b1", At(2024, 3, 8), "rep", 40'000);
    ev.Stage("b1", "o2", At(2024, 3, 10), "rep", v1::FUNNEL_STAGE_LOST, "Rival");
    ev.Open("b1", "o7", At(2024, 3, 26), "rep", 40'000);
    ev.Contract("b2", At(2024, 2, 10), "rep", 5'000);
    ev.Open("b2", "o3", At(2024, 3, 1), "rep", 60'000);
    ev.Visit("b2", At(2024, 3, 15), "rep");
    ev.Stage("b2", "o3", At(2024, 3, 20), "rep", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    ev.Churn("b2", At(2024, 3, 25));
    ev.Contract("n1", At(2024, 3, 20), "rep", 50'000);
    ev.Open("n1", "o4", At(2024, 3, 1), "rep", 70'000);
    ev.Stage("n1", "o4", At(2024, 3, 22), "rep", v1::FUNNEL_STAGE_LOST, "Rival");
    Append(ev.Take());

    int n = 0;
    auto org = [&](absl::Time at) -> v1::OrgEvent {
      v1::OrgEvent e;
      e.set_event_id(absl::StrCat("org", ++n));
      *e.mutable_occurred_at() = event::ToProto(at);
      return e;
    };
    auto march = [](v1::Period* p) {
      p->set_granularity(v1::GRANULARITY_MONTH);
      *p->mutable_start() = event::ToProto(At(2024, 3, 1));
    };
    for (const auto& [dim, value, target, market] :
         std::vector<std::tuple<v1::Dimension, std::string, int64_t, int64_t>>{
             {v1::DIMENSION_REGION, "East", 100'000, 1'000'000},
             {v1::DIMENSION_REGION, "West", 60'000, 500'000},
             {v1::DIMENSION_REGION, "North", 50'000, 500'000},
             {v1::DIMENSION_ALL, "", 210'000, 2'000'000}}) {
      v1::OrgEvent t = org(At(2024, 1, 1));
      auto* ts = t.mutable_target_set();
      march(ts->mutable_period());
      ts->set_dimension(dim);
      ts->set_dimension_value(value);
      ts->set_metric("revenue");
      *ts->mutable_value()->mutable_money() = Cny(target);
      org_->Apply(t);
      v1::OrgEvent m = org(At(2024, 1, 1));
      auto* ms = m.mutable_market_size_declared();
      march(ms->mutable_period());
      ms->set_region(value);
      *ms->mutable_amount() = Cny(market);
      org_->Apply(m);
    }
    for (const auto& [region, day, units] : std::vector<std::tuple<std::string, int, int64_t>>{
             {"East", 3, 10'000}, {"West", 4, 5'000}, {"North", 5, 5'000}}) {
      v1::OrgEvent s = org(At(2024, 3, day));
      auto* ms = s.mutable_marketing_spend_recorded();
      ms->mutable_date()->set_year(2024);
      ms->mutable_date()->set_month(3);
      ms->mutable_date()->set_day(day);
      ms->set_dimension(v1::DIMENSION_REGION);
      ms->set_dimension_value(region);
      *ms->mutable_amount() = Cny(units);
      org_->Apply(s);
    }
    for (const auto& [id, dim, value] :
         std::vector<std::tuple<std::string, v1::Dimension, std::string>>{
             {"x0", v1::DIMENSION_ALL, ""},
             {"x2", v1::DIMENSION_REGION, "West"},
             {"x1", v1::DIMENSION_REGION, "East"}}) {
      v1::OrgEvent a = org(At(2024, 3, 2));
      auto* ap = a.mutable_review_action_planned();
      ap->set_action_id(id);
      ap->mutable_review_period()->set_granularity(v1::GRANULARITY_MONTH);
      *ap->mutable_review_period()->mutable_start() = event::ToProto(At(2024, 2, 1));
      ap->set_dimension(dim);
      ap->set_dimension_value(value);
      ap->set_finding("win_rate_drop");
      ap->set_owner("manager");
      org_->Apply(a);
    }
  }

  static v1::GetReviewRequest ReviewRequest(v1::Dimension dim, const std::string& value,
                                            absl::Time start = At(2024, 3, 1)) {
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_dimension_value(value);
    return req;
  }
  static v1::FunnelRequest FunnelRequest(v1::Dimension dim, const std::string& value) {
    v1::FunnelRequest req;
    req.mutable_period()->set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period()->mutable_start() = event::ToProto(At(2024, 3, 1));
    req.set_dimension(dim);
    req.set_dimension_value(value);
    return req;
  }
  v1::ReviewReport Review(v1::Dimension dim, const std::string& value) {
    auto r = queries_->GetReview(ReviewRequest(dim, value));
    EXPECT_OK(r);
    return r.ok() ? *r : v1::ReviewReport();
  }
  v1::ReviewReport Merged(const Regions& regions, absl::Time start = At(2024, 3, 1)) {
    auto r = queries_->GetReview(ReviewRequest(v1::DIMENSION_ALL, "", start), &regions);
    EXPECT_OK(r);
    return r.ok() ? *r : v1::ReviewReport();
  }
  v1::FunnelSlice FunnelOf(v1::Dimension dim, const std::string& value,
                           const Regions* regions = nullptr) {
    auto r = queries_->Funnel(FunnelRequest(dim, value), regions);
    EXPECT_OK(r);
    if (!r.ok() || r->slices_size() != 1) {
      ADD_FAILURE() << "no single funnel slice";
      return v1::FunnelSlice();
    }
    return r->slices(0);
  }
  static const v1::Metric& M(const v1::ReviewReport& r, const std::string& name) {
    for (const auto& m : r.metrics()) {
      if (m.name() == name) return m;
    }
    ADD_FAILURE() << "no metric " << name;
    static v1::Metric none;
    return none;
  }
  // Every metric (value, 环比, 同比 and changes), byte for byte.
  static std::vector<std::string> Metrics(const v1::ReviewReport& r) {
    std::vector<std::string> out;
    for (const auto& m : r.metrics()) out.push_back(m.DebugString());
    return out;
  }
  static std::vector<std::string> Findings(const v1::ReviewReport& r) {
    std::vector<std::string> out;
    for (const auto& f : r.findings()) out.push_back(f.DebugString());
    return out;
  }
  static const v1::Finding* FindingOf(const v1::ReviewReport& r, const std::string& rule) {
    for (const auto& f : r.findings()) {
      if (f.rule_id() == rule) return &f;
    }
    return nullptr;
  }
};

// merged({r}) is r's REGION report (metrics, findings and their subjects,
// actions) with dimension ALL and value "".
TEST_F(RegionMergeTest, OneRegionIsThatRegionsReport) {
  ThreeRegions();
  for (const std::string region : {"East", "West", "North", "South"}) {
    SCOPED_TRACE(region);
    v1::ReviewReport one = Merged({region});
    const v1::ReviewReport by_region = Review(v1::DIMENSION_REGION, region);
    EXPECT_EQ(one.dimension(), v1::DIMENSION_ALL);
    EXPECT_EQ(one.dimension_value(), "");
    EXPECT_EQ(Metrics(one), Metrics(by_region));
    one.set_dimension(v1::DIMENSION_REGION);
    one.set_dimension_value(region);
    EXPECT_EQ(one.SerializeAsString(), by_region.SerializeAsString());
    // The previous period's report too (a finding there, other subjects).
    EXPECT_EQ(
        Metrics(Merged({region}, At(2024, 2, 1))),
        Metrics(queries_->GetReview(ReviewRequest(v1::DIMENSION_REGION, region, At(2024, 2, 1)))
                    .value()));
  }
  EXPECT_EQ(M(Review(v1::DIMENSION_REGION, "East"), "revenue").value().money().units(), 50'000);
}

// The table: hand-computed figures of the merge of East and West, and the
// merge of every region against ALL.
TEST_F(RegionMergeTest, MergedFiguresAreTheUnionsFigures) {
  ThreeRegions();
  struct Case {
    std::string name;
    Regions regions;
    int64_t revenue, new_customers, active, target, spend;
    std::pair<int64_t, int64_t> churn, win_rate, attainment;  // numerator, denominator
    std::vector<std::string> lost_opportunities;              // win_rate_drop's subjects
  };
  const std::vector<Case> cases = {
      {"east", {"East"}, 50'000, 1, 2, 100'000, 10'000, {0, 1}, {1, 1}, {1, 2}, {}},
      {"west", {"West"}, 40'000, 1, 2, 60'000, 5'000, {1, 1}, {1, 2}, {2, 3}, {"o2"}},
      // a1, a2, b1, b2 active; a2, b1 new; b2 of a1, b2 lost; o1, o3 of o1,
      // o2, o3 won; 90,000 of 160,000.
      {"east+west",
       {"East", "West"},
       90'000,
       2,
       4,
       160'000,
       15'000,
       {1, 2},
       {2, 3},
       {9, 16},
       {"o2"}},
      {"west+east, repeated",
       {"West", "East", "West"},
       90'000,
       2,
       4,
       160'000,
       15'000,
       {1, 2},
       {2, 3},
       {9, 16},
       {"o2"}},
      {"every region",
       {"East", "North", "West"},
       140'000,
       3,
       5,
       210'000,
       20'000,
       {1, 2},
       {1, 2},
       {2, 3},
       {"o2", "o4"}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    const v1::ReviewReport r = Merged(c.regions);
    EXPECT_EQ(r.period_key(), "2024-03");
    EXPECT_EQ(r.dimension(), v1::DIMENSION_ALL);
    EXPECT_EQ(r.dimension_value(), "");
    EXPECT_EQ(M(r, "revenue").value().money().units(), c.revenue);
    EXPECT_EQ(M(r, "new_customers").value().count(), c.new_customers);
    EXPECT_EQ(M(r, "active_customers").value().count(), c.active);
    EXPECT_EQ(M(r, "target").value().money().units(), c.target);
    EXPECT_EQ(M(r, "marketing_spend").value().money().units(), c.spend);
    EXPECT_EQ(M(r, "churn_rate").value().ratio().numerator(), c.churn.first);
    EXPECT_EQ(M(r, "churn_rate").value().ratio().denominator(), c.churn.second);
    EXPECT_EQ(M(r, "win_rate").value().ratio().numerator(), c.win_rate.first);
    EXPECT_EQ(M(r, "win_rate").value().ratio().denominator(), c.win_rate.second);
    EXPECT_EQ(M(r, "attainment").value().ratio().numerator(), c.attainment.first);
    EXPECT_EQ(M(r, "attainment").value().ratio().denominator(), c.attainment.second);
    // February's win rate was 1 wherever there was one: a drop names the
    // lost opportunities of the merged regions only.
    const v1::Finding* drop = FindingOf(r, "win_rate_drop");
    if (c.lost_opportunities.empty()) {
      EXPECT_EQ(drop, nullptr);
    } else {
      ASSERT_NE(drop, nullptr);
      EXPECT_EQ(
          std::vector<std::string>(drop->opportunity_ids().begin(), drop->opportunity_ids().end()),
          c.lost_opportunities);
    }
  }

  // Every region with data is ALL (its org figures declared as the regions'
  // sums): the whole report but the actions (ALL's are the org's own).
  v1::ReviewReport every = Merged({"East", "West", "North"});
  v1::ReviewReport all = Review(v1::DIMENSION_ALL, "");
  EXPECT_EQ(Metrics(every), Metrics(all));
  EXPECT_EQ(Findings(every), Findings(all));
  every.clear_actions();
  all.clear_actions();
  EXPECT_EQ(every.SerializeAsString(), all.SerializeAsString());
}

// A target (or market size) is summed only when every merged region
// declares one; figures declared only for ALL are not apportioned.
TEST_F(RegionMergeTest, TargetsAndMarketSizesOnlyWhenEveryRegionDeclaresOne) {
  ThreeRegions();
  const v1::ReviewReport r = Merged({"East", "South"});
  EXPECT_EQ(M(r, "revenue").value().money().units(), 50'000);
  EXPECT_FALSE(M(r, "target").value().has_money());
  EXPECT_FALSE(M(r, "attainment").value().has_ratio());
  EXPECT_FALSE(M(r, "market_share").value().has_ratio());
  EXPECT_EQ(M(r, "marketing_spend").value().money().units(), 10'000);
  EXPECT_EQ(FindingOf(r, "attainment_below"), nullptr);
  const v1::ReviewReport both = Merged({"East", "West"});
  EXPECT_EQ(M(both, "market_share").value().ratio().numerator(), 90'000 / 30'000);
  EXPECT_EQ(M(both, "market_share").value().ratio().denominator(), 1'500'000 / 30'000);
  ASSERT_NE(FindingOf(both, "attainment_below"), nullptr);
  // An empty scope merges nothing.
  const v1::ReviewReport none = Merged({});
  EXPECT_EQ(M(none, "revenue").value().money().units(), 0);
  EXPECT_FALSE(M(none, "target").value().has_money());
}

// Actions planned against each merged region's review, by id, each with its
// own region's metric then and now; ALL's action is not a region's.
TEST_F(RegionMergeTest, ActionsAreTheRegionsActions) {
  ThreeRegions();
  const v1::ReviewReport r = Merged({"East", "West"});
  ASSERT_EQ(r.actions_size(), 2);
  EXPECT_EQ(r.actions(0).action_id(), "x1");
  EXPECT_EQ(r.actions(1).action_id(), "x2");
  const v1::ReviewReport east = Review(v1::DIMENSION_REGION, "East");
  const v1::ReviewReport west = Review(v1::DIMENSION_REGION, "West");
  ASSERT_EQ(east.actions_size(), 1);
  ASSERT_EQ(west.actions_size(), 1);
  EXPECT_EQ(r.actions(0).SerializeAsString(), east.actions(0).SerializeAsString());
  EXPECT_EQ(r.actions(1).SerializeAsString(), west.actions(0).SerializeAsString());
  // West's win rate: 1 in February, 1/2 now.
  EXPECT_EQ(r.actions(1).value_now().ratio().numerator(), 1);
  EXPECT_EQ(r.actions(1).value_now().ratio().denominator(), 2);
  EXPECT_EQ(r.actions(1).value_then().ratio().numerator(), 1);
  EXPECT_EQ(r.actions(1).value_then().ratio().denominator(), 1);
  EXPECT_EQ(Review(v1::DIMENSION_ALL, "").actions_size(), 1);
}

TEST_F(RegionMergeTest, FunnelMergesTheRegionsRows) {
  ThreeRegions();
  for (const std::string region : {"East", "West", "North"}) {
    SCOPED_TRACE(region);
    const Regions one = {region};
    v1::FunnelSlice merged = FunnelOf(v1::DIMENSION_ALL, "", &one);
    EXPECT_EQ(merged.dimension_value(), "");
    merged.set_dimension_value(region);
    EXPECT_EQ(merged.SerializeAsString(),
              FunnelOf(v1::DIMENSION_REGION, region).SerializeAsString());
  }
  const Regions east_west = {"East", "West"};
  const v1::FunnelSlice ew = FunnelOf(v1::DIMENSION_ALL, "", &east_west);
  const v1::FunnelSlice east = FunnelOf(v1::DIMENSION_REGION, "East");
  const v1::FunnelSlice west = FunnelOf(v1::DIMENSION_REGION, "West");
  EXPECT_EQ(ew.won(), 2);   // o1, o3
  EXPECT_EQ(ew.lost(), 1);  // o2
  EXPECT_EQ(ew.win_rate().numerator(), 2);
  EXPECT_EQ(ew.win_rate().denominator(), 3);
  EXPECT_EQ(ew.open_opportunities(), 2);  // o6, o7
  EXPECT_EQ(ew.weighted_pipeline().units(),
            120'000 * domain::FunnelProbability(v1::FUNNEL_STAGE_OPPORTUNITY) / 100);
  ASSERT_EQ(ew.losses_by_competitor_size(), 1);
  EXPECT_EQ(ew.losses_by_competitor(0).competitor(), "Rival");
  EXPECT_EQ(ew.losses_by_competitor(0).opportunities(), 1);
  EXPECT_EQ(ew.losses_by_competitor(0).amount().units(), 50'000);
  ASSERT_EQ(ew.stages_size(), 6);
  for (int k = 0; k < 6; ++k) {
    EXPECT_EQ(ew.stages(k).entered(), east.stages(k).entered() + west.stages(k).entered()) << k;
    EXPECT_EQ(ew.stages(k).advanced(), east.stages(k).advanced() + west.stages(k).advanced()) << k;
  }
  EXPECT_EQ(ew.stages(0).entered(), 3);  // o3, o6, o7 opened in March

  const Regions every = {"East", "North", "West"};
  v1::FunnelSlice merged_all = FunnelOf(v1::DIMENSION_ALL, "", &every);
  EXPECT_EQ(merged_all.SerializeAsString(), FunnelOf(v1::DIMENSION_ALL, "").SerializeAsString());
  EXPECT_EQ(merged_all.losses_by_competitor(0).opportunities(), 2);
}

TEST_F(RegionMergeTest, AMergeIsOnlyDimensionAll) {
  ThreeRegions();
  const Regions regions = {"East"};
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(queries_->GetReview(ReviewRequest(v1::DIMENSION_REGION, "East"), &regions),
              StatusIs(kInvalid, "dimension: a merge of regions answers DIMENSION_ALL"));
  EXPECT_THAT(queries_->Funnel(FunnelRequest(v1::DIMENSION_OWNER, ""), &regions),
              StatusIs(kInvalid, "dimension: a merge of regions answers DIMENSION_ALL"));
  EXPECT_THAT(queries_->GetReview(ReviewRequest(v1::DIMENSION_ALL, "East"), &regions),
              StatusIs(kInvalid, "dimension_value: must be empty for DIMENSION_ALL"));
  EXPECT_OK(queries_->GetReview(ReviewRequest(v1::DIMENSION_UNSPECIFIED, ""), &regions));
}

// m1 moves from East to West on March 10 with visits and purchases on both
// sides: each region counts it (active, purchasing, repeat purchasing,
// covered), ALL and the merge count it once.
TEST_F(RegionMergeTest, AMoverCountsOnceInTheMerge) {
  Events ev;
  ev.Register("m1", At(2024, 1, 2), "East", "owner-East");
  ev.Register("w1", At(2024, 1, 2), "West", "owner-West");
  ev.Register("w2", At(2024, 1, 2), "West", "owner-West");
  ev.Contract("m1", At(2024, 1, 10), "rep", 10'000);
  ev.Contract("w1", At(2024, 1, 10), "rep", 10'000);
  ev.Visit("m1", At(2024, 3, 5), "rep");
  ev.Contract("m1", At(2024, 3, 6), "rep", 1'000);
  ev.Move("m1", At(2024, 3, 10), "West");
  ev.Visit("m1", At(2024, 3, 15), "rep");
  ev.Contract("m1", At(2024, 3, 16), "rep", 2'000);
  ev.Visit("w1", At(2024, 3, 20), "rep");
  ev.Contract("w2", At(2024, 3, 21), "rep", 5'000);
  Append(ev.Take());

  const v1::ReviewReport east = Review(v1::DIMENSION_REGION, "East");
  const v1::ReviewReport west = Review(v1::DIMENSION_REGION, "West");
  const v1::ReviewReport all = Review(v1::DIMENSION_ALL, "");
  const v1::ReviewReport merged = Merged({"East", "West"});
  EXPECT_EQ(M(east, "active_customers").value().count(), 1);
  EXPECT_EQ(M(west, "active_customers").value().count(), 3);
  EXPECT_EQ(M(all, "active_customers").value().count(), 3);
  EXPECT_EQ(M(merged, "active_customers").value().count(), 3);  // not 4
  // Repeat purchasers of purchasers: East m1 of m1, West m1 of m1 and w2;
  // ALL and the merge 1 of 2 (not 2 of 3).
  for (const auto& [r, n, d] : std::vector<std::tuple<const v1::ReviewReport*, int, int>>{
           {&east, 1, 1}, {&west, 1, 2}, {&all, 1, 2}, {&merged, 1, 2}}) {
    EXPECT_EQ(M(*r, "repeat_purchase_rate").value().ratio().numerator(), n);
    EXPECT_EQ(M(*r, "repeat_purchase_rate").value().ratio().denominator(), d);
  }
  // Coverage: m1 (in East's base, where it became a customer) visited on
  // both sides, w1 visited: 2 of 2, not 3 of 2.
  EXPECT_EQ(M(merged, "contact_coverage").value().ratio().numerator(), 1);
  EXPECT_EQ(M(merged, "contact_coverage").value().ratio().denominator(), 1);
  EXPECT_EQ(Metrics(merged), Metrics(all));
  EXPECT_EQ(Metrics(Merged({"East"})), Metrics(east));
  EXPECT_EQ(Metrics(Merged({"West"})), Metrics(west));
  // The year's merge as well (the mover entry is per period).
  v1::GetReviewRequest year = ReviewRequest(v1::DIMENSION_ALL, "");
  year.set_granularity(v1::GRANULARITY_YEAR);
  *year.mutable_period_start() = event::ToProto(At(2024, 1, 1));
  const Regions both = {"East", "West"};
  EXPECT_EQ(Metrics(queries_->GetReview(year, &both).value()),
            Metrics(queries_->GetReview(year).value()));
}

// Random moves, visits and purchases in time order: for every month and the
// year and every set of regions, the merge's active and purchasing customers
// are the customers with such an event while in one of the set's regions
// (counted once), and the merge of every region is ALL.
TEST_F(RegionMergeTest, RandomMoversAreCountedOnceInEveryMerge) {
  const std::vector<std::string> names = {"East", "North", "West"};
  std::mt19937 rng(20240301);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  struct Fact {
    absl::Time at;
    std::string customer;
    int kind;  // 0 move, 1 visit, 2 purchase
    std::string region;
  };
  std::vector<Fact> facts;
  Events ev;
  std::map<std::string, std::string> region_of;
  for (int c = 0; c < 30; ++c) {
    const std::string id = absl::StrCat("c", c);
    region_of[id] = names[uniform(0, 2)];
    ev.Register(id, At(2024, 1, 1, 1), region_of[id], "owner-" + region_of[id]);
    for (int i = 0; i < 14; ++i) {
      const absl::Time at = At(2024, 1, 2) + absl::Hours(uniform(0, 24 * 360));
      facts.push_back({at, id, uniform(0, 2), names[uniform(0, 2)]});
    }
  }
  std::stable_sort(facts.begin(), facts.end(),
                   [](const Fact& a, const Fact& b) { return a.at < b.at; });
  // (period key, customer) -> regions it was active / purchasing in.
  std::map<std::pair<std::string, std::string>, std::set<std::string>> active, purchasing, repeat;
  std::map<std::string, absl::Time> first_purchase;
  for (const Fact& f : facts) {
    if (f.kind == 0) {
      ev.Move(f.customer, f.at, f.region);
      region_of[f.customer] = f.region;
      continue;
    }
    if (f.kind == 1) ev.Visit(f.customer, f.at, "rep");
    if (f.kind == 2) ev.Contract(f.customer, f.at, "rep", uniform(1, 100) * 1'000);
    const absl::CivilDay day = absl::ToCivilDay(f.at, Shanghai());
    for (const std::string& key :
         {absl::FormatCivilTime(absl::CivilMonth(day)), std::string("2024")}) {
      active[{key, f.customer}].insert(region_of[f.customer]);
      if (f.kind != 2) continue;
      purchasing[{key, f.customer}].insert(region_of[f.customer]);
      auto first = first_purchase.find(f.customer);
      if (first != first_purchase.end() && first->second < f.at) {
        repeat[{key, f.customer}].insert(region_of[f.customer]);
      }
    }
    if (f.kind == 2) first_purchase.emplace(f.customer, f.at);
  }
  Append(ev.Take());

  auto count = [](const auto& seen, const std::string& key, const Regions& regions) {
    int64_t n = 0;
    for (const auto& [k, in] : seen) {
      if (k.first != key) continue;
      bool any = false;
      for (const std::string& r : regions) any |= in.contains(r);
      n += any ? 1 : 0;
    }
    return n;
  };
  int movers = 0;
  for (const auto& [k, in] : active) movers += in.size() > 1 ? 1 : 0;
  EXPECT_GT(movers, 10);  // the merge has something to correct
  for (int m = 0; m <= 12; ++m) {
    v1::GetReviewRequest req = ReviewRequest(v1::DIMENSION_ALL, "", At(2024, m == 0 ? 1 : m, 1));
    if (m == 0) req.set_granularity(v1::GRANULARITY_YEAR);
    const std::string key = m == 0 ? "2024" : absl::FormatCivilTime(absl::CivilMonth(2024, m));
    for (int bits = 1; bits < 8; ++bits) {
      Regions regions;
      for (int i = 0; i < 3; ++i) {
        if (bits & (1 << i)) regions.push_back(names[i]);
      }
      SCOPED_TRACE(absl::StrCat(key, " ", absl::StrJoin(regions, "+")));
      absl::StatusOr<v1::ReviewReport> r = queries_->GetReview(req, &regions);
      ASSERT_OK(r);
      EXPECT_EQ(r->period_key(), key);
      EXPECT_EQ(M(*r, "active_customers").value().count(), count(active, key, regions));
      const int64_t buyers = count(purchasing, key, regions);
      const int64_t repeaters = count(repeat, key, regions);
      const v1::MetricValue& rate = M(*r, "repeat_purchase_rate").value();
      if (buyers == 0) {
        EXPECT_FALSE(rate.has_ratio());
      } else {
        const int64_t g = std::gcd(repeaters, buyers);
        EXPECT_EQ(rate.ratio().numerator(), repeaters / g);
        EXPECT_EQ(rate.ratio().denominator(), buyers / g);
      }
      if (bits == 7) {
        absl::StatusOr<v1::ReviewReport> all = queries_->GetReview(req);
        ASSERT_OK(all);
        EXPECT_EQ(Metrics(*r), Metrics(*all));
        EXPECT_EQ(Findings(*r), Findings(*all));
      }
    }
  }
}

// ---- The service: ScopedSlice's decision and calls through the method table.

TEST(ScopedSliceTest, Decisions) {
  struct Case {
    std::string name;
    std::optional<Regions> scope;
    v1::Dimension dim;
    std::string value;
    absl::StatusCode code;
    v1::Dimension want_dim = v1::DIMENSION_UNSPECIFIED;
    std::string want_value;
    std::optional<Regions> want_regions;
  };
  const Regions ew = {"East", "West"};
  const std::vector<Case> cases = {
      {"unscoped all", std::nullopt, v1::DIMENSION_ALL, "", absl::StatusCode::kOk,
       v1::DIMENSION_ALL, "", std::nullopt},
      {"unscoped owner", std::nullopt, v1::DIMENSION_OWNER, "o", absl::StatusCode::kOk,
       v1::DIMENSION_OWNER, "o", std::nullopt},
      {"listed region", ew, v1::DIMENSION_REGION, "West", absl::StatusCode::kOk,
       v1::DIMENSION_REGION, "West", std::nullopt},
      {"other region", ew, v1::DIMENSION_REGION, "North", absl::StatusCode::kPermissionDenied},
      {"every region", ew, v1::DIMENSION_REGION, "", absl::StatusCode::kPermissionDenied},
      {"all of two", ew, v1::DIMENSION_ALL, "", absl::StatusCode::kOk, v1::DIMENSION_ALL, "", ew},
      {"unspecified of two", ew, v1::DIMENSION_UNSPECIFIED, "", absl::StatusCode::kOk,
       v1::DIMENSION_UNSPECIFIED, "", ew},
      {"all of one", Regions{"East"}, v1::DIMENSION_ALL, "", absl::StatusCode::kOk,
       v1::DIMENSION_ALL, "", Regions{"East"}},
      {"owner", ew, v1::DIMENSION_OWNER, "o", absl::StatusCode::kPermissionDenied},
      {"tier", ew, v1::DIMENSION_TIER, "GOLD", absl::StatusCode::kPermissionDenied},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    absl::StatusOr<ScopedRead> read = ScopedSlice(Scoped(c.scope), c.dim, c.value);
    if (c.code != absl::StatusCode::kOk) {
      EXPECT_THAT(read, StatusIs(c.code));
      continue;
    }
    EXPECT_OK(read);
    if (!read.ok()) continue;
    EXPECT_EQ(read->dimension, c.want_dim);
    EXPECT_EQ(read->value, c.want_value);
    EXPECT_EQ(read->regions, c.want_regions);
  }
}

class ReviewServiceScopeTest : public testing::WithReviewService<RegionMergeTest> {
 protected:
  absl::StatusOr<v1::ReviewReport> GetReview(const rpc::Identity& who, v1::Dimension dim,
                                             const std::string& value) {
    return Invoke<v1::ReviewReport>("custops.v1.Review/GetReview", who, ReviewRequest(dim, value));
  }
  absl::StatusOr<v1::FunnelResponse> Funnel(const rpc::Identity& who, v1::Dimension dim,
                                            const std::string& value) {
    return Invoke<v1::FunnelResponse>("custops.v1.Review/Funnel", who, FunnelRequest(dim, value));
  }
};

TEST_F(ReviewServiceScopeTest, ATwoRegionTokensAllIsTheMergeOfItsRegions) {
  ThreeRegions();
  const rpc::Identity ew = Scoped(Regions{"East", "West"});
  absl::StatusOr<v1::ReviewReport> all = GetReview(ew, v1::DIMENSION_ALL, "");
  ASSERT_OK(all);
  EXPECT_EQ(all->dimension(), v1::DIMENSION_ALL);
  EXPECT_EQ(all->dimension_value(), "");
  EXPECT_EQ(M(*all, "revenue").value().money().units(), 90'000);
  EXPECT_EQ(M(*all, "active_customers").value().count(), 4);
  EXPECT_EQ(all->SerializeAsString(), Merged({"East", "West"}).SerializeAsString());
  absl::StatusOr<v1::ReviewReport> unspecified = GetReview(ew, v1::DIMENSION_UNSPECIFIED, "");
  ASSERT_OK(unspecified);
  EXPECT_EQ(unspecified->SerializeAsString(), all->SerializeAsString());

  // A listed region as before; another one, another dimension denied.
  absl::StatusOr<v1::ReviewReport> west = GetReview(ew, v1::DIMENSION_REGION, "West");
  ASSERT_OK(west);
  EXPECT_EQ(west->SerializeAsString(), Review(v1::DIMENSION_REGION, "West").SerializeAsString());
  EXPECT_THAT(GetReview(ew, v1::DIMENSION_REGION, "North"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "dimension_value: region North is outside this token's regions"));
  EXPECT_THAT(GetReview(ew, v1::DIMENSION_OWNER, "owner-East"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       StartsWith("dimension: a region-scoped token reads the review by "
                                  "DIMENSION_REGION")));

  // A one-region token's ALL has that region's metrics (as before).
  absl::StatusOr<v1::ReviewReport> one = GetReview(Scoped(Regions{"East"}), v1::DIMENSION_ALL, "");
  ASSERT_OK(one);
  EXPECT_EQ(Metrics(*one), Metrics(Review(v1::DIMENSION_REGION, "East")));
  // Unscoped: ALL is ALL.
  absl::StatusOr<v1::ReviewReport> org = GetReview(Scoped(std::nullopt), v1::DIMENSION_ALL, "");
  ASSERT_OK(org);
  EXPECT_EQ(org->SerializeAsString(), Review(v1::DIMENSION_ALL, "").SerializeAsString());
}

TEST_F(ReviewServiceScopeTest, FunnelOfATwoRegionToken) {
  ThreeRegions();
  const rpc::Identity ew = Scoped(Regions{"East", "West"});
  absl::StatusOr<v1::FunnelResponse> all = Funnel(ew, v1::DIMENSION_ALL, "");
  ASSERT_OK(all);
  ASSERT_EQ(all->slices_size(), 1);
  const Regions regions = {"East", "West"};
  EXPECT_EQ(all->slices(0).SerializeAsString(),
            FunnelOf(v1::DIMENSION_ALL, "", &regions).SerializeAsString());
  EXPECT_EQ(all->slices(0).won(), 2);
  // Every region: the scope's rows only.
  absl::StatusOr<v1::FunnelResponse> rows = Funnel(ew, v1::DIMENSION_REGION, "");
  ASSERT_OK(rows);
  std::vector<std::string> values;
  for (const auto& s : rows->slices()) values.push_back(s.dimension_value());
  EXPECT_EQ(values, (std::vector<std::string>{"East", "West"}));
  EXPECT_THAT(Funnel(ew, v1::DIMENSION_REGION, "North"),
              StatusIs(absl::StatusCode::kPermissionDenied,
                       "dimension_value: region North is outside this token's regions"));
}

}  // namespace
}  // namespace custops::review

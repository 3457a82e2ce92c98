// Review report rules (docs/review.md): exact ratios, every metric from its
// accumulator, 环比/同比 with zero bases, merge laws, and every default
// finding rule at its threshold edge.
#include "custops/domain/review.h"

#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "custops/domain/ratio.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

using ::custops::testing::StatusIs;
using ::testing::AllOf;
using ::testing::EndsWith;
using ::testing::StartsWith;

Ratio R(int64_t n, int64_t d = 1) { return *Ratio::Of(n, d); }

// --- Ratio ----------------------------------------------------------------

TEST(RatioTest, NormalisesAndCompares) {
  EXPECT_EQ(R(2, 4), R(1, 2));
  EXPECT_EQ(R(-1, -2), R(1, 2));
  EXPECT_EQ(R(3, -6).numerator(), -1);
  EXPECT_EQ(R(3, -6).denominator(), 2);
  EXPECT_EQ(R(0, -5), Ratio());
  EXPECT_FALSE(Ratio::Of(1, 0).has_value());
  EXPECT_LT(R(1, 3), R(34, 100));
  EXPECT_GT(R(-1, 3), R(-34, 100));
  EXPECT_LE(R(4, 5), R(80, 100));
  EXPECT_EQ(R(1, 2) + R(1, 3), R(5, 6));
  EXPECT_EQ(R(1, 2) - R(1, 3), R(1, 6));
  EXPECT_EQ(R(2, 3) * R(3, 4), R(1, 2));
  EXPECT_EQ(*Divide(R(1, 2), R(1, 4)), R(2));
  EXPECT_FALSE(Divide(R(1), Ratio()).has_value());
  EXPECT_EQ(R(7, 3).ToString(), "7/3");
  EXPECT_EQ(R(-4, 2).ToString(), "-2");
}

TEST(RatioTest, ScaledRoundsHalfAwayFromZero) {
  struct Case {
    int64_t n, d, scale, want;
  };
  const Case cases[] = {
      {1, 3, 10'000, 3'333}, {2, 3, 10'000, 6'667}, {1, 2, 1, 1},
      {-1, 2, 1, -1},        {1, 8, 100, 13},       {-1, 8, 100, -13},
      {3, 4, 10'000, 7'500}, {0, 1, 100, 0},        {INT64_MAX, 1, 2, INT64_MAX},  // saturates
  };
  for (const Case& c : cases) {
    EXPECT_EQ(R(c.n, c.d).Scaled(c.scale), c.want) << c.n << "/" << c.d << " x " << c.scale;
  }
  EXPECT_EQ(R(7, 2).Floor(), 3);
  EXPECT_EQ(R(-7, 2).Floor(), -4);
}

TEST(RatioTest, HugeTermsAreApproximatedNotWrapped) {
  const __int128 big = static_cast<__int128>(INT64_MAX) * 3;
  std::optional<Ratio> r = Ratio::Of128(big, big * 2 + 1);
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->Scaled(1'000'000), 500'000);
  EXPECT_GT(r->denominator(), 0);
}

TEST(RatioTest, RelativeChangeNullOnZeroBase) {
  EXPECT_EQ(RelativeChange(R(120), R(100)), R(1, 5));
  EXPECT_EQ(RelativeChange(R(80), R(100)), R(-1, 5));
  EXPECT_EQ(RelativeChange(R(0), R(100)), R(-1));
  // A loss shrinking is an improvement: -50 against -100 is +50%.
  EXPECT_EQ(RelativeChange(R(-50), R(-100)), R(1, 2));
  EXPECT_FALSE(RelativeChange(R(5), R(0)).has_value());
  EXPECT_FALSE(RelativeChange(R(0), R(0)).has_value());
  EXPECT_FALSE(RelativeChange(std::nullopt, R(1)).has_value());
  EXPECT_FALSE(RelativeChange(R(1), std::nullopt).has_value());
  EXPECT_EQ(Difference(R(5), R(0)), R(5));
  EXPECT_FALSE(Difference(R(5), std::nullopt).has_value());
}

// --- metric names -----------------------------------------------------------

TEST(MetricNamesTest, DesignListInOrderAndUnique) {
  // The report's 26 head metrics, in their order (docs/review.md "Report order").
  const char* design[] = {"revenue",
                          "gross_margin",
                          "payments",
                          "target",
                          "attainment",
                          "new_customers",
                          "lost_customers",
                          "active_customers",
                          "churn_rate",
                          "repeat_purchase_rate",
                          "win_backs",
                          "referrals",
                          "visits",
                          "contact_coverage",
                          "quotes",
                          "win_rate",
                          "avg_discount",
                          "sales_cycle_days",
                          "weighted_pipeline",
                          "complaints",
                          "resolution_hours_p50",
                          "satisfaction",
                          "marketing_spend",
                          "marketing_roi",
                          "market_share",
                          "top20_revenue_share"};
  size_t i = 0;
  for (const char* name : design) {
    ASSERT_LT(i, kMetricCount);
    EXPECT_EQ(MetricName(AllMetrics()[i]), name);
    EXPECT_EQ(MetricByName(name), AllMetrics()[i]);
    ++i;
  }
  for (MetricId a : AllMetrics()) {
    EXPECT_EQ(MetricByName(MetricName(a)), a);
  }
  EXPECT_FALSE(MetricByName("revenue ").has_value());
  EXPECT_EQ(MetricUnitOf(MetricId::kRevenue), MetricUnit::kMoney);
  EXPECT_EQ(MetricUnitOf(MetricId::kWinRate), MetricUnit::kShare);
  EXPECT_EQ(MetricUnitOf(MetricId::kSalesCycleDays), MetricUnit::kDays);
}

// --- metrics ---------------------------------------------------------------

TEST(PercentileTest, NearestRank) {
  EXPECT_FALSE(NearestRankPercentile({}, 500).has_value());
  EXPECT_EQ(NearestRankPercentile({7}, 500), 7);
  EXPECT_EQ(NearestRankPercentile({1, 2, 3}, 500), 2);
  EXPECT_EQ(NearestRankPercentile({1, 2, 3, 4}, 500), 2);  // lower median
  EXPECT_EQ(NearestRankPercentile({1, 2, 3, 4, 5}, 500), 3);
  const std::vector<int64_t> ten = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
  EXPECT_EQ(NearestRankPercentile(ten, 900), 9);
  EXPECT_EQ(NearestRankPercentile(ten, 901), 10);
  EXPECT_EQ(NearestRankPercentile(ten, 0), 1);
  EXPECT_EQ(NearestRankPercentile(ten, 1000), 10);
}

TEST(ComputeMetricsTest, EmptyAccumulatorHasZerosAndNulls) {
  const ReviewMetrics m = ComputeMetrics(ReviewAccumulator{}, MetricRules{});
  for (MetricId id : {MetricId::kRevenue, MetricId::kGrossMargin, MetricId::kPayments,
                      MetricId::kVisits, MetricId::kQuotes, MetricId::kComplaints,
                      MetricId::kWeightedPipeline, MetricId::kMarketingSpend}) {
    EXPECT_EQ(m[id], Ratio()) << MetricName(id);
  }
  for (MetricId id : {MetricId::kTarget, MetricId::kAttainment, MetricId::kChurnRate,
                      MetricId::kRepeatPurchaseRate, MetricId::kContactCoverage, MetricId::kWinRate,
                      MetricId::kAvgDiscount, MetricId::kSalesCycleDays,
                      MetricId::kResolutionHoursP50, MetricId::kSatisfaction,
                      MetricId::kMarketingRoi, MetricId::kMarketShare, MetricId::kTop20RevenueShare,
                      MetricId::kResponseHoursP50, MetricId::kComplaintsSatisfiedShare}) {
    EXPECT_FALSE(m[id].has_value()) << MetricName(id);
  }
}

TEST(ComputeMetricsTest, EveryMetricFromItsDefinition) {
  ReviewAccumulator a;
  // Revenue 100,000.00 + 50,000.00 (c1 twice) + 30,000.00 (c2) + 20,000.00 (c3) in 分.
  AddPurchase(a, "c1", 10'000'000, 6'000'000);
  AddPurchase(a, "c1", 5'000'000, 3'000'000);
  AddPurchase(a, "c2", 3'000'000, 2'000'000);
  AddPurchase(a, "c3", 2'000'000, 1'500'000);
  a.payments_units = 12'345'600;
  a.target_units = 25'000'000;
  a.new_customers = 2;
  a.lost_customers = 3;
  a.active_customers = 40;
  a.customers_at_start = 60;
  a.purchasing_customers = 3;
  a.repeat_purchasing_customers = 1;
  a.win_backs = 1;
  a.referrals = 4;
  a.visits = 57;
  a.coverage_base = 80;
  a.covered_customers = 30;
  a.quotes = 9;
  a.quoted_units = 900'000;
  a.quoted_list_units = 1'000'000;
  a.opportunities_won = 3;
  a.opportunities_lost = 5;
  a.won_cycle_seconds = (10 + 20 + 31) * 86'400 + 43'200;
  a.won_with_cycle = 3;
  a.pipeline_percent_units = 1'000'000 * 5 + 333 * 30;  // floor(5'009'990 / 100)
  a.complaints = 6;
  a.sla_breaches = 2;
  a.complaints_resolved = 4;
  a.complaints_resolved_satisfied = 3;
  for (int h : {30, 2, 10, 5}) AddResolution(a, absl::Hours(h));
  for (int m : {90, 15, 45}) AddResponse(a, absl::Minutes(m));
  a.csat_sum = 4 + 5 + 3 + 4;
  a.csat_surveys = 4;
  a.marketing_spend_units = 4'000'000;
  a.market_size_units = 200'000'000;
  a.negative_asset_customers = 7;
  a.overdue_receivables_units = 1'500'000;

  const ReviewMetrics m = ComputeMetrics(a, MetricRules{});
  EXPECT_EQ(m[MetricId::kRevenue], R(20'000'000));
  EXPECT_EQ(m[MetricId::kGrossMargin], R(20'000'000 - 12'500'000));
  EXPECT_EQ(m[MetricId::kPayments], R(12'345'600));
  EXPECT_EQ(m[MetricId::kTarget], R(25'000'000));
  EXPECT_EQ(m[MetricId::kAttainment], R(4, 5));
  EXPECT_EQ(m[MetricId::kNewCustomers], R(2));
  EXPECT_EQ(m[MetricId::kLostCustomers], R(3));
  EXPECT_EQ(m[MetricId::kActiveCustomers], R(40));
  EXPECT_EQ(m[MetricId::kChurnRate], R(3, 60));
  EXPECT_EQ(m[MetricId::kRepeatPurchaseRate], R(1, 3));
  EXPECT_EQ(m[MetricId::kWinBacks], R(1));
  EXPECT_EQ(m[MetricId::kReferrals], R(4));
  EXPECT_EQ(m[MetricId::kVisits], R(57));
  EXPECT_EQ(m[MetricId::kContactCoverage], R(30, 80));
  EXPECT_EQ(m[MetricId::kQuotes], R(9));
  EXPECT_EQ(m[MetricId::kWinRate], R(3, 8));
  EXPECT_EQ(m[MetricId::kAvgDiscount], R(1, 10));
  EXPECT_EQ(m[MetricId::kSalesCycleDays], R(615, 30));  // (61.5 days) / 3
  EXPECT_EQ(m[MetricId::kWeightedPipeline], R(50'099));
  EXPECT_EQ(m[MetricId::kComplaints], R(6));
  EXPECT_EQ(m[MetricId::kResolutionHoursP50], R(5));  // {2, 5, 10, 30}: 2nd
  EXPECT_EQ(m[MetricId::kResolutionHoursP90], R(30));
  EXPECT_EQ(m[MetricId::kResponseHoursP50], R(3, 4));  // {15, 45, 90} min: 45 min
  EXPECT_EQ(m[MetricId::kSatisfaction], R(16, 4));
  EXPECT_EQ(m[MetricId::kMarketingSpend], R(4'000'000));
  EXPECT_EQ(m[MetricId::kMarketingRoi], R(7'500'000 - 4'000'000, 4'000'000));
  EXPECT_EQ(m[MetricId::kMarketShare], R(20'000'000, 200'000'000));
  // 3 customers: the top ceil(0.6) = 1 is c1 with 150,000.00 of 200,000.00.
  EXPECT_EQ(m[MetricId::kTop20RevenueShare], R(15, 20));
  EXPECT_EQ(m[MetricId::kSlaBreaches], R(2));
  EXPECT_EQ(m[MetricId::kComplaintsSatisfiedShare], R(3, 4));
  EXPECT_EQ(m[MetricId::kNegativeAssets], R(7));
  EXPECT_EQ(m[MetricId::kOverdueReceivables], R(1'500'000));
  for (MetricId id : AllMetrics()) {
    if (MetricUnitOf(id) == MetricUnit::kMoney) {
      ASSERT_TRUE(m[id].has_value()) << MetricName(id);
      EXPECT_TRUE(m[id]->is_integer()) << MetricName(id);
    }
  }
}

TEST(ComputeMetricsTest, NullWhenTheDenominatorIsZeroOrAbsent) {
  ReviewAccumulator a;
  AddPurchase(a, "c1", 100, 40);
  a.target_units = 0;
  a.market_size_units = 0;
  ReviewMetrics m = ComputeMetrics(a, MetricRules{});
  EXPECT_EQ(m[MetricId::kTarget], R(0));
  EXPECT_FALSE(m[MetricId::kAttainment].has_value());
  EXPECT_FALSE(m[MetricId::kMarketShare].has_value());
  EXPECT_FALSE(m[MetricId::kMarketingRoi].has_value());
  a.target_units.reset();
  EXPECT_FALSE(ComputeMetrics(a, MetricRules{})[MetricId::kTarget].has_value());
  a.marketing_spend_units = 100;
  // Margin 60 on spend 100: ROI -40%.
  EXPECT_EQ(ComputeMetrics(a, MetricRules{})[MetricId::kMarketingRoi], R(-2, 5));
}

TEST(ComputeMetricsTest, TopShareTakesCeilOfTheTopPercent) {
  struct Case {
    std::vector<int64_t> revenues;
    std::optional<Ratio> want;
  };
  const Case cases[] = {
      {{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, R(19, 55)},     // top 2 of 10
      {{10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1}, R(27, 56)},  // top ceil(2.2) = 3 of 11
      {{5}, R(1)},
      {{5, 5, 5, 5, 5}, R(1, 5)},   // ties: any one of them
      {{100, -100}, std::nullopt},  // total 0
      {{}, std::nullopt},
  };
  for (const Case& c : cases) {
    ReviewAccumulator a;
    for (size_t i = 0; i < c.revenues.size(); ++i) {
      AddPurchase(a, "c" + std::to_string(i), c.revenues[i], 0);
    }
    EXPECT_EQ(ComputeMetrics(a, MetricRules{})[MetricId::kTop20RevenueShare], c.want)
        << c.revenues.size();
  }
  ReviewAccumulator a;
  for (int i = 1; i <= 10; ++i) AddPurchase(a, "c" + std::to_string(i), i, 0);
  EXPECT_EQ(
      ComputeMetrics(a, MetricRules{.top_customers_percent = 50})[MetricId::kTop20RevenueShare],
      R(40, 55));
}

TEST(CompareMetricsTest, ChangesWithZeroAndMissingBases) {
  ReviewMetrics cur, prev, year;
  cur[MetricId::kRevenue] = R(150);
  prev[MetricId::kRevenue] = R(100);
  year[MetricId::kRevenue] = R(0);
  cur[MetricId::kWinRate] = R(1, 2);
  prev[MetricId::kWinRate] = R(2, 5);
  // year ago win rate null (no closes).
  const std::vector<MetricRow> rows = CompareMetrics(cur, prev, year);
  ASSERT_EQ(rows.size(), kMetricCount);
  const MetricRow& rev = rows[static_cast<size_t>(MetricId::kRevenue)];
  EXPECT_EQ(rev.id, MetricId::kRevenue);
  EXPECT_EQ(rev.value, R(150));
  EXPECT_EQ(rev.change_vs_previous, R(1, 2));
  EXPECT_EQ(rev.delta_vs_previous, R(50));
  EXPECT_EQ(rev.year_ago, R(0));
  EXPECT_FALSE(rev.change_vs_year_ago.has_value());  // zero base → null
  EXPECT_EQ(rev.delta_vs_year_ago, R(150));
  const MetricRow& win = rows[static_cast<size_t>(MetricId::kWinRate)];
  EXPECT_EQ(win.change_vs_previous, R(1, 4));  // 0.5 vs 0.4: +25%
  EXPECT_EQ(win.delta_vs_previous, R(1, 10));  // +10 points
  EXPECT_FALSE(win.year_ago.has_value());
  EXPECT_FALSE(win.change_vs_year_ago.has_value());
  EXPECT_FALSE(win.delta_vs_year_ago.has_value());
  // No year-ago period at all (e.g. 2024-02-29, week 53).
  const std::vector<MetricRow> no_base = CompareMetrics(cur, std::nullopt, std::nullopt);
  for (const MetricRow& r : no_base) {
    EXPECT_FALSE(r.previous || r.year_ago || r.change_vs_previous || r.change_vs_year_ago);
  }
}

// --- merge -----------------------------------------------------------------

ReviewAccumulator RandomAccumulator(std::mt19937_64& rng) {
  std::uniform_int_distribution<int64_t> small(0, 50);
  std::uniform_int_distribution<int64_t> money(-1'000'000, 100'000'000);
  ReviewAccumulator a;
  const int purchases = static_cast<int>(small(rng) % 6);
  for (int i = 0; i < purchases; ++i) {
    AddPurchase(a, "c" + std::to_string(small(rng) % 8), money(rng), money(rng) / 2);
  }
  a.payments_units = money(rng);
  if (small(rng) % 2) a.target_units = money(rng);
  if (small(rng) % 3 == 0) a.market_size_units = money(rng);
  int64_t* counters[] = {&a.new_customers,
                         &a.lost_customers,
                         &a.active_customers,
                         &a.customers_at_start,
                         &a.purchasing_customers,
                         &a.repeat_purchasing_customers,
                         &a.win_backs,
                         &a.referrals,
                         &a.visits,
                         &a.coverage_base,
                         &a.covered_customers,
                         &a.quotes,
                         &a.quoted_units,
                         &a.quoted_list_units,
                         &a.opportunities_won,
                         &a.opportunities_lost,
                         &a.won_cycle_seconds,
                         &a.won_with_cycle,
                         &a.pipeline_percent_units,
                         &a.complaints,
                         &a.sla_breaches,
                         &a.complaints_resolved,
                         &a.complaints_resolved_satisfied,
                         &a.csat_sum,
                         &a.csat_surveys,
                         &a.marketing_spend_units,
                         &a.negative_asset_customers,
                         &a.overdue_receivables_units};
  for (int64_t* c : counters) *c = small(rng);
  const int durations = static_cast<int>(small(rng) % 5);
  for (int i = 0; i < durations; ++i) {
    AddResolution(a, absl::Minutes(small(rng) * 37));
    AddResponse(a, absl::Minutes(small(rng)));
  }
  return a;
}

TEST(MergeTest, AssociativeCommutativeWithIdentity) {
  std::mt19937_64 rng(20240331);
  for (int i = 0; i < 300; ++i) {
    const ReviewAccumulator a = RandomAccumulator(rng);
    const ReviewAccumulator b = RandomAccumulator(rng);
    const ReviewAccumulator c = RandomAccumulator(rng);
    ASSERT_EQ(Merge(Merge(a, b), c), Merge(a, Merge(b, c))) << i;
    ASSERT_EQ(Merge(a, b), Merge(b, a)) << i;
    ASSERT_EQ(Merge(a, ReviewAccumulator{}), a) << i;
    ASSERT_EQ(Merge(ReviewAccumulator{}, a), a) << i;
    ASSERT_EQ(ComputeMetrics(Merge(Merge(a, b), c), MetricRules{}),
              ComputeMetrics(Merge(a, Merge(b, c)), MetricRules{}));
  }
}

// Folding a stream of purchases and resolutions into one accumulator equals
// folding any split of it into two and merging: the property a projection
// relies on when it combines partitions.
TEST(MergeTest, SplitFoldMergeEqualsSingleFold) {
  std::mt19937_64 rng(7);
  std::uniform_int_distribution<int64_t> amount(1, 1'000'000);
  std::uniform_int_distribution<int> pick(0, 9);
  for (int round = 0; round < 50; ++round) {
    ReviewAccumulator whole, left, right;
    for (int i = 0; i < 40; ++i) {
      const std::string customer = "c" + std::to_string(pick(rng));
      const int64_t amt = amount(rng);
      const absl::Duration took = absl::Seconds(amount(rng));
      ReviewAccumulator& side = pick(rng) < 5 ? left : right;
      AddPurchase(whole, customer, amt, amt / 3);
      AddPurchase(side, customer, amt, amt / 3);
      AddResolution(whole, took);
      AddResolution(side, took);
      whole.visits += 1;
      side.visits += 1;
    }
    ASSERT_EQ(Merge(left, right), whole);
  }
}

TEST(MergeTest, OptionalsAndSaturation) {
  ReviewAccumulator a, b;
  a.target_units = 100;
  EXPECT_EQ(Merge(a, b).target_units, 100);
  b.target_units = 50;
  EXPECT_EQ(Merge(a, b).target_units, 150);
  a.revenue_units = INT64_MAX - 1;
  b.revenue_units = 10;
  EXPECT_EQ(Merge(a, b).revenue_units, INT64_MAX);
  ReviewAccumulator c;
  AddPurchase(c, "x", INT64_MAX, 0);
  AddPurchase(c, "x", 5, 0);
  EXPECT_EQ(c.revenue_by_customer.at("x"), INT64_MAX);
  ReviewAccumulator d;
  d.cost_units = INT64_MIN;  // margin = 0 - INT64_MIN saturates instead of overflowing
  EXPECT_EQ(ComputeMetrics(d, MetricRules{})[MetricId::kGrossMargin], R(INT64_MAX));
  AddResolution(c, absl::Seconds(-5));
  EXPECT_EQ(c.resolution_seconds, std::vector<int64_t>{0});
}

// --- findings ---------------------------------------------------------------

bool Fired(const std::vector<Finding>& findings, const std::string& rule) {
  for (const Finding& f : findings) {
    if (f.rule_id == rule) return true;
  }
  return false;
}

// Each default rule just at its threshold (nothing) and just past it (a
// finding). Only the rule's metric is set, so no other rule can fire.
TEST(FindingsTest, EveryDefaultRuleAtItsEdge) {
  struct Case {
    const char* rule;
    MetricId metric;
    std::optional<Ratio> base;  // in the rule's baseline period
    Ratio at_threshold;
    Ratio past_threshold;
    bool year_ago_baseline = false;
  };
  const Case cases[] = {
      {"attainment_below", MetricId::kAttainment, std::nullopt, R(80, 100), R(79'999, 100'000)},
      {"churn_up", MetricId::kChurnRate, R(1, 10), R(12, 100), R(121, 1000)},
      {"sla_breaches", MetricId::kSlaBreaches, std::nullopt, R(0), R(1)},
      {"negative_assets_up", MetricId::kNegativeAssets, R(5), R(5), R(6)},
      {"win_rate_drop", MetricId::kWinRate, R(1, 2), R(2, 5), R(399, 1000)},
      {"revenue_drop_yoy", MetricId::kRevenue, R(1000), R(800), R(799), true},
      {"complaints_up", MetricId::kComplaints, R(10), R(12), R(13)},
      {"contact_coverage_below", MetricId::kContactCoverage, std::nullopt, R(3, 5), R(599, 1000)},
      {"satisfaction_below", MetricId::kSatisfaction, std::nullopt, R(7, 2), R(349, 100)},
      {"marketing_roi_below", MetricId::kMarketingRoi, std::nullopt, R(0), R(-1, 100)},
      {"concentration_above", MetricId::kTop20RevenueShare, std::nullopt, R(4, 5), R(801, 1000)},
  };
  const FindingRules rules;
  ASSERT_EQ(rules.rules.size(), std::size(cases));
  for (const Case& c : cases) {
    ReviewMetrics base;
    base[c.metric] = c.base;
    const std::optional<ReviewMetrics> previous =
        c.year_ago_baseline ? std::nullopt : std::optional<ReviewMetrics>(base);
    const std::optional<ReviewMetrics> year_ago =
        c.year_ago_baseline ? std::optional<ReviewMetrics>(base) : std::nullopt;
    ReviewMetrics at, past;
    at[c.metric] = c.at_threshold;
    past[c.metric] = c.past_threshold;
    EXPECT_TRUE(EvaluateFindings(at, previous, year_ago, rules).empty()) << c.rule;
    const std::vector<Finding> got = EvaluateFindings(past, previous, year_ago, rules);
    ASSERT_EQ(got.size(), 1u) << c.rule;
    EXPECT_EQ(got[0].rule_id, c.rule);
    EXPECT_EQ(got[0].metric, c.metric);
    EXPECT_EQ(got[0].value, c.past_threshold);
    if (c.base) {
      EXPECT_EQ(got[0].base, c.base) << c.rule;
    }
    // Without its baseline a comparing rule has nothing to compare.
    if (c.base) {
      EXPECT_TRUE(EvaluateFindings(past, std::nullopt, std::nullopt, rules).empty()) << c.rule;
    }
  }
}

TEST(FindingsTest, RevenueDropComparesWithTheYearAgoNotThePreviousPeriod) {
  ReviewMetrics cur, prev, year;
  cur[MetricId::kRevenue] = R(500);
  prev[MetricId::kRevenue] = R(10'000);  // a huge 环比 drop: not this rule's base
  year[MetricId::kRevenue] = R(500);
  EXPECT_FALSE(Fired(EvaluateFindings(cur, prev, year, FindingRules{}), "revenue_drop_yoy"));
  year[MetricId::kRevenue] = R(1'000);
  const std::vector<Finding> got = EvaluateFindings(cur, prev, year, FindingRules{});
  ASSERT_TRUE(Fired(got, "revenue_drop_yoy"));
  EXPECT_EQ(got[0].change, R(-1, 2));
  EXPECT_EQ(got[0].severity, v1::SEVERITY_MEDIUM);
  EXPECT_EQ(got[0].baseline, FindingBaseline::kYearAgo);
}

TEST(FindingsTest, ZeroBaseFiresOnlyWhenOptedIn) {
  ReviewMetrics cur, prev;
  cur[MetricId::kChurnRate] = R(1, 50);
  prev[MetricId::kChurnRate] = R(0);
  FindingRules rules;
  EXPECT_FALSE(Fired(EvaluateFindings(cur, prev, std::nullopt, rules), "churn_up"));
  for (FindingRule& r : rules.rules) r.fire_on_zero_base = true;
  std::vector<Finding> got = EvaluateFindings(cur, prev, std::nullopt, rules);
  ASSERT_TRUE(Fired(got, "churn_up"));
  EXPECT_FALSE(got[0].change.has_value());  // no relative change from zero
  // Still zero: no move, nothing.
  cur[MetricId::kChurnRate] = R(0);
  EXPECT_FALSE(Fired(EvaluateFindings(cur, prev, std::nullopt, rules), "churn_up"));
  // A drop rule from a zero base does not fire on a rise.
  cur[MetricId::kWinRate] = R(1, 2);
  prev[MetricId::kWinRate] = R(0);
  EXPECT_FALSE(Fired(EvaluateFindings(cur, prev, std::nullopt, rules), "win_rate_drop"));
}

TEST(FindingsTest, OrderSeverityAndCustomRules) {
  ReviewMetrics cur, prev;
  cur[MetricId::kAttainment] = R(1, 2);
  cur[MetricId::kSlaBreaches] = R(3);
  cur[MetricId::kTop20RevenueShare] = R(9, 10);
  const std::vector<Finding> got = EvaluateFindings(cur, std::nullopt, std::nullopt, {});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].rule_id, "attainment_below");
  EXPECT_EQ(got[0].severity, v1::SEVERITY_HIGH);
  EXPECT_EQ(got[0].threshold, R(4, 5));
  EXPECT_EQ(got[1].rule_id, "sla_breaches");
  EXPECT_EQ(got[2].rule_id, "concentration_above");
  EXPECT_EQ(got[2].severity, v1::SEVERITY_LOW);

  // A configured rule: visits decrease by more than 10 against the previous period.
  FindingRules custom;
  custom.rules = {{"visits_down", MetricId::kVisits, FindingCondition::kDecrease,
                   FindingBaseline::kPrevious, R(10), v1::SEVERITY_LOW, false}};
  ASSERT_TRUE(ValidateFindingRules(custom).ok());
  cur[MetricId::kVisits] = R(40);
  prev[MetricId::kVisits] = R(50);
  EXPECT_TRUE(EvaluateFindings(cur, prev, std::nullopt, custom).empty());
  prev[MetricId::kVisits] = R(51);
  const std::vector<Finding> v = EvaluateFindings(cur, prev, std::nullopt, custom);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].change, R(-11));
}

TEST(FindingsTest, ValidateRules) {
  EXPECT_OK(ValidateFindingRules(FindingRules{}));
  // The default rules and `rule`.
  const auto validate = [](FindingRule rule) {
    FindingRules rules;
    rules.rules.push_back(rule);
    return ValidateFindingRules(rules);
  };
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  const FindingRule ok{"x",
                       MetricId::kVisits,
                       FindingCondition::kBelow,
                       FindingBaseline::kNone,
                       R(1),
                       v1::SEVERITY_LOW,
                       false};
  EXPECT_OK(validate(ok));
  FindingRule r = ok;
  r.id = "";
  EXPECT_THAT(validate(r), StatusIs(kInvalid, "finding rule with an empty id"));
  r = ok;
  r.id = "churn_up";  // repeats a default
  EXPECT_THAT(validate(r), StatusIs(kInvalid, "finding rule churn_up is repeated"));
  r = ok;
  r.baseline = FindingBaseline::kPrevious;
  EXPECT_THAT(validate(r), StatusIs(kInvalid, AllOf(StartsWith("finding rule x: condition "),
                                                    EndsWith(" takes no baseline"))));
  r = ok;
  r.condition = FindingCondition::kRelativeRise;
  EXPECT_THAT(validate(r), StatusIs(kInvalid, AllOf(StartsWith("finding rule x: condition "),
                                                    EndsWith(" needs a baseline"))));
  r.baseline = FindingBaseline::kYearAgo;
  EXPECT_OK(validate(r));
  r.threshold = R(-1, 10);
  EXPECT_THAT(validate(r), StatusIs(kInvalid, "finding rule x: a relative threshold must be >= 0"));
  r = ok;
  r.severity = v1::SEVERITY_UNSPECIFIED;
  EXPECT_THAT(validate(r), StatusIs(kInvalid, "finding rule x: no severity"));
}

}  // namespace
}  // namespace custops::domain

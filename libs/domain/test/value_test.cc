// Value rules (docs/value.md): table-driven boundaries of every score.
#include "custops/domain/value.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

const absl::Time kAsOf =
    absl::FromCivil(absl::CivilSecond(2025, 6, 30, 12, 0, 0), absl::UTCTimeZone());

absl::Time DaysAgo(int64_t days) { return kAsOf - absl::Hours(24 * days); }

std::string Id(int i) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "c%03d", i);
  return buf;
}

// --- QuintileScore --------------------------------------------------------

TEST(QuintileScoreTest, Boundaries) {
  struct Case {
    int64_t worse, n;
    int want;
  };
  const Case cases[] = {
      {0, 1, 1},    {0, 2, 1},    {1, 2, 3},    {0, 3, 1},    {1, 3, 2},    {2, 3, 4},
      {0, 5, 1},    {1, 5, 2},    {2, 5, 3},    {3, 5, 4},    {4, 5, 5},    {1, 10, 1},
      {2, 10, 2},   {9, 10, 5},   {19, 100, 1}, {20, 100, 2}, {39, 100, 2}, {40, 100, 3},
      {59, 100, 3}, {60, 100, 4}, {79, 100, 4}, {80, 100, 5}, {99, 100, 5},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(QuintileScore(c.worse, c.n), c.want) << "L=" << c.worse << " N=" << c.n;
  }
}

TEST(QuintileScoreDeathTest, OutOfRangeCrashes) {
  EXPECT_DEATH(QuintileScore(5, 5), "precondition");
  EXPECT_DEATH(QuintileScore(0, 0), "precondition");
}

// --- RFM measures ---------------------------------------------------------

TEST(ScoreRfmTest, MeasuresAndWindowEdges) {
  struct Case {
    const char* name;
    std::vector<ValuePurchase> purchases;
    bool scored;
    int64_t recency_days, frequency, monetary;
  };
  const absl::Duration year = absl::Hours(24 * 365);
  const Case cases[] = {
      {"no purchases", {}, false, 0, 0, 0},
      {"only after as_of", {{kAsOf + absl::Seconds(1), 100}}, false, 0, 0, 0},
      {"at as_of", {{kAsOf, 100}}, true, 0, 1, 100},
      {"23h59 ago is 0 days", {{kAsOf - absl::Minutes(24 * 60 - 1), 100}}, true, 0, 1, 100},
      {"24h ago is 1 day", {{DaysAgo(1), 100}}, true, 1, 1, 100},
      {"window start excluded", {{kAsOf - year, 100}}, true, 365, 0, 0},
      {"just inside window", {{kAsOf - year + absl::Seconds(1), 100}}, true, 364, 1, 100},
      {"net amount with credit", {{DaysAgo(3), 500}, {DaysAgo(2), -200}}, true, 2, 2, 300},
      {"future ignored", {{DaysAgo(10), 7}, {kAsOf + absl::Hours(1), 1000}}, true, 10, 1, 7},
      {"old purchase counts for R only", {{DaysAgo(400), 9}}, true, 400, 0, 0},
  };
  for (const Case& c : cases) {
    std::vector<RfmScore> got = ScoreRfm({{"x", c.purchases}}, kAsOf, RfmRules{});
    ASSERT_EQ(got.size(), c.scored ? 1u : 0u) << c.name;
    if (!c.scored) continue;
    EXPECT_EQ(got[0].recency_days, c.recency_days) << c.name;
    EXPECT_EQ(got[0].frequency, c.frequency) << c.name;
    EXPECT_EQ(got[0].monetary_units, c.monetary) << c.name;
    // A single scored customer has nobody worse: all scores 1 → Lost.
    EXPECT_EQ(got[0].r, 1) << c.name;
    EXPECT_EQ(got[0].segment, RfmSegment::kLost) << c.name;
  }
}

TEST(ScoreRfmTest, FiveDistinctCustomersGetFiveScores) {
  std::vector<RfmInput> in;
  for (int i = 0; i < 5; ++i) {
    // c000 most recent, least frequent, largest amount.
    RfmInput c{Id(i), {}};
    for (int k = 0; k <= i; ++k)
      c.purchases.push_back({DaysAgo(10 * i + k), (5 - i) * 1000 / (i + 1)});
    in.push_back(c);
  }
  std::vector<RfmScore> got = ScoreRfm(in, kAsOf, RfmRules{});
  ASSERT_EQ(got.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].customer_id, Id(i));
    EXPECT_EQ(got[i].r, 5 - i);
    EXPECT_EQ(got[i].f, 1 + i);
    EXPECT_EQ(got[i].m, 5 - i);
  }
}

TEST(ScoreRfmTest, TiesShareAScore) {
  // R days: 0, 0, 5, 5, 9 → worse counts 3, 3, 1, 1, 0 → 1+floor(5L/5).
  std::vector<RfmInput> in = {
      {"a", {{DaysAgo(0), 10}}}, {"b", {{DaysAgo(0), 10}}}, {"c", {{DaysAgo(5), 10}}},
      {"d", {{DaysAgo(5), 10}}}, {"e", {{DaysAgo(9), 10}}},
  };
  std::vector<RfmScore> got = ScoreRfm(in, kAsOf, RfmRules{});
  ASSERT_EQ(got.size(), 5u);
  const int want_r[] = {4, 4, 2, 2, 1};
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].r, want_r[i]) << got[i].customer_id;
    // Everybody ties on F and M: nobody strictly worse, all score 1.
    EXPECT_EQ(got[i].f, 1);
    EXPECT_EQ(got[i].m, 1);
  }
}

TEST(ScoreRfmTest, FmIsAverageRoundedHalfUp) {
  // F counts 1..5; M amounts 100, 200, 400, 300, 500; same last day.
  const int64_t amounts[] = {100, 200, 400, 300, 500};
  std::vector<RfmInput> in;
  for (int i = 0; i < 5; ++i) {
    RfmInput c{Id(i), {}};
    for (int k = 0; k <= i; ++k) c.purchases.push_back({DaysAgo(1), k == 0 ? amounts[i] : 0});
    in.push_back(c);
  }
  std::vector<RfmScore> got = ScoreRfm(in, kAsOf, RfmRules{});
  struct Want {
    int f, m, fm;
    RfmSegment seg;
  };
  const Want want[] = {
      {1, 1, 1, RfmSegment::kLost},     {2, 2, 2, RfmSegment::kHibernating},
      {3, 4, 4, RfmSegment::kAtRisk},   {4, 3, 4, RfmSegment::kAtRisk},
      {5, 5, 5, RfmSegment::kCantLose},
  };
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(got[i].r, 1);
    EXPECT_EQ(got[i].f, want[i].f) << i;
    EXPECT_EQ(got[i].m, want[i].m) << i;
    EXPECT_EQ(got[i].fm, want[i].fm) << i;
    EXPECT_EQ(got[i].segment, want[i].seg) << i;
  }
}

TEST(ScoreRfmTest, IndependentOfInputOrder) {
  std::mt19937 rng(42);
  std::vector<RfmInput> in;
  for (int i = 0; i < 200; ++i) {
    RfmInput c{Id(i), {}};
    const int n = static_cast<int>(rng() % 6);  // some with none: not scored
    for (int k = 0; k < n; ++k) {
      c.purchases.push_back(
          {DaysAgo(static_cast<int64_t>(rng() % 500)), static_cast<int64_t>(rng() % 5) * 1000});
    }
    in.push_back(c);
  }
  const std::vector<RfmScore> base = ScoreRfm(in, kAsOf, RfmRules{});
  for (int round = 0; round < 5; ++round) {
    std::shuffle(in.begin(), in.end(), rng);
    for (RfmInput& c : in) std::shuffle(c.purchases.begin(), c.purchases.end(), rng);
    const std::vector<RfmScore> got = ScoreRfm(in, kAsOf, RfmRules{});
    ASSERT_EQ(got.size(), base.size());
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].customer_id, base[i].customer_id);
      EXPECT_EQ(got[i].r, base[i].r);
      EXPECT_EQ(got[i].f, base[i].f);
      EXPECT_EQ(got[i].m, base[i].m);
      EXPECT_EQ(got[i].segment, base[i].segment);
    }
  }
  // Invariants: scores in range, ties share, and better never scores lower.
  for (const RfmScore& a : base) {
    EXPECT_EQ(a.fm, (a.f + a.m + 1) / 2);
    EXPECT_EQ(a.segment, SegmentOf(a.r, a.fm));
    for (const RfmScore& b : base) {
      if (a.recency_days == b.recency_days) {
        EXPECT_EQ(a.r, b.r);
      }
      if (a.recency_days < b.recency_days) {
        EXPECT_GE(a.r, b.r);
      }
      if (a.frequency == b.frequency) {
        EXPECT_EQ(a.f, b.f);
      }
      if (a.frequency > b.frequency) {
        EXPECT_GE(a.f, b.f);
      }
      if (a.monetary_units == b.monetary_units) {
        EXPECT_EQ(a.m, b.m);
      }
      if (a.monetary_units > b.monetary_units) {
        EXPECT_GE(a.m, b.m);
      }
    }
  }
}

// --- Segment grid (docs/value.md) -----------------------------------------

TEST(SegmentOfTest, EveryCellOfThePublishedGrid) {
  using S = RfmSegment;
  // want[r-1][fm-1]
  const S want[5][5] = {
      {S::kLost, S::kHibernating, S::kAtRisk, S::kAtRisk, S::kCantLose},
      {S::kHibernating, S::kHibernating, S::kAtRisk, S::kAtRisk, S::kCantLose},
      {S::kAboutToSleep, S::kAboutToSleep, S::kNeedAttention, S::kLoyal, S::kLoyal},
      {S::kPromising, S::kPotentialLoyalist, S::kPotentialLoyalist, S::kLoyal, S::kLoyal},
      {S::kNew, S::kPotentialLoyalist, S::kPotentialLoyalist, S::kChampions, S::kChampions},
  };
  for (int r = 1; r <= 5; ++r) {
    for (int fm = 1; fm <= 5; ++fm) {
      EXPECT_EQ(SegmentOf(r, fm), want[r - 1][fm - 1])
          << "R=" << r << " FM=" << fm << " got " << RfmSegmentName(SegmentOf(r, fm));
    }
  }
}

TEST(SegmentOfTest, NamesAndAllElevenReachable) {
  struct Case {
    int r, fm;
    const char* name;
  };
  const Case cases[] = {
      {5, 5, "Champions"},
      {4, 4, "Loyal"},
      {4, 2, "Potential Loyalist"},
      {5, 1, "New"},
      {4, 1, "Promising"},
      {3, 3, "Need Attention"},
      {3, 1, "About to Sleep"},
      {2, 3, "At Risk"},
      {1, 5, "Can't Lose"},
      {2, 2, "Hibernating"},
      {1, 1, "Lost"},
  };
  for (const Case& c : cases) EXPECT_EQ(RfmSegmentName(SegmentOf(c.r, c.fm)), c.name);
}

// --- ABC ------------------------------------------------------------------

TEST(ClassifyAbcTest, ParetoBoundaries) {
  struct Case {
    const char* name;
    std::vector<CustomerAmount> in;
    std::string want;  // classes in rank order
  };
  const Case cases[] = {
      {"cum exactly 80% is not A", {{"a", 80}, {"b", 15}, {"c", 5}}, "ABC"},
      {"cum 79% is still A", {{"a", 79}, {"b", 16}, {"c", 5}}, "AAC"},
      {"cum exactly 95% is C", {{"a", 79}, {"b", 16}, {"c", 5}}, "AAC"},
      {"cum 94% is B", {{"a", 79}, {"b", 15}, {"c", 6}}, "AAB"},
      {"single customer is A", {{"a", 1}}, "A"},
      {"zero total: all C", {{"a", 0}, {"b", 0}}, "CC"},
      {"order by revenue desc", {{"a", 5}, {"b", 80}, {"c", 15}}, "ABC"},
      {"ties by id", {{"z", 50}, {"y", 50}}, "AA"},
      {"many equal", {{"a", 1}, {"b", 1}, {"c", 1}, {"d", 1}, {"e", 1}}, "AAAAB"},
  };
  for (const Case& c : cases) {
    std::vector<AbcEntry> got = ClassifyAbc(c.in, AbcRules{});
    std::string classes;
    for (const AbcEntry& e : got) classes += std::string(AbcClassName(e.abc));
    EXPECT_EQ(classes, c.want) << c.name;
  }
  // 20 equal customers: cum before = 5k% → A for k<16, B for 16..18, C for 19.
  std::vector<CustomerAmount> twenty;
  for (int i = 0; i < 20; ++i) twenty.push_back({Id(i), 7});
  std::vector<AbcEntry> got = ClassifyAbc(twenty, AbcRules{});
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(got[i].customer_id, Id(i));
    EXPECT_EQ(got[i].cumulative_before_units, 7 * i);
    EXPECT_EQ(got[i].abc, i < 16 ? AbcClass::kA : (i < 19 ? AbcClass::kB : AbcClass::kC)) << i;
  }
}

TEST(ClassifyAbcTest, TiesByIdAscending) {
  std::vector<AbcEntry> got = ClassifyAbc({{"z", 50}, {"y", 50}, {"x", 60}}, AbcRules{});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].customer_id, "x");
  EXPECT_EQ(got[1].customer_id, "y");
  EXPECT_EQ(got[2].customer_id, "z");
  EXPECT_EQ(got[2].rank, 2);
}

// --- Tiers ----------------------------------------------------------------

TEST(AssignTiersTest, PercentileEdges) {
  struct Case {
    int64_t n;
    int64_t want[5];  // counts of DIAMOND, PLATINUM, GOLD, SILVER, IRON
  };
  const Case cases[] = {
      {100, {1, 4, 15, 30, 50}},
      {99, {1, 4, 15, 30, 49}},
      {101, {2, 4, 15, 30, 50}},
      {1, {1, 0, 0, 0, 0}},
      {2, {1, 0, 0, 0, 1}},
      {20, {1, 0, 3, 6, 10}},
      {1000, {10, 40, 150, 300, 500}},
  };
  for (const Case& c : cases) {
    std::vector<CustomerAmount> in;
    for (int64_t i = 0; i < c.n; ++i) in.push_back({Id(static_cast<int>(i)), 1000 - i});
    std::vector<TierEntry> got = AssignTiers(in, TierRules{});
    int64_t counts[5] = {0, 0, 0, 0, 0};
    for (const TierEntry& e : got) ++counts[static_cast<int>(e.tier)];
    for (int t = 0; t < 5; ++t) {
      EXPECT_EQ(counts[t], c.want[t]) << "N=" << c.n << " " << TierName(static_cast<Tier>(t));
    }
    // Tiers are monotone in rank.
    for (size_t i = 1; i < got.size(); ++i) EXPECT_GE(got[i].tier, got[i - 1].tier);
  }
}

TEST(AssignTiersTest, RankEdgesAtHundred) {
  struct Case {
    int64_t rank, n;
    Tier want;
  };
  const Case cases[] = {
      {0, 100, Tier::kDiamond}, {1, 100, Tier::kPlatinum}, {4, 100, Tier::kPlatinum},
      {5, 100, Tier::kGold},    {19, 100, Tier::kGold},    {20, 100, Tier::kSilver},
      {49, 100, Tier::kSilver}, {50, 100, Tier::kIron},    {99, 100, Tier::kIron},
      {1, 101, Tier::kDiamond}, {2, 101, Tier::kPlatinum}, {5, 101, Tier::kPlatinum},
      {6, 101, Tier::kGold},    {20, 101, Tier::kGold},    {21, 101, Tier::kSilver},
      {50, 101, Tier::kSilver}, {51, 101, Tier::kIron},    {0, 99, Tier::kDiamond},
      {1, 99, Tier::kPlatinum}, {4, 99, Tier::kPlatinum},  {5, 99, Tier::kGold},
      {19, 99, Tier::kGold},    {20, 99, Tier::kSilver},   {49, 99, Tier::kSilver},
      {50, 99, Tier::kIron},    {0, 1, Tier::kDiamond},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(TierOfRank(c.rank, c.n, TierRules{}), c.want) << "r=" << c.rank << " N=" << c.n;
  }
}

TEST(AssignTiersTest, TiesByIdAndVip) {
  std::vector<TierEntry> got = AssignTiers({{"b", 5}, {"a", 5}, {"c", 9}}, TierRules{});
  EXPECT_EQ(got[0].customer_id, "c");
  EXPECT_EQ(got[1].customer_id, "a");
  EXPECT_EQ(got[2].customer_id, "b");
  EXPECT_TRUE(IsVip(Tier::kDiamond));
  EXPECT_TRUE(IsVip(Tier::kPlatinum));
  EXPECT_TRUE(IsVip(Tier::kGold));
  EXPECT_FALSE(IsVip(Tier::kSilver));
  EXPECT_FALSE(IsVip(Tier::kIron));
}

TEST(ProspectTest, BigAtThreshold) {
  const ProspectRules rules;
  EXPECT_EQ(ClassifyProspect(10'000'000, rules), ProspectSize::kBig);
  EXPECT_EQ(ClassifyProspect(9'999'999, rules), ProspectSize::kSmall);
  EXPECT_EQ(ClassifyProspect(0, rules), ProspectSize::kSmall);
  struct Case {
    std::vector<PipelineOpportunity> open;
    int64_t want;
  };
  const Case cases[] = {
      {{}, 0},
      {{{1000, 5}}, 50},
      {{{333, 30}, {333, 30}, {334, 30}}, 300},  // 29970/100 + ... summed first
      {{{199, 50}}, 99},                         // floor(99.5)
      {{{-199, 50}}, -100},                      // floor(-99.5)
      {{{20'000'000, 50}}, 10'000'000},
  };
  for (const Case& c : cases) EXPECT_EQ(WeightedPipelineUnits(c.open), c.want);
}

// --- Cost to serve --------------------------------------------------------

TEST(CostToServeTest, BySeverity) {
  const CostToServeRules rules{.visit_cost_units = 100,
                               .complaint_low_units = 1,
                               .complaint_medium_units = 10,
                               .complaint_high_units = 1000,
                               .complaint_critical_units = 10000,
                               .service_event_units = 7};
  struct Case {
    const char* name;
    ServiceActivity a;
    int64_t visits, complaints, service;
  };
  const Case cases[] = {
      {"nothing", {}, 0, 0, 0},
      {"visits", {.visits = 3}, 300, 0, 0},
      {"low", {.complaints_low = 2}, 0, 2, 0},
      {"medium", {.complaints_medium = 2}, 0, 20, 0},
      {"high", {.complaints_high = 2}, 0, 2000, 0},
      {"critical", {.complaints_critical = 2}, 0, 20000, 0},
      {"service", {.service_events = 4}, 0, 0, 28},
      {"all",
       {.visits = 1,
        .complaints_low = 1,
        .complaints_medium = 1,
        .complaints_high = 1,
        .complaints_critical = 1,
        .service_events = 1},
       100,
       11011,
       7},
  };
  for (const Case& c : cases) {
    CostToServe got = ComputeCostToServe(c.a, rules);
    EXPECT_EQ(got.visits_units, c.visits) << c.name;
    EXPECT_EQ(got.complaints_units, c.complaints) << c.name;
    EXPECT_EQ(got.service_units, c.service) << c.name;
    EXPECT_EQ(got.total_units, c.visits + c.complaints + c.service) << c.name;
  }
}

TEST(CostToServeTest, DefaultsAreDesignValues) {
  const CostToServeRules rules;
  CostToServe got = ComputeCostToServe({.visits = 1, .complaints_critical = 1}, rules);
  EXPECT_EQ(got.total_units, rules.visit_cost_units + rules.complaint_critical_units);
}

TEST(ContributionTest, NegativeAssetStrictlyBelowZero) {
  const CostToServeRules rules{.visit_cost_units = 100};
  struct Case {
    int64_t margin;
    int64_t visits;
    int64_t net;
    bool negative;
  };
  const Case cases[] = {
      {300, 3, 0, false},  // exactly 0 is not a negative asset
      {299, 3, -1, true}, {301, 3, 1, false},
      {0, 0, 0, false},   {-5, 0, -5, true},  // a loss-making margin alone
  };
  for (const Case& c : cases) {
    Contribution got = ComputeContribution(c.margin, {.visits = c.visits}, rules);
    EXPECT_EQ(got.margin_units, c.margin);
    EXPECT_EQ(got.cost_to_serve_units, c.visits * 100);
    EXPECT_EQ(got.net_units, c.net);
    EXPECT_EQ(got.negative_asset, c.negative) << c.margin;
  }
}

TEST(HistoricalClvTest, SumsMargins) {
  EXPECT_EQ(HistoricalClvUnits({}), 0);
  EXPECT_EQ(HistoricalClvUnits({100, -30, 5}), 75);
  EXPECT_EQ(HistoricalClvUnits({INT64_MAX, 1}), INT64_MAX);  // saturates
}

// --- Loyalty ladder -------------------------------------------------------

TEST(LoyaltyTest, EachRung) {
  const absl::Time three_years_ago = kAsOf - absl::Hours(24 * 365 * 3);
  struct Case {
    const char* name;
    LoyaltyFacts f;
    LoyaltyRung want;
  };
  const Case cases[] = {
      {"nothing", {}, LoyaltyRung::kNone},
      {"engaged", {.engaged = true}, LoyaltyRung::kAware},
      {"one purchase", {.purchases = 1}, LoyaltyRung::kAware},
      {"two purchases", {.engaged = true, .purchases = 2}, LoyaltyRung::kApproving},
      {"referred", {.engaged = true, .referred_customer = true}, LoyaltyRung::kAdvocate},
      {"nps 9", {.engaged = true, .latest_nps = 9}, LoyaltyRung::kAdvocate},
      {"nps 8", {.engaged = true, .purchases = 2, .latest_nps = 8}, LoyaltyRung::kApproving},
      {"two renewals", {.purchases = 3, .renewals = 2}, LoyaltyRung::kLoyal},
      {"one renewal", {.purchases = 2, .renewals = 1}, LoyaltyRung::kApproving},
      {"two renewals, open critical",
       {.purchases = 3, .renewals = 2, .referred_customer = true, .open_critical_complaint = true},
       LoyaltyRung::kAdvocate},
      {"dependent",
       {.purchases = 4,
        .renewals = 2,
        .first_purchase_at = three_years_ago,
        .contracts = 2,
        .contracts_renewed = 2},
       LoyaltyRung::kDependent},
      {"dependent one second short",
       {.purchases = 4,
        .renewals = 2,
        .first_purchase_at = three_years_ago + absl::Seconds(1),
        .contracts = 2,
        .contracts_renewed = 2},
       LoyaltyRung::kLoyal},
      {"a contract not renewed",
       {.purchases = 4,
        .renewals = 2,
        .first_purchase_at = three_years_ago,
        .contracts = 2,
        .contracts_renewed = 1},
       LoyaltyRung::kLoyal},
      {"no contracts is not dependent",
       {.engaged = true, .first_purchase_at = three_years_ago},
       LoyaltyRung::kAware},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ClassifyLoyalty(c.f, kAsOf, LoyaltyRules{}), c.want)
        << c.name << ": got " << LoyaltyRungName(ClassifyLoyalty(c.f, kAsOf, LoyaltyRules{}));
  }
}

// --- lifetimes summary ----------------------------------------------------

TEST(LifetimesSummaryTest, Conventions) {
  const absl::CivilDay end(1997, 9, 30);
  struct Case {
    const char* name;
    std::vector<DatedAmount> in;
    int64_t days_per_unit;
    bool present;
    LifetimesSummary want;
  };
  const Case cases[] = {
      {"empty", {}, 1, false, {}},
      {"only after end", {{absl::CivilDay(1997, 10, 1), 5}}, 1, false, {}},
      {"one purchase", {{absl::CivilDay(1997, 9, 1), 5}}, 1, true, {0, 0, 29, 0}},
      {"same day is one period",
       {{absl::CivilDay(1997, 9, 1), 5}, {absl::CivilDay(1997, 9, 1), 7}},
       1,
       true,
       {0, 0, 29, 0}},
      {"repeat days summed",
       {{absl::CivilDay(1997, 9, 1), 5},
        {absl::CivilDay(1997, 9, 8), 10},
        {absl::CivilDay(1997, 9, 8), 20},
        {absl::CivilDay(1997, 9, 15), 6},
        {absl::CivilDay(1997, 10, 1), 1000}},
       1,
       true,
       {2, 14, 29, 18}},
      {"weeks",
       {{absl::CivilDay(1997, 9, 2), 5}, {absl::CivilDay(1997, 9, 16), 3}},
       7,
       true,
       {1, 2, 4, 3}},
      {"purchase on the end day", {{absl::CivilDay(1997, 9, 30), 5}}, 7, true, {0, 0, 0, 0}},
  };
  for (const Case& c : cases) {
    std::optional<LifetimesSummary> got = SummarizeLikeLifetimes(c.in, end, c.days_per_unit);
    ASSERT_EQ(got.has_value(), c.present) << c.name;
    if (!got) continue;
    EXPECT_DOUBLE_EQ(got->frequency, c.want.frequency) << c.name;
    EXPECT_DOUBLE_EQ(got->recency, c.want.recency) << c.name;
    EXPECT_DOUBLE_EQ(got->t, c.want.t) << c.name;
    EXPECT_DOUBLE_EQ(got->monetary_value, c.want.monetary_value) << c.name;
  }
}

}  // namespace
}  // namespace custops::domain

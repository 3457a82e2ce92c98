// Customer value rules (客户价值): pure functions over plain structs, no I/O, no
// clock. Money is int64 minor units; scores and ranks are exact integer
// arithmetic. See docs/value.md for the published tables (RFM segment grid,
// tier boundaries, loyalty precedence).
//
//   std::vector<RfmScore> rfm = ScoreRfm(customers, as_of, RfmRules{});
//   std::vector<AbcEntry> abc = ClassifyAbc(revenues, AbcRules{});
//   std::vector<TierEntry> tiers = AssignTiers(margins, TierRules{});
//   Contribution c = ComputeContribution(margin_units, activity, CostToServeRules{});
//   LoyaltyRung rung = ClassifyLoyalty(loyalty_facts, as_of, LoyaltyRules{});
//   std::optional<LifetimesSummary> s = SummarizeLikeLifetimes(days, end, 7);
//
// Every function is deterministic and independent of the order of its input
// (results are returned in a documented order). Thread safety: all functions
// are pure and may be called concurrently.
#ifndef CUSTOPS_DOMAIN_VALUE_H_
#define CUSTOPS_DOMAIN_VALUE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace custops::domain {

// ---------------------------------------------------------------------------
// RFM

// One purchase (a signed contract or a renewal): when and its net amount.
struct ValuePurchase {
  absl::Time at;
  int64_t amount_units = 0;  // minor units; may be negative (a credit)
};

// One customer's purchase history (any order; purchases after as_of ignored).
struct RfmInput {
  std::string customer_id;
  std::vector<ValuePurchase> purchases;
};

struct RfmRules {
  // F and M count purchases in (as_of - window, as_of]. Default: 365 days
  absl::Duration window = absl::Hours(24 * 365);
};

// The 11 segments of the published grid (docs/value.md).
enum class RfmSegment {
  kChampions,
  kLoyal,
  kPotentialLoyalist,
  kNew,
  kPromising,
  kNeedAttention,
  kAboutToSleep,
  kAtRisk,
  kCantLose,
  kHibernating,
  kLost,
};

// "Champions", "Loyal", "Potential Loyalist", "New", "Promising",
// "Need Attention", "About to Sleep", "At Risk", "Can't Lose",
// "Hibernating", "Lost".
std::string_view RfmSegmentName(RfmSegment segment);

struct RfmScore {
  std::string customer_id;
  int64_t recency_days = 0;    // whole days from the last purchase <= as_of to as_of
  int64_t frequency = 0;       // purchases in the window
  int64_t monetary_units = 0;  // net amount in the window
  int r = 0;                   // 1..5, 5 = most recent
  int f = 0;                   // 1..5, 5 = most frequent
  int m = 0;                   // 1..5, 5 = largest amount
  int fm = 0;                  // (f + m) / 2 rounded half up: (f + m + 1) / 2
  RfmSegment segment = RfmSegment::kLost;
};

// Score = 1 + floor(5 * L / N), N = number of scored customers, L = number
// of scored customers strictly worse on the measure (R: more days; F, M:
// smaller). Ties share a score; the lowest value always scores 1.
int QuintileScore(int64_t strictly_worse, int64_t population);

// The published grid: segment of (R score, FM score), both 1..5.
// Precondition (checked, crashes): both in 1..5.
RfmSegment SegmentOf(int r, int fm);

// Scores every customer with at least one purchase at or before as_of;
// the others are left out. Result ordered by customer_id. Customer ids are
// expected to be unique (duplicates are scored as separate customers).
std::vector<RfmScore> ScoreRfm(const std::vector<RfmInput>& customers, absl::Time as_of,
                               const RfmRules& rules);

// ---------------------------------------------------------------------------
// ABC (Pareto, 二八)

enum class AbcClass { kA, kB, kC };
std::string_view AbcClassName(AbcClass c);  // "A", "B", "C"

struct AbcRules {
  // A while 100 x cumulative-before < a_percent x total. Default: 80
  int64_t a_percent = 80;
  // B while 100 x cumulative-before < b_percent x total (and not A). Default: 95
  int64_t b_percent = 95;
};

struct CustomerAmount {
  std::string customer_id;
  int64_t amount_units = 0;
};

struct AbcEntry {
  std::string customer_id;
  int64_t revenue_units = 0;
  int64_t cumulative_before_units = 0;  // sum of revenue ranked before this customer
  int64_t rank = 0;                     // 0-based
  AbcClass abc = AbcClass::kC;
};

// Ranks by revenue descending, ties by customer_id ascending; total = sum
// of all revenues. When total <= 0 nobody is A or B (everyone is C).
// Result in rank order.
std::vector<AbcEntry> ClassifyAbc(const std::vector<CustomerAmount>& revenues,
                                  const AbcRules& rules);

// ---------------------------------------------------------------------------
// Tiers (钻石/铂金/黄金/银/铁) and prospect size

enum class Tier { kDiamond, kPlatinum, kGold, kSilver, kIron };
std::string_view TierName(Tier tier);  // "DIAMOND", ..., "IRON"
// DIAMOND, PLATINUM and GOLD are VIP.
bool IsVip(Tier tier);

struct TierRules {
  // Cumulative percent bounds: rank r (0-based) of N is DIAMOND iff
  // 100 r < diamond x N, else PLATINUM iff 100 r < platinum x N, ...
  // (so a band holds ceil(bound x N / 100) customers in total).
  // Defaults: 1, 5 (1 + 4), 20 (+ 15), 50 (+ 30); the rest IRON.
  int64_t diamond_cum_percent = 1;
  int64_t platinum_cum_percent = 5;
  int64_t gold_cum_percent = 20;
  int64_t silver_cum_percent = 50;
};

struct TierEntry {
  std::string customer_id;
  int64_t margin_units = 0;
  int64_t rank = 0;  // 0-based, margin descending, ties by customer_id
  Tier tier = Tier::kIron;
};

// The tier of 0-based rank `rank` in a population of `population` (> 0).
Tier TierOfRank(int64_t rank, int64_t population, const TierRules& rules);

// Ranks customers by window gross margin and assigns tiers. Result in rank order.
std::vector<TierEntry> AssignTiers(const std::vector<CustomerAmount>& margins,
                                   const TierRules& rules);

enum class ProspectSize { kBig, kSmall };
std::string_view ProspectSizeName(ProspectSize size);  // "BIG", "SMALL"

struct ProspectRules {
  // BIG iff weighted pipeline >= this. Default: 10,000,000 (100,000.00)
  int64_t big_pipeline_units = 10'000'000;
};

// One open opportunity: amount and funnel probability in percent (0..100).
struct PipelineOpportunity {
  int64_t amount_units = 0;
  int32_t probability_percent = 0;
};

// floor(sum(amount x percent) / 100): the exact sum is divided once.
int64_t WeightedPipelineUnits(const std::vector<PipelineOpportunity>& open);

ProspectSize ClassifyProspect(int64_t weighted_pipeline_units, const ProspectRules& rules);

// ---------------------------------------------------------------------------
// Cost to serve and net contribution (负资产)

struct CostToServeRules {
  // Cost of one visit. Default: 20,000 (200.00)
  int64_t visit_cost_units = 20'000;
  // Cost of one complaint by severity. Defaults: 5,000 / 20,000 / 50,000 / 200,000
  int64_t complaint_low_units = 5'000;
  int64_t complaint_medium_units = 20'000;
  int64_t complaint_high_units = 50'000;
  int64_t complaint_critical_units = 200'000;
  // Cost of one service event. Default: 10,000 (100.00)
  int64_t service_event_units = 10'000;
};

// Counts over the window.
struct ServiceActivity {
  int64_t visits = 0;
  int64_t complaints_low = 0;
  int64_t complaints_medium = 0;
  int64_t complaints_high = 0;
  int64_t complaints_critical = 0;
  int64_t service_events = 0;
};

struct CostToServe {
  int64_t visits_units = 0;
  int64_t complaints_units = 0;
  int64_t service_units = 0;
  int64_t total_units = 0;
};

CostToServe ComputeCostToServe(const ServiceActivity& activity, const CostToServeRules& rules);

struct Contribution {
  int64_t margin_units = 0;
  int64_t cost_to_serve_units = 0;
  int64_t net_units = 0;        // margin - cost to serve
  bool negative_asset = false;  // net < 0 (exactly 0 is not negative)
};

Contribution ComputeContribution(int64_t margin_units, const ServiceActivity& activity,
                                 const CostToServeRules& rules);

// Historical CLV: the sum of margins (saturating at the int64 range).
int64_t HistoricalClvUnits(const std::vector<int64_t>& margins_units);

// ---------------------------------------------------------------------------
// Loyalty ladder (五度)

enum class LoyaltyRung { kNone, kAware, kApproving, kAdvocate, kLoyal, kDependent };
std::string_view LoyaltyRungName(LoyaltyRung rung);  // "NONE", "AWARE", ...

struct LoyaltyRules {
  // APPROVING: at least this many purchases. Default: 2
  int64_t approving_purchases = 2;
  // ADVOCATE: latest NPS >= this. Default: 9
  int32_t advocate_nps = 9;
  // LOYAL: at least this many renewals. Default: 2
  int64_t loyal_renewals = 2;
  // DEPENDENT: customer (first purchase) for at least this long. Default: 1095 days (3 x 365)
  absl::Duration dependent_tenure = absl::Hours(24 * 365 * 3);
};

// Facts at as_of (the caller counts them up to as_of).
struct LoyaltyFacts {
  bool engaged = false;   // any engagement (activity) at all
  int64_t purchases = 0;  // signed contracts + renewals
  int64_t renewals = 0;
  bool referred_customer = false;     // made at least one referral
  std::optional<int32_t> latest_nps;  // latest NPS answer 0..10
  bool open_critical_complaint = false;
  std::optional<absl::Time> first_purchase_at;
  int64_t contracts = 0;          // contracts signed
  int64_t contracts_renewed = 0;  // of those, renewed at least once
};

// The highest rung whose own condition holds (rungs are tested from the top;
// a higher rung does not require the lower ones). DEPENDENT: as_of -
// first_purchase_at >= tenure and contracts >= 1 and contracts_renewed ==
// contracts; LOYAL: renewals >= 2 and no open critical complaint; ADVOCATE:
// referred or latest NPS >= 9; APPROVING: purchases >= 2; AWARE: engaged or
// any purchase; otherwise NONE.
LoyaltyRung ClassifyLoyalty(const LoyaltyFacts& facts, absl::Time as_of, const LoyaltyRules& rules);

// ---------------------------------------------------------------------------
// `lifetimes` summary (summary_data_from_transaction_data, freq "D" with
// freq_multiplier = days_per_unit)

struct DatedAmount {
  absl::CivilDay day;
  int64_t amount_units = 0;
};

struct LifetimesSummary {
  double frequency = 0;       // distinct purchase days after the first
  double recency = 0;         // (last day - first day) / days_per_unit
  double t = 0;               // (observation_end - first day) / days_per_unit
  double monetary_value = 0;  // mean per-day sum (minor units) of the repeat days; 0 if none
};

// Purchases after observation_end are ignored; nullopt when none remain.
// Several purchases on one day are one period with their amounts summed.
// Precondition (checked): days_per_unit >= 1 (1 = days, 7 = weeks).
std::optional<LifetimesSummary> SummarizeLikeLifetimes(const std::vector<DatedAmount>& purchases,
                                                       absl::CivilDay observation_end,
                                                       int64_t days_per_unit);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_VALUE_H_

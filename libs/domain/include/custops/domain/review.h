// The review report (复盘) rules: per-period accumulators, the metrics computed
// from them, 环比/同比 comparison and the findings rules. Pure functions and value
// types, no I/O, no clock; see docs/review.md.
//
//   ReviewAccumulator acc;                       // one per period x dimension value
//   AddPurchase(acc, "c1", 120'000, 80'000);     // a projection folds events in
//   acc.visits += 1;
//   ReviewAccumulator all = Merge(acc_a, acc_b); // disjoint customer sets
//   ReviewMetrics now = ComputeMetrics(acc, MetricRules{});
//   std::vector<MetricRow> rows = CompareMetrics(now, previous, year_ago);
//   std::vector<Finding> f = EvaluateFindings(now, previous, year_ago, FindingRules{});
//
// Money is int64 minor units; every rate is an exact Ratio (ratio.h), never a
// double. A metric whose denominator is zero (no target, no quotes, no
// market size, ...) is null (nullopt). Thread safety: pure functions.
#ifndef CUSTOPS_DOMAIN_REVIEW_H_
#define CUSTOPS_DOMAIN_REVIEW_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/domain/ratio.h"
#include "custops/v1/events.pb.h"

namespace custops::domain {

// ---------------------------------------------------------------------------
// Metrics

// Every metric of the review, in report order (docs/review.md "Report
// order"): the 26 head metrics first, then the complaint and asset figures
// that the findings use.
enum class MetricId {
  kRevenue,
  kGrossMargin,
  kPayments,
  kTarget,
  kAttainment,
  kNewCustomers,
  kLostCustomers,
  kActiveCustomers,
  kChurnRate,
  kRepeatPurchaseRate,
  kWinBacks,
  kReferrals,
  kVisits,
  kContactCoverage,
  kQuotes,
  kWinRate,
  kAvgDiscount,
  kSalesCycleDays,
  kWeightedPipeline,
  kComplaints,
  kResolutionHoursP50,
  kSatisfaction,
  kMarketingSpend,
  kMarketingRoi,
  kMarketShare,
  kTop20RevenueShare,
  // After the head metrics: the figures the findings use.
  kResponseHoursP50,
  kResolutionHoursP90,
  kSlaBreaches,
  kComplaintsSatisfiedShare,
  kNegativeAssets,
  kOverdueReceivables,
};
inline constexpr size_t kMetricCount = static_cast<size_t>(MetricId::kOverdueReceivables) + 1;

// What a metric's value measures (how a report renders it).
enum class MetricUnit {
  kMoney,  // minor units, always an integer Ratio (denominator 1)
  kCount,  // integer
  kShare,  // a rate or share, 1 = 100% (may exceed 1: attainment, ROI)
  kDays,
  kHours,
  kScore,  // mean CSAT, 1..5
};

// snake_case name, as in docs/review.md ("revenue", "resolution_hours_p50", ...).
std::string_view MetricName(MetricId id);
MetricUnit MetricUnitOf(MetricId id);
// Inverse of MetricName; nullopt for an unknown name.
std::optional<MetricId> MetricByName(std::string_view name);
// All metrics in report order.
const std::array<MetricId, kMetricCount>& AllMetrics();

// The value of every metric for one period x dimension value; nullopt = null.
struct ReviewMetrics {
  std::array<std::optional<Ratio>, kMetricCount> values;

  const std::optional<Ratio>& operator[](MetricId id) const {
    return values[static_cast<size_t>(id)];
  }
  std::optional<Ratio>& operator[](MetricId id) { return values[static_cast<size_t>(id)]; }
  friend bool operator==(const ReviewMetrics&, const ReviewMetrics&) = default;
};

// ---------------------------------------------------------------------------
// Accumulator

// Counters and sums of one period x dimension value, updated event by event
// (event time decides the period). "Distinct" counters are incremented once
// per customer per period: the projection keeps which customers it has
// counted. Merge adds two accumulators over disjoint sets of customers (two
// partitions, since the log is keyed by customer).
struct ReviewAccumulator {
  // --- deals (credited to the rep on the event for `owner`)
  // Σ amount / cost of ContractSigned + ContractRenewed; use AddPurchase,
  // which also keeps revenue_by_customer.
  int64_t revenue_units = 0;
  int64_t cost_units = 0;
  // Σ PaymentReceived amount.
  int64_t payments_units = 0;
  // Revenue target of the period (TargetSet with metric "revenue"; the latest
  // one wins, kept by the projection). nullopt = no target declared.
  std::optional<int64_t> target_units;

  // --- customer base (credited to the customer's owner at the time)
  // Customers whose first purchase falls in the period.
  int64_t new_customers = 0;
  // Customers that became LOST in the period (transition time).
  int64_t lost_customers = 0;
  // Distinct customers with any activity (lifecycle's definition) in the period.
  int64_t active_customers = 0;
  // Customers in stage CUSTOMER at the period's first instant (set by the
  // projection): the churn denominator.
  int64_t customers_at_start = 0;
  // Distinct customers with a purchase in the period, and of those the ones
  // with a purchase in the period that was not their first ever.
  int64_t purchasing_customers = 0;
  int64_t repeat_purchasing_customers = 0;
  // Contracts after LOST (挽回) and ReferralMade events in the period.
  int64_t win_backs = 0;
  int64_t referrals = 0;

  // --- contact
  int64_t visits = 0;
  // Customers expected to be contacted (INTENT or CUSTOMER at the period's
  // first instant), and of those the distinct ones visited in the period.
  int64_t coverage_base = 0;
  int64_t covered_customers = 0;

  // --- funnel (opportunities counted by the period of their close)
  int64_t quotes = 0;
  // Σ amount and Σ list_amount of the period's quotes with list_amount > 0.
  int64_t quoted_units = 0;
  int64_t quoted_list_units = 0;
  int64_t opportunities_won = 0;
  int64_t opportunities_lost = 0;
  // Σ (stage 6 time - OpportunityOpened time) in seconds over won
  // opportunities whose open time is known, and their number.
  int64_t won_cycle_seconds = 0;
  int64_t won_with_cycle = 0;
  // Σ amount x probability percent of the opportunities open at the period's
  // end (set by the projection); weighted_pipeline = floor(this / 100).
  int64_t pipeline_percent_units = 0;

  // --- complaints
  int64_t complaints = 0;    // ComplaintFiled in the period
  int64_t sla_breaches = 0;  // SLA clocks (response or resolution) breached in the period
  int64_t complaints_resolved = 0;
  int64_t complaints_resolved_satisfied = 0;
  // Durations (seconds, sorted ascending) of first responses and of
  // resolutions that happened in the period; use AddResponse/AddResolution.
  // Kept whole so that percentiles are exact and merge stays exact.
  std::vector<int64_t> response_seconds;
  std::vector<int64_t> resolution_seconds;
  // SatisfactionSurveyed: Σ csat (1..5) and number of surveys.
  int64_t csat_sum = 0;
  int64_t csat_surveys = 0;

  // --- market
  int64_t marketing_spend_units = 0;
  // Declared market size of the period (MarketSizeDeclared); nullopt = none.
  std::optional<int64_t> market_size_units;

  // --- concentration: revenue per customer in the period (AddPurchase).
  std::map<std::string, int64_t, std::less<>> revenue_by_customer;

  // --- snapshots at the period's end (set by the projection)
  int64_t negative_asset_customers = 0;
  int64_t overdue_receivables_units = 0;

  friend bool operator==(const ReviewAccumulator&, const ReviewAccumulator&) = default;
};

// A purchase (ContractSigned / ContractRenewed) of `customer_id`: adds to
// revenue, cost and revenue_by_customer. Sums saturate at the int64 range.
void AddPurchase(ReviewAccumulator& acc, std::string_view customer_id, int64_t amount_units,
                 int64_t cost_units);
// Keeps response_seconds / resolution_seconds sorted. Negative durations
// (clock skew between services) count as 0.
void AddResponse(ReviewAccumulator& acc, absl::Duration time_to_respond);
void AddResolution(ReviewAccumulator& acc, absl::Duration time_to_resolve);

// a + b: counters and sums add (saturating), sorted durations merge,
// revenue_by_customer adds per customer, optional values add when both are
// present and keep the present one otherwise. Associative and commutative.
ReviewAccumulator Merge(const ReviewAccumulator& a, const ReviewAccumulator& b);

struct MetricRules {
  // top20_revenue_share: share of revenue of the top this-percent of
  // customers (ceil). Default: 20
  int64_t top_customers_percent = 20;
};

// Nearest-rank percentile of ascending `sorted`: the ceil(n x permille /
// 1000)-th smallest (the first for permille 0); nullopt when empty.
// p50 of {1, 2, 3, 4} is 2 (lower median, always an observed value).
std::optional<int64_t> NearestRankPercentile(const std::vector<int64_t>& sorted, int permille);

// Every metric (definitions in docs/review.md):
//   revenue, payments, target, marketing_spend, overdue_receivables: sums
//   gross_margin = revenue - cost
//   attainment = revenue / target                        (null: no target or target <= 0)
//   churn_rate = lost_customers / customers_at_start
//   repeat_purchase_rate = repeat_purchasing_customers / purchasing_customers
//   contact_coverage = covered_customers / coverage_base
//   win_rate = won / (won + lost)
//   avg_discount = 1 - Σ quoted / Σ list  (amount-weighted)
//   sales_cycle_days = won_cycle_seconds / (won_with_cycle x 86400)
//   weighted_pipeline = floor(pipeline_percent_units / 100)
//   resolution/response hours = nearest-rank percentile seconds / 3600
//   satisfaction = csat_sum / csat_surveys
//   marketing_roi = (gross_margin - spend) / spend
//   market_share = revenue / market size                 (null: none or <= 0)
//   top20_revenue_share = Σ top ceil(20% x N) customers' revenue / Σ revenue
//                         (N = customers in revenue_by_customer; null when Σ <= 0)
ReviewMetrics ComputeMetrics(const ReviewAccumulator& acc, const MetricRules& rules);

// One line of the report: the metric beside 环比 and 同比.
struct MetricRow {
  MetricId id = MetricId::kRevenue;
  std::optional<Ratio> value;
  std::optional<Ratio> previous;  // 环比 base
  std::optional<Ratio> year_ago;  // 同比 base
  // RelativeChange(value, base): null when either is null or the base is 0.
  std::optional<Ratio> change_vs_previous;
  std::optional<Ratio> change_vs_year_ago;
  // value - base: null when either is null (for rates, the move in points).
  std::optional<Ratio> delta_vs_previous;
  std::optional<Ratio> delta_vs_year_ago;
};

// One row per metric, in report order. A missing base period (e.g. YearAgo
// of Feb 29) is passed as nullopt and gives null bases.
std::vector<MetricRow> CompareMetrics(const ReviewMetrics& current,
                                      const std::optional<ReviewMetrics>& previous,
                                      const std::optional<ReviewMetrics>& year_ago);

// ---------------------------------------------------------------------------
// Findings

// What a rule compares.
enum class FindingCondition {
  kBelow,         // value < threshold
  kAbove,         // value > threshold
  kRelativeRise,  // (value - base) / |base| > threshold        (base != 0)
  kRelativeDrop,  // (base - value) / |base| > threshold        (base != 0)
  kIncrease,      // value - base > threshold
  kDecrease,      // base - value > threshold
};
// The base of the comparing conditions.
enum class FindingBaseline { kNone, kPrevious, kYearAgo };

std::string_view FindingConditionName(FindingCondition c);  // "below", "relative_rise", ...
std::string_view FindingBaselineName(FindingBaseline b);    // "none", "previous", "year_ago"

struct FindingRule {
  std::string id;  // stable snake_case id, e.g. "attainment_below"
  MetricId metric = MetricId::kRevenue;
  FindingCondition condition = FindingCondition::kBelow;
  // kNone for kBelow/kAbove; kPrevious or kYearAgo for the others.
  FindingBaseline baseline = FindingBaseline::kNone;
  // In the metric's unit (a share: 4/5 = 80%; a relative change: 1/5 = 20%).
  Ratio threshold;
  v1::Severity severity = v1::SEVERITY_MEDIUM;
  // Fire a kRelativeRise/kRelativeDrop rule when the base is 0 and the value
  // moved the rule's way (an infinite relative move)? Default: false.
  bool fire_on_zero_base = false;
};

// The default rules (docs/review.md "Findings"), in evaluation order:
//   attainment_below          attainment < 80%                      HIGH
//   churn_up                  churn_rate rise > 20% vs previous     HIGH
//   sla_breaches              sla_breaches > 0                      HIGH
//   negative_assets_up        negative_assets increase > 0 vs prev  MEDIUM
//   win_rate_drop             win_rate drop > 20% vs previous       MEDIUM
//   revenue_drop_yoy          revenue drop > 20% vs year ago        MEDIUM
//   complaints_up             complaints rise > 20% vs previous     MEDIUM
//   contact_coverage_below    contact_coverage < 60%                MEDIUM
//   satisfaction_below        satisfaction < 7/2 (3.5 of 5)         MEDIUM
//   marketing_roi_below       marketing_roi < 0                     MEDIUM
//   concentration_above       top20_revenue_share > 80%             LOW
std::vector<FindingRule> DefaultFindingRules();

struct FindingRules {
  // Default: DefaultFindingRules()
  std::vector<FindingRule> rules = DefaultFindingRules();
};

// INVALID_ARGUMENT naming the rule when: an id is empty or repeated, a
// comparing condition has baseline kNone or kBelow/kAbove has a baseline, a
// relative threshold is negative, or the severity is UNSPECIFIED.
absl::Status ValidateFindingRules(const FindingRules& rules);

struct Finding {
  std::string rule_id;
  MetricId metric = MetricId::kRevenue;
  FindingCondition condition = FindingCondition::kBelow;
  FindingBaseline baseline = FindingBaseline::kNone;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  std::optional<Ratio> value;
  std::optional<Ratio> base;    // the baseline's value (nullopt for kNone)
  std::optional<Ratio> change;  // relative change / delta the rule compared; null on a zero base
  Ratio threshold;
  friend bool operator==(const Finding&, const Finding&) = default;
};

// The findings the rules raise, in rule order. A rule whose value (or base)
// is null never fires, except fire_on_zero_base as documented. Comparisons
// are strict: a value exactly at the threshold raises nothing. The
// customers/opportunities behind a finding are the projection's to attach
// (the metric names which ones).
std::vector<Finding> EvaluateFindings(const ReviewMetrics& current,
                                      const std::optional<ReviewMetrics>& previous,
                                      const std::optional<ReviewMetrics>& year_ago,
                                      const FindingRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_REVIEW_H_

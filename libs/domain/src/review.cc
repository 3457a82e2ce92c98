// Review report rules (review.h). Sums saturate at the int64 range instead of
// wrapping; every rate is built with Ratio so no value passes through a double.
#include "custops/domain/review.h"

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace custops::domain {
namespace {

int64_t SatAdd(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_add_overflow(a, b, &out)) return a < 0 ? INT64_MIN : INT64_MAX;
  return out;
}

int64_t SatSub(int64_t a, int64_t b) {
  int64_t out = 0;
  if (__builtin_sub_overflow(a, b, &out)) return b < 0 ? INT64_MAX : INT64_MIN;
  return out;
}

std::optional<int64_t> AddOptional(const std::optional<int64_t>& a,
                                   const std::optional<int64_t>& b) {
  if (a && b) return SatAdd(*a, *b);
  return a ? a : b;
}

std::vector<int64_t> MergeSorted(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  std::vector<int64_t> out;
  out.reserve(a.size() + b.size());
  std::merge(a.begin(), a.end(), b.begin(), b.end(), std::back_inserter(out));
  return out;
}

void InsertSorted(std::vector<int64_t>& v, int64_t x) {
  v.insert(std::upper_bound(v.begin(), v.end(), x), x);
}

int64_t NonNegativeSeconds(absl::Duration d) {
  const int64_t s = absl::ToInt64Seconds(d);  // truncates toward zero
  return s < 0 ? 0 : s;
}

struct MetricInfo {
  MetricId id;
  std::string_view name;
  MetricUnit unit;
};

constexpr MetricInfo kMetricInfo[kMetricCount] = {
    {MetricId::kRevenue, "revenue", MetricUnit::kMoney},
    {MetricId::kGrossMargin, "gross_margin", MetricUnit::kMoney},
    {MetricId::kPayments, "payments", MetricUnit::kMoney},
    {MetricId::kTarget, "target", MetricUnit::kMoney},
    {MetricId::kAttainment, "attainment", MetricUnit::kShare},
    {MetricId::kNewCustomers, "new_customers", MetricUnit::kCount},
    {MetricId::kLostCustomers, "lost_customers", MetricUnit::kCount},
    {MetricId::kActiveCustomers, "active_customers", MetricUnit::kCount},
    {MetricId::kChurnRate, "churn_rate", MetricUnit::kShare},
    {MetricId::kRepeatPurchaseRate, "repeat_purchase_rate", MetricUnit::kShare},
    {MetricId::kWinBacks, "win_backs", MetricUnit::kCount},
    {MetricId::kReferrals, "referrals", MetricUnit::kCount},
    {MetricId::kVisits, "visits", MetricUnit::kCount},
    {MetricId::kContactCoverage, "contact_coverage", MetricUnit::kShare},
    {MetricId::kQuotes, "quotes", MetricUnit::kCount},
    {MetricId::kWinRate, "win_rate", MetricUnit::kShare},
    {MetricId::kAvgDiscount, "avg_discount", MetricUnit::kShare},
    {MetricId::kSalesCycleDays, "sales_cycle_days", MetricUnit::kDays},
    {MetricId::kWeightedPipeline, "weighted_pipeline", MetricUnit::kMoney},
    {MetricId::kComplaints, "complaints", MetricUnit::kCount},
    {MetricId::kResolutionHoursP50, "resolution_hours_p50", MetricUnit::kHours},
    {MetricId::kSatisfaction, "satisfaction", MetricUnit::kScore},
    {MetricId::kMarketingSpend, "marketing_spend", MetricUnit::kMoney},
    {MetricId::kMarketingRoi, "marketing_roi", MetricUnit::kShare},
    {MetricId::kMarketShare, "market_share", MetricUnit::kShare},
    {MetricId::kTop20RevenueShare, "top20_revenue_share", MetricUnit::kShare},
    {MetricId::kResponseHoursP50, "response_hours_p50", MetricUnit::kHours},
    {MetricId::kResolutionHoursP90, "resolution_hours_p90", MetricUnit::kHours},
    {MetricId::kSlaBreaches, "sla_breaches", MetricUnit::kCount},
    {MetricId::kComplaintsSatisfiedShare, "complaints_satisfied_share", MetricUnit::kShare},
    {MetricId::kNegativeAssets, "negative_assets", MetricUnit::kCount},
    {MetricId::kOverdueReceivables, "overdue_receivables", MetricUnit::kMoney},
};

// The table is indexed by MetricId: check once, at compile time.
constexpr bool TableInOrder() {
  for (size_t i = 0; i < kMetricCount; ++i) {
    if (static_cast<size_t>(kMetricInfo[i].id) != i) return false;
  }
  return true;
}
static_assert(TableInOrder(), "kMetricInfo must list MetricId in declaration order");

std::optional<Ratio> Hours(const std::optional<int64_t>& seconds) {
  if (!seconds) return std::nullopt;
  return Ratio::Of(*seconds, 3600);
}

}  // namespace

std::string_view MetricName(MetricId id) { return kMetricInfo[static_cast<size_t>(id)].name; }

MetricUnit MetricUnitOf(MetricId id) { return kMetricInfo[static_cast<size_t>(id)].unit; }

std::optional<MetricId> MetricByName(std::string_view name) {
  for (const MetricInfo& m : kMetricInfo) {
    if (m.name == name) return m.id;
  }
  return std::nullopt;
}

const std::array<MetricId, kMetricCount>& AllMetrics() {
  static const std::array<MetricId, kMetricCount> all = [] {
    std::array<MetricId, kMetricCount> a{};
    for (size_t i = 0; i < kMetricCount; ++i) a[i] = kMetricInfo[i].id;
    return a;
  }();
  return all;
}

// --- accumulator ------------------------------------------------------------

void AddPurchase(ReviewAccumulator& acc, std::string_view customer_id, int64_t amount_units,
                 int64_t cost_units) {
  acc.revenue_units = SatAdd(acc.revenue_units, amount_units);
  acc.cost_units = SatAdd(acc.cost_units, cost_units);
  auto it = acc.revenue_by_customer.find(customer_id);
  if (it == acc.revenue_by_customer.end()) {
    acc.revenue_by_customer.emplace(std::string(customer_id), amount_units);
  } else {
    it->second = SatAdd(it->second, amount_units);
  }
}

void AddResponse(ReviewAccumulator& acc, absl::Duration time_to_respond) {
  InsertSorted(acc.response_seconds, NonNegativeSeconds(time_to_respond));
}

void AddResolution(ReviewAccumulator& acc, absl::Duration time_to_resolve) {
  InsertSorted(acc.resolution_seconds, NonNegativeSeconds(time_to_resolve));
}

ReviewAccumulator Merge(const ReviewAccumulator& a, const ReviewAccumulator& b) {
  ReviewAccumulator m;
  m.revenue_units = SatAdd(a.revenue_units, b.revenue_units);
  m.cost_units = SatAdd(a.cost_units, b.cost_units);
  m.payments_units = SatAdd(a.payments_units, b.payments_units);
  m.target_units = AddOptional(a.target_units, b.target_units);
  m.new_customers = SatAdd(a.new_customers, b.new_customers);
  m.lost_customers = SatAdd(a.lost_customers, b.lost_customers);
  m.active_customers = SatAdd(a.active_customers, b.active_customers);
  m.customers_at_start = SatAdd(a.customers_at_start, b.customers_at_start);
  m.purchasing_customers = SatAdd(a.purchasing_customers, b.purchasing_customers);
  m.repeat_purchasing_customers =
      SatAdd(a.repeat_purchasing_customers, b.repeat_purchasing_customers);
  m.win_backs = SatAdd(a.win_backs, b.win_backs);
  m.referrals = SatAdd(a.referrals, b.referrals);
  m.visits = SatAdd(a.visits, b.visits);
  m.coverage_base = SatAdd(a.coverage_base, b.coverage_base);
  m.covered_customers = SatAdd(a.covered_customers, b.covered_customers);
  m.quotes = SatAdd(a.quotes, b.quotes);
  m.quoted_units = SatAdd(a.quoted_units, b.quoted_units);
  m.quoted_list_units = SatAdd(a.quoted_list_units, b.quoted_list_units);
  m.opportunities_won = SatAdd(a.opportunities_won, b.opportunities_won);
  m.opportunities_lost = SatAdd(a.opportunities_lost, b.opportunities_lost);
  m.won_cycle_seconds = SatAdd(a.won_cycle_seconds, b.won_cycle_seconds);
  m.won_with_cycle = SatAdd(a.won_with_cycle, b.won_with_cycle);
  m.pipeline_percent_units = SatAdd(a.pipeline_percent_units, b.pipeline_percent_units);
  m.complaints = SatAdd(a.complaints, b.complaints);
  m.sla_breaches = SatAdd(a.sla_breaches, b.sla_breaches);
  m.complaints_resolved = SatAdd(a.complaints_resolved, b.complaints_resolved);
  m.complaints_resolved_satisfied =
      SatAdd(a.complaints_resolved_satisfied, b.complaints_resolved_satisfied);
  m.response_seconds = MergeSorted(a.response_seconds, b.response_seconds);
  m.resolution_seconds = MergeSorted(a.resolution_seconds, b.resolution_seconds);
  m.csat_sum = SatAdd(a.csat_sum, b.csat_sum);
  m.csat_surveys = SatAdd(a.csat_surveys, b.csat_surveys);
  m.marketing_spend_units = SatAdd(a.marketing_spend_units, b.marketing_spend_units);
  m.market_size_units = AddOptional(a.market_size_units, b.market_size_units);
  m.revenue_by_customer = a.revenue_by_customer;
  for (const auto& [id, units] : b.revenue_by_customer) {
    auto [it, inserted] = m.revenue_by_customer.emplace(id, units);
    if (!inserted) it->second = SatAdd(it->second, units);
  }
  m.negative_asset_customers = SatAdd(a.negative_asset_customers, b.negative_asset_customers);
  m.overdue_receivables_units = SatAdd(a.overdue_receivables_units, b.overdue_receivables_units);
  return m;
}

// --- metrics ----------------------------------------------------------------

std::optional<int64_t> NearestRankPercentile(const std::vector<int64_t>& sorted, int permille) {
  if (sorted.empty()) return std::nullopt;
  const int64_t n = static_cast<int64_t>(sorted.size());
  const int64_t p = std::clamp(permille, 0, 1000);
  int64_t rank = (n * p + 999) / 1000;  // ceil(n x p / 1000)
  if (rank < 1) rank = 1;
  return sorted[rank - 1];
}

ReviewMetrics ComputeMetrics(const ReviewAccumulator& acc, const MetricRules& rules) {
  ReviewMetrics m;
  const int64_t margin = SatSub(acc.revenue_units, acc.cost_units);
  m[MetricId::kRevenue] = Ratio::Integer(acc.revenue_units);
  m[MetricId::kGrossMargin] = Ratio::Integer(margin);
  m[MetricId::kPayments] = Ratio::Integer(acc.payments_units);
  if (acc.target_units) {
    m[MetricId::kTarget] = Ratio::Integer(*acc.target_units);
    if (*acc.target_units > 0) {
      m[MetricId::kAttainment] = Ratio::Of(acc.revenue_units, *acc.target_units);
    }
  }
  m[MetricId::kNewCustomers] = Ratio::Integer(acc.new_customers);
  m[MetricId::kLostCustomers] = Ratio::Integer(acc.lost_customers);
  m[MetricId::kActiveCustomers] = Ratio::Integer(acc.active_customers);
  m[MetricId::kChurnRate] = Ratio::Of(acc.lost_customers, acc.customers_at_start);
  m[MetricId::kRepeatPurchaseRate] =
      Ratio::Of(acc.repeat_purchasing_customers, acc.purchasing_customers);
  m[MetricId::kWinBacks] = Ratio::Integer(acc.win_backs);
  m[MetricId::kReferrals] = Ratio::Integer(acc.referrals);
  m[MetricId::kVisits] = Ratio::Integer(acc.visits);
  m[MetricId::kContactCoverage] = Ratio::Of(acc.covered_customers, acc.coverage_base);
  m[MetricId::kQuotes] = Ratio::Integer(acc.quotes);
  m[MetricId::kWinRate] =
      Ratio::Of128(static_cast<__int128>(acc.opportunities_won),
                   static_cast<__int128>(acc.opportunities_won) + acc.opportunities_lost);
  m[MetricId::kAvgDiscount] = Ratio::Of128(
      static_cast<__int128>(acc.quoted_list_units) - acc.quoted_units, acc.quoted_list_units);
  m[MetricId::kSalesCycleDays] =
      Ratio::Of128(acc.won_cycle_seconds, static_cast<__int128>(acc.won_with_cycle) * 86'400);
  m[MetricId::kWeightedPipeline] =
      Ratio::Integer(Ratio::Of(acc.pipeline_percent_units, 100)->Floor());
  m[MetricId::kComplaints] = Ratio::Integer(acc.complaints);
  m[MetricId::kResolutionHoursP50] = Hours(NearestRankPercentile(acc.resolution_seconds, 500));
  m[MetricId::kSatisfaction] = Ratio::Of(acc.csat_sum, acc.csat_surveys);
  m[MetricId::kMarketingSpend] = Ratio::Integer(acc.marketing_spend_units);
  m[MetricId::kMarketingRoi] = Ratio::Of128(
      static_cast<__int128>(margin) - acc.marketing_spend_units, acc.marketing_spend_units);
  if (acc.market_size_units && *acc.market_size_units > 0) {
    m[MetricId::kMarketShare] = Ratio::Of(acc.revenue_units, *acc.market_size_units);
  }
  {
    std::vector<int64_t> amounts;
    amounts.reserve(acc.revenue_by_customer.size());
    __int128 total = 0;
    for (const auto& [id, units] : acc.revenue_by_customer) {
      amounts.push_back(units);
      total += units;
    }
    if (total > 0) {
      const int64_t n = static_cast<int64_t>(amounts.size());
      const int64_t pct = std::clamp<int64_t>(rules.top_customers_percent, 0, 100);
      const int64_t k = (n * pct + 99) / 100;  // ceil(n x pct / 100)
      std::sort(amounts.begin(), amounts.end(), std::greater<>());
      __int128 top = 0;
      for (int64_t i = 0; i < k; ++i) top += amounts[i];
      m[MetricId::kTop20RevenueShare] = Ratio::Of128(top, total);
    }
  }
  m[MetricId::kResponseHoursP50] = Hours(NearestRankPercentile(acc.response_seconds, 500));
  m[MetricId::kResolutionHoursP90] = Hours(NearestRankPercentile(acc.resolution_seconds, 900));
  m[MetricId::kSlaBreaches] = Ratio::Integer(acc.sla_breaches);
  m[MetricId::kComplaintsSatisfiedShare] =
      Ratio::Of(acc.complaints_resolved_satisfied, acc.complaints_resolved);
  m[MetricId::kNegativeAssets] = Ratio::Integer(acc.negative_asset_customers);
  m[MetricId::kOverdueReceivables] = Ratio::Integer(acc.overdue_receivables_units);
  return m;
}

std::vector<MetricRow> CompareMetrics(const ReviewMetrics& current,
                                      const std::optional<ReviewMetrics>& previous,
                                      const std::optional<ReviewMetrics>& year_ago) {
  std::vector<MetricRow> rows;
  rows.reserve(kMetricCount);
  for (MetricId id : AllMetrics()) {
    MetricRow r;
    r.id = id;
    r.value = current[id];
    if (previous) r.previous = (*previous)[id];
    if (year_ago) r.year_ago = (*year_ago)[id];
    r.change_vs_previous = RelativeChange(r.value, r.previous);
    r.change_vs_year_ago = RelativeChange(r.value, r.year_ago);
    r.delta_vs_previous = Difference(r.value, r.previous);
    r.delta_vs_year_ago = Difference(r.value, r.year_ago);
    rows.push_back(std::move(r));
  }
  return rows;
}

// --- findings ---------------------------------------------------------------

std::string_view FindingConditionName(FindingCondition c) {
  switch (c) {
    case FindingCondition::kBelow:
      return "below";
    case FindingCondition::kAbove:
      return "above";
    case FindingCondition::kRelativeRise:
      return "relative_rise";
    case FindingCondition::kRelativeDrop:
      return "relative_drop";
    case FindingCondition::kIncrease:
      return "increase";
    case FindingCondition::kDecrease:
      return "decrease";
  }
  return "unknown";
}

std::string_view FindingBaselineName(FindingBaseline b) {
  switch (b) {
    case FindingBaseline::kNone:
      return "none";
    case FindingBaseline::kPrevious:
      return "previous";
    case FindingBaseline::kYearAgo:
      return "year_ago";
  }
  return "unknown";
}

std::vector<FindingRule> DefaultFindingRules() {
  using C = FindingCondition;
  using B = FindingBaseline;
  const auto r = [](int64_t n, int64_t d) { return *Ratio::Of(n, d); };
  return {
      {"attainment_below", MetricId::kAttainment, C::kBelow, B::kNone, r(80, 100),
       v1::SEVERITY_HIGH, false},
      {"churn_up", MetricId::kChurnRate, C::kRelativeRise, B::kPrevious, r(20, 100),
       v1::SEVERITY_HIGH, false},
      {"sla_breaches", MetricId::kSlaBreaches, C::kAbove, B::kNone, r(0, 1), v1::SEVERITY_HIGH,
       false},
      {"negative_assets_up", MetricId::kNegativeAssets, C::kIncrease, B::kPrevious, r(0, 1),
       v1::SEVERITY_MEDIUM, false},
      {"win_rate_drop", MetricId::kWinRate, C::kRelativeDrop, B::kPrevious, r(20, 100),
       v1::SEVERITY_MEDIUM, false},
      {"revenue_drop_yoy", MetricId::kRevenue, C::kRelativeDrop, B::kYearAgo, r(20, 100),
       v1::SEVERITY_MEDIUM, false},
      {"complaints_up", MetricId::kComplaints, C::kRelativeRise, B::kPrevious, r(20, 100),
       v1::SEVERITY_MEDIUM, false},
      {"contact_coverage_below", MetricId::kContactCoverage, C::kBelow, B::kNone, r(60, 100),
       v1::SEVERITY_MEDIUM, false},
      {"satisfaction_below", MetricId::kSatisfaction, C::kBelow, B::kNone, r(7, 2),
       v1::SEVERITY_MEDIUM, false},
      {"marketing_roi_below", MetricId::kMarketingRoi, C::kBelow, B::kNone, r(0, 1),
       v1::SEVERITY_MEDIUM, false},
      {"concentration_above", MetricId::kTop20RevenueShare, C::kAbove, B::kNone, r(80, 100),
       v1::SEVERITY_LOW, false},
  };
}

absl::Status ValidateFindingRules(const FindingRules& rules) {
  std::set<std::string> seen;
  for (const FindingRule& rule : rules.rules) {
    const std::string name = rule.id.empty() ? std::string("(empty id)") : rule.id;
    if (rule.id.empty()) return absl::InvalidArgumentError("finding rule with an empty id");
    if (!seen.insert(rule.id).second) {
      return absl::InvalidArgumentError(absl::StrCat("finding rule ", name, " is repeated"));
    }
    const bool comparing =
        rule.condition != FindingCondition::kBelow && rule.condition != FindingCondition::kAbove;
    if (comparing && rule.baseline == FindingBaseline::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat("finding rule ", name, ": condition ",
                       std::string(FindingConditionName(rule.condition)), " needs a baseline"));
    }
    if (!comparing && rule.baseline != FindingBaseline::kNone) {
      return absl::InvalidArgumentError(
          absl::StrCat("finding rule ", name, ": condition ",
                       std::string(FindingConditionName(rule.condition)), " takes no baseline"));
    }
    if ((rule.condition == FindingCondition::kRelativeRise ||
         rule.condition == FindingCondition::kRelativeDrop) &&
        rule.threshold < Ratio()) {
      return absl::InvalidArgumentError(
          absl::StrCat("finding rule ", name, ": a relative threshold must be >= 0"));
    }
    if (rule.severity == v1::SEVERITY_UNSPECIFIED || !v1::Severity_IsValid(rule.severity)) {
      return absl::InvalidArgumentError(absl::StrCat("finding rule ", name, ": no severity"));
    }
    if (static_cast<size_t>(rule.metric) >= kMetricCount) {
      return absl::InvalidArgumentError(absl::StrCat("finding rule ", name, ": unknown metric"));
    }
  }
  return absl::OkStatus();
}

std::vector<Finding> EvaluateFindings(const ReviewMetrics& current,
                                      const std::optional<ReviewMetrics>& previous,
                                      const std::optional<ReviewMetrics>& year_ago,
                                      const FindingRules& rules) {
  std::vector<Finding> out;
  for (const FindingRule& rule : rules.rules) {
    Finding f;
    f.rule_id = rule.id;
    f.metric = rule.metric;
    f.condition = rule.condition;
    f.baseline = rule.baseline;
    f.severity = rule.severity;
    f.threshold = rule.threshold;
    f.value = current[rule.metric];
    if (!f.value) continue;
    const std::optional<ReviewMetrics>* base_metrics = nullptr;
    if (rule.baseline == FindingBaseline::kPrevious) base_metrics = &previous;
    if (rule.baseline == FindingBaseline::kYearAgo) base_metrics = &year_ago;
    if (base_metrics != nullptr && base_metrics->has_value()) {
      f.base = (**base_metrics)[rule.metric];
    }
    bool fires = false;
    switch (rule.condition) {
      case FindingCondition::kBelow:
        fires = *f.value < rule.threshold;
        break;
      case FindingCondition::kAbove:
        fires = *f.value > rule.threshold;
        break;
      case FindingCondition::kRelativeRise:
      case FindingCondition::kRelativeDrop: {
        if (!f.base) break;
        const bool rise = rule.condition == FindingCondition::kRelativeRise;
        if (f.base->is_zero()) {
          // No relative move from zero: only an explicit opt-in fires, and
          // only when the value moved the rule's way.
          fires = rule.fire_on_zero_base && (rise ? *f.value > *f.base : *f.value < *f.base);
          break;
        }
        f.change = RelativeChange(f.value, f.base);
        const Ratio moved = rise ? *f.change : Ratio() - *f.change;
        fires = moved > rule.threshold;
        break;
      }
      case FindingCondition::kIncrease:
      case FindingCondition::kDecrease: {
        if (!f.base) break;
        f.change = *f.value - *f.base;
        const Ratio moved =
            rule.condition == FindingCondition::kIncrease ? *f.change : Ratio() - *f.change;
        fires = moved > rule.threshold;
        break;
      }
    }
    if (fires) out.push_back(std::move(f));
  }
  return out;
}

}  // namespace custops::domain

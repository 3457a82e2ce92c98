// Customer value rules (docs/value.md). All arithmetic on money and ranks is
// integer; products that could overflow int64 are taken in __int128 and sums
// saturate at the int64 range rather than wrap.
#include "custops/domain/value.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <tuple>

namespace custops::domain {
namespace {

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "custops::domain value rules: violated precondition: %s\n", what);
  std::abort();
}

int64_t Saturate(__int128 v) {
  if (v > INT64_MAX) return INT64_MAX;
  if (v < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(v);
}

// Number of elements of the sorted `values` strictly less than / greater than v.
int64_t CountLess(const std::vector<int64_t>& sorted, int64_t v) {
  return std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin();
}
int64_t CountGreater(const std::vector<int64_t>& sorted, int64_t v) {
  return sorted.end() - std::upper_bound(sorted.begin(), sorted.end(), v);
}

// Amount descending, then customer_id ascending: the rank order of ABC and tiers.
std::vector<size_t> RankOrder(const std::vector<CustomerAmount>& amounts) {
  std::vector<size_t> order(amounts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const CustomerAmount& x = amounts[a];
    const CustomerAmount& y = amounts[b];
    if (x.amount_units != y.amount_units) return x.amount_units > y.amount_units;
    if (x.customer_id != y.customer_id) return x.customer_id < y.customer_id;
    return a < b;  // duplicate ids: keep it a strict weak order
  });
  return order;
}

}  // namespace

// ---------------------------------------------------------------------------
// RFM

std::string_view RfmSegmentName(RfmSegment segment) {
  switch (segment) {
    case RfmSegment::kChampions:
      return "Champions";
    case RfmSegment::kLoyal:
      return "Loyal";
    case RfmSegment::kPotentialLoyalist:
      return "Potential Loyalist";
    case RfmSegment::kNew:
      return "New";
    case RfmSegment::kPromising:
      return "Promising";
    case RfmSegment::kNeedAttention:
      return "Need Attention";
    case RfmSegment::kAboutToSleep:
      return "About to Sleep";
    case RfmSegment::kAtRisk:
      return "At Risk";
    case RfmSegment::kCantLose:
      return "Can't Lose";
    case RfmSegment::kHibernating:
      return "Hibernating";
    case RfmSegment::kLost:
      return "Lost";
  }
  return "";
}

int QuintileScore(int64_t strictly_worse, int64_t population) {
  if (population <= 0 || strictly_worse < 0 || strictly_worse >= population) {
    Die("QuintileScore needs 0 <= strictly_worse < population");
  }
  return 1 + static_cast<int>(static_cast<__int128>(5) * strictly_worse / population);
}

RfmSegment SegmentOf(int r, int fm) {
  if (r < 1 || r > 5 || fm < 1 || fm > 5) Die("SegmentOf needs scores in 1..5");
  using S = RfmSegment;
  // Rows R = 1..5, columns FM = 1..5 (docs/value.md publishes this grid).
  static constexpr S kGrid[5][5] = {
      /* R=1 */ {S::kLost, S::kHibernating, S::kAtRisk, S::kAtRisk, S::kCantLose},
      /* R=2 */ {S::kHibernating, S::kHibernating, S::kAtRisk, S::kAtRisk, S::kCantLose},
      /* R=3 */ {S::kAboutToSleep, S::kAboutToSleep, S::kNeedAttention, S::kLoyal, S::kLoyal},
      /* R=4 */
      {S::kPromising, S::kPotentialLoyalist, S::kPotentialLoyalist, S::kLoyal, S::kLoyal},
      /* R=5 */
      {S::kNew, S::kPotentialLoyalist, S::kPotentialLoyalist, S::kChampions, S::kChampions},
  };
  return kGrid[r - 1][fm - 1];
}

std::vector<RfmScore> ScoreRfm(const std::vector<RfmInput>& customers, absl::Time as_of,
                               const RfmRules& rules) {
  const absl::Time window_start = as_of - rules.window;  // exclusive
  std::vector<RfmScore> scored;
  for (const RfmInput& c : customers) {
    std::optional<absl::Time> last;
    int64_t frequency = 0;
    __int128 monetary = 0;
    for (const ValuePurchase& p : c.purchases) {
      if (p.at > as_of) continue;
      if (!last || p.at > *last) last = p.at;
      if (p.at > window_start) {
        ++frequency;
        monetary += p.amount_units;
      }
    }
    if (!last) continue;
    RfmScore s;
    s.customer_id = c.customer_id;
    absl::Duration remainder;  // this Abseil's IDivDuration writes it unconditionally
    s.recency_days = absl::IDivDuration(as_of - *last, absl::Hours(24), &remainder);
    s.frequency = frequency;
    s.monetary_units = Saturate(monetary);
    scored.push_back(std::move(s));
  }
  std::sort(scored.begin(), scored.end(), [](const RfmScore& a, const RfmScore& b) {
    return std::tie(a.customer_id, a.recency_days, a.frequency, a.monetary_units) <
           std::tie(b.customer_id, b.recency_days, b.frequency, b.monetary_units);
  });
  const int64_t n = static_cast<int64_t>(scored.size());
  std::vector<int64_t> rs, fs, ms;
  rs.reserve(n);
  fs.reserve(n);
  ms.reserve(n);
  for (const RfmScore& s : scored) {
    rs.push_back(s.recency_days);
    fs.push_back(s.frequency);
    ms.push_back(s.monetary_units);
  }
  std::sort(rs.begin(), rs.end());
  std::sort(fs.begin(), fs.end());
  std::sort(ms.begin(), ms.end());
  for (RfmScore& s : scored) {
    s.r = QuintileScore(CountGreater(rs, s.recency_days), n);  // worse = more days
    s.f = QuintileScore(CountLess(fs, s.frequency), n);
    s.m = QuintileScore(CountLess(ms, s.monetary_units), n);
    s.fm = (s.f + s.m + 1) / 2;
    s.segment = SegmentOf(s.r, s.fm);
  }
  return scored;
}

// ---------------------------------------------------------------------------
// ABC

std::string_view AbcClassName(AbcClass c) {
  switch (c) {
    case AbcClass::kA:
      return "A";
    case AbcClass::kB:
      return "B";
    case AbcClass::kC:
      return "C";
  }
  return "";
}

std::vector<AbcEntry> ClassifyAbc(const std::vector<CustomerAmount>& revenues,
                                  const AbcRules& rules) {
  __int128 total = 0;
  for (const CustomerAmount& r : revenues) total += r.amount_units;
  std::vector<AbcEntry> out;
  out.reserve(revenues.size());
  __int128 cumulative = 0;
  int64_t rank = 0;
  for (size_t i : RankOrder(revenues)) {
    AbcEntry e;
    e.customer_id = revenues[i].customer_id;
    e.revenue_units = revenues[i].amount_units;
    e.cumulative_before_units = Saturate(cumulative);
    e.rank = rank++;
    if (total > 0 && 100 * cumulative < rules.a_percent * total) {
      e.abc = AbcClass::kA;
    } else if (total > 0 && 100 * cumulative < rules.b_percent * total) {
      e.abc = AbcClass::kB;
    } else {
      e.abc = AbcClass::kC;
    }
    cumulative += revenues[i].amount_units;
    out.push_back(std::move(e));
  }
  return out;
}

// ---------------------------------------------------------------------------
// Tiers and prospects

std::string_view TierName(Tier tier) {
  switch (tier) {
    case Tier::kDiamond:
      return "DIAMOND";
    case Tier::kPlatinum:
      return "PLATINUM";
    case Tier::kGold:
      return "GOLD";
    case Tier::kSilver:
      return "SILVER";
    case Tier::kIron:
      return "IRON";
  }
  return "";
}

bool IsVip(Tier tier) {
  return tier == Tier::kDiamond || tier == Tier::kPlatinum || tier == Tier::kGold;
}

Tier TierOfRank(int64_t rank, int64_t population, const TierRules& rules) {
  if (population <= 0 || rank < 0 || rank >= population) {
    Die("TierOfRank needs 0 <= rank < population");
  }
  const __int128 r100 = static_cast<__int128>(rank) * 100;
  const __int128 n = population;
  if (r100 < rules.diamond_cum_percent * n) return Tier::kDiamond;
  if (r100 < rules.platinum_cum_percent * n) return Tier::kPlatinum;
  if (r100 < rules.gold_cum_percent * n) return Tier::kGold;
  if (r100 < rules.silver_cum_percent * n) return Tier::kSilver;
  return Tier::kIron;
}

std::vector<TierEntry> AssignTiers(const std::vector<CustomerAmount>& margins,
                                   const TierRules& rules) {
  std::vector<TierEntry> out;
  out.reserve(margins.size());
  const int64_t n = static_cast<int64_t>(margins.size());
  int64_t rank = 0;
  for (size_t i : RankOrder(margins)) {
    TierEntry e;
    e.customer_id = margins[i].customer_id;
    e.margin_units = margins[i].amount_units;
    e.rank = rank;
    e.tier = TierOfRank(rank, n, rules);
    ++rank;
    out.push_back(std::move(e));
  }
  return out;
}

std::string_view ProspectSizeName(ProspectSize size) {
  return size == ProspectSize::kBig ? "BIG" : "SMALL";
}

int64_t WeightedPipelineUnits(const std::vector<PipelineOpportunity>& open) {
  __int128 sum = 0;
  for (const PipelineOpportunity& o : open) {
    sum += static_cast<__int128>(o.amount_units) * o.probability_percent;
  }
  // Floor division (C++ truncates toward zero).
  __int128 q = sum / 100;
  if (sum % 100 != 0 && sum < 0) --q;
  return Saturate(q);
}

ProspectSize ClassifyProspect(int64_t weighted_pipeline_units, const ProspectRules& rules) {
  return weighted_pipeline_units >= rules.big_pipeline_units ? ProspectSize::kBig
                                                             : ProspectSize::kSmall;
}

// ---------------------------------------------------------------------------
// Cost to serve

CostToServe ComputeCostToServe(const ServiceActivity& a, const CostToServeRules& rules) {
  const __int128 visits = static_cast<__int128>(a.visits) * rules.visit_cost_units;
  const __int128 complaints =
      static_cast<__int128>(a.complaints_low) * rules.complaint_low_units +
      static_cast<__int128>(a.complaints_medium) * rules.complaint_medium_units +
      static_cast<__int128>(a.complaints_high) * rules.complaint_high_units +
      static_cast<__int128>(a.complaints_critical) * rules.complaint_critical_units;
  const __int128 service = static_cast<__int128>(a.service_events) * rules.service_event_units;
  CostToServe c;
  c.visits_units = Saturate(visits);
  c.complaints_units = Saturate(complaints);
  c.service_units = Saturate(service);
  c.total_units = Saturate(visits + complaints + service);
  return c;
}

Contribution ComputeContribution(int64_t margin_units, const ServiceActivity& activity,
                                 const CostToServeRules& rules) {
  Contribution c;
  c.margin_units = margin_units;
  c.cost_to_serve_units = ComputeCostToServe(activity, rules).total_units;
  const __int128 net = static_cast<__int128>(margin_units) - c.cost_to_serve_units;
  c.net_units = Saturate(net);
  c.negative_asset = net < 0;
  return c;
}

int64_t HistoricalClvUnits(const std::vector<int64_t>& margins_units) {
  __int128 sum = 0;
  for (int64_t m : margins_units) sum += m;
  return Saturate(sum);
}

// ---------------------------------------------------------------------------
// Loyalty ladder

std::string_view LoyaltyRungName(LoyaltyRung rung) {
  switch (rung) {
    case LoyaltyRung::kNone:
      return "NONE";
    case LoyaltyRung::kAware:
      return "AWARE";
    case LoyaltyRung::kApproving:
      return "APPROVING";
    case LoyaltyRung::kAdvocate:
      return "ADVOCATE";
    case LoyaltyRung::kLoyal:
      return "LOYAL";
    case LoyaltyRung::kDependent:
      return "DEPENDENT";
  }
  return "";
}

LoyaltyRung ClassifyLoyalty(const LoyaltyFacts& f, absl::Time as_of, const LoyaltyRules& rules) {
  if (f.first_purchase_at && as_of - *f.first_purchase_at >= rules.dependent_tenure &&
      f.contracts >= 1 && f.contracts_renewed == f.contracts) {
    return LoyaltyRung::kDependent;
  }
  if (f.renewals >= rules.loyal_renewals && !f.open_critical_complaint) {
    return LoyaltyRung::kLoyal;
  }
  if (f.referred_customer || (f.latest_nps && *f.latest_nps >= rules.advocate_nps)) {
    return LoyaltyRung::kAdvocate;
  }
  if (f.purchases >= rules.approving_purchases) return LoyaltyRung::kApproving;
  if (f.engaged || f.purchases > 0) return LoyaltyRung::kAware;
  return LoyaltyRung::kNone;
}

// ---------------------------------------------------------------------------
// lifetimes summary

std::optional<LifetimesSummary> SummarizeLikeLifetimes(const std::vector<DatedAmount>& purchases,
                                                       absl::CivilDay observation_end,
                                                       int64_t days_per_unit) {
  if (days_per_unit < 1) Die("SummarizeLikeLifetimes needs days_per_unit >= 1");
  // One period per day, amounts summed (lifetimes groups by the period first).
  std::map<absl::CivilDay, __int128> periods;
  for (const DatedAmount& p : purchases) {
    if (p.day > observation_end) continue;
    periods[p.day] += p.amount_units;
  }
  if (periods.empty()) return std::nullopt;
  const absl::CivilDay first = periods.begin()->first;
  const absl::CivilDay last = periods.rbegin()->first;
  const int64_t repeat_periods = static_cast<int64_t>(periods.size()) - 1;
  __int128 repeat_sum = 0;
  for (auto it = std::next(periods.begin()); it != periods.end(); ++it) repeat_sum += it->second;
  const double unit = static_cast<double>(days_per_unit);
  LifetimesSummary s;
  s.frequency = static_cast<double>(repeat_periods);
  s.recency = static_cast<double>(last - first) / unit;
  s.t = static_cast<double>(observation_end - first) / unit;
  s.monetary_value = repeat_periods == 0 ? 0.0 : static_cast<double>(repeat_sum) / repeat_periods;
  return s;
}

}  // namespace custops::domain

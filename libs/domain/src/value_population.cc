// The value population evaluation (custops/domain/value_fold.h,
// docs/value.md): PopulationBuilder evaluates each customer's facts at as_of
// and ranks the population (RFM quintiles, ABC, tiers, referral value, CLV);
// BuildValueView is one customer's answer. Pure: no I/O, no clock (the
// deadline is asked through the caller's `past_deadline`).
#include <algorithm>
#include <cmath>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "custops/domain/lifecycle.h"
#include "custops/domain/value_fold.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

// absl::Time -> google.protobuf.Timestamp, as custops/event/time.h's ToProto
// (exact to the microsecond).
google::protobuf::Timestamp TimestampOf(absl::Time t) {
  google::protobuf::Timestamp ts;
  const int64_t seconds = absl::ToUnixSeconds(t);  // rounds toward -infinity
  ts.set_seconds(seconds);
  ts.set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(t - absl::FromUnixSeconds(seconds))));
  return ts;
}

int64_t Saturate(__int128 v) {
  if (v > INT64_MAX) return INT64_MAX;
  if (v < INT64_MIN) return INT64_MIN;
  return static_cast<int64_t>(v);
}

int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t out;
  if (__builtin_add_overflow(a, b, &out)) {
    return b > 0 ? INT64_MAX : INT64_MIN;
  }
  return out;
}

v1::Money MoneyOf(int64_t units, const std::string& currency) {
  v1::Money m;
  m.set_units(units);
  m.set_currency(currency);
  return m;
}

}  // namespace

const CustomerValue* Population::Find(std::string_view id) const {
  auto it = std::lower_bound(
      customers.begin(), customers.end(), id,
      [](const CustomerValue& c, std::string_view key) { return c.customer_id < key; });
  if (it == customers.end() || it->customer_id != id) return nullptr;
  return &*it;
}

v1::Tier TierToProto(Tier tier) {
  switch (tier) {
    case Tier::kDiamond:
      return v1::TIER_DIAMOND;
    case Tier::kPlatinum:
      return v1::TIER_PLATINUM;
    case Tier::kGold:
      return v1::TIER_GOLD;
    case Tier::kSilver:
      return v1::TIER_SILVER;
    case Tier::kIron:
      return v1::TIER_IRON;
  }
  return v1::TIER_UNSPECIFIED;
}

v1::Loyalty LoyaltyToProto(LoyaltyRung rung) {
  switch (rung) {
    case LoyaltyRung::kNone:
      return v1::LOYALTY_NONE;
    case LoyaltyRung::kAware:
      return v1::LOYALTY_AWARE;
    case LoyaltyRung::kApproving:
      return v1::LOYALTY_APPROVING;
    case LoyaltyRung::kAdvocate:
      return v1::LOYALTY_ADVOCATE;
    case LoyaltyRung::kLoyal:
      return v1::LOYALTY_LOYAL;
    case LoyaltyRung::kDependent:
      return v1::LOYALTY_DEPENDENT;
  }
  return v1::LOYALTY_UNSPECIFIED;
}

absl::StatusOr<std::string> DimensionValueOf(v1::Dimension dimension, const CustomerValue& c) {
  switch (dimension) {
    case v1::DIMENSION_UNSPECIFIED:
    case v1::DIMENSION_ALL:
      return std::string();
    case v1::DIMENSION_REGION:
      return c.region;
    case v1::DIMENSION_INDUSTRY:
      return c.industry;
    case v1::DIMENSION_OWNER:
      return c.owner_id;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dimension: ", v1::Dimension_Name(dimension),
                       " is not a value dimension (ALL, REGION, INDUSTRY, OWNER)"));
  }
}

bool FitInputsMoved(const internal::ValueClvModel& fitted, const Population& now, int64_t percent) {
  auto moved = [percent](int64_t was, int64_t is) {
    const __int128 diff = static_cast<__int128>(is) - was;
    if (diff == 0) return false;
    return (diff < 0 ? -diff : diff) * 100 > static_cast<__int128>(percent) * was;
  };
  return moved(fitted.customers(), now.scored) || moved(fitted.repeat_buyers(), now.repeat_buyers);
}

internal::ValueClvModel FitClv(const std::vector<LifetimesSummary>& rows, absl::Time as_of) {
  internal::ValueClvModel m;
  m.set_fitted_as_of_micros(absl::ToUnixMicros(as_of));
  m.set_customers(static_cast<int64_t>(rows.size()));
  int64_t repeat = 0;
  for (const auto& r : rows) repeat += r.frequency > 0 ? 1 : 0;
  m.set_repeat_buyers(repeat);
  if (rows.empty()) return m;
  absl::StatusOr<BgNbdFit> bg = FitBgNbd(rows, BgNbdFitOptions{});
  if (bg.ok()) {
    m.set_bg_ok(true);
    m.set_r(bg->params.r);
    m.set_alpha(bg->params.alpha);
    m.set_a(bg->params.a);
    m.set_b(bg->params.b);
    m.set_bg_converged(bg->converged);
    m.set_bg_log_likelihood(bg->log_likelihood);
  }
  absl::StatusOr<GammaGammaFit> gg = FitGammaGamma(rows, GammaGammaFitOptions{});
  if (gg.ok()) {
    m.set_gg_ok(true);
    m.set_p(gg->params.p);
    m.set_q(gg->params.q);
    m.set_v(gg->params.v);
    m.set_gg_converged(gg->converged);
    m.set_gg_log_likelihood(gg->log_likelihood);
  }
  return m;
}

PopulationBuilder::PopulationBuilder(absl::Time as_of, const ValueRules& rules)
    : rules_(rules),
      now_(absl::ToUnixMicros(as_of)),
      window_start_(as_of - rules.rfm.window),
      window_start_micros_(absl::ToUnixMicros(as_of - rules.rfm.window)),
      end_day_(absl::ToCivilDay(as_of, absl::UTCTimeZone())) {
  pop_.as_of = as_of;
}

bool PopulationBuilder::Add(std::string_view customer_id, const internal::ValueFacts& f) {
  if (!TakesPart(f)) return false;
  const absl::Time as_of = pop_.as_of;
  const int64_t now = now_;
  const int64_t window_start = window_start_micros_;
  CustomerValue& c = pop_.customers.emplace_back();
  c.customer_id = std::string(customer_id);
  c.name = f.name();
  c.region = f.region();
  c.industry = f.industry();
  c.owner_id = f.owner_id();
  c.kind = f.kind();

  // RFM measures exactly as ScoreRfm takes them: the last purchase at
  // or before as_of, count and (saturated) amount of those in the window.
  std::optional<absl::Time> last;
  int64_t frequency = 0;
  __int128 monetary = 0;
  days_.clear();
  margins_.clear();
  contracts_.clear();
  renewed_.clear();
  LoyaltyFacts lf;
  for (const internal::ValuePurchaseFact& p : f.purchases()) {
    if (p.at_micros() > now) break;  // sorted by time
    const absl::Time at = absl::FromUnixMicros(p.at_micros());
    const int64_t margin = p.amount_units() - p.cost_units();
    if (!last || at > *last) last = at;
    if (at > window_start_) {
      ++frequency;
      monetary += p.amount_units();
    }
    days_.push_back({.day = absl::ToCivilDay(at, absl::UTCTimeZone()), .amount_units = margin});
    margins_.push_back(margin);
    if (p.at_micros() > window_start) {
      c.revenue_units = SaturatingAdd(c.revenue_units, p.amount_units());
      c.margin_units = SaturatingAdd(c.margin_units, margin);
    }
    ++lf.purchases;
    if (!lf.first_purchase_at) lf.first_purchase_at = at;
    if (p.renewal()) {
      ++lf.renewals;
      renewed_.push_back(p.contract_id());
    } else {
      contracts_.emplace_back(p.contract_id(), false);
    }
  }
  // Distinct signed contracts, and how many of them were renewed.
  std::sort(contracts_.begin(), contracts_.end());
  contracts_.erase(std::unique(contracts_.begin(), contracts_.end(),
                               [](const auto& a, const auto& b) { return a.first == b.first; }),
                   contracts_.end());
  std::sort(renewed_.begin(), renewed_.end());
  lf.contracts = static_cast<int64_t>(contracts_.size());
  for (const auto& [id, unused] : contracts_) {
    lf.contracts_renewed += std::binary_search(renewed_.begin(), renewed_.end(), id) ? 1 : 0;
  }
  lf.engaged = f.first_activity_micros() != 0 && f.first_activity_micros() <= now;
  lf.referred_customer = !f.referral_micros().empty() && f.referral_micros(0) <= now;
  for (const internal::ValueNpsFact& n : f.nps()) {
    if (n.at_micros() > now) break;
    lf.latest_nps = n.nps();
  }
  ServiceActivity activity;
  for (int64_t t : f.visit_micros()) activity.visits += (t > window_start && t <= now) ? 1 : 0;
  for (int64_t t : f.service_micros()) {
    activity.service_events += (t > window_start && t <= now) ? 1 : 0;
  }
  for (const internal::ValueComplaintFact& k : f.complaints()) {
    if (k.at_micros() == 0 || k.at_micros() > now) continue;  // not filed (yet)
    const bool open = k.resolved_micros() == 0 || k.resolved_micros() > now;
    if (k.severity() == v1::SEVERITY_CRITICAL && open) lf.open_critical_complaint = true;
    if (k.at_micros() <= window_start) continue;
    switch (k.severity()) {
      case v1::SEVERITY_LOW:
        ++activity.complaints_low;
        break;
      case v1::SEVERITY_MEDIUM:
        ++activity.complaints_medium;
        break;
      case v1::SEVERITY_HIGH:
        ++activity.complaints_high;
        break;
      case v1::SEVERITY_CRITICAL:
        ++activity.complaints_critical;
        break;
      default:
        break;
    }
  }
  c.contribution = ComputeContribution(c.margin_units, activity, rules_.cost);
  c.loyalty = ClassifyLoyalty(lf, as_of, rules_.loyalty);
  c.historical_clv_units = HistoricalClvUnits(margins_);
  open_.clear();
  for (const internal::ValueOpportunityFact& o : f.opportunities()) {
    if (o.opened_micros() == 0 || o.opened_micros() > now) continue;
    int stage = v1::FUNNEL_STAGE_OPPORTUNITY;
    for (int i = 0; i < o.stage_micros_size() && o.stage_micros(i) <= now; ++i) {
      stage = o.stages(i);
    }
    if (stage == v1::FUNNEL_STAGE_CONTRACT_SIGNED || stage == v1::FUNNEL_STAGE_LOST) continue;
    open_.push_back(
        {.amount_units = o.amount_units(),
         .probability_percent = FunnelProbability(static_cast<v1::FunnelStage>(stage))});
  }
  c.weighted_pipeline_units = WeightedPipelineUnits(open_);
  c.scored = last.has_value();
  if (c.scored) {
    absl::Duration remainder;  // this Abseil's IDivDuration writes it unconditionally
    c.rfm.recency_days = absl::IDivDuration(as_of - *last, absl::Hours(24), &remainder);
    c.rfm.frequency = frequency;
    c.rfm.monetary_units = Saturate(monetary);
    c.summary = SummarizeLikeLifetimes(days_, end_day_, 1);
  } else {
    c.tier = ClassifyProspect(c.weighted_pipeline_units, rules_.prospects) == ProspectSize::kBig
                 ? v1::TIER_BIG
                 : v1::TIER_SMALL;
    c.contribution.negative_asset = false;  // prospects are not assets yet
  }
  if (!f.referred_ids().empty()) {
    auto& [referrer, referred] = referrals_.emplace_back();
    referrer = c.customer_id;
    referred.assign(f.referred_ids().begin(), f.referred_ids().end());
  }
  return true;
}

absl::StatusOr<Population> PopulationBuilder::Finish(const internal::ValueClvModel* model,
                                                     absl::FunctionRef<bool()> past_deadline) && {
  auto deadline_exceeded = [] {
    return absl::DeadlineExceededError("population evaluation did not finish before deadline");
  };
  Population pop = std::move(pop_);
  std::vector<CustomerValue>& cs = pop.customers;
  auto by_id = [](const CustomerValue& a, const CustomerValue& b) {
    return a.customer_id < b.customer_id;
  };
  if (!std::is_sorted(cs.begin(), cs.end(), by_id)) std::sort(cs.begin(), cs.end(), by_id);
  if (past_deadline()) return deadline_exceeded();

  // Population-relative scores over the scored customers, in id order (so
  // "ties by customer id" is "ties by index"): the rules of ScoreRfm,
  // ClassifyAbc and AssignTiers on integer keys.
  std::vector<uint32_t> scored;
  scored.reserve(cs.size());
  for (size_t i = 0; i < cs.size(); ++i) {
    if (cs[i].scored) scored.push_back(static_cast<uint32_t>(i));
  }
  const int64_t n = static_cast<int64_t>(scored.size());
  pop.scored = n;
  for (uint32_t i : scored) pop.repeat_buyers += cs[i].summary->frequency > 0 ? 1 : 0;
  {
    std::vector<int64_t> rs, fs, ms;
    rs.reserve(n);
    fs.reserve(n);
    ms.reserve(n);
    for (uint32_t i : scored) {
      rs.push_back(cs[i].rfm.recency_days);
      fs.push_back(cs[i].rfm.frequency);
      ms.push_back(cs[i].rfm.monetary_units);
    }
    std::sort(rs.begin(), rs.end());
    std::sort(fs.begin(), fs.end());
    std::sort(ms.begin(), ms.end());
    for (uint32_t i : scored) {
      RfmValue& s = cs[i].rfm;
      const int64_t more_days = rs.end() - std::upper_bound(rs.begin(), rs.end(), s.recency_days);
      const int64_t fewer = std::lower_bound(fs.begin(), fs.end(), s.frequency) - fs.begin();
      const int64_t smaller = std::lower_bound(ms.begin(), ms.end(), s.monetary_units) - ms.begin();
      s.r = QuintileScore(more_days, n);
      s.f = QuintileScore(fewer, n);
      s.m = QuintileScore(smaller, n);
      s.fm = (s.f + s.m + 1) / 2;
      s.segment = SegmentOf(s.r, s.fm);
    }
  }
  std::vector<uint32_t> order = scored;
  auto rank_by = [&](int64_t CustomerValue::*amount) {
    order = scored;
    std::sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
      const int64_t x = cs[a].*amount, y = cs[b].*amount;
      return x != y ? x > y : a < b;
    });
  };
  rank_by(&CustomerValue::revenue_units);
  {
    __int128 total = 0, cumulative = 0;
    for (uint32_t i : scored) total += cs[i].revenue_units;
    for (uint32_t i : order) {
      CustomerValue& c = cs[i];
      if (total > 0 && 100 * cumulative < rules_.abc.a_percent * total) {
        c.abc = AbcClass::kA;
      } else if (total > 0 && 100 * cumulative < rules_.abc.b_percent * total) {
        c.abc = AbcClass::kB;
      } else {
        c.abc = AbcClass::kC;
      }
      cumulative += c.revenue_units;
    }
  }
  rank_by(&CustomerValue::margin_units);
  for (int64_t rank = 0; rank < n; ++rank) {
    CustomerValue& c = cs[order[rank]];
    c.tier = TierToProto(TierOfRank(rank, n, rules_.tiers));
    c.margin_rank = rank;
  }
  if (past_deadline()) return deadline_exceeded();

  // Referral value: the window margin of the customers each one referred.
  auto find = [&](std::string_view id) -> CustomerValue* {
    auto it = std::lower_bound(
        cs.begin(), cs.end(), id,
        [](const CustomerValue& c, std::string_view key) { return c.customer_id < key; });
    return it != cs.end() && it->customer_id == id ? &*it : nullptr;
  };
  for (const auto& [referrer, referred] : referrals_) {
    CustomerValue* c = find(referrer);
    for (const std::string& id : referred) {
      if (const CustomerValue* r = find(id); r != nullptr) {
        c->referred_margin_units = SaturatingAdd(c->referred_margin_units, r->margin_units);
      }
    }
  }

  // CLV.
  if (model != nullptr) {
    pop.model = *model;
  } else {
    std::vector<LifetimesSummary> rows;
    rows.reserve(n);
    for (uint32_t i : scored) rows.push_back(*cs[i].summary);
    pop.model = FitClv(rows, pop.as_of);
  }
  if (past_deadline()) return deadline_exceeded();
  pop.model_ok = pop.model.bg_ok() && pop.model.gg_ok() && pop.model.q() > 1;
  if (pop.model_ok) {
    const BgNbdParams bg{
        .r = pop.model.r(), .alpha = pop.model.alpha(), .a = pop.model.a(), .b = pop.model.b()};
    const GammaGammaParams gg{.p = pop.model.p(), .q = pop.model.q(), .v = pop.model.v()};
    const double horizon_days = rules_.clv.horizon_months * rules_.clv.periods_per_month;
    const bool options_ok = CheckClvOptions(rules_.clv).ok();
    // The BG/NBD terms depend on (frequency, recency, T) only: computed once
    // per distinct triple (bit-identical to computing them per customer).
    struct Terms {
      double p_alive, expected_purchases;
      std::vector<double> by_month;
    };
    absl::flat_hash_map<std::tuple<double, double, double>, Terms> memo;
    int64_t done = 0;
    for (uint32_t i : scored) {
      if (++done % 4096 == 0 && past_deadline()) return deadline_exceeded();
      CustomerValue& c = cs[i];
      const LifetimesSummary& s = *c.summary;
      auto [it, inserted] = memo.try_emplace({s.frequency, s.recency, s.t});
      Terms& t = it->second;
      if (inserted) {
        t.p_alive = BgNbdProbabilityAlive(bg, s);
        t.expected_purchases = BgNbdExpectedPurchases(bg, s, horizon_days);
        if (options_ok) t.by_month = BgNbdExpectedPurchasesByMonth(bg, s, rules_.clv);
      }
      c.p_alive = t.p_alive;
      c.expected_purchases = t.expected_purchases;
      c.expected_margin = GammaGammaExpectedAverageProfit(gg, s);
      absl::StatusOr<int64_t> clv =
          options_ok ? DiscountedClvUnits(c.expected_margin, t.by_month, rules_.clv)
                     : absl::StatusOr<int64_t>(CheckClvOptions(rules_.clv));
      c.clv_ok = clv.ok() && std::isfinite(c.p_alive) && std::isfinite(c.expected_purchases) &&
                 std::isfinite(c.expected_margin);
      if (c.clv_ok) c.predicted_clv_units = *clv;
    }
  }
  if (past_deadline()) return deadline_exceeded();

  // Totals per (dimension, value, tier), summed in id order.
  absl::flat_hash_map<std::tuple<int, std::string_view, int>, Population::Totals> totals;
  for (const CustomerValue& c : cs) {
    const std::string_view values[] = {std::string_view(), c.region, c.industry, c.owner_id};
    const int dims[] = {v1::DIMENSION_ALL, v1::DIMENSION_REGION, v1::DIMENSION_INDUSTRY,
                        v1::DIMENSION_OWNER};
    for (int d = 0; d < 4; ++d) {
      totals[{dims[d], values[d], c.tier}].Add(c);
    }
  }
  for (const auto& [k, t] : totals) {
    pop.tier_totals.emplace(
        std::make_tuple(std::get<0>(k), std::string(std::get<1>(k)), std::get<2>(k)), t);
  }
  return pop;
}

void Population::Totals::Add(const CustomerValue& c) {
  ++count;
  margin = SaturatingAdd(margin, c.margin_units);
  revenue = SaturatingAdd(revenue, c.revenue_units);
  negative += c.contribution.negative_asset ? 1 : 0;
}

Population ComputePopulation(const std::vector<CustomerFactsRef>& customers, absl::Time as_of,
                             const ValueRules& rules, const internal::ValueClvModel* model) {
  PopulationBuilder builder(as_of, rules);
  for (const CustomerFactsRef& c : customers) builder.Add(c.customer_id, c.facts);
  absl::StatusOr<Population> pop = std::move(builder).Finish(model, [] { return false; });
  return std::move(pop).value();  // no deadline: cannot fail
}

v1::ValueView BuildValueView(const Population& pop, const CustomerValue& c,
                             const ValueRules& rules) {
  const std::string& cur = rules.currency;
  v1::ValueView v;
  v.set_customer_id(c.customer_id);
  *v.mutable_as_of() = TimestampOf(pop.as_of);
  if (c.scored) {
    v1::Rfm* r = v.mutable_rfm();
    r->set_recency_days(c.rfm.recency_days);
    r->set_frequency(c.rfm.frequency);
    *r->mutable_monetary() = MoneyOf(c.rfm.monetary_units, cur);
    r->set_r_score(c.rfm.r);
    r->set_f_score(c.rfm.f);
    r->set_m_score(c.rfm.m);
    v.set_segment(std::string(RfmSegmentName(c.rfm.segment)));
    v.set_abc_class(std::string(AbcClassName(c.abc)));
    v.set_margin_rank(c.margin_rank);
  }
  v.set_tier(c.tier);
  *v.mutable_margin() = MoneyOf(c.margin_units, cur);
  *v.mutable_revenue() = MoneyOf(c.revenue_units, cur);
  *v.mutable_cost_to_serve() = MoneyOf(c.contribution.cost_to_serve_units, cur);
  *v.mutable_net_contribution() = MoneyOf(c.contribution.net_units, cur);
  v.set_negative_asset(c.contribution.negative_asset);
  v.set_loyalty(LoyaltyToProto(c.loyalty));
  v1::Clv* clv = v.mutable_clv();
  *clv->mutable_historical() = MoneyOf(c.historical_clv_units, cur);
  clv->set_horizon_months(rules.clv.horizon_months);
  clv->set_model_fitted(pop.model_ok);
  if (c.clv_ok) {
    *clv->mutable_predicted() = MoneyOf(c.predicted_clv_units, cur);
    clv->set_p_alive(c.p_alive);
    clv->set_expected_purchases(c.expected_purchases);
    clv->set_expected_margin(c.expected_margin);
  }
  if (c.summary) {
    v1::LifetimesSummary* s = v.mutable_summary();
    s->set_frequency(c.summary->frequency);
    s->set_recency(c.summary->recency);
    s->set_t(c.summary->t);
    s->set_monetary_value(c.summary->monetary_value);
  }
  *v.mutable_weighted_pipeline() = MoneyOf(c.weighted_pipeline_units, cur);
  *v.mutable_referred_margin() = MoneyOf(c.referred_margin_units, cur);
  v.set_population(pop.scored);
  v.set_region(c.region);
  v.set_industry(c.industry);
  v.set_owner_id(c.owner_id);
  v.set_name(c.name);
  v.set_kind(static_cast<v1::CustomerKind>(c.kind));
  return v;
}

}  // namespace custops::domain

// The value projection's pure core (docs/value.md): folding events into
// per-customer facts, and evaluating the whole population at an instant — RFM
// scores, segments, ABC classes, tiers, cost to serve, loyalty, CLV — with the
// rules of custops/domain/value.h and clv.h. No I/O and no clock: `as_of` is
// always a parameter, and the real-time deadline of an evaluation is the
// caller's (PopulationBuilder::Finish asks it through `past_deadline`).
//
//   internal::ValueFacts facts;
//   RETURN_IF_ERROR(EvolveValue(facts, event));         // any arrival order
//   PopulationBuilder builder(as_of, rules);            // streaming:
//   builder.Add("c-1", facts);                          //   one customer at a time
//   absl::StatusOr<Population> pop =
//       std::move(builder).Finish(&model, [&] { return absl::Now() >= deadline; });
//   const CustomerValue* v = pop->Find("c-1");
//
// Thread safety: pure functions; a Population is immutable once built; a
// PopulationBuilder is used by one thread.
#ifndef CUSTOPS_DOMAIN_VALUE_FOLD_H_
#define CUSTOPS_DOMAIN_VALUE_FOLD_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/domain/clv.h"
#include "custops/domain/value.h"
#include "custops/internal/value_facts.pb.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/value.pb.h"

namespace custops::domain {

// Every threshold of the value rules (configuration [value]) that the
// evaluation of a population reads. The service adds its schedule (refit,
// snapshot staleness: custops/value/value_engine.h).
struct ValueRules {
  // RFM window (F, M, revenue, margin, cost to serve). Default: 365 days
  RfmRules rfm;
  AbcRules abc;
  TierRules tiers;
  ProspectRules prospects;
  CostToServeRules cost;
  LoyaltyRules loyalty;
  // CLV: horizon and discount (periods_per_month is fixed to 30.4375: the
  // model runs in days).
  ClvOptions clv{.periods_per_month = 30.4375};
  // Currency of the answers. Default: CNY
  std::string currency = "CNY";
};

// Folds one event into the customer's facts. Order-independent: lists are
// kept in canonical order. Events that mean nothing to value change nothing.
absl::Status EvolveValue(internal::ValueFacts& facts, const v1::Event& event);

// Only CUSTOMER and AGENT take part in value (docs/value.md "Facts").
bool TakesPart(const internal::ValueFacts& facts);

struct CustomerFactsRef {
  std::string customer_id;
  internal::ValueFacts facts;
};

// A customer's RFM measures and scores (RfmScore without the id).
struct RfmValue {
  int64_t recency_days = 0;
  int64_t frequency = 0;
  int64_t monetary_units = 0;
  int r = 0, f = 0, m = 0, fm = 0;
  RfmSegment segment = RfmSegment::kLost;
};

// One customer evaluated at the population's as_of.
struct CustomerValue {
  std::string customer_id;
  std::string name, region, industry, owner_id;
  int32_t kind = 0;
  bool scored = false;  // has a purchase at or before as_of (RFM, ABC, tier by rank)
  RfmValue rfm;
  AbcClass abc = AbcClass::kC;
  int64_t margin_rank = 0;
  v1::Tier tier = v1::TIER_UNSPECIFIED;
  int64_t revenue_units = 0;  // window
  int64_t margin_units = 0;   // window
  Contribution contribution;
  LoyaltyRung loyalty = LoyaltyRung::kNone;
  int64_t historical_clv_units = 0;
  std::optional<LifetimesSummary> summary;  // days
  int64_t weighted_pipeline_units = 0;
  int64_t referred_margin_units = 0;
  // CLV (set when the model is usable and the customer is scored).
  bool clv_ok = false;
  int64_t predicted_clv_units = 0;
  double p_alive = 0;
  double expected_purchases = 0;
  double expected_margin = 0;
};

// The whole population at one instant. Customers sorted by id.
struct Population {
  absl::Time as_of;
  std::vector<CustomerValue> customers;
  int64_t scored = 0;
  // Of the scored customers, those with a repeat purchase (what a fit on
  // this population would count as repeat buyers).
  int64_t repeat_buyers = 0;
  internal::ValueClvModel model;  // the model the predictions used
  bool model_ok = false;
  // (dimension, value, tier) -> count, margin, revenue, negative assets, for
  // ALL, REGION, INDUSTRY, OWNER.
  struct Totals {
    int64_t count = 0, margin = 0, revenue = 0, negative = 0;
    // Counts `c` in (saturating sums).
    void Add(const CustomerValue& c);
  };
  std::map<std::tuple<int, std::string, int>, Totals> tier_totals;

  // nullptr when absent.
  const CustomerValue* Find(std::string_view customer_id) const;
};

// Fits BG/NBD and Gamma-Gamma on the scored customers' day summaries.
// bg_ok / gg_ok false when a fit is impossible (no rows, no repeat buyer).
internal::ValueClvModel FitClv(const std::vector<LifetimesSummary>& rows, absl::Time as_of);

// Whether `now`'s fit inputs have moved away from those `fitted` was fitted
// on: its scored customers or repeat buyers differ from the fitted counts by
// more than `percent` percent of them (the service's
// ValueRules::refit_population_change_percent).
bool FitInputsMoved(const internal::ValueClvModel& fitted, const Population& now, int64_t percent);

// Builds a Population one customer at a time, so a caller streaming facts
// from the store never holds them all: Add evaluates everything that depends
// on the customer alone (window measures, RFM measures, cost to serve,
// loyalty, pipeline, the lifetimes summary) and keeps only the result;
// Finish ranks the population (RFM quintiles, ABC, tiers: index sorts on
// integer keys, ties by customer id), adds referral value, fits the CLV model
// if asked and predicts (the BG/NBD terms computed once per distinct
// (frequency, recency, T)). The result is exactly ComputePopulation's for the
// same facts, in any Add order.
class PopulationBuilder {
 public:
  PopulationBuilder(absl::Time as_of, const ValueRules& rules);

  // Evaluates one customer (ids unique). Customers that do not take part are
  // skipped (returns false).
  bool Add(std::string_view customer_id, const internal::ValueFacts& facts);
  size_t size() const { return pop_.customers.size(); }

  // `model`: the CLV model to predict with; nullptr = fit one on this
  // population at as_of. `past_deadline` is asked between steps and every few
  // thousand customers; once it answers true, DEADLINE_EXCEEDED (the caller
  // owns the clock: the service compares the real time with the call's
  // deadline; [] { return false; } never stops).
  absl::StatusOr<Population> Finish(const internal::ValueClvModel* model,
                                    absl::FunctionRef<bool()> past_deadline) &&;

 private:
  const ValueRules& rules_;
  const int64_t now_;              // as_of, microseconds
  const absl::Time window_start_;  // exclusive
  const int64_t window_start_micros_;
  const absl::CivilDay end_day_;
  Population pop_;
  // Referrers and whom they referred (sorted ids), resolved in Finish.
  std::vector<std::pair<std::string, std::vector<std::string>>> referrals_;
  // Scratch reused across Add calls.
  std::vector<DatedAmount> days_;
  std::vector<int64_t> margins_;
  std::vector<std::pair<std::string_view, bool>> contracts_;
  std::vector<std::string_view> renewed_;
  std::vector<PipelineOpportunity> open_;
};

// Evaluates every customer that takes part (registered, CUSTOMER or AGENT)
// at as_of. `model`: the CLV model to predict with; nullptr = fit one on this
// population at as_of (what explicit-as_of answers do, so they depend on the
// facts and as_of only). A PopulationBuilder fed with every customer.
Population ComputePopulation(const std::vector<CustomerFactsRef>& customers, absl::Time as_of,
                             const ValueRules& rules, const internal::ValueClvModel* model);

// The view of one customer of `population`.
v1::ValueView BuildValueView(const Population& population, const CustomerValue& c,
                             const ValueRules& rules);

v1::Tier TierToProto(Tier tier);
v1::Loyalty LoyaltyToProto(LoyaltyRung rung);
// The value a summary groups by ("" for ALL); INVALID_ARGUMENT otherwise.
absl::StatusOr<std::string> DimensionValueOf(v1::Dimension dimension, const CustomerValue& c);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_VALUE_FOLD_H_

// Customer lifecycle rules (客户生命周期, docs/lifecycle.md): pure functions, no I/O.
//
// State stores facts; a stage is a function of (facts, as_of):
//
//   internal::CustomerFacts facts;
//   for (const v1::Event& e : events) (void)Evolve(facts, e);   // any order
//   LifecycleResult now = Classify(facts, as_of, rules);
//   v1::CustomerView view = BuildCustomerView(facts, as_of, rules);
//
// Determinism: Evolve keeps facts ordered by (occurred_at, event_id), so the
// same set of events gives the same facts whatever their arrival order, and
// Classify/BuildCustomerView depend only on (facts, as_of, rules).
#ifndef CUSTOPS_DOMAIN_LIFECYCLE_H_
#define CUSTOPS_DOMAIN_LIFECYCLE_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/internal/lifecycle_facts.pb.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::domain {

// Every threshold of the lifecycle rules (docs/lifecycle.md "Thresholds").
struct LifecycleRules {
  // A customer is NEW while as_of - first purchase < new_period. Default: 180 days
  absl::Duration new_period = absl::Hours(24 * 180);
  // INTENT with no activity for this long falls back to PROSPECT. Default: 180 days
  absl::Duration dormant_lead = absl::Hours(24 * 180);
  // CUSTOMER with no active contract and no activity for this long is LOST. Default: 365 days
  absl::Duration lost_silence = absl::Hours(24 * 365);
  // Revenue window length (last window and the one before). Default: 365 days
  absl::Duration revenue_window = absl::Hours(24 * 365);
  // GROWING when last >= growth_permille/1000 x prior. Default: 1100
  int64_t growth_permille = 1100;
  // DECLINING when last <= decline_permille/1000 x prior. Default: 700
  int64_t decline_permille = 700;
  // DECLINING when no purchase for max(min_decline_silence, 2 x median gap). Default: 180 days
  absl::Duration min_decline_silence = absl::Hours(24 * 180);
  // Median purchase gap assumed with fewer than two purchases. Default: 365 days
  absl::Duration default_median_gap = absl::Hours(24 * 365);
  // MAN "M": budget >= this many minor units. Default: 10,000,000 (100,000.00)
  int64_t man_budget_threshold_units = 10'000'000;
  // View flag "dormant_risk": INTENT with no activity for longer than this
  // (strictly). Default: 150 days
  absl::Duration dormant_risk_silence = absl::Hours(24 * 150);
};

// The outcome of classifying a customer at an instant.
struct LifecycleResult {
  v1::LifecycleStage stage = v1::LIFECYCLE_STAGE_UNSPECIFIED;
  v1::SubStage sub_stage = v1::SUB_STAGE_UNSPECIFIED;  // only for CUSTOMER
  std::vector<v1::StageTransition> history;            // oldest first, all at <= as_of
  int32_t win_back_count = 0;
  // The earliest instant after as_of at which the classification may change
  // with no new event (a time-driven rule); nullopt when none can.
  std::optional<absl::Time> next_change_at;
};

// Folds one event into `facts`. Returns OK when the event was recorded;
// FAILED_PRECONDITION with a short snake_case reason (the message) when it is
// impossible and changes nothing (e.g. "unknown_opportunity",
// "customer_id_mismatch"); INVALID_ARGUMENT when the event has no payload.
// Registration of a customer already registered updates nothing and returns
// FAILED_PRECONDITION "already_registered".
absl::Status Evolve(internal::CustomerFacts& facts, const v1::Event& event);

// True when the customer has been registered (only then does it exist for queries).
bool Exists(const internal::CustomerFacts& facts);

// Stage, sub-stage and history at `as_of` (facts after as_of are ignored).
LifecycleResult Classify(const internal::CustomerFacts& facts, absl::Time as_of,
                         const LifecycleRules& rules);

// "MAN" ... "man" for PROSPECT and INTENT customers at as_of; empty otherwise.
std::string ManClass(const internal::CustomerFacts& facts, absl::Time as_of,
                     const LifecycleRules& rules);

// Funnel probability in percent: 5, 10, 30, 50, 70, 100; 0 for LOST/unknown.
int32_t FunnelProbability(v1::FunnelStage stage);

// What an index of customers needs at `as_of`, from one sweep: cheaper than
// BuildCustomerView (no history list, contacts or opportunities).
struct LifecycleSummary {
  v1::LifecycleStage stage = v1::LIFECYCLE_STAGE_UNSPECIFIED;
  v1::SubStage sub_stage = v1::SUB_STAGE_UNSPECIFIED;
  // The latest history entry at or before as_of, if any.
  std::optional<v1::StageTransition> last_transition;
  // As LifecycleResult::next_change_at.
  std::optional<absl::Time> next_change_at;
  // The profile as of as_of (registered_at unset).
  v1::CustomerProfile profile;
  // As ManClass().
  std::string man_class;
  std::optional<absl::Time> last_activity_at;
};

// Agrees with Classify, ManClass and BuildCustomerView at the same as_of.
LifecycleSummary Summarize(const internal::CustomerFacts& facts, absl::Time as_of,
                           const LifecycleRules& rules);
// The same, and from the same sweep the stage history at or before as_of
// (Classify(facts, as_of, rules).history) in `*history` (replaced).
LifecycleSummary Summarize(const internal::CustomerFacts& facts, absl::Time as_of,
                           const LifecycleRules& rules, std::vector<v1::StageTransition>* history);

// The 360° view at `as_of` (Lifecycle.GetCustomer; docs/lifecycle.md "The view").
v1::CustomerView BuildCustomerView(const internal::CustomerFacts& facts, absl::Time as_of,
                                   const LifecycleRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_LIFECYCLE_H_

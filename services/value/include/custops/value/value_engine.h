// The value service's engine wiring (docs/value.md). The pure core — folding
// events into per-customer facts and evaluating the population at an instant
// (RFM, ABC, tiers, cost to serve, loyalty, CLV) — is the domain's
// (custops/domain/value_fold.h); its names are the service's here. What is the
// service's: the configuration beyond the rules (refit schedule, snapshot
// staleness) and the real-time deadline of an evaluation.
//
//   internal::ValueFacts facts;
//   RETURN_IF_ERROR(EvolveValue(facts, event));         // any arrival order
//   PopulationBuilder builder(as_of, rules);            // streaming:
//   builder.Add("c-1", facts);                          //   one customer at a time
//   absl::StatusOr<Population> pop = FinishBefore(std::move(builder), &model, deadline);
//   const CustomerValue* v = pop->Find("c-1");
//
// Thread safety: as the domain's; FinishBefore reads the real clock.
#ifndef CUSTOPS_VALUE_VALUE_ENGINE_H_
#define CUSTOPS_VALUE_VALUE_ENGINE_H_

#include <cstdint>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/domain/clv.h"
#include "custops/domain/value.h"
#include "custops/domain/value_fold.h"
#include "custops/internal/value_facts.pb.h"

namespace custops::value {

// Every setting of the value configuration ([value]): the domain's rules plus
// the service's schedule.
struct ValueRules : domain::ValueRules {
  // Scheduled refit of BG/NBD + Gamma-Gamma on the ticker's clock. Default: 24 h
  absl::Duration refit_interval = absl::Hours(24);
  // Refit as soon as the fit's inputs have moved: the customers with a
  // purchase, or those with a repeat purchase, differ from the fitted counts
  // by more than this percentage (0: on any change). Default: 10
  int64_t refit_population_change_percent = 10;
  // "Now" answers come from a population snapshot at most this old (in real
  // time) unless a consistency token asks for a newer one. Default: 10 s
  absl::Duration snapshot_max_staleness = absl::Seconds(10);
};

// The domain's value fold and population evaluation, as the service (and its
// callers: the app, benchmarks, tests) name them.
using domain::BuildValueView;
using domain::ComputePopulation;
using domain::CustomerFactsRef;
using domain::CustomerValue;
using domain::DimensionValueOf;
using domain::EvolveValue;
using domain::FitClv;
using domain::FitInputsMoved;
using domain::LoyaltyToProto;
using domain::Population;
using domain::PopulationBuilder;
using domain::RfmValue;
using domain::TakesPart;
using domain::TierToProto;

// Finishes `builder` (PopulationBuilder::Finish) with `deadline` on the real
// clock (e.g. the gRPC call's): DEADLINE_EXCEEDED once it has passed, checked
// between steps and every few thousand customers.
absl::StatusOr<Population> FinishBefore(PopulationBuilder&& builder,
                                        const internal::ValueClvModel* model, absl::Time deadline);

}  // namespace custops::value

#endif  // CUSTOPS_VALUE_VALUE_ENGINE_H_

// Derived timelines (docs/review.md "Derived timelines"): what the domain
// rules make of a customer's stored review facts up to a horizon, as pieces
// (internal.ReviewDerived: kind, [from, to), value; to == 0 while open) that
// the review applier counts into slices and snapshot deltas. Pure functions of
// the stored customer and the rules: no store access, no clock. Each appends
// its pieces to `out` and lowers `next` to the first instant after the horizon
// at which its answer can change (kForever: none). Instants are int64
// microseconds since the Unix epoch, as internal/review_state.proto stores
// them.
//
//   std::vector<internal::ReviewDerived> pieces;
//   int64_t next = kForever;
//   LifecyclePieces(customer, horizon, rules.lifecycle, pieces, next);
//
// Also the other readings of the stored facts the applier hands to the
// domain: a complaint's steps and the customer's next contact due.
#ifndef CUSTOPS_DOMAIN_DERIVED_TIMELINES_H_
#define CUSTOPS_DOMAIN_DERIVED_TIMELINES_H_

#include <cstdint>
#include <limits>
#include <optional>
#include <vector>

#include "absl/time/time.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/lifecycle.h"
#include "custops/domain/value.h"
#include "custops/domain/worklist.h"
#include "custops/internal/review_state.pb.h"
#include "custops/v1/lifecycle_types.pb.h"

namespace custops::domain {

// Derived piece kinds (internal::ReviewDerived).
inline constexpr int kPieceLost = 'l';
inline constexpr int kPieceWinBack = 'w';
inline constexpr int kPieceCustomer = 'c';
inline constexpr int kPieceIntent = 'i';
inline constexpr int kPieceNegative = 'n';
inline constexpr int kPieceOverdue = 'o';

// "Never": no further change.
inline constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

// Lifecycle: losses, win-backs and the CUSTOMER / INTENT stage intervals of
// Classify's history at the horizon. Returns the stage at the horizon.
v1::LifecycleStage LifecyclePieces(const internal::ReviewCustomer& c, int64_t horizon,
                                   const LifecycleRules& rules,
                                   std::vector<internal::ReviewDerived>& out, int64_t& next);

// Negative asset (value rules): scored (a purchase at or before T) and
// margin - cost to serve over (T - value_window, T] below zero.
void NegativePieces(const internal::ReviewCustomer& c, int64_t horizon, absl::Duration value_window,
                    const CostToServeRules& cost, std::vector<internal::ReviewDerived>& out,
                    int64_t& next);

// Overdue receivables per contract: at T, max(0, amount - paid) of a
// contract not terminated at T with T > payment due (the worklist's
// PaymentOverdue at T), amounts and payments as known at T.
void OverduePieces(const internal::ReviewCustomer& c, int64_t horizon,
                   std::vector<internal::ReviewDerived>& out, int64_t& next);

// The complaint's steps as the SLA rules take them.
std::vector<ComplaintStepAt> StepsOf(const internal::ReviewComplaint& c);

// The customer's next contact due by the cadence rules, from the lifecycle
// stage at the last derivation (the open CUSTOMER or INTENT piece) and the
// last visit; nullopt when the stage has no cadence (PROSPECT / LOST).
std::optional<ContactDue> ContactDueOf(const internal::ReviewCustomer& c,
                                       const CadenceRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_DERIVED_TIMELINES_H_

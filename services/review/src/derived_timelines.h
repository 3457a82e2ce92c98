// The derived timelines as the review applier uses them: the pure rules are
// the domain's (custops/domain/derived_timelines.h, docs/review.md "Derived
// timelines"); this names them in custops::review and reads the negative-asset
// rules (value window, cost to serve) from ReviewRules.
#ifndef CUSTOPS_REVIEW_SRC_DERIVED_TIMELINES_H_
#define CUSTOPS_REVIEW_SRC_DERIVED_TIMELINES_H_

#include <cstdint>
#include <vector>

#include "custops/domain/derived_timelines.h"
#include "custops/internal/review_state.pb.h"
#include "custops/review/review_projection.h"

namespace custops::review {

using domain::ContactDueOf;
using domain::kForever;
using domain::kPieceCustomer;
using domain::kPieceIntent;
using domain::kPieceLost;
using domain::kPieceNegative;
using domain::kPieceOverdue;
using domain::kPieceWinBack;
using domain::LifecyclePieces;
using domain::OverduePieces;
using domain::StepsOf;

// domain::NegativePieces with the review's value window and cost-to-serve rules.
inline void NegativePieces(const internal::ReviewCustomer& c, int64_t horizon,
                           const ReviewRules& rules, std::vector<internal::ReviewDerived>& out,
                           int64_t& next) {
  domain::NegativePieces(c, horizon, rules.value_window, rules.cost, out, next);
}

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_DERIVED_TIMELINES_H_

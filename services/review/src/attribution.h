// Attribution (docs/review.md): the dimension values an event counts under.
// Customer-base figures (new, active, lost customers, complaints, surveys)
// count under the customer's profile at the event's time; deals and
// activities under the rep on the event (else the owner then) and the
// product; an opportunity's funnel steps under the dimensions it was opened
// with. DimKeys turns them into the dim|value\0 parts of slice, delta and
// rv_seen keys. Pure functions of the stored customer and opportunity.
//
//   const Dims d = DealDims(customer, t_micros, event.actor_id(), product);
//   for (const DimKey& k : DimKeys(d, rules.tier_dimension)) ...
#ifndef CUSTOPS_REVIEW_SRC_ATTRIBUTION_H_
#define CUSTOPS_REVIEW_SRC_ATTRIBUTION_H_

#include <cstdint>
#include <string>
#include <vector>

#include "custops/internal/review_state.pb.h"
#include "custops/v1/review.pb.h"

namespace custops::review {

// The dimension values an event counts under.
struct Dims {
  std::string region, industry, owner, channel, product;
  std::string customer;  // kDimensionCustomer (the tier dimension's source)
};

// The profile the customer had at `t` (the latest entry at or before t; the
// first one for an event before registration). Null when it has none; points
// into `c`.
const internal::ReviewProfileAt* ProfileAt(const internal::ReviewCustomer& c, int64_t t);

// Customer-base attribution: the customer's owner at t.
Dims BaseDims(const internal::ReviewCustomer& c, int64_t t);

// Deal and activity attribution: the rep on the event, else the owner then.
Dims DealDims(const internal::ReviewCustomer& c, int64_t t, const std::string& actor,
              const std::string& product);

// The dimensions an opportunity was attributed to when it became known.
Dims OpportunityDims(const internal::ReviewOpportunity& o);

// The dimension values of an event as slice-key parts (dim (BE32) | value \0).
struct DimKey {
  v1::Dimension dim;
  std::string token;
};
// DIMENSION_ALL and each non-empty value of `d`, in dimension order;
// `per_customer`: also the customer's own value (ReviewRules::tier_dimension).
std::vector<DimKey> DimKeys(const Dims& d, bool per_customer);

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_ATTRIBUTION_H_

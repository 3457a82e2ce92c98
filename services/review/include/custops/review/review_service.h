// The Review service: thin handlers over ReviewQueries, registered in the
// front door's method table (libs/rpc gateway.h). They honour consistency
// tokens (customer-event positions wait on the projection runtime, org-event
// positions on the org index; neither holds a thread), bounded by the call's
// deadline, and run on the worker pool. Worklist and CustomerActivity
// evaluate at `as_of` (default: the injected clock's now).
//
// Region scope (docs/security.md): a scoped caller reads GetReview / Funnel
// by DIMENSION_REGION for a region in its scope, and DIMENSION_ALL as the
// merge of its scope's regions (ReviewQueries' region merge; one region:
// that region's figures); other regions and other dimensions are
// PERMISSION_DENIED. Funnel by DIMENSION_REGION without a value lists the
// scope's regions only. Worklist by region likewise; by owner only without
// a scope. CompareReview by DIMENSION_REGION has the scope's rows only;
// by another dimension it is PERMISSION_DENIED. CustomerActivity of a
// customer whose current region is outside the scope is NOT_FOUND.
#ifndef CUSTOPS_REVIEW_REVIEW_SERVICE_H_
#define CUSTOPS_REVIEW_REVIEW_SERVICE_H_

#include <optional>
#include <string>
#include <vector>

#include "custops/base/clock.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/review.pb.h"

namespace custops::review {

class ReviewService {
 public:
  // All references must outlive the service; `org` may be null.
  ReviewService(const projection::ProjectionRuntime& runtime, const OrgIndex* org,
                const ReviewQueries& queries, const base::Clock& clock);

  // Adds custops.v1.Review's methods (reader role) to `table`.
  void Register(rpc::MethodTable& table);

 private:
  void AwaitToken(rpc::Call& call, const std::string& token, rpc::Done then);

  const projection::ProjectionRuntime& runtime_;
  const OrgIndex* org_;
  const ReviewQueries& queries_;
  const base::Clock& clock_;
};

// What a caller reads for (dimension, value).
struct ScopedRead {
  v1::Dimension dimension = v1::DIMENSION_UNSPECIFIED;
  std::string value;
  // Set: DIMENSION_ALL answered as the merge of these regions (the token's,
  // sorted, unique); pass to ReviewQueries::GetReview / Funnel.
  std::optional<std::vector<std::string>> regions;
};

// The read a caller may make for (dimension, value). Unscoped: unchanged, no
// merge. Region-scoped: REGION with a value in scope unchanged; ALL or
// UNSPECIFIED the merge of the scope's regions; anything else (another
// region, REGION without a value, another dimension) PERMISSION_DENIED.
absl::StatusOr<ScopedRead> ScopedSlice(const rpc::Identity& identity, v1::Dimension dimension,
                                       const std::string& value);

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_REVIEW_SERVICE_H_

// The Review gRPC service (DESIGN.md §5): thin handlers over ReviewQueries
// that honour consistency tokens (customer-event positions wait on the
// projection runtime, org-event positions on the org index), bounded by the
// call's deadline. Worklist evaluates at `as_of` (default: the injected
// clock's now).
#ifndef CUSTOPS_REVIEW_REVIEW_SERVICE_H_
#define CUSTOPS_REVIEW_REVIEW_SERVICE_H_

#include "custops/base/clock.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/v1/review.grpc.pb.h"

namespace custops::review {

class ReviewService final : public v1::Review::CallbackService {
 public:
  // All references must outlive the service; `org` may be null.
  ReviewService(const projection::ProjectionRuntime& runtime, const OrgIndex* org,
                const ReviewQueries& queries, const base::Clock& clock);

  grpc::ServerUnaryReactor* GetReview(grpc::CallbackServerContext* context,
                                      const v1::GetReviewRequest* request,
                                      v1::ReviewReport* response) override;
  grpc::ServerUnaryReactor* Funnel(grpc::CallbackServerContext* context,
                                   const v1::FunnelRequest* request,
                                   v1::FunnelResponse* response) override;
  grpc::ServerUnaryReactor* Worklist(grpc::CallbackServerContext* context,
                                     const v1::WorklistRequest* request,
                                     v1::WorklistResponse* response) override;

 private:
  absl::Status AwaitToken(const grpc::CallbackServerContext& context, const std::string& token);

  const projection::ProjectionRuntime& runtime_;
  const OrgIndex* org_;
  const ReviewQueries& queries_;
  const base::Clock& clock_;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_REVIEW_SERVICE_H_

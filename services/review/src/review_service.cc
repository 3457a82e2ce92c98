#include "custops/review/review_service.h"

#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"
#include "custops/rpc/status.h"

namespace custops::review {
namespace {

template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(rpc::ToGrpcStatus(result.status()));
  return reactor;
}

}  // namespace

ReviewService::ReviewService(const projection::ProjectionRuntime& runtime, const OrgIndex* org,
                             const ReviewQueries& queries, const base::Clock& clock)
    : runtime_(runtime), org_(org), queries_(queries), clock_(clock) {}

absl::Status ReviewService::AwaitToken(const grpc::CallbackServerContext& context,
                                       const std::string& token) {
  if (token.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(projection::PositionSet positions,
                   projection::DecodeToken(token, "consistency_token"));
  const absl::Time deadline = rpc::CallDeadline(context);
  if (positions.topic() == log::kOrgEvents) {
    if (org_ == nullptr) return absl::OkStatus();
    return org_->WaitApplied(positions, deadline);
  }
  RETURN_IF_ERROR(runtime_.WaitApplied(positions, deadline));
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* ReviewService::GetReview(grpc::CallbackServerContext* context,
                                                   const v1::GetReviewRequest* request,
                                                   v1::ReviewReport* response) {
  auto run = [&]() -> absl::StatusOr<v1::ReviewReport> {
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.GetReview(*request);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ReviewService::Funnel(grpc::CallbackServerContext* context,
                                                const v1::FunnelRequest* request,
                                                v1::FunnelResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::FunnelResponse> {
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.Funnel(*request);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ReviewService::Worklist(grpc::CallbackServerContext* context,
                                                  const v1::WorklistRequest* request,
                                                  v1::WorklistResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::WorklistResponse> {
    absl::Time as_of = clock_.Now();
    if (request->has_as_of()) {
      const auto& ts = request->as_of();
      if (ts.nanos() < 0 || ts.nanos() > 999'999'999 || ts.seconds() < -62135596800 ||
          ts.seconds() > 253402300799) {
        return absl::InvalidArgumentError("as_of: not a valid timestamp");
      }
      as_of = event::FromProto(ts);
    }
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.Worklist(*request, as_of);
  };
  return Reply(context, run(), response);
}

}  // namespace custops::review

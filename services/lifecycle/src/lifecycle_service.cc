#include "custops/lifecycle/lifecycle_service.h"

#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"
#include "custops/rpc/status.h"

namespace custops::lifecycle {
namespace {

template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(rpc::ToGrpcStatus(result.status()));
  return reactor;
}

absl::Status CheckId(const std::string& id, std::string_view field) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": required, 1-128 bytes"));
  }
  return absl::OkStatus();
}

absl::StatusOr<absl::Time> AsOf(const google::protobuf::Timestamp& ts, bool has,
                                const base::Clock& clock) {
  if (!has) return clock.Now();
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999 || ts.seconds() < -62135596800 ||
      ts.seconds() > 253402300799) {
    return absl::InvalidArgumentError("as_of: not a valid timestamp");
  }
  return event::FromProto(ts);
}

}  // namespace

LifecycleService::LifecycleService(const projection::ProjectionRuntime& runtime,
                                   const LifecycleQueries& queries, const base::Clock& clock)
    : runtime_(runtime), queries_(queries), clock_(clock) {}

absl::Status LifecycleService::AwaitToken(const grpc::CallbackServerContext& context,
                                          const std::string& token) {
  if (token.empty()) return absl::OkStatus();
  ASSIGN_OR_RETURN(projection::PositionSet positions,
                   projection::DecodeToken(token, "consistency_token"));
  return runtime_.WaitApplied(positions, rpc::CallDeadline(context));
}

grpc::ServerUnaryReactor* LifecycleService::GetCustomer(grpc::CallbackServerContext* context,
                                                        const v1::GetCustomerRequest* request,
                                                        v1::CustomerView* response) {
  auto run = [&]() -> absl::StatusOr<v1::CustomerView> {
    RETURN_IF_ERROR(CheckId(request->customer_id(), "customer_id"));
    ASSIGN_OR_RETURN(absl::Time as_of, AsOf(request->as_of(), request->has_as_of(), clock_));
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.GetCustomer(request->customer_id(), as_of);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* LifecycleService::ListCustomers(grpc::CallbackServerContext* context,
                                                          const v1::ListCustomersRequest* request,
                                                          v1::ListCustomersResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::ListCustomersResponse> {
    ASSIGN_OR_RETURN(absl::Time as_of, AsOf(request->as_of(), request->has_as_of(), clock_));
    const v1::CustomerFilter& f = request->filter();
    if (!v1::LifecycleStage_IsValid(f.stage())) {
      return absl::InvalidArgumentError("filter.stage: unknown value");
    }
    if (!v1::SubStage_IsValid(f.sub_stage())) {
      return absl::InvalidArgumentError("filter.sub_stage: unknown value");
    }
    if (!v1::CustomerKind_IsValid(f.kind())) {
      return absl::InvalidArgumentError("filter.kind: unknown value");
    }
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.ListCustomers(*request, as_of, /*use_index=*/!request->has_as_of());
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* LifecycleService::StageSummary(grpc::CallbackServerContext* context,
                                                         const v1::StageSummaryRequest* request,
                                                         v1::StageSummaryResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::StageSummaryResponse> {
    ASSIGN_OR_RETURN(absl::Time as_of, AsOf(request->as_of(), request->has_as_of(), clock_));
    if (!v1::Dimension_IsValid(request->dimension())) {
      return absl::InvalidArgumentError("dimension: unknown value");
    }
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.StageSummary(request->dimension(), as_of,
                                 /*use_index=*/!request->has_as_of());
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* LifecycleService::Timeline(grpc::CallbackServerContext* context,
                                                     const v1::TimelineRequest* request,
                                                     v1::TimelineResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::TimelineResponse> {
    RETURN_IF_ERROR(CheckId(request->customer_id(), "customer_id"));
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.Timeline(*request);
  };
  return Reply(context, run(), response);
}

}  // namespace custops::lifecycle

#include "custops/value/value_service.h"

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/projection/token.h"
#include "custops/rpc/status.h"

namespace custops::value {
namespace {

template <typename Response>
grpc::ServerUnaryReactor* Reply(grpc::CallbackServerContext* context,
                                absl::StatusOr<Response> result, Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  if (result.ok()) *response = std::move(*result);
  reactor->Finish(rpc::ToGrpcStatus(result.status()));
  return reactor;
}

absl::StatusOr<std::optional<absl::Time>> AsOf(const google::protobuf::Timestamp& ts, bool has) {
  if (!has) return std::nullopt;
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999 || ts.seconds() < -62135596800 ||
      ts.seconds() > 253402300799) {
    return absl::InvalidArgumentError("as_of: not a valid timestamp");
  }
  return event::FromProto(ts);
}

absl::Status CheckDimension(v1::Dimension d) {
  if (!v1::Dimension_IsValid(d)) return absl::InvalidArgumentError("dimension: unknown value");
  switch (d) {
    case v1::DIMENSION_UNSPECIFIED:
    case v1::DIMENSION_ALL:
    case v1::DIMENSION_REGION:
    case v1::DIMENSION_INDUSTRY:
    case v1::DIMENSION_OWNER:
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("dimension: ", v1::Dimension_Name(d),
                       " is not a value dimension (ALL, REGION, INDUSTRY, OWNER)"));
  }
}

}  // namespace

ValueService::ValueService(const projection::ProjectionRuntime& runtime, ValueQueries& queries,
                           const base::Clock& clock)
    : runtime_(runtime), queries_(queries), clock_(clock) {}

absl::StatusOr<std::vector<int64_t>> ValueService::AwaitToken(
    const grpc::CallbackServerContext& context, const std::string& token) {
  std::vector<int64_t> min;
  if (token.empty()) return min;
  ASSIGN_OR_RETURN(projection::PositionSet positions,
                   projection::DecodeToken(token, "consistency_token"));
  RETURN_IF_ERROR(runtime_.WaitApplied(positions, rpc::CallDeadline(context)));
  for (int64_t o : positions.next_offsets()) min.push_back(o);
  return min;
}

grpc::ServerUnaryReactor* ValueService::GetValue(grpc::CallbackServerContext* context,
                                                 const v1::GetValueRequest* request,
                                                 v1::ValueView* response) {
  auto run = [&]() -> absl::StatusOr<v1::ValueView> {
    const std::string& id = request->customer_id();
    if (id.empty() || id.size() > 128) {
      return absl::InvalidArgumentError("customer_id: required, 1-128 bytes");
    }
    ASSIGN_OR_RETURN(std::optional<absl::Time> as_of, AsOf(request->as_of(), request->has_as_of()));
    ASSIGN_OR_RETURN(std::vector<int64_t> min, AwaitToken(*context, request->consistency_token()));
    return queries_.GetValue(id, as_of, min, rpc::CallDeadline(*context));
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ValueService::ListCustomers(grpc::CallbackServerContext* context,
                                                      const v1::ListValueCustomersRequest* request,
                                                      v1::ListValueCustomersResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::ListValueCustomersResponse> {
    ASSIGN_OR_RETURN(std::optional<absl::Time> as_of, AsOf(request->as_of(), request->has_as_of()));
    const v1::ValueFilter& f = request->filter();
    if (!v1::Tier_IsValid(f.tier()))
      return absl::InvalidArgumentError("filter.tier: unknown value");
    const std::string& abc = f.abc_class();
    if (!abc.empty() && abc != "A" && abc != "B" && abc != "C") {
      return absl::InvalidArgumentError("filter.abc_class: must be \"A\", \"B\" or \"C\"");
    }
    if (!f.segment().empty()) {
      bool known = false;
      for (int s = 0; s <= static_cast<int>(domain::RfmSegment::kLost); ++s) {
        known |= domain::RfmSegmentName(static_cast<domain::RfmSegment>(s)) == f.segment();
      }
      if (!known) return absl::InvalidArgumentError("filter.segment: unknown segment");
    }
    ASSIGN_OR_RETURN(std::vector<int64_t> min, AwaitToken(*context, request->consistency_token()));
    return queries_.ListCustomers(*request, as_of, min, rpc::CallDeadline(*context));
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ValueService::TierSummary(grpc::CallbackServerContext* context,
                                                    const v1::TierSummaryRequest* request,
                                                    v1::TierSummaryResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::TierSummaryResponse> {
    ASSIGN_OR_RETURN(std::optional<absl::Time> as_of, AsOf(request->as_of(), request->has_as_of()));
    RETURN_IF_ERROR(CheckDimension(request->dimension()));
    ASSIGN_OR_RETURN(std::vector<int64_t> min, AwaitToken(*context, request->consistency_token()));
    return queries_.TierSummary(request->dimension(), as_of, min, rpc::CallDeadline(*context));
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ValueService::Pareto(grpc::CallbackServerContext* context,
                                               const v1::ParetoRequest* request,
                                               v1::ParetoResponse* response) {
  auto run = [&]() -> absl::StatusOr<v1::ParetoResponse> {
    ASSIGN_OR_RETURN(std::optional<absl::Time> as_of, AsOf(request->as_of(), request->has_as_of()));
    RETURN_IF_ERROR(CheckDimension(request->dimension()));
    ASSIGN_OR_RETURN(std::vector<int64_t> min, AwaitToken(*context, request->consistency_token()));
    return queries_.Pareto(request->dimension(), as_of, min, rpc::CallDeadline(*context));
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ValueService::RefitClv(grpc::CallbackServerContext* context,
                                                 const v1::RefitClvRequest* request,
                                                 v1::ClvModel* response) {
  auto run = [&]() -> absl::StatusOr<v1::ClvModel> {
    ASSIGN_OR_RETURN(std::optional<absl::Time> as_of, AsOf(request->as_of(), request->has_as_of()));
    ASSIGN_OR_RETURN(internal::ValueClvModel model, queries_.Refit(as_of.value_or(clock_.Now())));
    return ClvModelToProto(model);
  };
  return Reply(context, run(), response);
}

grpc::ServerUnaryReactor* ValueService::GetClvModel(grpc::CallbackServerContext* context,
                                                    const v1::RefitClvRequest* /*request*/,
                                                    v1::ClvModel* response) {
  auto run = [&]() -> absl::StatusOr<v1::ClvModel> {
    std::optional<internal::ValueClvModel> model = queries_.Model();
    if (!model) return absl::FailedPreconditionError("no CLV model fitted yet");
    return ClvModelToProto(*model);
  };
  return Reply(context, run(), response);
}

}  // namespace custops::value

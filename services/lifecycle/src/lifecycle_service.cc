#include "custops/lifecycle/lifecycle_service.h"

#include <utility>

#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/log/partitioner.h"
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

absl::Status FromGrpc(const grpc::Status& s, const std::string& address) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()),
                      absl::StrCat(s.error_message(), " (from ", address, ")"));
}

}  // namespace

LifecycleService::LifecycleService(const projection::ProjectionRuntime& runtime,
                                   const LifecycleQueries& queries, const base::Clock& clock,
                                   Routing routing)
    : runtime_(runtime), queries_(queries), clock_(clock), routing_(std::move(routing)) {}

absl::StatusOr<std::string> LifecycleService::OwnerOf(Partition p) {
  ASSIGN_OR_RETURN(std::vector<std::string> owners, routing_.owners->Owners());
  if (p.value() >= static_cast<int>(owners.size()) || owners[p.value()].empty()) {
    routing_.owners->Invalidate();
    return absl::UnavailableError(absl::StrCat("partition ", p.value(), " has no owner yet"));
  }
  return owners[p.value()];
}

absl::StatusOr<std::map<std::string, std::vector<Partition>>> LifecycleService::OwnersOfAll() {
  std::map<std::string, std::vector<Partition>> by_owner;
  for (int i = 0; i < runtime_.partitions(); ++i) {
    ASSIGN_OR_RETURN(std::string owner, OwnerOf(Partition(i)));
    by_owner[owner].push_back(Partition(i));
  }
  return by_owner;
}

absl::StatusOr<std::vector<Partition>> LifecycleService::ServedPartitions(
    const grpc::CallbackServerContext& context) {
  ASSIGN_OR_RETURN(std::optional<std::vector<Partition>> named,
                   rpc::ForwardedPartitions(context, runtime_.partitions()));
  std::vector<Partition> partitions;
  if (named.has_value()) {
    partitions = std::move(*named);
  } else {
    for (int i = 0; i < runtime_.partitions(); ++i) partitions.push_back(Partition(i));
  }
  for (Partition p : partitions) RETURN_IF_ERROR(runtime_.CheckServing(p));
  return partitions;
}

template <typename Response, typename Call>
absl::StatusOr<Response> LifecycleService::Forward(const grpc::CallbackServerContext& context,
                                                   const std::string& address,
                                                   const std::vector<Partition>& partitions,
                                                   Call call) {
  grpc::ClientContext client_context;
  rpc::MarkForwarded(client_context, partitions, rpc::CallDeadline(context));
  std::unique_ptr<v1::Lifecycle::Stub> stub =
      v1::Lifecycle::NewStub(routing_.channels->Get(address));
  Response response;
  const grpc::Status status = call(*stub, &client_context, &response);
  if (!status.ok()) {
    // The owner is gone or no longer owns it: ask the group again next time.
    if (status.error_code() == grpc::StatusCode::UNAVAILABLE) routing_.owners->Invalidate();
    return FromGrpc(status, address);
  }
  return response;
}

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
    if (routing_.owners != nullptr) {
      const Partition p = log::PartitionForKey(request->customer_id(), runtime_.partitions());
      if (!rpc::IsForwarded(*context)) {
        ASSIGN_OR_RETURN(std::string owner, OwnerOf(p));
        if (owner != routing_.self) {
          return Forward<v1::CustomerView>(
              *context, owner, {}, [&](v1::Lifecycle::Stub& stub, grpc::ClientContext* c, auto* r) {
                return stub.GetCustomer(c, *request, r);
              });
        }
      }
      RETURN_IF_ERROR(runtime_.CheckServing(p));
    }
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
    if (routing_.owners != nullptr) {
      if (rpc::IsForwarded(*context)) {
        ASSIGN_OR_RETURN(std::vector<Partition> served, ServedPartitions(*context));
        RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
        return queries_.ListCustomers(*request, as_of, !request->has_as_of(), &served);
      }
      ASSIGN_OR_RETURN(auto by_owner, OwnersOfAll());
      std::vector<v1::ListCustomersResponse> parts;
      for (const auto& [owner, partitions] : by_owner) {
        if (owner == routing_.self) {
          for (Partition p : partitions) RETURN_IF_ERROR(runtime_.CheckServing(p));
          RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
          ASSIGN_OR_RETURN(
              parts.emplace_back(),
              queries_.ListCustomers(*request, as_of, !request->has_as_of(), &partitions));
        } else {
          ASSIGN_OR_RETURN(parts.emplace_back(),
                           Forward<v1::ListCustomersResponse>(
                               *context, owner, partitions,
                               [&](v1::Lifecycle::Stub& stub, grpc::ClientContext* c, auto* r) {
                                 return stub.ListCustomers(c, *request, r);
                               }));
        }
      }
      return MergeCustomerLists(*request, std::move(parts));
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
    if (routing_.owners != nullptr) {
      if (rpc::IsForwarded(*context)) {
        ASSIGN_OR_RETURN(std::vector<Partition> served, ServedPartitions(*context));
        RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
        return queries_.StageSummary(request->dimension(), as_of, !request->has_as_of(), &served);
      }
      ASSIGN_OR_RETURN(auto by_owner, OwnersOfAll());
      std::vector<v1::StageSummaryResponse> parts;
      for (const auto& [owner, partitions] : by_owner) {
        if (owner == routing_.self) {
          for (Partition p : partitions) RETURN_IF_ERROR(runtime_.CheckServing(p));
          RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
          ASSIGN_OR_RETURN(parts.emplace_back(),
                           queries_.StageSummary(request->dimension(), as_of, !request->has_as_of(),
                                                 &partitions));
        } else {
          ASSIGN_OR_RETURN(parts.emplace_back(),
                           Forward<v1::StageSummaryResponse>(
                               *context, owner, partitions,
                               [&](v1::Lifecycle::Stub& stub, grpc::ClientContext* c, auto* r) {
                                 return stub.StageSummary(c, *request, r);
                               }));
        }
      }
      return MergeStageSummaries(std::move(parts));
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
    if (routing_.owners != nullptr) {
      const Partition p = log::PartitionForKey(request->customer_id(), runtime_.partitions());
      if (!rpc::IsForwarded(*context)) {
        ASSIGN_OR_RETURN(std::string owner, OwnerOf(p));
        if (owner != routing_.self) {
          return Forward<v1::TimelineResponse>(
              *context, owner, {}, [&](v1::Lifecycle::Stub& stub, grpc::ClientContext* c, auto* r) {
                return stub.Timeline(c, *request, r);
              });
        }
      }
      RETURN_IF_ERROR(runtime_.CheckServing(p));
    }
    RETURN_IF_ERROR(AwaitToken(*context, request->consistency_token()));
    return queries_.Timeline(*request);
  };
  return Reply(context, run(), response);
}

}  // namespace custops::lifecycle

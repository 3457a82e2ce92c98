#include "custops/lifecycle/lifecycle_service.h"

#include <memory>
#include <utility>

#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/log/partitioner.h"
#include "custops/projection/token.h"

namespace custops::lifecycle {
namespace {

absl::Status CheckId(const std::string& id, std::string_view field) {
  if (id.empty() || id.size() > 128) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": required, 1-128 bytes"));
  }
  return absl::OkStatus();
}

const std::vector<std::string>* Scope(const rpc::Call& call) {
  const auto& regions = call.identity().regions;
  return regions ? &*regions : nullptr;
}

}  // namespace

LifecycleService::LifecycleService(const projection::ProjectionRuntime& runtime,
                                   const LifecycleQueries& queries, const base::Clock& clock,
                                   Routing routing)
    : runtime_(runtime), queries_(queries), clock_(clock), routing_(std::move(routing)) {}

void LifecycleService::Register(rpc::MethodTable& table) {
  table.Unary<v1::GetCustomerRequest, v1::CustomerView>(
      "custops.v1.Lifecycle/GetCustomer", rpc::Access::kReader,
      [this](rpc::Call& c, const auto& r, auto* out, rpc::Done d) {
        GetCustomer(c, r, out, std::move(d));
      });
  table.Unary<v1::ListCustomersRequest, v1::ListCustomersResponse>(
      "custops.v1.Lifecycle/ListCustomers", rpc::Access::kReader,
      [this](rpc::Call& c, const auto& r, auto* out, rpc::Done d) {
        ListCustomers(c, r, out, std::move(d));
      });
  table.Unary<v1::StageSummaryRequest, v1::StageSummaryResponse>(
      "custops.v1.Lifecycle/StageSummary", rpc::Access::kReader,
      [this](rpc::Call& c, const auto& r, auto* out, rpc::Done d) {
        StageSummary(c, r, out, std::move(d));
      });
  table.Unary<v1::TimelineRequest, v1::TimelineResponse>(
      "custops.v1.Lifecycle/Timeline", rpc::Access::kReader,
      [this](rpc::Call& c, const auto& r, auto* out, rpc::Done d) {
        Timeline(c, r, out, std::move(d));
      });
}

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

absl::StatusOr<std::vector<Partition>> LifecycleService::ServedPartitions(const rpc::Call& call) {
  ASSIGN_OR_RETURN(std::optional<std::vector<Partition>> named,
                   rpc::ForwardedPartitions(call, runtime_.partitions()));
  std::vector<Partition> partitions;
  if (named.has_value()) {
    partitions = std::move(*named);
  } else {
    for (int i = 0; i < runtime_.partitions(); ++i) partitions.push_back(Partition(i));
  }
  for (Partition p : partitions) RETURN_IF_ERROR(runtime_.CheckServing(p));
  return partitions;
}

void LifecycleService::AwaitToken(rpc::Call& call, const std::string& token, rpc::Done then) {
  if (token.empty()) return std::move(then)(absl::OkStatus());
  absl::StatusOr<projection::PositionSet> positions =
      projection::DecodeToken(token, "consistency_token");
  if (!positions.ok()) return std::move(then)(positions.status());
  if (absl::Status s = call.AdmitWait(); !s.ok()) return std::move(then)(s);
  runtime_.NotifyApplied(*positions, call.deadline(), std::move(then));
}

template <typename Response>
bool LifecycleService::ForwardKey(rpc::Call& call, const std::string& customer_id,
                                  Response* response, rpc::Done& done) {
  if (routing_.owners == nullptr) return false;
  const Partition p = log::PartitionForKey(customer_id, runtime_.partitions());
  if (!call.forwarded()) {
    absl::StatusOr<std::string> owner = OwnerOf(p);
    if (!owner.ok()) {
      std::move(done)(owner.status());
      return true;
    }
    if (*owner != routing_.self) {
      rpc::Forward<Response>(
          *routing_.channels, call, *owner, {},
          [this, response, done = std::move(done)](absl::StatusOr<Response> r) mutable {
            if (!r.ok()) {
              // The owner is gone or no longer owns it: ask again next time.
              if (r.status().code() == absl::StatusCode::kUnavailable) {
                routing_.owners->Invalidate();
              }
              return std::move(done)(r.status());
            }
            *response = std::move(*r);
            std::move(done)(absl::OkStatus());
          });
      return true;
    }
  }
  if (absl::Status s = runtime_.CheckServing(p); !s.ok()) {
    std::move(done)(s);
    return true;
  }
  return false;
}

template <typename Response, typename Local, typename Merge>
void LifecycleService::Scatter(rpc::Call& call, const std::string& token, Response* response,
                               rpc::Done done, Local local, Merge merge) {
  auto answer_local = [this, &call, token, response, local](std::vector<Partition> partitions,
                                                            rpc::Done then) mutable {
    rpc::AnswerAfter<Response>(
        call, [this, &call, token](rpc::Done d) { AwaitToken(call, token, std::move(d)); },
        [local, partitions = std::move(partitions)]() mutable { return local(&partitions); },
        response, std::move(then));
  };
  if (routing_.owners == nullptr) {
    rpc::AnswerAfter<Response>(
        call, [this, &call, token](rpc::Done d) { AwaitToken(call, token, std::move(d)); },
        [local]() mutable { return local(nullptr); }, response, std::move(done));
    return;
  }
  if (call.forwarded()) {
    absl::StatusOr<std::vector<Partition>> served = ServedPartitions(call);
    if (!served.ok()) return std::move(done)(served.status());
    answer_local(std::move(*served), std::move(done));
    return;
  }
  absl::StatusOr<std::map<std::string, std::vector<Partition>>> by_owner = OwnersOfAll();
  if (!by_owner.ok()) return std::move(done)(by_owner.status());
  // Every part answers into its slot; the last one merges.
  struct Join {
    absl::Mutex mu;
    std::vector<Response> parts;
    absl::Status error;
    int left = 0;
    rpc::Done done;
  };
  auto join = std::make_shared<Join>();
  join->parts.resize(by_owner->size());
  join->left = static_cast<int>(by_owner->size());
  join->done = std::move(done);
  auto finish_part = [this, join, response, merge](absl::Status s) mutable {
    {
      absl::MutexLock lock(&join->mu);
      if (!s.ok() && join->error.ok()) join->error = s;
      if (--join->left > 0) return;
    }
    if (!join->error.ok()) {
      if (join->error.code() == absl::StatusCode::kUnavailable) routing_.owners->Invalidate();
      return std::move(join->done)(join->error);
    }
    absl::StatusOr<Response> merged = merge(std::move(join->parts));
    if (merged.ok()) *response = std::move(*merged);
    std::move(join->done)(merged.status());
  };
  int slot = 0;
  for (const auto& [owner, partitions] : *by_owner) {
    Response* part = &join->parts[slot++];
    if (owner == routing_.self) {
      absl::Status serving = absl::OkStatus();
      for (Partition p : partitions) {
        if (serving.ok()) serving = runtime_.CheckServing(p);
      }
      if (!serving.ok()) {
        finish_part(serving);
        continue;
      }
      rpc::AnswerAfter<Response>(
          call, [this, &call, token](rpc::Done d) { AwaitToken(call, token, std::move(d)); },
          [local, partitions]() mutable { return local(&partitions); }, part, finish_part);
    } else {
      rpc::Forward<Response>(*routing_.channels, call, owner, partitions,
                             [part, finish_part](absl::StatusOr<Response> r) mutable {
                               if (r.ok()) *part = std::move(*r);
                               finish_part(r.status());
                             });
    }
  }
}

void LifecycleService::GetCustomer(rpc::Call& call, const v1::GetCustomerRequest& request,
                                   v1::CustomerView* response, rpc::Done done) {
  if (absl::Status s = CheckId(request.customer_id(), "customer_id"); !s.ok()) {
    return std::move(done)(s);
  }
  absl::StatusOr<absl::Time> as_of =
      event::TimeOf(request.has_as_of(), request.as_of(), "as_of", clock_.Now());
  if (!as_of.ok()) return std::move(done)(as_of.status());
  if (ForwardKey(call, request.customer_id(), response, done)) return;
  rpc::AnswerAfter<v1::CustomerView>(
      call,
      [this, &call, &request](rpc::Done d) {
        AwaitToken(call, request.consistency_token(), std::move(d));
      },
      [this, &call, &request, as_of = *as_of]() -> absl::StatusOr<v1::CustomerView> {
        RETURN_IF_ERROR(queries_.CheckScope(request.customer_id(), Scope(call)));
        return queries_.GetCustomer(request.customer_id(), as_of);
      },
      response, std::move(done));
}

void LifecycleService::ListCustomers(rpc::Call& call, const v1::ListCustomersRequest& request,
                                     v1::ListCustomersResponse* response, rpc::Done done) {
  auto check = [&]() -> absl::StatusOr<absl::Time> {
    ASSIGN_OR_RETURN(absl::Time as_of,
                     event::TimeOf(request.has_as_of(), request.as_of(), "as_of", clock_.Now()));
    const v1::CustomerFilter& f = request.filter();
    if (!v1::LifecycleStage_IsValid(f.stage())) {
      return absl::InvalidArgumentError("filter.stage: unknown value");
    }
    if (!v1::SubStage_IsValid(f.sub_stage())) {
      return absl::InvalidArgumentError("filter.sub_stage: unknown value");
    }
    if (!v1::CustomerKind_IsValid(f.kind())) {
      return absl::InvalidArgumentError("filter.kind: unknown value");
    }
    return as_of;
  };
  absl::StatusOr<absl::Time> as_of = check();
  if (!as_of.ok()) return std::move(done)(as_of.status());
  Scatter(
      call, request.consistency_token(), response, std::move(done),
      [this, &call, &request, as_of = *as_of](const std::vector<Partition>* partitions) {
        return queries_.ListCustomers(request, as_of, !request.has_as_of(), partitions,
                                      Scope(call));
      },
      [&request](std::vector<v1::ListCustomersResponse> parts) {
        return MergeCustomerLists(request, std::move(parts));
      });
}

void LifecycleService::StageSummary(rpc::Call& call, const v1::StageSummaryRequest& request,
                                    v1::StageSummaryResponse* response, rpc::Done done) {
  absl::StatusOr<absl::Time> as_of =
      event::TimeOf(request.has_as_of(), request.as_of(), "as_of", clock_.Now());
  if (!as_of.ok()) return std::move(done)(as_of.status());
  if (!v1::Dimension_IsValid(request.dimension())) {
    return std::move(done)(absl::InvalidArgumentError("dimension: unknown value"));
  }
  Scatter(
      call, request.consistency_token(), response, std::move(done),
      [this, &call, &request, as_of = *as_of](const std::vector<Partition>* partitions) {
        return queries_.StageSummary(request.dimension(), as_of, !request.has_as_of(), partitions,
                                     Scope(call));
      },
      [](std::vector<v1::StageSummaryResponse> parts) -> absl::StatusOr<v1::StageSummaryResponse> {
        return MergeStageSummaries(std::move(parts));
      });
}

void LifecycleService::Timeline(rpc::Call& call, const v1::TimelineRequest& request,
                                v1::TimelineResponse* response, rpc::Done done) {
  if (absl::Status s = CheckId(request.customer_id(), "customer_id"); !s.ok()) {
    return std::move(done)(s);
  }
  if (ForwardKey(call, request.customer_id(), response, done)) return;
  rpc::AnswerAfter<v1::TimelineResponse>(
      call,
      [this, &call, &request](rpc::Done d) {
        AwaitToken(call, request.consistency_token(), std::move(d));
      },
      [this, &call, &request]() -> absl::StatusOr<v1::TimelineResponse> {
        RETURN_IF_ERROR(queries_.CheckScope(request.customer_id(), Scope(call)));
        return queries_.Timeline(request);
      },
      response, std::move(done));
}

}  // namespace custops::lifecycle

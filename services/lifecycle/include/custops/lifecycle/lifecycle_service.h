// The Lifecycle gRPC service: thin handlers over LifecycleQueries that honour
// consistency tokens (wait until the write is applied, bounded by the call's
// deadline) and evaluate time-driven rules at `as_of` (default: the injected
// clock's now).
//
// Routed mode (several instances share the partitions, docs/kafka.md): with
// Routing set, a query about one customer is answered here when this
// instance owns the customer's partition and forwarded over gRPC to the
// owner otherwise; summaries and lists are scattered to the owners of every
// partition and merged (the same bytes one instance owning everything would
// answer). UNAVAILABLE while a partition has no owner or is restoring.
#ifndef CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_
#define CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

#include <map>
#include <string>
#include <vector>

#include "custops/base/clock.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/projection/runtime.h"
#include "custops/rpc/routing.h"
#include "custops/v1/lifecycle.grpc.pb.h"

namespace custops::lifecycle {

// Where partitions are served when instances share them.
struct Routing {
  // Partition -> owner address. nullptr: this instance serves everything.
  rpc::OwnerDirectory* owners = nullptr;
  // Channels to the owners; required with `owners`.
  rpc::ChannelCache* channels = nullptr;
  // This instance's advertised address (as the owners map names it).
  std::string self;
};

class LifecycleService final : public v1::Lifecycle::CallbackService {
 public:
  // All references (and the routing's pointers) must outlive the service.
  LifecycleService(const projection::ProjectionRuntime& runtime, const LifecycleQueries& queries,
                   const base::Clock& clock, Routing routing = {});

  grpc::ServerUnaryReactor* GetCustomer(grpc::CallbackServerContext* context,
                                        const v1::GetCustomerRequest* request,
                                        v1::CustomerView* response) override;
  grpc::ServerUnaryReactor* ListCustomers(grpc::CallbackServerContext* context,
                                          const v1::ListCustomersRequest* request,
                                          v1::ListCustomersResponse* response) override;
  grpc::ServerUnaryReactor* StageSummary(grpc::CallbackServerContext* context,
                                         const v1::StageSummaryRequest* request,
                                         v1::StageSummaryResponse* response) override;
  grpc::ServerUnaryReactor* Timeline(grpc::CallbackServerContext* context,
                                     const v1::TimelineRequest* request,
                                     v1::TimelineResponse* response) override;

 private:
  // Waits for `token` (if any) within the call's deadline.
  absl::Status AwaitToken(const grpc::CallbackServerContext& context, const std::string& token);
  // Routed mode: the owner of `p`, UNAVAILABLE when none.
  absl::StatusOr<std::string> OwnerOf(Partition p);
  // Routed mode: owner address -> its partitions, over every partition.
  absl::StatusOr<std::map<std::string, std::vector<Partition>>> OwnersOfAll();
  // Routed mode: the partitions a forwarded scatter call is about, each
  // checked to be served here.
  absl::StatusOr<std::vector<Partition>> ServedPartitions(
      const grpc::CallbackServerContext& context);
  // Calls `call` on the owner at `address`, marked forwarded.
  template <typename Response, typename Call>
  absl::StatusOr<Response> Forward(const grpc::CallbackServerContext& context,
                                   const std::string& address,
                                   const std::vector<Partition>& partitions, Call call);

  const projection::ProjectionRuntime& runtime_;
  const LifecycleQueries& queries_;
  const base::Clock& clock_;
  Routing routing_;
};

}  // namespace custops::lifecycle

#endif  // CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

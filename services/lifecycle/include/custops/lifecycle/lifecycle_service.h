// The Lifecycle service: thin handlers over LifecycleQueries, registered in
// the front door's method table (libs/rpc gateway.h). They honour
// consistency tokens (wait without a thread until the write is applied,
// bounded by the call's deadline), evaluate time-driven rules at `as_of`
// (default: the injected clock's now) and the caller's region scope
// (docs/security.md: another region's customer is NOT_FOUND; lists and
// summaries hold only the scope's customers).
//
// Routed mode (several instances share the partitions, docs/kafka.md): with
// Routing set, a query about one customer is answered here when this
// instance owns the customer's partition and forwarded over gRPC to the
// owner otherwise (with the caller's token); summaries and lists are
// scattered to the owners of every partition and merged (the same bytes one
// instance owning everything would answer). UNAVAILABLE while a partition
// has no owner or is restoring. Forwards hold no thread.
#ifndef CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_
#define CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

#include <map>
#include <string>
#include <vector>

#include "custops/base/clock.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/projection/runtime.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/routing.h"
#include "custops/v1/lifecycle.pb.h"

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

class LifecycleService {
 public:
  // All references (and the routing's pointers) must outlive the service.
  LifecycleService(const projection::ProjectionRuntime& runtime, const LifecycleQueries& queries,
                   const base::Clock& clock, Routing routing = {});

  // Adds custops.v1.Lifecycle's methods (reader role) to `table`.
  void Register(rpc::MethodTable& table);

  void GetCustomer(rpc::Call& call, const v1::GetCustomerRequest& request,
                   v1::CustomerView* response, rpc::Done done);
  void ListCustomers(rpc::Call& call, const v1::ListCustomersRequest& request,
                     v1::ListCustomersResponse* response, rpc::Done done);
  void StageSummary(rpc::Call& call, const v1::StageSummaryRequest& request,
                    v1::StageSummaryResponse* response, rpc::Done done);
  void Timeline(rpc::Call& call, const v1::TimelineRequest& request, v1::TimelineResponse* response,
                rpc::Done done);

 private:
  // Waits for `token` (if any) within the call's deadline, then `then`.
  void AwaitToken(rpc::Call& call, const std::string& token, rpc::Done then);
  // Routed mode: the owner of `p`, UNAVAILABLE when none.
  absl::StatusOr<std::string> OwnerOf(Partition p);
  // Routed mode: owner address -> its partitions, over every partition.
  absl::StatusOr<std::map<std::string, std::vector<Partition>>> OwnersOfAll();
  // Routed mode: the partitions a forwarded scatter call is about, each
  // checked to be served here.
  absl::StatusOr<std::vector<Partition>> ServedPartitions(const rpc::Call& call);
  // One-customer calls: forwards to the owner when routed and not ours;
  // true when forwarded (the answer goes to `done`).
  template <typename Response>
  bool ForwardKey(rpc::Call& call, const std::string& customer_id, Response* response,
                  rpc::Done& done);
  // Scatter calls: answers over the local partitions with `local`, or
  // scatters to every owner and merges with `merge`.
  template <typename Response, typename Local, typename Merge>
  void Scatter(rpc::Call& call, const std::string& token, Response* response, rpc::Done done,
               Local local, Merge merge);

  const projection::ProjectionRuntime& runtime_;
  const LifecycleQueries& queries_;
  const base::Clock& clock_;
  Routing routing_;
};

}  // namespace custops::lifecycle

#endif  // CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

// The Lifecycle gRPC service: thin handlers over LifecycleQueries that honour
// consistency tokens (wait until the write is applied, bounded by the call's
// deadline) and evaluate time-driven rules at `as_of` (default: the injected
// clock's now).
#ifndef CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_
#define CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

#include "custops/base/clock.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/projection/runtime.h"
#include "custops/v1/lifecycle.grpc.pb.h"

namespace custops::lifecycle {

class LifecycleService final : public v1::Lifecycle::CallbackService {
 public:
  // All references must outlive the service.
  LifecycleService(const projection::ProjectionRuntime& runtime, const LifecycleQueries& queries,
                   const base::Clock& clock);

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

  const projection::ProjectionRuntime& runtime_;
  const LifecycleQueries& queries_;
  const base::Clock& clock_;
};

}  // namespace custops::lifecycle

#endif  // CUSTOPS_LIFECYCLE_LIFECYCLE_SERVICE_H_

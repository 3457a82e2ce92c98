// The Value gRPC service: thin handlers over ValueQueries that honour
// consistency tokens (wait until the write is applied and answer from a
// population snapshot that covers it, bounded by the call's deadline) and
// evaluate at `as_of` (exact, computed for that instant) or now (the
// snapshot, see docs/value.md).
#ifndef CUSTOPS_VALUE_VALUE_SERVICE_H_
#define CUSTOPS_VALUE_VALUE_SERVICE_H_

#include "custops/base/clock.h"
#include "custops/projection/runtime.h"
#include "custops/v1/value.grpc.pb.h"
#include "custops/value/value_projection.h"

namespace custops::value {

class ValueService final : public v1::Value::CallbackService {
 public:
  // All references must outlive the service.
  ValueService(const projection::ProjectionRuntime& runtime, ValueQueries& queries,
               const base::Clock& clock);

  grpc::ServerUnaryReactor* GetValue(grpc::CallbackServerContext* context,
                                     const v1::GetValueRequest* request,
                                     v1::ValueView* response) override;
  grpc::ServerUnaryReactor* ListCustomers(grpc::CallbackServerContext* context,
                                          const v1::ListValueCustomersRequest* request,
                                          v1::ListValueCustomersResponse* response) override;
  grpc::ServerUnaryReactor* TierSummary(grpc::CallbackServerContext* context,
                                        const v1::TierSummaryRequest* request,
                                        v1::TierSummaryResponse* response) override;
  grpc::ServerUnaryReactor* Pareto(grpc::CallbackServerContext* context,
                                   const v1::ParetoRequest* request,
                                   v1::ParetoResponse* response) override;
  grpc::ServerUnaryReactor* RefitClv(grpc::CallbackServerContext* context,
                                     const v1::RefitClvRequest* request,
                                     v1::ClvModel* response) override;
  grpc::ServerUnaryReactor* GetClvModel(grpc::CallbackServerContext* context,
                                        const v1::RefitClvRequest* request,
                                        v1::ClvModel* response) override;

 private:
  // Waits for `token` (if any) within the call's deadline; returns the
  // positions a "now" answer must cover.
  absl::StatusOr<std::vector<int64_t>> AwaitToken(const grpc::CallbackServerContext& context,
                                                  const std::string& token);

  const projection::ProjectionRuntime& runtime_;
  ValueQueries& queries_;
  const base::Clock& clock_;
};

}  // namespace custops::value

#endif  // CUSTOPS_VALUE_VALUE_SERVICE_H_

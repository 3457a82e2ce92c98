// The `Complaints` command service (DESIGN.md §5): complaints from filing to resolution.
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_
#define CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "custops/command/command_core.h"
#include "custops/v1/commands.grpc.pb.h"

namespace custops::complaints {

// The `source` of the events this service emits.
inline constexpr char kSource[] = "complaints";

class ComplaintsService final : public v1::Complaints::CallbackService {
 public:
  // `core` must outlive the service.
  explicit ComplaintsService(command::CommandCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* FileComplaint(grpc::CallbackServerContext* context,
                                          const v1::FileComplaintRequest* request,
                                          v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* RespondComplaint(grpc::CallbackServerContext* context,
                                             const v1::RespondComplaintRequest* request,
                                             v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* ResolveComplaint(grpc::CallbackServerContext* context,
                                             const v1::ResolveComplaintRequest* request,
                                             v1::CommandResponse* response) override;
  grpc::ServerUnaryReactor* ReopenComplaint(grpc::CallbackServerContext* context,
                                            const v1::ReopenComplaintRequest* request,
                                            v1::CommandResponse* response) override;

 private:
  command::CommandCore& core_;
};

}  // namespace custops::complaints

#endif  // CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_

// The `Visits` command service (DESIGN.md §5): logging visits and calls (拜访).
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_VISITS_VISITS_SERVICE_H_
#define CUSTOPS_VISITS_VISITS_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "custops/command/command_core.h"
#include "custops/v1/commands.grpc.pb.h"

namespace custops::visits {

// The `source` of the events this service emits.
inline constexpr char kSource[] = "visits";

class VisitsService final : public v1::Visits::CallbackService {
 public:
  // `core` must outlive the service.
  explicit VisitsService(command::CommandCore& core) : core_(core) {}

  grpc::ServerUnaryReactor* LogVisit(grpc::CallbackServerContext* context,
                                     const v1::LogVisitRequest* request,
                                     v1::CommandResponse* response) override;

 private:
  command::CommandCore& core_;
};

}  // namespace custops::visits

#endif  // CUSTOPS_VISITS_VISITS_SERVICE_H_

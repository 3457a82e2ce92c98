// The `Complaints` command service: complaints from filing to resolution.
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_
#define CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_

#include "custops/command/command_core.h"
#include "custops/rpc/gateway.h"

namespace custops::complaints {

inline constexpr char kSource[] = "complaints";

// custops.v1.Complaints: one business action per method (emitter role).
class ComplaintsService {
 public:
  // `core` must outlive the service.
  explicit ComplaintsService(command::CommandCore& core) : core_(core) {}

  // Adds custops.v1.Complaints's methods to `table`.
  void Register(rpc::MethodTable& table);

 private:
  command::CommandCore& core_;
};

}  // namespace custops::complaints

#endif  // CUSTOPS_COMPLAINTS_COMPLAINTS_SERVICE_H_

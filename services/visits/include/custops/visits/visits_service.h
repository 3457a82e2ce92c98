// The `Visits` command service: logging visits and calls (拜访).
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_VISITS_VISITS_SERVICE_H_
#define CUSTOPS_VISITS_VISITS_SERVICE_H_

#include "custops/command/command_core.h"
#include "custops/rpc/gateway.h"

namespace custops::visits {

inline constexpr char kSource[] = "visits";

// custops.v1.Visits: one business action per method (emitter role).
class VisitsService {
 public:
  // `core` must outlive the service.
  explicit VisitsService(command::CommandCore& core) : core_(core) {}

  // Adds custops.v1.Visits's methods to `table`.
  void Register(rpc::MethodTable& table);

 private:
  command::CommandCore& core_;
};

}  // namespace custops::visits

#endif  // CUSTOPS_VISITS_VISITS_SERVICE_H_

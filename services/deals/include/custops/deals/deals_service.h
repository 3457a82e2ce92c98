// The `Deals` command service: opportunities, quotes, contracts and payments.
// Each RPC maps its request to a domain command and runs it through the
// shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_DEALS_DEALS_SERVICE_H_
#define CUSTOPS_DEALS_DEALS_SERVICE_H_

#include "custops/command/command_core.h"
#include "custops/rpc/gateway.h"

namespace custops::deals {

inline constexpr char kSource[] = "deals";

// custops.v1.Deals: one business action per method (emitter role).
class DealsService {
 public:
  // `core` must outlive the service.
  explicit DealsService(command::CommandCore& core) : core_(core) {}

  // Adds custops.v1.Deals's methods to `table`.
  void Register(rpc::MethodTable& table);

 private:
  command::CommandCore& core_;
};

}  // namespace custops::deals

#endif  // CUSTOPS_DEALS_DEALS_SERVICE_H_

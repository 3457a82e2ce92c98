// The `Customers` command service: registering customers and keeping their profile,
// contacts, surveys, referrals and losses. Each RPC maps its request to a domain command and runs
// it through the shared CommandCore (docs/commands.md); the rules are libs/domain's.
#ifndef CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_
#define CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_

#include "custops/command/command_core.h"
#include "custops/rpc/gateway.h"

namespace custops::customers {

inline constexpr char kSource[] = "customers";

// custops.v1.Customers: one business action per method (emitter role).
class CustomersService {
 public:
  // `core` must outlive the service.
  explicit CustomersService(command::CommandCore& core) : core_(core) {}

  // Adds custops.v1.Customers's methods to `table`.
  void Register(rpc::MethodTable& table);

 private:
  command::CommandCore& core_;
};

}  // namespace custops::customers

#endif  // CUSTOPS_CUSTOMERS_CUSTOMERS_SERVICE_H_

// Routing for services that run as ONE active instance in a deployment (the
// value and review projections on Kafka, docs/kafka.md): every instance with
// the role accepts their calls; the elected leader answers them from its own
// handlers, every other instance forwards the request bytes unchanged to the
// leader (with the caller's token, so the leader checks the same identity).
//
//   table.Route("custops.v1.Value", rpc::SingletonRouter(&channels, self, {
//       .state = [&] { ... }, .leader = [&] { ... }, .invalidate = [&] { ... }}));
#ifndef CUSTOPS_RPC_SINGLETON_ROUTER_H_
#define CUSTOPS_RPC_SINGLETON_ROUTER_H_

#include <functional>
#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/routing.h"

namespace custops::rpc {

// Where this instance stands for one routed service.
enum class SingletonState {
  kServing,    // the leader, ready: answer here
  kRestoring,  // the leader, still restoring its state: refuse (UNAVAILABLE)
  kStandby,    // not the leader: forward
};

struct SingletonRoute {
  // This instance's standing, and for kRestoring why. Required.
  std::function<std::pair<SingletonState, std::string>()> state;
  // The leader's address; "" when there is none now. Required.
  std::function<absl::StatusOr<std::string>()> leader;
  // Forget a cached leader (a forward found it gone). Optional.
  std::function<void()> invalidate;
};

// A Router (MethodTable::Route) for one singleton service. `channels` must
// outlive it; `self` is this instance's advertised address (a leader that
// names itself while this instance is not the leader is a stale cache:
// refused, never a loop).
Router SingletonRouter(ChannelCache* channels, std::string self, SingletonRoute route);

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_SINGLETON_ROUTER_H_

// Routing for services that run as ONE active instance in a deployment (the
// value and review projections on Kafka, docs/kafka.md): every instance with
// the role accepts their calls; the elected leader answers them from its own
// services, every other instance forwards them unchanged (bytes in, bytes
// out) to the leader. Registered as the public server's generic service, so
// it sees exactly the calls of methods that no registered service has: the
// routed services are NOT registered on the public server but on an
// in-process one whose channel is `Route::local`.
//
//   rpc::SingletonRouter router(&channels);
//   router.AddRoute({.service = "custops.v1.Value", .local = internal->InProcessChannel({}),
//                    .state = [&] { ... }, .leader = [&] { ... }, .invalidate = [&] { ... }});
//   builder.RegisterCallbackGenericService(&router);
#ifndef CUSTOPS_RPC_SINGLETON_ROUTER_H_
#define CUSTOPS_RPC_SINGLETON_ROUTER_H_

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/grpcpp.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "custops/rpc/routing.h"

namespace custops::rpc {

// Where this instance stands for one routed service.
enum class SingletonState {
  kServing,    // the leader, ready: answer here
  kRestoring,  // the leader, still restoring its state: refuse (UNAVAILABLE)
  kStandby,    // not the leader: forward
};

struct SingletonRoute {
  // Full service name, e.g. "custops.v1.Value". Required.
  std::string service;
  // The channel to this instance's own implementation. Required.
  std::shared_ptr<grpc::Channel> local;
  // This instance's standing, and for kRestoring why. Required.
  std::function<std::pair<SingletonState, std::string>()> state;
  // The leader's address; "" when there is none now. Required.
  std::function<absl::StatusOr<std::string>()> leader;
  // Forget a cached leader (a forward found it gone). Optional.
  std::function<void()> invalidate;
};

class SingletonRouter final : public grpc::CallbackGenericService {
 public:
  // `channels` must outlive the router; `self` is this instance's advertised
  // address (a leader that names itself while this instance is not the
  // leader is a stale cache: refused, never a loop).
  SingletonRouter(ChannelCache* channels, std::string self)
      : channels_(channels), self_(std::move(self)) {}

  // Before the server starts; not thread-safe against calls.
  void AddRoute(SingletonRoute route) { routes_.push_back(std::move(route)); }

  grpc::ServerGenericBidiReactor* CreateReactor(grpc::GenericCallbackServerContext* ctx) override;

 private:
  class Call;
  ChannelCache* channels_;
  std::string self_;
  std::vector<SingletonRoute> routes_;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_SINGLETON_ROUTER_H_

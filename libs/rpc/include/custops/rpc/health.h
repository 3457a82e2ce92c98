// grpc.health.v1.Health served from the method table, so it shares the
// gateway's transports and limits and appears in server reflection
// (grpcurl, grpc_health_probe). It is a readiness signal
// (docs/operations.md): a service is SERVING only when it can answer now,
// and the overall status ("") only when every service of the instance can.
// It needs no token.
//
//   rpc::HealthService health([&](const std::string& service) -> std::optional<bool> {
//     if (service.empty()) return app.Ready();
//     ...
//   });
//   health.Register(table);
#ifndef CUSTOPS_RPC_HEALTH_H_
#define CUSTOPS_RPC_HEALTH_H_

#include <functional>
#include <optional>
#include <string>

#include "absl/time/time.h"
#include "custops/rpc/gateway.h"

namespace custops::rpc {

class HealthService {
 public:
  // Whether `service` ("" = the whole instance) can answer now; nullopt
  // when this instance does not serve it. Called on serving threads; must
  // be cheap and thread-safe.
  using StatusFn = std::function<std::optional<bool>(const std::string& service)>;

  // `watch_interval`: how often a Watch stream looks for a change.
  explicit HealthService(StatusFn status, absl::Duration watch_interval = absl::Seconds(1));

  // Check: SERVING / NOT_SERVING, NOT_FOUND for an unknown service (the
  // protocol's rule). Watch: the status now, then each change (an unknown
  // service is SERVICE_UNKNOWN, and stays watched).
  void Register(MethodTable& table);

 private:
  StatusFn status_;
  absl::Duration watch_interval_;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_HEALTH_H_

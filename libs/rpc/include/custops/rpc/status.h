// The one mapping between absl::Status and grpc::Status, and deadlines.
#ifndef CUSTOPS_RPC_STATUS_H_
#define CUSTOPS_RPC_STATUS_H_

#include <grpcpp/grpcpp.h>

#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace custops::rpc {

// Same code, same message.
grpc::Status ToGrpcStatus(const absl::Status& status);

// The reverse: same code, same message (an OK status carries no message),
// the message after `context` when one is given ("Admin.Status: ...").
absl::Status FromGrpcStatus(const grpc::Status& status, std::string_view context = "");

// The call's deadline, capped at now + `max_wait` (a call without a deadline
// waits at most that long for a consistency token).
absl::Time CallDeadline(const grpc::ServerContextBase& context,
                        absl::Duration max_wait = absl::Seconds(30));

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_STATUS_H_

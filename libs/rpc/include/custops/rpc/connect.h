// The JSON API (docs/json-api.md): the gateway's method table served on the
// HTTP listener, so curl, browsers and connect-web clients reach every
// method without gRPC, through the same checks and the same handlers.
//
// - Every unary method in the Connect protocol's unary form:
//   `POST /custops.v1.Review/GetReview` with `Content-Type: application/json`
//   (protobuf's JSON mapping) or `application/proto` (binary). The answer
//   uses the request's encoding; an error is Connect error JSON
//   (`{"code": "not_found", "message": ...}`) with the matching HTTP status.
//   `Connect-Timeout-Ms` sets the call's deadline (capped like gRPC's).
// - The server streams as Server-Sent Events: `GET /v1/subscribe?from=...&
//   types=...&customer_ids=...` (Subscriptions.Subscribe) and `GET
//   /v1/changes?...` (SubscribeChanges); each record is one event with
//   `id:` its resume token (a reconnecting EventSource resumes through
//   Last-Event-ID) and `data:` its JSON. An error after the stream started
//   is an `event: error` whose data is Connect error JSON.
// - The bearer token travels in `Authorization`, as over gRPC; roles, region
//   scopes, size limits, prechecks, per-client limits and the audit log are
//   the gateway's own. A JSON body is parsed only after the token passed.
//
//   rpc::ConnectHandler json(gateway, table);
//   http handler: if (!json.Serve(request, exchange)) { ...other paths... }
#ifndef CUSTOPS_RPC_CONNECT_H_
#define CUSTOPS_RPC_CONNECT_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/http_server.h"

namespace custops::rpc {

// The Connect protocol's name of `code` ("invalid_argument").
const char* ConnectCode(absl::StatusCode code);
// The HTTP status the Connect protocol gives `code` (400, 401, 403, 404, ...).
int ConnectHttpStatus(absl::StatusCode code);
// `status` as a Connect error: its HTTP status and `{"code","message"}` JSON.
HttpResponse ConnectError(const absl::Status& status);

// Serves the JSON API of a gateway. Thread-safe; `gateway` and `table` must
// outlive it.
class ConnectHandler {
 public:
  ConnectHandler(Gateway& gateway, const MethodTable& table);

  // Serves `request` when its path is the JSON API's (a method of the table
  // as "/<service>/<method>", /v1/subscribe or /v1/changes) and returns
  // true; false leaves it to the caller.
  bool Serve(const HttpRequest& request, const std::shared_ptr<HttpExchange>& exchange);

 private:
  void ServeUnary(const MethodEntry& entry, const HttpRequest& request,
                  const std::shared_ptr<HttpExchange>& exchange);
  void ServeStream(const MethodEntry& entry, const HttpRequest& request,
                   const std::shared_ptr<HttpExchange>& exchange);

  Gateway& gateway_;
  const MethodTable& table_;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_CONNECT_H_

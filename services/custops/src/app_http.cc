// App::Impl's HTTP surface (server.http_listen): the JSON API, /healthz,
// /readyz, /metrics, /v1/whoami, the console's dev token and its files.
#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app_impl.h"
#include "custops/base/status_macros.h"

namespace custops::app {

namespace {

// GET /v1/whoami: who the console's user is, and the server's "now" and
// reporting zone (the console's default period), as JSON.
std::string WhoAmIJson(const rpc::Identity& who, bool auth, absl::Time now,
                       const std::string& zone) {
  google::protobuf::Struct out;
  auto& fields = *out.mutable_fields();
  fields["subject"].set_string_value(who.subject);
  fields["auth"].set_bool_value(auth);
  fields["now"].set_string_value(absl::FormatTime(absl::RFC3339_sec, now, absl::UTCTimeZone()));
  fields["timeZone"].set_string_value(zone);
  auto* roles = fields["roles"].mutable_list_value();
  for (rpc::Role r : {rpc::Role::kEmitter, rpc::Role::kReader, rpc::Role::kAdmin}) {
    if (who.roles & static_cast<uint8_t>(r)) {
      roles->add_values()->set_string_value(std::string(rpc::RoleName(r)));
    }
  }
  if (who.regions) {
    auto* regions = fields["regions"].mutable_list_value();
    for (const std::string& region : *who.regions) regions->add_values()->set_string_value(region);
  }
  std::string json;
  (void)google::protobuf::util::MessageToJsonString(out, &json);
  return json;
}

}  // namespace

void App::Impl::ServeHttp(const rpc::HttpRequest& request,
                          std::shared_ptr<rpc::HttpExchange> exchange) {
  if (json_api->Serve(request, exchange)) return;
  if (request.method != "GET" && request.method != "HEAD") {
    exchange->Respond({.status = 405, .body = "method not allowed\n"});
    return;
  }
  if (request.path == "/healthz") {
    exchange->Respond({.body = "ok\n"});
  } else if (request.path == "/readyz") {
    const bool ready = Ready();
    exchange->Respond({.status = ready ? 200 : 503, .body = ready ? "ready\n" : "not ready\n"});
  } else if (request.path == "/metrics") {
    // Metrics need a reader token like Admin.Status.
    absl::StatusOr<rpc::Identity> who = WhoIs(request);
    if (who.ok() && !who->Has(rpc::Role::kReader)) {
      who = absl::PermissionDeniedError("/metrics needs the reader role");
    }
    if (!who.ok()) {
      exchange->Respond(rpc::ConnectError(who.status()));
      return;
    }
    exchange->Respond(
        {.content_type = "text/plain; version=0.0.4; charset=utf-8", .body = metrics.Render()});
  } else if (request.path == "/v1/whoami") {
    absl::StatusOr<rpc::Identity> who = WhoIs(request);
    if (!who.ok()) {
      exchange->Respond(rpc::ConnectError(who.status()));
      return;
    }
    exchange->Respond(
        {.content_type = "application/json",
         .body = WhoAmIJson(*who, verifier != nullptr, clock->Now(), config.time_zone)});
  } else if (request.path == "/v1/console/dev-token") {
    // Only to a browser on this machine, and only when configured.
    if (console_dev_token.empty() || !internal::IsLoopback(request.peer)) {
      exchange->Respond(rpc::ConnectError(absl::NotFoundError("no dev token is offered here")));
      return;
    }
    exchange->Respond({.content_type = "application/json",
                       .headers = {{"Cache-Control", "no-store"}},
                       .body = absl::StrCat("{\"token\":\"", console_dev_token, "\"}")});
  } else if (console && console->Serve(request, *exchange)) {
    return;
  } else if (request.path == "/") {
    exchange->Respond({.body =
                           "custops: the ops console is not built here; run scripts/build-web.sh "
                           "and restart (or pass --console-dir). /metrics, /healthz, /readyz and "
                           "the JSON API (docs/json-api.md) are served.\n"});
  } else {
    exchange->Respond({.status = 404, .body = "not found: try /, /metrics, /healthz or /readyz\n"});
  }
}

absl::StatusOr<rpc::Identity> App::Impl::WhoIs(const rpc::HttpRequest& request) const {
  if (verifier == nullptr) return rpc::Identity::Anonymous();
  return verifier->Verify(request.Header("authorization"));
}

absl::Status App::Impl::StartHttp() {
  if (config.metrics_listen.empty()) return absl::OkStatus();
  json_api = std::make_unique<rpc::ConnectHandler>(*gateway, methods);
  if (!config.console_dir.empty()) {
    absl::StatusOr<rpc::StaticFiles> files = rpc::StaticFiles::Load(config.console_dir);
    if (!files.ok()) {
      return absl::Status(files.status().code(),
                          absl::StrCat("server.console_dir: ", files.status().message()));
    }
    console = std::move(*files);
  }
  if (!config.console_dev_token_file.empty()) {
    ASSIGN_OR_RETURN(std::string token, internal::ReadFile(config.console_dev_token_file,
                                                           "server.console_dev_token_file"));
    console_dev_token = std::string(absl::StripAsciiWhitespace(token));
    if (console_dev_token.find_first_of("\"\\") != std::string::npos) {
      return absl::InvalidArgumentError("server.console_dev_token_file: not a JWT");
    }
  }
  ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(config.metrics_listen, "server.http_listen"));
  ASSIGN_OR_RETURN(http_server,
                   rpc::HttpServer::Start({.host = hp.first,
                                           .port = hp.second,
                                           .tls_cert_file = config.tls_cert_file,
                                           .tls_key_file = config.tls_key_file,
                                           .tls_client_ca_file = config.tls_client_ca_file,
                                           .max_body_bytes = gateway->max_request_bytes()},
                                          [this](const rpc::HttpRequest& request,
                                                 std::shared_ptr<rpc::HttpExchange> exchange) {
                                            ServeHttp(request, std::move(exchange));
                                          }));
  return absl::OkStatus();
}

}  // namespace custops::app

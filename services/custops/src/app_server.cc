// App::Impl's gRPC server: the front door's method table, TLS and token auth,
// the check that refuses to expose an unprotected listener, and readiness
// (which services and projections can answer, for /readyz and gRPC health).
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "app_impl.h"
#include "custops/base/check.h"
#include "custops/base/status_macros.h"

namespace custops::app {

namespace {

// 32 random bytes from the kernel, hex.
std::string RandomToken() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  unsigned char bytes[32] = {};
  urandom.read(reinterpret_cast<char*>(bytes), sizeof(bytes));
  CUSTOPS_CHECK(urandom.good()) << "cannot read /dev/urandom";
  std::string hex;
  for (unsigned char b : bytes) absl::StrAppend(&hex, absl::Hex(b, absl::kZeroPad2));
  return hex;
}

}  // namespace

absl::Status App::Impl::CheckExposure(const std::string& listen, const std::string& key) const {
  ASSIGN_OR_RETURN(auto hp, internal::SplitHostPort(listen, key));
  if (internal::IsLoopback(hp.first)) return absl::OkStatus();
  const bool tls = !config.tls_cert_file.empty();
  const bool auth = verifier != nullptr;
  if (tls && auth) return absl::OkStatus();
  if (config.insecure) {
    spdlog::warn(
        "INSECURE: {} listens on {} without {}{}{} (--insecure): anyone who reaches it "
        "reads and writes everything",
        key, listen, tls ? "" : "TLS", !tls && !auth ? " and " : "", auth ? "" : "token auth");
    return absl::OkStatus();
  }
  return absl::FailedPreconditionError(absl::StrCat(
      key, ": ", listen,
      " is not a loopback address; custops serves other hosts only with TLS "
      "(--tls-cert/--tls-key) and token auth (--jwt-hs256-secret-file or --jwt-public-key-file), "
      "or with --insecure (docs/security.md)"));
}

absl::Status App::Impl::StartServer() {
  const bool kafka = config.log == "kafka";
  const std::string self = Self();
  if (!config.jwt_hs256_secret_file.empty() || !config.jwt_public_key_file.empty()) {
    ASSIGN_OR_RETURN(verifier,
                     rpc::TokenVerifier::Create({.hs256_secret_file = config.jwt_hs256_secret_file,
                                                 .public_key_file = config.jwt_public_key_file,
                                                 .issuer = config.jwt_issuer,
                                                 .audience = config.jwt_audience}));
  }
  RETURN_IF_ERROR(CheckExposure(config.listen, "server.listen"));
  if (!config.metrics_listen.empty()) {
    RETURN_IF_ERROR(CheckExposure(config.metrics_listen, "server.http_listen"));
  }
  std::shared_ptr<grpc::ServerCredentials> credentials = grpc::InsecureServerCredentials();
  if (!config.tls_cert_file.empty()) {
    ASSIGN_OR_RETURN(std::string cert, internal::ReadFile(config.tls_cert_file, "tls.cert_file"));
    ASSIGN_OR_RETURN(std::string key, internal::ReadFile(config.tls_key_file, "tls.key_file"));
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({key, cert});
    grpc::SslCredentialsOptions client_ssl{.pem_root_certs = cert};
    if (!config.tls_client_ca_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs,
                       internal::ReadFile(config.tls_client_ca_file, "tls.client_ca_file"));
      ssl.client_certificate_request = GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
      // Instances forwarding to each other present this server's own pair.
      client_ssl.pem_private_key = key;
      client_ssl.pem_cert_chain = cert;
    }
    credentials = grpc::SslServerCredentials(ssl);
    // Forwarded calls to other instances trust the same certificate chain.
    channels.set_credentials(grpc::SslCredentials(client_ssl));
  }

  internal_token = RandomToken();
  health = std::make_unique<rpc::HealthService>(
      [this](const std::string& service) { return ServiceReady(service); });
  health->Register(methods);
  if (ingest_service) ingest_service->Register(methods);
  if (subscriptions_service) subscriptions_service->Register(methods);
  if (lifecycle) lifecycle->Register(methods);
  if (admin_service) admin_service->Register(methods);
  if (customers_service) customers_service->Register(methods);
  if (visits_service) visits_service->Register(methods);
  if (deals_service) deals_service->Register(methods);
  if (complaints_service) complaints_service->Register(methods);
  if (value) value->Register(methods);
  if (review) review->Register(methods);
  for (const auto& s : singletons) {
    Singleton* sp = s.get();
    methods.Route(s->service,
                  rpc::SingletonRouter(&channels, self,
                                       {.state = [this, sp] { return Standing(*sp); },
                                        .leader = [sp]() -> absl::StatusOr<std::string> {
                                          ASSIGN_OR_RETURN(std::vector<std::string> owners,
                                                           sp->leader->Owners());
                                          return owners.empty() ? std::string() : owners[0];
                                        },
                                        .invalidate = [sp] { sp->leader->Invalidate(); }}));
  }
  (void)kafka;
  gateway = std::make_unique<rpc::Gateway>(
      methods, verifier.get(),
      rpc::ServingOptions{.max_request_bytes = static_cast<size_t>(config.max_request_bytes),
                          .max_wait = absl::Milliseconds(config.max_wait_ms),
                          .max_streams_per_client = config.max_streams_per_client,
                          .max_waits_per_client = config.max_waits_per_client,
                          .workers = config.workers,
                          .internal_token = internal_token});

  // Health is served from the method table (readiness, in reflection).
  grpc::EnableDefaultHealthCheckService(false);
  // Reflection answers without a token: only where every call may (auth off).
  if (verifier == nullptr) grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen, credentials, &port);
  // Without this a second custops on the same port starts "successfully" and
  // the kernel splits connections between the two.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  // The transport refuses larger messages before they are buffered whole;
  // the gateway then holds each method to its own limit.
  builder.SetMaxReceiveMessageSize(static_cast<int>(gateway->max_request_bytes()));
  builder.SetMaxSendMessageSize(config.max_message_bytes);
  for (grpc::Service* service : gateway->services()) builder.RegisterService(service);
  server = builder.BuildAndStart();
  if (server == nullptr || port == 0) {
    return absl::UnavailableError(absl::StrCat("cannot listen on ", config.listen));
  }
  return absl::OkStatus();
}

std::vector<ProjectionSlot*> App::Impl::Slots() const {
  std::vector<ProjectionSlot*> slots;
  for (ProjectionSlot* slot : {lifecycle.get(), value.get(), review.get()}) {
    if (slot != nullptr) slots.push_back(slot);
  }
  return slots;
}

bool App::Impl::SlotReady(const ProjectionSlot* slot) const {
  if (slot == nullptr) return true;
  const std::shared_ptr<projection::ProjectionRuntime> rt = slot->Runtime();
  for (const auto& s : singletons) {
    if (s->slot != slot) continue;
    // A standby is ready when it can forward; the leader when restored.
    return Standing(*s).first != rpc::SingletonState::kRestoring;
  }
  if (owners != nullptr) {
    // Kafka (docs/operations.md "Health and readiness"): ready once the group
    // has given every partition an owner a query can be forwarded to, and the
    // partitions it names this instance for are applied here (not restoring,
    // and the assignment has reached the runtime). The owners come from the
    // cache the refresher keeps: readiness never waits on the broker.
    const std::optional<std::vector<std::string>> named = owners->Cached(absl::Seconds(3));
    if (!named || named->size() < static_cast<size_t>(rt->partitions())) return false;
    const std::string self = Self();
    for (int p = 0; p < rt->partitions(); ++p) {
      const std::string& owner = (*named)[static_cast<size_t>(p)];
      if (owner.empty()) return false;
      if (owner == self && !rt->CheckServing(Partition(p)).ok()) return false;
    }
    return true;
  }
  for (int p = 0; p < rt->partitions(); ++p) {
    if (!rt->CheckServing(Partition(p)).ok()) return false;
  }
  return true;
}

bool App::Impl::Ready() const {
  if (server == nullptr) return false;
  return SlotReady(lifecycle.get()) && SlotReady(value.get()) && SlotReady(review.get());
}

std::optional<bool> App::Impl::ServiceReady(const std::string& service) const {
  if (service.empty()) return Ready();
  const std::vector<std::string> served = methods.Services();
  if (std::find(served.begin(), served.end(), service) == served.end()) return std::nullopt;
  if (server == nullptr) return false;
  if (service == "custops.v1.Lifecycle") return SlotReady(lifecycle.get());
  if (service == "custops.v1.Value") return SlotReady(value.get());
  if (service == "custops.v1.Review") return SlotReady(review.get());
  return true;
}

}  // namespace custops::app

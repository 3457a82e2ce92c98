#include "custops/app/app.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <thread>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "custops/admin/admin_service.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/status_macros.h"
#include "custops/client/bulk.h"
#include "custops/command/command_core.h"
#include "custops/complaints/complaints_service.h"
#include "custops/customers/customers_service.h"
#include "custops/deals/deals_service.h"
#include "custops/demo/demo.h"
#include "custops/ingest/ingest_service.h"
#include "custops/ingest/subscriptions_service.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/lifecycle/lifecycle_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/kafka_event_log.h"
#include "custops/log/kafka_group.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_stack.h"
#include "custops/rpc/auth.h"
#include "custops/rpc/connect.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/health.h"
#include "custops/rpc/http_server.h"
#include "custops/rpc/metrics.h"
#include "custops/rpc/routing.h"
#include "custops/rpc/singleton_router.h"
#include "custops/rpc/static_files.h"
#include "custops/rpc/status.h"
#include "custops/value/value_projection.h"
#include "custops/value/value_service.h"
#include "custops/visits/visits_service.h"
#include "projection_slot.h"

namespace custops::app {

struct App::Impl {
  Config config;
  std::unique_ptr<base::Clock> owned_clock;
  const base::Clock* clock = nullptr;
  std::unique_ptr<log::EventLog> log;
  // The projections this instance runs, each the copy serving now and its
  // rebuild (docs/operations.md "Rebuild").
  std::unique_ptr<ProjectionSlot> lifecycle;
  std::unique_ptr<ProjectionSlot> value;
  std::unique_ptr<ProjectionSlot> review;
  std::unique_ptr<ingest::Ingestor> ingestor;
  std::unique_ptr<ingest::IngestService> ingest_service;
  std::unique_ptr<ingest::SubscriptionsService> subscriptions_service;
  std::unique_ptr<admin::AdminService> admin_service;
  std::unique_ptr<command::CommandCore> command_core;
  std::unique_ptr<customers::CustomersService> customers_service;
  std::unique_ptr<visits::VisitsService> visits_service;
  std::unique_ptr<deals::DealsService> deals_service;
  std::unique_ptr<complaints::ComplaintsService> complaints_service;
  // Kafka mode with the lifecycle role: the group that shares its partitions
  // and the routing of queries to their owners (docs/kafka.md).
  std::unique_ptr<log::KafkaGroupDirectory> group_directory;
  std::unique_ptr<rpc::OwnerDirectory> owners;
  // Keeps `owners` fresh in the background (Kafka, lifecycle role), so
  // readiness reads it without waiting on the broker.
  std::thread owners_refresher;
  absl::Notification stop_refresher;
  rpc::ChannelCache channels;
  std::unique_ptr<log::KafkaGroupMember> group_member;
  // Kafka mode, value and review: one active instance each, elected through
  // a consumer group on log::kElectionTopic; the others are standbys and
  // forward the calls to it (docs/kafka.md).
  struct Singleton {
    std::string name;     // the projection's: "value", "review"
    std::string service;  // full gRPC service name
    ProjectionSlot* slot = nullptr;
    std::unique_ptr<rpc::OwnerDirectory> leader;  // [leader address]
    std::unique_ptr<log::KafkaGroupMember> member;
    std::atomic<bool> leading{false};
  };
  std::vector<std::unique_ptr<Singleton>> singletons;
  // The front door (docs/security.md): every method's handler, the token
  // verifier (null: auth off) and the gRPC adapter.
  rpc::MethodTable methods;
  std::unique_ptr<rpc::TokenVerifier> verifier;
  std::unique_ptr<rpc::Gateway> gateway;
  // The same table as JSON over HTTP, and the console's files.
  std::unique_ptr<rpc::ConnectHandler> json_api;
  std::unique_ptr<rpc::HealthService> health;
  // The process's own bearer token (rpc::ServingOptions::internal_token).
  std::string internal_token;
  std::optional<rpc::StaticFiles> console;
  std::string console_dev_token;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  rpc::MetricsRegistry metrics;
  std::unique_ptr<rpc::HttpServer> http_server;
  absl::Mutex shutdown_mu;
  bool shut_down ABSL_GUARDED_BY(shutdown_mu) = false;
  absl::Notification done;

  absl::Status Open();
  absl::Status OpenLog();
  absl::Status JoinGroup();
  // The address other instances forward to: server.advertise, else listen.
  std::string Self() const { return config.advertise.empty() ? config.listen : config.advertise; }
  absl::Status Elect(Singleton& s);
  std::pair<rpc::SingletonState, std::string> Standing(const Singleton& s) const;
  void RegisterMetrics();
  absl::Status CheckExposure(const std::string& listen, const std::string& key) const;
  absl::Status StartServer();
  absl::Status StartHttp();
  void ServeHttp(const rpc::HttpRequest& request, std::shared_ptr<rpc::HttpExchange> exchange);
  // The caller of an HTTP request (anonymous with every role when auth is
  // off), or UNAUTHENTICATED.
  absl::StatusOr<rpc::Identity> WhoIs(const rpc::HttpRequest& request) const;
  // Whether every service this instance runs can answer (readiness).
  bool Ready() const;
  // Whether `service` ("" = all) can answer; nullopt when not served here.
  std::optional<bool> ServiceReady(const std::string& service) const;
  // Whether the queries of `slot` (null: none) can answer here or by a peer.
  bool SlotReady(const ProjectionSlot* slot) const;
  // The projections this instance runs.
  std::vector<ProjectionSlot*> Slots() const;
};

namespace {

absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view key) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  if (!in.good() && !in.eof()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(key), ": cannot read ", path));
  }
  if (!in.is_open() || content.str().empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(key), ": cannot read ", path, " (or empty)"));
  }
  return content.str();
}

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address,
                                                          std::string_view key) {
  const size_t colon = address.rfind(':');
  int port = -1;
  if (colon == std::string::npos || !absl::SimpleAtoi(address.substr(colon + 1), &port) ||
      port < 0 || port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(key), ": expected host:port, got \"", address, "\""));
  }
  return std::make_pair(address.substr(0, colon), port);
}

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

bool IsLoopback(std::string host) {
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

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

// kafka.properties in the order librdkafka gets them.
std::vector<std::pair<std::string, std::string>> KafkaProperties(const Config& config) {
  return {config.kafka_properties.begin(), config.kafka_properties.end()};
}

}  // namespace

absl::Status App::Impl::Open() {
  RETURN_IF_ERROR(Validate(config));
  if (config.fixed_clock.empty()) {
    clock = &base::SystemClock::Instance();
  } else {
    absl::Time t;
    std::string err;
    absl::ParseTime(absl::RFC3339_full, config.fixed_clock, &t, &err);
    owned_clock = std::make_unique<base::SimulatedClock>(t);
    clock = owned_clock.get();
  }
  std::filesystem::create_directories(config.data_dir);
  RETURN_IF_ERROR(OpenLog());
  const bool kafka = config.log == "kafka";
  const event::ValidationOptions validation{
      .currency = config.currency,
      .max_events_per_request = static_cast<size_t>(config.max_events_per_request)};
  ASSIGN_OR_RETURN(auto listen, SplitHostPort(config.listen, "server.listen"));
  // The address other instances forward queries to.
  const std::string self = Self();
  const bool routed = kafka && (HasRole(config, "lifecycle") || HasRole(config, "value") ||
                                HasRole(config, "review"));
  if (routed) {
    if (listen.second == 0 && config.advertise.empty()) {
      return absl::InvalidArgumentError(
          "server.advertise: required with a projection role on Kafka and listen port 0");
    }
    ASSIGN_OR_RETURN(group_directory,
                     log::KafkaGroupDirectory::Open({.bootstrap_servers = config.kafka_bootstrap,
                                                     .group_id = config.kafka_group_prefix,
                                                     .properties = KafkaProperties(config)}));
  }
  // Each projection role: how a copy of it opens (docs/operations.md
  // "Rebuild": the serving copy and a rebuild's copy open the same way).
  using OpenCopy = std::function<absl::StatusOr<std::unique_ptr<ProjectionCopy>>(CopyOptions)>;
  lifecycle::Routing routing;
  if (kafka && HasRole(config, "lifecycle")) {
    ASSIGN_OR_RETURN(const int partitions, log->PartitionCount(log::kCustomerEvents));
    const std::string group = absl::StrCat(config.kafka_group_prefix, ".lifecycle");
    owners = std::make_unique<rpc::OwnerDirectory>(
        [this, group, partitions] {
          return group_directory->Owners(group, log::kCustomerEvents, partitions);
        },
        absl::Seconds(1));
    routing = {.owners = owners.get(), .channels = &channels, .self = self};
  }
  // Population-relative scores (value) and periods x dimensions (review)
  // need every customer: on Kafka the elected instance owns every partition
  // of them, the others stand by (docs/kafka.md).
  value::ValueRules value_rules = config.value;
  value_rules.currency = config.currency;
  const review::ReviewStackOptions review_options{
      .time_zone = config.time_zone,
      .currency = config.currency,
      .top_customers_percent = config.review.top_customers_percent,
      .sla_near_percent = config.review.sla_near_percent,
      .birthday_days = config.review.birthday_days,
      .contract_ending_days = config.review.contract_ending_days,
      .configure = [cfg = &config](review::ReviewRules& r) {
        r.findings = cfg->review.findings;
        r.lifecycle = cfg->lifecycle;
        r.value_window = cfg->value.rfm.window;
        r.tiers = cfg->value.tiers;
        r.prospects = cfg->value.prospects;
        r.cost = cfg->value.cost;
        r.declining_recent = absl::Hours(24 * cfg->review.declining_days);
        r.tier_dimension = cfg->review.tier_dimension;
      }};
  const std::tuple<const char*, std::unique_ptr<ProjectionSlot>*, OpenCopy> roles[] = {
      {"lifecycle", &lifecycle,
       [this, routing](const CopyOptions& o) -> absl::StatusOr<std::unique_ptr<ProjectionCopy>> {
         return LifecycleCopy::Open(*log, o, config.lifecycle, routing);
       }},
      {"value", &value,
       [this,
        value_rules](const CopyOptions& o) -> absl::StatusOr<std::unique_ptr<ProjectionCopy>> {
         return ValueCopy::Open(*log, o, value_rules);
       }},
      {"review", &review,
       [this,
        review_options](const CopyOptions& o) -> absl::StatusOr<std::unique_ptr<ProjectionCopy>> {
         return ReviewCopy::Open(*log, o, review_options);
       }},
  };
  for (const auto& [name, slot, open] : roles) {
    if (!HasRole(config, name)) continue;
    const CopyOptions options{.own_all = !kafka, .clock = clock, .validation = validation};
    ASSIGN_OR_RETURN(
        *slot, ProjectionSlot::Open({.name = name,
                                     .root = config.data_dir + "/projections",
                                     .own_all = !kafka,
                                     .open = [open, options](const std::string& path, bool bulk) {
                                       CopyOptions o = options;
                                       o.path = path;
                                       o.bulk = bulk;
                                       return open(o);
                                     }}));
  }
  if (kafka && (value || review)) {
    // Value and review calls reach their handlers here when this instance
    // leads, and are forwarded to the leader otherwise.
    for (auto [service, slot] :
         {std::pair<const char*, ProjectionSlot*>{"custops.v1.Value", value.get()},
          {"custops.v1.Review", review.get()}}) {
      if (slot == nullptr) continue;
      auto s = std::make_unique<Singleton>();
      s->name = slot->name();
      s->service = service;
      s->slot = slot;
      const std::string group = absl::StrCat(config.kafka_group_prefix, ".", s->name);
      s->leader = std::make_unique<rpc::OwnerDirectory>(
          [this, group] { return group_directory->Owners(group, log::kElectionTopic, 1); },
          absl::Seconds(1));
      singletons.push_back(std::move(s));
    }
  }

  ingestor = std::make_unique<ingest::Ingestor>(*log, *clock, validation);
  if (HasRole(config, "ingest")) {
    ingest_service = std::make_unique<ingest::IngestService>(
        *ingestor, static_cast<size_t>(config.max_events_per_request));
    ingest::RegionLookup regions;
    if (lifecycle) {
      regions = [slot = lifecycle.get()](const std::string& customer_id) {
        const std::shared_ptr<ProjectionCopy> copy = slot->Current();
        return static_cast<const LifecycleCopy&>(*copy).queries().RegionOf(customer_id);
      };
    }
    subscriptions_service = std::make_unique<ingest::SubscriptionsService>(*log, regions);
  }
  if (HasRole(config, "admin")) {
    admin::OwnersFn owners_fn;
    if (kafka) {
      owners_fn = [this](std::string_view name) -> absl::StatusOr<std::vector<std::string>> {
        if (name == "lifecycle" && owners) return owners->Owners();
        for (const auto& s : singletons) {
          if (s->name != name) continue;
          ASSIGN_OR_RETURN(std::vector<std::string> leader, s->leader->Owners());
          // The leader owns every partition.
          return std::vector<std::string>(s->slot->Runtime()->partitions(),
                                          leader.empty() ? std::string() : leader[0]);
        }
        return std::vector<std::string>();
      };
    }
    admin::Projections projections{
        .runtimes =
            [this] {
              std::vector<std::shared_ptr<projection::ProjectionRuntime>> runtimes;
              for (ProjectionSlot* slot : Slots()) runtimes.push_back(slot->Runtime());
              return runtimes;
            },
        .rebuild = [this](std::string_view name) -> absl::StatusOr<v1::RebuildProgress> {
          for (ProjectionSlot* slot : Slots()) {
            if (slot->name() != name) continue;
            RETURN_IF_ERROR(slot->Rebuild());
            return slot->Progress();
          }
          return absl::NotFoundError(
              absl::StrCat("projection: ", std::string(name), " does not run in this instance"));
        },
        .progress = [this](std::string_view name) -> std::optional<v1::RebuildProgress> {
          for (ProjectionSlot* slot : Slots()) {
            if (slot->name() == name) return slot->Progress();
          }
          return std::nullopt;
        }};
    admin_service = std::make_unique<admin::AdminService>(*log, std::move(projections), config.log,
                                                          std::move(owners_fn));
  }
  if (HasRole(config, "commands")) {
    domain::CommandRules command_rules = config.commands;
    command_rules.currency = config.currency;
    ASSIGN_OR_RETURN(command_core, command::CommandCore::Start(
                                       *log, *ingestor, *clock,
                                       {.rules = command_rules, .validation = validation}));
    customers_service = std::make_unique<customers::CustomersService>(*command_core);
    visits_service = std::make_unique<visits::VisitsService>(*command_core);
    deals_service = std::make_unique<deals::DealsService>(*command_core);
    complaints_service = std::make_unique<complaints::ComplaintsService>(*command_core);
  }

  RETURN_IF_ERROR(StartServer());
  if (lifecycle) RETURN_IF_ERROR(lifecycle->Start());
  if (lifecycle && kafka) {
    RETURN_IF_ERROR(JoinGroup());
    owners_refresher = std::thread([this] {
      do {
        (void)owners->Owners();  // fetches when older than its ttl (1 s)
      } while (!stop_refresher.WaitForNotificationWithTimeout(absl::Milliseconds(500)));
    });
  }
  if (value) RETURN_IF_ERROR(value->Start());
  if (review) RETURN_IF_ERROR(review->Start());
  for (const auto& s : singletons) RETURN_IF_ERROR(Elect(*s));

  RegisterMetrics();
  return StartHttp();
}

absl::Status App::Impl::CheckExposure(const std::string& listen, const std::string& key) const {
  ASSIGN_OR_RETURN(auto hp, SplitHostPort(listen, key));
  if (IsLoopback(hp.first)) return absl::OkStatus();
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
    ASSIGN_OR_RETURN(std::string cert, ReadFile(config.tls_cert_file, "tls.cert_file"));
    ASSIGN_OR_RETURN(std::string key, ReadFile(config.tls_key_file, "tls.key_file"));
    grpc::SslServerCredentialsOptions ssl(GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_key_cert_pairs.push_back({key, cert});
    grpc::SslCredentialsOptions client_ssl{.pem_root_certs = cert};
    if (!config.tls_client_ca_file.empty()) {
      ASSIGN_OR_RETURN(ssl.pem_root_certs,
                       ReadFile(config.tls_client_ca_file, "tls.client_ca_file"));
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
    if (console_dev_token.empty() || !IsLoopback(request.peer)) {
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
    ASSIGN_OR_RETURN(std::string token,
                     ReadFile(config.console_dev_token_file, "server.console_dev_token_file"));
    console_dev_token = std::string(absl::StripAsciiWhitespace(token));
    if (console_dev_token.find_first_of("\"\\") != std::string::npos) {
      return absl::InvalidArgumentError("server.console_dev_token_file: not a JWT");
    }
  }
  ASSIGN_OR_RETURN(auto hp, SplitHostPort(config.metrics_listen, "server.http_listen"));
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

absl::Status App::Impl::OpenLog() {
  if (config.log == "kafka") {
    ASSIGN_OR_RETURN(log, log::KafkaEventLog::Open(
                              {.bootstrap_servers = config.kafka_bootstrap,
                               .clock = clock,
                               .poll_interval = absl::Milliseconds(config.kafka_poll_interval_ms),
                               .client_id = "custops",
                               .properties = KafkaProperties(config)}));
  } else {
    ASSIGN_OR_RETURN(log,
                     log::EmbeddedEventLog::Open(
                         {.path = config.data_dir + "/log", .sync = config.sync, .clock = clock}));
  }
  // Idempotent: every process of a Kafka deployment may ask. Processes that
  // start together race to create; the loser may see the topic before its
  // metadata has settled (NOT_FOUND / UNAVAILABLE for a moment): retry.
  std::vector<std::pair<std::string_view, int>> topics;
  for (std::string_view topic :
       {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
    topics.emplace_back(topic, config.partitions);
  }
  if (config.log == "kafka" && (HasRole(config, "value") || HasRole(config, "review"))) {
    topics.emplace_back(log::kElectionTopic, 1);
  }
  for (const auto& [topic, partitions] : topics) {
    const absl::Time deadline = absl::Now() + absl::Seconds(30);
    absl::Status s = log->CreateTopic(topic, partitions);
    while (
        (s.code() == absl::StatusCode::kNotFound || s.code() == absl::StatusCode::kUnavailable) &&
        absl::Now() < deadline) {
      absl::SleepFor(absl::Milliseconds(200));
      s = log->CreateTopic(topic, partitions);
    }
    RETURN_IF_ERROR(s);
  }
  return absl::OkStatus();
}

absl::Status App::Impl::JoinGroup() {
  const std::string self = Self();
  ProjectionSlot* slot = lifecycle.get();
  ASSIGN_OR_RETURN(group_member,
                   log::KafkaGroupMember::Join(
                       {.bootstrap_servers = config.kafka_bootstrap,
                        .group_id = absl::StrCat(config.kafka_group_prefix, ".lifecycle"),
                        .topic = std::string(log::kCustomerEvents),
                        .member_name = self,
                        .session_timeout = absl::Milliseconds(config.kafka_session_timeout_ms),
                        .properties = KafkaProperties(config)},
                       {.on_assign =
                            [this, slot](const std::vector<Partition>& ps) {
                              if (absl::Status s = slot->Assign(ps); !s.ok()) {
                                spdlog::warn("lifecycle: assign: {}", s.ToString());
                              }
                              owners->Invalidate();
                            },
                        .on_revoke =
                            [this, slot](const std::vector<Partition>& ps) {
                              slot->Revoke(ps);
                              owners->Invalidate();
                            }}));
  return absl::OkStatus();
}

absl::Status App::Impl::Elect(Singleton& s) {
  const std::string self = Self();
  std::vector<Partition> all;
  for (int p = 0; p < s.slot->Runtime()->partitions(); ++p) all.push_back(Partition(p));
  auto elected = [](const std::vector<Partition>& ps) {
    return std::find(ps.begin(), ps.end(), Partition(0)) != ps.end();
  };
  ASSIGN_OR_RETURN(s.member,
                   log::KafkaGroupMember::Join(
                       {.bootstrap_servers = config.kafka_bootstrap,
                        .group_id = absl::StrCat(config.kafka_group_prefix, ".", s.name),
                        .topic = std::string(log::kElectionTopic),
                        .member_name = self,
                        .session_timeout = absl::Milliseconds(config.kafka_session_timeout_ms),
                        .properties = KafkaProperties(config)},
                       {.on_assign =
                            [&s, all, elected](const std::vector<Partition>& ps) {
                              if (!elected(ps)) return;
                              // Every partition restores from this instance's stored
                              // offsets; calls are refused (UNAVAILABLE) until it is done.
                              if (absl::Status st = s.slot->Assign(all); !st.ok()) {
                                spdlog::warn("{}: assign: {}", s.name, st.ToString());
                              }
                              s.leading = true;
                              s.leader->Invalidate();
                              spdlog::info("{}: elected leader; restoring every partition", s.name);
                            },
                        .on_revoke =
                            [&s, all, elected](const std::vector<Partition>& ps) {
                              if (!elected(ps)) return;
                              s.leading = false;
                              s.slot->Revoke(all);
                              s.leader->Invalidate();
                              spdlog::info("{}: no longer the leader", s.name);
                            }}));
  return absl::OkStatus();
}

std::pair<rpc::SingletonState, std::string> App::Impl::Standing(const Singleton& s) const {
  if (!s.leading) return {rpc::SingletonState::kStandby, ""};
  const std::shared_ptr<projection::ProjectionRuntime> rt = s.slot->Runtime();
  for (int p = 0; p < rt->partitions(); ++p) {
    if (absl::Status st = rt->CheckServing(Partition(p)); !st.ok()) {
      return {rpc::SingletonState::kRestoring,
              absl::StrCat(s.name, " leader: ", std::string(st.message()))};
    }
  }
  return {rpc::SingletonState::kServing, ""};
}

void App::Impl::RegisterMetrics() {
  metrics.AddCollector([this](rpc::MetricsWriter& w) { gateway->stats().Collect(w); });
  metrics.AddCollector([this](rpc::MetricsWriter& w) {
    // A process with some roles reports what it runs.
    const ingest::IngestCounters& c = ingestor->counters();
    w.Counter("custops_events_appended_total", "Events appended through EventIngest.", {},
              static_cast<double>(c.appended.load()));
    w.Counter("custops_events_duplicate_total", "Appends recognised as retries by event_id.", {},
              static_cast<double>(c.duplicates.load()));
    w.Counter("custops_append_rejected_total", "Append requests rejected as invalid.", {},
              static_cast<double>(c.rejected_requests.load()));
    if (subscriptions_service) {
      w.Gauge("custops_subscriptions_open", "Open subscription streams.", {},
              static_cast<double>(subscriptions_service->open_streams()));
    }
    const command::CommandStats cs = command_core ? command_core->stats() : command::CommandStats();
    for (const auto& [result, n] : {std::pair<const char*, int64_t>{"accepted", cs.accepted},
                                    {"duplicate", cs.duplicates},
                                    {"refused", cs.refused}}) {
      w.Counter("custops_commands_total", "Business commands by result.", {{"result", result}},
                static_cast<double>(n));
    }
    w.Gauge("custops_command_view_customers", "Customers in the command services' view.", {},
            static_cast<double>(cs.customers));
    size_t waits = 0;
    for (ProjectionSlot* slot : Slots()) waits += slot->Runtime()->pending_waits();
    w.Gauge("custops_waits_pending", "Consistency-token waits pending (holding no thread).", {},
            static_cast<double>(waits));
    if (value) {
      const std::shared_ptr<ProjectionCopy> copy = value->Current();
      const projection::RuntimeStats s = copy->runtime().Stats();
      int64_t lag = 0;
      for (const projection::PartitionProgress& p : s.partitions) {
        lag += std::max<int64_t>(0, p.log_end.value() - p.applied.value());
      }
      w.Gauge("custops_value_lag", "Records not yet applied by the value projection.", {},
              static_cast<double>(lag));
      std::shared_ptr<const value::Population> pop =
          static_cast<const ValueCopy&>(*copy).queries().Latest();
      w.Gauge("custops_value_snapshot_customers", "Customers in the latest value snapshot.", {},
              pop ? static_cast<double>(pop->customers.size()) : 0.0);
    }
    for (ProjectionSlot* slot : Slots()) {
      const std::shared_ptr<projection::ProjectionRuntime> rt = slot->Runtime();
      const std::string name(rt->projection().Name());
      const v1::RebuildProgress rebuild = slot->Progress();
      w.Gauge("custops_projection_generation",
              "The serving copy's generation (+1 at each rebuild's swap).", {{"projection", name}},
              static_cast<double>(rebuild.generation()));
      w.Gauge("custops_rebuild_running", "1 while a rebuild builds a fresh copy.",
              {{"projection", name}}, rebuild.running() ? 1.0 : 0.0);
      if (rebuild.running()) {
        w.Gauge("custops_rebuild_progress_ratio",
                "Records the rebuilt copy has applied over what the serving copy has.",
                {{"projection", name}},
                rebuild.target() == 0 ? 1.0
                                      : static_cast<double>(rebuild.applied()) /
                                            static_cast<double>(rebuild.target()));
        w.Gauge("custops_rebuild_eta_seconds", "Time left until the rebuilt copy catches up.",
                {{"projection", name}}, static_cast<double>(rebuild.eta_seconds()));
      }
      const projection::RuntimeStats s = rt->Stats();
      w.Counter("custops_events_applied_total", "Events applied by a projection.",
                {{"projection", name}}, static_cast<double>(s.events_applied));
      for (const auto& [reason, n] : s.noops_by_reason) {
        w.Counter("custops_events_noop_total", "Events that changed nothing, by reason.",
                  {{"projection", name}, {"reason", reason}}, static_cast<double>(n));
      }
      w.Counter("custops_dead_letters_total", "Records sent to dead letters.",
                {{"projection", name}}, static_cast<double>(s.dead_letters));
      w.Counter("custops_changes_emitted_total", "Derived changes emitted.", {{"projection", name}},
                static_cast<double>(s.changes_emitted));
      w.Gauge("custops_outbox_pending", "Derived changes not yet published.",
              {{"projection", name}}, static_cast<double>(s.outbox_pending));
      w.Gauge("custops_parked_customers",
              "Customers whose records wait behind a dead letter (owned partitions).",
              {{"projection", name}}, static_cast<double>(s.parked_customers));
      w.Gauge("custops_parked_events", "Records parked behind dead letters, heads included.",
              {{"projection", name}}, static_cast<double>(s.parked_events));
      w.Counter("custops_parked_replayed_total", "Parked records re-applied by a replay.",
                {{"projection", name}}, static_cast<double>(s.replayed));
      w.Counter("custops_apply_batches_total", "Batches applied and committed.",
                {{"projection", name}}, static_cast<double>(s.batches));
      w.Counter("custops_apply_seconds_total",
                "Time spent reading, applying and committing batches.", {{"projection", name}},
                absl::ToDoubleSeconds(s.apply_time));
      w.Gauge("custops_apply_batch_seconds_max", "The slowest batch since start.",
              {{"projection", name}}, absl::ToDoubleSeconds(s.max_batch_time));
      for (const projection::PartitionProgress& p : s.partitions) {
        const rpc::Labels labels = {{"projection", name},
                                    {"partition", absl::StrCat(p.partition.value())}};
        w.Gauge("custops_projection_applied_offset", "Next offset to apply.", labels,
                static_cast<double>(p.applied.value()));
        w.Gauge("custops_projection_lag", "Records in the log not yet applied.", labels,
                static_cast<double>(std::max<int64_t>(0, p.log_end.value() - p.applied.value())));
      }
      for (const std::string& family : rt->projection().ColumnFamilies()) {
        w.Gauge("custops_rocksdb_estimate_num_keys", "RocksDB estimated keys.",
                {{"projection", name}, {"column_family", family}},
                static_cast<double>(rt->store().IntProperty(rt->store().Family(family),
                                                            "rocksdb.estimate-num-keys")));
        w.Gauge("custops_rocksdb_memtable_bytes", "RocksDB memtable size.",
                {{"projection", name}, {"column_family", family}},
                static_cast<double>(rt->store().IntProperty(rt->store().Family(family),
                                                            "rocksdb.cur-size-all-mem-tables")));
      }
    }
  });
}

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() { Shutdown(); }

absl::StatusOr<std::unique_ptr<App>> App::Start(const Config& config) {
  auto impl = std::make_unique<Impl>();
  impl->config = config;
  std::unique_ptr<App> app(new App(std::move(impl)));
  if (absl::Status s = app->impl_->Open(); !s.ok()) {
    app->Shutdown();
    return s;
  }
  return app;
}

std::string App::address() const {
  const std::string& listen = impl_->config.listen;
  return absl::StrCat(listen.substr(0, listen.rfind(':')), ":", impl_->port);
}

bool App::console_served() const { return impl_->console.has_value(); }

int App::metrics_port() const { return impl_->http_server ? impl_->http_server->port() : 0; }

absl::StatusOr<DemoLoadResult> App::LoadDemo() {
  const Config& c = impl_->config;
  const std::vector<v1::Event> events = demo::GenerateDemo({.seed = c.demo_seed,
                                                            .customers = c.demo_customers,
                                                            .end = impl_->clock->Now(),
                                                            .currency = c.currency});
  // Through the command services over gRPC, as a CRM front end would: each
  // demo event is the business action that emits it.
  // The server's in-process channel (no TLS to present) with the process's
  // own token (no JWT to mint).
  client::Client client(
      impl_->server->InProcessChannel(grpc::ChannelArguments()),
      {.deadline = absl::Seconds(60), .actor_id = "demo", .bearer_token = impl_->internal_token});
  const client::SubmitReport report = client::SubmitAll(client, events, /*parallelism=*/8);
  if (!report.error.ok()) {
    return absl::Status(report.error.code(),
                        absl::StrCat("demo load: ", std::string(report.error.message())));
  }
  DemoLoadResult result{.appended = report.accepted,
                        .duplicates = report.duplicates,
                        .refused = report.refused,
                        .examples = report.examples};
  // The organisation's side: targets, marketing spend, market sizes and
  // review actions (docs/demo-data.md), appended in order.
  absl::TimeZone zone;
  if (!absl::LoadTimeZone(c.time_zone, &zone)) {
    return absl::InvalidArgumentError(absl::StrCat("domain.time_zone: unknown ", c.time_zone));
  }
  const std::vector<v1::OrgEvent> org = demo::GenerateDemoOrg({.seed = c.demo_seed,
                                                               .customers = c.demo_customers,
                                                               .end = impl_->clock->Now(),
                                                               .currency = c.currency},
                                                              events, zone);
  auto ingest = v1::EventIngest::NewStub(impl_->server->InProcessChannel(grpc::ChannelArguments()));
  constexpr size_t kBatch = 500;
  for (size_t i = 0; i < org.size(); i += kBatch) {
    v1::AppendOrgRequest request;
    for (size_t j = i; j < std::min(org.size(), i + kBatch); ++j) *request.add_events() = org[j];
    v1::AppendResponse response;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    ctx.AddMetadata("authorization", "Bearer " + impl_->internal_token);
    if (grpc::Status s = ingest->AppendOrg(&ctx, request, &response); !s.ok()) {
      return rpc::FromGrpcStatus(s, "demo load: organisation events: ");
    }
    for (const v1::AppendResult& r : response.results()) {
      ++(r.duplicate() ? result.org_duplicates : result.org_appended);
    }
  }
  return result;
}

void App::Shutdown() {
  {
    absl::MutexLock lock(&impl_->shutdown_mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  Impl& i = *impl_;
  spdlog::info("shutting down: http");
  if (i.http_server) i.http_server->Stop();
  // Pending consistency-token waits end now (UNAVAILABLE), so the server's
  // shutdown does not wait for their deadlines.
  for (ProjectionSlot* slot : i.Slots()) slot->AbandonWaits();
  spdlog::info("shutting down: subscriptions");
  if (i.subscriptions_service) i.subscriptions_service->Shutdown();
  spdlog::info("shutting down: grpc");
  if (i.server) i.server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  spdlog::info("shutting down: command view");
  if (i.command_core) i.command_core->Stop();
  if (i.owners_refresher.joinable()) {
    i.stop_refresher.Notify();
    i.owners_refresher.join();
  }
  if (i.group_member) {
    spdlog::info("shutting down: leaving the consumer group");
    if (absl::Status s = i.group_member->Close(); !s.ok()) {
      spdlog::error("leaving the consumer group: {}", s.ToString());
    }
  }
  for (const auto& s : i.singletons) {
    if (s->member == nullptr) continue;
    spdlog::info("shutting down: leaving the {} election", s->name);
    if (absl::Status st = s->member->Close(); !st.ok()) {
      spdlog::error("leaving the {} election: {}", s->name, st.ToString());
    }
  }
  spdlog::info("shutting down: projections");
  for (ProjectionSlot* slot : i.Slots()) {
    if (absl::Status s = slot->Stop(); !s.ok()) {
      spdlog::error("stopping {} projection: {}", slot->name(), s.ToString());
    }
  }
  spdlog::info("shutting down: log");
  if (i.server) i.server->Wait();
  i.server.reset();
  // After the server: no handler runs any more; queued work finishes.
  i.gateway.reset();
  i.lifecycle.reset();
  i.value.reset();
  i.review.reset();
  i.command_core.reset();
  if (i.log) {
    if (absl::Status s = i.log->Close(); !s.ok()) spdlog::error("closing log: {}", s.ToString());
  }
  i.done.Notify();
}

void App::Wait() { impl_->done.WaitForNotification(); }

}  // namespace custops::app

// The all-in-one process (custops/app/app.h): App::Impl::Open, which opens
// the log and the roles this instance runs, joins the lifecycle group and the
// value/review elections on Kafka, and starts everything; and App itself:
// Start, the demo loader, Shutdown. The gRPC server and readiness are in
// app_server.cc, the HTTP surface in app_http.cc, metrics in app_metrics.cc.
#include "custops/app/app.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "app_impl.h"
#include "custops/base/clock.h"
#include "custops/base/status_macros.h"
#include "custops/client/bulk.h"
#include "custops/demo/demo.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/lifecycle/lifecycle_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/kafka_event_log.h"
#include "custops/log/kafka_group.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_stack.h"
#include "custops/rpc/status.h"
#include "custops/value/value_projection.h"
#include "custops/value/value_service.h"

namespace custops::app {

namespace {

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
  ASSIGN_OR_RETURN(auto listen, internal::SplitHostPort(config.listen, "server.listen"));
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

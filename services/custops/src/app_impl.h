// Internal to the app library: App::Impl, the state of the all-in-one process
// that app.cc (roles, log, groups, elections, start, shutdown), app_server.cc
// (gRPC server, exposure, readiness), app_http.cc (HTTP surface) and
// app_metrics.cc (metrics) share, and the helpers more than one of them uses.
#ifndef CUSTOPS_APP_APP_IMPL_H_
#define CUSTOPS_APP_APP_IMPL_H_

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "custops/admin/admin_service.h"
#include "custops/app/app.h"
#include "custops/app/config.h"
#include "custops/base/clock.h"
#include "custops/command/command_core.h"
#include "custops/complaints/complaints_service.h"
#include "custops/customers/customers_service.h"
#include "custops/deals/deals_service.h"
#include "custops/ingest/ingest_service.h"
#include "custops/ingest/subscriptions_service.h"
#include "custops/log/event_log.h"
#include "custops/log/kafka_group.h"
#include "custops/rpc/auth.h"
#include "custops/rpc/connect.h"
#include "custops/rpc/gateway.h"
#include "custops/rpc/health.h"
#include "custops/rpc/http_server.h"
#include "custops/rpc/metrics.h"
#include "custops/rpc/routing.h"
#include "custops/rpc/singleton_router.h"
#include "custops/rpc/static_files.h"
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

namespace internal {

// The file at `path`, whole; INVALID_ARGUMENT naming config `key` when it
// cannot be read or is empty.
inline absl::StatusOr<std::string> ReadFile(const std::string& path, std::string_view key) {
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

// "host:port" split; INVALID_ARGUMENT naming config `key` otherwise.
inline absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address,
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

// Whether `host` ("[::1]" brackets allowed) names this machine only.
inline bool IsLoopback(std::string host) {
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  return host == "localhost" || host == "::1" || absl::StartsWith(host, "127.");
}

}  // namespace internal

}  // namespace custops::app

#endif  // CUSTOPS_APP_APP_IMPL_H_

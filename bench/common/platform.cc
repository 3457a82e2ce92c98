#include "common/platform.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <grpcpp/support/channel_arguments.h>
#include <grpcpp/support/client_interceptor.h>

#include <chrono>
#include <fstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/rpc/auth.h"
#include "custops/rpc/status.h"
#include "custops/v1/admin.grpc.pb.h"

namespace custops::bench {
namespace {

// Adds the bearer token to every call of a channel.
class BearerInterceptor final : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(std::string value) : value_(std::move(value)) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", value_});
    }
    methods->Proceed();
  }

 private:
  std::string value_;
};

class BearerFactory final : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerFactory(std::string token) : value_(absl::StrCat("Bearer ", token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerInterceptor(value_);
  }

 private:
  std::string value_;
};

}  // namespace

absl::StatusOr<Target> StartTarget(const TargetOptions& options) {
  Target target;
  if (!options.server.empty()) {
    target.address = options.server;
    target.token = options.token;
    target.description = absl::StrCat("server at ", options.server);
  } else {
    target.data_dir = std::make_unique<TempDir>("custops-load");
    app::Config config;
    config.listen = "127.0.0.1:0";
    config.metrics_listen = "";
    config.data_dir = target.data_dir->path();
    config.sync = options.sync;
    config.partitions = options.partitions;
    config.max_events_per_request = options.max_events_per_request;
    config.log_level = "warn";
    if (options.auth != "off") {
      const std::string secret = "custops-bench-secret-0123456789abcdef";
      config.jwt_hs256_secret_file = target.data_dir->path() + "/jwt.secret";
      std::ofstream(config.jwt_hs256_secret_file) << secret;
      config.jwt_cache_entries = options.auth == "uncached" ? 0 : 10000;
      absl::StatusOr<std::string> token =
          rpc::MintHs256(secret, {.subject = "bench",
                                  .roles = {"admin"},
                                  .expires = absl::Now() + absl::Hours(24),
                                  .issued_at = absl::Now()});
      if (!token.ok()) return token.status();
      target.token = *token;
    }
    absl::StatusOr<std::unique_ptr<app::App>> app = app::App::Start(config);
    if (!app.ok()) return app.status();
    target.app = std::move(app).value();
    target.address = target.app->address();
    target.description = absl::StrCat("in-process custops at ", target.address,
                                      " (sync=", options.sync ? "true" : "false", ", ",
                                      options.partitions, " partitions, auth ", options.auth, ")");
  }
  absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(target.address, target.token);
  if (!channel.ok()) return channel.status();
  absl::StatusOr<ProjectionProgress> progress = LifecycleProgress(**channel);
  if (!progress.ok()) return progress.status();
  return target;
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& address,
                                                          const std::string& token) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxSendMessageSize(64 << 20);
  args.SetMaxReceiveMessageSize(64 << 20);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  if (!token.empty()) interceptors.push_back(std::make_unique<BearerFactory>(token));
  std::shared_ptr<grpc::Channel> channel = grpc::experimental::CreateCustomChannelWithInterceptors(
      address, grpc::InsecureChannelCredentials(), args, std::move(interceptors));
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address));
  }
  return channel;
}

absl::StatusOr<std::map<std::string, ProjectionProgress>> Progress(grpc::Channel& channel) {
  std::unique_ptr<v1::Admin::Stub> admin =
      v1::Admin::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](grpc::Channel*) {}));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::StatusResponse response;
  grpc::Status status = admin->Status(&context, v1::StatusRequest(), &response);
  if (!status.ok()) {
    return rpc::FromGrpcStatus(status, "Admin.Status: ");
  }
  std::map<std::string, ProjectionProgress> out;
  for (const v1::ProjectionStatus& p : response.projections()) {
    ProjectionProgress& progress = out[p.name()];
    for (const v1::PartitionStatus& part : p.partitions()) {
      progress.applied += part.applied_offset() - part.log_start();
      progress.log_end += part.log_end() - part.log_start();
    }
  }
  return out;
}

absl::StatusOr<ProjectionProgress> LifecycleProgress(grpc::Channel& channel) {
  ASSIGN_OR_RETURN(auto all, Progress(channel));
  auto it = all.find("lifecycle");
  if (it == all.end()) return absl::NotFoundError("Admin.Status: no lifecycle projection");
  return it->second;
}

}  // namespace custops::bench

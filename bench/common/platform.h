// What the end-to-end load tools talk to: the whole custops platform started
// in-process (custops::app::App on 127.0.0.1 with a temporary data
// directory), or a server already running at --server.
//
//   ASSIGN_OR_RETURN(Target target, StartTarget({.server = "", .sync = false}));
//   auto channel = NewChannel(target.address);  // its own TCP connection
#ifndef CUSTOPS_BENCH_COMMON_PLATFORM_H_
#define CUSTOPS_BENCH_COMMON_PLATFORM_H_

#include <grpcpp/channel.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/tool.h"
#include "custops/app/app.h"

namespace custops::bench {

struct TargetOptions {
  // host:port of a running custops; empty starts one in-process. Default: ""
  std::string server;
  // In-process only: fsync the event log on every append. Default: true
  bool sync = true;
  // In-process only: partitions of every topic. Default: 12
  int partitions = 12;
  // In-process only: largest Append batch the server accepts. Default: 1000
  int max_events_per_request = 1000;
  // In-process only: bearer-token auth (HS256, docs/security.md): "off",
  // "cached" (verified tokens kept, the default of a server with auth) or
  // "uncached" (every call verifies its signature). Default: "off"
  std::string auth = "off";
  // A running server (--server): the token to send. Default: ""
  std::string token;
};

struct Target {
  // Set when the platform runs in-process (data_dir is removed afterwards).
  std::unique_ptr<TempDir> data_dir;
  std::unique_ptr<app::App> app;
  // host:port to dial.
  std::string address;
  // "in-process custops (sync=true, 12 partitions)" or "server at host:port".
  std::string description;
  // Sent as "authorization: Bearer ..." on every call when not empty.
  std::string token;
};

// Starts the platform in-process or checks that --server answers Admin.Status.
absl::StatusOr<Target> StartTarget(const TargetOptions& options);

// A channel with its own TCP connection (a local subchannel pool), large
// message limits, connected (or failing) within 10 s; every call carries
// `token` as a bearer token when it is not empty.
absl::StatusOr<std::shared_ptr<grpc::Channel>> NewChannel(const std::string& address,
                                                          const std::string& token = "");

struct ProjectionProgress {
  int64_t applied = 0;  // records consumed, summed over partitions
  int64_t log_end = 0;  // records in the log, summed over partitions
  int64_t lag() const { return log_end - applied; }
};

// Every projection's progress by name ("lifecycle", "value", "review"),
// from Admin.Status.
absl::StatusOr<std::map<std::string, ProjectionProgress>> Progress(grpc::Channel& channel);

// The lifecycle projection's progress, from Admin.Status.
absl::StatusOr<ProjectionProgress> LifecycleProgress(grpc::Channel& channel);

}  // namespace custops::bench

#endif  // CUSTOPS_BENCH_COMMON_PLATFORM_H_

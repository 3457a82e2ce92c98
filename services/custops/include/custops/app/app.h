// The all-in-one custops process: the embedded event log, every projection and
// every service in one binary (embedded mode, docs/architecture.md "Services").
//
//   ASSIGN_OR_RETURN(auto app, App::Start(config));
//   std::cout << "listening on " << app->address();
//   app->Wait();  // until Shutdown() from a signal handler thread
#ifndef CUSTOPS_APP_APP_H_
#define CUSTOPS_APP_APP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "custops/app/config.h"

namespace custops::app {

struct DemoLoadResult {
  int64_t appended = 0;
  int64_t duplicates = 0;
  // Demo actions the command services refused, with a few examples.
  int64_t refused = 0;
  std::vector<std::string> examples;
  // Organisation events (targets, spend, market sizes, review actions).
  int64_t org_appended = 0;
  int64_t org_duplicates = 0;
};

class App {
 public:
  // Opens the data directory, starts projections, gRPC and metrics.
  // INVALID_ARGUMENT for a bad config; UNAVAILABLE when a port or the data
  // directory is taken.
  static absl::StatusOr<std::unique_ptr<App>> Start(const Config& config);
  ~App();

  // The bound gRPC address ("127.0.0.1:50051"; the real port when 0 was asked).
  std::string address() const;
  // The bound metrics port, 0 when disabled.
  int metrics_port() const;
  // Whether the HTTP listener serves the ops console at / (its files were
  // found: Config::console_dir).
  bool console_served() const;

  // Sends the demo population through the command services over gRPC (one
  // business action per demo event, 8 customers at a time). Idempotent: the
  // request ids are the demo's deterministic event ids, so a second load
  // adds nothing.
  absl::StatusOr<DemoLoadResult> LoadDemo();

  // Stops accepting calls, drains, stops projections, closes the log.
  // Idempotent and thread-safe.
  void Shutdown();
  // Blocks until Shutdown() has completed.
  void Wait();

 private:
  struct Impl;
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace custops::app

#endif  // CUSTOPS_APP_APP_H_

// Runs the real custops binary as a child process for integration tests:
// start on a free loopback port, wait until it answers, kill it
// with SIGKILL (a crash) or SIGTERM (a graceful stop), start it again.
#ifndef CUSTOPS_TESTS_TESTING_SERVER_PROCESS_H_
#define CUSTOPS_TESTS_TESTING_SERVER_PROCESS_H_

#include <grpcpp/grpcpp.h>
#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"

namespace custops::testing {

// A free TCP port on 127.0.0.1 (bound and released; good enough for tests).
int FreePort();

class ServerProcess {
 public:
  // `binary`: path to custops; `args`: extra flags (--data-dir is required).
  ServerProcess(std::string binary, std::vector<std::string> args);
  ~ServerProcess();

  // Starts the child and waits (up to `timeout`) until Admin.Status answers.
  absl::Status Start(absl::Duration timeout = absl::Seconds(60));
  // SIGKILL and reap: a crash at whatever instant it is in.
  void Kill();
  // SIGTERM and wait for a clean exit; returns its exit status (0 = clean).
  int Stop(absl::Duration timeout = absl::Seconds(60));
  bool running() const { return pid_ > 0; }

  const std::string& address() const { return address_; }
  std::shared_ptr<grpc::Channel> Channel() const;

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string address_;
  pid_t pid_ = -1;
};

}  // namespace custops::testing

#endif  // CUSTOPS_TESTS_TESTING_SERVER_PROCESS_H_

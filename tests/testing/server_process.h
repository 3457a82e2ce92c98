// Runs the real custops binary as a child process for integration tests:
// start on a free loopback port, wait until it answers, kill it
// with SIGKILL (a crash) or SIGTERM (a graceful stop), start it again.
//
// For a server with TLS and/or token auth, set the channel credentials and
// the bearer token before Start(): the readiness probe and every Channel()
// use them.
//
//   testing::ServerProcess server(CUSTOPS_BINARY, {"--data-dir", dir, "--jwt-hs256-secret-file",
//   f}); server.set_probe_token(reader_jwt);       // "authorization: Bearer <jwt>"
//   server.set_stderr_file(dir + "/stderr");  // read audit lines from it
//   ASSERT_TRUE(server.Start().ok());
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

// The test broker's host:port: $CUSTOPS_KAFKA_BOOTSTRAP, else the first line
// of the file $CUSTOPS_KAFKA_BOOTSTRAP_FILE (written by the `kafka` ctest
// fixture); "" when neither is set.
std::string KafkaBootstrap();

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
  // The child's process id (-1 when not running).
  pid_t pid() const { return pid_; }

  const std::string& address() const { return address_; }
  // A channel to address() with the credentials, token and target name
  // override set below (plaintext and no token by default).
  std::shared_ptr<grpc::Channel> Channel() const;

  // Channel credentials of the probe and of Channel() (e.g. grpc::SslCredentials).
  // Default: grpc::InsecureChannelCredentials().
  void set_credentials(std::shared_ptr<grpc::ChannelCredentials> credentials) {
    credentials_ = std::move(credentials);
  }
  // A JWT sent as "authorization: Bearer <token>" by the probe and on every
  // call of Channel(); empty (the default) sends none.
  void set_probe_token(std::string token) { token_ = std::move(token); }
  // The TLS target name Channel() checks the server certificate against
  // (GRPC_SSL_TARGET_NAME_OVERRIDE_ARG). Default: none.
  void set_ssl_target_name_override(std::string name) { target_name_ = std::move(name); }
  // Files the child's stderr / stdout go to (truncated at Start). Default:
  // stderr inherited, stdout discarded.
  void set_stderr_file(std::string path) { stderr_file_ = std::move(path); }
  void set_stdout_file(std::string path) { stdout_file_ = std::move(path); }

 private:
  std::string binary_;
  std::vector<std::string> args_;
  std::string address_;
  pid_t pid_ = -1;
  std::shared_ptr<grpc::ChannelCredentials> credentials_;
  std::string token_;
  std::string target_name_;
  std::string stderr_file_;
  std::string stdout_file_;
};

}  // namespace custops::testing

#endif  // CUSTOPS_TESTS_TESTING_SERVER_PROCESS_H_

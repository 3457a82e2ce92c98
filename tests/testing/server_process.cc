#include "server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grpcpp/support/client_interceptor.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "custops/v1/admin.grpc.pb.h"

namespace custops::testing {

namespace {

// Adds "authorization: Bearer <token>" to every call of a channel.
class BearerInterceptor : public grpc::experimental::Interceptor {
 public:
  explicit BearerInterceptor(const std::string& token) : header_("Bearer " + token) {}
  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_INITIAL_METADATA)) {
      methods->GetSendInitialMetadata()->insert({"authorization", header_});
    }
    methods->Proceed();
  }

 private:
  std::string header_;
};

class BearerInterceptorFactory : public grpc::experimental::ClientInterceptorFactoryInterface {
 public:
  explicit BearerInterceptorFactory(std::string token) : token_(std::move(token)) {}
  grpc::experimental::Interceptor* CreateClientInterceptor(
      grpc::experimental::ClientRpcInfo* /*info*/) override {
    return new BearerInterceptor(token_);
  }

 private:
  std::string token_;
};

}  // namespace

std::string KafkaBootstrap() {
  if (const char* b = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP"); b != nullptr && *b != '\0') return b;
  const char* file = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr) return "";
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

int FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

ServerProcess::ServerProcess(std::string binary, std::vector<std::string> args)
    : binary_(std::move(binary)), args_(std::move(args)) {
  address_ = absl::StrCat("127.0.0.1:", FreePort());
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Kill();
}

std::shared_ptr<grpc::Channel> ServerProcess::Channel() const {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 200);
  if (!target_name_.empty()) args.SetSslTargetNameOverride(target_name_);
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      credentials_ ? credentials_ : grpc::InsecureChannelCredentials();
  if (token_.empty()) return grpc::CreateCustomChannel(address_, credentials, args);
  std::vector<std::unique_ptr<grpc::experimental::ClientInterceptorFactoryInterface>> interceptors;
  interceptors.push_back(std::make_unique<BearerInterceptorFactory>(token_));
  return grpc::experimental::CreateCustomChannelWithInterceptors(address_, credentials, args,
                                                                 std::move(interceptors));
}

absl::Status ServerProcess::Start(absl::Duration timeout) {
  std::vector<std::string> argv = {binary_, "--listen", address_};
  if (std::find(args_.begin(), args_.end(), "--metrics-listen") == args_.end() &&
      std::find(args_.begin(), args_.end(), "--http-listen") == args_.end()) {
    argv.insert(argv.end(), {"--metrics-listen", ""});
  }
  argv.insert(argv.end(), args_.begin(), args_.end());
  // Everything the child needs is prepared before fork (only
  // async-signal-safe calls between fork and exec).
  std::vector<char*> cargv;
  for (std::string& a : argv) cargv.push_back(a.data());
  cargv.push_back(nullptr);
  const char* out_path = stdout_file_.empty() ? "/dev/null" : stdout_file_.c_str();
  const char* err_path = stderr_file_.empty() ? nullptr : stderr_file_.c_str();
  pid_ = ::fork();
  if (pid_ < 0) return absl::InternalError("fork failed");
  if (pid_ == 0) {
    // Child: stdout quiet (or to its file), stderr kept for diagnosis (or to its file).
    int out = ::open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (out >= 0) ::dup2(out, STDOUT_FILENO);
    if (err_path != nullptr) {
      int err = ::open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (err >= 0) ::dup2(err, STDERR_FILENO);
    }
    ::execv(cargv[0], cargv.data());
    ::_exit(127);
  }
  // Ready = the port accepts connections and Admin.Status answers (the
  // server listens only after recovery). Probing TCP first keeps the gRPC
  // channel out of its reconnect backoff.
  const int port = std::stoi(address_.substr(address_.rfind(':') + 1));
  const absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return absl::InternalError(absl::StrCat("custops exited early with status ", status));
    }
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    const bool open = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    ::close(fd);
    if (open) {
      auto stub = v1::Admin::NewStub(Channel());
      grpc::ClientContext ctx;
      ctx.set_wait_for_ready(true);
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      v1::StatusRequest req;
      v1::StatusResponse resp;
      if (stub->Status(&ctx, req, &resp).ok()) return absl::OkStatus();
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return absl::DeadlineExceededError("custops did not become SERVING in time");
}

void ServerProcess::Kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  int status = 0;
  ::waitpid(pid_, &status, 0);
  pid_ = -1;
}

int ServerProcess::Stop(absl::Duration timeout) {
  if (pid_ <= 0) return -1;
  ::kill(pid_, SIGTERM);
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  while (absl::Now() < deadline) {
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  Kill();
  return -2;
}

}  // namespace custops::testing

// The HTTP server's internals (custops/rpc/http_server.h), shared by its
// files: ServerCore, the state the server, its MHD callbacks and every
// exchange share; Exchange, one request from its headers to its completion;
// the rate-limited log and the watcher of suspended connections' sockets;
// and the MHD callbacks HttpServer::Start installs. http_server.cc holds the
// server (start, stop, the listener, TLS credentials, MHD's log),
// http_connection.cc a connection's request (parsing, client certificates,
// the access and completion callbacks, hang-ups) and http_exchange.cc the
// answers (Exchange, responses and streams). Internal to the http library.
#ifndef CUSTOPS_RPC_SRC_HTTP_SERVER_INTERNAL_H_
#define CUSTOPS_RPC_SRC_HTTP_SERVER_INTERNAL_H_

#include <microhttpd.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/rpc/http_server.h"

namespace custops::rpc::http_internal {

// ASCII lower case of `text` (header names).
std::string Lower(std::string_view text);

// MHD's error log and our own warnings: at most kLogLinesPerSecond
// (http_server.cc) lines a second; the number of lines dropped is logged
// with the next line let through (or at Flush).
class LogLimiter {
 public:
  void Log(std::string_view line);
  void Flush();

 private:
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int lines_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

// Something whose socket is watched for a hang-up.
class Watched {
 public:
  virtual ~Watched() = default;
  virtual void OnHangup(uint64_t token) = 0;
};

// Watches the sockets of suspended connections (which MHD does not poll) for
// the client hanging up: one thread, one epoll set, EPOLLRDHUP (EPOLLHUP and
// EPOLLERR come anyway). A registration is identified by a token, so an
// event harvested after the registration was dropped finds nothing.
class HangupWatcher {
 public:
  ~HangupWatcher() { Stop(); }

  absl::Status Start();
  void Stop();

  // Returns the registration's token; 0 when the socket cannot be watched.
  uint64_t Watch(int fd, std::weak_ptr<Watched> watched);
  void Unwatch(int fd, uint64_t token);

 private:
  void Run();

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, std::weak_ptr<Watched>> watched_ ABSL_GUARDED_BY(mu_);
};

class Exchange;

// State shared by the server, its MHD callbacks and every exchange (which
// keep it alive after the HttpServer is gone).
class ServerCore : public std::enable_shared_from_this<ServerCore> {
 public:
  HttpServerOptions options;
  HttpHandler handler;  // reset by Shutdown, after MHD's threads are joined
  bool tls = false;
  bool verify_clients = false;
  std::string cert_pem;
  std::string key_pem;
  std::string ca_pem;
  int listen_fd = -1;
  MHD_Daemon* daemon = nullptr;
  LogLimiter log;
  HangupWatcher watcher;

  ~ServerCore() {
    if (listen_fd >= 0) ::close(listen_fd);
  }

  // Adds a live exchange; false once the server is stopping.
  bool Register(const std::shared_ptr<Exchange>& exchange) {
    absl::MutexLock lock(&mu_);
    if (stopping_) return false;
    live_.emplace(exchange.get(), exchange);
    return true;
  }

  void Unregister(Exchange* exchange) {
    absl::MutexLock lock(&mu_);
    live_.erase(exchange);
  }

  bool stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  // Stops MHD and ends every exchange. Called once, not from an MHD thread.
  void Shutdown();

 private:
  std::vector<std::shared_ptr<Exchange>> Live() {
    absl::MutexLock lock(&mu_);
    std::vector<std::shared_ptr<Exchange>> out;
    for (auto& [raw, weak] : live_) {
      if (auto exchange = weak.lock()) out.push_back(std::move(exchange));
    }
    return out;
  }

  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::unordered_map<Exchange*, std::weak_ptr<Exchange>> live_ ABSL_GUARDED_BY(mu_);
};

// One request on one connection, from its headers to its completion.
//
// The MHD_Connection is touched from other threads in exactly one way: to
// resume it while it is suspended, under `mu_`. A suspended connection
// cannot complete (MHD does not process it; Shutdown resumes every one
// before stopping MHD), so `connection_` is valid whenever `suspended_`.
// Besides, Send may shutdown(2) the socket of a stream over its queue cap,
// under `mu_` and only before completion: MHD closes the socket after it
// notifies completion, never before. Everything else runs on the
// connection's MHD thread.
class Exchange final : public Watched, public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(std::shared_ptr<ServerCore> core, MHD_Connection* connection, int fd)
      : core_(std::move(core)), connection_(connection), fd_(fd) {}

  HttpRequest& request() { return request_; }

  // --- MHD thread -------------------------------------------------------

  MHD_Result OnBody(const char* data, size_t size);

  // The request is complete: the first time, hand it to the handler; then
  // queue the answer if there is one, else suspend until there is.
  MHD_Result OnRequestComplete();

  ssize_t ReadStream(char* buffer, size_t max);

  // MHD's request-completed notification (also at daemon shutdown).
  void OnCompleted() { Complete(); }

  // --- any thread ---------------------------------------------------------

  void OnHangup(uint64_t token) override;

  void BeginStop();

  // Ends an exchange MHD never completed (only a safety net in Shutdown).
  void ForceComplete() { Complete(); }

  void Respond(HttpResponse response);
  void StartStream(int status, std::string content_type,
                   std::vector<std::pair<std::string, std::string>> headers);
  bool Send(std::string chunk);
  void Close();
  bool closed() const;
  void OnClose(absl::AnyInvocable<void()> callback);

  // Every handle the handler got is gone.
  void Abandon();

 private:
  enum class Answer { kNone, kResponse, kStream, kAbort };

  std::shared_ptr<HttpExchange> MakeHandle();

  bool ClosedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return completed_ || client_gone_ || stopping_ || overflow_;
  }

  // On the MHD thread, from the access handler or the content reader.
  void Suspend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Resume() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  MHD_Result QueueStream();
  void Complete();

  const std::shared_ptr<ServerCore> core_;
  // MHD thread only.
  HttpRequest request_;
  bool handler_called_ = false;
  bool too_large_ = false;
  size_t discarded_ = 0;

  mutable absl::Mutex mu_;
  MHD_Connection* connection_ ABSL_GUARDED_BY(mu_);
  const int fd_;
  bool suspended_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t watch_token_ ABSL_GUARDED_BY(mu_) = 0;
  bool completed_ ABSL_GUARDED_BY(mu_) = false;
  bool client_gone_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  Answer answer_ ABSL_GUARDED_BY(mu_) = Answer::kNone;
  std::optional<HttpResponse> response_ ABSL_GUARDED_BY(mu_);
  HttpResponse stream_head_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> chunks_ ABSL_GUARDED_BY(mu_);
  size_t front_offset_ ABSL_GUARDED_BY(mu_) = 0;
  size_t queued_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  bool stream_end_ ABSL_GUARDED_BY(mu_) = false;
  bool overflow_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<absl::AnyInvocable<void()>> on_close_ ABSL_GUARDED_BY(mu_);
};

// Queues `text` as the complete response, of `status`, on `connection` (from
// its access handler). In http_exchange.cc.
MHD_Result QueueText(MHD_Connection* connection, int status, std::string text, LogLimiter& log);

// MHD's callbacks (HttpServer::Start), in http_connection.cc. `cls` is the
// ServerCore for OnAccess.
MHD_Result OnAccess(void* cls, MHD_Connection* connection, const char* url, const char* method,
                    const char* version, const char* upload_data, size_t* upload_data_size,
                    void** con_cls);
void OnCompleted(void* cls, MHD_Connection* connection, void** con_cls,
                 MHD_RequestTerminationCode code);
// Mutual TLS: make the handshake itself require and verify the client
// certificate (MHD only asks for one, GNUTLS_CERT_REQUEST, and verifies
// nothing). The session exists once MHD announces the connection.
void OnConnection(void* cls, MHD_Connection* connection, void** socket_context,
                  MHD_ConnectionNotificationCode code);

}  // namespace custops::rpc::http_internal

#endif  // CUSTOPS_RPC_SRC_HTTP_SERVER_INTERNAL_H_

#include "custops/rpc/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <deque>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>
#include <unordered_map>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"

namespace custops::rpc {
namespace {

// (Debian's Abseil has its own string_view, so no absl::AsciiStrToLower on
// std::string_view.)
std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

}  // namespace

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string HttpRequest::Query(std::string_view name) const {
  for (const auto& [key, value] : query) {
    if (key == name) return value;
  }
  return "";
}

namespace http_internal {
namespace {

constexpr int kLogLinesPerSecond = 5;
constexpr size_t kStreamBlockBytes = 32 << 10;

// MHD's error log and our own warnings: at most kLogLinesPerSecond lines a
// second; the number of lines dropped is logged with the next line let
// through (or at Flush).
class LogLimiter {
 public:
  void Log(std::string_view line) {
    int64_t suppressed = 0;
    {
      absl::MutexLock lock(&mu_);
      absl::Time now = absl::Now();
      if (now - window_start_ >= absl::Seconds(1)) {
        window_start_ = now;
        lines_ = 0;
        suppressed = suppressed_;
        suppressed_ = 0;
      }
      if (lines_ >= kLogLinesPerSecond) {
        ++suppressed_;
        return;
      }
      ++lines_;
    }
    if (suppressed > 0) spdlog::warn("http: {} log lines suppressed", suppressed);
    spdlog::warn("http: {}", line);
  }

  void Flush() {
    int64_t suppressed = 0;
    {
      absl::MutexLock lock(&mu_);
      suppressed = suppressed_;
      suppressed_ = 0;
    }
    if (suppressed > 0) spdlog::warn("http: {} log lines suppressed", suppressed);
  }

 private:
  absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int lines_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t suppressed_ ABSL_GUARDED_BY(mu_) = 0;
};

// What MHD says when this file ends a connection on purpose (the client went
// away, Close() before an answer, a stream overflowed or the server stops):
// not worth a warning.
constexpr std::string_view kExpectedMhdLines[] = {
    "Application reported internal error, closing connection.",
    "Closing connection (application error generating response).",
};

void MhdLog(void* cls, const char* format, va_list args) {
  char buffer[512];
  int n = std::vsnprintf(buffer, sizeof(buffer), format, args);
  if (n < 0) return;
  std::string_view line(buffer, std::min(static_cast<size_t>(n), sizeof(buffer) - 1));
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  for (std::string_view expected : kExpectedMhdLines) {
    if (line == expected) {
      spdlog::debug("http: {}", line);
      return;
    }
  }
  static_cast<LogLimiter*>(cls)->Log(line);
}

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

  absl::Status Start() {
    epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
    wake_fd_ = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (epoll_fd_ < 0 || wake_fd_ < 0) {
      return absl::InternalError(absl::StrCat("http: epoll/eventfd: ", std::strerror(errno)));
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = 0;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, wake_fd_, &event) != 0) {
      return absl::InternalError(absl::StrCat("http: epoll_ctl: ", std::strerror(errno)));
    }
    thread_ = std::thread([this] { Run(); });
    return absl::OkStatus();
  }

  void Stop() {
    if (thread_.joinable()) {
      stop_.store(true);
      uint64_t one = 1;
      [[maybe_unused]] ssize_t n = ::write(wake_fd_, &one, sizeof(one));
      thread_.join();
    }
    if (epoll_fd_ >= 0) ::close(epoll_fd_);
    if (wake_fd_ >= 0) ::close(wake_fd_);
    epoll_fd_ = wake_fd_ = -1;
  }

  // Returns the registration's token; 0 when the socket cannot be watched.
  uint64_t Watch(int fd, std::weak_ptr<Watched> watched) {
    absl::MutexLock lock(&mu_);
    if (epoll_fd_ < 0) return 0;
    uint64_t token = next_token_++;
    epoll_event event{};
    event.events = EPOLLRDHUP | EPOLLONESHOT;
    event.data.u64 = token;
    if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &event) != 0) return 0;
    watched_.emplace(token, std::move(watched));
    return token;
  }

  void Unwatch(int fd, uint64_t token) {
    if (token == 0) return;
    absl::MutexLock lock(&mu_);
    watched_.erase(token);
    ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
  }

 private:
  void Run() {
    epoll_event events[64];
    while (!stop_.load()) {
      int n = ::epoll_wait(epoll_fd_, events, 64, -1);
      for (int i = 0; i < n; ++i) {
        uint64_t token = events[i].data.u64;
        if (token == 0) continue;  // the wake-up eventfd
        std::shared_ptr<Watched> watched;
        {
          absl::MutexLock lock(&mu_);
          auto it = watched_.find(token);
          if (it != watched_.end()) watched = it->second.lock();
        }
        if (watched != nullptr) watched->OnHangup(token);
      }
    }
  }

  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  absl::Mutex mu_;
  uint64_t next_token_ ABSL_GUARDED_BY(mu_) = 1;
  std::unordered_map<uint64_t, std::weak_ptr<Watched>> watched_ ABSL_GUARDED_BY(mu_);
};

unsigned int ClampStatus(int status) {
  return status >= 100 && status <= 599 ? static_cast<unsigned int>(status) : 500u;
}

void AddHeaders(MHD_Response* response, const std::string& content_type,
                const std::vector<std::pair<std::string, std::string>>& headers, LogLimiter& log) {
  bool has_server = false;
  for (const auto& [name, value] : headers) {
    if (Lower(name) == "server") has_server = true;
    if (MHD_add_response_header(response, name.c_str(), value.c_str()) != MHD_YES) {
      log.Log(absl::StrCat("response header refused: ", name));
    }
  }
  if (!content_type.empty()) {
    if (MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, content_type.c_str()) !=
        MHD_YES) {
      log.Log(absl::StrCat("response Content-Type refused: ", content_type));
    }
  }
  if (!has_server) MHD_add_response_header(response, MHD_HTTP_HEADER_SERVER, "custops");
}

void FreeBody(void* cls) { delete static_cast<std::string*>(cls); }

// Queues a complete response on `connection` (from its access handler).
MHD_Result QueueResponse(MHD_Connection* connection, HttpResponse response, LogLimiter& log) {
  auto* body = new std::string(std::move(response.body));
  MHD_Response* mhd = MHD_create_response_from_buffer_with_free_callback_cls(
      body->size(), body->data(), &FreeBody, body);
  if (mhd == nullptr) {
    delete body;
    return MHD_NO;
  }
  AddHeaders(mhd, response.content_type, response.headers, log);
  MHD_Result result = MHD_queue_response(connection, ClampStatus(response.status), mhd);
  MHD_destroy_response(mhd);
  return result;
}

MHD_Result QueueText(MHD_Connection* connection, int status, std::string text, LogLimiter& log) {
  return QueueResponse(connection, {.status = status, .body = std::move(text)}, log);
}

std::string PeerAddress(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (info == nullptr || info->client_addr == nullptr) return "";
  char text[INET6_ADDRSTRLEN] = {};
  const sockaddr* addr = info->client_addr;
  if (addr->sa_family == AF_INET) {
    ::inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(addr)->sin_addr, text, sizeof(text));
  } else if (addr->sa_family == AF_INET6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(addr)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      ::inet_ntop(AF_INET, &a6.s6_addr[12], text, sizeof(text));
    } else {
      ::inet_ntop(AF_INET6, &a6, text, sizeof(text));
    }
  }
  return text;
}

gnutls_session_t TlsSession(MHD_Connection* connection) {
  const MHD_ConnectionInfo* info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_GNUTLS_SESSION);
  return info == nullptr ? nullptr : static_cast<gnutls_session_t>(info->tls_session);
}

// True when the TLS peer presented a certificate chain that verifies against
// the server's trust list (tls_client_ca_file); sets `subject` to its DN.
bool VerifyClientCertificate(MHD_Connection* connection, std::string* subject) {
  gnutls_session_t session = TlsSession(connection);
  if (session == nullptr) return false;
  unsigned int status = 0;
  if (gnutls_certificate_verify_peers2(session, &status) != GNUTLS_E_SUCCESS || status != 0) {
    return false;
  }
  unsigned int count = 0;
  const gnutls_datum_t* chain = gnutls_certificate_get_peers(session, &count);
  if (chain == nullptr || count == 0) return false;
  gnutls_x509_crt_t cert;
  if (gnutls_x509_crt_init(&cert) != GNUTLS_E_SUCCESS) return false;
  if (gnutls_x509_crt_import(cert, &chain[0], GNUTLS_X509_FMT_DER) == GNUTLS_E_SUCCESS) {
    gnutls_datum_t dn{};
    if (gnutls_x509_crt_get_dn3(cert, &dn, 0) == GNUTLS_E_SUCCESS) {
      subject->assign(reinterpret_cast<const char*>(dn.data), dn.size);
      gnutls_free(dn.data);
    }
  }
  gnutls_x509_crt_deinit(cert);
  return true;
}

MHD_Result CollectHeader(void* cls, MHD_ValueKind, const char* key, size_t key_size,
                         const char* value, size_t value_size) {
  auto* headers = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name = Lower(std::string_view(key, key_size));
  std::string_view text = value == nullptr ? "" : std::string_view(value, value_size);
  auto [it, inserted] = headers->emplace(std::move(name), text);
  if (!inserted) {
    it->second += ", ";
    it->second += text;
  }
  return MHD_YES;
}

MHD_Result CollectQuery(void* cls, MHD_ValueKind, const char* key, size_t key_size,
                        const char* value, size_t value_size) {
  auto* query = static_cast<std::vector<std::pair<std::string, std::string>>*>(cls);
  query->emplace_back(std::string(key, key_size),
                      value == nullptr ? std::string() : std::string(value, value_size));
  return MHD_YES;
}

}  // namespace

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

  MHD_Result OnBody(const char* data, size_t size) {
    size_t limit = core_->options.max_body_bytes;
    if (too_large_) {
      discarded_ += size;
      return discarded_ > 2 * limit ? MHD_NO : MHD_YES;
    }
    if (request_.body.size() + size > limit) {
      too_large_ = true;
      discarded_ = request_.body.size() + size;
      std::string().swap(request_.body);
      return MHD_YES;
    }
    request_.body.append(data, size);
    return MHD_YES;
  }

  // The request is complete: the first time, hand it to the handler; then
  // queue the answer if there is one, else suspend until there is.
  MHD_Result OnRequestComplete() {
    if (!handler_called_) {
      handler_called_ = true;
      if (too_large_) {
        {
          absl::MutexLock lock(&mu_);
          answer_ = Answer::kResponse;
        }
        return QueueText(connection_, 413, "request body too large\n", core_->log);
      }
      std::shared_ptr<HttpExchange> handle = MakeHandle();
      core_->handler(request_, handle);
      request_ = HttpRequest();
      handle.reset();  // answers 500 when the handler kept no reference
    }
    std::optional<HttpResponse> response;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_ || client_gone_ || answer_ == Answer::kAbort) return MHD_NO;
      switch (answer_) {
        case Answer::kNone:
          Suspend();
          return MHD_YES;
        case Answer::kResponse:
          response = std::move(response_);
          response_.reset();
          break;
        case Answer::kStream:
          break;
        case Answer::kAbort:
          return MHD_NO;
      }
    }
    if (response.has_value()) return QueueResponse(connection_, *std::move(response), core_->log);
    return QueueStream();
  }

  ssize_t ReadStream(char* buffer, size_t max) {
    absl::MutexLock lock(&mu_);
    if (stopping_ || client_gone_ || overflow_) return MHD_CONTENT_READER_END_WITH_ERROR;
    size_t n = 0;
    while (n < max && !chunks_.empty()) {
      std::string& front = chunks_.front();
      size_t take = std::min(max - n, front.size() - front_offset_);
      std::memcpy(buffer + n, front.data() + front_offset_, take);
      n += take;
      front_offset_ += take;
      queued_bytes_ -= take;
      if (front_offset_ == front.size()) {
        chunks_.pop_front();
        front_offset_ = 0;
      }
    }
    if (n > 0) return static_cast<ssize_t>(n);
    if (stream_end_) return MHD_CONTENT_READER_END_OF_STREAM;
    // Nothing to send: returning 0 without suspending would make MHD call
    // again at once (a busy loop). Suspend; Send/Close/Stop resume.
    Suspend();
    return 0;
  }

  // MHD's request-completed notification (also at daemon shutdown).
  void OnCompleted() { Complete(); }

  // --- any thread ---------------------------------------------------------

  void OnHangup(uint64_t token) override {
    absl::MutexLock lock(&mu_);
    if (!suspended_ || token != watch_token_) return;
    client_gone_ = true;
    Resume();
  }

  void BeginStop() {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
    if (suspended_) Resume();
  }

  // Ends an exchange MHD never completed (only a safety net in Shutdown).
  void ForceComplete() { Complete(); }

  void Respond(HttpResponse response) {
    absl::MutexLock lock(&mu_);
    if (answer_ != Answer::kNone || ClosedLocked()) return;
    answer_ = Answer::kResponse;
    response_ = std::move(response);
    if (suspended_) Resume();
  }

  void StartStream(int status, std::string content_type,
                   std::vector<std::pair<std::string, std::string>> headers) {
    absl::MutexLock lock(&mu_);
    if (answer_ != Answer::kNone || ClosedLocked()) return;
    answer_ = Answer::kStream;
    stream_head_ = {
        .status = status, .content_type = std::move(content_type), .headers = std::move(headers)};
    if (suspended_) Resume();
  }

  bool Send(std::string chunk) {
    bool overflowed = false;
    {
      absl::MutexLock lock(&mu_);
      if (answer_ != Answer::kStream || stream_end_ || ClosedLocked()) return false;
      if (chunk.empty()) return true;
      if (queued_bytes_ + chunk.size() > core_->options.max_stream_queue_bytes) {
        overflow_ = true;
        chunks_.clear();
        queued_bytes_ = 0;
        if (suspended_) {
          Resume();
        } else if (!completed_) {
          // MHD is blocked writing to a client that does not read; it would
          // notice only at the idle timeout. The socket stays open until
          // the request completes (MHD closes it after notifying), so
          // shutting it down here is safe and makes the write fail now.
          ::shutdown(fd_, SHUT_RDWR);
        }
        overflowed = true;
      } else {
        queued_bytes_ += chunk.size();
        chunks_.push_back(std::move(chunk));
        if (suspended_) Resume();
      }
    }
    if (overflowed) {
      core_->log.Log(absl::StrCat("stream closed: client does not read (more than ",
                                  core_->options.max_stream_queue_bytes, " bytes queued)"));
      return false;
    }
    return true;
  }

  void Close() {
    absl::MutexLock lock(&mu_);
    if (ClosedLocked()) return;
    if (answer_ == Answer::kNone) {
      answer_ = Answer::kAbort;
    } else if (answer_ == Answer::kStream) {
      stream_end_ = true;
    } else {
      return;
    }
    if (suspended_) Resume();
  }

  bool closed() const {
    absl::MutexLock lock(&mu_);
    return ClosedLocked();
  }

  void OnClose(absl::AnyInvocable<void()> callback) {
    {
      absl::MutexLock lock(&mu_);
      if (!completed_) {
        on_close_.push_back(std::move(callback));
        return;
      }
    }
    callback();
  }

  // Every handle the handler got is gone.
  void Abandon() {
    bool unanswered = false;
    {
      absl::MutexLock lock(&mu_);
      if (ClosedLocked()) return;
      if (answer_ == Answer::kNone) {
        unanswered = true;
        answer_ = Answer::kResponse;
        response_ = HttpResponse{.status = 500, .body = "request dropped without an answer\n"};
      } else if (answer_ == Answer::kStream && !stream_end_) {
        stream_end_ = true;
      } else {
        return;
      }
      if (suspended_) Resume();
    }
    if (unanswered) core_->log.Log("handler dropped an exchange without answering: sent 500");
  }

 private:
  enum class Answer { kNone, kResponse, kStream, kAbort };

  std::shared_ptr<HttpExchange> MakeHandle();

  bool ClosedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return completed_ || client_gone_ || stopping_ || overflow_;
  }

  // On the MHD thread, from the access handler or the content reader.
  void Suspend() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    MHD_suspend_connection(connection_);
    suspended_ = true;
    watch_token_ = core_->watcher.Watch(fd_, weak_from_this());
    if (watch_token_ == 0) {
      core_->log.Log(
          "cannot watch a suspended connection for hang-ups; its client leaving "
          "goes unnoticed until it is answered");
    }
  }

  void Resume() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    core_->watcher.Unwatch(fd_, watch_token_);
    watch_token_ = 0;
    suspended_ = false;
    MHD_resume_connection(connection_);
  }

  MHD_Result QueueStream() {
    HttpResponse head;
    {
      absl::MutexLock lock(&mu_);
      head = std::move(stream_head_);
    }
    auto* holder = new std::shared_ptr<Exchange>(shared_from_this());
    MHD_Response* mhd = MHD_create_response_from_callback(
        MHD_SIZE_UNKNOWN, kStreamBlockBytes,
        [](void* cls, uint64_t, char* buffer, size_t max) {
          return (*static_cast<std::shared_ptr<Exchange>*>(cls))->ReadStream(buffer, max);
        },
        holder, [](void* cls) { delete static_cast<std::shared_ptr<Exchange>*>(cls); });
    if (mhd == nullptr) {
      delete holder;
      return MHD_NO;
    }
    AddHeaders(mhd, head.content_type, head.headers, core_->log);
    MHD_Result result = MHD_queue_response(connection_, ClampStatus(head.status), mhd);
    MHD_destroy_response(mhd);
    return result;
  }

  void Complete() {
    std::vector<absl::AnyInvocable<void()>> callbacks;
    std::optional<HttpResponse> response;
    std::deque<std::string> chunks;
    {
      absl::MutexLock lock(&mu_);
      if (completed_) return;
      completed_ = true;
      if (suspended_) {  // not expected: MHD completes only running connections
        core_->watcher.Unwatch(fd_, watch_token_);
        suspended_ = false;
      }
      connection_ = nullptr;
      callbacks.swap(on_close_);
      response.swap(response_);
      chunks.swap(chunks_);
      queued_bytes_ = 0;
    }
    core_->Unregister(this);
    for (auto& callback : callbacks) callback();
  }

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

namespace {

// What the handler holds. When the last one goes, an unanswered exchange is
// answered 500 and an open stream is closed.
class ExchangeHandle final : public HttpExchange {
 public:
  explicit ExchangeHandle(std::shared_ptr<Exchange> exchange) : exchange_(std::move(exchange)) {}
  ~ExchangeHandle() override { exchange_->Abandon(); }

  void Respond(HttpResponse response) override { exchange_->Respond(std::move(response)); }
  void StartStream(int status, std::string content_type,
                   std::vector<std::pair<std::string, std::string>> headers) override {
    exchange_->StartStream(status, std::move(content_type), std::move(headers));
  }
  bool Send(std::string chunk) override { return exchange_->Send(std::move(chunk)); }
  void Close() override { exchange_->Close(); }
  bool closed() const override { return exchange_->closed(); }
  void OnClose(absl::AnyInvocable<void()> callback) override {
    exchange_->OnClose(std::move(callback));
  }

 private:
  const std::shared_ptr<Exchange> exchange_;
};

using ExchangeHolder = std::shared_ptr<Exchange>;

MHD_Result OnAccess(void* cls, MHD_Connection* connection, const char* url, const char* method,
                    const char* /*version*/, const char* upload_data, size_t* upload_data_size,
                    void** con_cls) {
  auto* core = static_cast<ServerCore*>(cls);
  if (auto* holder = static_cast<ExchangeHolder*>(*con_cls); holder != nullptr) {
    Exchange& exchange = **holder;
    if (*upload_data_size > 0) {
      MHD_Result result = exchange.OnBody(upload_data, *upload_data_size);
      *upload_data_size = 0;
      return result;
    }
    return exchange.OnRequestComplete();
  }

  // First call for this request: the headers are in.
  if (core->stopping()) return MHD_NO;
  std::string subject;
  if (core->verify_clients && !VerifyClientCertificate(connection, &subject)) {
    return QueueText(connection, 403, "client certificate required\n", core->log);
  }
  if (const char* length =
          MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
      length != nullptr) {
    uint64_t bytes = 0;
    if (absl::SimpleAtoi(length, &bytes) && bytes > core->options.max_body_bytes) {
      return QueueText(connection, 413, "request body too large\n", core->log);
    }
  }
  const MHD_ConnectionInfo* fd_info =
      MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CONNECTION_FD);
  if (fd_info == nullptr) return MHD_NO;
  auto exchange =
      std::make_shared<Exchange>(core->shared_from_this(), connection, fd_info->connect_fd);
  HttpRequest& request = exchange->request();
  request.method = method;
  request.path = url;
  MHD_get_connection_values_n(connection, MHD_GET_ARGUMENT_KIND, &CollectQuery, &request.query);
  MHD_get_connection_values_n(connection, MHD_HEADER_KIND, &CollectHeader, &request.headers);
  request.peer = PeerAddress(connection);
  request.tls = core->tls;
  request.client_cert_subject = std::move(subject);
  if (!core->Register(exchange)) return MHD_NO;
  *con_cls = new ExchangeHolder(std::move(exchange));
  return MHD_YES;
}

void OnCompleted(void* /*cls*/, MHD_Connection* /*connection*/, void** con_cls,
                 MHD_RequestTerminationCode /*code*/) {
  auto* holder = static_cast<ExchangeHolder*>(*con_cls);
  if (holder == nullptr) return;
  *con_cls = nullptr;
  (*holder)->OnCompleted();
  delete holder;
}

// Mutual TLS: make the handshake itself require and verify the client
// certificate (MHD only asks for one, GNUTLS_CERT_REQUEST, and verifies
// nothing). The session exists once MHD announces the connection.
void OnConnection(void* /*cls*/, MHD_Connection* connection, void** /*socket_context*/,
                  MHD_ConnectionNotificationCode code) {
  if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
  gnutls_session_t session = TlsSession(connection);
  if (session == nullptr) return;
  gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_cert(session, nullptr, 0);
}

absl::StatusOr<std::string> ReadPem(const std::string& path, const char* flag) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, ": cannot read ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream out;
  out << in.rdbuf();
  std::string text = out.str();
  if (text.empty()) return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " is empty"));
  return text;
}

gnutls_datum_t Datum(const std::string& text) {
  return {reinterpret_cast<unsigned char*>(const_cast<char*>(text.data())),
          static_cast<unsigned int>(text.size())};
}

absl::Status CheckCertificates(const std::string& pem, const std::string& path, const char* flag) {
  gnutls_datum_t datum = Datum(pem);
  gnutls_x509_crt_t* certs = nullptr;
  unsigned int count = 0;
  int rc = gnutls_x509_crt_list_import2(&certs, &count, &datum, GNUTLS_X509_FMT_PEM, 0);
  for (unsigned int i = 0; i < count; ++i) gnutls_x509_crt_deinit(certs[i]);
  gnutls_free(certs);
  if (rc < 0 || count == 0) {
    return absl::InvalidArgumentError(absl::StrCat(flag, ": ", path, " holds no PEM certificate: ",
                                                   rc < 0 ? gnutls_strerror(rc) : "none found"));
  }
  return absl::OkStatus();
}

absl::Status CheckKey(const std::string& cert_pem, const std::string& key_pem,
                      const HttpServerOptions& options) {
  gnutls_datum_t key_datum = Datum(key_pem);
  gnutls_x509_privkey_t key;
  if (gnutls_x509_privkey_init(&key) != GNUTLS_E_SUCCESS) {
    return absl::InternalError("http: gnutls_x509_privkey_init failed");
  }
  int rc = gnutls_x509_privkey_import2(key, &key_datum, GNUTLS_X509_FMT_PEM, nullptr, 0);
  gnutls_x509_privkey_deinit(key);
  if (rc < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "tls.key_file: ", options.tls_key_file,
        " holds no usable PEM private key (an unencrypted one is needed): ", gnutls_strerror(rc)));
  }
  gnutls_certificate_credentials_t credentials;
  if (gnutls_certificate_allocate_credentials(&credentials) != GNUTLS_E_SUCCESS) {
    return absl::InternalError("http: gnutls_certificate_allocate_credentials failed");
  }
  gnutls_datum_t cert_datum = Datum(cert_pem);
  rc = gnutls_certificate_set_x509_key_mem(credentials, &cert_datum, &key_datum,
                                           GNUTLS_X509_FMT_PEM);
  gnutls_certificate_free_credentials(credentials);
  if (rc < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("tls.key_file: ", options.tls_key_file, " does not go with tls.cert_file ",
                     options.tls_cert_file, ": ", gnutls_strerror(rc)));
  }
  return absl::OkStatus();
}

absl::Status LoadTls(const HttpServerOptions& options, ServerCore& core) {
  bool any = !options.tls_cert_file.empty() || !options.tls_key_file.empty() ||
             !options.tls_client_ca_file.empty();
  if (!any) return absl::OkStatus();
  if (options.tls_cert_file.empty()) {
    return absl::InvalidArgumentError(
        "tls.cert_file: required when tls.key_file or tls.client_ca_file is set");
  }
  if (options.tls_key_file.empty()) {
    return absl::InvalidArgumentError("tls.key_file: required when tls.cert_file is set");
  }
  auto cert = ReadPem(options.tls_cert_file, "tls.cert_file");
  if (!cert.ok()) return cert.status();
  if (absl::Status s = CheckCertificates(*cert, options.tls_cert_file, "tls.cert_file"); !s.ok()) {
    return s;
  }
  auto key = ReadPem(options.tls_key_file, "tls.key_file");
  if (!key.ok()) return key.status();
  if (absl::Status s = CheckKey(*cert, *key, options); !s.ok()) return s;
  core.cert_pem = *std::move(cert);
  core.key_pem = *std::move(key);
  core.tls = true;
  if (!options.tls_client_ca_file.empty()) {
    auto ca = ReadPem(options.tls_client_ca_file, "tls.client_ca_file");
    if (!ca.ok()) return ca.status();
    if (absl::Status s = CheckCertificates(*ca, options.tls_client_ca_file, "tls.client_ca_file");
        !s.ok()) {
      return s;
    }
    core.ca_pem = *std::move(ca);
    core.verify_clients = true;
  }
  return absl::OkStatus();
}

struct Listener {
  int fd = -1;
  int port = 0;
  bool ipv6 = false;
  bool dual_stack = false;
};

absl::StatusOr<Listener> Listen(const std::string& host, int port) {
  if (port < 0 || port > 65535) {
    return absl::InvalidArgumentError(absl::StrCat("http port out of range: ", port));
  }
  sockaddr_storage storage{};
  socklen_t length = 0;
  Listener listener;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in);
  } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    length = sizeof(sockaddr_in6);
    listener.ipv6 = true;
    listener.dual_stack = IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
  } else {
    return absl::InvalidArgumentError(
        absl::StrCat("http address: not an IPv4 or IPv6 literal: ", host));
  }
  int fd = ::socket(storage.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("http socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (listener.ipv6) {
    int v6only = listener.dual_stack ? 0 : 1;
    ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
      ::listen(fd, SOMAXCONN) != 0) {
    std::string error = std::strerror(errno);
    ::close(fd);
    std::string address = listener.ipv6 ? absl::StrCat("[", host, "]") : host;
    return absl::UnavailableError(absl::StrCat("http listen on ", address, ":", port, ": ", error));
  }
  length = sizeof(storage);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
  listener.port = ntohs(storage.ss_family == AF_INET ? v4->sin_port : v6->sin6_port);
  listener.fd = fd;
  return listener;
}

}  // namespace

std::shared_ptr<HttpExchange> Exchange::MakeHandle() {
  return std::make_shared<ExchangeHandle>(shared_from_this());
}

void ServerCore::Shutdown() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  // Resume every suspended connection (MHD must not be stopped with one) and
  // keep any from being suspended again; MHD then closes them all, which
  // completes their exchanges (firing OnClose).
  for (const std::shared_ptr<Exchange>& exchange : Live()) exchange->BeginStop();
  if (daemon != nullptr) {
    MHD_stop_daemon(daemon);
    daemon = nullptr;
  }
  watcher.Stop();
  for (const std::shared_ptr<Exchange>& exchange : Live()) exchange->ForceComplete();
  handler = nullptr;  // drops what the handler captured (it may hold exchanges)
  if (listen_fd >= 0) {
    ::close(listen_fd);
    listen_fd = -1;
  }
  log.Flush();
}

}  // namespace http_internal

absl::StatusOr<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options,
                                                              HttpHandler handler) {
  using http_internal::ServerCore;
  if (handler == nullptr) return absl::InvalidArgumentError("http: a handler is required");
  if (options.threads < 1) {
    return absl::InvalidArgumentError(absl::StrCat("http threads must be >= 1: ", options.threads));
  }
  if (options.max_connections < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("http max_connections must be >= 1: ", options.max_connections));
  }
  if (options.max_stream_queue_bytes == 0) {
    return absl::InvalidArgumentError("http max_stream_queue_bytes must be > 0");
  }
  auto core = std::make_shared<ServerCore>();
  core->options = options;
  core->handler = std::move(handler);
  if (absl::Status s = http_internal::LoadTls(options, *core); !s.ok()) return s;
  auto listener = http_internal::Listen(options.host, options.port);
  if (!listener.ok()) return listener.status();
  core->listen_fd = listener->fd;
  // MHD closes the socket it is given at stop; it gets a duplicate so that
  // the original is closed exactly once, by us, whatever MHD does on failure.
  int mhd_fd = ::fcntl(listener->fd, F_DUPFD_CLOEXEC, 0);
  if (mhd_fd < 0) return absl::UnavailableError(absl::StrCat("http dup: ", std::strerror(errno)));
  if (absl::Status s = core->watcher.Start(); !s.ok()) {
    ::close(mhd_fd);
    return s;
  }

  unsigned int flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (core->tls) flags |= MHD_USE_TLS;
  if (listener->ipv6) flags |= listener->dual_stack ? MHD_USE_DUAL_STACK : MHD_USE_IPv6;
  double timeout = absl::ToDoubleSeconds(options.idle_timeout);
  unsigned int timeout_seconds = timeout <= 0     ? 0u
                                 : timeout >= 1e6 ? 1000000u
                                                  : static_cast<unsigned int>(std::ceil(timeout));
  std::vector<MHD_OptionItem> items = {
      {MHD_OPTION_LISTEN_SOCKET, mhd_fd, nullptr},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, static_cast<intptr_t>(options.connection_memory_bytes),
       nullptr},
      {MHD_OPTION_CONNECTION_LIMIT, options.max_connections, nullptr},
      {MHD_OPTION_CONNECTION_TIMEOUT, static_cast<intptr_t>(timeout_seconds), nullptr},
      {MHD_OPTION_NOTIFY_COMPLETED, reinterpret_cast<intptr_t>(&http_internal::OnCompleted),
       core.get()},
  };
  if (options.threads > 1) items.push_back({MHD_OPTION_THREAD_POOL_SIZE, options.threads, nullptr});
  if (core->tls) {
    items.push_back({MHD_OPTION_HTTPS_MEM_CERT, 0, const_cast<char*>(core->cert_pem.c_str())});
    items.push_back({MHD_OPTION_HTTPS_MEM_KEY, 0, const_cast<char*>(core->key_pem.c_str())});
  }
  if (core->verify_clients) {
    items.push_back({MHD_OPTION_HTTPS_MEM_TRUST, 0, const_cast<char*>(core->ca_pem.c_str())});
    items.push_back({MHD_OPTION_NOTIFY_CONNECTION,
                     reinterpret_cast<intptr_t>(&http_internal::OnConnection), nullptr});
  }
  items.push_back({MHD_OPTION_END, 0, nullptr});
  core->daemon = MHD_start_daemon(flags, static_cast<uint16_t>(listener->port), nullptr, nullptr,
                                  &http_internal::OnAccess, core.get(), MHD_OPTION_EXTERNAL_LOGGER,
                                  &http_internal::MhdLog, &core->log, MHD_OPTION_ARRAY,
                                  items.data(), MHD_OPTION_END);
  if (core->daemon == nullptr) {
    core->watcher.Stop();
    return absl::InternalError(absl::StrCat("http: MHD failed to start on ", options.host, ":",
                                            listener->port, " (see the log)"));
  }
  int port = listener->port;
  return std::unique_ptr<HttpServer>(new HttpServer(std::move(core), port));
}

HttpServer::HttpServer(std::shared_ptr<http_internal::ServerCore> core, int port)
    : core_(std::move(core)), port_(port) {}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::Stop() {
  absl::MutexLock lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  core_->Shutdown();
}

}  // namespace custops::rpc

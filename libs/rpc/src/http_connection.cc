// A connection's request: what HttpRequest is read from (the headers, the
// query, the peer's address, the client certificate of mutual TLS), MHD's
// access, completion and connection callbacks that create an Exchange per
// request and feed it the body, and the watcher of suspended connections'
// sockets for hang-ups.
#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "custops/rpc/http_server.h"
#include "http_server_internal.h"

namespace custops::rpc {

std::string HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(http_internal::Lower(name));
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

using ExchangeHolder = std::shared_ptr<Exchange>;

}  // namespace

// (Debian's Abseil has its own string_view, so no absl::AsciiStrToLower on
// std::string_view.)
std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = absl::ascii_tolower(static_cast<unsigned char>(c));
  return out;
}

absl::Status HangupWatcher::Start() {
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

void HangupWatcher::Stop() {
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

uint64_t HangupWatcher::Watch(int fd, std::weak_ptr<Watched> watched) {
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

void HangupWatcher::Unwatch(int fd, uint64_t token) {
  if (token == 0) return;
  absl::MutexLock lock(&mu_);
  watched_.erase(token);
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void HangupWatcher::Run() {
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

void OnConnection(void* /*cls*/, MHD_Connection* connection, void** /*socket_context*/,
                  MHD_ConnectionNotificationCode code) {
  if (code != MHD_CONNECTION_NOTIFY_STARTED) return;
  gnutls_session_t session = TlsSession(connection);
  if (session == nullptr) return;
  gnutls_certificate_server_set_request(session, GNUTLS_CERT_REQUIRE);
  gnutls_session_set_verify_cert(session, nullptr, 0);
}

}  // namespace http_internal
}  // namespace custops::rpc

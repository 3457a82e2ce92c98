// HttpServer: starting it (its options, the listening socket, the TLS
// credentials, MHD's daemon) and stopping it (ServerCore::Shutdown), and
// MHD's rate-limited log. A connection's request is in http_connection.cc,
// the answers in http_exchange.cc, what they share in
// http_server_internal.h.
#include "custops/rpc/http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "http_server_internal.h"
#include "spdlog/spdlog.h"

namespace custops::rpc {
namespace http_internal {
namespace {

constexpr int kLogLinesPerSecond = 5;

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

void LogLimiter::Log(std::string_view line) {
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

void LogLimiter::Flush() {
  int64_t suppressed = 0;
  {
    absl::MutexLock lock(&mu_);
    suppressed = suppressed_;
    suppressed_ = 0;
  }
  if (suppressed > 0) spdlog::warn("http: {} log lines suppressed", suppressed);
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

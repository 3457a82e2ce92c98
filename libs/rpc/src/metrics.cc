#include "custops/rpc/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"

namespace custops::rpc {
namespace {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (v == std::floor(v) && std::fabs(v) < 9e15) return absl::StrCat(static_cast<int64_t>(v));
  return absl::StrCat(v);
}

std::string EscapeLabel(const std::string& v) {
  return absl::StrReplaceAll(v, {{"\\", "\\\\"}, {"\"", "\\\""}, {"\n", "\\n"}});
}

}  // namespace

void MetricsWriter::Counter(const std::string& name, const std::string& help, const Labels& labels,
                            double value) {
  Sample(name, help, "counter", labels, value);
}

void MetricsWriter::Gauge(const std::string& name, const std::string& help, const Labels& labels,
                          double value) {
  Sample(name, help, "gauge", labels, value);
}

void MetricsWriter::Sample(const std::string& name, const std::string& help, const char* type,
                           const Labels& labels, double value) {
  if (std::find(declared_.begin(), declared_.end(), name) == declared_.end()) {
    declared_.push_back(name);
    absl::StrAppend(&out_, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
  }
  out_ += name;
  if (!labels.empty()) {
    out_ += "{";
    for (size_t i = 0; i < labels.size(); ++i) {
      absl::StrAppend(&out_, i ? "," : "", labels[i].first, "=\"", EscapeLabel(labels[i].second),
                      "\"");
    }
    out_ += "}";
  }
  absl::StrAppend(&out_, " ", FormatValue(value), "\n");
}

void MetricsRegistry::AddCollector(Collector collector) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collector));
}

std::string MetricsRegistry::Render() const {
  MetricsWriter writer;
  absl::MutexLock lock(&mu_);
  for (const Collector& c : collectors_) c(writer);
  return writer.Take();
}

absl::StatusOr<std::unique_ptr<MetricsHttpServer>> MetricsHttpServer::Start(
    const std::string& host, int port, const MetricsRegistry& registry) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::UnavailableError(absl::StrCat("metrics socket: ", std::strerror(errno)));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return absl::InvalidArgumentError(absl::StrCat("metrics address: not an IPv4 address: ", host));
  }
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 16) != 0) {
    std::string err = std::strerror(errno);
    ::close(fd);
    return absl::UnavailableError(absl::StrCat("metrics listen on ", host, ":", port, ": ", err));
  }
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return std::unique_ptr<MetricsHttpServer>(
      new MetricsHttpServer(fd, ntohs(addr.sin_port), registry));
}

MetricsHttpServer::MetricsHttpServer(int fd, int port, const MetricsRegistry& registry)
    : fd_(fd), port_(port), registry_(registry), thread_([this] { Serve(); }) {}

MetricsHttpServer::~MetricsHttpServer() { Stop(); }

void MetricsHttpServer::Stop() {
  if (stop_.exchange(true)) return;
  if (thread_.joinable()) thread_.join();
  ::close(fd_);
}

void MetricsHttpServer::Serve() {
  while (!stop_) {
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&pfd, 1, 200) <= 0) continue;
    int client = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    // One short request per connection; a slow client gets 2 s.
    timeval tv{.tv_sec = 2, .tv_usec = 0};
    ::setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(client, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    char buf[2048];
    ssize_t n = ::recv(client, buf, sizeof(buf) - 1, 0);
    std::string request(buf, n > 0 ? static_cast<size_t>(n) : 0);
    std::string status = "200 OK";
    std::string body;
    std::string type = "text/plain; version=0.0.4; charset=utf-8";
    if (request.starts_with("GET /metrics")) {
      body = registry_.Render();
    } else if (request.starts_with("GET /healthz")) {
      body = "ok\n";
    } else {
      status = "404 Not Found";
      body = "try /metrics\n";
    }
    std::string response =
        absl::StrCat("HTTP/1.1 ", status, "\r\nContent-Type: ", type,
                     "\r\nContent-Length: ", body.size(), "\r\nConnection: close\r\n\r\n", body);
    size_t sent = 0;
    while (sent < response.size()) {
      ssize_t w = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
      if (w <= 0) break;
      sent += static_cast<size_t>(w);
    }
    ::close(client);
  }
}

}  // namespace custops::rpc

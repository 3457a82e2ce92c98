#include "http_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

namespace custops::testing {
namespace {

// Reads from `fd` into `into` until `done(into)` or the deadline or EOF.
template <typename Done>
void ReadUntil(int fd, std::string& into, absl::Time deadline, Done done) {
  char buf[16384];
  while (!done(into) && absl::Now() < deadline) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    const int ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
    if (::poll(&p, 1, std::max(ms, 1)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    into.append(buf, static_cast<size_t>(n));
  }
}

// Parses "HTTP/1.1 200 OK\r\nName: v\r\n\r\n" into `reply`; the offset of
// the body, or npos when the head is incomplete or not HTTP.
size_t ParseHead(const std::string& raw, HttpReply& reply) {
  const size_t end = raw.find("\r\n\r\n");
  if (end == std::string::npos || !raw.starts_with("HTTP/1.")) return std::string::npos;
  if (!absl::SimpleAtoi(raw.substr(9, 3), &reply.status)) return std::string::npos;
  std::vector<std::string> lines = absl::StrSplit(raw.substr(0, end), "\r\n");
  for (size_t i = 1; i < lines.size(); ++i) {
    const size_t colon = lines[i].find(':');
    if (colon == std::string::npos) continue;
    std::string name = absl::AsciiStrToLower(lines[i].substr(0, colon));
    std::string value(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
    std::string& slot = reply.headers[name];
    slot = slot.empty() ? value : absl::StrCat(slot, ", ", value);
  }
  return end + 4;
}

// Decodes a chunked body; nullopt while incomplete.
std::optional<std::string> Dechunk(std::string_view in) {
  std::string out;
  while (true) {
    const size_t eol = in.find("\r\n");
    if (eol == std::string_view::npos) return std::nullopt;
    size_t size = 0;
    std::string hex(in.substr(0, eol));
    hex = hex.substr(0, hex.find(';'));
    if (!absl::SimpleHexAtoi(hex, &size)) return std::nullopt;
    in.remove_prefix(eol + 2);
    if (size == 0) return out;
    if (in.size() < size + 2) return std::nullopt;
    out.append(in.substr(0, size));
    in.remove_prefix(size + 2);
  }
}

bool SendAll(int fd, const std::string& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    const ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

int ConnectTcp(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

HttpReply HttpCall(int port, const std::string& method, const std::string& path,
                   const HttpHeaders& headers, const std::string& body, absl::Duration timeout) {
  HttpReply reply;
  const int fd = ConnectTcp(port);
  if (fd < 0) return reply;
  std::string request = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: 127.0.0.1:", port,
                                     "\r\nConnection: close\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  if (!body.empty() || method == "POST") {
    absl::StrAppend(&request, "Content-Length: ", body.size(), "\r\n");
  }
  request += "\r\n";
  request += body;
  // A server may answer (413) and close before taking the whole body: read
  // its answer all the same.
  (void)SendAll(fd, request);
  std::string raw;
  // Connection: close: the answer ends when the server closes.
  ReadUntil(fd, raw, absl::Now() + timeout, [](const std::string&) { return false; });
  ::close(fd);
  const size_t body_at = ParseHead(raw, reply);
  if (body_at == std::string::npos) return HttpReply{};
  std::string_view rest = std::string_view(raw).substr(body_at);
  if (absl::StrContains(absl::AsciiStrToLower(reply.Header("transfer-encoding")), "chunked")) {
    std::optional<std::string> plain = Dechunk(rest);
    if (!plain) return HttpReply{};
    reply.body = std::move(*plain);
  } else {
    reply.body = std::string(rest);
  }
  return reply;
}

HttpReply HttpGet(int port, const std::string& path, const std::string& token,
                  absl::Duration timeout) {
  HttpHeaders headers;
  if (!token.empty()) headers.emplace_back("Authorization", "Bearer " + token);
  return HttpCall(port, "GET", path, headers, "", timeout);
}

SseReader::SseReader(int port, const std::string& path, const std::string& token,
                     const HttpHeaders& headers, absl::Duration timeout) {
  fd_ = ConnectTcp(port);
  if (fd_ < 0) return;
  std::string request = absl::StrCat("GET ", path, " HTTP/1.0\r\nHost: 127.0.0.1:", port,
                                     "\r\nAccept: text/event-stream\r\n");
  if (!token.empty()) absl::StrAppend(&request, "Authorization: Bearer ", token, "\r\n");
  for (const auto& [name, value] : headers) absl::StrAppend(&request, name, ": ", value, "\r\n");
  request += "\r\n";
  if (!SendAll(fd_, request)) {
    Close();
    return;
  }
  ReadUntil(fd_, buffer_, absl::Now() + timeout,
            [](const std::string& raw) { return raw.find("\r\n\r\n") != std::string::npos; });
  const size_t body_at = ParseHead(buffer_, reply_);
  if (body_at == std::string::npos) {
    reply_ = HttpReply{};
    Close();
    return;
  }
  buffer_.erase(0, body_at);
  if (reply_.status != 200) {
    // An error answer: its JSON body, whole.
    ReadUntil(fd_, buffer_, absl::Now() + timeout, [](const std::string&) { return false; });
    reply_.body = buffer_;
    buffer_.clear();
    Close();
  }
}

SseReader::~SseReader() { Close(); }

void SseReader::Close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

std::optional<SseEvent> SseReader::Next(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const size_t end = buffer_.find("\n\n");
    if (end != std::string::npos) {
      SseEvent event;
      const std::string block = buffer_.substr(0, end);
      buffer_.erase(0, end + 2);
      bool any = false;
      for (absl::string_view line : absl::StrSplit(block, '\n')) {
        if (line.empty() || line.front() == ':') continue;  // a comment
        any = true;
        if (absl::ConsumePrefix(&line, "data: ")) {
          event.data += std::string(line);
        } else if (absl::ConsumePrefix(&line, "id: ")) {
          event.id = std::string(line);
        } else if (absl::ConsumePrefix(&line, "event: ")) {
          event.event = std::string(line);
        }
      }
      if (any) return event;
      continue;
    }
    if (fd_ < 0 || absl::Now() >= deadline) return std::nullopt;
    const size_t before = buffer_.size();
    ReadUntil(fd_, buffer_, deadline,
              [before](const std::string& raw) { return raw.size() > before; });
    if (buffer_.size() == before) {
      if (absl::Now() < deadline) Close();  // EOF
      return std::nullopt;
    }
  }
}

}  // namespace custops::testing

#include "custops/rpc/http_server.h"

#include <arpa/inet.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::Duration kTimeout = absl::Seconds(10);

// Polls `condition` until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition, absl::Duration timeout = kTimeout) {
  absl::Time deadline = absl::Now() + timeout;
  while (absl::Now() < deadline) {
    if (condition()) return true;
    absl::SleepFor(absl::Milliseconds(2));
  }
  return condition();
}

struct Response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
};

// A tiny blocking HTTP/1.1 client over one TCP connection; every read has a
// deadline.
class Conn {
 public:
  explicit Conn(int port, const std::string& host = "127.0.0.1", int receive_buffer = 0) {
    sockaddr_storage storage{};
    socklen_t length = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
      v4->sin_family = AF_INET;
      v4->sin_port = htons(static_cast<uint16_t>(port));
      length = sizeof(*v4);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
      v6->sin6_family = AF_INET6;
      v6->sin6_port = htons(static_cast<uint16_t>(port));
      length = sizeof(*v6);
    } else {
      return;
    }
    fd_ = ::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (receive_buffer > 0) {
      ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    }
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&storage), length) != 0) Close();
  }
  ~Conn() { Close(); }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }

  bool Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // Reads what is available into the buffer. False on EOF, error or deadline.
  bool Fill(absl::Time deadline) {
    if (fd_ < 0) return false;
    absl::Duration left = deadline - absl::Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    if (::poll(&pfd, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1) <= 0) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  // True when the server closes the connection before `timeout`, whatever it
  // sent first (kept in raw()).
  bool WaitForEof(absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
      int left = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())) + 1;
      if (::poll(&pfd, 1, left) <= 0) return false;
      char chunk[16384];
      ssize_t n = ::recv(fd_, chunk, sizeof(chunk), 0);
      if (n <= 0) return true;
      buffer_.append(chunk, static_cast<size_t>(n));
    }
    return false;
  }

  const std::string& raw() const { return buffer_; }

  // Reads a status line and headers (skipping "100 Continue").
  std::optional<Response> ReadHead(absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (true) {
      size_t end;
      while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
        if (!Fill(deadline)) return std::nullopt;
      }
      std::string head = buffer_.substr(0, end);
      buffer_.erase(0, end + 4);
      std::vector<std::string> lines = absl::StrSplit(head, "\r\n");
      Response response;
      std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
      if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &response.status)) {
        return std::nullopt;
      }
      for (size_t i = 1; i < lines.size(); ++i) {
        size_t colon = lines[i].find(':');
        if (colon == std::string::npos) continue;
        response.headers[absl::AsciiStrToLower(lines[i].substr(0, colon))] =
            std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1)));
      }
      if (response.status != 100) return response;
    }
  }

  // Reads one chunk of a chunked body: its data, "" for the last chunk,
  // nullopt on EOF or deadline.
  std::optional<std::string> ReadChunk(absl::Time deadline) {
    size_t eol;
    while ((eol = buffer_.find("\r\n")) == std::string::npos) {
      if (!Fill(deadline)) return std::nullopt;
    }
    size_t size = 0;
    if (!absl::SimpleHexAtoi(buffer_.substr(0, eol), &size)) return std::nullopt;
    while (buffer_.size() < eol + 2 + size + 2) {
      if (!Fill(deadline)) return std::nullopt;
    }
    std::string data = buffer_.substr(eol + 2, size);
    buffer_.erase(0, eol + 2 + size + 2);
    return data;
  }

  std::optional<Response> ReadResponse(absl::Duration timeout = kTimeout) {
    absl::Time deadline = absl::Now() + timeout;
    std::optional<Response> response = ReadHead(timeout);
    if (!response.has_value()) return std::nullopt;
    if (response->headers["transfer-encoding"] == "chunked") {
      while (true) {
        std::optional<std::string> chunk = ReadChunk(deadline);
        if (!chunk.has_value()) return std::nullopt;
        if (chunk->empty()) break;
        response->body += *chunk;
      }
    } else if (auto it = response->headers.find("content-length"); it != response->headers.end()) {
      size_t length = 0;
      if (!absl::SimpleAtoi(it->second, &length)) return std::nullopt;
      while (buffer_.size() < length) {
        if (!Fill(deadline)) return std::nullopt;
      }
      response->body = buffer_.substr(0, length);
      buffer_.erase(0, length);
    } else {
      while (Fill(deadline)) {
      }
      response->body = std::move(buffer_);
      buffer_.clear();
    }
    return response;
  }

 private:
  int fd_ = -1;
  std::string buffer_;
};

std::string Get(const std::string& path) {
  return absl::StrCat("GET ", path, " HTTP/1.1\r\nHost: test\r\n\r\n");
}

std::optional<Response> Fetch(int port, const std::string& request) {
  Conn conn(port);
  if (!conn.ok() || !conn.Send(request)) return std::nullopt;
  return conn.ReadResponse();
}

// Exchanges the handler parked, to be answered by the test.
class Parked {
 public:
  void Add(std::shared_ptr<HttpExchange> exchange) {
    exchange->OnClose([this] { closes_.fetch_add(1); });
    absl::MutexLock lock(&mu_);
    exchanges_.push_back(std::move(exchange));
  }
  size_t size() {
    absl::MutexLock lock(&mu_);
    return exchanges_.size();
  }
  std::shared_ptr<HttpExchange> at(size_t i) {
    absl::MutexLock lock(&mu_);
    return exchanges_.at(i);
  }
  std::vector<std::shared_ptr<HttpExchange>> Take() {
    absl::MutexLock lock(&mu_);
    return std::move(exchanges_);
  }
  int closes() const { return closes_.load(); }

 private:
  absl::Mutex mu_;
  std::vector<std::shared_ptr<HttpExchange>> exchanges_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> closes_{0};
};

std::unique_ptr<HttpServer> MustStart(HttpHandler handler, HttpServerOptions options = {}) {
  auto server = HttpServer::Start(options, std::move(handler));
  EXPECT_OK(server);
  return server.ok() ? *std::move(server) : nullptr;
}

TEST(HttpServerTest, GetParsesPathQueryAndLowerCasedHeaders) {
  auto server = MustStart([](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
    std::string out = absl::StrCat("method=", request.method, "\npath=", request.path, "\n");
    for (const auto& [key, value] : request.query)
      absl::StrAppend(&out, "q:", key, "=", value, "\n");
    bool lower = true;
    for (const auto& [name, value] : request.headers) lower &= name == absl::AsciiStrToLower(name);
    absl::StrAppend(&out, "lower=", lower, "\ncustom=", request.headers.at("x-custom-thing"),
                    "\nheader=", request.Header("X-Custom-Thing"),
                    "\nrepeated=", request.Header("x-repeated"), "\nfirst_a=", request.Query("a"),
                    "\nmissing=[", request.Query("zz"), request.Header("x-none"),
                    "]\npeer=", request.peer, "\ntls=", request.tls, "\n");
    exchange->Respond({.headers = {{"X-Reply", "yes"}}, .body = out});
  });
  ASSERT_NE(server, nullptr);
  auto response = Fetch(server->port(),
                        "GET /echo/a%20b?a=1&b=x%20y&a=2&flag HTTP/1.1\r\nHost: test\r\n"
                        "X-Custom-Thing: Value\r\nX-Repeated: 1\r\nX-Repeated: 2\r\n\r\n");
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body,
            "method=GET\npath=/echo/a b\nq:a=1\nq:b=x y\nq:a=2\nq:flag=\nlower=1\ncustom=Value\n"
            "header=Value\nrepeated=1, 2\nfirst_a=1\nmissing=[]\npeer=127.0.0.1\ntls=0\n");
  EXPECT_EQ(response->headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(response->headers["x-reply"], "yes");
  EXPECT_EQ(response->headers["server"], "custops");
}

TEST(HttpServerTest, PostBodyReachesHandlerWholeAndKeepAliveServesTheNextRequest) {
  auto server = MustStart([](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
    exchange->Respond({.status = 201,
                       .content_type = "application/json",
                       .body = absl::StrCat(request.method, " ", request.body.size(), " ",
                                            std::hash<std::string>()(request.body))});
  });
  ASSERT_NE(server, nullptr);
  std::string body;
  for (int i = 0; body.size() < (1 << 20) + 7; ++i) absl::StrAppend(&body, i, ",");
  Conn conn(server->port());
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn.Send(absl::StrCat(
      "POST /things HTTP/1.1\r\nHost: test\r\nContent-Length: ", body.size(), "\r\n\r\n")));
  for (size_t at = 0; at < body.size(); at += 100000) {
    ASSERT_TRUE(conn.Send(std::string_view(body).substr(at, 100000)));
  }
  auto first = conn.ReadResponse();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(first->status, 201);
  EXPECT_EQ(first->headers["content-type"], "application/json");
  EXPECT_EQ(first->body, absl::StrCat("POST ", body.size(), " ", std::hash<std::string>()(body)));
  // Same connection, a second request (with Expect: 100-continue).
  ASSERT_TRUE(conn.Send(
      "PUT /x HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello"));
  auto second = conn.ReadResponse();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->body, absl::StrCat("PUT 5 ", std::hash<std::string>()("hello")));
}

TEST(HttpServerTest, ContentLengthAboveTheLimitGets413BeforeTheBody) {
  std::atomic<int> calls{0};
  auto server = MustStart(
      [&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
        calls.fetch_add(1);
        exchange->Respond({});
      },
      {.max_body_bytes = 1024});
  ASSERT_NE(server, nullptr);
  // Headers only: the 413 must come without the server waiting for 100 MB.
  Conn conn(server->port());
  ASSERT_TRUE(conn.Send("POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: 100000000\r\n\r\n"));
  auto response = conn.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->status, 413);
  EXPECT_TRUE(conn.WaitForEof());  // the unread body makes MHD close
  // With Expect: 100-continue there is no "100 Continue" either.
  Conn expect(server->port());
  ASSERT_TRUE(expect.Send(
      "POST /x HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 2048\r\n\r\n"));
  ASSERT_TRUE(expect.WaitForEof());
  EXPECT_THAT(expect.raw(), StartsWith("HTTP/1.1 413"));
  // At the limit is fine.
  auto ok = Fetch(server->port(), absl::StrCat("POST /x HTTP/1.1\r\nHost: test\r\nContent-Length: "
                                               "1024\r\n\r\n",
                                               std::string(1024, 'x')));
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->status, 200);
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, ChunkedBodyAboveTheLimitGets413) {
  std::atomic<int> calls{0};
  auto server = MustStart(
      [&](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
        calls.fetch_add(1);
        exchange->Respond({.body = absl::StrCat(request.body.size())});
      },
      {.max_body_bytes = 1024});
  ASSERT_NE(server, nullptr);
  std::string chunk = absl::StrCat("258\r\n", std::string(600, 'y'), "\r\n");  // 0x258 = 600
  std::string head = "POST /x HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";
  auto big = Fetch(server->port(), absl::StrCat(head, chunk, chunk, chunk, "0\r\n\r\n"));
  ASSERT_TRUE(big.has_value());
  EXPECT_EQ(big->status, 413);
  // Past twice the limit the server stops reading: no answer, the connection closes.
  Conn endless(server->port());
  ASSERT_TRUE(endless.Send(head));
  for (int i = 0; i < 4; ++i) ASSERT_TRUE(endless.Send(chunk));
  EXPECT_TRUE(endless.WaitForEof());
  EXPECT_EQ(endless.raw(), "");
  auto small = Fetch(server->port(), absl::StrCat(head, chunk, "0\r\n\r\n"));
  ASSERT_TRUE(small.has_value());
  EXPECT_EQ(small->status, 200);
  EXPECT_EQ(small->body, "600");
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServerTest, IdleConnectionsDoNotDelayOtherRequests) {
  auto server =
      MustStart([](const HttpRequest&,
                   std::shared_ptr<HttpExchange> exchange) { exchange->Respond({.body = "pong"}); },
                {.threads = 2});
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<Conn>> idle;
  for (int i = 0; i < 50; ++i) {
    idle.push_back(std::make_unique<Conn>(server->port()));
    ASSERT_TRUE(idle.back()->ok());
  }
  // They are ahead of the next connection in the accept queue, so MHD holds
  // them all by the time it serves it. With a thread (or a blocking read) per
  // connection, two threads would be stuck on these; MHD's epoll loop is not.
  absl::Time start = absl::Now();
  auto response = Fetch(server->port(), Get("/ping"));
  absl::Duration took = absl::Now() - start;
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "pong");
  EXPECT_LT(took, absl::Seconds(1));
  // The idle connections are still open and usable.
  ASSERT_TRUE(idle[7]->Send(Get("/ping")));
  auto late = idle[7]->ReadResponse();
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->body, "pong");
}

TEST(HttpServerTest, AnswersFromAnotherThreadLaterDoNotBlockOtherRequests) {
  Parked parked;
  auto server = MustStart(
      [&](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
        if (request.path == "/slow") {
          parked.Add(std::move(exchange));
        } else {
          exchange->Respond({.body = "fast"});
        }
      },
      {.threads = 2});
  ASSERT_NE(server, nullptr);
  constexpr int kPending = 100;
  std::vector<std::unique_ptr<Conn>> slow;
  absl::Time sent = absl::Now();
  for (int i = 0; i < kPending; ++i) {
    slow.push_back(std::make_unique<Conn>(server->port()));
    ASSERT_TRUE(slow.back()->ok());
    ASSERT_TRUE(slow.back()->Send(Get(absl::StrCat("/slow?n=", i))));
  }
  ASSERT_TRUE(Eventually([&] { return parked.size() == kPending; }));
  // All 100 wait (suspended, holding no thread): another request is served.
  absl::Time start = absl::Now();
  auto fast = Fetch(server->port(), Get("/fast"));
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  ASSERT_TRUE(fast.has_value());
  EXPECT_EQ(fast->body, "fast");

  std::thread answerer([&] {
    absl::SleepFor(sent + absl::Milliseconds(200) - absl::Now());
    for (auto& exchange : parked.Take()) exchange->Respond({.body = "slow"});
  });
  for (auto& conn : slow) {
    auto response = conn->ReadResponse();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "slow");
  }
  EXPECT_GE(absl::Now() - sent, absl::Milliseconds(200));
  answerer.join();
  EXPECT_TRUE(Eventually([&] { return parked.closes() == kPending; }));
}

TEST(HttpServerTest, ClientDisconnectFiresOnCloseAndRespondIsANoop) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
    if (request.path == "/wait") {
      parked.Add(std::move(exchange));
    } else {
      exchange->Respond({.body = "still here"});
    }
  });
  ASSERT_NE(server, nullptr);
  {
    Conn conn(server->port());
    ASSERT_TRUE(conn.Send(Get("/wait")));
    ASSERT_TRUE(Eventually([&] { return parked.size() == 1; }));
    EXPECT_FALSE(parked.at(0)->closed());
  }  // the client goes away while its exchange is pending
  ASSERT_TRUE(Eventually([&] { return parked.closes() == 1; }));
  std::shared_ptr<HttpExchange> exchange = parked.at(0);
  EXPECT_TRUE(exchange->closed());
  exchange->Respond({.body = "too late"});  // no-op, no crash
  EXPECT_FALSE(exchange->Send("x"));
  std::atomic<bool> late_callback{false};
  exchange->OnClose([&] { late_callback = true; });  // already closed: runs at once
  EXPECT_TRUE(late_callback.load());
  auto response = Fetch(server->port(), Get("/other"));
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "still here");
}

TEST(HttpServerTest, RespondRacingClientDisconnectsIsClean) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    parked.Add(std::move(exchange));
  });
  ASSERT_NE(server, nullptr);
  constexpr int kClients = 200;
  std::vector<std::unique_ptr<Conn>> conns;
  for (int i = 0; i < kClients; ++i) {
    conns.push_back(std::make_unique<Conn>(server->port()));
    ASSERT_TRUE(conns.back()->Send(Get("/race")));
  }
  ASSERT_TRUE(Eventually([&] { return parked.size() == kClients; }));
  std::thread answerer([&] {
    for (auto& exchange : parked.Take()) exchange->Respond({.body = "raced"});
  });
  for (int i = 0; i < kClients; i += 2) conns[i]->Close();  // half leave meanwhile
  answerer.join();
  EXPECT_TRUE(Eventually([&] { return parked.closes() == kClients; }));
  for (int i = 1; i < kClients; i += 2) {
    auto response = conns[i]->ReadResponse();
    ASSERT_TRUE(response.has_value());
    EXPECT_EQ(response->body, "raced");
  }
}

TEST(HttpServerTest, DroppedExchangeIsAnswered500AndCloseBeforeAnswerDropsTheConnection) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
    if (request.path == "/close") parked.Add(std::move(exchange));
    // "/drop": the handler keeps nothing and answers nothing.
  });
  ASSERT_NE(server, nullptr);
  auto dropped = Fetch(server->port(), Get("/drop"));
  ASSERT_TRUE(dropped.has_value());
  EXPECT_EQ(dropped->status, 500);

  Conn conn(server->port());
  ASSERT_TRUE(conn.Send(Get("/close")));
  ASSERT_TRUE(Eventually([&] { return parked.size() == 1; }));
  parked.at(0)->Close();
  EXPECT_TRUE(conn.WaitForEof());
  EXPECT_EQ(conn.raw(), "");
  EXPECT_TRUE(Eventually([&] { return parked.closes() == 1; }));
}

TEST(HttpServerTest, ServerSentEventsArriveInOrder) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->StartStream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
    parked.Add(std::move(exchange));
  });
  ASSERT_NE(server, nullptr);
  Conn conn(server->port());
  ASSERT_TRUE(conn.Send(Get("/events")));
  auto head = conn.ReadHead();
  ASSERT_TRUE(head.has_value());
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->headers["content-type"], "text/event-stream");
  EXPECT_EQ(head->headers["cache-control"], "no-cache");
  EXPECT_EQ(head->headers["transfer-encoding"], "chunked");
  ASSERT_EQ(parked.size(), 1u);
  std::shared_ptr<HttpExchange> stream = parked.at(0);

  absl::Notification first_read;
  std::thread sender([&] {
    EXPECT_TRUE(stream->Send("data: 1\n\n"));
    EXPECT_TRUE(stream->Send("data: 2\n\n"));
    first_read.WaitForNotification();  // the stream went idle (suspended) in between
    for (int i = 3; i <= 5; ++i) EXPECT_TRUE(stream->Send(absl::StrCat("data: ", i, "\n\n")));
    stream->Close();
    EXPECT_FALSE(stream->Send("data: 6\n\n"));
  });
  absl::Time deadline = absl::Now() + kTimeout;
  std::string received;
  while (received.size() < std::string("data: 1\n\ndata: 2\n\n").size()) {
    auto chunk = conn.ReadChunk(deadline);
    ASSERT_TRUE(chunk.has_value());
    received += *chunk;
  }
  first_read.Notify();
  while (true) {
    auto chunk = conn.ReadChunk(deadline);
    ASSERT_TRUE(chunk.has_value());
    if (chunk->empty()) break;  // the last chunk: Close() ended the stream
    received += *chunk;
  }
  sender.join();
  EXPECT_EQ(received, "data: 1\n\ndata: 2\n\ndata: 3\n\ndata: 4\n\ndata: 5\n\n");
  EXPECT_TRUE(Eventually([&] { return parked.closes() == 1; }));
}

double ProcessCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

TEST(HttpServerTest, IdleStreamDoesNotSpin) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->StartStream(200, "text/event-stream", {});
    exchange->Send(": hello\n\n");
    parked.Add(std::move(exchange));
  });
  ASSERT_NE(server, nullptr);
  Conn conn(server->port());
  ASSERT_TRUE(conn.Send(Get("/events")));
  ASSERT_TRUE(conn.ReadHead().has_value());
  auto first = conn.ReadChunk(absl::Now() + kTimeout);
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, ": hello\n\n");
  // A content reader that returned 0 without suspending would make MHD
  // spin a core while the stream has nothing to send: measure CPU time over
  // an idle half second.
  double before = ProcessCpuSeconds();
  absl::SleepFor(absl::Milliseconds(500));
  double used = ProcessCpuSeconds() - before;
  EXPECT_LT(used, 0.2) << "CPU seconds used by an idle stream";
  // And the suspended stream wakes up for the next event.
  ASSERT_TRUE(parked.at(0)->Send("data: later\n\n"));
  auto later = conn.ReadChunk(absl::Now() + kTimeout);
  ASSERT_TRUE(later.has_value());
  EXPECT_EQ(*later, "data: later\n\n");
}

TEST(HttpServerTest, StreamClientDisconnectFailsSendAndFiresOnClose) {
  Parked parked;
  auto server = MustStart([&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->StartStream(200, "text/event-stream", {});
    parked.Add(std::move(exchange));
  });
  ASSERT_NE(server, nullptr);
  {
    Conn conn(server->port());
    ASSERT_TRUE(conn.Send(Get("/events")));
    ASSERT_TRUE(conn.ReadHead().has_value());
    ASSERT_TRUE(parked.at(0)->Send("data: 1\n\n"));
    auto chunk = conn.ReadChunk(absl::Now() + kTimeout);
    ASSERT_TRUE(chunk.has_value());
  }  // the client leaves while the stream is idle
  ASSERT_TRUE(Eventually([&] { return parked.closes() == 1; }));
  EXPECT_TRUE(parked.at(0)->closed());
  EXPECT_FALSE(parked.at(0)->Send("data: 2\n\n"));
}

TEST(HttpServerTest, StreamQueueCapClosesTheStreamOfAClientThatDoesNotRead) {
  Parked parked;
  auto server = MustStart(
      [&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
        exchange->StartStream(200, "application/octet-stream", {});
        parked.Add(std::move(exchange));
      },
      {.max_stream_queue_bytes = 64 << 10});
  ASSERT_NE(server, nullptr);
  Conn conn(server->port(), "127.0.0.1", /*receive_buffer=*/4096);
  ASSERT_TRUE(conn.Send(Get("/firehose")));
  ASSERT_TRUE(Eventually([&] { return parked.size() == 1; }));
  std::shared_ptr<HttpExchange> stream = parked.at(0);
  const std::string chunk(16 << 10, 'z');
  bool refused = false;
  for (int i = 0; i < 100000 && !refused; ++i) refused = !stream->Send(chunk);  // <= 1.6 GB
  EXPECT_TRUE(refused);
  EXPECT_TRUE(stream->closed());
  EXPECT_TRUE(Eventually([&] { return parked.closes() == 1; }));
  EXPECT_FALSE(stream->Send("more"));
}

TEST(HttpServerTest, StopWithPendingExchangesAndOpenStreamsIsClean) {
  Parked parked;
  std::atomic<int> calls{0};
  auto server = MustStart([&](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
    calls.fetch_add(1);
    if (request.path == "/stream") {
      exchange->StartStream(200, "text/event-stream", {});
      exchange->Send("data: hi\n\n");
    }
    parked.Add(std::move(exchange));
  });
  ASSERT_NE(server, nullptr);
  int port = server->port();
  std::vector<std::unique_ptr<Conn>> conns;
  for (const char* path : {"/wait", "/wait", "/wait", "/stream", "/stream"}) {
    conns.push_back(std::make_unique<Conn>(port));
    ASSERT_TRUE(conns.back()->Send(Get(path)));
  }
  conns.push_back(std::make_unique<Conn>(port));  // idle, no request
  ASSERT_TRUE(Eventually([&] { return parked.size() == 5; }));

  server->Stop();
  EXPECT_EQ(parked.closes(), 5);  // every OnClose ran before Stop returned
  for (auto& conn : conns) EXPECT_TRUE(conn->WaitForEof());
  for (size_t i = 0; i < 5; ++i) {
    std::shared_ptr<HttpExchange> exchange = parked.at(i);
    EXPECT_TRUE(exchange->closed());
    exchange->Respond({.body = "after stop"});
    EXPECT_FALSE(exchange->Send("data: after stop\n\n"));
    exchange->Close();
  }
  server->Stop();  // idempotent
  Conn refused(port);
  EXPECT_FALSE(refused.ok() && refused.Send(Get("/wait")) && refused.ReadResponse().has_value());
  EXPECT_EQ(calls.load(), 5);
  server.reset();
  parked.Take();  // the last references go after the server
}

TEST(HttpServerTest, TakenPortIsUnavailable) {
  auto handler = [](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->Respond({});
  };
  auto first = MustStart(handler);
  ASSERT_NE(first, nullptr);
  auto second = HttpServer::Start({.port = first->port()}, handler);
  EXPECT_THAT(second,
              StatusIs(absl::StatusCode::kUnavailable,
                       StartsWith(absl::StrCat("http listen on 127.0.0.1:", first->port(), ": "))));
}

TEST(HttpServerTest, BadOptionsAreInvalidArgument) {
  auto handler = [](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->Respond({});
  };
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(HttpServer::Start({.host = "localhost"}, handler),
              StatusIs(kInvalid, "http address: not an IPv4 or IPv6 literal: localhost"));
  EXPECT_THAT(HttpServer::Start({.threads = 0}, handler),
              StatusIs(kInvalid, "http threads must be >= 1: 0"));
  EXPECT_THAT(HttpServer::Start({.tls_cert_file = "/nonexistent/cert.pem"}, handler),
              StatusIs(kInvalid, "tls.key_file: required when tls.cert_file is set"));
  EXPECT_THAT(HttpServer::Start({.tls_cert_file = "/nonexistent/cert.pem",
                                 .tls_key_file = "/nonexistent/key.pem"},
                                handler),
              StatusIs(kInvalid, StartsWith("tls.cert_file: cannot read /nonexistent/cert.pem: ")));
}

TEST(HttpServerTest, ServesIpv6Loopback) {
  auto server = HttpServer::Start(
      {.host = "::1"}, [](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
        exchange->Respond({.body = request.peer});
      });
  if (!server.ok()) GTEST_SKIP() << "no IPv6 loopback here: " << server.status();
  Conn conn((*server)->port(), "::1");
  ASSERT_TRUE(conn.ok());
  ASSERT_TRUE(conn.Send(Get("/")));
  auto response = conn.ReadResponse();
  ASSERT_TRUE(response.has_value());
  EXPECT_EQ(response->body, "::1");
}

// --- TLS ---------------------------------------------------------------------

bool HaveCommand(const std::string& name) {
  return std::system(absl::StrCat("command -v ", name, " >/dev/null 2>&1").c_str()) == 0;
}

// Runs a shell command; returns its stdout and sets *exit_code.
std::string RunCommand(const std::string& command, int* exit_code) {
  std::string out;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *exit_code = -1;
    return out;
  }
  char buffer[4096];
  size_t n;
  while ((n = std::fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  int status = ::pclose(pipe);
  *exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

struct TlsResult {
  bool handshake_ok = false;
  std::string error;     // gnutls' error, if any
  std::string response;  // raw bytes of the HTTP answer, if any
};

// GET over TLS with GnuTLS as the client, verifying the server against
// `ca_file` (and name 127.0.0.1); presents `cert_file`/`key_file` if set.
TlsResult TlsGet(int port, const std::string& ca_file, const std::string& cert_file = "",
                 const std::string& key_file = "") {
  TlsResult result;
  gnutls_certificate_credentials_t credentials;
  gnutls_certificate_allocate_credentials(&credentials);
  gnutls_certificate_set_x509_trust_file(credentials, ca_file.c_str(), GNUTLS_X509_FMT_PEM);
  if (!cert_file.empty()) {
    gnutls_certificate_set_x509_key_file(credentials, cert_file.c_str(), key_file.c_str(),
                                         GNUTLS_X509_FMT_PEM);
  }
  gnutls_session_t session;
  gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);  // the server may hang up first
  gnutls_set_default_priority(session);
  gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials);
  gnutls_session_set_verify_cert(session, "127.0.0.1", 0);
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  timeval tv{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    gnutls_transport_set_int(session, fd);
    gnutls_handshake_set_timeout(session, 10000);
    int rc;
    do {
      rc = gnutls_handshake(session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    if (rc < 0) {
      result.error = gnutls_strerror(rc);
    } else {
      result.handshake_ok = true;
      std::string request = "GET /hello HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n";
      if (gnutls_record_send(session, request.data(), request.size()) < 0) {
        result.error = "send failed";
      }
      char buffer[4096];
      while (true) {
        ssize_t n = gnutls_record_recv(session, buffer, sizeof(buffer));
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) continue;
        if (n < 0) {
          result.error = gnutls_strerror(static_cast<int>(n));
          break;
        }
        if (n == 0) break;
        result.response.append(buffer, static_cast<size_t>(n));
      }
      gnutls_bye(session, GNUTLS_SHUT_WR);
    }
  } else {
    result.error = "connect failed";
  }
  ::close(fd);
  gnutls_deinit(session);
  gnutls_certificate_free_credentials(credentials);
  return result;
}

class HttpsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!HaveCommand("openssl")) {
      skip_ = "openssl is not installed";
      return;
    }
    char dir_template[] = "/tmp/custops_http_tls_XXXXXX";
    if (::mkdtemp(dir_template) == nullptr) {
      skip_ = "mkdtemp failed";
      return;
    }
    dir_ = dir_template;
    auto write = [](const std::string& path, const std::string& text) {
      std::ofstream(path) << text;
    };
    write(dir_ + "/ca.ext", "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n");
    write(dir_ + "/server.ext",
          "basicConstraints=CA:FALSE\nsubjectAltName=IP:127.0.0.1\n"
          "extendedKeyUsage=serverAuth\nkeyUsage=digitalSignature\n");
    write(dir_ + "/client.ext",
          "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n");
    const std::string ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    auto ca = [&](const std::string& name) {
      return absl::StrCat(
          "openssl req -x509 ", ec, " -keyout ", name, ".key -out ", name,
          ".pem -days 2 -subj /CN=", name,
          " -addext "
          "basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign");
    };
    auto leaf = [&](const std::string& name, const std::string& ca_name, const std::string& ext,
                    const std::string& subject) {
      return absl::StrCat("openssl req ", ec, " -keyout ", name, ".key -out ", name, ".csr -subj ",
                          subject, " && openssl x509 -req -in ", name, ".csr -CA ", ca_name,
                          ".pem -CAkey ", ca_name, ".key -set_serial 7 -days 2 -out ", name,
                          ".pem -extfile ", ext);
    };
    std::string script = absl::StrCat(
        "(cd ", dir_, " && ", ca("ca"), " && ", ca("rogue-ca"), " && ",
        leaf("server", "ca", "server.ext", "/CN=127.0.0.1"), " && ",
        leaf("client", "ca", "client.ext", "/O=custops/CN=custops-test-client"), " && ",
        leaf("rogue-client", "rogue-ca", "client.ext", "/CN=rogue"), ") >/dev/null 2>&1");
    if (std::system(script.c_str()) != 0) skip_ = "openssl failed to make the test certificates";
  }

  static void TearDownTestSuite() {
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  void SetUp() override {
    if (!skip_.empty()) GTEST_SKIP() << skip_;
  }

  static std::string File(const std::string& name) { return dir_ + "/" + name; }

  // A TLS server answering "hello <client subject>"; mutual TLS if `mutual`.
  std::unique_ptr<HttpServer> StartTls(bool mutual) {
    return MustStart(
        [this](const HttpRequest& request, std::shared_ptr<HttpExchange> exchange) {
          calls_.fetch_add(1);
          exchange->Respond({.body = absl::StrCat("hello tls=", request.tls,
                                                  " subject=", request.client_cert_subject)});
        },
        {.tls_cert_file = File("server.pem"),
         .tls_key_file = File("server.key"),
         .tls_client_ca_file = mutual ? File("ca.pem") : ""});
  }

  static std::string dir_;
  static std::string skip_;
  std::atomic<int> calls_{0};
};

std::string HttpsTest::dir_;
std::string HttpsTest::skip_;

TEST_F(HttpsTest, GetWithTheCaCertificateWorks) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  TlsResult result = TlsGet(server->port(), File("ca.pem"));
  EXPECT_TRUE(result.handshake_ok) << result.error;
  EXPECT_THAT(result.response, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(result.response, HasSubstr("hello tls=1 subject="));
}

TEST_F(HttpsTest, CurlGetWithCacertWorks) {
  if (!HaveCommand("curl")) GTEST_SKIP() << "curl is not installed";
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  int exit_code = 0;
  std::string out = RunCommand(
      absl::StrCat("curl -sS --max-time 10 --cacert ", File("ca.pem"),
                   " https://127.0.0.1:", server->port(), "/hello -w ' %{http_code}' 2>&1"),
      &exit_code);
  EXPECT_EQ(exit_code, 0) << out;
  EXPECT_EQ(out, "hello tls=1 subject= 200");
}

TEST_F(HttpsTest, PlaintextRequestToTheTlsPortGetsNoHttpAnswer) {
  auto server = StartTls(/*mutual=*/false);
  ASSERT_NE(server, nullptr);
  Conn conn(server->port());
  ASSERT_TRUE(conn.Send(Get("/hello")));
  EXPECT_TRUE(conn.WaitForEof());
  EXPECT_THAT(conn.raw(), ::testing::Not(HasSubstr("HTTP/")));
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpsTest, MutualTlsRefusesAClientWithoutCertificate) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  TlsResult result = TlsGet(server->port(), File("ca.pem"));
  EXPECT_EQ(result.response, "") << "no HTTP answer at all";
  EXPECT_NE(result.error, "");
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpsTest, MutualTlsRefusesACertificateFromAnotherCa) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  TlsResult result =
      TlsGet(server->port(), File("ca.pem"), File("rogue-client.pem"), File("rogue-client.key"));
  EXPECT_EQ(result.response, "") << "no HTTP answer at all";
  EXPECT_NE(result.error, "");
  EXPECT_EQ(calls_.load(), 0);
}

TEST_F(HttpsTest, MutualTlsServesAClientWithACertificateFromTheCa) {
  auto server = StartTls(/*mutual=*/true);
  ASSERT_NE(server, nullptr);
  TlsResult result = TlsGet(server->port(), File("ca.pem"), File("client.pem"), File("client.key"));
  EXPECT_TRUE(result.handshake_ok) << result.error;
  EXPECT_THAT(result.response, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(result.response, HasSubstr("CN=custops-test-client"));
  if (HaveCommand("curl")) {  // and with an independent (OpenSSL) client
    int exit_code = 0;
    std::string out = RunCommand(
        absl::StrCat("curl -sS --max-time 10 --cacert ", File("ca.pem"), " --cert ",
                     File("client.pem"), " --key ", File("client.key"),
                     " https://127.0.0.1:", server->port(), "/hello -w ' %{http_code}' 2>&1"),
        &exit_code);
    EXPECT_EQ(exit_code, 0) << out;
    EXPECT_THAT(out, HasSubstr("CN=custops-test-client"));
    EXPECT_THAT(out, ::testing::EndsWith(" 200"));
    std::string refused =
        RunCommand(absl::StrCat("curl -sS --max-time 10 --cacert ", File("ca.pem"),
                                " https://127.0.0.1:", server->port(), "/hello 2>&1"),
                   &exit_code);
    EXPECT_NE(exit_code, 0) << refused;
    EXPECT_THAT(refused, ::testing::Not(HasSubstr("hello")));
  }
}

TEST_F(HttpsTest, StreamToAVanishedTlsClientEndsCleanly) {
  Parked parked;
  auto server = MustStart(
      [&](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
        exchange->StartStream(200, "text/event-stream", {});
        parked.Add(std::move(exchange));
      },
      {.tls_cert_file = File("server.pem"), .tls_key_file = File("server.key")});
  ASSERT_NE(server, nullptr);
  {
    gnutls_certificate_credentials_t credentials;
    gnutls_certificate_allocate_credentials(&credentials);
    gnutls_certificate_set_x509_trust_file(credentials, File("ca.pem").c_str(),
                                           GNUTLS_X509_FMT_PEM);
    gnutls_session_t session;
    gnutls_init(&session, GNUTLS_CLIENT | GNUTLS_NO_SIGNAL);
    gnutls_set_default_priority(session);
    gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials);
    Conn conn(server->port());
    ASSERT_TRUE(conn.ok());
    gnutls_transport_set_int(session, conn.fd());
    gnutls_handshake_set_timeout(session, 10000);
    int rc;
    do {
      rc = gnutls_handshake(session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    ASSERT_EQ(rc, 0) << gnutls_strerror(rc);
    std::string request = Get("/events");
    ASSERT_GT(gnutls_record_send(session, request.data(), request.size()), 0);
    ASSERT_TRUE(Eventually([&] { return parked.size() == 1; }));
    gnutls_deinit(session);
    gnutls_certificate_free_credentials(credentials);
  }  // the client vanishes without a TLS goodbye
  // The server writes into the dead connection (no SIGPIPE may kill it).
  for (int i = 0; i < 1000 && parked.at(0)->Send(std::string(4096, 'e')); ++i) {
  }
  EXPECT_TRUE(Eventually([&] { return parked.closes() == 1; }));
  EXPECT_FALSE(parked.at(0)->Send("data: gone\n\n"));
}

TEST_F(HttpsTest, BadTlsFilesAreInvalidArgumentNamingTheOption) {
  auto handler = [](const HttpRequest&, std::shared_ptr<HttpExchange> exchange) {
    exchange->Respond({});
  };
  std::ofstream(File("garbage.pem")) << "not a certificate\n";
  auto cert = HttpServer::Start(
      {.tls_cert_file = File("garbage.pem"), .tls_key_file = File("server.key")}, handler);
  EXPECT_THAT(cert, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("tls.cert_file: ")));
  auto key = HttpServer::Start(
      {.tls_cert_file = File("server.pem"), .tls_key_file = File("garbage.pem")}, handler);
  EXPECT_THAT(key, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("tls.key_file: ")));
  auto mismatch = HttpServer::Start(
      {.tls_cert_file = File("server.pem"), .tls_key_file = File("client.key")}, handler);
  EXPECT_THAT(mismatch, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("tls.key_file: ")));
  auto ca = HttpServer::Start({.tls_cert_file = File("server.pem"),
                               .tls_key_file = File("server.key"),
                               .tls_client_ca_file = File("garbage.pem")},
                              handler);
  EXPECT_THAT(ca, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("tls.client_ca_file: ")));
}

}  // namespace
}  // namespace custops::rpc

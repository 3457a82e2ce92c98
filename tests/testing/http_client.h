// HTTP/1.1 by hand over loopback TCP, for tests that must see exactly what
// custops' HTTP listener sends (status line, headers, body), with no client
// library in between deciding anything for them.
//
//   HttpReply r = HttpCall(port, "POST", "/custops.v1.Lifecycle/GetCustomer",
//                          {{"Content-Type", "application/json"}}, R"({"customerId":"C1"})");
//   EXPECT_EQ(r.status, 200);
//
//   SseReader sse(port, "/v1/changes?from=earliest", token);
//   std::optional<SseEvent> e = sse.Next(absl::Seconds(10));
#ifndef CUSTOPS_TESTS_TESTING_HTTP_CLIENT_H_
#define CUSTOPS_TESTS_TESTING_HTTP_CLIENT_H_

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace custops::testing {

struct HttpReply {
  int status = 0;  // 0: no answer (connection refused, closed or timed out)
  // Lower-cased names; repeated headers joined with ", ".
  std::map<std::string, std::string> headers;
  std::string body;  // de-chunked

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

// One request on a fresh connection ("Connection: close"); waits for the
// whole answer up to `timeout`.
HttpReply HttpCall(int port, const std::string& method, const std::string& path,
                   const HttpHeaders& headers = {}, const std::string& body = "",
                   absl::Duration timeout = absl::Seconds(10));

// GET with an optional bearer token.
HttpReply HttpGet(int port, const std::string& path, const std::string& token = "",
                  absl::Duration timeout = absl::Seconds(10));

// A connected TCP socket to 127.0.0.1:port, or -1.
int ConnectTcp(int port);

struct SseEvent {
  std::string event;  // "" = the default ("message")
  std::string id;
  std::string data;
};

// A Server-Sent Events stream read as HTTP/1.0 (so the body is not
// chunked): the status and headers first, then one event at a time.
class SseReader {
 public:
  SseReader(int port, const std::string& path, const std::string& token = "",
            const HttpHeaders& headers = {}, absl::Duration timeout = absl::Seconds(10));
  ~SseReader();
  SseReader(const SseReader&) = delete;
  SseReader& operator=(const SseReader&) = delete;

  // The answer's status and headers (body: what came with a non-200 answer).
  const HttpReply& reply() const { return reply_; }
  // The next event, or nullopt at the end of the stream or after `timeout`.
  std::optional<SseEvent> Next(absl::Duration timeout);
  // Closes the connection (the client goes away).
  void Close();

 private:
  int fd_ = -1;
  HttpReply reply_;
  std::string buffer_;
};

}  // namespace custops::testing

#endif  // CUSTOPS_TESTS_TESTING_HTTP_CLIENT_H_

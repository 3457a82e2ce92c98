#include "custops/rpc/metrics.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

std::string HttpGet(int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "";
  }
  std::string req = "GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n";
  ::send(fd, req.data(), req.size(), 0);
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

TEST(MetricsTest, ServesPrometheusTextWithLabelsAndOneHeaderPerMetric) {
  MetricsRegistry registry;
  int64_t appended = 41;
  registry.AddCollector([&](MetricsWriter& w) {
    w.Counter("custops_events_appended_total", "Events appended.", {}, appended);
    w.Gauge("custops_lag", "Lag.", {{"partition", "0"}}, 3);
    w.Gauge("custops_lag", "Lag.", {{"partition", "1"}, {"note", "a\"b"}}, 0.5);
  });
  auto server = MetricsHttpServer::Start("127.0.0.1", 0, registry);
  ASSERT_TRUE(server.ok()) << server.status();
  appended = 42;  // collectors run at scrape time
  std::string body = HttpGet((*server)->port(), "/metrics");
  EXPECT_NE(body.find("HTTP/1.1 200 OK"), std::string::npos);
  EXPECT_NE(body.find("# TYPE custops_events_appended_total counter\n"
                      "custops_events_appended_total 42\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("custops_lag{partition=\"0\"} 3\n"), std::string::npos);
  EXPECT_NE(body.find("custops_lag{partition=\"1\",note=\"a\\\"b\"} 0.5\n"), std::string::npos);
  EXPECT_EQ(body.find("# TYPE custops_lag gauge"), body.rfind("# TYPE custops_lag gauge"));
  EXPECT_NE(HttpGet((*server)->port(), "/nope").find("404"), std::string::npos);
  (*server)->Stop();
  EXPECT_EQ(HttpGet((*server)->port(), "/metrics"), "");
}

}  // namespace
}  // namespace custops::rpc

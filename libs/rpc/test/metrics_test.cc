#include "custops/rpc/metrics.h"

#include "custops/rpc/rpc_stats.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

TEST(MetricsTest, RendersPrometheusTextWithLabelsAndOneHeaderPerMetric) {
  MetricsRegistry registry;
  int64_t appended = 41;
  registry.AddCollector([&](MetricsWriter& w) {
    w.Counter("custops_events_appended_total", "Events appended.", {}, appended);
    w.Gauge("custops_lag", "Lag.", {{"partition", "0"}}, 3);
    w.Gauge("custops_lag", "Lag.", {{"partition", "1"}, {"note", "a\"b"}}, 0.5);
  });
  appended = 42;  // collectors run at scrape time
  const std::string body = registry.Render();
  EXPECT_NE(body.find("# TYPE custops_events_appended_total counter\n"
                      "custops_events_appended_total 42\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("custops_lag{partition=\"0\"} 3\n"), std::string::npos);
  EXPECT_NE(body.find("custops_lag{partition=\"1\",note=\"a\\\"b\"} 0.5\n"), std::string::npos);
  EXPECT_EQ(body.find("# TYPE custops_lag gauge"), body.rfind("# TYPE custops_lag gauge"));
}

// Counts by code and a cumulative histogram per (method, transport); each
// family's samples together; methods never called are left out.
TEST(RpcStatsTest, CountsByCodeAndCumulativeHistogramPerMethodAndTransport) {
  RpcStats stats({"svc/A", "svc/B", "svc/Never"});
  stats.Record("svc/A", Transport::kGrpc, absl::StatusCode::kOk, absl::Microseconds(300));
  stats.Record("svc/A", Transport::kGrpc, absl::StatusCode::kOk, absl::Milliseconds(3));
  stats.Record("svc/A", Transport::kGrpc, absl::StatusCode::kNotFound, absl::Seconds(20));
  stats.Record("svc/B", Transport::kHttp, absl::StatusCode::kInvalidArgument,
               absl::Milliseconds(1));
  stats.Record("svc/Unknown", Transport::kHttp, absl::StatusCode::kOk, absl::Milliseconds(1));
  EXPECT_EQ(stats.Count("svc/A", Transport::kGrpc, absl::StatusCode::kOk), 2);
  EXPECT_EQ(stats.Count("svc/A", Transport::kHttp, absl::StatusCode::kOk), 0);
  EXPECT_EQ(stats.Count("svc/Unknown", Transport::kHttp, absl::StatusCode::kOk), 0);

  MetricsWriter w;
  stats.Collect(w);
  const std::string body = w.Take();
  EXPECT_NE(
      body.find("custops_rpc_requests_total{method=\"svc/A\",transport=\"grpc\",code=\"OK\"} 2\n"),
      std::string::npos)
      << body;
  EXPECT_NE(
      body.find(
          "custops_rpc_requests_total{method=\"svc/A\",transport=\"grpc\",code=\"NOT_FOUND\"} 1\n"),
      std::string::npos);
  EXPECT_NE(body.find("custops_rpc_requests_total{method=\"svc/"
                      "B\",transport=\"http\",code=\"INVALID_ARGUMENT\"} 1\n"),
            std::string::npos);
  // 0.3 ms <= 0.5 ms; 3 ms <= 5 ms; 20 s only in +Inf.
  EXPECT_NE(body.find("custops_rpc_duration_seconds_bucket{method=\"svc/"
                      "A\",transport=\"grpc\",le=\"0.0005\"} 1\n"),
            std::string::npos);
  EXPECT_NE(body.find("custops_rpc_duration_seconds_bucket{method=\"svc/"
                      "A\",transport=\"grpc\",le=\"0.005\"} 2\n"),
            std::string::npos);
  EXPECT_NE(
      body.find(
          "custops_rpc_duration_seconds_bucket{method=\"svc/A\",transport=\"grpc\",le=\"10\"} 2\n"),
      std::string::npos);
  EXPECT_NE(body.find("custops_rpc_duration_seconds_bucket{method=\"svc/"
                      "A\",transport=\"grpc\",le=\"+Inf\"} 3\n"),
            std::string::npos);
  EXPECT_NE(
      body.find("custops_rpc_duration_seconds_count{method=\"svc/A\",transport=\"grpc\"} 3\n"),
      std::string::npos);
  EXPECT_EQ(body.find("svc/Never"), std::string::npos);
  // Every counter sample comes before the histogram's header.
  EXPECT_LT(body.rfind("custops_rpc_requests_total{"),
            body.find("# TYPE custops_rpc_duration_seconds histogram"));
}

}  // namespace
}  // namespace custops::rpc

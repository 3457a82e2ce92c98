#include "custops/rpc/metrics.h"

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

}  // namespace
}  // namespace custops::rpc

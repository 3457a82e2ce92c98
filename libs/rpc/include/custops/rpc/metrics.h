// Prometheus text-format metrics; the HTTP listener (http_server.h) serves
// Render() at /metrics.
//
//   MetricsRegistry registry;
//   registry.AddCollector([&](MetricsWriter& w) {
//     w.Counter("custops_events_appended_total", "Events appended.", {}, appended);
//   });
//   std::string body = registry.Render();
#ifndef CUSTOPS_RPC_METRICS_H_
#define CUSTOPS_RPC_METRICS_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace custops::rpc {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Renders samples; each metric's HELP/TYPE header is written once.
class MetricsWriter {
 public:
  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  // A histogram: `buckets` are (upper bound, observations at or below it),
  // ascending and cumulative, without +Inf (that is `count`).
  void Histogram(const std::string& name, const std::string& help, const Labels& labels,
                 const std::vector<std::pair<double, int64_t>>& buckets, int64_t count, double sum);
  std::string Take() { return std::move(out_); }

 private:
  void Sample(const std::string& name, const std::string& help, const char* type,
              const Labels& labels, double value);
  void Declare(const std::string& name, const std::string& help, const char* type);
  void Line(const std::string& name, const Labels& labels, double value);
  std::string out_;
  std::vector<std::string> declared_;
};

// Thread-safe.
class MetricsRegistry {
 public:
  using Collector = std::function<void(MetricsWriter&)>;
  void AddCollector(Collector collector);
  std::string Render() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_METRICS_H_

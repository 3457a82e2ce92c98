// Prometheus text-format metrics over a small HTTP/1.1 endpoint.
//
//   MetricsRegistry registry;
//   registry.AddCollector([&](MetricsWriter& w) {
//     w.Counter("custops_events_appended_total", "Events appended.", {}, appended);
//   });
//   ASSIGN_OR_RETURN(auto http, MetricsHttpServer::Start("127.0.0.1", 9464, registry));
#ifndef CUSTOPS_RPC_METRICS_H_
#define CUSTOPS_RPC_METRICS_H_

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace custops::rpc {

using Labels = std::vector<std::pair<std::string, std::string>>;

// Renders samples; each metric's HELP/TYPE header is written once.
class MetricsWriter {
 public:
  void Counter(const std::string& name, const std::string& help, const Labels& labels,
               double value);
  void Gauge(const std::string& name, const std::string& help, const Labels& labels, double value);
  std::string Take() { return std::move(out_); }

 private:
  void Sample(const std::string& name, const std::string& help, const char* type,
              const Labels& labels, double value);
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

// Serves GET /metrics (and /healthz) until Stop(). `registry` must outlive it.
class MetricsHttpServer {
 public:
  // Port 0 picks a free port. UNAVAILABLE when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsHttpServer>> Start(const std::string& host, int port,
                                                                  const MetricsRegistry& registry);
  ~MetricsHttpServer();
  int port() const { return port_; }
  void Stop();

 private:
  MetricsHttpServer(int fd, int port, const MetricsRegistry& registry);
  void Serve();
  int fd_;
  int port_;
  const MetricsRegistry& registry_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_METRICS_H_

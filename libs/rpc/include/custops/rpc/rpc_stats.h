// Counts and latencies of the calls a MethodTable serves, per method,
// transport and status code, for /metrics (docs/operations.md):
//
//   custops_rpc_requests_total{method,transport,code}     counter
//   custops_rpc_duration_seconds{method,transport}        histogram
//
// Recording is lock-free (atomics indexed by a table fixed at construction),
// so it costs a serving thread nothing measurable.
//
//   RpcStats stats({"custops.v1.Lifecycle/GetCustomer"});
//   stats.Record("custops.v1.Lifecycle/GetCustomer", Transport::kGrpc,
//                absl::StatusCode::kOk, absl::Microseconds(180));
//   registry.AddCollector([&](MetricsWriter& w) { stats.Collect(w); });
#ifndef CUSTOPS_RPC_RPC_STATS_H_
#define CUSTOPS_RPC_RPC_STATS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/rpc/metrics.h"

namespace custops::rpc {

enum class Transport { kGrpc = 0, kHttp = 1 };

class RpcStats {
 public:
  // The latency histogram's upper bounds, in seconds.
  static constexpr std::array<double, 14> kBounds = {
      0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  // `methods`: every method name that may be recorded ("svc/Method").
  explicit RpcStats(const std::vector<std::string>& methods);
  ~RpcStats();

  // Counts one finished call. A method not given at construction is
  // ignored. Thread-safe.
  void Record(std::string_view method, Transport transport, absl::StatusCode code,
              absl::Duration latency);

  // Writes the samples of every (method, transport) called at least once.
  void Collect(MetricsWriter& writer) const;

  // Calls of `method` over `transport` that finished with `code`.
  int64_t Count(std::string_view method, Transport transport, absl::StatusCode code) const;

 private:
  static constexpr int kCodes = 17;
  struct Slot {
    std::array<std::atomic<int64_t>, kCodes> by_code{};
    std::array<std::atomic<int64_t>, kBounds.size() + 1> buckets{};  // last: +Inf
    std::atomic<int64_t> sum_micros{0};
  };
  const Slot* Find(std::string_view method, Transport transport) const;

  std::vector<std::string> names_;
  absl::flat_hash_map<std::string, int> index_;
  std::unique_ptr<Slot[]> slots_;  // names_.size() x 2 transports
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_RPC_STATS_H_

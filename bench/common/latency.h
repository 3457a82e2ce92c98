// A latency histogram for the load tools: log-linear buckets (64 per power of
// two, so any percentile is within 1.6% of the true value) over 1 ns .. ~18
// minutes. Record() is lock-free and may be called from any thread (gRPC
// callback threads included); read the percentiles once recording is over.
//
//   LatencyHistogram h;
//   h.Record(absl::Microseconds(350));
//   std::cout << h.Summary({50, 99, 99.9});  // "p50 350us p99 350us p99.9 350us max 350us"
#ifndef CUSTOPS_BENCH_COMMON_LATENCY_H_
#define CUSTOPS_BENCH_COMMON_LATENCY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <string>

#include "absl/time/time.h"

namespace custops::bench {

class LatencyHistogram {
 public:
  // Thread-safe. Negative durations count as zero.
  void Record(absl::Duration d);

  int64_t Count() const { return count_.load(std::memory_order_relaxed); }
  // The smallest recorded-bucket value v with at least `percent`% of the
  // samples <= v (upper bucket bound). Zero when empty.
  absl::Duration Percentile(double percent) const;
  absl::Duration Max() const { return absl::Nanoseconds(max_ns_.load(std::memory_order_relaxed)); }
  absl::Duration Mean() const;

  // "p50 412us p99 1.31ms max 4.2ms" for the given percentiles.
  std::string Summary(std::initializer_list<double> percents) const;

 private:
  static constexpr int kSubBits = 6;  // 64 sub-buckets per power of two
  static constexpr int kLinear = 2 << kSubBits;
  static constexpr int kBuckets = kLinear + (40 - kSubBits - 1) * (1 << kSubBits);
  static int BucketOf(uint64_t ns);
  static uint64_t UpperBound(int bucket);

  std::array<std::atomic<int64_t>, kBuckets> buckets_{};
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> sum_ns_{0};
  std::atomic<int64_t> max_ns_{0};
};

// "412us", "1.31ms", "2.5s": three significant digits.
std::string FormatLatency(absl::Duration d);

}  // namespace custops::bench

#endif  // CUSTOPS_BENCH_COMMON_LATENCY_H_

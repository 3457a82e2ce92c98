#include "common/latency.h"

#include <algorithm>
#include <bit>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace custops::bench {

int LatencyHistogram::BucketOf(uint64_t ns) {
  if (ns < static_cast<uint64_t>(kLinear)) return static_cast<int>(ns);
  ns = std::min<uint64_t>(ns, (uint64_t{1} << 40) - 1);
  const int exponent = std::bit_width(ns) - 1;  // >= kSubBits + 1
  const int shift = exponent - kSubBits;
  const int sub = static_cast<int>(ns >> shift) - (1 << kSubBits);
  return kLinear + (exponent - kSubBits - 1) * (1 << kSubBits) + sub;
}

uint64_t LatencyHistogram::UpperBound(int bucket) {
  if (bucket < kLinear) return static_cast<uint64_t>(bucket);
  const int exponent = kSubBits + 1 + (bucket - kLinear) / (1 << kSubBits);
  const int sub = (bucket - kLinear) % (1 << kSubBits);
  const int shift = exponent - kSubBits;
  return ((static_cast<uint64_t>((1 << kSubBits) + sub) + 1) << shift) - 1;
}

void LatencyHistogram::Record(absl::Duration d) {
  const int64_t ns = std::max<int64_t>(0, absl::ToInt64Nanoseconds(d));
  buckets_[BucketOf(static_cast<uint64_t>(ns))].fetch_add(1, std::memory_order_relaxed);
  count_.fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  int64_t seen = max_ns_.load(std::memory_order_relaxed);
  while (ns > seen && !max_ns_.compare_exchange_weak(seen, ns, std::memory_order_relaxed)) {
  }
}

absl::Duration LatencyHistogram::Percentile(double percent) const {
  const int64_t total = Count();
  if (total == 0) return absl::ZeroDuration();
  // The rank of the sample at `percent`, 1-based, rounded up.
  const auto rank =
      static_cast<int64_t>(std::max(1.0, percent / 100.0 * static_cast<double>(total) + 0.999999));
  int64_t seen = 0;
  for (int b = 0; b < kBuckets; ++b) {
    seen += buckets_[b].load(std::memory_order_relaxed);
    if (seen >= rank) {
      return std::min(absl::Nanoseconds(static_cast<int64_t>(UpperBound(b))), Max());
    }
  }
  return Max();
}

absl::Duration LatencyHistogram::Mean() const {
  const int64_t n = Count();
  return n == 0 ? absl::ZeroDuration() : absl::Nanoseconds(sum_ns_.load() / n);
}

std::string LatencyHistogram::Summary(std::initializer_list<double> percents) const {
  std::string out;
  for (double p : percents) {
    absl::StrAppend(&out, out.empty() ? "" : " ", "p", absl::StrFormat("%g", p), " ",
                    FormatLatency(Percentile(p)));
  }
  absl::StrAppend(&out, " max ", FormatLatency(Max()), " mean ", FormatLatency(Mean()));
  return out;
}

std::string FormatLatency(absl::Duration d) {
  const double us = absl::ToDoubleMicroseconds(d);
  if (us < 1000) return absl::StrFormat("%.3gus", us);
  if (us < 1'000'000) return absl::StrFormat("%.3gms", us / 1000);
  return absl::StrFormat("%.3gs", us / 1'000'000);
}

}  // namespace custops::bench

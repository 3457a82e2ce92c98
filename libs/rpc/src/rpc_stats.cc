#include "custops/rpc/rpc_stats.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace custops::rpc {
namespace {

constexpr int kTransports = 2;

const char* TransportName(int t) { return t == 0 ? "grpc" : "http"; }

}  // namespace

RpcStats::RpcStats(const std::vector<std::string>& methods)
    : names_(methods), slots_(new Slot[methods.size() * kTransports]) {
  for (size_t i = 0; i < names_.size(); ++i) index_.emplace(names_[i], static_cast<int>(i));
}

RpcStats::~RpcStats() = default;

const RpcStats::Slot* RpcStats::Find(std::string_view method, Transport transport) const {
  auto it = index_.find(absl::string_view(method.data(), method.size()));
  if (it == index_.end()) return nullptr;
  return &slots_[it->second * kTransports + static_cast<int>(transport)];
}

void RpcStats::Record(std::string_view method, Transport transport, absl::StatusCode code,
                      absl::Duration latency) {
  Slot* slot = const_cast<Slot*>(Find(method, transport));
  if (slot == nullptr) return;
  const int c = static_cast<int>(code);
  slot->by_code[c >= 0 && c < kCodes ? c : static_cast<int>(absl::StatusCode::kUnknown)].fetch_add(
      1, std::memory_order_relaxed);
  const double seconds = absl::ToDoubleSeconds(latency);
  const size_t bucket = std::lower_bound(kBounds.begin(), kBounds.end(), seconds) - kBounds.begin();
  slot->buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  slot->sum_micros.fetch_add(absl::ToInt64Microseconds(latency), std::memory_order_relaxed);
}

int64_t RpcStats::Count(std::string_view method, Transport transport, absl::StatusCode code) const {
  const Slot* slot = Find(method, transport);
  const int c = static_cast<int>(code);
  if (slot == nullptr || c < 0 || c >= kCodes) return 0;
  return slot->by_code[c].load(std::memory_order_relaxed);
}

void RpcStats::Collect(MetricsWriter& w) const {
  // The text format wants each family's samples together: counts first,
  // then the histograms.
  for (int pass = 0; pass < 2; ++pass) {
    for (size_t m = 0; m < names_.size(); ++m) {
      for (int t = 0; t < kTransports; ++t) {
        const Slot& slot = slots_[m * kTransports + t];
        std::array<int64_t, kBounds.size() + 1> counts;
        int64_t total = 0;
        for (size_t b = 0; b < counts.size(); ++b) {
          counts[b] = slot.buckets[b].load(std::memory_order_relaxed);
          total += counts[b];
        }
        if (total == 0) continue;
        const Labels labels = {{"method", names_[m]}, {"transport", TransportName(t)}};
        if (pass == 0) {
          for (int c = 0; c < kCodes; ++c) {
            const int64_t n = slot.by_code[c].load(std::memory_order_relaxed);
            if (n == 0) continue;
            Labels with_code = labels;
            with_code.emplace_back("code",
                                   absl::StatusCodeToString(static_cast<absl::StatusCode>(c)));
            w.Counter("custops_rpc_requests_total",
                      "Calls finished, by method, transport and code.", with_code,
                      static_cast<double>(n));
          }
          continue;
        }
        std::vector<std::pair<double, int64_t>> cumulative;
        int64_t running = 0;
        for (size_t b = 0; b < kBounds.size(); ++b) {
          running += counts[b];
          cumulative.emplace_back(kBounds[b], running);
        }
        w.Histogram("custops_rpc_duration_seconds",
                    "Time from a call's arrival to its answer, by method and transport.", labels,
                    cumulative, total,
                    static_cast<double>(slot.sum_micros.load(std::memory_order_relaxed)) / 1e6);
      }
    }
  }
}

}  // namespace custops::rpc

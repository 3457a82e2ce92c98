// A synthetic, deterministic customer population for the benchmarks and load
// tools: each customer's story (registration, contacts, visits, an
// opportunity through the funnel, quotes, a contract, payments, a renewal,
// complaints, surveys, referrals, churn) with a realistic mix of ~14 events
// per customer on average. Unlike tools/demo, it is generated customer by
// customer, so a tool can stream any range of customers without holding the
// whole population, and ids carry a prefix so repeated runs against one
// server never collide.
//
//   const WorkloadOptions w{.id_prefix = "bench", .end = absl::FromUnixSeconds(1735689600)};
//   std::vector<v1::Event> events = GenerateCustomers(w, /*first=*/0, /*count=*/1000);
//
// Every event passes custops::event::ValidateEvent with default options (when
// `currency` is "CNY"). The output depends only on the options and the
// customer numbers. Thread-safe: no shared state.
#ifndef CUSTOPS_BENCH_COMMON_WORKLOAD_H_
#define CUSTOPS_BENCH_COMMON_WORKLOAD_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "custops/v1/events.pb.h"

namespace custops::bench {

struct WorkloadOptions {
  // Seeds every customer's story (with the customer's number). Default: 1
  uint64_t seed = 1;
  // Starts every customer id ("<prefix>-c00000042") and event id
  // ("<prefix>-c00000042-7"). Default: "bench"
  std::string id_prefix = "bench";
  // No event occurs after it. Required.
  absl::Time end;
  // Customers register within [end - span, end - 30 days]; a story that would
  // run past `end` is cut there. Default: 730 days
  absl::Duration span = absl::Hours(24 * 730);
  // Currency of every Money. Default: "CNY"
  std::string currency = "CNY";
  // Sales reps "rep-01" ... Default: 40
  int owners = 40;
  // A whole story per customer; false: only the registration. Default: true
  bool full_history = true;
};

// "<prefix>-c<n, zero-padded to 8 digits>".
std::string CustomerId(const WorkloadOptions& options, int64_t n);

// Appends customer `n`'s events to `out`, in event-time order.
void AppendCustomerEvents(const WorkloadOptions& options, int64_t n, std::vector<v1::Event>& out);

// The events of customers [first, first + count), ordered by (occurred_at,
// event_id): customers interleave as they do in a real log.
std::vector<v1::Event> GenerateCustomers(const WorkloadOptions& options, int64_t first,
                                         int64_t count);

// "N events: 8% customer_registered, 31% visit_logged, ..." (largest first).
std::string DescribeMix(const std::vector<v1::Event>& events);

}  // namespace custops::bench

#endif  // CUSTOPS_BENCH_COMMON_WORKLOAD_H_

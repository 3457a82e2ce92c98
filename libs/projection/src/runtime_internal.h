// Private to libs/projection: what the runtime's source files share. The
// state store's key layout used by more than one of them (meta keys, the
// partition prefix, a customer's parked-record prefix), the parked-record
// encoding, the Abandoner and claim condition of a batch, and BatchCounts,
// what one batch (or replay chunk) did, which Commit (runtime_outbox.cc)
// folds into the counters for ApplyBatch and TickAll (runtime.cc) and
// ReplayChunk (runtime_parking.cc).
#ifndef CUSTOPS_PROJECTION_SRC_RUNTIME_INTERNAL_H_
#define CUSTOPS_PROJECTION_SRC_RUNTIME_INTERNAL_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "custops/base/types.h"
#include "custops/internal/state.pb.h"
#include "custops/log/event_log.h"
#include "custops/projection/projection.h"
#include "custops/projection/runtime.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"

namespace custops::projection {
namespace runtime_internal {

// Meta keys: a tag byte and the partition.
inline std::string MetaKey(char tag, Partition p) {
  std::string key(1, tag);
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}
inline std::string PartitionPrefix(Partition p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}
// A customer's parked records in partition p: p | length | customer, then
// the record's offset (they sort in log order).
inline std::string ParkedPrefix(Partition p, std::string_view customer) {
  std::string key = PartitionPrefix(p);
  store::AppendU32(key, static_cast<uint32_t>(customer.size()));
  key.append(customer);
  return key;
}
inline internal::ParkedRecord ToParked(const log::LogRecord& r, std::string reason) {
  internal::ParkedRecord parked;
  parked.set_offset(r.offset.value());
  parked.set_recorded_at_micros(absl::ToUnixMicros(r.timestamp));
  parked.set_key(r.key);
  parked.set_value(r.value);
  parked.set_reason(std::move(reason));
  return parked;
}

// Unless `committed` is set, the projection forgets what it cached from the
// batch (Projection::Abandon).
struct Abandoner {
  Projection* projection;
  Partition p;
  bool committed = false;
  ~Abandoner() {
    if (!committed) projection->Abandon(p);
  }
};

// The condition of ProjectionRuntime::busy_ that no batch, tick or reseed
// holds a claim.
inline bool Unclaimed(int* busy) { return *busy == -1; }

}  // namespace runtime_internal

// What one batch did, folded into the partition's counters at commit. Outside
// runtime_internal: ProjectionRuntime befriends custops::projection::BatchCounts
// (runtime.h).
struct BatchCounts {
  int64_t applied = 0;
  std::map<std::string, int64_t> noops;
  std::vector<v1::DeadLetter> dead_letters;
  int64_t replayed = 0;
  // The partition's parking after this batch, when the batch changed it.
  std::optional<ProjectionRuntime::ParkedMap> parked;
};

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_SRC_RUNTIME_INTERNAL_H_

// KafkaEventLogImpl's idempotency index: finding a topic's index and
// catching it up with the log (the Idempotency section of event_log_impl.h).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <set>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "custops/base/status_macros.h"
#include "kafka/event_log_impl.h"

namespace custops::log::internal {
namespace {

// Records read per request while catching up an idempotency index.
constexpr size_t kCatchUpChunk = 10000;

}  // namespace

IdempotencyIndex& KafkaEventLogImpl::IndexFor(std::string_view topic, int partitions) {
  absl::MutexLock lock(&indexes_mu_);
  std::unique_ptr<IdempotencyIndex>& index = indexes_[AsAbsl(topic)];
  if (index == nullptr) {
    index = std::make_unique<IdempotencyIndex>();
    absl::MutexLock index_lock(&index->mu);
    index->indexed_to.assign(partitions, 0);
    absl::MutexLock own_lock(&index->own.mu);
    index->own.offsets.resize(partitions);
  }
  return *index;
}

absl::Status KafkaEventLogImpl::CatchUp(std::string_view topic, IdempotencyIndex& index,
                                        const std::vector<int64_t>& ends) const {
  for (size_t p = 0; p < ends.size() && p < index.indexed_to.size(); ++p) {
    while (index.indexed_to[p] < ends[p]) {
      // Our own records need no reading: their keys are published (or in
      // flight) by the Append that produced them.
      int64_t next_own = INT64_MAX;
      {
        absl::MutexLock own_lock(&index.own.mu);
        std::set<int64_t>& own = index.own.offsets[p];
        own.erase(own.begin(), own.lower_bound(index.indexed_to[p]));
        if (!own.empty() && *own.begin() == index.indexed_to[p]) {
          own.erase(own.begin());
          ++index.indexed_to[p];
          continue;
        }
        if (!own.empty()) next_own = *own.begin();
      }
      const int64_t stop = std::min(ends[p], next_own);
      const size_t want = std::min<size_t>(kCatchUpChunk, stop - index.indexed_to[p]);
      ASSIGN_OR_RETURN(
          std::vector<RawRecord> batch,
          ReadLocked(topic, Partition(static_cast<int32_t>(p)), Offset(index.indexed_to[p]), want));
      if (batch.empty()) break;  // the partition's start moved past indexed_to
      for (RawRecord& raw : batch) {
        if (raw.idempotency_key.has_value()) {
          // The first record with a key is the original; later ones are
          // repeats appended by racing processes.
          index.positions.try_emplace(*std::move(raw.idempotency_key),
                                      AppendResult{.partition = raw.record.partition,
                                                   .offset = raw.record.offset,
                                                   .duplicate = true});
        }
      }
      index.indexed_to[p] = batch.back().record.offset.value() + 1;
    }
  }
  return absl::OkStatus();
}

}  // namespace custops::log::internal

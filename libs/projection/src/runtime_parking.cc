// ProjectionRuntime's per-customer parking (docs/operations.md "Dead
// letters"): ReplayParked and its chunks, which re-apply a parked customer's
// records in log order (or discard its head), the parked customers listed
// (Parked), and the records replays discarded (Discarded, ImportDiscarded).
// Records are parked by ApplyBatch (runtime.cc); the parking summary is
// rebuilt by Restore (runtime.cc) and committed by Commit (runtime_outbox.cc).
#include <algorithm>
#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/internal/state.pb.h"
#include "custops/log/partitioner.h"
#include "custops/projection/runtime.h"
#include "custops/store/keys.h"
#include "runtime_internal.h"

namespace custops::projection {
namespace {

using runtime_internal::Abandoner;
using runtime_internal::MetaKey;
using runtime_internal::ParkedPrefix;
using runtime_internal::ToParked;

// A record a replay discarded: 'x' | partition | offset.
std::string DiscardedKey(Partition p, Offset offset) {
  std::string key = MetaKey('x', p);
  store::AppendU64(key, static_cast<uint64_t>(offset.value()));
  return key;
}
log::LogRecord FromParked(internal::ParkedRecord parked) {
  log::LogRecord r;
  r.offset = Offset(parked.offset());
  r.timestamp = absl::FromUnixMicros(parked.recorded_at_micros());
  r.key = std::move(*parked.mutable_key());
  r.value = std::move(*parked.mutable_value());
  return r;
}

}  // namespace

absl::StatusOr<ReplayResult> ProjectionRuntime::ReplayParked(const ReplayOptions& options) {
  const std::string_view customer_id = options.customer_id;
  ReplayResult result;
  std::vector<Partition> targets;
  if (!customer_id.empty()) {
    targets.push_back(log::PartitionForKey(customer_id, partitions_));
  } else {
    for (int i = 0; i < partitions_; ++i) targets.emplace_back(i);
  }
  // Customers tried in this call: a head that failed again is not retried.
  std::set<std::string, std::less<>> tried;
  int64_t budget = options.max_events;
  for (Partition p : targets) {
    bool finished = false;
    while (!finished && budget > 0) {
      // One chunk per claim, so that the partitions' batches go on between.
      if (!Claim(p)) {
        result.not_owned.push_back(p);
        break;
      }
      absl::StatusOr<bool> chunk = ReplayChunk(p, options, budget, tried, result);
      Release();
      if (!chunk.ok()) return chunk.status();
      finished = *chunk;
    }
    if (!finished && budget <= 0) {
      result.more = true;
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  for (Partition p : targets) {
    if (!owned_[p.value()]) continue;
    for (const auto& [customer, state] : parked_[p.value()]) {
      if (!customer_id.empty() && customer != customer_id) continue;
      ++result.customers_parked;
      result.events_parked += state.events;
      if (result.parked.size() < options.list_limit) {
        result.parked.push_back({.customer_id = customer,
                                 .partition = p,
                                 .events = state.events,
                                 .head = Offset(state.head),
                                 .reason = state.reason});
      }
    }
  }
  return result;
}

absl::StatusOr<bool> ProjectionRuntime::ReplayChunk(Partition p, const ReplayOptions& options,
                                                    int64_t& budget,
                                                    std::set<std::string, std::less<>>& tried,
                                                    ReplayResult& result) {
  BatchCounts counts;
  {
    absl::MutexLock lock(&mu_);
    if (parked_[p.value()].empty()) return true;
    counts.parked = parked_[p.value()];
  }
  const std::string_view customer_id = options.customer_id;
  const ParkedMap before = *counts.parked;
  // At least one record per chunk, so that every chunk makes progress.
  const int64_t chunk =
      std::max<int64_t>(1, std::min<int64_t>(budget, static_cast<int64_t>(options_.restore_batch)));
  const absl::Time now = clock_.Now();
  Txn txn(*store_, p);
  Abandoner abandoner{projection_.get(), p};
  int64_t tried_records = 0;
  bool finished = true;
  int64_t released = 0;
  std::vector<int64_t> discarded;
  for (const auto& [customer, unused] : before) {
    if (!customer_id.empty() && customer != customer_id) continue;
    if (tried.contains(customer)) continue;
    if (tried_records >= chunk) {
      finished = false;
      break;
    }
    ParkState& state = (*counts.parked)[customer];
    bool all_applied = true;
    auto it = store_->NewIterator(parked_cf_, ParkedPrefix(p, customer));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (tried_records >= chunk) {
        all_applied = false;
        finished = false;
        break;
      }
      internal::ParkedRecord parked;
      if (!parked.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("corrupt parked record");
      }
      const bool was_head = !parked.reason().empty();
      const log::LogRecord r = FromParked(std::move(parked));
      ++tried_records;
      if (was_head && options.discard_heads) {
        txn.Delete(parked_cf_, it->key());
        txn.Put(meta_cf_, DiscardedKey(p, r.offset), "");
        discarded.push_back(r.offset.value());
        --state.events;
        ++counts.replayed;
        ++counts.noops["dead_letter_discarded"];
        continue;
      }
      ASSIGN_OR_RETURN(std::optional<std::string> dead, ApplyRecord(p, r, now, txn, counts));
      if (dead.has_value()) {
        // It stays parked, now as the head, and so does everything behind
        // it. A record that was only waiting becomes a dead letter of its own.
        if (!was_head) counts.dead_letters.push_back(DeadLetter(p, r, *dead));
        txn.Put(parked_cf_, it->key(), ToParked(r, *dead).SerializeAsString());
        state.head = r.offset.value();
        state.reason = std::move(*dead);
        tried.insert(customer);
        all_applied = false;
        break;
      }
      txn.Delete(parked_cf_, it->key());
      --state.events;
      ++counts.replayed;
    }
    RETURN_IF_ERROR(it->status());
    if (all_applied) {
      counts.parked->erase(customer);
      ++released;
    }
    if (!finished) break;
  }
  budget -= tried_records;
  if (tried_records == 0) return finished;
  RETURN_IF_ERROR(projection_->Flush(p, now, txn));
  RETURN_IF_ERROR(Commit(txn, std::nullopt, counts));
  abandoner.committed = true;
  if (!discarded.empty()) {
    absl::MutexLock lock(&mu_);
    discarded_[p.value()].insert(discarded.begin(), discarded.end());
  }
  result.customers_released += released;
  result.events_replayed += counts.replayed;
  return finished;
}

std::vector<std::pair<Partition, Offset>> ProjectionRuntime::Discarded() const {
  std::vector<std::pair<Partition, Offset>> out;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < partitions_; ++i) {
    for (int64_t offset : discarded_[i]) out.emplace_back(Partition(i), Offset(offset));
  }
  return out;
}

absl::Status ProjectionRuntime::ImportDiscarded(
    const std::vector<std::pair<Partition, Offset>>& records) {
  if (running_) return absl::FailedPreconditionError("runtime is running");
  store::Batch batch;
  for (const auto& [p, offset] : records) {
    if (p.value() < 0 || p.value() >= partitions_) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", p.value(), " out of range"));
    }
    batch.Put(meta_cf_, DiscardedKey(p, offset), "");
  }
  RETURN_IF_ERROR(store_->Write(batch));
  absl::MutexLock lock(&mu_);
  for (const auto& [p, offset] : records) discarded_[p.value()].insert(offset.value());
  return absl::OkStatus();
}

std::vector<ParkedCustomer> ProjectionRuntime::Parked(size_t limit) const {
  std::vector<ParkedCustomer> out;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < partitions_ && out.size() < limit; ++i) {
    if (!owned_[i]) continue;
    for (const auto& [customer, state] : parked_[i]) {
      if (out.size() >= limit) break;
      out.push_back({.customer_id = customer,
                     .partition = Partition(i),
                     .events = state.events,
                     .head = Offset(state.head),
                     .reason = state.reason});
    }
  }
  return out;
}

}  // namespace custops::projection

// KafkaEventLogImpl::Append: producing records with per-message delivery
// reports, and the idempotency check around it (the Append and Idempotency
// sections of event_log_impl.h).
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "custops/base/status_macros.h"
#include "custops/log/kafka_event_log.h"
#include "custops/log/partitioner.h"
#include "kafka/event_log_impl.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log::internal {
namespace {

// One Append call's bookkeeping, shared with the delivery-report callback
// through each message's opaque pointer (a Slot).
struct AppendCall {
  struct Slot {
    AppendCall* call = nullptr;
    size_t result_index = 0;
  };

  AppendCall(std::vector<AppendResult>& results, std::vector<uint8_t>& ok, OwnOffsets* own)
      : results(results), ok(ok), own(own) {}

  // Called on whichever thread polls the producer. The decrement is the last
  // access to `this`: the owner may return as soon as it sees zero.
  void Deliver(const Slot& slot, const rd_kafka_message_t& message) {
    if (message.err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      results[slot.result_index].offset = Offset(message.offset);
      ok[slot.result_index] = 1;
      if (own != nullptr) {
        absl::MutexLock lock(&own->mu);
        if (message.partition >= 0 &&
            static_cast<size_t>(message.partition) < own->offsets.size()) {
          own->offsets[message.partition].insert(message.offset);
        }
      }
      delivered.fetch_add(1, std::memory_order_relaxed);
    } else {
      absl::MutexLock lock(&mu);
      if (first_error == RD_KAFKA_RESP_ERR_NO_ERROR) first_error = message.err;
    }
    pending.fetch_sub(1, std::memory_order_acq_rel);
  }

  std::vector<AppendResult>& results;
  // ok[i]: record i was delivered (results[i].offset is set).
  std::vector<uint8_t>& ok;
  OwnOffsets* const own;
  std::vector<Slot> slots;
  std::atomic<size_t> pending{0};
  std::atomic<size_t> delivered{0};
  absl::Mutex mu;
  rd_kafka_resp_err_t first_error ABSL_GUARDED_BY(mu) = RD_KAFKA_RESP_ERR_NO_ERROR;
};

}  // namespace

void DeliveryReport(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* /*opaque*/) {
  const auto* slot = static_cast<const AppendCall::Slot*>(message->_private);
  if (slot != nullptr) slot->call->Deliver(*slot, *message);
}

absl::Status KafkaEventLogImpl::ProduceAndWait(const std::string& topic,
                                               absl::Span<const Record> records,
                                               const std::vector<size_t>& to_produce,
                                               std::vector<AppendResult>& results,
                                               std::vector<uint8_t>& ok, size_t& delivered,
                                               OwnOffsets* own) {
  AppendCall call(results, ok, own);
  call.slots.resize(to_produce.size());
  const int64_t timestamp_ms = absl::ToUnixMillis(clock_.Now());
  const absl::Time give_up = absl::Now() + options_.append_timeout;
  absl::Status produce_error;
  for (size_t j = 0; j < to_produce.size(); ++j) {
    const size_t i = to_produce[j];
    const Record& record = records[i];
    call.slots[j] = AppendCall::Slot{.call = &call, .result_index = i};
    rd_kafka_vu_t vus[8];
    size_t n = 0;
    vus[n].vtype = RD_KAFKA_VTYPE_TOPIC;
    vus[n++].u.cstr = topic.c_str();
    vus[n].vtype = RD_KAFKA_VTYPE_PARTITION;
    vus[n++].u.i32 = results[i].partition.value();
    vus[n].vtype = RD_KAFKA_VTYPE_KEY;
    vus[n].u.mem.ptr = const_cast<char*>(record.key.data());
    vus[n++].u.mem.size = record.key.size();
    vus[n].vtype = RD_KAFKA_VTYPE_VALUE;
    vus[n].u.mem.ptr = const_cast<char*>(record.value.data());
    vus[n++].u.mem.size = record.value.size();
    vus[n].vtype = RD_KAFKA_VTYPE_MSGFLAGS;
    vus[n++].u.i = RD_KAFKA_MSG_F_COPY;
    vus[n].vtype = RD_KAFKA_VTYPE_TIMESTAMP;
    vus[n++].u.i64 = timestamp_ms;
    vus[n].vtype = RD_KAFKA_VTYPE_OPAQUE;
    vus[n++].u.ptr = &call.slots[j];
    if (!record.idempotency_key.empty()) {
      vus[n].vtype = RD_KAFKA_VTYPE_HEADER;
      vus[n].u.header.name = kIdempotencyHeader.data();
      vus[n].u.header.val = record.idempotency_key.data();
      vus[n++].u.header.size = static_cast<ssize_t>(record.idempotency_key.size());
    }
    call.pending.fetch_add(1, std::memory_order_acq_rel);
    while (true) {
      ErrorPtr error(rd_kafka_produceva(producer_.get(), vus, n));
      if (error == nullptr) break;
      const rd_kafka_resp_err_t code = rd_kafka_error_code(error.get());
      if (code == RD_KAFKA_RESP_ERR__QUEUE_FULL && absl::Now() < give_up) {
        rd_kafka_poll(producer_.get(), 10);  // serve reports to make room
        continue;
      }
      call.pending.fetch_sub(1, std::memory_order_acq_rel);
      produce_error = FromKafka(
          code, absl::StrCat("producing to ", topic, ": ", rd_kafka_error_string(error.get())));
      break;
    }
    if (!produce_error.ok()) break;
  }
  // Every produced record gets exactly one report within message.timeout.ms.
  while (call.pending.load(std::memory_order_acquire) > 0) rd_kafka_poll(producer_.get(), 10);
  delivered = call.delivered.load();
  if (!produce_error.ok()) return produce_error;
  absl::MutexLock lock(&call.mu);
  if (call.first_error == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
    return absl::UnavailableError(absl::StrCat("appending to ", topic, ": not acknowledged within ",
                                               absl::FormatDuration(options_.append_timeout)));
  }
  if (call.first_error == RD_KAFKA_RESP_ERR__FATAL) {
    char reason[512];
    rd_kafka_fatal_error(producer_.get(), reason, sizeof(reason));
    return absl::InternalError(
        absl::StrCat("Kafka producer failed (reopen the log): ", static_cast<const char*>(reason)));
  }
  return FromKafka(call.first_error, absl::StrCat("appending to ", topic));
}

absl::StatusOr<std::vector<AppendResult>> KafkaEventLogImpl::Append(
    std::string_view topic, absl::Span<const Record> records, const AppendOptions& /*options*/) {
  // AppendOptions::sync: acks=all already waits for every in-sync replica;
  // Kafka leaves fsync to replication, so there is nothing more to ask for.
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  const std::string name(topic);
  ASSIGN_OR_RETURN(const int partitions, PartitionCountLocked(name));
  std::vector<AppendResult> results(records.size());
  if (records.empty()) return results;
  for (size_t i = 0; i < records.size(); ++i) {
    results[i].partition = PartitionForKey(records[i].key, partitions);
  }
  std::vector<uint8_t> ok(records.size(), 0);

  const bool idempotent = std::any_of(records.begin(), records.end(),
                                      [](const Record& r) { return !r.idempotency_key.empty(); });
  std::vector<size_t> to_produce;
  to_produce.reserve(records.size());
  if (!idempotent) {
    for (size_t i = 0; i < records.size(); ++i) to_produce.push_back(i);
    size_t delivered = 0;
    absl::Status status =
        ProduceAndWait(name, records, to_produce, results, ok, delivered, /*own=*/nullptr);
    if (delivered > 0) NoteAppended(name, results, to_produce);
    RETURN_IF_ERROR(status);
    return results;
  }

  IdempotencyIndex& index = IndexFor(name, partitions);
  // The ends first, without the index lock, so concurrent calls overlap
  // their round trips. Anything appended before this call began is below
  // them. The catch-up counts against the caller's append_timeout too (the
  // produce below then has its own append_timeout, librdkafka's per-message
  // bound).
  const absl::Time deadline =
      absl::Now() + std::min(options_.append_timeout, options_.request_timeout);
  ASSIGN_OR_RETURN(std::vector<int64_t> ends, EndOffsets(name, partitions, deadline));
  // Serve the delivery reports that arrived meanwhile, so our own records
  // below `ends` are known as ours and not read back (only a cost: reading
  // them back indexes them at the same positions).
  rd_kafka_poll(producer_.get(), 0);

  // First record of this call with a given key.
  absl::flat_hash_map<std::string_view, size_t> first_with_key;
  std::vector<std::pair<size_t, size_t>> repeats;  // (record, first record with its key)
  {
    absl::MutexLock index_lock(&index.mu);
    RETURN_IF_ERROR(CatchUp(name, index, ends));
    // A key another call of this process is producing: wait until it has
    // settled (published, or released after a failure), then look again.
    // Waiting for the whole call keeps its records in order.
    auto settled = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(index.mu) {
      for (const Record& record : records) {
        const std::string& key = record.idempotency_key;
        if (!key.empty() && index.in_flight.contains(key) && !index.positions.contains(key)) {
          return false;
        }
      }
      return true;
    };
    // The other call's produce ends within append_timeout (librdkafka's
    // message.timeout.ms); a little more for it to publish.
    const absl::Time settle_deadline =
        absl::Now() + options_.append_timeout + options_.request_timeout;
    if (!index.mu.AwaitWithDeadline(absl::Condition(&settled), settle_deadline)) {
      return absl::UnavailableError(absl::StrCat(
          "appending to ", name, ": an idempotency key is still being appended by another call"));
    }
    for (size_t i = 0; i < records.size(); ++i) {
      const std::string& key = records[i].idempotency_key;
      if (!key.empty()) {
        if (auto it = index.positions.find(key); it != index.positions.end()) {
          results[i] = it->second;
          continue;
        }
        auto [it, inserted] = first_with_key.try_emplace(key, i);
        if (!inserted) {
          repeats.emplace_back(i, it->second);
          continue;
        }
        index.in_flight.insert(key);
      }
      to_produce.push_back(i);
    }
  }

  size_t delivered = 0;
  absl::Status status = to_produce.empty() ? absl::OkStatus()
                                           : ProduceAndWait(name, records, to_produce, results, ok,
                                                            delivered, &index.own);
  {
    absl::MutexLock index_lock(&index.mu);
    // Every delivered key is in the log, even when the call failed: publish
    // it, so a retry finds it. Release the rest (a retry produces them).
    for (size_t i : to_produce) {
      const std::string& key = records[i].idempotency_key;
      if (key.empty()) continue;
      if (ok[i]) {
        index.positions.try_emplace(key, AppendResult{.partition = results[i].partition,
                                                      .offset = results[i].offset,
                                                      .duplicate = true});
      }
      index.in_flight.erase(key);
    }
    // Skip re-reading our own records later: move indexed_to over them when
    // they directly follow it.
    absl::MutexLock own_lock(&index.own.mu);
    for (int p = 0; p < partitions; ++p) {
      std::set<int64_t>& own = index.own.offsets[p];
      own.erase(own.begin(), own.lower_bound(index.indexed_to[p]));
      while (!own.empty() && *own.begin() == index.indexed_to[p]) {
        own.erase(own.begin());
        ++index.indexed_to[p];
      }
    }
  }
  if (delivered > 0) NoteAppended(name, results, to_produce);
  RETURN_IF_ERROR(status);

  for (auto [i, first] : repeats) {
    results[i] = results[first];
    results[i].duplicate = true;
  }
  return results;
}

}  // namespace custops::log::internal

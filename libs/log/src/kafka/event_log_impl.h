// KafkaEventLog: the EventLog contract on Apache Kafka through librdkafka's C
// API (design in docs/kafka.md). This header declares what the backend's
// files in src/kafka/ share: KafkaEventLogImpl, its per-topic state and small
// helpers. Private to libs/log.
//
// Handles: one idempotent producer (also used for metadata, admin requests
// and offset queries) and a pool of consumers that Read assigns to one
// partition at the offset asked for and unassigns afterwards; they never
// join their group or commit.
//
// Append: each record is produced to PartitionForKey(key) with a per-message
// opaque pointing at its slot in the call; the delivery-report callback fills
// the slot's offset or error. Every waiting caller polls the producer, so a
// report may be served on another caller's thread; a call returns only once
// all of its reports are in, so its slots outlive every callback.
//
// Idempotency: a per-topic index (key -> position) with a per-partition
// "indexed up to" offset. An Append with idempotency keys asks the ends
// (no lock), then under the topic's index lock catches up (reads
// [indexed_to, end) of every partition, skipping the offsets this process's
// own delivery reports already recorded), deduplicates and reserves its new
// keys as in flight; it produces and waits for its reports without the lock,
// then publishes the delivered keys' positions and drops the reservations.
// A call meeting a key another call of this process has in flight waits for
// it to settle, so keys are checked and written in one step in this process
// while calls with different keys overlap.
//
// Generation: per-topic counters bumped by local appends, and by a watcher
// thread that polls the end offsets of the topics someone waits on and bumps
// when an end moved past what this process knows of.
//
// Locks: state_mu_ is held shared by every operation that touches a handle
// and exclusively by Close(). Order: state_mu_ -> index.mu -> topics_mu_,
// consumers_mu_, watch.mu. WaitForAppend never holds state_mu_ while it
// blocks.
//
// Files: kafka_event_log.cc (Open, the handles' configuration, the consumer
// pool, Close), admin.cc (CreateTopic, partition counts, watermarks and end
// offsets), append.cc (Append and its delivery reports),
// idempotency_index.cc (the index's catch-up), read.cc (Read), watcher.cc
// (generations and the watcher thread) and reader.cc (KafkaReader).
#ifndef CUSTOPS_LOG_SRC_KAFKA_EVENT_LOG_IMPL_H_
#define CUSTOPS_LOG_SRC_KAFKA_EVENT_LOG_IMPL_H_

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "custops/base/clock.h"
#include "custops/log/event_log.h"
#include "custops/log/kafka_event_log.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log::internal {

inline absl::string_view AsAbsl(std::string_view s) {
  return absl::string_view(s.data(), s.size());
}

inline int ToMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT32_MAX));
}

inline int MillisUntil(absl::Time deadline) { return ToMillis(deadline - absl::Now()); }

inline absl::Status ClosedError() { return absl::FailedPreconditionError("event log is closed"); }

inline absl::Status CheckPartition(int partitions, Partition partition) {
  if (partition.value() < 0 || partition.value() >= partitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition ", partition.value(), " out of range [0, ", partitions, ")"));
  }
  return absl::OkStatus();
}

// Calls `attempt` until it succeeds, fails with something other than
// UNAVAILABLE (which covers leadership moving or not yet settled, e.g. just
// after a topic was created), or `deadline` passes.
template <typename Fn>
auto RetryUnavailable(absl::Time deadline, Fn attempt) -> decltype(attempt()) {
  absl::Duration backoff = absl::Milliseconds(10);
  while (true) {
    auto result = attempt();
    if (result.ok() || result.status().code() != absl::StatusCode::kUnavailable ||
        absl::Now() + backoff >= deadline) {
      return result;
    }
    absl::SleepFor(backoff);
    backoff = std::min(backoff * 2, absl::Milliseconds(200));
  }
}

// A record read back, with the idempotency key it was appended with.
struct RawRecord {
  LogRecord record;
  std::optional<std::string> idempotency_key;
};

// The record `message` holds, read from `partition` (defined in read.cc).
RawRecord ToRawRecord(const rd_kafka_message_t& message, Partition partition);

// Offsets of a topic that this process's keyed Appends got (filled by the
// delivery reports as they arrive), so that an idempotency catch-up skips
// them instead of reading them back. Per partition; entries below the
// index's indexed_to are dropped as it moves.
struct OwnOffsets {
  absl::Mutex mu;
  std::vector<std::set<int64_t>> offsets ABSL_GUARDED_BY(mu);
};

// The producer's delivery-report callback: hands each report to the Append
// call waiting for it (defined in append.cc).
void DeliveryReport(rd_kafka_t* rk, const rd_kafka_message_t* message, void* opaque);

// Idempotency keys already in one topic, as far as this process has read.
struct IdempotencyIndex {
  // Held across a keyed Append's catch-up and deduplication, and while it
  // publishes its results; not while it produces.
  absl::Mutex mu;
  // Per partition: every record below this offset is in `positions`.
  std::vector<int64_t> indexed_to ABSL_GUARDED_BY(mu);
  absl::flat_hash_map<std::string, AppendResult> positions ABSL_GUARDED_BY(mu);
  // Keys an Append of this process is producing (not in `positions` yet).
  absl::flat_hash_set<std::string> in_flight ABSL_GUARDED_BY(mu);
  // Lock order: mu -> own.mu (the delivery reports take own.mu alone).
  OwnOffsets own;
};

// What WaitForAppend and Generation look at for one topic.
struct TopicWatch {
  mutable absl::Mutex mu;
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;
  // Per partition, the highest end offset this process knows of (its own
  // appends and the watcher's polls). Empty until the topic's partition
  // count is known.
  std::vector<int64_t> known_ends ABSL_GUARDED_BY(mu);
};

// The EventLog that KafkaEventLog::Open returns.
class KafkaEventLogImpl final : public EventLog {
 public:
  KafkaEventLogImpl(const KafkaLogOptions& options, const base::Clock& clock)
      : options_(options), clock_(clock) {}

  ~KafkaEventLogImpl() override {
    // A backstop: callers are expected to Close() and check the status.
    if (!closed_.load()) {
      absl::Status ignored = Close();
      (void)ignored;
    }
  }

  absl::Status Init();

  absl::Status CreateTopic(std::string_view topic, int partitions) override;
  absl::StatusOr<int> PartitionCount(std::string_view topic) const override;
  absl::StatusOr<std::vector<AppendResult>> Append(std::string_view topic,
                                                   absl::Span<const Record> records,
                                                   const AppendOptions& options) override;
  absl::StatusOr<std::vector<LogRecord>> Read(std::string_view topic, Partition partition,
                                              Offset from, size_t max_records) const override;
  absl::StatusOr<Offset> EndOffset(std::string_view topic, Partition partition) const override;
  absl::StatusOr<std::vector<Offset>> EndOffsets(std::string_view topic) const override;
  uint64_t Generation(std::string_view topic) const override;
  uint64_t WaitForAppend(std::string_view topic, uint64_t seen, absl::Time deadline) const override;
  std::unique_ptr<LogReader> NewReader(std::string_view topic) const override;
  absl::Status Close() override;

 private:
  friend class KafkaReader;

  // A consumer borrowed from the pool for one Read.
  class ConsumerLease {
   public:
    ConsumerLease(const KafkaEventLogImpl& log, KafkaPtr consumer)
        : log_(log), consumer_(std::move(consumer)) {}
    ~ConsumerLease() { log_.ReturnConsumer(std::move(consumer_)); }
    ConsumerLease(const ConsumerLease&) = delete;
    ConsumerLease& operator=(const ConsumerLease&) = delete;
    rd_kafka_t* get() const { return consumer_.get(); }

   private:
    const KafkaEventLogImpl& log_;
    KafkaPtr consumer_;
  };

  absl::StatusOr<ConfPtr> MakeConf(
      std::initializer_list<std::pair<std::string_view, std::string>> ours) const;
  absl::StatusOr<KafkaPtr> NewConsumer() const;
  absl::StatusOr<std::unique_ptr<ConsumerLease>> BorrowConsumer() const;
  void ReturnConsumer(KafkaPtr consumer) const;

  // The helpers below expect state_mu_ held (shared) and the log open.
  absl::StatusOr<int> PartitionCountLocked(std::string_view topic) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Asks the cluster (no cache). NOT_FOUND when the topic does not exist.
  absl::StatusOr<int> FetchPartitionCount(std::string_view topic) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // {earliest, end} of the partition; with end_only the earliest is not
  // asked for (-1).
  absl::StatusOr<std::pair<int64_t, int64_t>> Watermarks(std::string_view topic,
                                                         Partition partition,
                                                         bool end_only = false) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Watermarks for a KafkaReader: takes state_mu_, checks that the log is
  // open and the partition exists.
  absl::StatusOr<std::pair<int64_t, int64_t>> CheckedWatermarks(std::string_view topic,
                                                                Partition partition,
                                                                bool end_only) const;
  // End offset of every partition, in one ListOffsets round per leader.
  // `deadline` defaults to now + request_timeout.
  absl::StatusOr<std::vector<int64_t>> EndOffsets(std::string_view topic, int partitions,
                                                  std::optional<absl::Time> deadline = std::nullopt)
      const ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  absl::StatusOr<std::vector<int64_t>> EndOffsetsOnce(const std::string& name, int partitions,
                                                      absl::Time deadline) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  absl::StatusOr<std::vector<RawRecord>> ReadLocked(std::string_view topic, Partition partition,
                                                    Offset from, size_t max_records) const
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);
  // Reads [indexed_to, ends) of every partition into `index`, skipping the
  // offsets in index.own.
  absl::Status CatchUp(std::string_view topic, IdempotencyIndex& index,
                       const std::vector<int64_t>& ends) const ABSL_SHARED_LOCKS_REQUIRED(state_mu_)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(index.mu);
  // Produces `records[i]` for every i in `to_produce` and waits for every
  // delivery report; fills results[i].offset and sets ok[i] (sized like
  // `records`) for each delivered record, and records their offsets in
  // `own` when given.
  absl::Status ProduceAndWait(const std::string& topic, absl::Span<const Record> records,
                              const std::vector<size_t>& to_produce,
                              std::vector<AppendResult>& results, std::vector<uint8_t>& ok,
                              size_t& delivered, OwnOffsets* own)
      ABSL_SHARED_LOCKS_REQUIRED(state_mu_);

  IdempotencyIndex& IndexFor(std::string_view topic, int partitions);
  // The topic's watch, created (and given its current ends) on first use.
  TopicWatch& WatchFor(std::string_view topic) const;
  // Bumps the generation when the cluster's ends moved past the known ones.
  void PollWatch(std::string_view topic, TopicWatch& watch) const;
  void NoteAppended(std::string_view topic, const std::vector<AppendResult>& results,
                    const std::vector<size_t>& produced) const;
  void WatcherLoop() const;

  const KafkaLogOptions options_;
  const base::Clock& clock_;

  // Set once by Close(); operations check it under state_mu_.
  std::atomic<bool> closed_{false};
  mutable absl::Mutex state_mu_;
  KafkaPtr producer_ ABSL_GUARDED_BY(state_mu_);

  mutable absl::Mutex consumers_mu_;
  mutable std::vector<KafkaPtr> free_consumers_ ABSL_GUARDED_BY(consumers_mu_);

  mutable absl::Mutex topics_mu_;
  mutable absl::flat_hash_map<std::string, int> partition_counts_ ABSL_GUARDED_BY(topics_mu_);

  absl::Mutex indexes_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<IdempotencyIndex>> indexes_
      ABSL_GUARDED_BY(indexes_mu_);

  mutable absl::Mutex watches_mu_;
  mutable absl::flat_hash_map<std::string, std::unique_ptr<TopicWatch>> watches_
      ABSL_GUARDED_BY(watches_mu_);
  mutable std::thread watcher_ ABSL_GUARDED_BY(watches_mu_);
};

}  // namespace custops::log::internal

#endif  // CUSTOPS_LOG_SRC_KAFKA_EVENT_LOG_IMPL_H_

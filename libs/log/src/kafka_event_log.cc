// KafkaEventLog: the EventLog contract on Apache Kafka through librdkafka's C
// API (design in docs/kafka.md).
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
#include "custops/log/kafka_event_log.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
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
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/status_macros.h"
#include "custops/log/partitioner.h"
#include "rdkafka_handles.h"
#include "topic_name.h"

namespace custops::log {
namespace {

using internal::AdminOptionsPtr;
using internal::ConfPtr;
using internal::ErrorPtr;
using internal::EventPtr;
using internal::FromKafka;
using internal::KafkaPtr;
using internal::MessagePtr;
using internal::MetadataPtr;
using internal::NewTopicPtr;
using internal::PartitionListPtr;
using internal::QueuePtr;
using internal::TopicPtr;

constexpr int kMaxPartitions = 10000;
// Records read per request while catching up an idempotency index.
constexpr size_t kCatchUpChunk = 10000;

absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

int ToMillis(absl::Duration d) {
  return static_cast<int>(std::clamp<int64_t>(absl::ToInt64Milliseconds(d), 0, INT32_MAX));
}

int MillisUntil(absl::Time deadline) { return ToMillis(deadline - absl::Now()); }

absl::Status ClosedError() { return absl::FailedPreconditionError("event log is closed"); }

absl::Status CheckPartition(int partitions, Partition partition) {
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

RawRecord ToRawRecord(const rd_kafka_message_t& message, Partition partition) {
  RawRecord raw;
  raw.record.partition = partition;
  raw.record.offset = Offset(message.offset);
  if (message.key != nullptr) {
    raw.record.key.assign(static_cast<const char*>(message.key), message.key_len);
  }
  if (message.payload != nullptr) {
    raw.record.value.assign(static_cast<const char*>(message.payload), message.len);
  }
  rd_kafka_timestamp_type_t type;
  raw.record.timestamp = absl::FromUnixMillis(rd_kafka_message_timestamp(&message, &type));
  rd_kafka_headers_t* headers = nullptr;
  // rd_kafka_message_headers parses into the message; the API takes it non-const.
  if (rd_kafka_message_headers(const_cast<rd_kafka_message_t*>(&message), &headers) ==
      RD_KAFKA_RESP_ERR_NO_ERROR) {
    const void* value = nullptr;
    size_t size = 0;
    if (rd_kafka_header_get_last(headers, kIdempotencyHeader.data(), &value, &size) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        value != nullptr) {
      raw.idempotency_key.emplace(static_cast<const char*>(value), size);
    }
  }
  return raw;
}

// Offsets of a topic that this process's keyed Appends got (filled by the
// delivery reports as they arrive), so that an idempotency catch-up skips
// them instead of reading them back. Per partition; entries below the
// index's indexed_to are dropped as it moves.
struct OwnOffsets {
  absl::Mutex mu;
  std::vector<std::set<int64_t>> offsets ABSL_GUARDED_BY(mu);
};

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

void DeliveryReport(rd_kafka_t* /*rk*/, const rd_kafka_message_t* message, void* /*opaque*/) {
  const auto* slot = static_cast<const AppendCall::Slot*>(message->_private);
  if (slot != nullptr) slot->call->Deliver(*slot, *message);
}

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

absl::StatusOr<ConfPtr> KafkaEventLogImpl::MakeConf(
    std::initializer_list<std::pair<std::string_view, std::string>> ours) const {
  ConfPtr conf(rd_kafka_conf_new());
  char errstr[512];
  auto set = [&](std::string_view name, const std::string& value) -> absl::Status {
    const std::string key(name);
    if (rd_kafka_conf_set(conf.get(), key.c_str(), value.c_str(), errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
      return absl::InvalidArgumentError(absl::StrCat("librdkafka property ", key, "=", value, ": ",
                                                     static_cast<const char*>(errstr)));
    }
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(set("bootstrap.servers", options_.bootstrap_servers));
  RETURN_IF_ERROR(set("client.id", options_.client_id));
  RETURN_IF_ERROR(set("log.connection.close", "false"));
  for (const auto& [name, value] : ours) RETURN_IF_ERROR(set(name, value));
  for (const auto& [name, value] : options_.properties) RETURN_IF_ERROR(set(name, value));
  return conf;
}

absl::Status KafkaEventLogImpl::Init() {
  ASSIGN_OR_RETURN(
      ConfPtr conf,
      MakeConf({
          {"enable.idempotence", "true"},
          {"acks", "all"},
          {"message.timeout.ms", absl::StrCat(std::max(1, ToMillis(options_.append_timeout)))},
          {"linger.ms", absl::StrCat(ToMillis(options_.linger))},
          // We pick partitions ourselves; never let a metadata request create a topic.
          {"allow.auto.create.topics", "false"},
          {"topic.metadata.propagation.max.ms", "1000"},
      }));
  rd_kafka_conf_set_dr_msg_cb(conf.get(), &DeliveryReport);
  char errstr[512];
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf.get(), errstr, sizeof(errstr));
  if (producer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("creating Kafka producer: ", static_cast<const char*>(errstr)));
  }
  conf.release();  // owned by the producer now
  absl::MutexLock lock(&state_mu_);
  producer_.reset(producer);

  // Fail early when no broker answers.
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), /*all_topics=*/0, nullptr, &raw,
                                              ToMillis(options_.request_timeout));
  MetadataPtr metadata(raw);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::UnavailableError(absl::StrCat(
        "no Kafka broker answered at ", options_.bootstrap_servers, ": ", rd_kafka_err2str(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<KafkaPtr> KafkaEventLogImpl::NewConsumer() const {
  ASSIGN_OR_RETURN(ConfPtr conf, MakeConf({
                                     // Needed by assign(); the group is never joined and
                                     // nothing is committed to it.
                                     {"group.id", absl::StrCat(options_.client_id, "-reader")},
                                     {"enable.auto.commit", "false"},
                                     {"enable.auto.offset.store", "false"},
                                     {"auto.offset.reset", "earliest"},
                                     {"enable.partition.eof", "false"},
                                     {"allow.auto.create.topics", "false"},
                                     {"fetch.wait.max.ms", "50"},
                                     {"fetch.error.backoff.ms", "50"},
                                     {"queued.max.messages.kbytes", "16384"},
                                 }));
  char errstr[512];
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf.get(), errstr, sizeof(errstr));
  if (consumer == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("creating Kafka consumer: ", static_cast<const char*>(errstr)));
  }
  conf.release();
  rd_kafka_poll_set_consumer(consumer);
  return KafkaPtr(consumer);
}

absl::StatusOr<std::unique_ptr<KafkaEventLogImpl::ConsumerLease>>
KafkaEventLogImpl::BorrowConsumer() const {
  KafkaPtr consumer;
  {
    absl::MutexLock lock(&consumers_mu_);
    if (!free_consumers_.empty()) {
      consumer = std::move(free_consumers_.back());
      free_consumers_.pop_back();
    }
  }
  if (consumer == nullptr) {
    ASSIGN_OR_RETURN(consumer, NewConsumer());
  }
  return std::make_unique<ConsumerLease>(*this, std::move(consumer));
}

void KafkaEventLogImpl::ReturnConsumer(KafkaPtr consumer) const {
  absl::MutexLock lock(&consumers_mu_);
  free_consumers_.push_back(std::move(consumer));
}

absl::StatusOr<int> KafkaEventLogImpl::FetchPartitionCount(std::string_view topic) const {
  TopicPtr handle(rd_kafka_topic_new(producer_.get(), std::string(topic).c_str(), nullptr));
  if (handle == nullptr) {
    return FromKafka(rd_kafka_last_error(), absl::StrCat("topic handle ", AsAbsl(topic)));
  }
  const rd_kafka_metadata_t* raw = nullptr;
  rd_kafka_resp_err_t err = rd_kafka_metadata(producer_.get(), /*all_topics=*/0, handle.get(), &raw,
                                              ToMillis(options_.request_timeout));
  MetadataPtr metadata(raw);
  RETURN_IF_ERROR(FromKafka(err, absl::StrCat("metadata of ", AsAbsl(topic))));
  for (int i = 0; i < metadata->topic_cnt; ++i) {
    const rd_kafka_metadata_topic_t& t = metadata->topics[i];
    if (topic != t.topic) continue;
    if (t.err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART ||
        t.err == RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC) {
      return absl::NotFoundError(absl::StrCat("unknown topic ", AsAbsl(topic)));
    }
    RETURN_IF_ERROR(FromKafka(t.err, absl::StrCat("metadata of ", AsAbsl(topic))));
    if (t.partition_cnt == 0) {
      return absl::NotFoundError(absl::StrCat("unknown topic ", AsAbsl(topic)));
    }
    return t.partition_cnt;
  }
  return absl::NotFoundError(absl::StrCat("unknown topic ", AsAbsl(topic)));
}

absl::StatusOr<int> KafkaEventLogImpl::PartitionCountLocked(std::string_view topic) const {
  {
    absl::MutexLock lock(&topics_mu_);
    auto it = partition_counts_.find(AsAbsl(topic));
    if (it != partition_counts_.end()) return it->second;
  }
  ASSIGN_OR_RETURN(int count, FetchPartitionCount(topic));
  absl::MutexLock lock(&topics_mu_);
  partition_counts_[AsAbsl(topic)] = count;
  return count;
}

absl::StatusOr<std::pair<int64_t, int64_t>> KafkaEventLogImpl::CheckedWatermarks(
    std::string_view topic, Partition partition, bool end_only) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  ASSIGN_OR_RETURN(const int partitions, PartitionCountLocked(topic));
  RETURN_IF_ERROR(CheckPartition(partitions, partition));
  return Watermarks(topic, partition, end_only);
}

absl::StatusOr<std::pair<int64_t, int64_t>> KafkaEventLogImpl::Watermarks(std::string_view topic,
                                                                          Partition partition,
                                                                          bool end_only) const {
  const std::string name(topic);
  const absl::Time deadline = absl::Now() + options_.request_timeout;
  // Through rd_kafka_offsets_for_times, which honours its timeout:
  // rd_kafka_query_watermark_offsets (librdkafka 2.0.2) waits for the reply
  // without one, and the idempotent producer retries a request to a leader
  // that moved and went down without end (kafka_mock_test).
  return RetryUnavailable(deadline, [&]() -> absl::StatusOr<std::pair<int64_t, int64_t>> {
    int64_t marks[2] = {-1, 0};
    // Timestamp -2 asks ListOffsets for the earliest offset, -1 for the end.
    for (int i = end_only ? 1 : 0; i < 2; ++i) {
      PartitionListPtr list(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(list.get(), name.c_str(), partition.value())->offset =
          i == 0 ? -2 : -1;
      const std::string what = absl::StrCat("offsets of ", name, "/", partition.value());
      RETURN_IF_ERROR(FromKafka(rd_kafka_offsets_for_times(producer_.get(), list.get(),
                                                           std::max(1, MillisUntil(deadline))),
                                what));
      if (list->cnt != 1) return absl::InternalError(absl::StrCat("no answer for ", what));
      RETURN_IF_ERROR(FromKafka(list->elems[0].err, what));
      if (list->elems[0].offset < 0) {
        return absl::InternalError(absl::StrCat("bad offset ", list->elems[0].offset, " of ", name,
                                                "/", partition.value()));
      }
      marks[i] = list->elems[0].offset;
    }
    return std::make_pair(marks[0], marks[1]);
  });
}

absl::StatusOr<std::vector<int64_t>> KafkaEventLogImpl::EndOffsets(
    std::string_view topic, int partitions, std::optional<absl::Time> until) const {
  const std::string name(topic);
  const absl::Time deadline = until.value_or(absl::Now() + options_.request_timeout);
  return RetryUnavailable(deadline, [&] { return EndOffsetsOnce(name, partitions, deadline); });
}

absl::StatusOr<std::vector<int64_t>> KafkaEventLogImpl::EndOffsetsOnce(const std::string& name,
                                                                       int partitions,
                                                                       absl::Time deadline) const {
  PartitionListPtr list(rd_kafka_topic_partition_list_new(partitions));
  for (int p = 0; p < partitions; ++p) {
    // A timestamp of -1 asks ListOffsets for the latest offset (the end).
    rd_kafka_topic_partition_list_add(list.get(), name.c_str(), p)->offset = -1;
  }
  rd_kafka_resp_err_t err =
      rd_kafka_offsets_for_times(producer_.get(), list.get(), std::max(1, MillisUntil(deadline)));
  RETURN_IF_ERROR(FromKafka(err, absl::StrCat("end offsets of ", name)));
  std::vector<int64_t> ends(partitions, 0);
  for (int i = 0; i < list->cnt; ++i) {
    const rd_kafka_topic_partition_t& tp = list->elems[i];
    RETURN_IF_ERROR(FromKafka(tp.err, absl::StrCat("end offset of ", name, "/", tp.partition)));
    if (tp.partition < 0 || tp.partition >= partitions || tp.offset < 0) {
      return absl::InternalError(
          absl::StrCat("bad end offset ", tp.offset, " of ", name, "/", tp.partition));
    }
    ends[tp.partition] = tp.offset;
  }
  return ends;
}

absl::Status KafkaEventLogImpl::CreateTopic(std::string_view topic, int partitions) {
  RETURN_IF_ERROR(internal::ValidateTopicName(topic));
  if (partitions < 1 || partitions > kMaxPartitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition count ", partitions, " out of range [1, ", kMaxPartitions, "]"));
  }
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  const std::string name(topic);

  auto same_count = [&](int existing) -> absl::Status {
    if (existing == partitions) return absl::OkStatus();
    return absl::FailedPreconditionError(
        absl::StrCat("topic ", name, " exists with ", existing, " partitions, not ", partitions));
  };
  {
    absl::MutexLock lock(&topics_mu_);
    if (auto it = partition_counts_.find(name); it != partition_counts_.end()) {
      return same_count(it->second);
    }
  }

  char errstr[512];
  NewTopicPtr new_topic(rd_kafka_NewTopic_new(name.c_str(), partitions, options_.replication_factor,
                                              errstr, sizeof(errstr)));
  if (new_topic == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("topic ", name, ": ", errstr));
  }
  AdminOptionsPtr admin_options(
      rd_kafka_AdminOptions_new(producer_.get(), RD_KAFKA_ADMIN_OP_CREATETOPICS));
  const int timeout_ms = ToMillis(options_.request_timeout);
  if (rd_kafka_AdminOptions_set_request_timeout(admin_options.get(), timeout_ms, errstr,
                                                sizeof(errstr)) != RD_KAFKA_RESP_ERR_NO_ERROR ||
      rd_kafka_AdminOptions_set_operation_timeout(admin_options.get(), timeout_ms, errstr,
                                                  sizeof(errstr)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
    return absl::InternalError(absl::StrCat("admin options: ", errstr));
  }
  QueuePtr queue(rd_kafka_queue_new(producer_.get()));
  rd_kafka_NewTopic_t* topics[] = {new_topic.get()};
  rd_kafka_CreateTopics(producer_.get(), topics, 1, admin_options.get(), queue.get());
  EventPtr event(rd_kafka_queue_poll(queue.get(), timeout_ms + 1000));
  if (event == nullptr) {
    return absl::UnavailableError(absl::StrCat("creating topic ", name, ": no answer"));
  }
  RETURN_IF_ERROR(FromKafka(rd_kafka_event_error(event.get()), absl::StrCat("creating ", name)));
  const rd_kafka_CreateTopics_result_t* result = rd_kafka_event_CreateTopics_result(event.get());
  size_t count = 0;
  const rd_kafka_topic_result_t** results = rd_kafka_CreateTopics_result_topics(result, &count);
  if (count != 1) return absl::InternalError(absl::StrCat("creating ", name, ": no topic result"));
  const rd_kafka_resp_err_t err = rd_kafka_topic_result_error(results[0]);
  if (err == RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
    ASSIGN_OR_RETURN(int existing, PartitionCountLocked(name));
    return same_count(existing);
  }
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    const char* detail = rd_kafka_topic_result_error_string(results[0]);
    return FromKafka(err, absl::StrCat("creating ", name, detail != nullptr ? ": " : "",
                                       detail != nullptr ? detail : ""));
  }

  // The controller has the topic; wait until the brokers' metadata shows it
  // with every partition, so the next call finds it.
  const absl::Time deadline = absl::Now() + options_.request_timeout;
  while (true) {
    absl::StatusOr<int> seen = FetchPartitionCount(name);
    if (seen.ok() && *seen == partitions) break;
    if (absl::Now() >= deadline) {
      return absl::UnavailableError(
          absl::StrCat("topic ", name, " created but not visible in metadata yet"));
    }
    absl::SleepFor(absl::Milliseconds(20));
  }
  // And until every partition's leader answers for it.
  RETURN_IF_ERROR(RetryUnavailable(deadline, [&] {
                    return EndOffsetsOnce(name, partitions, deadline);
                  }).status());
  absl::MutexLock lock(&topics_mu_);
  partition_counts_[name] = partitions;
  return absl::OkStatus();
}

absl::StatusOr<int> KafkaEventLogImpl::PartitionCount(std::string_view topic) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  return PartitionCountLocked(topic);
}

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

absl::StatusOr<std::vector<RawRecord>> KafkaEventLogImpl::ReadLocked(std::string_view topic,
                                                                     Partition partition,
                                                                     Offset from,
                                                                     size_t max_records) const {
  ASSIGN_OR_RETURN(const int partitions, PartitionCountLocked(topic));
  RETURN_IF_ERROR(CheckPartition(partitions, partition));
  if (from.value() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative offset ", from.value()));
  }
  ASSIGN_OR_RETURN(auto watermarks, Watermarks(topic, partition));
  const auto [low, high] = watermarks;
  if (from.value() > high) {
    return absl::OutOfRangeError(absl::StrCat("offset ", from.value(), " is past the end ", high,
                                              " of ", AsAbsl(topic), "/", partition.value()));
  }
  std::vector<RawRecord> out;
  const int64_t start = std::max(from.value(), low);
  if (start >= high || max_records == 0) return out;
  const int64_t end = start + static_cast<int64_t>(std::min<uint64_t>(high - start, max_records));

  ASSIGN_OR_RETURN(std::unique_ptr<ConsumerLease> consumer, BorrowConsumer());
  const std::string name(topic);
  PartitionListPtr assignment(rd_kafka_topic_partition_list_new(1));
  rd_kafka_topic_partition_list_add(assignment.get(), name.c_str(), partition.value())->offset =
      start;
  RETURN_IF_ERROR(FromKafka(rd_kafka_assign(consumer->get(), assignment.get()), "assign"));

  absl::Status status;
  int64_t next = start;
  rd_kafka_resp_err_t last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
  const absl::Time deadline = absl::Now() + options_.request_timeout;
  while (next < end) {
    const int wait_ms = std::min(MillisUntil(deadline), 100);
    MessagePtr message(rd_kafka_consumer_poll(consumer->get(), wait_ms));
    if (message == nullptr) {
      if (absl::Now() >= deadline) {
        status = absl::UnavailableError(
            absl::StrCat("reading ", name, "/", partition.value(), " at ", next, ": timed out",
                         last_error != RD_KAFKA_RESP_ERR_NO_ERROR
                             ? absl::StrCat(" (", rd_kafka_err2str(last_error), ")")
                             : std::string()));
        break;
      }
      // Offsets without a record (transaction markers, compaction) leave
      // nothing to wait for once the position passed them.
      PartitionListPtr position(rd_kafka_topic_partition_list_new(1));
      rd_kafka_topic_partition_list_add(position.get(), name.c_str(), partition.value());
      if (rd_kafka_position(consumer->get(), position.get()) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          position->elems[0].offset >= end) {
        break;
      }
      continue;
    }
    if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      // Consumer errors are reported and retried by librdkafka; remember the
      // last one for the timeout message.
      last_error = message->err;
      continue;
    }
    if (message->partition != partition.value() || message->rkt == nullptr ||
        name != rd_kafka_topic_name(message->rkt) || message->offset < next) {
      continue;  // left over from an earlier assignment
    }
    if (message->offset >= end) break;
    next = message->offset + 1;
    out.push_back(ToRawRecord(*message, partition));
  }
  // Stop fetching; leftovers of this assignment are discarded by librdkafka.
  rd_kafka_resp_err_t unassigned = rd_kafka_assign(consumer->get(), nullptr);
  RETURN_IF_ERROR(status);
  RETURN_IF_ERROR(FromKafka(unassigned, "unassign"));
  return out;
}

absl::StatusOr<std::vector<LogRecord>> KafkaEventLogImpl::Read(std::string_view topic,
                                                               Partition partition, Offset from,
                                                               size_t max_records) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  ASSIGN_OR_RETURN(std::vector<RawRecord> raw, ReadLocked(topic, partition, from, max_records));
  std::vector<LogRecord> out;
  out.reserve(raw.size());
  for (RawRecord& r : raw) out.push_back(std::move(r.record));
  return out;
}

absl::StatusOr<Offset> KafkaEventLogImpl::EndOffset(std::string_view topic,
                                                    Partition partition) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  ASSIGN_OR_RETURN(const int partitions, PartitionCountLocked(topic));
  RETURN_IF_ERROR(CheckPartition(partitions, partition));
  ASSIGN_OR_RETURN(auto watermarks, Watermarks(topic, partition, /*end_only=*/true));
  return Offset(watermarks.second);
}

absl::StatusOr<std::vector<Offset>> KafkaEventLogImpl::EndOffsets(std::string_view topic) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return ClosedError();
  ASSIGN_OR_RETURN(const int partitions, PartitionCountLocked(topic));
  ASSIGN_OR_RETURN(std::vector<int64_t> ends, EndOffsets(topic, partitions));
  std::vector<Offset> out;
  out.reserve(ends.size());
  for (int64_t end : ends) out.push_back(Offset(end));
  return out;
}

void KafkaEventLogImpl::NoteAppended(std::string_view topic,
                                     const std::vector<AppendResult>& results,
                                     const std::vector<size_t>& produced) const {
  // Only an existing watch: creating one queries the cluster under state_mu_,
  // which the caller already holds. A watch created later starts from the
  // ends of that moment, which include these records.
  TopicWatch* found = nullptr;
  {
    absl::MutexLock lock(&watches_mu_);
    auto it = watches_.find(AsAbsl(topic));
    if (it == watches_.end()) return;
    found = it->second.get();
  }
  TopicWatch& watch = *found;
  absl::MutexLock lock(&watch.mu);
  for (size_t i : produced) {
    const size_t p = results[i].partition.value();
    if (p < watch.known_ends.size()) {
      watch.known_ends[p] = std::max(watch.known_ends[p], results[i].offset.value() + 1);
    }
  }
  ++watch.generation;
}

TopicWatch& KafkaEventLogImpl::WatchFor(std::string_view topic) const {
  TopicWatch* watch = nullptr;
  bool created = false;
  {
    absl::MutexLock lock(&watches_mu_);
    std::unique_ptr<TopicWatch>& slot = watches_[AsAbsl(topic)];
    if (slot == nullptr) {
      slot = std::make_unique<TopicWatch>();
      created = true;
    }
    watch = slot.get();
    if (!watcher_.joinable() && !closed_.load()) {
      watcher_ = std::thread([this] { WatcherLoop(); });
    }
  }
  if (created) {
    // Learn the current ends now, so that a caller who reads after this
    // returns is woken by anything appended later.
    absl::ReaderMutexLock state_lock(&state_mu_);
    if (!closed_.load()) {
      absl::StatusOr<int> partitions = PartitionCountLocked(topic);
      if (partitions.ok()) {
        absl::StatusOr<std::vector<int64_t>> ends = EndOffsets(topic, *partitions);
        absl::MutexLock lock(&watch->mu);
        if (ends.ok() && watch->known_ends.empty()) watch->known_ends = *std::move(ends);
      }
    }
  }
  return *watch;
}

void KafkaEventLogImpl::PollWatch(std::string_view topic, TopicWatch& watch) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return;
  absl::StatusOr<int> partitions = PartitionCountLocked(topic);
  if (!partitions.ok()) return;  // not created yet
  absl::StatusOr<std::vector<int64_t>> ends = EndOffsets(topic, *partitions);
  if (!ends.ok()) return;  // try again next round
  absl::MutexLock lock(&watch.mu);
  // A topic that appeared after the watch began: everything in it is new.
  if (watch.known_ends.size() != ends->size()) watch.known_ends.resize(ends->size(), 0);
  bool moved = false;
  for (size_t p = 0; p < ends->size(); ++p) {
    if ((*ends)[p] > watch.known_ends[p]) {
      watch.known_ends[p] = (*ends)[p];
      moved = true;
    }
  }
  if (moved) ++watch.generation;
}

void KafkaEventLogImpl::WatcherLoop() const {
  while (true) {
    std::vector<std::pair<std::string, TopicWatch*>> topics;
    {
      absl::MutexLock lock(&watches_mu_);
      auto closed = [this] { return closed_.load(); };
      watches_mu_.AwaitWithTimeout(absl::Condition(&closed), options_.poll_interval);
      if (closed_.load()) return;
      for (const auto& [name, watch] : watches_) topics.emplace_back(name, watch.get());
    }
    for (auto& [name, watch] : topics) PollWatch(name, *watch);
  }
}

uint64_t KafkaEventLogImpl::Generation(std::string_view topic) const {
  TopicWatch& watch = WatchFor(topic);
  absl::MutexLock lock(&watch.mu);
  return watch.generation;
}

uint64_t KafkaEventLogImpl::WaitForAppend(std::string_view topic, uint64_t seen,
                                          absl::Time deadline) const {
  TopicWatch& watch = WatchFor(topic);
  absl::MutexLock lock(&watch.mu);
  auto moved = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch.mu) {
    return closed_.load() || watch.generation != seen;
  };
  watch.mu.AwaitWithDeadline(absl::Condition(&moved), deadline);
  return watch.generation;
}

// A LogReader on Kafka: one consumer of librdkafka's simple (partition)
// API that fetches every followed partition ahead into its own queue
// (rd_kafka_consume_start), so a Read that continues where the previous one
// ended takes what is queued without a request. Only a Read that finds the
// queue empty while the consumer knows of no later record asks the cluster
// for the end, so that "empty" still means "at the end" as EventLog::Read
// promises. Each queue writes a byte to a pipe when it goes from empty to
// non-empty: Wait polls the pipe.
class KafkaReader final : public LogReader {
 public:
  KafkaReader(const KafkaEventLogImpl& log, std::string topic, KafkaPtr consumer, TopicPtr handle,
              int wake_read, int wake_write)
      : log_(log),
        topic_(std::move(topic)),
        consumer_(std::move(consumer)),
        handle_(std::move(handle)),
        wake_read_(wake_read),
        wake_write_(wake_write) {}

  ~KafkaReader() override {
    for (auto& [p, followed] : partitions_) Stop(p, followed);
    partitions_.clear();
    handle_.reset();
    consumer_.reset();
    ::close(wake_read_);
    ::close(wake_write_);
  }

  absl::StatusOr<std::vector<LogRecord>> Read(Partition partition, Offset from,
                                              size_t max_records) override {
    return ReadFrom(partition, from, max_records, /*exact=*/true);
  }

  absl::StatusOr<std::vector<LogRecord>> ReadAvailable(Partition partition, Offset from,
                                                       size_t max_records) override {
    return ReadFrom(partition, from, max_records, /*exact=*/false);
  }

  void Wait(absl::Time deadline) override {
    pollfd fd{.fd = wake_read_, .events = POLLIN, .revents = 0};
    const int ms = MillisUntil(deadline);
    if (ms > 0) ::poll(&fd, 1, ms);
    char drain[256];
    while (::read(wake_read_, drain, sizeof(drain)) > 0) {
    }
  }

  void Forget(Partition partition) override {
    auto it = partitions_.find(partition.value());
    if (it == partitions_.end()) return;
    Stop(it->first, it->second);
    partitions_.erase(it);
  }

 private:
  struct Followed {
    QueuePtr queue;
    // The offset the next record will have; also `asked`, the offset the
    // caller started from, while nothing was read (records before the log
    // start are skipped, so the two differ).
    int64_t next = 0;
    int64_t asked = 0;
    rd_kafka_resp_err_t last_error = RD_KAFKA_RESP_ERR_NO_ERROR;
    bool At(int64_t offset) const { return offset == next || offset == asked; }
  };
  using Map = absl::flat_hash_map<int, Followed>;

  // Read (exact) or ReadAvailable.
  absl::StatusOr<std::vector<LogRecord>> ReadFrom(Partition partition, Offset from,
                                                  size_t max_records, bool exact) {
    if (log_.closed_.load()) return ClosedError();
    if (from.value() < 0) {
      return absl::InvalidArgumentError(absl::StrCat("negative offset ", from.value()));
    }
    auto it = partitions_.find(partition.value());
    if (it == partitions_.end() || !it->second.At(from.value())) {
      ASSIGN_OR_RETURN(it, Start(partition, from.value()));
    }
    Followed& followed = it->second;
    std::vector<LogRecord> out;
    if (max_records == 0) return out;
    rd_kafka_poll(consumer_.get(), 0);  // serves errors and logs of the handle
    RETURN_IF_ERROR(Take(partition, followed, /*wait_ms=*/0, max_records, out));
    if (!out.empty()) return out;

    // Nothing queued. At the end, unless the consumer or the cluster knows
    // of a later record: then wait for the fetch to bring it.
    int64_t low = -1, high = -1;
    const bool known =
        rd_kafka_get_watermark_offsets(consumer_.get(), topic_.c_str(), partition.value(), &low,
                                       &high) == RD_KAFKA_RESP_ERR_NO_ERROR;
    if (!known || high <= followed.next) {
      if (!exact) return out;
      ASSIGN_OR_RETURN(auto marks, log_.CheckedWatermarks(topic_, partition, /*end_only=*/true));
      if (marks.second <= followed.next) return out;
    }
    const absl::Time deadline = absl::Now() + log_.options_.request_timeout;
    while (out.empty()) {
      if (absl::Now() >= deadline) {
        return absl::UnavailableError(absl::StrCat(
            "reading ", topic_, "/", partition.value(), " at ", followed.next, ": timed out",
            followed.last_error != RD_KAFKA_RESP_ERR_NO_ERROR
                ? absl::StrCat(" (", rd_kafka_err2str(followed.last_error), ")")
                : std::string()));
      }
      RETURN_IF_ERROR(
          Take(partition, followed, std::min(MillisUntil(deadline), 100), max_records, out));
      if (out.empty() && log_.closed_.load()) return ClosedError();
    }
    return out;
  }

  // Starts (or restarts) fetching `partition` at `from`, checked like
  // EventLog::Read: OUT_OF_RANGE past the end, records before the start skipped.
  absl::StatusOr<Map::iterator> Start(Partition partition, int64_t from) {
    ASSIGN_OR_RETURN(auto marks, log_.CheckedWatermarks(topic_, partition, /*end_only=*/false));
    const auto [low, high] = marks;
    if (from > high) {
      return absl::OutOfRangeError(absl::StrCat("offset ", from, " is past the end ", high, " of ",
                                                topic_, "/", partition.value()));
    }
    Forget(partition);
    const int64_t start = std::max(from, low);
    if (rd_kafka_consume_start(handle_.get(), partition.value(), start) == -1) {
      return FromKafka(rd_kafka_last_error(),
                       absl::StrCat("following ", topic_, "/", partition.value()));
    }
    Followed followed;
    followed.queue.reset(
        rd_kafka_queue_get_partition(consumer_.get(), topic_.c_str(), partition.value()));
    followed.next = start;
    followed.asked = from;
    if (followed.queue != nullptr) {
      static constexpr char kByte = 1;
      rd_kafka_queue_io_event_enable(followed.queue.get(), wake_write_, &kByte, 1);
    }
    return partitions_.insert_or_assign(partition.value(), std::move(followed)).first;
  }

  void Stop(int partition, Followed& followed) {
    if (followed.queue != nullptr)
      rd_kafka_queue_io_event_enable(followed.queue.get(), -1, nullptr, 0);
    followed.queue.reset();
    rd_kafka_consume_stop(handle_.get(), partition);
  }

  // Moves up to `max_records` queued records of `partition` into `out`,
  // waiting up to `wait_ms` for the first.
  absl::Status Take(Partition partition, Followed& followed, int wait_ms, size_t max_records,
                    std::vector<LogRecord>& out) {
    buffer_.resize(std::min<size_t>(max_records, 10000));
    const ssize_t n = rd_kafka_consume_batch(handle_.get(), partition.value(), wait_ms,
                                             buffer_.data(), buffer_.size());
    if (n < 0) {
      return FromKafka(rd_kafka_last_error(),
                       absl::StrCat("reading ", topic_, "/", partition.value()));
    }
    for (ssize_t i = 0; i < n; ++i) {
      MessagePtr message(buffer_[i]);
      if (message->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        // Reported and retried by librdkafka; kept for a timeout message.
        followed.last_error = message->err;
        continue;
      }
      if (message->offset < followed.next) continue;
      followed.next = message->offset + 1;
      followed.asked = followed.next;
      out.push_back(std::move(ToRawRecord(*message, partition).record));
    }
    return absl::OkStatus();
  }

  const KafkaEventLogImpl& log_;
  const std::string topic_;
  KafkaPtr consumer_;
  TopicPtr handle_;
  const int wake_read_;
  const int wake_write_;
  Map partitions_;
  std::vector<rd_kafka_message_t*> buffer_;
};

std::unique_ptr<LogReader> KafkaEventLogImpl::NewReader(std::string_view topic) const {
  // Falls back to the plain reader when the handles cannot be made (they are
  // made the same way as Read's consumers, so Read will report why).
  absl::StatusOr<ConfPtr> conf = MakeConf({
      {"enable.auto.commit", "false"},
      {"enable.auto.offset.store", "false"},
      {"enable.partition.eof", "false"},
      {"allow.auto.create.topics", "false"},
      // The broker answers a fetch once it has 256 KiB for it, or after
      // 20 ms: under load, fewer and larger fetches (and apply batches);
      // idle, a record reaches the reader within 20 ms. Measured with
      // bench/kafka_e2e.sh: fetch.min.bytes 1 / 100 ms gave 2.7 ms event ->
      // query p50 but 40k events/s and 30% more CPU per event; 256 KiB / 20 ms
      // 20 ms and 50k; 1 MiB / 50 ms 51 ms and 49k. kafka.properties overrides.
      {"fetch.min.bytes", "262144"},
      {"fetch.wait.max.ms", "20"},
      {"fetch.error.backoff.ms", "50"},
      // Fetched ahead per followed partition.
      {"queued.min.messages", "20000"},
      {"queued.max.messages.kbytes", "4096"},
  });
  int fds[2];
  if (!conf.ok() || ::pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0) return EventLog::NewReader(topic);
  char errstr[512];
  KafkaPtr consumer(rd_kafka_new(RD_KAFKA_CONSUMER, conf->get(), errstr, sizeof(errstr)));
  if (consumer == nullptr) {
    ::close(fds[0]);
    ::close(fds[1]);
    return EventLog::NewReader(topic);
  }
  conf->release();  // owned by the consumer now
  const std::string name(topic);
  TopicPtr handle(rd_kafka_topic_new(consumer.get(), name.c_str(), nullptr));
  if (handle == nullptr) {
    ::close(fds[0]);
    ::close(fds[1]);
    return EventLog::NewReader(topic);
  }
  return std::make_unique<KafkaReader>(*this, name, std::move(consumer), std::move(handle), fds[0],
                                       fds[1]);
}

absl::Status KafkaEventLogImpl::Close() {
  if (closed_.exchange(true)) return ClosedError();
  std::thread watcher;
  {
    absl::MutexLock lock(&watches_mu_);  // wakes the watcher's Await
    watcher = std::move(watcher_);
  }
  if (watcher.joinable()) watcher.join();

  absl::Status status;
  {
    absl::MutexLock state_lock(&state_mu_);
    if (producer_ != nullptr) {
      // Appends have all returned (they hold state_mu_), so this only pushes
      // out what librdkafka still holds, e.g. after a failed call.
      rd_kafka_resp_err_t err = rd_kafka_flush(producer_.get(), ToMillis(options_.append_timeout));
      status = FromKafka(err, "flushing the Kafka producer");
      producer_.reset();
    }
  }
  {
    absl::MutexLock lock(&consumers_mu_);
    for (KafkaPtr& consumer : free_consumers_) rd_kafka_consumer_close(consumer.get());
    free_consumers_.clear();
  }
  // Release WaitForAppend callers: each re-checks its condition when the
  // mutex it waits on is next released.
  absl::MutexLock lock(&watches_mu_);
  for (auto& [name, watch] : watches_) {
    absl::MutexLock watch_lock(&watch->mu);
  }
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> KafkaEventLog::Open(const KafkaLogOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("KafkaLogOptions.bootstrap_servers is empty");
  }
  const base::Clock& clock =
      options.clock != nullptr ? *options.clock : base::SystemClock::Instance();
  auto log = std::make_unique<KafkaEventLogImpl>(options, clock);
  RETURN_IF_ERROR(log->Init());
  return log;
}

}  // namespace custops::log

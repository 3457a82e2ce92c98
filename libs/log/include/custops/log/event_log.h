// The event log: partitioned, ordered, durable topics of records. Two
// implementations share this interface and one conformance suite:
// `EmbeddedEventLog` (RocksDB, one process) and `KafkaEventLog` (librdkafka).
// Services never know which one they run on.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log,
//                    EmbeddedEventLog::Open({.path = "data/log"}));
//   RETURN_IF_ERROR(log->CreateTopic(kCustomerEvents, 12));
//   ASSIGN_OR_RETURN(auto results, log->Append(kCustomerEvents, records, {}));
//   ASSIGN_OR_RETURN(auto batch, log->Read(kCustomerEvents, Partition(0), Offset(0), 500));
#ifndef CUSTOPS_LOG_EVENT_LOG_H_
#define CUSTOPS_LOG_EVENT_LOG_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "custops/base/types.h"

namespace custops::log {

// Topic names (fixed, docs/architecture.md "Topics"; both modes use them).
inline constexpr std::string_view kCustomerEvents = "custops.customer-events.v1";
inline constexpr std::string_view kOrgEvents = "custops.org-events.v1";
inline constexpr std::string_view kStateChanges = "custops.state-changes.v1";
inline constexpr std::string_view kDeadLetter = "custops.dead-letter.v1";

// A record to append.
struct Record {
  // Partitioning key (customer id or scope). Records with one key land in one
  // partition, in append order.
  std::string key;
  std::string value;
  // Optional. When not empty, a later append with the same key in the same
  // topic is not appended again: its result is the original position, marked
  // duplicate. Lets a retried request be applied once. (The `= {}` lets
  // `Record{.key = k, .value = v}` compile under GCC's -Wextra.)
  std::string idempotency_key = {};
};

// A record read back.
struct LogRecord {
  Partition partition;
  Offset offset;
  std::string key;
  std::string value;
  absl::Time timestamp;  // when the log accepted it (recorded_at)
};

struct AppendResult {
  Partition partition;
  Offset offset;
  bool duplicate = false;
};

struct AppendOptions {
  // Wait for the records to reach stable storage before returning.
  // Default: the log's own setting (LogOptions::sync for the embedded log).
  bool sync = true;
};

// Follows one topic: reads each partition forward from where its previous
// Read ended and waits for more, for a consumer that tails the topic (a
// projection). Read has EventLog::Read's contract; a reader is cheaper when
// reads continue where the last one ended (Kafka: one consumer fetching every
// followed partition ahead, no seek and no offset query per call, and Wait
// wakes when a fetch brings records rather than on the next poll).
// Not thread-safe: one thread at a time. Must not outlive its log.
class LogReader {
 public:
  virtual ~LogReader() = default;

  // As EventLog::Read of the reader's topic. A `from` other than where the
  // previous Read of `partition` ended repositions the partition.
  [[nodiscard]] virtual absl::StatusOr<std::vector<LogRecord>> Read(Partition partition,
                                                                    Offset from,
                                                                    size_t max_records) = 0;

  // As Read, except that it may return nothing although records exist that
  // have not reached the reader yet (Kafka: not fetched; it does not ask the
  // cluster for the end). For a caller that Waits and reads again anyway;
  // Read when "empty" must mean "at the end".
  [[nodiscard]] virtual absl::StatusOr<std::vector<LogRecord>> ReadAvailable(Partition partition,
                                                                             Offset from,
                                                                             size_t max_records) {
    return Read(partition, from, max_records);
  }

  // Blocks until records may have arrived since this thread's previous Read
  // calls (spurious wake-ups allowed) or `deadline` passes.
  virtual void Wait(absl::Time deadline) = 0;

  // Stops following `partition` (revoked, say); a later Read starts again.
  virtual void Forget(Partition partition) = 0;
};

class EventLog {
 public:
  virtual ~EventLog() = default;

  // Creates `topic` with `partitions` partitions. OK if it exists with the
  // same count; FAILED_PRECONDITION if it exists with another count.
  [[nodiscard]] virtual absl::Status CreateTopic(std::string_view topic, int partitions) = 0;

  // NOT_FOUND if the topic does not exist.
  [[nodiscard]] virtual absl::StatusOr<int> PartitionCount(std::string_view topic) const = 0;

  // Appends `records` in order; results match them one to one. All or none:
  // after an error nothing of the call was appended. Thread-safe.
  // NOT_FOUND for an unknown topic; UNAVAILABLE / INTERNAL for storage errors.
  [[nodiscard]] virtual absl::StatusOr<std::vector<AppendResult>> Append(
      std::string_view topic, absl::Span<const Record> records, const AppendOptions& options) = 0;

  // Reads up to `max_records` records of one partition starting at `from`
  // (records before the log start are skipped). Empty when `from` is at the
  // end. OUT_OF_RANGE when `from` is past the end. Thread-safe.
  [[nodiscard]] virtual absl::StatusOr<std::vector<LogRecord>> Read(std::string_view topic,
                                                                    Partition partition,
                                                                    Offset from,
                                                                    size_t max_records) const = 0;

  // The offset the next record of `partition` will get.
  [[nodiscard]] virtual absl::StatusOr<Offset> EndOffset(std::string_view topic,
                                                         Partition partition) const = 0;

  // EndOffset of every partition of `topic`, in partition order. The default
  // asks EndOffset for each; Kafka asks in one round per leader.
  [[nodiscard]] virtual absl::StatusOr<std::vector<Offset>> EndOffsets(
      std::string_view topic) const;

  // A counter that grows with every append to `topic`. Readers remember it,
  // read, and wait for it to move.
  [[nodiscard]] virtual uint64_t Generation(std::string_view topic) const = 0;

  // Blocks until Generation(topic) != `seen` or `deadline` passes; returns the
  // generation then. Thread-safe; any number of waiters.
  virtual uint64_t WaitForAppend(std::string_view topic, uint64_t seen,
                                 absl::Time deadline) const = 0;

  // A reader that follows `topic`. The default reads with Read and waits
  // with WaitForAppend.
  [[nodiscard]] virtual std::unique_ptr<LogReader> NewReader(std::string_view topic) const;

  // Flushes and closes. Further calls fail with FAILED_PRECONDITION.
  [[nodiscard]] virtual absl::Status Close() = 0;
};

}  // namespace custops::log

#endif  // CUSTOPS_LOG_EVENT_LOG_H_

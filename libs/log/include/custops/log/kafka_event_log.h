// The event log on Apache Kafka, through librdkafka. Same EventLog contract
// as the embedded log (one conformance suite), with the differences below.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log,
//                    KafkaEventLog::Open({.bootstrap_servers = "127.0.0.1:9092", .clock =
//                    &clock}));
//   RETURN_IF_ERROR(log->CreateTopic(kCustomerEvents, 12));
//   ASSIGN_OR_RETURN(auto results, log->Append(kCustomerEvents, records, {}));
//   RETURN_IF_ERROR(log->Close());
//
// What it owns: one idempotent producer (acks=all), a pool of assign-only
// consumers for Read (they seek to the offset asked for and never commit or
// use a group's offsets), and the librdkafka configuration and callbacks of
// each. See docs/kafka.md for the design.
//
// Beyond (and short of) the EventLog contract:
// - The partition of a record is PartitionForKey(key, partitions), chosen
//   here and passed to librdkafka, so it matches the embedded log and the
//   Java client's default partitioner.
// - Append is all-or-none per partition in the usual case but NOT across
//   partitions: after an error some records of the call may have been
//   appended. Retrying the call with idempotency keys appends each record
//   once. Offsets stay dense (no transactions, hence no control records).
// - Append fails with UNAVAILABLE when a record could not be acknowledged by
//   KafkaLogOptions::append_timeout (librdkafka retries until then; a call
//   with idempotency keys may first spend up to that long reading the
//   partitions' ends, and wait up to append_timeout + request_timeout for
//   another call of this process carrying one of its keys to settle, so it
//   is bounded by about three times the timeout), NOT_FOUND
//   for an unknown topic, INVALID_ARGUMENT for a record over the broker's
//   size limit, INTERNAL after a fatal producer error (reopen the log).
// - Idempotency keys travel in a record header (kIdempotencyHeader). Each
//   process keeps an index of the keys of the partitions it appended to,
//   filled by reading those partitions up to their end before deduplicating
//   (so it also sees keys appended by other processes or earlier runs). Two
//   processes appending the same key at the same instant may both append it;
//   within one process, concurrent calls sharing a key append it once (the
//   later call waits for the earlier one and gets its position back);
//   consumers deduplicate by event id as well (docs/architecture.md
//   "Guarantees").
// - Generation() moves on every append through this instance at once, and on
//   appends by other clients when a WaitForAppend caller polls the end
//   offsets (every KafkaLogOptions::poll_interval). It may move without a new
//   record; readers then find nothing and wait again.
// - Record timestamps are the clock's time in milliseconds (CreateTime).
// - Thread-safe. Destroying the log closes it if Close() was not called.
#ifndef CUSTOPS_LOG_KAFKA_EVENT_LOG_H_
#define CUSTOPS_LOG_KAFKA_EVENT_LOG_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/log/event_log.h"

namespace custops::log {

// Header that carries Record::idempotency_key.
inline constexpr std::string_view kIdempotencyHeader = "custops-idempotency-key";

struct KafkaLogOptions {
  // host:port[,host:port...]. Required.
  std::string bootstrap_servers;
  // Source of record timestamps; must outlive the log.
  // Default: the system clock.
  const base::Clock* clock = nullptr;
  // Upper bound on an Append: librdkafka retries a record until then, after
  // which the call fails with UNAVAILABLE (librdkafka's message.timeout.ms).
  // Default: 30 s
  absl::Duration append_timeout = absl::Seconds(30);
  // Upper bound on metadata, topic creation, offset queries and one Read.
  // Default: 10 s
  absl::Duration request_timeout = absl::Seconds(10);
  // How long the producer waits to fill a batch (librdkafka's linger.ms).
  // Default: 1 ms
  absl::Duration linger = absl::Milliseconds(1);
  // How often a WaitForAppend caller looks for appends by other clients.
  // Default: 100 ms
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Replication factor of topics created by CreateTopic; -1 takes the
  // broker's default.replication.factor.
  // Default: -1
  int replication_factor = -1;
  // client.id of every handle.
  // Default: "custops"
  std::string client_id = "custops";
  // Extra librdkafka properties for every handle (security.protocol, ssl.*,
  // sasl.*, debug, ...), applied after ours.
  std::vector<std::pair<std::string, std::string>> properties = {};
};

class KafkaEventLog {
 public:
  // Connects to the cluster (fails with UNAVAILABLE when no broker answers
  // within request_timeout) and returns a thread-safe log. INVALID_ARGUMENT
  // for empty bootstrap servers or a property librdkafka rejects.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const KafkaLogOptions& options);
};

}  // namespace custops::log

#endif  // CUSTOPS_LOG_KAFKA_EVENT_LOG_H_

// KafkaEventLogImpl::Read: a consumer from the pool is assigned to the
// partition at the offset asked for, polled up to the end known when the call
// began, and unassigned.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/base/status_macros.h"
#include "custops/log/kafka_event_log.h"
#include "kafka/event_log_impl.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log::internal {

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

}  // namespace custops::log::internal

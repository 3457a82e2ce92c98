// KafkaEventLogImpl's topic administration and offset queries: CreateTopic,
// partition counts (cached), watermarks and end offsets.
#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <cstdint>
#include <optional>
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
#include "kafka/event_log_impl.h"
#include "kafka/rdkafka_handles.h"
#include "topic_name.h"

namespace custops::log::internal {
namespace {

constexpr int kMaxPartitions = 10000;

}  // namespace

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

}  // namespace custops::log::internal

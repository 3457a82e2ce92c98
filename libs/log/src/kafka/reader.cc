// KafkaReader, the LogReader KafkaEventLogImpl::NewReader returns.
#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/base/status_macros.h"
#include "custops/log/event_log.h"
#include "kafka/event_log_impl.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log::internal {

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

}  // namespace custops::log::internal

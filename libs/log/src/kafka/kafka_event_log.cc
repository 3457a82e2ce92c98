// KafkaEventLog's handles: Open, the librdkafka configuration, the producer
// (Init), the pool of consumers Read borrows, and Close. The design and the
// lock order are in event_log_impl.h.
#include "custops/log/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "custops/base/clock.h"
#include "custops/base/status_macros.h"
#include "kafka/event_log_impl.h"
#include "kafka/rdkafka_handles.h"

namespace custops::log::internal {

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

}  // namespace custops::log::internal

namespace custops::log {

absl::StatusOr<std::unique_ptr<EventLog>> KafkaEventLog::Open(const KafkaLogOptions& options) {
  if (options.bootstrap_servers.empty()) {
    return absl::InvalidArgumentError("KafkaLogOptions.bootstrap_servers is empty");
  }
  const base::Clock& clock =
      options.clock != nullptr ? *options.clock : base::SystemClock::Instance();
  auto log = std::make_unique<internal::KafkaEventLogImpl>(options, clock);
  RETURN_IF_ERROR(log->Init());
  return log;
}

}  // namespace custops::log

// Fault handling of KafkaEventLog against librdkafka's in-process mock
// cluster (rdkafka_mock.h): a broker down during Append ends in UNAVAILABLE
// after the deadline or in success after recovery, never in a silent loss.
// Needs no real broker.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/log/kafka_event_log.h"
#include "gtest/gtest.h"
#include "status_testing.h"

namespace custops::log::testing {
namespace {

constexpr char kTopic[] = "mock-events";
constexpr int32_t kBroker = 1;

// A one-broker mock cluster owned by a throwaway librdkafka handle.
class MockCluster {
 public:
  MockCluster() {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    CHECK_CONF(rd_kafka_conf_set(conf, "test.mock.num.brokers", "1", errstr, sizeof(errstr)));
    handle_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (handle_ != nullptr) cluster_ = rd_kafka_handle_mock_cluster(handle_);
  }
  ~MockCluster() {
    if (handle_ != nullptr) rd_kafka_destroy(handle_);
  }
  MockCluster(const MockCluster&) = delete;
  MockCluster& operator=(const MockCluster&) = delete;

  bool ok() const { return cluster_ != nullptr; }
  rd_kafka_mock_cluster_t* get() const { return cluster_; }
  std::string bootstraps() const { return rd_kafka_mock_cluster_bootstraps(cluster_); }

 private:
  static void CHECK_CONF(rd_kafka_conf_res_t res) { ASSERT_EQ(res, RD_KAFKA_CONF_OK); }
  rd_kafka_t* handle_ = nullptr;
  rd_kafka_mock_cluster_t* cluster_ = nullptr;
};

class KafkaMockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cluster_.ok());
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), kTopic, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  absl::StatusOr<std::unique_ptr<EventLog>> Open(absl::Duration append_timeout) {
    return KafkaEventLog::Open({.bootstrap_servers = cluster_.bootstraps(),
                                .append_timeout = append_timeout,
                                .request_timeout = absl::Seconds(10),
                                .properties = {{"log_level", "2"}}});
  }
  static std::vector<std::string> Values(const std::vector<LogRecord>& records) {
    std::vector<std::string> out;
    for (const LogRecord& r : records) out.push_back(r.value);
    return out;
  }

  MockCluster cluster_;
};

TEST_F(KafkaMockTest, BrokerDownFailsWithUnavailableAfterTheDeadline) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, Open(absl::Milliseconds(1500)));
  ASSERT_OK(log->Append(kTopic, {{.key = "c", .value = "before", .idempotency_key = "e1"}}, {}));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), kBroker), RD_KAFKA_RESP_ERR_NO_ERROR);
  // Without a key: the produce itself times out (librdkafka's message timeout).
  const absl::Time plain_start = absl::Now();
  absl::StatusOr<std::vector<AppendResult>> plain =
      log->Append(kTopic, {{.key = "c", .value = "lost-and-reported"}}, {});
  const absl::Duration plain_took = absl::Now() - plain_start;
  EXPECT_EQ(STATUS_CODE(plain), absl::StatusCode::kUnavailable) << plain.status();
  EXPECT_GE(plain_took, absl::Milliseconds(1000));
  EXPECT_LT(plain_took, absl::Seconds(5));

  // With a key: reading the partitions' ends for the index times out first.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<AppendResult>> failed =
      log->Append(kTopic, {{.key = "c", .value = "during", .idempotency_key = "e2"}}, {});
  const absl::Duration took = absl::Now() - start;
  EXPECT_EQ(STATUS_CODE(failed), absl::StatusCode::kUnavailable) << failed.status();
  EXPECT_GE(took, absl::Milliseconds(1000));  // it waited for the deadline...
  EXPECT_LT(took, absl::Seconds(5));          // ...and not much longer

  // After recovery the caller's retry (same idempotency key) lands once, also
  // from a new instance (as from a restarted process).
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), kBroker), RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_OK(log->Close());
  ASSERT_OK_AND_ASSIGN(log, Open(absl::Seconds(30)));
  ASSERT_OK(log->Append(kTopic, {{.key = "c", .value = "during", .idempotency_key = "e2"}}, {}));
  ASSERT_OK_AND_ASSIGN(
      std::vector<AppendResult> again,
      log->Append(kTopic, {{.key = "c", .value = "x", .idempotency_key = "e2"}}, {}));
  EXPECT_TRUE(again[0].duplicate);
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records,
                       log->Read(kTopic, Partition(0), Offset(0), 100));
  EXPECT_EQ(Values(records), (std::vector<std::string>{"before", "during"}));
  EXPECT_OK(log->Close());
}

TEST_F(KafkaMockTest, BrokerBackBeforeTheDeadlineAppendSucceedsOnce) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, Open(absl::Seconds(30)));
  ASSERT_OK(log->Append(kTopic, {{.key = "c", .value = "0"}}, {}));

  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), kBroker), RD_KAFKA_RESP_ERR_NO_ERROR);
  absl::StatusOr<std::vector<AppendResult>> appended;
  std::thread writer([&] {
    std::vector<Record> batch;
    for (int i = 1; i <= 50; ++i) batch.push_back({.key = "c", .value = absl::StrCat(i)});
    appended = log->Append(kTopic, batch, {});
  });
  absl::SleepFor(absl::Seconds(1));
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), kBroker), RD_KAFKA_RESP_ERR_NO_ERROR);
  writer.join();
  ASSERT_OK(appended);
  ASSERT_EQ(appended->size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ((*appended)[i].offset, Offset(i + 1));

  // Every record exactly once, in order: librdkafka's retries were not
  // duplicated and nothing was dropped.
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records,
                       log->Read(kTopic, Partition(0), Offset(0), 1000));
  std::vector<std::string> expected;
  for (int i = 0; i <= 50; ++i) expected.push_back(absl::StrCat(i));
  EXPECT_EQ(Values(records), expected);
  EXPECT_OK(log->Close());
}

TEST_F(KafkaMockTest, RetriableProduceErrorsAreRetriedWithoutDuplicates) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, Open(absl::Seconds(30)));
  ASSERT_OK(log->Append(kTopic, {{.key = "c", .value = "0"}}, {}));
  // The next three Produce requests fail with retriable errors.
  rd_kafka_mock_push_request_errors(
      cluster_.get(), /*ApiKey Produce=*/0, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
      RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
  ASSERT_OK_AND_ASSIGN(
      std::vector<AppendResult> results,
      log->Append(kTopic, {{.key = "c", .value = "1"}, {.key = "c", .value = "2"}}, {}));
  EXPECT_EQ(results[1].offset, Offset(2));
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records,
                       log->Read(kTopic, Partition(0), Offset(0), 100));
  EXPECT_EQ(Values(records), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_OK(log->Close());
}

}  // namespace
}  // namespace custops::log::testing

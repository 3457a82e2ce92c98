// KafkaEventLog beyond the conformance suite, on a real broker (the ctest
// fixture `kafka`): two instances sharing topics, as two processes would.
#include "custops/log/kafka_event_log.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "kafka_testing.h"

namespace custops::log::testing {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;

class KafkaEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(bootstrap_, KafkaBootstrap());
    ASSERT_OK_AND_ASSIGN(first_, Open());
    ASSERT_OK_AND_ASSIGN(second_, Open());
    topic_ = absl::StrCat("kafka-log-test.", std::random_device()(), ".",
                          ::testing::UnitTest::GetInstance()->current_test_info()->name());
    ASSERT_OK(first_->CreateTopic(topic_, 3));
  }
  void TearDown() override {
    for (auto* log : {&first_, &second_}) {
      if (*log != nullptr) {
        EXPECT_OK((*log)->Close());
      }
    }
  }
  absl::StatusOr<std::unique_ptr<EventLog>> Open() {
    return KafkaEventLog::Open({.bootstrap_servers = bootstrap_,
                                .request_timeout = absl::Seconds(20),
                                .poll_interval = absl::Milliseconds(50)});
  }

  std::string bootstrap_;
  std::string topic_;
  std::unique_ptr<EventLog> first_;
  std::unique_ptr<EventLog> second_;
};

TEST_F(KafkaEventLogTest, IdempotencyKeysAreSeenAcrossInstances) {
  // The second instance loads its index first, then the first appends.
  ASSERT_OK_AND_ASSIGN(
      auto warm, second_->Append(topic_, {{.key = "c", .value = "w", .idempotency_key = "w"}}, {}));
  ASSERT_OK_AND_ASSIGN(
      auto original,
      first_->Append(topic_, {{.key = "c1", .value = "original", .idempotency_key = "req"}}, {}));
  ASSERT_FALSE(original[0].duplicate);

  ASSERT_OK_AND_ASSIGN(
      auto retry,
      second_->Append(topic_, {{.key = "c2", .value = "retry", .idempotency_key = "req"}}, {}));
  EXPECT_TRUE(retry[0].duplicate);
  EXPECT_EQ(retry[0].partition, original[0].partition);
  EXPECT_EQ(retry[0].offset, original[0].offset);

  // And the other way round.
  ASSERT_OK_AND_ASSIGN(
      auto warm_again,
      first_->Append(topic_, {{.key = "c", .value = "w2", .idempotency_key = "w"}}, {}));
  EXPECT_TRUE(warm_again[0].duplicate);
  EXPECT_EQ(warm_again[0].offset, warm[0].offset);

  int64_t total = 0;
  for (int p = 0; p < 3; ++p) {
    ASSERT_OK_AND_ASSIGN(Offset end, first_->EndOffset(topic_, Partition(p)));
    total += end.value();
  }
  EXPECT_EQ(total, 2);
}

TEST_F(KafkaEventLogTest, WaitForAppendSeesAnotherInstancesAppend) {
  const uint64_t seen = second_->Generation(topic_);
  std::atomic<uint64_t> woke_with{seen};
  std::thread waiter(
      [&] { woke_with = second_->WaitForAppend(topic_, seen, absl::Now() + absl::Seconds(20)); });
  absl::SleepFor(absl::Milliseconds(100));
  const absl::Time appended = absl::Now();
  ASSERT_OK(first_->Append(topic_, {{.key = "k", .value = "v"}}, {}));
  waiter.join();
  EXPECT_NE(woke_with.load(), seen);
  // Noticed by polling, well before the deadline.
  EXPECT_LT(absl::Now() - appended, absl::Seconds(5));
}

TEST_F(KafkaEventLogTest, IdempotencyKeyTravelsInAHeaderOtherClientsCanRead) {
  // The header is part of the published contract: a plain Kafka client that
  // is not ours finds the key there (and only on records that have one).
  ASSERT_OK_AND_ASSIGN(
      auto results,
      first_->Append(
          topic_,
          {{.key = "a", .value = "1", .idempotency_key = "h-1"}, {.key = "a", .value = "2"}}, {}));
  char errstr[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(
      rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap_.c_str(), errstr, sizeof(errstr)),
      RD_KAFKA_CONF_OK);
  ASSERT_EQ(rd_kafka_conf_set(conf, "group.id", "header-test", errstr, sizeof(errstr)),
            RD_KAFKA_CONF_OK);
  rd_kafka_t* consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
  ASSERT_NE(consumer, nullptr) << errstr;
  rd_kafka_topic_partition_list_t* assignment = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(assignment, topic_.c_str(), results[0].partition.value())
      ->offset = results[0].offset.value();
  ASSERT_EQ(rd_kafka_assign(consumer, assignment), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(assignment);
  std::vector<std::string> headers;  // one entry per record: its key or "-"
  const absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (headers.size() < 2 && absl::Now() < deadline) {
    rd_kafka_message_t* message = rd_kafka_consumer_poll(consumer, 100);
    if (message == nullptr) continue;
    if (message->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      rd_kafka_headers_t* hdrs = nullptr;
      const void* value = nullptr;
      size_t size = 0;
      if (rd_kafka_message_headers(message, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR &&
          rd_kafka_header_get_last(hdrs, "custops-idempotency-key", &value, &size) ==
              RD_KAFKA_RESP_ERR_NO_ERROR) {
        headers.emplace_back(static_cast<const char*>(value), size);
      } else {
        headers.emplace_back("-");
      }
    }
    rd_kafka_message_destroy(message);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  EXPECT_EQ(headers, (std::vector<std::string>{"h-1", "-"}));
  EXPECT_EQ(kIdempotencyHeader, "custops-idempotency-key");
}

TEST_F(KafkaEventLogTest, OpenFailsWhenNoBrokerAnswers) {
  absl::StatusOr<std::unique_ptr<EventLog>> log = KafkaEventLog::Open(
      {.bootstrap_servers = "127.0.0.1:1", .request_timeout = absl::Milliseconds(500)});
  EXPECT_THAT(log, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_THAT(KafkaEventLog::Open({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bootstrap_servers")));
}

}  // namespace
}  // namespace custops::log::testing

// Fault handling of KafkaEventLog against librdkafka's in-process mock
// cluster (rdkafka_mock.h): a broker down during Append ends in UNAVAILABLE
// after the deadline or in success after recovery, never in a silent loss;
// request errors and leader changes during consumption let a reader that
// retries UNAVAILABLE (as a projection does) resume with nothing skipped or
// repeated. Needs no real broker.
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/log/kafka_event_log.h"
#include "custops/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace custops::log::testing {
namespace {

using ::custops::testing::StatusIs;

constexpr char kTopic[] = "mock-events";
constexpr int32_t kBroker = 1;
// Kafka protocol API keys (rdkafka_protocol.h is not installed).
constexpr int16_t kApiFetch = 1;
constexpr int16_t kApiListOffsets = 2;

// A mock cluster of `brokers` brokers (ids 1..brokers) owned by a throwaway
// librdkafka handle.
class MockCluster {
 public:
  explicit MockCluster(int brokers = 1) {
    char errstr[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    CHECK_CONF(rd_kafka_conf_set(conf, "test.mock.num.brokers", std::to_string(brokers).c_str(),
                                 errstr, sizeof(errstr)));
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
  KafkaMockTest() = default;
  explicit KafkaMockTest(int brokers) : cluster_(brokers) {}
  void SetUp() override {
    ASSERT_TRUE(cluster_.ok());
    ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), kTopic, 1, 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  absl::StatusOr<std::unique_ptr<EventLog>> Open(
      absl::Duration append_timeout, absl::Duration request_timeout = absl::Seconds(10)) {
    return KafkaEventLog::Open({.bootstrap_servers = cluster_.bootstraps(),
                                .append_timeout = append_timeout,
                                .request_timeout = request_timeout,
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
  EXPECT_THAT(plain, StatusIs(absl::StatusCode::kUnavailable));
  EXPECT_GE(plain_took, absl::Milliseconds(1000));
  EXPECT_LT(plain_took, absl::Seconds(5));

  // With a key: reading the partitions' ends for the index times out first.
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<AppendResult>> failed =
      log->Append(kTopic, {{.key = "c", .value = "during", .idempotency_key = "e2"}}, {});
  const absl::Duration took = absl::Now() - start;
  EXPECT_THAT(failed, StatusIs(absl::StatusCode::kUnavailable));
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

// ---- Faults during consumption ----

// What a consumer of one partition saw: offsets and values in read order.
struct Consumed {
  std::vector<int64_t> offsets;
  std::vector<std::string> values;
};

// Reads through EventLog::Read, or through one LogReader of the topic (what
// a projection uses).
class Source {
 public:
  Source(const EventLog& log, std::string_view topic, bool follow)
      : log_(log), topic_(topic), reader_(follow ? log.NewReader(topic) : nullptr) {}
  absl::StatusOr<std::vector<LogRecord>> Read(Partition p, Offset from, size_t max) const {
    return reader_ != nullptr ? reader_->Read(p, from, max) : log_.Read(topic_, p, from, max);
  }

 private:
  const EventLog& log_;
  const std::string topic_;
  std::unique_ptr<LogReader> reader_;
};

// Reads `partition` from `consumed.offsets.size()` (the next offset, as a
// projection stores it) up to `end` in batches of `batch`, retrying
// UNAVAILABLE like a projection's apply loop; counts the retries.
void ReadUpTo(const Source& source, Partition partition, int64_t end, size_t batch,
              Consumed& consumed, int& retries) {
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  int64_t next = consumed.offsets.empty() ? 0 : consumed.offsets.back() + 1;
  while (next < end) {
    ASSERT_LT(absl::Now(), deadline) << "stuck at " << partition.value() << "@" << next;
    absl::StatusOr<std::vector<LogRecord>> records =
        source.Read(partition, Offset(next), std::min<size_t>(batch, end - next));
    if (!records.ok()) {
      ASSERT_THAT(records, StatusIs(absl::StatusCode::kUnavailable));
      ++retries;
      continue;
    }
    for (const LogRecord& r : *records) {
      EXPECT_EQ(r.partition, partition);
      consumed.offsets.push_back(r.offset.value());
      consumed.values.push_back(r.value);
    }
    if (records->empty()) break;
    next = consumed.offsets.back() + 1;
  }
}

// Appends `count` records with keys spread over the partitions and values
// "<round>-<i>"; adds each value to `expected` of the partition it landed
// in, in append order.
void AppendRound(EventLog& log, std::string_view topic, int round, int count,
                 std::map<int32_t, std::vector<std::string>>& expected) {
  std::vector<Record> batch;
  for (int i = 0; i < count; ++i) {
    batch.push_back({.key = absl::StrCat("customer-", (round * count + i) % 17),
                     .value = absl::StrCat(round, "-", i)});
  }
  absl::StatusOr<std::vector<AppendResult>> results = log.Append(topic, batch, {});
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    std::vector<std::string>& values = expected[(*results)[i].partition.value()];
    EXPECT_EQ((*results)[i].offset, Offset(static_cast<int64_t>(values.size())));
    values.push_back(batch[i].value);
  }
}

std::vector<int64_t> Dense(size_t n) {
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<int64_t>(i));
  return out;
}

constexpr char kConsumeTopic[] = "mock-consume";
constexpr int kConsumePartitions = 3;

class KafkaMockConsumeTest : public KafkaMockTest, public ::testing::WithParamInterface<bool> {
 protected:
  // Through a LogReader (true) or EventLog::Read.
  static bool Follow() { return GetParam(); }
};

TEST_P(KafkaMockConsumeTest, RequestErrorsDuringConsumptionSkipAndRepeatNothing) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), kConsumeTopic, kConsumePartitions, 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, Open(absl::Seconds(30)));
  const Source source(*log, kConsumeTopic, Follow());
  std::map<int32_t, std::vector<std::string>> expected;
  AppendRound(*log, kConsumeTopic, 0, 90, expected);
  ASSERT_EQ(expected.size(), static_cast<size_t>(kConsumePartitions));

  std::map<int32_t, Consumed> consumed;
  int retries = 0;
  size_t injected = 0;
  // Before every batch of every partition the broker fails the next Fetch
  // and ListOffsets requests with retriable errors (on the broker's own stack,
  // so the test can check they were all consumed by the reads). Each step
  // also appends, so that a reader, which fetches ahead, fetches again.
  for (int step = 0; step < 8; ++step) {
    AppendRound(*log, kConsumeTopic, step + 1, 6, expected);
    for (int32_t p = 0; p < kConsumePartitions; ++p) {
      ASSERT_EQ(
          rd_kafka_mock_broker_push_request_error_rtts(
              cluster_.get(), kBroker, kApiFetch, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
              RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, 50, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, 0),
          RD_KAFKA_RESP_ERR_NO_ERROR);
      ASSERT_EQ(rd_kafka_mock_broker_push_request_error_rtts(
                    cluster_.get(), kBroker, kApiListOffsets, 2,
                    RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, 0,
                    RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE, 0),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      injected += 5;
      Consumed& c = consumed[p];
      const int64_t end = std::min<int64_t>(static_cast<int64_t>(c.offsets.size()) + 4,
                                            static_cast<int64_t>(expected[p].size()));
      ReadUpTo(source, Partition(p), end, 4, c, retries);
      // Whatever the errors did to this batch, the partition moved exactly to
      // `end` with dense offsets.
      ASSERT_EQ(c.offsets, Dense(static_cast<size_t>(end))) << "partition " << p;
    }
  }
  size_t left = 0;
  for (int16_t api : {kApiFetch, kApiListOffsets}) {
    size_t count = 0;
    ASSERT_EQ(rd_kafka_mock_broker_error_stack_cnt(cluster_.get(), kBroker, api, &count),
              RD_KAFKA_RESP_ERR_NO_ERROR);
    left += count;
  }
  // Most injected errors really hit a read (the last ones may be left over).
  // A reader fetches ahead on its own schedule, so some of each step's
  // errors may still be waiting for its next fetch: at least some hit it.
  if (Follow()) {
    EXPECT_LT(left, injected) << "injected " << injected;
  } else {
    EXPECT_LT(left, injected / 4) << "injected " << injected;
  }

  // Then read each partition to its end: every record once, in order.
  for (int32_t p = 0; p < kConsumePartitions; ++p) {
    ReadUpTo(source, Partition(p), static_cast<int64_t>(expected[p].size()), 4, consumed[p],
             retries);
    EXPECT_EQ(consumed[p].offsets, Dense(expected[p].size())) << "partition " << p;
    EXPECT_EQ(consumed[p].values, expected[p]) << "partition " << p;
  }
  std::cout << "request errors: " << injected - left << " injected errors hit, " << retries
            << " reads retried on UNAVAILABLE\n";
  EXPECT_OK(log->Close());
}

INSTANTIATE_TEST_SUITE_P(ReadAndReader, KafkaMockConsumeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Reader" : "Read";
                         });

class KafkaMockLeaderTest : public KafkaMockTest {
 protected:
  KafkaMockLeaderTest() : KafkaMockTest(kBrokers) {}
  static constexpr int kBrokers = 3;
};

class KafkaMockLeaderConsumeTest : public KafkaMockLeaderTest,
                                   public ::testing::WithParamInterface<bool> {};

TEST_P(KafkaMockLeaderConsumeTest, LeaderChangesDuringConsumptionSkipAndRepeatNothing) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), kConsumeTopic, kConsumePartitions, kBrokers),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  std::vector<int32_t> leaders;
  for (int32_t p = 0; p < kConsumePartitions; ++p) {
    leaders.push_back(p % kBrokers + 1);
    ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster_.get(), kConsumeTopic, p, leaders[p]),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  }
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, Open(absl::Seconds(30)));
  const Source source(*log, kConsumeTopic, GetParam());
  std::map<int32_t, std::vector<std::string>> expected;
  std::map<int32_t, Consumed> consumed;
  int retries = 0;
  int moves = 0;
  int outages = 0;
  // A live stream: each round appends, moves every partition's leader to the
  // next broker, and on odd rounds takes the old leader of partition 0 down
  // for half a second, then reads one small batch of each partition.
  constexpr int kRounds = 9;
  for (int round = 0; round < kRounds; ++round) {
    AppendRound(*log, kConsumeTopic, round, 12, expected);
    const int32_t old_leader = leaders[0];
    for (int32_t p = 0; p < kConsumePartitions; ++p) {
      leaders[p] = leaders[p] % kBrokers + 1;
      ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster_.get(), kConsumeTopic, p, leaders[p]),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      ++moves;
    }
    std::thread restarter;
    if (round % 2 == 1) {
      ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), old_leader),
                RD_KAFKA_RESP_ERR_NO_ERROR);
      ++outages;
      restarter = std::thread([&, old_leader] {
        absl::SleepFor(absl::Milliseconds(500));
        EXPECT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), old_leader),
                  RD_KAFKA_RESP_ERR_NO_ERROR);
      });
    }
    for (int32_t p = 0; p < kConsumePartitions; ++p) {
      Consumed& c = consumed[p];
      const int64_t end = std::min<int64_t>(static_cast<int64_t>(c.offsets.size()) + 3,
                                            static_cast<int64_t>(expected[p].size()));
      ReadUpTo(source, Partition(p), end, 3, c, retries);
      EXPECT_EQ(c.offsets, Dense(static_cast<size_t>(end))) << "partition " << p;
    }
    if (restarter.joinable()) restarter.join();
  }
  // Catch up to the end: each partition's sequence complete and unrepeated.
  size_t total = 0;
  for (int32_t p = 0; p < kConsumePartitions; ++p) {
    ReadUpTo(source, Partition(p), static_cast<int64_t>(expected[p].size()), 50, consumed[p],
             retries);
    EXPECT_EQ(consumed[p].offsets, Dense(expected[p].size())) << "partition " << p;
    EXPECT_EQ(consumed[p].values, expected[p]) << "partition " << p;
    total += consumed[p].values.size();
  }
  EXPECT_EQ(total, static_cast<size_t>(kRounds * 12));
  std::cout << "leader changes: " << moves << " leader moves, " << outages
            << " old leaders down for 0.5 s, " << retries << " reads retried on UNAVAILABLE\n";
  EXPECT_OK(log->Close());
}

INSTANTIATE_TEST_SUITE_P(ReadAndReader, KafkaMockLeaderConsumeTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "Reader" : "Read";
                         });

// librdkafka does not follow a leader that moved while the old one is down
// (it keeps asking the old one until it is back), so a Read then fails with
// UNAVAILABLE -- but within request_timeout: the offset query used to wait
// for the old leader without a bound.
TEST_F(KafkaMockLeaderTest, ReadIsBoundedWhileTheOldLeaderIsDown) {
  ASSERT_EQ(rd_kafka_mock_topic_create(cluster_.get(), kConsumeTopic, 1, kBrokers),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster_.get(), kConsumeTopic, 0, 1),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log,
                       Open(absl::Seconds(30), /*request_timeout=*/absl::Seconds(2)));
  std::map<int32_t, std::vector<std::string>> expected;
  AppendRound(*log, kConsumeTopic, 0, 10, expected);
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> first,
                       log->Read(kConsumeTopic, Partition(0), Offset(0), 4));
  ASSERT_EQ(Values(first), std::vector<std::string>(expected[0].begin(), expected[0].begin() + 4));

  ASSERT_EQ(rd_kafka_mock_partition_set_leader(cluster_.get(), kConsumeTopic, 0, 2),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  ASSERT_EQ(rd_kafka_mock_broker_set_down(cluster_.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  const absl::Time start = absl::Now();
  absl::StatusOr<std::vector<LogRecord>> during =
      log->Read(kConsumeTopic, Partition(0), Offset(4), 100);
  const absl::Duration took = absl::Now() - start;
  EXPECT_LT(took, absl::Seconds(6));  // request_timeout plus slack
  if (during.ok()) {                  // librdkafka found the new leader after all
    EXPECT_EQ(Values(*during),
              std::vector<std::string>(expected[0].begin() + 4, expected[0].end()));
  } else {
    EXPECT_THAT(during, StatusIs(absl::StatusCode::kUnavailable));
  }

  // Once the old leader is back the reader resumes where it was.
  ASSERT_EQ(rd_kafka_mock_broker_set_up(cluster_.get(), 1), RD_KAFKA_RESP_ERR_NO_ERROR);
  Consumed consumed;
  for (const LogRecord& r : first) {
    consumed.offsets.push_back(r.offset.value());
    consumed.values.push_back(r.value);
  }
  int retries = 0;
  ReadUpTo(Source(*log, kConsumeTopic, /*follow=*/false), Partition(0),
           static_cast<int64_t>(expected[0].size()), 100, consumed, retries);
  EXPECT_EQ(consumed.offsets, Dense(expected[0].size()));
  EXPECT_EQ(consumed.values, expected[0]);
  std::cout << "old leader down: Read answered in " << took << " ("
            << (during.ok() ? std::string("ok") : during.status().ToString()) << ")\n";
  EXPECT_OK(log->Close());
}

}  // namespace
}  // namespace custops::log::testing

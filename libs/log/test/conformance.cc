// The EventLog conformance suite (see custops/log/testing/conformance.h).
// Every expectation here follows from the EventLog contract alone; the
// partition of a key is checked against PartitionForKey, which
// partitioner_test pins to Kafka's published vectors and to librdkafka.
#include "custops/log/testing/conformance.h"

#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/log/partitioner.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"

namespace custops::log::testing {

EventLogConformanceTest::EventLogConformanceTest() = default;
EventLogConformanceTest::~EventLogConformanceTest() = default;

void EventLogConformanceTest::SetUp() {
  std::string pattern = ::testing::TempDir() + "custops-log-XXXXXX";
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp " << pattern;
  env_.dir = pattern;
  std::random_device random;
  env_.unique_id = absl::StrFormat("%08x-%s", random(), pattern.substr(pattern.size() - 6));
  env_.clock = &clock_;
  ASSERT_TRUE(GetParam().open) << "LogFactory.open is empty";
  absl::StatusOr<std::unique_ptr<EventLog>> log = GetParam().open(env_);
  ASSERT_OK(log);
  log_ = std::move(log).value();
}

void EventLogConformanceTest::TearDown() {
  if (log_ != nullptr) {
    // Some tests close the log themselves; a second Close fails by contract.
    (void)log_->Close();
    log_.reset();
  }
  if (!env_.dir.empty()) {
    std::error_code ignored;
    std::filesystem::remove_all(env_.dir, ignored);
  }
}

std::string EventLogConformanceTest::TopicName(std::string_view base) const {
  return absl::StrCat(std::string(base), ".", env_.unique_id);
}

void EventLogConformanceTest::Reopen() {
  ASSERT_NE(log_, nullptr);
  ASSERT_OK(log_->Close());
  log_.reset();
  const LogFactory::OpenFn& reopen = GetParam().reopen ? GetParam().reopen : GetParam().open;
  absl::StatusOr<std::unique_ptr<EventLog>> log = reopen(env_);
  ASSERT_OK(log);
  log_ = std::move(log).value();
}

namespace {

using ::custops::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

Record Rec(std::string key, std::string value, std::string idempotency_key = "") {
  return Record{.key = std::move(key),
                .value = std::move(value),
                .idempotency_key = std::move(idempotency_key)};
}

// Every record of one partition, read in chunks of `chunk`.
absl::StatusOr<std::vector<LogRecord>> ReadAll(const EventLog& log, std::string_view topic,
                                               Partition partition, size_t chunk = 64) {
  std::vector<LogRecord> all;
  while (true) {
    absl::StatusOr<std::vector<LogRecord>> batch =
        log.Read(topic, partition, Offset(static_cast<int64_t>(all.size())), chunk);
    if (!batch.ok()) return batch.status();
    if (batch->empty()) return all;
    for (LogRecord& record : *batch) all.push_back(std::move(record));
  }
}

std::vector<int64_t> OffsetsOf(const std::vector<LogRecord>& records) {
  std::vector<int64_t> out;
  for (const LogRecord& record : records) out.push_back(record.offset.value());
  return out;
}

std::vector<std::string> ValuesOf(const std::vector<LogRecord>& records) {
  std::vector<std::string> out;
  for (const LogRecord& record : records) out.push_back(record.value);
  return out;
}

std::vector<int64_t> Iota(int64_t from, int64_t count) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < count; ++i) out.push_back(from + i);
  return out;
}

TEST_P(EventLogConformanceTest, AppendAssignsDenseOffsetsFromZero) {
  const std::string topic = TopicName("dense");
  ASSERT_OK(log_->CreateTopic(topic, 1));
  ASSERT_OK_AND_ASSIGN(Offset start, log_->EndOffset(topic, Partition(0)));
  EXPECT_EQ(start, Offset(0));

  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> first,
                       log_->Append(topic, {Rec("a", "1"), Rec("b", "2"), Rec("a", "3")}, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> second,
                       log_->Append(topic, {Rec("c", "4"), Rec("a", "5")}, {}));
  ASSERT_EQ(first.size(), 3u);
  ASSERT_EQ(second.size(), 2u);
  std::vector<int64_t> offsets;
  for (const auto& results : {first, second}) {
    for (const AppendResult& result : results) {
      EXPECT_EQ(result.partition, Partition(0));
      EXPECT_FALSE(result.duplicate);
      offsets.push_back(result.offset.value());
    }
  }
  EXPECT_EQ(offsets, Iota(0, 5));
  ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(topic, Partition(0)));
  EXPECT_EQ(end, Offset(5));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, Partition(0)));
  EXPECT_EQ(OffsetsOf(records), Iota(0, 5));
  EXPECT_THAT(ValuesOf(records), ElementsAre("1", "2", "3", "4", "5"));
  std::vector<std::string> keys;
  for (const LogRecord& record : records) {
    keys.push_back(record.key);
    EXPECT_EQ(record.partition, Partition(0));
  }
  EXPECT_THAT(keys, ElementsAre("a", "b", "a", "c", "a"));
}

TEST_P(EventLogConformanceTest, EmptyAppendIsANoOp) {
  const std::string topic = TopicName("empty");
  ASSERT_OK(log_->CreateTopic(topic, 2));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log_->Append(topic, {}, {}));
  EXPECT_THAT(results, IsEmpty());
  for (int p = 0; p < 2; ++p) {
    ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(topic, Partition(p)));
    EXPECT_EQ(end, Offset(0));
  }
}

TEST_P(EventLogConformanceTest, KeysStayInTheirKafkaPartitionInAppendOrder) {
  constexpr int kPartitions = 12;
  constexpr int kKeys = 40;
  constexpr int kRounds = 5;
  const std::string topic = TopicName("keyed");
  ASSERT_OK(log_->CreateTopic(topic, kPartitions));

  for (int round = 0; round < kRounds; ++round) {
    std::vector<Record> batch;
    for (int k = 0; k < kKeys; ++k) {
      batch.push_back(Rec(absl::StrCat("customer-", k), absl::StrCat(round, "/customer-", k)));
    }
    ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log_->Append(topic, batch, {}));
    ASSERT_EQ(results.size(), batch.size());
    for (size_t i = 0; i < batch.size(); ++i) {
      EXPECT_EQ(results[i].partition, PartitionForKey(batch[i].key, kPartitions)) << batch[i].key;
    }
  }

  int total = 0;
  std::set<int32_t> used_partitions;
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, Partition(p), 7));
    EXPECT_EQ(OffsetsOf(records), Iota(0, static_cast<int64_t>(records.size())));
    ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(topic, Partition(p)));
    EXPECT_EQ(end.value(), static_cast<int64_t>(records.size()));
    absl::flat_hash_map<std::string, int> next_round;
    for (const LogRecord& record : records) {
      EXPECT_EQ(PartitionForKey(record.key, kPartitions), Partition(p)) << record.key;
      EXPECT_EQ(record.partition, Partition(p));
      // Per-key order: round r of a key comes before round r + 1.
      int& expected_round = next_round[record.key];
      EXPECT_EQ(record.value, absl::StrCat(expected_round, "/", record.key));
      ++expected_round;
      used_partitions.insert(p);
    }
    for (const auto& [key, rounds] : next_round) EXPECT_EQ(rounds, kRounds) << key;
    total += static_cast<int>(records.size());
  }
  EXPECT_EQ(total, kKeys * kRounds);
  // 40 keys over 12 partitions: a partitioner that ignores the key fails here.
  EXPECT_GE(used_partitions.size(), 8u);
}

TEST_P(EventLogConformanceTest, ReadsFromAnOffsetUpToMax) {
  const std::string topic = TopicName("ranges");
  ASSERT_OK(log_->CreateTopic(topic, 1));
  std::vector<Record> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Rec("k", absl::StrCat("v", i)));
  ASSERT_OK(log_->Append(topic, batch, {}));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> middle,
                       log_->Read(topic, Partition(0), Offset(3), 4));
  EXPECT_EQ(OffsetsOf(middle), Iota(3, 4));
  EXPECT_THAT(ValuesOf(middle), ElementsAre("v3", "v4", "v5", "v6"));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> tail,
                       log_->Read(topic, Partition(0), Offset(8), 100));
  EXPECT_EQ(OffsetsOf(tail), Iota(8, 2));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> one, log_->Read(topic, Partition(0), Offset(0), 1));
  EXPECT_THAT(ValuesOf(one), ElementsAre("v0"));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> none, log_->Read(topic, Partition(0), Offset(0), 0));
  EXPECT_THAT(none, IsEmpty());
}

TEST_P(EventLogConformanceTest, ReadAtTheEndIsEmptyAndPastItOutOfRange) {
  const std::string topic = TopicName("bounds");
  ASSERT_OK(log_->CreateTopic(topic, 2));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> empty_topic,
                       log_->Read(topic, Partition(1), Offset(0), 10));
  EXPECT_THAT(empty_topic, IsEmpty());
  EXPECT_THAT(log_->Read(topic, Partition(1), Offset(1), 10),
              StatusIs(absl::StatusCode::kOutOfRange));

  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results,
                       log_->Append(topic, {Rec("x", "1"), Rec("x", "2"), Rec("x", "3")}, {}));
  const Partition p = results[0].partition;
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> at_end, log_->Read(topic, p, Offset(3), 10));
  EXPECT_THAT(at_end, IsEmpty());
  EXPECT_THAT(log_->Read(topic, p, Offset(4), 10), StatusIs(absl::StatusCode::kOutOfRange));
  EXPECT_THAT(log_->Read(topic, p, Offset(1000), 10), StatusIs(absl::StatusCode::kOutOfRange));
}

TEST_P(EventLogConformanceTest, UnknownTopicsAndPartitionsAreRejected) {
  const std::string missing = TopicName("missing");
  EXPECT_THAT(log_->PartitionCount(missing), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log_->Append(missing, {Rec("k", "v")}, {}), StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log_->Read(missing, Partition(0), Offset(0), 1),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_THAT(log_->EndOffset(missing, Partition(0)), StatusIs(absl::StatusCode::kNotFound));

  const std::string topic = TopicName("three");
  ASSERT_OK(log_->CreateTopic(topic, 3));
  for (int bad : {-1, 3, 100}) {
    EXPECT_THAT(log_->Read(topic, Partition(bad), Offset(0), 1),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
    EXPECT_THAT(log_->EndOffset(topic, Partition(bad)),
                StatusIs(absl::StatusCode::kInvalidArgument))
        << bad;
  }
}

TEST_P(EventLogConformanceTest, CreateTopicIsIdempotentForTheSameCount) {
  const std::string topic = TopicName("create");
  EXPECT_THAT(log_->PartitionCount(topic), StatusIs(absl::StatusCode::kNotFound));
  ASSERT_OK(log_->CreateTopic(topic, 4));
  ASSERT_OK(log_->Append(topic, {Rec("k", "v")}, {}));
  EXPECT_OK(log_->CreateTopic(topic, 4));
  EXPECT_THAT(log_->CreateTopic(topic, 5), StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_THAT(log_->CreateTopic(topic, 1), StatusIs(absl::StatusCode::kFailedPrecondition));
  ASSERT_OK_AND_ASSIGN(int count, log_->PartitionCount(topic));
  EXPECT_EQ(count, 4);
  // Re-creating did not reset the topic.
  const Partition p = PartitionForKey("k", 4);
  ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(topic, p));
  EXPECT_EQ(end, Offset(1));

  EXPECT_THAT(log_->CreateTopic(TopicName("zero"), 0),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(log_->CreateTopic(TopicName("negative"), -3),
              StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(log_->PartitionCount(TopicName("zero")), StatusIs(absl::StatusCode::kNotFound));

  const std::string other = TopicName("other");
  ASSERT_OK(log_->CreateTopic(other, 7));
  ASSERT_OK_AND_ASSIGN(int other_count, log_->PartitionCount(other));
  EXPECT_EQ(other_count, 7);
  for (int p = 0; p < 7; ++p) {
    ASSERT_OK_AND_ASSIGN(Offset other_end, log_->EndOffset(other, Partition(p)));
    EXPECT_EQ(other_end, Offset(0));
  }
}

TEST_P(EventLogConformanceTest, IdempotencyKeyAppendsOnceAcrossCalls) {
  const std::string topic = TopicName("idem");
  ASSERT_OK(log_->CreateTopic(topic, 3));

  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> first,
                       log_->Append(topic, {Rec("cust-1", "original", "req-1")}, {}));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_FALSE(first[0].duplicate);
  const Partition p = first[0].partition;
  EXPECT_EQ(p, PartitionForKey("cust-1", 3));

  // A retry, even with another payload (or key), lands on the original.
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> retry,
                       log_->Append(topic, {Rec("cust-1", "changed", "req-1")}, {}));
  ASSERT_EQ(retry.size(), 1u);
  EXPECT_TRUE(retry[0].duplicate);
  EXPECT_EQ(retry[0].partition, p);
  EXPECT_EQ(retry[0].offset, first[0].offset);
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> other_key,
                       log_->Append(topic, {Rec("cust-2", "x", "req-1")}, {}));
  EXPECT_TRUE(other_key[0].duplicate);
  EXPECT_EQ(other_key[0].partition, p);
  EXPECT_EQ(other_key[0].offset, first[0].offset);

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, p));
  EXPECT_THAT(ValuesOf(records), ElementsAre("original"));

  // Mixed call: new, duplicate, no key, no key again (not deduplicated).
  ASSERT_OK_AND_ASSIGN(
      std::vector<AppendResult> mixed,
      log_->Append(topic,
                   {Rec("cust-1", "second", "req-2"), Rec("cust-1", "again", "req-1"),
                    Rec("cust-1", "plain"), Rec("cust-1", "plain")},
                   {}));
  ASSERT_EQ(mixed.size(), 4u);
  EXPECT_FALSE(mixed[0].duplicate);
  EXPECT_TRUE(mixed[1].duplicate);
  EXPECT_EQ(mixed[1].offset, first[0].offset);
  EXPECT_FALSE(mixed[2].duplicate);
  EXPECT_FALSE(mixed[3].duplicate);
  EXPECT_EQ(mixed[0].offset, Offset(1));
  EXPECT_EQ(mixed[2].offset, Offset(2));
  EXPECT_EQ(mixed[3].offset, Offset(3));
  ASSERT_OK_AND_ASSIGN(records, ReadAll(*log_, topic, p));
  EXPECT_THAT(ValuesOf(records), ElementsAre("original", "second", "plain", "plain"));

  // Idempotency keys are per topic.
  const std::string elsewhere = TopicName("idem-other");
  ASSERT_OK(log_->CreateTopic(elsewhere, 1));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> other_topic,
                       log_->Append(elsewhere, {Rec("cust-1", "other topic", "req-1")}, {}));
  EXPECT_FALSE(other_topic[0].duplicate);
  EXPECT_EQ(other_topic[0].offset, Offset(0));
}

TEST_P(EventLogConformanceTest, IdempotencyKeyRepeatedInOneCallAppendsOnce) {
  const std::string topic = TopicName("idem-call");
  ASSERT_OK(log_->CreateTopic(topic, 4));
  ASSERT_OK_AND_ASSIGN(
      std::vector<AppendResult> results,
      log_->Append(topic,
                   {Rec("k1", "first", "x"), Rec("k2", "second", "x"), Rec("k1", "third", "y"),
                    Rec("k1", "fourth", "x"), Rec("k1", "fifth", "y")},
                   {}));
  ASSERT_EQ(results.size(), 5u);
  EXPECT_FALSE(results[0].duplicate);
  EXPECT_FALSE(results[2].duplicate);
  for (int dup : {1, 3}) {
    EXPECT_TRUE(results[dup].duplicate) << dup;
    EXPECT_EQ(results[dup].partition, results[0].partition) << dup;
    EXPECT_EQ(results[dup].offset, results[0].offset) << dup;
  }
  EXPECT_TRUE(results[4].duplicate);
  EXPECT_EQ(results[4].partition, results[2].partition);
  EXPECT_EQ(results[4].offset, results[2].offset);

  const Partition p = PartitionForKey("k1", 4);
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, p));
  EXPECT_THAT(ValuesOf(records), ElementsAre("first", "third"));
  int64_t total = 0;
  for (int q = 0; q < 4; ++q) {
    ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(topic, Partition(q)));
    total += end.value();
  }
  EXPECT_EQ(total, 2);
}

TEST_P(EventLogConformanceTest, EverythingSurvivesReopen) {
  const std::string keyed = TopicName("durable");
  const std::string single = TopicName("durable-single");
  ASSERT_OK(log_->CreateTopic(keyed, 3));
  ASSERT_OK(log_->CreateTopic(single, 1));
  ASSERT_OK(log_->CreateTopic(TopicName("durable-empty"), 5));

  std::map<std::pair<int32_t, int64_t>, std::string> expected;  // (partition, offset) -> value
  absl::flat_hash_map<std::string, AppendResult> idempotent;
  for (int call = 0; call < 6; ++call) {
    clock_.Advance(absl::Milliseconds(250));
    std::vector<Record> batch;
    for (int i = 0; i < 7; ++i) {
      batch.push_back(Rec(absl::StrCat("c", (call * 7 + i) % 5), absl::StrCat("v", call, ".", i),
                          i % 3 == 0 ? absl::StrCat("req-", call, ".", i) : ""));
    }
    ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log_->Append(keyed, batch, {}));
    for (size_t i = 0; i < batch.size(); ++i) {
      expected[{results[i].partition.value(), results[i].offset.value()}] = batch[i].value;
      if (!batch[i].idempotency_key.empty()) idempotent[batch[i].idempotency_key] = results[i];
    }
  }
  ASSERT_OK(log_->Append(single, {Rec("s", "only")}, {}));

  std::vector<std::vector<LogRecord>> before;
  for (int p = 0; p < 3; ++p) {
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, keyed, Partition(p)));
    before.push_back(std::move(records));
  }

  for (int reopen = 0; reopen < 2; ++reopen) {
    ASSERT_NO_FATAL_FAILURE(Reopen());
    ASSERT_OK_AND_ASSIGN(int keyed_count, log_->PartitionCount(keyed));
    EXPECT_EQ(keyed_count, 3);
    ASSERT_OK_AND_ASSIGN(int single_count, log_->PartitionCount(single));
    EXPECT_EQ(single_count, 1);
    ASSERT_OK_AND_ASSIGN(int empty_count, log_->PartitionCount(TopicName("durable-empty")));
    EXPECT_EQ(empty_count, 5);
    EXPECT_THAT(log_->CreateTopic(keyed, 4), StatusIs(absl::StatusCode::kFailedPrecondition));

    size_t seen = 0;
    for (int p = 0; p < 3; ++p) {
      ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, keyed, Partition(p)));
      ASSERT_EQ(records.size(), before[p].size()) << "partition " << p;
      ASSERT_OK_AND_ASSIGN(Offset end, log_->EndOffset(keyed, Partition(p)));
      EXPECT_EQ(end.value(), static_cast<int64_t>(records.size()));
      for (size_t i = 0; i < records.size(); ++i) {
        EXPECT_EQ(records[i].offset, before[p][i].offset);
        EXPECT_EQ(records[i].key, before[p][i].key);
        EXPECT_EQ(records[i].value, before[p][i].value);
        EXPECT_EQ(records[i].timestamp, before[p][i].timestamp);
        EXPECT_EQ(records[i].value, (expected[{p, records[i].offset.value()}]));
        ++seen;
      }
    }
    EXPECT_EQ(seen, expected.size());
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> single_records,
                         ReadAll(*log_, single, Partition(0)));
    EXPECT_THAT(ValuesOf(single_records), ElementsAre("only"));
  }

  // Idempotency survived: every retry is a duplicate at its original place.
  std::vector<Record> retries;
  std::vector<std::string> retry_keys;
  for (const auto& [key, result] : idempotent) {
    retries.push_back(Rec("c0", "retry", key));
    retry_keys.push_back(key);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> retried, log_->Append(keyed, retries, {}));
  for (size_t i = 0; i < retried.size(); ++i) {
    EXPECT_TRUE(retried[i].duplicate) << retry_keys[i];
    EXPECT_EQ(retried[i].partition, idempotent[retry_keys[i]].partition) << retry_keys[i];
    EXPECT_EQ(retried[i].offset, idempotent[retry_keys[i]].offset) << retry_keys[i];
  }

  // New appends continue where the old instance stopped.
  const Partition p = PartitionForKey("c0", 3);
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> next, log_->Append(keyed, {Rec("c0", "new")}, {}));
  EXPECT_FALSE(next[0].duplicate);
  EXPECT_EQ(next[0].partition, p);
  EXPECT_EQ(next[0].offset.value(), static_cast<int64_t>(before[p.value()].size()));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> single_next,
                       log_->Append(single, {Rec("s", "second")}, {}));
  EXPECT_EQ(single_next[0].offset, Offset(1));
}

TEST_P(EventLogConformanceTest, ConcurrentAppendersLoseNothing) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 40;
  constexpr int kBatch = 10;
  constexpr int kPartitions = 4;
  const std::string topic = TopicName("concurrent");
  ASSERT_OK(log_->CreateTopic(topic, kPartitions));

  std::vector<std::vector<std::pair<std::string, AppendResult>>> acknowledged(kThreads);
  std::vector<absl::Status> errors(kThreads);
  std::atomic<bool> done{false};
  std::atomic<int> reader_failures{0};
  // A reader polling meanwhile must only ever see dense prefixes.
  std::thread reader([&] {
    while (!done.load()) {
      for (int p = 0; p < kPartitions; ++p) {
        absl::StatusOr<std::vector<LogRecord>> records = ReadAll(*log_, topic, Partition(p), 50);
        if (!records.ok() || OffsetsOf(*records) != Iota(0, records->size())) ++reader_failures;
      }
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      for (int call = 0; call < kCalls; ++call) {
        std::vector<Record> batch;
        for (int i = 0; i < kBatch; ++i) {
          batch.push_back(Rec(absl::StrCat("t", t, "-k", i % 5),
                              absl::StrFormat("t%d-%03d-%02d", t, call, i),
                              // Some idempotency keys, unique per record.
                              i == 0 ? absl::StrCat("t", t, "-", call) : ""));
        }
        absl::StatusOr<std::vector<AppendResult>> results = log_->Append(topic, batch, {});
        if (!results.ok()) {
          errors[t] = results.status();
          return;
        }
        for (int i = 0; i < kBatch; ++i)
          acknowledged[t].emplace_back(batch[i].value, (*results)[i]);
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  done.store(true);
  reader.join();
  for (const absl::Status& error : errors) ASSERT_OK(error);
  EXPECT_EQ(reader_failures.load(), 0);

  std::map<std::pair<int32_t, int64_t>, std::string> by_position;
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, Partition(p)));
    EXPECT_EQ(OffsetsOf(records), Iota(0, records.size()));
    // Per key, values (zero-padded call and index) arrive in append order.
    std::map<std::string, std::string> last_value;
    for (const LogRecord& record : records) {
      std::string& last = last_value[record.key];
      EXPECT_LT(last, record.value) << record.key;
      last = record.value;
      by_position[{p, record.offset.value()}] = record.value;
    }
  }
  ASSERT_EQ(by_position.size(), static_cast<size_t>(kThreads * kCalls * kBatch));
  for (const auto& results : acknowledged) {
    for (const auto& [value, result] : results) {
      EXPECT_FALSE(result.duplicate);
      EXPECT_EQ((by_position[{result.partition.value(), result.offset.value()}]), value);
    }
  }
}

// Retries racing their originals: concurrent calls share idempotency keys
// (each call's keys overlap the previous call's, in another order per
// thread). Every key lands exactly once, and every call that carried it gets
// that one position back.
TEST_P(EventLogConformanceTest, ConcurrentAppendsSharingKeysAppendEachKeyOnce) {
  constexpr int kThreads = 4;
  constexpr int kCalls = 30;
  constexpr int kBatch = 8;
  constexpr int kStep = 4;  // call c carries keys [c * kStep, c * kStep + kBatch)
  constexpr int kPartitions = 3;
  const std::string topic = TopicName("concurrent-keys");
  ASSERT_OK(log_->CreateTopic(topic, kPartitions));

  struct Seen {
    std::string value;
    AppendResult result;
  };
  // Per thread: idempotency key -> what its calls got back.
  std::vector<std::vector<std::pair<std::string, Seen>>> seen(kThreads);
  std::vector<absl::Status> errors(kThreads);
  std::atomic<int> ready{0};
  std::vector<std::thread> writers;
  for (int t = 0; t < kThreads; ++t) {
    writers.emplace_back([&, t] {
      ++ready;
      while (ready.load() < kThreads) std::this_thread::yield();
      for (int call = 0; call < kCalls; ++call) {
        std::vector<Record> batch;
        for (int j = 0; j < kBatch; ++j) {
          const int id = call * kStep + (j + t) % kBatch;
          batch.push_back(Rec(absl::StrCat("cust-", id % 7), absl::StrFormat("t%d-c%03d", t, call),
                              absl::StrCat("req-", id)));
        }
        absl::StatusOr<std::vector<AppendResult>> results = log_->Append(topic, batch, {});
        if (!results.ok()) {
          errors[t] = results.status();
          return;
        }
        if (results->size() != batch.size()) {
          errors[t] = absl::InternalError("result count");
          return;
        }
        for (int j = 0; j < kBatch; ++j) {
          seen[t].emplace_back(batch[j].idempotency_key,
                               Seen{.value = batch[j].value, .result = (*results)[j]});
        }
      }
    });
  }
  for (std::thread& writer : writers) writer.join();
  for (const absl::Status& error : errors) ASSERT_OK(error);

  // What the log holds, by position.
  std::map<std::pair<int32_t, int64_t>, LogRecord> by_position;
  for (int p = 0; p < kPartitions; ++p) {
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, Partition(p)));
    EXPECT_EQ(OffsetsOf(records), Iota(0, records.size()));
    for (LogRecord& record : records) {
      by_position[{p, record.offset.value()}] = std::move(record);
    }
  }
  constexpr int kKeys = (kCalls - 1) * kStep + kBatch;
  EXPECT_EQ(by_position.size(), static_cast<size_t>(kKeys));

  // Per key: one position for every call that carried it; exactly one of
  // those calls appended it (not a duplicate), with its own value.
  std::map<std::string, std::pair<int32_t, int64_t>> position_of;
  std::map<std::string, int> originals;
  for (int t = 0; t < kThreads; ++t) {
    for (const auto& [key, s] : seen[t]) {
      const std::pair<int32_t, int64_t> at{s.result.partition.value(), s.result.offset.value()};
      auto [it, inserted] = position_of.try_emplace(key, at);
      EXPECT_EQ(it->second, at) << key;
      if (!s.result.duplicate) {
        ++originals[key];
        auto record = by_position.find(at);
        ASSERT_NE(record, by_position.end()) << key;
        EXPECT_EQ(record->second.value, s.value) << key;
      }
    }
  }
  EXPECT_EQ(position_of.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, at] : position_of) EXPECT_EQ(originals[key], 1) << key;
  // And every record in the log is one key's original.
  std::set<std::pair<int32_t, int64_t>> claimed;
  for (const auto& [key, at] : position_of) claimed.insert(at);
  EXPECT_EQ(claimed.size(), by_position.size());
}

TEST_P(EventLogConformanceTest, WaitForAppendWakesOnAppend) {
  const std::string topic = TopicName("wait");
  ASSERT_OK(log_->CreateTopic(topic, 2));
  const uint64_t seen = log_->Generation(topic);

  std::atomic<uint64_t> woke_with{seen};
  const absl::Time start = absl::Now();
  absl::Time woke_at;
  std::thread waiter([&] {
    woke_with = log_->WaitForAppend(topic, seen, start + absl::Seconds(20));
    woke_at = absl::Now();
  });
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_OK(log_->Append(topic, {Rec("k", "v")}, {}));
  waiter.join();
  EXPECT_NE(woke_with.load(), seen);
  EXPECT_EQ(woke_with.load(), log_->Generation(topic));
  EXPECT_LT(woke_at - start, absl::Seconds(10));

  // Already moved: returns at once.
  const absl::Time again = absl::Now();
  EXPECT_NE(log_->WaitForAppend(topic, seen, again + absl::Seconds(20)), seen);
  EXPECT_LT(absl::Now() - again, absl::Seconds(10));

  // Each append moves the generation.
  const uint64_t before = log_->Generation(topic);
  ASSERT_OK(log_->Append(topic, {Rec("k", "v2")}, {}));
  EXPECT_NE(log_->Generation(topic), before);
}

TEST_P(EventLogConformanceTest, WaitForAppendTimesOutAtTheDeadline) {
  const std::string topic = TopicName("wait-timeout");
  ASSERT_OK(log_->CreateTopic(topic, 1));
  ASSERT_OK(log_->Append(topic, {Rec("k", "v")}, {}));
  const uint64_t seen = log_->Generation(topic);

  const absl::Time start = absl::Now();
  EXPECT_EQ(log_->WaitForAppend(topic, seen, start + absl::Milliseconds(150)), seen);
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(140));
  EXPECT_LT(waited, absl::Seconds(10));

  // A deadline in the past returns at once.
  const absl::Time past_start = absl::Now();
  EXPECT_EQ(log_->WaitForAppend(topic, seen, past_start - absl::Seconds(1)), seen);
  EXPECT_LT(absl::Now() - past_start, absl::Seconds(5));
}

TEST_P(EventLogConformanceTest, EndOffsetsGivesEveryPartitionsEnd) {
  const std::string topic = TopicName("ends");
  ASSERT_OK(log_->CreateTopic(topic, 5));
  std::vector<Record> records;
  for (int i = 0; i < 30; ++i) records.push_back(Rec(absl::StrCat("key-", i % 7), "v"));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log_->Append(topic, records, {}));
  std::vector<int64_t> expected(5, 0);
  for (const AppendResult& r : results) {
    expected[r.partition.value()] = std::max(expected[r.partition.value()], r.offset.value() + 1);
  }
  ASSERT_OK_AND_ASSIGN(std::vector<Offset> ends, log_->EndOffsets(topic));
  ASSERT_EQ(ends.size(), 5u);
  for (int p = 0; p < 5; ++p) {
    EXPECT_EQ(ends[p].value(), expected[p]) << "partition " << p;
    ASSERT_OK_AND_ASSIGN(Offset one, log_->EndOffset(topic, Partition(p)));
    EXPECT_EQ(one, ends[p]) << "partition " << p;
  }
  EXPECT_THAT(log_->EndOffsets(TopicName("no-such-topic")), StatusIs(absl::StatusCode::kNotFound));
}

TEST_P(EventLogConformanceTest, ReaderFollowsPartitionsLikeRead) {
  const std::string topic = TopicName("reader");
  ASSERT_OK(log_->CreateTopic(topic, 3));
  std::vector<Record> records;
  for (int i = 0; i < 40; ++i) records.push_back(Rec("same-key", absl::StrCat("v", i)));
  ASSERT_OK(log_->Append(topic, records, {}));
  const Partition p = PartitionForKey("same-key", 3);
  std::unique_ptr<LogReader> reader = log_->NewReader(topic);

  // Reads continue where the previous one ended, up to max.
  std::vector<LogRecord> got;
  while (got.size() < 40) {
    absl::StatusOr<std::vector<LogRecord>> batch =
        reader->Read(p, Offset(static_cast<int64_t>(got.size())), 16);
    ASSERT_OK(batch);
    ASSERT_FALSE(batch->empty()) << "at " << got.size();
    ASSERT_LE(batch->size(), 16u);
    for (LogRecord& r : *batch) got.push_back(std::move(r));
  }
  EXPECT_EQ(OffsetsOf(got), Iota(0, 40));
  EXPECT_EQ(got[39].value, "v39");
  EXPECT_EQ(got[39].key, "same-key");
  EXPECT_EQ(got[39].partition, p);

  // At the end: empty, exactly; past it: OUT_OF_RANGE.
  absl::StatusOr<std::vector<LogRecord>> at_end = reader->Read(p, Offset(40), 16);
  ASSERT_OK(at_end);
  EXPECT_THAT(*at_end, IsEmpty());
  EXPECT_THAT(reader->Read(p, Offset(41), 16), StatusIs(absl::StatusCode::kOutOfRange));

  // A record appended later is read at once (the end is not a stale view).
  ASSERT_OK(log_->Append(topic, {Rec("same-key", "late")}, {}));
  absl::StatusOr<std::vector<LogRecord>> late = reader->Read(p, Offset(40), 16);
  ASSERT_OK(late);
  ASSERT_EQ(late->size(), 1u);
  EXPECT_EQ((*late)[0].value, "late");
  EXPECT_EQ((*late)[0].offset, Offset(40));

  // Repositioning backwards (a batch to redo) reads the same records again.
  absl::StatusOr<std::vector<LogRecord>> again = reader->Read(p, Offset(5), 3);
  ASSERT_OK(again);
  EXPECT_EQ(OffsetsOf(*again), Iota(5, 3));
  EXPECT_EQ(ValuesOf(*again), (std::vector<std::string>{"v5", "v6", "v7"}));

  // Forgotten, then read again from anywhere.
  reader->Forget(p);
  absl::StatusOr<std::vector<LogRecord>> after_forget = reader->Read(p, Offset(38), 10);
  ASSERT_OK(after_forget);
  EXPECT_EQ(OffsetsOf(*after_forget), Iota(38, 3));

  // Other partitions are empty; unknown partitions are rejected.
  const Partition other((p.value() + 1) % 3);
  absl::StatusOr<std::vector<LogRecord>> empty = reader->Read(other, Offset(0), 10);
  ASSERT_OK(empty);
  EXPECT_THAT(*empty, IsEmpty());
  EXPECT_THAT(reader->Read(Partition(3), Offset(0), 10),
              StatusIs(absl::StatusCode::kInvalidArgument));
}

TEST_P(EventLogConformanceTest, ReaderWaitWakesOnAppendAndTimesOut) {
  const std::string topic = TopicName("reader-wait");
  ASSERT_OK(log_->CreateTopic(topic, 2));
  const Partition p = PartitionForKey("k", 2);
  std::unique_ptr<LogReader> reader = log_->NewReader(topic);
  for (int round = 0; round < 3; ++round) {
    // Caught up: read to the end, then wait for the next append.
    absl::StatusOr<std::vector<LogRecord>> none = reader->Read(p, Offset(round), 10);
    ASSERT_OK(none);
    ASSERT_THAT(*none, IsEmpty());
    const absl::Time start = absl::Now();
    std::thread appender([&] {
      absl::SleepFor(absl::Milliseconds(50));
      ASSERT_OK(log_->Append(topic, {Rec("k", absl::StrCat("r", round))}, {}));
    });
    // Spurious wake-ups are allowed, and ReadAvailable may come back empty
    // before the record reached the reader: wait until it is there.
    std::vector<LogRecord> got;
    while (got.empty() && absl::Now() - start < absl::Seconds(20)) {
      reader->Wait(start + absl::Seconds(20));
      absl::StatusOr<std::vector<LogRecord>> batch = reader->ReadAvailable(p, Offset(round), 10);
      ASSERT_OK(batch);
      got = *std::move(batch);
    }
    appender.join();
    ASSERT_EQ(got.size(), 1u) << "round " << round;
    EXPECT_EQ(got[0].value, absl::StrCat("r", round));
    EXPECT_LT(absl::Now() - start, absl::Seconds(10));
  }
  // Nothing new: Wait returns by the deadline.
  const absl::Time start = absl::Now();
  for (int i = 0; i < 5 && absl::Now() - start < absl::Milliseconds(150); ++i) {
    reader->Wait(start + absl::Milliseconds(150));
  }
  EXPECT_LT(absl::Now() - start, absl::Seconds(10));
}

TEST_P(EventLogConformanceTest, TimestampsComeFromTheInjectedClock) {
  const std::string topic = TopicName("time");
  ASSERT_OK(log_->CreateTopic(topic, 1));
  const absl::Time t1 = kStart + absl::Milliseconds(1500);
  clock_.Set(t1);
  ASSERT_OK(log_->Append(topic, {Rec("k", "a"), Rec("k", "b")}, {}));
  const absl::Time t2 = kStart + absl::Hours(30) + absl::Milliseconds(7);
  clock_.Set(t2);
  ASSERT_OK(log_->Append(topic, {Rec("k", "c")}, {}));

  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, ReadAll(*log_, topic, Partition(0)));
  ASSERT_EQ(records.size(), 3u);
  EXPECT_EQ(records[0].timestamp, t1);
  EXPECT_EQ(records[1].timestamp, t1);
  EXPECT_EQ(records[2].timestamp, t2);
}

TEST_P(EventLogConformanceTest, KeysAndValuesAreOpaqueBytes) {
  const std::string topic = TopicName("bytes");
  ASSERT_OK(log_->CreateTopic(topic, 5));
  const std::string binary_key("k\0\xff\x80-1", 6);
  const std::string binary_value("\0\0\x01\xfe\xff tail", 10);
  std::string large(200 * 1024, '\0');
  for (size_t i = 0; i < large.size(); ++i) large[i] = static_cast<char>(i * 131 % 251);
  std::vector<Record> batch = {Rec(binary_key, binary_value), Rec("", "empty key"),
                               Rec("empty value", ""), Rec(binary_key, large)};
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> results, log_->Append(topic, batch, {}));
  for (size_t i = 0; i < batch.size(); ++i) {
    EXPECT_EQ(results[i].partition, PartitionForKey(batch[i].key, 5));
    ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> read,
                         log_->Read(topic, results[i].partition, results[i].offset, 1));
    ASSERT_EQ(read.size(), 1u);
    EXPECT_EQ(read[0].key, batch[i].key) << i;
    EXPECT_EQ(read[0].value, batch[i].value) << i;
  }
}

TEST_P(EventLogConformanceTest, CallsAfterCloseFailWithFailedPrecondition) {
  const std::string topic = TopicName("closed");
  ASSERT_OK(log_->CreateTopic(topic, 1));
  ASSERT_OK(log_->Append(topic, {Rec("k", "v")}, {}));
  ASSERT_OK(log_->Close());
  constexpr auto kFailed = absl::StatusCode::kFailedPrecondition;
  EXPECT_THAT(log_->Append(topic, {Rec("k", "v")}, {}), StatusIs(kFailed));
  EXPECT_THAT(log_->Read(topic, Partition(0), Offset(0), 1), StatusIs(kFailed));
  EXPECT_THAT(log_->EndOffset(topic, Partition(0)), StatusIs(kFailed));
  EXPECT_THAT(log_->PartitionCount(topic), StatusIs(kFailed));
  EXPECT_THAT(log_->CreateTopic(TopicName("late"), 1), StatusIs(kFailed));
  EXPECT_THAT(log_->Close(), StatusIs(kFailed));
}

}  // namespace
}  // namespace custops::log::testing

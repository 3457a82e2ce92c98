// EmbeddedEventLog behaviour beyond the shared EventLog contract (which
// embedded_conformance_test covers): options, locking, naming and size
// limits, visibility of in-flight appends, Close and the destructor.
#include "custops/log/embedded_event_log.h"

#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/log/partitioner.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"

namespace custops::log {
namespace {

using ::custops::testing::StatusIs;
using ::testing::AnyOf;
using ::testing::HasSubstr;

class EmbeddedEventLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "custops-embedded-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }

  EmbeddedLogOptions Options() const {
    return {.path = dir_ + "/log", .sync = false, .clock = &clock_};
  }

  std::string dir_;
  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000)};
};

TEST_F(EmbeddedEventLogTest, OpenRequiresAPath) {
  EXPECT_THAT(EmbeddedEventLog::Open({}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("path is empty")));
}

TEST_F(EmbeddedEventLogTest, OpenOfAFileIsAnErrorNotACrash) {
  const std::string file = dir_ + "/not-a-directory";
  std::ofstream(file) << "x";
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      EmbeddedEventLog::Open({.path = file, .sync = false});
  // INTERNAL or UNAVAILABLE, as Open documents for storage errors.
  EXPECT_THAT(log, StatusIs(AnyOf(absl::StatusCode::kInternal, absl::StatusCode::kUnavailable),
                            HasSubstr("opening event log at " + file)));
}

TEST_F(EmbeddedEventLogTest, ASecondOpenOfTheSamePathIsUnavailable) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> first, EmbeddedEventLog::Open(Options()));
  absl::StatusOr<std::unique_ptr<EventLog>> second = EmbeddedEventLog::Open(Options());
  EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable, HasSubstr("opening event log at")));
  ASSERT_OK(first->Close());
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> third, EmbeddedEventLog::Open(Options()));
  EXPECT_OK(third->Close());
}

TEST_F(EmbeddedEventLogTest, TopicNamesFollowKafkasRule) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  for (std::string_view good : {"custops.customer-events.v1", "a", "A_b-9.x"}) {
    EXPECT_OK(log->CreateTopic(good, 1)) << good;
  }
  EXPECT_OK(log->CreateTopic(std::string(249, 'x'), 1));
  for (const std::string& bad :
       {std::string(), std::string("."), std::string(".."), std::string("has space"),
        std::string("slash/name"), std::string("uml\xc3\xa4ut"), std::string(250, 'x'),
        std::string("nul\0", 4)}) {
    EXPECT_THAT(log->CreateTopic(bad, 1),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("invalid topic name")))
        << bad;
  }
}

TEST_F(EmbeddedEventLogTest, PartitionCountIsBounded) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
    EXPECT_THAT(log->CreateTopic("too-many", kMaxEmbeddedPartitions + 1),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("partition count 10001")));
    ASSERT_OK(log->CreateTopic("wide", kMaxEmbeddedPartitions));
    ASSERT_OK(log->Append("wide", {Record{.key = "k", .value = "v"}}, {}));
    ASSERT_OK(log->Close());
  }
  // Every partition's end is recovered on open.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK_AND_ASSIGN(int count, log->PartitionCount("wide"));
  EXPECT_EQ(count, kMaxEmbeddedPartitions);
  const Partition p = PartitionForKey("k", kMaxEmbeddedPartitions);
  ASSERT_OK_AND_ASSIGN(Offset end, log->EndOffset("wide", p));
  EXPECT_EQ(end, Offset(1));
  ASSERT_OK_AND_ASSIGN(Offset last, log->EndOffset("wide", Partition(kMaxEmbeddedPartitions - 1)));
  EXPECT_EQ(last, Offset(p.value() == kMaxEmbeddedPartitions - 1 ? 1 : 0));
}

TEST_F(EmbeddedEventLogTest, ReadRejectsANegativeOffset) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK(log->CreateTopic("t", 1));
  EXPECT_THAT(log->Read("t", Partition(0), Offset(-1), 10),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("negative offset -1")));
}

TEST_F(EmbeddedEventLogTest, TopicsDoNotShareOffsetsOrRecords) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK(log->CreateTopic("a", 1));
  ASSERT_OK(log->CreateTopic("b", 1));
  ASSERT_OK(
      log->Append("a", {Record{.key = "k", .value = "a0"}, Record{.key = "k", .value = "a1"}}, {}));
  ASSERT_OK_AND_ASSIGN(std::vector<AppendResult> b,
                       log->Append("b", {Record{.key = "k", .value = "b0"}}, {}));
  EXPECT_EQ(b[0].offset, Offset(0));
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> read_b, log->Read("b", Partition(0), Offset(0), 10));
  ASSERT_EQ(read_b.size(), 1u);
  EXPECT_EQ(read_b[0].value, "b0");
}

// Appends of 7 records to one partition: every end offset a reader observes,
// and every read, must be a whole number of appends.
TEST_F(EmbeddedEventLogTest, ReadersNeverSeePartOfAnAppend) {
  constexpr int kBatch = 7;
  constexpr int kAppends = 300;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK(log->CreateTopic("t", 1));
  std::atomic<bool> done{false};
  std::atomic<int> torn{0};
  std::atomic<int> observations{0};
  std::thread reader([&] {
    while (!done.load()) {
      absl::StatusOr<Offset> end = log->EndOffset("t", Partition(0));
      if (!end.ok() || end->value() % kBatch != 0) {
        ++torn;
        continue;
      }
      // The newest few appends, and whatever lands meanwhile.
      const int64_t from = std::max<int64_t>(0, end->value() - 3 * kBatch);
      absl::StatusOr<std::vector<LogRecord>> records =
          log->Read("t", Partition(0), Offset(from), std::numeric_limits<size_t>::max());
      if (!records.ok() || (from + static_cast<int64_t>(records->size())) % kBatch != 0) ++torn;
      ++observations;
    }
  });
  std::vector<Record> batch(kBatch, Record{.key = "k", .value = std::string(100, 'v')});
  // Keep appending until the reader has looked often enough to matter.
  absl::Status appended;
  for (int i = 0; i < kAppends || (observations.load() < 200 && i < 100 * kAppends); ++i) {
    appended = log->Append("t", batch, {}).status();
    if (!appended.ok()) break;
  }
  done.store(true);
  reader.join();
  ASSERT_OK(appended);
  EXPECT_EQ(torn.load(), 0);
  EXPECT_GE(observations.load(), 200);
}

TEST_F(EmbeddedEventLogTest, CloseReleasesWaiters) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK(log->CreateTopic("t", 1));
  const absl::Time start = absl::Now();
  std::thread known([&] { log->WaitForAppend("t", 0, start + absl::Seconds(60)); });
  std::thread unknown([&] { log->WaitForAppend("never", 0, start + absl::Seconds(60)); });
  absl::SleepFor(absl::Milliseconds(50));
  ASSERT_OK(log->Close());
  known.join();
  unknown.join();
  EXPECT_LT(absl::Now() - start, absl::Seconds(30));
  // And after Close, waiting returns at once.
  const absl::Time after = absl::Now();
  EXPECT_EQ(log->WaitForAppend("t", 0, after + absl::Seconds(60)), 0u);
  EXPECT_LT(absl::Now() - after, absl::Seconds(30));
}

TEST_F(EmbeddedEventLogTest, WaitingOnATopicBeforeItExists) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  EXPECT_EQ(log->Generation("later"), 0u);
  std::atomic<uint64_t> woke_with{0};
  std::thread waiter(
      [&] { woke_with = log->WaitForAppend("later", 0, absl::Now() + absl::Seconds(60)); });
  absl::SleepFor(absl::Milliseconds(30));
  ASSERT_OK(log->CreateTopic("later", 2));
  absl::SleepFor(absl::Milliseconds(30));
  ASSERT_OK(log->Append("later", {Record{.key = "k", .value = "v"}}, {}));
  waiter.join();
  EXPECT_EQ(woke_with.load(), log->Generation("later"));
  EXPECT_NE(woke_with.load(), 0u);
}

TEST_F(EmbeddedEventLogTest, DestructorClosesAndKeepsAcknowledgedRecords) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
    ASSERT_OK(log->CreateTopic("t", 1));
    ASSERT_OK(log->Append("t", {Record{.key = "k", .value = "v", .idempotency_key = "i"}},
                          {.sync = false}));
  }  // no Close()
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, log->Read("t", Partition(0), Offset(0), 10));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].value, "v");
  EXPECT_EQ(records[0].timestamp, clock_.Now());
  ASSERT_OK_AND_ASSIGN(
      std::vector<AppendResult> retry,
      log->Append("t", {Record{.key = "k", .value = "v", .idempotency_key = "i"}}, {}));
  EXPECT_TRUE(retry[0].duplicate);
  EXPECT_EQ(retry[0].offset, Offset(0));
}

TEST_F(EmbeddedEventLogTest, UsesTheSystemClockByDefault) {
  EmbeddedLogOptions options = Options();
  options.clock = nullptr;
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(options));
  ASSERT_OK(log->CreateTopic("t", 1));
  const absl::Time before = absl::Now() - absl::Milliseconds(1);
  ASSERT_OK(log->Append("t", {Record{.key = "k", .value = "v"}}, {}));
  const absl::Time after = absl::Now() + absl::Milliseconds(1);
  ASSERT_OK_AND_ASSIGN(std::vector<LogRecord> records, log->Read("t", Partition(0), Offset(0), 1));
  ASSERT_EQ(records.size(), 1u);
  EXPECT_GE(records[0].timestamp, before);
  EXPECT_LE(records[0].timestamp, after);
}

TEST_F(EmbeddedEventLogTest, AnUnknownFormatIsRefused) {
  {
    ASSERT_OK_AND_ASSIGN(std::unique_ptr<EventLog> log, EmbeddedEventLog::Open(Options()));
    ASSERT_OK(log->Close());
  }
  {
    // Rewrite the format marker behind the log's back (default family).
    std::vector<std::string> families;
    ASSERT_TRUE(
        rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), Options().path, &families).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
    for (const std::string& name : families)
      descriptors.emplace_back(name, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(
        rocksdb::DB::Open(rocksdb::DBOptions(), Options().path, descriptors, &handles, &raw).ok());
    std::unique_ptr<rocksdb::DB> db(raw);
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "format", "999").ok());
    for (rocksdb::ColumnFamilyHandle* handle : handles) {
      ASSERT_TRUE(db->DestroyColumnFamilyHandle(handle).ok());
    }
    ASSERT_TRUE(db->Close().ok());
  }
  EXPECT_THAT(EmbeddedEventLog::Open(Options()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("has format 999")));
}

// Group commit: concurrent appenders sharing a commit group, many of them
// with the same idempotency keys, get one record per key, every caller sees
// that record's position, and offsets stay dense. With sync on, so the calls
// really queue behind one another's fsync.
TEST_F(EmbeddedEventLogTest, ConcurrentAppendsWithSharedKeysCommitEachKeyOnce) {
  EmbeddedLogOptions options = Options();
  options.sync = true;
  absl::StatusOr<std::unique_ptr<EventLog>> log = EmbeddedEventLog::Open(options);
  ASSERT_TRUE(log.ok()) << log.status();
  ASSERT_TRUE((*log)->CreateTopic("t", 3).ok());
  constexpr int kThreads = 8, kCalls = 60, kPerCall = 5, kKeys = 300;
  struct Seen {
    int32_t partition;
    int64_t offset;
    bool duplicate;
  };
  std::vector<std::vector<std::pair<int, Seen>>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int c = 0; c < kCalls; ++c) {
        std::vector<Record> records;
        std::vector<int> keys;
        for (int r = 0; r < kPerCall; ++r) {
          const int key = (t * 7 + c * 13 + r * 31) % kKeys;
          keys.push_back(key);
          records.push_back({.key = absl::StrCat("cust-", key % 40),
                             .value = absl::StrCat("v", key),
                             .idempotency_key = absl::StrCat("k", key)});
        }
        absl::StatusOr<std::vector<AppendResult>> results = (*log)->Append("t", records, {});
        ASSERT_TRUE(results.ok()) << results.status();
        for (size_t r = 0; r < results->size(); ++r) {
          const AppendResult& a = (*results)[r];
          seen[t].push_back({keys[r], {a.partition.value(), a.offset.value(), a.duplicate}});
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();

  std::map<int, std::pair<int32_t, int64_t>> position_of;
  std::map<int, int> first_appends;
  for (const auto& per_thread : seen) {
    for (const auto& [key, s] : per_thread) {
      auto [it, inserted] = position_of.try_emplace(key, s.partition, s.offset);
      EXPECT_EQ(it->second, std::make_pair(s.partition, s.offset)) << "key " << key;
      if (!s.duplicate) first_appends[key]++;
    }
  }
  int64_t total = 0;
  for (int p = 0; p < 3; ++p) {
    absl::StatusOr<std::vector<LogRecord>> records =
        (*log)->Read("t", Partition(p), Offset(0), 10000);
    ASSERT_TRUE(records.ok());
    for (size_t i = 0; i < records->size(); ++i) {
      EXPECT_EQ((*records)[i].offset.value(), static_cast<int64_t>(i));  // dense
      const int key = std::stoi((*records)[i].value.substr(1));
      EXPECT_EQ(position_of[key], std::make_pair(p, static_cast<int64_t>(i)));
    }
    total += static_cast<int64_t>(records->size());
  }
  EXPECT_EQ(total, static_cast<int64_t>(position_of.size()));
  for (const auto& [key, n] : first_appends) EXPECT_EQ(n, 1) << "key " << key;
  EXPECT_EQ(first_appends.size(), position_of.size());
  ASSERT_TRUE((*log)->Close().ok());
}

}  // namespace
}  // namespace custops::log

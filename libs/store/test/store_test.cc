#include "custops/store/store.h"

#include <filesystem>
#include <string>
#include <vector>

#include "custops/store/keys.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/perf_context.h"
#include "rocksdb/perf_level.h"

namespace custops::store {
namespace {

using ::custops::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("store_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  StoreOptions Options() { return {.path = dir_.string(), .column_families = {"a", "b"}}; }
  std::filesystem::path dir_;
};

TEST_F(StoreTest, BatchIsAtomicAndFamiliesAreSeparate) {
  auto store = Store::Open(Options());
  ASSERT_OK(store);
  Batch batch;
  batch.Put((*store)->Family("a"), "k", "in-a");
  batch.Put((*store)->Family("b"), "k", "in-b");
  EXPECT_EQ(batch.Count(), 2u);
  ASSERT_OK((*store)->Write(batch));
  EXPECT_EQ(*(*store)->Get((*store)->Family("a"), "k").value(), "in-a");
  EXPECT_EQ(*(*store)->Get((*store)->Family("b"), "k").value(), "in-b");
  EXPECT_FALSE((*store)->Get((*store)->Family("a"), "missing").value().has_value());
}

TEST_F(StoreTest, PrefixIterationStaysInsideThePrefix) {
  auto store = Store::Open(Options()).value();
  Batch batch;
  for (std::string k : {"p1/a", "p1/b", "p2/a", "p0/z"}) batch.Put(store->Family("a"), k, k);
  ASSERT_OK(store->Write(batch));
  auto it = store->NewIterator(store->Family("a"), "p1/");
  std::vector<std::string> keys;
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
  EXPECT_EQ(keys, (std::vector<std::string>{"p1/a", "p1/b"}));
  it->Seek("p1/b");
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p1/b");
  it->Seek("p0");  // before the prefix: clamps to the prefix start
  ASSERT_TRUE(it->Valid());
  EXPECT_EQ(it->key(), "p1/a");
}

// Stepping past a prefix's last key stops there: RocksDB does not walk the
// deleted keys that follow the prefix (an outbox scanned after each commit,
// with other partitions' published entries after it), nor past the end
// when the prefix ends in 0xff bytes.
TEST_F(StoreTest, PrefixIterationDoesNotWalkTheTombstonesAfterThePrefix) {
  auto store = Store::Open(Options()).value();
  const ColumnFamily a = store->Family("a");
  Batch batch;
  batch.Put(a, "p1/x", "live");
  for (int i = 0; i < 1000; ++i) batch.Put(a, "p2/" + std::to_string(i), "v");
  batch.Put(a, "p3/y", "live");
  batch.Put(a, "q\xff\xff", "ff");
  batch.Put(a, "r", "after");
  ASSERT_OK(store->Write(batch));
  Batch deletes;
  for (int i = 0; i < 1000; ++i) deletes.Delete(a, "p2/" + std::to_string(i));
  ASSERT_OK(store->Write(deletes));

  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kEnableCount);
  rocksdb::get_perf_context()->Reset();
  std::vector<std::string> keys;
  auto it = store->NewIterator(a, "p1/");
  for (it->SeekToFirst(); it->Valid(); it->Next()) keys.emplace_back(it->key());
  const uint64_t skipped = rocksdb::get_perf_context()->internal_delete_skipped_count;
  rocksdb::SetPerfLevel(rocksdb::PerfLevel::kDisable);
  EXPECT_EQ(keys, std::vector<std::string>{"p1/x"});
  EXPECT_EQ(skipped, 0u);  // without the bound: the 1000 tombstones of p2/

  keys.clear();
  auto ff = store->NewIterator(a, "q\xff");  // no successor but "r"
  for (ff->SeekToFirst(); ff->Valid(); ff->Next()) keys.emplace_back(ff->key());
  EXPECT_EQ(keys, std::vector<std::string>{"q\xff\xff"});
}

TEST_F(StoreTest, PersistsAcrossReopenAndRefusesASecondOpener) {
  {
    auto store = Store::Open(Options()).value();
    Batch batch;
    batch.Put(store->Family("b"), "durable", "yes");
    ASSERT_OK(store->Write(batch));
    auto second = Store::Open(Options());
    // RocksDB's LOCK file is held.
    EXPECT_THAT(second, StatusIs(absl::StatusCode::kUnavailable,
                                 AllOf(StartsWith("open "), HasSubstr("lock"))));
    Batch late;
    late.Put(store->Family("default"), "x", "y");
    ASSERT_OK(store->Close());
    EXPECT_THAT(store->Write(late),
                StatusIs(absl::StatusCode::kFailedPrecondition, "store is closed"));
  }
  auto store = Store::Open(Options()).value();
  EXPECT_EQ(*store->Get(store->Family("b"), "durable").value(), "yes");
}

TEST_F(StoreTest, BulkWritesSkipTheWalAndAreDurableOnceBulkEnds) {
  auto wal_bytes = [&] {
    uintmax_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir_)) {
      if (e.path().extension() == ".log") n += e.file_size();
    }
    return n;
  };
  {
    StoreOptions options = Options();
    options.bulk = true;
    auto store = Store::Open(options).value();
    EXPECT_TRUE(store->bulk());
    Batch batch;
    batch.Put(store->Family("a"), "bulk", "1");
    batch.Put(store->Family("b"), "bulk", "2");
    ASSERT_OK(store->Write(batch));
    EXPECT_EQ(wal_bytes(), 0u) << "a bulk write went to the WAL";
    EXPECT_EQ(*store->Get(store->Family("a"), "bulk").value(), "1");
    // Ending bulk mode flushes what the WAL does not hold.
    ASSERT_OK(store->SetBulk(false));
    EXPECT_FALSE(store->bulk());
    Batch later;
    later.Put(store->Family("b"), "logged", "3");
    ASSERT_OK(store->Write(later));
    EXPECT_GT(wal_bytes(), 0u) << "a write after bulk mode skipped the WAL";
  }
  auto store = Store::Open(Options()).value();
  EXPECT_EQ(*store->Get(store->Family("a"), "bulk").value(), "1");
  EXPECT_EQ(*store->Get(store->Family("b"), "bulk").value(), "2");
  EXPECT_EQ(*store->Get(store->Family("b"), "logged").value(), "3");
}

TEST(KeysTest, EncodingsSortNumerically) {
  std::string a, b, c;
  AppendI64(a, -5);
  AppendI64(b, 3);
  AppendI64(c, 1LL << 40);
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  std::string k;
  AppendU32(k, 7);
  AppendId(k, "cust-1");
  AppendI64(k, -42);
  std::string_view in = k;
  EXPECT_EQ(ReadU32(in), 7u);
  EXPECT_EQ(ReadId(in), "cust-1");
  EXPECT_EQ(ReadI64(in), -42);
  EXPECT_TRUE(in.empty());
}

}  // namespace
}  // namespace custops::store

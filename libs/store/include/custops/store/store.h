// A RocksDB database with named column families, atomic batches and ordered
// iteration: the state store of projections.
//
//   ASSIGN_OR_RETURN(auto store, Store::Open({.path = dir, .column_families = {"facts"}}));
//   Batch batch;
//   batch.Put(store->Family("facts"), key, value);
//   RETURN_IF_ERROR(store->Write(batch));
#ifndef CUSTOPS_STORE_STORE_H_
#define CUSTOPS_STORE_STORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
class Iterator;
class Slice;
class WriteBatch;
}  // namespace rocksdb

namespace custops::store {

// A column family of an open Store. Valid while the store is open.
using ColumnFamily = rocksdb::ColumnFamilyHandle*;

struct StoreOptions {
  // Directory of the database. Required.
  std::string path;
  // Column families besides "default"; created when missing.
  std::vector<std::string> column_families;
  // fsync the WAL on every Write. A process crash loses nothing either way;
  // sync also survives power loss. Default: false
  bool sync = false;
  // Shared block cache size. Default: 64 MiB
  size_t block_cache_bytes = size_t{64} << 20;
  // Memtable size per column family. Default: 32 MiB
  size_t write_buffer_bytes = size_t{32} << 20;
  // Bulk load (a rebuild, docs/operations.md "Rebuild"): writes skip the
  // write-ahead log and column families flush together (atomic flush), so a
  // crash recovers the state of the last flush, consistent across families.
  // Call Flush() and then SetBulk(false) before the state must survive a
  // crash. Default: false
  bool bulk = false;
};

// Writes applied together or not at all.
class Batch {
 public:
  Batch();
  ~Batch();
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

  void Put(ColumnFamily family, std::string_view key, std::string_view value);
  void Delete(ColumnFamily family, std::string_view key);
  size_t Count() const;
  size_t ByteSize() const;
  void Clear();
  rocksdb::WriteBatch* rep() { return rep_.get(); }

 private:
  std::unique_ptr<rocksdb::WriteBatch> rep_;
};

// Forward iteration over one column family, optionally within a prefix.
class Iterator {
 public:
  ~Iterator();
  // Positions at the first key >= target (and within the prefix).
  void Seek(std::string_view target);
  void SeekToFirst();  // first key of the prefix
  bool Valid() const;
  void Next();
  std::string_view key() const;
  std::string_view value() const;
  absl::Status status() const;

 private:
  friend class Store;
  explicit Iterator(std::string prefix);

  std::string prefix_;
  // The first key after every key of the prefix ("" = none): RocksDB's
  // iterate_upper_bound, so that stepping past the prefix's last live key
  // stops there instead of skipping the tombstones and keys that follow
  // (a publisher's outbox scan once crossed every other partition's
  // deleted entries this way).
  std::string upper_bound_;
  std::unique_ptr<rocksdb::Slice> upper_bound_slice_;
  std::unique_ptr<rocksdb::Iterator> it_;
};

// Thread-safe: any number of readers and writers.
class Store {
 public:
  // Opens or creates. INVALID_ARGUMENT for an empty path; UNAVAILABLE when
  // another process holds the database; INTERNAL otherwise.
  static absl::StatusOr<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();

  // The handle of a column family named in the options ("default" too).
  // Crashes on an unknown name: that is a programming error.
  ColumnFamily Family(std::string_view name) const;

  [[nodiscard]] absl::StatusOr<std::optional<std::string>> Get(ColumnFamily family,
                                                               std::string_view key) const;
  [[nodiscard]] absl::Status Write(Batch& batch);
  // Iterates keys starting with `prefix` (all keys when empty).
  std::unique_ptr<Iterator> NewIterator(ColumnFamily family, std::string_view prefix = "") const;
  [[nodiscard]] absl::Status CompactAll();
  // Writes every memtable to disk (all column families at once when opened
  // in bulk mode): what was written is then durable without the WAL.
  [[nodiscard]] absl::Status Flush();
  // Bulk writes (no WAL) on or off; see StoreOptions::bulk. Turning it off
  // flushes first, so no later WAL replay lands on a lost bulk write.
  [[nodiscard]] absl::Status SetBulk(bool bulk);
  bool bulk() const { return bulk_.load(); }
  // RocksDB property, e.g. "rocksdb.estimate-num-keys"; 0 when unknown.
  uint64_t IntProperty(ColumnFamily family, std::string_view property) const;
  [[nodiscard]] absl::Status Close();

 private:
  Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
        std::vector<std::string> names, bool sync, bool bulk);
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::vector<std::string> names_;
  bool sync_;
  std::atomic<bool> bulk_;
};

}  // namespace custops::store

#endif  // CUSTOPS_STORE_STORE_H_

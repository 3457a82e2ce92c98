// The writes of one batch of a projection: state, offsets and outbox land in
// one RocksDB WriteBatch. Reads see the batch's own earlier writes.
// Not thread-safe: one batch, one thread.
//
// Put and Delete only record the key's last write; batch() hands them to the
// WriteBatch once, one write per key, in key order within each column family.
// A key written many times in a batch (a hot slice, a seen mark set and
// cleared) reaches the memtable once, and sorted inserts let RocksDB's skip
// list reuse its last insert position (docs/benchmarks.md "Issue 16, second pass").
// Keys written in key order already (a projection's cache flushing what it
// holds) are merged as runs, not sorted again.
#ifndef CUSTOPS_PROJECTION_TXN_H_
#define CUSTOPS_PROJECTION_TXN_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "custops/base/types.h"
#include "custops/store/store.h"
#include "custops/v1/changes.pb.h"

namespace custops::projection {

class Txn {
 public:
  // `store` must outlive the Txn.
  Txn(store::Store& store, Partition partition);

  Partition partition() const { return partition_; }

  // The value of `key` as this batch left it, else as stored.
  absl::StatusOr<std::optional<std::string>> Get(store::ColumnFamily cf, std::string_view key);
  void Put(store::ColumnFamily cf, std::string_view key, std::string_view value);
  void Delete(store::ColumnFamily cf, std::string_view key);
  // Put for a key this batch will not Get again (the projection keeps the
  // value itself, e.g. a write-back cache). A later Get of the key in this
  // batch is a bug (CHECK).
  void PutUnread(store::ColumnFamily cf, std::string_view key, std::string_view value);

  // Queues a derived change for `custops.state-changes.v1`, published after
  // commit through the outbox. The runtime fills projection, and change_id:
  // "<projection>/<partition>/<sequence>", or "<projection>/<id>" when the
  // projection set change_id to an id made of the change's content (one a
  // re-derivation of the same change reproduces; the log drops repeats).
  void Emit(v1::StateChange change) { emitted_.push_back(std::move(change)); }

  // For the runtime: the WriteBatch, holding every Put and Delete so far
  // (later ones are a bug, CHECK); the runtime adds its own writes to it.
  store::Batch& batch();
  std::vector<v1::StateChange>& emitted() { return emitted_; }
  bool empty() const { return overlay_.empty() && batch_.Count() == 0 && emitted_.empty(); }

 private:
  enum class State : uint8_t { kPut, kDeleted, kUnread };
  struct Entry {
    std::string_view key;    // cf | key, in arena_
    std::string_view value;  // in arena_ (kPut, kUnread)
    State state;
  };
  // Copies `a` then `b` into the arena; the bytes stay put until the Txn dies.
  std::string_view Copy(std::string_view a, std::string_view b);
  // cf (8 bytes) | key, in scratch_.
  std::string_view OverlayKey(store::ColumnFamily cf, std::string_view key);
  void Record(store::ColumnFamily cf, std::string_view key, std::string_view value, State state);

  store::Store& store_;
  Partition partition_;
  store::Batch batch_;
  // This batch's last write of each key, in the order of their first
  // writes (batch() sorts them as runs: a write-back cache flushes its
  // entries already in key order), and cf | key -> its index. Keys and
  // values live in arena_ (chunks that never move): one allocation per
  // ~64 KiB instead of two strings per write.
  std::vector<Entry> writes_;
  absl::flat_hash_map<std::string_view, uint32_t> overlay_;
  bool sealed_ = false;  // overlay_ is in batch_
  std::vector<std::unique_ptr<char[]>> arena_;
  size_t arena_left_ = 0;
  char* arena_next_ = nullptr;
  std::string scratch_;
  std::vector<v1::StateChange> emitted_;
};

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_TXN_H_

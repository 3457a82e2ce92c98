// The writes of one batch of a projection: state, offsets and outbox land in
// one RocksDB WriteBatch. Reads see the batch's own earlier writes.
// Not thread-safe: one batch, one thread.
#ifndef CUSTOPS_PROJECTION_TXN_H_
#define CUSTOPS_PROJECTION_TXN_H_

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

  // Queues a derived change for `custops.state-changes.v1`, published after
  // commit through the outbox. The runtime fills change_id
  // ("<projection>/<partition>/<sequence>") and projection.
  void Emit(v1::StateChange change) { emitted_.push_back(std::move(change)); }

  // For the runtime.
  store::Batch& batch() { return batch_; }
  std::vector<v1::StateChange>& emitted() { return emitted_; }
  bool empty() const { return batch_.Count() == 0 && emitted_.empty(); }

 private:
  store::Store& store_;
  Partition partition_;
  store::Batch batch_;
  // (cf, key) -> value; nullopt = deleted in this batch.
  absl::flat_hash_map<std::pair<store::ColumnFamily, std::string>, std::optional<std::string>>
      overlay_;
  std::vector<v1::StateChange> emitted_;
};

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_TXN_H_

#include "custops/projection/txn.h"

namespace custops::projection {

Txn::Txn(store::Store& store, Partition partition) : store_(store), partition_(partition) {}

absl::StatusOr<std::optional<std::string>> Txn::Get(store::ColumnFamily cf, std::string_view key) {
  auto it = overlay_.find(std::make_pair(cf, std::string(key)));
  if (it != overlay_.end()) return it->second;
  return store_.Get(cf, key);
}

void Txn::Put(store::ColumnFamily cf, std::string_view key, std::string_view value) {
  batch_.Put(cf, key, value);
  overlay_[std::make_pair(cf, std::string(key))] = std::string(value);
}

void Txn::Delete(store::ColumnFamily cf, std::string_view key) {
  batch_.Delete(cf, key);
  overlay_[std::make_pair(cf, std::string(key))] = std::nullopt;
}

}  // namespace custops::projection

#include "custops/projection/txn.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "custops/base/check.h"

namespace custops::projection {
namespace {
constexpr size_t kArenaChunk = size_t{64} << 10;
}  // namespace

Txn::Txn(store::Store& store, Partition partition) : store_(store), partition_(partition) {}

std::string_view Txn::Copy(std::string_view a, std::string_view b) {
  const size_t n = a.size() + b.size();
  if (n > arena_left_) {
    const size_t size = std::max(n, kArenaChunk);
    arena_.push_back(std::make_unique<char[]>(size));
    arena_next_ = arena_.back().get();
    arena_left_ = size;
  }
  char* out = arena_next_;
  if (!a.empty()) std::memcpy(out, a.data(), a.size());
  if (!b.empty()) std::memcpy(out + a.size(), b.data(), b.size());
  arena_next_ += n;
  arena_left_ -= n;
  return std::string_view(out, n);
}

std::string_view Txn::OverlayKey(store::ColumnFamily cf, std::string_view key) {
  scratch_.assign(reinterpret_cast<const char*>(&cf), sizeof(cf));
  scratch_.append(key);
  return scratch_;
}

void Txn::Record(store::ColumnFamily cf, std::string_view key, std::string_view value,
                 State state) {
  CHECK(!sealed_) << "Txn write after batch()";
  const std::string_view k = OverlayKey(cf, key);
  auto it = overlay_.find(k);
  const std::string_view v = state == State::kDeleted ? std::string_view() : Copy(value, {});
  if (it != overlay_.end()) {
    it->second = Entry{v, state};
  } else {
    overlay_.emplace(Copy(k, {}), Entry{v, state});
  }
}

absl::StatusOr<std::optional<std::string>> Txn::Get(store::ColumnFamily cf, std::string_view key) {
  auto it = overlay_.find(OverlayKey(cf, key));
  if (it != overlay_.end()) {
    CHECK(it->second.state != State::kUnread) << "Txn::Get of a key written with PutUnread";
    if (it->second.state == State::kDeleted) return std::nullopt;
    return std::string(it->second.value);
  }
  return store_.Get(cf, key);
}

void Txn::Put(store::ColumnFamily cf, std::string_view key, std::string_view value) {
  Record(cf, key, value, State::kPut);
}

void Txn::PutUnread(store::ColumnFamily cf, std::string_view key, std::string_view value) {
  Record(cf, key, value, State::kUnread);
}

void Txn::Delete(store::ColumnFamily cf, std::string_view key) {
  Record(cf, key, {}, State::kDeleted);
}

store::Batch& Txn::batch() {
  if (sealed_) return batch_;
  sealed_ = true;
  std::vector<std::pair<std::string_view, const Entry*>> writes;
  writes.reserve(overlay_.size());
  for (const auto& [k, e] : overlay_) writes.emplace_back(k, &e);
  std::sort(writes.begin(), writes.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  for (const auto& [k, e] : writes) {
    store::ColumnFamily cf;
    std::memcpy(&cf, k.data(), sizeof(cf));
    const std::string_view key = k.substr(sizeof(cf));
    if (e->state == State::kDeleted) {
      batch_.Delete(cf, key);
    } else {
      batch_.Put(cf, key, e->value);
    }
  }
  return batch_;
}

}  // namespace custops::projection

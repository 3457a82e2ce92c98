#include "custops/projection/txn.h"

#include <cstring>

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
  const std::string_view k = OverlayKey(cf, key);
  auto it = overlay_.find(k);
  const std::string_view v = state == State::kPut ? Copy(value, {}) : std::string_view();
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
  batch_.Put(cf, key, value);
  Record(cf, key, value, State::kPut);
}

void Txn::PutUnread(store::ColumnFamily cf, std::string_view key, std::string_view value) {
  batch_.Put(cf, key, value);
  Record(cf, key, {}, State::kUnread);
}

void Txn::Delete(store::ColumnFamily cf, std::string_view key) {
  batch_.Delete(cf, key);
  Record(cf, key, {}, State::kDeleted);
}

}  // namespace custops::projection

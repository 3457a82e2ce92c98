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
    Entry& e = writes_[it->second];
    e.value = v;
    e.state = state;
  } else {
    const std::string_view stored = Copy(k, {});
    overlay_.emplace(stored, static_cast<uint32_t>(writes_.size()));
    writes_.push_back(Entry{stored, v, state});
  }
}

absl::StatusOr<std::optional<std::string>> Txn::Get(store::ColumnFamily cf, std::string_view key) {
  auto it = overlay_.find(OverlayKey(cf, key));
  if (it != overlay_.end()) {
    const Entry& e = writes_[it->second];
    CHECK(e.state != State::kUnread) << "Txn::Get of a key written with PutUnread";
    if (e.state == State::kDeleted) return std::nullopt;
    return std::string(e.value);
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
  // Runs of keys first written in increasing order (kMinRun or longer) stay
  // as they are; the rest is sorted; then the runs are merged, the two
  // shortest first. A flush of a sorted cache costs a merge, not a sort.
  constexpr size_t kMinRun = 32;
  auto less = [this](uint32_t a, uint32_t b) { return writes_[a].key < writes_[b].key; };
  using Run = std::vector<uint32_t>;
  std::vector<Run> runs;
  Run loose;
  const auto n = static_cast<uint32_t>(writes_.size());
  for (uint32_t i = 0; i < n;) {
    uint32_t j = i + 1;
    while (j < n && less(j - 1, j)) ++j;
    Run& to = j - i >= kMinRun ? runs.emplace_back() : loose;
    for (uint32_t k = i; k < j; ++k) to.push_back(k);
    i = j;
  }
  std::sort(loose.begin(), loose.end(), less);
  runs.push_back(std::move(loose));
  auto longer = [](const Run& a, const Run& b) { return a.size() > b.size(); };
  std::make_heap(runs.begin(), runs.end(), longer);
  while (runs.size() > 1) {
    std::pop_heap(runs.begin(), runs.end(), longer);
    Run a = std::move(runs.back());
    runs.pop_back();
    std::pop_heap(runs.begin(), runs.end(), longer);
    Run merged(a.size() + runs.back().size());
    std::merge(a.begin(), a.end(), runs.back().begin(), runs.back().end(), merged.begin(), less);
    runs.back() = std::move(merged);
    std::push_heap(runs.begin(), runs.end(), longer);
  }
  for (uint32_t i : runs.front()) {
    const Entry& e = writes_[i];
    store::ColumnFamily cf;
    std::memcpy(&cf, e.key.data(), sizeof(cf));
    const std::string_view key = e.key.substr(sizeof(cf));
    if (e.state == State::kDeleted) {
      batch_.Delete(cf, key);
    } else {
      batch_.Put(cf, key, e.value);
    }
  }
  return batch_;
}

}  // namespace custops::projection

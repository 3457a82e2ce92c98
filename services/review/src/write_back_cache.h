// WriteBackCache<T>, the review batch's store of decoded state (one per
// column family and partition; see the class comment for the contract). Not
// thread-safe. The pointers it returns stay valid until their entry is
// evicted or the cache cleared.
//
//   WriteBackCache<internal::ReviewCustomer> customers;
//   internal::ReviewCustomer* c = customers.Touch(key, generation);  // now dirty
//   if (c == nullptr) c = customers.Insert(key, Load(key), generation);
//   ...
//   RETURN_IF_ERROR(customers.Flush([&](const std::string& key, const auto& v) {
//     return Write(key, v);  // each dirty entry, in key order
//   }));
//   customers.EvictOlderThan(generation - keep);
//   if (customers.bytes() > kMax) ...  // estimated memory, as of the last Flush
#ifndef CUSTOPS_REVIEW_SRC_WRITE_BACK_CACHE_H_
#define CUSTOPS_REVIEW_SRC_WRITE_BACK_CACHE_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "custops/base/status_macros.h"

namespace custops::review {

// The default HeapBytes of WriteBackCache: nothing beyond sizeof(T).
template <typename T>
struct NoHeapBytes {
  size_t operator()(const T&) const { return 0; }
};

// A write-back cache of decoded state of one family and partition, kept
// across batches: entries touched by a batch are dirty and written (all of
// them, in key order) by the batch's Flush, so the store holds exactly what
// it held without the cache and a restart only costs reads. Entries are
// evicted by age (the generation of the batch that last touched them).
// `HeapBytes` estimates what a value owns beyond its own size (maps, vectors)
// for bytes(); by default nothing.
template <typename T, typename HeapBytes = NoHeapBytes<T>>
class WriteBackCache {
 public:
  // The cached value of `key` (marked dirty), or null.
  T* Touch(const std::string& key, uint64_t generation) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    Mark(*it, generation);
    return &it->second.value;
  }
  T* Insert(const std::string& key, T value, uint64_t generation) {
    auto [it, inserted] = map_.try_emplace(key);
    it->second.value = std::move(value);
    Mark(*it, generation);
    return &it->second.value;
  }
  // Calls fn(key, value) for each dirty entry in key order; all clean after.
  template <typename Fn>
  absl::Status Flush(Fn fn) {
    std::sort(dirty_.begin(), dirty_.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    for (auto* e : dirty_) {
      RETURN_IF_ERROR(fn(e->first, e->second.value));
      e->second.dirty = false;
      // bytes_ - old + now (modular: exact once both are added).
      const size_t now = EntryBytes(*e);
      bytes_ += now - e->second.bytes;
      e->second.bytes = now;
    }
    dirty_.clear();
    return absl::OkStatus();
  }
  // Drops clean entries last touched before `generation`.
  void EvictOlderThan(uint64_t generation) {
    absl::erase_if(map_, [&](const auto& e) {
      if (e.second.dirty || e.second.generation >= generation) return false;
      bytes_ -= e.second.bytes;
      return true;
    });
  }
  void Clear() {
    map_.clear();
    dirty_.clear();
    bytes_ = 0;
  }
  size_t size() const { return map_.size(); }
  // The estimated memory of the entries (node, key and value), each as of
  // the Flush that last wrote it.
  size_t bytes() const { return bytes_; }

 private:
  struct Entry {
    T value;
    uint64_t generation = 0;
    bool dirty = false;
    size_t bytes = 0;  // counted in bytes_
  };
  using Map = absl::node_hash_map<std::string, Entry>;  // stable addresses
  void Mark(typename Map::value_type& e, uint64_t generation) {
    e.second.generation = generation;
    if (!e.second.dirty) {
      e.second.dirty = true;
      dirty_.push_back(&e);
    }
  }
  static size_t EntryBytes(const typename Map::value_type& e) {
    // The node (with allocator overhead), the table's slot and control
    // byte, the key's heap copy when too long for the string's own buffer.
    const size_t key = e.first.size() > 15 ? e.first.capacity() + 1 : 0;
    return sizeof(e) + 16 + sizeof(void*) + 1 + key + HeapBytes()(e.second.value);
  }
  Map map_;
  std::vector<typename Map::value_type*> dirty_;
  size_t bytes_ = 0;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_WRITE_BACK_CACHE_H_

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

// A write-back cache of decoded state of one family and partition, kept
// across batches: entries touched by a batch are dirty and written (all of
// them, in key order) by the batch's Flush, so the store holds exactly what
// it held without the cache and a restart only costs reads. Entries are
// evicted by age (the generation of the batch that last touched them).
template <typename T>
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
    }
    dirty_.clear();
    return absl::OkStatus();
  }
  // Drops clean entries last touched before `generation`.
  void EvictOlderThan(uint64_t generation) {
    absl::erase_if(map_, [generation](const auto& e) {
      return !e.second.dirty && e.second.generation < generation;
    });
  }
  void Clear() {
    map_.clear();
    dirty_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    T value;
    uint64_t generation = 0;
    bool dirty = false;
  };
  using Map = absl::node_hash_map<std::string, Entry>;  // stable addresses
  void Mark(typename Map::value_type& e, uint64_t generation) {
    e.second.generation = generation;
    if (!e.second.dirty) {
      e.second.dirty = true;
      dirty_.push_back(&e);
    }
  }
  Map map_;
  std::vector<typename Map::value_type*> dirty_;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_WRITE_BACK_CACHE_H_

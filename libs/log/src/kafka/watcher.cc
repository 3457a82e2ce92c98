// KafkaEventLogImpl's generations: per-topic counters bumped by local appends
// and by a watcher thread that polls the ends of the topics someone waits on
// (the Generation section of event_log_impl.h).
#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "kafka/event_log_impl.h"

namespace custops::log::internal {

void KafkaEventLogImpl::NoteAppended(std::string_view topic,
                                     const std::vector<AppendResult>& results,
                                     const std::vector<size_t>& produced) const {
  // Only an existing watch: creating one queries the cluster under state_mu_,
  // which the caller already holds. A watch created later starts from the
  // ends of that moment, which include these records.
  TopicWatch* found = nullptr;
  {
    absl::MutexLock lock(&watches_mu_);
    auto it = watches_.find(AsAbsl(topic));
    if (it == watches_.end()) return;
    found = it->second.get();
  }
  TopicWatch& watch = *found;
  absl::MutexLock lock(&watch.mu);
  for (size_t i : produced) {
    const size_t p = results[i].partition.value();
    if (p < watch.known_ends.size()) {
      watch.known_ends[p] = std::max(watch.known_ends[p], results[i].offset.value() + 1);
    }
  }
  ++watch.generation;
}

TopicWatch& KafkaEventLogImpl::WatchFor(std::string_view topic) const {
  TopicWatch* watch = nullptr;
  bool created = false;
  {
    absl::MutexLock lock(&watches_mu_);
    std::unique_ptr<TopicWatch>& slot = watches_[AsAbsl(topic)];
    if (slot == nullptr) {
      slot = std::make_unique<TopicWatch>();
      created = true;
    }
    watch = slot.get();
    if (!watcher_.joinable() && !closed_.load()) {
      watcher_ = std::thread([this] { WatcherLoop(); });
    }
  }
  if (created) {
    // Learn the current ends now, so that a caller who reads after this
    // returns is woken by anything appended later.
    absl::ReaderMutexLock state_lock(&state_mu_);
    if (!closed_.load()) {
      absl::StatusOr<int> partitions = PartitionCountLocked(topic);
      if (partitions.ok()) {
        absl::StatusOr<std::vector<int64_t>> ends = EndOffsets(topic, *partitions);
        absl::MutexLock lock(&watch->mu);
        if (ends.ok() && watch->known_ends.empty()) watch->known_ends = *std::move(ends);
      }
    }
  }
  return *watch;
}

void KafkaEventLogImpl::PollWatch(std::string_view topic, TopicWatch& watch) const {
  absl::ReaderMutexLock state_lock(&state_mu_);
  if (closed_.load()) return;
  absl::StatusOr<int> partitions = PartitionCountLocked(topic);
  if (!partitions.ok()) return;  // not created yet
  absl::StatusOr<std::vector<int64_t>> ends = EndOffsets(topic, *partitions);
  if (!ends.ok()) return;  // try again next round
  absl::MutexLock lock(&watch.mu);
  // A topic that appeared after the watch began: everything in it is new.
  if (watch.known_ends.size() != ends->size()) watch.known_ends.resize(ends->size(), 0);
  bool moved = false;
  for (size_t p = 0; p < ends->size(); ++p) {
    if ((*ends)[p] > watch.known_ends[p]) {
      watch.known_ends[p] = (*ends)[p];
      moved = true;
    }
  }
  if (moved) ++watch.generation;
}

void KafkaEventLogImpl::WatcherLoop() const {
  while (true) {
    std::vector<std::pair<std::string, TopicWatch*>> topics;
    {
      absl::MutexLock lock(&watches_mu_);
      auto closed = [this] { return closed_.load(); };
      watches_mu_.AwaitWithTimeout(absl::Condition(&closed), options_.poll_interval);
      if (closed_.load()) return;
      for (const auto& [name, watch] : watches_) topics.emplace_back(name, watch.get());
    }
    for (auto& [name, watch] : topics) PollWatch(name, *watch);
  }
}

uint64_t KafkaEventLogImpl::Generation(std::string_view topic) const {
  TopicWatch& watch = WatchFor(topic);
  absl::MutexLock lock(&watch.mu);
  return watch.generation;
}

uint64_t KafkaEventLogImpl::WaitForAppend(std::string_view topic, uint64_t seen,
                                          absl::Time deadline) const {
  TopicWatch& watch = WatchFor(topic);
  absl::MutexLock lock(&watch.mu);
  auto moved = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(watch.mu) {
    return closed_.load() || watch.generation != seen;
  };
  watch.mu.AwaitWithDeadline(absl::Condition(&moved), deadline);
  return watch.generation;
}

}  // namespace custops::log::internal

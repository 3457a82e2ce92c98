// ProjectionRuntime's waits and stats: consistency-token waits
// (WaitApplied, NotifyApplied, AbandonWaits, and UpdateWaiters, which hands
// the applied offsets and ownership to the pending waits after each commit
// and Revoke), the applied offsets, and the runtime's stats.
#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/projection/runtime.h"

namespace custops::projection {

absl::Status ProjectionRuntime::CheckToken(const PositionSet& token) const {
  if (token.topic() != options_.topic) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency_token: for topic ", token.topic(), ", not ", options_.topic));
  }
  if (token.next_offsets_size() > partitions_) {
    return absl::InvalidArgumentError("consistency_token: more partitions than the topic has");
  }
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::WaitApplied(const PositionSet& token, absl::Time deadline) const {
  RETURN_IF_ERROR(CheckToken(token));
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (int i = 0; i < token.next_offsets_size(); ++i) {
      if (owned_[i] && applied_[i].value() < token.next_offsets(i)) return false;
    }
    return true;
  };
  if (mu_.AwaitWithDeadline(absl::Condition(&reached), deadline)) return absl::OkStatus();
  return absl::DeadlineExceededError("consistency_token: write not applied before the deadline");
}

void ProjectionRuntime::NotifyApplied(const PositionSet& token, absl::Time deadline,
                                      PositionWaiters::Done done) const {
  if (absl::Status s = CheckToken(token); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  std::vector<int64_t> targets(token.next_offsets().begin(), token.next_offsets().end());
  {
    absl::MutexLock lock(&mu_);
    bool reached = true;
    for (size_t i = 0; i < targets.size(); ++i) {
      reached &= !owned_[i] || applied_[i].value() >= targets[i];
    }
    if (!reached) {
      // Added under mu_: a commit after this point updates the waiters.
      waiters_.Add(
          std::move(targets), deadline,
          absl::DeadlineExceededError("consistency_token: write not applied before the deadline"),
          std::move(done));
      return;
    }
  }
  std::move(done)(absl::OkStatus());
}

void ProjectionRuntime::AbandonWaits(const absl::Status& status) const { waiters_.Close(status); }

void ProjectionRuntime::UpdateWaiters() {
  if (waiters_.pending() == 0) return;
  std::vector<int64_t> applied;
  std::vector<bool> owned;
  {
    absl::MutexLock lock(&mu_);
    applied.reserve(applied_.size());
    for (Offset o : applied_) applied.push_back(o.value());
    owned = owned_;
  }
  waiters_.Update(applied, owned);
}

std::vector<Offset> ProjectionRuntime::AppliedOffsets() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

RuntimeStats ProjectionRuntime::Stats() const {
  RuntimeStats stats;
  std::vector<Offset> applied;
  std::vector<uint64_t> next_seq;
  std::vector<bool> owned;
  std::vector<int64_t> restore_target;
  {
    absl::MutexLock lock(&mu_);
    stats = totals_;
    applied = applied_;
    next_seq = next_seq_;
    owned = owned_;
    restore_target = restore_target_;
    for (int i = 0; i < partitions_; ++i) {
      if (!owned_[i]) continue;
      stats.parked_customers += static_cast<int64_t>(parked_[i].size());
      for (const auto& [customer, state] : parked_[i]) stats.parked_events += state.events;
    }
  }
  {
    absl::MutexLock lock(&publish_mu_);
    stats.outbox_pending = 0;
    for (int i = 0; i < partitions_; ++i) {
      const uint64_t done = published_seq_.empty() ? 0 : published_seq_[i];
      if (next_seq[i] > done) stats.outbox_pending += static_cast<int64_t>(next_seq[i] - done);
    }
  }
  const absl::StatusOr<std::vector<Offset>> ends = log_.EndOffsets(options_.topic);
  for (int i = 0; i < partitions_; ++i) {
    const bool known = ends.ok() && i < static_cast<int>(ends->size());
    stats.partitions.push_back({.partition = Partition(i),
                                .applied = applied[i],
                                .log_end = known ? (*ends)[i] : Offset(-1),
                                .owned = owned[i],
                                .restoring = restore_target[i] >= 0,
                                .restore_target = Offset(std::max<int64_t>(0, restore_target[i]))});
  }
  return stats;
}

}  // namespace custops::projection

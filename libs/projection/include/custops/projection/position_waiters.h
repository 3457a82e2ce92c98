// Waits for log positions that hold no thread (docs/security.md: thousands of pending
// consistency-token waits cost memory, not threads). The owner of the applied offsets (a projection
// runtime, the org-events index) keeps one PositionWaiters, adds a waiter under its own lock when
// the target is not reached yet, and calls Update with a snapshot of its offsets after each commit.
//
//   // Under the owner's lock, after checking that `targets` is not reached:
//   waiters_.Add(targets, deadline, std::move(done));
//   // After a commit, outside the owner's lock:
//   waiters_.Update(applied_snapshot, owned_snapshot);
#ifndef CUSTOPS_PROJECTION_POSITION_WAITERS_H_
#define CUSTOPS_PROJECTION_POSITION_WAITERS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/executor.h"

namespace custops::projection {

// Thread-safe. Every added callback runs exactly once, outside any lock of
// this class: OK from Update once reached, DEADLINE_EXCEEDED from the timer
// thread at its deadline, or the Close status.
class PositionWaiters {
 public:
  using Done = absl::AnyInvocable<void(absl::Status) &&>;
  // `timers` must outlive this object.
  explicit PositionWaiters(base::TimerQueue& timers = base::TimerQueue::Default())
      : timers_(timers) {}
  // Fails what is still pending (UNAVAILABLE).
  ~PositionWaiters();

  // `targets[i]` is the next offset partition i must reach. `timeout` is the
  // status given at `deadline`.
  void Add(std::vector<int64_t> targets, absl::Time deadline, absl::Status timeout, Done done);
  // Completes every waiter whose targets are reached: partition i is reached
  // when applied[i] >= target or it is not owned here (owned may be empty:
  // all owned).
  void Update(const std::vector<int64_t>& applied, const std::vector<bool>& owned);
  // Completes every pending waiter with `status` (shutdown), and every
  // waiter added later at once with the same status.
  void Close(const absl::Status& status);
  size_t pending() const;

 private:
  struct Waiter {
    std::vector<int64_t> targets;
    base::TimerId timer = 0;
    Done done;
  };
  // Shared with pending timers, so a timer that fires while this object is
  // destroyed touches live memory.
  struct State {
    absl::Mutex mu;
    uint64_t next_id ABSL_GUARDED_BY(mu) = 1;
    std::map<uint64_t, Waiter> waiters ABSL_GUARDED_BY(mu);
    std::optional<absl::Status> closed ABSL_GUARDED_BY(mu);
  };
  static void Expire(const std::shared_ptr<State>& state, uint64_t id, absl::Status timeout);

  base::TimerQueue& timers_;
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

// Whether `targets` is reached by `applied` (see PositionWaiters::Update).
bool Reached(const std::vector<int64_t>& targets, const std::vector<int64_t>& applied,
             const std::vector<bool>& owned);

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_POSITION_WAITERS_H_

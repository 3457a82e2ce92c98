#include "custops/projection/position_waiters.h"

#include <utility>

namespace custops::projection {

bool Reached(const std::vector<int64_t>& targets, const std::vector<int64_t>& applied,
             const std::vector<bool>& owned) {
  for (size_t i = 0; i < targets.size(); ++i) {
    if (!owned.empty() && (i >= owned.size() || !owned[i])) continue;
    if (i >= applied.size() || applied[i] < targets[i]) return false;
  }
  return true;
}

PositionWaiters::~PositionWaiters() {
  Close(absl::UnavailableError("shutting down: the wait was abandoned"));
}

void PositionWaiters::Add(std::vector<int64_t> targets, absl::Time deadline, absl::Status timeout,
                          Done done) {
  State& s = *state_;
  absl::ReleasableMutexLock lock(&s.mu);
  if (s.closed.has_value()) {
    const absl::Status status = *s.closed;
    lock.Release();
    std::move(done)(status);
    return;
  }
  const uint64_t id = s.next_id++;
  Waiter& w = s.waiters[id];
  w.targets = std::move(targets);
  w.done = std::move(done);
  // The timer may fire before Schedule returns: Expire then waits for the
  // lock and finds the waiter.
  w.timer =
      timers_.Schedule(deadline, [state = state_, id, timeout = std::move(timeout)]() mutable {
        Expire(state, id, std::move(timeout));
      });
}

void PositionWaiters::Expire(const std::shared_ptr<State>& state, uint64_t id,
                             absl::Status timeout) {
  Done done;
  {
    absl::MutexLock lock(&state->mu);
    auto it = state->waiters.find(id);
    if (it == state->waiters.end()) return;
    done = std::move(it->second.done);
    state->waiters.erase(it);
  }
  std::move(done)(std::move(timeout));
}

void PositionWaiters::Update(const std::vector<int64_t>& applied, const std::vector<bool>& owned) {
  std::vector<Done> ready;
  {
    absl::MutexLock lock(&state_->mu);
    auto& waiters = state_->waiters;
    for (auto it = waiters.begin(); it != waiters.end();) {
      if (!Reached(it->second.targets, applied, owned)) {
        ++it;
        continue;
      }
      // A timer that already fired finds the waiter gone and does nothing.
      timers_.Cancel(it->second.timer);
      ready.push_back(std::move(it->second.done));
      it = waiters.erase(it);
    }
  }
  for (Done& done : ready) std::move(done)(absl::OkStatus());
}

void PositionWaiters::Close(const absl::Status& status) {
  std::vector<Done> all;
  {
    absl::MutexLock lock(&state_->mu);
    state_->closed = status;
    for (auto& [id, w] : state_->waiters) {
      timers_.Cancel(w.timer);
      all.push_back(std::move(w.done));
    }
    state_->waiters.clear();
  }
  for (Done& done : all) std::move(done)(status);
}

size_t PositionWaiters::pending() const {
  absl::MutexLock lock(&state_->mu);
  return state_->waiters.size();
}

}  // namespace custops::projection

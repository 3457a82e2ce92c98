#include "custops/base/executor.h"

#include <pthread.h>

#include "absl/strings/str_cat.h"

namespace custops::base {
namespace {

void NameThread(const std::string& name) {
  // Linux limits thread names to 15 bytes.
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
}

}  // namespace

Executor::Executor(ExecutorOptions options) {
  const int n = options.threads > 0 ? options.threads : 1;
  threads_.reserve(n);
  for (int i = 0; i < n; ++i) {
    threads_.emplace_back([this, name = absl::StrCat(options.name, "-", i)] {
      NameThread(name);
      Loop();
    });
  }
}

Executor::~Executor() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void Executor::Schedule(absl::AnyInvocable<void() &&> fn) {
  {
    absl::MutexLock lock(&mu_);
    if (!stopping_) {
      queue_.push_back(std::move(fn));
      return;
    }
  }
  std::move(fn)();
}

size_t Executor::queued() const {
  absl::MutexLock lock(&mu_);
  return queue_.size();
}

void Executor::Loop() {
  while (true) {
    absl::AnyInvocable<void() &&> fn;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](Executor* e)
               ABSL_EXCLUSIVE_LOCKS_REQUIRED(e->mu_) { return e->stopping_ || !e->queue_.empty(); },
          this));
      if (queue_.empty()) return;  // stopping, and everything queued has run
      fn = std::move(queue_.front());
      queue_.pop_front();
    }
    std::move(fn)();
  }
}

TimerQueue::TimerQueue()
    : thread_([this] {
        NameThread("timers");
        Loop();
      }) {}

TimerQueue::~TimerQueue() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  thread_.join();
}

TimerQueue& TimerQueue::Default() {
  static TimerQueue* queue = new TimerQueue();  // never destroyed: used until exit
  return *queue;
}

TimerId TimerQueue::Schedule(absl::Time when, absl::AnyInvocable<void() &&> fn) {
  absl::MutexLock lock(&mu_);
  const TimerId id = next_id_++;
  timers_.emplace(std::make_pair(when, id), std::move(fn));
  when_.emplace(id, when);
  return id;
}

bool TimerQueue::Cancel(TimerId id) {
  absl::AnyInvocable<void() &&> dropped;  // destroyed outside the lock
  absl::MutexLock lock(&mu_);
  auto it = when_.find(id);
  if (it == when_.end()) return false;
  auto timer = timers_.find({it->second, id});
  dropped = std::move(timer->second);
  timers_.erase(timer);
  when_.erase(it);
  return true;
}

size_t TimerQueue::pending() const {
  absl::MutexLock lock(&mu_);
  return timers_.size();
}

void TimerQueue::Loop() {
  absl::MutexLock lock(&mu_);
  while (!stopping_) {
    if (timers_.empty()) {
      mu_.Await(absl::Condition(
          +[](TimerQueue* q) ABSL_EXCLUSIVE_LOCKS_REQUIRED(q->mu_) {
            return q->stopping_ || !q->timers_.empty();
          },
          this));
      continue;
    }
    const absl::Time first = timers_.begin()->first.first;
    if (absl::Now() < first) {
      // Wakes early when an earlier timer is scheduled or on stop.
      const size_t size = timers_.size();
      const TimerId head = timers_.begin()->first.second;
      struct Arg {
        TimerQueue* q;
        size_t size;
        TimerId head;
      } arg{this, size, head};
      mu_.AwaitWithDeadline(absl::Condition(
                                +[](Arg* a) ABSL_EXCLUSIVE_LOCKS_REQUIRED(a->q->mu_) {
                                  return a->q->stopping_ || a->q->timers_.empty() ||
                                         a->q->timers_.begin()->first.second != a->head;
                                },
                                &arg),
                            first);
      continue;
    }
    auto it = timers_.begin();
    absl::AnyInvocable<void()&&> fn = std::move(it->second);
    when_.erase(it->first.second);
    timers_.erase(it);
    mu_.Unlock();
    std::move(fn)();
    mu_.Lock();
  }
}

}  // namespace custops::base

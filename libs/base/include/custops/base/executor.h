// Background execution for the serving layer: a fixed pool of worker threads
// (work that may block, such as an fsync'ed append or a population
// evaluation, runs here instead of on gRPC's or the HTTP server's few event
// threads) and a timer queue (deadlines of waits that hold no thread).
//
//   base::Executor pool({.threads = 4, .name = "rpc"});
//   pool.Schedule([] { DoBlockingWork(); });
//
//   base::TimerQueue timers;
//   base::TimerId id = timers.Schedule(absl::Now() + absl::Seconds(30), [] { Expire(); });
//   if (timers.Cancel(id)) { /* the callback will not run */ }
#ifndef CUSTOPS_BASE_EXECUTOR_H_
#define CUSTOPS_BASE_EXECUTOR_H_

#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/any_invocable.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace custops::base {

struct ExecutorOptions {
  // Worker threads. Default: 4
  int threads = 4;
  // Thread name prefix (shown by top -H, gdb). Default: "worker"
  std::string name = "worker";
};

// A fixed pool of threads running scheduled closures in FIFO order.
// Thread-safe. The destructor runs what is queued, then joins.
class Executor {
 public:
  explicit Executor(ExecutorOptions options = {});
  ~Executor();
  Executor(const Executor&) = delete;
  Executor& operator=(const Executor&) = delete;

  // Queues `fn`; after shutdown began it runs on the calling thread.
  void Schedule(absl::AnyInvocable<void() &&> fn);
  // Closures queued and not yet started.
  size_t queued() const;

 private:
  void Loop();
  mutable absl::Mutex mu_;
  std::deque<absl::AnyInvocable<void() &&>> queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

using TimerId = uint64_t;

// Runs closures at (or just after) a real-time instant, on its own thread.
// Thread-safe. The destructor drops what has not fired.
class TimerQueue {
 public:
  TimerQueue();
  ~TimerQueue();
  TimerQueue(const TimerQueue&) = delete;
  TimerQueue& operator=(const TimerQueue&) = delete;

  // Schedules `fn` at `when`; an instant in the past fires at once (on the
  // timer thread). Returns an id for Cancel.
  TimerId Schedule(absl::Time when, absl::AnyInvocable<void() &&> fn);
  // True when the closure was removed before it ran (it never will); false
  // when it ran, is running or was never scheduled.
  bool Cancel(TimerId id);
  size_t pending() const;

  // The process-wide queue used for call deadlines.
  static TimerQueue& Default();

 private:
  void Loop();
  mutable absl::Mutex mu_;
  // (when, id) -> closure: ordered by time, then by scheduling order.
  std::map<std::pair<absl::Time, TimerId>, absl::AnyInvocable<void() &&>> timers_
      ABSL_GUARDED_BY(mu_);
  std::map<TimerId, absl::Time> when_ ABSL_GUARDED_BY(mu_);
  TimerId next_id_ ABSL_GUARDED_BY(mu_) = 1;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace custops::base

#endif  // CUSTOPS_BASE_EXECUTOR_H_

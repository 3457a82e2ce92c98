// Rate limits for log lines a client can trigger (docs/security.md): a
// hostile client must not be able to fill the disk through the server log.
//
//   static rpc::LogLimiter limiter(absl::Seconds(10), 5);
//   if (limiter.Allow()) spdlog::warn("bad request from {}", peer);
#ifndef CUSTOPS_RPC_LOG_LIMITER_H_
#define CUSTOPS_RPC_LOG_LIMITER_H_

#include <cstdint>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace custops::rpc {

// At most `burst` lines per `window`; the first line allowed after a window
// with suppressed lines says how many were dropped (suppressed()). Thread-safe.
class LogLimiter {
 public:
  LogLimiter(absl::Duration window, int burst) : window_(window), burst_(burst) {}
  // Whether one more line may be written now.
  bool Allow();
  // Lines refused since the last one allowed (read just after Allow()).
  int64_t suppressed() const;

 private:
  const absl::Duration window_;
  const int burst_;
  mutable absl::Mutex mu_;
  absl::Time window_start_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  int used_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t reported_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace custops::rpc

#endif  // CUSTOPS_RPC_LOG_LIMITER_H_

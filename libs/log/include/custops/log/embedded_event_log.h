// The embedded event log: every topic in one RocksDB database, with the same
// partition/offset semantics as Kafka. A real product mode, not a test fake.
#ifndef CUSTOPS_LOG_EMBEDDED_EVENT_LOG_H_
#define CUSTOPS_LOG_EMBEDDED_EVENT_LOG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "custops/base/clock.h"
#include "custops/log/event_log.h"

namespace custops::log {

struct EmbeddedLogOptions {
  // Directory of the RocksDB database. Required.
  std::string path;
  // fsync the write-ahead log before an append returns (when the caller's
  // AppendOptions::sync also asks for it). Without it an acknowledged append
  // survives a process crash but not a power loss.
  // Default: true
  bool sync = true;
  // Source of record timestamps; must outlive the log.
  // Default: the system clock.
  const base::Clock* clock = nullptr;
};

class EmbeddedEventLog {
 public:
  // Opens (creating if missing) the log at options.path. Topics and offsets
  // persist across reopen. INVALID_ARGUMENT for an empty path; INTERNAL or
  // UNAVAILABLE (e.g. the directory is locked by another process) otherwise.
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const EmbeddedLogOptions& options);
};

}  // namespace custops::log

#endif  // CUSTOPS_LOG_EMBEDDED_EVENT_LOG_H_

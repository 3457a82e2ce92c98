// The embedded event log: every topic in one RocksDB database, with the same
// partition/offset semantics as Kafka. A real product mode, not a test fake.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EventLog> log,
//                    EmbeddedEventLog::Open({.path = "data/log", .clock = &clock}));
//   RETURN_IF_ERROR(log->CreateTopic(kCustomerEvents, 12));
//   ...
//   RETURN_IF_ERROR(log->Close());
//
// Beyond the EventLog contract:
// - Topic names follow Kafka's rule (1..249 characters of [a-zA-Z0-9._-], not
//   "." or ".."), so a topic that works here also works on a broker;
//   CreateTopic gives INVALID_ARGUMENT otherwise, and for a partition count
//   outside [1, kMaxEmbeddedPartitions].
// - Read gives INVALID_ARGUMENT for a negative offset or a partition outside
//   the topic; every other call that names a partition does too.
// - Append is atomic on disk as well: a crash at any instant leaves either
//   all records of a call (with their idempotency entries) or none.
// - Appends to one topic are serialised (offsets are assigned under a lock
//   held across the write); appends to different topics run in parallel.
// - Generation() starts at 0 on every open and is 0 for an unknown topic.
//   WaitForAppend on an unknown topic waits for it to be created and appended
//   to; after Close() it returns at once.
// - Only one process may open a path at a time (RocksDB's LOCK file).
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

// Upper bound on CreateTopic's partition count.
inline constexpr int kMaxEmbeddedPartitions = 10000;

class EmbeddedEventLog {
 public:
  // Opens (creating if missing) the log at options.path. Topics and offsets
  // persist across reopen. INVALID_ARGUMENT for an empty path; INTERNAL or
  // UNAVAILABLE (e.g. the directory is locked by another process) otherwise;
  // FAILED_PRECONDITION for a store written in an unknown format. The
  // returned log is thread-safe; destroying it closes it if Close() was not
  // called (ignoring the status).
  static absl::StatusOr<std::unique_ptr<EventLog>> Open(const EmbeddedLogOptions& options);
};

}  // namespace custops::log

#endif  // CUSTOPS_LOG_EMBEDDED_EVENT_LOG_H_

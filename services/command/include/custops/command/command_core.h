// The engine behind every command service (docs/commands.md): a view of each
// customer's command-side aggregate rebuilt from the customer-events log,
// per-customer serialization, idempotency by request id, and the emit path
// through the Ingestor.
//
//   ASSIGN_OR_RETURN(auto core, CommandCore::Start(log, ingestor, clock, {}));
//   absl::StatusOr<v1::CommandResponse> r = core->Execute(
//       {.request_id = "r-1", .customer_id = "C1", .source = "deals"},
//       domain::AcceptQuote{"Q1"}, absl::Now() + absl::Seconds(5));
//
// Execute, for one customer at a time (a per-customer mutex):
//  1. waits until the view has applied the customer's partition up to the
//     log end seen at arrival, so every earlier accepted event of the
//     customer (from any command or raw Append) is in the view;
//  2. answers a retried request id with the original event (duplicate);
//  3. decides with the pure domain::Decide, validates the event, appends it
//     (event id derived from customer id + request id, so even a retry that
//     races a crash is deduplicated by the log), and folds it into the view
//     before the next command of that customer runs.
// The view is memory only: it is rebuilt from the log at start (the log is the
// one source of truth); commands wait (bounded by their deadline) meanwhile.
#ifndef CUSTOPS_COMMAND_COMMAND_CORE_H_
#define CUSTOPS_COMMAND_COMMAND_CORE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/domain/aggregates.h"
#include "custops/event/validate.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/event_log.h"
#include "custops/v1/commands.pb.h"

namespace custops::command {

// The four fields every command request starts with (commands.proto).
struct CommandContext {
  std::string request_id;
  std::string customer_id;
  std::optional<absl::Time> occurred_at;  // default: the clock at arrival
  std::string actor_id;
  std::string source;  // the service: "customers", "visits", "deals", "complaints"
};

struct CommandOptions {
  domain::CommandRules rules;
  event::ValidationOptions validation;
  // Records read per partition per step while following the log.
  size_t read_batch = 1000;
};

struct CommandStats {
  int64_t accepted = 0;
  int64_t duplicates = 0;
  int64_t refused = 0;     // any error answered to a client
  int64_t applied = 0;     // log events folded by the follower
  int64_t customers = 0;   // aggregates in memory
  bool caught_up = false;  // the follower has reached the log end once
};

// The event id of a command: "cmd-" + 32 hex digits of SHA-256(customer_id,
// request_id). Stable across versions and processes.
std::string CommandEventId(std::string_view customer_id, std::string_view request_id);

class CommandCore {
 public:
  // Starts following kCustomerEvents from the beginning. `log`, `ingestor`
  // and `clock` must outlive the core.
  static absl::StatusOr<std::unique_ptr<CommandCore>> Start(log::EventLog& log,
                                                            ingest::Ingestor& ingestor,
                                                            const base::Clock& clock,
                                                            CommandOptions options);
  ~CommandCore();
  CommandCore(const CommandCore&) = delete;
  CommandCore& operator=(const CommandCore&) = delete;

  // See the file comment. INVALID_ARGUMENT for a bad request_id/customer_id
  // or command field; the Decide errors; UNAVAILABLE when the view cannot
  // catch up before `deadline` or the log refuses the append.
  absl::StatusOr<v1::CommandResponse> Execute(const CommandContext& context,
                                              const domain::Command& command, absl::Time deadline);

  CommandStats stats() const;

  // Stops following the log; later Execute calls fail with UNAVAILABLE.
  void Stop();

 private:
  struct Entry {
    absl::Mutex mu;
    domain::CustomerAggregate aggregate ABSL_GUARDED_BY(mu);
    // Command events of this customer folded so far → their position.
    absl::flat_hash_map<std::string, std::pair<int32_t, int64_t>> command_events
        ABSL_GUARDED_BY(mu);
  };

  CommandCore(log::EventLog& log, ingest::Ingestor& ingestor, const base::Clock& clock,
              CommandOptions options, int partitions);
  void Follow();
  // Reads and folds one batch of `partition`; returns records read.
  size_t FollowPartition(int partition);
  Entry& EntryFor(const std::string& customer_id);
  absl::Status WaitApplied(int partition, int64_t end, absl::Time deadline);

  log::EventLog& log_;
  ingest::Ingestor& ingestor_;
  const base::Clock& clock_;
  const CommandOptions options_;
  const int partitions_;

  mutable absl::Mutex entries_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Entry>> entries_ ABSL_GUARDED_BY(entries_mu_);

  mutable absl::Mutex applied_mu_;
  std::vector<int64_t> applied_ ABSL_GUARDED_BY(applied_mu_);  // next offset per partition
  bool caught_up_ ABSL_GUARDED_BY(applied_mu_) = false;
  bool stopped_ ABSL_GUARDED_BY(applied_mu_) = false;

  std::atomic<int64_t> accepted_{0};
  std::atomic<int64_t> duplicates_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> folded_{0};
  std::atomic<bool> stop_{false};
  std::thread follower_;
};

}  // namespace custops::command

#endif  // CUSTOPS_COMMAND_COMMAND_CORE_H_

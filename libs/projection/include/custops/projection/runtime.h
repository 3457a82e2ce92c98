// The projection runtime: consume -> apply -> one atomic commit of state,
// consumed offsets and outbox (docs/architecture.md "Guarantees").
//
// For each partition of the source topic it reads a batch from the EventLog,
// decodes and validates each record (malformed -> dead letter), drops
// event_ids it has seen (counted no-op "duplicate_event_id"), calls
// Projection::Apply, and writes the projection's writes, the next offset,
// counters and the outbox in one WriteBatch. A publisher thread then appends
// outbox entries to their topics with the entry id as idempotency key and
// deletes them, so a crash at any instant neither loses nor repeats an effect.
//
//   ASSIGN_OR_RETURN(auto rt, ProjectionRuntime::Open(log, std::move(p), {.path = dir}));
//   RETURN_IF_ERROR(rt->Start());
//   RETURN_IF_ERROR(rt->WaitApplied(token, deadline));  // read-your-writes
#ifndef CUSTOPS_PROJECTION_RUNTIME_H_
#define CUSTOPS_PROJECTION_RUNTIME_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/event/validate.h"
#include "custops/internal/state.pb.h"
#include "custops/log/event_log.h"
#include "custops/projection/position_waiters.h"
#include "custops/projection/projection.h"
#include "custops/projection/token.h"
#include "custops/store/store.h"
#include "custops/v1/changes.pb.h"
#include "custops/v1/events.pb.h"

namespace custops::projection {

struct RuntimeOptions {
  // State directory (a RocksDB database). Required.
  std::string path;
  // Source topic. Default: custops.customer-events.v1
  std::string topic = std::string(log::kCustomerEvents);
  // Records per partition per batch. Larger batches coalesce the writes of a
  // customer with several events (replay: 59k events/s at 1000, 107k at
  // 5000 on 2 cores); a live stream's batches are as small as what arrived.
  // A partition whose batch came back full is behind the log (a backlog after
  // a restart, an import, a burst): its next batches read up to
  // max(max_batch, restore_batch) records until one comes back short, which
  // shares a customer's work among more of its events as the state grows
  // (docs/benchmarks.md "Catch-up batches").
  // Default: 5000
  size_t max_batch = 5000;
  // How often time-driven rules run (on the injected clock's time).
  // Default: 1 s
  absl::Duration tick_interval = absl::Seconds(1);
  // Under load, the outbox publisher starts a round (one fsync'd append per
  // topic for every partition's pending entries) at most once per
  // publish_linger: a commit that arrives sooner after the last round waits
  // for the rest of it, so that one append carries what several passes
  // derived. A commit after a quiet spell is published at once. Zero: a
  // round after every pass.
  // Default: 2 ms
  absl::Duration publish_linger = absl::Milliseconds(2);
  // fsync state commits. Default: false (a process crash loses nothing)
  bool sync = false;
  // Validation applied to every record before Apply.
  event::ValidationOptions validation;
  // Must outlive the runtime. Default: the system clock.
  const base::Clock* clock = nullptr;
  // Whether the runtime owns every partition from the start (one process,
  // embedded mode). When false it owns none until Assign(): projection
  // instances sharing a topic learn their partitions from a consumer group
  // (docs/kafka.md) and pass them in through Assign() / Revoke().
  // Default: true
  bool own_all = true;
  // Records per batch while a partition restores (catches up after Assign
  // from its stored offset to the log end it had then): bulk replay. Also
  // the batch of a partition that is behind (max_batch). The custops
  // binary's lifecycle copies set lifecycle::kCatchUpBatch (100,000).
  // Default: 20000
  size_t restore_batch = 20000;
  // A copy built beside the serving one (docs/operations.md "Rebuild"):
  // state writes skip the WAL (store::StoreOptions::bulk) until
  // FinishBulk(). Default: false
  bool bulk = false;
};

// Per-partition progress, as shown by Admin.Status.
struct PartitionProgress {
  Partition partition;
  Offset applied;  // next offset to apply
  Offset log_end;
  // This instance owns the partition (always true with own_all).
  bool owned = true;
  // Owned and still catching up to the log end it had when assigned;
  // queries for it are refused (UNAVAILABLE) until it has caught up.
  bool restoring = false;
  // While restoring: the offset it catches up to.
  Offset restore_target;
};

// A customer whose records one partition holds back (docs/operations.md
// "Dead letters"): its dead-lettered record (the head) and every later record
// of it, in log order, until a replay applies them.
struct ParkedCustomer {
  std::string customer_id;
  Partition partition;
  int64_t events = 0;  // the head included
  Offset head;         // the head's offset on the source topic
  std::string reason;  // why the head could not be applied
};

// What ProjectionRuntime::ReplayParked replays.
struct ReplayOptions {
  // Only this customer's records; "" = every parked customer.
  std::string customer_id;
  // Records tried per call; the call stops there with `more`.
  int64_t max_events = 20'000;
  // Drop each head unapplied (the no-op "dead_letter_discarded") and apply
  // the records behind it: for a record no fix will make valid.
  bool discard_heads = false;
  // Parked customers listed in the result.
  size_t list_limit = 100;
};

// What ProjectionRuntime::ReplayParked did.
struct ReplayResult {
  int64_t customers_released = 0;  // nothing parked any more
  int64_t events_replayed = 0;     // records taken out of parking
  // What is still parked in the partitions replayed (of the one customer
  // when one was named): totals and the first `list_limit` customers.
  int64_t customers_parked = 0;
  int64_t events_parked = 0;
  std::vector<ParkedCustomer> parked;
  bool more = false;  // stopped at max_events
  std::vector<Partition> not_owned;
};

struct RuntimeStats {
  int64_t events_applied = 0;
  int64_t noops = 0;
  std::map<std::string, int64_t> noops_by_reason;
  int64_t dead_letters = 0;
  int64_t changes_emitted = 0;
  int64_t outbox_pending = 0;
  // Parking over the owned partitions: customers held back, records held
  // (heads included), and records re-applied by replays since the state began.
  int64_t parked_customers = 0;
  int64_t parked_events = 0;
  int64_t replayed = 0;
  // Batches committed since start and the time spent applying them (read,
  // decode, apply, commit), for an apply-latency rate in Prometheus.
  int64_t batches = 0;
  absl::Duration apply_time;
  absl::Duration max_batch_time;  // the slowest batch since start
  std::vector<PartitionProgress> partitions;
};

class ProjectionRuntime {
 public:
  // Opens the state store and restores offsets and counters. `log` must
  // outlive the runtime; the topic must exist.
  static absl::StatusOr<std::unique_ptr<ProjectionRuntime>> Open(
      log::EventLog& log, std::unique_ptr<Projection> projection, const RuntimeOptions& options);
  ~ProjectionRuntime();

  // Starts the apply and publish threads. FAILED_PRECONDITION if running.
  absl::Status Start();
  // Stops both threads after the batch in flight; idempotent.
  absl::Status Stop();

  // Applies everything the log has now, on the calling thread, then publishes
  // the outbox and runs one tick. Returns the number of records consumed.
  // For tests, tools and benchmarks; not while Start()ed.
  absl::StatusOr<int64_t> CatchUp();

  // A copy being built beside the serving one (a rebuild): one pass over the
  // owned partitions, at most restore_batch records each, without ticks or
  // publication (the serving copy does both meanwhile). Returns the records
  // consumed; 0 when every owned partition is at the log end. `next`, when
  // set, runs after each partition's batch; false stops the pass there. Not
  // while Start()ed.
  absl::StatusOr<int64_t> BulkPass(const std::function<bool()>& next = {});
  // Ends bulk mode: flushes the state to disk, then commits with the WAL.
  absl::Status FinishBulk();
  // For a projection that ReseedsFromPublished: aligns every owned
  // partition with what was published under its ids, as Assign does (a
  // rebuilt copy taking over from the copy that published). Not while
  // Start()ed.
  absl::Status ReseedOwned();

  // Blocks until every owned partition has applied up to the token's offsets
  // (partitions owned elsewhere are some other instance's business);
  // DEADLINE_EXCEEDED after `deadline`.
  absl::Status WaitApplied(const PositionSet& token, absl::Time deadline) const;
  // The same wait without a thread: `done` runs exactly once, with OK when
  // the token is reached, DEADLINE_EXCEEDED at `deadline`, UNAVAILABLE when
  // the runtime stops waiting (AbandonWaits, destruction), INVALID_ARGUMENT
  // for a token of another topic. It runs on the calling thread when the
  // answer is known at once, otherwise on the apply or the timer thread: it
  // must be quick (hand real work to an executor).
  void NotifyApplied(const PositionSet& token, absl::Time deadline,
                     PositionWaiters::Done done) const;
  // Completes every pending NotifyApplied with `status` (shutdown:
  // UNAVAILABLE; a rebuild's swap hands the calls to the new copy).
  void AbandonWaits(const absl::Status& status = absl::UnavailableError(
                        "shutting down: consistency-token wait abandoned")) const;
  // Pending NotifyApplied waits.
  size_t pending_waits() const { return waiters_.pending(); }

  // Ownership (RuntimeOptions::own_all = false). Assign starts applying the
  // partitions from their stored offsets (restoring them in bulk up to the
  // log end they have now) beside the partitions already owned; Revoke
  // returns once no batch of those partitions and no outbox publication is
  // in flight, and applies nothing more to them. Only owned partitions'
  // outboxes are published (what is left waits until the partition is owned
  // again). Their state stays in the store, so a later Assign resumes from
  // the stored offset. Both have the projection drop what it cached of the
  // partitions (Projection::Forget) with no batch in flight. Thread-safe;
  // idempotent per partition.
  absl::Status Assign(const std::vector<Partition>& partitions);
  void Revoke(const std::vector<Partition>& partitions);
  // OK when `p` is owned and not restoring; UNAVAILABLE otherwise (the
  // message says which).
  absl::Status CheckServing(Partition p) const;

  // Per-customer parking (docs/operations.md "Dead letters"). When a record
  // of customer C goes to dead letters, it and every later record of C in
  // this projection are parked (kept in the state store, not applied) while
  // other customers flow on. ReplayParked re-applies them in log order (see
  // ReplayOptions), for the owned partitions; a head that fails again stays
  // parked with its new reason. It takes each partition like a batch does,
  // one chunk (restore_batch records, one commit) at a time. Thread-safe.
  absl::StatusOr<ReplayResult> ReplayParked(const ReplayOptions& options);
  // The parked customers of the owned partitions, in partition then id
  // order; at most `limit`.
  std::vector<ParkedCustomer> Parked(size_t limit) const;
  // The records a replay discarded (ReplayOptions::discard_heads), by
  // partition and offset. A discarded record stays discarded: when the log
  // brings it again (a rebuild's copy, which imports them) it is counted as
  // the no-op "dead_letter_discarded" instead of being applied.
  std::vector<std::pair<Partition, Offset>> Discarded() const;
  // Adds discarded records (a rebuild's copy takes the serving copy's). Not
  // while Start()ed.
  absl::Status ImportDiscarded(const std::vector<std::pair<Partition, Offset>>& records);

  RuntimeStats Stats() const;
  // The next offset to apply of every partition (everything below is
  // committed). Cheap: no log access.
  std::vector<Offset> AppliedOffsets() const;
  const store::Store& store() const { return *store_; }
  store::Store& mutable_store() { return *store_; }
  const Projection& projection() const { return *projection_; }
  int partitions() const { return partitions_; }
  // The state layout the store was written with (Projection::StateVersion;
  // 1 for a store from before versions were recorded), and whether it
  // differs from the projection's: the state needs a rebuild.
  int stored_state_version() const { return stored_version_; }
  bool state_outdated() const { return stored_version_ != projection_->StateVersion(); }
  const std::string& topic() const { return options_.topic; }

 private:
  friend struct BatchCounts;
  ProjectionRuntime(log::EventLog& log, std::unique_ptr<Projection> projection,
                    const RuntimeOptions& options, std::unique_ptr<store::Store> store,
                    int partitions);
  absl::Status Restore();
  // One batch of one partition; returns the records consumed. Nothing (0)
  // when the partition is not owned.
  // `bulk`: a rebuild's pass (BulkPass), read like a restore.
  absl::StatusOr<int64_t> ApplyBatch(Partition p, bool bulk = false);
  // Decodes, upcasts, validates, dedups and applies one record into `txn`,
  // counting it in `counts`. Returns the dead-letter reason when it cannot be
  // applied, nullopt when it was applied or counted as a no-op; an error only
  // when the store fails.
  absl::StatusOr<std::optional<std::string>> ApplyRecord(Partition p, const log::LogRecord& r,
                                                         absl::Time now, Txn& txn,
                                                         struct BatchCounts& counts);
  v1::DeadLetter DeadLetter(Partition p, const log::LogRecord& r, std::string reason) const;
  // One chunk of a replay of partition `p` (claimed): at most
  // min(budget, restore_batch) records, committed in one batch. Skips and
  // adds to `tried` the customers whose head failed again. True when no
  // customer of the request is left untried in the partition.
  absl::StatusOr<bool> ReplayChunk(Partition p, const ReplayOptions& options, int64_t& budget,
                                   std::set<std::string, std::less<>>& tried, ReplayResult& result);
  // Claims `p` for a batch or tick if owned; Release ends the claim.
  bool Claim(Partition p);
  void Release();
  // Ends the restore of `p` once it has applied its target (or read
  // nothing more: `at_end`).
  void FinishRestore(Partition p, bool at_end);
  // Claims `p` (owned or not, once no batch, tick or reseed is in flight)
  // and calls Projection::Forget(p): Assign and Revoke.
  void Forget(Partition p);
  // Hands the applied offsets and ownership to the waiters (not under mu_).
  void UpdateWaiters();
  absl::Status CheckToken(const PositionSet& token) const;
  absl::Status TickAll();
  // For a projection that ReseedsFromPublished: aligns partition `p` (not
  // owned yet) with what was published under its ids (Assign).
  absl::Status Reseed(Partition p);
  absl::Status Commit(Txn& txn, std::optional<Offset> next_offset, const struct BatchCounts& c);
  absl::StatusOr<int64_t> PublishOutbox();
  void ApplyLoop();
  void PublishLoop();

  log::EventLog& log_;
  // Follows options_.topic for ApplyBatch (the apply thread, or CatchUp).
  absl::Mutex reader_mu_;
  std::unique_ptr<log::LogReader> reader_ ABSL_GUARDED_BY(reader_mu_);
  std::unique_ptr<Projection> projection_;
  RuntimeOptions options_;
  const base::Clock& clock_;
  std::unique_ptr<store::Store> store_;
  int partitions_;
  int stored_version_ = 1;  // set by Restore
  store::ColumnFamily meta_cf_;
  store::ColumnFamily dedup_cf_;
  store::ColumnFamily outbox_cf_;
  store::ColumnFamily parked_cf_;

  mutable absl::Mutex mu_;
  std::vector<Offset> applied_ ABSL_GUARDED_BY(mu_);
  std::vector<uint64_t> next_seq_ ABSL_GUARDED_BY(mu_);
  // The committed counters of each partition (written with every commit).
  std::vector<internal::PartitionStats> partition_stats_ ABSL_GUARDED_BY(mu_);
  // Per partition: the parked customers as committed (the store's parked
  // column family is the truth; this is its summary, rebuilt by Restore).
  // Changed only by the claimant of the partition, at commit.
  struct ParkState {
    int64_t events = 0;
    int64_t head = 0;
    std::string reason;
  };
  using ParkedMap = std::map<std::string, ParkState, std::less<>>;
  std::vector<ParkedMap> parked_ ABSL_GUARDED_BY(mu_);
  // Per partition: the offsets of the records replays discarded (the meta
  // column family is the truth; rebuilt by Restore).
  std::vector<std::set<int64_t>> discarded_ ABSL_GUARDED_BY(mu_);
  RuntimeStats totals_ ABSL_GUARDED_BY(mu_);
  uint64_t commits_ ABSL_GUARDED_BY(mu_) = 0;
  // The apply loop is in a pass (PublishLoop waits for its end).
  bool applying_ ABSL_GUARDED_BY(mu_) = false;
  absl::Time last_tick_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  // The clock's Monotonic() at the first event applied since the last tick,
  // when the projection TicksOnApply (ApplyLoop only).
  std::optional<absl::Time> applied_untick_since_;
  std::vector<bool> owned_ ABSL_GUARDED_BY(mu_);
  // NotifyApplied waits; added under mu_, updated after each commit.
  mutable PositionWaiters waiters_;
  // Per partition: the offset a restore catches up to; -1 when not restoring.
  std::vector<int64_t> restore_target_ ABSL_GUARDED_BY(mu_);
  // Per partition: its last batch came back full (it is behind the log), so
  // the next reads up to restore_batch records (RuntimeOptions::max_batch).
  std::vector<bool> behind_ ABSL_GUARDED_BY(mu_);
  // The partition whose batch or tick is in flight, -1 when none.
  int busy_ ABSL_GUARDED_BY(mu_) = -1;
  // Per partition: the clock's Monotonic() when its restore began (logged).
  std::vector<absl::Time> restore_started_ ABSL_GUARDED_BY(mu_);
  std::vector<int64_t> restore_from_ ABSL_GUARDED_BY(mu_);

  // ApplyRecord's scratch, used by the claimant of a partition only.
  v1::Event scratch_event_;
  std::string scratch_upcast_;
  std::string scratch_dedup_key_;

  std::atomic<bool> running_{false};
  std::thread apply_thread_;
  std::thread publish_thread_;
  mutable absl::Mutex publish_mu_;  // serializes PublishOutbox
  // Per partition, the first outbox sequence not yet published. Starts at 0
  // after a restart (one scan over what is left), then only moves forward.
  std::vector<uint64_t> published_seq_ ABSL_GUARDED_BY(publish_mu_);
};

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_RUNTIME_H_

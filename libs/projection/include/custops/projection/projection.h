// What a projection implements: fold events into its own column families,
// inside the runtime's transaction. The runtime (runtime.h) owns reading,
// dedup by event_id, offsets, dead letters, the outbox and commits.
//
//   class LifecycleProjection : public Projection {
//     std::string_view Name() const override { return "lifecycle"; }
//     std::vector<std::string> ColumnFamilies() const override { return {"lc_facts"}; }
//     absl::Status Apply(const ApplyContext& ctx, const v1::Event& e, Txn& txn) override;
//   };
#ifndef CUSTOPS_PROJECTION_PROJECTION_H_
#define CUSTOPS_PROJECTION_PROJECTION_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "custops/base/types.h"
#include "custops/projection/txn.h"
#include "custops/v1/events.pb.h"

namespace custops::projection {

// Where the event being applied came from.
struct ApplyContext {
  std::string_view topic;
  Partition partition;
  Offset offset;
  absl::Time recorded_at;  // when the log accepted the record
  absl::Time now;          // the injected clock at the start of the batch
  // The record's bytes as stored (the serialized event), valid during Apply.
  std::string_view raw_value;
};

class Projection {
 public:
  virtual ~Projection() = default;

  // Stable name; part of change ids and of the state directory.
  virtual std::string_view Name() const = 0;

  // Column families this projection writes (prefix them with its name).
  virtual std::vector<std::string> ColumnFamilies() const = 0;

  // The layout of the state this projection writes. Bump it when a change
  // makes state an earlier build wrote unreadable or wrong: the runtime
  // records the version in a new store and reports a store of another
  // version (ProjectionRuntime::state_outdated), which custops rebuilds
  // beside the serving copy when it starts (docs/operations.md "Rebuild").
  // Stores written before versions were recorded are version 1. Default: 1
  virtual int StateVersion() const { return 1; }

  // Called once after the store is open and before any Apply, with the
  // partition count of the source topic. The store outlives the projection's
  // use of it.
  virtual absl::Status Attach(store::Store& store, int partitions) = 0;

  // Folds one validated, not-yet-seen event. OK: applied. FAILED_PRECONDITION:
  // impossible, changes nothing, counted as a no-op with the message as
  // reason. Any other error: the event goes to dead letters with the message.
  // Must not write to `txn` when it returns an error.
  virtual absl::Status Apply(const ApplyContext& ctx, const v1::Event& event, Txn& txn) = 0;

  // Called once per batch before commit; writes any state cached during Apply.
  virtual absl::Status Flush(Partition partition, absl::Time now, Txn& txn) = 0;

  // The batch (Apply/Flush) or tick of `partition` begun since the last
  // commit was not committed (an error, or a failed commit): the txn is
  // dropped, so any state the projection cached from it must be forgotten.
  // The runtime then retries from the committed offset.
  virtual void Abandon(Partition /*partition*/) {}

  // `partition` changed hands (RuntimeOptions::own_all = false: Assign or
  // Revoke) or its state was reseeded: anything the projection keeps of the
  // partition's committed state beyond a batch (a cache) must be dropped,
  // since it is read from the store from here on (another owner may have
  // moved the partition on meanwhile). Called with no batch, tick or reseed
  // in flight. Default: nothing
  virtual void Forget(Partition /*partition*/) {}

  // Applies time-driven transitions of `partition` due at or before `now`.
  virtual absl::Status Tick(Partition partition, absl::Time now, Txn& txn) = 0;

  // Whether Tick also derives changes from applied events (not only from
  // time), so the runtime must tick after applying even when its clock has
  // not moved a tick interval (a fixed clock never does): the runtime then
  // ticks at the clock's now once a tick interval of real time has passed
  // since the first event applied after the last tick. Default: false
  virtual bool TicksOnApply() const { return false; }

  // Whether the changes this projection derives depend on more than the
  // events and the clock (ticks that diff a population snapshot against
  // what was last announced, say), so that another instance re-deriving a
  // partition from its own store would announce different changes under the
  // ids already published. When true, the runtime reads what was published
  // under the partition's ids before it applies or ticks a partition it is
  // assigned, passes it to Reseed, and continues the ids after the last one.
  // Default: false (re-derivation gives the same changes under the same ids)
  virtual bool ReseedsFromPublished() const { return false; }

  // The changes published for `partition` under this projection's ids, in
  // id order: make what Tick diffs against say what they say, in `txn`.
  virtual absl::Status Reseed(Partition /*partition*/,
                              const std::vector<v1::StateChange>& /*published*/, Txn& /*txn*/) {
    return absl::OkStatus();
  }
};

}  // namespace custops::projection

#endif  // CUSTOPS_PROJECTION_PROJECTION_H_

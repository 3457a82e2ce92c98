// The lifecycle projection (docs/lifecycle.md): per customer, the facts
// of libs/domain, the timeline of its events, and an "as of now" index by
// stage, with counts per dimension and a due-time index that the runtime's
// ticker uses to apply time-driven transitions without scanning.
//
// Column families (keys start with the partition, big-endian):
//   lc_facts     P|customer_id               -> internal.CustomerFacts
//   lc_timeline  P|customer_id\0|time|event_id -> v1.TimelineEntry
//   lc_index     P|customer_id               -> internal.LifecycleIndexEntry
//   lc_by_stage  P|stage|sub_stage|customer_id -> ""
//   lc_due       P|due_time|customer_id      -> ""
//   lc_counts    P|dimension|value\0|stage|sub_stage -> count
#ifndef CUSTOPS_LIFECYCLE_LIFECYCLE_PROJECTION_H_
#define CUSTOPS_LIFECYCLE_LIFECYCLE_PROJECTION_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/domain/lifecycle.h"
#include "custops/internal/state.pb.h"
#include "custops/projection/projection.h"
#include "custops/store/store.h"
#include "custops/v1/changes.pb.h"
#include "custops/v1/lifecycle.pb.h"

namespace custops::lifecycle {

inline constexpr std::string_view kProjectionName = "lifecycle";

// Records per batch while a lifecycle partition catches up, restores or is
// rebuilt (projection::RuntimeOptions::restore_batch; the runtime's default
// is 20,000). A customer's load, sweep and fact write serve all of its
// events in a batch, and with many customers per partition a batch of
// 20,000 holds about one event each: at 200k customers batches of 100,000
// took 66 s of CPU where 20,000 took 86–106 s (docs/benchmarks.md
// "Lifecycle's catch-up batch"). Live batches stay as small as what arrived.
inline constexpr size_t kCatchUpBatch = 100'000;

// What the projection keeps of committed state between batches
// (docs/lifecycle.md "Replay cache").
struct LifecycleCacheOptions {
  // Estimated memory of the customers' committed facts and index entries
  // kept after the batch that wrote them commits, so that the customer's
  // next batch neither reads nor parses them; beyond it the customers
  // touched longest ago are dropped. 0: nothing is kept (every batch reads
  // the store). Default: 64 MiB
  size_t max_bytes = size_t{64} << 20;
};

// What the cache saved since the projection was made (tests, benchmarks).
struct LifecycleCacheStats {
  int64_t hits = 0;     // a customer's batch or tick took its state from the cache
  int64_t misses = 0;   // ... read and parsed it from the store
  int64_t evicted = 0;  // entries dropped for the bound
  int64_t dropped = 0;  // entries dropped by Abandon or Forget
  size_t entries = 0;   // entries now
  size_t bytes = 0;     // their estimated memory
};

class LifecycleProjection final : public projection::Projection {
 public:
  explicit LifecycleProjection(domain::LifecycleRules rules, LifecycleCacheOptions cache = {})
      : rules_(rules), cache_options_(cache) {}

  std::string_view Name() const override { return kProjectionName; }
  std::vector<std::string> ColumnFamilies() const override;
  absl::Status Attach(store::Store& store, int partitions) override;
  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                     projection::Txn& txn) override;
  absl::Status Flush(Partition partition, absl::Time now, projection::Txn& txn) override;
  absl::Status Tick(Partition partition, absl::Time now, projection::Txn& txn) override;
  void Abandon(Partition partition) override;
  void Forget(Partition partition) override;

  // Not while a batch or tick is in flight (tests, benchmarks).
  LifecycleCacheStats cache_stats() const;

 private:
  absl::StatusOr<internal::CustomerFacts*> Load(projection::Txn& txn, Partition p,
                                                const std::string& customer_id);
  // Rewrites the customer's index entry as of `now`, after announcing its
  // moves up to `now` when `announce` (Tick).
  absl::Status Reindex(projection::Txn& txn, Partition p, const std::string& customer_id,
                       const internal::CustomerFacts& facts, absl::Time now, bool announce);
  absl::Status FlushCounts(projection::Txn& txn);
  // What subscribers have been told of a customer's stage: the stage, and
  // the entries of its stage history announced (how many, the last one's
  // instant).
  struct Announced {
    int stage = 0;
    int sub_stage = 0;
    int32_t transitions = 0;
    int64_t at_micros = 0;
    // The customer's index entry as the txn holds it (read once per batch;
    // Reindex compares with it and keeps it current); nullopt = none.
    std::optional<std::string> index;
  };
  absl::StatusOr<Announced*> AnnouncedOf(projection::Txn& txn, Partition p,
                                         const std::string& customer_id);
  // Emits a StageChanged for each entry of the customer's stage history at
  // or before `as_of` not announced yet, in order, each with its own instant,
  // from-stage and reason (docs/lifecycle.md "Stage changes"): the changes
  // are a function of the log, whatever the batches, the clock of the
  // catch-up or the instance. `history`: the customer's stage history
  // through some instant at or after `as_of` (its entries up to `as_of` are
  // the history at `as_of`). The changes are tagged with `seq`.
  void Announce(Partition p, const std::string& customer_id,
                const std::vector<v1::StageTransition>& history, absl::Time as_of, uint64_t seq,
                Announced& announced);
  // The announcements an applied event asks for, at the instant it asks
  // for (its own, within [what was announced, now]), wait in a Deferred
  // until one sweep of the customer's facts serves them all: at Flush, or
  // when a later event of the batch could change what an earlier one would
  // have seen (an event at or before `bound_us`).
  struct Deferred {
    struct Step {
      uint64_t seq;      // the event's place in the batch
      absl::Time as_of;  // min(the event's instant, now)
    };
    std::vector<Step> steps;
    // No step announces through a later microsecond (what was announced
    // before the first step included).
    int64_t bound_us = 0;
  };
  // Announces `deferred`'s steps in order, as Apply would have one by one:
  // `history` is the customer's stage history through at least bound_us,
  // from facts with nothing after bound_us that the steps did not see.
  void AnnounceDeferred(Partition p, const std::string& customer_id,
                        const std::vector<v1::StageTransition>& history, const Deferred& deferred,
                        Announced& announced);
  // Hands the batch's (or tick's) changes to `txn`, in the order of the
  // events that derived them.
  void EmitChanges(projection::Txn& txn);

  domain::LifecycleRules rules_;
  store::Store* store_ = nullptr;
  struct Families {
    store::ColumnFamily facts, timeline, index, by_stage, due, counts;
  } cf_{};
  // Facts touched by the batch in flight, written at Flush.
  absl::flat_hash_map<std::string, internal::CustomerFacts> dirty_;
  // Summary-count changes of the batch in flight, by count key.
  absl::flat_hash_map<std::string, int64_t> count_deltas_;
  // What was announced per customer in the batch in flight (written to
  // the index entry at Flush or Tick).
  absl::flat_hash_map<std::string, Announced> announced_;
  // Announcements waiting for the customer's sweep at Flush.
  absl::flat_hash_map<std::string, Deferred> deferred_;
  // The batch's stage changes, with the place in the batch of the event
  // that derived each (Apply's count; Tick's all share one).
  std::vector<std::pair<uint64_t, v1::StateChange>> changes_;
  uint64_t applied_in_batch_ = 0;
  // Scratch for a customer's stage history.
  std::vector<v1::StageTransition> history_;

  // The committed state of customers kept across batches: their facts and
  // index entry (with what it says was announced) exactly as the store
  // holds them after the last commit that touched them. Load takes a
  // customer's entry out for the batch (or tick), its facts into dirty_ and
  // its index entry into announced_, instead of reading and parsing the
  // store; Retain puts the batch's customers back once its writes are made
  // (before the commit: a failed one is followed by Abandon); Abandon and
  // Forget drop the partition's entries, so that a retried batch, or a
  // partition that changed hands, starts from the store. The store is
  // written exactly as without the cache.
  struct Cached {
    internal::CustomerFacts facts;
    std::optional<Announced> announced;  // nullopt: not read (AnnouncedOf reads it)
    uint64_t used = 0;                   // the generation (Retain) that last put it back
    size_t bytes = 0;                    // estimated memory, counted in cache_bytes_
  };
  // Puts the customers the batch or tick of `p` touched (dirty_, announced_)
  // into the cache, then evicts down to the bound. `sized`: the facts were
  // just serialized (their cached size is current).
  void Retain(Partition p, bool sized);
  void DropCached(Partition p);
  void Evict();
  LifecycleCacheOptions cache_options_;
  std::vector<absl::flat_hash_map<std::string, Cached>> cache_;  // by partition, then customer
  size_t cache_bytes_ = 0;
  uint64_t generation_ = 0;
  LifecycleCacheStats cache_stats_;
};

// Read side over the projection's store. Thread-safe; `store` must outlive it.
class LifecycleQueries {
 public:
  LifecycleQueries(const store::Store& store, int partitions, domain::LifecycleRules rules);

  // NOT_FOUND for a customer never registered.
  absl::StatusOr<v1::CustomerView> GetCustomer(const std::string& customer_id,
                                               absl::Time as_of) const;
  // `use_index`: answer from the "as of now" index instead of evaluating
  // every customer at as_of. `only`: the answer over these partitions alone
  // (an instance that owns some of them, docs/kafka.md); nullptr: all.
  // `regions`: only customers whose current region is listed (a caller's
  // region scope, docs/security.md); nullptr: every customer.
  absl::StatusOr<v1::ListCustomersResponse> ListCustomers(
      const v1::ListCustomersRequest& request, absl::Time as_of, bool use_index,
      const std::vector<Partition>* only = nullptr,
      const std::vector<std::string>* regions = nullptr) const;
  absl::StatusOr<v1::StageSummaryResponse> StageSummary(
      v1::Dimension dimension, absl::Time as_of, bool use_index,
      const std::vector<Partition>* only = nullptr,
      const std::vector<std::string>* regions = nullptr) const;
  absl::StatusOr<v1::TimelineResponse> Timeline(const v1::TimelineRequest& request) const;
  // NOT_FOUND (the same answer as for an unknown customer) unless the
  // customer's current region is in `regions`; OK when `regions` is null.
  absl::Status CheckScope(const std::string& customer_id,
                          const std::vector<std::string>* regions) const;
  // The customer's current region from the "as of now" index; "" when the
  // customer is unknown (one point read).
  std::string RegionOf(const std::string& customer_id) const;

 private:
  // NOT_FOUND unless registered.
  absl::StatusOr<internal::CustomerFacts> LoadFacts(const std::string& customer_id) const;

  const store::Store& store_;
  int partitions_;
  domain::LifecycleRules rules_;
};

// Merges the answers of instances that own disjoint sets of partitions into
// the answer over all of them (byte for byte what one store would answer).
// INVALID_ARGUMENT for a page size out of range.
v1::StageSummaryResponse MergeStageSummaries(std::vector<v1::StageSummaryResponse> parts);
absl::StatusOr<v1::ListCustomersResponse> MergeCustomerLists(
    const v1::ListCustomersRequest& request, std::vector<v1::ListCustomersResponse> parts);

// The "as of now" index entry for a customer summarized at some instant.
internal::LifecycleIndexEntry IndexEntryOf(const domain::LifecycleSummary& summary);

// The value a summary groups by for `dimension` ("" for ALL).
std::string DimensionValue(v1::Dimension dimension, const internal::LifecycleIndexEntry& entry);

}  // namespace custops::lifecycle

#endif  // CUSTOPS_LIFECYCLE_LIFECYCLE_PROJECTION_H_

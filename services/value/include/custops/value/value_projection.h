// The value projection (docs/value.md): per-customer value facts folded from
// the customer events, a population snapshot that evaluates every customer at
// one instant (RFM quintiles, ABC, tier ranks stay exact because each snapshot
// is computed over the whole population), and derived changes (TierChanged,
// SegmentChanged, NegativeAssetChanged) emitted by the runtime's ticker through
// the outbox.
//
// Column families (keys start with the partition, big-endian):
//   va_facts  P|customer_id -> internal.ValueFacts
//   va_index  P|customer_id -> internal.ValueIndexEntry (last published tier/segment/flag)
//   va_meta   "clv"         -> internal.ValueClvModel (the model "now" answers use)
//
//   ValueQueries queries(rules, clock);
//   auto rt = ProjectionRuntime::Open(log, std::make_unique<ValueProjection>(rules, queries), ...);
//   queries.SetPositions([&] { return (*rt)->AppliedOffsets(); });
#ifndef CUSTOPS_VALUE_VALUE_PROJECTION_H_
#define CUSTOPS_VALUE_VALUE_PROJECTION_H_

#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/projection/projection.h"
#include "custops/store/store.h"
#include "custops/v1/value.pb.h"
#include "custops/value/value_engine.h"

namespace custops::value {

inline constexpr std::string_view kProjectionName = "value";

// A population snapshot and the log positions it covers.
struct Snapshot {
  std::shared_ptr<const Population> population;
  std::vector<int64_t> positions;  // applied offsets read before the scan
  absl::Time built_at;             // clock's Monotonic() (staleness of "now" answers only)
};

// Read side over the projection's store, and the owner of the population
// snapshots and of the CLV model. Thread-safe. The projection attaches the
// store; `clock` must outlive it.
class ValueQueries {
 public:
  ValueQueries(const ValueRules& rules, const base::Clock& clock);

  // Called by ValueProjection::Attach. `store` must outlive the queries.
  void Attach(const store::Store& store, int partitions);
  // Where to read the applied offsets (ProjectionRuntime::AppliedOffsets).
  // Without it, every "now" answer recomputes.
  void SetPositions(std::function<std::vector<Offset>()> positions);

  // Every call that may evaluate the population takes a `deadline` (real
  // time, e.g. the gRPC call's): waiting for another evaluation in progress
  // and the evaluation itself stop there with DEADLINE_EXCEEDED (the partial
  // work is dropped; nothing is installed).

  // The population at as_of (exact: computed over every customer's facts,
  // with the CLV model fitted at as_of; cached per (as_of, positions)).
  absl::StatusOr<std::shared_ptr<const Population>> At(
      absl::Time as_of, absl::Time deadline = absl::InfiniteFuture());
  // The "now" population: the latest snapshot if it covers `min_positions`
  // (a consistency token's, may be empty) and is fresh (nothing applied
  // since, or built less than snapshot_max_staleness ago), else a new one at
  // clock.Now() with the current CLV model (fitted first if there is none).
  // A refresh already in progress is waited for (within the deadline) and
  // used if it covers `min_positions`.
  absl::StatusOr<std::shared_ptr<const Population>> Now(
      const std::vector<int64_t>& min_positions, absl::Time deadline = absl::InfiniteFuture());

  // Answers. `as_of` nullopt = the "now" population. `regions`: the
  // caller's region scope (docs/security.md), sorted; nullptr = every
  // region. Out of scope, a customer is NOT_FOUND and counts nowhere.
  absl::StatusOr<v1::ValueView> GetValue(const std::string& customer_id,
                                         std::optional<absl::Time> as_of,
                                         const std::vector<int64_t>& min_positions,
                                         absl::Time deadline = absl::InfiniteFuture(),
                                         const std::vector<std::string>* regions = nullptr);
  absl::StatusOr<v1::ListValueCustomersResponse> ListCustomers(
      const v1::ListValueCustomersRequest& request, std::optional<absl::Time> as_of,
      const std::vector<int64_t>& min_positions, absl::Time deadline = absl::InfiniteFuture(),
      const std::vector<std::string>* regions = nullptr);
  absl::StatusOr<v1::TierSummaryResponse> TierSummary(
      v1::Dimension dimension, std::optional<absl::Time> as_of,
      const std::vector<int64_t>& min_positions, absl::Time deadline = absl::InfiniteFuture(),
      const std::vector<std::string>* regions = nullptr);
  absl::StatusOr<v1::ParetoResponse> Pareto(v1::Dimension dimension,
                                            std::optional<absl::Time> as_of,
                                            const std::vector<int64_t>& min_positions,
                                            absl::Time deadline = absl::InfiniteFuture(),
                                            const std::vector<std::string>* regions = nullptr);

  // Fits the CLV models on the population at as_of, makes the fit current
  // and refreshes the "now" snapshot. Returns the model.
  absl::StatusOr<internal::ValueClvModel> Refit(absl::Time as_of);
  // Fits on the population at `now` and installs that population (with its
  // new model) as the "now" snapshot: one evaluation (the scheduled refit).
  absl::StatusOr<internal::ValueClvModel> RefitAsNow(absl::Time now);
  std::optional<internal::ValueClvModel> Model() const;
  // Installs a model (restored from the store); does not refresh.
  void SetModel(const internal::ValueClvModel& model);
  // The latest "now" snapshot (nullptr before the first).
  std::shared_ptr<const Population> Latest() const;
  // Recomputes the "now" snapshot at `as_of` with the current model.
  absl::StatusOr<std::shared_ptr<const Population>> RefreshAt(
      absl::Time as_of, absl::Time deadline = absl::InfiniteFuture());
  // Every customer's facts, by customer id (tests; evaluations stream them).
  absl::StatusOr<std::vector<CustomerFactsRef>> LoadAll() const;

  const ValueRules& rules() const { return rules_; }

 private:
  class ComputeLock;
  std::vector<int64_t> Positions() const;
  absl::StatusOr<std::shared_ptr<const Population>> Select(std::optional<absl::Time> as_of,
                                                           const std::vector<int64_t>& min,
                                                           absl::Time deadline);
  // The population at as_of from the stored facts (streamed).
  absl::StatusOr<Population> Build(absl::Time as_of, const internal::ValueClvModel* model,
                                   absl::Time deadline) const;
  // The latest snapshot if a "now" answer needing `min_positions` may use it.
  std::shared_ptr<const Population> Usable(const std::vector<int64_t>& min_positions);
  // RefreshAt with the computation held (ComputeLock).
  absl::StatusOr<std::shared_ptr<const Population>> RefreshLocked(absl::Time as_of,
                                                                  absl::Time deadline);

  const ValueRules rules_;
  const base::Clock& clock_;
  const store::Store* store_ = nullptr;
  int partitions_ = 0;
  std::function<std::vector<Offset>()> positions_;

  mutable absl::Mutex mu_;
  bool computing_ ABSL_GUARDED_BY(mu_) = false;  // one population computation at a time
  Snapshot latest_ ABSL_GUARDED_BY(mu_);
  std::deque<std::pair<std::pair<int64_t, std::vector<int64_t>>, std::shared_ptr<const Population>>>
      at_cache_ ABSL_GUARDED_BY(mu_);
  std::optional<internal::ValueClvModel> model_ ABSL_GUARDED_BY(mu_);
};

v1::ClvModel ClvModelToProto(const internal::ValueClvModel& model);

class ValueProjection final : public projection::Projection {
 public:
  // `queries` must outlive the projection.
  ValueProjection(const ValueRules& rules, ValueQueries& queries)
      : rules_(rules), queries_(queries) {}

  std::string_view Name() const override { return kProjectionName; }
  std::vector<std::string> ColumnFamilies() const override;
  absl::Status Attach(store::Store& store, int partitions) override;
  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                     projection::Txn& txn) override;
  absl::Status Flush(Partition partition, absl::Time now, projection::Txn& txn) override;
  // Partition 0's tick refits the CLV models when due (refit_interval, or
  // the population moved by refit_population_change_percent) and
  // refreshes the snapshot when events were applied or it is older than
  // snapshot_max_staleness on the injected clock; every partition then
  // publishes the changes of its customers against va_index.
  absl::Status Tick(Partition partition, absl::Time now, projection::Txn& txn) override;
  // Tier/segment/negative-asset changes come from events as well as from
  // time: with a clock that does not move (--fixed-clock) the runtime still
  // ticks after events, so they are published.
  bool TicksOnApply() const override { return true; }
  // The changes are diffs of ticker-timed snapshots against va_index, so a
  // new leader starts its va_index from what the old one published.
  bool ReseedsFromPublished() const override { return true; }
  // Rebuilds the partition's va_index from its published TierChanged,
  // SegmentChanged and NegativeAssetChanged (the last of each per customer).
  absl::Status Reseed(Partition partition, const std::vector<v1::StateChange>& published,
                      projection::Txn& txn) override;

 private:
  ValueRules rules_;
  ValueQueries& queries_;
  store::Store* store_ = nullptr;
  int partitions_ = 0;
  struct Families {
    store::ColumnFamily facts, index, meta;
  } cf_{};
  absl::flat_hash_map<std::string, internal::ValueFacts> dirty_;
  bool applied_since_refresh_ = true;
  int64_t persisted_model_micros_ = -1;
  // The snapshot the ticks publish from, and per partition whether it was
  // published already.
  std::shared_ptr<const Population> publishing_;
  std::vector<bool> published_;
  std::vector<std::vector<size_t>> by_partition_;  // snapshot indexes per partition
};

}  // namespace custops::value

#endif  // CUSTOPS_VALUE_VALUE_PROJECTION_H_

// ReviewProjection::Batch: the projection's state between store and rules.
// It owns the decoded slices, customers, opportunities and snapshot deltas of
// every partition (WriteBackCache, kept across batches; each batch's Flush
// writes what it touched, in key order) and the rv_seen distinct counters and
// subjects; index edits (rv_owner, rv_region, rv_due) go straight to the txn.
// The key layouts are those of review_projection.h. One Batch per projection,
// used by one thread; the pointers it returns stay valid until the next Flush
// or Abandon.
//
//   batch.Begin(txn);                               // the txn's partition
//   ASSIGN_OR_RETURN(internal::ReviewCustomer * c, batch.Customer(id));
//   RETURN_IF_ERROR(batch.ForEach(at, BaseDims(*c, t),
//                                 [](SliceState& s, const std::string&) { ... }));
//   RETURN_IF_ERROR(batch.Flush());                 // writes, ends the batch
#ifndef CUSTOPS_REVIEW_SRC_REVIEW_BATCH_H_
#define CUSTOPS_REVIEW_SRC_REVIEW_BATCH_H_

#include <array>
#include <cstdint>
#include <functional>
#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "attribution.h"
#include "custops/base/status_macros.h"
#include "custops/domain/period.h"
#include "custops/domain/review.h"
#include "custops/internal/review_state.pb.h"
#include "custops/projection/projection.h"
#include "custops/review/review_projection.h"
#include "custops/store/store.h"
#include "review_query_keys.h"
#include "write_back_cache.h"

namespace custops::review {

// Distinct-counter and subject kinds in rv_seen.
inline constexpr char kSeenActive = 'a';
inline constexpr char kSeenPurchasing = 'p';
inline constexpr char kSeenRepeat = 'r';
inline constexpr char kSeenCovered = 'v';
inline constexpr char kSubjectLost = 'l';
inline constexpr char kSubjectBreach = 'b';
inline constexpr char kSubjectLostOpportunity = 'o';
// Customers counted active under two or more regions in one period (moved
// region within it): P|m|period_key\0|customer_id -> "". The region merge of
// ReviewQueries reads them to count such a customer once (docs/review.md).
inline constexpr char kSeenMover = 'm';

// The periods of a civil day, per granularity (kGranularities order).
struct DayPeriods {
  std::array<domain::ReportingPeriod, std::size(kGranularities)> periods;
  // Encoded as in slice keys: AppendId(period_key).
  std::array<std::string, std::size(kGranularities)> keys;
};

// The projection's state cache: slices, customers, opportunities and
// snapshot deltas of every partition, decoded and kept across batches
// (WriteBackCache); each batch's Flush writes what it touched. Seen keys and
// index edits go straight to the txn.
class ReviewProjection::Batch {
 public:
  // `rules` and `cf` must outlive the batch.
  Batch(const ReviewRules& rules, const Families& cf, int partitions);

  // Starts (or continues) a batch in the txn's partition.
  void Begin(projection::Txn& txn);

  // The customer's state (empty when none is stored), marked for writing.
  absl::StatusOr<internal::ReviewCustomer*> Customer(const std::string& id);
  // The opportunity's state; `found`: whether it was known before.
  absl::StatusOr<internal::ReviewOpportunity*> Opportunity(const std::string& customer,
                                                           const std::string& id, bool* found);
  // The slice of `suffix` (period_key\0|dim|value\0), marked for writing.
  absl::StatusOr<SliceState*> Slice(const std::string& suffix);

  // The periods containing t, per granularity (memoized by civil day).
  const DayPeriods& Periods(absl::Time t);

  // Calls fn(suffix) for each granularity's period containing t and each
  // dimension value of d (the slices ForEach visits, without touching them).
  // The customer dimension has a slice per day only
  // (CustomerDaysPrefix + day_key\0): a tier query rolls a member's days up
  // into its period (docs/review.md "Tier").
  template <typename Fn>
  void ForEachSuffix(absl::Time t, const Dims& d, Fn fn) {
    const std::vector<DimKey> dims = DimKeys(d, rules_.tier_dimension);
    const DayPeriods& day = Periods(t);
    std::string suffix;
    for (const std::string& pkey : day.keys) {
      for (const DimKey& dim : dims) {
        if (dim.dim == kDimensionCustomer) continue;
        suffix.assign(pkey);
        suffix.append(dim.token);
        fn(suffix);
      }
    }
    if (!dims.empty() && dims.back().dim == kDimensionCustomer) {
      suffix.assign(dims.back().token);
      suffix.append(day.keys[0]);
      fn(suffix);
    }
  }

  // Calls fn(slice, suffix) for each granularity's period containing t and
  // each dimension value of d.
  template <typename Fn>
  absl::Status ForEach(absl::Time t, const Dims& d, Fn fn) {
    absl::Status status;
    ForEachSuffix(t, d, [&](const std::string& suffix) {
      if (!status.ok()) return;
      absl::StatusOr<SliceState*> s = Slice(suffix);
      if (!s.ok()) {
        status = s.status();
        return;
      }
      fn(**s, suffix);
    });
    return status;
  }

  // Marks `id` seen under kind x suffix; true when it was not before.
  absl::StatusOr<bool> FirstSeen(char kind, const std::string& suffix, std::string_view id);
  // Unmarks it; true when it was marked.
  absl::StatusOr<bool> Unsee(char kind, const std::string& suffix, std::string_view id);

  // A distinct counter: +1 in every slice where the customer is new. One
  // rv_seen entry per kind x customer x period lists the dimension values it
  // was counted under; the customer's state caches the latest one per
  // granularity, and the latest period of any entry (`max_period`, for tags
  // created since it exists), so an in-order event in a new period knows its
  // entry is absent without reading it. `only`, when set, limits the periods
  // counted. The customer's own day slice (the tier dimension) keeps the
  // counter as a bit per granularity counted (CustomerDayBit), OR-ed: a
  // period's count for the customer is whether any of its days has the bit.
  absl::Status CountDistinct(internal::ReviewCustomer& c, char kind, absl::Time t, const Dims& d,
                             const std::string& customer, int64_t domain::ReviewAccumulator::*field,
                             const std::function<bool(const domain::ReportingPeriod&)>& only = {});

  // Replaces the derived pieces the customer's state counts (c.derived(),
  // Applier::Derive). What they move (slices, snapshot deltas, lost
  // customers' subject marks) is counted at Flush, once per customer and
  // batch: the difference between the pieces the store counted at the
  // batch's start and the last ones. A customer re-derived after each of its
  // events (a loss by silence counted, then undone by its next event) costs
  // one count instead of two per event. Same state as counting each change
  // at once: counters add up, every slice a flow touched is still written,
  // and a subject mark ends as its last mark or unmark left it (kept per
  // lost piece in order, removals before additions).
  void SetDerived(internal::ReviewCustomer& c, std::vector<internal::ReviewDerived> pieces);

  // Snapshot change at t's civil day for each dimension value of d. The
  // stored total is read at Flush, only for deltas not cached yet.
  void AddDelta(absl::Time t, const Dims& d, int64_t pipeline, int64_t open, int64_t customers);
  void AddDelta(absl::Time t, const Dims& d, const internal::ReviewDelta& change);

  // rv_due: puts (or deletes) micros|customer\0|subject.
  void Due(int64_t micros, const std::string& customer, std::string_view subject, bool put);
  // An index family (rv_owner, rv_region): puts (or deletes) value\0|customer.
  void Index(store::ColumnFamily cf, const std::string& value, const std::string& customer,
             bool put);

  // Writes what this batch touched (each family in key order, so the writes
  // are deterministic) and ends the batch.
  absl::Status Flush();

  // The batch will not be committed: forget everything cached (the store
  // holds the state as of the last commit).
  void Abandon();

  // The partition's key prefix and the txn, between Begin and Flush.
  const std::string& prefix() const { return prefix_; }
  projection::Txn& txn() { return *txn_; }

 private:
  // A snapshot delta: the stored total plus this batch's change, or only the
  // change until Flush has read the total (`loaded`).
  struct Delta {
    internal::ReviewDelta value;
    bool loaded = false;
  };
  // What a decoded slice owns beyond sizeof(SliceState) (map nodes, vector
  // elements), for the slice cache's bound in bytes.
  struct SliceHeapBytes {
    size_t operator()(const SliceState& s) const;
  };
  struct PartState {
    WriteBackCache<internal::ReviewCustomer> customers;  // customer_id
    WriteBackCache<internal::ReviewOpportunity> opps;    // customer_id\0 opportunity_id
    WriteBackCache<SliceState, SliceHeapBytes> slices;   // slice suffix
    WriteBackCache<Delta> deltas;                        // dim|value\0|day
  };

  // A customer re-derived in this batch (SetDerived).
  struct PendingDerived {
    internal::ReviewCustomer* customer = nullptr;
    // The pieces counted in the store (the customer's at the batch's start).
    google::protobuf::RepeatedPtrField<internal::ReviewDerived> counted;
    // Each flow (lost or win-back piece, by kind, start and dimensions: what
    // names its slices and subject marks) counted or uncounted in this
    // batch: the last of it, in the order of the batch's derivations
    // (`order`); `mark`: counted.
    struct Mark {
      internal::ReviewDerived piece;
      uint64_t order = 0;
      bool mark = false;
    };
    std::vector<Mark> marks;
  };
  // Counts (+1) or uncounts (-1) one derived piece's slices and deltas
  // (not its subject marks).
  absl::Status CountPiece(const std::string& customer_id, const internal::ReviewDerived& p,
                          int sign);
  // Counts what SetDerived left pending (at Flush, before the writes).
  absl::Status CountDerived();

  // Over a bound (slices: in estimated bytes; the others: in entries),
  // drops what the last rounds of batches (one per partition) did not touch;
  // over 3/4 of it still, what the partition just flushed holds (`flushed`:
  // partitions take turns, so it is the one whose next batch is furthest
  // away); over the bound still, everything of that family.
  void Evict(PartState& flushed);

  const ReviewRules& rules_;
  const Families& cf_;
  projection::Txn* txn_ = nullptr;
  std::string prefix_;
  std::vector<PartState> parts_;
  PartState* part_ = nullptr;
  uint64_t generation_ = 1;
  absl::flat_hash_map<int64_t, DayPeriods> periods_;          // by DayNumber
  absl::flat_hash_set<std::string> seen_;                     // this batch's FirstSeen keys
  absl::flat_hash_map<std::string, PendingDerived> pending_;  // by customer id
  uint64_t derive_order_ = 0;                                 // SetDerived calls
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_SRC_REVIEW_BATCH_H_

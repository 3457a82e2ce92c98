// The review (复盘) projection (docs/review.md): per period (day, ISO week,
// month, quarter, year in the reporting zone) x dimension value (all, region,
// industry, owner, channel, product), the accumulators of libs/domain
// (review.h) and the funnel tables, updated event by event by event time, so
// a late event revises exactly its own periods. Snapshots at a period's edge
// (weighted pipeline, customers in stage CUSTOMER) are day-bucketed deltas
// summed at query time. Complaint SLA clocks and contact cadence are indexed
// by due time; the ticker counts breaches and emits ComplaintSlaBreached /
// ContactOverdue changes. See docs/review.md.
//
// Column families (keys start with the partition, big-endian):
//   rv_slice     P|period_key\0|dim|value\0            -> internal.ReviewSlice
//                P|100|customer_id\0|day_key\0           -> internal.ReviewSlice (a customer's
//                                                          day: the tier dimension's source)
//   rv_delta     P|dim|value\0|day                      -> internal.ReviewDelta
//   rv_seen      P|kind|customer_id\0|period_key         -> dim|value\0... (distinct counters:
//                                                          the values it was counted under)
//                P|kind|period_key\0|dim|value\0|id     -> "" (subjects of findings)
//                P|kind|100|customer_id\0|day_key\0|id  -> "" (a customer's, by day)
//                P|m|period_key\0|customer_id            -> "" (active under 2+ regions)
//   rv_customer  P|customer_id                          -> internal.ReviewCustomer
//   rv_opp       P|customer_id\0|opportunity_id         -> internal.ReviewOpportunity
//   rv_owner     P|owner_id\0|customer_id               -> "" (current owner, worklist)
//   rv_region    P|region\0|customer_id                 -> ""
//   rv_due       P|due_micros|customer_id\0|subject     -> ""
//   rv_tier      P|customer_id                          -> internal.ReviewTierFacts
//   rv_activity  P|customer_id\0                         -> at_micros (I64) | name (the name of
//                                                          the latest profile event naming it)
//                P|customer_id\0|complaint_id           -> category (BE32, v1::ComplaintCategory)
//                (what CustomerActivity and the worklist show beyond rv_customer)
//
// Besides the public dimensions, every event also counts under the internal
// dimension kDimensionCustomer (value = customer id), in a slice per customer
// and day: DIMENSION_TIER is the merge of the customer slices of the
// customers in a tier, resolved at query time as of the period's start, each
// rolled up from its days (docs/review.md "Tier").
#ifndef CUSTOPS_REVIEW_REVIEW_PROJECTION_H_
#define CUSTOPS_REVIEW_REVIEW_PROJECTION_H_

#include <array>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/domain/lifecycle.h"
#include "custops/domain/period.h"
#include "custops/domain/review.h"
#include "custops/domain/value.h"
#include "custops/domain/worklist.h"
#include "custops/internal/review_state.pb.h"
#include "custops/projection/projection.h"
#include "custops/store/store.h"
#include "custops/v1/review.pb.h"

namespace custops::review {

inline constexpr std::string_view kProjectionName = "review";

// The per-customer slices and snapshots behind DIMENSION_TIER: not a public
// dimension (GetReview refuses it), only a store key.
inline constexpr v1::Dimension kDimensionCustomer = static_cast<v1::Dimension>(100);

struct ReviewRules {
  // Reporting zone (docs/review.md "Periods"). Default: Asia/Shanghai
  absl::TimeZone zone = absl::UTCTimeZone();
  domain::MetricRules metrics;
  domain::FindingRules findings;
  domain::WorklistRules worklist;
  // Lifecycle rules (the `lifecycle` configuration): stages, losses by
  // silence and DECLINING agree with the lifecycle projection.
  domain::LifecycleRules lifecycle;
  // Value rules (the `value` configuration): tiers and negative assets agree
  // with the value projection. Window default: 365 days
  absl::Duration value_window = absl::Hours(24 * 365);
  domain::TierRules tiers;
  domain::ProspectRules prospects;
  domain::CostToServeRules cost;
  // Keep the per-customer slices behind DIMENSION_TIER (one more dimension
  // value per event; docs/review.md). Default: true
  bool tier_dimension = true;
  // Worklist: a customer "turned DECLINING" when lifecycle's sub-stage turned
  // DECLINING at most this long before as_of. Default: 30 days
  absl::Duration declining_recent = absl::Hours(24 * 30);
};

// One period x dimension value: the domain accumulator plus the funnel.
struct SliceState {
  domain::ReviewAccumulator acc;
  std::array<int64_t, 7> entered{};   // index = FunnelStage 1..6
  std::array<int64_t, 7> advanced{};  // entered and later went further
  std::map<std::string, int64_t> lost_by_competitor;
  std::map<std::string, int64_t> lost_amount_by_competitor;
};
// a + b over disjoint customer sets (partitions).
void MergeInto(SliceState& into, const SliceState& other);
internal::ReviewSlice ToProto(const SliceState& s);
SliceState FromProto(const internal::ReviewSlice& p);
// ToProto(s) serialized (maps in key order), without building the message.
void EncodeSlice(const SliceState& s, std::string& out);
// Field-wise sum of snapshot deltas; whether every field is zero.
void AddDeltaInto(internal::ReviewDelta& into, const internal::ReviewDelta& d);
bool DeltaIsZero(const internal::ReviewDelta& d);

class ReviewProjection final : public projection::Projection {
 public:
  explicit ReviewProjection(ReviewRules rules);
  ~ReviewProjection() override;

  std::string_view Name() const override { return kProjectionName; }
  std::vector<std::string> ColumnFamilies() const override;
  // 2: the tier dimension's customer slices are per day (docs/review.md
  // "Tier"); version 1 kept one per period of every granularity.
  int StateVersion() const override { return 2; }
  absl::Status Attach(store::Store& store, int partitions) override;
  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                     projection::Txn& txn) override;
  absl::Status Flush(Partition partition, absl::Time now, projection::Txn& txn) override;
  absl::Status Tick(Partition partition, absl::Time now, projection::Txn& txn) override;
  void Abandon(Partition partition) override;

  struct Families {
    store::ColumnFamily slice, delta, seen, customer, opp, owner, region, due, tier, activity;
  };

  class Batch;  // the state a batch touches (src/review_batch.h)

 private:
  ReviewRules rules_;
  store::Store* store_ = nullptr;
  Families cf_{};
  std::unique_ptr<Batch> batch_;
};

// Org figures of a period x dimension value (targets, spend, market size),
// from the org-events topic (org_index.h).
class OrgFigures {
 public:
  virtual ~OrgFigures() = default;
  virtual std::optional<int64_t> Target(const std::string& period_key, v1::Dimension dim,
                                        const std::string& value) const = 0;
  virtual int64_t MarketingSpend(const std::string& period_key, v1::Dimension dim,
                                 const std::string& value) const = 0;
  virtual std::optional<int64_t> MarketSize(const std::string& period_key, v1::Dimension dim,
                                            const std::string& value) const = 0;
  // Actions planned against reviews of this dimension value that are open,
  // or were closed at or after `period_start`.
  virtual std::vector<v1::ReviewAction> Actions(v1::Dimension dim, const std::string& value,
                                                absl::Time period_start) const = 0;
};

// The dimensions CompareReview lists the values of: REGION, INDUSTRY, OWNER,
// CHANNEL, PRODUCT and TIER.
bool IsComparedDimension(v1::Dimension dim);

// Read side over the projection's store. Thread-safe; the store and `org`
// (may be null: no org figures) must outlive it.
class ReviewQueries {
 public:
  ReviewQueries(const store::Store& store, int partitions, ReviewRules rules, const OrgFigures* org,
                std::string currency);

  // The store holds state of an earlier layout (ProjectionRuntime::
  // state_outdated) until a rebuild replaces it: what that layout cannot
  // answer -- DIMENSION_TIER -- is UNAVAILABLE meanwhile.
  void set_state_outdated(bool outdated) { state_outdated_ = outdated; }

  // `regions` null: the request as it is. Non-null (a region-scoped
  // caller's DIMENSION_ALL, docs/review.md "Region merge"): DIMENSION_ALL
  // (or UNSPECIFIED) answered as the merge of these regions' slices — what
  // the report would be if the data held only their customers — with
  // dimension ALL and value "" in the answer; another dimension is
  // INVALID_ARGUMENT. Any order, duplicates ignored; an empty list merges
  // nothing.
  //
  // `history_periods` (0..24, else INVALID_ARGUMENT) also fills each
  // metric's history: its values over that many periods ending with the
  // asked one, oldest first, each equal to that period's GetReview value.
  absl::StatusOr<v1::ReviewReport> GetReview(
      const v1::GetReviewRequest& request, const std::vector<std::string>* regions = nullptr) const;
  absl::StatusOr<v1::FunnelResponse> Funnel(
      const v1::FunnelRequest& request, const std::vector<std::string>* regions = nullptr) const;
  // Items by customer id, each with the customer's current name, owner and
  // region.
  absl::StatusOr<v1::WorklistResponse> Worklist(const v1::WorklistRequest& request,
                                                absl::Time as_of) const;
  // Every value of a REGION, INDUSTRY, OWNER, CHANNEL, PRODUCT or TIER with
  // data in the period (the Funnel's listing; every tier), in value order,
  // each with GetReview's metrics for it; paged ("r1." tokens). `regions`
  // non-null (a region-scoped caller): DIMENSION_REGION only, rows of these
  // regions only.
  absl::StatusOr<v1::CompareReviewResponse> CompareReview(
      const v1::CompareReviewRequest& request,
      const std::vector<std::string>* regions = nullptr) const;
  // One customer at as_of: its complaints with their SLA clocks, its
  // receivables and its worklist items. NOT_FOUND for a customer never
  // registered and, with `regions`, for one whose current region is not
  // among them (existence is not revealed).
  absl::StatusOr<v1::CustomerActivityResponse> CustomerActivity(
      const std::string& customer_id, absl::Time as_of,
      const std::vector<std::string>* regions = nullptr) const;

  // The merged slice of every partition (empty when nothing happened).
  absl::StatusOr<SliceState> LoadSlice(const std::string& period_key, v1::Dimension dim,
                                       const std::string& value) const;
  // The metrics of a period x dimension value, snapshots and org figures
  // included; with `regions` (sorted, unique; `dim` ALL), of their merge.
  absl::StatusOr<domain::ReviewMetrics> Metrics(
      const domain::ReportingPeriod& period, v1::Dimension dim, const std::string& value,
      const std::vector<std::string>* regions = nullptr) const;

 private:
  // The customers in `tier` ("DIAMOND" ... "IRON", "BIG", "SMALL") as of the
  // period's start, by the value rules over rv_tier (docs/review.md).
  struct TierMember {
    std::string customer_id;
    int partition = 0;
  };
  absl::StatusOr<std::vector<TierMember>> TierMembers(const domain::ReportingPeriod& period,
                                                      const std::string& tier) const;
  // A customer's slice for `period`: its day slices rolled up (sums, and
  // each distinct counter 1 when a day has the period's granularity bit).
  absl::StatusOr<SliceState> CustomerSlice(int partition, const std::string& customer_id,
                                           const domain::ReportingPeriod& period) const;
  // The ids of a customer's subjects of `kind` in `period` (rv_seen, its day
  // slices' marks), added to `ids` while it holds fewer than `limit`.
  absl::Status CustomerSubjects(int partition, char kind, const std::string& customer_id,
                                const domain::ReportingPeriod& period, size_t limit,
                                std::set<std::string>& ids) const;
  // The members of every tier (`only` null) or of one, by tier name.
  using TierMembersByTier = std::map<std::string, std::vector<TierMember>>;
  absl::StatusOr<TierMembersByTier> TierMembersOf(const domain::ReportingPeriod& period,
                                                  const std::string* only) const;
  // Every tier's members per period, shared by the rows of one query.
  using TierCache = std::map<domain::ReportingPeriod, TierMembersByTier>;
  // The tier of every ranked customer (a purchase at or before as_of) at
  // as_of, by the value rules over rv_tier.
  absl::StatusOr<absl::flat_hash_map<std::string, domain::Tier>> TiersAt(absl::Time as_of) const;
  // A period x dimension value's slice and snapshots at its start and end
  // (for DIMENSION_TIER: merged over the tier's members).
  struct Gathered {
    SliceState slice;
    internal::ReviewDelta at_start, at_end;
    std::vector<TierMember> members;  // DIMENSION_TIER only
  };
  // The same for several periods at once: one snapshot scan per partition
  // (and tier member) covers every period's edges. With `regions` (sorted,
  // unique; `dim` ALL): the merge of their REGION slices and snapshots,
  // each customer once in the distinct counters (CountMoversOnce). `tiers`,
  // when given, caches DIMENSION_TIER's members across calls.
  absl::StatusOr<std::vector<Gathered>> GatherSeries(
      const std::vector<domain::ReportingPeriod>& periods, v1::Dimension dim,
      const std::string& value, const std::vector<std::string>* regions,
      TierCache* tiers = nullptr) const;
  // The metrics of what was gathered for a period, org figures included.
  domain::ReviewMetrics MetricsOf(const domain::ReportingPeriod& period, v1::Dimension dim,
                                  const std::string& value, const std::vector<std::string>* regions,
                                  Gathered& g) const;
  // The snapshot sums before each of `days` (ascending; the deltas of the
  // days before it): one scan per partition. `In`: of one partition only
  // (customer slices live in one).
  absl::StatusOr<std::vector<internal::ReviewDelta>> SnapshotsBefore(
      v1::Dimension dim, const std::string& value, const std::vector<absl::CivilDay>& days) const;
  absl::StatusOr<std::vector<internal::ReviewDelta>> SnapshotsBeforeIn(
      int partition, v1::Dimension dim, const std::string& value,
      const std::vector<absl::CivilDay>& days) const;
  // The values of `dim` after `after` with a slice in the period or snapshot
  // history before its end (every tier name for DIMENSION_TIER), in order, at
  // most page_size + 1; with `only` (sorted), those among them.
  absl::StatusOr<std::vector<std::string>> ListValues(const domain::ReportingPeriod& period,
                                                      v1::Dimension dim, const std::string& after,
                                                      int page_size,
                                                      const std::vector<std::string>* only) const;
  // The customer's review state (nullopt: none).
  absl::StatusOr<std::optional<internal::ReviewCustomer>> LoadCustomer(
      int partition, const std::string& customer_id) const;
  // The customer's current name (rv_activity; "" when none is known).
  absl::StatusOr<std::string> NameOf(int partition, const std::string& customer_id) const;
  // What the worklist rules need of the customer at as_of, but its tier.
  domain::WorklistCustomer WorklistInput(const std::string& customer_id,
                                         const internal::ReviewCustomer& c, absl::Time as_of) const;
  // Appends the customer's worklist items with its current profile.
  void AddWorklistItems(const internal::ReviewCustomer& c, const std::string& name,
                        const domain::WorklistCustomer& w, absl::Time as_of,
                        google::protobuf::RepeatedPtrField<v1::WorklistItem>* out) const;
  // A customer counted under k >= 2 of `regions` in the period (it moved
  // region within it; rv_seen's movers) counts once: subtracts k - 1 from
  // each distinct counter of `acc` that counted it k times.
  absl::Status CountMoversOnce(const std::string& period_key,
                               const std::vector<std::string>& regions,
                               domain::ReviewAccumulator& acc) const;
  absl::StatusOr<std::vector<std::string>> Subjects(char kind, const std::string& period_key,
                                                    v1::Dimension dim,
                                                    const std::string& value) const;

  // OK when DIMENSION_TIER can be answered: FAILED_PRECONDITION when it is
  // off, UNAVAILABLE while the state is of an earlier layout.
  absl::Status TierAvailable() const;

  const store::Store& store_;
  int partitions_;
  ReviewRules rules_;
  const OrgFigures* org_;
  std::string currency_;
  ReviewProjection::Families cf_;
  bool state_outdated_ = false;
};

}  // namespace custops::review

#endif  // CUSTOPS_REVIEW_REVIEW_PROJECTION_H_

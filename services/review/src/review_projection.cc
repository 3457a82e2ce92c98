#include "custops/review/review_projection.h"

#include <algorithm>
#include <functional>
#include <limits>
#include <set>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/domain/activity.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/lifecycle.h"
#include "custops/event/time.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"

namespace custops::review {
namespace {

using domain::ReviewAccumulator;

// The int64 fields of ReviewAccumulator in their stored order (ReviewSlice
// counters). Append only: a stored slice keeps its meaning.
constexpr int64_t ReviewAccumulator::*kCounters[] = {
    &ReviewAccumulator::revenue_units,
    &ReviewAccumulator::cost_units,
    &ReviewAccumulator::payments_units,
    &ReviewAccumulator::new_customers,
    &ReviewAccumulator::lost_customers,
    &ReviewAccumulator::active_customers,
    &ReviewAccumulator::customers_at_start,
    &ReviewAccumulator::purchasing_customers,
    &ReviewAccumulator::repeat_purchasing_customers,
    &ReviewAccumulator::win_backs,
    &ReviewAccumulator::referrals,
    &ReviewAccumulator::visits,
    &ReviewAccumulator::coverage_base,
    &ReviewAccumulator::covered_customers,
    &ReviewAccumulator::quotes,
    &ReviewAccumulator::quoted_units,
    &ReviewAccumulator::quoted_list_units,
    &ReviewAccumulator::opportunities_won,
    &ReviewAccumulator::opportunities_lost,
    &ReviewAccumulator::won_cycle_seconds,
    &ReviewAccumulator::won_with_cycle,
    &ReviewAccumulator::pipeline_percent_units,
    &ReviewAccumulator::complaints,
    &ReviewAccumulator::sla_breaches,
    &ReviewAccumulator::complaints_resolved,
    &ReviewAccumulator::complaints_resolved_satisfied,
    &ReviewAccumulator::csat_sum,
    &ReviewAccumulator::csat_surveys,
    &ReviewAccumulator::marketing_spend_units,
    &ReviewAccumulator::negative_asset_customers,
    &ReviewAccumulator::overdue_receivables_units,
};

constexpr v1::Granularity kGranularities[] = {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK,
                                              v1::GRANULARITY_MONTH, v1::GRANULARITY_QUARTER,
                                              v1::GRANULARITY_YEAR};

// Distinct-counter and subject kinds in rv_seen.
constexpr char kSeenActive = 'a';
constexpr char kSeenPurchasing = 'p';
constexpr char kSeenRepeat = 'r';
constexpr char kSeenCovered = 'v';
constexpr char kSubjectLost = 'l';
constexpr char kSubjectBreach = 'b';
constexpr char kSubjectLostOpportunity = 'o';
// Customers counted active under two or more regions in one period (moved
// region within it): P|m|period_key\0|customer_id -> "". The region merge of
// ReviewQueries reads them to count such a customer once (docs/review.md).
constexpr char kSeenMover = 'm';

// Whether `list` (tokens dim (BE32) | value \0, back to back) holds `token`.
bool ContainsToken(std::string_view list, std::string_view token) {
  while (list.size() >= 4) {
    const size_t end = list.find('\0', 4);
    const size_t len = end == std::string_view::npos ? list.size() : end + 1;
    if (list.substr(0, len) == token) return true;
    list.remove_prefix(len);
  }
  return false;
}

// The number of DIMENSION_REGION tokens in `list` (tokens as above).
int RegionTokens(std::string_view list) {
  int n = 0;
  while (list.size() >= 4) {
    const size_t end = list.find('\0', 4);
    const size_t len = end == std::string_view::npos ? list.size() : end + 1;
    std::string_view token = list.substr(0, len);
    if (store::ReadU32(token) == static_cast<uint32_t>(v1::DIMENSION_REGION)) ++n;
    list.remove_prefix(len);
  }
  return n;
}

int64_t Saturating(int64_t a, int64_t b);

}  // namespace

void AddDeltaInto(internal::ReviewDelta& into, const internal::ReviewDelta& d) {
  into.set_pipeline_percent_units(into.pipeline_percent_units() + d.pipeline_percent_units());
  into.set_open_opportunities(into.open_opportunities() + d.open_opportunities());
  into.set_customers(into.customers() + d.customers());
  into.set_intent(into.intent() + d.intent());
  into.set_negative_assets(into.negative_assets() + d.negative_assets());
  into.set_overdue_units(Saturating(into.overdue_units(), d.overdue_units()));
}

bool DeltaIsZero(const internal::ReviewDelta& d) {
  return d.pipeline_percent_units() == 0 && d.open_opportunities() == 0 && d.customers() == 0 &&
         d.intent() == 0 && d.negative_assets() == 0 && d.overdue_units() == 0;
}

namespace {

int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(1970, 1, 1); }

int64_t Micros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(event::FromProto(t));
}
absl::Time FromMicros(int64_t m) { return absl::FromUnixMicros(m); }

// The dimension values an event counts under.
struct Dims {
  std::string region, industry, owner, channel, product;
  std::string customer;  // kDimensionCustomer (the tier dimension's source)
};

// The profile the customer had at `t` (the latest entry at or before t; the
// first one for an event before registration).
const internal::ReviewProfileAt* ProfileAt(const internal::ReviewCustomer& c, int64_t t) {
  const internal::ReviewProfileAt* found = nullptr;
  for (const auto& p : c.profile()) {
    if (p.at_micros() <= t || found == nullptr) found = &p;
  }
  return found;
}

// Customer-base attribution: the customer's owner at t.
Dims BaseDims(const internal::ReviewCustomer& c, int64_t t) {
  Dims d;
  d.customer = c.customer_id();
  if (const auto* p = ProfileAt(c, t)) {
    d.region = p->region();
    d.industry = p->industry();
    d.owner = p->owner_id();
    d.channel = p->channel();
  }
  return d;
}

// Deal and activity attribution: the rep on the event, else the owner then.
Dims DealDims(const internal::ReviewCustomer& c, int64_t t, const std::string& actor,
              const std::string& product) {
  Dims d = BaseDims(c, t);
  if (!actor.empty()) d.owner = actor;
  d.product = product;
  return d;
}

Dims OpportunityDims(const internal::ReviewOpportunity& o) {
  return Dims{.region = o.region(),
              .industry = o.industry(),
              .owner = o.owner_id(),
              .channel = o.channel(),
              .product = o.product(),
              .customer = o.customer_id()};
}

int64_t Saturating(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

domain::ComplaintStep StepOf(int kind) { return static_cast<domain::ComplaintStep>(kind); }

std::vector<domain::ComplaintStepAt> StepsOf(const internal::ReviewComplaint& c) {
  std::vector<domain::ComplaintStepAt> steps;
  for (int i = 0; i < c.step_kinds_size() && i < c.step_micros_size(); ++i) {
    steps.push_back({.step = StepOf(c.step_kinds(i)), .at = FromMicros(c.step_micros(i))});
  }
  return steps;
}

// Derived piece kinds (internal::ReviewDerived).
constexpr int kPieceLost = 'l';
constexpr int kPieceWinBack = 'w';
constexpr int kPieceCustomer = 'c';
constexpr int kPieceIntent = 'i';
constexpr int kPieceNegative = 'n';
constexpr int kPieceOverdue = 'o';

// The lifecycle stage at the last derivation and since when (the open
// CUSTOMER or INTENT piece); PROSPECT / LOST have no cadence.
std::optional<domain::ContactDue> ContactDueOf(const internal::ReviewCustomer& c,
                                               const domain::CadenceRules& rules) {
  v1::LifecycleStage stage = v1::LIFECYCLE_STAGE_PROSPECT;
  int64_t since = 0;
  for (const auto& p : c.derived()) {
    if (p.to() != 0) continue;
    if (p.kind() == kPieceCustomer) {
      stage = v1::LIFECYCLE_STAGE_CUSTOMER;
      since = p.from();
    } else if (p.kind() == kPieceIntent) {
      stage = v1::LIFECYCLE_STAGE_INTENT;
      since = p.from();
    }
  }
  std::optional<absl::Time> last_visit;
  if (c.last_visit_micros() != 0) last_visit = FromMicros(c.last_visit_micros());
  // Tier comes later from the value projection: untiered customers are held
  // to IRON's cadence (docs/review.md).
  return domain::NextContactDue(stage, std::nullopt, last_visit, FromMicros(since), rules);
}

// ---------------------------------------------------------------------------
// Derived timelines (docs/review.md "Derived timelines"): pure functions of a
// customer's stored facts and a horizon.

constexpr int64_t kForever = std::numeric_limits<int64_t>::max();

int64_t AddMicros(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return kForever;
  return r;
}

internal::ReviewDerived Piece(int kind, int64_t from, int64_t to, int64_t value) {
  internal::ReviewDerived p;
  p.set_kind(kind);
  p.set_from(from);
  p.set_to(to);
  p.set_value(value);
  return p;
}

// Lifecycle: losses, win-backs and the CUSTOMER / INTENT stage intervals of
// domain::Classify's history at the horizon. Returns the stage at the horizon.
v1::LifecycleStage LifecyclePieces(const internal::ReviewCustomer& c, int64_t horizon,
                                   const domain::LifecycleRules& rules,
                                   std::vector<internal::ReviewDerived>& out, int64_t& next) {
  const domain::LifecycleResult lr = domain::Classify(c.lifecycle(), FromMicros(horizon), rules);
  if (lr.next_change_at) next = std::min(next, absl::ToUnixMicros(*lr.next_change_at));
  int open_kind = 0;
  int64_t open_from = 0;
  for (const v1::StageTransition& h : lr.history) {
    if (h.from() == h.to()) continue;
    const int64_t at = Micros(h.at());
    if (open_kind != 0) {
      out.push_back(Piece(open_kind, open_from, at, 1));
      open_kind = 0;
    }
    if (h.to() == v1::LIFECYCLE_STAGE_LOST) out.push_back(Piece(kPieceLost, at, at, 1));
    if (h.from() == v1::LIFECYCLE_STAGE_LOST && h.to() == v1::LIFECYCLE_STAGE_CUSTOMER) {
      out.push_back(Piece(kPieceWinBack, at, at, 1));
    }
    if (h.to() == v1::LIFECYCLE_STAGE_CUSTOMER) open_kind = kPieceCustomer;
    if (h.to() == v1::LIFECYCLE_STAGE_INTENT) open_kind = kPieceIntent;
    open_from = at;
  }
  if (open_kind != 0) out.push_back(Piece(open_kind, open_from, 0, 1));
  return lr.stage;
}

// Negative asset (value rules): scored (a purchase at or before T) and
// margin - cost to serve over (T - window, T] below zero. A fact at t counts
// for T in [t, t + window), so the status only changes at a fact's t or
// t + window.
void NegativePieces(const internal::ReviewCustomer& c, int64_t horizon, const ReviewRules& rules,
                    std::vector<internal::ReviewDerived>& out, int64_t& next) {
  const internal::ReviewTierFacts& tf = c.tier_facts();
  if (!tf.takes_part() || tf.purchase_micros_size() == 0) return;
  const int64_t window = absl::ToInt64Microseconds(rules.value_window);
  // (t, what): what = -1 margin (index into purchases), 0 visit, 1 service,
  // 2.. complaint severity + 2.
  struct Fact {
    int64_t t;
    int what;
    int64_t margin;
  };
  std::vector<Fact> facts;
  for (int i = 0; i < tf.purchase_micros_size(); ++i) {
    facts.push_back({tf.purchase_micros(i), -1, tf.margin_units(i)});
  }
  for (int64_t t : c.visit_micros()) facts.push_back({t, 0, 0});
  for (const auto& k : c.complaints()) {
    facts.push_back({k.filed_micros(), 2 + k.severity(), 0});
    for (int i = 0; i < k.step_kinds_size() && i < k.step_micros_size(); ++i) {
      const auto step = StepOf(k.step_kinds(i));
      if (step == domain::ComplaintStep::kResponded || step == domain::ComplaintStep::kResolved) {
        facts.push_back({k.step_micros(i), 1, 0});
      }
    }
  }
  std::sort(facts.begin(), facts.end(), [](const Fact& a, const Fact& b) { return a.t < b.t; });
  std::vector<int64_t> breaks;
  for (const Fact& f : facts) {
    breaks.push_back(f.t);
    breaks.push_back(AddMicros(f.t, window));
  }
  std::sort(breaks.begin(), breaks.end());
  breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
  const int64_t first_purchase = tf.purchase_micros(0);
  __int128 margin = 0;
  domain::ServiceActivity activity;
  auto count = [&](const Fact& f, int sign) {
    switch (f.what) {
      case -1:
        margin += sign * static_cast<__int128>(f.margin);
        return;
      case 0:
        activity.visits += sign;
        return;
      case 1:
        activity.service_events += sign;
        return;
      case 2 + v1::SEVERITY_LOW:
        activity.complaints_low += sign;
        return;
      case 2 + v1::SEVERITY_MEDIUM:
        activity.complaints_medium += sign;
        return;
      case 2 + v1::SEVERITY_HIGH:
        activity.complaints_high += sign;
        return;
      case 2 + v1::SEVERITY_CRITICAL:
        activity.complaints_critical += sign;
        return;
      default:
        return;
    }
  };
  size_t in = 0, gone = 0;
  bool negative = false;
  int64_t since = 0;
  for (int64_t b : breaks) {
    if (b > horizon) {
      next = std::min(next, b);
      break;
    }
    while (in < facts.size() && facts[in].t <= b) count(facts[in++], +1);
    while (gone < facts.size() && AddMicros(facts[gone].t, window) <= b) count(facts[gone++], -1);
    const int64_t clamped = margin > INT64_MAX   ? INT64_MAX
                            : margin < INT64_MIN ? INT64_MIN
                                                 : static_cast<int64_t>(margin);
    const bool now_negative =
        b >= first_purchase &&
        domain::ComputeContribution(clamped, activity, rules.cost).negative_asset;
    if (now_negative == negative) continue;
    if (negative) out.push_back(Piece(kPieceNegative, since, b, 1));
    negative = now_negative;
    since = b;
  }
  if (negative) out.push_back(Piece(kPieceNegative, since, 0, 1));
}

// Overdue receivables per contract: at T, max(0, amount - paid) of a
// contract not terminated at T with T > payment due (the worklist's
// PaymentOverdue at T), amounts and payments as known at T.
void OverduePieces(const internal::ReviewCustomer& c, int64_t horizon,
                   std::vector<internal::ReviewDerived>& out, int64_t& next) {
  for (const internal::ReviewContract& k : c.contracts()) {
    if (k.payment_due_micros() == 0) continue;
    std::vector<int64_t> breaks = {AddMicros(k.payment_due_micros(), 1)};
    for (int64_t t : k.payment_micros()) breaks.push_back(t);
    for (int64_t t : k.renewal_micros()) breaks.push_back(t);
    if (k.terminated_micros() != 0) breaks.push_back(k.terminated_micros());
    std::sort(breaks.begin(), breaks.end());
    breaks.erase(std::unique(breaks.begin(), breaks.end()), breaks.end());
    int64_t value = 0, since = 0;
    for (int64_t b : breaks) {
      if (b > horizon) {
        next = std::min(next, b);
        break;
      }
      int64_t now = 0;
      if (b > k.payment_due_micros() && (k.terminated_micros() == 0 || b < k.terminated_micros())) {
        int64_t owed = k.signed_amount_units();
        for (int i = 0; i < k.renewal_micros_size() && i < k.renewal_units_size(); ++i) {
          if (k.renewal_micros(i) <= b) owed = Saturating(owed, k.renewal_units(i));
        }
        for (int i = 0; i < k.payment_micros_size() && i < k.payment_units_size(); ++i) {
          if (k.payment_micros(i) <= b) owed = Saturating(owed, -k.payment_units(i));
        }
        now = std::max<int64_t>(owed, 0);
      }
      if (now == value) continue;
      if (value != 0) out.push_back(Piece(kPieceOverdue, since, b, value));
      value = now;
      since = b;
    }
    if (value != 0) out.push_back(Piece(kPieceOverdue, since, 0, value));
  }
}

}  // namespace

void MergeInto(SliceState& into, const SliceState& other) {
  into.acc = domain::Merge(into.acc, other.acc);
  for (int k = 0; k < 7; ++k) {
    into.entered[k] += other.entered[k];
    into.advanced[k] += other.advanced[k];
  }
  for (const auto& [c, n] : other.lost_by_competitor) into.lost_by_competitor[c] += n;
  for (const auto& [c, n] : other.lost_amount_by_competitor) {
    into.lost_amount_by_competitor[c] = Saturating(into.lost_amount_by_competitor[c], n);
  }
}

internal::ReviewSlice ToProto(const SliceState& s) {
  internal::ReviewSlice p;
  for (auto field : kCounters) p.add_counters(s.acc.*field);
  for (int64_t v : s.acc.response_seconds) p.add_response_seconds(v);
  for (int64_t v : s.acc.resolution_seconds) p.add_resolution_seconds(v);
  for (const auto& [c, v] : s.acc.revenue_by_customer) (*p.mutable_revenue_by_customer())[c] = v;
  for (int k = 0; k < 7; ++k) {
    p.add_entered(s.entered[k]);
    p.add_advanced(s.advanced[k]);
  }
  for (const auto& [c, n] : s.lost_by_competitor) (*p.mutable_lost_by_competitor())[c] = n;
  for (const auto& [c, n] : s.lost_amount_by_competitor) {
    (*p.mutable_lost_amount_by_competitor())[c] = n;
  }
  return p;
}

SliceState FromProto(const internal::ReviewSlice& p) {
  SliceState s;
  int i = 0;
  for (auto field : kCounters) {
    if (i < p.counters_size()) s.acc.*field = p.counters(i);
    ++i;
  }
  s.acc.response_seconds.assign(p.response_seconds().begin(), p.response_seconds().end());
  s.acc.resolution_seconds.assign(p.resolution_seconds().begin(), p.resolution_seconds().end());
  for (const auto& [c, v] : p.revenue_by_customer()) s.acc.revenue_by_customer[c] = v;
  for (int k = 0; k < 7 && k < p.entered_size(); ++k) s.entered[k] = p.entered(k);
  for (int k = 0; k < 7 && k < p.advanced_size(); ++k) s.advanced[k] = p.advanced(k);
  for (const auto& [c, n] : p.lost_by_competitor()) s.lost_by_competitor[c] = n;
  for (const auto& [c, n] : p.lost_amount_by_competitor()) s.lost_amount_by_competitor[c] = n;
  return s;
}

// Protobuf wire format of ReviewSlice, written directly (the reader parses it
// as internal.ReviewSlice): ToProto + SerializeAsString built a message with
// three protobuf maps per slice and serialized them in hash order; this
// writes the same fields, maps in key order, without the message.
namespace {

void PutVarint(std::string& out, uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>(v | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}
size_t VarintSize(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    ++n;
  }
  return n;
}
void PutTag(std::string& out, int field, int wire_type) {
  PutVarint(out, static_cast<uint64_t>(field) << 3 | static_cast<uint64_t>(wire_type));
}
// A packed repeated int64 (nothing when empty).
template <typename Range>
void PutPacked(std::string& out, int field, const Range& values) {
  size_t size = 0;
  for (int64_t v : values) size += VarintSize(static_cast<uint64_t>(v));
  if (size == 0) return;
  PutTag(out, field, 2);
  PutVarint(out, size);
  for (int64_t v : values) PutVarint(out, static_cast<uint64_t>(v));
}
// map<string, int64>: one entry message (key = 1, value = 2) per element.
void PutMap(std::string& out, int field, const auto& map) {
  for (const auto& [key, value] : map) {
    const size_t size =
        1 + VarintSize(key.size()) + key.size() + 1 + VarintSize(static_cast<uint64_t>(value));
    PutTag(out, field, 2);
    PutVarint(out, size);
    PutTag(out, 1, 2);
    PutVarint(out, key.size());
    out.append(key);
    PutTag(out, 2, 0);
    PutVarint(out, static_cast<uint64_t>(value));
  }
}

}  // namespace

void EncodeSlice(const SliceState& s, std::string& out) {
  out.clear();
  std::array<int64_t, std::size(kCounters)> counters;
  for (size_t i = 0; i < std::size(kCounters); ++i) counters[i] = s.acc.*kCounters[i];
  PutPacked(out, 1, counters);
  PutPacked(out, 2, s.acc.response_seconds);
  PutPacked(out, 3, s.acc.resolution_seconds);
  PutMap(out, 4, s.acc.revenue_by_customer);
  PutPacked(out, 5, s.entered);
  PutPacked(out, 6, s.advanced);
  PutMap(out, 7, s.lost_by_competitor);
  PutMap(out, 8, s.lost_amount_by_competitor);
}

namespace {

// A write-back cache of decoded state of one family and partition, kept
// across batches: entries touched by a batch are dirty and written (all of
// them, in key order) by the batch's Flush, so the store holds exactly what
// it held without the cache and a restart only costs reads. Entries are
// evicted by age (the generation of the batch that last touched them).
template <typename T>
class WriteBackCache {
 public:
  // The cached value of `key` (marked dirty), or null.
  T* Touch(const std::string& key, uint64_t generation) {
    auto it = map_.find(key);
    if (it == map_.end()) return nullptr;
    Mark(*it, generation);
    return &it->second.value;
  }
  T* Insert(const std::string& key, T value, uint64_t generation) {
    auto [it, inserted] = map_.try_emplace(key);
    it->second.value = std::move(value);
    Mark(*it, generation);
    return &it->second.value;
  }
  // Calls fn(key, value) for each dirty entry in key order; all clean after.
  template <typename Fn>
  absl::Status Flush(Fn fn) {
    std::sort(dirty_.begin(), dirty_.end(),
              [](const auto* a, const auto* b) { return a->first < b->first; });
    for (auto* e : dirty_) {
      RETURN_IF_ERROR(fn(e->first, e->second.value));
      e->second.dirty = false;
    }
    dirty_.clear();
    return absl::OkStatus();
  }
  // Drops clean entries last touched before `generation`.
  void EvictOlderThan(uint64_t generation) {
    absl::erase_if(map_, [generation](const auto& e) {
      return !e.second.dirty && e.second.generation < generation;
    });
  }
  void Clear() {
    map_.clear();
    dirty_.clear();
  }
  size_t size() const { return map_.size(); }

 private:
  struct Entry {
    T value;
    uint64_t generation = 0;
    bool dirty = false;
  };
  using Map = absl::node_hash_map<std::string, Entry>;  // stable addresses
  void Mark(typename Map::value_type& e, uint64_t generation) {
    e.second.generation = generation;
    if (!e.second.dirty) {
      e.second.dirty = true;
      dirty_.push_back(&e);
    }
  }
  Map map_;
  std::vector<typename Map::value_type*> dirty_;
};

// Entries kept across batches, per family over all partitions. A slice is
// ~1 KB decoded, a customer ~1-2 KB: together well under 1 GB.
constexpr size_t kMaxCachedSlices = 200'000;
constexpr size_t kMaxCachedCustomers = 200'000;
constexpr size_t kMaxCachedOpportunities = 200'000;
constexpr size_t kMaxCachedDeltas = 200'000;

// The periods of a civil day, per granularity (kGranularities order).
struct DayPeriods {
  std::array<domain::ReportingPeriod, std::size(kGranularities)> periods;
  // Encoded as in slice keys: AppendId(period_key).
  std::array<std::string, std::size(kGranularities)> keys;
};

// The dimension values of an event as slice-key parts (dim (BE32) | value \0).
struct DimKey {
  v1::Dimension dim;
  std::string token;
};
// `per_customer`: also the customer's own value (ReviewRules::tier_dimension).
std::vector<DimKey> DimKeys(const Dims& d, bool per_customer) {
  std::vector<DimKey> out;
  static const std::string kEmpty;
  auto add = [&](v1::Dimension dim, const std::string& value) {
    DimKey& k = out.emplace_back(DimKey{dim, {}});
    store::AppendU32(k.token, static_cast<uint32_t>(dim));
    store::AppendId(k.token, value);
  };
  out.reserve(7);
  add(v1::DIMENSION_ALL, kEmpty);
  if (!d.region.empty()) add(v1::DIMENSION_REGION, d.region);
  if (!d.industry.empty()) add(v1::DIMENSION_INDUSTRY, d.industry);
  if (!d.owner.empty()) add(v1::DIMENSION_OWNER, d.owner);
  if (!d.channel.empty()) add(v1::DIMENSION_CHANNEL, d.channel);
  if (!d.product.empty()) add(v1::DIMENSION_PRODUCT, d.product);
  if (per_customer && !d.customer.empty()) add(kDimensionCustomer, d.customer);
  return out;
}

}  // namespace

// The projection's state cache: slices, customers, opportunities and
// snapshot deltas of every partition, decoded and kept across batches
// (WriteBackCache); each batch's Flush writes what it touched. Seen keys and
// index edits go straight to the txn.
class ReviewProjection::Batch {
 public:
  Batch(const ReviewRules& rules, const Families& cf, int partitions)
      : rules_(rules), cf_(cf), parts_(static_cast<size_t>(std::max(partitions, 1))) {}

  void Begin(projection::Txn& txn) {
    if (txn_ == &txn && part_ != nullptr) return;
    txn_ = &txn;
    const size_t p = static_cast<size_t>(txn.partition().value());
    if (p >= parts_.size()) parts_.resize(p + 1);
    part_ = &parts_[p];
    prefix_.clear();
    store::AppendU32(prefix_, static_cast<uint32_t>(p));
  }

  absl::StatusOr<internal::ReviewCustomer*> Customer(const std::string& id) {
    if (auto* c = part_->customers.Touch(id, generation_)) return c;
    internal::ReviewCustomer c;
    ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.customer, prefix_ + id));
    if (stored && !c.ParseFromString(*stored)) {
      return absl::DataLossError(absl::StrCat("corrupt review state of customer ", id));
    }
    return part_->customers.Insert(id, std::move(c), generation_);
  }

  absl::StatusOr<internal::ReviewOpportunity*> Opportunity(const std::string& customer,
                                                           const std::string& id, bool* found) {
    std::string key;
    store::AppendId(key, customer);
    key.append(id);
    if (auto* o = part_->opps.Touch(key, generation_)) {
      *found = true;
      return o;
    }
    internal::ReviewOpportunity o;
    ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.opp, prefix_ + key));
    *found = stored.has_value();
    if (stored && !o.ParseFromString(*stored)) {
      return absl::DataLossError(absl::StrCat("corrupt opportunity ", id));
    }
    return part_->opps.Insert(key, std::move(o), generation_);
  }

  absl::StatusOr<SliceState*> Slice(const std::string& suffix) {
    if (auto* s = part_->slices.Touch(suffix, generation_)) return s;
    SliceState s;
    ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.slice, prefix_ + suffix));
    if (stored) {
      internal::ReviewSlice p;
      if (!p.ParseFromString(*stored)) return absl::DataLossError("corrupt review slice");
      s = FromProto(p);
    }
    return part_->slices.Insert(suffix, std::move(s), generation_);
  }

  // The periods containing t, per granularity (memoized by civil day).
  const DayPeriods& Periods(absl::Time t) {
    const absl::CivilDay day = absl::ToCivilDay(t, rules_.zone);
    auto [it, inserted] = periods_.try_emplace(DayNumber(day));
    if (inserted) {
      for (size_t gi = 0; gi < std::size(kGranularities); ++gi) {
        it->second.periods[gi] = domain::PeriodContaining(day, kGranularities[gi]);
        store::AppendId(it->second.keys[gi], it->second.periods[gi].Key());
      }
    }
    return it->second;
  }

  // Calls fn(slice, suffix) for each granularity's period containing t and
  // each dimension value of d.
  template <typename Fn>
  absl::Status ForEach(absl::Time t, const Dims& d, Fn fn) {
    const std::vector<DimKey> dims = DimKeys(d, rules_.tier_dimension);
    const DayPeriods& day = Periods(t);
    std::string suffix;
    for (const std::string& pkey : day.keys) {
      for (const DimKey& dim : dims) {
        suffix.assign(pkey);
        suffix.append(dim.token);
        ASSIGN_OR_RETURN(SliceState * s, Slice(suffix));
        fn(*s, suffix);
      }
    }
    return absl::OkStatus();
  }

  // Marks `id` seen under kind x suffix; true when it was not before.
  absl::StatusOr<bool> FirstSeen(char kind, const std::string& suffix, std::string_view id) {
    std::string key = prefix_;
    key.push_back(kind);
    key.append(suffix);
    key.append(id);
    if (seen_.contains(key)) return false;
    ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
    seen_.insert(key);
    if (stored) return false;
    txn_->Put(cf_.seen, key, "");
    return true;
  }
  absl::StatusOr<bool> Unsee(char kind, const std::string& suffix, std::string_view id) {
    std::string key = prefix_;
    key.push_back(kind);
    key.append(suffix);
    key.append(id);
    ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
    seen_.erase(key);
    if (!stored) return false;
    txn_->Delete(cf_.seen, key);
    return true;
  }

  // A distinct counter: +1 in every slice where the customer is new. One
  // rv_seen entry per kind x customer x period lists the dimension values it
  // was counted under; the customer's state caches the latest one per
  // granularity, and the latest period of any entry (`max_period`, for tags
  // created since it exists), so an in-order event in a new period knows its
  // entry is absent without reading it. `only`, when set, limits the periods
  // counted.
  absl::Status CountDistinct(internal::ReviewCustomer& c, char kind, absl::Time t, const Dims& d,
                             const std::string& customer, int64_t ReviewAccumulator::*field,
                             const std::function<bool(const domain::ReportingPeriod&)>& only = {}) {
    std::vector<DimKey> dims;
    const DayPeriods& day = Periods(t);
    for (size_t gi = 0; gi < std::size(kGranularities); ++gi) {
      const domain::ReportingPeriod& period = day.periods[gi];
      if (only && !only(period)) continue;
      if (dims.empty()) dims = DimKeys(d, rules_.tier_dimension);
      const std::string& encoded = day.keys[gi];
      const std::string_view pkey(encoded.data(), encoded.size() - 1);  // without its \0
      const std::string tag = {kind, static_cast<char>('0' + gi)};
      internal::ReviewSeen* cache = nullptr;
      for (auto& x : *c.mutable_seen()) {
        if (x.tag() == tag) cache = &x;
      }
      if (cache == nullptr) {
        cache = c.add_seen();
        cache->set_tag(tag);
        cache->set_tracked(true);  // no entry of this tag exists yet
      }
      std::string key = prefix_;
      key.push_back(kind);
      store::AppendId(key, customer);
      key.append(pkey);
      if (cache->period() != pkey) {
        if (cache->tracked() && (cache->max_period().empty() || pkey > cache->max_period())) {
          cache->set_dims("");  // later than every entry: none for this period
        } else {
          ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
          cache->set_dims(stored.value_or(""));
        }
        cache->set_period(std::string(pkey));
      }
      bool changed = false;
      bool region_added = false;
      std::string suffix;
      for (const DimKey& dim : dims) {
        if (ContainsToken(cache->dims(), dim.token)) continue;
        cache->mutable_dims()->append(dim.token);
        changed = true;
        region_added |= dim.dim == v1::DIMENSION_REGION;
        suffix.assign(encoded);
        suffix.append(dim.token);
        ASSIGN_OR_RETURN(SliceState * s, Slice(suffix));
        s->acc.*field += 1;
      }
      if (changed) {
        txn_->Put(cf_.seen, key, cache->dims());
        // Active under a second region in this period: index the mover.
        if (kind == kSeenActive && region_added && RegionTokens(cache->dims()) >= 2) {
          std::string mover = prefix_;
          mover.push_back(kSeenMover);
          mover.append(encoded);
          mover.append(customer);
          txn_->Put(cf_.seen, mover, "");
        }
        if (cache->tracked() && pkey > cache->max_period())
          cache->set_max_period(std::string(pkey));
      }
    }
    return absl::OkStatus();
  }

  // Snapshot change at t's civil day for each dimension value of d. The
  // stored total is read at Flush, only for deltas not cached yet.
  void AddDelta(absl::Time t, const Dims& d, int64_t pipeline, int64_t open, int64_t customers) {
    internal::ReviewDelta change;
    change.set_pipeline_percent_units(pipeline);
    change.set_open_opportunities(open);
    change.set_customers(customers);
    AddDelta(t, d, change);
  }
  void AddDelta(absl::Time t, const Dims& d, const internal::ReviewDelta& change) {
    const int64_t day = DayNumber(absl::ToCivilDay(t, rules_.zone));
    std::string key;
    for (const DimKey& dim : DimKeys(d, rules_.tier_dimension)) {
      key.assign(dim.token);
      store::AppendI64(key, day);
      Delta* delta = part_->deltas.Touch(key, generation_);
      if (delta == nullptr) delta = part_->deltas.Insert(key, Delta{}, generation_);
      AddDeltaInto(delta->value, change);
    }
  }

  void Due(int64_t micros, const std::string& customer, std::string_view subject, bool put) {
    std::string key = prefix_;
    store::AppendI64(key, micros);
    store::AppendId(key, customer);
    key.append(subject);
    if (put) {
      txn_->Put(cf_.due, key, "");
    } else {
      txn_->Delete(cf_.due, key);
    }
  }

  void Index(store::ColumnFamily cf, const std::string& value, const std::string& customer,
             bool put) {
    std::string key = prefix_;
    store::AppendId(key, value);
    key.append(customer);
    if (put) {
      txn_->Put(cf, key, "");
    } else {
      txn_->Delete(cf, key);
    }
  }

  // Writes what this batch touched (each family in key order, so the writes
  // are deterministic) and ends the batch.
  absl::Status Flush() {
    std::string key = prefix_;
    std::string value;
    auto full_key = [&](const std::string& k) -> const std::string& {
      key.resize(prefix_.size());
      key.append(k);
      return key;
    };
    PartState& part = *part_;
    absl::Status status = part.customers.Flush([&](const std::string& id, const auto& c) {
      c.SerializeToString(&value);
      txn_->PutUnread(cf_.customer, full_key(id), value);
      return absl::OkStatus();
    });
    status.Update(part.opps.Flush([&](const std::string& k, const auto& o) {
      o.SerializeToString(&value);
      txn_->PutUnread(cf_.opp, full_key(k), value);
      return absl::OkStatus();
    }));
    status.Update(part.slices.Flush([&](const std::string& suffix, const SliceState& s) {
      EncodeSlice(s, value);
      txn_->PutUnread(cf_.slice, full_key(suffix), value);
      return absl::OkStatus();
    }));
    status.Update(part.deltas.Flush([&](const std::string& k, Delta& d) -> absl::Status {
      if (!d.loaded) {
        ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.delta, full_key(k)));
        internal::ReviewDelta total;
        if (stored && !total.ParseFromString(*stored)) return absl::DataLossError("corrupt delta");
        AddDeltaInto(d.value, total);
        d.loaded = true;
      }
      if (DeltaIsZero(d.value)) {
        txn_->Delete(cf_.delta, full_key(k));
        return absl::OkStatus();
      }
      d.value.SerializeToString(&value);
      txn_->PutUnread(cf_.delta, full_key(k), value);
      return absl::OkStatus();
    }));
    seen_.clear();
    txn_ = nullptr;
    part_ = nullptr;
    if (!status.ok()) {
      Abandon();
      return status;
    }
    ++generation_;
    Evict();
    return absl::OkStatus();
  }

  // The batch will not be committed: forget everything cached (the store
  // holds the state as of the last commit).
  void Abandon() {
    for (PartState& p : parts_) {
      p.customers.Clear();
      p.opps.Clear();
      p.slices.Clear();
      p.deltas.Clear();
    }
    seen_.clear();
    txn_ = nullptr;
    part_ = nullptr;
  }

  const std::string& prefix() const { return prefix_; }
  projection::Txn& txn() { return *txn_; }

 private:
  // A snapshot delta: the stored total plus this batch's change, or only the
  // change until Flush has read the total (`loaded`).
  struct Delta {
    internal::ReviewDelta value;
    bool loaded = false;
  };
  struct PartState {
    WriteBackCache<internal::ReviewCustomer> customers;  // customer_id
    WriteBackCache<internal::ReviewOpportunity> opps;    // customer_id\0 opportunity_id
    WriteBackCache<SliceState> slices;                   // slice suffix
    WriteBackCache<Delta> deltas;                        // dim|value\0|day
  };

  // Over a bound, drops what the last rounds of batches (one per partition)
  // did not touch; over it still, everything of that family.
  void Evict() {
    const uint64_t round = parts_.size();
    auto bound = [&](auto member, size_t max) {
      size_t total = 0;
      for (PartState& p : parts_) total += (p.*member).size();
      if (total <= max) return;
      const uint64_t keep_from = generation_ > 2 * round ? generation_ - 2 * round : 0;
      total = 0;
      for (PartState& p : parts_) {
        (p.*member).EvictOlderThan(keep_from);
        total += (p.*member).size();
      }
      if (total <= max * 3 / 4) return;
      for (PartState& p : parts_) (p.*member).Clear();
    };
    bound(&PartState::slices, kMaxCachedSlices);
    bound(&PartState::customers, kMaxCachedCustomers);
    bound(&PartState::opps, kMaxCachedOpportunities);
    bound(&PartState::deltas, kMaxCachedDeltas);
  }

  const ReviewRules& rules_;
  const Families& cf_;
  projection::Txn* txn_ = nullptr;
  std::string prefix_;
  std::vector<PartState> parts_;
  PartState* part_ = nullptr;
  uint64_t generation_ = 1;
  absl::flat_hash_map<int64_t, DayPeriods> periods_;  // by DayNumber
  absl::flat_hash_set<std::string> seen_;             // this batch's FirstSeen keys
};

ReviewProjection::ReviewProjection(ReviewRules rules) : rules_(std::move(rules)) {}
ReviewProjection::~ReviewProjection() = default;

std::vector<std::string> ReviewProjection::ColumnFamilies() const {
  return {"rv_slice", "rv_delta",  "rv_seen", "rv_customer", "rv_opp",
          "rv_owner", "rv_region", "rv_due",  "rv_tier",     "rv_activity"};
}

absl::Status ReviewProjection::Attach(store::Store& store, int partitions) {
  store_ = &store;
  cf_ = {.slice = store.Family("rv_slice"),
         .delta = store.Family("rv_delta"),
         .seen = store.Family("rv_seen"),
         .customer = store.Family("rv_customer"),
         .opp = store.Family("rv_opp"),
         .owner = store.Family("rv_owner"),
         .region = store.Family("rv_region"),
         .due = store.Family("rv_due"),
         .tier = store.Family("rv_tier"),
         .activity = store.Family("rv_activity")};
  batch_ = std::make_unique<Batch>(rules_, cf_, partitions);
  return absl::OkStatus();
}

namespace {

// Applies one event to the batch. Helpers share the batch and the rules.
class Applier {
 public:
  Applier(ReviewProjection::Batch& b, const ReviewRules& rules,
          const ReviewProjection::Families& cf, absl::Time now)
      : b_(b), rules_(rules), cf_(cf), now_(now) {}

  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& e);
  // Re-evaluates a complaint's SLA clocks: counts new breaches (in the
  // period of their due instant) and re-indexes the next due.
  absl::Status Sla(const std::string& customer_id, internal::ReviewCustomer& c,
                   internal::ReviewComplaint& complaint);
  // Re-indexes the customer's contact due and emits ContactOverdue when due.
  void Cadence(const std::string& customer_id, internal::ReviewCustomer& c);
  // Recomputes the customer's derived timelines (lifecycle stages and
  // losses, negative asset, overdue receivables) up to the horizon, counts
  // the difference from what was counted, and indexes the next change.
  // The horizon is max(now, the customer's latest event, at_least).
  absl::Status Derive(const std::string& customer_id, internal::ReviewCustomer& c,
                      int64_t at_least = 0);

 private:
  absl::Status Purchase(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                        const std::string& actor, const std::string& product, int64_t amount,
                        int64_t cost);
  absl::Status StageChange(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                           const std::string& actor, const v1::OpportunityStageChanged& s);
  void Reindex(const std::string& id, internal::ReviewCustomer& c);
  // Counts (+1) or uncounts (-1) one derived piece.
  absl::Status CountPiece(const internal::ReviewCustomer& c, const internal::ReviewDerived& p,
                          int sign);
  void SaveTierFacts(const std::string& id, const internal::ReviewCustomer& c);
  // rv_activity: the customer's name as of its latest naming event (event
  // time; at equal times the later in the log), and a complaint's category.
  absl::Status SaveName(const std::string& id, int64_t t, const std::string& name);
  void SaveComplaintCategory(const std::string& id, const std::string& complaint_id,
                             v1::ComplaintCategory category);

  ReviewProjection::Batch& b_;
  const ReviewRules& rules_;
  const ReviewProjection::Families& cf_;
  absl::Time now_;
  const projection::ApplyContext* ctx_ = nullptr;
};

void Applier::Reindex(const std::string& id, internal::ReviewCustomer& c) {
  if (c.profile_size() == 0) return;
  const internal::ReviewProfileAt& now = c.profile(c.profile_size() - 1);
  if (now.owner_id() != c.indexed_owner()) {
    if (!c.indexed_owner().empty()) b_.Index(cf_.owner, c.indexed_owner(), id, false);
    if (!now.owner_id().empty()) b_.Index(cf_.owner, now.owner_id(), id, true);
    c.set_indexed_owner(now.owner_id());
  }
  if (now.region() != c.indexed_region()) {
    if (!c.indexed_region().empty()) b_.Index(cf_.region, c.indexed_region(), id, false);
    if (!now.region().empty()) b_.Index(cf_.region, now.region(), id, true);
    c.set_indexed_region(now.region());
  }
}

void Applier::Cadence(const std::string& id, internal::ReviewCustomer& c) {
  const std::optional<domain::ContactDue> due = ContactDueOf(c, rules_.worklist.cadence);
  // Overdue strictly after due: index the first microsecond after it.
  const int64_t at = due ? absl::ToUnixMicros(due->due) + 1 : 0;
  if (due && due->overdue(now_) && c.overdue_emitted_due_micros() != at) {
    c.set_overdue_emitted_due_micros(at);
    v1::StateChange change;
    change.set_customer_id(id);
    *change.mutable_at() = event::ToProto(FromMicros(at));
    v1::ContactOverdue* d = change.mutable_contact_overdue();
    d->set_owner_id(c.indexed_owner());
    *d->mutable_due() = event::ToProto(due->due);
    if (c.last_visit_micros() != 0) {
      *d->mutable_last_visit_at() = event::ToProto(FromMicros(c.last_visit_micros()));
    }
    b_.txn().Emit(std::move(change));
  }
  const int64_t next = (due && !due->overdue(now_)) ? at : 0;
  if (next == c.contact_due_micros()) return;
  if (c.contact_due_micros() != 0) b_.Due(c.contact_due_micros(), id, "~", false);
  if (next != 0) b_.Due(next, id, "~", true);
  c.set_contact_due_micros(next);
}

absl::Status Applier::Sla(const std::string& id, internal::ReviewCustomer& c,
                          internal::ReviewComplaint& cp) {
  const v1::Severity severity = static_cast<v1::Severity>(cp.severity());
  const domain::ComplaintSla sla = domain::EvaluateComplaintSla(
      severity, FromMicros(cp.filed_micros()), StepsOf(cp), now_, rules_.worklist.sla);
  std::optional<int64_t> next;
  for (size_t i = 0; i < sla.episodes.size(); ++i) {
    const domain::SlaEpisode& ep = sla.episodes[i];
    for (const auto& [clock, tag, name] :
         {std::tuple{&ep.response, 'r', "first_response"}, {&ep.resolution, 's', "resolution"}}) {
      if (clock->state == domain::SlaState::kPending) {
        const int64_t due = absl::ToUnixMicros(clock->due);
        if (!next || due < *next) next = due;
        continue;
      }
      if (clock->state != domain::SlaState::kBreached) continue;
      const std::string mark = absl::StrCat(i, "/", std::string(1, tag));
      if (std::find(cp.counted().begin(), cp.counted().end(), mark) != cp.counted().end()) continue;
      cp.add_counted(mark);
      const int64_t due = absl::ToUnixMicros(clock->due);
      absl::Status status;
      RETURN_IF_ERROR(
          b_.ForEach(clock->due, BaseDims(c, due), [&](SliceState& s, const std::string& suffix) {
            s.acc.sla_breaches += 1;
            if (status.ok()) status = b_.FirstSeen(kSubjectBreach, suffix, id).status();
          }));
      RETURN_IF_ERROR(status);
      v1::StateChange change;
      change.set_customer_id(id);
      *change.mutable_at() = event::ToProto(clock->due);
      v1::ComplaintSlaBreached* d = change.mutable_complaint_sla_breached();
      d->set_complaint_id(cp.complaint_id());
      d->set_severity(severity);
      d->set_clock(name);
      *d->mutable_due() = event::ToProto(clock->due);
      d->set_episode(static_cast<int32_t>(i));
      if (ctx_ != nullptr) {
        change.mutable_source()->set_topic(std::string(ctx_->topic));
        change.mutable_source()->set_partition(ctx_->partition.value());
        change.mutable_source()->set_offset(ctx_->offset.value());
      }
      b_.txn().Emit(std::move(change));
    }
  }
  const int64_t due = next.value_or(0);
  if (due != cp.due_micros()) {
    if (cp.due_micros() != 0) b_.Due(cp.due_micros(), id, "c" + cp.complaint_id(), false);
    if (due != 0) b_.Due(due, id, "c" + cp.complaint_id(), true);
    cp.set_due_micros(due);
  }
  return absl::OkStatus();
}

void Applier::SaveTierFacts(const std::string& id, const internal::ReviewCustomer& c) {
  b_.txn().Put(cf_.tier, b_.prefix() + id, c.tier_facts().SerializeAsString());
}

absl::Status Applier::SaveName(const std::string& id, int64_t t, const std::string& name) {
  std::string key = b_.prefix();
  store::AppendId(key, id);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, b_.txn().Get(cf_.activity, key));
  if (stored && stored->size() >= 8) {
    std::string_view v = *stored;
    if (store::ReadI64(v) > t) return absl::OkStatus();  // a late event: not the current name
  }
  std::string value;
  store::AppendI64(value, t);
  value.append(name);
  b_.txn().Put(cf_.activity, key, value);
  return absl::OkStatus();
}

void Applier::SaveComplaintCategory(const std::string& id, const std::string& complaint_id,
                                    v1::ComplaintCategory category) {
  std::string key = b_.prefix();
  store::AppendId(key, id);
  key.append(complaint_id);
  std::string value;
  store::AppendU32(value, static_cast<uint32_t>(category));
  b_.txn().Put(cf_.activity, key, value);
}

absl::Status Applier::CountPiece(const internal::ReviewCustomer& c,
                                 const internal::ReviewDerived& p, int sign) {
  const Dims d{.region = p.region(),
               .industry = p.industry(),
               .owner = p.owner_id(),
               .channel = p.channel(),
               .product = "",
               .customer = c.customer_id()};
  const std::string& id = c.customer_id();
  if (p.kind() == kPieceLost || p.kind() == kPieceWinBack) {
    absl::Status status;
    RETURN_IF_ERROR(b_.ForEach(FromMicros(p.from()), d, [&](SliceState& s, const std::string& sfx) {
      if (p.kind() == kPieceWinBack) {
        s.acc.win_backs += sign;
        return;
      }
      s.acc.lost_customers += sign;
      if (!status.ok()) return;
      status = sign > 0 ? b_.FirstSeen(kSubjectLost, sfx, id).status()
                        : b_.Unsee(kSubjectLost, sfx, id).status();
    }));
    return status;
  }
  internal::ReviewDelta change;
  const int64_t v = sign * p.value();
  switch (p.kind()) {
    case kPieceCustomer:
      change.set_customers(v);
      break;
    case kPieceIntent:
      change.set_intent(v);
      break;
    case kPieceNegative:
      change.set_negative_assets(v);
      break;
    case kPieceOverdue:
      change.set_overdue_units(v);
      break;
    default:
      return absl::OkStatus();
  }
  b_.AddDelta(FromMicros(p.from()), d, change);
  if (p.to() != 0) {
    internal::ReviewDelta undo;
    AddDeltaInto(undo, change);
    undo.set_customers(-undo.customers());
    undo.set_intent(-undo.intent());
    undo.set_negative_assets(-undo.negative_assets());
    undo.set_overdue_units(-undo.overdue_units());
    b_.AddDelta(FromMicros(p.to()), d, undo);
  }
  return absl::OkStatus();
}

absl::Status Applier::Derive(const std::string& id, internal::ReviewCustomer& c, int64_t at_least) {
  const int64_t horizon = std::max({absl::ToUnixMicros(now_), c.latest_event_micros(), at_least});
  int64_t next = kForever;
  std::vector<internal::ReviewDerived> pieces;
  const v1::LifecycleStage stage = LifecyclePieces(c, horizon, rules_.lifecycle, pieces, next);
  NegativePieces(c, horizon, rules_, pieces, next);
  OverduePieces(c, horizon, pieces, next);
  // Each piece counts under the dimensions the customer had when it started.
  for (internal::ReviewDerived& p : pieces) {
    const Dims d = BaseDims(c, p.from());
    p.set_region(d.region);
    p.set_industry(d.industry);
    p.set_owner_id(d.owner);
    p.set_channel(d.channel);
  }
  // Count the difference from what is counted (multisets of pieces).
  std::vector<std::pair<std::string, int>> was, now;
  for (int i = 0; i < c.derived_size(); ++i) was.emplace_back(c.derived(i).SerializeAsString(), i);
  for (int i = 0; i < static_cast<int>(pieces.size()); ++i) {
    now.emplace_back(pieces[i].SerializeAsString(), i);
  }
  std::sort(was.begin(), was.end());
  std::sort(now.begin(), now.end());
  std::vector<int> removed, added;
  size_t i = 0, j = 0;
  while (i < was.size() || j < now.size()) {
    if (j == now.size() || (i < was.size() && was[i].first < now[j].first)) {
      removed.push_back(was[i++].second);
    } else if (i == was.size() || now[j].first < was[i].first) {
      added.push_back(now[j++].second);
    } else {
      ++i;
      ++j;
    }
  }
  // Removals first: a loss moved to other dimensions unmarks, then marks.
  for (int k : removed) RETURN_IF_ERROR(CountPiece(c, c.derived(k), -1));
  for (int k : added) RETURN_IF_ERROR(CountPiece(c, pieces[k], +1));
  c.mutable_derived()->Clear();
  for (auto& p : pieces) *c.add_derived() = std::move(p);
  c.set_stage_now(stage);
  c.set_derived_horizon_micros(horizon);
  const int64_t due = next == kForever ? 0 : next;
  if (due != c.derive_due_micros()) {
    if (c.derive_due_micros() != 0) b_.Due(c.derive_due_micros(), id, "L", false);
    if (due != 0) b_.Due(due, id, "L", true);
    c.set_derive_due_micros(due);
  }
  return absl::OkStatus();
}

absl::Status Applier::Purchase(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                               const std::string& actor, const std::string& product, int64_t amount,
                               int64_t cost) {
  const absl::Time at = FromMicros(t);
  RETURN_IF_ERROR(b_.ForEach(
      at, DealDims(c, t, actor, product),
      [&](SliceState& s, const std::string&) { domain::AddPurchase(s.acc, id, amount, cost); }));
  const Dims base = BaseDims(c, t);
  RETURN_IF_ERROR(
      b_.CountDistinct(c, kSeenPurchasing, at, base, id, &ReviewAccumulator::purchasing_customers));
  const int64_t first = c.first_purchase_micros();
  if (first != 0 && first < t) {
    RETURN_IF_ERROR(b_.CountDistinct(c, kSeenRepeat, at, base, id,
                                     &ReviewAccumulator::repeat_purchasing_customers));
  }
  // Win-backs, losses and the CUSTOMER-stage snapshot follow the lifecycle
  // rules (Derive).
  if (first == 0 || t < first) {
    if (first != 0) {
      // A late purchase before the known first one: the customer was new in
      // the earlier period, not in the later one.
      RETURN_IF_ERROR(
          b_.ForEach(FromMicros(first), BaseDims(c, first),
                     [](SliceState& s, const std::string&) { s.acc.new_customers -= 1; }));
    }
    RETURN_IF_ERROR(
        b_.ForEach(at, base, [](SliceState& s, const std::string&) { s.acc.new_customers += 1; }));
    c.set_first_purchase_micros(t);
  }
  auto* ps = c.mutable_purchase_micros();
  ps->Add(t);
  std::sort(ps->begin(), ps->end());
  // Window margin facts for tiers and negative assets (value rules).
  internal::ReviewTierFacts* tf = c.mutable_tier_facts();
  const auto pos = std::upper_bound(tf->purchase_micros().begin(), tf->purchase_micros().end(), t);
  const int index = static_cast<int>(pos - tf->purchase_micros().begin());
  tf->add_purchase_micros(t);
  tf->add_margin_units(amount - cost);
  for (int i = tf->purchase_micros_size() - 1; i > index; --i) {
    tf->mutable_purchase_micros()->SwapElements(i, i - 1);
    tf->mutable_margin_units()->SwapElements(i, i - 1);
  }
  SaveTierFacts(id, c);
  return absl::OkStatus();
}

absl::Status Applier::StageChange(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                  const std::string& actor, const v1::OpportunityStageChanged& s) {
  bool found = false;
  ASSIGN_OR_RETURN(internal::ReviewOpportunity * o, b_.Opportunity(id, s.opportunity_id(), &found));
  if (!found) {
    // A stage change without an open: known from here on, open time unknown.
    const Dims d = DealDims(c, t, actor, "");
    o->set_region(d.region);
    o->set_industry(d.industry);
    o->set_owner_id(d.owner);
    o->set_channel(d.channel);
    o->set_customer_id(id);
    o->set_actor_id(actor);
    o->mutable_entered_micros()->Resize(7, 0);
  }
  if (o->closed()) {
    return absl::FailedPreconditionError("opportunity_already_closed");
  }
  const absl::Time at = FromMicros(t);
  const Dims od = OpportunityDims(*o);
  const int stage = s.stage();
  if (stage >= 1 && stage <= 6) {
    // Entering stage m enters every stage below it not entered yet; each
    // stage entered before goes "further" now.
    for (int k = 1; k < stage; ++k) {
      const int64_t entered = o->entered_micros(k);
      const bool was_top = k >= o->max_stage();  // not yet gone further
      if (entered != 0 && was_top) {
        RETURN_IF_ERROR(
            b_.ForEach(FromMicros(entered), od,
                       [k](SliceState& sl, const std::string&) { sl.advanced[k] += 1; }));
      }
    }
    for (int k = o->max_stage() + 1; k <= stage; ++k) {
      o->set_entered_micros(k, t);
      const bool goes_further = k < stage;
      RETURN_IF_ERROR(b_.ForEach(at, od, [k, goes_further](SliceState& sl, const std::string&) {
        sl.entered[k] += 1;
        if (goes_further) sl.advanced[k] += 1;
      }));
    }
    o->set_max_stage(std::max(o->max_stage(), stage));
  }
  o->set_stage(stage);
  const Dims deal = DealDims(c, t, actor.empty() ? o->actor_id() : actor, o->product());
  if (stage == v1::FUNNEL_STAGE_CONTRACT_SIGNED || stage == v1::FUNNEL_STAGE_LOST) {
    o->set_closed(true);
    b_.AddDelta(at, od, -o->pipeline_percent_units(), o->opened_micros() != 0 ? -1 : 0, 0);
    o->set_pipeline_percent_units(0);
    if (stage == v1::FUNNEL_STAGE_CONTRACT_SIGNED) {
      const int64_t cycle = o->opened_micros() != 0 ? (t - o->opened_micros()) / 1'000'000 : -1;
      RETURN_IF_ERROR(b_.ForEach(at, deal, [cycle](SliceState& sl, const std::string&) {
        sl.acc.opportunities_won += 1;
        if (cycle >= 0) {
          sl.acc.won_cycle_seconds = Saturating(sl.acc.won_cycle_seconds, cycle);
          sl.acc.won_with_cycle += 1;
        }
      }));
    } else {
      const std::string& competitor = s.competitor();
      const int64_t amount = o->amount_units();
      absl::Status status;
      RETURN_IF_ERROR(b_.ForEach(at, deal, [&](SliceState& sl, const std::string& suffix) {
        sl.acc.opportunities_lost += 1;
        sl.lost_by_competitor[competitor] += 1;
        sl.lost_amount_by_competitor[competitor] =
            Saturating(sl.lost_amount_by_competitor[competitor], amount);
        if (status.ok()) {
          status = b_.FirstSeen(kSubjectLostOpportunity, suffix, s.opportunity_id()).status();
        }
      }));
      RETURN_IF_ERROR(status);
    }
  } else if (o->opened_micros() != 0) {
    const int64_t weighted =
        o->amount_units() * domain::FunnelProbability(static_cast<v1::FunnelStage>(stage));
    b_.AddDelta(at, od, weighted - o->pipeline_percent_units(), 0, 0);
    o->set_pipeline_percent_units(weighted);
  }
  return absl::OkStatus();
}

absl::Status Applier::Apply(const projection::ApplyContext& ctx, const v1::Event& e) {
  ctx_ = &ctx;
  const std::string& id = e.customer_id();
  ASSIGN_OR_RETURN(internal::ReviewCustomer * cp, b_.Customer(id));
  internal::ReviewCustomer& c = *cp;
  if (c.customer_id().empty()) c.set_customer_id(id);
  const int64_t t = Micros(e.occurred_at());
  const absl::Time at = FromMicros(t);
  const std::string& actor = e.actor_id();

  if (domain::IsActivity(e)) {
    RETURN_IF_ERROR(b_.CountDistinct(c, kSeenActive, at, BaseDims(c, t), id,
                                     &ReviewAccumulator::active_customers));
  }
  switch (e.payload_case()) {
    case v1::Event::kCustomerRegistered:
    case v1::Event::kCustomerProfileUpdated: {
      internal::ReviewProfileAt p;
      if (const auto* before = ProfileAt(c, t); before != nullptr) p = *before;
      p.set_at_micros(t);
      if (e.has_customer_registered()) {
        const auto& r = e.customer_registered();
        p.set_region(r.region());
        p.set_industry(r.industry());
        p.set_owner_id(r.owner_id());
        p.set_channel(r.channel());
        p.set_kind(r.kind());
        c.set_registered(true);
        c.set_registered_micros(t);
        RETURN_IF_ERROR(SaveName(id, t, r.name()));
      } else {
        const auto& u = e.customer_profile_updated();
        if (u.has_name()) RETURN_IF_ERROR(SaveName(id, t, u.name()));
        if (u.has_region()) p.set_region(u.region());
        if (u.has_industry()) p.set_industry(u.industry());
        if (u.has_owner_id()) p.set_owner_id(u.owner_id());
        if (u.has_channel()) p.set_channel(u.channel());
        if (u.kind() != v1::CUSTOMER_KIND_UNSPECIFIED) p.set_kind(u.kind());
      }
      auto* list = c.mutable_profile();
      auto pos = std::upper_bound(
          list->begin(), list->end(), t,
          [](int64_t v, const internal::ReviewProfileAt& x) { return v < x.at_micros(); });
      const int index = static_cast<int>(pos - list->begin());
      list->Add(std::move(p));
      for (int i = list->size() - 1; i > index; --i) list->SwapElements(i, i - 1);
      Reindex(id, c);
      // Value's population: registered customers and agents (latest kind).
      const int kind = list->Get(list->size() - 1).kind();
      const bool takes_part =
          c.registered() && (kind == v1::CUSTOMER_KIND_CUSTOMER || kind == v1::CUSTOMER_KIND_AGENT);
      if (takes_part != c.tier_facts().takes_part()) {
        c.mutable_tier_facts()->set_takes_part(takes_part);
        SaveTierFacts(id, c);
      }
      break;
    }
    case v1::Event::kContactAdded: {
      const auto& a = e.contact_added();
      internal::ReviewContact* ct = nullptr;
      for (auto& x : *c.mutable_contacts()) {
        if (x.contact_id() == a.contact_id()) ct = &x;
      }
      if (ct == nullptr) ct = c.add_contacts();
      ct->set_contact_id(a.contact_id());
      if (a.has_birthday()) {
        ct->set_birthday_year(a.birthday().year());
        ct->set_birthday_month(a.birthday().month());
        ct->set_birthday_day(a.birthday().day());
      }
      break;
    }
    case v1::Event::kVisitLogged: {
      RETURN_IF_ERROR(b_.ForEach(at, DealDims(c, t, actor, ""),
                                 [](SliceState& s, const std::string&) { s.acc.visits += 1; }));
      // Coverage: a visit to a customer that was in stage INTENT or
      // CUSTOMER at the period's start (the coverage base, docs/review.md),
      // as counted in the snapshot: a piece [from, to) is in the snapshot
      // before the first day iff from < start <= to.
      if (c.derived_horizon_micros() < t) RETURN_IF_ERROR(Derive(id, c, t));
      RETURN_IF_ERROR(b_.CountDistinct(
          c, kSeenCovered, at, BaseDims(c, t), id, &ReviewAccumulator::covered_customers,
          [&](const domain::ReportingPeriod& p) {
            const int64_t start = absl::ToUnixMicros(domain::PeriodStart(p, rules_.zone));
            for (const auto& piece : c.derived()) {
              if (piece.kind() != kPieceCustomer && piece.kind() != kPieceIntent) continue;
              if (piece.from() < start && (piece.to() == 0 || start <= piece.to())) return true;
            }
            return false;
          }));
      c.set_last_visit_micros(std::max(c.last_visit_micros(), t));
      {
        auto* v = c.mutable_visit_micros();
        const auto pos = std::upper_bound(v->begin(), v->end(), t);
        const int index = static_cast<int>(pos - v->begin());
        v->Add(t);
        for (int i = v->size() - 1; i > index; --i) v->SwapElements(i, i - 1);
      }
      break;
    }
    case v1::Event::kOpportunityOpened: {
      const auto& o = e.opportunity_opened();
      bool found = false;
      ASSIGN_OR_RETURN(internal::ReviewOpportunity * op,
                       b_.Opportunity(id, o.opportunity_id(), &found));
      if (found) return absl::FailedPreconditionError("opportunity_already_opened");
      const Dims d = DealDims(c, t, actor, o.product());
      op->set_opened_micros(t);
      op->set_amount_units(o.amount().units());
      op->set_product(o.product());
      op->set_actor_id(actor);
      op->set_region(d.region);
      op->set_industry(d.industry);
      op->set_owner_id(d.owner);
      op->set_channel(d.channel);
      op->set_customer_id(id);
      op->mutable_entered_micros()->Resize(7, 0);
      op->set_entered_micros(1, t);
      op->set_max_stage(1);
      op->set_stage(1);
      op->set_pipeline_percent_units(o.amount().units() *
                                     domain::FunnelProbability(v1::FUNNEL_STAGE_OPPORTUNITY));
      RETURN_IF_ERROR(
          b_.ForEach(at, d, [](SliceState& s, const std::string&) { s.entered[1] += 1; }));
      b_.AddDelta(at, d, op->pipeline_percent_units(), 1, 0);
      if (c.intent_micros() == 0 || t < c.intent_micros()) c.set_intent_micros(t);
      break;
    }
    case v1::Event::kOpportunityStageChanged:
      RETURN_IF_ERROR(StageChange(id, c, t, actor, e.opportunity_stage_changed()));
      break;
    case v1::Event::kQuoteIssued: {
      const auto& q = e.quote_issued();
      RETURN_IF_ERROR(
          b_.ForEach(at, DealDims(c, t, actor, ""), [&](SliceState& s, const std::string&) {
            s.acc.quotes += 1;
            if (q.list_amount().units() > 0) {
              s.acc.quoted_units = Saturating(s.acc.quoted_units, q.amount().units());
              s.acc.quoted_list_units =
                  Saturating(s.acc.quoted_list_units, q.list_amount().units());
            }
          }));
      if (c.intent_micros() == 0 || t < c.intent_micros()) c.set_intent_micros(t);
      break;
    }
    case v1::Event::kContractSigned: {
      const auto& s = e.contract_signed();
      internal::ReviewContract* k = c.add_contracts();
      k->set_contract_id(s.contract_id());
      k->set_signed_micros(t);
      k->set_end_micros(s.has_end() ? Micros(s.end()) : 0);
      const int64_t start = s.has_start() ? Micros(s.start()) : t;
      k->set_payment_due_micros(s.has_payment_due()
                                    ? Micros(s.payment_due())
                                    : start + absl::ToInt64Microseconds(absl::Hours(24 * 30)));
      k->set_amount_units(s.amount().units());
      k->set_signed_amount_units(s.amount().units());
      RETURN_IF_ERROR(Purchase(id, c, t, actor, s.product(), s.amount().units(), s.cost().units()));
      break;
    }
    case v1::Event::kContractRenewed: {
      const auto& r = e.contract_renewed();
      for (auto& k : *c.mutable_contracts()) {
        if (k.contract_id() == r.contract_id() && r.has_new_end()) {
          k.set_end_micros(Micros(r.new_end()));
          k.set_amount_units(Saturating(k.amount_units(), r.amount().units()));
          k.add_renewal_micros(t);
          k.add_renewal_units(r.amount().units());
        }
      }
      RETURN_IF_ERROR(Purchase(id, c, t, actor, "", r.amount().units(), r.cost().units()));
      break;
    }
    case v1::Event::kContractTerminated:
      for (auto& k : *c.mutable_contracts()) {
        if (k.contract_id() == e.contract_terminated().contract_id()) {
          k.set_terminated(true);
          if (k.terminated_micros() == 0 || t < k.terminated_micros()) k.set_terminated_micros(t);
        }
      }
      break;
    case v1::Event::kPaymentReceived: {
      const auto& p = e.payment_received();
      RETURN_IF_ERROR(
          b_.ForEach(at, DealDims(c, t, actor, ""), [&](SliceState& s, const std::string&) {
            s.acc.payments_units = Saturating(s.acc.payments_units, p.amount().units());
          }));
      for (auto& k : *c.mutable_contracts()) {
        if (k.contract_id() == p.contract_id()) {
          k.set_paid_units(Saturating(k.paid_units(), p.amount().units()));
          k.add_payment_micros(t);
          k.add_payment_units(p.amount().units());
        }
      }
      break;
    }
    case v1::Event::kComplaintFiled: {
      const auto& f = e.complaint_filed();
      for (const auto& x : c.complaints()) {
        if (x.complaint_id() == f.complaint_id()) {
          return absl::FailedPreconditionError("complaint_already_filed");
        }
      }
      RETURN_IF_ERROR(b_.ForEach(at, BaseDims(c, t),
                                 [](SliceState& s, const std::string&) { s.acc.complaints += 1; }));
      internal::ReviewComplaint* k = c.add_complaints();
      k->set_complaint_id(f.complaint_id());
      k->set_severity(f.severity());
      k->set_filed_micros(t);
      SaveComplaintCategory(id, f.complaint_id(), f.category());
      RETURN_IF_ERROR(Sla(id, c, *k));
      break;
    }
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened: {
      const std::string& cid = e.has_complaint_responded()  ? e.complaint_responded().complaint_id()
                               : e.has_complaint_resolved() ? e.complaint_resolved().complaint_id()
                                                            : e.complaint_reopened().complaint_id();
      internal::ReviewComplaint* k = nullptr;
      for (auto& x : *c.mutable_complaints()) {
        if (x.complaint_id() == cid) k = &x;
      }
      if (k == nullptr) return absl::FailedPreconditionError("unknown_complaint");
      const domain::ComplaintStep step =
          e.has_complaint_responded()  ? domain::ComplaintStep::kResponded
          : e.has_complaint_resolved() ? domain::ComplaintStep::kResolved
                                       : domain::ComplaintStep::kReopened;
      // Durations from the start of the episode the step belongs to.
      const domain::ComplaintSla before = domain::EvaluateComplaintSla(
          static_cast<v1::Severity>(k->severity()), FromMicros(k->filed_micros()), StepsOf(*k), at,
          rules_.worklist.sla);
      const domain::SlaEpisode& ep = before.current();
      k->add_step_kinds(static_cast<int32_t>(step));
      k->add_step_micros(t);
      const Dims base = BaseDims(c, t);
      if (step == domain::ComplaintStep::kResponded && !ep.response.done_at) {
        RETURN_IF_ERROR(b_.ForEach(at, base, [&](SliceState& s, const std::string&) {
          domain::AddResponse(s.acc, at - ep.started_at);
        }));
      } else if (step == domain::ComplaintStep::kResolved && before.open) {
        const bool satisfied = e.complaint_resolved().satisfied();
        RETURN_IF_ERROR(b_.ForEach(at, base, [&](SliceState& s, const std::string&) {
          domain::AddResolution(s.acc, at - ep.started_at);
          s.acc.complaints_resolved += 1;
          if (satisfied) s.acc.complaints_resolved_satisfied += 1;
        }));
      }
      RETURN_IF_ERROR(Sla(id, c, *k));
      break;
    }
    case v1::Event::kSatisfactionSurveyed: {
      const int64_t csat = e.satisfaction_surveyed().csat();
      RETURN_IF_ERROR(b_.ForEach(at, BaseDims(c, t), [csat](SliceState& s, const std::string&) {
        s.acc.csat_sum += csat;
        s.acc.csat_surveys += 1;
      }));
      break;
    }
    case v1::Event::kReferralMade:
      RETURN_IF_ERROR(b_.ForEach(at, BaseDims(c, t),
                                 [](SliceState& s, const std::string&) { s.acc.referrals += 1; }));
      break;
    case v1::Event::kCustomerChurned:
      // Counted as a loss through the lifecycle rules (Derive).
      c.set_churned_micros(std::max(c.churned_micros(), t));
      break;
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::PAYLOAD_NOT_SET:
      break;
  }
  // The lifecycle's facts (profile updates and contacts do not move stages).
  if (!e.has_customer_profile_updated() && !e.has_contact_added()) {
    (void)domain::Evolve(*c.mutable_lifecycle(), e);
  }
  c.set_latest_event_micros(std::max(c.latest_event_micros(), t));
  RETURN_IF_ERROR(Derive(id, c));
  Cadence(id, c);
  return absl::OkStatus();
}

}  // namespace

absl::Status ReviewProjection::Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                                     projection::Txn& txn) {
  batch_->Begin(txn);
  Applier applier(*batch_, rules_, cf_, ctx.now);
  return applier.Apply(ctx, event);
}

absl::Status ReviewProjection::Flush(Partition /*partition*/, absl::Time /*now*/,
                                     projection::Txn& txn) {
  batch_->Begin(txn);
  return batch_->Flush();
}

void ReviewProjection::Abandon(Partition /*partition*/) { batch_->Abandon(); }

absl::Status ReviewProjection::Tick(Partition partition, absl::Time now, projection::Txn& txn) {
  batch_->Begin(txn);
  // Collect the due entries first: re-indexing writes to the same family.
  std::vector<std::pair<std::string, std::string>> due;  // (customer, subject)
  std::vector<std::string> keys;
  {
    const std::string prefix = batch_->prefix();
    std::unique_ptr<store::Iterator> it = store_->NewIterator(cf_.due, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view k = it->key();
      k.remove_prefix(prefix.size());
      if (k.size() < 8) continue;
      std::string_view rest = k;
      const int64_t at = store::ReadI64(rest);
      if (at > absl::ToUnixMicros(now)) break;
      const std::string_view customer = store::ReadId(rest);
      due.emplace_back(std::string(customer), std::string(rest));
      keys.emplace_back(it->key());
      if (due.size() >= 10'000) break;  // the rest at the next tick
    }
    RETURN_IF_ERROR(it->status());
  }
  (void)partition;
  Applier applier(*batch_, rules_, cf_, now);
  for (const auto& [customer, subject] : due) {
    ASSIGN_OR_RETURN(internal::ReviewCustomer * c, batch_->Customer(customer));
    if (subject == "~") {
      applier.Cadence(customer, *c);
      continue;
    }
    if (subject == "L") {
      RETURN_IF_ERROR(applier.Derive(customer, *c));
      applier.Cadence(customer, *c);
      continue;
    }
    for (auto& k : *c->mutable_complaints()) {
      if ("c" + k.complaint_id() == subject) RETURN_IF_ERROR(applier.Sla(customer, *c, k));
    }
  }
  return batch_->Flush();
}

}  // namespace custops::review

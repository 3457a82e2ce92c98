// Lifecycle rules, as documented in docs/lifecycle.md.
//
// Evolve records facts in canonical order; Classify replays them in
// (occurred_at, event_id) order, interleaved with the instants at which a
// time-driven rule becomes true (computed exactly, never by polling). All
// arithmetic is on int64 microseconds; money sums use __int128 so no amount
// can overflow a comparison.
#include "custops/domain/lifecycle.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

using internal::CustomerFacts;
using internal::Milestone;
using internal::MilestoneKind;

constexpr int64_t kInf = std::numeric_limits<int64_t>::max();
constexpr int64_t kNegInf = std::numeric_limits<int64_t>::min();
constexpr int64_t kMicrosPerSecond = 1'000'000;
// google.protobuf.Timestamp's valid range: 0001-01-01 .. 9999-12-31.
constexpr int64_t kMinTimestampSeconds = -62'135'596'800;
constexpr int64_t kMaxTimestampSeconds = 253'402'300'799;

int64_t SatAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? kInf : kNegInf;
  return r;
}

// Thresholds are at least 1 µs so every time-driven instant lies strictly
// after the state it is computed from.
int64_t PositiveMicros(absl::Duration d) {
  return std::max<int64_t>(1, absl::ToInt64Microseconds(d));
}

int64_t TimeToMicros(absl::Time t) {
  if (t == absl::InfiniteFuture()) return kInf;
  if (t == absl::InfinitePast()) return kNegInf;
  return absl::ToUnixMicros(t);
}

absl::Time MicrosToTime(int64_t us) { return absl::FromUnixMicros(us); }

// Floors sub-microsecond precision. False when outside Timestamp's range.
bool TimestampToMicros(const google::protobuf::Timestamp& ts, int64_t* us) {
  if (ts.seconds() < kMinTimestampSeconds || ts.seconds() > kMaxTimestampSeconds ||
      ts.nanos() < 0 || ts.nanos() > 999'999'999) {
    return false;
  }
  *us = ts.seconds() * kMicrosPerSecond + ts.nanos() / 1000;
  return true;
}

void SetTimestamp(int64_t us, google::protobuf::Timestamp* ts) {
  int64_t seconds = us / kMicrosPerSecond;
  int64_t micros = us % kMicrosPerSecond;
  if (micros < 0) {
    micros += kMicrosPerSecond;
    --seconds;
  }
  ts->set_seconds(seconds);
  ts->set_nanos(static_cast<int32_t>(micros * 1000));
}

int64_t ClampToInt64(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

bool IsPurchase(MilestoneKind kind) {
  return kind == internal::MILESTONE_KIND_CONTRACT_SIGNED ||
         kind == internal::MILESTONE_KIND_CONTRACT_RENEWED;
}

// ---------------------------------------------------------------------------
// Evolve helpers: sorted insertion into repeated fields.

// Moves the last element of `field` to index `pos` (shifting the tail).
template <typename Field>
void MoveLastTo(Field* field, int pos) {
  for (int i = field->size() - 1; i > pos; --i) field->SwapElements(i, i - 1);
}

// Index of the first element whose key is not less than `key`.
template <typename Field, typename Key, typename KeyOf>
int LowerBound(const Field& field, const Key& key, KeyOf key_of) {
  auto it = std::lower_bound(field.begin(), field.end(), key,
                             [&](const auto& e, const Key& k) { return key_of(e) < k; });
  return static_cast<int>(it - field.begin());
}

// Finds the entry with `id` in a field ordered by id, inserting an empty one
// (with the id set through `set_id`) when missing.
template <typename T, typename IdOf, typename SetId>
T* FindOrInsertById(google::protobuf::RepeatedPtrField<T>* field, std::string_view id, IdOf id_of,
                    SetId set_id) {
  int pos = LowerBound(*field, id, [&](const T& e) { return std::string_view(id_of(e)); });
  if (pos < field->size() && id_of(field->Get(pos)) == id) return field->Mutable(pos);
  T* added = field->Add();
  set_id(added);
  MoveLastTo(field, pos);
  return added;
}

template <typename T>
const T* FindById(const google::protobuf::RepeatedPtrField<T>& field, std::string_view id,
                  const std::string& (T::*id_of)() const) {
  int pos = LowerBound(field, id, [&](const T& e) { return std::string_view((e.*id_of)()); });
  if (pos < field.size() && (field.Get(pos).*id_of)() == id) return &field.Get(pos);
  return nullptr;
}

// Key of entries ordered by (at_us, event_id).
template <typename T>
std::pair<int64_t, std::string_view> EventKey(const T& e) {
  return {e.at_us(), e.event_id()};
}

// Position for a new (at_us, event_id) entry; -1 when that key is present.
template <typename T>
int EventInsertPos(const google::protobuf::RepeatedPtrField<T>& field, int64_t at_us,
                   std::string_view event_id) {
  std::pair<int64_t, std::string_view> key(at_us, event_id);
  int pos = LowerBound(field, key, EventKey<T>);
  if (pos < field.size() && EventKey(field.Get(pos)) == key) return -1;
  return pos;
}

template <typename T>
T* InsertAt(google::protobuf::RepeatedPtrField<T>* field, int pos) {
  T* added = field->Add();
  MoveLastTo(field, pos);
  return added;
}

void AddActivity(CustomerFacts& facts, int64_t at_us) {
  auto* times = facts.mutable_activity_us();
  auto it = std::lower_bound(times->begin(), times->end(), at_us);
  if (it != times->end() && *it == at_us) return;
  int pos = static_cast<int>(it - times->begin());
  times->Add(at_us);
  MoveLastTo(times, pos);
}

void NoteCurrency(CustomerFacts& facts, const v1::Money& money) {
  if (money.currency().empty()) return;
  if (facts.currency().empty() || money.currency() < facts.currency()) {
    facts.set_currency(money.currency());
  }
}

absl::Status FailedPrecondition(const char* reason) {
  return absl::FailedPreconditionError(reason);
}

// Records a milestone (and its activity). `pos` from EventInsertPos.
void AddMilestone(CustomerFacts& facts, int pos, int64_t at_us, const std::string& event_id,
                  MilestoneKind kind, int64_t amount_units) {
  Milestone* m = InsertAt(facts.mutable_milestones(), pos);
  m->set_at_us(at_us);
  m->set_event_id(event_id);
  m->set_kind(kind);
  m->set_amount_units(amount_units);
  AddActivity(facts, at_us);
}

// ---------------------------------------------------------------------------
// Classification sweep.

enum class Reason : uint8_t {
  kRegistered,
  kQuoteIssued,
  kOpportunityAdvanced,
  kVisitInterested,
  kVisitNeedConfirmed,
  kFirstPurchase,
  kWinBack,
  kChurned,
  kNoActivity,
  kDormantLead,
  kNewPeriodEnded,
  kRevenueGrowth,
  kRevenueDecline,
  kPurchaseSilence,
  kStableRevenue,
};

const char* ReasonName(Reason reason) {
  switch (reason) {
    case Reason::kRegistered:
      return "registered";
    case Reason::kQuoteIssued:
      return "quote_issued";
    case Reason::kOpportunityAdvanced:
      return "opportunity_advanced";
    case Reason::kVisitInterested:
      return "visit_interested";
    case Reason::kVisitNeedConfirmed:
      return "visit_need_confirmed";
    case Reason::kFirstPurchase:
      return "first_purchase";
    case Reason::kWinBack:
      return "win_back";
    case Reason::kChurned:
      return "churned";
    case Reason::kNoActivity:
      return "no_activity";  // see NoActivityReason
    case Reason::kDormantLead:
      return "dormant_lead";
    case Reason::kNewPeriodEnded:
      return "new_period_ended";
    case Reason::kRevenueGrowth:
      return "revenue_growth";
    case Reason::kRevenueDecline:
      return "revenue_decline";
    case Reason::kPurchaseSilence:
      return "purchase_silence";
    case Reason::kStableRevenue:
      return "stable_revenue";
  }
  return "unknown";
}

// "no_activity_365d": the configured silence in the largest whole unit.
std::string NoActivityReason(const LifecycleRules& rules) {
  int64_t us = PositiveMicros(rules.lost_silence);
  constexpr int64_t kHour = int64_t{3'600} * kMicrosPerSecond;
  constexpr int64_t kDay = 24 * kHour;
  if (us % kDay == 0) return absl::StrCat("no_activity_", us / kDay, "d");
  if (us % kHour == 0) return absl::StrCat("no_activity_", us / kHour, "h");
  if (us % kMicrosPerSecond == 0) return absl::StrCat("no_activity_", us / kMicrosPerSecond, "s");
  return absl::StrCat("no_activity_", us, "us");
}

struct Entry {
  int64_t at;
  v1::LifecycleStage from;
  v1::LifecycleStage to;
  Reason reason;
  v1::SubStage from_sub;
  v1::SubStage to_sub;
};

// The contract's active interval [start, end) as known once every event at
// or before `known_at` has been applied; false when not known (not signed).
bool ContractInterval(const internal::ContractFacts& c, int64_t known_at, int64_t* start,
                      int64_t* end) {
  if (!c.has_signed_at_us() || c.signed_at_us() > known_at) return false;
  *start = c.start_us();
  *end = c.has_end_us() ? c.end_us() : kInf;
  for (const internal::Renewal& r : c.renewals()) {
    if (r.at_us() > known_at) break;
    *end = r.new_end_us();
  }
  if (c.has_terminated_at_us() && c.terminated_at_us() <= known_at) {
    *end = std::min(*end, c.terminated_at_us());
  }
  return true;
}

bool ContractActiveAt(const internal::ContractFacts& c, int64_t t) {
  int64_t start, end;
  return ContractInterval(c, t, &start, &end) && start <= t && t < end;
}

int64_t StartOf(const CustomerFacts& facts) {
  int64_t start = kInf;
  if (facts.registered()) start = facts.registered_at_us();
  if (!facts.activity_us().empty()) start = std::min(start, facts.activity_us(0));
  if (!facts.milestones().empty()) start = std::min(start, facts.milestones(0).at_us());
  if (!facts.profile_changes().empty()) start = std::min(start, facts.profile_changes(0).at_us());
  for (const internal::ContactFacts& c : facts.contacts()) {
    if (!c.versions().empty()) start = std::min(start, c.versions(0).at_us());
  }
  return start;
}

// Replays facts in time order. RunThrough(t) yields the classification at t;
// NextChange() then continues to the first later transition.
class Sweeper {
 public:
  Sweeper(const CustomerFacts& facts, const LifecycleRules& rules)
      : facts_(facts),
        new_period_(PositiveMicros(rules.new_period)),
        dormant_(PositiveMicros(rules.dormant_lead)),
        lost_silence_(PositiveMicros(rules.lost_silence)),
        window_(PositiveMicros(rules.revenue_window)),
        min_silence_(PositiveMicros(rules.min_decline_silence)),
        default_gap_(PositiveMicros(rules.default_median_gap)),
        growth_permille_(rules.growth_permille),
        decline_permille_(rules.decline_permille),
        start_(StartOf(facts)) {
    prefix_.push_back(0);
    UpdateThreshold();
  }

  // Applies every fact at or before `bound` and every rule due at or before it.
  void RunThrough(int64_t bound) {
    if (!Start(bound)) return;
    while (true) {
      int64_t group = NextGroupTime();
      if (group == kInf || group > bound) {
        AdvanceRules(bound, /*stop_on_entry=*/false);
        return;
      }
      // A rule due at exactly `group` fires before the events at `group`.
      AdvanceRules(group, /*stop_on_entry=*/false);
      ProcessGroup(group);
    }
  }

  // The instant of the first transition after the last RunThrough bound
  // (facts recorded for later instants included); kInf when none.
  int64_t NextChange() {
    size_t seen = entries_.size();
    if (!started_) return start_;
    while (true) {
      int64_t group = NextGroupTime();
      if (AdvanceRules(group, /*stop_on_entry=*/true)) return entries_[seen].at;
      if (group == kInf) return kInf;
      ProcessGroup(group);
      if (entries_.size() > seen) return entries_[seen].at;
    }
  }

  v1::LifecycleStage stage() const { return stage_; }
  v1::SubStage sub_stage() const { return sub_; }
  int32_t win_backs() const { return win_backs_; }
  const absl::InlinedVector<Entry, 8>& entries() const { return entries_; }

 private:
  bool Start(int64_t bound) {
    if (started_) return true;
    if (start_ == kInf || start_ > bound) return false;
    started_ = true;
    t_eval_ = start_;
    Emit(start_, v1::LIFECYCLE_STAGE_PROSPECT, Reason::kRegistered, v1::SUB_STAGE_UNSPECIFIED);
    return true;
  }

  int64_t NextGroupTime() const {
    int64_t t = kInf;
    if (ia_ < facts_.activity_us_size()) t = facts_.activity_us(ia_);
    if (im_ < facts_.milestones_size()) t = std::min(t, facts_.milestones(im_).at_us());
    return t;
  }

  void Emit(int64_t at, v1::LifecycleStage to, Reason reason, v1::SubStage to_sub) {
    entries_.push_back(Entry{at, stage_, to, reason, sub_, to_sub});
    stage_ = to;
    sub_ = to_sub;
  }

  // Applies all events at instant `t`, in event_id order.
  void ProcessGroup(int64_t t) {
    t_state_ = t;
    t_eval_ = t;
    last_activity_ = t;
    lost_at_valid_ = false;
    AdvanceWindows(t);
    while (ia_ < facts_.activity_us_size() && facts_.activity_us(ia_) <= t) ++ia_;
    while (im_ < facts_.milestones_size() && facts_.milestones(im_).at_us() <= t) {
      Apply(facts_.milestones(im_), t);
      ++im_;
    }
  }

  void Apply(const Milestone& m, int64_t t) {
    switch (m.kind()) {
      case internal::MILESTONE_KIND_QUOTE_ISSUED:
        Intent(t, Reason::kQuoteIssued);
        return;
      case internal::MILESTONE_KIND_OPPORTUNITY_ADVANCED:
        Intent(t, Reason::kOpportunityAdvanced);
        return;
      case internal::MILESTONE_KIND_VISIT_INTERESTED:
        Intent(t, Reason::kVisitInterested);
        return;
      case internal::MILESTONE_KIND_VISIT_NEED_CONFIRMED:
        Intent(t, Reason::kVisitNeedConfirmed);
        return;
      case internal::MILESTONE_KIND_CONTRACT_SIGNED:
      case internal::MILESTONE_KIND_CONTRACT_RENEWED:
        Purchase(t, m.amount_units());
        return;
      case internal::MILESTONE_KIND_CHURNED:
        if (stage_ != v1::LIFECYCLE_STAGE_LOST) {
          Emit(t, v1::LIFECYCLE_STAGE_LOST, Reason::kChurned, v1::SUB_STAGE_UNSPECIFIED);
        }
        return;
      default:
        return;
    }
  }

  void Intent(int64_t t, Reason reason) {
    if (stage_ == v1::LIFECYCLE_STAGE_PROSPECT) {
      Emit(t, v1::LIFECYCLE_STAGE_INTENT, reason, v1::SUB_STAGE_UNSPECIFIED);
    }
  }

  void Purchase(int64_t t, int64_t amount) {
    if (purchase_times_.empty()) {
      first_purchase_ = t;
    } else if (t > last_purchase_) {
      int64_t gap = t - last_purchase_;
      gaps_.insert(std::upper_bound(gaps_.begin(), gaps_.end(), gap), gap);
      UpdateThreshold();
    }
    last_purchase_ = t;
    purchase_times_.push_back(t);
    prefix_.push_back(prefix_.back() + amount);

    Reason why;
    v1::SubStage sub = SubStageAt(t, &why);
    switch (stage_) {
      case v1::LIFECYCLE_STAGE_LOST:
        ++win_backs_;
        Emit(t, v1::LIFECYCLE_STAGE_CUSTOMER, Reason::kWinBack, sub);
        return;
      case v1::LIFECYCLE_STAGE_CUSTOMER:
        if (sub != sub_) Emit(t, v1::LIFECYCLE_STAGE_CUSTOMER, why, sub);
        return;
      default:
        Emit(t, v1::LIFECYCLE_STAGE_CUSTOMER, Reason::kFirstPurchase, sub);
        return;
    }
  }

  // silence threshold = max(min silence, 2 x median distinct-purchase gap).
  void UpdateThreshold() {
    int64_t median = default_gap_;
    size_t n = gaps_.size();
    if (n > 0) {
      if (n % 2 == 1) {
        median = gaps_[n / 2];
      } else {
        __int128 mean = (static_cast<__int128>(gaps_[n / 2 - 1]) + gaps_[n / 2]) / 2;
        median = static_cast<int64_t>(mean / kMicrosPerSecond * kMicrosPerSecond);
      }
    }
    int64_t doubled = median > kInf / 2 ? kInf : 2 * median;
    threshold_ = std::max(min_silence_, doubled);
  }

  // Moves the window pointers to instant t (monotone).
  void AdvanceWindows(int64_t t) {
    while (left_last_ < purchase_times_.size() &&
           SatAdd(purchase_times_[left_last_], window_) <= t) {
      ++left_last_;
    }
    while (left_prior_ < purchase_times_.size() &&
           SatAdd(SatAdd(purchase_times_[left_prior_], window_), window_) <= t) {
      ++left_prior_;
    }
  }

  // The sub-stage at t (>= every purchase seen), with the reason to enter it.
  v1::SubStage SubStageAt(int64_t t, Reason* why) {
    AdvanceWindows(t);
    if (t < SatAdd(first_purchase_, new_period_)) {
      *why = Reason::kFirstPurchase;
      return v1::SUB_STAGE_NEW;
    }
    __int128 last = prefix_.back() - prefix_[left_last_];
    __int128 prior = prefix_[left_last_] - prefix_[left_prior_];
    if (prior > 0 && last * 1000 <= prior * decline_permille_) {
      *why = Reason::kRevenueDecline;
      return v1::SUB_STAGE_DECLINING;
    }
    if (t >= SatAdd(last_purchase_, threshold_)) {
      *why = Reason::kPurchaseSilence;
      return v1::SUB_STAGE_DECLINING;
    }
    if ((prior > 0 && last * 1000 >= prior * growth_permille_) || (prior == 0 && last > 0)) {
      *why = Reason::kRevenueGrowth;
      return v1::SUB_STAGE_GROWING;
    }
    *why = Reason::kStableRevenue;
    return v1::SUB_STAGE_STABLE;
  }

  // CUSTOMER turns LOST at the first instant >= last activity + silence not
  // covered by a contract active as known now.
  int64_t LostAt() {
    if (lost_at_valid_) return lost_at_;
    int64_t x = SatAdd(last_activity_, lost_silence_);
    bool moved = true;
    while (moved && x != kInf) {
      moved = false;
      for (const internal::ContractFacts& c : facts_.contracts()) {
        int64_t start, end;
        if (ContractInterval(c, t_state_, &start, &end) && start <= x && x < end) {
          x = end;
          moved = true;
        }
      }
    }
    lost_at_ = x;
    lost_at_valid_ = true;
    return x;
  }

  // Earliest instant > t_eval_ at which the sub-stage may change.
  int64_t NextSubStageBreak() const {
    int64_t new_end = SatAdd(first_purchase_, new_period_);
    if (t_eval_ < new_end) return new_end;
    int64_t next = kInf;
    if (left_last_ < purchase_times_.size()) {
      next = std::min(next, SatAdd(purchase_times_[left_last_], window_));
    }
    if (left_prior_ < purchase_times_.size()) {
      next = std::min(next, SatAdd(SatAdd(purchase_times_[left_prior_], window_), window_));
    }
    int64_t silence = SatAdd(last_purchase_, threshold_);
    if (silence > t_eval_) next = std::min(next, silence);
    return next;
  }

  // The next instant a rule may fire; exact when it is <= bound, else only
  // known to be > bound (saves computing contract cover in busy periods).
  int64_t NextBreak(int64_t bound) {
    switch (stage_) {
      case v1::LIFECYCLE_STAGE_INTENT:
        return SatAdd(last_activity_, dormant_);
      case v1::LIFECYCLE_STAGE_CUSTOMER: {
        int64_t lost = SatAdd(last_activity_, lost_silence_);  // a lower bound of LostAt()
        if (lost <= bound) lost = LostAt();
        return std::min(lost, NextSubStageBreak());
      }
      default:
        return kInf;
    }
  }

  // Fires every time-driven rule due at or before `bound`; with
  // stop_on_entry, returns true right after the first transition.
  bool AdvanceRules(int64_t bound, bool stop_on_entry) {
    while (true) {
      int64_t at = NextBreak(bound);
      if (at == kInf || at > bound) return false;
      t_eval_ = at;
      if (EvaluateAt(at) && stop_on_entry) return true;
    }
  }

  bool EvaluateAt(int64_t t) {
    if (stage_ == v1::LIFECYCLE_STAGE_INTENT) {
      if (t >= SatAdd(last_activity_, dormant_)) {
        Emit(t, v1::LIFECYCLE_STAGE_PROSPECT, Reason::kDormantLead, v1::SUB_STAGE_UNSPECIFIED);
        return true;
      }
      return false;
    }
    if (stage_ != v1::LIFECYCLE_STAGE_CUSTOMER) return false;
    if (t >= SatAdd(last_activity_, lost_silence_) && t >= LostAt()) {
      Emit(t, v1::LIFECYCLE_STAGE_LOST, Reason::kNoActivity, v1::SUB_STAGE_UNSPECIFIED);
      return true;
    }
    Reason why;
    v1::SubStage sub = SubStageAt(t, &why);
    if (sub == sub_) return false;
    Emit(t, v1::LIFECYCLE_STAGE_CUSTOMER, sub_ == v1::SUB_STAGE_NEW ? Reason::kNewPeriodEnded : why,
         sub);
    return true;
  }

  const CustomerFacts& facts_;
  const int64_t new_period_;
  const int64_t dormant_;
  const int64_t lost_silence_;
  const int64_t window_;
  const int64_t min_silence_;
  const int64_t default_gap_;
  const int64_t growth_permille_;
  const int64_t decline_permille_;
  const int64_t start_;

  bool started_ = false;
  int ia_ = 0;                 // next activity_us index
  int im_ = 0;                 // next milestone index
  int64_t t_state_ = kNegInf;  // instant of the last applied events
  int64_t t_eval_ = kNegInf;   // last instant classified (>= t_state_)
  int64_t last_activity_ = kNegInf;

  v1::LifecycleStage stage_ = v1::LIFECYCLE_STAGE_UNSPECIFIED;
  v1::SubStage sub_ = v1::SUB_STAGE_UNSPECIFIED;
  int32_t win_backs_ = 0;

  // Purchases so far, in time order, with prefix sums of their amounts.
  absl::InlinedVector<int64_t, 8> purchase_times_;
  absl::InlinedVector<__int128, 9> prefix_;
  size_t left_last_ = 0;   // purchases that have left the last window
  size_t left_prior_ = 0;  // purchases that have left the prior window too
  int64_t first_purchase_ = kInf;
  int64_t last_purchase_ = kNegInf;
  absl::InlinedVector<int64_t, 8> gaps_;  // sorted gaps between distinct purchase instants
  int64_t threshold_ = 0;

  bool lost_at_valid_ = false;
  int64_t lost_at_ = kInf;

  absl::InlinedVector<Entry, 8> entries_;
};

// ---------------------------------------------------------------------------
// View helpers.

// The profile as of `as_of_us`: registration then updates, in event order.
// A registration sets its non-empty fields, an update its present ones.
void FoldProfile(const CustomerFacts& facts, int64_t as_of_us, v1::CustomerProfile* p) {
  for (const internal::ProfileChange& pc : facts.profile_changes()) {
    if (pc.at_us() > as_of_us) break;
    if (pc.has_registered()) {
      const v1::CustomerRegistered& r = pc.registered();
      if (!r.name().empty()) p->set_name(r.name());
      if (r.kind() != v1::CUSTOMER_KIND_UNSPECIFIED) p->set_kind(r.kind());
      if (!r.industry().empty()) p->set_industry(r.industry());
      if (!r.region().empty()) p->set_region(r.region());
      if (!r.city().empty()) p->set_city(r.city());
      if (!r.owner_id().empty()) p->set_owner_id(r.owner_id());
      if (!r.channel().empty()) p->set_channel(r.channel());
      if (!r.size().empty()) p->set_size(r.size());
      if (r.has_budget()) *p->mutable_budget() = r.budget();
      if (r.need() != v1::NEED_UNSPECIFIED) p->set_need(r.need());
    } else if (pc.has_updated()) {
      const v1::CustomerProfileUpdated& u = pc.updated();
      if (u.has_name()) p->set_name(u.name());
      if (u.kind() != v1::CUSTOMER_KIND_UNSPECIFIED) p->set_kind(u.kind());
      if (u.has_industry()) p->set_industry(u.industry());
      if (u.has_region()) p->set_region(u.region());
      if (u.has_city()) p->set_city(u.city());
      if (u.has_owner_id()) p->set_owner_id(u.owner_id());
      if (u.has_channel()) p->set_channel(u.channel());
      if (u.has_size()) p->set_size(u.size());
      if (u.has_budget()) *p->mutable_budget() = u.budget();
      if (u.need() != v1::NEED_UNSPECIFIED) p->set_need(u.need());
    }
  }
}

// The latest version of a contact at or before as_of; nullptr if none.
const internal::ContactVersion* ContactAt(const internal::ContactFacts& c, int64_t as_of_us) {
  const internal::ContactVersion* latest = nullptr;
  for (const internal::ContactVersion& v : c.versions()) {
    if (v.at_us() > as_of_us) break;
    latest = &v;
  }
  return latest;
}

bool VisitedBy(const internal::ContactFacts& c, int64_t as_of_us) {
  return c.has_first_visit_us() && c.first_visit_us() <= as_of_us;
}

std::string ManClassFor(const CustomerFacts& facts, int64_t as_of_us, const LifecycleRules& rules,
                        const v1::CustomerProfile& profile) {
  bool m = profile.budget().units() >= rules.man_budget_threshold_units;
  bool a = false;
  for (const internal::ContactFacts& c : facts.contacts()) {
    const internal::ContactVersion* v = ContactAt(c, as_of_us);
    if (v != nullptr && v->role() == v1::CONTACT_ROLE_DECISION_MAKER && VisitedBy(c, as_of_us)) {
      a = true;
      break;
    }
  }
  bool n = profile.need() == v1::NEED_HIGH;
  for (const Milestone& ms : facts.milestones()) {
    if (n || ms.at_us() > as_of_us) break;
    n = ms.kind() == internal::MILESTONE_KIND_VISIT_NEED_CONFIRMED;
  }
  std::string out(3, ' ');
  out[0] = m ? 'M' : 'm';
  out[1] = a ? 'A' : 'a';
  out[2] = n ? 'N' : 'n';
  return out;
}

bool IsProspectOrIntent(v1::LifecycleStage stage) {
  return stage == v1::LIFECYCLE_STAGE_PROSPECT || stage == v1::LIFECYCLE_STAGE_INTENT;
}

}  // namespace

absl::Status Evolve(CustomerFacts& facts, const v1::Event& event) {
  if (event.payload_case() == v1::Event::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError("missing_payload");
  }
  if (!event.has_occurred_at()) return absl::InvalidArgumentError("missing_occurred_at");
  int64_t at;
  if (!TimestampToMicros(event.occurred_at(), &at)) {
    return absl::InvalidArgumentError("invalid_occurred_at");
  }
  if (!facts.customer_id().empty() && event.customer_id() != facts.customer_id()) {
    return FailedPrecondition("customer_id_mismatch");
  }
  const std::string& id = event.event_id();

  // Every branch checks first and mutates only once the event is accepted.
  switch (event.payload_case()) {
    case v1::Event::kCustomerRegistered: {
      if (facts.registered()) return FailedPrecondition("already_registered");
      int pos = EventInsertPos(facts.profile_changes(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ProfileChange* pc = InsertAt(facts.mutable_profile_changes(), pos);
      pc->set_at_us(at);
      pc->set_event_id(id);
      *pc->mutable_registered() = event.customer_registered();
      facts.set_registered(true);
      facts.set_registered_at_us(at);
      NoteCurrency(facts, event.customer_registered().budget());
      break;
    }
    case v1::Event::kCustomerProfileUpdated: {
      int pos = EventInsertPos(facts.profile_changes(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ProfileChange* pc = InsertAt(facts.mutable_profile_changes(), pos);
      pc->set_at_us(at);
      pc->set_event_id(id);
      *pc->mutable_updated() = event.customer_profile_updated();
      NoteCurrency(facts, event.customer_profile_updated().budget());
      break;
    }
    case v1::Event::kContactAdded: {
      const v1::ContactAdded& ca = event.contact_added();
      const internal::ContactFacts* existing =
          FindById(facts.contacts(), ca.contact_id(), &internal::ContactFacts::contact_id);
      int pos = existing == nullptr ? 0 : EventInsertPos(existing->versions(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContactFacts* contact = FindOrInsertById(
          facts.mutable_contacts(), ca.contact_id(),
          [](const internal::ContactFacts& c) -> const std::string& { return c.contact_id(); },
          [&](internal::ContactFacts* c) { c->set_contact_id(ca.contact_id()); });
      internal::ContactVersion* v = InsertAt(contact->mutable_versions(), pos);
      v->set_at_us(at);
      v->set_event_id(id);
      v->set_name(ca.name());
      v->set_role(ca.role());
      if (ca.has_birthday()) *v->mutable_birthday() = ca.birthday();
      break;
    }
    case v1::Event::kVisitLogged: {
      const v1::VisitLogged& visit = event.visit_logged();
      MilestoneKind kind = internal::MILESTONE_KIND_UNSPECIFIED;
      if (visit.outcome() == v1::VISIT_OUTCOME_INTERESTED) {
        kind = internal::MILESTONE_KIND_VISIT_INTERESTED;
      } else if (visit.outcome() == v1::VISIT_OUTCOME_NEED_CONFIRMED) {
        kind = internal::MILESTONE_KIND_VISIT_NEED_CONFIRMED;
      }
      int pos = 0;
      if (kind != internal::MILESTONE_KIND_UNSPECIFIED) {
        pos = EventInsertPos(facts.milestones(), at, id);
        if (pos < 0) return FailedPrecondition("duplicate_event");
        AddMilestone(facts, pos, at, id, kind, 0);
      }
      if (!visit.contact_id().empty()) {
        internal::ContactFacts* contact = FindOrInsertById(
            facts.mutable_contacts(), visit.contact_id(),
            [](const internal::ContactFacts& c) -> const std::string& { return c.contact_id(); },
            [&](internal::ContactFacts* c) { c->set_contact_id(visit.contact_id()); });
        if (!contact->has_first_visit_us() || at < contact->first_visit_us()) {
          contact->set_first_visit_us(at);
        }
      }
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kOpportunityOpened: {
      const v1::OpportunityOpened& oo = event.opportunity_opened();
      const internal::OpportunityFacts* existing = FindById(
          facts.opportunities(), oo.opportunity_id(), &internal::OpportunityFacts::opportunity_id);
      if (existing != nullptr && existing->has_opened_at_us()) {
        return FailedPrecondition("opportunity_already_opened");
      }
      internal::OpportunityFacts* opp = FindOrInsertById(
          facts.mutable_opportunities(), oo.opportunity_id(),
          [](const internal::OpportunityFacts& o) -> const std::string& {
            return o.opportunity_id();
          },
          [&](internal::OpportunityFacts* o) { o->set_opportunity_id(oo.opportunity_id()); });
      opp->set_opened_at_us(at);
      opp->set_amount_units(oo.amount().units());
      opp->set_product(oo.product());
      NoteCurrency(facts, oo.amount());
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kOpportunityStageChanged: {
      // Recorded even before its OpportunityOpened arrives (events may come
      // out of order); the opportunity is open only once opened.
      const v1::OpportunityStageChanged& sc = event.opportunity_stage_changed();
      bool advanced = sc.stage() >= v1::FUNNEL_STAGE_FIRST_VISIT &&
                      sc.stage() <= v1::FUNNEL_STAGE_CONTRACT_SIGNED;
      int pos = 0;
      if (advanced) {
        pos = EventInsertPos(facts.milestones(), at, id);
        if (pos < 0) return FailedPrecondition("duplicate_event");
      }
      internal::OpportunityFacts* opp = FindOrInsertById(
          facts.mutable_opportunities(), sc.opportunity_id(),
          [](const internal::OpportunityFacts& o) -> const std::string& {
            return o.opportunity_id();
          },
          [&](internal::OpportunityFacts* o) { o->set_opportunity_id(sc.opportunity_id()); });
      std::pair<int64_t, int> key(at, sc.stage());
      int spos = LowerBound(opp->stages(), key, [](const internal::OpportunityStageFact& s) {
        return std::pair<int64_t, int>(s.at_us(), s.stage());
      });
      internal::OpportunityStageFact* s = InsertAt(opp->mutable_stages(), spos);
      s->set_at_us(at);
      s->set_stage(sc.stage());
      if (advanced) {
        AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_OPPORTUNITY_ADVANCED, 0);
      }
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kQuoteIssued: {
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_QUOTE_ISSUED, 0);
      break;
    }
    case v1::Event::kContractSigned: {
      const v1::ContractSigned& cs = event.contract_signed();
      const internal::ContractFacts* existing =
          FindById(facts.contracts(), cs.contract_id(), &internal::ContractFacts::contract_id);
      if (existing != nullptr && existing->has_signed_at_us()) {
        return FailedPrecondition("contract_already_signed");
      }
      int64_t start = at;
      if (cs.has_start() && !TimestampToMicros(cs.start(), &start)) {
        return absl::InvalidArgumentError("invalid_contract_start");
      }
      int64_t end = kInf;
      if (cs.has_end() && !TimestampToMicros(cs.end(), &end)) {
        return absl::InvalidArgumentError("invalid_contract_end");
      }
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), cs.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(cs.contract_id()); });
      c->set_signed_at_us(at);
      c->set_start_us(start);
      if (cs.has_end()) c->set_end_us(end);
      NoteCurrency(facts, cs.amount());
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CONTRACT_SIGNED,
                   cs.amount().units());
      break;
    }
    case v1::Event::kContractRenewed: {
      // Recorded even before its ContractSigned arrives (out-of-order events).
      const v1::ContractRenewed& cr = event.contract_renewed();
      int64_t new_end = 0;
      if (cr.has_new_end() && !TimestampToMicros(cr.new_end(), &new_end)) {
        return absl::InvalidArgumentError("invalid_new_end");
      }
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), cr.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(cr.contract_id()); });
      if (cr.has_new_end()) {
        std::pair<int64_t, int64_t> key(at, new_end);
        int rpos = LowerBound(c->renewals(), key, [](const internal::Renewal& r) {
          return std::pair<int64_t, int64_t>(r.at_us(), r.new_end_us());
        });
        internal::Renewal* r = InsertAt(c->mutable_renewals(), rpos);
        r->set_at_us(at);
        r->set_new_end_us(new_end);
      }
      NoteCurrency(facts, cr.amount());
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CONTRACT_RENEWED,
                   cr.amount().units());
      break;
    }
    case v1::Event::kContractTerminated: {
      const v1::ContractTerminated& ct = event.contract_terminated();
      const internal::ContractFacts* existing =
          FindById(facts.contracts(), ct.contract_id(), &internal::ContractFacts::contract_id);
      if (existing != nullptr && existing->has_terminated_at_us()) {
        return FailedPrecondition("contract_already_terminated");
      }
      internal::ContractFacts* c = FindOrInsertById(
          facts.mutable_contracts(), ct.contract_id(),
          [](const internal::ContractFacts& c) -> const std::string& { return c.contract_id(); },
          [&](internal::ContractFacts* c) { c->set_contract_id(ct.contract_id()); });
      c->set_terminated_at_us(at);
      AddActivity(facts, at);
      break;
    }
    case v1::Event::kCustomerChurned: {
      int pos = EventInsertPos(facts.milestones(), at, id);
      if (pos < 0) return FailedPrecondition("duplicate_event");
      AddMilestone(facts, pos, at, id, internal::MILESTONE_KIND_CHURNED, 0);
      break;
    }
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected:
    case v1::Event::kPaymentReceived:
    case v1::Event::kComplaintFiled:
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened:
    case v1::Event::kSatisfactionSurveyed:
    case v1::Event::kReferralMade:
    case v1::Event::PAYLOAD_NOT_SET:
      // Payments, quote answers, complaints, surveys, referrals: activity only.
      AddActivity(facts, at);
      break;
  }
  if (facts.customer_id().empty()) facts.set_customer_id(event.customer_id());
  return absl::OkStatus();
}

bool Exists(const CustomerFacts& facts) { return facts.registered(); }

LifecycleResult Classify(const CustomerFacts& facts, absl::Time as_of,
                         const LifecycleRules& rules) {
  int64_t as_of_us = TimeToMicros(as_of);
  Sweeper sweeper(facts, rules);
  sweeper.RunThrough(as_of_us);

  LifecycleResult result;
  result.stage = sweeper.stage();
  result.sub_stage = sweeper.sub_stage();
  result.win_back_count = sweeper.win_backs();
  size_t count = sweeper.entries().size();
  result.history.resize(count);
  std::string no_activity;
  for (size_t i = 0; i < count; ++i) {
    const Entry& e = sweeper.entries()[i];
    v1::StageTransition& out = result.history[i];
    SetTimestamp(e.at, out.mutable_at());
    out.set_from(e.from);
    out.set_to(e.to);
    if (e.reason == Reason::kNoActivity) {
      if (no_activity.empty()) no_activity = NoActivityReason(rules);
      out.set_reason(no_activity);
    } else {
      out.set_reason(ReasonName(e.reason));
    }
    out.set_from_sub_stage(e.from_sub);
    out.set_to_sub_stage(e.to_sub);
  }
  if (as_of_us != kInf) {
    int64_t next = sweeper.NextChange();
    if (next != kInf) result.next_change_at = MicrosToTime(next);
  }
  return result;
}

std::string ManClass(const CustomerFacts& facts, absl::Time as_of, const LifecycleRules& rules) {
  int64_t as_of_us = TimeToMicros(as_of);
  Sweeper sweeper(facts, rules);
  sweeper.RunThrough(as_of_us);
  if (!IsProspectOrIntent(sweeper.stage())) return "";
  v1::CustomerProfile profile;
  FoldProfile(facts, as_of_us, &profile);
  return ManClassFor(facts, as_of_us, rules, profile);
}

LifecycleSummary Summarize(const CustomerFacts& facts, absl::Time as_of,
                           const LifecycleRules& rules) {
  const int64_t as_of_us = TimeToMicros(as_of);
  Sweeper sweeper(facts, rules);
  sweeper.RunThrough(as_of_us);
  LifecycleSummary summary;
  summary.stage = sweeper.stage();
  summary.sub_stage = sweeper.sub_stage();
  if (!sweeper.entries().empty()) {
    const Entry& e = sweeper.entries().back();
    v1::StageTransition& out = summary.last_transition.emplace();
    SetTimestamp(e.at, out.mutable_at());
    out.set_from(e.from);
    out.set_to(e.to);
    out.set_reason(e.reason == Reason::kNoActivity ? NoActivityReason(rules)
                                                   : std::string(ReasonName(e.reason)));
    out.set_from_sub_stage(e.from_sub);
    out.set_to_sub_stage(e.to_sub);
  }
  if (as_of_us != kInf) {
    const int64_t next = sweeper.NextChange();
    if (next != kInf) summary.next_change_at = MicrosToTime(next);
  }
  FoldProfile(facts, as_of_us, &summary.profile);
  if (IsProspectOrIntent(summary.stage)) {
    summary.man_class = ManClassFor(facts, as_of_us, rules, summary.profile);
  }
  auto activity_end =
      std::upper_bound(facts.activity_us().begin(), facts.activity_us().end(), as_of_us);
  if (activity_end != facts.activity_us().begin()) {
    summary.last_activity_at = MicrosToTime(*(activity_end - 1));
  }
  return summary;
}

int32_t FunnelProbability(v1::FunnelStage stage) {
  switch (stage) {
    case v1::FUNNEL_STAGE_OPPORTUNITY:
      return 5;
    case v1::FUNNEL_STAGE_FIRST_VISIT:
      return 10;
    case v1::FUNNEL_STAGE_NEED_CONFIRMED:
      return 30;
    case v1::FUNNEL_STAGE_PROPOSAL_ACCEPTED:
      return 50;
    case v1::FUNNEL_STAGE_COMMERCIAL_TERMS:
      return 70;
    case v1::FUNNEL_STAGE_CONTRACT_SIGNED:
      return 100;
    default:
      return 0;
  }
}

v1::CustomerView BuildCustomerView(const CustomerFacts& facts, absl::Time as_of,
                                   const LifecycleRules& rules) {
  int64_t as_of_us = TimeToMicros(as_of);
  const std::string currency = facts.currency().empty() ? "CNY" : facts.currency();
  LifecycleResult lr = Classify(facts, as_of, rules);

  v1::CustomerView view;
  view.set_customer_id(facts.customer_id());
  v1::CustomerProfile* profile = view.mutable_profile();
  FoldProfile(facts, as_of_us, profile);
  if (facts.registered()) SetTimestamp(facts.registered_at_us(), profile->mutable_registered_at());
  view.set_stage(lr.stage);
  view.set_sub_stage(lr.sub_stage);
  view.set_win_back_count(lr.win_back_count);
  if (IsProspectOrIntent(lr.stage)) {
    view.set_man_class(ManClassFor(facts, as_of_us, rules, *profile));
  }

  for (const internal::OpportunityFacts& o : facts.opportunities()) {
    if (!o.has_opened_at_us() || o.opened_at_us() > as_of_us) continue;
    v1::FunnelStage stage = v1::FUNNEL_STAGE_OPPORTUNITY;
    for (const internal::OpportunityStageFact& s : o.stages()) {
      if (s.at_us() > as_of_us) break;
      stage = s.stage();
    }
    if (stage == v1::FUNNEL_STAGE_CONTRACT_SIGNED || stage == v1::FUNNEL_STAGE_LOST) continue;
    v1::OpenOpportunity* out = view.add_open_opportunities();
    out->set_opportunity_id(o.opportunity_id());
    out->set_stage(stage);
    out->set_probability(FunnelProbability(stage));
    out->mutable_amount()->set_units(o.amount_units());
    out->mutable_amount()->set_currency(currency);
    out->set_product(o.product());
    SetTimestamp(o.opened_at_us(), out->mutable_opened_at());
  }

  auto activity_end =
      std::upper_bound(facts.activity_us().begin(), facts.activity_us().end(), as_of_us);
  int64_t last_activity = kNegInf;
  if (activity_end != facts.activity_us().begin()) {
    last_activity = *(activity_end - 1);
    SetTimestamp(last_activity, view.mutable_last_activity_at());
  }

  int64_t window = PositiveMicros(rules.revenue_window);
  int64_t last_start = SatAdd(as_of_us, -window);  // exclusive
  int64_t prior_start = SatAdd(last_start, -window);
  __int128 revenue_last = 0;
  __int128 revenue_prior = 0;
  int32_t purchases = 0;
  int64_t first_purchase = kInf;
  int64_t last_purchase = kNegInf;
  for (const Milestone& m : facts.milestones()) {
    if (m.at_us() > as_of_us) break;
    if (!IsPurchase(m.kind())) continue;
    ++purchases;
    first_purchase = std::min(first_purchase, m.at_us());
    last_purchase = m.at_us();
    if (m.at_us() > last_start) {
      revenue_last += m.amount_units();
    } else if (m.at_us() > prior_start) {
      revenue_prior += m.amount_units();
    }
  }
  if (purchases > 0) {
    SetTimestamp(first_purchase, view.mutable_first_purchase_at());
    SetTimestamp(last_purchase, view.mutable_last_purchase_at());
  }
  view.mutable_revenue_last_365d()->set_units(ClampToInt64(revenue_last));
  view.mutable_revenue_last_365d()->set_currency(currency);
  view.mutable_revenue_prior_365d()->set_units(ClampToInt64(revenue_prior));
  view.mutable_revenue_prior_365d()->set_currency(currency);
  view.set_purchase_count(purchases);

  for (const internal::ContactFacts& c : facts.contacts()) {
    const internal::ContactVersion* v = ContactAt(c, as_of_us);
    if (v == nullptr) continue;
    v1::Contact* out = view.add_contacts();
    out->set_contact_id(c.contact_id());
    out->set_name(v->name());
    out->set_role(v->role());
    if (v->has_birthday()) *out->mutable_birthday() = v->birthday();
    out->set_visited(VisitedBy(c, as_of_us));
  }

  if (as_of_us != kInf && as_of_us != kNegInf) SetTimestamp(as_of_us, view.mutable_as_of());

  // Flags, in sorted order.
  if (lr.stage == v1::LIFECYCLE_STAGE_LOST && !lr.history.empty() &&
      lr.history.back().reason() == "churned") {
    view.add_flags("churned_explicitly");
  }
  if (lr.stage == v1::LIFECYCLE_STAGE_INTENT && last_activity != kNegInf &&
      as_of_us > SatAdd(last_activity, absl::ToInt64Microseconds(rules.dormant_risk_silence))) {
    view.add_flags("dormant_risk");
  }
  for (const internal::ContractFacts& c : facts.contracts()) {
    if (ContractActiveAt(c, as_of_us)) {
      view.add_flags("has_active_contract");
      break;
    }
  }
  if (lr.win_back_count > 0) view.add_flags("won_back");

  for (v1::StageTransition& t : lr.history) *view.add_stage_history() = std::move(t);
  return view;
}

}  // namespace custops::domain

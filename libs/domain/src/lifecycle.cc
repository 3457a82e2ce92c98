// Lifecycle rules, as documented in docs/lifecycle.md: the classification.
//
// Evolve (lifecycle_evolve.cc) records facts in canonical order; Classify
// replays them in (occurred_at, event_id) order, interleaved with the instants
// at which a time-driven rule becomes true (computed exactly, never by
// polling). All arithmetic is on int64 microseconds; money sums use __int128
// so no amount can overflow a comparison. The 360° view is lifecycle_view.cc.
#include "custops/domain/lifecycle.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <utility>

#include "absl/container/inlined_vector.h"
#include "absl/strings/str_cat.h"
#include "lifecycle_internal.h"

namespace custops::domain {
namespace {

using internal::CustomerFacts;
using internal::Milestone;
using lifecycle_internal::ContractInterval;
using lifecycle_internal::FoldProfile;
using lifecycle_internal::IsProspectOrIntent;
using lifecycle_internal::kInf;
using lifecycle_internal::kMicrosPerSecond;
using lifecycle_internal::kNegInf;
using lifecycle_internal::ManClassFor;
using lifecycle_internal::MicrosToTime;
using lifecycle_internal::PositiveMicros;
using lifecycle_internal::SatAdd;
using lifecycle_internal::SetTimestamp;
using lifecycle_internal::TimeToMicros;

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

// The sweeper's entries so far as StageTransitions, in `*history`.
void HistoryOf(const Sweeper& sweeper, const LifecycleRules& rules,
               std::vector<v1::StageTransition>* history) {
  const size_t count = sweeper.entries().size();
  history->clear();
  history->resize(count);
  std::string no_activity;
  for (size_t i = 0; i < count; ++i) {
    const Entry& e = sweeper.entries()[i];
    v1::StageTransition& out = (*history)[i];
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
}

}  // namespace

LifecycleResult Classify(const CustomerFacts& facts, absl::Time as_of,
                         const LifecycleRules& rules) {
  int64_t as_of_us = TimeToMicros(as_of);
  Sweeper sweeper(facts, rules);
  sweeper.RunThrough(as_of_us);

  LifecycleResult result;
  result.stage = sweeper.stage();
  result.sub_stage = sweeper.sub_stage();
  result.win_back_count = sweeper.win_backs();
  HistoryOf(sweeper, rules, &result.history);
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
  return Summarize(facts, as_of, rules, nullptr);
}

LifecycleSummary Summarize(const CustomerFacts& facts, absl::Time as_of,
                           const LifecycleRules& rules, std::vector<v1::StageTransition>* history) {
  const int64_t as_of_us = TimeToMicros(as_of);
  Sweeper sweeper(facts, rules);
  sweeper.RunThrough(as_of_us);
  if (history != nullptr) HistoryOf(sweeper, rules, history);
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

}  // namespace custops::domain

// Derived timelines: the domain rules over a customer's stored review facts,
// as pieces (custops/domain/derived_timelines.h).
#include "custops/domain/derived_timelines.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

// How the review state stores instants and amounts (as the review's
// review_units.h): instants as int64 microseconds since the Unix epoch,
// amounts summed saturating.
int64_t Micros(const google::protobuf::Timestamp& t) {
  return absl::ToUnixMicros(absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos()));
}
absl::Time FromMicros(int64_t m) { return absl::FromUnixMicros(m); }

// a + b, clamped to the int64 range.
int64_t Saturating(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? INT64_MAX : INT64_MIN;
  return r;
}

ComplaintStep StepOf(int kind) { return static_cast<ComplaintStep>(kind); }

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

}  // namespace

std::vector<ComplaintStepAt> StepsOf(const internal::ReviewComplaint& c) {
  std::vector<ComplaintStepAt> steps;
  for (int i = 0; i < c.step_kinds_size() && i < c.step_micros_size(); ++i) {
    steps.push_back({.step = StepOf(c.step_kinds(i)), .at = FromMicros(c.step_micros(i))});
  }
  return steps;
}

// The lifecycle stage at the last derivation and since when (the open
// CUSTOMER or INTENT piece); PROSPECT / LOST have no cadence.
std::optional<ContactDue> ContactDueOf(const internal::ReviewCustomer& c,
                                       const CadenceRules& rules) {
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
  return NextContactDue(stage, std::nullopt, last_visit, FromMicros(since), rules);
}

// Lifecycle: losses, win-backs and the CUSTOMER / INTENT stage intervals of
// Classify's history at the horizon. Returns the stage at the horizon.
v1::LifecycleStage LifecyclePieces(const internal::ReviewCustomer& c, int64_t horizon,
                                   const LifecycleRules& rules,
                                   std::vector<internal::ReviewDerived>& out, int64_t& next) {
  const LifecycleResult lr = Classify(c.lifecycle(), FromMicros(horizon), rules);
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
void NegativePieces(const internal::ReviewCustomer& c, int64_t horizon, absl::Duration value_window,
                    const CostToServeRules& cost, std::vector<internal::ReviewDerived>& out,
                    int64_t& next) {
  const internal::ReviewTierFacts& tf = c.tier_facts();
  if (!tf.takes_part() || tf.purchase_micros_size() == 0) return;
  const int64_t window = absl::ToInt64Microseconds(value_window);
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
      if (step == ComplaintStep::kResponded || step == ComplaintStep::kResolved) {
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
  ServiceActivity activity;
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
        b >= first_purchase && ComputeContribution(clamped, activity, cost).negative_asset;
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

}  // namespace custops::domain

// Complaint SLA clocks (客诉): first response and resolution due by severity,
// breach, and how urgent an open complaint is for the worklist. Pure functions
// of (filed/responded/resolved/reopened times, now, rules); see docs/review.md.
//
//   ComplaintSla sla = EvaluateComplaintSla(v1::SEVERITY_HIGH, filed_at,
//       {{ComplaintStep::kResponded, t1}}, now, SlaRules{});
//   sla.current().resolution.state == SlaState::kPending;
//   sla.next_change_at;   // when the ticker must look again
//
// Conventions (half-open like periods and contracts): a clock runs over
// [start, due); an action strictly before `due` meets it; an action at or
// after `due`, or no action by `now >= due`, breaches it, and the breach
// instant is `due` itself. Thread safety: pure functions.
#ifndef CUSTOPS_DOMAIN_COMPLAINT_SLA_H_
#define CUSTOPS_DOMAIN_COMPLAINT_SLA_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/time/time.h"
#include "custops/v1/events.pb.h"

namespace custops::domain {

struct SlaTargets {
  absl::Duration first_response;
  absl::Duration resolution;
};

// Targets per severity; defaults as in docs/review.md "Complaint SLA".
struct SlaRules {
  // Default: 1 h / 24 h
  SlaTargets critical{absl::Hours(1), absl::Hours(24)};
  // Default: 4 h / 72 h
  SlaTargets high{absl::Hours(4), absl::Hours(72)};
  // Default: 24 h / 7 d
  SlaTargets medium{absl::Hours(24), absl::Hours(24 * 7)};
  // Default: 72 h / 14 d
  SlaTargets low{absl::Hours(72), absl::Hours(24 * 14)};
  // A pending clock is "near" (worklist) once its remaining time is at most
  // this percent of its target: default 25, i.e. the last 15 min of a
  // CRITICAL first response, the last 3.5 days of a LOW resolution.
  int64_t near_percent = 25;
};

// The targets of a severity; UNSPECIFIED (or an unknown value) takes LOW's,
// the most lenient.
SlaTargets SlaTargetsFor(v1::Severity severity, const SlaRules& rules);

enum class ComplaintStep { kResponded, kResolved, kReopened };

struct ComplaintStepAt {
  ComplaintStep step = ComplaintStep::kResponded;
  absl::Time at;
};

enum class SlaState {
  kPending,   // not done, now < due
  kMet,       // done strictly before due
  kBreached,  // done at/after due, or not done and now >= due
};
std::string_view SlaStateName(SlaState state);  // "PENDING", "MET", "BREACHED"

struct SlaClock {
  absl::Time due;
  // When the "near" window starts: due - target x near_percent / 100.
  absl::Time near_at;
  // The action that stopped the clock (at or before now), if any.
  std::optional<absl::Time> done_at;
  SlaState state = SlaState::kPending;
  friend bool operator==(const SlaClock&, const SlaClock&) = default;
};

// One life of a complaint: from filing, or from a reopen, to its resolution.
struct SlaEpisode {
  absl::Time started_at;
  bool reopened = false;  // started by a reopen
  SlaClock response;      // due started_at + first_response
  SlaClock resolution;    // due started_at + resolution
  friend bool operator==(const SlaEpisode&, const SlaEpisode&) = default;
};

enum class SlaUrgency {
  kNone,  // closed, or open with every pending clock before its near window
  kNear,  // open, nothing breached in this episode, a pending clock is in its near window
  kPast,  // open and a clock of the current episode is breached (even if since met late)
};
std::string_view SlaUrgencyName(SlaUrgency urgency);  // "NONE", "NEAR", "PAST"

struct ComplaintSla {
  std::vector<SlaEpisode> episodes;  // oldest first; never empty
  bool open = true;                  // the current episode is not resolved at now
  // Breached clocks over all episodes (a complaint can breach both clocks of
  // each episode).
  int64_t breaches = 0;
  SlaUrgency urgency = SlaUrgency::kNone;
  // The earliest instant after now at which this evaluation changes with no
  // new step (a near window opening or a due passing); nullopt when none.
  std::optional<absl::Time> next_change_at;

  const SlaEpisode& current() const { return episodes.back(); }
};

// Evaluates the clocks at `now` from the filing and the later steps (any
// order; steps after now are ignored; ties ordered responded, resolved,
// reopened). Rules of the walk:
//  - a response stops the episode's first-response clock (the first one counts);
//  - a resolution stops the resolution clock and, when there was no response
//    yet, the first-response clock too (resolved on first contact);
//  - a reopen of a resolved complaint starts a new episode with both clocks
//    restarted from the reopen time; breaches of earlier episodes stay counted;
//  - steps that the complaint state machine refuses (respond or resolve while
//    resolved, reopen while open) change nothing.
ComplaintSla EvaluateComplaintSla(v1::Severity severity, absl::Time filed_at,
                                  const std::vector<ComplaintStepAt>& steps, absl::Time now,
                                  const SlaRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_COMPLAINT_SLA_H_

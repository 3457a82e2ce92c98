// Complaint SLA clocks (complaint_sla.h): one walk over the steps in time
// order, then each clock is classified against `now`.
#include "custops/domain/complaint_sla.h"

#include <algorithm>
#include <optional>
#include <vector>

namespace custops::domain {
namespace {

SlaClock Start(absl::Time started_at, absl::Duration target, const SlaRules& rules) {
  SlaClock c;
  c.due = started_at + target;
  const int64_t pct = std::clamp<int64_t>(rules.near_percent, 0, 100);
  c.near_at = c.due - target * pct / 100;
  return c;
}

void Classify(SlaClock& c, absl::Time now) {
  if (c.done_at) {
    c.state = *c.done_at < c.due ? SlaState::kMet : SlaState::kBreached;
  } else {
    c.state = now >= c.due ? SlaState::kBreached : SlaState::kPending;
  }
}

void Earliest(std::optional<absl::Time>& best, absl::Time t) {
  if (!best || t < *best) best = t;
}

}  // namespace

SlaTargets SlaTargetsFor(v1::Severity severity, const SlaRules& rules) {
  switch (severity) {
    case v1::SEVERITY_CRITICAL:
      return rules.critical;
    case v1::SEVERITY_HIGH:
      return rules.high;
    case v1::SEVERITY_MEDIUM:
      return rules.medium;
    default:
      return rules.low;
  }
}

std::string_view SlaStateName(SlaState state) {
  switch (state) {
    case SlaState::kPending:
      return "PENDING";
    case SlaState::kMet:
      return "MET";
    case SlaState::kBreached:
      return "BREACHED";
  }
  return "UNKNOWN";
}

std::string_view SlaUrgencyName(SlaUrgency urgency) {
  switch (urgency) {
    case SlaUrgency::kNone:
      return "NONE";
    case SlaUrgency::kNear:
      return "NEAR";
    case SlaUrgency::kPast:
      return "PAST";
  }
  return "UNKNOWN";
}

ComplaintSla EvaluateComplaintSla(v1::Severity severity, absl::Time filed_at,
                                  const std::vector<ComplaintStepAt>& steps, absl::Time now,
                                  const SlaRules& rules) {
  const SlaTargets targets = SlaTargetsFor(severity, rules);
  std::vector<ComplaintStepAt> ordered;
  ordered.reserve(steps.size());
  for (const ComplaintStepAt& s : steps) {
    if (s.at <= now) ordered.push_back(s);
  }
  std::stable_sort(ordered.begin(), ordered.end(),
                   [](const ComplaintStepAt& a, const ComplaintStepAt& b) {
                     if (a.at != b.at) return a.at < b.at;
                     return a.step < b.step;
                   });

  const auto new_episode = [&](absl::Time at, bool reopened) {
    SlaEpisode e;
    e.started_at = at;
    e.reopened = reopened;
    e.response = Start(at, targets.first_response, rules);
    e.resolution = Start(at, targets.resolution, rules);
    return e;
  };

  ComplaintSla out;
  out.episodes.push_back(new_episode(filed_at, false));
  bool open = true;
  for (const ComplaintStepAt& s : ordered) {
    // A step before the filing (clock skew) counts as at the filing.
    const absl::Time at = std::max(s.at, out.episodes.back().started_at);
    SlaEpisode& e = out.episodes.back();
    switch (s.step) {
      case ComplaintStep::kResponded:
        if (open && !e.response.done_at) e.response.done_at = at;
        break;
      case ComplaintStep::kResolved:
        if (!open) break;
        if (!e.response.done_at) e.response.done_at = at;
        e.resolution.done_at = at;
        open = false;
        break;
      case ComplaintStep::kReopened:
        if (open) break;
        out.episodes.push_back(new_episode(at, true));
        open = true;
        break;
    }
  }
  out.open = open;

  for (SlaEpisode& e : out.episodes) {
    Classify(e.response, now);
    Classify(e.resolution, now);
    out.breaches += (e.response.state == SlaState::kBreached ? 1 : 0) +
                    (e.resolution.state == SlaState::kBreached ? 1 : 0);
  }

  const SlaEpisode& cur = out.episodes.back();
  if (open) {
    const bool past =
        cur.response.state == SlaState::kBreached || cur.resolution.state == SlaState::kBreached;
    bool near = false;
    for (const SlaClock* c : {&cur.response, &cur.resolution}) {
      if (c->state != SlaState::kPending) continue;
      if (now >= c->near_at) {
        near = true;
      } else {
        Earliest(out.next_change_at, c->near_at);
      }
      Earliest(out.next_change_at, c->due);
    }
    out.urgency = past ? SlaUrgency::kPast : (near ? SlaUrgency::kNear : SlaUrgency::kNone);
  }
  return out;
}

}  // namespace custops::domain

// The lifecycle 360° view (docs/lifecycle.md "The view"): BuildCustomerView
// reads the facts at as_of (profile, MAN, open opportunities, revenue windows,
// contacts, flags) around Classify's answer (lifecycle.cc); also the funnel
// probabilities and the profile / MAN readings the classification reuses.
#include <algorithm>
#include <cstdint>
#include <limits>
#include <string>
#include <utility>

#include "custops/domain/lifecycle.h"
#include "lifecycle_internal.h"

namespace custops::domain {
namespace {

using internal::CustomerFacts;
using internal::Milestone;
using internal::MilestoneKind;
using lifecycle_internal::ContractInterval;
using lifecycle_internal::FoldProfile;
using lifecycle_internal::IsProspectOrIntent;
using lifecycle_internal::kInf;
using lifecycle_internal::kNegInf;
using lifecycle_internal::ManClassFor;
using lifecycle_internal::PositiveMicros;
using lifecycle_internal::SatAdd;
using lifecycle_internal::SetTimestamp;
using lifecycle_internal::TimeToMicros;

int64_t ClampToInt64(__int128 v) {
  if (v > std::numeric_limits<int64_t>::max()) return std::numeric_limits<int64_t>::max();
  if (v < std::numeric_limits<int64_t>::min()) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(v);
}

bool IsPurchase(MilestoneKind kind) {
  return kind == internal::MILESTONE_KIND_CONTRACT_SIGNED ||
         kind == internal::MILESTONE_KIND_CONTRACT_RENEWED;
}

bool ContractActiveAt(const internal::ContractFacts& c, int64_t t) {
  int64_t start, end;
  return ContractInterval(c, t, &start, &end) && start <= t && t < end;
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

}  // namespace

namespace lifecycle_internal {

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

}  // namespace lifecycle_internal

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

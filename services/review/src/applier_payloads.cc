// The applier's per-payload rules (applier.h): what each customer event
// moves in the review state (slices, funnel tables, distinct counters,
// snapshot deltas, the customer's and its opportunities' stored facts).
// Applier::Apply (review_projection.cc) dispatches to them; the steps they
// share with the ticker are in applier.cc.
#include <algorithm>
#include <cstdint>
#include <string>

#include "applier.h"
#include "attribution.h"
#include "custops/base/saturating.h"
#include "custops/base/status_macros.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/review.h"
#include "custops/event/time.h"
#include "derived_timelines.h"
#include "review_units.h"

namespace custops::review {

using domain::ReviewAccumulator;

absl::Status Applier::OnProfile(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                const v1::Event& e) {
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
  return absl::OkStatus();
}

void Applier::OnContactAdded(internal::ReviewCustomer& c, const v1::ContactAdded& a) {
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
}

absl::Status Applier::OnVisitLogged(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                    const std::string& actor) {
  const absl::Time at = FromMicros(t);
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
  auto* v = c.mutable_visit_micros();
  const auto pos = std::upper_bound(v->begin(), v->end(), t);
  const int index = static_cast<int>(pos - v->begin());
  v->Add(t);
  for (int i = v->size() - 1; i > index; --i) v->SwapElements(i, i - 1);
  return absl::OkStatus();
}

absl::Status Applier::OnOpportunityOpened(const std::string& id, internal::ReviewCustomer& c,
                                          int64_t t, const std::string& actor,
                                          const v1::OpportunityOpened& o) {
  const absl::Time at = FromMicros(t);
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
  RETURN_IF_ERROR(b_.ForEach(at, d, [](SliceState& s, const std::string&) { s.entered[1] += 1; }));
  b_.AddDelta(at, d, op->pipeline_percent_units(), 1, 0);
  if (c.intent_micros() == 0 || t < c.intent_micros()) c.set_intent_micros(t);
  return absl::OkStatus();
}

absl::Status Applier::OnOpportunityStageChanged(const std::string& id, internal::ReviewCustomer& c,
                                                int64_t t, const std::string& actor,
                                                const v1::OpportunityStageChanged& s) {
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
          sl.acc.won_cycle_seconds = base::SaturatingAdd(sl.acc.won_cycle_seconds, cycle);
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
            base::SaturatingAdd(sl.lost_amount_by_competitor[competitor], amount);
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

absl::Status Applier::OnQuoteIssued(internal::ReviewCustomer& c, int64_t t,
                                    const std::string& actor, const v1::QuoteIssued& q) {
  const absl::Time at = FromMicros(t);
  RETURN_IF_ERROR(b_.ForEach(at, DealDims(c, t, actor, ""), [&](SliceState& s, const std::string&) {
    s.acc.quotes += 1;
    if (q.list_amount().units() > 0) {
      s.acc.quoted_units = base::SaturatingAdd(s.acc.quoted_units, q.amount().units());
      s.acc.quoted_list_units =
          base::SaturatingAdd(s.acc.quoted_list_units, q.list_amount().units());
    }
  }));
  if (c.intent_micros() == 0 || t < c.intent_micros()) c.set_intent_micros(t);
  return absl::OkStatus();
}

absl::Status Applier::OnContractSigned(const std::string& id, internal::ReviewCustomer& c,
                                       int64_t t, const std::string& actor,
                                       const v1::ContractSigned& s) {
  internal::ReviewContract* k = c.add_contracts();
  k->set_contract_id(s.contract_id());
  k->set_signed_micros(t);
  k->set_end_micros(s.has_end() ? event::ToUnixMicros(s.end()) : 0);
  const int64_t start = s.has_start() ? event::ToUnixMicros(s.start()) : t;
  k->set_payment_due_micros(s.has_payment_due()
                                ? event::ToUnixMicros(s.payment_due())
                                : start + absl::ToInt64Microseconds(absl::Hours(24 * 30)));
  k->set_amount_units(s.amount().units());
  k->set_signed_amount_units(s.amount().units());
  RETURN_IF_ERROR(Purchase(id, c, t, actor, s.product(), s.amount().units(), s.cost().units()));
  return absl::OkStatus();
}

absl::Status Applier::OnContractRenewed(const std::string& id, internal::ReviewCustomer& c,
                                        int64_t t, const std::string& actor,
                                        const v1::ContractRenewed& r) {
  for (auto& k : *c.mutable_contracts()) {
    if (k.contract_id() == r.contract_id() && r.has_new_end()) {
      k.set_end_micros(event::ToUnixMicros(r.new_end()));
      k.set_amount_units(base::SaturatingAdd(k.amount_units(), r.amount().units()));
      k.add_renewal_micros(t);
      k.add_renewal_units(r.amount().units());
    }
  }
  RETURN_IF_ERROR(Purchase(id, c, t, actor, "", r.amount().units(), r.cost().units()));
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

void Applier::OnContractTerminated(internal::ReviewCustomer& c, int64_t t,
                                   const v1::ContractTerminated& terminated) {
  for (auto& k : *c.mutable_contracts()) {
    if (k.contract_id() == terminated.contract_id()) {
      k.set_terminated(true);
      if (k.terminated_micros() == 0 || t < k.terminated_micros()) k.set_terminated_micros(t);
    }
  }
}

absl::Status Applier::OnPaymentReceived(internal::ReviewCustomer& c, int64_t t,
                                        const std::string& actor, const v1::PaymentReceived& p) {
  const absl::Time at = FromMicros(t);
  RETURN_IF_ERROR(b_.ForEach(at, DealDims(c, t, actor, ""), [&](SliceState& s, const std::string&) {
    s.acc.payments_units = base::SaturatingAdd(s.acc.payments_units, p.amount().units());
  }));
  for (auto& k : *c.mutable_contracts()) {
    if (k.contract_id() == p.contract_id()) {
      k.set_paid_units(base::SaturatingAdd(k.paid_units(), p.amount().units()));
      k.add_payment_micros(t);
      k.add_payment_units(p.amount().units());
    }
  }
  return absl::OkStatus();
}

absl::Status Applier::OnComplaintFiled(const std::string& id, internal::ReviewCustomer& c,
                                       int64_t t, const v1::ComplaintFiled& f) {
  const absl::Time at = FromMicros(t);
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
  return absl::OkStatus();
}

absl::Status Applier::OnComplaintStep(const std::string& id, internal::ReviewCustomer& c, int64_t t,
                                      const v1::Event& e) {
  const absl::Time at = FromMicros(t);
  const std::string& cid = e.has_complaint_responded()  ? e.complaint_responded().complaint_id()
                           : e.has_complaint_resolved() ? e.complaint_resolved().complaint_id()
                                                        : e.complaint_reopened().complaint_id();
  internal::ReviewComplaint* k = nullptr;
  for (auto& x : *c.mutable_complaints()) {
    if (x.complaint_id() == cid) k = &x;
  }
  if (k == nullptr) return absl::FailedPreconditionError("unknown_complaint");
  const domain::ComplaintStep step = e.has_complaint_responded() ? domain::ComplaintStep::kResponded
                                     : e.has_complaint_resolved()
                                         ? domain::ComplaintStep::kResolved
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
  return absl::OkStatus();
}

absl::Status Applier::OnSatisfactionSurveyed(internal::ReviewCustomer& c, int64_t t,
                                             const v1::SatisfactionSurveyed& survey) {
  const absl::Time at = FromMicros(t);
  const int64_t csat = survey.csat();
  RETURN_IF_ERROR(b_.ForEach(at, BaseDims(c, t), [csat](SliceState& s, const std::string&) {
    s.acc.csat_sum += csat;
    s.acc.csat_surveys += 1;
  }));
  return absl::OkStatus();
}

}  // namespace custops::review

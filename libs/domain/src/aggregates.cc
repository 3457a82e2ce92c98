// Command-side state machines (docs/state-machines.md). Pure: no I/O, no clock.
#include "custops/domain/aggregates.h"

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

constexpr size_t kMaxIdBytes = 128;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

void ToProto(absl::Time t, google::protobuf::Timestamp* ts) {
  const int64_t s = absl::ToUnixSeconds(t);
  ts->set_seconds(s);
  ts->set_nanos(static_cast<int32_t>((t - absl::FromUnixSeconds(s)) / absl::Nanoseconds(1)));
}

std::string TimeStr(absl::Time t) { return absl::FormatTime(t, absl::UTCTimeZone()); }

std::string StageName(v1::FunnelStage s) { return v1::FunnelStage_Name(s); }

bool IsOpen(v1::FunnelStage s) {
  return s >= v1::FUNNEL_STAGE_OPPORTUNITY && s <= v1::FUNNEL_STAGE_COMMERCIAL_TERMS;
}

// Names the opportunity's state for messages: "open at FUNNEL_STAGE_...",
// "won (FUNNEL_STAGE_CONTRACT_SIGNED)" or "LOST".
std::string OpportunityStateText(const Opportunity& o) {
  if (o.stage == v1::FUNNEL_STAGE_LOST) return "LOST";
  if (o.stage == v1::FUNNEL_STAGE_CONTRACT_SIGNED) return "WON (FUNNEL_STAGE_CONTRACT_SIGNED)";
  return absl::StrCat("open at ", StageName(o.stage));
}

absl::Status ValidateId(const char* field, const std::string& id, bool required) {
  if (id.empty()) {
    if (!required) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrCat(field, " is required"));
  }
  if (id.size() > kMaxIdBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " must be at most ", kMaxIdBytes, " bytes, got ", id.size()));
  }
  return absl::OkStatus();
}

enum class MoneyRule { kOptional, kRequired, kPositive };

absl::Status ValidateMoney(const char* field, const v1::Money& m, const CommandRules& rules,
                           MoneyRule rule) {
  if (rule == MoneyRule::kOptional && m.units() == 0 && m.currency().empty()) {
    return absl::OkStatus();
  }
  if (m.currency() != rules.currency) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, ".currency must be ", rules.currency, ", got '", m.currency(), "'"));
  }
  if (rule == MoneyRule::kPositive ? m.units() <= 0 : m.units() < 0) {
    return absl::InvalidArgumentError(absl::StrCat(field, ".units must be ",
                                                   rule == MoneyRule::kPositive ? "> 0" : ">= 0",
                                                   ", got ", m.units()));
  }
  return absl::OkStatus();
}

absl::Status RequireRegistered(const CustomerAggregate& agg) {
  if (!agg.registered) {
    return absl::FailedPreconditionError(
        absl::StrCat("customer '", agg.customer_id, "' is not registered"));
  }
  return absl::OkStatus();
}

// An optional Money left empty (units 0, no currency) stays unset in the event.
bool IsEmpty(const v1::Money& m) { return m.units() == 0 && m.currency().empty(); }

v1::Event NewEvent(const CustomerAggregate& agg, absl::Time now) {
  v1::Event e;
  e.set_customer_id(agg.customer_id);
  ToProto(now, e.mutable_occurred_at());
  return e;
}

template <typename Map>
absl::StatusOr<const typename Map::mapped_type*> Find(const Map& map, const char* kind,
                                                      const std::string& id) {
  auto it = map.find(id);
  if (it == map.end()) {
    return absl::NotFoundError(absl::StrCat(kind, " ", id, " not found"));
  }
  return &it->second;
}

template <typename Map>
absl::Status RequireNew(const Map& map, const char* kind, const std::string& id) {
  if (map.count(id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat(kind, " ", id, " already exists"));
  }
  return absl::OkStatus();
}

#define CUSTOPS_AGG_RETURN_IF_ERROR(expr) \
  do {                                    \
    absl::Status status_ = (expr);        \
    if (!status_.ok()) return status_;    \
  } while (false)

#define CUSTOPS_AGG_ASSIGN_OR_RETURN(lhs, expr) \
  auto lhs##_or = (expr);                       \
  if (!lhs##_or.ok()) return lhs##_or.status(); \
  auto lhs = *lhs##_or

}  // namespace

const char* QuoteStatusName(QuoteStatus s) {
  switch (s) {
    case QuoteStatus::kIssued:
      return "ISSUED";
    case QuoteStatus::kAccepted:
      return "ACCEPTED";
    case QuoteStatus::kRejected:
      return "REJECTED";
    case QuoteStatus::kExpired:
      return "EXPIRED";
  }
  return "?";
}

const char* ContractStatusName(ContractStatus s) {
  switch (s) {
    case ContractStatus::kActive:
      return "ACTIVE";
    case ContractStatus::kRenewed:
      return "RENEWED";
    case ContractStatus::kTerminated:
      return "TERMINATED";
    case ContractStatus::kEnded:
      return "ENDED";
  }
  return "?";
}

const char* ComplaintStatusName(ComplaintStatus s) {
  switch (s) {
    case ComplaintStatus::kFiled:
      return "FILED";
    case ComplaintStatus::kResponded:
      return "RESPONDED";
    case ComplaintStatus::kResolved:
      return "RESOLVED";
    case ComplaintStatus::kReopened:
      return "REOPENED";
  }
  return "?";
}

QuoteStatus StatusAt(const Quote& q, absl::Time now) {
  if (q.decided == QuoteStatus::kIssued && now > q.valid_until) return QuoteStatus::kExpired;
  return q.decided;
}

ContractStatus StatusAt(const Contract& c, absl::Time now) {
  if (c.terminated) return ContractStatus::kTerminated;
  if (now >= c.end) return ContractStatus::kEnded;
  return c.renewals > 0 ? ContractStatus::kRenewed : ContractStatus::kActive;
}

int64_t Outstanding(const Contract& c) {
  return c.amount_units + c.renewal_amount_units - c.paid_units;
}

// ---- Evolve ----

absl::Status Evolve(CustomerAggregate& agg, const v1::Event& event) {
  if (event.payload_case() == v1::Event::PAYLOAD_NOT_SET) {
    return absl::InvalidArgumentError("event has no payload");
  }
  if (!agg.customer_id.empty() && !event.customer_id().empty() &&
      event.customer_id() != agg.customer_id) {
    return absl::InvalidArgumentError(absl::StrCat("event customer_id '", event.customer_id(),
                                                   "' is not '", agg.customer_id, "'"));
  }
  if (agg.customer_id.empty()) agg.customer_id = event.customer_id();
  const absl::Time at = FromProto(event.occurred_at());

  switch (event.payload_case()) {
    case v1::Event::kCustomerRegistered:
      if (agg.registered) return absl::AlreadyExistsError("customer already registered");
      agg.registered = true;
      return absl::OkStatus();

    case v1::Event::kOpportunityOpened: {
      const auto& p = event.opportunity_opened();
      CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.opportunities, "opportunity", p.opportunity_id()));
      Opportunity& o = agg.opportunities[p.opportunity_id()];
      o.id = p.opportunity_id();
      o.stage = v1::FUNNEL_STAGE_OPPORTUNITY;
      o.amount_units = p.amount().units();
      o.opened_at = at;
      return absl::OkStatus();
    }
    case v1::Event::kOpportunityStageChanged: {
      const auto& p = event.opportunity_stage_changed();
      auto it = agg.opportunities.find(p.opportunity_id());
      if (it == agg.opportunities.end()) {
        return absl::NotFoundError(absl::StrCat("opportunity ", p.opportunity_id(), " not found"));
      }
      if (p.stage() < v1::FUNNEL_STAGE_OPPORTUNITY || p.stage() > v1::FUNNEL_STAGE_LOST) {
        return absl::InvalidArgumentError(absl::StrCat("stage ", p.stage(), " is not a stage"));
      }
      it->second.stage = p.stage();
      if (p.stage() == v1::FUNNEL_STAGE_LOST) it->second.lost_at = at;
      return absl::OkStatus();
    }

    case v1::Event::kQuoteIssued: {
      const auto& p = event.quote_issued();
      CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.quotes, "quote", p.quote_id()));
      Quote& q = agg.quotes[p.quote_id()];
      q.id = p.quote_id();
      q.opportunity_id = p.opportunity_id();
      q.amount_units = p.amount().units();
      q.valid_until = FromProto(p.valid_until());
      return absl::OkStatus();
    }
    case v1::Event::kQuoteAccepted:
    case v1::Event::kQuoteRejected: {
      const bool accepted = event.payload_case() == v1::Event::kQuoteAccepted;
      const std::string& id =
          accepted ? event.quote_accepted().quote_id() : event.quote_rejected().quote_id();
      auto it = agg.quotes.find(id);
      if (it == agg.quotes.end()) {
        return absl::NotFoundError(absl::StrCat("quote ", id, " not found"));
      }
      it->second.decided = accepted ? QuoteStatus::kAccepted : QuoteStatus::kRejected;
      return absl::OkStatus();
    }

    case v1::Event::kContractSigned: {
      const auto& p = event.contract_signed();
      CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.contracts, "contract", p.contract_id()));
      Contract& c = agg.contracts[p.contract_id()];
      c.id = p.contract_id();
      c.quote_id = p.quote_id();
      c.amount_units = p.amount().units();
      c.start = FromProto(p.start());
      c.end = FromProto(p.end());
      if (auto q = agg.quotes.find(p.quote_id()); q != agg.quotes.end()) {
        q->second.contract_id = p.contract_id();
      }
      agg.churned = false;
      return absl::OkStatus();
    }
    case v1::Event::kContractRenewed: {
      const auto& p = event.contract_renewed();
      auto it = agg.contracts.find(p.contract_id());
      if (it == agg.contracts.end()) {
        return absl::NotFoundError(absl::StrCat("contract ", p.contract_id(), " not found"));
      }
      it->second.end = FromProto(p.new_end());
      it->second.renewal_amount_units += p.amount().units();
      ++it->second.renewals;
      agg.churned = false;
      return absl::OkStatus();
    }
    case v1::Event::kContractTerminated: {
      const auto& p = event.contract_terminated();
      auto it = agg.contracts.find(p.contract_id());
      if (it == agg.contracts.end()) {
        return absl::NotFoundError(absl::StrCat("contract ", p.contract_id(), " not found"));
      }
      it->second.terminated = true;
      return absl::OkStatus();
    }
    case v1::Event::kPaymentReceived: {
      const auto& p = event.payment_received();
      auto it = agg.contracts.find(p.contract_id());
      if (it == agg.contracts.end()) {
        return absl::NotFoundError(absl::StrCat("contract ", p.contract_id(), " not found"));
      }
      if (!agg.payment_ids.insert(p.payment_id()).second) {
        return absl::AlreadyExistsError(
            absl::StrCat("payment ", p.payment_id(), " already exists"));
      }
      it->second.paid_units += p.amount().units();
      return absl::OkStatus();
    }

    case v1::Event::kComplaintFiled: {
      const auto& p = event.complaint_filed();
      CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.complaints, "complaint", p.complaint_id()));
      Complaint& c = agg.complaints[p.complaint_id()];
      c.id = p.complaint_id();
      c.severity = p.severity();
      c.status = ComplaintStatus::kFiled;
      return absl::OkStatus();
    }
    case v1::Event::kComplaintResponded:
    case v1::Event::kComplaintResolved:
    case v1::Event::kComplaintReopened: {
      std::string id;
      ComplaintStatus next;
      if (event.has_complaint_responded()) {
        id = event.complaint_responded().complaint_id();
        next = ComplaintStatus::kResponded;
      } else if (event.has_complaint_resolved()) {
        id = event.complaint_resolved().complaint_id();
        next = ComplaintStatus::kResolved;
      } else {
        id = event.complaint_reopened().complaint_id();
        next = ComplaintStatus::kReopened;
      }
      auto it = agg.complaints.find(id);
      if (it == agg.complaints.end()) {
        return absl::NotFoundError(absl::StrCat("complaint ", id, " not found"));
      }
      it->second.status = next;
      if (next == ComplaintStatus::kReopened) ++it->second.reopen_count;
      return absl::OkStatus();
    }

    case v1::Event::kContactAdded:
      if (!agg.contact_ids.insert(event.contact_added().contact_id()).second) {
        return absl::AlreadyExistsError(
            absl::StrCat("contact ", event.contact_added().contact_id(), " already exists"));
      }
      return absl::OkStatus();
    case v1::Event::kVisitLogged:
      if (!agg.visit_ids.insert(event.visit_logged().visit_id()).second) {
        return absl::AlreadyExistsError(
            absl::StrCat("visit ", event.visit_logged().visit_id(), " already exists"));
      }
      return absl::OkStatus();
    case v1::Event::kSatisfactionSurveyed:
      if (!agg.survey_ids.insert(event.satisfaction_surveyed().survey_id()).second) {
        return absl::AlreadyExistsError(
            absl::StrCat("survey ", event.satisfaction_surveyed().survey_id(), " already exists"));
      }
      return absl::OkStatus();
    case v1::Event::kCustomerChurned:
      agg.churned = true;
      return absl::OkStatus();

    case v1::Event::kCustomerProfileUpdated:
    case v1::Event::kReferralMade:
    case v1::Event::PAYLOAD_NOT_SET:
      // Not a command-side fact (profile updates, referrals, ...).
      return absl::OkStatus();
  }
  return absl::OkStatus();  // not reached: every case returns
}

// ---- Decide: customer-level commands ----

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RegisterCustomer& cmd,
                                 absl::Time now, const CommandRules& rules) {
  const v1::CustomerRegistered& p = cmd.profile;
  if (p.name().empty()) return absl::InvalidArgumentError("name is required");
  if (p.kind() == v1::CUSTOMER_KIND_UNSPECIFIED) {
    return absl::InvalidArgumentError("kind is required");
  }
  if (p.has_budget()) {
    CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("budget", p.budget(), rules, MoneyRule::kOptional));
  }
  if (agg.registered) {
    return absl::AlreadyExistsError(
        absl::StrCat("customer '", agg.customer_id, "' is already registered"));
  }
  v1::Event e = NewEvent(agg, now);
  *e.mutable_customer_registered() = p;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const UpdateProfile& cmd,
                                 absl::Time now, const CommandRules& rules) {
  const v1::CustomerProfileUpdated& p = cmd.changes;
  const bool any = p.has_name() || p.has_industry() || p.has_region() || p.has_city() ||
                   p.has_owner_id() || p.has_channel() || p.has_size() || p.has_budget() ||
                   p.need() != v1::NEED_UNSPECIFIED || p.kind() != v1::CUSTOMER_KIND_UNSPECIFIED;
  if (!any) return absl::InvalidArgumentError("changes: at least one field must be set");
  if (p.has_name() && p.name().empty()) return absl::InvalidArgumentError("name must not be empty");
  if (p.has_budget()) {
    CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("budget", p.budget(), rules, MoneyRule::kRequired));
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  v1::Event e = NewEvent(agg, now);
  *e.mutable_customer_profile_updated() = p;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AddContact& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contact_id", cmd.contact.contact_id(), true));
  if (cmd.contact.name().empty()) return absl::InvalidArgumentError("name is required");
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  if (agg.contact_ids.count(cmd.contact.contact_id()) != 0) {
    return absl::AlreadyExistsError(
        absl::StrCat("contact ", cmd.contact.contact_id(), " already exists"));
  }
  v1::Event e = NewEvent(agg, now);
  *e.mutable_contact_added() = cmd.contact;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const LogVisit& cmd, absl::Time now,
                                 const CommandRules& /*rules*/) {
  const v1::VisitLogged& v = cmd.visit;
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("visit_id", v.visit_id(), true));
  if (v.channel() == v1::VISIT_CHANNEL_UNSPECIFIED) {
    return absl::InvalidArgumentError("channel is required");
  }
  if (v.outcome() == v1::VISIT_OUTCOME_UNSPECIFIED) {
    return absl::InvalidArgumentError("outcome is required");
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contact_id", v.contact_id(), false));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  if (agg.visit_ids.count(v.visit_id()) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("visit ", v.visit_id(), " already exists"));
  }
  if (!v.contact_id().empty() && agg.contact_ids.count(v.contact_id()) == 0) {
    return absl::NotFoundError(absl::StrCat("contact ", v.contact_id(), " not found"));
  }
  v1::Event e = NewEvent(agg, now);
  *e.mutable_visit_logged() = v;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordSurvey& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  const v1::SatisfactionSurveyed& s = cmd.survey;
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("survey_id", s.survey_id(), true));
  if (s.csat() < 1 || s.csat() > 5) {
    return absl::InvalidArgumentError(absl::StrCat("csat must be 1..5, got ", s.csat()));
  }
  if (s.has_nps() && (s.nps() < 0 || s.nps() > 10)) {
    return absl::InvalidArgumentError(absl::StrCat("nps must be 0..10, got ", s.nps()));
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  if (agg.survey_ids.count(s.survey_id()) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("survey ", s.survey_id(), " already exists"));
  }
  v1::Event e = NewEvent(agg, now);
  *e.mutable_satisfaction_surveyed() = s;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordReferral& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("referred_customer_id", cmd.referred_customer_id, true));
  if (cmd.referred_customer_id == agg.customer_id) {
    return absl::InvalidArgumentError("referred_customer_id must differ from customer_id");
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  v1::Event e = NewEvent(agg, now);
  e.mutable_referral_made()->set_referred_customer_id(cmd.referred_customer_id);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const MarkLost& cmd, absl::Time now,
                                 const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  if (agg.churned) {
    return absl::FailedPreconditionError(absl::StrCat(
        "customer '", agg.customer_id, "' is already marked lost with no contract since"));
  }
  v1::Event e = NewEvent(agg, now);
  e.mutable_customer_churned()->set_reason(cmd.reason);
  return e;
}

// ---- Decide: opportunities ----

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const OpenOpportunity& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("opportunity_id", cmd.opportunity_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("amount", cmd.amount, rules, MoneyRule::kRequired));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.opportunities, "opportunity", cmd.opportunity_id));
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_opportunity_opened();
  p->set_opportunity_id(cmd.opportunity_id);
  *p->mutable_amount() = cmd.amount;
  p->set_product(cmd.product);
  if (cmd.expected_close) ToProto(*cmd.expected_close, p->mutable_expected_close());
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AdvanceOpportunity& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("opportunity_id", cmd.opportunity_id, true));
  if (cmd.stage < v1::FUNNEL_STAGE_FIRST_VISIT || cmd.stage > v1::FUNNEL_STAGE_LOST) {
    return absl::InvalidArgumentError(
        absl::StrCat("stage must be FUNNEL_STAGE_FIRST_VISIT..FUNNEL_STAGE_CONTRACT_SIGNED or "
                     "FUNNEL_STAGE_LOST, "
                     "got ",
                     static_cast<int>(cmd.stage),
                     " (to return a LOST opportunity to stage 1 use "
                     "ReopenOpportunity)"));
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_ASSIGN_OR_RETURN(o, Find(agg.opportunities, "opportunity", cmd.opportunity_id));
  if (!IsOpen(o->stage)) {
    return absl::FailedPreconditionError(
        absl::StrCat("opportunity ", o->id, " is ", OpportunityStateText(*o), ", not open"));
  }
  if (cmd.stage != v1::FUNNEL_STAGE_LOST && cmd.stage <= o->stage) {
    return absl::FailedPreconditionError(
        absl::StrCat("opportunity ", o->id, " is open at ", StageName(o->stage), "; ",
                     StageName(cmd.stage), " is not a forward move"));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_opportunity_stage_changed();
  p->set_opportunity_id(cmd.opportunity_id);
  p->set_stage(cmd.stage);
  p->set_competitor(cmd.competitor);
  p->set_reason(cmd.reason);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ReopenOpportunity& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("opportunity_id", cmd.opportunity_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_ASSIGN_OR_RETURN(o, Find(agg.opportunities, "opportunity", cmd.opportunity_id));
  if (o->stage != v1::FUNNEL_STAGE_LOST) {
    return absl::FailedPreconditionError(
        absl::StrCat("opportunity ", o->id, " is ", OpportunityStateText(*o), ", not LOST"));
  }
  if (rules.opportunity_reopen_window <= absl::ZeroDuration()) {
    return absl::FailedPreconditionError(
        absl::StrCat("opportunity ", o->id, " is LOST and reopening is disabled"));
  }
  if (now - o->lost_at > rules.opportunity_reopen_window) {
    return absl::FailedPreconditionError(absl::StrCat(
        "opportunity ", o->id, " is LOST since ", TimeStr(o->lost_at),
        ", beyond the reopen window of ", absl::FormatDuration(rules.opportunity_reopen_window)));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_opportunity_stage_changed();
  p->set_opportunity_id(cmd.opportunity_id);
  p->set_stage(v1::FUNNEL_STAGE_OPPORTUNITY);
  p->set_reason(cmd.reason);
  return e;
}

// ---- Decide: quotes ----

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const IssueQuote& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("quote_id", cmd.quote_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("opportunity_id", cmd.opportunity_id, false));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("amount", cmd.amount, rules, MoneyRule::kRequired));
  CUSTOPS_AGG_RETURN_IF_ERROR(
      ValidateMoney("list_amount", cmd.list_amount, rules, MoneyRule::kOptional));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("cost", cmd.cost, rules, MoneyRule::kOptional));
  if (cmd.valid_until <= now) {
    return absl::InvalidArgumentError(absl::StrCat("valid_until (", TimeStr(cmd.valid_until),
                                                   ") must be after now (", TimeStr(now), ")"));
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.quotes, "quote", cmd.quote_id));
  if (!cmd.opportunity_id.empty()) {
    CUSTOPS_AGG_ASSIGN_OR_RETURN(o, Find(agg.opportunities, "opportunity", cmd.opportunity_id));
    if (!IsOpen(o->stage)) {
      return absl::FailedPreconditionError(
          absl::StrCat("opportunity ", o->id, " is ", OpportunityStateText(*o), ", not open"));
    }
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_quote_issued();
  p->set_quote_id(cmd.quote_id);
  p->set_opportunity_id(cmd.opportunity_id);
  *p->mutable_amount() = cmd.amount;
  if (!IsEmpty(cmd.list_amount)) *p->mutable_list_amount() = cmd.list_amount;
  if (!IsEmpty(cmd.cost)) *p->mutable_cost() = cmd.cost;
  ToProto(cmd.valid_until, p->mutable_valid_until());
  return e;
}

namespace {
absl::StatusOr<const Quote*> FindIssuedQuote(const CustomerAggregate& agg, const std::string& id,
                                             absl::Time now) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("quote_id", id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_ASSIGN_OR_RETURN(q, Find(agg.quotes, "quote", id));
  const QuoteStatus s = StatusAt(*q, now);
  if (s == QuoteStatus::kExpired) {
    return absl::FailedPreconditionError(absl::StrCat("quote ", id, " is EXPIRED (valid until ",
                                                      TimeStr(q->valid_until), "), not ISSUED"));
  }
  if (s != QuoteStatus::kIssued) {
    return absl::FailedPreconditionError(
        absl::StrCat("quote ", id, " is ", QuoteStatusName(s), ", not ISSUED"));
  }
  return q;
}
}  // namespace

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AcceptQuote& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(q, FindIssuedQuote(agg, cmd.quote_id, now));
  (void)q;
  v1::Event e = NewEvent(agg, now);
  e.mutable_quote_accepted()->set_quote_id(cmd.quote_id);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RejectQuote& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(q, FindIssuedQuote(agg, cmd.quote_id, now));
  (void)q;
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_quote_rejected();
  p->set_quote_id(cmd.quote_id);
  p->set_reason(cmd.reason);
  p->set_competitor(cmd.competitor);
  return e;
}

// ---- Decide: contracts and payments ----

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const SignContract& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contract_id", cmd.contract_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("quote_id", cmd.quote_id, false));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("opportunity_id", cmd.opportunity_id, false));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("amount", cmd.amount, rules, MoneyRule::kRequired));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("cost", cmd.cost, rules, MoneyRule::kOptional));
  if (cmd.start == absl::InfinitePast() || cmd.start == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("start is required");
  }
  if (cmd.end <= cmd.start) {
    return absl::InvalidArgumentError(absl::StrCat(
        "end (", TimeStr(cmd.end), ") must be after start (", TimeStr(cmd.start), ")"));
  }
  if (cmd.end == absl::InfiniteFuture()) return absl::InvalidArgumentError("end must be finite");
  const absl::Time due = cmd.payment_due.value_or(cmd.start + rules.default_payment_terms);
  if (due < cmd.start || due == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError(absl::StrCat("payment_due (", TimeStr(due),
                                                   ") must be finite and not before start (",
                                                   TimeStr(cmd.start), ")"));
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.contracts, "contract", cmd.contract_id));
  if (!cmd.quote_id.empty()) {
    CUSTOPS_AGG_ASSIGN_OR_RETURN(q, Find(agg.quotes, "quote", cmd.quote_id));
    const QuoteStatus s = StatusAt(*q, now);
    if (s != QuoteStatus::kAccepted) {
      return absl::FailedPreconditionError(
          absl::StrCat("quote ", q->id, " is ", QuoteStatusName(s), ", not ACCEPTED"));
    }
    if (!q->contract_id.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("quote ", q->id, " is already signed as contract ", q->contract_id));
    }
  }
  if (!cmd.opportunity_id.empty()) {
    CUSTOPS_AGG_ASSIGN_OR_RETURN(o, Find(agg.opportunities, "opportunity", cmd.opportunity_id));
    if (o->stage == v1::FUNNEL_STAGE_LOST) {
      return absl::FailedPreconditionError(absl::StrCat("opportunity ", o->id, " is LOST"));
    }
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_contract_signed();
  p->set_contract_id(cmd.contract_id);
  p->set_quote_id(cmd.quote_id);
  p->set_opportunity_id(cmd.opportunity_id);
  *p->mutable_amount() = cmd.amount;
  if (!IsEmpty(cmd.cost)) *p->mutable_cost() = cmd.cost;
  ToProto(cmd.start, p->mutable_start());
  ToProto(cmd.end, p->mutable_end());
  ToProto(due, p->mutable_payment_due());
  p->set_product(cmd.product);
  p->set_channel(cmd.channel);
  return e;
}

namespace {
absl::StatusOr<const Contract*> FindActiveContract(const CustomerAggregate& agg,
                                                   const std::string& id, absl::Time now) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, Find(agg.contracts, "contract", id));
  const ContractStatus s = StatusAt(*c, now);
  if (s == ContractStatus::kEnded) {
    return absl::FailedPreconditionError(
        absl::StrCat("contract ", id, " is ENDED (at ", TimeStr(c->end), "), not active"));
  }
  if (s == ContractStatus::kTerminated) {
    return absl::FailedPreconditionError(
        absl::StrCat("contract ", id, " is TERMINATED, not active"));
  }
  return c;
}
}  // namespace

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RenewContract& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contract_id", cmd.contract_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("amount", cmd.amount, rules, MoneyRule::kRequired));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("cost", cmd.cost, rules, MoneyRule::kOptional));
  if (cmd.new_end == absl::InfinitePast() || cmd.new_end == absl::InfiniteFuture()) {
    return absl::InvalidArgumentError("new_end is required and must be finite");
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, FindActiveContract(agg, cmd.contract_id, now));
  if (cmd.new_end <= c->end) {
    return absl::InvalidArgumentError(absl::StrCat("new_end (", TimeStr(cmd.new_end),
                                                   ") must be after the current end (",
                                                   TimeStr(c->end), ") of contract ", c->id));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_contract_renewed();
  p->set_contract_id(cmd.contract_id);
  ToProto(cmd.new_end, p->mutable_new_end());
  *p->mutable_amount() = cmd.amount;
  if (!IsEmpty(cmd.cost)) *p->mutable_cost() = cmd.cost;
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const TerminateContract& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contract_id", cmd.contract_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, FindActiveContract(agg, cmd.contract_id, now));
  (void)c;
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_contract_terminated();
  p->set_contract_id(cmd.contract_id);
  p->set_reason(cmd.reason);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordPayment& cmd,
                                 absl::Time now, const CommandRules& rules) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("payment_id", cmd.payment_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("contract_id", cmd.contract_id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateMoney("amount", cmd.amount, rules, MoneyRule::kPositive));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  if (agg.payment_ids.count(cmd.payment_id) != 0) {
    return absl::AlreadyExistsError(absl::StrCat("payment ", cmd.payment_id, " already exists"));
  }
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, Find(agg.contracts, "contract", cmd.contract_id));
  if (rules.reject_overpayment && cmd.amount.units() > Outstanding(*c)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "payment of ", cmd.amount.units(), " exceeds the outstanding amount ", Outstanding(*c),
        " of contract ", c->id, " (", ContractStatusName(StatusAt(*c, now)), ")"));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_payment_received();
  p->set_payment_id(cmd.payment_id);
  p->set_contract_id(cmd.contract_id);
  *p->mutable_amount() = cmd.amount;
  return e;
}

// ---- Decide: complaints ----

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const FileComplaint& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("complaint_id", cmd.complaint_id, true));
  if (!v1::ComplaintCategory_IsValid(cmd.category) ||
      cmd.category == v1::COMPLAINT_CATEGORY_UNSPECIFIED) {
    return absl::InvalidArgumentError("category is required");
  }
  if (!v1::Severity_IsValid(cmd.severity) || cmd.severity == v1::SEVERITY_UNSPECIFIED) {
    return absl::InvalidArgumentError("severity is required");
  }
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireNew(agg.complaints, "complaint", cmd.complaint_id));
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_complaint_filed();
  p->set_complaint_id(cmd.complaint_id);
  p->set_category(cmd.category);
  p->set_severity(cmd.severity);
  p->set_channel(cmd.channel);
  p->set_description(cmd.description);
  return e;
}

namespace {
absl::StatusOr<const Complaint*> FindComplaint(const CustomerAggregate& agg,
                                               const std::string& id) {
  CUSTOPS_AGG_RETURN_IF_ERROR(ValidateId("complaint_id", id, true));
  CUSTOPS_AGG_RETURN_IF_ERROR(RequireRegistered(agg));
  return Find(agg.complaints, "complaint", id);
}
}  // namespace

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RespondComplaint& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, FindComplaint(agg, cmd.complaint_id));
  if (c->status == ComplaintStatus::kResolved) {
    return absl::FailedPreconditionError(
        absl::StrCat("complaint ", c->id, " is RESOLVED, not open (reopen it before responding)"));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_complaint_responded();
  p->set_complaint_id(cmd.complaint_id);
  p->set_note(cmd.note);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ResolveComplaint& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, FindComplaint(agg, cmd.complaint_id));
  if (c->status == ComplaintStatus::kResolved) {
    return absl::FailedPreconditionError(
        absl::StrCat("complaint ", c->id, " is already RESOLVED, not open"));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_complaint_resolved();
  p->set_complaint_id(cmd.complaint_id);
  p->set_resolution(cmd.resolution);
  p->set_satisfied(cmd.satisfied);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ReopenComplaint& cmd,
                                 absl::Time now, const CommandRules& /*rules*/) {
  CUSTOPS_AGG_ASSIGN_OR_RETURN(c, FindComplaint(agg, cmd.complaint_id));
  if (c->status != ComplaintStatus::kResolved) {
    return absl::FailedPreconditionError(absl::StrCat(
        "complaint ", c->id, " is ", ComplaintStatusName(c->status), ", not RESOLVED"));
  }
  v1::Event e = NewEvent(agg, now);
  auto* p = e.mutable_complaint_reopened();
  p->set_complaint_id(cmd.complaint_id);
  p->set_reason(cmd.reason);
  return e;
}

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const Command& cmd, absl::Time now,
                                 const CommandRules& rules) {
  return std::visit([&](const auto& c) { return Decide(agg, c, now, rules); }, cmd);
}

}  // namespace custops::domain

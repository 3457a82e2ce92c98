// Command-side state machines (docs/state-machines.md), the state: the status
// names and time-driven statuses, Evolve (the facts folded from events) and
// the Decide that dispatches a Command. The Decide of each command is
// aggregates_customer_commands.cc (customer-level and complaint commands) or
// aggregates_sales_commands.cc (opportunities, quotes, contracts, payments).
// Pure: no I/O, no clock.
#include "custops/domain/aggregates.h"

#include <cstdint>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregates_internal.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

using aggregates_internal::RequireNew;

absl::Time FromProto(const google::protobuf::Timestamp& ts) {
  return absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
}

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

// ---- Decide ----

// The overload for each command is in aggregates_customer_commands.cc or
// aggregates_sales_commands.cc; this one dispatches to it.

absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const Command& cmd, absl::Time now,
                                 const CommandRules& rules) {
  return std::visit([&](const auto& c) { return Decide(agg, c, now, rules); }, cmd);
}

}  // namespace custops::domain

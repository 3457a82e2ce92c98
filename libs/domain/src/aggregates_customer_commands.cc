// Command-side state machines (docs/state-machines.md), the Decide of the
// customer-level commands (registration, profile, contacts, visits, surveys,
// referrals, marking lost) and of the complaint commands. The state and Evolve
// are aggregates.cc, the sales commands aggregates_sales_commands.cc.
// Pure: no I/O, no clock.
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregates_internal.h"
#include "custops/domain/aggregates.h"

namespace custops::domain {
namespace {

using aggregates_internal::Find;
using aggregates_internal::MoneyRule;
using aggregates_internal::NewEvent;
using aggregates_internal::RequireNew;
using aggregates_internal::RequireRegistered;
using aggregates_internal::ValidateId;
using aggregates_internal::ValidateMoney;

}  // namespace

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

}  // namespace custops::domain

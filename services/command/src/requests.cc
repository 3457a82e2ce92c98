#include "custops/command/requests.h"

#include <optional>

namespace custops::command {
namespace {

// An unset Timestamp is "not given": InfinitePast, which Decide refuses
// where the time is required.
absl::Time TimeOr(bool has, const google::protobuf::Timestamp& t) {
  return has ? event::FromProto(t) : absl::InfinitePast();
}

}  // namespace

domain::Command ToCommand(const v1::RegisterCustomerRequest& r) {
  domain::RegisterCustomer c;
  v1::CustomerRegistered& p = c.profile;
  p.set_name(r.name());
  p.set_kind(r.kind());
  p.set_industry(r.industry());
  p.set_region(r.region());
  p.set_city(r.city());
  p.set_owner_id(r.owner_id());
  p.set_channel(r.channel());
  p.set_size(r.size());
  if (r.has_budget()) *p.mutable_budget() = r.budget();
  p.set_need(r.need());
  return c;
}

domain::Command ToCommand(const v1::UpdateProfileRequest& r) {
  domain::UpdateProfile c;
  v1::CustomerProfileUpdated& p = c.changes;
  if (r.has_name()) p.set_name(r.name());
  if (r.has_industry()) p.set_industry(r.industry());
  if (r.has_region()) p.set_region(r.region());
  if (r.has_city()) p.set_city(r.city());
  if (r.has_owner_id()) p.set_owner_id(r.owner_id());
  if (r.has_channel()) p.set_channel(r.channel());
  if (r.has_size()) p.set_size(r.size());
  if (r.has_budget()) *p.mutable_budget() = r.budget();
  p.set_need(r.need());
  p.set_kind(r.kind());
  return c;
}

domain::Command ToCommand(const v1::AddContactRequest& r) {
  domain::AddContact c;
  c.contact.set_contact_id(r.contact_id());
  c.contact.set_name(r.name());
  c.contact.set_role(r.role());
  if (r.has_birthday()) *c.contact.mutable_birthday() = r.birthday();
  return c;
}

domain::Command ToCommand(const v1::RecordSurveyRequest& r) {
  domain::RecordSurvey c;
  c.survey.set_survey_id(r.survey_id());
  c.survey.set_csat(r.csat());
  if (r.has_nps()) c.survey.set_nps(r.nps());
  return c;
}

domain::Command ToCommand(const v1::RecordReferralRequest& r) {
  return domain::RecordReferral{r.referred_customer_id()};
}

domain::Command ToCommand(const v1::MarkLostRequest& r) { return domain::MarkLost{r.reason()}; }

domain::Command ToCommand(const v1::LogVisitRequest& r) {
  domain::LogVisit c;
  c.visit.set_visit_id(r.visit_id());
  c.visit.set_channel(r.channel());
  c.visit.set_contact_id(r.contact_id());
  c.visit.set_outcome(r.outcome());
  c.visit.set_note(r.note());
  return c;
}

domain::Command ToCommand(const v1::OpenOpportunityRequest& r) {
  domain::OpenOpportunity c{
      .opportunity_id = r.opportunity_id(), .amount = r.amount(), .product = r.product()};
  if (r.has_expected_close()) c.expected_close = event::FromProto(r.expected_close());
  return c;
}

domain::Command ToCommand(const v1::AdvanceOpportunityRequest& r) {
  return domain::AdvanceOpportunity{.opportunity_id = r.opportunity_id(),
                                    .stage = r.stage(),
                                    .competitor = r.competitor(),
                                    .reason = r.reason()};
}

domain::Command ToCommand(const v1::ReopenOpportunityRequest& r) {
  return domain::ReopenOpportunity{.opportunity_id = r.opportunity_id(), .reason = r.reason()};
}

domain::Command ToCommand(const v1::IssueQuoteRequest& r) {
  return domain::IssueQuote{.quote_id = r.quote_id(),
                            .opportunity_id = r.opportunity_id(),
                            .amount = r.amount(),
                            .list_amount = r.list_amount(),
                            .cost = r.cost(),
                            .valid_until = TimeOr(r.has_valid_until(), r.valid_until())};
}

domain::Command ToCommand(const v1::AcceptQuoteRequest& r) {
  return domain::AcceptQuote{r.quote_id()};
}

domain::Command ToCommand(const v1::RejectQuoteRequest& r) {
  return domain::RejectQuote{
      .quote_id = r.quote_id(), .reason = r.reason(), .competitor = r.competitor()};
}

domain::Command ToCommand(const v1::SignContractRequest& r) {
  domain::SignContract c{.contract_id = r.contract_id(),
                         .quote_id = r.quote_id(),
                         .opportunity_id = r.opportunity_id(),
                         .amount = r.amount(),
                         .cost = r.cost(),
                         .start = TimeOr(r.has_start(), r.start()),
                         .end = TimeOr(r.has_end(), r.end()),
                         .product = r.product(),
                         .channel = r.channel()};
  if (r.has_payment_due()) c.payment_due = event::FromProto(r.payment_due());
  return c;
}

domain::Command ToCommand(const v1::RenewContractRequest& r) {
  return domain::RenewContract{.contract_id = r.contract_id(),
                               .new_end = TimeOr(r.has_new_end(), r.new_end()),
                               .amount = r.amount(),
                               .cost = r.cost()};
}

domain::Command ToCommand(const v1::TerminateContractRequest& r) {
  return domain::TerminateContract{.contract_id = r.contract_id(), .reason = r.reason()};
}

domain::Command ToCommand(const v1::RecordPaymentRequest& r) {
  return domain::RecordPayment{
      .payment_id = r.payment_id(), .contract_id = r.contract_id(), .amount = r.amount()};
}

domain::Command ToCommand(const v1::FileComplaintRequest& r) {
  return domain::FileComplaint{.complaint_id = r.complaint_id(),
                               .category = r.category(),
                               .severity = r.severity(),
                               .channel = r.channel(),
                               .description = r.description()};
}

domain::Command ToCommand(const v1::RespondComplaintRequest& r) {
  return domain::RespondComplaint{.complaint_id = r.complaint_id(), .note = r.note()};
}

domain::Command ToCommand(const v1::ResolveComplaintRequest& r) {
  return domain::ResolveComplaint{
      .complaint_id = r.complaint_id(), .resolution = r.resolution(), .satisfied = r.satisfied()};
}

domain::Command ToCommand(const v1::ReopenComplaintRequest& r) {
  return domain::ReopenComplaint{.complaint_id = r.complaint_id(), .reason = r.reason()};
}

}  // namespace custops::command

// Command-side state machines (docs/state-machines.md), the Decide of the
// sales commands: opportunities (the funnel), quotes, contracts and payments.
// The state and Evolve are aggregates.cc, the customer-level and complaint
// commands aggregates_customer_commands.cc. Pure: no I/O, no clock.
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "aggregates_internal.h"
#include "custops/domain/aggregates.h"
#include "google/protobuf/timestamp.pb.h"

namespace custops::domain {
namespace {

using aggregates_internal::Find;
using aggregates_internal::MoneyRule;
using aggregates_internal::NewEvent;
using aggregates_internal::RequireNew;
using aggregates_internal::RequireRegistered;
using aggregates_internal::ToProto;
using aggregates_internal::ValidateId;
using aggregates_internal::ValidateMoney;

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

// An optional Money left empty (units 0, no currency) stays unset in the event.
bool IsEmpty(const v1::Money& m) { return m.units() == 0 && m.currency().empty(); }

}  // namespace

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

}  // namespace custops::domain

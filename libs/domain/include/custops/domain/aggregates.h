// Command-side aggregates and their state machines (docs/commands.md,
// docs/state-machines.md): pure functions, no I/O, no clock.
//
// A command service keeps one CustomerAggregate per customer, rebuilt from the
// log, and validates each business action with Decide:
//
//   CustomerAggregate agg;
//   for (const v1::Event& e : log_of_customer) (void)Evolve(agg, e);
//   absl::StatusOr<v1::Event> ev = Decide(agg, AcceptQuote{"Q1"}, now, rules);
//   if (ev.ok()) { fill event_id/source/actor_id; append; Evolve(agg, *ev); }
//
// Decide returns one event with its payload set, `customer_id` set to the
// aggregate's customer id and `occurred_at` set to `now`; the caller fills
// `event_id`, `source` and `actor_id` (and the log sets `recorded_at`).
// Errors:
//   INVALID_ARGUMENT    a bad command field; the message names the field.
//   NOT_FOUND           an unknown opportunity/quote/contract/complaint id.
//   ALREADY_EXISTS      creating an id that exists (opportunity, quote,
//                       contract, complaint, payment).
//   FAILED_PRECONDITION the command is not allowed in the current state; the
//                       message names the state ("quote Q1 is ACCEPTED, not ISSUED").
// Time-driven states (quote EXPIRED, contract ENDED, the opportunity reopen
// window) are functions of the stored facts and `now`.
#ifndef CUSTOPS_DOMAIN_AGGREGATES_H_
#define CUSTOPS_DOMAIN_AGGREGATES_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <variant>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "custops/v1/events.pb.h"

namespace custops::domain {

// Every configurable rule of the command side.
struct CommandRules {
  // Refuse a payment above the contract's outstanding amount. Default: on.
  bool reject_overpayment = true;
  // The reporting currency; Money in any other currency is INVALID_ARGUMENT.
  std::string currency = "CNY";
  // A LOST opportunity may be reopened (to stage 1) by ReopenOpportunity
  // while now - lost_at <= this. Zero disables reopening. Default: 90 days.
  absl::Duration opportunity_reopen_window = absl::Hours(24 * 90);
  // ContractSigned.payment_due when the command gives none: start + this.
  // Default: 30 days (docs/state-machines.md).
  absl::Duration default_payment_terms = absl::Hours(24 * 30);
};

// ---- Aggregates (facts folded from events) ----

struct Opportunity {
  std::string id;
  // FUNNEL_STAGE_OPPORTUNITY..COMMERCIAL_TERMS = open; CONTRACT_SIGNED = won
  // (terminal); LOST.
  v1::FunnelStage stage = v1::FUNNEL_STAGE_OPPORTUNITY;
  int64_t amount_units = 0;
  absl::Time opened_at = absl::InfinitePast();
  absl::Time lost_at = absl::InfinitePast();  // meaningful while stage == LOST
};

enum class QuoteStatus { kIssued, kAccepted, kRejected, kExpired };
const char* QuoteStatusName(QuoteStatus s);  // "ISSUED", ...

struct Quote {
  std::string id;
  std::string opportunity_id;  // may be empty
  int64_t amount_units = 0;
  absl::Time valid_until = absl::InfinitePast();
  // kIssued, kAccepted or kRejected; kExpired is derived (StatusAt).
  QuoteStatus decided = QuoteStatus::kIssued;
  std::string contract_id;  // the contract signed on this quote, if any
};
// ISSUED and now > valid_until => EXPIRED (accepting exactly at valid_until is allowed).
QuoteStatus StatusAt(const Quote& q, absl::Time now);

enum class ContractStatus { kActive, kRenewed, kTerminated, kEnded };
const char* ContractStatusName(ContractStatus s);  // "ACTIVE", ...

struct Contract {
  std::string id;
  std::string quote_id;
  int64_t amount_units = 0;          // signed amount
  int64_t renewal_amount_units = 0;  // sum of renewal amounts
  int64_t paid_units = 0;            // sum of payments
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();  // current end (after renewals)
  int32_t renewals = 0;
  bool terminated = false;
};
// TERMINATED if terminated; else ENDED when now >= end; else RENEWED when
// renewed at least once; else ACTIVE. (A contract signed with a future start
// counts as ACTIVE for commands.)
ContractStatus StatusAt(const Contract& c, absl::Time now);
// amount + renewal amounts - payments (may be negative after overpayment).
int64_t Outstanding(const Contract& c);

enum class ComplaintStatus { kFiled, kResponded, kResolved, kReopened };
const char* ComplaintStatusName(ComplaintStatus s);  // "FILED", ...

struct Complaint {
  std::string id;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  ComplaintStatus status = ComplaintStatus::kFiled;
  int32_t reopen_count = 0;
};

// Everything the command side knows about one customer.
struct CustomerAggregate {
  std::string customer_id;  // from the first event folded
  bool registered = false;
  std::map<std::string, Opportunity, std::less<>> opportunities;
  std::map<std::string, Quote, std::less<>> quotes;
  std::map<std::string, Contract, std::less<>> contracts;
  std::map<std::string, Complaint, std::less<>> complaints;
  std::set<std::string, std::less<>> payment_ids;
  std::set<std::string, std::less<>> contact_ids;
  std::set<std::string, std::less<>> visit_ids;
  std::set<std::string, std::less<>> survey_ids;
  bool churned = false;  // a CustomerChurned with no later purchase
};

// Folds one event (in log order). The log is the source of truth: an event
// about a known entity is applied as written, even one Decide would have
// refused (e.g. from raw Append). Returns OK when applied or when the event
// does not concern the command side (visits, surveys, ...); NOT_FOUND (and no
// change) for an event about an unknown opportunity/quote/contract/complaint;
// ALREADY_EXISTS (and no change) for creating an id that exists or a repeated
// payment id; INVALID_ARGUMENT for an event without payload.
absl::Status Evolve(CustomerAggregate& agg, const v1::Event& event);

// ---- Commands ----

// Customer-level commands (service `Customers`, `Visits`). Field rules beyond
// the ones checked here (lengths, UTF-8, enum ranges) are the event
// validation's (libs/event), which the services run on the decided event.
struct RegisterCustomer {
  v1::CustomerRegistered profile;  // name and kind required
};
struct UpdateProfile {
  v1::CustomerProfileUpdated changes;  // at least one field set
};
struct AddContact {
  v1::ContactAdded contact;  // contact_id and name required; a new id
};
struct LogVisit {
  v1::VisitLogged visit;  // visit_id, channel, outcome required; contact_id known
};
struct RecordSurvey {
  v1::SatisfactionSurveyed survey;  // survey_id required, csat 1..5; a new id
};
struct RecordReferral {
  std::string referred_customer_id;  // required, not the customer itself
};
// Marks the customer lost (流失), emits CustomerChurned. Refused while the
// customer is already marked lost with no purchase since.
struct MarkLost {
  std::string reason;
};

struct OpenOpportunity {
  std::string opportunity_id;
  v1::Money amount;
  std::string product;
  std::optional<absl::Time> expected_close;
};
// Moves an open opportunity forward (any later stage 2..6, skipping allowed)
// or to LOST. `competitor` is who won when LOST (optional).
struct AdvanceOpportunity {
  std::string opportunity_id;
  v1::FunnelStage stage = v1::FUNNEL_STAGE_UNSPECIFIED;
  std::string competitor;
  std::string reason;
};
// LOST -> stage 1, within CommandRules::opportunity_reopen_window of the loss.
struct ReopenOpportunity {
  std::string opportunity_id;
  std::string reason;
};
struct IssueQuote {
  std::string quote_id;
  std::string opportunity_id;  // optional; when set must be an open opportunity
  v1::Money amount;
  v1::Money list_amount;  // optional (empty currency and 0 = unset)
  v1::Money cost;         // optional
  absl::Time valid_until = absl::InfinitePast();
};
struct AcceptQuote {
  std::string quote_id;
};
struct RejectQuote {
  std::string quote_id;
  std::string reason;
  std::string competitor;
};
struct SignContract {
  std::string contract_id;
  std::string quote_id;        // optional; when set must be ACCEPTED and unused
  std::string opportunity_id;  // optional; when set must not be LOST
  v1::Money amount;
  v1::Money cost;  // optional
  absl::Time start = absl::InfinitePast();
  absl::Time end = absl::InfinitePast();
  std::optional<absl::Time> payment_due;  // default start + default_payment_terms
  std::string product;
  std::string channel;
};
struct RenewContract {
  std::string contract_id;
  absl::Time new_end = absl::InfinitePast();
  v1::Money amount;
  v1::Money cost;  // optional
};
struct TerminateContract {
  std::string contract_id;
  std::string reason;
};
struct RecordPayment {
  std::string payment_id;
  std::string contract_id;
  v1::Money amount;
};
struct FileComplaint {
  std::string complaint_id;
  v1::ComplaintCategory category = v1::COMPLAINT_CATEGORY_UNSPECIFIED;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  std::string channel;
  std::string description;
};
struct RespondComplaint {
  std::string complaint_id;
  std::string note;
};
struct ResolveComplaint {
  std::string complaint_id;
  std::string resolution;
  bool satisfied = false;
};
struct ReopenComplaint {
  std::string complaint_id;
  std::string reason;
};

using Command = std::variant<RegisterCustomer, UpdateProfile, AddContact, LogVisit, RecordSurvey,
                             RecordReferral, MarkLost, OpenOpportunity, AdvanceOpportunity,
                             ReopenOpportunity, IssueQuote, AcceptQuote, RejectQuote, SignContract,
                             RenewContract, TerminateContract, RecordPayment, FileComplaint,
                             RespondComplaint, ResolveComplaint, ReopenComplaint>;

// RegisterCustomer: ALREADY_EXISTS when registered. Every other command
// requires a registered customer (FAILED_PRECONDITION
// "customer <id> is not registered" otherwise). See the file comment for the
// returned event and the error codes; docs/state-machines.md for the tables.
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RegisterCustomer& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const UpdateProfile& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AddContact& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const LogVisit& cmd, absl::Time now,
                                 const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordSurvey& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordReferral& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const MarkLost& cmd, absl::Time now,
                                 const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const OpenOpportunity& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AdvanceOpportunity& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ReopenOpportunity& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const IssueQuote& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const AcceptQuote& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RejectQuote& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const SignContract& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RenewContract& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const TerminateContract& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RecordPayment& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const FileComplaint& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const RespondComplaint& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ResolveComplaint& cmd,
                                 absl::Time now, const CommandRules& rules);
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const ReopenComplaint& cmd,
                                 absl::Time now, const CommandRules& rules);
// Dispatches to the overload of the held alternative.
absl::StatusOr<v1::Event> Decide(const CustomerAggregate& agg, const Command& cmd, absl::Time now,
                                 const CommandRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_AGGREGATES_H_

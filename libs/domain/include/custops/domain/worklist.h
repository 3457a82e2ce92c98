// The sales rep's worklist rules (issue 5): overdue contact by tier (该联系却没联系),
// customers turning DECLINING, repurchase due, contracts ending soon,
// receivables to collect, open complaints near or past SLA, and contacts'
// birthdays (关怀). Pure predicates of (facts, as_of, rules); see docs/review.md.
//
//   std::optional<ContactDue> due = NextContactDue(stage, tier, last_visit, since, rules.cadence);
//   bool late = due && due->overdue(as_of);
//   std::vector<WorklistItem> items = BuildWorklist(customer, as_of, tz, WorklistRules{});
//
// Thread safety: pure functions.
#ifndef CUSTOPS_DOMAIN_WORKLIST_H_
#define CUSTOPS_DOMAIN_WORKLIST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/value.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/lifecycle_types.pb.h"

namespace custops::domain {

// ---------------------------------------------------------------------------
// Contact cadence (定期拜访)

struct CadenceRules {
  // Defaults: 14, 30, 45, 90, 180 days by tier; INTENT 30 days.
  absl::Duration diamond = absl::Hours(24 * 14);
  absl::Duration platinum = absl::Hours(24 * 30);
  absl::Duration gold = absl::Hours(24 * 45);
  absl::Duration silver = absl::Hours(24 * 90);
  absl::Duration iron = absl::Hours(24 * 180);
  absl::Duration intent = absl::Hours(24 * 30);
};

// The cadence a customer is held to: CUSTOMER by its tier (a customer not
// tiered yet is held to IRON's), INTENT the intent cadence; PROSPECT, LOST
// and unspecified stages have none (nullopt).
std::optional<absl::Duration> ContactCadence(v1::LifecycleStage stage, std::optional<Tier> tier,
                                             const CadenceRules& rules);

struct ContactDue {
  // The last on-time instant: last visit (or tracked_since) + cadence.
  absl::Time due;
  // Overdue when the time since the last visit EXCEEDS the cadence
  // (docs/review.md): strictly after `due`.
  bool overdue(absl::Time as_of) const { return as_of > due; }
  friend bool operator==(const ContactDue&, const ContactDue&) = default;
};

// When the next contact is due. Only visits (VisitLogged, any channel:
// phone, on-site, meeting, online, event) count as contact. With no visit
// the clock runs from `tracked_since` (when the customer entered its current
// stage, e.g. became INTENT). nullopt when the stage has no cadence.
std::optional<ContactDue> NextContactDue(v1::LifecycleStage stage, std::optional<Tier> tier,
                                         std::optional<absl::Time> last_visit_at,
                                         absl::Time tracked_since, const CadenceRules& rules);

// ---------------------------------------------------------------------------
// Other worklist predicates

struct WorklistRules {
  CadenceRules cadence;
  SlaRules sla;
  // Repurchase is listed from last purchase + median gap - this lead.
  // Default: 0 (from the expected date itself)
  absl::Duration repurchase_lead = absl::ZeroDuration();
  // A contract is listed when it ends within this window. Default: 60 days
  absl::Duration contract_ending_window = absl::Hours(24 * 60);
  // A contact is listed when its next birthday is within this many civil
  // days of as_of's day in the reporting zone (0 = only today). Default: 7
  int64_t birthday_days = 7;
};

// Expected repurchase instant (last purchase + median gap) when the customer
// has a median gap (at least two purchases); nullopt otherwise.
std::optional<absl::Time> RepurchaseExpectedAt(std::optional<absl::Time> last_purchase_at,
                                               std::optional<absl::Duration> median_purchase_gap);
// Listed when as_of >= expected - repurchase_lead (and there is an expectation).
bool RepurchaseDue(std::optional<absl::Time> last_purchase_at,
                   std::optional<absl::Duration> median_purchase_gap, absl::Time as_of,
                   const WorklistRules& rules);

// A contract active at as_of whose end falls within the window:
// as_of < end <= as_of + contract_ending_window (an active contract ends at
// `end`, exclusive: at as_of == end it has already ended). A terminated
// contract never ends "soon".
bool ContractEndingSoon(absl::Time end, bool terminated, absl::Time as_of,
                        const WorklistRules& rules);

// A receivable to collect (催款): outstanding > 0 and the due date has
// passed (as_of > payment_due), on a contract not terminated.
bool PaymentOverdue(absl::Time payment_due, int64_t outstanding_units, bool terminated,
                    absl::Time as_of);

// The next occurrence of `birthday` (month and day; year ignored) on or
// after `today`. A Feb 29 birthday falls on Feb 28 in a non-leap year.
// nullopt when month/day do not name a day of a leap year.
std::optional<absl::CivilDay> NextBirthday(const v1::Date& birthday, absl::CivilDay today);
// Days from as_of's civil day in tz to the next birthday when that is at most
// rules.birthday_days; nullopt otherwise (or for an invalid date).
std::optional<int64_t> BirthdayWithin(const v1::Date& birthday, absl::Time as_of, absl::TimeZone tz,
                                      const WorklistRules& rules);

// ---------------------------------------------------------------------------
// One customer's worklist

struct WorklistContract {
  std::string contract_id;
  absl::Time end;
  bool terminated = false;
  std::optional<absl::Time> payment_due;
  int64_t outstanding_units = 0;
};

struct WorklistComplaint {
  std::string complaint_id;
  v1::Severity severity = v1::SEVERITY_UNSPECIFIED;
  absl::Time filed_at;
  std::vector<ComplaintStepAt> steps;
};

struct WorklistContact {
  std::string contact_id;
  std::optional<v1::Date> birthday;
};

// What the worklist needs to know about one customer at as_of.
struct WorklistCustomer {
  std::string customer_id;
  v1::LifecycleStage stage = v1::LIFECYCLE_STAGE_UNSPECIFIED;
  std::optional<Tier> tier;
  std::optional<absl::Time> last_visit_at;
  absl::Time tracked_since;  // entered the current stage
  // Lifecycle's verdict: the customer turned DECLINING (the projection
  // decides how recently counts as "turning").
  bool turned_declining = false;
  std::optional<absl::Time> declining_since;
  std::optional<absl::Time> last_purchase_at;
  std::optional<absl::Duration> median_purchase_gap;
  std::vector<WorklistContract> contracts;
  std::vector<WorklistComplaint> complaints;
  std::vector<WorklistContact> contacts;
};

enum class WorklistReason {
  kComplaintSla,     // open complaint near or past SLA
  kContactOverdue,   // 该联系却没联系
  kTurnedDeclining,  // 衰退
  kPaymentOverdue,   // 催款
  kContractEnding,   // 续约
  kRepurchaseDue,    // 复购
  kBirthday,         // 关怀
};
std::string_view WorklistReasonName(WorklistReason reason);  // "COMPLAINT_SLA", ...

struct WorklistItem {
  WorklistReason reason = WorklistReason::kContactOverdue;
  // The contract, complaint or contact concerned; empty for customer-level items.
  std::string subject_id;
  // The instant the item is about: complaint due (earliest pending or
  // breached clock), contact due, declining since, payment due, contract end,
  // expected repurchase, birthday's first instant in tz.
  absl::Time at;
  // kComplaintSla only.
  SlaUrgency urgency = SlaUrgency::kNone;
  friend bool operator==(const WorklistItem&, const WorklistItem&) = default;
};

// Every item for the customer at as_of, ordered by reason (the enum's order,
// most urgent first), then `at`, then subject_id. A LOST or PROSPECT
// customer still gets complaint, payment, contract and birthday items but no
// cadence, declining or repurchase items.
std::vector<WorklistItem> BuildWorklist(const WorklistCustomer& customer, absl::Time as_of,
                                        absl::TimeZone tz, const WorklistRules& rules);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_WORKLIST_H_

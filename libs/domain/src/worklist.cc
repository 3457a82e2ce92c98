// Worklist rules (worklist.h).
#include "custops/domain/worklist.h"

#include <algorithm>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace custops::domain {
namespace {

bool IsLeap(int64_t year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

// The civil day of (month, day) in `year`, Feb 29 → Feb 28 in a non-leap year.
absl::CivilDay Occurrence(int64_t year, int month, int day) {
  if (month == 2 && day == 29 && !IsLeap(year)) return absl::CivilDay(year, 2, 28);
  return absl::CivilDay(year, month, day);
}

bool ValidMonthDay(int month, int day) {
  if (month < 1 || month > 12 || day < 1) return false;
  // Checked against a leap year, so Feb 29 is valid.
  const absl::CivilDay d(2000, month, day);
  return d.month() == month && d.day() == day;
}

bool CadenceApplies(v1::LifecycleStage stage) {
  return stage == v1::LIFECYCLE_STAGE_CUSTOMER || stage == v1::LIFECYCLE_STAGE_INTENT;
}

}  // namespace

std::optional<absl::Duration> ContactCadence(v1::LifecycleStage stage, std::optional<Tier> tier,
                                             const CadenceRules& rules) {
  if (stage == v1::LIFECYCLE_STAGE_INTENT) return rules.intent;
  if (stage != v1::LIFECYCLE_STAGE_CUSTOMER) return std::nullopt;
  switch (tier.value_or(Tier::kIron)) {
    case Tier::kDiamond:
      return rules.diamond;
    case Tier::kPlatinum:
      return rules.platinum;
    case Tier::kGold:
      return rules.gold;
    case Tier::kSilver:
      return rules.silver;
    case Tier::kIron:
      return rules.iron;
  }
  return rules.iron;
}

std::optional<ContactDue> NextContactDue(v1::LifecycleStage stage, std::optional<Tier> tier,
                                         std::optional<absl::Time> last_visit_at,
                                         absl::Time tracked_since, const CadenceRules& rules) {
  const std::optional<absl::Duration> cadence = ContactCadence(stage, tier, rules);
  if (!cadence) return std::nullopt;
  return ContactDue{last_visit_at.value_or(tracked_since) + *cadence};
}

std::optional<absl::Time> RepurchaseExpectedAt(std::optional<absl::Time> last_purchase_at,
                                               std::optional<absl::Duration> median_purchase_gap) {
  if (!last_purchase_at || !median_purchase_gap) return std::nullopt;
  return *last_purchase_at + *median_purchase_gap;
}

bool RepurchaseDue(std::optional<absl::Time> last_purchase_at,
                   std::optional<absl::Duration> median_purchase_gap, absl::Time as_of,
                   const WorklistRules& rules) {
  const std::optional<absl::Time> expected =
      RepurchaseExpectedAt(last_purchase_at, median_purchase_gap);
  return expected && as_of >= *expected - rules.repurchase_lead;
}

bool ContractEndingSoon(absl::Time end, bool terminated, absl::Time as_of,
                        const WorklistRules& rules) {
  return !terminated && as_of < end && end <= as_of + rules.contract_ending_window;
}

bool PaymentOverdue(absl::Time payment_due, int64_t outstanding_units, bool terminated,
                    absl::Time as_of) {
  return !terminated && outstanding_units > 0 && as_of > payment_due;
}

std::optional<absl::CivilDay> NextBirthday(const v1::Date& birthday, absl::CivilDay today) {
  if (!ValidMonthDay(birthday.month(), birthday.day())) return std::nullopt;
  absl::CivilDay next = Occurrence(today.year(), birthday.month(), birthday.day());
  if (next < today) next = Occurrence(today.year() + 1, birthday.month(), birthday.day());
  return next;
}

std::optional<int64_t> BirthdayWithin(const v1::Date& birthday, absl::Time as_of, absl::TimeZone tz,
                                      const WorklistRules& rules) {
  const absl::CivilDay today = absl::ToCivilDay(as_of, tz);
  const std::optional<absl::CivilDay> next = NextBirthday(birthday, today);
  if (!next) return std::nullopt;
  const int64_t days = *next - today;
  if (days > rules.birthday_days) return std::nullopt;
  return days;
}

std::string_view WorklistReasonName(WorklistReason reason) {
  switch (reason) {
    case WorklistReason::kComplaintSla:
      return "COMPLAINT_SLA";
    case WorklistReason::kContactOverdue:
      return "CONTACT_OVERDUE";
    case WorklistReason::kTurnedDeclining:
      return "TURNED_DECLINING";
    case WorklistReason::kPaymentOverdue:
      return "PAYMENT_OVERDUE";
    case WorklistReason::kContractEnding:
      return "CONTRACT_ENDING";
    case WorklistReason::kRepurchaseDue:
      return "REPURCHASE_DUE";
    case WorklistReason::kBirthday:
      return "BIRTHDAY";
  }
  return "UNKNOWN";
}

std::vector<WorklistItem> BuildWorklist(const WorklistCustomer& c, absl::Time as_of,
                                        absl::TimeZone tz, const WorklistRules& rules) {
  std::vector<WorklistItem> items;
  const auto add = [&](WorklistReason reason, std::string subject, absl::Time at,
                       SlaUrgency urgency = SlaUrgency::kNone) {
    items.push_back(WorklistItem{reason, std::move(subject), at, urgency});
  };

  for (const WorklistComplaint& k : c.complaints) {
    const ComplaintSla sla =
        EvaluateComplaintSla(k.severity, k.filed_at, k.steps, as_of, rules.sla);
    if (!sla.open || sla.urgency == SlaUrgency::kNone) continue;
    // The instant that makes it urgent: the earliest breached or pending due.
    std::optional<absl::Time> at;
    for (const SlaClock* clock : {&sla.current().response, &sla.current().resolution}) {
      if (clock->state == SlaState::kMet) continue;
      if (!at || clock->due < *at) at = clock->due;
    }
    add(WorklistReason::kComplaintSla, k.complaint_id, at.value_or(sla.current().resolution.due),
        sla.urgency);
  }

  if (CadenceApplies(c.stage)) {
    const std::optional<ContactDue> due =
        NextContactDue(c.stage, c.tier, c.last_visit_at, c.tracked_since, rules.cadence);
    if (due && due->overdue(as_of)) add(WorklistReason::kContactOverdue, "", due->due);
  }
  if (c.stage == v1::LIFECYCLE_STAGE_CUSTOMER && c.turned_declining) {
    add(WorklistReason::kTurnedDeclining, "", c.declining_since.value_or(as_of));
  }
  for (const WorklistContract& k : c.contracts) {
    if (k.payment_due && PaymentOverdue(*k.payment_due, k.outstanding_units, k.terminated, as_of)) {
      add(WorklistReason::kPaymentOverdue, k.contract_id, *k.payment_due);
    }
    if (ContractEndingSoon(k.end, k.terminated, as_of, rules)) {
      add(WorklistReason::kContractEnding, k.contract_id, k.end);
    }
  }
  if (c.stage == v1::LIFECYCLE_STAGE_CUSTOMER &&
      RepurchaseDue(c.last_purchase_at, c.median_purchase_gap, as_of, rules)) {
    add(WorklistReason::kRepurchaseDue, "",
        *RepurchaseExpectedAt(c.last_purchase_at, c.median_purchase_gap));
  }
  const absl::CivilDay today = absl::ToCivilDay(as_of, tz);
  for (const WorklistContact& k : c.contacts) {
    if (!k.birthday) continue;
    if (!BirthdayWithin(*k.birthday, as_of, tz, rules)) continue;
    const absl::CivilDay day = *NextBirthday(*k.birthday, today);
    add(WorklistReason::kBirthday, k.contact_id, absl::FromCivil(absl::CivilSecond(day), tz));
  }

  std::sort(items.begin(), items.end(), [](const WorklistItem& a, const WorklistItem& b) {
    return std::tie(a.reason, a.at, a.subject_id) < std::tie(b.reason, b.at, b.subject_id);
  });
  return items;
}

}  // namespace custops::domain

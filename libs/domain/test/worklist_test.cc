// Worklist rules (docs/review.md "Contact cadence and the worklist", issue 5):
// cadence per tier, repurchase, contracts ending, receivables, birthdays
// (Feb 29), and the assembled list.
#include "custops/domain/worklist.h"

#include <optional>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/domain/period.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

constexpr absl::Duration kTick = absl::Microseconds(1);
absl::Duration Days(int64_t n) { return absl::Hours(24 * n); }

const absl::Time kAsOf =
    absl::FromCivil(absl::CivilSecond(2025, 6, 30, 9, 0, 0), absl::UTCTimeZone());

v1::Date Date(int y, int m, int d) {
  v1::Date out;
  out.set_year(y);
  out.set_month(m);
  out.set_day(d);
  return out;
}

absl::TimeZone Shanghai() { return *LoadReportingZone(kDefaultReportingZone); }

TEST(CadenceTest, PerTierAtTheEdge) {
  struct Case {
    v1::LifecycleStage stage;
    std::optional<Tier> tier;
    std::optional<int64_t> days;  // nullopt: no cadence
  };
  const Case cases[] = {
      {v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kDiamond, 14},
      {v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kPlatinum, 30},
      {v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kGold, 45},
      {v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kSilver, 90},
      {v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kIron, 180},
      {v1::LIFECYCLE_STAGE_CUSTOMER, std::nullopt, 180},  // not tiered yet: IRON
      {v1::LIFECYCLE_STAGE_INTENT, std::nullopt, 30},
      {v1::LIFECYCLE_STAGE_INTENT, Tier::kDiamond, 30},  // tiers are for customers
      {v1::LIFECYCLE_STAGE_PROSPECT, std::nullopt, std::nullopt},
      {v1::LIFECYCLE_STAGE_LOST, Tier::kGold, std::nullopt},
      {v1::LIFECYCLE_STAGE_UNSPECIFIED, std::nullopt, std::nullopt},
  };
  const CadenceRules rules;
  const absl::Time visit = kAsOf - Days(400);
  for (const Case& c : cases) {
    const std::string name = std::string(v1::LifecycleStage_Name(c.stage)) + " " +
                             (c.tier ? std::string(TierName(*c.tier)) : "-");
    const std::optional<ContactDue> due =
        NextContactDue(c.stage, c.tier, visit, visit - Days(1000), rules);
    ASSERT_EQ(due.has_value(), c.days.has_value()) << name;
    if (!c.days) continue;
    EXPECT_EQ(ContactCadence(c.stage, c.tier, rules), Days(*c.days)) << name;
    EXPECT_EQ(due->due, visit + Days(*c.days)) << name;
    // "Exceeds": exactly the cadence after the visit is still on time.
    EXPECT_FALSE(due->overdue(visit + Days(*c.days))) << name;
    EXPECT_TRUE(due->overdue(visit + Days(*c.days) + kTick)) << name;
    EXPECT_FALSE(due->overdue(visit + Days(*c.days) - kTick)) << name;
  }
}

TEST(CadenceTest, WithoutAVisitTheClockRunsFromTrackedSince) {
  const absl::Time since = kAsOf - Days(20);
  std::optional<ContactDue> due =
      NextContactDue(v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kDiamond, std::nullopt, since, {});
  ASSERT_TRUE(due);
  EXPECT_EQ(due->due, since + Days(14));
  EXPECT_TRUE(due->overdue(kAsOf));
  // A visit, even one before tracked_since, takes precedence.
  due = NextContactDue(v1::LIFECYCLE_STAGE_CUSTOMER, Tier::kDiamond, since - Days(1), since, {});
  EXPECT_EQ(due->due, since + Days(13));
  CadenceRules tight;
  tight.intent = Days(7);
  EXPECT_EQ(NextContactDue(v1::LIFECYCLE_STAGE_INTENT, std::nullopt, kAsOf, kAsOf, tight)->due,
            kAsOf + Days(7));
}

TEST(WorklistPredicatesTest, RepurchaseDue) {
  const absl::Time last = kAsOf - Days(100);
  const WorklistRules rules;
  EXPECT_EQ(RepurchaseExpectedAt(last, Days(90)), last + Days(90));
  EXPECT_FALSE(RepurchaseExpectedAt(last, std::nullopt).has_value());  // fewer than 2 purchases
  EXPECT_FALSE(RepurchaseExpectedAt(std::nullopt, Days(90)).has_value());
  EXPECT_TRUE(RepurchaseDue(last, Days(100), kAsOf, rules));  // exactly at expected
  EXPECT_FALSE(RepurchaseDue(last, Days(100) + kTick, kAsOf, rules));
  WorklistRules lead;
  lead.repurchase_lead = Days(14);
  EXPECT_TRUE(RepurchaseDue(last, Days(114), kAsOf, lead));
  EXPECT_FALSE(RepurchaseDue(last, Days(114) + kTick, kAsOf, lead));
  EXPECT_FALSE(RepurchaseDue(last, std::nullopt, kAsOf, rules));
}

TEST(WorklistPredicatesTest, ContractEndingWithin60Days) {
  const WorklistRules rules;
  struct Case {
    const char* name;
    absl::Time end;
    bool terminated;
    bool want;
  };
  const Case cases[] = {
      {"ends in exactly 60 days", kAsOf + Days(60), false, true},
      {"ends just after 60 days", kAsOf + Days(60) + kTick, false, false},
      {"ends tomorrow", kAsOf + Days(1), false, true},
      {"ends just after now", kAsOf + kTick, false, true},
      {"ended at now", kAsOf, false, false},
      {"ended yesterday", kAsOf - Days(1), false, false},
      {"terminated", kAsOf + Days(10), true, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ContractEndingSoon(c.end, c.terminated, kAsOf, rules), c.want) << c.name;
  }
}

TEST(WorklistPredicatesTest, PaymentOverdue) {
  EXPECT_FALSE(PaymentOverdue(kAsOf, 100, false, kAsOf));  // due now: not passed yet
  EXPECT_TRUE(PaymentOverdue(kAsOf - kTick, 100, false, kAsOf));
  EXPECT_FALSE(PaymentOverdue(kAsOf - Days(5), 0, false, kAsOf));    // fully paid
  EXPECT_FALSE(PaymentOverdue(kAsOf - Days(5), -10, false, kAsOf));  // overpaid
  EXPECT_FALSE(PaymentOverdue(kAsOf - Days(5), 100, true, kAsOf));   // terminated
}

TEST(BirthdayTest, NextOccurrenceAndFeb29) {
  struct Case {
    v1::Date birthday;
    absl::CivilDay today;
    std::optional<absl::CivilDay> want;
  };
  const Case cases[] = {
      {Date(1980, 7, 4), absl::CivilDay(2025, 7, 4), absl::CivilDay(2025, 7, 4)},
      {Date(1980, 7, 4), absl::CivilDay(2025, 7, 5), absl::CivilDay(2026, 7, 4)},
      {Date(0, 1, 3), absl::CivilDay(2025, 12, 28), absl::CivilDay(2026, 1, 3)},  // year unknown
      // Feb 29 falls on Feb 28 in a non-leap year, on Feb 29 in a leap year.
      {Date(1988, 2, 29), absl::CivilDay(2025, 2, 1), absl::CivilDay(2025, 2, 28)},
      {Date(1988, 2, 29), absl::CivilDay(2025, 2, 28), absl::CivilDay(2025, 2, 28)},
      {Date(1988, 2, 29), absl::CivilDay(2025, 3, 1), absl::CivilDay(2026, 2, 28)},
      {Date(1988, 2, 29), absl::CivilDay(2027, 3, 1), absl::CivilDay(2028, 2, 29)},
      {Date(1988, 2, 29), absl::CivilDay(2024, 2, 28), absl::CivilDay(2024, 2, 29)},
      {Date(1988, 2, 29), absl::CivilDay(2100, 1, 1), absl::CivilDay(2100, 2, 28)},  // not leap
      {Date(1990, 2, 30), absl::CivilDay(2025, 1, 1), std::nullopt},
      {Date(1990, 13, 1), absl::CivilDay(2025, 1, 1), std::nullopt},
      {Date(1990, 4, 0), absl::CivilDay(2025, 1, 1), std::nullopt},
      {Date(0, 0, 0), absl::CivilDay(2025, 1, 1), std::nullopt},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(NextBirthday(c.birthday, c.today), c.want)
        << c.birthday.month() << "-" << c.birthday.day() << " from " << c.today;
  }
}

TEST(BirthdayTest, WithinDaysInTheReportingZone) {
  const WorklistRules rules;  // 7 days
  const absl::TimeZone utc = absl::UTCTimeZone();
  const absl::Time noon = absl::FromCivil(absl::CivilSecond(2025, 3, 1, 12, 0, 0), utc);
  EXPECT_EQ(BirthdayWithin(Date(1970, 3, 1), noon, utc, rules), 0);
  EXPECT_EQ(BirthdayWithin(Date(1970, 3, 8), noon, utc, rules), 7);
  EXPECT_FALSE(BirthdayWithin(Date(1970, 3, 9), noon, utc, rules).has_value());
  EXPECT_FALSE(BirthdayWithin(Date(1970, 2, 28), noon, utc, rules).has_value());  // passed
  // 2025-03-04 16:30 UTC is already Mar 5 in Shanghai.
  const absl::Time t = absl::FromCivil(absl::CivilSecond(2025, 3, 4, 16, 30, 0), utc);
  EXPECT_EQ(BirthdayWithin(Date(1970, 3, 5), t, Shanghai(), rules), 0);
  EXPECT_EQ(BirthdayWithin(Date(1970, 3, 5), t, utc, rules), 1);
  EXPECT_FALSE(BirthdayWithin(Date(1970, 3, 4), t, Shanghai(), rules).has_value());
  // Feb 29 birthday in a non-leap year: listed from Feb 21 (7 days before Feb 28).
  const absl::Time feb21 = absl::FromCivil(absl::CivilSecond(2025, 2, 21, 8, 0, 0), utc);
  EXPECT_EQ(BirthdayWithin(Date(1988, 2, 29), feb21, utc, rules), 7);
  EXPECT_FALSE(BirthdayWithin(Date(1988, 2, 29), feb21 - Days(1), utc, rules).has_value());
  WorklistRules today_only;
  today_only.birthday_days = 0;
  EXPECT_EQ(BirthdayWithin(Date(1970, 3, 1), noon, utc, today_only), 0);
  EXPECT_FALSE(BirthdayWithin(Date(1970, 3, 2), noon, utc, today_only).has_value());
}

TEST(BuildWorklistTest, EveryReasonInOrder) {
  const absl::TimeZone sh = Shanghai();
  WorklistCustomer c;
  c.customer_id = "c1";
  c.stage = v1::LIFECYCLE_STAGE_CUSTOMER;
  c.tier = Tier::kGold;
  c.last_visit_at = kAsOf - Days(46);  // GOLD 45 days: overdue
  c.tracked_since = kAsOf - Days(900);
  c.turned_declining = true;
  c.declining_since = kAsOf - Days(2);
  c.last_purchase_at = kAsOf - Days(200);
  c.median_purchase_gap = Days(180);
  c.contracts = {
      {"k-ends", kAsOf + Days(30), false, std::nullopt, 0},
      {"k-unpaid", kAsOf + Days(300), false, kAsOf - Days(3), 5'000},
      {"k-far", kAsOf + Days(61), false, kAsOf + Days(5), 5'000},
  };
  c.complaints = {
      // HIGH filed 5 hours ago, no response: response breached.
      {"x-past", v1::SEVERITY_HIGH, kAsOf - absl::Hours(5), {}},
      // LOW filed 60 hours ago: response due in 12 h, inside the last 18 h.
      {"x-near", v1::SEVERITY_LOW, kAsOf - absl::Hours(60), {}},
      // MEDIUM filed 1 hour ago: nothing urgent.
      {"x-calm", v1::SEVERITY_MEDIUM, kAsOf - absl::Hours(1), {}},
      // Resolved: nothing.
      {"x-done",
       v1::SEVERITY_CRITICAL,
       kAsOf - absl::Hours(50),
       {{ComplaintStep::kResolved, kAsOf - absl::Hours(49)}}},
  };
  c.contacts = {
      {"p-soon", Date(1980, 7, 3)}, {"p-none", std::nullopt}, {"p-far", Date(1980, 9, 1)}};

  const std::vector<WorklistItem> items = BuildWorklist(c, kAsOf, sh, WorklistRules{});
  struct Want {
    WorklistReason reason;
    const char* subject;
    absl::Time at;
  };
  const Want want[] = {
      {WorklistReason::kComplaintSla, "x-past", kAsOf - absl::Hours(1)},
      {WorklistReason::kComplaintSla, "x-near", kAsOf + absl::Hours(12)},
      {WorklistReason::kContactOverdue, "", kAsOf - Days(1)},
      {WorklistReason::kTurnedDeclining, "", kAsOf - Days(2)},
      {WorklistReason::kPaymentOverdue, "k-unpaid", kAsOf - Days(3)},
      {WorklistReason::kContractEnding, "k-ends", kAsOf + Days(30)},
      {WorklistReason::kRepurchaseDue, "", kAsOf - Days(20)},
      {WorklistReason::kBirthday, "p-soon",
       absl::FromCivil(absl::CivilSecond(2025, 7, 3, 0, 0, 0), sh)},
  };
  ASSERT_EQ(items.size(), std::size(want));
  for (size_t i = 0; i < items.size(); ++i) {
    EXPECT_EQ(WorklistReasonName(items[i].reason), WorklistReasonName(want[i].reason)) << i;
    EXPECT_EQ(items[i].subject_id, want[i].subject) << i;
    EXPECT_EQ(items[i].at, want[i].at) << i;
  }
  EXPECT_EQ(items[0].urgency, SlaUrgency::kPast);
  EXPECT_EQ(items[1].urgency, SlaUrgency::kNear);

  // A LOST customer keeps its complaint, payment, contract and birthday items only.
  c.stage = v1::LIFECYCLE_STAGE_LOST;
  for (const WorklistItem& item : BuildWorklist(c, kAsOf, sh, WorklistRules{})) {
    EXPECT_NE(item.reason, WorklistReason::kContactOverdue);
    EXPECT_NE(item.reason, WorklistReason::kTurnedDeclining);
    EXPECT_NE(item.reason, WorklistReason::kRepurchaseDue);
  }
  EXPECT_EQ(BuildWorklist(c, kAsOf, sh, WorklistRules{}).size(), std::size(want) - 3);
}

TEST(BuildWorklistTest, NothingDueNothingListed) {
  WorklistCustomer c;
  c.stage = v1::LIFECYCLE_STAGE_CUSTOMER;
  c.tier = Tier::kDiamond;
  c.last_visit_at = kAsOf - Days(14);  // exactly the cadence: on time
  c.tracked_since = kAsOf - Days(100);
  c.last_purchase_at = kAsOf - Days(10);
  c.median_purchase_gap = Days(30);
  EXPECT_TRUE(BuildWorklist(c, kAsOf, absl::UTCTimeZone(), WorklistRules{}).empty());
}

}  // namespace
}  // namespace custops::domain

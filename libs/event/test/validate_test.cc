#include "custops/event/validate.h"

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/event/upcast.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/ingest.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "google/protobuf/timestamp.pb.h"
#include "google/protobuf/unknown_field_set.h"
#include "gtest/gtest.h"

namespace custops::event {
namespace {

using ::custops::testing::Cny;
using ::custops::testing::StatusIs;
using ::testing::AllOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

using Case = v1::Event::PayloadCase;
using OrgCase = v1::OrgEvent::PayloadCase;

// ---- builders ------------------------------------------------------------

google::protobuf::Timestamp At(int64_t year, int month, int day, int hour = 0) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(
      absl::FromCivil(absl::CivilSecond(year, month, day, hour, 0, 0), absl::UTCTimeZone())));
  return ts;
}

google::protobuf::Timestamp Seconds(int64_t seconds, int32_t nanos = 0) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(seconds);
  ts.set_nanos(nanos);
  return ts;
}

v1::Money Usd(int64_t units) {
  v1::Money money = Cny(units);
  money.set_currency("USD");
  return money;
}

v1::Date MakeDate(int year, int month, int day) {
  v1::Date date;
  date.set_year(year);
  date.set_month(month);
  date.set_day(day);
  return date;
}

v1::Period MakePeriod(v1::Granularity granularity, google::protobuf::Timestamp start) {
  v1::Period period;
  period.set_granularity(granularity);
  *period.mutable_start() = start;
  return period;
}

// A valid customer event with every field of the `payload_case` payload set,
// optional ones included, so the baseline exercises every check.
v1::Event ValidEvent(Case payload_case) {
  v1::Event e;
  e.set_event_id("evt-1");
  e.set_customer_id("cus-1");
  *e.mutable_occurred_at() = At(2024, 3, 1, 9);
  e.set_source("test");
  e.set_actor_id("rep-7");
  switch (payload_case) {
    case Case::kCustomerRegistered: {
      auto* m = e.mutable_customer_registered();
      m->set_name("华东精密机械有限公司");
      m->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
      m->set_industry("manufacturing");
      m->set_region("East");
      m->set_city("上海");
      m->set_owner_id("rep-7");
      m->set_channel("referral");
      m->set_size("50-200");
      *m->mutable_budget() = Cny(50'000'000);
      m->set_need(v1::NEED_HIGH);
      break;
    }
    case Case::kCustomerProfileUpdated: {
      auto* m = e.mutable_customer_profile_updated();
      m->set_region("North");
      m->set_city("北京");
      m->set_owner_id("rep-9");
      break;
    }
    case Case::kContactAdded: {
      auto* m = e.mutable_contact_added();
      m->set_contact_id("con-1");
      m->set_name("王经理");
      m->set_role(v1::CONTACT_ROLE_DECISION_MAKER);
      *m->mutable_birthday() = MakeDate(1980, 5, 17);
      break;
    }
    case Case::kVisitLogged: {
      auto* m = e.mutable_visit_logged();
      m->set_visit_id("vis-1");
      m->set_channel(v1::VISIT_CHANNEL_ONSITE);
      m->set_contact_id("con-1");
      m->set_outcome(v1::VISIT_OUTCOME_INTERESTED);
      m->set_note("Discussed the renewal.\n\tNext: send a quote.");
      break;
    }
    case Case::kOpportunityOpened: {
      auto* m = e.mutable_opportunity_opened();
      m->set_opportunity_id("opp-1");
      *m->mutable_amount() = Cny(1'200'000);
      m->set_product("ERP");
      *m->mutable_expected_close() = At(2024, 6, 30);
      break;
    }
    case Case::kOpportunityStageChanged: {
      auto* m = e.mutable_opportunity_stage_changed();
      m->set_opportunity_id("opp-1");
      m->set_stage(v1::FUNNEL_STAGE_LOST);
      m->set_competitor("Acme");
      m->set_reason("price");
      break;
    }
    case Case::kQuoteIssued: {
      auto* m = e.mutable_quote_issued();
      m->set_quote_id("quo-1");
      m->set_opportunity_id("opp-1");
      *m->mutable_amount() = Cny(1'000'000);
      *m->mutable_list_amount() = Cny(1'200'000);
      *m->mutable_cost() = Cny(600'000);
      *m->mutable_valid_until() = At(2024, 4, 1);
      break;
    }
    case Case::kQuoteAccepted:
      e.mutable_quote_accepted()->set_quote_id("quo-1");
      break;
    case Case::kQuoteRejected: {
      auto* m = e.mutable_quote_rejected();
      m->set_quote_id("quo-1");
      m->set_reason("too expensive");
      m->set_competitor("Acme");
      break;
    }
    case Case::kContractSigned: {
      auto* m = e.mutable_contract_signed();
      m->set_contract_id("ctr-1");
      m->set_quote_id("quo-1");
      *m->mutable_amount() = Cny(1'000'000);
      *m->mutable_cost() = Cny(600'000);
      *m->mutable_start() = At(2024, 3, 1);
      *m->mutable_end() = At(2025, 3, 1);
      *m->mutable_payment_due() = At(2024, 3, 31);
      m->set_product("ERP");
      m->set_channel("direct");
      m->set_opportunity_id("opp-1");
      break;
    }
    case Case::kContractRenewed: {
      auto* m = e.mutable_contract_renewed();
      m->set_contract_id("ctr-1");
      *m->mutable_new_end() = At(2026, 3, 1);
      *m->mutable_amount() = Cny(900'000);
      *m->mutable_cost() = Cny(500'000);
      break;
    }
    case Case::kContractTerminated: {
      auto* m = e.mutable_contract_terminated();
      m->set_contract_id("ctr-1");
      m->set_reason("moved to a competitor");
      break;
    }
    case Case::kPaymentReceived: {
      auto* m = e.mutable_payment_received();
      m->set_payment_id("pay-1");
      m->set_contract_id("ctr-1");
      *m->mutable_amount() = Cny(500'000);
      break;
    }
    case Case::kComplaintFiled: {
      auto* m = e.mutable_complaint_filed();
      m->set_complaint_id("cmp-1");
      m->set_category(v1::COMPLAINT_CATEGORY_DELIVERY);
      m->set_severity(v1::SEVERITY_HIGH);
      m->set_channel("phone");
      m->set_description("Delivery two weeks late.");
      break;
    }
    case Case::kComplaintResponded: {
      auto* m = e.mutable_complaint_responded();
      m->set_complaint_id("cmp-1");
      m->set_note("Called back, apologised.");
      break;
    }
    case Case::kComplaintResolved: {
      auto* m = e.mutable_complaint_resolved();
      m->set_complaint_id("cmp-1");
      m->set_resolution("Expedited shipment.");
      m->set_satisfied(true);
      break;
    }
    case Case::kComplaintReopened: {
      auto* m = e.mutable_complaint_reopened();
      m->set_complaint_id("cmp-1");
      m->set_reason("Still missing one part.");
      break;
    }
    case Case::kSatisfactionSurveyed: {
      auto* m = e.mutable_satisfaction_surveyed();
      m->set_survey_id("srv-1");
      m->set_csat(4);
      m->set_nps(9);
      break;
    }
    case Case::kReferralMade:
      e.mutable_referral_made()->set_referred_customer_id("cus-2");
      break;
    case Case::kCustomerChurned:
      e.mutable_customer_churned()->set_reason("Closed the business.");
      break;
    case Case::PAYLOAD_NOT_SET:
      break;
  }
  return e;
}

v1::OrgEvent ValidOrgEvent(OrgCase payload_case) {
  v1::OrgEvent e;
  e.set_event_id("org-evt-1");
  *e.mutable_occurred_at() = At(2024, 1, 2, 9);
  e.set_scope("region:East");
  e.set_source("planning");
  e.set_actor_id("mgr-1");
  switch (payload_case) {
    case OrgCase::kTargetSet: {
      auto* m = e.mutable_target_set();
      *m->mutable_period() = MakePeriod(v1::GRANULARITY_MONTH, At(2024, 3, 1));
      m->set_dimension(v1::DIMENSION_REGION);
      m->set_dimension_value("East");
      m->set_metric("revenue");
      *m->mutable_value()->mutable_money() = Cny(1'000'000'000);
      break;
    }
    case OrgCase::kMarketingSpendRecorded: {
      auto* m = e.mutable_marketing_spend_recorded();
      *m->mutable_date() = MakeDate(2024, 3, 5);
      m->set_dimension(v1::DIMENSION_CHANNEL);
      m->set_dimension_value("trade-show");
      m->set_channel("trade-show");
      *m->mutable_amount() = Cny(2'000'000);
      break;
    }
    case OrgCase::kMarketSizeDeclared: {
      auto* m = e.mutable_market_size_declared();
      *m->mutable_period() = MakePeriod(v1::GRANULARITY_YEAR, At(2024, 1, 1));
      m->set_region("East");
      m->set_industry("manufacturing");
      *m->mutable_amount() = Cny(50'000'000'000);
      break;
    }
    case OrgCase::kReviewActionPlanned: {
      auto* m = e.mutable_review_action_planned();
      m->set_action_id("act-1");
      *m->mutable_review_period() = MakePeriod(v1::GRANULARITY_MONTH, At(2024, 2, 1));
      m->set_dimension(v1::DIMENSION_OWNER);
      m->set_dimension_value("rep-7");
      m->set_finding("attainment below 80%");
      m->set_owner("rep-7");
      *m->mutable_due() = At(2024, 3, 31);
      m->set_description("Two extra visits a week to INTENT customers.");
      break;
    }
    case OrgCase::kReviewActionClosed: {
      auto* m = e.mutable_review_action_closed();
      m->set_action_id("act-1");
      m->set_note("Attainment back at 95%.");
      break;
    }
    case OrgCase::PAYLOAD_NOT_SET:
      break;
  }
  return e;
}

std::vector<const google::protobuf::FieldDescriptor*> PayloadFields(
    const google::protobuf::Descriptor* descriptor) {
  const google::protobuf::OneofDescriptor* oneof = descriptor->FindOneofByName("payload");
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  for (int i = 0; i < oneof->field_count(); ++i) fields.push_back(oneof->field(i));
  return fields;
}

// Asserts INVALID_ARGUMENT whose message is "<path>: ..." containing `what`.
void ExpectInvalid(const absl::Status& status, const std::string& path, const std::string& what) {
  EXPECT_THAT(status, StatusIs(kInvalid, AllOf(StartsWith(path + ": "), HasSubstr(what))));
}

// ---- baselines -----------------------------------------------------------

TEST(ValidateEventTest, EveryPayloadTypeHasAValidBaseline) {
  const auto fields = PayloadFields(v1::Event::descriptor());
  EXPECT_EQ(fields.size(), 20u);
  for (const auto* field : fields) {
    SCOPED_TRACE(field->name());
    const v1::Event event = ValidEvent(static_cast<Case>(field->number()));
    ASSERT_EQ(event.payload_case(), field->number()) << "no baseline for " << field->name();
    EXPECT_OK(ValidateEvent(event, {}));
  }
}

TEST(ValidateOrgEventTest, EveryPayloadTypeHasAValidBaseline) {
  const auto fields = PayloadFields(v1::OrgEvent::descriptor());
  EXPECT_EQ(fields.size(), 5u);
  for (const auto* field : fields) {
    SCOPED_TRACE(field->name());
    const v1::OrgEvent event = ValidOrgEvent(static_cast<OrgCase>(field->number()));
    ASSERT_EQ(event.payload_case(), field->number()) << "no baseline for " << field->name();
    EXPECT_OK(ValidateOrgEvent(event, {}));
  }
}

// ---- customer event mutations ------------------------------------------

struct Mutation {
  std::string name;
  Case base;
  std::function<void(v1::Event&)> mutate;
  std::string path;  // expected field path below "event."
  std::string what;  // expected part of the explanation
};

void PrintTo(const Mutation& m, std::ostream* os) { *os << m.name; }

const std::string kId129(129, 'x');
const std::string kText4097(4097, 'x');

std::vector<Mutation> EventMutations() {
  using E = v1::Event;
  return {
      // Envelope.
      {"MissingEventId", Case::kQuoteAccepted, [](E& e) { e.clear_event_id(); }, "event_id",
       "required"},
      {"EventIdTooLong", Case::kQuoteAccepted, [](E& e) { e.set_event_id(kId129); }, "event_id",
       "must be at most 128 bytes, got 129"},
      {"EventIdInvalidUtf8", Case::kQuoteAccepted, [](E& e) { e.set_event_id("ab\xff"); },
       "event_id", "must be valid UTF-8 (bad byte at offset 2)"},
      {"EventIdTruncatedUtf8", Case::kQuoteAccepted, [](E& e) { e.set_event_id("id-\xe5\xae"); },
       "event_id", "valid UTF-8"},
      {"EventIdOverlongUtf8", Case::kQuoteAccepted, [](E& e) { e.set_event_id("\xc0\xaf"); },
       "event_id", "valid UTF-8"},
      {"EventIdSurrogateUtf8", Case::kQuoteAccepted, [](E& e) { e.set_event_id("\xed\xa0\x80"); },
       "event_id", "valid UTF-8"},
      {"EventIdAboveUnicode", Case::kQuoteAccepted,
       [](E& e) { e.set_event_id("\xf4\x90\x80\x80"); }, "event_id", "valid UTF-8"},
      {"MissingCustomerId", Case::kQuoteAccepted, [](E& e) { e.clear_customer_id(); },
       "customer_id", "required"},
      {"CustomerIdNewline", Case::kQuoteAccepted, [](E& e) { e.set_customer_id("cus\n1"); },
       "customer_id", "must not contain control characters (U+000A at offset 3)"},
      {"CustomerIdNul", Case::kQuoteAccepted,
       [](E& e) { e.set_customer_id(std::string("cus\0", 4)); }, "customer_id",
       "control characters"},
      {"CustomerIdC1Control", Case::kQuoteAccepted, [](E& e) { e.set_customer_id("a\xc2\x85"); },
       "customer_id", "U+0085"},
      {"CustomerIdTooLong", Case::kQuoteAccepted, [](E& e) { e.set_customer_id(kId129); },
       "customer_id", "at most 128 bytes"},
      {"SourceInvalidUtf8", Case::kQuoteAccepted, [](E& e) { e.set_source("\x80"); }, "source",
       "valid UTF-8"},
      {"ActorIdTooLong", Case::kQuoteAccepted, [](E& e) { e.set_actor_id(kId129); }, "actor_id",
       "at most 128 bytes"},
      {"MissingOccurredAt", Case::kQuoteAccepted, [](E& e) { e.clear_occurred_at(); },
       "occurred_at", "required"},
      {"OccurredAtBefore1970", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(-1); }, "occurred_at",
       "must be within 1970-01-01T00:00:00Z..2200-01-01T00:00:00Z"},
      {"OccurredAtAfter2200", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(At(2200, 1, 1).seconds() + 1); },
       "occurred_at", "must be within"},
      {"OccurredAtJustAfter2200", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(At(2200, 1, 1).seconds(), 1); }, "occurred_at",
       "must be within"},
      {"OccurredAtBeyondTimestampRange", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(INT64_MAX); }, "occurred_at",
       "must be within"},
      {"OccurredAtMinInt64", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(INT64_MIN); }, "occurred_at",
       "must be within"},
      {"OccurredAtNegativeNanos", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(1'700'000'000, -1); }, "occurred_at.nanos",
       "must be 0..999999999, got -1"},
      {"OccurredAtNanosTooBig", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = Seconds(1'700'000'000, 1'000'000'000); },
       "occurred_at.nanos", "got 1000000000"},
      {"MissingPayload", Case::kQuoteAccepted, [](E& e) { e.clear_payload(); }, "payload",
       "required (one of customer_registered, customer_profile_updated, contact_added"},

      // customer_registered
      {"RegisteredMissingName", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->clear_name(); }, "customer_registered.name",
       "required"},
      {"RegisteredBlankName", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_name(" \t "); }, "customer_registered.name",
       "required"},
      {"RegisteredNameTooLong", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_name(kText4097); },
       "customer_registered.name", "must be at most 4096 bytes, got 4097"},
      {"RegisteredNameNewline", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_name("Acme\nLtd"); },
       "customer_registered.name", "control characters"},
      {"RegisteredKindUnspecified", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_kind(v1::CUSTOMER_KIND_UNSPECIFIED); },
       "customer_registered.kind",
       "required (one of CUSTOMER_KIND_CUSTOMER, CUSTOMER_KIND_AGENT, CUSTOMER_KIND_SUPPLIER, "
       "CUSTOMER_KIND_PARTNER, CUSTOMER_KIND_COMPETITOR)"},
      {"RegisteredKindUnknown", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_kind(static_cast<v1::CustomerKind>(99)); },
       "customer_registered.kind", "unknown value 99"},
      {"RegisteredNeedUnknown", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_need(static_cast<v1::Need>(42)); },
       "customer_registered.need", "unknown value 42"},
      {"RegisteredBudgetUsd", Case::kCustomerRegistered,
       [](E& e) { *e.mutable_customer_registered()->mutable_budget() = Usd(100); },
       "customer_registered.budget.currency", "must be CNY, got USD"},
      {"RegisteredBudgetNegative", Case::kCustomerRegistered,
       [](E& e) { *e.mutable_customer_registered()->mutable_budget() = Cny(-1); },
       "customer_registered.budget.units", "must be >= 0, got -1"},
      {"RegisteredOwnerTooLong", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_owner_id(kId129); },
       "customer_registered.owner_id", "at most 128 bytes"},
      {"RegisteredIndustryInvalidUtf8", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_industry("\xe5\x88"); },
       "customer_registered.industry", "valid UTF-8"},
      {"RegisteredRegionControl", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_region("East\x7f"); },
       "customer_registered.region", "U+007F"},
      // Schema version 2: the city is its own field (libs/event upcast.h).
      {"RegisteredRegionWithCity", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_region("华东/上海"); },
       "customer_registered.region", "may not contain '/'"},
      {"RegisteredCityInvalidUtf8", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_city("\xe4\xb8"); },
       "customer_registered.city", "valid UTF-8"},
      {"ProfileRegionWithCity", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->set_region("华北/北京"); },
       "customer_profile_updated.region", "may not contain '/'"},
      {"SchemaVersionFromTheFuture", Case::kCustomerRegistered,
       [](E& e) { e.set_schema_version(event::kSchemaVersion + 1); }, "schema_version",
       "newer than the newest this build reads"},

      // customer_profile_updated
      {"ProfileUpdateChangesNothing", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->Clear(); }, "customer_profile_updated",
       "must change at least one field"},
      {"ProfileUpdateBlanksName", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->set_name(""); },
       "customer_profile_updated.name", "required"},
      {"ProfileUpdateBlanksOwner", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->set_owner_id(""); },
       "customer_profile_updated.owner_id", "required"},
      {"ProfileUpdateKindUnknown", Case::kCustomerProfileUpdated,
       [](E& e) {
         e.mutable_customer_profile_updated()->set_kind(static_cast<v1::CustomerKind>(6));
       },
       "customer_profile_updated.kind", "unknown value 6"},
      {"ProfileUpdateNeedUnknown", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->set_need(static_cast<v1::Need>(-1)); },
       "customer_profile_updated.need", "unknown value -1"},
      {"ProfileUpdateBudgetNoCurrency", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->mutable_budget()->set_units(5); },
       "customer_profile_updated.budget.currency", "must be CNY, got \"\""},
      {"ProfileUpdateSizeTooLong", Case::kCustomerProfileUpdated,
       [](E& e) { e.mutable_customer_profile_updated()->set_size(kText4097); },
       "customer_profile_updated.size", "at most 4096 bytes"},

      // contact_added
      {"ContactMissingId", Case::kContactAdded,
       [](E& e) { e.mutable_contact_added()->clear_contact_id(); }, "contact_added.contact_id",
       "required"},
      {"ContactMissingName", Case::kContactAdded,
       [](E& e) { e.mutable_contact_added()->clear_name(); }, "contact_added.name", "required"},
      {"ContactRoleUnknown", Case::kContactAdded,
       [](E& e) { e.mutable_contact_added()->set_role(static_cast<v1::ContactRole>(9)); },
       "contact_added.role", "unknown value 9"},
      {"BirthdayNotLeapYear", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(2023, 2, 29); },
       "contact_added.birthday.day", "must be 1..28 for 2023-02, got 29"},
      {"Birthday1900NotLeap", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1900, 2, 29); },
       "contact_added.birthday.day", "must be 1..28 for 1900-02"},
      {"BirthdayApril31", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1980, 4, 31); },
       "contact_added.birthday.day", "must be 1..30"},
      {"BirthdayDayZero", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1980, 1, 0); },
       "contact_added.birthday.day", "got 0"},
      {"BirthdayMonth13", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1980, 13, 1); },
       "contact_added.birthday.month", "must be 1..12, got 13"},
      {"BirthdayMonthZero", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1980, 0, 1); },
       "contact_added.birthday.month", "got 0"},
      {"BirthdayYear1899", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1899, 12, 31); },
       "contact_added.birthday.year", "must be 1900..2200, got 1899"},
      {"BirthdayUnsetFields", Case::kContactAdded,
       [](E& e) { e.mutable_contact_added()->mutable_birthday()->Clear(); },
       "contact_added.birthday.year", "got 0"},

      // visit_logged
      {"VisitMissingId", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->clear_visit_id(); }, "visit_logged.visit_id",
       "required"},
      {"VisitChannelUnspecified", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->clear_channel(); }, "visit_logged.channel",
       "required (one of VISIT_CHANNEL_PHONE"},
      {"VisitChannelUnknown", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_channel(static_cast<v1::VisitChannel>(6)); },
       "visit_logged.channel", "unknown value 6"},
      {"VisitOutcomeUnspecified", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->clear_outcome(); }, "visit_logged.outcome",
       "required (one of VISIT_OUTCOME_NEUTRAL"},
      {"VisitOutcomeUnknown", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_outcome(static_cast<v1::VisitOutcome>(5)); },
       "visit_logged.outcome", "unknown value 5"},
      {"VisitContactIdTooLong", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_contact_id(kId129); }, "visit_logged.contact_id",
       "at most 128 bytes"},
      {"VisitNoteInvalidUtf8", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_note("ok\xc3("); }, "visit_logged.note",
       "valid UTF-8"},
      {"VisitNoteEscape", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_note("bell\x07"); }, "visit_logged.note", "U+0007"},
      {"VisitNoteTooLong", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_note(kText4097); }, "visit_logged.note",
       "at most 4096 bytes"},

      // opportunity_opened
      {"OpportunityMissingId", Case::kOpportunityOpened,
       [](E& e) { e.mutable_opportunity_opened()->clear_opportunity_id(); },
       "opportunity_opened.opportunity_id", "required"},
      {"OpportunityMissingAmount", Case::kOpportunityOpened,
       [](E& e) { e.mutable_opportunity_opened()->clear_amount(); }, "opportunity_opened.amount",
       "required"},
      {"OpportunityAmountUsd", Case::kOpportunityOpened,
       [](E& e) { *e.mutable_opportunity_opened()->mutable_amount() = Usd(1); },
       "opportunity_opened.amount.currency", "must be CNY, got USD"},
      {"OpportunityAmountNegative", Case::kOpportunityOpened,
       [](E& e) { *e.mutable_opportunity_opened()->mutable_amount() = Cny(-100); },
       "opportunity_opened.amount.units", "must be >= 0"},
      {"OpportunityExpectedCloseBadNanos", Case::kOpportunityOpened,
       [](E& e) { e.mutable_opportunity_opened()->mutable_expected_close()->set_nanos(-5); },
       "opportunity_opened.expected_close.nanos", "got -5"},

      // opportunity_stage_changed
      {"StageChangeMissingId", Case::kOpportunityStageChanged,
       [](E& e) { e.mutable_opportunity_stage_changed()->clear_opportunity_id(); },
       "opportunity_stage_changed.opportunity_id", "required"},
      {"StageUnspecified", Case::kOpportunityStageChanged,
       [](E& e) { e.mutable_opportunity_stage_changed()->clear_stage(); },
       "opportunity_stage_changed.stage", "required (one of FUNNEL_STAGE_OPPORTUNITY"},
      {"StageUnknown", Case::kOpportunityStageChanged,
       [](E& e) {
         e.mutable_opportunity_stage_changed()->set_stage(static_cast<v1::FunnelStage>(8));
       },
       "opportunity_stage_changed.stage", "unknown value 8"},

      // quote_issued
      {"QuoteIssuedMissingId", Case::kQuoteIssued,
       [](E& e) { e.mutable_quote_issued()->clear_quote_id(); }, "quote_issued.quote_id",
       "required"},
      {"QuoteIssuedMissingAmount", Case::kQuoteIssued,
       [](E& e) { e.mutable_quote_issued()->clear_amount(); }, "quote_issued.amount", "required"},
      {"QuoteListBelowAmount", Case::kQuoteIssued,
       [](E& e) { *e.mutable_quote_issued()->mutable_list_amount() = Cny(999'999); },
       "quote_issued.list_amount", "must be >= amount (1000000), got 999999"},
      {"QuoteListAmountUsd", Case::kQuoteIssued,
       [](E& e) { *e.mutable_quote_issued()->mutable_list_amount() = Usd(2'000'000); },
       "quote_issued.list_amount.currency", "must be CNY, got USD"},
      {"QuoteCostNegative", Case::kQuoteIssued,
       [](E& e) { *e.mutable_quote_issued()->mutable_cost() = Cny(-1); }, "quote_issued.cost.units",
       "must be >= 0, got -1"},
      {"QuoteCostLowercaseCurrency", Case::kQuoteIssued,
       [](E& e) { e.mutable_quote_issued()->mutable_cost()->set_currency("cny"); },
       "quote_issued.cost.currency", "must be CNY, got cny"},
      {"QuoteValidUntilBefore1970", Case::kQuoteIssued,
       [](E& e) { *e.mutable_quote_issued()->mutable_valid_until() = Seconds(-86400); },
       "quote_issued.valid_until", "must be within"},
      {"QuoteOpportunityIdInvalidUtf8", Case::kQuoteIssued,
       [](E& e) { e.mutable_quote_issued()->set_opportunity_id("\xfe"); },
       "quote_issued.opportunity_id", "valid UTF-8"},

      // quote_accepted / quote_rejected
      {"QuoteAcceptedMissingId", Case::kQuoteAccepted,
       [](E& e) { e.mutable_quote_accepted()->clear_quote_id(); }, "quote_accepted.quote_id",
       "required"},
      {"QuoteRejectedMissingId", Case::kQuoteRejected,
       [](E& e) { e.mutable_quote_rejected()->clear_quote_id(); }, "quote_rejected.quote_id",
       "required"},
      {"QuoteRejectedReasonTooLong", Case::kQuoteRejected,
       [](E& e) { e.mutable_quote_rejected()->set_reason(kText4097); }, "quote_rejected.reason",
       "at most 4096 bytes"},
      {"QuoteRejectedCompetitorNewline", Case::kQuoteRejected,
       [](E& e) { e.mutable_quote_rejected()->set_competitor("Acme\n"); },
       "quote_rejected.competitor", "control characters"},

      // contract_signed
      {"ContractMissingId", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->clear_contract_id(); },
       "contract_signed.contract_id", "required"},
      {"ContractMissingAmount", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->clear_amount(); }, "contract_signed.amount",
       "required"},
      {"ContractAmountUsd", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_amount() = Usd(1'000'000); },
       "contract_signed.amount.currency", "must be CNY, got USD"},
      {"ContractAmountNegative", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_amount() = Cny(-1'000'000); },
       "contract_signed.amount.units", "must be >= 0, got -1000000"},
      {"ContractCostNegative", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_cost() = Cny(-1); },
       "contract_signed.cost.units", "must be >= 0"},
      {"ContractMissingStart", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->clear_start(); }, "contract_signed.start",
       "required"},
      {"ContractMissingEnd", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->clear_end(); }, "contract_signed.end", "required"},
      {"ContractEndEqualsStart", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_end() = At(2024, 3, 1); },
       "contract_signed.end", "must be after start"},
      {"ContractEndBeforeStart", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_end() = At(2023, 3, 1); },
       "contract_signed.end", "must be after start"},
      {"ContractEndOneNanoBeforeStart", Case::kContractSigned,
       [](E& e) {
         *e.mutable_contract_signed()->mutable_end() =
             Seconds(At(2024, 3, 1).seconds() - 1, 999'999'999);
       },
       "contract_signed.end", "must be after start"},
      {"ContractStartAfter2200", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_start() = At(2201, 1, 1); },
       "contract_signed.start", "must be within"},
      {"ContractPaymentDueBeforeStart", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_payment_due() = At(2024, 2, 29); },
       "contract_signed.payment_due", "must not be before start"},
      {"ContractPaymentDueBadNanos", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->mutable_payment_due()->set_nanos(2'000'000'000); },
       "contract_signed.payment_due.nanos", "must be 0..999999999"},
      {"ContractQuoteIdTooLong", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->set_quote_id(kId129); }, "contract_signed.quote_id",
       "at most 128 bytes"},
      {"ContractOpportunityIdControl", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->set_opportunity_id("opp\t1"); },
       "contract_signed.opportunity_id", "control characters"},
      {"ContractProductInvalidUtf8", Case::kContractSigned,
       [](E& e) { e.mutable_contract_signed()->set_product("\xc1\xbf"); },
       "contract_signed.product", "valid UTF-8"},

      // contract_renewed / contract_terminated
      {"RenewalMissingContractId", Case::kContractRenewed,
       [](E& e) { e.mutable_contract_renewed()->clear_contract_id(); },
       "contract_renewed.contract_id", "required"},
      {"RenewalMissingNewEnd", Case::kContractRenewed,
       [](E& e) { e.mutable_contract_renewed()->clear_new_end(); }, "contract_renewed.new_end",
       "required"},
      {"RenewalMissingAmount", Case::kContractRenewed,
       [](E& e) { e.mutable_contract_renewed()->clear_amount(); }, "contract_renewed.amount",
       "required"},
      {"RenewalCostUsd", Case::kContractRenewed,
       [](E& e) { *e.mutable_contract_renewed()->mutable_cost() = Usd(1); },
       "contract_renewed.cost.currency", "must be CNY, got USD"},
      {"TerminationMissingContractId", Case::kContractTerminated,
       [](E& e) { e.mutable_contract_terminated()->clear_contract_id(); },
       "contract_terminated.contract_id", "required"},
      {"TerminationReasonInvalidUtf8", Case::kContractTerminated,
       [](E& e) { e.mutable_contract_terminated()->set_reason("\xff\xfe"); },
       "contract_terminated.reason", "valid UTF-8"},

      // payment_received
      {"PaymentMissingId", Case::kPaymentReceived,
       [](E& e) { e.mutable_payment_received()->clear_payment_id(); },
       "payment_received.payment_id", "required"},
      {"PaymentMissingContractId", Case::kPaymentReceived,
       [](E& e) { e.mutable_payment_received()->clear_contract_id(); },
       "payment_received.contract_id", "required"},
      {"PaymentMissingAmount", Case::kPaymentReceived,
       [](E& e) { e.mutable_payment_received()->clear_amount(); }, "payment_received.amount",
       "required"},
      {"PaymentZero", Case::kPaymentReceived,
       [](E& e) { *e.mutable_payment_received()->mutable_amount() = Cny(0); },
       "payment_received.amount.units", "must be > 0, got 0"},
      {"PaymentNegative", Case::kPaymentReceived,
       [](E& e) { *e.mutable_payment_received()->mutable_amount() = Cny(-5); },
       "payment_received.amount.units", "must be > 0, got -5"},
      {"PaymentUsd", Case::kPaymentReceived,
       [](E& e) { *e.mutable_payment_received()->mutable_amount() = Usd(5); },
       "payment_received.amount.currency", "must be CNY, got USD"},

      // complaints
      {"ComplaintFiledMissingId", Case::kComplaintFiled,
       [](E& e) { e.mutable_complaint_filed()->clear_complaint_id(); },
       "complaint_filed.complaint_id", "required"},
      {"ComplaintCategoryUnspecified", Case::kComplaintFiled,
       [](E& e) { e.mutable_complaint_filed()->clear_category(); }, "complaint_filed.category",
       "required (one of COMPLAINT_CATEGORY_PRODUCT"},
      {"ComplaintCategoryUnknown", Case::kComplaintFiled,
       [](E& e) {
         e.mutable_complaint_filed()->set_category(static_cast<v1::ComplaintCategory>(6));
       },
       "complaint_filed.category", "unknown value 6"},
      {"ComplaintSeverityUnspecified", Case::kComplaintFiled,
       [](E& e) { e.mutable_complaint_filed()->clear_severity(); }, "complaint_filed.severity",
       "required (one of SEVERITY_LOW, SEVERITY_MEDIUM, SEVERITY_HIGH, SEVERITY_CRITICAL)"},
      {"ComplaintSeverityUnknown", Case::kComplaintFiled,
       [](E& e) { e.mutable_complaint_filed()->set_severity(static_cast<v1::Severity>(5)); },
       "complaint_filed.severity", "unknown value 5"},
      {"ComplaintDescriptionTooLong", Case::kComplaintFiled,
       [](E& e) { e.mutable_complaint_filed()->set_description(kText4097); },
       "complaint_filed.description", "at most 4096 bytes"},
      {"ComplaintRespondedMissingId", Case::kComplaintResponded,
       [](E& e) { e.mutable_complaint_responded()->clear_complaint_id(); },
       "complaint_responded.complaint_id", "required"},
      {"ComplaintResolvedMissingId", Case::kComplaintResolved,
       [](E& e) { e.mutable_complaint_resolved()->clear_complaint_id(); },
       "complaint_resolved.complaint_id", "required"},
      {"ComplaintResolutionInvalidUtf8", Case::kComplaintResolved,
       [](E& e) { e.mutable_complaint_resolved()->set_resolution("\xe0\x80\x80"); },
       "complaint_resolved.resolution", "valid UTF-8"},
      {"ComplaintReopenedMissingId", Case::kComplaintReopened,
       [](E& e) { e.mutable_complaint_reopened()->clear_complaint_id(); },
       "complaint_reopened.complaint_id", "required"},

      // satisfaction_surveyed
      {"SurveyMissingId", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->clear_survey_id(); },
       "satisfaction_surveyed.survey_id", "required"},
      {"CsatZero", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_csat(0); }, "satisfaction_surveyed.csat",
       "must be 1..5, got 0"},
      {"CsatSix", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_csat(6); }, "satisfaction_surveyed.csat",
       "must be 1..5, got 6"},
      {"NpsEleven", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_nps(11); }, "satisfaction_surveyed.nps",
       "must be 0..10, got 11"},
      {"NpsNegative", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_nps(-1); }, "satisfaction_surveyed.nps",
       "must be 0..10, got -1"},

      // referral_made / customer_churned
      {"ReferralMissingReferred", Case::kReferralMade,
       [](E& e) { e.mutable_referral_made()->clear_referred_customer_id(); },
       "referral_made.referred_customer_id", "required"},
      {"ReferralOfSelf", Case::kReferralMade,
       [](E& e) { e.mutable_referral_made()->set_referred_customer_id("cus-1"); },
       "referral_made.referred_customer_id", "must differ from customer_id"},
      {"ReferralIdTooLong", Case::kReferralMade,
       [](E& e) { e.mutable_referral_made()->set_referred_customer_id(kId129); },
       "referral_made.referred_customer_id", "at most 128 bytes"},
      {"ChurnReasonControl", Case::kCustomerChurned,
       [](E& e) { e.mutable_customer_churned()->set_reason("gone\x1b[0m"); },
       "customer_churned.reason", "U+001B"},
  };
}

class EventMutationTest : public ::testing::TestWithParam<Mutation> {};

TEST_P(EventMutationTest, IsRejectedNamingTheField) {
  const Mutation& m = GetParam();
  v1::Event event = ValidEvent(m.base);
  ASSERT_OK(ValidateEvent(event, {})) << "baseline must be valid";
  m.mutate(event);
  ExpectInvalid(ValidateEvent(event, {}), "event." + m.path, m.what);
}

INSTANTIATE_TEST_SUITE_P(All, EventMutationTest, ::testing::ValuesIn(EventMutations()),
                         [](const auto& info) { return info.param.name; });

// ---- edits that must stay valid (the other side of each boundary) -------

std::vector<Mutation> EventBoundariesThatPass() {
  using E = v1::Event;
  const auto none = "";
  return {
      {"EventId128Bytes", Case::kQuoteAccepted, [](E& e) { e.set_event_id(std::string(128, 'x')); },
       none, none},
      {"EventId128BytesMultibyte", Case::kQuoteAccepted,
       [](E& e) {
         std::string id;
         for (int i = 0; i < 42; ++i) id += "客";  // 3 bytes each
         e.set_event_id(id + "ab");
       },
       none, none},
      {"CustomerIdFourByteUtf8", Case::kQuoteAccepted,
       [](E& e) { e.set_customer_id("cus-\xf0\x9f\x98\x80"); }, none, none},
      {"NoSourceNoActor", Case::kQuoteAccepted,
       [](E& e) {
         e.clear_source();
         e.clear_actor_id();
       },
       none, none},
      {"OccurredAtEpoch", Case::kQuoteAccepted, [](E& e) { *e.mutable_occurred_at() = Seconds(0); },
       none, none},
      {"OccurredAt2200", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_occurred_at() = At(2200, 1, 1); }, none, none},
      {"OccurredAtMaxNanos", Case::kQuoteAccepted,
       [](E& e) { e.mutable_occurred_at()->set_nanos(999'999'999); }, none, none},
      {"RecordedAtIgnored", Case::kQuoteAccepted,
       [](E& e) { *e.mutable_recorded_at() = Seconds(-5, -5); }, none, none},
      {"RegisteredMinimal", Case::kCustomerRegistered,
       [](E& e) {
         auto* m = e.mutable_customer_registered();
         const std::string name = m->name();
         m->Clear();
         m->set_name(name);
         m->set_kind(v1::CUSTOMER_KIND_COMPETITOR);
       },
       none, none},
      {"RegisteredName4096Bytes", Case::kCustomerRegistered,
       [](E& e) { e.mutable_customer_registered()->set_name(std::string(4096, 'n')); }, none, none},
      {"RegisteredZeroBudget", Case::kCustomerRegistered,
       [](E& e) { *e.mutable_customer_registered()->mutable_budget() = Cny(0); }, none, none},
      {"ProfileUpdateOnlyNeed", Case::kCustomerProfileUpdated,
       [](E& e) {
         e.mutable_customer_profile_updated()->Clear();
         e.mutable_customer_profile_updated()->set_need(v1::NEED_LOW);
       },
       none, none},
      {"ProfileUpdateOnlyKind", Case::kCustomerProfileUpdated,
       [](E& e) {
         e.mutable_customer_profile_updated()->Clear();
         e.mutable_customer_profile_updated()->set_kind(v1::CUSTOMER_KIND_AGENT);
       },
       none, none},
      {"ProfileUpdateOnlyBudget", Case::kCustomerProfileUpdated,
       [](E& e) {
         e.mutable_customer_profile_updated()->Clear();
         *e.mutable_customer_profile_updated()->mutable_budget() = Cny(0);
       },
       none, none},
      {"ProfileUpdateClearsIndustry", Case::kCustomerProfileUpdated,
       [](E& e) {
         e.mutable_customer_profile_updated()->Clear();
         e.mutable_customer_profile_updated()->set_industry("");
       },
       none, none},
      {"ContactWithoutRoleOrBirthday", Case::kContactAdded,
       [](E& e) {
         e.mutable_contact_added()->clear_role();
         e.mutable_contact_added()->clear_birthday();
       },
       none, none},
      {"BirthdayLeapDay2024", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(2024, 2, 29); }, none,
       none},
      {"BirthdayLeapDay2000", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(2000, 2, 29); }, none,
       none},
      {"BirthdayFirstYear", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(1900, 1, 1); }, none,
       none},
      {"BirthdayLastYear", Case::kContactAdded,
       [](E& e) { *e.mutable_contact_added()->mutable_birthday() = MakeDate(2200, 12, 31); }, none,
       none},
      {"VisitWithoutContactOrNote", Case::kVisitLogged,
       [](E& e) {
         e.mutable_visit_logged()->clear_contact_id();
         e.mutable_visit_logged()->clear_note();
       },
       none, none},
      {"VisitNote4096Bytes", Case::kVisitLogged,
       [](E& e) { e.mutable_visit_logged()->set_note(std::string(4096, '\n')); }, none, none},
      {"StageOpportunity", Case::kOpportunityStageChanged,
       [](E& e) { e.mutable_opportunity_stage_changed()->set_stage(v1::FUNNEL_STAGE_OPPORTUNITY); },
       none, none},
      {"QuoteListEqualsAmount", Case::kQuoteIssued,
       [](E& e) { *e.mutable_quote_issued()->mutable_list_amount() = Cny(1'000'000); }, none, none},
      {"QuoteMinimal", Case::kQuoteIssued,
       [](E& e) {
         auto* m = e.mutable_quote_issued();
         m->clear_opportunity_id();
         m->clear_list_amount();
         m->clear_cost();
         m->clear_valid_until();
       },
       none, none},
      {"ContractZeroAmount", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_amount() = Cny(0); }, none, none},
      {"ContractEndOneNanoAfterStart", Case::kContractSigned,
       [](E& e) {
         *e.mutable_contract_signed()->mutable_end() = Seconds(At(2024, 3, 1).seconds(), 1);
       },
       none, none},
      {"ContractPaymentDueAtStart", Case::kContractSigned,
       [](E& e) { *e.mutable_contract_signed()->mutable_payment_due() = At(2024, 3, 1); }, none,
       none},
      {"ContractWithoutOptionals", Case::kContractSigned,
       [](E& e) {
         auto* m = e.mutable_contract_signed();
         m->clear_quote_id();
         m->clear_cost();
         m->clear_payment_due();
         m->clear_product();
         m->clear_channel();
         m->clear_opportunity_id();
       },
       none, none},
      {"PaymentOneFen", Case::kPaymentReceived,
       [](E& e) { *e.mutable_payment_received()->mutable_amount() = Cny(1); }, none, none},
      {"CsatOne", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_csat(1); }, none, none},
      {"CsatFive", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_csat(5); }, none, none},
      {"NpsZero", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_nps(0); }, none, none},
      {"NpsTen", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->set_nps(10); }, none, none},
      {"NpsUnset", Case::kSatisfactionSurveyed,
       [](E& e) { e.mutable_satisfaction_surveyed()->clear_nps(); }, none, none},
      {"ChurnWithoutReason", Case::kCustomerChurned,
       [](E& e) { e.mutable_customer_churned()->clear_reason(); }, none, none},
      {"UnknownEnvelopeField", Case::kContractSigned,
       [](E& e) { e.GetReflection()->MutableUnknownFields(&e)->AddVarint(999, 1); }, none, none},
      {"UnknownPayloadField", Case::kContractSigned,
       [](E& e) {
         auto* m = e.mutable_contract_signed();
         m->GetReflection()->MutableUnknownFields(m)->AddLengthDelimited(500, "future");
       },
       none, none},
  };
}

class EventBoundaryTest : public ::testing::TestWithParam<Mutation> {};

TEST_P(EventBoundaryTest, StaysValid) {
  const Mutation& m = GetParam();
  v1::Event event = ValidEvent(m.base);
  m.mutate(event);
  const absl::Status status = ValidateEvent(event, {});
  EXPECT_OK(status);
}

INSTANTIATE_TEST_SUITE_P(All, EventBoundaryTest, ::testing::ValuesIn(EventBoundariesThatPass()),
                         [](const auto& info) { return info.param.name; });

// ---- whole messages, options, paths -------------------------------------

TEST(ValidateEventTest, MessageIsExactlyPathColonExplanation) {
  v1::Event event = ValidEvent(Case::kContractSigned);
  *event.mutable_contract_signed()->mutable_amount() = Usd(100);
  EXPECT_THAT(
      ValidateEvent(event, {}, "events[3]"),
      StatusIs(kInvalid, "events[3].contract_signed.amount.currency: must be CNY, got USD"));

  event = ValidEvent(Case::kQuoteAccepted);
  event.clear_event_id();
  EXPECT_THAT(ValidateEvent(event, {}, "events[0]"),
              StatusIs(kInvalid, "events[0].event_id: required"));
}

TEST(ValidateEventTest, MissingPayloadListsEveryPayloadType) {
  v1::Event event = ValidEvent(Case::kQuoteAccepted);
  event.clear_payload();
  std::string expected = "event.payload: required (one of ";
  bool first = true;
  for (const auto* field : PayloadFields(v1::Event::descriptor())) {
    absl::StrAppend(&expected, first ? "" : ", ", field->name());
    first = false;
  }
  expected += ")";
  EXPECT_THAT(ValidateEvent(event, {}), StatusIs(kInvalid, expected));
}

TEST(ValidateEventTest, PayloadFromANewerSchemaIsRejectedWithAHint) {
  v1::Event event = ValidEvent(Case::kQuoteAccepted);
  event.clear_payload();
  // Field 40 would be a payload type added after this build.
  event.GetReflection()->MutableUnknownFields(&event)->AddLengthDelimited(40, "\x0a\x01x");
  const absl::Status status = ValidateEvent(event, {});
  ExpectInvalid(status, "event.payload", "unknown to this server");
}

TEST(ValidateEventTest, UnknownFieldsSurviveASerializationRoundTrip) {
  v1::Event event = ValidEvent(Case::kPaymentReceived);
  std::string wire = event.SerializeAsString();
  // Append field 99 (varint 7), as a producer on a newer schema would.
  wire += std::string("\x98\x06\x07", 3);
  v1::Event parsed;
  ASSERT_TRUE(parsed.ParseFromString(wire));
  ASSERT_FALSE(parsed.GetReflection()->GetUnknownFields(parsed).empty());
  EXPECT_OK(ValidateEvent(parsed, {}));
}

TEST(ValidateEventTest, ReportsTheFirstBadFieldInEnvelopeOrder) {
  v1::Event event = ValidEvent(Case::kContractSigned);
  event.clear_customer_id();
  event.mutable_contract_signed()->clear_contract_id();
  ExpectInvalid(ValidateEvent(event, {}), "event.customer_id", "required");
}

TEST(ValidateEventTest, HonoursTheConfiguredCurrency) {
  const ValidationOptions usd{.currency = "USD"};
  v1::Event event = ValidEvent(Case::kPaymentReceived);
  ExpectInvalid(ValidateEvent(event, usd), "event.payment_received.amount.currency",
                "must be USD, got CNY");
  *event.mutable_payment_received()->mutable_amount() = Usd(10);
  EXPECT_OK(ValidateEvent(event, usd));
}

TEST(ValidateEventTest, HonoursTheConfiguredLimits) {
  const ValidationOptions small{.max_id_bytes = 8, .max_text_bytes = 16};
  v1::Event event = ValidEvent(Case::kVisitLogged);
  event.set_event_id("12345678");
  event.mutable_visit_logged()->set_note(std::string(16, 'n'));
  EXPECT_OK(ValidateEvent(event, small));

  event.set_event_id("123456789");
  ExpectInvalid(ValidateEvent(event, small), "event.event_id", "at most 8 bytes, got 9");
  event.set_event_id("12345678");
  event.mutable_visit_logged()->set_note(std::string(17, 'n'));
  ExpectInvalid(ValidateEvent(event, small), "event.visit_logged.note", "at most 16 bytes, got 17");
}

TEST(ValidateEventTest, EchoedValuesAreEscapedAndTruncated) {
  v1::Event event = ValidEvent(Case::kPaymentReceived);
  event.mutable_payment_received()->mutable_amount()->set_currency(std::string(100, 'Z') + "\n");
  const absl::Status status = ValidateEvent(event, {});
  ExpectInvalid(status, "event.payment_received.amount.currency",
                "must be CNY, got " + std::string(32, 'Z') + "...");
  EXPECT_THAT(std::string(status.message()), ::testing::Not(HasSubstr("\n")));
}

// ---- requests ------------------------------------------------------------

v1::AppendRequest RequestOf(int n) {
  v1::AppendRequest request;
  for (int i = 0; i < n; ++i) {
    v1::Event* event = request.add_events();
    *event = ValidEvent(Case::kVisitLogged);
    event->set_event_id(absl::StrCat("evt-", i));
  }
  return request;
}

TEST(ValidateAppendRequestTest, RejectsAnEmptyRequest) {
  EXPECT_THAT(ValidateAppendRequest(v1::AppendRequest(), {}),
              StatusIs(kInvalid, "events: at least one event required"));
}

TEST(ValidateAppendRequestTest, AcceptsExactlyTheMaximum) {
  const absl::Status status = ValidateAppendRequest(RequestOf(1000), {});
  EXPECT_OK(status);
}

TEST(ValidateAppendRequestTest, RejectsOneOverTheMaximum) {
  EXPECT_THAT(ValidateAppendRequest(RequestOf(1001), {}),
              StatusIs(kInvalid, "events: at most 1000 events per request, got 1001"));
}

TEST(ValidateAppendRequestTest, HonoursAConfiguredMaximum) {
  const ValidationOptions options{.max_events_per_request = 3};
  EXPECT_OK(ValidateAppendRequest(RequestOf(3), options));
  EXPECT_THAT(ValidateAppendRequest(RequestOf(4), options),
              StatusIs(kInvalid, "events: at most 3 events per request, got 4"));
}

TEST(ValidateAppendRequestTest, SizeIsCheckedBeforeTheEvents) {
  v1::AppendRequest request = RequestOf(1001);
  request.mutable_events(0)->clear_event_id();
  EXPECT_THAT(ValidateAppendRequest(request, {}),
              StatusIs(kInvalid, StartsWith("events: at most 1000")));
}

TEST(ValidateAppendRequestTest, NamesTheIndexOfTheFirstBadEvent) {
  v1::AppendRequest request = RequestOf(5);
  *request.mutable_events(3)->mutable_visit_logged()->mutable_visit_id() = "";
  request.mutable_events(4)->clear_occurred_at();
  EXPECT_THAT(ValidateAppendRequest(request, {}),
              StatusIs(kInvalid, "events[3].visit_logged.visit_id: required"));

  request.mutable_events(0)->set_customer_id(kId129);
  EXPECT_THAT(ValidateAppendRequest(request, {}),
              StatusIs(kInvalid, "events[0].customer_id: must be at most 128 bytes, got 129"));
}

TEST(ValidateAppendRequestTest, ChecksTheLastEventToo) {
  v1::AppendRequest request = RequestOf(1000);
  request.mutable_events(999)->mutable_visit_logged()->set_outcome(
      static_cast<v1::VisitOutcome>(77));
  ExpectInvalid(ValidateAppendRequest(request, {}), "events[999].visit_logged.outcome",
                "unknown value 77");
}

// ---- organisation events ------------------------------------------------

struct OrgMutation {
  std::string name;
  OrgCase base;
  std::function<void(v1::OrgEvent&)> mutate;
  std::string path;
  std::string what;
};

void PrintTo(const OrgMutation& m, std::ostream* os) { *os << m.name; }

std::vector<OrgMutation> OrgEventMutations() {
  using E = v1::OrgEvent;
  return {
      // Envelope.
      {"MissingEventId", OrgCase::kReviewActionClosed, [](E& e) { e.clear_event_id(); }, "event_id",
       "required"},
      {"EventIdTooLong", OrgCase::kReviewActionClosed, [](E& e) { e.set_event_id(kId129); },
       "event_id", "at most 128 bytes, got 129"},
      {"MissingOccurredAt", OrgCase::kReviewActionClosed, [](E& e) { e.clear_occurred_at(); },
       "occurred_at", "required"},
      {"OccurredAtBefore1970", OrgCase::kReviewActionClosed,
       [](E& e) { *e.mutable_occurred_at() = At(1969, 12, 31); }, "occurred_at", "must be within"},
      {"OccurredAtBadNanos", OrgCase::kReviewActionClosed,
       [](E& e) { e.mutable_occurred_at()->set_nanos(-1); }, "occurred_at.nanos", "got -1"},
      {"MissingScope", OrgCase::kReviewActionClosed, [](E& e) { e.clear_scope(); }, "scope",
       "required"},
      {"ScopeInvalidUtf8", OrgCase::kReviewActionClosed, [](E& e) { e.set_scope("region:\xff"); },
       "scope", "valid UTF-8"},
      {"SourceControl", OrgCase::kReviewActionClosed, [](E& e) { e.set_source("a\rb"); }, "source",
       "control characters"},
      {"ActorIdTooLong", OrgCase::kReviewActionClosed, [](E& e) { e.set_actor_id(kId129); },
       "actor_id", "at most 128 bytes"},
      {"MissingPayload", OrgCase::kReviewActionClosed, [](E& e) { e.clear_payload(); }, "payload",
       "required (one of target_set, marketing_spend_recorded, market_size_declared, "
       "review_action_planned, review_action_closed)"},

      // target_set
      {"TargetMissingPeriod", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->clear_period(); }, "target_set.period", "required"},
      {"TargetGranularityUnspecified", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_period()->clear_granularity(); },
       "target_set.period.granularity", "required (one of GRANULARITY_DAY"},
      {"TargetGranularityUnknown", OrgCase::kTargetSet,
       [](E& e) {
         e.mutable_target_set()->mutable_period()->set_granularity(static_cast<v1::Granularity>(9));
       },
       "target_set.period.granularity", "unknown value 9"},
      {"TargetPeriodMissingStart", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_period()->clear_start(); },
       "target_set.period.start", "required"},
      {"TargetPeriodStartOutOfRange", OrgCase::kTargetSet,
       [](E& e) { *e.mutable_target_set()->mutable_period()->mutable_start() = Seconds(-1); },
       "target_set.period.start", "must be within"},
      {"TargetDimensionUnspecified", OrgCase::kTargetSet,
       [](E& e) {
         e.mutable_target_set()->clear_dimension();
         e.mutable_target_set()->clear_dimension_value();
       },
       "target_set.dimension", "required (one of DIMENSION_ALL"},
      {"TargetDimensionUnknown", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_dimension(static_cast<v1::Dimension>(42)); },
       "target_set.dimension", "unknown value 42"},
      {"TargetMissingDimensionValue", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->clear_dimension_value(); }, "target_set.dimension_value",
       "required"},
      {"TargetValueWithDimensionAll", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_dimension(v1::DIMENSION_ALL); },
       "target_set.dimension_value", "must be empty when dimension is DIMENSION_ALL, got East"},
      {"TargetMissingMetric", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->clear_metric(); }, "target_set.metric", "required"},
      {"TargetMetricNotSnakeCase", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_metric("Revenue"); }, "target_set.metric",
       "must be a snake_case metric name"},
      {"TargetMetricWithSpace", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_metric("win rate"); }, "target_set.metric",
       "snake_case"},
      {"TargetMetricLeadingDigit", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_metric("20_share"); }, "target_set.metric",
       "snake_case"},
      {"TargetMissingValue", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->clear_value(); }, "target_set.value",
       "required (one of money, count, decimal)"},
      {"TargetEmptyValue", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->Clear(); }, "target_set.value",
       "required"},
      {"TargetMoneyUsd", OrgCase::kTargetSet,
       [](E& e) { *e.mutable_target_set()->mutable_value()->mutable_money() = Usd(1); },
       "target_set.value.money.currency", "must be CNY, got USD"},
      {"TargetMoneyNegative", OrgCase::kTargetSet,
       [](E& e) { *e.mutable_target_set()->mutable_value()->mutable_money() = Cny(-1); },
       "target_set.value.money.units", "must be >= 0"},
      {"TargetCountNegative", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_count(-3); },
       "target_set.value.count", "must be >= 0, got -3"},
      {"TargetDecimalNegative", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("-0.5"); },
       "target_set.value.decimal", "must be a non-negative decimal"},
      {"TargetDecimalExponent", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("1e3"); },
       "target_set.value.decimal", "non-negative decimal"},
      {"TargetDecimalEmpty", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal(""); },
       "target_set.value.decimal", "non-negative decimal"},
      {"TargetDecimalNoWhole", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal(".5"); },
       "target_set.value.decimal", "non-negative decimal"},
      {"TargetDecimalNoFraction", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("1."); },
       "target_set.value.decimal", "non-negative decimal"},
      {"TargetDecimalTwoDots", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("1.2.3"); },
       "target_set.value.decimal", "non-negative decimal"},

      // marketing_spend_recorded
      {"SpendMissingDate", OrgCase::kMarketingSpendRecorded,
       [](E& e) { e.mutable_marketing_spend_recorded()->clear_date(); },
       "marketing_spend_recorded.date", "required"},
      {"SpendDateInvalid", OrgCase::kMarketingSpendRecorded,
       [](E& e) { *e.mutable_marketing_spend_recorded()->mutable_date() = MakeDate(2024, 6, 31); },
       "marketing_spend_recorded.date.day", "must be 1..30 for 2024-06, got 31"},
      {"SpendMissingAmount", OrgCase::kMarketingSpendRecorded,
       [](E& e) { e.mutable_marketing_spend_recorded()->clear_amount(); },
       "marketing_spend_recorded.amount", "required"},
      {"SpendAmountUsd", OrgCase::kMarketingSpendRecorded,
       [](E& e) { *e.mutable_marketing_spend_recorded()->mutable_amount() = Usd(5); },
       "marketing_spend_recorded.amount.currency", "must be CNY, got USD"},
      {"SpendAmountNegative", OrgCase::kMarketingSpendRecorded,
       [](E& e) { *e.mutable_marketing_spend_recorded()->mutable_amount() = Cny(-5); },
       "marketing_spend_recorded.amount.units", "must be >= 0"},
      {"SpendDimensionUnknown", OrgCase::kMarketingSpendRecorded,
       [](E& e) {
         e.mutable_marketing_spend_recorded()->set_dimension(static_cast<v1::Dimension>(-2));
       },
       "marketing_spend_recorded.dimension", "unknown value -2"},
      {"SpendValueWithoutDimension", OrgCase::kMarketingSpendRecorded,
       [](E& e) { e.mutable_marketing_spend_recorded()->clear_dimension(); },
       "marketing_spend_recorded.dimension_value",
       "must be empty when dimension is DIMENSION_UNSPECIFIED"},
      {"SpendChannelControl", OrgCase::kMarketingSpendRecorded,
       [](E& e) { e.mutable_marketing_spend_recorded()->set_channel("web\x01"); },
       "marketing_spend_recorded.channel", "U+0001"},

      // market_size_declared
      {"MarketSizeMissingPeriod", OrgCase::kMarketSizeDeclared,
       [](E& e) { e.mutable_market_size_declared()->clear_period(); },
       "market_size_declared.period", "required"},
      {"MarketSizeMissingAmount", OrgCase::kMarketSizeDeclared,
       [](E& e) { e.mutable_market_size_declared()->clear_amount(); },
       "market_size_declared.amount", "required"},
      {"MarketSizeNegative", OrgCase::kMarketSizeDeclared,
       [](E& e) { *e.mutable_market_size_declared()->mutable_amount() = Cny(-1); },
       "market_size_declared.amount.units", "must be >= 0"},
      {"MarketSizeRegionInvalidUtf8", OrgCase::kMarketSizeDeclared,
       [](E& e) { e.mutable_market_size_declared()->set_region("\xc3"); },
       "market_size_declared.region", "valid UTF-8"},

      // review_action_planned / review_action_closed
      {"ActionPlannedMissingId", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->clear_action_id(); },
       "review_action_planned.action_id", "required"},
      {"ActionPlannedMissingPeriod", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->clear_review_period(); },
       "review_action_planned.review_period", "required"},
      {"ActionPlannedGranularityUnspecified", OrgCase::kReviewActionPlanned,
       [](E& e) {
         e.mutable_review_action_planned()->mutable_review_period()->clear_granularity();
       },
       "review_action_planned.review_period.granularity", "required"},
      {"ActionPlannedMissingFinding", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->clear_finding(); },
       "review_action_planned.finding", "required"},
      {"ActionPlannedMissingDimensionValue", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->clear_dimension_value(); },
       "review_action_planned.dimension_value", "required"},
      {"ActionPlannedOwnerTooLong", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->set_owner(kId129); },
       "review_action_planned.owner", "at most 128 bytes"},
      {"ActionPlannedDueAfter2200", OrgCase::kReviewActionPlanned,
       [](E& e) { *e.mutable_review_action_planned()->mutable_due() = At(2300, 1, 1); },
       "review_action_planned.due", "must be within"},
      {"ActionPlannedDescriptionTooLong", OrgCase::kReviewActionPlanned,
       [](E& e) { e.mutable_review_action_planned()->set_description(kText4097); },
       "review_action_planned.description", "at most 4096 bytes"},
      {"ActionClosedMissingId", OrgCase::kReviewActionClosed,
       [](E& e) { e.mutable_review_action_closed()->clear_action_id(); },
       "review_action_closed.action_id", "required"},
      {"ActionClosedNoteInvalidUtf8", OrgCase::kReviewActionClosed,
       [](E& e) { e.mutable_review_action_closed()->set_note("\xed\xbf\xbf"); },
       "review_action_closed.note", "valid UTF-8"},
  };
}

class OrgEventMutationTest : public ::testing::TestWithParam<OrgMutation> {};

TEST_P(OrgEventMutationTest, IsRejectedNamingTheField) {
  const OrgMutation& m = GetParam();
  v1::OrgEvent event = ValidOrgEvent(m.base);
  ASSERT_OK(ValidateOrgEvent(event, {})) << "baseline must be valid";
  m.mutate(event);
  ExpectInvalid(ValidateOrgEvent(event, {}), "event." + m.path, m.what);
}

INSTANTIATE_TEST_SUITE_P(All, OrgEventMutationTest, ::testing::ValuesIn(OrgEventMutations()),
                         [](const auto& info) { return info.param.name; });

std::vector<OrgMutation> OrgBoundariesThatPass() {
  using E = v1::OrgEvent;
  const auto none = "";
  return {
      {"Scope128Bytes", OrgCase::kReviewActionClosed,
       [](E& e) { e.set_scope(std::string(128, 's')); }, none, none},
      {"TargetCountZero", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_count(0); }, none, none},
      {"TargetDecimalFraction", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("0.85"); }, none, none},
      {"TargetDecimalWhole", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->mutable_value()->set_decimal("12"); }, none, none},
      {"TargetMetricWithDigitsAndUnderscores", OrgCase::kTargetSet,
       [](E& e) { e.mutable_target_set()->set_metric("top20_revenue_share"); }, none, none},
      {"TargetForEveryone", OrgCase::kTargetSet,
       [](E& e) {
         e.mutable_target_set()->set_dimension(v1::DIMENSION_ALL);
         e.mutable_target_set()->clear_dimension_value();
       },
       none, none},
      {"SpendWithoutDimension", OrgCase::kMarketingSpendRecorded,
       [](E& e) {
         e.mutable_marketing_spend_recorded()->clear_dimension();
         e.mutable_marketing_spend_recorded()->clear_dimension_value();
         e.mutable_marketing_spend_recorded()->clear_channel();
       },
       none, none},
      {"SpendLeapDay", OrgCase::kMarketingSpendRecorded,
       [](E& e) { *e.mutable_marketing_spend_recorded()->mutable_date() = MakeDate(2024, 2, 29); },
       none, none},
      {"MarketSizeWholeMarket", OrgCase::kMarketSizeDeclared,
       [](E& e) {
         e.mutable_market_size_declared()->clear_region();
         e.mutable_market_size_declared()->clear_industry();
       },
       none, none},
      {"ActionPlannedMinimal", OrgCase::kReviewActionPlanned,
       [](E& e) {
         auto* m = e.mutable_review_action_planned();
         m->clear_dimension();
         m->clear_dimension_value();
         m->clear_owner();
         m->clear_due();
         m->clear_description();
       },
       none, none},
      {"ActionClosedWithoutNote", OrgCase::kReviewActionClosed,
       [](E& e) { e.mutable_review_action_closed()->clear_note(); }, none, none},
  };
}

class OrgEventBoundaryTest : public ::testing::TestWithParam<OrgMutation> {};

TEST_P(OrgEventBoundaryTest, StaysValid) {
  const OrgMutation& m = GetParam();
  v1::OrgEvent event = ValidOrgEvent(m.base);
  m.mutate(event);
  const absl::Status status = ValidateOrgEvent(event, {});
  EXPECT_OK(status);
}

INSTANTIATE_TEST_SUITE_P(All, OrgEventBoundaryTest, ::testing::ValuesIn(OrgBoundariesThatPass()),
                         [](const auto& info) { return info.param.name; });

v1::AppendOrgRequest OrgRequestOf(int n) {
  v1::AppendOrgRequest request;
  for (int i = 0; i < n; ++i) {
    v1::OrgEvent* event = request.add_events();
    *event = ValidOrgEvent(OrgCase::kTargetSet);
    event->set_event_id(absl::StrCat("org-", i));
  }
  return request;
}

TEST(ValidateAppendOrgRequestTest, RejectsAnEmptyRequest) {
  EXPECT_THAT(ValidateAppendOrgRequest(v1::AppendOrgRequest(), {}),
              StatusIs(kInvalid, "events: at least one event required"));
}

TEST(ValidateAppendOrgRequestTest, AcceptsExactlyTheMaximumAndNoMore) {
  EXPECT_OK(ValidateAppendOrgRequest(OrgRequestOf(1000), {}));
  EXPECT_THAT(ValidateAppendOrgRequest(OrgRequestOf(1001), {}),
              StatusIs(kInvalid, "events: at most 1000 events per request, got 1001"));
}

TEST(ValidateAppendOrgRequestTest, NamesTheIndexOfTheFirstBadEvent) {
  v1::AppendOrgRequest request = OrgRequestOf(4);
  request.mutable_events(2)->mutable_target_set()->set_metric("");
  request.mutable_events(3)->clear_scope();
  EXPECT_THAT(ValidateAppendOrgRequest(request, {}),
              StatusIs(kInvalid, "events[2].target_set.metric: required"));
}

}  // namespace
}  // namespace custops::event

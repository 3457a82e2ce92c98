#include "custops/demo/demo.h"

#include <cstdint>
#include <iostream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/event/payload.h"
#include "custops/event/validate.h"
#include "custops/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace custops::demo {
namespace {

using ::testing::IsEmpty;
using ::testing::Not;

// 2025-06-30T16:00:00Z, midnight in Shanghai.
const absl::Time kEnd = absl::FromUnixSeconds(1751299200);

int64_t Seconds(const google::protobuf::Timestamp& ts) { return ts.seconds(); }

std::vector<std::string> Serialized(const std::vector<v1::Event>& events) {
  std::vector<std::string> out;
  out.reserve(events.size());
  for (const v1::Event& e : events) out.push_back(e.SerializeAsString());
  return out;
}

// The default population, generated once for the suite.
class DemoPopulationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    events_ = new std::vector<v1::Event>(GenerateDemo({.end = kEnd}));
  }
  static void TearDownTestSuite() {
    delete events_;
    events_ = nullptr;
  }
  static const std::vector<v1::Event>& events() { return *events_; }

 private:
  static std::vector<v1::Event>* events_;
};

std::vector<v1::Event>* DemoPopulationTest::events_ = nullptr;

TEST(DemoTest, SameOptionsGiveIdenticalEvents) {
  const DemoOptions options{.seed = 7, .customers = 400, .end = kEnd};
  const std::vector<v1::Event> a = GenerateDemo(options);
  const std::vector<v1::Event> b = GenerateDemo(options);
  ASSERT_THAT(a, Not(IsEmpty()));
  EXPECT_EQ(Serialized(a), Serialized(b));
}

TEST(DemoTest, DifferentSeedGivesDifferentEvents) {
  const std::vector<v1::Event> a = GenerateDemo({.seed = 7, .customers = 200, .end = kEnd});
  const std::vector<v1::Event> b = GenerateDemo({.seed = 8, .customers = 200, .end = kEnd});
  EXPECT_NE(Serialized(a), Serialized(b));
  EXPECT_TRUE(absl::StartsWith(a.front().event_id(), "demo-7-"));
  EXPECT_TRUE(absl::StartsWith(b.front().event_id(), "demo-8-"));
}

TEST(DemoTest, NoCustomersNoEvents) {
  EXPECT_THAT(GenerateDemo({.customers = 0, .end = kEnd}), IsEmpty());
}

TEST(DemoTest, TinyWorldsAreValid) {
  // One rep, a week of history, a handful of customers.
  const std::vector<v1::Event> events = GenerateDemo(
      {.seed = 3, .customers = 5, .end = kEnd, .span = absl::Hours(24 * 7), .owners = 1});
  ASSERT_THAT(events, Not(IsEmpty()));
  for (const v1::Event& e : events) {
    EXPECT_TRUE(event::ValidateEvent(e, {}).ok()) << event::ValidateEvent(e, {});
    EXPECT_EQ(e.actor_id(), "rep-01");
    EXPECT_GE(Seconds(e.occurred_at()), absl::ToUnixSeconds(kEnd - absl::Hours(24 * 7)));
    EXPECT_LE(Seconds(e.occurred_at()), absl::ToUnixSeconds(kEnd));
  }
}

TEST(DemoTest, CurrencyIsConfigurable) {
  const std::vector<v1::Event> events =
      GenerateDemo({.customers = 50, .end = kEnd, .currency = "USD"});
  event::ValidationOptions usd;
  usd.currency = "USD";
  for (const v1::Event& e : events) {
    ASSERT_TRUE(event::ValidateEvent(e, usd).ok()) << event::ValidateEvent(e, usd);
  }
}

TEST(DemoTest, OwnerIds) {
  EXPECT_EQ(OwnerId(1, 40), "rep-01");
  EXPECT_EQ(OwnerId(40, 40), "rep-40");
  EXPECT_EQ(OwnerId(7, 120), "rep-007");
}

TEST_F(DemoPopulationTest, EveryEventValidates) {
  for (const v1::Event& e : events()) {
    const absl::Status s = event::ValidateEvent(e, {});
    ASSERT_TRUE(s.ok()) << s << "\n" << e.DebugString();
  }
}

TEST_F(DemoPopulationTest, AllPayloadKindsAppear) {
  std::map<int, int> counts;
  for (const v1::Event& e : events()) ++counts[e.payload_case()];
  const google::protobuf::OneofDescriptor* payload =
      v1::Event::descriptor()->FindOneofByName("payload");
  ASSERT_EQ(payload->field_count(), 20);
  for (int i = 0; i < payload->field_count(); ++i) {
    EXPECT_GT(counts[payload->field(i)->number()], 0) << payload->field(i)->name();
  }
}

TEST_F(DemoPopulationTest, TimesLieWithinTheSpan) {
  const int64_t lo = absl::ToUnixSeconds(kEnd - absl::Hours(24 * 548));
  const int64_t hi = absl::ToUnixSeconds(kEnd);
  for (const v1::Event& e : events()) {
    ASSERT_GE(Seconds(e.occurred_at()), lo) << e.event_id();
    ASSERT_LE(Seconds(e.occurred_at()), hi) << e.event_id();
    EXPECT_FALSE(e.has_recorded_at());
  }
}

TEST_F(DemoPopulationTest, OrderedByTimeThenIdWithUniqueIds) {
  absl::flat_hash_set<std::string> ids;
  for (size_t i = 0; i < events().size(); ++i) {
    const v1::Event& e = events()[i];
    ASSERT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
    EXPECT_TRUE(absl::StartsWith(e.event_id(), "demo-42-")) << e.event_id();
    EXPECT_EQ(e.source(), "demo");
    EXPECT_TRUE(absl::StartsWith(e.actor_id(), "rep-")) << e.actor_id();
    if (i == 0) continue;
    const v1::Event& prev = events()[i - 1];
    ASSERT_LE(Seconds(prev.occurred_at()), Seconds(e.occurred_at()));
    if (Seconds(prev.occurred_at()) == Seconds(e.occurred_at())) {
      EXPECT_LT(prev.event_id(), e.event_id());
    }
  }
  EXPECT_EQ(events().front().event_id(), "demo-42-0000001");
}

TEST_F(DemoPopulationTest, CustomersRegisterOnceBeforeAnythingElse) {
  absl::flat_hash_map<std::string, int64_t> registered;
  std::map<int, int> kinds;
  std::set<std::string> regions;
  std::set<std::string> owners;
  for (const v1::Event& e : events()) {
    if (e.has_customer_registered()) {
      ASSERT_TRUE(registered.emplace(e.customer_id(), Seconds(e.occurred_at())).second)
          << e.customer_id();
      ++kinds[e.customer_registered().kind()];
      regions.insert(e.customer_registered().region());
      owners.insert(e.customer_registered().owner_id());
      EXPECT_EQ(e.actor_id(), e.customer_registered().owner_id());
    } else {
      ASSERT_TRUE(registered.contains(e.customer_id())) << e.event_id();
    }
  }
  EXPECT_EQ(registered.size(), 3000u);
  EXPECT_TRUE(registered.contains("C000001"));
  EXPECT_TRUE(registered.contains("C003000"));
  for (int kind = v1::CUSTOMER_KIND_CUSTOMER; kind <= v1::CUSTOMER_KIND_COMPETITOR; ++kind) {
    EXPECT_GT(kinds[kind], 0) << v1::CustomerKind_Name(kind);
  }
  EXPECT_GT(kinds[v1::CUSTOMER_KIND_CUSTOMER], 2300);
  EXPECT_EQ(regions.size(), 7u);
  EXPECT_EQ(owners.size(), 40u);
}

TEST_F(DemoPopulationTest, ReferralsPointToEarlierRegisteredCustomers) {
  absl::flat_hash_map<std::string, int64_t> registered;
  int referrals = 0;
  for (const v1::Event& e : events()) {
    if (e.has_customer_registered()) registered[e.customer_id()] = Seconds(e.occurred_at());
    if (!e.has_referral_made()) continue;
    ++referrals;
    const std::string& referred = e.referral_made().referred_customer_id();
    EXPECT_NE(referred, e.customer_id());
    auto it = registered.find(referred);
    ASSERT_NE(it, registered.end()) << referred << " in " << e.event_id();
    EXPECT_LE(it->second, Seconds(e.occurred_at()));
  }
  EXPECT_GT(referrals, 20);
}

// Ids of each kind of object, per customer, with the time they appeared.
struct Objects {
  absl::flat_hash_map<std::string, int64_t> contacts, opportunities, quotes, contracts, complaints;
};

TEST_F(DemoPopulationTest, ReferencesPointToEarlierObjectsOfTheSameCustomer) {
  absl::flat_hash_map<std::string, Objects> by_customer;
  absl::flat_hash_map<std::string, std::string> quote_opportunity;
  absl::flat_hash_set<std::string> accepted_quotes;
  for (const v1::Event& e : events()) {
    Objects& o = by_customer[e.customer_id()];
    const int64_t t = Seconds(e.occurred_at());
    auto known = [&](const absl::flat_hash_map<std::string, int64_t>& m, const std::string& id) {
      auto it = m.find(id);
      return it != m.end() && it->second <= t;
    };
    switch (e.payload_case()) {
      case v1::Event::kContactAdded:
        EXPECT_TRUE(o.contacts.emplace(e.contact_added().contact_id(), t).second);
        break;
      case v1::Event::kVisitLogged:
        if (!e.visit_logged().contact_id().empty()) {
          EXPECT_TRUE(known(o.contacts, e.visit_logged().contact_id())) << e.event_id();
        }
        break;
      case v1::Event::kOpportunityOpened:
        EXPECT_TRUE(o.opportunities.emplace(e.opportunity_opened().opportunity_id(), t).second);
        break;
      case v1::Event::kOpportunityStageChanged:
        EXPECT_TRUE(known(o.opportunities, e.opportunity_stage_changed().opportunity_id()))
            << e.event_id();
        break;
      case v1::Event::kQuoteIssued:
        EXPECT_TRUE(known(o.opportunities, e.quote_issued().opportunity_id())) << e.event_id();
        EXPECT_GE(e.quote_issued().list_amount().units(), e.quote_issued().amount().units());
        EXPECT_TRUE(e.quote_issued().has_cost());
        EXPECT_TRUE(o.quotes.emplace(e.quote_issued().quote_id(), t).second);
        quote_opportunity[e.quote_issued().quote_id()] = e.quote_issued().opportunity_id();
        break;
      case v1::Event::kQuoteAccepted:
        EXPECT_TRUE(known(o.quotes, e.quote_accepted().quote_id())) << e.event_id();
        accepted_quotes.insert(e.quote_accepted().quote_id());
        break;
      case v1::Event::kQuoteRejected:
        EXPECT_TRUE(known(o.quotes, e.quote_rejected().quote_id())) << e.event_id();
        break;
      case v1::Event::kContractSigned: {
        const v1::ContractSigned& c = e.contract_signed();
        EXPECT_TRUE(accepted_quotes.contains(c.quote_id())) << e.event_id();
        EXPECT_EQ(quote_opportunity[c.quote_id()], c.opportunity_id());
        EXPECT_GT(c.end().seconds(), c.start().seconds());
        EXPECT_GE(c.payment_due().seconds(), c.start().seconds());
        EXPECT_FALSE(c.product().empty());
        EXPECT_FALSE(c.channel().empty());
        EXPECT_TRUE(c.has_cost());
        EXPECT_TRUE(o.contracts.emplace(c.contract_id(), t).second);
        break;
      }
      case v1::Event::kContractRenewed:
        EXPECT_TRUE(known(o.contracts, e.contract_renewed().contract_id())) << e.event_id();
        break;
      case v1::Event::kContractTerminated:
        EXPECT_TRUE(known(o.contracts, e.contract_terminated().contract_id())) << e.event_id();
        break;
      case v1::Event::kPaymentReceived:
        EXPECT_TRUE(known(o.contracts, e.payment_received().contract_id())) << e.event_id();
        break;
      case v1::Event::kComplaintFiled:
        EXPECT_TRUE(o.complaints.emplace(e.complaint_filed().complaint_id(), t).second);
        break;
      case v1::Event::kComplaintResponded:
        EXPECT_TRUE(known(o.complaints, e.complaint_responded().complaint_id())) << e.event_id();
        break;
      case v1::Event::kComplaintResolved:
        EXPECT_TRUE(known(o.complaints, e.complaint_resolved().complaint_id())) << e.event_id();
        break;
      case v1::Event::kComplaintReopened:
        EXPECT_TRUE(known(o.complaints, e.complaint_reopened().complaint_id())) << e.event_id();
        break;
      default:
        break;
    }
  }
}

TEST_F(DemoPopulationTest, PaymentsNeverExceedWhatWasBilled) {
  // Billed = the signed amount plus every renewal so far.
  absl::flat_hash_map<std::string, int64_t> billed;
  absl::flat_hash_map<std::string, int64_t> paid;
  int overpaid = 0;
  int partly_paid = 0;
  for (const v1::Event& e : events()) {
    if (e.has_contract_signed()) {
      billed[e.contract_signed().contract_id()] += e.contract_signed().amount().units();
    } else if (e.has_contract_renewed()) {
      billed[e.contract_renewed().contract_id()] += e.contract_renewed().amount().units();
    } else if (e.has_payment_received()) {
      const std::string& contract = e.payment_received().contract_id();
      ASSERT_TRUE(billed.contains(contract)) << e.event_id();
      paid[contract] += e.payment_received().amount().units();
      if (paid[contract] > billed[contract]) ++overpaid;
    }
  }
  EXPECT_EQ(overpaid, 0);
  for (const auto& [contract, amount] : billed) {
    if (paid[contract] < amount) ++partly_paid;
  }
  // Some receivables are outstanding at the end.
  EXPECT_GT(partly_paid, 10);
}

TEST_F(DemoPopulationTest, LifecycleVarietyIsPresent) {
  const int64_t end = absl::ToUnixSeconds(kEnd);
  absl::flat_hash_map<std::string, int64_t> last_activity;
  absl::flat_hash_set<std::string> buyers, interested, churned, won_back;
  int lost_to_competitor = 0;
  int handovers = 0;
  int nps = 0;
  std::set<int> csat;
  std::set<int> severities;
  for (const v1::Event& e : events()) {
    const int64_t t = Seconds(e.occurred_at());
    if (!e.has_customer_registered() && !e.has_customer_profile_updated() &&
        !e.has_contact_added()) {
      last_activity[e.customer_id()] = t;
    }
    if (e.has_contract_signed()) {
      if (churned.contains(e.customer_id())) won_back.insert(e.customer_id());
      buyers.insert(e.customer_id());
    }
    if (e.has_customer_churned()) churned.insert(e.customer_id());
    if (e.has_visit_logged() && e.visit_logged().outcome() == v1::VISIT_OUTCOME_INTERESTED) {
      interested.insert(e.customer_id());
    }
    if (e.has_opportunity_stage_changed() &&
        e.opportunity_stage_changed().stage() == v1::FUNNEL_STAGE_LOST &&
        !e.opportunity_stage_changed().competitor().empty()) {
      ++lost_to_competitor;
    }
    if (e.has_customer_profile_updated() && e.customer_profile_updated().has_owner_id()) {
      ++handovers;
      EXPECT_EQ(e.actor_id(), e.customer_profile_updated().owner_id());
    }
    if (e.has_satisfaction_surveyed()) {
      csat.insert(e.satisfaction_surveyed().csat());
      if (e.satisfaction_surveyed().has_nps()) ++nps;
    }
    if (e.has_complaint_filed()) severities.insert(e.complaint_filed().severity());
  }
  int silent_buyers = 0;
  for (const std::string& id : buyers) {
    if (!churned.contains(id) && last_activity[id] < end - 365 * 86400) ++silent_buyers;
  }
  int dormant_leads = 0;
  for (const std::string& id : interested) {
    if (!buyers.contains(id) && last_activity[id] < end - 180 * 86400) ++dormant_leads;
  }
  EXPECT_GT(buyers.size(), 600u);
  EXPECT_GT(churned.size(), 30u);
  EXPECT_GT(won_back.size(), 3u);  // a contract after an explicit churn
  EXPECT_GT(silent_buyers, 10);
  EXPECT_GT(dormant_leads, 50);
  EXPECT_GT(lost_to_competitor, 100);
  EXPECT_GT(handovers, 10);
  EXPECT_GT(nps, 50);
  EXPECT_EQ(csat.size(), 5u);
  EXPECT_EQ(severities.size(), 4u);
}

TEST_F(DemoPopulationTest, PayloadNamesForTheRecord) {
  // Prints the mix, which docs/demo-data.md quotes.
  std::map<std::string, int> counts;
  for (const v1::Event& e : events()) ++counts[std::string(event::PayloadName(e))];
  std::string table;
  for (const auto& [name, count] : counts) absl::StrAppend(&table, name, " ", count, "\n");
  absl::StrAppend(&table, "total ", events().size(), "\n");
  std::cout << table;
  EXPECT_EQ(counts.size(), 20u);
}

// ---- organisation events ----

absl::TimeZone Shanghai() {
  absl::TimeZone zone;
  CHECK(absl::LoadTimeZone("Asia/Shanghai", &zone));
  return zone;
}

// What every list of demo org events guarantees (docs/demo-data.md): valid,
// ordered by time then id, numbered, within the span; a figure set again
// and an action's closing keep the scope (the partition) of the first event.
void CheckOrgEvents(const DemoOptions& options, const std::vector<v1::OrgEvent>& org) {
  event::ValidationOptions validation;
  validation.currency = options.currency;
  const int64_t lo = absl::ToUnixSeconds(options.end - options.span);
  const int64_t hi = absl::ToUnixSeconds(options.end);
  std::map<std::string, std::string> scope_of;  // slice or action -> scope
  for (size_t i = 0; i < org.size(); ++i) {
    const v1::OrgEvent& e = org[i];
    const absl::Status valid = event::ValidateOrgEvent(e, validation);
    ASSERT_TRUE(valid.ok()) << valid << "\n" << e.DebugString();
    ASSERT_EQ(e.event_id(), absl::StrFormat("demo-%d-org-%06d", options.seed, i + 1));
    EXPECT_EQ(e.source(), "demo");
    EXPECT_GE(e.occurred_at().seconds(), lo) << e.event_id();
    EXPECT_LE(e.occurred_at().seconds(), hi) << e.event_id();
    if (i > 0) {
      EXPECT_LE(org[i - 1].occurred_at().seconds(), e.occurred_at().seconds()) << e.event_id();
    }
    std::string key;
    if (e.has_target_set()) {
      key = absl::StrCat("t|", e.target_set().dimension(), "|", e.target_set().dimension_value());
    } else if (e.has_review_action_planned()) {
      key = absl::StrCat("a|", e.review_action_planned().action_id());
      EXPECT_FALSE(scope_of.contains(key)) << key;
    } else if (e.has_review_action_closed()) {
      key = absl::StrCat("a|", e.review_action_closed().action_id());
      EXPECT_TRUE(scope_of.contains(key)) << "closed before planned: " << key;
    } else {
      continue;
    }
    auto [it, first] = scope_of.emplace(key, e.scope());
    if (!first) {
      EXPECT_EQ(it->second, e.scope()) << e.event_id();
    }
  }
}

TEST_F(DemoPopulationTest, OrgEventsAreValidOrderedAndDeterministic) {
  const DemoOptions options{.end = kEnd};
  const std::vector<v1::OrgEvent> org = GenerateDemoOrg(options, events(), Shanghai());
  CheckOrgEvents(options, org);
  std::map<std::string, int> counts;
  for (const v1::OrgEvent& e : org) ++counts[std::string(event::PayloadName(e))];
  // Every org payload appears; the mix docs/demo-data.md quotes.
  const google::protobuf::OneofDescriptor* payload =
      v1::OrgEvent::descriptor()->FindOneofByName("payload");
  ASSERT_EQ(payload->field_count(), 5);
  for (int i = 0; i < payload->field_count(); ++i) {
    EXPECT_GT(counts[payload->field(i)->name()], 0) << payload->field(i)->name();
  }
  std::string table;
  for (const auto& [name, count] : counts) absl::StrAppend(&table, name, " ", count, "\n");
  absl::StrAppend(&table, "total ", org.size(), "\n");
  std::cout << table;

  const std::vector<v1::OrgEvent> again = GenerateDemoOrg(options, events(), Shanghai());
  ASSERT_EQ(again.size(), org.size());
  for (size_t i = 0; i < org.size(); ++i) {
    ASSERT_EQ(again[i].SerializeAsString(), org[i].SerializeAsString()) << i;
  }
}

TEST(DemoTest, OrgEventsForOtherOptions) {
  const std::vector<DemoOptions> cases = {
      {.seed = 7, .customers = 400, .end = kEnd},
      // Three years ending at an odd instant, twelve reps.
      {.seed = 9,
       .customers = 300,
       .end = absl::FromUnixSeconds(1796548407),
       .span = absl::Hours(24 * 1095),
       .owners = 12},
      {.seed = 5, .customers = 200, .end = kEnd, .span = absl::Hours(24 * 40), .currency = "USD"},
      {.seed = 3, .customers = 5, .end = kEnd, .span = absl::Hours(24 * 7), .owners = 1},
      // What tests/integration/cli_test.cc loads.
      {.customers = 150, .end = absl::FromUnixSeconds(1795305600)},
      {.customers = 0, .end = kEnd},
  };
  for (const DemoOptions& options : cases) {
    SCOPED_TRACE(absl::StrCat("seed ", options.seed, ", ", options.customers, " customers"));
    const std::vector<v1::Event> events = GenerateDemo(options);
    const std::vector<v1::OrgEvent> org = GenerateDemoOrg(options, events, Shanghai());
    CheckOrgEvents(options, org);
    std::set<int> kinds;
    for (const v1::OrgEvent& e : org) kinds.insert(e.payload_case());
    if (options.customers >= 300) {
      // A year or more of history: targets, spend, market sizes, actions.
      EXPECT_GE(kinds.size(), 4u);
    }
    if (options.span <= absl::Hours(24 * 7) || options.customers == 0) {
      EXPECT_THAT(org, IsEmpty());  // no whole month with business to plan
    }
    const std::vector<v1::OrgEvent> again = GenerateDemoOrg(options, events, Shanghai());
    ASSERT_EQ(again.size(), org.size());
    for (size_t i = 0; i < org.size(); ++i) {
      EXPECT_EQ(again[i].SerializeAsString(), org[i].SerializeAsString()) << i;
    }
  }
}

}  // namespace
}  // namespace custops::demo

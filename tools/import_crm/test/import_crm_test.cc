// The CRM mapping on a small inline data set with each quirk of the real one:
// unmapped rows are reported with their line and reason, quirks are fixed and
// counted, ids are deterministic.
#include "custops/event/time.h"
#include "custops/event/validate.h"
#include "custops/import_crm/crm.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::import_crm {
namespace {

using ::custops::testing::StatusIs;

CrmFiles Files() {
  CrmFiles f;
  f.accounts = ParseCsv(
                   "account,sector,year_established,revenue,employees,office_location,"
                   "subsidiary_of\nAcme,technolgy,1996,1100.04,2822,United States,\n"
                   "Beta,medical,1999,251.41,495,Kenya,\n",
                   "accounts.csv")
                   .value();
  f.products =
      ParseCsv("product,series,sales_price\nGTX Pro,GTX,4821\nMG Special,MG,55\n", "products.csv")
          .value();
  f.sales_teams =
      ParseCsv("sales_agent,manager,regional_office\nAnna,Dustin,Central\n", "sales_teams.csv")
          .value();
  f.sales_pipeline = ParseCsv(
                         "opportunity_id,sales_agent,product,account,deal_stage,engage_date,"
                         "close_date,close_value\n"
                         "W1,Anna,GTXPro,Acme,Won,2016-10-20,2017-03-01,4514\n"  // line 2
                         "L1,Anna,MG Special,Beta,Lost,2016-11-01,2017-01-05,0\n"
                         "E1,Anna,MG Special,,Engaging,2016-11-03,,\n"  // no account
                         "P1,Anna,MG Special,Beta,Prospecting,,,\n"     // no date
                         "X1,Nobody,MG Special,Beta,Won,2016-11-03,2017-01-05,50\n"
                         "Z1,Anna,Unknown,Beta,Won,2016-11-03,2017-01-05,50\n",
                         "sales_pipeline.csv")
                         .value();
  return f;
}

TEST(ImportCrmTest, MapsRowsReportsTheRestAndIsDeterministic) {
  const CrmOptions options{.currency = "CNY", .zone = absl::UTCTimeZone()};
  const CrmImport plan = MapCrm(Files(), options).value();
  ASSERT_EQ(plan.unmapped.size(), 3u);
  EXPECT_EQ(plan.unmapped[0].line, 4);
  EXPECT_EQ(plan.unmapped[0].id, "E1");
  EXPECT_EQ(plan.unmapped[1].reason, "sales_agent not in sales_teams.csv");
  EXPECT_EQ(plan.unmapped[2].reason, "product not in products.csv");
  EXPECT_EQ(plan.adjusted.at("product GTXPro -> GTX Pro"), 1);
  EXPECT_EQ(plan.adjusted.at("sector technolgy -> technology"), 1);
  EXPECT_EQ(plan.customers, 2);
  EXPECT_EQ(plan.opportunities, 3);
  EXPECT_EQ(plan.contracts, 1);
  // Every event passes ingest validation; ids repeat across runs.
  const CrmImport again = MapCrm(Files(), options).value();
  ASSERT_EQ(plan.events.size(), again.events.size());
  for (size_t i = 0; i < plan.events.size(); ++i) {
    EXPECT_OK(event::ValidateEvent(plan.events[i], {})) << plan.events[i].DebugString();
    EXPECT_EQ(plan.events[i].event_id(), again.events[i].event_id());
  }
  // The won deal: opened and closed at noon, the contract at the close value.
  bool contract = false;
  for (const auto& e : plan.events) {
    if (!e.has_contract_signed()) continue;
    contract = true;
    EXPECT_EQ(e.customer_id(), "crm:Acme");
    EXPECT_EQ(e.actor_id(), "Anna");
    EXPECT_EQ(e.contract_signed().amount().units(), 451'400);
    EXPECT_EQ(e.contract_signed().product(), "GTX Pro");
    EXPECT_EQ(event::FromProto(e.occurred_at()),
              absl::FromCivil(absl::CivilSecond(2017, 3, 1, 12, 0, 0), absl::UTCTimeZone()));
  }
  EXPECT_TRUE(contract);
}

TEST(ImportCrmTest, ARowWithTheWrongFieldCountIsAnError) {
  EXPECT_THAT(
      ParseCsv("a,b\n1,2,3\n", "x.csv"),
      StatusIs(absl::StatusCode::kInvalidArgument, "x.csv line 2: 3 fields, the header has 2"));
  EXPECT_EQ(ParseCsv("a,b\n\"1,5\",2\n", "x.csv").value().rows[0][0], "1,5");
}

}  // namespace
}  // namespace custops::import_crm

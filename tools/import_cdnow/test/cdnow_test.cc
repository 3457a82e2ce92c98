#include "custops/cdnow/cdnow.h"

#include <set>
#include <sstream>

#include "custops/event/time.h"
#include "gtest/gtest.h"

namespace custops::cdnow {
namespace {

TEST(CdnowTest, MapsRowsAndReportsTheOnesItCannot) {
  std::istringstream in(
      " customer_id  date number_of_cds  dollar_value\r\n"
      " 00001 19970101  1   11.77\r\n"
      " 00002 19970112  1   12.00\r\n"
      " 00002 19970112  5   77.5\r\n"
      " 00002 19970110  2   0.00\r\n"
      "\r\n"
      " 00003 19970230  1   1.00\r\n"
      " 00003 19970301  x   1.00\r\n"
      " 00003 19970301  1   1.001\r\n"
      " 00003 19970301  1   -1.00\r\n"
      " 00003 19970301\r\n");
  const CdnowImport imp = ParseCdnow(in, {});
  EXPECT_EQ(imp.rows, 9);
  EXPECT_EQ(imp.purchases, 4);
  EXPECT_EQ(imp.customers, 2);
  ASSERT_EQ(imp.unmapped.size(), 5u);
  EXPECT_EQ(imp.unmapped[0].line, 7);
  EXPECT_NE(imp.unmapped[0].reason.find("date"), std::string::npos);
  EXPECT_NE(imp.unmapped[1].reason.find("quantity"), std::string::npos);
  EXPECT_NE(imp.unmapped[2].reason.find("amount"), std::string::npos);
  EXPECT_NE(imp.unmapped[3].reason.find("amount"), std::string::npos);
  EXPECT_NE(imp.unmapped[4].reason.find("columns"), std::string::npos);

  ASSERT_EQ(imp.events.size(), 6u);
  // Customer 00002: registered at its earliest purchase (1997-01-10), then
  // its purchases in file order; two rows on one day get distinct ids.
  EXPECT_TRUE(imp.events[2].has_customer_registered());
  EXPECT_EQ(event::FromProto(imp.events[2].occurred_at()),
            absl::FromCivil(absl::CivilDay(1997, 1, 10), absl::UTCTimeZone()));
  EXPECT_EQ(imp.events[3].contract_signed().amount().units(), 1200);
  EXPECT_EQ(imp.events[4].contract_signed().amount().units(), 7750);
  EXPECT_EQ(imp.events[5].contract_signed().amount().units(), 0);
  std::set<std::string> ids;
  for (const auto& e : imp.events) EXPECT_TRUE(ids.insert(e.event_id()).second) << e.event_id();
  EXPECT_EQ(imp.events[3].customer_id(), "cdnow-00002");

  // Deterministic: the same input gives the same events.
  std::istringstream again(" 00002 19970112  1   12.00\n 00002 19970112  5   77.5\n");
  const CdnowImport imp2 = ParseCdnow(again, {});
  EXPECT_EQ(imp2.events[1].event_id(), imp.events[3].event_id());
  EXPECT_EQ(imp2.events[2].event_id(), imp.events[4].event_id());
}

}  // namespace
}  // namespace custops::cdnow

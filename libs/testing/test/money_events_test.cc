#include <string>

#include "absl/time/time.h"
#include "custops/event/time.h"
#include "custops/event/validate.h"
#include "custops/testing/events.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "gtest/gtest.h"

namespace custops::testing {
namespace {

const absl::Time kAt = absl::FromUnixSeconds(1'700'000'000);

TEST(CnyTest, IsMinorUnitsOfCny) {
  const v1::Money m = Cny(1'200'000);  // ¥12,000.00
  EXPECT_EQ(m.units(), 1'200'000);
  EXPECT_EQ(m.currency(), "CNY");
  EXPECT_EQ(Cny(-5).units(), -5);
  EXPECT_EQ(Cny(0).currency(), "CNY");
}

TEST(EventsTest, EveryBuilderMakesAValidEvent) {
  for (const v1::Event& e : {Registered("e1", "C1", kAt), Visited("e2", "C1", kAt),
                             Signed("e3", "C1", kAt, 1'000'000), Churned("e4", "C1", kAt)}) {
    EXPECT_OK(event::ValidateEvent(e, {})) << e.ShortDebugString();
  }
}

TEST(EventsTest, BuildersFillTheEnvelopeAndPayload) {
  const v1::Event e = Signed("e3", "C1", kAt, 1'000'000, absl::Hours(24 * 30));
  EXPECT_EQ(e.event_id(), "e3");
  EXPECT_EQ(e.customer_id(), "C1");
  EXPECT_EQ(event::FromProto(e.occurred_at()), kAt);
  EXPECT_EQ(e.source(), "test");
  EXPECT_EQ(e.actor_id(), "rep-1");
  const v1::ContractSigned& c = e.contract_signed();
  EXPECT_EQ(c.contract_id(), "contract-e3");
  EXPECT_EQ(c.amount().units(), 1'000'000);
  EXPECT_EQ(c.amount().currency(), "CNY");
  EXPECT_EQ(c.cost().units(), 500'000);
  EXPECT_EQ(event::FromProto(c.start()), kAt);
  EXPECT_EQ(event::FromProto(c.end()), kAt + absl::Hours(24 * 30));

  EXPECT_EQ(Registered("e1", "C9", kAt, "West").customer_registered().region(), "West");
  EXPECT_EQ(Registered("e1", "C9", kAt).customer_registered().name(), "Customer C9");
  EXPECT_EQ(Visited("e2", "C1", kAt, v1::VISIT_OUTCOME_NEUTRAL).visit_logged().outcome(),
            v1::VISIT_OUTCOME_NEUTRAL);
  EXPECT_EQ(Visited("e2", "C1", kAt).visit_logged().visit_id(), "visit-e2");
  EXPECT_TRUE(Churned("e4", "C1", kAt).has_customer_churned());
  EXPECT_EQ(Envelope("e5", "C1", kAt).payload_case(), v1::Event::PAYLOAD_NOT_SET);
}

}  // namespace
}  // namespace custops::testing

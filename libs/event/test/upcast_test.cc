// The upcaster chain (upcast.h, docs/schema-evolution.md): each step on its
// own, the chain's shape, and the promises every reader relies on.
#include "custops/event/upcast.h"

#include <string>

#include "absl/status/status.h"
#include "custops/event/validate.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::event {
namespace {

using ::custops::testing::StatusIs;
using ::testing::StartsWith;

v1::Event Registered(const std::string& region, uint32_t version = 0) {
  v1::Event e;
  e.set_event_id("e1");
  e.set_customer_id("c1");
  e.mutable_occurred_at()->set_seconds(1'700'000'000);
  e.set_schema_version(version);
  auto* r = e.mutable_customer_registered();
  r->set_name("华东精密");
  r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  r->set_region(region);
  return e;
}

TEST(UpcastTest, TheChainHasOneStepPerVersionUpToTheCurrentOne) {
  uint32_t expected = 1;
  for (const Upcaster& step : Upcasters()) {
    EXPECT_EQ(step.from, expected) << step.name;
    EXPECT_FALSE(step.name.empty());
    EXPECT_NE(step.apply, nullptr) << step.name;
    ++expected;
  }
  EXPECT_EQ(expected, kSchemaVersion) << "a version without its upcaster";
}

TEST(UpcastTest, VersionOneRegionWithCityIsSplit) {
  v1::Event e = Registered(" 华东 / 上海 ");  // unset version: 1
  EXPECT_EQ(SchemaVersionOf(e), 1u);
  absl::StatusOr<bool> changed = Upcast(e);
  ASSERT_OK(changed);
  EXPECT_TRUE(*changed);
  EXPECT_EQ(e.customer_registered().region(), "华东");
  EXPECT_EQ(e.customer_registered().city(), "上海");
  EXPECT_EQ(e.schema_version(), kSchemaVersion);
  EXPECT_OK(ValidateEvent(e, {}));
  // Without the upcaster the same record is refused: '/' is not a region.
  const v1::Event raw = Registered("华东/上海");
  EXPECT_THAT(ValidateEvent(raw, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("event.customer_registered.region: may not contain '/'")));
}

TEST(UpcastTest, AProfileUpdateIsSplitAndAnExplicitCityWins) {
  v1::Event e;
  e.set_schema_version(1);
  auto* u = e.mutable_customer_profile_updated();
  u->set_region("华北/天津");
  u->set_city("北京");
  ASSERT_OK(Upcast(e));
  EXPECT_EQ(e.customer_profile_updated().region(), "华北");
  EXPECT_EQ(e.customer_profile_updated().city(), "北京");

  v1::Event only_owner;  // no region: untouched, city stays unset
  only_owner.mutable_customer_profile_updated()->set_owner_id("rep-1");
  ASSERT_OK(Upcast(only_owner));
  EXPECT_FALSE(only_owner.customer_profile_updated().has_region());
  EXPECT_FALSE(only_owner.customer_profile_updated().has_city());
}

TEST(UpcastTest, OtherEventsOnlyGetTheStamp) {
  v1::Event e = Registered("华东");
  v1::Event want = e;
  want.set_schema_version(kSchemaVersion);
  absl::StatusOr<bool> changed = Upcast(e);
  ASSERT_OK(changed);
  EXPECT_TRUE(*changed);  // the stamp
  EXPECT_EQ(e.SerializeAsString(), want.SerializeAsString());
}

TEST(UpcastTest, TheCurrentVersionIsLeftAsItIs) {
  // A current event keeps a '/' (validation refuses it, naming the field).
  v1::Event e = Registered("华东/上海", kSchemaVersion);
  const std::string before = e.SerializeAsString();
  absl::StatusOr<bool> changed = Upcast(e);
  ASSERT_OK(changed);
  EXPECT_FALSE(*changed);
  EXPECT_EQ(e.SerializeAsString(), before);
}

TEST(UpcastTest, UpcastingIsIdempotentAndDeterministic) {
  v1::Event a = Registered("华南/广州");
  v1::Event b = a;
  ASSERT_OK(Upcast(a));
  ASSERT_OK(Upcast(b));
  EXPECT_EQ(a.SerializeAsString(), b.SerializeAsString());
  const std::string once = a.SerializeAsString();
  ASSERT_OK(Upcast(a));
  EXPECT_EQ(a.SerializeAsString(), once);
}

TEST(UpcastTest, AVersionFromTheFutureIsInvalidArgumentNamingTheField) {
  v1::Event e = Registered("华东", kSchemaVersion + 1);
  absl::StatusOr<bool> changed = Upcast(e);
  EXPECT_THAT(changed,
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("schema_version: ")));
}

}  // namespace
}  // namespace custops::event

#include "custops/event/payload.h"

#include <optional>
#include <string>

#include "custops/v1/events.pb.h"
#include "google/protobuf/descriptor.h"
#include "gtest/gtest.h"

namespace custops::event {
namespace {

using Case = v1::Event::PayloadCase;
using OrgCase = v1::OrgEvent::PayloadCase;

const google::protobuf::OneofDescriptor* PayloadOneof(const google::protobuf::Descriptor* d) {
  return d->FindOneofByName("payload");
}

TEST(PayloadNameTest, EveryCustomerPayloadRoundTrips) {
  const auto* oneof = PayloadOneof(v1::Event::descriptor());
  ASSERT_EQ(oneof->field_count(), 20);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    const auto payload_case = static_cast<Case>(field->number());

    EXPECT_EQ(PayloadName(payload_case), field->name());
    EXPECT_EQ(PayloadCaseFromName(field->name()), payload_case);
    EXPECT_EQ(PayloadCaseFromName(field->message_type()->name()), payload_case);
    EXPECT_EQ(PayloadCaseFromName(PayloadName(payload_case)), payload_case);

    v1::Event event;
    event.GetReflection()->MutableMessage(&event, field);
    ASSERT_EQ(event.payload_case(), payload_case);
    EXPECT_EQ(PayloadName(event), field->name());
  }
}

TEST(PayloadNameTest, EveryOrgPayloadRoundTrips) {
  const auto* oneof = PayloadOneof(v1::OrgEvent::descriptor());
  ASSERT_EQ(oneof->field_count(), 5);
  for (int i = 0; i < oneof->field_count(); ++i) {
    const google::protobuf::FieldDescriptor* field = oneof->field(i);
    SCOPED_TRACE(field->name());
    const auto payload_case = static_cast<OrgCase>(field->number());

    EXPECT_EQ(PayloadName(payload_case), field->name());
    EXPECT_EQ(OrgPayloadCaseFromName(field->name()), payload_case);
    EXPECT_EQ(OrgPayloadCaseFromName(field->message_type()->name()), payload_case);

    v1::OrgEvent event;
    event.GetReflection()->MutableMessage(&event, field);
    ASSERT_EQ(event.payload_case(), payload_case);
    EXPECT_EQ(PayloadName(event), field->name());
  }
}

TEST(PayloadNameTest, KnownNames) {
  EXPECT_EQ(PayloadName(Case::kContractSigned), "contract_signed");
  EXPECT_EQ(PayloadName(Case::kCustomerRegistered), "customer_registered");
  EXPECT_EQ(PayloadName(Case::kSatisfactionSurveyed), "satisfaction_surveyed");
  EXPECT_EQ(PayloadCaseFromName("contract_signed"), Case::kContractSigned);
  EXPECT_EQ(PayloadCaseFromName("ContractSigned"), Case::kContractSigned);
  EXPECT_EQ(PayloadCaseFromName("ComplaintReopened"), Case::kComplaintReopened);
  EXPECT_EQ(PayloadName(OrgCase::kTargetSet), "target_set");
  EXPECT_EQ(OrgPayloadCaseFromName("ReviewActionPlanned"), OrgCase::kReviewActionPlanned);

  v1::Event event;
  event.mutable_payment_received();
  EXPECT_EQ(PayloadName(event), "payment_received");
}

TEST(PayloadNameTest, UnsetPayloadHasNoName) {
  EXPECT_EQ(PayloadName(v1::Event()), "");
  EXPECT_EQ(PayloadName(Case::PAYLOAD_NOT_SET), "");
  EXPECT_EQ(PayloadName(static_cast<Case>(99)), "");
  EXPECT_EQ(PayloadName(v1::OrgEvent()), "");
  EXPECT_EQ(PayloadName(OrgCase::PAYLOAD_NOT_SET), "");
}

TEST(PayloadNameTest, RejectsEverythingElse) {
  for (const char* name : {"", "payload", "PAYLOAD_NOT_SET", "contract-signed", "CONTRACT_SIGNED",
                           "contractSigned", "Contract_Signed", "contract_signed ", "event_id",
                           "Event", "custops.v1.ContractSigned", "Money", "target_set"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(PayloadCaseFromName(name), std::nullopt);
  }
  for (const char* name : {"", "contract_signed", "ContractSigned", "TARGET_SET", "scope"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(OrgPayloadCaseFromName(name), std::nullopt);
  }
}

}  // namespace
}  // namespace custops::event

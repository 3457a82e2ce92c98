#include "custops/ctl/json_lines.h"

#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/events.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::custops::testing::StatusIs;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;

constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;

constexpr char kEvent1[] =
    R"({"event_id":"e1","customer_id":"C000001","occurred_at":"2025-06-30T16:00:00Z",)"
    R"("customer_registered":{"name":"杭州恒达有限公司","kind":"CUSTOMER_KIND_CUSTOMER"}})";
// lowerCamelCase names are accepted too.
constexpr char kEvent2[] =
    R"({"eventId":"e2","customerId":"C000001","occurredAt":"2025-07-01T01:00:00Z",)"
    R"("paymentReceived":{"paymentId":"p1","contractId":"k1",)"
    R"("amount":{"units":"150000","currency":"CNY"}}})";

TEST(JsonLinesTest, ReadsMessagesSkippingBlankAndCommentLines) {
  std::istringstream in(absl::StrCat("# exported\n", kEvent1, "\n\n   \n", kEvent2, "\n"));
  absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
  ASSERT_OK(lines);
  ASSERT_EQ(lines->messages.size(), 2u);
  EXPECT_THAT(lines->lines, ElementsAre(2, 5));
  EXPECT_EQ(lines->messages[0].event_id(), "e1");
  EXPECT_EQ(lines->messages[0].customer_registered().name(), "杭州恒达有限公司");
  EXPECT_EQ(lines->messages[0].occurred_at().seconds(), 1751299200);
  EXPECT_EQ(lines->messages[1].payment_received().amount().units(), 150000);
}

TEST(JsonLinesTest, ToleratesBomCrlfAndNoFinalNewline) {
  std::istringstream in(absl::StrCat("\xEF\xBB\xBF", kEvent1, "\r\n", kEvent2));
  absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
  ASSERT_OK(lines);
  EXPECT_THAT(lines->lines, ElementsAre(1, 2));
}

TEST(JsonLinesTest, EmptyInputHasNoMessages) {
  std::istringstream in("\n# nothing\n");
  absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
  ASSERT_OK(lines);
  EXPECT_TRUE(lines->messages.empty());
}

TEST(JsonLinesTest, BadLineIsNamedByNumber) {
  std::istringstream in(absl::StrCat(kEvent1, "\n", kEvent2, "\n{\"event_id\": \"e3\",\n"));
  absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
  EXPECT_THAT(lines, StatusIs(kInvalid, StartsWith("line 3: not a custops.v1.Event in JSON: ")));
}

TEST(JsonLinesTest, UnknownFieldsAndBadEnumsAreErrors) {
  {
    std::istringstream in("\n{\"event_id\":\"e1\",\"colour\":\"red\"}\n");
    absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
    EXPECT_THAT(lines,
                StatusIs(kInvalid, AllOf(StartsWith("line 2: not a custops.v1.Event in JSON: "),
                                         HasSubstr("colour"))));
  }
  {
    std::istringstream in(R"({"customer_registered":{"kind":"CUSTOMER_KIND_ALIEN"}})");
    absl::StatusOr<JsonLines<v1::Event>> lines = ReadJsonLines<v1::Event>(in);
    EXPECT_THAT(lines, StatusIs(kInvalid, StartsWith("line 1: not a custops.v1.Event in JSON: ")));
  }
  {
    std::istringstream in("[1, 2]\n");
    EXPECT_THAT(ReadJsonLines<v1::Event>(in),
                StatusIs(kInvalid, StartsWith("line 1: not a custops.v1.Event in JSON: ")));
  }
}

TEST(JsonLinesTest, ReaderGoesOnAfterABadLine) {
  std::istringstream in(absl::StrCat("oops\n", kEvent2, "\n"));
  JsonLinesReader reader(in);
  v1::Event event;
  absl::StatusOr<bool> first = reader.Next(event);
  EXPECT_THAT(first, StatusIs(kInvalid, StartsWith("line 1: not a custops.v1.Event in JSON: ")));
  absl::StatusOr<bool> second = reader.Next(event);
  ASSERT_TRUE(second.ok() && *second);
  EXPECT_EQ(reader.line(), 2);
  EXPECT_EQ(event.event_id(), "e2");
  absl::StatusOr<bool> end = reader.Next(event);
  ASSERT_OK(end);
  EXPECT_FALSE(*end);
}

TEST(JsonLinesTest, PrintsSnakeCaseOneLineAndRoundTrips) {
  v1::Event event;
  ASSERT_OK(ParseJsonMessage(kEvent2, event));
  const std::string line = ToJsonLine(event);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_THAT(line, HasSubstr("\"event_id\":\"e2\""));
  EXPECT_THAT(line, HasSubstr("\"payment_received\""));
  v1::Event back;
  ASSERT_OK(ParseJsonMessage(line, back));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(event, back));

  const std::string pretty = ToPrettyJson(event);
  EXPECT_THAT(pretty, HasSubstr("\n \"event_id\": \"e2\""));
  EXPECT_EQ(pretty.back(), '\n');
  // Defaults are left out.
  EXPECT_THAT(pretty, Not(HasSubstr("actor_id")));
}

}  // namespace
}  // namespace custops::ctl

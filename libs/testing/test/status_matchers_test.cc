#include "custops/testing/status_matchers.h"

#include <memory>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gmock/gmock.h"
#include "gtest/gtest-spi.h"
#include "gtest/gtest.h"

namespace custops::testing {
namespace {

using ::testing::AnyOf;
using ::testing::DescribeMatcher;
using ::testing::ExplainMatchResult;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using ::testing::StringMatchResultListener;

// The explanation a matcher gives for `value` (after it failed or matched).
template <typename T, typename M>
std::string Explain(const M& matcher, const T& value) {
  StringMatchResultListener listener;
  ExplainMatchResult(matcher, value, &listener);
  return listener.str();
}

TEST(StatusIsTest, MatchesTheCodeOfAStatus) {
  const absl::Status status = absl::InvalidArgumentError("page_size: 0-1000, got -1");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound)));
  EXPECT_THAT(absl::OkStatus(), StatusIs(absl::StatusCode::kOk));
  EXPECT_THAT(absl::OkStatus(), Not(StatusIs(absl::StatusCode::kInvalidArgument)));
}

TEST(StatusIsTest, MatchesTheMessageWithAStringOrAStringMatcher) {
  const absl::Status status = absl::InvalidArgumentError("page_size: 0-1000, got -1");
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, "page_size: 0-1000, got -1"));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_size: ")));
  EXPECT_THAT(status, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got -1")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument, "page_size")));
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_token"))));
  // The right message does not save a wrong code.
  EXPECT_THAT(status, Not(StatusIs(absl::StatusCode::kNotFound, StartsWith("page_size"))));
}

TEST(StatusIsTest, TakesAMatcherOfTheCode) {
  EXPECT_THAT(absl::UnavailableError("down"),
              StatusIs(AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kAborted)));
  EXPECT_THAT(absl::InternalError("down"),
              Not(StatusIs(AnyOf(absl::StatusCode::kUnavailable, absl::StatusCode::kAborted))));
}

TEST(StatusIsTest, MatchesTheStatusOfAStatusOr) {
  const absl::StatusOr<int> error = absl::NotFoundError("unknown topic t");
  EXPECT_THAT(error, StatusIs(absl::StatusCode::kNotFound, "unknown topic t"));
  EXPECT_THAT(error, Not(StatusIs(absl::StatusCode::kOk)));
  const absl::StatusOr<int> value = 7;
  EXPECT_THAT(value, StatusIs(absl::StatusCode::kOk));
  // A value that cannot be copied, passed as a temporary.
  EXPECT_THAT(absl::StatusOr<std::unique_ptr<int>>(absl::AbortedError("retry")),
              StatusIs(absl::StatusCode::kAborted, "retry"));
}

TEST(StatusIsTest, DescribesTheExpectedCodeAndMessage) {
  EXPECT_EQ(DescribeMatcher<absl::Status>(StatusIs(absl::StatusCode::kInvalidArgument)),
            "has a status code that is equal to INVALID_ARGUMENT");
  EXPECT_EQ(DescribeMatcher<absl::StatusOr<int>>(
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_size"))),
            "has a status code that is equal to INVALID_ARGUMENT, and has an error message that "
            "starts with \"page_size\"");
  EXPECT_EQ(DescribeMatcher<absl::Status>(
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_size")),
                /*negation=*/true),
            "has a status code that isn't equal to INVALID_ARGUMENT, or has an error message "
            "that doesn't start with \"page_size\"");
}

TEST(StatusIsTest, ExplainsAWrongCodeWithTheActualCodeAndMessage) {
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kInvalidArgument),
                    absl::NotFoundError("no such customer")),
            "which has status NOT_FOUND: no such customer, whose code NOT_FOUND is wrong");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kInvalidArgument),
                    absl::StatusOr<std::string>(absl::UnavailableError("broker down"))),
            "which has status UNAVAILABLE: broker down, whose code UNAVAILABLE is wrong");
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kNotFound), absl::StatusOr<int>(3)),
            "which has status OK, whose code OK is wrong");
}

TEST(StatusIsTest, ExplainsAWrongMessage) {
  EXPECT_EQ(Explain(StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_size")),
                    absl::InvalidArgumentError("page_token: not a token")),
            "which has status INVALID_ARGUMENT: page_token: not a token, whose error message is "
            "wrong");
}

TEST(StatusIsTest, AFailedExpectationShowsTheExpectedAndTheActualStatus) {
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(absl::NotFoundError("no such customer"),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("customer_id"))),
      "Expected: has a status code that is equal to INVALID_ARGUMENT, and has an error message "
      "that starts with \"customer_id\"");
  EXPECT_NONFATAL_FAILURE(
      EXPECT_THAT(absl::NotFoundError("no such customer"),
                  StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("customer_id"))),
      "which has status NOT_FOUND: no such customer, whose code NOT_FOUND is wrong");
  // A StatusOr prints as bytes; the explanation carries its status.
  EXPECT_NONFATAL_FAILURE(EXPECT_THAT(absl::StatusOr<int>(absl::UnavailableError("broker down")),
                                      StatusIs(absl::StatusCode::kInvalidArgument)),
                          "which has status UNAVAILABLE: broker down");
}

TEST(IsOkTest, MatchesOkStatusesAndStatusOrsHoldingAValue) {
  EXPECT_THAT(absl::OkStatus(), IsOk());
  EXPECT_THAT(absl::StatusOr<int>(1), IsOk());
  EXPECT_THAT(absl::CancelledError("stop"), Not(IsOk()));
  EXPECT_THAT(absl::StatusOr<int>(absl::InternalError("boom")), Not(IsOk()));
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk()), "is OK");
  EXPECT_EQ(DescribeMatcher<absl::Status>(IsOk(), /*negation=*/true), "is not OK");
  EXPECT_EQ(Explain(IsOk(), absl::StatusOr<int>(absl::InternalError("boom"))),
            "which has status INTERNAL: boom");
}

TEST(ExpectOkTest, PassesOnOkAndPrintsTheStatusOtherwise) {
  EXPECT_OK(absl::OkStatus());
  EXPECT_OK(absl::StatusOr<int>(5));
  ASSERT_OK(absl::OkStatus());
  ASSERT_OK(absl::StatusOr<std::string>("x"));
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(absl::InternalError("disk on fire")),
                          "is not OK: INTERNAL: disk on fire");
  EXPECT_NONFATAL_FAILURE(EXPECT_OK(absl::StatusOr<int>(absl::NotFoundError("gone"))),
                          "is not OK: NOT_FOUND: gone");
}

int statements_after_assert = 0;

TEST(ExpectOkTest, AssertOkStopsTheTest) {
  statements_after_assert = 0;
  EXPECT_FATAL_FAILURE(
      {
        ASSERT_OK(absl::StatusOr<int>(absl::DataLossError("torn write")));
        ++statements_after_assert;
      },
      "is not OK: DATA_LOSS: torn write");
  EXPECT_EQ(statements_after_assert, 0);
}

absl::StatusOr<std::unique_ptr<int>> MakeInt(int v) {
  if (v < 0) return absl::InvalidArgumentError("v: must be >= 0");
  return std::make_unique<int>(v);
}

TEST(AssertOkAndAssignTest, MovesTheValueOut) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> p, MakeInt(4));
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 4);
  std::unique_ptr<int> q;
  ASSERT_OK_AND_ASSIGN(q, MakeInt(5));  // an existing variable
  EXPECT_EQ(*q, 5);
}

TEST(AssertOkAndAssignTest, FailsFatallyWithTheExpressionAndStatus) {
  statements_after_assert = 0;
  EXPECT_FATAL_FAILURE(
      {
        ASSERT_OK_AND_ASSIGN(std::unique_ptr<int> p, MakeInt(-1));
        ++statements_after_assert;
      },
      "MakeInt(-1) is not OK: INVALID_ARGUMENT: v: must be >= 0");
  EXPECT_EQ(statements_after_assert, 0);
}

}  // namespace
}  // namespace custops::testing

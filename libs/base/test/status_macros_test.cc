#include "custops/base/status_macros.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::base {
namespace {

using ::custops::testing::IsOk;
using ::custops::testing::StatusIs;
using ::testing::ElementsAre;

// Records what ran, so a test can tell where a function returned.
struct Trace {
  std::vector<std::string> steps;
  absl::Status Step(std::string name, absl::Status result) {
    steps.push_back(std::move(name));
    return result;
  }
  absl::StatusOr<int> Value(std::string name, absl::StatusOr<int> result) {
    steps.push_back(std::move(name));
    return result;
  }
};

absl::Status TwoSteps(Trace& trace, absl::Status first, absl::Status second) {
  RETURN_IF_ERROR(trace.Step("first", std::move(first)));
  RETURN_IF_ERROR(trace.Step("second", std::move(second)));
  trace.steps.push_back("end");
  return absl::OkStatus();
}

TEST(ReturnIfErrorTest, ContinuesOnOk) {
  Trace trace;
  EXPECT_THAT(TwoSteps(trace, absl::OkStatus(), absl::OkStatus()), IsOk());
  EXPECT_THAT(trace.steps, ElementsAre("first", "second", "end"));
}

TEST(ReturnIfErrorTest, ReturnsTheFirstErrorAsItIs) {
  Trace trace;
  EXPECT_THAT(TwoSteps(trace, absl::NotFoundError("unknown topic t"), absl::InternalError("x")),
              StatusIs(absl::StatusCode::kNotFound, "unknown topic t"));
  EXPECT_THAT(trace.steps, ElementsAre("first"));

  trace.steps.clear();
  EXPECT_THAT(TwoSteps(trace, absl::OkStatus(), absl::UnavailableError("broker down")),
              StatusIs(absl::StatusCode::kUnavailable, "broker down"));
  EXPECT_THAT(trace.steps, ElementsAre("first", "second"));
}

TEST(ReturnIfErrorTest, WorksInAFunctionReturningStatusOr) {
  Trace trace;
  auto f = [&trace](absl::Status s) -> absl::StatusOr<int> {
    RETURN_IF_ERROR(trace.Step("step", std::move(s)));
    return 7;
  };
  EXPECT_THAT(f(absl::AbortedError("conflict")), StatusIs(absl::StatusCode::kAborted, "conflict"));
  absl::StatusOr<int> ok = f(absl::OkStatus());
  ASSERT_OK(ok);
  EXPECT_EQ(*ok, 7);
  EXPECT_THAT(trace.steps, ElementsAre("step", "step"));
}

absl::StatusOr<int> Sum(Trace& trace, absl::StatusOr<int> a, absl::StatusOr<int> b) {
  ASSIGN_OR_RETURN(const int x, trace.Value("a", std::move(a)));
  int y = 0;
  ASSIGN_OR_RETURN(y, trace.Value("b", std::move(b)));  // into an existing variable
  trace.steps.push_back("end");
  return x + y;
}

TEST(AssignOrReturnTest, AssignsValuesOnOk) {
  Trace trace;
  absl::StatusOr<int> sum = Sum(trace, 2, 40);
  ASSERT_OK(sum);
  EXPECT_EQ(*sum, 42);
  EXPECT_THAT(trace.steps, ElementsAre("a", "b", "end"));
}

TEST(AssignOrReturnTest, ReturnsTheErrorAndEvaluatesNothingAfter) {
  Trace trace;
  EXPECT_THAT(Sum(trace, absl::InvalidArgumentError("a: bad"), 1),
              StatusIs(absl::StatusCode::kInvalidArgument, "a: bad"));
  EXPECT_THAT(trace.steps, ElementsAre("a"));

  trace.steps.clear();
  EXPECT_THAT(Sum(trace, 1, absl::OutOfRangeError("b: past the end")),
              StatusIs(absl::StatusCode::kOutOfRange, "b: past the end"));
  EXPECT_THAT(trace.steps, ElementsAre("a", "b"));
}

TEST(AssignOrReturnTest, MovesAMoveOnlyValueAndWorksInAStatusFunction) {
  auto make = [](bool ok) -> absl::StatusOr<std::unique_ptr<std::string>> {
    if (!ok) return absl::FailedPreconditionError("closed");
    return std::make_unique<std::string>("log");
  };
  std::string seen;
  auto use = [&](bool ok) -> absl::Status {
    ASSIGN_OR_RETURN(std::unique_ptr<std::string> p, make(ok));
    seen = *p;
    return absl::OkStatus();
  };
  EXPECT_THAT(use(false), StatusIs(absl::StatusCode::kFailedPrecondition, "closed"));
  EXPECT_EQ(seen, "");
  EXPECT_OK(use(true));
  EXPECT_EQ(seen, "log");
}

TEST(AssignOrReturnTest, EvaluatesItsExpressionOnce) {
  int calls = 0;
  auto counted = [&calls]() -> absl::StatusOr<int> { return ++calls; };
  auto f = [&]() -> absl::StatusOr<int> {
    ASSIGN_OR_RETURN(int v, counted());
    return v;
  };
  absl::StatusOr<int> v = f();
  ASSERT_OK(v);
  EXPECT_EQ(*v, 1);
  EXPECT_EQ(calls, 1);
}

}  // namespace
}  // namespace custops::base

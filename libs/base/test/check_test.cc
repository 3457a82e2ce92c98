#include "custops/base/check.h"

#include <string>

#include "gtest/gtest.h"

namespace custops::base {
namespace {

int evaluations = 0;

int Evaluated(int v) {
  ++evaluations;
  return v;
}

TEST(CheckTest, AHoldingConditionIsEvaluatedOnceAndItsMessageNever) {
  evaluations = 0;
  int conditions = 0;
  CHECK(++conditions == 1) << "context " << Evaluated(7);
  EXPECT_EQ(conditions, 1);
  EXPECT_EQ(evaluations, 0);
}

TEST(CheckTest, IsAnExpressionInEveryBranch) {
  // `CHECK(c) << x;` is one void expression: it fits an unbraced if/else.
  int n = 0;
  if (n == 0)
    CHECK(n == 0) << "n " << n;
  else
    n = 2;
  EXPECT_EQ(n, 0);
}

TEST(CheckDeathTest, AViolatedConditionAbortsWithConditionFileLineAndMessage) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const int expected = 3;
  EXPECT_DEATH(CHECK(1 + 1 == expected) << "partition " << 42 << " of " << std::string("t"),
               "check_test\\.cc:[0-9]+: CHECK failed: 1 \\+ 1 == expected partition 42 of t");
}

TEST(CheckDeathTest, AbortsWithoutAMessageToo) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const bool ready = false;
  EXPECT_DEATH(CUSTOPS_CHECK(ready), "CHECK failed: ready");
}

}  // namespace
}  // namespace custops::base

#include "custops/ctl/numbers.h"

#include <cstdint>
#include <limits>

#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(FormatIntegerTest, ThousandsSeparators) {
  EXPECT_EQ(FormatInteger(0), "0");
  EXPECT_EQ(FormatInteger(999), "999");
  EXPECT_EQ(FormatInteger(1000), "1,000");
  EXPECT_EQ(FormatInteger(1234567), "1,234,567");
  EXPECT_EQ(FormatInteger(-42), "-42");
  EXPECT_EQ(FormatInteger(-1234), "-1,234");
  EXPECT_EQ(FormatInteger(kMax), "9,223,372,036,854,775,807");
  EXPECT_EQ(FormatInteger(kMin), "-9,223,372,036,854,775,808");
}

TEST(FormatMoneyTest, YuanFromFen) {
  EXPECT_EQ(FormatMoney(0), "¥0.00");
  EXPECT_EQ(FormatMoney(5), "¥0.05");
  EXPECT_EQ(FormatMoney(-5), "-¥0.05");
  EXPECT_EQ(FormatMoney(100), "¥1.00");
  EXPECT_EQ(FormatMoney(123456789), "¥1,234,567.89");
  EXPECT_EQ(FormatMoney(-123456789), "-¥1,234,567.89");
  EXPECT_EQ(FormatMoney(100000, ""), "¥1,000.00");
  EXPECT_EQ(FormatMoney(kMax), "¥92,233,720,368,547,758.07");
  EXPECT_EQ(FormatMoney(kMin), "-¥92,233,720,368,547,758.08");
}

TEST(FormatMoneyTest, OtherCurrencyByCode) {
  EXPECT_EQ(FormatMoney(123450, "USD"), "1,234.50 USD");
  EXPECT_EQ(FormatMoney(-1, "EUR"), "-0.01 EUR");
}

TEST(FormatDecimalTest, RoundsHalfAwayFromZero) {
  EXPECT_EQ(FormatDecimal(181, 2, 1), "90.5");
  EXPECT_EQ(FormatDecimal(1, 8, 2), "0.13");  // 0.125
  EXPECT_EQ(FormatDecimal(-1, 8, 2), "-0.13");
  EXPECT_EQ(FormatDecimal(1, -8, 2), "-0.13");  // a negative denominator
  EXPECT_EQ(FormatDecimal(-1, -8, 2), "0.13");
  EXPECT_EQ(FormatDecimal(5, 2, 0), "3");
  EXPECT_EQ(FormatDecimal(-5, 2, 0), "-3");
  EXPECT_EQ(FormatDecimal(7, 3, 2), "2.33");
  EXPECT_EQ(FormatDecimal(2, 3, 2), "0.67");
  EXPECT_EQ(FormatDecimal(1234567, 1, 0), "1,234,567");
  EXPECT_EQ(FormatDecimal(24691357, 20, 1), "1,234,567.9");  // 1,234,567.85
  EXPECT_EQ(FormatDecimal(-1, 1000, 2), "0.00");             // rounds to zero: no sign
  EXPECT_EQ(FormatDecimal(3, 1, 2), "3.00");
  EXPECT_EQ(FormatDecimal(1, 0, 2), "—");
}

TEST(FormatDecimalTest, ExtremesDoNotOverflow) {
  EXPECT_EQ(FormatDecimal(kMax, 1, 2), "9,223,372,036,854,775,807.00");
  EXPECT_EQ(FormatDecimal(kMin, 1, 1), "-9,223,372,036,854,775,808.0");
  EXPECT_EQ(FormatDecimal(kMax, kMax, 3), "1.000");
  EXPECT_EQ(FormatDecimal(kMax - 1, kMax, 9), "1.000000000");
  EXPECT_EQ(FormatDecimal(1, kMax, 9), "0.000000000");
  EXPECT_EQ(FormatDecimal(kMin, -1, 0), "9,223,372,036,854,775,808");
}

TEST(FormatPercentTest, Shares) {
  EXPECT_EQ(FormatPercent(3, 4), "75.0%");
  EXPECT_EQ(FormatPercent(2, 3), "66.7%");
  EXPECT_EQ(FormatPercent(1, 3), "33.3%");
  EXPECT_EQ(FormatPercent(1, 1), "100.0%");
  EXPECT_EQ(FormatPercent(0, 5), "0.0%");
  EXPECT_EQ(FormatPercent(1, 2000), "0.1%");  // 0.05% rounds away from zero
  EXPECT_EQ(FormatPercent(-1, 2000), "-0.1%");
  EXPECT_EQ(FormatPercent(1, 2001), "0.0%");
  EXPECT_EQ(FormatPercent(663, 1000), "66.3%");
  EXPECT_EQ(FormatPercent(25, 1), "2,500.0%");  // attainment may exceed 100%
  EXPECT_EQ(FormatPercent(2, 3, 0), "67%");
  EXPECT_EQ(FormatPercent(2, 3, 2), "66.67%");
  EXPECT_EQ(FormatPercent(1, 0), "—");
  EXPECT_EQ(FormatPercent(kMax, 1), "922,337,203,685,477,580,700.0%");
}

TEST(FormatChangeTest, ArrowsByExactSign) {
  EXPECT_EQ(FormatChange(1, 8), "↑12.5%");
  EXPECT_EQ(FormatChange(-3, 100), "↓3.0%");
  EXPECT_EQ(FormatChange(0, 1), "0.0%");
  EXPECT_EQ(FormatChange(1, 100000), "↑0.0%");  // a rise, however small
  EXPECT_EQ(FormatChange(-1, -2), "↑50.0%");
  EXPECT_EQ(FormatChange(-1, 1), "↓100.0%");
  EXPECT_EQ(FormatChange(1, 0), "—");
}

TEST(RoundedQuotientTest, HalfAwayAndSaturating) {
  EXPECT_EQ(RoundedQuotient(5, 2), 3);
  EXPECT_EQ(RoundedQuotient(-5, 2), -3);
  EXPECT_EQ(RoundedQuotient(7, 3), 2);
  EXPECT_EQ(RoundedQuotient(kMin, 1), kMin);
  EXPECT_EQ(RoundedQuotient(kMin, -1), kMax);  // saturates
  EXPECT_EQ(RoundedQuotient(1, 0), 0);
}

}  // namespace
}  // namespace custops::ctl

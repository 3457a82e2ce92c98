// Exact number formatting for custopsctl's tables (docs/custopsctl.md
// "Numbers"): money from int64 minor units, rates and durations from exact
// fractions. Nothing passes through a double: fractions are scaled and
// rounded with 128-bit integer arithmetic, halves away from zero (as
// domain::Ratio::Scaled does, docs/review.md "Numbers").
//
//   FormatMoney(123456789, "CNY");  // "¥1,234,567.89"
//   FormatPercent(3, 4);            // "75.0%"
//   FormatDecimal(181, 2, 1);       // "90.5"
//   FormatChange(-1, 8);            // "↓12.5%"
//
// Pure functions, thread-safe.
#ifndef CUSTOPS_CTL_NUMBERS_H_
#define CUSTOPS_CTL_NUMBERS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace custops::ctl {

// What a table shows for a null value (not defined: a rate over zero, no
// target): an em dash.
inline constexpr char kNull[] = "—";

// An integer with thousands separators: "1,234,567", "-42".
std::string FormatInteger(int64_t n);

// Money in minor units (分, two decimals) with thousands separators. CNY
// (and an empty currency, the deployment's reporting currency) is written
// with a leading yen sign — "¥1,234,567.89", "-¥0.05" — any other currency
// with its code after the number: "1,234.50 USD".
std::string FormatMoney(int64_t units, std::string_view currency = "CNY");

// numerator / denominator rounded to `decimals` digits after the point
// (0..9), halves away from zero, with thousands separators:
// FormatDecimal(181, 2, 1) = "90.5", FormatDecimal(-1, 8, 2) = "-0.13",
// FormatDecimal(1234567, 1, 0) = "1,234,567". A zero denominator gives kNull.
std::string FormatDecimal(int64_t numerator, int64_t denominator, int decimals);

// numerator / denominator as a percentage (1 = 100%), `decimals` digits
// after the point: FormatPercent(3, 4) = "75.0%", FormatPercent(2, 3) =
// "66.7%", FormatPercent(-1, 1000) = "-0.1%". Zero denominator: kNull.
std::string FormatPercent(int64_t numerator, int64_t denominator, int decimals = 1);

// A relative change (环比/同比, (value - base) / |base|) as an arrow and a
// percentage of its magnitude: "↑12.5%" for +1/8, "↓3.0%" for -3/100,
// "0.0%" for exactly zero. The arrow follows the exact sign, so a tiny rise
// shows "↑0.0%". Zero denominator: kNull.
std::string FormatChange(int64_t numerator, int64_t denominator, int decimals = 1);

// numerator / denominator rounded to an integer, halves away from zero,
// saturating at the int64 range; 0 for a zero denominator.
int64_t RoundedQuotient(int64_t numerator, int64_t denominator);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_NUMBERS_H_

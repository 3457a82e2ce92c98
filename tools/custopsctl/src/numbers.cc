#include "custops/ctl/numbers.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

namespace custops::ctl {
namespace {

using int128 = __int128;
using uint128 = unsigned __int128;

uint128 Magnitude(int128 v) { return v < 0 ? static_cast<uint128>(-(v + 1)) + 1 : v; }

// Digits of `v` with a comma every three from the right.
std::string GroupedDigits(uint128 v) {
  std::string digits;
  do {
    digits.push_back(static_cast<char>('0' + static_cast<int>(v % 10)));
    v /= 10;
  } while (v != 0);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && i % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

// |v| / 10^decimals as "1,234.5" (v already scaled and rounded).
std::string FixedPoint(uint128 magnitude, int decimals) {
  uint128 scale = 1;
  for (int i = 0; i < decimals; ++i) scale *= 10;
  std::string out = GroupedDigits(magnitude / scale);
  if (decimals > 0) {
    std::string fraction;
    uint128 rest = magnitude % scale;
    for (int i = 0; i < decimals; ++i) {
      fraction.push_back(static_cast<char>('0' + static_cast<int>(rest % 10)));
      rest /= 10;
    }
    std::reverse(fraction.begin(), fraction.end());
    out += "." + fraction;
  }
  return out;
}

// round(|numerator / denominator| × 10^shift), halves away from zero, and
// whether the exact value is negative. denominator != 0; shift <= 11, so
// the product fits in 128 bits for any int64 numerator.
struct Scaled {
  uint128 magnitude;
  bool negative;
};

Scaled ScaleRound(int64_t numerator, int64_t denominator, int shift) {
  uint128 n = Magnitude(numerator);
  const uint128 d = Magnitude(denominator);
  for (int i = 0; i < shift; ++i) n *= 10;
  uint128 q = n / d;
  const uint128 r = n % d;
  if (r >= d - r) ++q;  // 2r >= d without overflow: round half away from zero
  return {q, numerator != 0 && ((numerator < 0) != (denominator < 0))};
}

int ClampDecimals(int decimals) { return std::clamp(decimals, 0, 9); }

}  // namespace

int64_t RoundedQuotient(int64_t numerator, int64_t denominator) {
  if (denominator == 0) return 0;
  const Scaled s = ScaleRound(numerator, denominator, 0);
  const uint128 max = static_cast<uint128>(INT64_MAX);
  if (s.negative) return s.magnitude > max ? INT64_MIN : -static_cast<int64_t>(s.magnitude);
  return s.magnitude > max ? INT64_MAX : static_cast<int64_t>(s.magnitude);
}

std::string FormatInteger(int64_t n) {
  const std::string digits = GroupedDigits(Magnitude(n));
  return n < 0 ? "-" + digits : digits;
}

std::string FormatMoney(int64_t units, std::string_view currency) {
  const std::string amount = FixedPoint(Magnitude(units), 2);
  const std::string sign = units < 0 ? "-" : "";
  if (currency.empty() || currency == "CNY") return sign + "¥" + amount;
  return sign + amount + " " + std::string(currency);
}

std::string FormatDecimal(int64_t numerator, int64_t denominator, int decimals) {
  if (denominator == 0) return std::string(kNull);
  decimals = ClampDecimals(decimals);
  const Scaled s = ScaleRound(numerator, denominator, decimals);
  // A value that rounds to zero is written without a sign.
  return (s.negative && s.magnitude != 0 ? "-" : "") + FixedPoint(s.magnitude, decimals);
}

std::string FormatPercent(int64_t numerator, int64_t denominator, int decimals) {
  if (denominator == 0) return std::string(kNull);
  decimals = ClampDecimals(decimals);
  const Scaled s = ScaleRound(numerator, denominator, decimals + 2);
  return (s.negative && s.magnitude != 0 ? "-" : "") + FixedPoint(s.magnitude, decimals) + "%";
}

std::string FormatChange(int64_t numerator, int64_t denominator, int decimals) {
  if (denominator == 0) return std::string(kNull);
  decimals = ClampDecimals(decimals);
  const Scaled s = ScaleRound(numerator, denominator, decimals + 2);
  const std::string digits = FixedPoint(s.magnitude, decimals) + "%";
  if (numerator == 0) return digits;
  return (s.negative ? "↓" : "↑") + digits;
}

}  // namespace custops::ctl

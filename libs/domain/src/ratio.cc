// Exact rationals (ratio.h). Every operation works on __int128 terms and
// normalises once at the end, so intermediate products of two int64 values
// never overflow.
#include "custops/domain/ratio.h"

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"

namespace custops::domain {
namespace {

using i128 = __int128;

constexpr i128 kInt64Max = INT64_MAX;

i128 Abs128(i128 v) { return v < 0 ? -v : v; }

i128 Gcd128(i128 a, i128 b) {
  a = Abs128(a);
  b = Abs128(b);
  while (b != 0) {
    const i128 t = a % b;
    a = b;
    b = t;
  }
  return a;
}

// floor(n / d) for d > 0.
i128 FloorDiv(i128 n, i128 d) {
  i128 q = n / d;
  if ((n % d != 0) && (n < 0)) --q;
  return q;
}

int64_t Saturate(i128 v) {
  if (v > kInt64Max) return INT64_MAX;
  if (v < -kInt64Max - 1) return INT64_MIN;
  return static_cast<int64_t>(v);
}

}  // namespace

std::optional<Ratio> Ratio::Of(int64_t numerator, int64_t denominator) {
  return Of128(numerator, denominator);
}

std::optional<Ratio> Ratio::Of128(__int128 n, __int128 d) {
  if (d == 0) return std::nullopt;
  if (d < 0) {
    n = -n;
    d = -d;
  }
  const i128 g = Gcd128(n, d);
  if (g > 1) {
    n /= g;
    d /= g;
  }
  if (n == 0) return Ratio(0, 1);
  // Terms beyond int64 (not reachable with real money or counts): halve both
  // until they fit, keeping the denominator positive.
  while (Abs128(n) > kInt64Max || d > kInt64Max) {
    n /= 2;
    d /= 2;
    if (d == 0) d = 1;
  }
  const i128 g2 = Gcd128(n, d);
  if (g2 > 1) {
    n /= g2;
    d /= g2;
  }
  if (n == 0) return Ratio(0, 1);
  return Ratio(static_cast<int64_t>(n), static_cast<int64_t>(d));
}

int64_t Ratio::Scaled(int64_t scale) const {
  const i128 n = static_cast<i128>(numerator_) * scale;
  const i128 d = denominator_;
  // Round half away from zero: (2|n| + d) / (2d) with the sign of n.
  // Unsigned, since 2|n| may reach 2^127.
  using u128 = unsigned __int128;
  const u128 q =
      (2 * static_cast<u128>(Abs128(n)) + static_cast<u128>(d)) / (2 * static_cast<u128>(d));
  if (q > static_cast<u128>(kInt64Max)) return n < 0 ? INT64_MIN : INT64_MAX;
  return n < 0 ? -static_cast<int64_t>(q) : static_cast<int64_t>(q);
}

int64_t Ratio::Floor() const { return Saturate(FloorDiv(numerator_, denominator_)); }

std::string Ratio::ToString() const {
  if (denominator_ == 1) return absl::StrCat(numerator_);
  return absl::StrCat(numerator_, "/", denominator_);
}

bool operator<(const Ratio& a, const Ratio& b) {
  return static_cast<i128>(a.numerator_) * b.denominator_ <
         static_cast<i128>(b.numerator_) * a.denominator_;
}

Ratio operator+(const Ratio& a, const Ratio& b) {
  return *Ratio::Of128(static_cast<i128>(a.numerator_) * b.denominator_ +
                           static_cast<i128>(b.numerator_) * a.denominator_,
                       static_cast<i128>(a.denominator_) * b.denominator_);
}

Ratio operator-(const Ratio& a, const Ratio& b) {
  return *Ratio::Of128(static_cast<i128>(a.numerator_) * b.denominator_ -
                           static_cast<i128>(b.numerator_) * a.denominator_,
                       static_cast<i128>(a.denominator_) * b.denominator_);
}

Ratio operator*(const Ratio& a, const Ratio& b) {
  return *Ratio::Of128(static_cast<i128>(a.numerator_) * b.numerator_,
                       static_cast<i128>(a.denominator_) * b.denominator_);
}

std::optional<Ratio> Divide(const Ratio& a, const Ratio& b) {
  return Ratio::Of128(static_cast<i128>(a.numerator()) * b.denominator(),
                      static_cast<i128>(a.denominator()) * b.numerator());
}

std::optional<Ratio> RelativeChange(const std::optional<Ratio>& value,
                                    const std::optional<Ratio>& base) {
  if (!value || !base || base->is_zero()) return std::nullopt;
  return Divide(*value - *base, base->Abs());
}

std::optional<Ratio> Difference(const std::optional<Ratio>& value,
                                const std::optional<Ratio>& base) {
  if (!value || !base) return std::nullopt;
  return *value - *base;
}

}  // namespace custops::domain

// An exact rational number for rates and shares in the review (复盘), so that
// no rate or money figure ever passes through a double:
//
//   std::optional<Ratio> win_rate = Ratio::Of(won, won + lost);  // nullopt when 0/0
//   int64_t bp = win_rate->Scaled(10'000);                       // basis points
//   std::optional<Ratio> up = RelativeChange(current, previous); // nullopt when base 0
//
// A Ratio is always normalised: denominator > 0 and gcd(|numerator|,
// denominator) = 1, so == compares values. Arithmetic is done in __int128 and
// reduced; a result whose reduced terms do not fit int64 (far beyond any real
// money or count) is approximated by halving both terms until they fit
// (relative error < 2^-60), never wrapped. Thread safety: a value type.
#ifndef CUSTOPS_DOMAIN_RATIO_H_
#define CUSTOPS_DOMAIN_RATIO_H_

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>

namespace custops::domain {

class Ratio {
 public:
  // 0/1.
  constexpr Ratio() = default;
  // n/1.
  static Ratio Integer(int64_t n) { return Ratio(n, 1); }
  // numerator/denominator, normalised; nullopt when denominator == 0.
  static std::optional<Ratio> Of(int64_t numerator, int64_t denominator);
  // As Of for 128-bit terms (approximated as described above when they do not fit).
  static std::optional<Ratio> Of128(__int128 numerator, __int128 denominator);

  int64_t numerator() const { return numerator_; }
  int64_t denominator() const { return denominator_; }
  bool is_integer() const { return denominator_ == 1; }
  bool is_zero() const { return numerator_ == 0; }

  // round(value x scale), halves rounded away from zero, saturating at the
  // int64 range: Scaled(10'000) gives basis points, Scaled(100) percent.
  int64_t Scaled(int64_t scale) const;
  // floor(value) (toward -infinity).
  int64_t Floor() const;

  // "n/d", or "n" when d = 1.
  std::string ToString() const;

  friend bool operator==(const Ratio& a, const Ratio& b) = default;
  // Exact comparison by cross multiplication.
  friend bool operator<(const Ratio& a, const Ratio& b);
  friend bool operator>(const Ratio& a, const Ratio& b) { return b < a; }
  friend bool operator<=(const Ratio& a, const Ratio& b) { return !(b < a); }
  friend bool operator>=(const Ratio& a, const Ratio& b) { return !(a < b); }
  friend std::ostream& operator<<(std::ostream& os, const Ratio& r) { return os << r.ToString(); }

  friend Ratio operator+(const Ratio& a, const Ratio& b);
  friend Ratio operator-(const Ratio& a, const Ratio& b);
  friend Ratio operator*(const Ratio& a, const Ratio& b);
  // |r|.
  Ratio Abs() const { return numerator_ < 0 ? Ratio(-numerator_, denominator_) : *this; }

 private:
  constexpr Ratio(int64_t n, int64_t d) : numerator_(n), denominator_(d) {}
  int64_t numerator_ = 0;
  int64_t denominator_ = 1;
};

// a / b; nullopt when b is zero.
std::optional<Ratio> Divide(const Ratio& a, const Ratio& b);

// The relative change (value - base) / |base| (环比/同比): nullopt when either
// is missing or the base is zero. +1/5 means "up 20%"; with a negative base
// (a loss) a move toward positive is a positive change.
std::optional<Ratio> RelativeChange(const std::optional<Ratio>& value,
                                    const std::optional<Ratio>& base);

// value - base; nullopt when either is missing.
std::optional<Ratio> Difference(const std::optional<Ratio>& value,
                                const std::optional<Ratio>& base);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_RATIO_H_

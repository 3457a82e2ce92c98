// Predictive CLV, the answers from fitted parameters: BG/NBD expected
// purchases and probability alive, the Gamma-Gamma expected spend, and the
// discounted CLV (docs/value.md "Predictive CLV"). The fits are clv_fit.cc,
// the simulation clv_simulation.cc.
#include "custops/domain/clv.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "clv_internal.h"

namespace custops::domain {
namespace {

using clv_internal::kNaN;

// sum_{n >= start} of the terms of 2F1(a, b; c; z), term_0 = 1, until a term
// is below 1e-17 of the sum while the terms shrink. NaN if that takes more
// than 10^7 terms or meets a pole (c a non-positive whole number).
double HypergeometricSeriesFrom(int start, double a, double b, double c, double z) {
  double term = 1, sum = start == 0 ? 1 : 0;
  constexpr int kMaxTerms = 10'000'000;
  for (int n = 0; n < kMaxTerms; ++n) {
    const double ratio = (a + n) * (b + n) / ((c + n) * (n + 1)) * z;
    term *= ratio;
    if (!std::isfinite(term)) return kNaN;
    sum += term;
    if (term == 0) return sum;
    if (std::fabs(term) <= 1e-17 * std::fabs(sum) && std::fabs(ratio) < 1) return sum;
  }
  return kNaN;
}

}  // namespace

// ---------------------------------------------------------------------------
// BG/NBD

double BgNbdExpectedPurchases(const BgNbdParams& params, const LifetimesSummary& c, double t) {
  if (!(t >= 0)) return kNaN;
  if (t == 0) return 0;
  const double r = params.r, alpha = params.alpha, a = params.a, b = params.b;
  const double x = c.frequency;
  const double big_a = r + x, big_b = b + x, big_c = a + b + x - 1;
  // G = ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z),
  // z = t / (alpha + T + t); E = (a + b + x - 1) / (a - 1) (1 - G) / denominator.
  // Two transformations of 2F1 keep every series short and free of overflow:
  // - u = t / (alpha + T) <= 1/2 (z <= 1/3): Pfaff, G = 2F1(r + x, a - 1; C; -u),
  //   and 1 - G is minus the series without its leading 1 (no cancellation
  //   for small t, where G is close to 1);
  // - otherwise Euler, G = (1 - z)^(a - 1) 2F1(C - r - x, a - 1; C; z), whose
  //   terms stay bounded even as z -> 1 (the untransformed series grows like
  //   (1 - z)^(C - A - B), which overflows for large x: lifetimes falls back
  //   to this form when it does).
  const double u = t / (alpha + c.t);
  double one_minus_g;
  if (u <= 0.5) {
    one_minus_g = -HypergeometricSeriesFrom(1, big_a, big_c - big_b, big_c, -u);
  } else {
    const double z = t / (alpha + c.t + t);
    const double s = HypergeometricSeriesFrom(0, big_c - big_a, big_c - big_b, big_c, z);
    one_minus_g = 1 - std::exp((big_c - big_b) * std::log1p(-z)) * s;
  }
  double denominator = 1;
  if (x > 0) {
    denominator += std::exp(std::log(a) - std::log(b + x - 1) +
                            big_a * std::log((alpha + c.t) / (alpha + c.recency)));
  }
  return big_c / (a - 1) * one_minus_g / denominator;
}

double BgNbdProbabilityAlive(const BgNbdParams& params, const LifetimesSummary& c) {
  if (c.frequency == 0) return 1;
  const double x = c.frequency;
  const double log_odds_dead =
      (params.r + x) * std::log((params.alpha + c.t) / (params.alpha + c.recency)) +
      std::log(params.a / (params.b + x - 1));
  return 1 / (1 + std::exp(log_odds_dead));
}

// ---------------------------------------------------------------------------
// Gamma-Gamma

double GammaGammaExpectedAverageProfit(const GammaGammaParams& params, const LifetimesSummary& c) {
  if (!(params.q > 1)) return kNaN;
  const double px = params.p * c.frequency;
  const double weight = px / (px + params.q - 1);
  const double population_mean = params.v * params.p / (params.q - 1);
  return (1 - weight) * population_mean + weight * c.monetary_value;
}

// ---------------------------------------------------------------------------
// Discounted CLV

absl::Status CheckClvOptions(const ClvOptions& options) {
  if (options.horizon_months < 0 || !(options.monthly_discount_rate > -1) ||
      !(options.periods_per_month > 0) || !std::isfinite(options.periods_per_month)) {
    return absl::InvalidArgumentError(
        "CLV options: need horizon_months >= 0, monthly_discount_rate > -1, "
        "periods_per_month > 0");
  }
  return absl::OkStatus();
}

std::vector<double> BgNbdExpectedPurchasesByMonth(const BgNbdParams& bg,
                                                  const LifetimesSummary& customer,
                                                  const ClvOptions& options) {
  std::vector<double> out;
  out.reserve(static_cast<size_t>(std::max(options.horizon_months, 0)));
  for (int k = 1; k <= options.horizon_months; ++k) {
    out.push_back(BgNbdExpectedPurchases(bg, customer, k * options.periods_per_month));
  }
  return out;
}

absl::StatusOr<int64_t> DiscountedClvUnits(double spend, const std::vector<double>& by_month,
                                           const ClvOptions& options) {
  if (absl::Status s = CheckClvOptions(options); !s.ok()) return s;
  if (by_month.size() != static_cast<size_t>(options.horizon_months)) {
    return absl::InvalidArgumentError("CLV: one expected-purchases value per month needed");
  }
  double clv = 0, previous = 0;
  for (int k = 1; k <= options.horizon_months; ++k) {
    const double expected = by_month[static_cast<size_t>(k - 1)];
    clv += spend * (expected - previous) / std::pow(1 + options.monthly_discount_rate, k);
    previous = expected;
  }
  // 2^63 is exactly representable; anything at or beyond it does not fit.
  if (!std::isfinite(clv) || std::fabs(clv) >= 0x1.0p63) {
    return absl::InvalidArgumentError(absl::StrCat("CLV not representable: ", clv));
  }
  return static_cast<int64_t>(std::llround(clv));
}

absl::StatusOr<int64_t> PredictedClvUnits(const BgNbdParams& bg, const GammaGammaParams& gg,
                                          const LifetimesSummary& customer,
                                          const ClvOptions& options) {
  if (absl::Status s = CheckClvOptions(options); !s.ok()) return s;
  return DiscountedClvUnits(GammaGammaExpectedAverageProfit(gg, customer),
                            BgNbdExpectedPurchasesByMonth(bg, customer, options), options);
}

}  // namespace custops::domain

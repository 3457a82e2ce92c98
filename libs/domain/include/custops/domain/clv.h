// Predictive customer lifetime value (issue 4): the BG/NBD model of repeat
// purchases (Fader, Hardie & Lee 2005, "Counting your customers the easy way")
// and the Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005,
// "RFM and CLV"), fitted by maximum likelihood in C++, with the predictions and
// the discounted CLV of the `lifetimes` Python library (BetaGeoFitter,
// GammaGammaFitter, customer_lifetime_value). Inputs are per-customer
// `LifetimesSummary` rows (value.h, SummarizeLikeLifetimes): frequency, recency
// and T in one time unit, monetary value in minor units. See docs/value.md
// "Predictive CLV" for the formulas and numerical choices.
//
//   std::vector<LifetimesSummary> rows = ...;  // one per customer, weeks
//   absl::StatusOr<BgNbdFit> bg = FitBgNbd(rows, BgNbdFitOptions{});
//   absl::StatusOr<GammaGammaFit> gg = FitGammaGamma(rows, GammaGammaFitOptions{});
//   double n = BgNbdExpectedPurchases(bg->params, rows[i], /*t=*/52);
//   double alive = BgNbdProbabilityAlive(bg->params, rows[i]);
//   absl::StatusOr<int64_t> clv = PredictedClvUnits(bg->params, gg->params, rows[i], ClvOptions{});
//
// Model parameters and predictions are doubles (statistics, not money); only
// PredictedClvUnits returns money, as int64 minor units. Everything is
// deterministic: the same rows, in any order, give bit-identical parameters.
// Thread safety: all functions are pure and may be called concurrently (the
// log-gamma used is the reentrant one).
#ifndef CUSTOPS_DOMAIN_CLV_H_
#define CUSTOPS_DOMAIN_CLV_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "custops/domain/value.h"

namespace custops::domain {

// ---------------------------------------------------------------------------
// BG/NBD

// Purchase rate lambda ~ Gamma(shape r, rate alpha); after each purchase the
// customer drops out with probability p ~ Beta(a, b). alpha is in the time
// unit of the rows it was fitted on (r, a, b have no unit).
struct BgNbdParams {
  double r = 0;
  double alpha = 0;
  double a = 0;
  double b = 0;
};

struct BgNbdFitOptions {
  // L2 penalty on the parameters, as lifetimes' penalizer_coef: the fit
  // minimises -LL / customers + penalizer x (r^2 + alpha_s^2 + a^2 + b^2)
  // with alpha_s the rate in the internally rescaled time (max T = 10).
  // Default: 0 (plain maximum likelihood)
  double penalizer = 0;
  // Stop when every component of the gradient of the mean negative
  // log-likelihood with respect to the log-parameters is below this.
  // Default: 1e-8
  double gradient_tolerance = 1e-8;
  // Default: 500
  int max_iterations = 500;
};

struct BgNbdFit {
  BgNbdParams params;
  // Total log-likelihood of the rows at `params` (time unit of the rows; no penalty).
  double log_likelihood = 0;
  int64_t customers = 0;      // rows fitted
  int64_t distinct_rows = 0;  // distinct (frequency, recency, T) after grouping
  int iterations = 0;         // quasi-Newton iterations used
  int evaluations = 0;        // log-likelihood + gradient evaluations
  // False when max_iterations ran out or the line search stalled before the
  // gradient tolerance: `params` is then the best point found.
  bool converged = false;
};

// Fits (r, alpha, a, b) by maximum likelihood: BFGS with the analytic
// gradient on the log-parameters, start (1, 1, 1, 1) in a time unit rescaled
// so that the largest T is 10 (as lifetimes). Identical rows are grouped with
// weights first, so the cost per iteration is in distinct rows.
// InvalidArgument when `rows` is empty, or a row is not finite, has a
// frequency that is negative or not a whole number, recency < 0, recency > T,
// or recency != 0 with frequency 0. monetary_value is ignored.
absl::StatusOr<BgNbdFit> FitBgNbd(const std::vector<LifetimesSummary>& rows,
                                  const BgNbdFitOptions& options);

// Total log-likelihood of `rows` (validated as FitBgNbd) under `params`
// (all > 0), in the rows' time unit. InvalidArgument on bad rows or params.
absl::StatusOr<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                          const std::vector<LifetimesSummary>& rows);

// Expected number of repeat purchases in the next t time units (t >= 0) of a
// customer with this history: lifetimes'
// conditional_expected_number_of_purchases_up_to_time, BG/NBD paper eq. (10).
// 0 at t = 0. NaN if the Gauss hypergeometric series does not converge
// (t / (alpha + T) beyond ~1e6) or a + b + frequency - 1 is 0 or a negative
// whole number (the formula is undefined there).
double BgNbdExpectedPurchases(const BgNbdParams& params, const LifetimesSummary& customer,
                              double t);

// Probability that the customer is still active: lifetimes'
// conditional_probability_alive. Exactly 1 for frequency 0 (the model lets a
// customer drop out only after a purchase, and lifetimes defines it so).
double BgNbdProbabilityAlive(const BgNbdParams& params, const LifetimesSummary& customer);

// ---------------------------------------------------------------------------
// Gamma-Gamma

// Spend per purchase ~ Gamma(shape p, rate nu); nu ~ Gamma(shape q, rate v).
// v is in the monetary unit of the rows it was fitted on (minor units for
// LifetimesSummary); p and q have no unit.
struct GammaGammaParams {
  double p = 0;
  double q = 0;
  double v = 0;
};

struct GammaGammaFitOptions {
  // L2 penalty as lifetimes' penalizer_coef, on (p, q, v_s) with v_s the
  // scale in monetary values divided by their mean. Default: 0
  double penalizer = 0;
  // Default: 1e-8
  double gradient_tolerance = 1e-8;
  // Default: 500
  int max_iterations = 500;
};

struct GammaGammaFit {
  GammaGammaParams params;
  double log_likelihood = 0;  // total, at `params`, of the rows used (no penalty)
  int64_t customers = 0;      // rows used: frequency > 0 and monetary_value > 0
  int64_t skipped = 0;        // rows with frequency > 0 but monetary_value <= 0
  int64_t distinct_rows = 0;
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;
};

// Fits (p, q, v) on the repeat buyers: rows with frequency > 0 (lifetimes
// fits the returning customers only). Rows whose monetary_value <= 0 (net
// credits) cannot come from the model and are skipped and counted. BFGS on
// log-parameters from (1, 1, 1) with money rescaled by its mean (the fit does
// not depend on the monetary unit: v scales with it, p and q do not).
// InvalidArgument when no row is usable, a used row is not finite, or a
// frequency is not a whole number.
absl::StatusOr<GammaGammaFit> FitGammaGamma(const std::vector<LifetimesSummary>& rows,
                                            const GammaGammaFitOptions& options);

// Total Gamma-Gamma log-likelihood of the usable rows (as FitGammaGamma), in
// lifetimes' form. InvalidArgument on bad params or no usable row.
absl::StatusOr<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                               const std::vector<LifetimesSummary>& rows);

// Expected mean spend per purchase (same unit as monetary_value): lifetimes'
// conditional_expected_average_profit, w m + (1 - w) p v / (q - 1) with
// w = p x / (p x + q - 1). Frequency 0 gives the population mean p v / (q - 1).
// NaN when q <= 1 (the population mean does not exist).
double GammaGammaExpectedAverageProfit(const GammaGammaParams& params,
                                       const LifetimesSummary& customer);

// ---------------------------------------------------------------------------
// Discounted CLV

struct ClvOptions {
  // Months summed. Default: 12
  int horizon_months = 12;
  // Discount per month. Default: 1.10^(1/12) - 1, i.e. 10% a year (docs/value.md)
  double monthly_discount_rate = 0.007974140428903764;
  // Time units of the rows per month. Default: 4.345 (weeks; lifetimes' "W")
  double periods_per_month = 4.345;
};

// lifetimes' customer_lifetime_value with the Gamma-Gamma spend:
//   sum over k = 1..horizon of  M (E(k f) - E((k - 1) f)) / (1 + d)^k
// with M = GammaGammaExpectedAverageProfit (minor units), E =
// BgNbdExpectedPurchases, f = periods_per_month, d = monthly_discount_rate.
// The sum is a double in minor units, rounded once at the end to the nearest
// unit, halves away from zero (std::llround). InvalidArgument when the
// options are out of range (horizon < 0, rate <= -1, f <= 0) or the value is
// not finite or beyond the int64 range (e.g. q <= 1).
absl::StatusOr<int64_t> PredictedClvUnits(const BgNbdParams& bg, const GammaGammaParams& gg,
                                          const LifetimesSummary& customer,
                                          const ClvOptions& options);

// PredictedClvUnits in two steps, for callers that evaluate many customers
// sharing (frequency, recency, T): the BG/NBD part depends on those only.
// `by_month[k - 1]` = BgNbdExpectedPurchases(bg, customer, k * periods_per_month)
// for k = 1..horizon_months; DiscountedClvUnits(spend, by_month, options) with
// spend = GammaGammaExpectedAverageProfit is bit for bit PredictedClvUnits
// (which is written this way). Same errors.
absl::Status CheckClvOptions(const ClvOptions& options);
std::vector<double> BgNbdExpectedPurchasesByMonth(const BgNbdParams& bg,
                                                  const LifetimesSummary& customer,
                                                  const ClvOptions& options);
absl::StatusOr<int64_t> DiscountedClvUnits(double spend, const std::vector<double>& by_month,
                                           const ClvOptions& options);

// ---------------------------------------------------------------------------
// Simulation (model checks, parameter-recovery tests, benchmarks)

struct BgNbdSimulationOptions {
  // Customers generated. Default: 1000
  int64_t customers = 1000;
  // Each customer's observed age in whole days, uniform in [min, max]. Defaults: 1, 365
  int64_t min_age_days = 1;
  int64_t max_age_days = 365;
  // Time unit of the rows and of the params' alpha, in days. Default: 7 (weeks)
  int64_t days_per_unit = 7;
  // True: purchase times floored to whole days and same-day purchases merged,
  // as real summaries are (this biases a fit slightly: alpha comes out ~4%
  // high at r 0.5, alpha 6 weeks, because fast buyers' same-day purchases
  // merge). False: exact continuous times, the model's own data. Default: true
  bool whole_days = true;
  // Seed of the generator (splitmix64 / xoshiro256**, own Gamma sampler:
  // the same seed gives the same rows on every platform). Default: 1
  uint64_t seed = 1;
  // Spend per purchase in minor units, drawn from a Gamma-Gamma with these
  // parameters (mean p v / (q - 1) = 6000, i.e. 60.00). Default: p 6, q 4, v 3000
  GammaGammaParams spend{.p = 6, .q = 4, .v = 3000};
};

// Draws customers from a BG/NBD with `params` (alpha in days_per_unit) in
// continuous time, first purchase at time 0, observed for a whole number of
// days. With whole_days, summarizes them like SummarizeLikeLifetimes: times
// floored to whole days, purchases on one day merged into one period, so
// frequency / recency / T take the values real summaries take (which is what
// makes grouping effective). monetary_value is the mean spend of the repeat
// periods. Customer i is row i.
std::vector<LifetimesSummary> SimulateBgNbd(const BgNbdParams& params,
                                            const BgNbdSimulationOptions& options);

}  // namespace custops::domain

#endif  // CUSTOPS_DOMAIN_CLV_H_

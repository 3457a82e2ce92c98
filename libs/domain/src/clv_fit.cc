// Predictive CLV, the fits: BG/NBD and Gamma-Gamma maximum likelihood
// (FitBgNbd, FitGammaGamma) and the log-likelihoods they maximise
// (docs/value.md "Predictive CLV"). The predictions and the discounted CLV are
// clv.cc, the simulation clv_simulation.cc.
//
// Numerical notes (why, not what):
// - The fit works on grouped rows: identical (frequency, recency, T) rows are
//   one row with a weight, and every term that depends on one coordinate only
//   (log-gamma of r + x, log(alpha + T), ...) is computed once per distinct
//   value per evaluation. Rows are grouped in sorted order, so the sums run in
//   a canonical order and the result does not depend on the input order.
// - log-gamma is lgamma_r: std::lgamma writes the global `signgam`, which
//   would make concurrent fits a data race.
// - The optimizer is BFGS with the analytic gradient and a backtracking
//   (Armijo) line search, on log-parameters so that every parameter stays
//   positive; everything is sequential, hence bit-reproducible.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "clv_internal.h"
#include "custops/domain/clv.h"

namespace custops::domain {
namespace {

using clv_internal::kNaN;

double LogGamma(double x) {
  int sign = 0;
  return lgamma_r(x, &sign);
}

// Digamma for x > 0: recurrence up to x >= 6, then the asymptotic series
// (error below 1e-15 there).
double Digamma(double x) {
  double shift = 0;
  while (x < 6) {
    shift -= 1 / x;
    x += 1;
  }
  const double inv = 1 / x;
  const double inv2 = inv * inv;
  const double series =
      inv2 * (1.0 / 12 -
              inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132)))));
  return shift + std::log(x) - 0.5 * inv - series;
}

bool AllPositiveFinite(std::initializer_list<double> values) {
  for (double v : values) {
    if (!(v > 0) || !std::isfinite(v)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------
// BFGS on R^N

template <size_t N>
using Vec = std::array<double, N>;

template <size_t N>
double Dot(const Vec<N>& a, const Vec<N>& b) {
  double s = 0;
  for (size_t i = 0; i < N; ++i) s += a[i] * b[i];
  return s;
}

template <size_t N>
double MaxAbs(const Vec<N>& a) {
  double m = 0;
  for (double v : a) m = std::max(m, std::fabs(v));
  return m;
}

template <size_t N>
struct MinimizeResult {
  Vec<N> x{};
  double f = 0;
  int iterations = 0;
  int evaluations = 0;
  bool converged = false;
};

// Minimizes f (f(x, &grad) returns the value and writes the gradient; a
// non-finite value means "outside the domain"). Converged when max |grad| <
// gtol, or when no step decreases f any more (rounding level) while max
// |grad| < 1e-6. The largest step moves no coordinate by more than 5 (the
// coordinates are log-parameters: a factor e^5 at most per step).
template <size_t N, typename F>
MinimizeResult<N> MinimizeBfgs(F&& f, Vec<N> x, double gtol, int max_iterations) {
  MinimizeResult<N> out;
  Vec<N> g{};
  double fx = f(x, &g);
  out.evaluations = 1;
  out.x = x;
  out.f = fx;
  if (!std::isfinite(fx)) return out;
  std::array<Vec<N>, N> h{};  // inverse Hessian approximation
  for (size_t i = 0; i < N; ++i) h[i][i] = 1;
  bool first_update = true;
  int it = 0;
  for (; it < max_iterations; ++it) {
    if (MaxAbs(g) < gtol) {
      out.converged = true;
      break;
    }
    Vec<N> d{};
    for (size_t i = 0; i < N; ++i) d[i] = -Dot(h[i], g);
    double slope = Dot(g, d);
    if (!(slope < 0)) {  // not a descent direction: restart from steepest descent
      for (size_t i = 0; i < N; ++i) {
        h[i].fill(0);
        h[i][i] = 1;
        d[i] = -g[i];
      }
      first_update = true;
      slope = Dot(g, d);
    }
    double step = std::min(1.0, 5.0 / MaxAbs(d));
    Vec<N> xn{}, gn{};
    double fn = 0;
    bool accepted = false;
    for (int k = 0; k < 40; ++k, step *= 0.5) {
      // A decrease this small cannot be told from rounding: stop searching.
      if (-step * slope <= 1e-15 * std::fabs(fx)) break;
      for (size_t i = 0; i < N; ++i) xn[i] = x[i] + step * d[i];
      fn = f(xn, &gn);
      ++out.evaluations;
      // Strictly lower as well: near the optimum the Armijo bound rounds to
      // fx itself, and equal values would let the search creep forever.
      if (std::isfinite(fn) && fn < fx && fn <= fx + 1e-4 * step * slope) {
        accepted = true;
        break;
      }
    }
    if (!accepted) {
      out.converged = MaxAbs(g) < 1e-6;
      break;
    }
    Vec<N> s{}, y{};
    for (size_t i = 0; i < N; ++i) {
      s[i] = xn[i] - x[i];
      y[i] = gn[i] - g[i];
    }
    x = xn;
    g = gn;
    fx = fn;
    const double sy = Dot(s, y);
    if (sy > 1e-12 * std::sqrt(Dot(s, s) * Dot(y, y))) {
      if (first_update) {  // scale the identity to the observed curvature first
        const double scale = sy / Dot(y, y);
        for (size_t i = 0; i < N; ++i) {
          h[i].fill(0);
          h[i][i] = scale;
        }
        first_update = false;
      }
      // H <- (I - rho s y') H (I - rho y s') + rho s s'
      const double rho = 1 / sy;
      Vec<N> hy{};
      for (size_t i = 0; i < N; ++i) hy[i] = Dot(h[i], y);
      const double yhy = Dot(y, hy);
      for (size_t i = 0; i < N; ++i) {
        for (size_t j = 0; j < N; ++j) {
          h[i][j] += -rho * (hy[i] * s[j] + s[i] * hy[j]) + (rho * rho * yhy + rho) * s[i] * s[j];
        }
      }
    }
  }
  out.x = x;
  out.f = fx;
  out.iterations = it;
  return out;
}

// Sorted distinct values of `values` and, for each input, its index among them.
std::vector<double> Distinct(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  values.erase(std::unique(values.begin(), values.end()), values.end());
  return values;
}

int32_t IndexOf(const std::vector<double>& sorted, double v) {
  return static_cast<int32_t>(std::lower_bound(sorted.begin(), sorted.end(), v) - sorted.begin());
}

// ---------------------------------------------------------------------------
// BG/NBD data and objective

absl::Status ValidateBgNbdRow(const LifetimesSummary& row, size_t i) {
  const double x = row.frequency, rec = row.recency, t = row.t;
  if (!std::isfinite(x) || !std::isfinite(rec) || !std::isfinite(t)) {
    return absl::InvalidArgumentError(absl::StrCat("BG/NBD row ", i, ": not finite"));
  }
  if (x < 0 || std::floor(x) != x || x > 1e9) {
    return absl::InvalidArgumentError(
        absl::StrCat("BG/NBD row ", i, ": frequency ", x, " is not a whole number >= 0"));
  }
  if (rec < 0 || rec > t) {
    return absl::InvalidArgumentError(
        absl::StrCat("BG/NBD row ", i, ": recency ", rec, " outside [0, T = ", t, "]"));
  }
  if (x == 0 && rec != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("BG/NBD row ", i, ": recency ", rec, " with frequency 0"));
  }
  return absl::OkStatus();
}

struct BgRow {
  int32_t xi = 0;  // index into xs
  int32_t ri = 0;  // index into recs
  int32_t ti = 0;  // index into ts
  double weight = 0;
};

// Rows grouped by (frequency, recency, T), in sorted order.
struct BgNbdData {
  std::vector<double> xs, recs, ts;  // distinct values, ascending
  std::vector<double> x_weight;      // total weight per distinct frequency
  std::vector<BgRow> rows;
  double total_weight = 0;
  double max_t = 0;
};

absl::StatusOr<BgNbdData> GroupBgNbd(const std::vector<LifetimesSummary>& input) {
  if (input.empty()) return absl::InvalidArgumentError("BG/NBD: no rows");
  std::vector<std::tuple<double, double, double>> keys;
  keys.reserve(input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    if (absl::Status s = ValidateBgNbdRow(input[i], i); !s.ok()) return s;
    // + 0.0 turns a -0.0 recency into +0.0, so both group together.
    keys.emplace_back(input[i].frequency, input[i].recency + 0.0, input[i].t + 0.0);
  }
  std::sort(keys.begin(), keys.end());
  BgNbdData d;
  std::vector<double> xs, recs, ts;
  xs.reserve(keys.size());
  recs.reserve(keys.size());
  ts.reserve(keys.size());
  for (const auto& [x, rec, t] : keys) {
    xs.push_back(x);
    recs.push_back(rec);
    ts.push_back(t);
  }
  d.xs = Distinct(std::move(xs));
  d.recs = Distinct(std::move(recs));
  d.ts = Distinct(std::move(ts));
  d.x_weight.assign(d.xs.size(), 0);
  d.max_t = d.ts.back();
  for (size_t i = 0; i < keys.size();) {
    size_t j = i + 1;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    const auto& [x, rec, t] = keys[i];
    BgRow row;
    row.xi = IndexOf(d.xs, x);
    row.ri = IndexOf(d.recs, rec);
    row.ti = IndexOf(d.ts, t);
    row.weight = static_cast<double>(j - i);
    d.x_weight[row.xi] += row.weight;
    d.rows.push_back(row);
    i = j;
  }
  d.total_weight = static_cast<double>(keys.size());
  return d;
}

// Total log-likelihood at (r, alpha, a, b) with times multiplied by `scale`,
// and, when grad is not null, its gradient with respect to (r, alpha, a, b).
double BgNbdTotalLogLikelihood(const BgNbdData& d, double scale, const Vec<4>& p, Vec<4>* grad) {
  const double r = p[0], alpha = p[1], a = p[2], b = p[3];
  const double log_alpha = std::log(alpha), log_a = std::log(a);
  const double lg_r = LogGamma(r), lg_b = LogGamma(b), lg_ab = LogGamma(a + b);
  const bool want_grad = grad != nullptr;
  const double dg_r = want_grad ? Digamma(r) : 0, dg_b = want_grad ? Digamma(b) : 0,
               dg_ab = want_grad ? Digamma(a + b) : 0;

  // Per distinct frequency: the constant part of the row's log-likelihood
  // (A1 + A2 of lifetimes), log(a / (b + x - 1)), and their derivatives.
  const size_t nx = d.xs.size();
  std::vector<double> log_a4(nx, 0);
  double ll = 0;
  Vec<4> g{};
  for (size_t k = 0; k < nx; ++k) {
    const double x = d.xs[k], w = d.x_weight[k];
    ll += w * (LogGamma(r + x) - lg_r + r * log_alpha + lg_ab + LogGamma(b + x) - lg_b -
               LogGamma(a + b + x));
    if (x > 0) log_a4[k] = log_a - std::log(b + x - 1);
    if (want_grad) {
      const double dg_abx = Digamma(a + b + x);
      g[0] += w * (Digamma(r + x) - dg_r + log_alpha);
      g[1] += w * (r / alpha);
      g[2] += w * (dg_ab - dg_abx);
      g[3] += w * (dg_ab + Digamma(b + x) - dg_b - dg_abx);
    }
  }
  std::vector<double> log_t(d.ts.size()), inv_t(d.ts.size());
  for (size_t j = 0; j < d.ts.size(); ++j) {
    const double v = alpha + scale * d.ts[j];
    log_t[j] = std::log(v);
    inv_t[j] = 1 / v;
  }
  std::vector<double> log_rec(d.recs.size()), inv_rec(d.recs.size());
  for (size_t j = 0; j < d.recs.size(); ++j) {
    const double v = alpha + scale * d.recs[j];
    log_rec[j] = std::log(v);
    inv_rec[j] = 1 / v;
  }
  // Per row: log(exp(A3) + [x > 0] exp(A4)) with A3 = -(r + x) log(alpha + T)
  // and A4 = log(a / (b + x - 1)) - (r + x) log(alpha + recency), as a
  // log-sum-exp; s3, s4 are the shares of the two terms (for the gradient).
  double g0 = 0, g1 = 0, g2 = 0, g3 = 0;
  for (const BgRow& row : d.rows) {
    const double x = d.xs[row.xi];
    const double rx = r + x;
    const double a3 = -rx * log_t[row.ti];
    if (x == 0) {
      ll += row.weight * a3;
      if (want_grad) {
        g0 -= row.weight * log_t[row.ti];
        g1 -= row.weight * rx * inv_t[row.ti];
      }
      continue;
    }
    const double a4 = log_a4[row.xi] - rx * log_rec[row.ri];
    const double e = std::exp(-std::fabs(a3 - a4));
    ll += row.weight * (std::max(a3, a4) + std::log1p(e));
    if (want_grad) {
      const double big = 1 / (1 + e), small = e / (1 + e);
      const double s3 = a3 >= a4 ? big : small;
      const double s4 = a3 >= a4 ? small : big;
      g0 -= row.weight * (s3 * log_t[row.ti] + s4 * log_rec[row.ri]);
      g1 -= row.weight * rx * (s3 * inv_t[row.ti] + s4 * inv_rec[row.ri]);
      g2 += row.weight * s4 / a;
      g3 -= row.weight * s4 / (b + x - 1);
    }
  }
  if (want_grad) {
    g[0] += g0;
    g[1] += g1;
    g[2] += g2;
    g[3] += g3;
    *grad = g;
  }
  return ll;
}

// ---------------------------------------------------------------------------
// Gamma-Gamma data and objective

struct GgRow {
  int32_t xi = 0;
  double m = 0;
  double log_m = 0;
  double weight = 0;
};

struct GammaGammaData {
  std::vector<double> xs;  // distinct frequencies, ascending
  std::vector<double> x_weight;
  std::vector<GgRow> rows;
  double total_weight = 0;
  double weighted_mean_m = 0;
  int64_t skipped = 0;
};

absl::StatusOr<GammaGammaData> GroupGammaGamma(const std::vector<LifetimesSummary>& input) {
  std::vector<std::pair<double, double>> keys;
  GammaGammaData d;
  for (size_t i = 0; i < input.size(); ++i) {
    const double x = input[i].frequency, m = input[i].monetary_value;
    if (!std::isfinite(x) || x < 0 || std::floor(x) != x || x > 1e9) {
      return absl::InvalidArgumentError(
          absl::StrCat("Gamma-Gamma row ", i, ": frequency ", x, " is not a whole number >= 0"));
    }
    if (x == 0) continue;
    if (!std::isfinite(m)) {
      return absl::InvalidArgumentError(
          absl::StrCat("Gamma-Gamma row ", i, ": monetary value not finite"));
    }
    if (m <= 0) {
      ++d.skipped;
      continue;
    }
    keys.emplace_back(x, m);
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(
        "Gamma-Gamma: no row with frequency > 0 and monetary value > 0");
  }
  std::sort(keys.begin(), keys.end());
  std::vector<double> xs;
  xs.reserve(keys.size());
  for (const auto& [x, m] : keys) xs.push_back(x);
  d.xs = Distinct(std::move(xs));
  d.x_weight.assign(d.xs.size(), 0);
  double sum_m = 0;
  for (size_t i = 0; i < keys.size();) {
    size_t j = i + 1;
    while (j < keys.size() && keys[j] == keys[i]) ++j;
    GgRow row;
    row.xi = IndexOf(d.xs, keys[i].first);
    row.m = keys[i].second;
    row.log_m = std::log(row.m);
    row.weight = static_cast<double>(j - i);
    d.x_weight[row.xi] += row.weight;
    sum_m += row.weight * row.m;
    d.rows.push_back(row);
    i = j;
  }
  d.total_weight = static_cast<double>(keys.size());
  d.weighted_mean_m = sum_m / d.total_weight;
  return d;
}

// Total log-likelihood (lifetimes' form) with monetary values divided by
// `scale`, and its gradient with respect to (p, q, v).
double GammaGammaTotalLogLikelihood(const GammaGammaData& d, double scale, const Vec<3>& par,
                                    Vec<3>* grad) {
  const double p = par[0], q = par[1], v = par[2];
  const double log_v = std::log(v), log_scale = std::log(scale);
  const double lg_q = LogGamma(q);
  const bool want_grad = grad != nullptr;
  const double dg_q = want_grad ? Digamma(q) : 0;
  double ll = 0;
  Vec<3> g{};
  std::vector<double> dg_px(d.xs.size()), dg_pxq(d.xs.size());
  for (size_t k = 0; k < d.xs.size(); ++k) {
    const double x = d.xs[k], w = d.x_weight[k], px = p * x;
    ll += w * (LogGamma(px + q) - LogGamma(px) - lg_q + q * log_v + px * std::log(x));
    if (want_grad) {
      dg_px[k] = Digamma(px);
      dg_pxq[k] = Digamma(px + q);
      g[0] += w * x * (dg_pxq[k] - dg_px[k] + std::log(x));
      g[1] += w * (dg_pxq[k] - dg_q + log_v);
      g[2] += w * q / v;
    }
  }
  for (const GgRow& row : d.rows) {
    const double x = d.xs[row.xi], px = p * x;
    const double m = row.m / scale, log_m = row.log_m - log_scale;
    const double xmv = x * m + v;
    const double log_xmv = std::log(xmv);
    ll += row.weight * ((px - 1) * log_m - (px + q) * log_xmv);
    if (want_grad) {
      g[0] += row.weight * x * (log_m - log_xmv);
      g[1] -= row.weight * log_xmv;
      g[2] -= row.weight * (px + q) / xmv;
    }
  }
  if (want_grad) *grad = g;
  return ll;
}

}  // namespace

// ---------------------------------------------------------------------------
// BG/NBD

absl::StatusOr<BgNbdFit> FitBgNbd(const std::vector<LifetimesSummary>& rows,
                                  const BgNbdFitOptions& options) {
  absl::StatusOr<BgNbdData> data = GroupBgNbd(rows);
  if (!data.ok()) return data.status();
  const BgNbdData& d = *data;
  // Rescale time so that the largest T is 10 (lifetimes' _scale_time): alpha
  // then starts near its optimum's order of magnitude whatever the unit.
  const double scale = d.max_t > 0 ? 10 / d.max_t : 1;
  const double w = d.total_weight, penalizer = options.penalizer;
  auto objective = [&](const Vec<4>& theta, Vec<4>* grad) {
    Vec<4> p{};
    for (size_t i = 0; i < 4; ++i) p[i] = std::exp(theta[i]);
    if (!AllPositiveFinite({p[0], p[1], p[2], p[3]})) return kNaN;
    Vec<4> g{};
    const double ll = BgNbdTotalLogLikelihood(d, scale, p, &g);
    double pen = 0;
    for (size_t i = 0; i < 4; ++i) {
      pen += p[i] * p[i];
      (*grad)[i] = -g[i] * p[i] / w + 2 * penalizer * p[i] * p[i];
    }
    return -ll / w + penalizer * pen;
  };
  const MinimizeResult<4> m = MinimizeBfgs<4>(objective, Vec<4>{0, 0, 0, 0},
                                              options.gradient_tolerance, options.max_iterations);
  BgNbdFit fit;
  fit.params.r = std::exp(m.x[0]);
  fit.params.alpha = std::exp(m.x[1]) / scale;
  fit.params.a = std::exp(m.x[2]);
  fit.params.b = std::exp(m.x[3]);
  fit.log_likelihood = BgNbdTotalLogLikelihood(
      d, 1, Vec<4>{fit.params.r, fit.params.alpha, fit.params.a, fit.params.b}, nullptr);
  fit.customers = static_cast<int64_t>(rows.size());
  fit.distinct_rows = static_cast<int64_t>(d.rows.size());
  fit.iterations = m.iterations;
  fit.evaluations = m.evaluations;
  fit.converged = m.converged && std::isfinite(fit.log_likelihood);
  return fit;
}

absl::StatusOr<double> BgNbdLogLikelihood(const BgNbdParams& params,
                                          const std::vector<LifetimesSummary>& rows) {
  if (!AllPositiveFinite({params.r, params.alpha, params.a, params.b})) {
    return absl::InvalidArgumentError("BG/NBD parameters must be finite and > 0");
  }
  absl::StatusOr<BgNbdData> data = GroupBgNbd(rows);
  if (!data.ok()) return data.status();
  return BgNbdTotalLogLikelihood(*data, 1, Vec<4>{params.r, params.alpha, params.a, params.b},
                                 nullptr);
}

// ---------------------------------------------------------------------------
// Gamma-Gamma

absl::StatusOr<GammaGammaFit> FitGammaGamma(const std::vector<LifetimesSummary>& rows,
                                            const GammaGammaFitOptions& options) {
  absl::StatusOr<GammaGammaData> data = GroupGammaGamma(rows);
  if (!data.ok()) return data.status();
  const GammaGammaData& d = *data;
  const double scale = d.weighted_mean_m;  // money in units of its mean
  const double w = d.total_weight, penalizer = options.penalizer;
  auto objective = [&](const Vec<3>& theta, Vec<3>* grad) {
    Vec<3> p{};
    for (size_t i = 0; i < 3; ++i) p[i] = std::exp(theta[i]);
    if (!AllPositiveFinite({p[0], p[1], p[2]})) return kNaN;
    Vec<3> g{};
    const double ll = GammaGammaTotalLogLikelihood(d, scale, p, &g);
    double pen = 0;
    for (size_t i = 0; i < 3; ++i) {
      pen += p[i] * p[i];
      (*grad)[i] = -g[i] * p[i] / w + 2 * penalizer * p[i] * p[i];
    }
    return -ll / w + penalizer * pen;
  };
  const MinimizeResult<3> m = MinimizeBfgs<3>(objective, Vec<3>{0, 0, 0},
                                              options.gradient_tolerance, options.max_iterations);
  GammaGammaFit fit;
  fit.params.p = std::exp(m.x[0]);
  fit.params.q = std::exp(m.x[1]);
  fit.params.v = std::exp(m.x[2]) * scale;
  fit.log_likelihood =
      GammaGammaTotalLogLikelihood(d, 1, Vec<3>{fit.params.p, fit.params.q, fit.params.v}, nullptr);
  fit.customers = static_cast<int64_t>(d.total_weight);
  fit.skipped = d.skipped;
  fit.distinct_rows = static_cast<int64_t>(d.rows.size());
  fit.iterations = m.iterations;
  fit.evaluations = m.evaluations;
  fit.converged = m.converged && std::isfinite(fit.log_likelihood);
  return fit;
}

absl::StatusOr<double> GammaGammaLogLikelihood(const GammaGammaParams& params,
                                               const std::vector<LifetimesSummary>& rows) {
  if (!AllPositiveFinite({params.p, params.q, params.v})) {
    return absl::InvalidArgumentError("Gamma-Gamma parameters must be finite and > 0");
  }
  absl::StatusOr<GammaGammaData> data = GroupGammaGamma(rows);
  if (!data.ok()) return data.status();
  return GammaGammaTotalLogLikelihood(*data, 1, Vec<3>{params.p, params.q, params.v}, nullptr);
}

}  // namespace custops::domain

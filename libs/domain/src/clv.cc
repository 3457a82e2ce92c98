// Predictive CLV: BG/NBD and Gamma-Gamma maximum likelihood, predictions and
// discounted CLV (docs/value.md "Predictive CLV").
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
#include "custops/domain/clv.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace custops::domain {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

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

// ---------------------------------------------------------------------------
// Gauss hypergeometric series

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

// ---------------------------------------------------------------------------
// Random numbers for the simulation: splitmix64 seeding xoshiro256**, and
// samplers written here so that a seed gives the same rows everywhere.

class Rng {
 public:
  explicit Rng(uint64_t seed) {
    for (uint64_t& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  uint64_t Next() {
    const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = Rotl(s_[3], 45);
    return result;
  }
  // Uniform in (0, 1), never 0 or 1.
  double Uniform() { return (static_cast<double>(Next() >> 11) + 0.5) * 0x1.0p-53; }
  // Uniform whole number in [lo, hi].
  int64_t UniformInt(int64_t lo, int64_t hi) {
    const uint64_t span = static_cast<uint64_t>(hi - lo) + 1;
    return lo + static_cast<int64_t>(Next() % span);  // bias below 2^-40 for spans < 2^24
  }
  double Normal() {  // Marsaglia polar method, one of the pair
    for (;;) {
      const double u = 2 * Uniform() - 1, v = 2 * Uniform() - 1;
      const double s = u * u + v * v;
      if (s < 1 && s > 0) return u * std::sqrt(-2 * std::log(s) / s);
    }
  }
  double Exponential(double rate) { return -std::log(Uniform()) / rate; }
  // Gamma(shape, rate): Marsaglia & Tsang, boosted for shape < 1.
  double Gamma(double shape, double rate) {
    if (shape < 1) return Gamma(shape + 1, rate) * std::pow(Uniform(), 1 / shape);
    const double d = shape - 1.0 / 3, c = 1 / std::sqrt(9 * d);
    for (;;) {
      double x, v;
      do {
        x = Normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const double u = Uniform();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v / rate;
      if (std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v / rate;
    }
  }
  double Beta(double a, double b) {
    const double x = Gamma(a, 1), y = Gamma(b, 1);
    return x / (x + y);
  }

 private:
  static uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

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

// ---------------------------------------------------------------------------
// Simulation

std::vector<LifetimesSummary> SimulateBgNbd(const BgNbdParams& params,
                                            const BgNbdSimulationOptions& options) {
  Rng rng(options.seed);
  const double unit = static_cast<double>(options.days_per_unit);
  std::vector<LifetimesSummary> out;
  out.reserve(static_cast<size_t>(std::max<int64_t>(options.customers, 0)));
  for (int64_t i = 0; i < options.customers; ++i) {
    const int64_t age_days = rng.UniformInt(options.min_age_days, options.max_age_days);
    const double age = static_cast<double>(age_days) / unit;
    const double lambda = rng.Gamma(params.r, params.alpha);  // purchases per unit
    const double p = rng.Beta(params.a, params.b);
    const double nu = rng.Gamma(options.spend.q, options.spend.v);
    LifetimesSummary s;
    s.t = age;
    int64_t periods = 0, last_day = 0;
    double sum = 0, last = 0;
    for (double t = 0;;) {
      t += rng.Exponential(lambda);
      if (t > age) break;
      const double spend = rng.Gamma(options.spend.p, nu);
      if (!options.whole_days) {
        ++periods;
        last = t;
        sum += spend;
      } else {
        // The day of the purchase; a purchase on the first day joins the
        // first purchase, one on the day of the previous joins that period.
        const int64_t day = std::min(age_days, static_cast<int64_t>(std::floor(t * unit)));
        if (day != 0) {
          if (day != last_day) ++periods;
          last_day = day;
          last = static_cast<double>(day) / unit;
          sum += spend;
        }
      }
      if (rng.Uniform() < p) break;  // drops out after this purchase
    }
    s.frequency = static_cast<double>(periods);
    s.recency = last;
    s.monetary_value = periods == 0 ? 0 : sum / static_cast<double>(periods);
    out.push_back(s);
  }
  return out;
}

}  // namespace custops::domain

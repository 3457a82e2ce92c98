// Predictive CLV, the simulation: SimulateBgNbd draws customers from the
// BG/NBD and Gamma-Gamma models with a generator of its own, so that a seed
// gives the same rows everywhere (docs/value.md "Predictive CLV"). The fits
// are clv_fit.cc, the predictions clv.cc.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "custops/domain/clv.h"

namespace custops::domain {
namespace {

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

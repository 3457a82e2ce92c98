// Predictive CLV fit time (issue 4: "BG/NBD + Gamma-Gamma fit time at 100k
// and 1M customers"), one core.
//
// Setup, once per population and outside every timed region: customers
// simulated from a BG/NBD (domain::SimulateBgNbd, seed 1) with r 0.5,
// alpha 6 weeks, a 0.9, b 3 and Gamma-Gamma spend p 6, q 4, v 3000 (minor
// units), observed for 1 to 730 whole days, summarized in weeks like
// lifetimes' summary_data_from_transaction_data (whole days, same-day
// purchases merged).
//
// BM_FitBgNbd/customers:N       FitBgNbd of the N rows (grouping included).
// BM_FitGammaGamma/customers:N  FitGammaGamma of the same rows (repeat buyers).
// BM_FitBoth/customers:N        both, as a scheduled refit does them.
// BM_PredictClv/customers:N     PredictedClvUnits of every customer (12 months).
// Counters: distinct rows after grouping, iterations, and the fitted
// parameters (they must sit near the simulated ones).
//
// Run (Release build, nothing else busy):
//   cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release && ninja -C build clv_bench
//   build/bench/clv_bench --benchmark_counters_tabular=true
#include <cstdint>
#include <map>
#include <vector>

#include "benchmark/benchmark.h"
#include "custops/domain/clv.h"
#include "custops/domain/value.h"

namespace custops::bench {
namespace {

using domain::BgNbdParams;
using domain::LifetimesSummary;

const std::vector<LifetimesSummary>& Population(int64_t customers) {
  static std::map<int64_t, std::vector<LifetimesSummary>> cache;
  auto it = cache.find(customers);
  if (it == cache.end()) {
    domain::BgNbdSimulationOptions sim;
    sim.customers = customers;
    sim.max_age_days = 730;
    sim.seed = 1;
    it = cache
             .emplace(customers, domain::SimulateBgNbd(
                                     BgNbdParams{.r = 0.5, .alpha = 6, .a = 0.9, .b = 3}, sim))
             .first;
  }
  return it->second;
}

void BM_FitBgNbd(benchmark::State& state) {
  const std::vector<LifetimesSummary>& rows = Population(state.range(0));
  domain::BgNbdFit fit;
  for (auto _ : state) {
    absl::StatusOr<domain::BgNbdFit> f = domain::FitBgNbd(rows, {});
    if (!f.ok() || !f->converged) {
      state.SkipWithError("fit failed");
      return;
    }
    fit = *f;
    benchmark::DoNotOptimize(fit);
  }
  state.counters["distinct_rows"] = static_cast<double>(fit.distinct_rows);
  state.counters["iterations"] = fit.iterations;
  state.counters["evaluations"] = fit.evaluations;
  state.counters["r"] = fit.params.r;
  state.counters["alpha"] = fit.params.alpha;
  state.counters["a"] = fit.params.a;
  state.counters["b"] = fit.params.b;
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_FitGammaGamma(benchmark::State& state) {
  const std::vector<LifetimesSummary>& rows = Population(state.range(0));
  domain::GammaGammaFit fit;
  for (auto _ : state) {
    absl::StatusOr<domain::GammaGammaFit> f = domain::FitGammaGamma(rows, {});
    if (!f.ok() || !f->converged) {
      state.SkipWithError("fit failed");
      return;
    }
    fit = *f;
    benchmark::DoNotOptimize(fit);
  }
  state.counters["distinct_rows"] = static_cast<double>(fit.distinct_rows);
  state.counters["iterations"] = fit.iterations;
  state.counters["evaluations"] = fit.evaluations;
  state.counters["p"] = fit.params.p;
  state.counters["q"] = fit.params.q;
  state.counters["v"] = fit.params.v;
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_FitBoth(benchmark::State& state) {
  const std::vector<LifetimesSummary>& rows = Population(state.range(0));
  for (auto _ : state) {
    absl::StatusOr<domain::BgNbdFit> bg = domain::FitBgNbd(rows, {});
    absl::StatusOr<domain::GammaGammaFit> gg = domain::FitGammaGamma(rows, {});
    if (!bg.ok() || !gg.ok()) {
      state.SkipWithError("fit failed");
      return;
    }
    benchmark::DoNotOptimize(bg);
    benchmark::DoNotOptimize(gg);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void BM_PredictClv(benchmark::State& state) {
  const std::vector<LifetimesSummary>& rows = Population(state.range(0));
  const domain::BgNbdFit bg = *domain::FitBgNbd(rows, {});
  const domain::GammaGammaFit gg = *domain::FitGammaGamma(rows, {});
  for (auto _ : state) {
    int64_t total = 0;
    for (const LifetimesSummary& s : rows) {
      absl::StatusOr<int64_t> clv = domain::PredictedClvUnits(bg.params, gg.params, s, {});
      if (clv.ok()) total += *clv;
    }
    benchmark::DoNotOptimize(total);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

BENCHMARK(BM_FitBgNbd)
    ->ArgName("customers")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FitGammaGamma)
    ->ArgName("customers")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_FitBoth)
    ->ArgName("customers")
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_PredictClv)->ArgName("customers")->Arg(100'000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace custops::bench

BENCHMARK_MAIN();

// Predictive CLV (clv.h) against the `lifetimes` documentation's published
// CDNOW results (docs/Quickstart.md of CamDavidsonPilon/lifetimes, and the
// BG/NBD paper's log-likelihood), against independent computations written
// here (a per-customer log-likelihood, a numerical integral of the expected
// purchases), and for its properties (determinism, order independence,
// maximality, parameter recovery from simulated customers).
#include "custops/domain/clv.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <random>
#include <vector>

#include "cdnow_data.h"
#include "custops/domain/value.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

using ::custops::testing::StatusIs;
using testing::FindCdnowDir;
using ::testing::HasSubstr;
using testing::kCdnowObservationEnd;
using testing::ReadCdnowCsv;
using testing::ReadCdnowSample;

// lifetimes Quickstart, BetaGeoFitter on cdnow_customers_summary.csv (weeks).
constexpr BgNbdParams kPublishedBg{.r = 0.242593, .alpha = 4.413532, .a = 0.792886, .b = 2.425752};
// lifetimes Quickstart, GammaGammaFitter on the 946 repeat buyers (dollars),
// printed to two decimals.
constexpr GammaGammaParams kPublishedGg{.p = 6.25, .q = 3.74, .v = 15.45};

double Rel(double got, double want) { return std::fabs(got - want) / std::fabs(want); }

LifetimesSummary Row(double frequency, double recency, double t, double monetary = 0) {
  LifetimesSummary s;
  s.frequency = frequency;
  s.recency = recency;
  s.t = t;
  s.monetary_value = monetary;
  return s;
}

// The published summaries: ID → (frequency, recency, T, monetary dollars),
// monetary from cdnow_customers_summary_with_transactions.csv (zbar).
std::map<int, LifetimesSummary> PublishedSummaries() {
  const std::filesystem::path dir = FindCdnowDir();
  std::map<int, LifetimesSummary> out;
  if (dir.empty()) return out;
  for (const auto& [id, v] : ReadCdnowCsv(dir / "cdnow_customers_summary_with_transactions.csv")) {
    if (v.size() != 4) return {};
    out[id] = Row(v[0], v[1], v[2], v[3]);
  }
  return out;
}

std::vector<LifetimesSummary> Values(const std::map<int, LifetimesSummary>& m) {
  std::vector<LifetimesSummary> out;
  for (const auto& [id, s] : m) out.push_back(s);
  return out;
}

// Our own summaries of CDNOW_sample.txt (weeks, monetary in cents).
std::vector<LifetimesSummary> OurCdnowSummaries() {
  const std::filesystem::path dir = FindCdnowDir();
  std::vector<LifetimesSummary> out;
  if (dir.empty()) return out;
  for (const auto& [id, purchases] : ReadCdnowSample(dir / "CDNOW_sample.txt")) {
    std::optional<LifetimesSummary> s =
        SummarizeLikeLifetimes(purchases, kCdnowObservationEnd, /*days_per_unit=*/7);
    if (s) out.push_back(*s);
  }
  return out;
}

// The BG/NBD log-likelihood of one customer, written from the paper (eq. 6)
// directly, with no grouping and no shared code.
double NaiveBgNbdLogLikelihood(const BgNbdParams& p, const LifetimesSummary& c) {
  const double x = c.frequency;
  const double log_beta_ratio_1 =
      std::lgamma(p.a + p.b) + std::lgamma(p.b + x) - std::lgamma(p.b) - std::lgamma(p.a + p.b + x);
  const double gamma_part = std::lgamma(p.r + x) - std::lgamma(p.r) + p.r * std::log(p.alpha);
  double likelihood = std::exp(-(p.r + x) * std::log(p.alpha + c.t));
  if (x > 0) {
    likelihood += p.a / (p.b + x - 1) * std::exp(-(p.r + x) * std::log(p.alpha + c.recency));
  }
  return gamma_part + log_beta_ratio_1 + std::log(likelihood);
}

// E[X(t) | x, t_x, T] as an integral over the posterior of (lambda, p)
// (BG/NBD paper eq. 7 averaged over the posterior): lambda | alive ~
// Gamma(r + x, alpha + T) integrates in closed form, p | alive ~ Beta(a, b + x)
// numerically, times P(alive) from Hardie's note 021 written out here.
// Simpson's rule on s with p = s^k, k = max(2, 2 / a): then p^(a-1) dp =
// k s^(k a - 1) ds is smooth and so is the rest near p = 0.
double IntegratedExpectedPurchases(const BgNbdParams& m, const LifetimesSummary& c, double t) {
  const double x = c.frequency;
  double p_alive = 1;
  if (x > 0) {
    p_alive =
        1 / (1 + m.a / (m.b + x - 1) * std::pow((m.alpha + c.t) / (m.alpha + c.recency), m.r + x));
  }
  const double k = std::max(2.0, 2 / m.a);
  auto integrand = [&](double s) {
    if (s == 0) return 0.0;
    const double p = std::pow(s, k);
    // (1/p) (1 - E[exp(-lambda p t)]) with lambda ~ Gamma(r + x, alpha + T).
    const double rate_part =
        p < 1e-200 ? (m.r + x) * t / (m.alpha + c.t)
                   : -std::expm1(-(m.r + x) * std::log1p(p * t / (m.alpha + c.t))) / p;
    return rate_part * std::pow(1 - p, m.b + x - 1) * k * std::pow(s, k * m.a - 1);
  };
  constexpr int kIntervals = 200'000;  // even
  const double h = 1.0 / kIntervals;
  double sum = integrand(0) + integrand(1);
  for (int i = 1; i < kIntervals; ++i) sum += (i % 2 == 1 ? 4 : 2) * integrand(i * h);
  const double integral = sum * h / 3;
  const double log_beta = std::lgamma(m.a) + std::lgamma(m.b + x) - std::lgamma(m.a + m.b + x);
  return p_alive * integral / std::exp(log_beta);
}

// ---------------------------------------------------------------------------
// CDNOW against the published values

TEST(ClvCdnowTest, BgNbdFitMatchesLifetimesOnThePublishedSummary) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const std::map<int, LifetimesSummary> published = PublishedSummaries();
  ASSERT_EQ(published.size(), 2357u);
  absl::StatusOr<BgNbdFit> fit = FitBgNbd(Values(published), BgNbdFitOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status();
  std::printf(
      "BG/NBD on the published summary: r %.6f alpha %.6f a %.6f b %.6f LL %.4f "
      "(%d iterations, %lld distinct rows)\n",
      fit->params.r, fit->params.alpha, fit->params.a, fit->params.b, fit->log_likelihood,
      fit->iterations, static_cast<long long>(fit->distinct_rows));
  EXPECT_TRUE(fit->converged);
  EXPECT_EQ(fit->customers, 2357);
  EXPECT_LT(fit->distinct_rows, 2357);  // identical rows were grouped
  // The issue asks for 1%; the same data and likelihood agree far closer.
  EXPECT_LT(Rel(fit->params.r, kPublishedBg.r), 1e-3);
  EXPECT_LT(Rel(fit->params.alpha, kPublishedBg.alpha), 1e-3);
  EXPECT_LT(Rel(fit->params.a, kPublishedBg.a), 1e-3);
  EXPECT_LT(Rel(fit->params.b, kPublishedBg.b), 1e-3);
  // Fader, Hardie & Lee (2005) report LL = -9582.4 for these parameters on
  // the exact weekly data; the published summary rounds recency and T to
  // 0.01 week, which moves the total by a few hundredths.
  EXPECT_NEAR(fit->log_likelihood, -9582.4, 0.5);
}

TEST(ClvCdnowTest, BgNbdFitOnOurSummaryOfTheSampleIsWithinOnePercent) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const std::vector<LifetimesSummary> ours = OurCdnowSummaries();
  ASSERT_EQ(ours.size(), 2357u);
  absl::StatusOr<BgNbdFit> fit = FitBgNbd(ours, BgNbdFitOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status();
  std::printf("BG/NBD on our summary: r %.6f alpha %.6f a %.6f b %.6f LL %.4f\n", fit->params.r,
              fit->params.alpha, fit->params.a, fit->params.b, fit->log_likelihood);
  EXPECT_TRUE(fit->converged);
  EXPECT_LT(Rel(fit->params.r, kPublishedBg.r), 0.01);
  EXPECT_LT(Rel(fit->params.alpha, kPublishedBg.alpha), 0.01);
  EXPECT_LT(Rel(fit->params.a, kPublishedBg.a), 0.01);
  EXPECT_LT(Rel(fit->params.b, kPublishedBg.b), 0.01);
  EXPECT_NEAR(fit->log_likelihood, -9582.4, 0.5);
}

TEST(ClvCdnowTest, LogLikelihoodEqualsThePerCustomerFormulaAndIsMaximal) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const std::vector<LifetimesSummary> rows = Values(PublishedSummaries());
  ASSERT_EQ(rows.size(), 2357u);
  absl::StatusOr<BgNbdFit> fit = FitBgNbd(rows, BgNbdFitOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status();
  for (const BgNbdParams& p : {kPublishedBg, fit->params, BgNbdParams{0.5, 6, 1.2, 3.3}}) {
    double naive = 0;
    for (const LifetimesSummary& c : rows) naive += NaiveBgNbdLogLikelihood(p, c);
    absl::StatusOr<double> ll = BgNbdLogLikelihood(p, rows);
    ASSERT_TRUE(ll.ok()) << ll.status();
    EXPECT_NEAR(*ll, naive, 1e-9 * std::fabs(naive));
  }
  EXPECT_NEAR(fit->log_likelihood, *BgNbdLogLikelihood(fit->params, rows), 1e-9);
  // Every parameter moved by 0.1% either way lowers the likelihood.
  for (int i = 0; i < 4; ++i) {
    for (double factor : {0.999, 1.001}) {
      BgNbdParams q = fit->params;
      double* field[] = {&q.r, &q.alpha, &q.a, &q.b};
      *field[i] *= factor;
      EXPECT_LT(*BgNbdLogLikelihood(q, rows), fit->log_likelihood) << i << " x " << factor;
    }
  }
}

TEST(ClvCdnowTest, ExpectedPurchasesMatchTheQuickstartRanking) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  // bgf.conditional_expected_number_of_purchases_up_to_time(1, ...): the five
  // highest customers of the Quickstart (ID: frequency, recency, T → value).
  struct Case {
    int id;
    double x, recency, t, want;
  };
  const Case cases[] = {{509, 18, 35.14, 35.86, 0.424877},
                        {841, 19, 34.00, 34.14, 0.474738},
                        {1981, 17, 28.43, 28.86, 0.486526},
                        {157, 29, 37.71, 38.00, 0.662396},
                        {1516, 26, 30.86, 31.00, 0.710623}};
  for (const Case& c : cases) {
    const double got = BgNbdExpectedPurchases(kPublishedBg, Row(c.x, c.recency, c.t), 1);
    EXPECT_LT(Rel(got, c.want), 2e-6) << "ID " << c.id << ": " << got << " vs " << c.want;
  }
  // And they are the top five of the whole population under our fit.
  const std::map<int, LifetimesSummary> published = PublishedSummaries();
  ASSERT_EQ(published.size(), 2357u);
  absl::StatusOr<BgNbdFit> fit = FitBgNbd(Values(published), BgNbdFitOptions{});
  ASSERT_TRUE(fit.ok());
  std::vector<std::pair<double, int>> ranked;
  for (const auto& [id, s] : published) {
    ranked.emplace_back(BgNbdExpectedPurchases(fit->params, s, 1), id);
  }
  std::sort(ranked.rbegin(), ranked.rend());
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(ranked[i].second, cases[4 - i].id) << "rank " << i;
    EXPECT_LT(Rel(ranked[i].first, cases[4 - i].want), 1e-4) << "rank " << i;
  }
}

TEST(ClvCdnowTest, GammaGammaFitMatchesLifetimesOnTheRepeatBuyers) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const std::map<int, LifetimesSummary> published = PublishedSummaries();
  ASSERT_EQ(published.size(), 2357u);
  absl::StatusOr<GammaGammaFit> fit = FitGammaGamma(Values(published), GammaGammaFitOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status();
  std::printf("Gamma-Gamma on the published summary: p %.6f q %.6f v %.6f LL %.4f (%d it)\n",
              fit->params.p, fit->params.q, fit->params.v, fit->log_likelihood, fit->iterations);
  EXPECT_TRUE(fit->converged);
  EXPECT_EQ(fit->customers, 946);  // "fitted with 946 subjects"
  EXPECT_EQ(fit->skipped, 0);
  // Published to two decimals: within half a unit of the last digit.
  EXPECT_NEAR(fit->params.p, kPublishedGg.p, 0.005);
  EXPECT_NEAR(fit->params.q, kPublishedGg.q, 0.005);
  EXPECT_NEAR(fit->params.v, kPublishedGg.v, 0.005);

  // conditional_expected_average_profit of the first customers (Quickstart).
  const std::map<int, double> want = {{1, 24.658619}, {2, 18.911489}, {3, 35.170981},
                                      {6, 71.462843}, {7, 18.911489}, {9, 27.282408}};
  for (const auto& [id, value] : want) {
    const double got = GammaGammaExpectedAverageProfit(fit->params, published.at(id));
    EXPECT_LT(Rel(got, value), 2e-4) << "ID " << id << ": " << got << " vs " << value;
  }
  double sum = 0;
  for (const auto& [id, s] : published) sum += GammaGammaExpectedAverageProfit(fit->params, s);
  EXPECT_LT(Rel(sum / 2357, 35.2529588256), 2e-4);
}

TEST(ClvCdnowTest, GammaGammaOnOurCentsIsTheSameModelScaled) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const std::vector<LifetimesSummary> ours = OurCdnowSummaries();
  ASSERT_EQ(ours.size(), 2357u);
  absl::StatusOr<GammaGammaFit> cents = FitGammaGamma(ours, GammaGammaFitOptions{});
  ASSERT_TRUE(cents.ok()) << cents.status();
  std::vector<LifetimesSummary> dollars = ours;
  for (LifetimesSummary& s : dollars) s.monetary_value /= 100;
  absl::StatusOr<GammaGammaFit> fit = FitGammaGamma(dollars, GammaGammaFitOptions{});
  ASSERT_TRUE(fit.ok()) << fit.status();
  std::printf("Gamma-Gamma on our summary: p %.6f q %.6f v %.6f (cents: v %.4f)\n", fit->params.p,
              fit->params.q, fit->params.v, cents->params.v);
  EXPECT_EQ(cents->customers, 946);
  EXPECT_LT(Rel(fit->params.p, kPublishedGg.p), 0.01);
  EXPECT_LT(Rel(fit->params.q, kPublishedGg.q), 0.01);
  EXPECT_LT(Rel(fit->params.v, kPublishedGg.v), 0.01);
  // The monetary unit only scales v (the fit rescales money by its mean).
  EXPECT_LT(Rel(cents->params.p, fit->params.p), 1e-7);
  EXPECT_LT(Rel(cents->params.q, fit->params.q), 1e-7);
  EXPECT_LT(Rel(cents->params.v, 100 * fit->params.v), 1e-7);
  // The log-likelihood of a density of money shifts by -log(100) per customer.
  EXPECT_NEAR(cents->log_likelihood, fit->log_likelihood - 946 * std::log(100.0), 1e-6);
}

TEST(ClvCdnowTest, DiscountedClvMatchesTheQuickstart) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  // ggf.customer_lifetime_value(bgf, ..., time=12, discount_rate=0.01) with
  // the default freq="D": 30 time units (here weeks) per "month".
  const std::map<int, LifetimesSummary> published = PublishedSummaries();
  ASSERT_EQ(published.size(), 2357u);
  absl::StatusOr<BgNbdFit> bg = FitBgNbd(Values(published), BgNbdFitOptions{});
  absl::StatusOr<GammaGammaFit> gg = FitGammaGamma(Values(published), GammaGammaFitOptions{});
  ASSERT_TRUE(bg.ok() && gg.ok());
  // In cents: v scales with the unit, monetary values are dollars x 100.
  GammaGammaParams gg_cents = gg->params;
  gg_cents.v *= 100;
  const ClvOptions options{
      .horizon_months = 12, .monthly_discount_rate = 0.01, .periods_per_month = 30};
  const std::map<int, double> want_dollars = {{1, 140.096211},  {2, 18.943467}, {3, 38.180574},
                                              {6, 1003.868107}, {7, 28.109683}, {9, 167.418216}};
  for (const auto& [id, dollars] : want_dollars) {
    LifetimesSummary s = published.at(id);
    s.monetary_value = std::round(s.monetary_value * 100);
    absl::StatusOr<int64_t> clv = PredictedClvUnits(bg->params, gg_cents, s, options);
    ASSERT_TRUE(clv.ok()) << clv.status();
    const double want_cents = dollars * 100;
    EXPECT_LE(std::fabs(static_cast<double>(*clv) - want_cents), 0.5 + 5e-4 * want_cents)
        << "ID " << id << ": " << *clv << " cents vs " << want_cents;
  }
}

// ---------------------------------------------------------------------------
// Predictions: independent checks and properties

TEST(ClvPredictionTest, ExpectedPurchasesEqualThePosteriorIntegral) {
  // Both series branches (t / (alpha + T) below and above 1/2), small and
  // large frequencies, and horizons up to far beyond the history.
  const BgNbdParams params[] = {kPublishedBg, {0.8, 30, 1.6, 4.0}, {2.5, 10, 0.3, 1.9}};
  const LifetimesSummary customers[] = {Row(0, 0, 38.86),    Row(0, 0, 0),
                                        Row(1, 1.71, 38.86), Row(7, 29.43, 38.86),
                                        Row(26, 30.86, 31),  Row(60, 2, 52)};
  for (const BgNbdParams& p : params) {
    for (const LifetimesSummary& c : customers) {
      for (double t : {0.5, 1.0, 10.0, 19.0, 52.0, 360.0, 2000.0}) {
        const double got = BgNbdExpectedPurchases(p, c, t);
        const double want = IntegratedExpectedPurchases(p, c, t);
        EXPECT_LT(Rel(got, want), 1e-7) << "r " << p.r << " x " << c.frequency << " T " << c.t
                                        << " t " << t << ": " << got << " vs " << want;
      }
    }
  }
}

TEST(ClvPredictionTest, ExpectedPurchasesAreContinuousAcrossTheSeriesBranches) {
  for (const LifetimesSummary& c : {Row(0, 0, 20), Row(3, 10, 20), Row(200, 19, 20)}) {
    const double edge = 0.5 * (kPublishedBg.alpha + c.t);  // u = 1/2
    const double below = BgNbdExpectedPurchases(kPublishedBg, c, edge);
    const double above = BgNbdExpectedPurchases(kPublishedBg, c, std::nextafter(edge, 1e9));
    EXPECT_LT(Rel(above, below), 1e-12) << c.frequency;
  }
}

TEST(ClvPredictionTest, ExpectedPurchasesProperties) {
  const LifetimesSummary c = Row(4, 20, 38);
  EXPECT_EQ(BgNbdExpectedPurchases(kPublishedBg, c, 0), 0);
  EXPECT_TRUE(std::isnan(BgNbdExpectedPurchases(kPublishedBg, c, -1)));
  double previous = 0;
  for (double t = 1; t <= 4000; t *= 2) {  // increasing in the horizon
    const double e = BgNbdExpectedPurchases(kPublishedBg, c, t);
    EXPECT_GT(e, previous) << t;
    previous = e;
  }
  // A recent last purchase predicts more than an old one.
  EXPECT_GT(BgNbdExpectedPurchases(kPublishedBg, Row(4, 37, 38), 10),
            BgNbdExpectedPurchases(kPublishedBg, Row(4, 5, 38), 10));
  // Large frequencies stay finite (the untransformed series would overflow).
  const double big = BgNbdExpectedPurchases(kPublishedBg, Row(500, 38, 38.5), 5000);
  EXPECT_TRUE(std::isfinite(big));
  EXPECT_GT(big, 0);
}

TEST(ClvPredictionTest, ProbabilityAlive) {
  // lifetimes defines P(alive) = 1 without repeat purchases (dropout only
  // happens right after a purchase), whatever recency and T.
  EXPECT_EQ(BgNbdProbabilityAlive(kPublishedBg, Row(0, 0, 38.86)), 1.0);
  EXPECT_EQ(BgNbdProbabilityAlive(kPublishedBg, Row(0, 0, 1000)), 1.0);
  // Hardie's note 021: 1 / (1 + a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x)).
  const LifetimesSummary c = Row(2, 30.43, 38.86);
  const double want =
      1 / (1 + kPublishedBg.a / (kPublishedBg.b + 1) *
                   std::pow((kPublishedBg.alpha + 38.86) / (kPublishedBg.alpha + 30.43),
                            kPublishedBg.r + 2));
  EXPECT_NEAR(BgNbdProbabilityAlive(kPublishedBg, c), want, 1e-15);
  // Increasing in recency, 1 / (1 + a / (b + x - 1)) when the last purchase is now.
  double previous = 0;
  for (double recency = 0; recency <= 38; recency += 0.5) {
    const double p = BgNbdProbabilityAlive(kPublishedBg, Row(5, recency, 38));
    EXPECT_GT(p, previous) << recency;
    EXPECT_LE(p, 1);
    previous = p;
  }
  EXPECT_NEAR(BgNbdProbabilityAlive(kPublishedBg, Row(5, 38, 38)),
              1 / (1 + kPublishedBg.a / (kPublishedBg.b + 4)), 1e-15);
  // Many purchases long ago: practically gone, and no NaN.
  EXPECT_LT(BgNbdProbabilityAlive(kPublishedBg, Row(1000, 1, 500)), 1e-300);
}

TEST(ClvPredictionTest, GammaGammaExpectedProfitShrinksTowardThePopulationMean) {
  const GammaGammaParams p = kPublishedGg;
  const double mean = p.v * p.p / (p.q - 1);
  EXPECT_DOUBLE_EQ(GammaGammaExpectedAverageProfit(p, Row(0, 0, 10, 0)), mean);
  // One repeat purchase of 100 lands between the mean and 100; more
  // purchases at 100 move it closer to 100.
  const double one = GammaGammaExpectedAverageProfit(p, Row(1, 5, 10, 100));
  const double ten = GammaGammaExpectedAverageProfit(p, Row(10, 5, 10, 100));
  EXPECT_GT(one, mean);
  EXPECT_LT(one, 100);
  EXPECT_GT(ten, one);
  EXPECT_LT(ten, 100);
  EXPECT_TRUE(std::isnan(GammaGammaExpectedAverageProfit({6, 1.0, 15}, Row(1, 5, 10, 100))));
}

TEST(ClvPredictionTest, DiscountedClvProperties) {
  const GammaGammaParams gg{.p = 6.25, .q = 3.74, .v = 1545};  // cents
  const LifetimesSummary c = Row(3, 30, 38, 4000);
  const ClvOptions base{};
  absl::StatusOr<int64_t> clv = PredictedClvUnits(kPublishedBg, gg, c, base);
  ASSERT_TRUE(clv.ok()) << clv.status();
  EXPECT_GT(*clv, 0);
  // Undiscounted over one month: expected purchases x expected spend, rounded.
  const double one_month = BgNbdExpectedPurchases(kPublishedBg, c, base.periods_per_month) *
                           GammaGammaExpectedAverageProfit(gg, c);
  EXPECT_EQ(
      *PredictedClvUnits(kPublishedBg, gg, c, {.horizon_months = 1, .monthly_discount_rate = 0}),
      std::llround(one_month));
  EXPECT_EQ(*PredictedClvUnits(kPublishedBg, gg, c, {.horizon_months = 0}), 0);
  // A higher discount rate or a shorter horizon gives less.
  EXPECT_LT(*PredictedClvUnits(kPublishedBg, gg, c, {.monthly_discount_rate = 0.05}), *clv);
  EXPECT_LT(*PredictedClvUnits(kPublishedBg, gg, c, {.horizon_months = 6}), *clv);
  // Out-of-range options and undefined spend are errors, not garbage money.
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  EXPECT_THAT(PredictedClvUnits(kPublishedBg, gg, c, {.horizon_months = -1}),
              StatusIs(kInvalid, HasSubstr("horizon_months >= 0")));
  EXPECT_THAT(PredictedClvUnits(kPublishedBg, gg, c, {.monthly_discount_rate = -1}),
              StatusIs(kInvalid, HasSubstr("monthly_discount_rate > -1")));
  EXPECT_THAT(PredictedClvUnits(kPublishedBg, gg, c, {.periods_per_month = 0}),
              StatusIs(kInvalid, HasSubstr("periods_per_month > 0")));
  // q <= 1: no finite expected spend.
  EXPECT_THAT(PredictedClvUnits(kPublishedBg, {6, 0.9, 1545}, c, base),
              StatusIs(kInvalid, HasSubstr("CLV not representable")));
}

// ---------------------------------------------------------------------------
// Fitting: determinism, order independence, validation, recovery

TEST(ClvFitTest, FitsAreBitIdenticalAcrossRunsAndInputOrders) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  std::vector<LifetimesSummary> rows = OurCdnowSummaries();
  ASSERT_EQ(rows.size(), 2357u);
  for (LifetimesSummary& s : rows) s.monetary_value /= 100;
  const BgNbdFit bg1 = *FitBgNbd(rows, {});
  const GammaGammaFit gg1 = *FitGammaGamma(rows, {});
  std::mt19937_64 rng(7);
  for (int round = 0; round < 3; ++round) {
    std::vector<LifetimesSummary> shuffled = rows;
    for (size_t i = shuffled.size() - 1; i > 0; --i) {  // Fisher-Yates, fixed seed
      std::swap(shuffled[i], shuffled[rng() % (i + 1)]);
    }
    if (round == 0) shuffled = rows;  // the same input again
    const BgNbdFit bg2 = *FitBgNbd(shuffled, {});
    const GammaGammaFit gg2 = *FitGammaGamma(shuffled, {});
    EXPECT_EQ(bg2.params.r, bg1.params.r);
    EXPECT_EQ(bg2.params.alpha, bg1.params.alpha);
    EXPECT_EQ(bg2.params.a, bg1.params.a);
    EXPECT_EQ(bg2.params.b, bg1.params.b);
    EXPECT_EQ(bg2.log_likelihood, bg1.log_likelihood);
    EXPECT_EQ(gg2.params.p, gg1.params.p);
    EXPECT_EQ(gg2.params.q, gg1.params.q);
    EXPECT_EQ(gg2.params.v, gg1.params.v);
  }
}

TEST(ClvFitTest, RejectsRowsTheModelCannotHave) {
  EXPECT_THAT(FitBgNbd({}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("BG/NBD: no rows")));
  for (const LifetimesSummary& bad :
       {Row(-1, 0, 5), Row(1.5, 1, 5), Row(2, 6, 5), Row(0, 1, 5), Row(2, -1, 5),
        Row(std::nan(""), 0, 5), Row(1, 1, INFINITY)}) {
    absl::StatusOr<BgNbdFit> fit = FitBgNbd({Row(1, 2, 5), bad}, {});
    EXPECT_THAT(fit, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("BG/NBD row 1: ")))
        << bad.frequency << " " << bad.recency << " " << bad.t;
  }
  EXPECT_THAT(BgNbdLogLikelihood({0, 1, 1, 1}, {Row(1, 2, 5)}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("BG/NBD parameters must be finite and > 0")));
  // Gamma-Gamma uses repeat buyers with a positive mean; net credits are
  // skipped and counted; nothing usable is an error.
  EXPECT_THAT(FitGammaGamma({Row(0, 0, 5, 0), Row(2, 3, 5, -10)}, {}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("no row with frequency > 0 and monetary value > 0")));
  std::vector<LifetimesSummary> rows;
  for (int i = 1; i <= 200; ++i) rows.push_back(Row(1 + i % 7, 3, 5, 10 + (i * 37) % 90));
  rows.push_back(Row(2, 3, 5, -10));
  rows.push_back(Row(3, 3, 5, 0));
  rows.push_back(Row(0, 0, 5, 0));
  absl::StatusOr<GammaGammaFit> gg = FitGammaGamma(rows, {});
  ASSERT_TRUE(gg.ok()) << gg.status();
  EXPECT_EQ(gg->customers, 200);
  EXPECT_EQ(gg->skipped, 2);
}

TEST(ClvFitTest, RecoversSimulatedParameters) {
  // 60,000 customers in weeks observed 1 day to 2 years, in continuous time
  // (the model's own data). Over seeds 1..8 the estimates scatter by about
  // 1% (r), 2% (alpha), 3% (a, b), 3% (q) and 5% (p, v, which are strongly
  // correlated); the tolerances are about three times that.
  const BgNbdParams truth{.r = 0.5, .alpha = 6, .a = 0.9, .b = 3};
  BgNbdSimulationOptions sim;
  sim.customers = 60'000;
  sim.max_age_days = 730;
  sim.whole_days = false;
  sim.seed = 42;
  const std::vector<LifetimesSummary> rows = SimulateBgNbd(truth, sim);
  ASSERT_EQ(rows.size(), 60'000u);
  const std::vector<LifetimesSummary> again = SimulateBgNbd(truth, sim);
  EXPECT_EQ(again[12345].recency, rows[12345].recency);  // reproducible
  EXPECT_EQ(again[59999].monetary_value, rows[59999].monetary_value);
  absl::StatusOr<BgNbdFit> bg = FitBgNbd(rows, {});
  ASSERT_TRUE(bg.ok()) << bg.status();
  std::printf("recovered BG/NBD: r %.4f alpha %.4f a %.4f b %.4f (%d iterations)\n", bg->params.r,
              bg->params.alpha, bg->params.a, bg->params.b, bg->iterations);
  EXPECT_TRUE(bg->converged);
  EXPECT_LT(Rel(bg->params.r, truth.r), 0.03);
  EXPECT_LT(Rel(bg->params.alpha, truth.alpha), 0.06);
  EXPECT_LT(Rel(bg->params.a, truth.a), 0.09);
  EXPECT_LT(Rel(bg->params.b, truth.b), 0.09);

  absl::StatusOr<GammaGammaFit> gg = FitGammaGamma(rows, {});
  ASSERT_TRUE(gg.ok()) << gg.status();
  std::printf("recovered Gamma-Gamma: p %.4f q %.4f v %.2f (%lld customers)\n", gg->params.p,
              gg->params.q, gg->params.v, static_cast<long long>(gg->customers));
  EXPECT_TRUE(gg->converged);
  EXPECT_LT(Rel(gg->params.p, sim.spend.p), 0.15);
  EXPECT_LT(Rel(gg->params.q, sim.spend.q), 0.09);
  EXPECT_LT(Rel(gg->params.v, sim.spend.v), 0.15);
}

TEST(ClvFitTest, WholeDaySummariesGroupAndStayClose) {
  // Real summaries count whole days, which groups customers (the fit's cost
  // is per distinct row) and merges a fast buyer's same-day purchases, which
  // the model does not know about: alpha comes out about 4.5% high here.
  const BgNbdParams truth{.r = 0.5, .alpha = 6, .a = 0.9, .b = 3};
  BgNbdSimulationOptions sim;
  sim.customers = 60'000;
  sim.max_age_days = 730;
  sim.seed = 42;
  const std::vector<LifetimesSummary> rows = SimulateBgNbd(truth, sim);
  for (const LifetimesSummary& s : rows) {
    ASSERT_EQ(std::fmod(s.recency * 7, 1.0) < 1e-9 || std::fmod(s.recency * 7, 1.0) > 1 - 1e-9,
              true)
        << s.recency;
  }
  absl::StatusOr<BgNbdFit> bg = FitBgNbd(rows, {});
  ASSERT_TRUE(bg.ok()) << bg.status();
  std::printf("whole days: r %.4f alpha %.4f a %.4f b %.4f (%lld distinct rows of %lld)\n",
              bg->params.r, bg->params.alpha, bg->params.a, bg->params.b,
              static_cast<long long>(bg->distinct_rows), static_cast<long long>(bg->customers));
  EXPECT_TRUE(bg->converged);
  EXPECT_LT(bg->distinct_rows, 45'000);
  EXPECT_LT(Rel(bg->params.r, truth.r), 0.05);
  EXPECT_LT(Rel(bg->params.alpha, truth.alpha), 0.10);
  EXPECT_LT(Rel(bg->params.a, truth.a), 0.10);
  EXPECT_LT(Rel(bg->params.b, truth.b), 0.10);
}

}  // namespace
}  // namespace custops::domain

// Our `lifetimes` summary (SummarizeLikeLifetimes) against the library's own
// summary of the CDNOW sample (cdnow_data.h): frequency, recency and
// T in weeks (cdnow_customers_summary.csv) and the mean repeat value
// (cdnow_customers_summary_with_transactions.csv, zbar), observation end
// 1997-09-30 (a first purchase on 1997-01-01 gives T = 272 / 7 = 38.86).
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "cdnow_data.h"
#include "custops/domain/value.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

namespace fs = std::filesystem;
using testing::FindCdnowDir;
using testing::kCdnowObservationEnd;
using testing::ReadCdnowCsv;
using testing::ReadCdnowSample;

constexpr int64_t kDaysPerWeek = 7;

// Values printed with two decimals agree when ours rounds to the same cents
// (x / 7 never lands on a half cent, so there is no rounding-mode ambiguity).
bool SameTo2Decimals(double ours, double printed) {
  return std::llround(ours * 100) == std::llround(printed * 100);
}

TEST(CdnowSummaryTest, MatchesLifetimesSummaryOfTheSample) {
  CUSTOPS_SKIP_WITHOUT_CDNOW();
  const fs::path dir = FindCdnowDir();

  // CDNOW_sample.txt: customer id, sample id, YYYYMMDD, number of CDs, dollars.
  const std::map<int, std::vector<DatedAmount>> purchases =
      ReadCdnowSample(dir / "CDNOW_sample.txt");  // by sample id (the CSV's ID)
  size_t rows = 0;
  for (const auto& [id, p] : purchases) rows += p.size();
  EXPECT_EQ(rows, 6919u);

  const std::map<int, std::vector<double>> summary =
      ReadCdnowCsv(dir / "cdnow_customers_summary.csv");  // frequency, recency, T
  const std::map<int, std::vector<double>> with_tx =
      ReadCdnowCsv(dir / "cdnow_customers_summary_with_transactions.csv");  // x, t_x, T, zbar
  ASSERT_EQ(summary.size(), 2357u);
  ASSERT_EQ(with_tx.size(), 2357u);

  int compared = 0, repeat_buyers = 0;
  for (const auto& [id, want] : summary) {
    ASSERT_EQ(want.size(), 3u) << "ID " << id;
    auto it = purchases.find(id);
    ASSERT_NE(it, purchases.end()) << "ID " << id << " has no purchases in the sample";
    std::optional<LifetimesSummary> got =
        SummarizeLikeLifetimes(it->second, kCdnowObservationEnd, kDaysPerWeek);
    ASSERT_TRUE(got.has_value()) << "ID " << id << " has no purchase by 1997-09-30";
    EXPECT_TRUE(SameTo2Decimals(got->frequency, want[0]))
        << "ID " << id << " frequency " << got->frequency << " vs " << want[0];
    EXPECT_TRUE(SameTo2Decimals(got->recency, want[1]))
        << "ID " << id << " recency " << got->recency << " vs " << want[1];
    EXPECT_TRUE(SameTo2Decimals(got->t, want[2]))
        << "ID " << id << " T " << got->t << " vs " << want[2];

    const std::vector<double>& tx = with_tx.at(id);
    ASSERT_EQ(tx.size(), 4u) << "ID " << id;
    EXPECT_DOUBLE_EQ(tx[0], want[0]) << "ID " << id;
    // zbar is the mean repeat value in dollars printed to 2 decimals; ours is
    // exact cents / periods, so it may sit exactly on a half cent.
    EXPECT_LE(std::fabs(got->monetary_value / 100.0 - tx[3]), 0.005 + 1e-9)
        << "ID " << id << " monetary " << got->monetary_value / 100.0 << " vs " << tx[3];
    if (got->frequency > 0) ++repeat_buyers;
    ++compared;
  }
  EXPECT_EQ(compared, 2357);
  // Every sampled customer bought by the end (the sample is of the first quarter's cohort).
  EXPECT_EQ(purchases.size(), summary.size());
  EXPECT_GT(repeat_buyers, 0);
}

}  // namespace
}  // namespace custops::domain

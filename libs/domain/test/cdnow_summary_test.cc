// Our `lifetimes` summary (SummarizeLikeLifetimes) against the library's own
// summary of the CDNOW sample (../shared/data/cdnow): frequency, recency and
// T in weeks (cdnow_customers_summary.csv) and the mean repeat value
// (cdnow_customers_summary_with_transactions.csv, zbar), observation end
// 1997-09-30 (a first purchase on 1997-01-01 gives T = 272 / 7 = 38.86).
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "custops/domain/value.h"
#include "gtest/gtest.h"

namespace custops::domain {
namespace {

namespace fs = std::filesystem;

const absl::CivilDay kObservationEnd(1997, 9, 30);
constexpr int64_t kDaysPerWeek = 7;

// The cdnow data folder: $CUSTOPS_SHARED_DATA/cdnow when set, else the first
// "shared/data/cdnow" found walking up from this source file (the repository
// sits beside ../shared). Empty when not found.
fs::path FindCdnowDir() {
  if (const char* env = std::getenv("CUSTOPS_SHARED_DATA"); env != nullptr && *env != '\0') {
    fs::path p = fs::path(env) / "cdnow";
    if (fs::exists(p / "CDNOW_sample.txt")) return p;
  }
  for (fs::path dir = fs::path(__FILE__).parent_path(); !dir.empty(); dir = dir.parent_path()) {
    fs::path p = dir / "shared" / "data" / "cdnow";
    if (fs::exists(p / "CDNOW_sample.txt")) return p;
    if (dir == dir.root_path()) break;
  }
  return {};
}

// "29.33" → 2933 (exact, no floating point).
bool ParseCents(const std::string& s, int64_t& cents) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot != 3) return false;
  cents = std::stoll(s.substr(0, dot)) * 100 + std::stoll(s.substr(dot + 1));
  return true;
}

struct Expected {
  double frequency, recency, t;
};

// Rows of a CSV "ID,a,b,c[,d]" keyed by ID.
std::map<int, std::vector<double>> ReadCsv(const fs::path& path) {
  std::map<int, std::vector<double>> rows;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    std::stringstream ss(line);
    std::string cell;
    std::getline(ss, cell, ',');
    const int id = std::stoi(cell);
    std::vector<double>& row = rows[id];
    while (std::getline(ss, cell, ',')) row.push_back(std::stod(cell));
  }
  return rows;
}

// Values printed with two decimals agree when ours rounds to the same cents
// (x / 7 never lands on a half cent, so there is no rounding-mode ambiguity).
bool SameTo2Decimals(double ours, double printed) {
  return std::llround(ours * 100) == std::llround(printed * 100);
}

TEST(CdnowSummaryTest, MatchesLifetimesSummaryOfTheSample) {
  const fs::path dir = FindCdnowDir();
  ASSERT_FALSE(dir.empty())
      << "CDNOW data not found: set CUSTOPS_SHARED_DATA to the shared/data folder, or keep "
         "shared/data/cdnow/CDNOW_sample.txt in a folder above "
      << __FILE__;

  // CDNOW_sample.txt: customer id, sample id, YYYYMMDD, number of CDs, dollars.
  std::map<int, std::vector<DatedAmount>> purchases;  // by sample id (the CSV's ID)
  std::ifstream sample(dir / "CDNOW_sample.txt");
  ASSERT_TRUE(sample.good()) << dir / "CDNOW_sample.txt";
  std::string line;
  int rows = 0;
  while (std::getline(sample, line)) {
    std::stringstream ss(line);
    std::string customer, sample_id, date, cds, dollars;
    if (!(ss >> customer >> sample_id >> date >> cds >> dollars)) continue;
    ASSERT_EQ(date.size(), 8u) << line;
    const absl::CivilDay day(std::stoi(date.substr(0, 4)), std::stoi(date.substr(4, 2)),
                             std::stoi(date.substr(6, 2)));
    int64_t cents = 0;
    ASSERT_TRUE(ParseCents(dollars, cents)) << line;
    purchases[std::stoi(sample_id)].push_back({day, cents});
    ++rows;
  }
  EXPECT_EQ(rows, 6919);

  const std::map<int, std::vector<double>> summary =
      ReadCsv(dir / "cdnow_customers_summary.csv");  // frequency, recency, T
  const std::map<int, std::vector<double>> with_tx =
      ReadCsv(dir / "cdnow_customers_summary_with_transactions.csv");  // x, t_x, T, zbar
  ASSERT_EQ(summary.size(), 2357u);
  ASSERT_EQ(with_tx.size(), 2357u);

  int compared = 0, repeat_buyers = 0;
  for (const auto& [id, want] : summary) {
    ASSERT_EQ(want.size(), 3u) << "ID " << id;
    auto it = purchases.find(id);
    ASSERT_NE(it, purchases.end()) << "ID " << id << " has no purchases in the sample";
    std::optional<LifetimesSummary> got =
        SummarizeLikeLifetimes(it->second, kObservationEnd, kDaysPerWeek);
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

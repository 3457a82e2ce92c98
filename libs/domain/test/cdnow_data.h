// Test helpers for the CDNOW data (the files the `lifetimes` library ships
// and its documentation uses): where they are, and readers for its files.
// Header-only; included by the domain tests that need the data.
#ifndef CUSTOPS_DOMAIN_TEST_CDNOW_DATA_H_
#define CUSTOPS_DOMAIN_TEST_CDNOW_DATA_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "absl/time/civil_time.h"
#include "custops/domain/value.h"
#include "test_data.h"

namespace custops::domain::testing {

// Observation end of the lifetimes CDNOW summaries (a first purchase on
// 1997-01-01 gives T = 272 / 7 = 38.86 weeks).
inline const absl::CivilDay kCdnowObservationEnd(1997, 9, 30);

// The cdnow data folder (tests/testing/test_data.h: $CUSTOPS_DATA/cdnow,
// else .cache/data/cdnow from scripts/fetch-data.sh). Empty when missing.
inline std::filesystem::path FindCdnowDir() {
  return custops::testing::DataDir("cdnow", "CDNOW_sample.txt");
}

// Skips the calling test, saying how to get the data, when it is missing.
#define CUSTOPS_SKIP_WITHOUT_CDNOW()                      \
  if (::custops::domain::testing::FindCdnowDir().empty()) \
  GTEST_SKIP() << ::custops::testing::DataMissing("cdnow")

// "29.33" → 2933 (exact, no floating point).
inline bool ParseCents(const std::string& s, int64_t& cents) {
  const size_t dot = s.find('.');
  if (dot == std::string::npos || s.size() - dot != 3) return false;
  cents = std::stoll(s.substr(0, dot)) * 100 + std::stoll(s.substr(dot + 1));
  return true;
}

// CDNOW_sample.txt (customer id, sample id, YYYYMMDD, number of CDs,
// dollars): purchases keyed by sample id (the summaries' ID). Empty on a
// malformed line.
inline std::map<int, std::vector<DatedAmount>> ReadCdnowSample(const std::filesystem::path& file) {
  std::map<int, std::vector<DatedAmount>> purchases;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string customer, sample_id, date, cds, dollars;
    if (!(ss >> customer >> sample_id >> date >> cds >> dollars)) continue;
    int64_t cents = 0;
    if (date.size() != 8 || !ParseCents(dollars, cents)) return {};
    const absl::CivilDay day(std::stoi(date.substr(0, 4)), std::stoi(date.substr(4, 2)),
                             std::stoi(date.substr(6, 2)));
    purchases[std::stoi(sample_id)].push_back({day, cents});
  }
  return purchases;
}

// Rows of a CSV "ID,a,b,c[,d]" with a header line, keyed by ID.
inline std::map<int, std::vector<double>> ReadCdnowCsv(const std::filesystem::path& path) {
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

}  // namespace custops::domain::testing

#endif  // CUSTOPS_DOMAIN_TEST_CDNOW_DATA_H_

// Where the tests find the public data sets they replay (docs/import.md
// "Data sets"): $CUSTOPS_DATA/<set> when CUSTOPS_DATA is set, else
// <source>/.cache/data/<set>, which scripts/fetch-data.sh fills (setup.sh
// runs it). A test whose data is missing skips with DataMissing(), which
// says how to get it. Header-only; link the custops_test_data target.
#ifndef CUSTOPS_TESTS_TESTING_TEST_DATA_H_
#define CUSTOPS_TESTS_TESTING_TEST_DATA_H_

#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

namespace custops::testing {

// The folder of data set `set` ("cdnow", "crm-sales-opportunities") if it
// holds `file`; empty otherwise.
inline std::filesystem::path DataDir(std::string_view set, std::string_view file) {
  namespace fs = std::filesystem;
  fs::path root = CUSTOPS_DEFAULT_DATA_DIR;
  if (const char* env = std::getenv("CUSTOPS_DATA"); env != nullptr && *env != '\0') root = env;
  fs::path dir = root / set;
  std::error_code ignored;
  if (fs::is_regular_file(dir / file, ignored)) return dir;
  return {};
}

// Why a test needing `set` skips, and how to get it.
inline std::string DataMissing(std::string_view set) {
  std::string how = set == "cdnow"
                        ? "run scripts/fetch-data.sh (it downloads the `lifetimes` wheel, which "
                          "ships the CDNOW files, from PyPI)"
                        : "no package registry ships it: copy the data set's files into the "
                          "folder (docs/import.md \"Data sets\")";
  return std::string("data set ") + std::string(set) + " not found in $CUSTOPS_DATA/" +
         std::string(set) + " (default " CUSTOPS_DEFAULT_DATA_DIR "/" + std::string(set) +
         "): " + how;
}

}  // namespace custops::testing

#endif  // CUSTOPS_TESTS_TESTING_TEST_DATA_H_

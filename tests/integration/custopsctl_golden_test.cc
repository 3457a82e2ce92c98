// custopsctl's tables against the real custops binary: a demo population and
// its organisation events on a fixed clock, then review report / funnel /
// worklist / compare, value tiers / pareto / get and summary, each compared
// byte for byte with a golden file in tests/integration/testdata/custopsctl/.
//
// After a deliberate change of the output (or of the demo data), rewrite the
// golden files and review the diff (docs/custopsctl.md "Golden tests"):
//
//   CUSTOPS_UPDATE_GOLDEN=1 ctest --test-dir build -R CustopsctlGolden
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

// The demo history ends at midnight in Shanghai; the server's clock stands
// still eight hours later, so "now" answers are the same on every run.
constexpr char kFixedClock[] = "2025-07-01T00:00:00Z";
constexpr char kDemo[] = "demo --customers 300 --seed 7 --end 2025-06-30T16:00:00Z";
constexpr char kAsOf[] = "2025-06-30T16:00:00Z";

struct CtlRun {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool UpdateGolden() {
  const char* update = std::getenv("CUSTOPS_UPDATE_GOLDEN");
  return update != nullptr && std::string(update) == "1";
}

class CustopsctlGoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("ctl_golden_", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    server_ = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY, std::vector<std::string>{"--data-dir", (dir_ / "data").string(),
                                                 "--fixed-clock", kFixedClock});
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    if (server_ != nullptr) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }

  // custopsctl with `args`; stdout and stderr apart.
  CtlRun Ctl(const std::string& args) {
    const std::filesystem::path err = dir_ / "stderr";
    const std::string cmd = absl::StrCat(CUSTOPSCTL_BINARY, " --server ", server_->address(), " ",
                                         args, " 2>", err.string());
    CtlRun run;
    FILE* pipe = ::popen(cmd.c_str(), "r");
    if (pipe == nullptr) return run;
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
    const int status = ::pclose(pipe);
    run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    run.err = ReadAll(err);
    return run;
  }

  // The value of "name: value" in `out`.
  static std::string Field(const std::string& out, const std::string& name) {
    for (absl::string_view line : absl::StrSplit(out, '\n')) {
      if (absl::StartsWith(line, name + ": ")) return std::string(line.substr(name.size() + 2));
    }
    return "";
  }

  // Runs `args` and compares its stdout with testdata/custopsctl/`golden`
  // (or rewrites the file under CUSTOPS_UPDATE_GOLDEN=1).
  void ExpectGolden(const std::string& golden, const std::string& args) {
    SCOPED_TRACE(absl::StrCat(golden, ": custopsctl ", args));
    const CtlRun run = Ctl(args);
    ASSERT_EQ(run.exit_code, 0) << run.err;
    EXPECT_EQ(run.err, "");
    const std::filesystem::path path = std::filesystem::path(CUSTOPS_GOLDEN_DIR) / golden;
    if (UpdateGolden()) {
      std::ofstream(path, std::ios::binary | std::ios::trunc) << run.out;
      return;
    }
    ASSERT_TRUE(std::filesystem::exists(path))
        << path << " is missing: run with CUSTOPS_UPDATE_GOLDEN=1 to write it";
    const std::string golden_text = ReadAll(path);
    if (run.out != golden_text) {
      ADD_FAILURE() << "custopsctl " << args << " differs from " << path << ":\n"
                    << LineDiff(golden_text, run.out)
                    << "(if the change is meant, rewrite with CUSTOPS_UPDATE_GOLDEN=1 and review "
                       "the diff)";
    }
  }

  // The first differing lines, as they are (gtest would escape the UTF-8).
  static std::string LineDiff(const std::string& golden, const std::string& actual) {
    const std::vector<std::string> a = absl::StrSplit(golden, '\n');
    const std::vector<std::string> b = absl::StrSplit(actual, '\n');
    std::string out;
    int shown = 0;
    for (size_t i = 0; i < std::max(a.size(), b.size()) && shown < 10; ++i) {
      const std::string* x = i < a.size() ? &a[i] : nullptr;
      const std::string* y = i < b.size() ? &b[i] : nullptr;
      if (x != nullptr && y != nullptr && *x == *y) continue;
      ++shown;
      absl::StrAppend(&out, "line ", i + 1, ":\n  golden: ", x ? *x : "(none)",
                      "\n  actual: ", y ? *y : "(none)", "\n");
    }
    return out;
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(CustopsctlGoldenTest, TablesMatchTheGoldenFiles) {
  const CtlRun load = Ctl(kDemo);
  ASSERT_EQ(load.exit_code, 0) << load.err;
  const std::string token = Field(load.out, "consistency_token");
  const std::string org_token = Field(load.out, "org_consistency_token");
  ASSERT_FALSE(token.empty()) << load.out;
  ASSERT_FALSE(org_token.empty()) << load.out;
  // A query with the org token waits until the review has applied the
  // targets, spend and actions; every query below waits for the customer
  // events with `token`.
  const CtlRun org =
      Ctl(absl::StrCat("review report --period 2025-06 -o json --token ", org_token));
  ASSERT_EQ(org.exit_code, 0) << org.err;

  const std::string t = " --token " + token;
  const std::string as_of = absl::StrCat(" --as-of ", kAsOf);
  ExpectGolden("summary_region.txt", "summary --dimension region" + t);
  ExpectGolden("review_report_2025-06.txt", "review report --period 2025-06" + t);
  ExpectGolden("review_report_2025-Q2_east_en.txt",
               "review report --lang en --period 2025-Q2 --dimension region --value 华东 "
               "--history 6" +
                   t);
  ExpectGolden("review_funnel_2025-Q2_region.txt",
               "review funnel --period 2025-Q2 --dimension region --all" + t);
  ExpectGolden("review_worklist_east.txt", "review worklist --region 华东 --all" + as_of + t);
  ExpectGolden("review_compare_2025-06_region.txt",
               "review compare --period 2025-06 --dimension region --changes --metrics "
               "revenue,gross_margin,attainment,win_rate,sales_cycle_days,complaints" +
                   t);
  ExpectGolden("value_tiers_region.txt", "value tiers --dimension region" + as_of + t);
  ExpectGolden("value_pareto_region.txt", "value pareto --dimension region" + as_of + t);
  ExpectGolden("value_pareto.json", "value pareto -o json" + as_of + t);
  ExpectGolden("value_get_C000031.txt", "value get C000031" + as_of + t);
}

TEST_F(CustopsctlGoldenTest, ErrorsExitWithTheirCodes) {
  // Usage errors: exit 1, nothing sent.
  CtlRun run = Ctl("review worklist");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "error: INVALID_ARGUMENT: --owner / --region: give exactly one (e.g. --owner rep-01 "
            "or --region 华东)\n");
  EXPECT_EQ(run.out, "");
  run = Ctl("review report --period 2025-13");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_TRUE(absl::StartsWith(run.err, "error: INVALID_ARGUMENT: --period: '2025-13'")) << run.err;
  run = Ctl("value tiers --dimension channel");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "error: INVALID_ARGUMENT: --dimension: channel is not one of ALL, REGION, INDUSTRY, "
            "OWNER here\n");
  run = Ctl("--output yaml status");
  EXPECT_EQ(run.exit_code, 1);
  EXPECT_EQ(run.err,
            "error: INVALID_ARGUMENT: --output: unknown output 'yaml' (one of table, "
            "json, jsonl)\n");
  // The server says no: exit 2.
  run = Ctl(absl::StrCat("value get NOBODY --as-of ", kAsOf));
  EXPECT_EQ(run.exit_code, 2);
  EXPECT_TRUE(absl::StartsWith(run.err, "error: NOT_FOUND: ")) << run.err;
  EXPECT_EQ(run.out, "");
}

}  // namespace
}  // namespace custops

// custopsctl against the real custops binary: the operator's path end to end
// (demo load, idempotent reload, queries, JSON-lines append with a bad line).
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

struct CtlRun {
  int exit_code;
  std::string out;
};

// Runs custopsctl with `args`; stdout and stderr together.
CtlRun Ctl(const std::string& server, const std::string& args) {
  const std::string cmd = absl::StrCat(CUSTOPSCTL_BINARY, " --server ", server, " ", args, " 2>&1");
  FILE* pipe = ::popen(cmd.c_str(), "r");
  CtlRun run{-1, ""};
  if (pipe == nullptr) return run;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) run.out.append(buf, n);
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

int64_t Field(const std::string& out, const std::string& name) {
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    if (absl::StartsWith(line, name + ": "))
      return std::stoll(std::string(line.substr(name.size() + 2)));
  }
  return -1;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("cli_", ::getpid());
    std::filesystem::remove_all(dir_);
    server_ = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY, std::vector<std::string>{"--data-dir", (dir_ / "data").string(),
                                                 "--fixed-clock", "2026-11-23T00:00:00Z"});
    ASSERT_TRUE(server_->Start().ok());
  }
  void TearDown() override {
    EXPECT_EQ(server_->Stop(), 0);
    std::filesystem::remove_all(dir_);
  }
  std::filesystem::path dir_;
  std::unique_ptr<testing::ServerProcess> server_;
};

TEST_F(CliTest, DemoLoadIsIdempotentAndQueriesAnswer) {
  const std::string demo = "demo --customers 150 --end 2026-11-22T00:00:00Z";
  CtlRun first = Ctl(server_->address(), demo);
  ASSERT_EQ(first.exit_code, 0) << first.out;
  const int64_t appended = Field(first.out, "appended");
  EXPECT_GT(appended, 1000) << first.out;
  EXPECT_EQ(Field(first.out, "duplicates"), 0);
  CtlRun second = Ctl(server_->address(), demo);
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_EQ(Field(second.out, "appended"), 0);
  EXPECT_EQ(Field(second.out, "duplicates"), appended);

  // Read our own write: the consistency token printed by the first load.
  std::string token;
  for (absl::string_view line : absl::StrSplit(first.out, '\n')) {
    if (absl::StartsWith(line, "consistency_token: ")) token = std::string(line.substr(19));
  }
  ASSERT_FALSE(token.empty()) << first.out;
  CtlRun status = Ctl(server_->address(), "status");
  ASSERT_EQ(status.exit_code, 0) << status.out;
  EXPECT_NE(status.out.find("custops.customer-events.v1"), std::string::npos) << status.out;
  CtlRun get = Ctl(server_->address(), "get C000001 --token " + token);
  ASSERT_EQ(get.exit_code, 0) << get.out;
  EXPECT_NE(get.out.find("\"customer_id\": \"C000001\""), std::string::npos) << get.out;
  EXPECT_NE(get.out.find("\"stage\": \"LIFECYCLE_STAGE_"), std::string::npos) << get.out;
  CtlRun summary = Ctl(server_->address(), "summary --dimension REGION");
  ASSERT_EQ(summary.exit_code, 0) << summary.out;
  EXPECT_NE(summary.out.find("stage summary by REGION"), std::string::npos) << summary.out;
  CtlRun list = Ctl(server_->address(), "list --kind CUSTOMER --all");
  ASSERT_EQ(list.exit_code, 0) << list.out;
  EXPECT_GT(std::count(list.out.begin(), list.out.end(), '\n'), 50);
  CtlRun missing = Ctl(server_->address(), "get NOBODY");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.out.find("NOT_FOUND"), std::string::npos) << missing.out;

  // rebuild --wait follows the rebuild to the swap; the answers stay.
  CtlRun rebuilt = Ctl(server_->address(), "rebuild lifecycle --wait");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
  EXPECT_NE(rebuilt.out.find("lifecycle: generation 1 serves"), std::string::npos) << rebuilt.out;
  CtlRun after = Ctl(server_->address(), "get C000001");
  ASSERT_EQ(after.exit_code, 0) << after.out;
  EXPECT_EQ(after.out, Ctl(server_->address(), "get C000001").out);
  EXPECT_NE(after.out.find("\"customer_id\": \"C000001\""), std::string::npos) << after.out;
  CtlRun rebuilt_status = Ctl(server_->address(), "status");
  EXPECT_NE(rebuilt_status.out.find("lifecycle   READY"), std::string::npos) << rebuilt_status.out;
  CtlRun bad = Ctl(server_->address(), "rebuild nothing");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.out.find("INVALID_ARGUMENT"), std::string::npos) << bad.out;
}

TEST_F(CliTest, AppendJsonLinesAndRejectABadEventByLine) {
  const auto good = dir_ / "good.jsonl";
  std::ofstream(good)
      << R"({"event_id":"j1","customer_id":"json-1","occurred_at":"2026-11-01T08:00:00Z",)"
      << R"("customer_registered":{"name":"Json One","kind":"CUSTOMER_KIND_CUSTOMER","region":"华南"}})"
      << "\n"
      << R"({"event_id":"j2","customer_id":"json-1","occurred_at":"2026-11-02T08:00:00Z",)"
      << R"("visit_logged":{"visit_id":"v1","channel":"VISIT_CHANNEL_PHONE","outcome":"VISIT_OUTCOME_INTERESTED"}})"
      << "\n";
  CtlRun ok = Ctl(server_->address(), "append " + good.string());
  ASSERT_EQ(ok.exit_code, 0) << ok.out;
  EXPECT_EQ(Field(ok.out, "appended"), 2) << ok.out;

  const auto bad = dir_ / "bad.jsonl";
  std::ofstream(bad)
      << R"({"event_id":"j3","customer_id":"json-2","occurred_at":"2026-11-01T08:00:00Z",)"
      << R"("customer_registered":{"name":"Json Two","kind":"CUSTOMER_KIND_CUSTOMER"}})"
      << "\n"
      << R"({"event_id":"j4","customer_id":"json-2","occurred_at":"2026-11-02T08:00:00Z",)"
      << R"("contract_signed":{"contract_id":"k","amount":{"units":"5","currency":"USD"}}})"
      << "\n";
  CtlRun rejected = Ctl(server_->address(), "append " + bad.string());
  EXPECT_EQ(rejected.exit_code, 2) << rejected.out;
  EXPECT_NE(rejected.out.find("INVALID_ARGUMENT"), std::string::npos) << rejected.out;
  EXPECT_NE(rejected.out.find("line 2"), std::string::npos) << rejected.out;
  CtlRun nothing = Ctl(server_->address(), "get json-2");
  EXPECT_EQ(nothing.exit_code, 2) << nothing.out;  // the valid line 1 was not appended either

  CtlRun timeline = Ctl(server_->address(), "timeline json-1");
  ASSERT_EQ(timeline.exit_code, 0) << timeline.out;
  EXPECT_NE(timeline.out.find("\"j2\""), std::string::npos) << timeline.out;
}

}  // namespace
}  // namespace custops

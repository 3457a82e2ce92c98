// A review projection over an embedded log in a temporary directory, with
// its queries and org index: the fixture the review tests share.
//
//   class MyTest : public review::testing::ReviewStoreTest {
//    protected:
//     MyTest() : ReviewStoreTest(At(2024, 4, 30)) {}
//   };
//
// TestCall is a front-door call for invoking a registered method's handler.
#ifndef CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_
#define CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/base/executor.h"
#include "custops/domain/period.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/rpc/gateway.h"
#include "gtest/gtest.h"

namespace custops::review::testing {

inline absl::TimeZone Shanghai() { return domain::LoadReportingZone("Asia/Shanghai").value(); }

// Noon in Shanghai on a civil day.
inline absl::Time At(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hour, 0, 0), Shanghai());
}

// A call as the front door makes it, with the identity given.
class TestCall final : public rpc::Call {
 public:
  TestCall(std::string method, rpc::Identity identity, base::Executor& workers,
           rpc::ClientLimits& limits)
      : Call(std::move(method), std::move(identity), absl::Now() + absl::Seconds(30), "test", "",
             workers, limits) {}
  std::string Metadata(std::string_view) const override { return ""; }
};

// 4 partitions per topic; rules_ in the reporting zone Asia/Shanghai; the
// clock starts at `now`.
class ReviewStoreTest : public ::testing::Test {
 protected:
  explicit ReviewStoreTest(absl::Time now) : clock_(now) {}

  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("rv_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->test_suite_name(),
                        "_", ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = log::EmbeddedEventLog::Open(
               {.path = (dir_ / "log").string(), .sync = false, .clock = &clock_})
               .value();
    for (auto topic :
         {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
      ASSERT_TRUE(log_->CreateTopic(topic, 4).ok());
    }
    rules_.zone = Shanghai();
    auto rt =
        projection::ProjectionRuntime::Open(*log_, std::make_unique<ReviewProjection>(rules_),
                                            {.path = (dir_ / "review").string(), .clock = &clock_});
    ASSERT_TRUE(rt.ok()) << rt.status();
    runtime_ = std::move(*rt);
    org_ = OrgIndex::Open(*log_, rules_.zone).value();
    queries_ = std::make_unique<ReviewQueries>(runtime_->store(), 4, rules_, org_.get(), "CNY");
  }
  void TearDown() override {
    queries_.reset();
    org_.reset();
    runtime_.reset();
    ASSERT_TRUE(log_->Close().ok());
    std::filesystem::remove_all(dir_);
  }

  base::SimulatedClock clock_;
  std::filesystem::path dir_;
  ReviewRules rules_;
  std::unique_ptr<log::EventLog> log_;
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<OrgIndex> org_;
  std::unique_ptr<ReviewQueries> queries_;
};

}  // namespace custops::review::testing

#endif  // CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_

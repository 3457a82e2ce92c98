// A fixture for tests of a projection on a real embedded log: a fresh
// temporary directory, an EmbeddedEventLog in it on a simulated clock, the
// topics created, and the customer events appended and the state changes
// read back (custops::testing; the test also links custops::log).
//
//   class MyProjectionTest : public custops::testing::EmbeddedLogTest {
//    protected:
//     MyProjectionTest()
//         : EmbeddedLogTest("my_test", kT0,
//                           {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {}
//     void TearDown() override {
//       runtime_.reset();  // what was opened on log_ first
//       EmbeddedLogTest::TearDown();
//     }
//   };
#ifndef CUSTOPS_TESTING_PROJECTION_FIXTURE_H_
#define CUSTOPS_TESTING_PROJECTION_FIXTURE_H_

#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/event_log.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/changes.pb.h"
#include "custops/v1/events.pb.h"
#include "gtest/gtest.h"

namespace custops::testing {

// SetUp makes the directory dir_ (<tmp>/<dir_prefix>_<pid>_<suite>_<test>),
// opens log_ in it on clock_ (which starts at `now`, its intervals as
// `intervals` says) and creates `topics` with 4 partitions each; TearDown
// closes log_ and removes dir_. A derived fixture that opens more on log_
// drops it in its TearDown before calling this one's.
class EmbeddedLogTest : public ::testing::Test {
 protected:
  EmbeddedLogTest(
      std::string dir_prefix, absl::Time now, std::vector<std::string_view> topics,
      base::SimulatedClock::Intervals intervals = base::SimulatedClock::Intervals::kReal)
      : clock_(now, intervals), dir_prefix_(std::move(dir_prefix)), topics_(std::move(topics)) {}

  void SetUp() override {
    const ::testing::TestInfo* test = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ =
        std::filesystem::temp_directory_path() /
        absl::StrCat(dir_prefix_, "_", ::getpid(), "_", test->test_suite_name(), "_", test->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = log::EmbeddedEventLog::Open(
               {.path = (dir_ / "log").string(), .sync = false, .clock = &clock_})
               .value();
    for (std::string_view topic : topics_) {
      ASSERT_OK(log_->CreateTopic(topic, 4));
    }
  }
  void TearDown() override {
    ASSERT_OK(log_->Close());
    std::filesystem::remove_all(dir_);
  }

  // Appends `events` to the customer events, each keyed by its customer.
  absl::Status AppendEvents(const std::vector<v1::Event>& events) {
    std::vector<log::Record> records;
    for (const auto& e : events) records.push_back({e.customer_id(), e.SerializeAsString()});
    return log_->Append(log::kCustomerEvents, records, {}).status();
  }
  void Append(const std::vector<v1::Event>& events) { ASSERT_OK(AppendEvents(events)); }

  // Every state change on the log, partition by partition.
  std::vector<v1::StateChange> Changes() {
    std::vector<v1::StateChange> out;
    for (int p = 0; p < 4; ++p) {
      // A named vector: a range-for over a temporary StatusOr's value dangles.
      const std::vector<log::LogRecord> records =
          log_->Read(log::kStateChanges, Partition(p), Offset(0), 100000).value();
      for (const auto& r : records) EXPECT_TRUE(out.emplace_back().ParseFromString(r.value));
    }
    return out;
  }

  base::SimulatedClock clock_;
  std::filesystem::path dir_;
  std::unique_ptr<log::EventLog> log_;

 private:
  std::string dir_prefix_;
  std::vector<std::string_view> topics_;
};

}  // namespace custops::testing

#endif  // CUSTOPS_TESTING_PROJECTION_FIXTURE_H_

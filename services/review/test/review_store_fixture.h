// A review projection over an embedded log in a temporary directory, with
// its queries and org index: the fixture the review tests share (their events
// are built with review_events.h).
//
//   class MyTest : public review::testing::ReviewStoreTest {
//    protected:
//     MyTest() : ReviewStoreTest(At(2024, 4, 30)) {}
//   };
//
// TestCall is a front-door call for invoking a registered method's handler,
// Scoped a reader's identity, and WithReviewService<Fixture> adds the
// registered Review methods to a ReviewStoreTest fixture:
//
//   class MyServiceTest : public review::testing::WithReviewService<MyTest> {};
#ifndef CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_
#define CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/escaping.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "custops/base/executor.h"
#include "custops/domain/period.h"
#include "custops/log/event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_service.h"
#include "custops/rpc/gateway.h"
#include "custops/testing/projection_fixture.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/events.pb.h"
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

// A reader scoped to `regions` (every region with nullopt).
inline rpc::Identity Scoped(std::optional<std::vector<std::string>> regions) {
  return rpc::Identity{.subject = "t",
                       .roles = static_cast<uint8_t>(rpc::Role::kReader),
                       .regions = std::move(regions)};
}

// On custops::testing::EmbeddedLogTest (dir_, log_, clock_, AppendEvents,
// Changes) with the customer and org events, the changes and the dead
// letters, 4 partitions each; rules_ in the reporting zone Asia/Shanghai; the
// clock starts at `now`. Append checks that no event went to the dead letters
// as `dead_letters` says.
class ReviewStoreTest : public ::custops::testing::EmbeddedLogTest {
 protected:
  enum class DeadLetterCheck {
    kCount,  // a dead letter count other than 0 fails (fatally)
    kEach,   // each dead letter fails, with its bytes
  };

  explicit ReviewStoreTest(absl::Time now, DeadLetterCheck dead_letters = DeadLetterCheck::kCount)
      : EmbeddedLogTest(
            "rv_test", now,
            {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}),
        dead_letters_(dead_letters) {}

  void SetUp() override {
    EmbeddedLogTest::SetUp();
    if (HasFatalFailure()) return;
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
    EmbeddedLogTest::TearDown();
  }

  // Appends `events` to the customer events and catches the projection up.
  void Append(const std::vector<v1::Event>& events) {
    ASSERT_OK(AppendEvents(events));
    ASSERT_OK(runtime_->CatchUp());
    if (dead_letters_ == DeadLetterCheck::kCount) {
      ASSERT_EQ(runtime_->Stats().dead_letters, 0);
    } else if (runtime_->Stats().dead_letters != 0) {
      for (int p = 0; p < 4; ++p) {
        // A named vector: a range-for over a temporary StatusOr's value dangles.
        const std::vector<log::LogRecord> records =
            log_->Read(log::kDeadLetter, Partition(p), Offset(0), 1000).value();
        for (const auto& r : records) ADD_FAILURE() << "dead letter: " << absl::CEscape(r.value);
      }
    }
  }

  ReviewRules rules_;
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<OrgIndex> org_;
  std::unique_ptr<ReviewQueries> queries_;

 private:
  DeadLetterCheck dead_letters_;
};

// `Base` (a ReviewStoreTest) with a ReviewService on its projection, its
// methods registered on table_; Invoke calls one as the front door does.
template <typename Base>
class WithReviewService : public Base {
 protected:
  void SetUp() override {
    Base::SetUp();
    service_ = std::make_unique<ReviewService>(*this->runtime_, this->org_.get(), *this->queries_,
                                               this->clock_);
    service_->Register(table_);
  }
  void TearDown() override {
    service_.reset();
    Base::TearDown();
  }

  // The handler's answer to `request` of the caller `who`; NOT_FOUND for a
  // method that is not registered.
  template <typename Resp, typename Req>
  absl::StatusOr<Resp> Invoke(const std::string& method, const rpc::Identity& who,
                              const Req& request) {
    const rpc::MethodEntry* entry = table_.Find(method);
    if (entry == nullptr) return absl::NotFoundError(method);
    TestCall call(method, who, workers_, limits_);
    Resp response;
    absl::Status status;
    absl::Notification done;
    entry->unary(call, request, &response, [&](absl::Status s) {
      status = std::move(s);
      done.Notify();
    });
    done.WaitForNotification();
    if (!status.ok()) return status;
    return response;
  }

  base::Executor workers_{{.threads = 2, .name = "test"}};
  rpc::ClientLimits limits_{100, 100};
  rpc::MethodTable table_;
  std::unique_ptr<ReviewService> service_;
};

}  // namespace custops::review::testing

#endif  // CUSTOPS_REVIEW_TEST_REVIEW_STORE_FIXTURE_H_

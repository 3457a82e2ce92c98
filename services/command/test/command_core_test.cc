// CommandCore on a real embedded log: idempotency by request id (also across
// a restart), per-customer serialization under concurrency, a view that is
// never stale with respect to earlier accepted events (also raw appends), and
// request-field errors.
#include "custops/command/command_core.h"

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <set>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/event/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::command {
namespace {

using ::absl::StatusCode;
using ::custops::testing::Cny;
using ::custops::testing::StatusIs;
using ::testing::HasSubstr;
using ::testing::StartsWith;

const absl::Time kT0 = absl::FromUnixSeconds(1'750'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

domain::RegisterCustomer Reg() {
  domain::RegisterCustomer r;
  r.profile.set_name("Acme");
  r.profile.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  r.profile.set_region("East");
  return r;
}

class CommandCoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("cmd_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    log_ = log::EmbeddedEventLog::Open({.path = (dir_ / "log").string(), .sync = false}).value();
    ASSERT_OK(log_->CreateTopic(log::kCustomerEvents, 4));
    ingestor_ = std::make_unique<ingest::Ingestor>(*log_, clock_, event::ValidationOptions{});
    StartCore();
  }
  void TearDown() override {
    core_.reset();
    ASSERT_OK(log_->Close());
    std::filesystem::remove_all(dir_);
  }
  void StartCore() {
    core_.reset();
    core_ = CommandCore::Start(*log_, *ingestor_, clock_, {}).value();
  }

  absl::StatusOr<v1::CommandResponse> Run(const std::string& request_id, const domain::Command& cmd,
                                          const std::string& customer = "C1",
                                          std::optional<absl::Time> at = std::nullopt) {
    return core_->Execute({.request_id = request_id,
                           .customer_id = customer,
                           .occurred_at = at,
                           .actor_id = "rep-7",
                           .source = "test"},
                          cmd, absl::Now() + absl::Seconds(10));
  }

  // Issues a quote valid for one day from kT0.
  bool Issue(const std::string& quote_id) {
    absl::StatusOr<v1::CommandResponse> r = Run(
        "issue-" + quote_id,
        domain::IssueQuote{.quote_id = quote_id, .amount = Cny(100), .valid_until = kT0 + kDay});
    EXPECT_OK(r);
    return r.ok();
  }

  // Every event of the customer-events log, in partition/offset order.
  std::vector<v1::Event> LogEvents() {
    std::vector<v1::Event> out;
    for (int p = 0; p < 4; ++p) {
      std::vector<log::LogRecord> records =
          log_->Read(log::kCustomerEvents, Partition(p), Offset(0), 100000).value();
      for (const auto& r : records) {
        v1::Event e;
        EXPECT_TRUE(e.ParseFromString(r.value));
        out.push_back(e);
      }
    }
    return out;
  }

  base::SimulatedClock clock_{kT0};
  std::filesystem::path dir_;
  std::unique_ptr<log::EventLog> log_;
  std::unique_ptr<ingest::Ingestor> ingestor_;
  std::unique_ptr<CommandCore> core_;
};

TEST(CommandEventId, DeterministicAndDistinct) {
  EXPECT_EQ(CommandEventId("C1", "r1"), CommandEventId("C1", "r1"));
  EXPECT_NE(CommandEventId("C1", "r1"), CommandEventId("C2", "r1"));
  EXPECT_NE(CommandEventId("ab", "c"), CommandEventId("a", "bc"));
  EXPECT_EQ(CommandEventId("C1", "r1").size(), 4u + 32u);
  EXPECT_EQ(CommandEventId("C1", "r1").rfind("cmd-", 0), 0u);
  // Stable across versions: the first 16 bytes of SHA-256("2:C1r1") in hex.
  EXPECT_EQ(CommandEventId("C1", "r1"), "cmd-b2baaccd7157bd3acfdb489027103719");
}

TEST_F(CommandCoreTest, EmitsOneEventWithContextAndTheClockAsEventTime) {
  absl::StatusOr<v1::CommandResponse> r = Run("r1", Reg());
  ASSERT_OK(r);
  EXPECT_FALSE(r->duplicate());
  EXPECT_EQ(r->event_id(), CommandEventId("C1", "r1"));
  EXPECT_FALSE(r->consistency_token().empty());
  std::vector<v1::Event> events = LogEvents();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].event_id(), r->event_id());
  EXPECT_EQ(events[0].customer_id(), "C1");
  EXPECT_EQ(events[0].source(), "test");
  EXPECT_EQ(events[0].actor_id(), "rep-7");
  EXPECT_EQ(event::FromProto(events[0].occurred_at()), kT0);
  EXPECT_EQ(events[0].customer_registered().region(), "East");
  EXPECT_EQ(r->position().offset(), 0);
}

TEST_F(CommandCoreTest, SameRequestIdTwiceGivesOneEvent) {
  ASSERT_OK(Run("r1", Reg()));
  absl::StatusOr<v1::CommandResponse> first = Run("r2", domain::MarkLost{"moved"});
  ASSERT_OK(first);
  // The retry would be refused if decided again (already lost): it is not.
  absl::StatusOr<v1::CommandResponse> retry = Run("r2", domain::MarkLost{"moved"});
  ASSERT_OK(retry);
  EXPECT_TRUE(retry->duplicate());
  EXPECT_EQ(retry->event_id(), first->event_id());
  EXPECT_EQ(retry->position().SerializeAsString(), first->position().SerializeAsString());
  EXPECT_EQ(LogEvents().size(), 2u);
  EXPECT_EQ(core_->stats().duplicates, 1);
}

TEST_F(CommandCoreTest, RetryAfterARestartIsStillADuplicate) {
  ASSERT_OK(Run("r1", Reg()));
  absl::StatusOr<v1::CommandResponse> first = Run("r2", domain::MarkLost{"moved"});
  ASSERT_OK(first);
  StartCore();  // the view is rebuilt from the log
  absl::StatusOr<v1::CommandResponse> retry = Run("r2", domain::MarkLost{"moved"});
  ASSERT_OK(retry);
  EXPECT_TRUE(retry->duplicate());
  EXPECT_EQ(retry->position().offset(), first->position().offset());
  // And the rebuilt view knows the state: a new request is refused.
  EXPECT_THAT(Run("r3", domain::MarkLost{"again"}),
              StatusIs(StatusCode::kFailedPrecondition, HasSubstr("is already marked lost")));
  EXPECT_EQ(LogEvents().size(), 2u);
}

TEST_F(CommandCoreTest, TwoConcurrentAcceptsOfOneQuoteGiveOneAcceptance) {
  ASSERT_OK(Run("reg", Reg()));
  constexpr int kQuotes = 40;
  for (int i = 0; i < kQuotes; ++i) {
    ASSERT_TRUE(Issue(absl::StrCat("Q", i)));
  }
  std::atomic<int> ok{0}, refused{0}, other{0};
  for (int i = 0; i < kQuotes; ++i) {
    auto accept = [&, i](const char* who) {
      absl::StatusOr<v1::CommandResponse> r =
          Run(absl::StrCat("accept-", who, i), domain::AcceptQuote{absl::StrCat("Q", i)});
      if (r.ok()) {
        ok++;
      } else if (r.status().code() == StatusCode::kFailedPrecondition) {
        refused++;
      } else {
        other++;
      }
    };
    std::thread a(accept, "a"), b(accept, "b");
    a.join();
    b.join();
  }
  EXPECT_EQ(ok, kQuotes);
  EXPECT_EQ(refused, kQuotes);
  EXPECT_EQ(other, 0);
  int accepted_events = 0;
  for (const v1::Event& e : LogEvents()) accepted_events += e.has_quote_accepted();
  EXPECT_EQ(accepted_events, kQuotes);
}

TEST_F(CommandCoreTest, ConcurrentRetriesOfOneRequestEmitOnce) {
  ASSERT_OK(Run("reg", Reg()));
  std::vector<std::thread> threads;
  std::vector<std::string> ids(8);
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&, t] {
      absl::StatusOr<v1::CommandResponse> r =
          Run("same", domain::RecordReferral{.referred_customer_id = "C2"});
      if (r.ok()) ids[t] = r->event_id();
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& id : ids) EXPECT_EQ(id, CommandEventId("C1", "same"));
  int referrals = 0;
  for (const v1::Event& e : LogEvents()) referrals += e.has_referral_made();
  EXPECT_EQ(referrals, 1);
}

TEST_F(CommandCoreTest, RawAppendsBeforeACommandAreSeen) {
  ASSERT_OK(Run("reg", Reg()));
  ASSERT_TRUE(Issue("Q1"));
  // Another system accepts the quote through raw Append.
  v1::AppendRequest raw;
  v1::Event* e = raw.add_events();
  e->set_event_id("raw-accept");
  e->set_customer_id("C1");
  *e->mutable_occurred_at() = event::ToProto(kT0);
  e->mutable_quote_accepted()->set_quote_id("Q1");
  ASSERT_OK(ingestor_->Append(raw));
  absl::StatusOr<v1::CommandResponse> r = Run("accept", domain::AcceptQuote{"Q1"});
  EXPECT_THAT(r, StatusIs(StatusCode::kFailedPrecondition, "quote Q1 is ACCEPTED, not ISSUED"));
}

TEST_F(CommandCoreTest, OccurredAtIsTheDecisionTime) {
  ASSERT_OK(Run("reg", Reg()));
  ASSERT_TRUE(Issue("Q1"));
  // Accepting one microsecond after valid_until is refused (EXPIRED) ...
  absl::StatusOr<v1::CommandResponse> late =
      Run("late", domain::AcceptQuote{"Q1"}, "C1", kT0 + kDay + absl::Microseconds(1));
  EXPECT_THAT(late, StatusIs(StatusCode::kFailedPrecondition, StartsWith("quote Q1 is EXPIRED")));
  // ... exactly at valid_until it is allowed and the event carries that time.
  absl::StatusOr<v1::CommandResponse> on_time =
      Run("on-time", domain::AcceptQuote{"Q1"}, "C1", kT0 + kDay);
  ASSERT_OK(on_time);
  EXPECT_EQ(event::FromProto(LogEvents().back().occurred_at()), kT0 + kDay);
}

TEST_F(CommandCoreTest, RequestFieldErrorsNameTheField) {
  constexpr StatusCode kInvalid = StatusCode::kInvalidArgument;
  EXPECT_THAT(Run("", Reg()), StatusIs(kInvalid, "request_id is required"));
  EXPECT_THAT(Run("r1", Reg(), ""), StatusIs(kInvalid, "customer_id is required"));
  EXPECT_THAT(Run("r1", Reg(), std::string(129, 'x')),
              StatusIs(kInvalid, "customer_id must be at most 128 bytes, got 129"));
  // A text field over the event validation's limit is caught before the log.
  domain::RegisterCustomer long_name = Reg();
  long_name.profile.set_name(std::string(5000, 'n'));
  EXPECT_THAT(Run("r2", long_name),
              StatusIs(kInvalid, StartsWith("request.customer_registered.name: ")));
  // An unregistered customer: FAILED_PRECONDITION, nothing emitted.
  EXPECT_THAT(Run("r3", domain::LogVisit{}, "C9"),
              StatusIs(kInvalid, "visit_id is required"));  // visit_id first
  EXPECT_TRUE(LogEvents().empty());
  EXPECT_EQ(core_->stats().refused, 5);
}

TEST_F(CommandCoreTest, CommandsForManyCustomersInParallel) {
  constexpr int kCustomers = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int c = t; c < kCustomers; c += 4) {
        const std::string id = absl::StrCat("C", c);
        if (!Run("reg", Reg(), id).ok()) failures++;
        domain::LogVisit v;
        v.visit.set_visit_id("V1");
        v.visit.set_channel(v1::VISIT_CHANNEL_PHONE);
        v.visit.set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
        if (!Run("visit", v, id).ok()) failures++;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(LogEvents().size(), 2u * kCustomers);
  EXPECT_EQ(core_->stats().accepted, 2 * kCustomers);
}

TEST_F(CommandCoreTest, StoppedCoreIsUnavailable) {
  core_->Stop();
  EXPECT_THAT(Run("r1", Reg()),
              StatusIs(StatusCode::kUnavailable, "the command service is stopping"));
}

}  // namespace
}  // namespace custops::command

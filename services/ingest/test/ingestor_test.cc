// The Ingestor (EventIngest's transport-free core) against a real embedded
// event log: what it appends, what it refuses, idempotency and tokens.
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/clock.h"
#include "custops/event/time.h"
#include "custops/event/upcast.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/partitioner.h"
#include "custops/projection/token.h"
#include "custops/testing/events.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace custops::ingest {
namespace {

using ::custops::testing::IsOk;
using ::custops::testing::Registered;
using ::custops::testing::Signed;
using ::custops::testing::StatusIs;
using ::custops::testing::Visited;
using ::google::protobuf::util::MessageDifferencer;
using ::testing::StartsWith;

constexpr int kCustomerPartitions = 4;
constexpr int kOrgPartitions = 2;
const absl::Time kAt = absl::FromUnixSeconds(1'700'000'000);  // occurred_at
const absl::Time kNow = kAt + absl::Hours(3);                 // the Ingestor's clock

v1::AppendRequest Request(const std::vector<v1::Event>& events) {
  v1::AppendRequest request;
  for (const v1::Event& e : events) *request.add_events() = e;
  return request;
}

v1::OrgEvent ActionClosed(const std::string& id, const std::string& scope) {
  v1::OrgEvent e;
  e.set_event_id(id);
  *e.mutable_occurred_at() = event::ToProto(kAt);
  e.set_scope(scope);
  e.set_source("test");
  e.mutable_review_action_closed()->set_action_id("action-" + id);
  return e;
}

class IngestorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("ingestor_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(
        log_, log::EmbeddedEventLog::Open({.path = (dir_ / "log").string(), .sync = false}));
    ASSERT_OK(log_->CreateTopic(log::kCustomerEvents, kCustomerPartitions));
    ASSERT_OK(log_->CreateTopic(log::kOrgEvents, kOrgPartitions));
    ingestor_ = std::make_unique<Ingestor>(*log_, clock_, event::ValidationOptions{});
  }
  void TearDown() override {
    ingestor_.reset();
    if (log_ && !closed_) {
      EXPECT_OK(log_->Close());
    }
    log_.reset();
    std::filesystem::remove_all(dir_);
  }

  // Records on `topic`, summed over its partitions.
  int64_t Records(std::string_view topic) {
    int64_t n = 0;
    const std::vector<Offset> ends = log_->EndOffsets(topic).value();
    for (Offset end : ends) n += end.value();
    return n;
  }
  // The record at `position`.
  log::LogRecord RecordAt(const v1::Position& position) {
    std::vector<log::LogRecord> records =
        log_->Read(position.topic(), Partition(position.partition()), Offset(position.offset()), 1)
            .value();
    EXPECT_EQ(records.size(), 1u);
    return records.empty() ? log::LogRecord{} : records[0];
  }
  // Checks that `token` is a consistency token of `topic` covering every
  // result of `response` and naming no offset the log does not have.
  void ExpectTokenCovers(const v1::AppendResponse& response, std::string_view topic) {
    ASSERT_OK_AND_ASSIGN(projection::PositionSet token,
                         projection::DecodeToken(response.consistency_token(), "token"));
    EXPECT_EQ(token.topic(), topic);
    ASSERT_OK_AND_ASSIGN(std::vector<Offset> ends, log_->EndOffsets(topic));
    ASSERT_EQ(token.next_offsets_size(), static_cast<int>(ends.size()));
    for (const v1::AppendResult& r : response.results()) {
      EXPECT_GE(token.next_offsets(r.position().partition()), r.position().offset() + 1)
          << r.ShortDebugString();
    }
    for (int p = 0; p < token.next_offsets_size(); ++p) {
      EXPECT_LE(token.next_offsets(p), ends[p].value()) << "partition " << p;
    }
  }

  std::filesystem::path dir_;
  base::SimulatedClock clock_{kNow};
  std::unique_ptr<log::EventLog> log_;
  std::unique_ptr<Ingestor> ingestor_;
  bool closed_ = false;
};

TEST_F(IngestorTest, AppendsEachEventKeyedByCustomerWithRecordedAtFromTheClock) {
  const std::vector<v1::Event> events = {Registered("e1", "C1", kAt),
                                         Visited("e2", "C1", kAt + absl::Hours(1)),
                                         Registered("e3", "C2", kAt)};
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse response, ingestor_->Append(Request(events)));
  ASSERT_EQ(response.results_size(), 3);
  std::vector<int64_t> next(kCustomerPartitions, 0);  // offsets the results should take
  for (int i = 0; i < 3; ++i) {
    const v1::AppendResult& r = response.results(i);
    const v1::Event& sent = events[i];
    SCOPED_TRACE(sent.event_id());
    EXPECT_EQ(r.event_id(), sent.event_id());
    EXPECT_FALSE(r.duplicate());
    EXPECT_EQ(r.position().topic(), log::kCustomerEvents);
    const Partition p = log::PartitionForKey(sent.customer_id(), kCustomerPartitions);
    EXPECT_EQ(r.position().partition(), p.value());
    EXPECT_EQ(r.position().offset(), next[p.value()]++);

    const log::LogRecord record = RecordAt(r.position());
    EXPECT_EQ(record.key, sent.customer_id());
    v1::Event stored;
    ASSERT_TRUE(stored.ParseFromString(record.value));
    // What was sent, stamped with the current schema version and the
    // Ingestor's clock as recorded_at.
    v1::Event expected = sent;
    expected.set_schema_version(event::kSchemaVersion);
    *expected.mutable_recorded_at() = event::ToProto(kNow);
    EXPECT_TRUE(MessageDifferencer::Equals(stored, expected))
        << stored.ShortDebugString() << "\nvs\n"
        << expected.ShortDebugString();
  }
  EXPECT_EQ(Records(log::kCustomerEvents), 3);
  EXPECT_EQ(ingestor_->counters().appended, 3);
  EXPECT_EQ(ingestor_->counters().duplicates, 0);
  EXPECT_EQ(ingestor_->counters().rejected_requests, 0);

  // The next request is stamped with the clock's time then.
  clock_.Advance(absl::Minutes(5));
  ASSERT_OK_AND_ASSIGN(response, ingestor_->Append(Request({Visited("e4", "C2", kAt)})));
  v1::Event stored;
  ASSERT_TRUE(stored.ParseFromString(RecordAt(response.results(0).position()).value));
  EXPECT_EQ(event::FromProto(stored.recorded_at()), kNow + absl::Minutes(5));
}

TEST_F(IngestorTest, TheConsistencyTokenCoversEveryEventOfTheRequest) {
  ASSERT_OK_AND_ASSIGN(
      v1::AppendResponse first,
      ingestor_->Append(Request({Registered("e1", "C1", kAt), Registered("e2", "C2", kAt),
                                 Registered("e3", "C3", kAt), Visited("e4", "C1", kAt)})));
  ExpectTokenCovers(first, log::kCustomerEvents);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse second,
                       ingestor_->Append(Request({Visited("e5", "C2", kAt)})));
  ExpectTokenCovers(second, log::kCustomerEvents);
  ASSERT_OK_AND_ASSIGN(projection::PositionSet token,
                       projection::DecodeToken(second.consistency_token(), "token"));
  const int p = log::PartitionForKey("C2", kCustomerPartitions).value();
  EXPECT_EQ(token.next_offsets(p), second.results(0).position().offset() + 1);
}

TEST_F(IngestorTest, ARetriedEventIdIsADuplicateAtItsOriginalPosition) {
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse first,
                       ingestor_->Append(Request({Registered("e1", "C1", kAt)})));
  ASSERT_EQ(first.results_size(), 1);

  // The retry, even with another payload, and a new event beside it.
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK_AND_ASSIGN(
      v1::AppendResponse retry,
      ingestor_->Append(Request({Visited("e1", "C1", kAt), Visited("e2", "C1", kAt)})));
  ASSERT_EQ(retry.results_size(), 2);
  EXPECT_EQ(retry.results(0).event_id(), "e1");
  EXPECT_TRUE(retry.results(0).duplicate());
  EXPECT_TRUE(MessageDifferencer::Equals(retry.results(0).position(), first.results(0).position()))
      << retry.results(0).position().ShortDebugString();
  EXPECT_FALSE(retry.results(1).duplicate());
  EXPECT_EQ(retry.results(1).position().offset(), first.results(0).position().offset() + 1);
  ExpectTokenCovers(retry, log::kCustomerEvents);

  EXPECT_EQ(Records(log::kCustomerEvents), 2);
  v1::Event stored;
  ASSERT_TRUE(stored.ParseFromString(RecordAt(first.results(0).position()).value));
  EXPECT_TRUE(stored.has_customer_registered());  // the original stays
  EXPECT_EQ(event::FromProto(stored.recorded_at()), kNow);
  EXPECT_EQ(ingestor_->counters().appended, 2);
  EXPECT_EQ(ingestor_->counters().duplicates, 1);
}

TEST_F(IngestorTest, AnEventIdRepeatedInOneRequestIsAppendedOnce) {
  ASSERT_OK_AND_ASSIGN(
      v1::AppendResponse response,
      ingestor_->Append(Request({Registered("e1", "C1", kAt), Registered("e1", "C1", kAt)})));
  ASSERT_EQ(response.results_size(), 2);
  EXPECT_FALSE(response.results(0).duplicate());
  EXPECT_TRUE(response.results(1).duplicate());
  EXPECT_TRUE(
      MessageDifferencer::Equals(response.results(0).position(), response.results(1).position()));
  EXPECT_EQ(Records(log::kCustomerEvents), 1);
  EXPECT_EQ(ingestor_->counters().appended, 1);
  EXPECT_EQ(ingestor_->counters().duplicates, 1);
}

TEST_F(IngestorTest, AnInvalidEventNamesItsFieldAndNothingOfTheRequestIsAppended) {
  struct Case {
    std::string field;  // the path the error must start with
    std::function<void(v1::Event&)> spoil;
  };
  const std::vector<Case> cases = {
      {"events[2].event_id", [](v1::Event& e) { e.clear_event_id(); }},
      {"events[2].customer_id", [](v1::Event& e) { e.clear_customer_id(); }},
      {"events[2].occurred_at", [](v1::Event& e) { e.clear_occurred_at(); }},
      {"events[2].payload", [](v1::Event& e) { e.clear_contract_signed(); }},
      {"events[2].contract_signed.amount.currency",
       [](v1::Event& e) { e.mutable_contract_signed()->mutable_amount()->set_currency("USD"); }},
      {"events[2].contract_signed.end",
       [](v1::Event& e) {
         *e.mutable_contract_signed()->mutable_end() = event::ToProto(kAt - absl::Hours(1));
       }},
      // Newer than this build: refused by the upcaster, before validation.
      {"events[2].schema_version", [](v1::Event& e) { e.set_schema_version(99); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    v1::Event bad = Signed("e3", "C2", kAt, 1'000'000);
    c.spoil(bad);
    const int64_t rejected = ingestor_->counters().rejected_requests;
    EXPECT_THAT(
        ingestor_->Append(Request({Registered("e1", "C1", kAt), Visited("e2", "C1", kAt), bad})),
        StatusIs(absl::StatusCode::kInvalidArgument, StartsWith(c.field + ": ")));
    EXPECT_EQ(ingestor_->counters().rejected_requests, rejected + 1);
  }
  EXPECT_EQ(Records(log::kCustomerEvents), 0);
  EXPECT_EQ(ingestor_->counters().appended, 0);

  // The valid events alone go through: the refusals left no trace, not even
  // an idempotency entry.
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse response,
                       ingestor_->Append(Request({Registered("e1", "C1", kAt)})));
  EXPECT_FALSE(response.results(0).duplicate());
}

TEST_F(IngestorTest, AnEmptyOrOversizedRequestIsRefused) {
  EXPECT_THAT(ingestor_->Append(v1::AppendRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("events: ")));
  Ingestor small(*log_, clock_, {.max_events_per_request = 2});
  EXPECT_THAT(
      small.Append(Request(
          {Registered("e1", "C1", kAt), Registered("e2", "C2", kAt), Registered("e3", "C3", kAt)})),
      StatusIs(absl::StatusCode::kInvalidArgument, "events: at most 2 events per request, got 3"));
  EXPECT_EQ(small.counters().rejected_requests, 1);
  EXPECT_THAT(small.Append(Request({Registered("e1", "C1", kAt), Registered("e2", "C2", kAt)})),
              IsOk());
  EXPECT_EQ(Records(log::kCustomerEvents), 2);
}

TEST_F(IngestorTest, UsesItsValidationOptions) {
  Ingestor usd(*log_, clock_, {.currency = "USD"});
  EXPECT_THAT(usd.Append(Request({Signed("e1", "C1", kAt, 100)})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("events[0].contract_signed.amount.currency: ")));
  v1::Event in_usd = Signed("e2", "C1", kAt, 100);
  in_usd.mutable_contract_signed()->mutable_amount()->set_currency("USD");
  in_usd.mutable_contract_signed()->mutable_cost()->set_currency("USD");
  EXPECT_THAT(usd.Append(Request({in_usd})), IsOk());
}

TEST_F(IngestorTest, AnOlderSchemaVersionIsUpcastBeforeItIsValidatedAndStored) {
  // Version 1 (unset) wrote the city into the region after a '/'.
  v1::Event old = Registered("e1", "C1", kAt, "华东/上海");
  ASSERT_EQ(old.schema_version(), 0u);
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse response, ingestor_->Append(Request({old})));
  v1::Event stored;
  ASSERT_TRUE(stored.ParseFromString(RecordAt(response.results(0).position()).value));
  EXPECT_EQ(stored.schema_version(), event::kSchemaVersion);
  EXPECT_EQ(stored.customer_registered().region(), "华东");
  EXPECT_EQ(stored.customer_registered().city(), "上海");

  // The same region in the current version is invalid.
  v1::Event current = Registered("e2", "C2", kAt, "华东/上海");
  current.set_schema_version(event::kSchemaVersion);
  EXPECT_THAT(ingestor_->Append(Request({current})),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("events[0].customer_registered.region: ")));
  EXPECT_EQ(Records(log::kCustomerEvents), 1);
}

TEST_F(IngestorTest, AppendOrgWritesToTheOrgTopicKeyedByScope) {
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse response, ingestor_->AppendOrg([] {
    v1::AppendOrgRequest r;
    *r.add_events() = ActionClosed("o1", "region:East");
    *r.add_events() = ActionClosed("o2", "org");
    return r;
  }()));
  ASSERT_EQ(response.results_size(), 2);
  for (int i = 0; i < 2; ++i) {
    const v1::AppendResult& r = response.results(i);
    const std::string scope = i == 0 ? "region:East" : "org";
    EXPECT_EQ(r.event_id(), i == 0 ? "o1" : "o2");
    EXPECT_EQ(r.position().topic(), log::kOrgEvents);
    EXPECT_EQ(r.position().partition(), log::PartitionForKey(scope, kOrgPartitions).value());
    const log::LogRecord record = RecordAt(r.position());
    EXPECT_EQ(record.key, scope);
    v1::OrgEvent stored;
    ASSERT_TRUE(stored.ParseFromString(record.value));
    EXPECT_EQ(stored.event_id(), r.event_id());
    EXPECT_EQ(event::FromProto(stored.recorded_at()), kNow);
  }
  ExpectTokenCovers(response, log::kOrgEvents);
  EXPECT_EQ(Records(log::kCustomerEvents), 0);

  v1::AppendOrgRequest retry;
  *retry.add_events() = ActionClosed("o1", "region:East");
  ASSERT_OK_AND_ASSIGN(v1::AppendResponse again, ingestor_->AppendOrg(retry));
  EXPECT_TRUE(again.results(0).duplicate());
  EXPECT_EQ(Records(log::kOrgEvents), 2);
  EXPECT_EQ(ingestor_->counters().appended, 2);
  EXPECT_EQ(ingestor_->counters().duplicates, 1);
}

TEST_F(IngestorTest, AnInvalidOrgEventNamesItsField) {
  v1::AppendOrgRequest request;
  *request.add_events() = ActionClosed("o1", "org");
  *request.add_events() = ActionClosed("o2", "");
  EXPECT_THAT(ingestor_->AppendOrg(request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("events[1].scope: ")));
  request.mutable_events(1)->set_scope("org");
  request.mutable_events(1)->mutable_review_action_closed()->clear_action_id();
  EXPECT_THAT(ingestor_->AppendOrg(request),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("events[1].review_action_closed.action_id: ")));
  EXPECT_THAT(ingestor_->AppendOrg(v1::AppendOrgRequest()),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("events: ")));
  EXPECT_EQ(Records(log::kOrgEvents), 0);
  EXPECT_EQ(ingestor_->counters().rejected_requests, 3);
}

TEST_F(IngestorTest, TheLogsErrorsAreReturnedAndNotCountedAsRefusals) {
  // No customer-events topic on this log.
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<log::EventLog> bare,
                       log::EmbeddedEventLog::Open({.path = (dir_ / "bare").string()}));
  Ingestor on_bare(*bare, clock_, {});
  EXPECT_THAT(on_bare.Append(Request({Registered("e1", "C1", kAt)})),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_EQ(on_bare.counters().rejected_requests, 0);
  EXPECT_EQ(on_bare.counters().appended, 0);
  EXPECT_OK(bare->Close());

  ASSERT_OK(log_->Close());
  closed_ = true;
  EXPECT_THAT(ingestor_->Append(Request({Registered("e1", "C1", kAt)})),
              StatusIs(absl::StatusCode::kFailedPrecondition));
  EXPECT_EQ(ingestor_->counters().rejected_requests, 0);
  EXPECT_EQ(ingestor_->counters().appended, 0);
}

}  // namespace
}  // namespace custops::ingest

// Admin against a real embedded event log and real projection runtimes:
// Status, ListDeadLetters (paging, filters, bounds) and ReplayDeadLetters.
#include "custops/admin/admin_service.h"

#include <unistd.h>

#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/partitioner.h"
#include "custops/projection/projection.h"
#include "custops/projection/runtime.h"
#include "custops/testing/events.h"
#include "custops/testing/status_matchers.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::admin {
namespace {

using ::custops::testing::IsOk;
using ::custops::testing::StatusIs;
using ::custops::testing::Visited;
using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using ::testing::Pair;
using ::testing::StartsWith;
using ::testing::UnorderedElementsAre;
using ::testing::UnorderedElementsAreArray;

constexpr int kEventPartitions = 4;
constexpr int kDeadLetterPartitions = 3;
const absl::Time kAt = absl::FromUnixSeconds(1'700'000'000);

// Appends the ids of the events it applies to "<customer>" in its column
// family, in order. "noop-*" ids are impossible (a counted no-op); the ids in
// `poisoned` fail (a bug that a later build fixes: dead letter, parking).
class TestProjection final : public projection::Projection {
 public:
  explicit TestProjection(std::string name) : name_(std::move(name)) {}
  std::string_view Name() const override { return name_; }
  std::vector<std::string> ColumnFamilies() const override { return {name_ + "_order"}; }
  absl::Status Attach(store::Store& store, int) override {
    cf_ = store.Family(name_ + "_order");
    return absl::OkStatus();
  }
  absl::Status Apply(const projection::ApplyContext&, const v1::Event& event,
                     projection::Txn& txn) override {
    if (event.event_id().starts_with("noop-")) return absl::FailedPreconditionError("not_today");
    if (poisoned.contains(event.event_id())) return absl::InternalError("exploded");
    absl::StatusOr<std::optional<std::string>> order = txn.Get(cf_, event.customer_id());
    if (!order.ok()) return order.status();
    txn.Put(cf_, event.customer_id(), absl::StrCat(order->value_or(""), event.event_id(), " "));
    return absl::OkStatus();
  }
  absl::Status Flush(Partition, absl::Time, projection::Txn&) override { return absl::OkStatus(); }
  absl::Status Tick(Partition, absl::Time, projection::Txn&) override { return absl::OkStatus(); }

  std::set<std::string> poisoned;

 private:
  std::string name_;
  store::ColumnFamily cf_ = nullptr;
};

class AdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("admin_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    ASSERT_OK_AND_ASSIGN(
        log_, log::EmbeddedEventLog::Open({.path = (dir_ / "log").string(), .sync = false}));
    ASSERT_OK(log_->CreateTopic(log::kCustomerEvents, kEventPartitions));
    ASSERT_OK(log_->CreateTopic(log::kOrgEvents, 2));
    ASSERT_OK(log_->CreateTopic(log::kStateChanges, kEventPartitions));
    ASSERT_OK(log_->CreateTopic(log::kDeadLetter, kDeadLetterPartitions));
  }
  void TearDown() override {
    runtimes_.clear();
    if (log_) {
      EXPECT_OK(log_->Close());
    }
    std::filesystem::remove_all(dir_);
  }

  // A runtime of a TestProjection called `name` over the customer events;
  // `poisoned` are the ids its projection fails on.
  projection::ProjectionRuntime* OpenRuntime(const std::string& name,
                                             std::set<std::string> poisoned = {},
                                             bool own_all = true) {
    auto p = std::make_unique<TestProjection>(name);
    p->poisoned = std::move(poisoned);
    projections_[name] = p.get();
    absl::StatusOr<std::unique_ptr<projection::ProjectionRuntime>> rt =
        projection::ProjectionRuntime::Open(
            *log_, std::move(p), {.path = (dir_ / ("state_" + name)).string(), .own_all = own_all});
    EXPECT_OK(rt);
    if (!rt.ok()) return nullptr;
    runtimes_.push_back(std::move(*rt));
    return runtimes_.back().get();
  }
  void AppendEvents(const std::vector<v1::Event>& events) {
    std::vector<log::Record> records;
    for (const v1::Event& e : events) {
      records.push_back({.key = e.customer_id(), .value = e.SerializeAsString()});
    }
    ASSERT_OK(log_->Append(log::kCustomerEvents, records, {}));
  }
  // The ids `rt` applied for `customer`, in order.
  static std::string Order(const projection::ProjectionRuntime& rt, const std::string& customer) {
    const std::string family = std::string(rt.projection().Name()) + "_order";
    return rt.store().Get(rt.store().Family(family), customer).value().value_or("");
  }

  // The `n`-th customer id (of a fixed sequence) whose dead letters land in
  // dead-letter partition `partition`.
  static std::string CustomerIn(int partition, int n = 0) {
    for (int i = 0;; ++i) {
      std::string id = absl::StrCat("cust-", i);
      if (log::PartitionForKey(id, kDeadLetterPartitions).value() == partition && n-- == 0) {
        return id;
      }
    }
  }
  // Appends one dead letter of `projection` for `customer` (keyed like the
  // runtime keys them: by customer); returns where it landed.
  std::pair<int, int64_t> AppendDeadLetter(const std::string& projection,
                                           const std::string& customer) {
    v1::DeadLetter dl;
    dl.set_projection(projection);
    dl.set_reason("apply_error: exploded");
    dl.set_source_topic(std::string(log::kCustomerEvents));
    dl.set_key(customer);
    dl.set_value("event bytes");
    absl::StatusOr<std::vector<log::AppendResult>> r =
        log_->Append(log::kDeadLetter, {{.key = customer, .value = dl.SerializeAsString()}}, {});
    EXPECT_OK(r);
    if (!r.ok()) return {-1, -1};
    return {(*r)[0].partition.value(), (*r)[0].offset.value()};
  }
  absl::StatusOr<v1::ListDeadLettersResponse> List(int page_size, const std::string& token = "",
                                                   int64_t max_scanned = 10'000) {
    v1::ListDeadLettersRequest request;
    request.set_page_size(page_size);
    request.set_page_token(token);
    return ListDeadLetters(*log_, request, max_scanned);
  }
  static std::vector<std::pair<int, int64_t>> Positions(const v1::ListDeadLettersResponse& r) {
    std::vector<std::pair<int, int64_t>> out;
    for (const v1::DeadLetterEntry& e : r.dead_letters())
      out.emplace_back(e.partition(), e.offset());
    return out;
  }

  std::vector<projection::ProjectionRuntime*> Runtimes() const {
    std::vector<projection::ProjectionRuntime*> out;
    for (const auto& rt : runtimes_) out.push_back(rt.get());
    return out;
  }
  std::vector<const projection::ProjectionRuntime*> ConstRuntimes() const {
    std::vector<const projection::ProjectionRuntime*> out;
    for (const auto& rt : runtimes_) out.push_back(rt.get());
    return out;
  }
  absl::StatusOr<v1::ReplayDeadLettersResponse> Replay(const std::string& projection,
                                                       const std::string& customer = "",
                                                       int max_events = 0, bool discard = false) {
    v1::ReplayDeadLettersRequest request;
    request.set_projection(projection);
    request.set_customer_id(customer);
    request.set_max_events(max_events);
    request.set_discard_heads(discard);
    return ReplayDeadLetters(Runtimes(), request);
  }

  std::filesystem::path dir_;
  std::unique_ptr<log::EventLog> log_;
  std::vector<std::unique_ptr<projection::ProjectionRuntime>> runtimes_;
  std::map<std::string, TestProjection*> projections_;
};

// ---- Status ----

TEST_F(AdminTest, StatusShowsEveryTopicsPartitionsAndTheDeadLetterTotal) {
  AppendEvents({Visited("e1", "alice", kAt), Visited("e2", "bob", kAt), Visited("e3", "bob", kAt)});
  AppendDeadLetter("lifecycle", CustomerIn(0));
  AppendDeadLetter("value", CustomerIn(2));

  ASSERT_OK_AND_ASSIGN(v1::StatusResponse status, BuildStatus(*log_, {}, "embedded"));
  EXPECT_EQ(status.mode(), "embedded");
  EXPECT_THAT(status.version(), Not(IsEmpty()));
  ASSERT_EQ(status.topics_size(), 4);
  const std::vector<std::pair<std::string_view, int>> topics = {
      {log::kCustomerEvents, kEventPartitions},
      {log::kOrgEvents, 2},
      {log::kStateChanges, kEventPartitions},
      {log::kDeadLetter, kDeadLetterPartitions}};
  for (int t = 0; t < 4; ++t) {
    const v1::TopicStatus& topic = status.topics(t);
    EXPECT_EQ(topic.topic(), topics[t].first);
    ASSERT_EQ(topic.partitions_size(), topics[t].second) << topic.topic();
    ASSERT_OK_AND_ASSIGN(std::vector<Offset> ends, log_->EndOffsets(topics[t].first));
    for (int p = 0; p < topic.partitions_size(); ++p) {
      EXPECT_EQ(topic.partitions(p).partition(), p);
      EXPECT_EQ(topic.partitions(p).log_end(), ends[p].value()) << topic.topic() << "/" << p;
    }
  }
  EXPECT_EQ(status.dead_letters(), 2);
  EXPECT_EQ(status.projections_size(), 0);
}

TEST_F(AdminTest, StatusShowsEachProjectionsProgressLagAndCounters) {
  projection::ProjectionRuntime* rt = OpenRuntime("lifecycle", {"a2"});
  ASSERT_NE(rt, nullptr);
  AppendEvents({Visited("a1", "alice", kAt), Visited("a2", "alice", kAt),
                Visited("a3", "alice", kAt), Visited("b1", "bob", kAt),
                Visited("noop-1", "bob", kAt), Visited("b1", "bob", kAt)});
  ASSERT_OK_AND_ASSIGN(int64_t consumed, rt->CatchUp());
  ASSERT_EQ(consumed, 6);
  // Appended, not applied yet: lag.
  AppendEvents({Visited("c1", "carol", kAt), Visited("c2", "carol", kAt)});
  const int carol = log::PartitionForKey("carol", kEventPartitions).value();

  ASSERT_OK_AND_ASSIGN(v1::StatusResponse status, BuildStatus(*log_, ConstRuntimes(), "kafka"));
  EXPECT_EQ(status.mode(), "kafka");
  EXPECT_EQ(status.dead_letters(), 1);  // a2, published by CatchUp
  ASSERT_EQ(status.projections_size(), 1);
  const v1::ProjectionStatus& ps = status.projections(0);
  EXPECT_EQ(ps.name(), "lifecycle");
  EXPECT_EQ(ps.topic(), log::kCustomerEvents);
  ASSERT_OK_AND_ASSIGN(std::vector<Offset> ends, log_->EndOffsets(log::kCustomerEvents));
  const std::vector<Offset> applied = rt->AppliedOffsets();
  ASSERT_EQ(ps.partitions_size(), kEventPartitions);
  for (int p = 0; p < kEventPartitions; ++p) {
    const v1::PartitionStatus& s = ps.partitions(p);
    SCOPED_TRACE(p);
    EXPECT_EQ(s.partition(), p);
    EXPECT_EQ(s.log_end(), ends[p].value());
    EXPECT_EQ(s.applied_offset(), applied[p].value());
    EXPECT_EQ(s.lag(), p == carol ? 2 : 0);
    EXPECT_TRUE(s.owned());
    EXPECT_FALSE(s.restoring());
    EXPECT_EQ(s.owner(), "");
  }
  EXPECT_EQ(ps.events_applied(), 2);  // a1, b1
  EXPECT_EQ(ps.noops(), 2);
  std::vector<std::pair<std::string, int64_t>> reasons;
  for (const v1::ReasonCount& rc : ps.noops_by_reason())
    reasons.emplace_back(rc.reason(), rc.count());
  EXPECT_THAT(reasons, UnorderedElementsAre(Pair("duplicate_event_id", 1), Pair("not_today", 1)));
  EXPECT_EQ(ps.dead_letters(), 1);
  EXPECT_EQ(ps.outbox_pending(), 0);
  EXPECT_EQ(ps.parked_customers(), 1);  // alice: a2 (the head) and a3
  EXPECT_EQ(ps.parked_events(), 2);
  EXPECT_EQ(ps.replayed(), 0);

  // After the fix and a replay the parking is gone and the replay counted.
  projections_["lifecycle"]->poisoned.clear();
  ASSERT_OK(Replay("lifecycle"));
  ASSERT_OK_AND_ASSIGN(status, BuildStatus(*log_, ConstRuntimes(), "kafka"));
  EXPECT_EQ(status.projections(0).parked_customers(), 0);
  EXPECT_EQ(status.projections(0).parked_events(), 0);
  EXPECT_EQ(status.projections(0).replayed(), 2);
  EXPECT_EQ(status.projections(0).events_applied(), 4);
}

TEST_F(AdminTest, StatusShowsOwnershipRestoringAndOwners) {
  projection::ProjectionRuntime* rt = OpenRuntime("lifecycle", {}, /*own_all=*/false);
  ASSERT_NE(rt, nullptr);
  AppendEvents({Visited("a1", "alice", kAt), Visited("a2", "alice", kAt)});
  const int alice = log::PartitionForKey("alice", kEventPartitions).value();
  ASSERT_OK(rt->Assign({Partition(alice)}));

  std::vector<std::string> asked;
  const OwnersFn owners = [&asked](std::string_view projection) {
    asked.emplace_back(projection);
    return absl::StatusOr<std::vector<std::string>>(
        std::vector<std::string>{"10.0.0.1:50051", "", "10.0.0.3:50051"});  // one short
  };
  ASSERT_OK_AND_ASSIGN(v1::StatusResponse status,
                       BuildStatus(*log_, ConstRuntimes(), "kafka", owners));
  EXPECT_THAT(asked, ElementsAre("lifecycle"));
  const v1::ProjectionStatus& ps = status.projections(0);
  ASSERT_EQ(ps.partitions_size(), kEventPartitions);
  const std::vector<std::string> expected_owner = {"10.0.0.1:50051", "", "10.0.0.3:50051", ""};
  for (int p = 0; p < kEventPartitions; ++p) {
    SCOPED_TRACE(p);
    const v1::PartitionStatus& s = ps.partitions(p);
    EXPECT_EQ(s.owner(), expected_owner[p]);
    EXPECT_EQ(s.owned(), p == alice);
    EXPECT_EQ(s.restoring(), p == alice);  // behind the end it had when assigned
    EXPECT_EQ(s.restore_target(), p == alice ? 2 : 0);
    EXPECT_EQ(s.lag(), p == alice ? 2 : 0);
  }

  ASSERT_OK(rt->CatchUp());
  // Owners are best effort: a failing lookup leaves them out.
  const OwnersFn failing = [](std::string_view) -> absl::StatusOr<std::vector<std::string>> {
    return absl::UnavailableError("no group coordinator");
  };
  ASSERT_OK_AND_ASSIGN(status, BuildStatus(*log_, ConstRuntimes(), "kafka", failing));
  for (const v1::PartitionStatus& s : status.projections(0).partitions()) {
    EXPECT_EQ(s.owner(), "");
    EXPECT_FALSE(s.restoring());
    EXPECT_EQ(s.lag(), 0);
  }
}

// ---- ListDeadLetters ----

TEST_F(AdminTest, ListOnAnEmptyTopicIsEmptyWithoutAToken) {
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page, List(0));
  EXPECT_EQ(page.dead_letters_size(), 0);
  EXPECT_EQ(page.next_page_token(), "");
}

TEST_F(AdminTest, ListPagesThroughPartitionsInOrderWithTokens) {
  // Partition 0: two; partition 1: none; partition 2: three.
  for (int i = 0; i < 2; ++i) {
    ASSERT_EQ(AppendDeadLetter("lifecycle", CustomerIn(0, i)), std::make_pair(0, int64_t{i}));
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_EQ(AppendDeadLetter("value", CustomerIn(2, i)), std::make_pair(2, int64_t{i}));
  }

  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page, List(2));
  EXPECT_THAT(Positions(page), ElementsAre(Pair(0, 0), Pair(0, 1)));
  EXPECT_EQ(page.dead_letters(0).dead_letter().key(), CustomerIn(0, 0));
  EXPECT_EQ(page.dead_letters(0).dead_letter().projection(), "lifecycle");
  EXPECT_EQ(page.dead_letters(1).dead_letter().key(), CustomerIn(0, 1));
  EXPECT_EQ(page.next_page_token(), "d1.2.0");  // the empty partition skipped

  ASSERT_OK_AND_ASSIGN(page, List(2, page.next_page_token()));
  EXPECT_THAT(Positions(page), ElementsAre(Pair(2, 0), Pair(2, 1)));
  EXPECT_EQ(page.dead_letters(1).dead_letter().key(), CustomerIn(2, 1));
  EXPECT_EQ(page.dead_letters(1).dead_letter().projection(), "value");
  EXPECT_EQ(page.next_page_token(), "d1.2.2");

  ASSERT_OK_AND_ASSIGN(page, List(2, page.next_page_token()));
  EXPECT_THAT(Positions(page), ElementsAre(Pair(2, 2)));
  EXPECT_EQ(page.next_page_token(), "");

  // A page that ends exactly at the end has no token either.
  ASSERT_OK_AND_ASSIGN(page, List(5));
  EXPECT_EQ(page.dead_letters_size(), 5);
  EXPECT_EQ(page.next_page_token(), "");
}

TEST_F(AdminTest, ListPageSizeZeroMeansAHundred) {
  const std::string customer = CustomerIn(1);
  v1::DeadLetter dl;
  dl.set_projection("lifecycle");
  dl.set_key(customer);
  std::vector<log::Record> records(150, {.key = customer, .value = dl.SerializeAsString()});
  ASSERT_OK(log_->Append(log::kDeadLetter, records, {}));

  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page, List(0));
  EXPECT_EQ(page.dead_letters_size(), 100);
  EXPECT_EQ(page.dead_letters(99).offset(), 99);
  EXPECT_EQ(page.next_page_token(), "d1.1.100");
  ASSERT_OK_AND_ASSIGN(page, List(0, page.next_page_token()));
  EXPECT_EQ(page.dead_letters_size(), 50);
  EXPECT_EQ(page.dead_letters(0).offset(), 100);
  EXPECT_EQ(page.next_page_token(), "");
}

TEST_F(AdminTest, ListFiltersByProjectionAndCustomer) {
  const std::string alice = CustomerIn(0, 0);
  const std::string bob = CustomerIn(1, 0);
  AppendDeadLetter("lifecycle", alice);
  AppendDeadLetter("value", alice);
  AppendDeadLetter("lifecycle", bob);
  AppendDeadLetter("review", bob);
  auto listed = [this](const std::string& projection, const std::string& customer) {
    v1::ListDeadLettersRequest request;
    request.set_projection(projection);
    request.set_customer_id(customer);
    std::vector<std::pair<std::string, std::string>> out;
    absl::StatusOr<v1::ListDeadLettersResponse> page = ListDeadLetters(*log_, request);
    EXPECT_OK(page);
    if (!page.ok()) return out;
    EXPECT_EQ(page->next_page_token(), "");
    for (const v1::DeadLetterEntry& e : page->dead_letters()) {
      out.emplace_back(e.dead_letter().projection(), e.dead_letter().key());
    }
    return out;
  };
  EXPECT_THAT(listed("lifecycle", ""),
              UnorderedElementsAre(Pair("lifecycle", alice), Pair("lifecycle", bob)));
  EXPECT_THAT(listed("", alice),
              UnorderedElementsAre(Pair("lifecycle", alice), Pair("value", alice)));
  EXPECT_THAT(listed("review", bob), ElementsAre(Pair("review", bob)));
  EXPECT_THAT(listed("value", bob), IsEmpty());
  EXPECT_THAT(listed("", ""),
              UnorderedElementsAreArray(std::vector<std::pair<std::string, std::string>>{
                  {"lifecycle", alice}, {"value", alice}, {"lifecycle", bob}, {"review", bob}}));
}

TEST_F(AdminTest, ListReadsAtMostMaxScannedRecordsPerCall) {
  // Ten records in partition 0, one of them lifecycle's (offset 5).
  const std::string customer = CustomerIn(0);
  for (int i = 0; i < 10; ++i) AppendDeadLetter(i == 5 ? "lifecycle" : "value", customer);

  v1::ListDeadLettersRequest request;
  request.set_projection("lifecycle");
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page,
                       ListDeadLetters(*log_, request, /*max_scanned=*/4));
  EXPECT_EQ(page.dead_letters_size(), 0);  // nothing in the first four: an empty page
  EXPECT_EQ(page.next_page_token(), "d1.0.4");
  request.set_page_token(page.next_page_token());
  ASSERT_OK_AND_ASSIGN(page, ListDeadLetters(*log_, request, 4));
  EXPECT_THAT(Positions(page), ElementsAre(Pair(0, 5)));
  EXPECT_EQ(page.next_page_token(), "d1.0.8");
  request.set_page_token(page.next_page_token());
  ASSERT_OK_AND_ASSIGN(page, ListDeadLetters(*log_, request, 4));
  EXPECT_EQ(page.dead_letters_size(), 0);
  EXPECT_EQ(page.next_page_token(), "");

  // Unfiltered, the bound caps the page too.
  ASSERT_OK_AND_ASSIGN(page, List(100, "", /*max_scanned=*/3));
  EXPECT_THAT(Positions(page), ElementsAre(Pair(0, 0), Pair(0, 1), Pair(0, 2)));
  EXPECT_EQ(page.next_page_token(), "d1.0.3");
}

TEST_F(AdminTest, ListShowsARecordItCannotDecodeAsItIs) {
  const std::string key = CustomerIn(1);
  ASSERT_OK(log_->Append(log::kDeadLetter, {{.key = key, .value = "\xff garbage"}}, {}));
  ASSERT_OK_AND_ASSIGN(v1::ListDeadLettersResponse page, List(0));
  ASSERT_EQ(page.dead_letters_size(), 1);
  const v1::DeadLetter& d = page.dead_letters(0).dead_letter();
  EXPECT_EQ(d.reason(), "undecodable dead-letter record");
  EXPECT_EQ(d.key(), key);
  EXPECT_EQ(d.value(), "\xff garbage");
  EXPECT_EQ(page.dead_letters(0).partition(), 1);

  v1::ListDeadLettersRequest request;
  request.set_customer_id(key);
  ASSERT_OK_AND_ASSIGN(page, ListDeadLetters(*log_, request));
  EXPECT_EQ(page.dead_letters_size(), 1);
  request.set_projection("lifecycle");
  ASSERT_OK_AND_ASSIGN(page, ListDeadLetters(*log_, request));
  EXPECT_EQ(page.dead_letters_size(), 0);
}

TEST_F(AdminTest, ListRefusesBadPageSizesNamingTheField) {
  for (int size : {-1, 1001, 1 << 30}) {
    EXPECT_THAT(List(size),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         StartsWith(absl::StrCat("page_size: 0-1000 (0 = 100), got ", size))));
  }
  EXPECT_THAT(List(1000), IsOk());
  EXPECT_THAT(List(1), IsOk());
}

TEST_F(AdminTest, ListRefusesOverlongFiltersNamingTheField) {
  v1::ListDeadLettersRequest request;
  request.set_projection(std::string(65, 'p'));
  EXPECT_THAT(ListDeadLetters(*log_, request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("projection: ")));
  request.set_projection(std::string(64, 'p'));
  EXPECT_THAT(ListDeadLetters(*log_, request), IsOk());
  request.set_customer_id(std::string(129, 'c'));
  EXPECT_THAT(ListDeadLetters(*log_, request),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("customer_id: ")));
  request.set_customer_id(std::string(128, 'c'));
  EXPECT_THAT(ListDeadLetters(*log_, request), IsOk());
}

TEST_F(AdminTest, ListRefusesTokensItDidNotMakeNamingTheField) {
  AppendDeadLetter("lifecycle", CustomerIn(0));
  for (const char* token :
       {"x", "d1.", "d1.0", "d1.0.", "d1..0", "d1.0.0.0", "d1.a.0", "d1.0.b", "d1.-1.0", "d1.0.-1",
        "d1.3.0" /* partition 3 of 3 */, "d2.0.0", "0.0", "D1.0.0", "d1. 0.0", "d1.+0.0"}) {
    SCOPED_TRACE(token);
    EXPECT_THAT(List(10, token),
                StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("page_token: ")));
  }
  EXPECT_THAT(List(10, "d1.2.0"), IsOk());
}

TEST_F(AdminTest, ListNeedsTheDeadLetterTopic) {
  ASSERT_OK_AND_ASSIGN(std::unique_ptr<log::EventLog> bare,
                       log::EmbeddedEventLog::Open({.path = (dir_ / "bare").string()}));
  EXPECT_THAT(ListDeadLetters(*bare, v1::ListDeadLettersRequest()),
              StatusIs(absl::StatusCode::kNotFound));
  EXPECT_OK(bare->Close());
}

// ---- ReplayDeadLetters ----

TEST_F(AdminTest, ReplayRefusesBadRequestsNamingTheFieldAndReplaysNothing) {
  projection::ProjectionRuntime* rt = OpenRuntime("lifecycle", {"a1"});
  ASSERT_NE(rt, nullptr);
  AppendEvents({Visited("a1", "alice", kAt), Visited("a2", "alice", kAt)});
  ASSERT_OK(rt->CatchUp());
  projections_["lifecycle"]->poisoned.clear();  // a replay now would release alice

  EXPECT_THAT(Replay(""), StatusIs(absl::StatusCode::kInvalidArgument,
                                   "projection: required (lifecycle, value or review)"));
  EXPECT_THAT(Replay("counting"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "projection: \"counting\" is not one of lifecycle, value, review"));
  EXPECT_THAT(Replay("lifecycle", std::string(129, 'c')),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("customer_id: ")));
  for (int max_events : {-1, 100'001}) {
    EXPECT_THAT(Replay("lifecycle", "", max_events),
                StatusIs(absl::StatusCode::kInvalidArgument,
                         absl::StrCat("max_events: 0-100000 (0 = 20000), got ", max_events)));
  }
  // A projection this instance does not run.
  EXPECT_THAT(Replay("value"), StatusIs(absl::StatusCode::kFailedPrecondition,
                                        AllOf(StartsWith("projection: "), HasSubstr("value"))));

  EXPECT_EQ(rt->Stats().parked_events, 2);
  EXPECT_EQ(rt->Stats().replayed, 0);
  EXPECT_EQ(Order(*rt, "alice"), "");
  // The bounds themselves are accepted.
  EXPECT_THAT(Replay("lifecycle", std::string(128, 'c'), 100'000), IsOk());
}

TEST_F(AdminTest, ReplayReportsWhatStaysParkedAndReleasesAfterTheFix) {
  projection::ProjectionRuntime* rt = OpenRuntime("lifecycle", {"a2"});
  ASSERT_NE(rt, nullptr);
  AppendEvents({Visited("a1", "alice", kAt), Visited("a2", "alice", kAt),
                Visited("a3", "alice", kAt), Visited("b1", "bob", kAt)});
  ASSERT_OK(rt->CatchUp());
  const int alice = log::PartitionForKey("alice", kEventPartitions).value();

  // Not fixed yet: the head fails again and everything stays.
  ASSERT_OK_AND_ASSIGN(v1::ReplayDeadLettersResponse r, Replay("lifecycle"));
  EXPECT_EQ(r.customers_released(), 0);
  EXPECT_EQ(r.events_replayed(), 0);
  EXPECT_EQ(r.customers_parked(), 1);
  EXPECT_EQ(r.events_parked(), 2);
  ASSERT_EQ(r.parked_size(), 1);
  EXPECT_EQ(r.parked(0).customer_id(), "alice");
  EXPECT_EQ(r.parked(0).partition(), alice);
  EXPECT_EQ(r.parked(0).parked_events(), 2);
  EXPECT_EQ(r.parked(0).head_offset(), 1);  // a2, alice's second record
  EXPECT_EQ(r.parked(0).reason(), "apply_error: exploded");
  EXPECT_FALSE(r.more());
  EXPECT_THAT(r.partitions_not_owned(), IsEmpty());

  // Fixed: max_events bounds a call; 0 means the default (all of these).
  projections_["lifecycle"]->poisoned.clear();
  ASSERT_OK_AND_ASSIGN(r, Replay("lifecycle", "", /*max_events=*/1));
  EXPECT_TRUE(r.more());
  EXPECT_EQ(r.events_replayed(), 1);
  EXPECT_EQ(r.events_parked(), 1);
  EXPECT_EQ(Order(*rt, "alice"), "a1 a2 ");
  ASSERT_OK_AND_ASSIGN(r, Replay("lifecycle", "", /*max_events=*/0));
  EXPECT_FALSE(r.more());
  EXPECT_EQ(r.customers_released(), 1);
  EXPECT_EQ(r.events_replayed(), 1);
  EXPECT_EQ(r.customers_parked(), 0);
  EXPECT_EQ(r.events_parked(), 0);
  EXPECT_THAT(r.parked(), IsEmpty());
  EXPECT_EQ(Order(*rt, "alice"), "a1 a2 a3 ");
  EXPECT_EQ(Order(*rt, "bob"), "b1 ");
}

TEST_F(AdminTest, ReplayGoesToTheNamedProjectionAndCustomerOnly) {
  projection::ProjectionRuntime* lifecycle = OpenRuntime("lifecycle", {"a1", "b1"});
  projection::ProjectionRuntime* value = OpenRuntime("value", {"a1"});
  ASSERT_NE(lifecycle, nullptr);
  ASSERT_NE(value, nullptr);
  AppendEvents(
      {Visited("a1", "alice", kAt), Visited("a2", "alice", kAt), Visited("b1", "bob", kAt)});
  ASSERT_OK(lifecycle->CatchUp());
  ASSERT_OK(value->CatchUp());
  projections_["lifecycle"]->poisoned.clear();
  projections_["value"]->poisoned.clear();

  ASSERT_OK_AND_ASSIGN(v1::ReplayDeadLettersResponse r, Replay("lifecycle", "bob"));
  EXPECT_EQ(r.customers_released(), 1);
  EXPECT_EQ(r.events_replayed(), 1);
  EXPECT_EQ(Order(*lifecycle, "bob"), "b1 ");
  EXPECT_EQ(Order(*lifecycle, "alice"), "");  // not named
  EXPECT_EQ(Order(*value, "alice"), "");      // another projection
  EXPECT_EQ(lifecycle->Stats().parked_customers, 1);
  EXPECT_EQ(value->Stats().parked_customers, 1);

  ASSERT_OK_AND_ASSIGN(r, Replay("value"));
  EXPECT_EQ(r.customers_released(), 1);
  EXPECT_EQ(Order(*value, "alice"), "a1 a2 ");
  EXPECT_EQ(Order(*lifecycle, "alice"), "");
  EXPECT_EQ(lifecycle->Stats().parked_customers, 1);
}

TEST_F(AdminTest, ReplayCanDiscardHeads) {
  projection::ProjectionRuntime* rt = OpenRuntime("review", {"a1"});
  ASSERT_NE(rt, nullptr);
  AppendEvents({Visited("a1", "alice", kAt), Visited("a2", "alice", kAt)});
  ASSERT_OK(rt->CatchUp());
  // Still failing: without discard_heads nothing moves.
  ASSERT_OK_AND_ASSIGN(v1::ReplayDeadLettersResponse r, Replay("review"));
  EXPECT_EQ(r.events_replayed(), 0);
  ASSERT_OK_AND_ASSIGN(r, Replay("review", "alice", 0, /*discard=*/true));
  EXPECT_EQ(r.customers_released(), 1);
  EXPECT_EQ(r.events_replayed(), 2);
  EXPECT_EQ(Order(*rt, "alice"), "a2 ");
  EXPECT_EQ(rt->Stats().noops_by_reason["dead_letter_discarded"], 1);
}

TEST_F(AdminTest, ReplayNamesThePartitionsThisInstanceDoesNotOwn) {
  projection::ProjectionRuntime* rt = OpenRuntime("lifecycle", {"a1"}, /*own_all=*/false);
  ASSERT_NE(rt, nullptr);
  const int alice = log::PartitionForKey("alice", kEventPartitions).value();
  ASSERT_OK(rt->Assign({Partition(alice)}));
  AppendEvents({Visited("a1", "alice", kAt)});
  ASSERT_OK(rt->CatchUp());
  ASSERT_OK_AND_ASSIGN(v1::ReplayDeadLettersResponse r, Replay("lifecycle"));
  std::vector<int> others;
  for (int p = 0; p < kEventPartitions; ++p) {
    if (p != alice) others.push_back(p);
  }
  EXPECT_THAT(r.partitions_not_owned(), UnorderedElementsAreArray(others));
  EXPECT_EQ(r.customers_parked(), 1);
}

}  // namespace
}  // namespace custops::admin

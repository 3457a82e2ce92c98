// The lifecycle projection on a real embedded log and RocksDB store, with a
// simulated clock: index vs. scan agreement, the ticker, stage-change
// emission, paging, and replay determinism across batch sizes.
#include "custops/lifecycle/lifecycle_projection.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <random>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/event/upcast.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/partitioner.h"
#include "custops/projection/runtime.h"
#include "custops/store/keys.h"
#include "custops/testing/projection_fixture.h"
#include "custops/v1/changes.pb.h"
#include "gtest/gtest.h"

namespace custops::lifecycle {
namespace {

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14
absl::Duration Days(int n) { return absl::Hours(24 * n); }

class Events {
 public:
  v1::Event& Add(const std::string& customer, absl::Time at) {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(absl::StrCat("e", events_.size()));
    e.set_customer_id(customer);
    *e.mutable_occurred_at() = event::ToProto(at);
    e.set_actor_id("rep-1");
    return e;
  }
  void Register(const std::string& c, absl::Time at, const std::string& region) {
    auto* r = Add(c, at).mutable_customer_registered();
    r->set_name("Customer " + c);
    r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
    r->set_region(region);
    r->set_industry("manufacturing");
    r->set_owner_id("rep-1");
  }
  void InterestedVisit(const std::string& c, absl::Time at) {
    auto* v = Add(c, at).mutable_visit_logged();
    v->set_visit_id(absl::StrCat("v", events_.size()));
    v->set_channel(v1::VISIT_CHANNEL_ONSITE);
    v->set_outcome(v1::VISIT_OUTCOME_INTERESTED);
  }
  void Contract(const std::string& c, absl::Time at, int64_t units) {
    auto* k = Add(c, at).mutable_contract_signed();
    k->set_contract_id(absl::StrCat("k", events_.size()));
    k->mutable_amount()->set_units(units);
    k->mutable_amount()->set_currency("CNY");
    k->mutable_cost()->set_units(units / 2);
    k->mutable_cost()->set_currency("CNY");
    *k->mutable_start() = event::ToProto(at);
    *k->mutable_end() = event::ToProto(at + Days(30));
  }
  const std::vector<v1::Event>& all() const { return events_; }
  std::vector<v1::Event>& mutable_all() { return events_; }

 private:
  std::vector<v1::Event> events_;
};

class LifecycleProjectionTest : public custops::testing::EmbeddedLogTest {
 protected:
  LifecycleProjectionTest()
      : EmbeddedLogTest("lc_test", kT0,
                        {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {}

  void TearDown() override {
    runtimes_.clear();
    EmbeddedLogTest::TearDown();
  }
  projection::ProjectionRuntime& OpenRuntime(const std::string& name, size_t max_batch) {
    auto rt = projection::ProjectionRuntime::Open(
        *log_, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
        {.path = (dir_ / name).string(),
         .max_batch = max_batch,
         .clock = &clock_,
         .restore_batch = max_batch});
    EXPECT_TRUE(rt.ok()) << rt.status();
    runtimes_.push_back(std::move(*rt));
    return *runtimes_.back();
  }

  std::vector<std::unique_ptr<projection::ProjectionRuntime>> runtimes_;
};

TEST_F(LifecycleProjectionTest, ViewIndexSummaryAndTickerAgree) {
  Events ev;
  ev.Register("c-prospect", kT0 - Days(10), "East");
  ev.Register("c-intent", kT0 - Days(10), "East");
  ev.InterestedVisit("c-intent", kT0 - Days(5));
  ev.Register("c-customer", kT0 - Days(20), "West");
  ev.Contract("c-customer", kT0 - Days(2), 500'00);
  ev.Add("c-ghost", kT0 - Days(1)).mutable_customer_churned()->set_reason("never registered");
  Append(ev.all());
  projection::ProjectionRuntime& rt = OpenRuntime("state", 1000);
  ASSERT_EQ(rt.CatchUp().value(), 6);
  LifecycleQueries q(rt.store(), rt.partitions(), domain::LifecycleRules());

  auto intent = q.GetCustomer("c-intent", clock_.Now());
  ASSERT_TRUE(intent.ok()) << intent.status();
  EXPECT_EQ(intent->stage(), v1::LIFECYCLE_STAGE_INTENT);
  EXPECT_EQ(q.GetCustomer("c-ghost", clock_.Now()).status().code(), absl::StatusCode::kNotFound);
  auto customer = q.GetCustomer("c-customer", clock_.Now()).value();
  EXPECT_EQ(customer.stage(), v1::LIFECYCLE_STAGE_CUSTOMER);
  EXPECT_EQ(customer.sub_stage(), v1::SUB_STAGE_NEW);

  // Index (as of now) and a full evaluation at the same instant agree.
  auto by_index = q.StageSummary(v1::DIMENSION_REGION, clock_.Now(), true).value();
  auto by_scan = q.StageSummary(v1::DIMENSION_REGION, clock_.Now(), false).value();
  EXPECT_EQ(by_index.SerializeAsString(), by_scan.SerializeAsString());
  EXPECT_EQ(by_index.total(), 3);

  v1::ListCustomersRequest list;
  list.mutable_filter()->set_stage(v1::LIFECYCLE_STAGE_INTENT);
  auto intents = q.ListCustomers(list, clock_.Now(), true).value();
  ASSERT_EQ(intents.customers_size(), 1);
  EXPECT_EQ(intents.customers(0).customer_id(), "c-intent");

  // 180 days of silence: the ticker moves the lead back to PROSPECT in the
  // index without any new event, and emits the change.
  clock_.Advance(Days(176));
  ASSERT_EQ(rt.CatchUp().value(), 0);
  auto after = q.ListCustomers(list, clock_.Now(), true).value();
  EXPECT_EQ(after.customers_size(), 0);
  EXPECT_EQ(q.StageSummary(v1::DIMENSION_ALL, clock_.Now(), true)->SerializeAsString(),
            q.StageSummary(v1::DIMENSION_ALL, clock_.Now(), false)->SerializeAsString());

  std::map<std::string, std::vector<std::pair<int, int>>> moves;
  std::set<std::string> ids;
  for (const v1::StateChange& c : Changes()) {
    ids.insert(c.change_id());
    moves[c.customer_id()].emplace_back(c.stage_changed().from(), c.stage_changed().to());
  }
  EXPECT_EQ(ids.size(), Changes().size());  // ids are unique
  // One change per event that moves the stage (registration, then the
  // interested visit), then the ticker's.
  EXPECT_EQ(moves["c-intent"], (std::vector<std::pair<int, int>>{
                                   {v1::LIFECYCLE_STAGE_UNSPECIFIED, v1::LIFECYCLE_STAGE_PROSPECT},
                                   {v1::LIFECYCLE_STAGE_PROSPECT, v1::LIFECYCLE_STAGE_INTENT},
                                   {v1::LIFECYCLE_STAGE_INTENT, v1::LIFECYCLE_STAGE_PROSPECT}}));
  EXPECT_EQ(moves.count("c-ghost"), 0u);
}

TEST_F(LifecycleProjectionTest, PagesCoverEveryCustomerOnceInIdOrder) {
  Events ev;
  for (int i = 0; i < 57; ++i) ev.Register(absl::StrCat("cust-", 100 + i), kT0 - Days(3), "North");
  Append(ev.all());
  projection::ProjectionRuntime& rt = OpenRuntime("state", 1000);
  ASSERT_TRUE(rt.CatchUp().ok());
  LifecycleQueries q(rt.store(), rt.partitions(), domain::LifecycleRules());
  for (bool use_index : {true, false}) {
    std::vector<std::string> seen;
    v1::ListCustomersRequest req;
    req.set_page_size(10);
    if (use_index) req.mutable_filter()->set_stage(v1::LIFECYCLE_STAGE_PROSPECT);
    do {
      auto page = q.ListCustomers(req, clock_.Now(), use_index);
      ASSERT_TRUE(page.ok()) << page.status();
      EXPECT_LE(page->customers_size(), 10);
      for (const auto& c : page->customers()) seen.push_back(c.customer_id());
      req.set_page_token(page->next_page_token());
    } while (!req.page_token().empty());
    ASSERT_EQ(seen.size(), 57u);
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end()));
    EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), 57u);
  }
  v1::ListCustomersRequest bad;
  bad.set_page_token("garbage");
  EXPECT_EQ(q.ListCustomers(bad, clock_.Now(), true).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// Instances that own disjoint partitions answer over theirs; the merge of
// their answers is byte for byte the answer over every partition (pages,
// tokens and summaries), whatever the split.
TEST_F(LifecycleProjectionTest, MergedAnswersOfPartitionSubsetsEqualTheWholeAnswer) {
  Events ev;
  for (int i = 0; i < 57; ++i) {
    ev.Register(absl::StrCat("cust-", 100 + i), kT0 - Days(3), i % 3 == 0 ? "North" : "South");
  }
  Append(ev.all());
  projection::ProjectionRuntime& rt = OpenRuntime("state", 1000);
  ASSERT_TRUE(rt.CatchUp().ok());
  LifecycleQueries q(rt.store(), rt.partitions(), domain::LifecycleRules());
  const std::vector<std::vector<std::vector<Partition>>> splits = {
      {{Partition(0), Partition(1)}, {Partition(2), Partition(3)}},
      {{Partition(3)}, {Partition(0), Partition(2)}, {Partition(1)}},
  };
  for (const auto& split : splits) {
    for (int page_size : {1, 10, 57, 100}) {
      v1::ListCustomersRequest req;
      req.set_page_size(page_size);
      int pages = 0;
      do {
        auto whole = q.ListCustomers(req, clock_.Now(), true);
        ASSERT_TRUE(whole.ok()) << whole.status();
        std::vector<v1::ListCustomersResponse> parts;
        for (const std::vector<Partition>& owned : split) {
          parts.push_back(q.ListCustomers(req, clock_.Now(), true, &owned).value());
        }
        auto merged = MergeCustomerLists(req, parts);
        ASSERT_TRUE(merged.ok()) << merged.status();
        ASSERT_EQ(merged->SerializeAsString(), whole->SerializeAsString())
            << "page size " << page_size << " page " << pages;
        req.set_page_token(whole->next_page_token());
        ++pages;
      } while (!req.page_token().empty());
      EXPECT_EQ(pages, (57 + page_size - 1) / page_size);
    }
    for (v1::Dimension d : {v1::DIMENSION_ALL, v1::DIMENSION_REGION}) {
      auto whole = q.StageSummary(d, clock_.Now(), true).value();
      std::vector<v1::StageSummaryResponse> parts;
      for (const std::vector<Partition>& owned : split) {
        parts.push_back(q.StageSummary(d, clock_.Now(), true, &owned).value());
      }
      EXPECT_EQ(MergeStageSummaries(parts).SerializeAsString(), whole.SerializeAsString());
      EXPECT_EQ(whole.total(), 57);
    }
  }
}

TEST_F(LifecycleProjectionTest, TimelineIsInEventTimeOrderAndPages) {
  Events ev;
  ev.Register("c1", kT0 - Days(10), "East");
  ev.Contract("c1", kT0 - Days(1), 100);
  ev.InterestedVisit("c1", kT0 - Days(5));  // arrives late, sorts before the contract
  Append(ev.all());
  projection::ProjectionRuntime& rt = OpenRuntime("state", 1000);
  ASSERT_TRUE(rt.CatchUp().ok());
  LifecycleQueries q(rt.store(), rt.partitions(), domain::LifecycleRules());
  v1::TimelineRequest req;
  req.set_customer_id("c1");
  req.set_page_size(2);
  auto first = q.Timeline(req).value();
  ASSERT_EQ(first.entries_size(), 2);
  EXPECT_TRUE(first.entries(0).event().has_customer_registered());
  EXPECT_TRUE(first.entries(1).event().has_visit_logged());
  ASSERT_FALSE(first.next_page_token().empty());
  req.set_page_token(first.next_page_token());
  auto second = q.Timeline(req).value();
  ASSERT_EQ(second.entries_size(), 1);
  EXPECT_TRUE(second.entries(0).event().has_contract_signed());
  EXPECT_TRUE(second.next_page_token().empty());
  req.set_customer_id("nobody");
  EXPECT_EQ(q.Timeline(req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LifecycleProjectionTest, ReplayIsByteIdenticalWhateverTheBatchSize) {
  Events ev;
  for (int i = 0; i < 40; ++i) {
    const std::string c = absl::StrCat("r", i);
    ev.Register(c, kT0 - Days(400 + i), i % 2 ? "East" : "West");
    if (i % 3 == 0) ev.InterestedVisit(c, kT0 - Days(300 - i));
    if (i % 4 == 0) ev.Contract(c, kT0 - Days(200 - i), 1000 + i);
    if (i % 5 == 0) ev.Contract(c, kT0 - Days(20 + i), 3000 + i);
  }
  Append(ev.all());
  projection::ProjectionRuntime& a = OpenRuntime("a", 1);
  projection::ProjectionRuntime& b = OpenRuntime("b", 1000);
  ASSERT_TRUE(a.CatchUp().ok());
  ASSERT_TRUE(b.CatchUp().ok());
  LifecycleQueries qa(a.store(), a.partitions(), domain::LifecycleRules());
  LifecycleQueries qb(b.store(), b.partitions(), domain::LifecycleRules());
  for (int i = 0; i < 40; ++i) {
    const std::string c = absl::StrCat("r", i);
    EXPECT_EQ(qa.GetCustomer(c, clock_.Now())->SerializeAsString(),
              qb.GetCustomer(c, clock_.Now())->SerializeAsString());
  }
  for (auto dim : {v1::DIMENSION_ALL, v1::DIMENSION_REGION, v1::DIMENSION_KIND}) {
    EXPECT_EQ(qa.StageSummary(dim, clock_.Now(), true)->SerializeAsString(),
              qb.StageSummary(dim, clock_.Now(), true)->SerializeAsString());
  }
}

// docs/schema-evolution.md: a log holding events of schema version 1 (no
// version stated, the city written into the region: "华东/上海") beside
// version-2 events replays to the same answers, byte for byte, as a log of
// version 2 only: the runtime upcasts before validation and the projection.
// Without the upcaster the version-1 registrations would be dead letters (a
// region may not contain '/') and the regions would differ.
TEST_F(LifecycleProjectionTest, OldSchemaVersionsReplayToTheSameAnswers) {
  Events mixed, current;
  const char* const kRegions[] = {"华东", "华北"};
  const char* const kCities[] = {"上海", "南京", "天津"};
  for (int i = 0; i < 30; ++i) {
    const std::string c = absl::StrCat("s", i);
    for (Events* ev : {&mixed, &current}) {
      ev->Register(c, kT0 - Days(400 + i), kRegions[i % 2]);
      auto* u = ev->Add(c, kT0 - Days(300 - i)).mutable_customer_profile_updated();
      u->set_owner_id("rep-2");
      if (i % 4 == 0) u->set_region("华南");
      if (i % 3 == 0) ev->InterestedVisit(c, kT0 - Days(200 - i));
      if (i % 4 == 0) ev->Contract(c, kT0 - Days(100 - i), 1000 + i);
    }
  }
  // The current log: every event in version 2, cities in their own field.
  for (v1::Event& e : current.mutable_all()) {
    const int i = std::stoi(e.customer_id().substr(1));
    if (e.has_customer_registered()) e.mutable_customer_registered()->set_city(kCities[i % 3]);
    if (e.customer_profile_updated().has_region()) {
      e.mutable_customer_profile_updated()->set_city("广州");
    }
    e.set_schema_version(event::kSchemaVersion);
  }
  // The mixed log: two customers in three written in version 1 (no version,
  // or 1 stated), the rest as in the current log.
  for (size_t k = 0; k < mixed.all().size(); ++k) {
    v1::Event& e = mixed.mutable_all()[k];
    const int i = std::stoi(e.customer_id().substr(1));
    if (i % 3 == 1) {
      e = current.all()[k];
      continue;
    }
    if (e.has_customer_registered()) {
      e.mutable_customer_registered()->set_region(
          absl::StrCat(kRegions[i % 2], "/", kCities[i % 3]));
    } else if (e.customer_profile_updated().has_region()) {
      e.mutable_customer_profile_updated()->set_region("华南/广州");
    }
    if (i % 2 == 1) e.set_schema_version(1);
  }
  Append(mixed.all());
  auto log2 = log::EmbeddedEventLog::Open(
                  {.path = (dir_ / "log2").string(), .sync = false, .clock = &clock_})
                  .value();
  for (auto topic : {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {
    ASSERT_TRUE(log2->CreateTopic(topic, 4).ok());
  }
  {
    std::vector<log::Record> records;
    for (const auto& e : current.all()) records.push_back({e.customer_id(), e.SerializeAsString()});
    ASSERT_TRUE(log2->Append(log::kCustomerEvents, records, {}).ok());
  }
  projection::ProjectionRuntime& a = OpenRuntime("mixed", 7);
  auto b = projection::ProjectionRuntime::Open(
      *log2, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
      {.path = (dir_ / "current").string(),
       .max_batch = 1000,
       .clock = &clock_,
       .restore_batch = 1000});
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_TRUE(a.CatchUp().ok());
  ASSERT_TRUE((*b)->CatchUp().ok());
  EXPECT_EQ(a.Stats().dead_letters, 0);
  LifecycleQueries qa(a.store(), a.partitions(), domain::LifecycleRules());
  LifecycleQueries qb((*b)->store(), (*b)->partitions(), domain::LifecycleRules());
  for (int i = 0; i < 30; ++i) {
    const std::string c = absl::StrCat("s", i);
    absl::StatusOr<v1::CustomerView> va = qa.GetCustomer(c, clock_.Now());
    ASSERT_TRUE(va.ok()) << c << ": " << va.status();
    EXPECT_EQ(va->SerializeAsString(), qb.GetCustomer(c, clock_.Now())->SerializeAsString()) << c;
    EXPECT_EQ(va->profile().city(), i % 4 == 0 ? "广州" : kCities[i % 3]) << c;
    EXPECT_EQ(va->profile().region(), i % 4 == 0 ? "华南" : kRegions[i % 2]) << c;
    v1::TimelineRequest req;
    req.set_customer_id(c);
    EXPECT_EQ(qa.Timeline(req)->SerializeAsString(), qb.Timeline(req)->SerializeAsString()) << c;
  }
  for (auto dim : {v1::DIMENSION_ALL, v1::DIMENSION_REGION}) {
    EXPECT_EQ(qa.StageSummary(dim, clock_.Now(), true)->SerializeAsString(),
              qb.StageSummary(dim, clock_.Now(), true)->SerializeAsString());
  }
  b->reset();
  ASSERT_TRUE(log2->Close().ok());
}

// An embedded log at `path` (4 partitions) holding `events` on the customer
// events topic.
std::unique_ptr<log::EventLog> LogOf(const std::string& path, const base::Clock& clock,
                                     const std::vector<v1::Event>& events) {
  std::unique_ptr<log::EventLog> log =
      log::EmbeddedEventLog::Open({.path = path, .sync = false, .clock = &clock}).value();
  for (auto topic : {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {
    EXPECT_TRUE(log->CreateTopic(topic, 4).ok());
  }
  std::vector<log::Record> records;
  for (const auto& e : events) records.push_back({e.customer_id(), e.SerializeAsString()});
  EXPECT_TRUE(log->Append(log::kCustomerEvents, records, {}).ok());
  return log;
}

// Every record of the changes topic, partition by partition.
std::vector<std::string> ChangesOf(log::EventLog& log) {
  std::vector<std::string> changes;
  for (int p = 0; p < 4; ++p) {
    const std::vector<log::LogRecord> published =
        log.Read(log::kStateChanges, Partition(p), Offset(0), 100000).value();
    for (const auto& r : published) changes.push_back(r.value);
  }
  return changes;
}

// The stage changes (each record of the changes topic, partition by
// partition) and the view of each customer at the end of a catch-up of
// `events` in batches of at most `max_batch`, then a tick 200 days later.
struct Derived {
  std::vector<std::string> changes;
  std::map<std::string, std::string> views;
};
Derived DeriveWithBatch(const std::filesystem::path& dir, const std::vector<v1::Event>& events,
                        size_t max_batch) {
  base::SimulatedClock clock{kT0};
  const std::string path = (dir / absl::StrCat("batch", max_batch)).string();
  std::unique_ptr<log::EventLog> log = LogOf(path + "-log", clock, events);
  Derived out;
  {
    auto rt = projection::ProjectionRuntime::Open(
                  *log, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
                  {.path = path + "-state",
                   .max_batch = max_batch,
                   .clock = &clock,
                   .restore_batch = max_batch})
                  .value();
    EXPECT_TRUE(rt->CatchUp().ok());
    clock.Advance(Days(200));  // time-driven moves by the ticker
    EXPECT_TRUE(rt->CatchUp().ok());
    EXPECT_EQ(rt->Stats().dead_letters, 0);
    LifecycleQueries q(rt->store(), rt->partitions(), domain::LifecycleRules());
    for (const auto& e : events) {
      absl::StatusOr<v1::CustomerView> view = q.GetCustomer(e.customer_id(), clock.Now());
      out.views[e.customer_id()] =
          view.ok() ? view->SerializeAsString() : std::string(view.status().message());
    }
  }
  out.changes = ChangesOf(*log);
  EXPECT_TRUE(log->Close().ok());
  return out;
}

// The derived changes (ids and contents) are part of the replayable output:
// a new owner of a partition re-derives them and must find the same ones.
TEST_F(LifecycleProjectionTest, ChangesDoNotDependOnBatchBoundaries) {
  Events ev;
  for (int i = 0; i < 30; ++i) {
    const std::string c = absl::StrCat("b", i);
    ev.Register(c, kT0 - Days(500 + i), i % 2 ? "East" : "West");
    if (i % 2 == 0) ev.InterestedVisit(c, kT0 - Days(400 - i));
    if (i % 3 == 0) ev.Contract(c, kT0 - Days(390 - i), 1000 + i);
    if (i % 6 == 0) ev.Contract(c, kT0 - Days(10 + i), 9000 + i);
  }
  const std::vector<std::string> whole = DeriveWithBatch(dir_, ev.all(), 1000).changes;
  EXPECT_GT(whole.size(), 40u);  // more than one per customer
  EXPECT_EQ(DeriveWithBatch(dir_, ev.all(), 1).changes, whole);
  EXPECT_EQ(DeriveWithBatch(dir_, ev.all(), 7).changes, whole);
}

// A batch classifies each customer once, at Flush, for all its events of
// the batch; the changes must be those of one classification per event
// (batches of one event) even when a customer's events arrive out of
// order: late ones that revise what was announced, several at one instant,
// some after the clock, the registration after other events.
TEST_F(LifecycleProjectionTest, OutOfOrderChangesDoNotDependOnBatchBoundaries) {
  std::mt19937 rng(16);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Events ev;
  std::vector<std::vector<v1::Event>> per_customer;
  for (int i = 0; i < 40; ++i) {
    const std::string c = absl::StrCat("o", i);
    Events mine;
    mine.Register(c, kT0 - Days(720 + pick(10)), i % 2 ? "East" : "West");
    for (int k = 0; k < 14; ++k) {
      absl::Time at = kT0 - Days(pick(720));
      if (pick(5) == 0) at = kT0 - Days(300);            // a shared instant
      if (pick(12) == 0) at = kT0 + Days(1 + pick(20));  // after the clock
      switch (pick(5)) {
        case 0:
        case 1:
          mine.Contract(c, at, 100 + pick(5000));
          break;
        case 2:
          mine.Add(c, at).mutable_customer_churned()->set_reason("gone");
          break;
        default:
          mine.InterestedVisit(c, at);
          break;
      }
    }
    std::vector<v1::Event> events = mine.all();
    for (size_t k = 0; k < events.size(); ++k) {
      events[k].set_event_id(absl::StrCat(c, "-e", k));
      if (events[k].has_contract_signed()) {
        events[k].mutable_contract_signed()->set_contract_id(absl::StrCat(c, "-k", k));
      }
    }
    if (i % 3 == 0) {
      // In order of time: one sweep per batch announces several events.
      std::stable_sort(events.begin(), events.end(), [](const v1::Event& a, const v1::Event& b) {
        return event::FromProto(a.occurred_at()) < event::FromProto(b.occurred_at());
      });
    } else {
      std::shuffle(events.begin(), events.end(), rng);
    }
    per_customer.push_back(std::move(events));
  }
  // Customers interleaved, a few events of one after a few of another.
  std::vector<v1::Event> log;
  for (size_t k = 0; k < 15; k += 3) {
    for (const auto& events : per_customer) {
      for (size_t j = k; j < std::min(k + 3, events.size()); ++j) log.push_back(events[j]);
    }
  }
  ASSERT_EQ(log.size(), 40u * 15);
  const Derived one = DeriveWithBatch(dir_, log, 1);
  EXPECT_GT(one.changes.size(), 40u * 4);
  std::set<std::string> reasons;
  for (const std::string& bytes : one.changes) {
    v1::StateChange change;
    ASSERT_TRUE(change.ParseFromString(bytes));
    reasons.insert(change.stage_changed().reason());
  }
  EXPECT_TRUE(reasons.contains("win_back")) << absl::StrJoin(reasons, ",");
  EXPECT_TRUE(reasons.contains("churned")) << absl::StrJoin(reasons, ",");
  for (size_t max_batch : {2, 5, 16, 1000}) {
    SCOPED_TRACE(max_batch);
    const Derived batched = DeriveWithBatch(dir_, log, max_batch);
    EXPECT_EQ(batched.changes, one.changes);
    EXPECT_EQ(batched.views, one.views);
  }
}

// The replay cache (docs/lifecycle.md "Replay cache"): the committed facts
// and index entries a projection keeps across batches only save reads. A
// batch or tick that is not committed, a partition that changes hands and a
// bound that evicts must leave the store and the changes exactly as a
// replay without the cache makes them.

// A LifecycleProjection whose batches (after its Flush) and ticks (after its
// Tick) fail when the runtime's count of them is listed: the txn is dropped
// after the projection did all its work, as when the commit fails.
class FailingLifecycle final : public projection::Projection {
 public:
  FailingLifecycle(LifecycleCacheOptions cache, std::set<int> fail_flushes,
                   std::set<int> fail_ticks)
      : inner_(domain::LifecycleRules(), cache),
        fail_flushes_(std::move(fail_flushes)),
        fail_ticks_(std::move(fail_ticks)) {}
  std::string_view Name() const override { return inner_.Name(); }
  std::vector<std::string> ColumnFamilies() const override { return inner_.ColumnFamilies(); }
  absl::Status Attach(store::Store& store, int partitions) override {
    return inner_.Attach(store, partitions);
  }
  absl::Status Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                     projection::Txn& txn) override {
    return inner_.Apply(ctx, event, txn);
  }
  absl::Status Flush(Partition p, absl::Time now, projection::Txn& txn) override {
    RETURN_IF_ERROR(inner_.Flush(p, now, txn));
    if (fail_flushes_.contains(flushes_++)) return absl::UnavailableError("commit failed");
    return absl::OkStatus();
  }
  absl::Status Tick(Partition p, absl::Time now, projection::Txn& txn) override {
    RETURN_IF_ERROR(inner_.Tick(p, now, txn));
    if (fail_ticks_.contains(ticks_++)) return absl::UnavailableError("commit failed");
    return absl::OkStatus();
  }
  void Abandon(Partition p) override { inner_.Abandon(p); }
  void Forget(Partition p) override { inner_.Forget(p); }
  const LifecycleProjection& inner() const { return inner_; }

 private:
  LifecycleProjection inner_;
  std::set<int> fail_flushes_, fail_ticks_;
  int flushes_ = 0;
  int ticks_ = 0;
};

// Every key and value of the lifecycle families, and the changes published.
struct Replayed {
  std::string state;
  std::vector<std::string> changes;
  LifecycleCacheStats cache;
  int failures = 0;  // CatchUp calls that failed
};

std::string LifecycleState(const store::Store& store) {
  std::string out;
  for (const std::string& family : LifecycleProjection(domain::LifecycleRules()).ColumnFamilies()) {
    absl::StrAppend(&out, "[", family, "]\n");
    std::unique_ptr<store::Iterator> it = store.NewIterator(store.Family(family));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      absl::StrAppend(&out, absl::CHexEscape(std::string(it->key())), " = ",
                      absl::CHexEscape(std::string(it->value())), "\n");
    }
    EXPECT_TRUE(it->status().ok());
  }
  return out;
}

// A catch-up of `events` in batches of `max_batch`, then ticks 100 and 200
// days later, each CatchUp repeated until it succeeds.
Replayed ReplayThrough(const std::filesystem::path& dir, const std::string& name,
                       const std::vector<v1::Event>& events, size_t max_batch,
                       LifecycleCacheOptions cache, std::set<int> fail_flushes = {},
                       std::set<int> fail_ticks = {}) {
  base::SimulatedClock clock{kT0};
  const std::string path = (dir / name).string();
  std::unique_ptr<log::EventLog> log = LogOf(path + "-log", clock, events);
  Replayed out;
  {
    auto owned =
        std::make_unique<FailingLifecycle>(cache, std::move(fail_flushes), std::move(fail_ticks));
    const FailingLifecycle& projection = *owned;
    auto rt = projection::ProjectionRuntime::Open(*log, std::move(owned),
                                                  {.path = path + "-state",
                                                   .max_batch = max_batch,
                                                   .clock = &clock,
                                                   .restore_batch = max_batch})
                  .value();
    auto catch_up = [&] {
      for (int attempt = 0; attempt < 20; ++attempt) {
        absl::StatusOr<int64_t> n = rt->CatchUp();
        if (n.ok()) return;
        EXPECT_EQ(n.status().message(), "commit failed");
        ++out.failures;
      }
      ADD_FAILURE() << "no CatchUp succeeded";
    };
    catch_up();
    clock.Advance(Days(100));
    catch_up();
    clock.Advance(Days(100));
    catch_up();
    EXPECT_EQ(rt->Stats().dead_letters, 0);
    out.state = LifecycleState(rt->store());
    out.cache = projection.inner().cache_stats();
  }
  out.changes = ChangesOf(*log);
  EXPECT_TRUE(log->Close().ok());
  return out;
}

// 30 customers of 12 events each, interleaved so that every customer is in
// many batches of 7.
std::vector<v1::Event> CacheWorkload() {
  std::mt19937 rng(7);
  auto pick = [&](int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); };
  Events ev;
  for (int k = 0; k < 12; ++k) {
    for (int i = 0; i < 30; ++i) {
      const std::string c = absl::StrCat("m", i);
      const absl::Time at = kT0 - Days(600) + Days(40 * k + pick(30));
      if (k == 0) {
        ev.Register(c, at, i % 2 ? "East" : "West");
      } else if (pick(3) == 0) {
        ev.Contract(c, at, 100 + pick(5000));
      } else if (pick(9) == 0) {
        ev.Add(c, at).mutable_customer_churned()->set_reason("gone");
      } else {
        ev.InterestedVisit(c, at);
      }
    }
  }
  return ev.all();
}

TEST_F(LifecycleProjectionTest, TheCacheLeavesTheStateAndChangesAsWithout) {
  const std::vector<v1::Event> events = CacheWorkload();
  const Replayed none = ReplayThrough(dir_, "none", events, 7, {.max_bytes = 0});
  EXPECT_EQ(none.cache.hits, 0);
  EXPECT_GT(none.changes.size(), 60u);
  const Replayed cached = ReplayThrough(dir_, "cached", events, 7, {});
  // Each customer's batches after its first (and the ticks) take it from the cache.
  EXPECT_GT(cached.cache.hits, 30 * 8);
  EXPECT_EQ(cached.cache.evicted, 0);
  EXPECT_EQ(cached.cache.entries, 30u);
  EXPECT_EQ(cached.state, none.state);
  EXPECT_EQ(cached.changes, none.changes);
  // A bound that holds a few customers, and one that holds none: evicted,
  // read again, the same state and changes.
  for (size_t max_bytes : {size_t{6000}, size_t{1}}) {
    SCOPED_TRACE(max_bytes);
    const Replayed tiny =
        ReplayThrough(dir_, absl::StrCat("tiny", max_bytes), events, 7, {.max_bytes = max_bytes});
    EXPECT_GT(tiny.cache.evicted, 100);
    EXPECT_LE(tiny.cache.bytes, max_bytes);
    EXPECT_EQ(tiny.state, none.state);
    EXPECT_EQ(tiny.changes, none.changes);
  }
}

// A batch whose commit fails after the projection's Flush (which put the
// batch's customers back into the cache) and a tick whose commit fails are
// retried from the store: the same state and changes as without failures.
TEST_F(LifecycleProjectionTest, AnAbandonedBatchOrTickIsRetriedFromTheStore) {
  const std::vector<v1::Event> events = CacheWorkload();
  const Replayed clean = ReplayThrough(dir_, "clean", events, 7, {});
  const Replayed failed =
      ReplayThrough(dir_, "failed", events, 7, {}, /*fail_flushes=*/{3, 20, 21, 40},
                    /*fail_ticks=*/{4, 9});
  EXPECT_EQ(failed.failures, 6);
  EXPECT_GT(failed.cache.dropped, 0);
  EXPECT_EQ(failed.state, clean.state);
  EXPECT_EQ(failed.changes, clean.changes);
}

// Kafka mode (own_all = false): a partition revoked, changed meanwhile
// (here: its stored facts rewritten, as a newer owner's store would hold
// them) and assigned again is read from the store, not from what the cache
// held when the partition was revoked.
TEST_F(LifecycleProjectionTest, AReassignedPartitionIsReadFromTheStore) {
  Events ev;
  ev.Register("k", kT0 - Days(30), "East");
  ev.InterestedVisit("k", kT0 - Days(20));
  Append(ev.all());
  auto rt = projection::ProjectionRuntime::Open(
                *log_, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
                {.path = (dir_ / "kafka").string(), .clock = &clock_, .own_all = false})
                .value();
  const Partition pk = log::PartitionForKey("k", rt->partitions());
  ASSERT_TRUE(rt->Assign({Partition(0), Partition(1), Partition(2), Partition(3)}).ok());
  ASSERT_EQ(rt->CatchUp().value(), 2);
  const auto& projection = static_cast<const LifecycleProjection&>(rt->projection());
  EXPECT_EQ(projection.cache_stats().entries, 1u);

  rt->Revoke({pk});
  EXPECT_EQ(projection.cache_stats().entries, 0u);
  // Meanwhile the customer signed a contract (a newer owner's facts).
  store::Store& store = rt->mutable_store();
  std::string key;  // lc_facts: P|customer_id
  store::AppendU32(key, static_cast<uint32_t>(pk.value()));
  key.append("k");
  internal::CustomerFacts facts;
  ASSERT_TRUE(facts.ParseFromString(*store.Get(store.Family("lc_facts"), key).value()));
  Events other;
  other.Contract("k", kT0 - Days(10), 5000);
  other.mutable_all()[0].set_event_id("elsewhere");
  ASSERT_TRUE(domain::Evolve(facts, other.all()[0]).ok());
  store::Batch batch;
  batch.Put(store.Family("lc_facts"), key, facts.SerializeAsString());
  ASSERT_TRUE(store.Write(batch).ok());

  ASSERT_TRUE(rt->Assign({pk}).ok());
  Events later;
  later.InterestedVisit("k", kT0 - Days(5));
  later.mutable_all()[0].set_event_id("later");
  Append(later.all());
  ASSERT_EQ(rt->CatchUp().value(), 1);
  internal::CustomerFacts after;
  ASSERT_TRUE(after.ParseFromString(*store.Get(store.Family("lc_facts"), key).value()));
  EXPECT_EQ(after.contracts_size(), 1);  // not the facts cached before the revoke
  EXPECT_EQ(after.milestones_size(), facts.milestones_size() + 1);
  rt.reset();
}

// A derived change is a fact about the log (docs/lifecycle.md "Stage
// changes"): the stage changes of a live run, where events arrive as they
// happen and the ticker runs every day, equal those of a catch-up of the same
// log long after — every move, time-driven ones at their due instant, with
// its own from-stage and reason, under the same ids.
TEST_F(LifecycleProjectionTest, ACatchUpAnnouncesTheChangesALiveRunDid) {
  Events ev;
  const absl::Time start = kT0 - Days(900);
  for (int i = 0; i < 24; ++i) {
    const std::string c = absl::StrCat("c", i);
    const absl::Time t = start + Days(3 * i);
    ev.Register(c, t, i % 2 ? "East" : "West");
    if (i % 2 == 0) ev.InterestedVisit(c, t + Days(20 + i));
    if (i % 3 == 0) ev.Contract(c, t + Days(40 + i), 1000 + i);
    if (i % 4 == 0) ev.Contract(c, t + Days(200 + 5 * i), 9000 + i);  // growth or a lapse
    if (i % 6 == 0) ev.Contract(c, t + Days(600), 500);               // a win-back
    if (i % 5 == 0) ev.InterestedVisit(c, t + Days(450));             // a late visit
  }
  std::vector<v1::Event> by_time = ev.all();
  std::stable_sort(by_time.begin(), by_time.end(), [](const v1::Event& a, const v1::Event& b) {
    return event::FromProto(a.occurred_at()) < event::FromProto(b.occurred_at());
  });
  const absl::Time end = kT0;

  // Per customer, each change's id and content, in the order published.
  auto changes_of = [&](log::EventLog& log) {
    std::map<std::string, std::vector<std::string>> out;
    for (int p = 0; p < 4; ++p) {
      const std::vector<log::LogRecord> records =
          log.Read(log::kStateChanges, Partition(p), Offset(0), 100000).value();
      for (const auto& r : records) {
        v1::StateChange c;
        EXPECT_TRUE(c.ParseFromString(r.value));
        const v1::StageChanged& s = c.stage_changed();
        out[c.customer_id()].push_back(
            absl::StrCat(c.change_id(), " ", absl::FormatTime(event::FromProto(c.at())), " ",
                         v1::LifecycleStage_Name(s.from()), ".", s.from_sub_stage(), "->",
                         v1::LifecycleStage_Name(s.to()), ".", s.to_sub_stage(), " ", s.reason()));
      }
    }
    return out;
  };
  auto open = [&](const std::string& name, base::SimulatedClock& clock) {
    std::unique_ptr<log::EventLog> log =
        log::EmbeddedEventLog::Open(
            {.path = (dir_ / (name + "-log")).string(), .sync = false, .clock = &clock})
            .value();
    for (auto topic : {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {
      EXPECT_TRUE(log->CreateTopic(topic, 4).ok());
    }
    return log;
  };
  auto append = [](log::EventLog& log, const std::vector<v1::Event>& events) {
    std::vector<log::Record> records;
    for (const auto& e : events) records.push_back({e.customer_id(), e.SerializeAsString()});
    EXPECT_TRUE(log.Append(log::kCustomerEvents, records, {}).ok());
  };

  // Live: day by day, the day's events arrive, then the ticker runs.
  base::SimulatedClock live_clock{start};
  std::unique_ptr<log::EventLog> live_log = open("live", live_clock);
  std::map<std::string, std::vector<std::string>> live;
  {
    auto rt = projection::ProjectionRuntime::Open(
                  *live_log, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
                  {.path = (dir_ / "live-state").string(), .clock = &live_clock})
                  .value();
    size_t next = 0;
    for (absl::Time day = start; day <= end; day += Days(1)) {
      live_clock.Set(day);
      std::vector<v1::Event> arrived;
      while (next < by_time.size() && event::FromProto(by_time[next].occurred_at()) <= day) {
        arrived.push_back(by_time[next++]);
      }
      if (!arrived.empty()) append(*live_log, arrived);
      ASSERT_TRUE(rt->CatchUp().ok());
    }
    ASSERT_EQ(next, by_time.size());
  }
  live = changes_of(*live_log);

  // Catch-up: the same log read at the end, in small batches.
  base::SimulatedClock late_clock{end};
  std::unique_ptr<log::EventLog> late_log = open("late", late_clock);
  append(*late_log, by_time);
  {
    auto rt = projection::ProjectionRuntime::Open(
                  *late_log, std::make_unique<LifecycleProjection>(domain::LifecycleRules()),
                  {.path = (dir_ / "late-state").string(),
                   .max_batch = 7,
                   .clock = &late_clock,
                   .restore_batch = 7})
                  .value();
    ASSERT_TRUE(rt->CatchUp().ok());
  }
  const std::map<std::string, std::vector<std::string>> late = changes_of(*late_log);

  ASSERT_EQ(live.size(), 24u);
  size_t moves = 0;
  std::set<std::string> reasons;
  for (const auto& [customer, changes] : live) {
    moves += changes.size();
    for (const std::string& c : changes) reasons.insert(c.substr(c.rfind(' ') + 1));
    EXPECT_EQ(late.count(customer) ? late.at(customer) : std::vector<std::string>(), changes)
        << customer;
  }
  EXPECT_EQ(late.size(), live.size());
  // Enough happened to mean something: several moves per customer, among
  // them time-driven ones (silence) and win-backs.
  EXPECT_GT(moves, 24u * 3);
  EXPECT_GE(reasons.size(), 5u) << absl::StrJoin(reasons, ",");
  ASSERT_TRUE(live_log->Close().ok());
  ASSERT_TRUE(late_log->Close().ok());
}

}  // namespace
}  // namespace custops::lifecycle

#include "custops/projection/runtime.h"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "custops/event/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/partitioner.h"
#include "custops/store/keys.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/changes.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "rocksdb/db.h"
#include "rocksdb/write_batch.h"

namespace custops::projection {
namespace {

using ::custops::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// Counts events per customer and keeps the order of their ids; "noop-*" ids
// are impossible, "boom-*" and the ids in `poisoned` fail (a bug that a new
// build fixes). Every second event of a customer emits a change.
class CountingProjection final : public Projection {
 public:
  std::string_view Name() const override { return "counting"; }
  std::vector<std::string> ColumnFamilies() const override { return {"counts"}; }
  absl::Status Attach(store::Store& store, int) override {
    cf_ = store.Family("counts");
    return absl::OkStatus();
  }
  absl::Status Apply(const ApplyContext& ctx, const v1::Event& event, Txn& txn) override {
    if (event.event_id().starts_with("noop-")) return absl::FailedPreconditionError("not_today");
    if (event.event_id().starts_with("boom-") || poisoned.contains(event.event_id())) {
      return absl::InternalError("exploded");
    }
    ++applied_in_batch_;
    auto order = txn.Get(cf_, "order/" + event.customer_id());
    if (!order.ok()) return order.status();
    txn.Put(cf_, "order/" + event.customer_id(),
            absl::StrCat(order->value_or(""), event.event_id(), " "));
    auto current = txn.Get(cf_, event.customer_id());
    if (!current.ok()) return current.status();
    uint64_t n = 0;
    if (current->has_value()) {
      std::string_view v = **current;
      n = store::ReadU64(v);
    }
    ++n;
    txn.Put(cf_, event.customer_id(), store::U64Value(n));
    if (n % 2 == 0) {
      v1::StateChange change;
      change.set_customer_id(event.customer_id());
      change.mutable_source()->set_offset(ctx.offset.value());
      txn.Emit(change);
    }
    return absl::OkStatus();
  }
  absl::Status Flush(Partition, absl::Time, Txn&) override {
    if (fail_flushes > 0) {
      --fail_flushes;
      return absl::UnavailableError("flush failed");
    }
    batch_sizes.push_back(applied_in_batch_);
    applied_in_batch_ = 0;
    return absl::OkStatus();
  }
  absl::Status Tick(Partition p, absl::Time, Txn&) override {
    ++ticks;
    if (on_tick) on_tick(p);
    return absl::OkStatus();
  }
  bool TicksOnApply() const override { return ticks_on_apply; }
  int StateVersion() const override { return state_version; }
  int state_version = 1;
  std::function<void(Partition)> on_tick;
  void Abandon(Partition) override {
    ++abandoned;
    applied_in_batch_ = 0;  // the batch is retried
  }
  void Forget(Partition p) override { forgotten.push_back(p.value()); }
  std::vector<int> forgotten;  // the partitions Forget was called for, in order
  std::set<std::string> poisoned;
  bool ticks_on_apply = false;
  std::atomic<int> ticks{0};  // read by tests while the apply thread runs
  int fail_flushes = 0;
  int abandoned = 0;
  // Events applied per flushed batch, in order (read after Stop).
  std::vector<int> batch_sizes;

 private:
  store::ColumnFamily cf_ = nullptr;
  int applied_in_batch_ = 0;
};

v1::Event Visit(const std::string& id, const std::string& customer) {
  v1::Event e;
  e.set_event_id(id);
  e.set_customer_id(customer);
  *e.mutable_occurred_at() = event::ToProto(absl::FromUnixSeconds(1'700'000'000));
  e.mutable_visit_logged()->set_visit_id("v-" + id);
  e.mutable_visit_logged()->set_channel(v1::VISIT_CHANNEL_PHONE);
  e.mutable_visit_logged()->set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
  return e;
}

class RuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("runtime_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    OpenLog();
  }
  void TearDown() override {
    runtime_.reset();
    if (log_) {
      ASSERT_OK(log_->Close());
    }
    std::filesystem::remove_all(dir_);
  }
  void OpenLog() {
    log_ = log::EmbeddedEventLog::Open({.path = (dir_ / "log").string(), .sync = false}).value();
    for (auto topic : {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter}) {
      ASSERT_OK(log_->CreateTopic(topic, 4));
    }
  }
  void OpenRuntime(bool own_all = true, std::string state = "state", int state_version = 1) {
    auto p = std::make_unique<CountingProjection>();
    p->poisoned = poisoned_;
    p->state_version = state_version;
    projection_ = p.get();
    auto rt = ProjectionRuntime::Open(*log_, std::move(p),
                                      {.path = (dir_ / state).string(), .own_all = own_all});
    ASSERT_OK(rt);
    runtime_ = std::move(*rt);
  }
  void AppendEvents(const std::vector<v1::Event>& events) {
    std::vector<log::Record> records;
    for (const v1::Event& e : events) records.push_back({e.customer_id(), e.SerializeAsString()});
    ASSERT_OK(log_->Append(log::kCustomerEvents, records, {}));
  }
  uint64_t Count(const std::string& customer) {
    auto v = runtime_->store().Get(runtime_->store().Family("counts"), customer).value();
    if (!v) return 0;
    std::string_view s = *v;
    return store::ReadU64(s);
  }
  // The ids applied for `customer`, in the order applied.
  std::string Order(const std::string& customer) {
    auto v = runtime_->store().Get(runtime_->store().Family("counts"), "order/" + customer).value();
    return v.value_or("");
  }
  // Polls `done` until it holds (true) or 30 s of real time have passed
  // (false): a wait for what the apply thread does, never a proof that it
  // did nothing.
  static bool WaitFor(const std::function<bool()>& done) {
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); !done();) {
      if (absl::Now() >= give_up) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }
  // Appends two events of `customer`, each once the one before is applied
  // (`applied` counts the events applied so far). The second one is read by
  // a later pass of the apply loop than the first (same partition, appended
  // after the first was committed), so when this returns a pass that applied
  // events and then decided whether to tick has ended, on the clock as it
  // was when this was called.
  void ApplyTwoPasses(const std::string& customer, int64_t& applied) {
    for (int k = 0; k < 2; ++k) {
      AppendEvents({Visit(absl::StrCat("e", applied), customer)});
      const int64_t want = ++applied;
      ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == want; }))
          << "event " << want << " not applied";
    }
  }
  std::vector<log::LogRecord> ReadAll(std::string_view topic) {
    std::vector<log::LogRecord> all;
    for (int p = 0; p < 4; ++p) {
      auto records = log_->Read(topic, Partition(p), Offset(0), 100000).value();
      all.insert(all.end(), records.begin(), records.end());
    }
    return all;
  }

  // For the runtimes a test opens on a simulated clock (OpenRuntime's run
  // on the system clock); it outlives them.
  base::SimulatedClock clock_{absl::FromUnixSeconds(1'700'000'000),
                              base::SimulatedClock::Intervals::kSimulated};
  std::filesystem::path dir_;
  std::unique_ptr<log::EventLog> log_;
  std::unique_ptr<ProjectionRuntime> runtime_;
  CountingProjection* projection_ = nullptr;
  std::set<std::string> poisoned_;  // for the projections OpenRuntime makes
};

TEST_F(RuntimeTest, AppliesCountsNoopsAndDeadLetters) {
  OpenRuntime();
  AppendEvents({Visit("e1", "alice"), Visit("e2", "alice"), Visit("e3", "bob"),
                Visit("e1", "alice") /* same id again */, Visit("noop-1", "bob"),
                Visit("boom-1", "carol")});
  ASSERT_OK(log_->Append(log::kCustomerEvents, {{.key = "dave", .value = "\xff garbage"}}, {}));
  ASSERT_EQ(runtime_->CatchUp().value(), 7);
  EXPECT_EQ(Count("alice"), 2u);
  EXPECT_EQ(Count("bob"), 1u);
  EXPECT_EQ(Count("carol"), 0u);
  RuntimeStats stats = runtime_->Stats();
  EXPECT_EQ(stats.events_applied, 3);
  EXPECT_EQ(stats.noops, 2);
  EXPECT_EQ(stats.noops_by_reason["duplicate_event_id"], 1);
  EXPECT_EQ(stats.noops_by_reason["not_today"], 1);
  EXPECT_EQ(stats.dead_letters, 2);
  EXPECT_EQ(stats.outbox_pending, 0);
  EXPECT_GE(stats.batches, 1);
  EXPECT_GT(stats.apply_time, absl::ZeroDuration());

  std::vector<std::string> reasons;
  for (const log::LogRecord& r : ReadAll(log::kDeadLetter)) {
    v1::DeadLetter dl;
    ASSERT_TRUE(dl.ParseFromString(r.value));
    EXPECT_EQ(dl.source_topic(), log::kCustomerEvents);
    reasons.push_back(dl.reason());
  }
  std::sort(reasons.begin(), reasons.end());
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0], "apply_error: exploded");
  EXPECT_EQ(reasons[1], "decode_error: not a custops.v1.Event");

  std::vector<log::LogRecord> changes = ReadAll(log::kStateChanges);
  ASSERT_EQ(changes.size(), 1u);
  v1::StateChange change;
  ASSERT_TRUE(change.ParseFromString(changes[0].value));
  EXPECT_EQ(change.customer_id(), "alice");
  EXPECT_EQ(change.projection(), "counting");
  EXPECT_TRUE(change.change_id().starts_with("counting/")) << change.change_id();
}

TEST_F(RuntimeTest, InvalidEventsAreDeadLetteredWithTheFieldAndKeyMismatchesToo) {
  OpenRuntime();
  v1::Event bad = Visit("e1", "alice");
  bad.mutable_visit_logged()->clear_visit_id();
  v1::Event wrong_key = Visit("e2", "alice");
  ASSERT_OK(log_->Append(log::kCustomerEvents,
                         {{.key = "alice", .value = bad.SerializeAsString()},
                          {.key = "mallory", .value = wrong_key.SerializeAsString()}},
                         {}));
  ASSERT_EQ(runtime_->CatchUp().value(), 2);
  EXPECT_EQ(runtime_->Stats().dead_letters, 2);
  std::vector<std::string> reasons;
  for (const log::LogRecord& r : ReadAll(log::kDeadLetter)) {
    v1::DeadLetter dl;
    ASSERT_TRUE(dl.ParseFromString(r.value));
    reasons.push_back(dl.reason());
  }
  std::sort(reasons.begin(), reasons.end());
  EXPECT_NE(reasons[0].find("invalid_event: event.visit_logged.visit_id"), std::string::npos)
      << reasons[0];
  EXPECT_TRUE(reasons[1].starts_with("key_mismatch")) << reasons[1];
}

TEST_F(RuntimeTest, RestartResumesFromStoredOffsetsWithoutRepeating) {
  OpenRuntime();
  AppendEvents({Visit("e1", "alice"), Visit("e2", "alice")});
  ASSERT_EQ(runtime_->CatchUp().value(), 2);
  runtime_.reset();
  AppendEvents({Visit("e3", "alice"), Visit("e4", "alice")});
  OpenRuntime();
  EXPECT_EQ(runtime_->Stats().events_applied, 2);  // counters survive the restart
  ASSERT_EQ(runtime_->CatchUp().value(), 2);       // only the new records are read
  EXPECT_EQ(Count("alice"), 4u);
  EXPECT_EQ(runtime_->Stats().events_applied, 4);
  std::vector<log::LogRecord> changes = ReadAll(log::kStateChanges);
  ASSERT_EQ(changes.size(), 2u);
  std::set<std::string> ids;
  for (const auto& r : changes) {
    v1::StateChange c;
    ASSERT_TRUE(c.ParseFromString(r.value));
    ids.insert(c.change_id());
  }
  EXPECT_EQ(ids.size(), 2u);
}

TEST_F(RuntimeTest, WaitAppliedHonoursTokensAndDeadlines) {
  OpenRuntime();
  AppendEvents({Visit("e1", "alice")});
  auto end =
      log_->EndOffset(log::kCustomerEvents, Partition(log::PartitionForKey("alice", 4).value()));
  PositionSet token;
  token.set_topic(std::string(log::kCustomerEvents));
  token.mutable_next_offsets()->Resize(4, 0);
  token.set_next_offsets(log::PartitionForKey("alice", 4).value(), end->value());
  EXPECT_THAT(runtime_->WaitApplied(token, absl::Now() + absl::Milliseconds(50)),
              StatusIs(absl::StatusCode::kDeadlineExceeded,
                       "consistency_token: write not applied before the deadline"));
  ASSERT_OK(runtime_->Start());
  EXPECT_OK(runtime_->WaitApplied(token, absl::Now() + absl::Seconds(10)));
  EXPECT_EQ(Count("alice"), 1u);
  ASSERT_OK(runtime_->Stop());
  PositionSet other = token;
  other.set_topic("elsewhere");
  EXPECT_THAT(runtime_->WaitApplied(other, absl::Now()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("consistency_token: for topic elsewhere, not ")));
}

TEST_F(RuntimeTest, BackgroundThreadsApplyAndPublishAsEventsArrive) {
  OpenRuntime();
  ASSERT_OK(runtime_->Start());
  for (int i = 0; i < 50; ++i) AppendEvents({Visit(absl::StrCat("e", i), "zed")});
  absl::Time deadline = absl::Now() + absl::Seconds(20);
  while (ReadAll(log::kStateChanges).size() < 25 && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  ASSERT_OK(runtime_->Stop());
  EXPECT_EQ(Count("zed"), 50u);
  EXPECT_EQ(ReadAll(log::kStateChanges).size(), 25u);
  EXPECT_GT(projection_->ticks, 0);
}

// The publisher lingers only under load: after a quiet spell a commit's
// change goes out at once (well before the linger ends); the changes of
// commits made within publish_linger of that round wait and go out together,
// in one append to the changes topic (its generation moves once).
TEST_F(RuntimeTest, PublisherLingersOnlyUnderLoadAndThenAppendsOnce) {
  const absl::Duration linger = absl::Seconds(3);
  auto p = std::make_unique<CountingProjection>();
  projection_ = p.get();
  auto rt = ProjectionRuntime::Open(*log_, std::move(p),
                                    {.path = (dir_ / "state").string(), .publish_linger = linger});
  ASSERT_OK(rt);
  runtime_ = std::move(*rt);
  ASSERT_OK(runtime_->Start());
  const uint64_t before = log_->Generation(log::kStateChanges);

  // Quiet: every second event of a customer emits a change.
  const absl::Time sent = absl::Now();
  AppendEvents({Visit("a1", "ann"), Visit("a2", "ann")});
  ASSERT_TRUE(WaitFor([&] { return ReadAll(log::kStateChanges).size() == 1; }));
  EXPECT_LT(absl::Now() - sent, linger);
  EXPECT_EQ(log_->Generation(log::kStateChanges), before + 1);

  // Under load: two more changes, committed by separate passes.
  AppendEvents({Visit("b1", "bob"), Visit("b2", "bob")});
  ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == 4; }));
  AppendEvents({Visit("c1", "cid"), Visit("c2", "cid")});
  ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == 6; }));
  ASSERT_TRUE(WaitFor([&] { return ReadAll(log::kStateChanges).size() == 3; }));
  EXPECT_EQ(log_->Generation(log::kStateChanges), before + 2);
  ASSERT_OK(runtime_->Stop());
}

// Instances sharing partitions: nothing is applied before Assign; an assigned
// partition restores from its stored offset and is refused to queries until
// it has caught up; after Revoke nothing more is applied to it and tokens no
// longer wait for it; a later Assign resumes where its state stopped.
TEST_F(RuntimeTest, OwnsOnlyAssignedPartitionsAndResumesAfterRevoke) {
  OpenRuntime(/*own_all=*/false);
  const Partition pa = log::PartitionForKey("alice", 4);
  const Partition pb = log::PartitionForKey("bob", 4);
  ASSERT_NE(pa, pb);
  AppendEvents({Visit("e1", "alice"), Visit("e2", "alice"), Visit("e3", "bob")});
  EXPECT_EQ(runtime_->CatchUp().value(), 0);  // owns nothing yet
  EXPECT_THAT(runtime_->CheckServing(pa),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("is not owned by this instance")));

  ASSERT_OK(runtime_->Assign({pa}));
  RuntimeStats stats = runtime_->Stats();
  EXPECT_TRUE(stats.partitions[pa.value()].owned);
  EXPECT_TRUE(stats.partitions[pa.value()].restoring);
  EXPECT_EQ(stats.partitions[pa.value()].restore_target, Offset(2));
  EXPECT_FALSE(stats.partitions[pb.value()].owned);
  EXPECT_THAT(runtime_->CheckServing(pa),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr(" is restoring (")));

  EXPECT_EQ(runtime_->CatchUp().value(), 2);  // alice's partition only
  EXPECT_EQ(Count("alice"), 2u);
  EXPECT_EQ(Count("bob"), 0u);
  EXPECT_OK(runtime_->CheckServing(pa));
  EXPECT_FALSE(runtime_->Stats().partitions[pa.value()].restoring);

  // A token naming bob's unowned partition does not wait for it.
  PositionSet token;
  token.set_topic(std::string(log::kCustomerEvents));
  token.mutable_next_offsets()->Resize(4, 0);
  token.set_next_offsets(pb.value(), 1);
  token.set_next_offsets(pa.value(), 2);
  EXPECT_OK(runtime_->WaitApplied(token, absl::Now()));

  runtime_->Revoke({pa});
  AppendEvents({Visit("e4", "alice")});
  EXPECT_EQ(runtime_->CatchUp().value(), 0);
  EXPECT_EQ(Count("alice"), 2u);
  EXPECT_THAT(runtime_->CheckServing(pa),
              StatusIs(absl::StatusCode::kUnavailable, HasSubstr("is not owned by this instance")));

  // Back again (and bob's too): resumes from the stored offset, no repeats.
  ASSERT_OK(runtime_->Assign({pa, pb}));
  EXPECT_EQ(runtime_->CatchUp().value(), 2);
  EXPECT_EQ(Count("alice"), 3u);
  EXPECT_EQ(Count("bob"), 1u);
  EXPECT_EQ(runtime_->Stats().events_applied, 4);
}

// Kafka mode: whatever the projection cached of a partition is dropped when
// the partition is assigned (another owner may have moved it on since this
// instance last had it) and when it is revoked; not when it was already
// owned, and never in embedded mode.
TEST_F(RuntimeTest, AssignAndRevokeTellTheProjectionToForgetThePartition) {
  OpenRuntime(/*own_all=*/false);
  AppendEvents({Visit("e1", "alice"), Visit("e2", "bob")});
  ASSERT_OK(runtime_->Assign({Partition(1), Partition(2)}));
  EXPECT_THAT(projection_->forgotten, ElementsAre(1, 2));
  ASSERT_OK(runtime_->CatchUp());
  ASSERT_OK(runtime_->Assign({Partition(1), Partition(3)}));  // 1 is owned already
  EXPECT_THAT(projection_->forgotten, ElementsAre(1, 2, 3));
  runtime_->Revoke({Partition(2)});
  EXPECT_THAT(projection_->forgotten, ElementsAre(1, 2, 3, 2));

  // While the apply thread runs, too.
  ASSERT_OK(runtime_->Start());
  runtime_->Revoke({Partition(1)});
  ASSERT_OK(runtime_->Assign({Partition(1)}));
  ASSERT_OK(runtime_->Stop());
  EXPECT_THAT(projection_->forgotten, ElementsAre(1, 2, 3, 2, 1, 1));

  runtime_.reset();
  OpenRuntime(/*own_all=*/true, "embedded");
  ASSERT_OK(runtime_->CatchUp());
  EXPECT_TRUE(projection_->forgotten.empty());
}

// Revoke while the apply thread runs returns with no batch of the partition
// in flight, and the partition's offset no longer moves.
TEST_F(RuntimeTest, RevokeStopsApplyingWhileRunning) {
  OpenRuntime(/*own_all=*/false);
  const Partition pa = log::PartitionForKey("alice", 4);
  // A customer on another partition, still owned: its later event being
  // applied shows the apply loop has run after alice's events arrived.
  std::string other;
  for (int k = 0; other.empty(); ++k) {
    const std::string id = absl::StrCat("other-", k);
    if (log::PartitionForKey(id, 4) != pa) other = id;
  }
  const Partition pb = log::PartitionForKey(other, 4);
  ASSERT_OK(runtime_->Assign({pa, pb}));
  ASSERT_OK(runtime_->Start());
  for (int i = 0; i < 200; ++i) AppendEvents({Visit(absl::StrCat("e", i), "alice")});
  runtime_->Revoke({pa});
  const Offset applied = runtime_->Stats().partitions[pa.value()].applied;
  const uint64_t count = Count("alice");
  EXPECT_EQ(static_cast<int64_t>(count), applied.value());  // state and offset agree
  for (int i = 200; i < 220; ++i) AppendEvents({Visit(absl::StrCat("e", i), "alice")});
  AppendEvents({Visit("after", other)});
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30); Count(other) == 0;) {
    ASSERT_LT(absl::Now(), give_up) << "the owned partition was not applied";
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(runtime_->Stats().partitions[pa.value()].applied, applied);
  EXPECT_EQ(Count("alice"), count);
  ASSERT_OK(runtime_->Stop());
}

// A partition whose batch came back full is behind the log: it reads up to
// restore_batch records per batch until a batch comes back short, then
// max_batch again.
TEST_F(RuntimeTest, APartitionBehindTheLogCatchesUpInRestoreBatches) {
  auto owned = std::make_unique<CountingProjection>();
  projection_ = owned.get();
  auto rt = ProjectionRuntime::Open(
      *log_, std::move(owned),
      {.path = (dir_ / "state").string(), .max_batch = 10, .restore_batch = 50});
  ASSERT_OK(rt);
  runtime_ = std::move(*rt);
  std::vector<v1::Event> backlog;
  for (int i = 0; i < 500; ++i) backlog.push_back(Visit(absl::StrCat("e", i), "alice"));
  AppendEvents(backlog);
  ASSERT_OK(runtime_->Start());
  ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == 500; }));
  std::vector<v1::Event> more;
  for (int i = 500; i < 505; ++i) more.push_back(Visit(absl::StrCat("e", i), "alice"));
  AppendEvents(more);
  ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == 505; }));
  std::vector<v1::Event> burst;
  for (int i = 505; i < 535; ++i) burst.push_back(Visit(absl::StrCat("e", i), "alice"));
  AppendEvents(burst);
  ASSERT_TRUE(WaitFor([&] { return runtime_->Stats().events_applied == 535; }));
  ASSERT_OK(runtime_->Stop());
  // The backlog: one batch of max_batch, full, then restore_batch ones up
  // to the end; five at the end: a short batch; the burst of 30: a full
  // batch of 10, then the 20 left in one.
  EXPECT_THAT(projection_->batch_sizes,
              ElementsAre(10, 50, 50, 50, 50, 50, 50, 50, 50, 50, 40, 5, 10, 20));
  EXPECT_EQ(Count("alice"), 535u);
}

// Ticks wait until no owned partition restores: over state that is behind,
// a tick would announce time-driven moves the events not yet applied undo.
TEST_F(RuntimeTest, NoTicksWhileAPartitionRestores) {
  auto owned = std::make_unique<CountingProjection>();
  projection_ = owned.get();
  auto rt = ProjectionRuntime::Open(*log_, std::move(owned),
                                    {.path = (dir_ / "state").string(),
                                     .max_batch = 10,
                                     .tick_interval = absl::Milliseconds(1),
                                     .own_all = false,
                                     .restore_batch = 10});
  ASSERT_OK(rt);
  runtime_ = std::move(*rt);
  const Partition pa = log::PartitionForKey("alice", 4);
  std::vector<v1::Event> events;
  for (int i = 0; i < 2000; ++i) events.push_back(Visit(absl::StrCat("e", i), "alice"));
  AppendEvents(events);
  std::atomic<int> ticks_while_restoring{0};
  std::atomic<int> ticks_after{0};
  projection_->on_tick = [&](Partition) {
    for (const PartitionProgress& p : runtime_->Stats().partitions) {
      if (p.owned && p.restoring) {
        ++ticks_while_restoring;
        return;
      }
    }
    ++ticks_after;
  };
  ASSERT_OK(runtime_->Assign({pa}));
  ASSERT_OK(runtime_->Start());
  const absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((runtime_->Stats().partitions[pa.value()].restoring || ticks_after == 0) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_OK(runtime_->Stop());
  EXPECT_EQ(Count("alice"), 2000u);
  EXPECT_EQ(ticks_while_restoring, 0);
  EXPECT_GT(ticks_after, 0);  // ticking resumed once restored
}

// A projection that TicksOnApply is ticked after events even though its
// clock's Now() stands still (--fixed-clock), once a tick interval of the
// clock's monotonic time has passed since the first event applied after the
// last tick; not before. The interval is an hour of a simulated clock: only
// the test's AdvanceMonotonic can make it pass (not real time, not Now()).
TEST_F(RuntimeTest, TicksOnApplyArePacedByTheClocksMonotonicTime) {
  const absl::Time start = clock_.Now();
  auto owned = std::make_unique<CountingProjection>();
  owned->ticks_on_apply = true;
  projection_ = owned.get();
  auto rt = ProjectionRuntime::Open(
      *log_, std::move(owned),
      {.path = (dir_ / "state").string(), .tick_interval = absl::Hours(1), .clock = &clock_});
  ASSERT_OK(rt);
  runtime_ = std::move(*rt);
  ASSERT_OK(runtime_->Start());
  // The start tick (the runtime has not ticked yet): one Tick per partition.
  ASSERT_TRUE(WaitFor([&] { return projection_->ticks == 4; })) << "no start tick";

  int64_t applied = 0;
  ASSERT_NO_FATAL_FAILURE(ApplyTwoPasses("alice", applied));
  EXPECT_EQ(projection_->ticks, 4);  // applied, no time passed: no tick
  clock_.AdvanceMonotonic(absl::Minutes(59));
  ASSERT_NO_FATAL_FAILURE(ApplyTwoPasses("alice", applied));
  EXPECT_EQ(projection_->ticks, 4);  // 59 minutes since the first event: not yet
  clock_.AdvanceMonotonic(absl::Minutes(1));
  ASSERT_TRUE(WaitFor([&] { return projection_->ticks == 8; }))
      << "no tick an interval after the first event; ticks: " << projection_->ticks;

  // After that tick, the interval runs from the next event applied: the
  // hour since the first events does not count.
  ASSERT_NO_FATAL_FAILURE(ApplyTwoPasses("alice", applied));
  EXPECT_EQ(projection_->ticks, 8);
  EXPECT_EQ(clock_.Now(), start);
  ASSERT_OK(runtime_->Stop());
  EXPECT_EQ(Count("alice"), 6u);
}

TEST_F(RuntimeTest, AnUncommittedBatchIsAbandonedAndRetried) {
  OpenRuntime();
  AppendEvents({Visit("e1", "c1"), Visit("e2", "c1")});
  projection_->fail_flushes = 1;
  // The projection's Flush error, as it returned it.
  EXPECT_THAT(runtime_->CatchUp(), StatusIs(absl::StatusCode::kUnavailable, "flush failed"));
  EXPECT_EQ(projection_->abandoned, 1);
  EXPECT_EQ(Count("c1"), 0u);
  ASSERT_OK(runtime_->CatchUp());
  EXPECT_EQ(projection_->abandoned, 1);
  EXPECT_EQ(Count("c1"), 2u);
  EXPECT_EQ(runtime_->Stats().events_applied, 2);
}

TEST_F(RuntimeTest, ADeadLetterParksOnlyThatCustomersLaterRecordsUntilAReplay) {
  poisoned_ = {"a2"};
  OpenRuntime();
  AppendEvents({Visit("a1", "alice"), Visit("b1", "bob"), Visit("a2", "alice"),
                Visit("a3", "alice"), Visit("b2", "bob"), Visit("a4", "alice")});
  // A record without a key has no customer to hold back: dead letter only.
  ASSERT_OK(log_->Append(log::kCustomerEvents, {{.key = "", .value = "\xff"}}, {}));
  ASSERT_EQ(runtime_->CatchUp().value(), 7);
  EXPECT_EQ(Order("alice"), "a1 ");
  EXPECT_EQ(Order("bob"), "b1 b2 ");
  RuntimeStats stats = runtime_->Stats();
  EXPECT_EQ(stats.dead_letters, 2);
  EXPECT_EQ(stats.parked_customers, 1);
  EXPECT_EQ(stats.parked_events, 3);  // a2 (the head), a3, a4
  EXPECT_EQ(stats.events_applied, 3);
  std::vector<ParkedCustomer> parked = runtime_->Parked(10);
  ASSERT_EQ(parked.size(), 1u);
  EXPECT_EQ(parked[0].customer_id, "alice");
  EXPECT_EQ(parked[0].partition, log::PartitionForKey("alice", 4));
  EXPECT_EQ(parked[0].events, 3);
  EXPECT_EQ(parked[0].reason, "apply_error: exploded");

  // Later records: alice's wait, bob's flow.
  AppendEvents({Visit("a5", "alice"), Visit("b3", "bob")});
  ASSERT_EQ(runtime_->CatchUp().value(), 2);
  EXPECT_EQ(Order("alice"), "a1 ");
  EXPECT_EQ(Order("bob"), "b1 b2 b3 ");
  EXPECT_EQ(runtime_->Stats().parked_events, 4);

  // The fix (a new build), then the replay: in log order, the head first.
  projection_->poisoned.clear();
  ReplayResult replay = runtime_->ReplayParked({.max_events = 1000}).value();
  EXPECT_EQ(replay.customers_released, 1);
  EXPECT_EQ(replay.events_replayed, 4);
  EXPECT_EQ(replay.customers_parked, 0);
  EXPECT_EQ(replay.events_parked, 0);
  EXPECT_FALSE(replay.more);
  EXPECT_TRUE(replay.not_owned.empty());
  EXPECT_EQ(Order("alice"), "a1 a2 a3 a4 a5 ");
  stats = runtime_->Stats();
  EXPECT_EQ(stats.parked_customers, 0);
  EXPECT_EQ(stats.parked_events, 0);
  EXPECT_EQ(stats.replayed, 4);
  EXPECT_EQ(stats.events_applied, 8);
  EXPECT_EQ(stats.dead_letters, 2);  // a replay that succeeds adds none

  // Released: alice's next record is applied at once.
  AppendEvents({Visit("a6", "alice")});
  ASSERT_EQ(runtime_->CatchUp().value(), 1);
  EXPECT_EQ(Order("alice"), "a1 a2 a3 a4 a5 a6 ");

  // The same as a clean replay of the log by a build without the bug.
  const std::string alice = Order("alice");
  const std::string bob = Order("bob");
  const int64_t changes = runtime_->Stats().changes_emitted;
  EXPECT_EQ(changes, 4);
  runtime_.reset();
  poisoned_.clear();
  OpenRuntime(/*own_all=*/true, "clean");
  ASSERT_EQ(runtime_->CatchUp().value(), 10);
  EXPECT_EQ(Order("alice"), alice);
  EXPECT_EQ(Order("bob"), bob);
  EXPECT_EQ(runtime_->Stats().events_applied, 9);
  EXPECT_EQ(runtime_->Stats().changes_emitted, changes);
}

TEST_F(RuntimeTest, ParkingSurvivesARestartAndAHeadThatFailsAgainStaysParked) {
  poisoned_ = {"a2"};
  OpenRuntime();
  AppendEvents({Visit("a1", "alice"), Visit("a2", "alice"), Visit("a3", "alice"),
                Visit("a4", "alice"), Visit("c1", "carol"), Visit("c2", "carol")});
  ASSERT_EQ(runtime_->CatchUp().value(), 6);
  runtime_.reset();
  OpenRuntime();  // a restart, the bug not fixed yet
  EXPECT_EQ(runtime_->Stats().parked_customers, 1);
  EXPECT_EQ(runtime_->Stats().parked_events, 3);

  ReplayResult replay = runtime_->ReplayParked({.max_events = 1000}).value();
  EXPECT_EQ(replay.customers_released, 0);
  EXPECT_EQ(replay.events_replayed, 0);
  EXPECT_EQ(replay.customers_parked, 1);
  EXPECT_EQ(replay.events_parked, 3);
  ASSERT_EQ(replay.parked.size(), 1u);
  EXPECT_EQ(replay.parked[0].reason, "apply_error: exploded");
  EXPECT_EQ(Order("alice"), "a1 ");
  EXPECT_EQ(runtime_->Stats().dead_letters, 1);  // the same head: no second dead letter

  // A partial fix: a2 goes through, a3 now fails and becomes the head, with
  // a dead letter of its own; a4 waits behind it.
  projection_->poisoned = {"a3"};
  replay = runtime_->ReplayParked({.customer_id = "alice", .max_events = 1000}).value();
  EXPECT_EQ(replay.customers_released, 0);
  EXPECT_EQ(replay.events_replayed, 1);
  EXPECT_EQ(replay.events_parked, 2);
  ASSERT_EQ(replay.parked.size(), 1u);
  EXPECT_EQ(Order("alice"), "a1 a2 ");
  EXPECT_EQ(runtime_->Stats().dead_letters, 2);
  ASSERT_EQ(runtime_->CatchUp().value(), 0);  // publishes the outbox
  std::vector<log::LogRecord> dead = ReadAll(log::kDeadLetter);
  ASSERT_EQ(dead.size(), 2u);
  v1::DeadLetter second;
  ASSERT_TRUE(second.ParseFromString(dead[1].value));
  EXPECT_EQ(second.source_offset(), replay.parked[0].head.value());

  projection_->poisoned.clear();
  replay = runtime_->ReplayParked({.customer_id = "alice", .max_events = 1000}).value();
  EXPECT_EQ(replay.customers_released, 1);
  EXPECT_EQ(replay.events_replayed, 2);
  EXPECT_EQ(Order("alice"), "a1 a2 a3 a4 ");
  EXPECT_EQ(Order("carol"), "c1 c2 ");
  runtime_.reset();
  OpenRuntime();
  EXPECT_EQ(runtime_->Stats().parked_customers, 0);
  EXPECT_EQ(runtime_->Stats().replayed, 3);
}

TEST_F(RuntimeTest, ReplayIsBoundedPerCallAndByCustomer) {
  poisoned_ = {"a1", "b1"};
  OpenRuntime();
  AppendEvents({Visit("a1", "alice"), Visit("a2", "alice"), Visit("a3", "alice"),
                Visit("b1", "bob"), Visit("b2", "bob")});
  ASSERT_EQ(runtime_->CatchUp().value(), 5);
  EXPECT_EQ(runtime_->Stats().parked_customers, 2);
  projection_->poisoned.clear();

  ReplayResult replay = runtime_->ReplayParked({.customer_id = "bob", .max_events = 1000}).value();
  EXPECT_EQ(replay.customers_released, 1);
  EXPECT_EQ(Order("bob"), "b1 b2 ");
  EXPECT_EQ(Order("alice"), "");
  EXPECT_EQ(runtime_->Stats().parked_customers, 1);

  replay = runtime_->ReplayParked({.max_events = 2}).value();
  EXPECT_TRUE(replay.more);
  EXPECT_EQ(replay.events_replayed, 2);
  EXPECT_EQ(replay.events_parked, 1);
  EXPECT_EQ(Order("alice"), "a1 a2 ");
  replay = runtime_->ReplayParked({.max_events = 2}).value();
  EXPECT_FALSE(replay.more);
  EXPECT_EQ(replay.customers_released, 1);
  EXPECT_EQ(Order("alice"), "a1 a2 a3 ");
}

TEST_F(RuntimeTest, AHeadNoFixCanMendIsDiscardedAndWhatWaitsBehindItApplied) {
  OpenRuntime();
  ASSERT_OK(log_->Append(log::kCustomerEvents, {{.key = "dave", .value = "\xff garbage"}}, {}));
  AppendEvents({Visit("d1", "dave"), Visit("d2", "dave")});
  ASSERT_EQ(runtime_->CatchUp().value(), 3);
  ReplayResult replay = runtime_->ReplayParked({}).value();
  EXPECT_EQ(replay.events_replayed, 0);
  ASSERT_EQ(replay.parked.size(), 1u);
  EXPECT_EQ(replay.parked[0].reason, "decode_error: not a custops.v1.Event");
  EXPECT_EQ(replay.parked[0].events, 3);

  replay = runtime_->ReplayParked({.customer_id = "dave", .discard_heads = true}).value();
  EXPECT_EQ(replay.customers_released, 1);
  EXPECT_EQ(replay.events_replayed, 3);
  EXPECT_EQ(Order("dave"), "d1 d2 ");
  const RuntimeStats stats = runtime_->Stats();
  EXPECT_EQ(stats.noops_by_reason.at("dead_letter_discarded"), 1);
  EXPECT_EQ(stats.events_applied, 2);
  EXPECT_EQ(stats.parked_customers, 0);

  // The discard outlives a restart, and a copy built from offset 0 (a
  // rebuild) that imports it applies what the serving copy applied.
  const auto discarded = runtime_->Discarded();
  ASSERT_EQ(discarded.size(), 1u);
  runtime_.reset();
  OpenRuntime(/*own_all=*/true, "state");
  EXPECT_EQ(runtime_->Discarded(), discarded);
  runtime_.reset();
  OpenRuntime(/*own_all=*/true, "rebuilt");
  ASSERT_OK(runtime_->ImportDiscarded(discarded));
  ASSERT_EQ(runtime_->BulkPass().value(), 3);
  EXPECT_EQ(runtime_->BulkPass().value(), 0);
  EXPECT_EQ(Order("dave"), "d1 d2 ");
  const RuntimeStats rebuilt = runtime_->Stats();
  EXPECT_EQ(rebuilt.parked_customers, 0);
  EXPECT_EQ(rebuilt.dead_letters, 0);
  EXPECT_EQ(rebuilt.noops_by_reason.at("dead_letter_discarded"), 1);
  EXPECT_THAT(runtime_->ImportDiscarded({{Partition(9), Offset(0)}}),
              StatusIs(absl::StatusCode::kInvalidArgument, "partition 9 out of range"));
}

TEST_F(RuntimeTest, ReplayLeavesPartitionsItDoesNotOwnToTheirOwner) {
  poisoned_ = {"a1"};
  OpenRuntime(/*own_all=*/false);
  const Partition alice = log::PartitionForKey("alice", 4);
  ASSERT_OK(runtime_->Assign({alice}));
  AppendEvents({Visit("a1", "alice"), Visit("a2", "alice")});
  ASSERT_EQ(runtime_->CatchUp().value(), 2);
  EXPECT_EQ(runtime_->Stats().parked_events, 2);
  ReplayResult replay = runtime_->ReplayParked({.max_events = 1000}).value();
  EXPECT_EQ(replay.not_owned.size(), 3u);
  EXPECT_EQ(replay.customers_parked, 1);
  runtime_->Revoke({alice});
  EXPECT_EQ(runtime_->Stats().parked_customers, 0);  // counted by the owner only
  replay = runtime_->ReplayParked({.customer_id = "alice", .max_events = 1000}).value();
  ASSERT_EQ(replay.not_owned.size(), 1u);
  EXPECT_EQ(replay.not_owned[0], alice);
  EXPECT_EQ(replay.customers_parked, 0);
}

// A store records the layout it was written with; one of another layout is
// reported outdated (custops then rebuilds it), its state still readable.
TEST_F(RuntimeTest, AStoreOfAnotherStateLayoutIsReportedOutdated) {
  OpenRuntime(true, "state", /*state_version=*/1);
  EXPECT_EQ(runtime_->stored_state_version(), 1);
  EXPECT_FALSE(runtime_->state_outdated());
  AppendEvents({Visit("e1", "c1"), Visit("e2", "c1")});
  ASSERT_OK(runtime_->CatchUp());
  runtime_.reset();

  OpenRuntime(true, "state", /*state_version=*/2);
  EXPECT_EQ(runtime_->stored_state_version(), 1);
  EXPECT_TRUE(runtime_->state_outdated());
  EXPECT_EQ(Count("c1"), 2u);
  runtime_.reset();

  OpenRuntime(true, "fresh", /*state_version=*/2);  // a new store: this layout
  EXPECT_EQ(runtime_->stored_state_version(), 2);
  EXPECT_FALSE(runtime_->state_outdated());
  runtime_.reset();
  OpenRuntime(true, "fresh", /*state_version=*/2);
  EXPECT_FALSE(runtime_->state_outdated());
  runtime_.reset();

  // A store from before layouts were recorded (state, no version) is 1.
  {
    auto store =
        store::Store::Open({.path = (dir_ / "fresh").string(), .column_families = {"rt_meta"}});
    ASSERT_OK(store);
    store::Batch batch;
    batch.Delete((*store)->Family("rt_meta"), "v");
    ASSERT_OK((*store)->Write(batch));
  }
  OpenRuntime(true, "fresh", /*state_version=*/2);
  EXPECT_EQ(runtime_->stored_state_version(), 1);
  EXPECT_TRUE(runtime_->state_outdated());
}

TEST(TxnTest, GetSeesTheBatchsOwnWritesOverTheStore) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("txn_test_", ::getpid())).string();
  std::filesystem::remove_all(dir);
  {
    auto store = store::Store::Open({.path = dir, .column_families = {"a", "b"}}).value();
    const store::ColumnFamily a = store->Family("a");
    const store::ColumnFamily b = store->Family("b");
    store::Batch stored;
    stored.Put(a, "k1", "stored1");
    stored.Put(a, "k2", "stored2");
    ASSERT_OK(store->Write(stored));

    Txn txn(*store, Partition(0));
    EXPECT_EQ(txn.Get(a, "k1").value(), "stored1");
    EXPECT_EQ(txn.Get(b, "k1").value(), std::nullopt);
    txn.Put(a, "k1", "new1");
    txn.Put(b, "k1", "other family");
    txn.Delete(a, "k2");
    const std::string big(200'000, 'x');  // larger than an arena chunk
    txn.Put(a, "big", big);
    for (int i = 0; i < 5000; ++i) txn.Put(a, absl::StrCat("n", i), absl::StrCat("v", i));
    txn.Put(a, "n7", "overwritten");
    EXPECT_EQ(txn.Get(a, "k1").value(), "new1");
    EXPECT_EQ(txn.Get(b, "k1").value(), "other family");
    EXPECT_EQ(txn.Get(a, "k2").value(), std::nullopt);
    EXPECT_EQ(txn.Get(a, "big").value(), big);
    EXPECT_EQ(txn.Get(a, "n4999").value(), "v4999");
    EXPECT_EQ(txn.Get(a, "n7").value(), "overwritten");
    txn.PutUnread(a, "cached", "value");
    EXPECT_DEATH((void)txn.Get(a, "cached"), "PutUnread");
    // Nothing reaches the store before the batch is written.
    EXPECT_EQ(store->Get(a, "k1").value(), "stored1");
    // One write per key: a:k1, b:k1, a:k2 (deleted), big, n0..n4999 (n7
    // twice), cached.
    EXPECT_EQ(txn.batch().Count(), 5005u);
    EXPECT_DEATH(txn.Put(a, "late", "x"), "after batch");
    ASSERT_OK(store->Write(txn.batch()));
    EXPECT_EQ(store->Get(a, "k1").value(), "new1");
    EXPECT_EQ(store->Get(a, "k2").value(), std::nullopt);
    EXPECT_EQ(store->Get(a, "cached").value(), "value");
    EXPECT_EQ(store->Get(a, "n7").value(), "overwritten");
  }
  std::filesystem::remove_all(dir);
}

// batch() hands each key once, with its last write, grouped by column family
// and in key order within it, whether the keys came in sorted runs (a cache
// flushing what it holds), shuffled, or both interleaved.
TEST(TxnTest, WritesReachTheBatchOncePerKeyInKeyOrder) {
  const std::string dir =
      (std::filesystem::temp_directory_path() / absl::StrCat("txn_order_test_", ::getpid()))
          .string();
  std::filesystem::remove_all(dir);
  {
    auto store = store::Store::Open({.path = dir, .column_families = {"a", "b"}}).value();
    const store::ColumnFamily a = store->Family("a");
    const store::ColumnFamily b = store->Family("b");
    std::map<std::pair<uint32_t, std::string>, std::string> want;  // (family id, key) -> value
    Txn txn(*store, Partition(0));
    auto put = [&](store::ColumnFamily cf, const std::string& key, const std::string& value) {
      txn.Put(cf, key, value);
      want[{cf->GetID(), key}] = value;
    };
    std::mt19937 rng(7);
    for (int i = 0; i < 300; ++i) put(b, absl::StrCat("x", rng() % 1000), "loose");
    for (int i = 0; i < 100; ++i) put(a, absl::StrFormat("s%03d", i), "run1");  // a sorted run
    for (int i = 0; i < 50; ++i) put(a, absl::StrCat("y", rng() % 100), "loose");
    for (int i = 0; i < 40; ++i) put(b, absl::StrFormat("r%03d", i), "run2");
    for (int i = 0; i < 10; ++i) put(b, absl::StrFormat("r%03d", i * 3), "again");  // rewritten
    put(a, "s050", "last");
    txn.Delete(a, "s051");
    want[{a->GetID(), "s051"}] = "<deleted>";
    struct Collect : rocksdb::WriteBatch::Handler {
      std::vector<std::pair<std::pair<uint32_t, std::string>, std::string>> got;
      rocksdb::Status PutCF(uint32_t cf, const rocksdb::Slice& k,
                            const rocksdb::Slice& v) override {
        got.push_back({{cf, k.ToString()}, v.ToString()});
        return rocksdb::Status::OK();
      }
      rocksdb::Status DeleteCF(uint32_t cf, const rocksdb::Slice& k) override {
        got.push_back({{cf, k.ToString()}, "<deleted>"});
        return rocksdb::Status::OK();
      }
    } collect;
    ASSERT_TRUE(txn.batch().rep()->Iterate(&collect).ok());
    ASSERT_EQ(collect.got.size(), want.size());
    // Each family once, as one group, its keys ascending.
    std::set<uint32_t> families_done;
    for (size_t i = 0; i < collect.got.size(); ++i) {
      const auto& [id, value] = collect.got[i];
      EXPECT_EQ(want[id], value) << id.second;
      if (i > 0 && collect.got[i - 1].first.first == id.first) {
        EXPECT_LT(collect.got[i - 1].first.second, id.second);
      } else {
        EXPECT_TRUE(families_done.insert(id.first).second) << "family " << id.first << " split";
      }
    }
  }
  std::filesystem::remove_all(dir);
}

TEST(TokenTest, RoundTripsAndRejectsGarbageNamingTheField) {
  PositionSet p;
  p.set_topic("t");
  p.add_next_offsets(3);
  p.add_next_offsets(0);
  auto back = DecodeToken(EncodeToken(p), "consistency_token");
  ASSERT_OK(back);
  EXPECT_EQ(back->SerializeAsString(), p.SerializeAsString());
  for (std::string bad : {"", "c1.", "c1.!!!", "x1.AAAA", "c1.AAAA"}) {
    auto s = DecodeToken(bad, "consistency_token");
    EXPECT_THAT(s, StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("consistency_token: ")))
        << bad;
  }
}

}  // namespace
}  // namespace custops::projection

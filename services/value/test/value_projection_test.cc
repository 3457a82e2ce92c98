// The value projection on a real embedded log and RocksDB store with a
// simulated clock: answers equal the domain rules evaluated independently,
// derived changes (tier, segment, negative asset) through the outbox,
// read-your-writes of "now" snapshots, the scheduled CLV refit and its
// persistence, and replay determinism across batch sizes.
#include "custops/value/value_projection.h"

#include <deque>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "custops/event/time.h"
#include "custops/log/event_log.h"
#include "custops/projection/runtime.h"
#include "custops/testing/projection_fixture.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/changes.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::value {
namespace {

using ::custops::testing::StatusIs;
using ::testing::HasSubstr;

const absl::Time kT0 = absl::FromUnixSeconds(1'700'000'000);  // 2023-11-14
absl::Duration Days(int n) { return absl::Hours(24 * n); }

class Events {
 public:
  v1::Event& Add(const std::string& customer, absl::Time at) {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(absl::StrCat("e", next_++));
    e.set_customer_id(customer);
    *e.mutable_occurred_at() = event::ToProto(at);
    return e;
  }
  void Register(const std::string& c, absl::Time at, const std::string& region,
                v1::CustomerKind kind = v1::CUSTOMER_KIND_CUSTOMER) {
    auto* r = Add(c, at).mutable_customer_registered();
    r->set_name("Customer " + c);
    r->set_kind(kind);
    r->set_region(region);
    r->set_industry("retail");
    r->set_owner_id("rep-1");
  }
  void Contract(const std::string& c, absl::Time at, int64_t amount, int64_t cost) {
    auto* k = Add(c, at).mutable_contract_signed();
    k->set_contract_id(absl::StrCat("k", next_));
    k->mutable_amount()->set_units(amount);
    k->mutable_amount()->set_currency("CNY");
    k->mutable_cost()->set_units(cost);
    k->mutable_cost()->set_currency("CNY");
    *k->mutable_start() = event::ToProto(at);
    *k->mutable_end() = event::ToProto(at + Days(365));
  }
  void Visit(const std::string& c, absl::Time at) {
    auto* v = Add(c, at).mutable_visit_logged();
    v->set_visit_id(absl::StrCat("v", next_));
    v->set_channel(v1::VISIT_CHANNEL_ONSITE);
    v->set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
  }
  std::vector<v1::Event> Take() { return std::exchange(events_, {}); }

 private:
  int next_ = 0;
  std::vector<v1::Event> events_;
};

struct Opened {
  std::unique_ptr<ValueQueries> queries;
  std::unique_ptr<projection::ProjectionRuntime> runtime;
};

class ValueProjectionTest : public custops::testing::EmbeddedLogTest {
 protected:
  // Intervals (the ticks after events, the staleness of "now" answers) pass
  // only when a test moves the clock_.
  ValueProjectionTest()
      : EmbeddedLogTest("va_test", kT0,
                        {log::kCustomerEvents, log::kStateChanges, log::kDeadLetter},
                        base::SimulatedClock::Intervals::kSimulated) {}

  void TearDown() override {
    opened_.clear();
    EmbeddedLogTest::TearDown();
  }
  Opened& Open(const std::string& name, size_t max_batch,
               absl::Duration tick_interval = absl::Seconds(1), bool own_all = true) {
    Opened o;
    o.queries = std::make_unique<ValueQueries>(rules_, clock_);
    auto rt = projection::ProjectionRuntime::Open(
        *log_, std::make_unique<ValueProjection>(rules_, *o.queries),
        {.path = (dir_ / name).string(),
         .max_batch = max_batch,
         .tick_interval = tick_interval,
         .clock = &clock_,
         .own_all = own_all,
         .restore_batch = max_batch});
    EXPECT_OK(rt);
    o.runtime = std::move(*rt);
    projection::ProjectionRuntime* raw = o.runtime.get();
    o.queries->SetPositions([raw] { return raw->AppliedOffsets(); });
    opened_.push_back(std::move(o));
    return opened_.back();
  }
  std::vector<int64_t> Positions(const projection::ProjectionRuntime& rt) {
    std::vector<int64_t> out;
    for (Offset o : rt.AppliedOffsets()) out.push_back(o.value());
    return out;
  }
  // Polls until the running `rt` has applied everything appended so far
  // (true), or 30 s of real time have passed (false).
  bool WaitAllApplied(const projection::ProjectionRuntime& rt) {
    const std::vector<Offset> ends = log_->EndOffsets(log::kCustomerEvents).value();
    for (const absl::Time give_up = absl::Now() + absl::Seconds(30); rt.AppliedOffsets() != ends;) {
      if (absl::Now() >= give_up) return false;
      absl::SleepFor(absl::Milliseconds(2));
    }
    return true;
  }

  ValueRules rules_;
  std::deque<Opened> opened_;  // stable references
};

// 40 customers with distinct margins and purchase patterns.
void AddPopulation(Events& ev) {
  for (int i = 0; i < 40; ++i) {
    const std::string id = absl::StrCat("c", 100 + i);
    ev.Register(id, kT0 - Days(800), i % 2 == 0 ? "East" : "West");
    for (int k = 0; k <= i % 5; ++k) {
      ev.Contract(id, kT0 - Days(10 + 37 * k + i), 1000'00 * (i + 1), 300'00 * (i + 1));
    }
  }
  ev.Register("prospect", kT0 - Days(5), "East");
  ev.Register("supplier", kT0 - Days(5), "East", v1::CUSTOMER_KIND_SUPPLIER);
  ev.Contract("supplier", kT0 - Days(3), 50'00, 0);
}

TEST_F(ValueProjectionTest, AnswersEqualTheDomainRulesOverTheSameFacts) {
  Events ev;
  AddPopulation(ev);
  std::vector<v1::Event> all = ev.Take();
  Append(all);
  Opened& o = Open("state", 1000);
  ASSERT_OK(o.runtime->CatchUp());

  // The rules evaluated independently over the events.
  std::map<std::string, domain::RfmInput> inputs;
  std::map<std::string, int64_t> margin;
  for (const v1::Event& e : all) {
    if (!e.has_contract_signed() || e.customer_id() == "supplier") continue;
    const absl::Time at = event::FromProto(e.occurred_at());
    auto& in = inputs[e.customer_id()];
    in.customer_id = e.customer_id();
    in.purchases.push_back({.at = at, .amount_units = e.contract_signed().amount().units()});
    if (at > kT0 - Days(365)) {
      margin[e.customer_id()] +=
          e.contract_signed().amount().units() - e.contract_signed().cost().units();
    }
  }
  std::vector<domain::RfmInput> rfm_in;
  std::vector<domain::CustomerAmount> margins;
  for (auto& [id, in] : inputs) {
    rfm_in.push_back(in);
    margins.push_back({.customer_id = id, .amount_units = margin[id]});
  }
  const auto scores = domain::ScoreRfm(rfm_in, kT0, rules_.rfm);
  const auto tiers = domain::AssignTiers(margins, rules_.tiers);
  std::map<std::string, domain::Tier> tier_of;
  for (const auto& t : tiers) tier_of[t.customer_id] = t.tier;
  ASSERT_EQ(scores.size(), 40u);
  for (const domain::RfmScore& s : scores) {
    auto v = o.queries->GetValue(s.customer_id, kT0, {});
    ASSERT_OK(v);
    EXPECT_EQ(v->rfm().r_score(), s.r) << s.customer_id;
    EXPECT_EQ(v->rfm().f_score(), s.f) << s.customer_id;
    EXPECT_EQ(v->rfm().m_score(), s.m) << s.customer_id;
    EXPECT_EQ(v->rfm().recency_days(), s.recency_days);
    EXPECT_EQ(v->segment(), domain::RfmSegmentName(s.segment));
    EXPECT_EQ(v->tier(), TierToProto(tier_of[s.customer_id])) << s.customer_id;
    EXPECT_EQ(v->margin().units(), margin[s.customer_id]);
    EXPECT_EQ(v->population(), 40);
  }
  // The top margin customer is DIAMOND; prospects are SMALL; suppliers are out.
  EXPECT_EQ(o.queries->GetValue("c139", kT0, {})->tier(), v1::TIER_DIAMOND);
  auto prospect = o.queries->GetValue("prospect", kT0, {});
  ASSERT_OK(prospect);
  EXPECT_EQ(prospect->tier(), v1::TIER_SMALL);
  EXPECT_FALSE(prospect->has_rfm());
  EXPECT_THAT(o.queries->GetValue("supplier", kT0, {}),
              StatusIs(absl::StatusCode::kNotFound, "customer_id: no customer supplier"));
  EXPECT_THAT(o.queries->GetValue("nobody", kT0, {}),
              StatusIs(absl::StatusCode::kNotFound, "customer_id: no customer nobody"));

  // TierSummary counts add up to the population; the list filter agrees.
  auto summary = o.queries->TierSummary(v1::DIMENSION_REGION, kT0, {}).value();
  EXPECT_EQ(summary.total(), 41);
  int64_t gold = 0;
  for (const auto& c : summary.counts()) gold += c.tier() == v1::TIER_GOLD ? c.count() : 0;
  v1::ListValueCustomersRequest list;
  list.mutable_filter()->set_tier(v1::TIER_GOLD);
  list.set_page_size(3);
  std::set<std::string> listed;
  while (true) {
    auto page = o.queries->ListCustomers(list, kT0, {}).value();
    for (const auto& c : page.customers()) {
      EXPECT_EQ(c.tier(), v1::TIER_GOLD);
      EXPECT_TRUE(listed.insert(c.customer_id()).second);
    }
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(static_cast<int64_t>(listed.size()), gold);
  EXPECT_EQ(gold, 6);  // ranks 2..7 of 40: 100 r < 20 x 40, after DIAMOND 0 and PLATINUM 1

  // Pareto: the A customers hold at least 80% of revenue.
  auto pareto = o.queries->Pareto(v1::DIMENSION_ALL, kT0, {}).value();
  ASSERT_EQ(pareto.slices_size(), 1);
  EXPECT_EQ(pareto.slices(0).customers(), 40);
  EXPECT_GE(pareto.slices(0).a_revenue().units() * 100, pareto.slices(0).revenue().units() * 80);
  EXPECT_GT(pareto.slices(0).top20_share_permille(), 200);
}

TEST_F(ValueProjectionTest, TierSegmentAndNegativeAssetChangesGoThroughTheOutbox) {
  Events ev;
  AddPopulation(ev);
  Append(ev.Take());
  Opened& o = Open("state", 1000);
  ASSERT_OK(o.runtime->CatchUp());
  std::vector<v1::StateChange> first = Changes();
  int tiers = 0;
  for (const auto& c : first) {
    if (c.has_tier_changed()) {
      ++tiers;
      EXPECT_EQ(c.tier_changed().from(), v1::TIER_UNSPECIFIED);
    }
    EXPECT_EQ(c.projection(), "value");
  }
  EXPECT_EQ(tiers, 41);  // every customer's first tier, the prospect's SMALL too

  // c100 (lowest margin) signs a huge contract: it becomes DIAMOND and c139
  // moves down. c101 gets more visits than its margin covers: negative asset.
  clock_.Advance(absl::Minutes(1));
  ev.Contract("c100", clock_.Now() - absl::Seconds(1), 1'000'000'00, 0);
  for (int i = 0; i < 20; ++i) ev.Visit("c101", clock_.Now() - absl::Seconds(2));
  Append(ev.Take());
  ASSERT_OK(o.runtime->CatchUp());
  std::vector<v1::StateChange> all = Changes();
  std::map<std::string, std::vector<v1::StateChange>> next;
  for (size_t i = 0; i < all.size(); ++i) {
    bool seen = false;
    for (const auto& f : first) seen |= f.change_id() == all[i].change_id();
    if (!seen) next[all[i].customer_id()].push_back(all[i]);
  }
  bool c100_diamond = false, c139_down = false, c101_negative = false;
  for (const auto& c : next["c100"]) {
    c100_diamond |= c.has_tier_changed() && c.tier_changed().to() == v1::TIER_DIAMOND;
  }
  for (const auto& c : next["c139"]) {
    c139_down |= c.has_tier_changed() && c.tier_changed().from() == v1::TIER_DIAMOND;
  }
  for (const auto& c : next["c101"]) {
    c101_negative |= c.has_negative_asset_changed() && c.negative_asset_changed().negative_asset();
  }
  EXPECT_TRUE(c100_diamond);
  EXPECT_TRUE(c139_down);
  EXPECT_TRUE(c101_negative);
  // c100's segment moved (its recency is now 0 days).
  bool c100_segment = false;
  for (const auto& c : next["c100"]) c100_segment |= c.has_segment_changed();
  EXPECT_TRUE(c100_segment);

  // Nothing changed: another tick publishes nothing.
  clock_.Advance(absl::Seconds(1));
  ASSERT_OK(o.runtime->CatchUp());
  EXPECT_EQ(Changes().size(), all.size());

  // The negative-asset list has c101.
  v1::ListValueCustomersRequest list;
  list.mutable_filter()->set_negative_asset_only(true);
  auto negatives = o.queries->ListCustomers(list, std::nullopt, {}).value();
  ASSERT_EQ(negatives.customers_size(), 1);
  EXPECT_EQ(negatives.customers(0).customer_id(), "c101");
}

// Failover: leader A publishes, then dies; B, whose store never saw those
// ticks, takes every partition. B must neither announce again what A did
// nor reuse A's change ids (the log drops a repeated id: B's real changes
// would be lost). Per customer the published changes must form one chain
// (each `from` the previous `to`) ending at B's answers; per partition the
// ids must be dense.
TEST_F(ValueProjectionTest, ANewLeaderContinuesFromWhatTheOldOnePublished) {
  Events ev;
  AddPopulation(ev);
  Append(ev.Take());
  std::vector<Partition> all;
  for (int p = 0; p < 4; ++p) all.push_back(Partition(p));

  // B opens first and falls behind: it leads for the first ticks only.
  Opened& b = Open("b", 1000, absl::Seconds(1), /*own_all=*/false);
  ASSERT_OK(b.runtime->Assign(all));
  ASSERT_OK(b.runtime->CatchUp());
  b.runtime->Revoke(all);
  const size_t published_by_b = Changes().size();
  ASSERT_GT(published_by_b, 40u);

  // A leads (its store starts empty) and announces a state B never sees:
  // c100 becomes DIAMOND, then c102 overtakes it.
  Opened& a = Open("a", 1000, absl::Seconds(1), /*own_all=*/false);
  ASSERT_OK(a.runtime->Assign(all));
  ASSERT_OK(a.runtime->CatchUp());
  clock_.Advance(absl::Minutes(1));
  ev.Contract("c100", clock_.Now() - absl::Seconds(1), 1'000'000'00, 0);
  Append(ev.Take());
  ASSERT_OK(a.runtime->CatchUp());
  clock_.Advance(absl::Minutes(1));
  ev.Contract("c102", clock_.Now() - absl::Seconds(1), 5'000'000'00, 0);
  for (int i = 0; i < 20; ++i) ev.Visit("c101", clock_.Now() - absl::Seconds(2));
  Append(ev.Take());
  ASSERT_OK(a.runtime->CatchUp());
  a.runtime->Revoke(all);  // A dies
  const size_t published_by_a = Changes().size() - published_by_b;

  // B leads again, from its old store. Nothing changed since A's last tick:
  // B announces nothing. Then c103 overtakes everyone: B announces that.
  clock_.Advance(absl::Minutes(1));
  ASSERT_OK(b.runtime->Assign(all));
  ASSERT_OK(b.runtime->CatchUp());
  EXPECT_EQ(Changes().size(), published_by_b + published_by_a);
  clock_.Advance(absl::Minutes(1));
  ev.Contract("c103", clock_.Now() - absl::Seconds(1), 9'000'000'00, 0);
  Append(ev.Take());
  ASSERT_OK(b.runtime->CatchUp());

  std::map<std::string, std::vector<v1::StateChange>> by_customer;
  std::map<int, std::set<int64_t>> ids;
  for (const v1::StateChange& c : Changes()) {
    by_customer[c.customer_id()].push_back(c);
    const std::vector<std::string> parts = absl::StrSplit(c.change_id(), '/');
    ASSERT_EQ(parts.size(), 3u) << c.change_id();
    int64_t seq = 0;
    ASSERT_TRUE(absl::SimpleAtoi(parts[2], &seq));
    EXPECT_TRUE(ids[std::stoi(parts[1])].insert(seq).second) << "repeated id " << c.change_id();
  }
  for (const auto& [p, seqs] : ids) {
    EXPECT_EQ(*seqs.rbegin() + 1, static_cast<int64_t>(seqs.size())) << "gap in partition " << p;
  }
  bool c103_diamond = false;
  for (const auto& [id, changes] : by_customer) {
    v1::Tier tier = v1::TIER_UNSPECIFIED;
    std::string segment;
    bool negative = false;
    for (const v1::StateChange& c : changes) {
      if (c.has_tier_changed()) {
        EXPECT_EQ(c.tier_changed().from(), tier) << id << " " << c.change_id();
        tier = c.tier_changed().to();
        c103_diamond |= id == "c103" && tier == v1::TIER_DIAMOND;
      }
      if (c.has_segment_changed()) {
        EXPECT_EQ(c.segment_changed().from(), segment) << id << " " << c.change_id();
        segment = c.segment_changed().to();
      }
      if (c.has_negative_asset_changed()) {
        EXPECT_NE(c.negative_asset_changed().negative_asset(), negative) << id;
        negative = c.negative_asset_changed().negative_asset();
      }
    }
    absl::StatusOr<v1::ValueView> now = b.queries->GetValue(id, std::nullopt, {});
    ASSERT_OK(now) << id;
    EXPECT_EQ(now->tier(), tier) << id;
    EXPECT_EQ(now->segment(), segment) << id;
    EXPECT_EQ(now->negative_asset(), negative) << id;
  }
  EXPECT_TRUE(c103_diamond);
}

TEST_F(ValueProjectionTest, NowSnapshotsCoverTheRequiredPositions) {
  Events ev;
  AddPopulation(ev);
  Append(ev.Take());
  Opened& o = Open("state", 1000);
  ASSERT_OK(o.runtime->CatchUp());
  auto before = o.queries->GetValue("c100", std::nullopt, {}).value();
  // The runtime is not ticked: a "now" read without positions may use the
  // old snapshot, a read that requires the new positions may not.
  ev.Contract("c100", kT0 - absl::Seconds(5), 7'00, 0);
  Append(ev.Take());
  ASSERT_OK(o.runtime->CatchUp());
  auto after = o.queries->GetValue("c100", std::nullopt, Positions(*o.runtime)).value();
  EXPECT_EQ(after.rfm().frequency(), before.rfm().frequency() + 1);
  EXPECT_EQ(after.revenue().units(), before.revenue().units() + 7'00);
}

// A "now" answer forced by a consistency token honours the caller's
// deadline: waiting for a refresh in progress and the refresh itself stop at
// the deadline with DEADLINE_EXCEEDED, and nothing is installed.
TEST_F(ValueProjectionTest, ForcedRefreshHonoursTheDeadline) {
  Events ev;
  AddPopulation(ev);
  Append(ev.Take());
  Opened& o = Open("state", 1000);
  ASSERT_OK(o.runtime->CatchUp());
  // A slow or blocked refresh: Positions() is read inside every refresh with
  // the computation lock held; when armed it sleeps or blocks once.
  std::atomic<int> mode{0};  // 0 plain, 1 sleep 300 ms, 2 block until released
  absl::Notification entered, release;
  projection::ProjectionRuntime* raw = o.runtime.get();
  o.queries->SetPositions([&, raw] {
    const int m = mode.exchange(0);
    if (m == 1) absl::SleepFor(absl::Milliseconds(300));
    if (m == 2) {
      entered.Notify();
      release.WaitForNotification();
    }
    return raw->AppliedOffsets();
  });
  std::shared_ptr<const Population> latest = o.queries->Latest();
  ASSERT_NE(latest, nullptr);
  // Positions the snapshot does not cover force a refresh.
  std::vector<int64_t> ahead = Positions(*o.runtime);
  ahead[0] += 1;

  // The deadline has passed: no refresh at all.
  absl::StatusOr<v1::ValueView> v =
      o.queries->GetValue("c100", std::nullopt, ahead, absl::Now() - absl::Seconds(1));
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          HasSubstr("population evaluation did not finish before")));
  EXPECT_EQ(o.queries->Latest(), latest);

  // The refresh cannot finish in time (it takes 300 ms, the caller has 100).
  mode = 1;
  absl::Time start = absl::Now();
  v = o.queries->GetValue("c100", std::nullopt, ahead, start + absl::Milliseconds(100));
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          HasSubstr("population evaluation did not finish before")));
  EXPECT_EQ(o.queries->Latest(), latest);

  // Another refresh holds the computation: waiting is bounded by the deadline.
  mode = 2;
  std::thread other([&] { EXPECT_OK(o.queries->RefreshAt(kT0)); });
  entered.WaitForNotification();
  start = absl::Now();
  v = o.queries->GetValue("c100", std::nullopt, ahead, start + absl::Milliseconds(200));
  const absl::Duration waited = absl::Now() - start;
  EXPECT_THAT(v, StatusIs(absl::StatusCode::kDeadlineExceeded,
                          "another population evaluation did not finish before the deadline"));
  EXPECT_GE(waited, absl::Milliseconds(190));
  EXPECT_LT(waited, absl::Seconds(10));
  release.Notify();
  other.join();
  EXPECT_NE(o.queries->Latest(), latest);  // the other refresh installed its snapshot

  // With time enough, the same call refreshes and answers.
  v = o.queries->GetValue("c100", std::nullopt, ahead, absl::Now() + absl::Seconds(30));
  ASSERT_OK(v);
  EXPECT_EQ(v->customer_id(), "c100");
}

// A "now" answer without a token may use a snapshot that misses events
// applied since it was built while the snapshot is younger than
// snapshot_max_staleness (10 s) of the clock's monotonic time; an older one
// is rebuilt at the clock's now. The runtime's tick interval is an hour and
// Now() stands still, so no tick refreshes the snapshot meanwhile.
TEST_F(ValueProjectionTest, NowAnswersGoStaleOnTheClocksMonotonicTime) {
  Events ev;
  AddPopulation(ev);
  Append(ev.Take());
  Opened& o = Open("state", 1000, absl::Hours(1));
  ASSERT_OK(o.runtime->CatchUp());  // applies, then ticks: the snapshot has it all
  const std::shared_ptr<const Population> built = o.queries->Latest();
  ASSERT_NE(built, nullptr);
  const v1::ValueView before = o.queries->GetValue("c100", std::nullopt, {}).value();
  ASSERT_OK(o.runtime->Start());
  ev.Contract("c100", kT0 - absl::Seconds(5), 7'00, 0);
  Append(ev.Take());
  ASSERT_TRUE(WaitAllApplied(*o.runtime)) << "the contract was not applied";

  // Applied, but the snapshot is younger than 10 s: the answer is the old one.
  clock_.AdvanceMonotonic(absl::Seconds(9));
  v1::ValueView now = o.queries->GetValue("c100", std::nullopt, {}).value();
  EXPECT_EQ(now.rfm().frequency(), before.rfm().frequency());
  EXPECT_EQ(now.revenue().units(), before.revenue().units());
  EXPECT_EQ(o.queries->Latest(), built);

  // 10 s old: rebuilt, at the (unmoved) clock's now, with the contract.
  clock_.AdvanceMonotonic(absl::Seconds(1));
  now = o.queries->GetValue("c100", std::nullopt, {}).value();
  EXPECT_EQ(now.rfm().frequency(), before.rfm().frequency() + 1);
  EXPECT_EQ(now.revenue().units(), before.revenue().units() + 7'00);
  ASSERT_NE(o.queries->Latest(), built);
  EXPECT_EQ(o.queries->Latest()->as_of, kT0);
  ASSERT_OK(o.runtime->Stop());
}

// With a clock that never moves (--fixed-clock) the runtime ticks once at
// start; the value projection still publishes the changes events cause,
// because the runtime ticks after applying them (TicksOnApply) once a tick
// interval of the clock's monotonic time has passed since the first of
// them. The interval is an hour of the simulated clock: only the test's
// AdvanceMonotonic makes it pass.
TEST_F(ValueProjectionTest, FixedClockStillPublishesChangesCausedByEvents) {
  Opened& o = Open("state", 1000, absl::Hours(1));
  ASSERT_OK(o.runtime->Start());
  // The start tick (its snapshot appears) has nothing to publish.
  for (const absl::Time give_up = absl::Now() + absl::Seconds(30); !o.queries->Latest();) {
    ASSERT_LT(absl::Now(), give_up) << "no start tick";
    absl::SleepFor(absl::Milliseconds(5));
  }
  const std::shared_ptr<const Population> start = o.queries->Latest();
  EXPECT_TRUE(Changes().empty());
  Events ev;
  AddPopulation(ev);
  std::vector<v1::Event> events = ev.Take();
  // The population but its last two events (the supplier's), then each of
  // those once the one before is applied. Both are in one partition, so the
  // last is read by a later pass of the apply loop than the one before: when
  // it is applied, a pass that applied events and then decided whether to
  // tick has ended.
  ASSERT_EQ(events[events.size() - 2].customer_id(), events.back().customer_id());
  std::vector<v1::Event> last(events.end() - 2, events.end());
  events.resize(events.size() - 2);
  Append(events);
  ASSERT_TRUE(WaitAllApplied(*o.runtime));
  for (const v1::Event& e : last) {
    Append({e});
    ASSERT_TRUE(WaitAllApplied(*o.runtime));
  }
  // Applied, but no time has passed: no tick (it would have refreshed the
  // snapshot), nothing published.
  EXPECT_EQ(o.queries->Latest(), start);
  EXPECT_TRUE(Changes().empty());

  clock_.AdvanceMonotonic(absl::Hours(1));
  const absl::Time give_up = absl::Now() + absl::Seconds(30);
  int tiers = 0;
  while (absl::Now() < give_up) {
    tiers = 0;
    for (const auto& c : Changes()) tiers += c.has_tier_changed() ? 1 : 0;
    if (tiers >= 41) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(tiers, 41);  // every customer's first tier, at the fixed instant
  for (const auto& c : Changes()) EXPECT_EQ(event::FromProto(c.at()), kT0);
  EXPECT_EQ(clock_.Now(), kT0);
  ASSERT_OK(o.runtime->Stop());
}

// Buyers r<from>..r<to - 1> drawn from the BG/NBD story (Poisson purchases,
// dropout after each) with `rng`: enough repeat buyers for both fits.
void AddBuyers(Events& ev, std::mt19937_64& rng, int from, int to) {
  std::gamma_distribution<double> rate(0.8, 1.0 / 20);  // purchases per day
  std::uniform_real_distribution<double> unit(0, 1);
  for (int i = from; i < to; ++i) {
    const std::string id = absl::StrCat("r", i);
    const int age = 100 + i;
    ev.Register(id, kT0 - Days(age + 1), "East");
    const double lambda = rate(rng);
    // Dropout p ~ Beta(1, 3), as the ratio of two gamma draws.
    const double g1 = std::gamma_distribution<double>(1.0, 1.0)(rng);
    const double drop = g1 / (g1 + std::gamma_distribution<double>(3.0, 1.0)(rng));
    double t = 0;
    ev.Contract(id, kT0 - Days(age), 50'00 + static_cast<int64_t>(unit(rng) * 100'00), 0);
    while (true) {
      t += std::exponential_distribution<double>(lambda)(rng);
      if (t >= age) break;
      ev.Contract(id, kT0 - Days(age) + absl::Seconds(t * 86400),
                  50'00 + static_cast<int64_t>(unit(rng) * 100'00), 0);
      if (unit(rng) < drop) break;
    }
  }
}

TEST_F(ValueProjectionTest, ScheduledRefitIsPersistedAndOnDemandRefitReplacesIt) {
  Events ev;
  std::mt19937_64 rng(7);
  AddBuyers(ev, rng, 0, 400);
  Append(ev.Take());
  int64_t fitted_at;
  {
    Opened& o = Open("state", 1000);
    ASSERT_OK(o.runtime->CatchUp());
    std::optional<internal::ValueClvModel> m = o.queries->Model();
    ASSERT_TRUE(m.has_value());
    EXPECT_TRUE(m->bg_ok());
    EXPECT_TRUE(m->gg_ok());
    EXPECT_EQ(m->customers(), 400);
    EXPECT_TRUE(m->bg_converged()) << m->DebugString();
    EXPECT_GT(m->repeat_buyers(), 50);
    fitted_at = m->fitted_as_of_micros();
    EXPECT_EQ(fitted_at, absl::ToUnixMicros(kT0));
    auto v = o.queries->GetValue("r3", std::nullopt, {}).value();
    EXPECT_TRUE(v.clv().model_fitted());
    EXPECT_GT(v.clv().predicted().units(), 0);
    EXPECT_GT(v.clv().p_alive(), 0);
    EXPECT_LE(v.clv().p_alive(), 1);
    // Not due yet: a tick an hour later keeps the fit.
    clock_.Advance(absl::Hours(1));
    ASSERT_OK(o.runtime->CatchUp());
    EXPECT_EQ(o.queries->Model()->fitted_as_of_micros(), fitted_at);
    opened_.clear();
  }
  {
    Opened& o = Open("state", 1000);  // restart: the model comes back from va_meta
    ASSERT_TRUE(o.queries->Model().has_value());
    EXPECT_EQ(o.queries->Model()->fitted_as_of_micros(), fitted_at);
    // On demand.
    auto refit = o.queries->Refit(kT0 + Days(2));
    ASSERT_OK(refit);
    EXPECT_EQ(o.queries->Model()->fitted_as_of_micros(), absl::ToUnixMicros(kT0 + Days(2)));
    // Scheduled: a day after the last fit.
    clock_.Set(kT0 + Days(3) + absl::Hours(1));
    ASSERT_OK(o.runtime->CatchUp());
    EXPECT_EQ(o.queries->Model()->fitted_as_of_micros(), absl::ToUnixMicros(clock_.Now()));
  }
}

// docs/value.md "CLV refit": when the fit's inputs move by more than
// refit_population_change_percent (10) the next tick refits, without waiting
// for the schedule; smaller moves keep the model. The clock never moves here,
// so the schedule cannot be what refits.
TEST_F(ValueProjectionTest, APopulationThatMovedIsRefitWithoutWaitingForTheSchedule) {
  Events ev;
  std::mt19937_64 rng(11);
  AddBuyers(ev, rng, 0, 200);
  Append(ev.Take());
  Opened& o = Open("state", 1000);
  ASSERT_OK(o.runtime->CatchUp());
  ASSERT_TRUE(o.queries->Model().has_value());
  EXPECT_EQ(o.queries->Model()->customers(), 200);
  const int64_t repeat_before = o.queries->Model()->repeat_buyers();

  // +10 buyers: 5%, and repeat buyers move by at most 10 of ~100+: kept.
  AddBuyers(ev, rng, 200, 210);
  Append(ev.Take());
  ASSERT_OK(o.runtime->CatchUp());
  ASSERT_EQ(o.queries->Latest()->scored, 210);
  const int64_t repeat_now = o.queries->Latest()->repeat_buyers;
  ASSERT_LE((repeat_now - repeat_before) * 100, 10 * repeat_before) << "the draw moved too far";
  EXPECT_EQ(o.queries->Model()->customers(), 200);

  // +25 more: 235 against the fitted 200 is 17.5%: refit on all of them, and
  // the "now" answers use that model.
  AddBuyers(ev, rng, 210, 235);
  Append(ev.Take());
  ASSERT_OK(o.runtime->CatchUp());
  std::optional<internal::ValueClvModel> m = o.queries->Model();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->customers(), 235);
  EXPECT_EQ(m->repeat_buyers(), o.queries->Latest()->repeat_buyers);
  EXPECT_EQ(o.queries->Latest()->model.customers(), 235);
  // The same fit as an explicit refit on the same population.
  absl::StatusOr<internal::ValueClvModel> again = o.queries->Refit(clock_.Now());
  ASSERT_OK(again);
  EXPECT_EQ(again->r(), m->r());
  EXPECT_EQ(again->alpha(), m->alpha());
  EXPECT_EQ(again->p(), m->p());
}

TEST(ValueEngineTest, FitInputsMovedComparesBothCountsWithThePercentage) {
  internal::ValueClvModel fitted;
  fitted.set_customers(200);
  fitted.set_repeat_buyers(100);
  Population now;
  now.scored = 220;  // exactly 10%: not more than 10
  now.repeat_buyers = 100;
  EXPECT_FALSE(FitInputsMoved(fitted, now, 10));
  now.scored = 221;
  EXPECT_TRUE(FitInputsMoved(fitted, now, 10));
  now.scored = 179;  // shrinking counts too
  EXPECT_TRUE(FitInputsMoved(fitted, now, 10));
  now.scored = 200;
  now.repeat_buyers = 111;
  EXPECT_TRUE(FitInputsMoved(fitted, now, 10));
  now.repeat_buyers = 101;
  EXPECT_FALSE(FitInputsMoved(fitted, now, 10));
  EXPECT_TRUE(FitInputsMoved(fitted, now, 0));  // 0: any change
  now.repeat_buyers = 100;
  EXPECT_FALSE(FitInputsMoved(fitted, now, 0));
  fitted.set_customers(0);  // nothing fitted yet: any customer is a move
  EXPECT_TRUE(FitInputsMoved(fitted, now, 10));
}

TEST_F(ValueProjectionTest, ReplayIsByteIdenticalWhateverTheBatchSize) {
  Events ev;
  AddPopulation(ev);
  for (int i = 0; i < 15; ++i) ev.Visit("c105", kT0 - Days(i));
  Append(ev.Take());
  Opened& a = Open("a", 1);
  Opened& b = Open("b", 5000);
  ASSERT_OK(a.runtime->CatchUp());
  ASSERT_OK(b.runtime->CatchUp());
  for (const std::string id : {"c100", "c105", "c139", "prospect"}) {
    EXPECT_EQ(a.queries->GetValue(id, kT0, {})->SerializeAsString(),
              b.queries->GetValue(id, kT0, {})->SerializeAsString());
  }
  EXPECT_EQ(a.queries->TierSummary(v1::DIMENSION_OWNER, kT0, {})->SerializeAsString(),
            b.queries->TierSummary(v1::DIMENSION_OWNER, kT0, {})->SerializeAsString());
  // Facts are byte-identical too.
  auto fa = a.queries->LoadAll().value();
  auto fb = b.queries->LoadAll().value();
  ASSERT_EQ(fa.size(), fb.size());
  for (size_t i = 0; i < fa.size(); ++i) {
    EXPECT_EQ(fa[i].facts.SerializeAsString(), fb[i].facts.SerializeAsString());
  }
}

// The streaming evaluation (PopulationBuilder: integer-key ranks, memoised
// BG/NBD terms) equals the domain rules applied to the same facts, with many
// ties, purchases outside the window and after as_of, prospects, and any Add
// order; CLV equals PredictedClvUnits per customer.
TEST(ValueEngineTest, PopulationEqualsTheDomainRulesInAnyOrder) {
  Events ev;
  std::mt19937_64 rng(11);
  auto pick = [&](int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); };
  for (int i = 0; i < 600; ++i) {
    const std::string id = absl::StrCat("p", 1000 + pick(100000));
    ev.Register(id, kT0 - Days(900), i % 3 == 0 ? "East" : "West");
    const int purchases = pick(6);  // 0: a prospect
    for (int k = 0; k < purchases; ++k) {
      // Few distinct amounts and days: ties on every measure; some purchases
      // are older than the window, some after as_of.
      ev.Contract(id, kT0 - Days(pick(500) - 20) + absl::Hours(pick(3)), 100'00 * (1 + pick(4)),
                  10'00 * pick(3));
    }
    if (pick(10) == 0) {
      ev.Add(id, kT0 - Days(3))
          .mutable_referral_made()
          ->set_referred_customer_id(absl::StrCat("p", 1000 + pick(100000)));
    }
  }
  std::map<std::string, internal::ValueFacts> facts;
  for (const auto& e : ev.Take()) ASSERT_OK(EvolveValue(facts[e.customer_id()], e));
  std::vector<CustomerFactsRef> refs;
  for (const auto& [id, f] : facts) refs.push_back({id, f});
  const ValueRules rules;
  const Population pop = ComputePopulation(refs, kT0, rules, nullptr);
  ASSERT_TRUE(pop.model_ok) << pop.model.DebugString();
  std::shuffle(refs.begin(), refs.end(), rng);
  const Population shuffled = ComputePopulation(refs, kT0, rules, &pop.model);
  ASSERT_EQ(pop.customers.size(), shuffled.customers.size());
  ASSERT_EQ(pop.customers.size(), facts.size());
  for (size_t i = 0; i < pop.customers.size(); ++i) {
    EXPECT_EQ(BuildValueView(pop, pop.customers[i], rules).SerializeAsString(),
              BuildValueView(shuffled, shuffled.customers[i], rules).SerializeAsString());
  }
  EXPECT_EQ(pop.tier_totals.size(), shuffled.tier_totals.size());

  // The domain rules, independently.
  std::vector<domain::RfmInput> rfm;
  std::vector<domain::CustomerAmount> revenues, margins;
  const absl::Time window_start = kT0 - rules.rfm.window;
  for (const auto& [id, f] : facts) {
    domain::RfmInput in{.customer_id = id, .purchases = {}};
    int64_t revenue = 0, margin = 0;
    for (const auto& p : f.purchases()) {
      const absl::Time at = absl::FromUnixMicros(p.at_micros());
      if (at > kT0) continue;
      in.purchases.push_back({.at = at, .amount_units = p.amount_units()});
      if (at > window_start) {
        revenue += p.amount_units();
        margin += p.amount_units() - p.cost_units();
      }
    }
    if (in.purchases.empty()) continue;
    rfm.push_back(std::move(in));
    revenues.push_back({.customer_id = id, .amount_units = revenue});
    margins.push_back({.customer_id = id, .amount_units = margin});
  }
  ASSERT_EQ(static_cast<int64_t>(rfm.size()), pop.scored);
  ASSERT_GT(pop.scored, 300);
  ASSERT_LT(pop.scored, static_cast<int64_t>(pop.customers.size()));  // prospects too
  for (const domain::RfmScore& s : domain::ScoreRfm(rfm, kT0, rules.rfm)) {
    const CustomerValue* c = pop.Find(s.customer_id);
    ASSERT_NE(c, nullptr);
    EXPECT_EQ(std::make_tuple(c->rfm.recency_days, c->rfm.frequency, c->rfm.monetary_units,
                              c->rfm.r, c->rfm.f, c->rfm.m, c->rfm.fm, c->rfm.segment),
              std::make_tuple(s.recency_days, s.frequency, s.monetary_units, s.r, s.f, s.m, s.fm,
                              s.segment))
        << s.customer_id;
  }
  for (const domain::AbcEntry& e : domain::ClassifyAbc(revenues, rules.abc)) {
    EXPECT_EQ(pop.Find(e.customer_id)->abc, e.abc) << e.customer_id;
  }
  for (const domain::TierEntry& e : domain::AssignTiers(margins, rules.tiers)) {
    const CustomerValue* c = pop.Find(e.customer_id);
    EXPECT_EQ(c->tier, TierToProto(e.tier)) << e.customer_id;
    EXPECT_EQ(c->margin_rank, e.rank) << e.customer_id;
  }
  const domain::BgNbdParams bg{
      .r = pop.model.r(), .alpha = pop.model.alpha(), .a = pop.model.a(), .b = pop.model.b()};
  const domain::GammaGammaParams gg{.p = pop.model.p(), .q = pop.model.q(), .v = pop.model.v()};
  int predicted = 0;
  for (const CustomerValue& c : pop.customers) {
    if (!c.scored) continue;
    absl::StatusOr<int64_t> clv = domain::PredictedClvUnits(bg, gg, *c.summary, rules.clv);
    ASSERT_EQ(c.clv_ok, clv.ok()) << c.customer_id;
    if (!clv.ok()) continue;
    ++predicted;
    EXPECT_EQ(c.predicted_clv_units, *clv) << c.customer_id;
    EXPECT_EQ(c.p_alive, domain::BgNbdProbabilityAlive(bg, *c.summary));
    EXPECT_EQ(c.expected_purchases,
              domain::BgNbdExpectedPurchases(
                  bg, *c.summary, rules.clv.horizon_months * rules.clv.periods_per_month));
  }
  EXPECT_EQ(predicted, pop.scored);
}

TEST(ValueEngineTest, EvolveIsOrderIndependent) {
  Events ev;
  AddPopulation(ev);
  std::vector<v1::Event> events = ev.Take();
  std::map<std::string, internal::ValueFacts> forward, backward;
  for (const auto& e : events) ASSERT_OK(EvolveValue(forward[e.customer_id()], e));
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    ASSERT_OK(EvolveValue(backward[it->customer_id()], *it));
  }
  for (const auto& [id, f] : forward) {
    EXPECT_EQ(f.SerializeAsString(), backward[id].SerializeAsString()) << id;
  }
}

TEST(ValueEngineTest, CostToServeAndLoyaltyFromEvents) {
  Events ev;
  ev.Register("x", kT0 - Days(100), "East");
  ev.Contract("x", kT0 - Days(50), 1000'00, 900'00);  // margin 100.00
  ev.Visit("x", kT0 - Days(10));                      // 200.00
  auto& complaint = ev.Add("x", kT0 - Days(9));
  complaint.mutable_complaint_filed()->set_complaint_id("k1");
  complaint.mutable_complaint_filed()->set_severity(v1::SEVERITY_CRITICAL);          // 2,000.00
  ev.Add("x", kT0 - Days(8)).mutable_complaint_responded()->set_complaint_id("k1");  // 100.00
  ev.Add("x", kT0 - Days(7)).mutable_referral_made()->set_referred_customer_id("y");
  std::vector<CustomerFactsRef> refs(1);
  refs[0].customer_id = "x";
  for (const auto& e : ev.Take()) ASSERT_OK(EvolveValue(refs[0].facts, e));
  Population pop = ComputePopulation(refs, kT0, ValueRules(), nullptr);
  const CustomerValue* x = pop.Find("x");
  ASSERT_NE(x, nullptr);
  EXPECT_EQ(x->contribution.cost_to_serve_units, 200'00 + 2000'00 + 100'00);
  EXPECT_EQ(x->contribution.net_units, 100'00 - 2300'00);
  EXPECT_TRUE(x->contribution.negative_asset);
  EXPECT_EQ(x->loyalty, domain::LoyaltyRung::kAdvocate);  // referred a customer
  EXPECT_EQ(x->historical_clv_units, 100'00);
  // Before the visit and the complaint, it was not a negative asset.
  Population earlier = ComputePopulation(refs, kT0 - Days(20), ValueRules(), nullptr);
  EXPECT_FALSE(earlier.Find("x")->contribution.negative_asset);
  EXPECT_EQ(earlier.Find("x")->loyalty, domain::LoyaltyRung::kAware);
}

}  // namespace
}  // namespace custops::value

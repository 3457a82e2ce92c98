// The review projection on a real embedded log and RocksDB store with a
// simulated clock: metrics per dimension, the funnel and pipeline snapshot, a
// late event changing exactly its periods, SLA breaches on the changes log,
// org targets and the worklist.
#include "custops/review/review_projection.h"

#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "custops/event/time.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/store/keys.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/changes.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "review_events.h"
#include "review_store_fixture.h"

namespace custops::review {
namespace {

using ::custops::testing::Cny;
using ::custops::testing::StatusIs;
using testing::At;
using testing::Events;
using testing::Shanghai;

class ReviewProjectionTest : public testing::ReviewStoreTest {
 protected:
  ReviewProjectionTest() : ReviewStoreTest(At(2024, 12, 31), DeadLetterCheck::kEach) {}

  v1::ReviewReport Review(v1::Granularity g, absl::Time start, v1::Dimension dim,
                          const std::string& value) {
    v1::GetReviewRequest req;
    req.set_granularity(g);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_dimension_value(value);
    auto r = queries_->GetReview(req);
    EXPECT_OK(r);
    return r.ok() ? *r : v1::ReviewReport();
  }
  static const v1::Metric& M(const v1::ReviewReport& r, const std::string& name) {
    for (const auto& m : r.metrics()) {
      if (m.name() == name) return m;
    }
    ADD_FAILURE() << "no metric " << name;
    static v1::Metric none;
    return none;
  }
  std::map<std::string, std::string> Slices() {
    std::map<std::string, std::string> out;
    auto it = runtime_->store().NewIterator(runtime_->store().Family("rv_slice"));
    for (it->SeekToFirst(); it->Valid(); it->Next()) out[std::string(it->key())] = it->value();
    return out;
  }
};

TEST_F(ReviewProjectionTest, DealMetricsCreditTheRepAndBaseMetricsTheOwner) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2024, 1, 2), "West", "owner-b");
  ev.Open("c1", "o1", At(2024, 1, 10), "rep-x", 100'000);
  ev.Stage("c1", "o1", At(2024, 3, 10), "rep-x", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
  ev.Contract("c1", At(2024, 3, 10), "rep-x", 80'000);
  ev.Open("c2", "o2", At(2024, 2, 1), "rep-y", 50'000);
  ev.Stage("c2", "o2", At(2024, 3, 5), "rep-y", v1::FUNNEL_STAGE_LOST, "Rival");
  ev.Open("c2", "o3", At(2024, 3, 20), "rep-y", 40'000);
  ev.Stage("c2", "o3", At(2024, 3, 25), "rep-y", v1::FUNNEL_STAGE_NEED_CONFIRMED);
  Append(ev.Take());

  const v1::ReviewReport all =
      Review(v1::GRANULARITY_QUARTER, At(2024, 1, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(all.period_key(), "2024-Q1");
  EXPECT_EQ(M(all, "revenue").value().money().units(), 80'000);
  EXPECT_EQ(M(all, "gross_margin").value().money().units(), 40'000);
  EXPECT_EQ(M(all, "new_customers").value().count(), 1);
  // Distinct: c1 and c2 had several events each in the quarter.
  EXPECT_EQ(M(all, "active_customers").value().count(), 2);
  EXPECT_EQ(
      M(Review(v1::GRANULARITY_MONTH, At(2024, 3, 1), v1::DIMENSION_ALL, ""), "active_customers")
          .value()
          .count(),
      2);
  EXPECT_EQ(
      M(Review(v1::GRANULARITY_MONTH, At(2024, 2, 1), v1::DIMENSION_ALL, ""), "active_customers")
          .value()
          .count(),
      1);
  EXPECT_EQ(M(all, "win_rate").value().ratio().numerator(), 1);
  EXPECT_EQ(M(all, "win_rate").value().ratio().denominator(), 2);
  // Opened Jan 10 noon, won Mar 10 noon: 60 days (2024 is a leap year).
  EXPECT_EQ(M(all, "sales_cycle_days").value().ratio().numerator(), 60);
  EXPECT_EQ(M(all, "sales_cycle_days").value().ratio().denominator(), 1);
  // Open at the quarter's end: o3 at stage 3 (30%).
  EXPECT_EQ(M(all, "weighted_pipeline").value().money().units(), 12'000);
  // Null bases: nothing happened the quarter before.
  EXPECT_FALSE(M(all, "win_rate").previous().has_ratio());
  // Snapshots at the quarter's end: nobody is a negative asset, nothing is overdue.
  EXPECT_EQ(M(all, "negative_assets").value().count(), 0);

  // Deal metrics go to the rep on the event, not the customer's owner.
  const v1::ReviewReport rep =
      Review(v1::GRANULARITY_QUARTER, At(2024, 1, 1), v1::DIMENSION_OWNER, "rep-x");
  EXPECT_EQ(M(rep, "revenue").value().money().units(), 80'000);
  const v1::ReviewReport owner =
      Review(v1::GRANULARITY_QUARTER, At(2024, 1, 1), v1::DIMENSION_OWNER, "owner-a");
  EXPECT_EQ(M(owner, "revenue").value().money().units(), 0);
  EXPECT_EQ(M(owner, "new_customers").value().count(), 1);
  EXPECT_EQ(M(owner, "active_customers").value().count(), 1);
  const v1::ReviewReport west =
      Review(v1::GRANULARITY_QUARTER, At(2024, 1, 1), v1::DIMENSION_REGION, "West");
  EXPECT_EQ(M(west, "win_rate").value().ratio().numerator(), 0);

  v1::FunnelRequest f;
  f.mutable_period()->set_granularity(v1::GRANULARITY_QUARTER);
  *f.mutable_period()->mutable_start() = event::ToProto(At(2024, 1, 1));
  f.set_dimension(v1::DIMENSION_OWNER);
  const v1::FunnelResponse funnel = queries_->Funnel(f).value();
  // Every owner value with data in the quarter, in order (owner-a/-b have
  // customer-base figures only).
  std::vector<std::string> values;
  std::map<std::string, v1::FunnelSlice> by_value;
  for (const auto& s : funnel.slices()) {
    values.push_back(s.dimension_value());
    by_value[s.dimension_value()] = s;
  }
  EXPECT_EQ(values, (std::vector<std::string>{"owner-a", "owner-b", "rep-x", "rep-y"}));
  const v1::FunnelSlice& y = by_value["rep-y"];
  EXPECT_EQ(y.weighted_pipeline().units(), 12'000);
  EXPECT_EQ(y.open_opportunities(), 1);
  ASSERT_EQ(y.losses_by_competitor_size(), 1);
  EXPECT_EQ(y.losses_by_competitor(0).competitor(), "Rival");
  EXPECT_EQ(y.losses_by_competitor(0).amount().units(), 50'000);
  // rep-y: two opportunities entered stage 1, one went further (o3 to 3).
  EXPECT_EQ(y.stages(0).entered(), 2);
  EXPECT_EQ(y.stages(0).advanced(), 1);
  EXPECT_EQ(y.stages(2).entered(), 1);
  EXPECT_EQ(y.stages(2).advanced(), 0);
  EXPECT_EQ(by_value["rep-x"].won(), 1);
  EXPECT_EQ(by_value["rep-x"].sales_cycle_days().numerator(), 60);
  EXPECT_EQ(by_value["owner-a"].won(), 0);
  // Paging: two slices per page cover all four once, in order.
  f.set_page_size(2);
  std::vector<std::string> paged;
  do {
    const v1::FunnelResponse page = queries_->Funnel(f).value();
    EXPECT_LE(page.slices_size(), 2);
    for (const auto& s : page.slices()) paged.push_back(s.dimension_value());
    f.set_page_token(page.next_page_token());
  } while (!f.page_token().empty());
  EXPECT_EQ(paged, values);
}

TEST_F(ReviewProjectionTest, ALateEventChangesExactlyItsPeriods) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 2, 10), "rep-x", 10'000);
  ev.Contract("c2", At(2024, 5, 10), "rep-x", 20'000);
  ev.Contract("c1", At(2024, 6, 10), "rep-x", 30'000);
  Append(ev.Take());
  const std::map<std::string, std::string> before = Slices();
  const v1::ReviewReport may_before =
      Review(v1::GRANULARITY_MONTH, At(2024, 5, 1), v1::DIMENSION_ALL, "");

  // A late repeat purchase of c1 on 2024-03-15 (a Friday of ISO week 11).
  ev.Contract("c1", At(2024, 3, 15), "rep-x", 5'000);
  Append(ev.Take());
  const std::map<std::string, std::string> after = Slices();

  std::set<std::string> changed;
  for (const auto& [k, v] : after) {
    auto it = before.find(k);
    if (it == before.end() || it->second != v) {
      std::string_view rest = k;
      rest.remove_prefix(4);
      if (store::ReadU32(rest) == static_cast<uint32_t>(kDimensionCustomer)) {
        store::ReadId(rest);  // a customer's day slice: customer_id\0|day_key\0
      } else {
        rest = k;
        rest.remove_prefix(4);
      }
      changed.emplace(store::ReadId(rest));
    }
  }
  EXPECT_EQ(changed,
            (std::set<std::string>{"2024-03-15", "2024-W11", "2024-03", "2024-Q1", "2024"}));
  const v1::ReviewReport march =
      Review(v1::GRANULARITY_MONTH, At(2024, 3, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(march, "revenue").value().money().units(), 5'000);
  EXPECT_EQ(M(march, "repeat_purchase_rate").value().ratio().numerator(), 1);
  EXPECT_EQ(M(march, "new_customers").value().count(), 0);

  // A late first purchase of c2 in March: c2 was new in May, now it is new
  // in March, and its May purchase becomes a repeat.
  ev.Contract("c2", At(2024, 3, 20), "rep-x", 7'000);
  Append(ev.Take());
  const v1::ReviewReport march2 =
      Review(v1::GRANULARITY_MONTH, At(2024, 3, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(march2, "new_customers").value().count(), 1);
  const v1::ReviewReport may = Review(v1::GRANULARITY_MONTH, At(2024, 5, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(may_before, "new_customers").value().count(), 1);
  EXPECT_EQ(M(may, "new_customers").value().count(), 0);
  EXPECT_EQ(M(may, "revenue").value().money().units(), 20'000);

  // Both are customers from March on: one explicit loss in April is half.
  ev.Add("c1", At(2024, 4, 20)).mutable_customer_churned()->set_reason("moved away");
  Append(ev.Take());
  const v1::ReviewReport april =
      Review(v1::GRANULARITY_MONTH, At(2024, 4, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(april, "lost_customers").value().count(), 1);
  EXPECT_EQ(M(april, "churn_rate").value().ratio().numerator(), 1);
  EXPECT_EQ(M(april, "churn_rate").value().ratio().denominator(), 2);
}

TEST_F(ReviewProjectionTest, SlaBreachIsCountedAtItsDueAndEmittedOnce) {
  Events ev;
  ev.Register("c1", At(2024, 3, 1), "East", "owner-a");
  auto* f = ev.Add("c1", At(2024, 3, 31, 22)).mutable_complaint_filed();
  f->set_complaint_id("cp1");
  f->set_category(v1::COMPLAINT_CATEGORY_SERVICE);
  f->set_severity(v1::SEVERITY_HIGH);  // response due 4 h later: Apr 1, 02:00 Shanghai
  clock_.Set(At(2024, 3, 31, 23));
  Append(ev.Take());
  EXPECT_TRUE(Changes().empty());
  clock_.Set(At(2024, 4, 1, 3));
  ASSERT_OK(runtime_->CatchUp());
  ASSERT_OK(runtime_->CatchUp());
  int breaches = 0;
  for (const auto& c : Changes()) {
    if (!c.has_complaint_sla_breached()) continue;
    ++breaches;
    EXPECT_EQ(c.complaint_sla_breached().clock(), "first_response");
    EXPECT_EQ(event::FromProto(c.at()), At(2024, 3, 31, 22) + absl::Hours(4));
  }
  EXPECT_EQ(breaches, 1);
  const v1::ReviewReport april =
      Review(v1::GRANULARITY_MONTH, At(2024, 4, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(april, "sla_breaches").value().count(), 1);
  const v1::ReviewReport march =
      Review(v1::GRANULARITY_MONTH, At(2024, 3, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(march, "sla_breaches").value().count(), 0);
  EXPECT_EQ(M(march, "complaints").value().count(), 1);
  bool finding = false;
  for (const auto& fd : april.findings()) {
    if (fd.rule_id() != "sla_breaches") continue;
    finding = true;
    ASSERT_EQ(fd.customer_ids_size(), 1);
    EXPECT_EQ(fd.customer_ids(0), "c1");
  }
  EXPECT_TRUE(finding);
}

TEST_F(ReviewProjectionTest, TargetsFromOrgEventsGiveAttainment) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 3, 10), "rep-x", 60'000);
  Append(ev.Take());
  v1::OrgEvent t;
  t.set_event_id("t1");
  *t.mutable_occurred_at() = event::ToProto(At(2024, 1, 1));
  t.set_scope("region:East");
  auto* ts = t.mutable_target_set();
  ts->mutable_period()->set_granularity(v1::GRANULARITY_MONTH);
  *ts->mutable_period()->mutable_start() = event::ToProto(At(2024, 3, 1));
  ts->set_dimension(v1::DIMENSION_REGION);
  ts->set_dimension_value("East");
  ts->set_metric("revenue");
  *ts->mutable_value()->mutable_money() = Cny(100'000);
  ASSERT_OK(log_->Append(log::kOrgEvents,
                         std::vector<log::Record>{{"region:East", t.SerializeAsString()}}, {}));
  ASSERT_OK(org_->CatchUp());
  const v1::ReviewReport r =
      Review(v1::GRANULARITY_MONTH, At(2024, 3, 1), v1::DIMENSION_REGION, "East");
  EXPECT_EQ(M(r, "target").value().money().units(), 100'000);
  EXPECT_EQ(M(r, "attainment").value().ratio().numerator(), 3);
  EXPECT_EQ(M(r, "attainment").value().ratio().denominator(), 5);
  bool below = false;
  for (const auto& fd : r.findings()) below |= fd.rule_id() == "attainment_below";
  EXPECT_TRUE(below);
}

TEST_F(ReviewProjectionTest, WorklistListsOverdueCustomersOfTheOwner) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c3", At(2024, 1, 2), "East", "owner-b");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 1'000);  // IRON cadence: 180 days
  ev.Contract("c2", At(2024, 11, 1), "rep-x", 1'000);
  ev.Contract("c3", At(2024, 1, 10), "rep-x", 1'000);
  Append(ev.Take());
  v1::WorklistRequest req;
  req.set_owner_id("owner-a");
  const v1::WorklistResponse w = queries_->Worklist(req, At(2024, 12, 31)).value();
  std::set<std::string> overdue;
  for (const auto& item : w.items()) {
    if (item.reason() == "CONTACT_OVERDUE") overdue.insert(item.customer_id());
  }
  EXPECT_EQ(overdue, std::set<std::string>{"c1"});
  // The overdue contact is also a derived change for c1 (and c3).
  std::set<std::string> emitted;
  for (const auto& c : Changes()) {
    if (c.has_contact_overdue()) emitted.insert(c.customer_id());
  }
  EXPECT_EQ(emitted, (std::set<std::string>{"c1", "c3"}));
  req.set_owner_id("");
  EXPECT_THAT(
      queries_->Worklist(req, At(2024, 12, 31)),
      StatusIs(absl::StatusCode::kInvalidArgument, "owner_id, region: exactly one is required"));
}

// docs/lifecycle.md "Stages": a customer with no active contract and no activity
// for 365 days is LOST, with or without CustomerChurned; the review counts it
// when the lifecycle rules say so, and a purchase after it is a win-back.
TEST_F(ReviewProjectionTest, SilenceMakesACustomerLostAsTheLifecycleSays) {
  Events ev;
  ev.Register("c1", At(2023, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2023, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2023, 1, 10), "rep-x", 1'000);  // ends 2024-01-10 (no renewal)
  ev.Contract("c2", At(2023, 1, 10), "rep-x", 1'000);
  ev.Visit("c2", At(2023, 12, 1), "rep-x");
  clock_.Set(At(2023, 12, 31));
  Append(ev.Take());
  // Nothing lost before the silence has run out (now = 2023-12-31).
  const v1::ReviewReport jan_early =
      Review(v1::GRANULARITY_MONTH, At(2024, 1, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(jan_early, "lost_customers").value().count(), 0);

  // The ticker reaches 2024-02-01: c1 went silent at the contract's end,
  // 2024-01-10 12:00 (365 days after its purchase); c2 visited in December.
  clock_.Set(At(2024, 2, 1));
  ASSERT_OK(runtime_->CatchUp());
  const v1::ReviewReport jan = Review(v1::GRANULARITY_MONTH, At(2024, 1, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(jan, "lost_customers").value().count(), 1);
  EXPECT_EQ(M(jan, "churn_rate").value().ratio().numerator(), 1);
  EXPECT_EQ(M(jan, "churn_rate").value().ratio().denominator(), 2);
  const v1::ReviewReport feb = Review(v1::GRANULARITY_MONTH, At(2024, 2, 1), v1::DIMENSION_ALL, "");
  // One customer left at February's start: the coverage base is c2 only.
  EXPECT_EQ(M(feb, "churn_rate").value().ratio().numerator(), 0);
  bool churn_finding = false;
  for (const auto& f : jan.findings()) {
    if (f.rule_id() != "churn_up") continue;
    churn_finding = true;  // 0 -> 1/2 is a zero base: no relative move
  }
  EXPECT_FALSE(churn_finding);
  const v1::ReviewReport by_owner =
      Review(v1::GRANULARITY_MONTH, At(2024, 1, 1), v1::DIMENSION_OWNER, "owner-a");
  EXPECT_EQ(M(by_owner, "lost_customers").value().count(), 1);

  // A purchase after the loss wins the customer back (and it counts in the
  // CUSTOMER stage again from then on).
  ev.Contract("c1", At(2024, 6, 5), "rep-x", 2'000);
  clock_.Set(At(2024, 7, 1));
  Append(ev.Take());
  const v1::ReviewReport june =
      Review(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(june, "win_backs").value().count(), 1);
  EXPECT_EQ(M(june, "lost_customers").value().count(), 0);
  // A late visit of c1 on 2024-01-05 (before the silence ran out) means it
  // was never lost: the January loss and the June win-back are undone.
  ev.Visit("c1", At(2024, 1, 5), "rep-x");
  Append(ev.Take());
  const v1::ReviewReport jan2 =
      Review(v1::GRANULARITY_MONTH, At(2024, 1, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(jan2, "lost_customers").value().count(), 0);
  const v1::ReviewReport june2 =
      Review(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "");
  EXPECT_EQ(M(june2, "win_backs").value().count(), 0);
  // c2's silence (last activity: the visit of 2023-12-01) runs out on
  // 2024-11-30 noon: counted once the clock has passed it.
  auto lost_in_november = [&] {
    return M(Review(v1::GRANULARITY_MONTH, At(2024, 11, 1), v1::DIMENSION_ALL, ""),
             "lost_customers")
        .value()
        .count();
  };
  EXPECT_EQ(lost_in_november(), 0);  // now = 2024-07-01
  clock_.Set(At(2024, 12, 15));
  ASSERT_OK(runtime_->CatchUp());
  EXPECT_EQ(lost_in_november(), 1);
}

// Negative assets (value rules: margin - cost to serve over the window < 0)
// at each period's end, and the negative_assets_up finding with its
// configured threshold.
TEST_F(ReviewProjectionTest, NegativeAssetsAtThePeriodEndAndTheirFinding) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 10'000);  // margin 5,000
  ev.Contract("c2", At(2024, 1, 10), "rep-x", 10'000);
  // One visit costs 20,000 (value's default): c1 is a negative asset from
  // 2024-02-10 until the visit leaves the 365-day window (2025-02-09 12:00).
  ev.Visit("c1", At(2024, 2, 10), "rep-x");
  clock_.Set(At(2025, 3, 1));
  Append(ev.Take());
  auto negative = [&](int y, int m) {
    return M(Review(v1::GRANULARITY_MONTH, At(y, m, 1), v1::DIMENSION_ALL, ""), "negative_assets")
        .value();
  };
  ASSERT_EQ(negative(2024, 1).kind_case(), v1::MetricValue::kCount);  // not null any more
  EXPECT_EQ(negative(2024, 1).count(), 0);
  EXPECT_EQ(negative(2024, 2).count(), 1);
  EXPECT_EQ(negative(2025, 1).count(), 1);  // the margin left on 2025-01-09, the cost not yet
  EXPECT_EQ(negative(2025, 2).count(), 0);
  const v1::ReviewReport feb =
      Review(v1::GRANULARITY_MONTH, At(2024, 2, 1), v1::DIMENSION_REGION, "East");
  EXPECT_EQ(M(feb, "negative_assets").value().count(), 1);
  auto has = [](const v1::ReviewReport& r, const std::string& id) {
    for (const auto& f : r.findings()) {
      if (f.rule_id() == id) return true;
    }
    return false;
  };
  EXPECT_TRUE(has(feb, "negative_assets_up"));  // 0 -> 1, default: more than previous

  // The threshold is configuration: "up by more than 1" does not fire on +1.
  ReviewRules strict = rules_;
  for (auto& rule : strict.findings.rules) {
    if (rule.id == "negative_assets_up") rule.threshold = domain::Ratio::Integer(1);
  }
  ReviewQueries other(runtime_->store(), 4, strict, org_.get(), "CNY");
  v1::GetReviewRequest req;
  req.set_granularity(v1::GRANULARITY_MONTH);
  *req.mutable_period_start() = event::ToProto(At(2024, 2, 1));
  req.set_dimension(v1::DIMENSION_REGION);
  req.set_dimension_value("East");
  const v1::ReviewReport strict_feb = other.GetReview(req).value();
  EXPECT_EQ(M(strict_feb, "negative_assets").value().count(), 1);
  EXPECT_FALSE(has(strict_feb, "negative_assets_up"));
}

// Overdue receivables (docs/review.md "Derived timelines") at each period's end:
// outstanding amounts of contracts past their payment due.
TEST_F(ReviewProjectionTest, OverdueReceivablesAtThePeriodEnd) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  auto* k = ev.Add("c1", At(2024, 1, 10), "rep-x").mutable_contract_signed();
  k->set_contract_id("k1");
  *k->mutable_amount() = Cny(10'000);
  *k->mutable_cost() = Cny(1'000);
  *k->mutable_start() = event::ToProto(At(2024, 1, 10));
  *k->mutable_end() = event::ToProto(At(2025, 1, 10));
  *k->mutable_payment_due() = event::ToProto(At(2024, 2, 15));
  auto pay = [&](absl::Time at, int64_t units) {
    auto* p = ev.Add("c1", at, "rep-x").mutable_payment_received();
    p->set_contract_id("k1");
    p->set_payment_id(absl::StrCat("p", units));
    *p->mutable_amount() = Cny(units);
  };
  pay(At(2024, 2, 1), 4'000);   // before the due date
  pay(At(2024, 4, 20), 6'000);  // the rest, late
  clock_.Set(At(2024, 6, 1));
  Append(ev.Take());
  auto overdue = [&](int y, int m) {
    return M(Review(v1::GRANULARITY_MONTH, At(y, m, 1), v1::DIMENSION_ALL, ""),
             "overdue_receivables")
        .value();
  };
  ASSERT_EQ(overdue(2024, 1).kind_case(), v1::MetricValue::kMoney);
  EXPECT_EQ(overdue(2024, 1).money().units(), 0);
  EXPECT_EQ(overdue(2024, 2).money().units(), 6'000);
  EXPECT_EQ(overdue(2024, 3).money().units(), 6'000);
  EXPECT_EQ(overdue(2024, 4).money().units(), 0);
  // The worklist's "collect payment" agrees in March.
  v1::WorklistRequest req;
  req.set_owner_id("owner-a");
  bool collect = false;
  const v1::WorklistResponse march = queries_->Worklist(req, At(2024, 3, 1)).value();
  for (const auto& item : march.items()) {
    collect |= item.reason() == "PAYMENT_OVERDUE" && item.subject_id() == "k1";
  }
  EXPECT_TRUE(collect);
}

// DIMENSION_TIER: a customer's events in a period count under the tier it had
// at the period's start (value rules over the window margin before it).
TEST_F(ReviewProjectionTest, TierIsTheTierAtThePeriodStart) {
  Events ev;
  for (const char* c : {"c1", "c2", "c3"}) ev.Register(c, At(2023, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 90'000);  // margins 45,000 / 20,000 / 5,000
  ev.Contract("c2", At(2024, 1, 10), "rep-x", 40'000);
  ev.Contract("c3", At(2024, 1, 10), "rep-x", 10'000);
  // In Q2, c3 buys big: it stays IRON for Q2 (its tier at April 1st) and
  // is DIAMOND in Q3.
  ev.Contract("c3", At(2024, 5, 10), "rep-x", 1'000'000);
  ev.Contract("c1", At(2024, 5, 11), "rep-x", 2'000);
  ev.Register("p1", At(2024, 1, 2), "East", "owner-a");
  ev.Open("p1", "o1", At(2024, 2, 1), "rep-x", 400'000'000);  // 5% weighted: 200,000.00
  ev.Visit("p1", At(2024, 5, 1), "rep-x");
  Append(ev.Take());
  auto revenue = [&](int y, int m, const std::string& tier) {
    return M(Review(v1::GRANULARITY_QUARTER, At(y, m, 1), v1::DIMENSION_TIER, tier), "revenue")
        .value()
        .money()
        .units();
  };
  // 3 ranked customers: rank 0 DIAMOND (0 < 1% x 3), rank 1 SILVER, rank 2 IRON.
  EXPECT_EQ(revenue(2024, 4, "DIAMOND"), 2'000);
  EXPECT_EQ(revenue(2024, 4, "IRON"), 1'000'000);
  EXPECT_EQ(revenue(2024, 4, "SILVER"), 0);
  EXPECT_EQ(revenue(2024, 1, "IRON"), 0);  // nobody ranked at January 1st
  const v1::ReviewReport q2_big =
      Review(v1::GRANULARITY_QUARTER, At(2024, 4, 1), v1::DIMENSION_TIER, "BIG");
  EXPECT_EQ(M(q2_big, "visits").value().count(), 1);  // the prospect with a big pipeline
  EXPECT_EQ(M(q2_big, "active_customers").value().count(), 1);
  // Q3: c3 leads on margin now.
  ev.Contract("c3", At(2024, 7, 10), "rep-x", 3'000);
  Append(ev.Take());
  EXPECT_EQ(revenue(2024, 7, "DIAMOND"), 3'000);
  // Tiers partition the ranked customers: their revenue adds up to ALL's.
  int64_t sum = 0;
  for (const char* t : {"DIAMOND", "PLATINUM", "GOLD", "SILVER", "IRON", "BIG", "SMALL"}) {
    sum += revenue(2024, 4, t);
  }
  EXPECT_EQ(sum,
            M(Review(v1::GRANULARITY_QUARTER, At(2024, 4, 1), v1::DIMENSION_ALL, ""), "revenue")
                .value()
                .money()
                .units());
  v1::GetReviewRequest bad;
  bad.set_granularity(v1::GRANULARITY_MONTH);
  bad.set_dimension(v1::DIMENSION_TIER);
  bad.set_dimension_value("GOLDEN");
  EXPECT_THAT(
      queries_->GetReview(bad),
      StatusIs(absl::StatusCode::kInvalidArgument,
               "dimension_value: a tier, one of DIAMOND, PLATINUM, GOLD, SILVER, IRON, BIG, "
               "SMALL"));
  // The funnel by tier lists every tier.
  v1::FunnelRequest fr;
  fr.mutable_period()->set_granularity(v1::GRANULARITY_QUARTER);
  *fr.mutable_period()->mutable_start() = event::ToProto(At(2024, 4, 1));
  fr.set_dimension(v1::DIMENSION_TIER);
  const v1::FunnelResponse funnel = queries_->Funnel(fr).value();
  ASSERT_EQ(funnel.slices_size(), 7);
  for (const auto& sl : funnel.slices()) {
    EXPECT_EQ(sl.open_opportunities(), sl.dimension_value() == "BIG" ? 1 : 0)
        << sl.dimension_value();
  }
}

// The worklist: turned DECLINING (lifecycle's verdict, recent), repurchase
// due, contract ending, payment overdue, birthday and complaint SLA items.
TEST_F(ReviewProjectionTest, WorklistHasEveryReason) {
  Events ev;
  ev.Register("c1", At(2023, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2023, 1, 1), "rep-x", 1'000);
  ev.Contract("c1", At(2023, 2, 1), "rep-x", 1'000);  // ends 2024-02-01
  auto* contact = ev.Add("c1", At(2023, 1, 2)).mutable_contact_added();
  contact->set_contact_id("ct1");
  contact->set_name("Wang");
  contact->mutable_birthday()->set_year(1980);
  contact->mutable_birthday()->set_month(12);
  contact->mutable_birthday()->set_day(20);
  auto* f = ev.Add("c1", At(2023, 12, 13)).mutable_complaint_filed();  // response due 12-16
  f->set_complaint_id("cp1");
  f->set_severity(v1::SEVERITY_LOW);
  f->set_category(v1::COMPLAINT_CATEGORY_SERVICE);
  Append(ev.Take());
  v1::WorklistRequest req;
  req.set_owner_id("owner-a");
  auto reasons = [&](absl::Time as_of) {
    std::set<std::string> out;
    const v1::WorklistResponse w = queries_->Worklist(req, as_of).value();
    for (const auto& item : w.items()) {
      out.insert(item.reason());
    }
    return out;
  };
  // No purchase for 180 days (2 x 31-day median gap is less) from
  // 2023-02-01: DECLINING from 2023-07-31 noon.
  const std::set<std::string> aug = reasons(At(2023, 8, 10));
  EXPECT_TRUE(aug.contains("TURNED_DECLINING"));
  EXPECT_TRUE(aug.contains("REPURCHASE_DUE"));
  EXPECT_TRUE(aug.contains("PAYMENT_OVERDUE"));
  EXPECT_FALSE(aug.contains("BIRTHDAY"));
  // December: the turn is old news, the rest is due.
  const std::set<std::string> dec = reasons(At(2023, 12, 16));
  EXPECT_FALSE(dec.contains("TURNED_DECLINING"));
  EXPECT_TRUE(dec.contains("CONTRACT_ENDING"));  // 2024-01-01 and 2024-02-01, within 60 days
  EXPECT_TRUE(dec.contains("BIRTHDAY"));
  EXPECT_TRUE(dec.contains("CONTACT_OVERDUE"));
  EXPECT_TRUE(dec.contains("COMPLAINT_SLA"));
  EXPECT_TRUE(dec.contains("PAYMENT_OVERDUE"));
}

// Byte-identical answers whatever the batch boundaries: one event per batch
// (with the clock moving) and the whole log replayed in one batch.
TEST_F(ReviewProjectionTest, AnswersDoNotDependOnBatchBoundaries) {
  Events ev;
  ev.Register("c1", At(2023, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2023, 1, 2), "West", "owner-b");
  ev.Register("c3", At(2023, 1, 2), "West", "owner-b");
  ev.Contract("c1", At(2023, 1, 10), "rep-x", 50'000);
  ev.Contract("c2", At(2023, 2, 10), "rep-y", 20'000);
  ev.Contract("c3", At(2023, 3, 10), "rep-y", 5'000);
  ev.Visit("c2", At(2023, 3, 1), "rep-y");
  ev.Visit("c3", At(2023, 4, 1), "rep-y");
  ev.Open("c3", "o1", At(2023, 5, 1), "rep-y", 100'000);
  ev.Contract("c2", At(2024, 3, 10), "rep-y", 30'000);
  ev.Add("c1", At(2024, 2, 1)).mutable_customer_churned()->set_reason("gone");
  ev.Contract("c1", At(2024, 8, 1), "rep-x", 10'000);
  ev.Visit("c3", At(2023, 6, 1), "rep-y");
  // Late: an owner change in the past and a purchase before c1's loss.
  ev.Add("c2", At(2023, 6, 15)).mutable_customer_profile_updated()->set_owner_id("owner-c");
  ev.Contract("c1", At(2024, 1, 20), "rep-x", 4'000);
  ev.Visit("c2", At(2025, 2, 1), "rep-y");
  const std::vector<v1::Event> all = ev.Take();
  absl::Time now = At(2023, 1, 1);
  for (const v1::Event& e : all) {
    now = std::max(now, event::FromProto(e.occurred_at()));
    clock_.Set(now);
    Append({e});
  }
  clock_.Set(At(2025, 6, 1));
  ASSERT_OK(runtime_->CatchUp());
  ASSERT_OK(runtime_->CatchUp());

  auto reports = [&](const ReviewQueries& q) {
    std::vector<std::string> out;
    for (int y : {2023, 2024, 2025}) {
      for (int m = 1; m <= 12; m += 1) {
        for (auto [dim, value] :
             std::vector<std::pair<v1::Dimension, std::string>>{{v1::DIMENSION_ALL, ""},
                                                                {v1::DIMENSION_OWNER, "owner-b"},
                                                                {v1::DIMENSION_TIER, "DIAMOND"},
                                                                {v1::DIMENSION_TIER, "IRON"}}) {
          v1::GetReviewRequest req;
          req.set_granularity(v1::GRANULARITY_MONTH);
          *req.mutable_period_start() = event::ToProto(At(y, m, 1));
          req.set_dimension(dim);
          req.set_dimension_value(value);
          out.push_back(q.GetReview(req).value().SerializeAsString());
        }
      }
    }
    return out;
  };
  const std::vector<std::string> incremental = reports(*queries_);

  // Replay everything in one batch into a second projection.
  auto rt =
      projection::ProjectionRuntime::Open(*log_, std::make_unique<ReviewProjection>(rules_),
                                          {.path = (dir_ / "review2").string(), .clock = &clock_});
  ASSERT_OK(rt);
  ASSERT_OK((*rt)->CatchUp());
  ASSERT_OK((*rt)->CatchUp());
  ReviewQueries replayed((*rt)->store(), 4, rules_, org_.get(), "CNY");
  const std::vector<std::string> once = reports(replayed);
  ASSERT_EQ(incremental.size(), once.size());
  for (size_t i = 0; i < once.size(); ++i) EXPECT_EQ(incremental[i], once[i]) << i;
  // And something was counted (the comparison is not between empty reports):
  // February 2024, ALL has c1's explicit loss and c2's silence (last activity
  // 2023-03-01, contract ended 2024-02-10: LOST on 2024-02-29), won back in
  // March.
  v1::ReviewReport feb, march;
  ASSERT_TRUE(feb.ParseFromString(once[(12 + 1) * 4]));
  ASSERT_TRUE(march.ParseFromString(once[(12 + 2) * 4]));
  EXPECT_EQ(feb.period_key(), "2024-02");
  EXPECT_EQ(M(feb, "lost_customers").value().count(), 2);
  EXPECT_EQ(M(march, "win_backs").value().count(), 1);
}

// A customer's tier slices are kept per day and rolled up into the asked
// period at query time (docs/review.md "Tier"). With one customer, the tier
// holding it reports what ALL reports, at every granularity: distinct
// counters once per period (active on several days of it), coverage only
// for a visit while the customer was in the base at that period's start,
// and the findings' subjects from its days.
TEST_F(ReviewProjectionTest, ATierRollsUpItsMembersDays) {
  Events ev;
  ev.Register("c1", At(2023, 11, 1), "East", "owner-a");
  ev.Visit("c1", At(2023, 12, 10), "rep-x");             // not in the coverage base yet
  ev.Contract("c1", At(2023, 12, 20), "rep-x", 10'000);  // CUSTOMER from here on
  ev.Visit("c1", At(2023, 12, 22), "rep-x");  // covered for its day, not its week (from 12-18)
  ev.Contract("c1", At(2023, 12, 27), "rep-x", 2'000);  // a repeat purchase
  ev.Visit("c1", At(2024, 1, 3), "rep-x");
  ev.Visit("c1", At(2024, 1, 4), "rep-x");
  ev.Contract("c1", At(2024, 1, 5), "rep-x", 3'000);
  ev.File("c1", "cp1", At(2024, 1, 8), v1::SEVERITY_HIGH, v1::COMPLAINT_CATEGORY_SERVICE);
  ev.Churn("c1", At(2024, 2, 10));
  ev.Visit("c1", At(2024, 2, 15), "rep-x");  // covered for February, not for its day (LOST)
  Append(ev.Take());
  auto values = [](const v1::ReviewReport& r) {
    std::string out;
    for (const v1::Metric& m : r.metrics()) {
      absl::StrAppend(&out, m.name(), "=", m.value().ShortDebugString(), "; ");
    }
    return out;
  };
  auto subjects = [](const v1::ReviewReport& r) {
    std::string out;
    for (const v1::Finding& f : r.findings()) {
      for (const std::string& id : f.customer_ids())
        absl::StrAppend(&out, f.rule_id(), ":", id, " ");
    }
    return out;
  };
  int compared = 0;
  for (v1::Granularity g : {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH,
                            v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
    for (absl::Time day : {At(2023, 12, 10), At(2023, 12, 20), At(2023, 12, 22), At(2023, 12, 27),
                           At(2024, 1, 3), At(2024, 1, 5), At(2024, 1, 8), At(2024, 2, 15)}) {
      const v1::ReviewReport all = Review(g, day, v1::DIMENSION_ALL, "");
      std::vector<std::string> holding;  // the tiers whose values are ALL's
      for (const char* t : {"DIAMOND", "PLATINUM", "GOLD", "SILVER", "IRON", "BIG", "SMALL"}) {
        const v1::ReviewReport tier = Review(g, day, v1::DIMENSION_TIER, t);
        if (values(tier) == values(all)) {
          holding.push_back(t);
          EXPECT_EQ(subjects(tier), subjects(all)) << all.period_key() << " " << t;
        }
      }
      EXPECT_EQ(holding.size(), 1u) << all.period_key() << ": " << values(all);
      ++compared;
    }
  }
  EXPECT_EQ(compared, 40);
  // The figures themselves, in the tier holding c1 (DIAMOND from its first
  // purchase on: the only ranked customer).
  const v1::ReviewReport jan =
      Review(v1::GRANULARITY_MONTH, At(2024, 1, 1), v1::DIMENSION_TIER, "DIAMOND");
  EXPECT_EQ(M(jan, "active_customers").value().count(), 1);  // active on four days
  EXPECT_EQ(M(jan, "visits").value().count(), 2);
  EXPECT_EQ(M(jan, "repeat_purchase_rate").value().ratio().numerator(), 1);
  EXPECT_EQ(M(jan, "contact_coverage").value().ratio().numerator(), 1);
  EXPECT_EQ(M(jan, "sla_breaches").value().count(), 2);  // first response and resolution
  EXPECT_THAT(subjects(jan), ::testing::HasSubstr(":c1"));
  const v1::ReviewReport feb =
      Review(v1::GRANULARITY_MONTH, At(2024, 2, 1), v1::DIMENSION_TIER, "DIAMOND");
  EXPECT_EQ(M(feb, "contact_coverage").value().ratio().numerator(), 1);
  EXPECT_EQ(M(feb, "contact_coverage").value().ratio().denominator(), 1);
  const v1::ReviewReport feb_15 =
      Review(v1::GRANULARITY_DAY, At(2024, 2, 15), v1::DIMENSION_TIER, "DIAMOND");
  EXPECT_EQ(M(feb_15, "visits").value().count(), 1);
  EXPECT_FALSE(M(feb_15, "contact_coverage").value().has_ratio());  // LOST at its start
  const v1::ReviewReport dec_day =
      Review(v1::GRANULARITY_DAY, At(2023, 12, 22), v1::DIMENSION_TIER, "DIAMOND");
  EXPECT_EQ(M(dec_day, "contact_coverage").value().ratio().numerator(), 1);
  const v1::ReviewReport dec_week =
      Review(v1::GRANULARITY_WEEK, At(2023, 12, 22), v1::DIMENSION_TIER, "SMALL");
  EXPECT_EQ(M(dec_week, "visits").value().count(), 1);
  EXPECT_FALSE(M(dec_week, "contact_coverage").value().has_ratio());  // no base at 12-18
}

// review.tier_dimension = false: no per-customer slices, tier queries refused.
TEST_F(ReviewProjectionTest, TierDimensionCanBeTurnedOff) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 10'000);
  Append(ev.Take());
  auto count_customer_slices = [](const store::Store& store) {
    int n = 0;
    auto it = store.NewIterator(store.Family("rv_slice"));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      std::string_view rest = it->key();
      rest.remove_prefix(4);  // partition: a customer's day slice follows it
      n += store::ReadU32(rest) == static_cast<uint32_t>(kDimensionCustomer) ? 1 : 0;
    }
    return n;
  };
  EXPECT_EQ(count_customer_slices(runtime_->store()), 1);  // the contract's day
  ReviewRules off = rules_;
  off.tier_dimension = false;
  auto rt =
      projection::ProjectionRuntime::Open(*log_, std::make_unique<ReviewProjection>(off),
                                          {.path = (dir_ / "off").string(), .clock = &clock_});
  ASSERT_OK(rt);
  ASSERT_OK((*rt)->CatchUp());
  EXPECT_EQ(count_customer_slices((*rt)->store()), 0);
  ReviewQueries queries((*rt)->store(), 4, off, nullptr, "CNY");
  v1::GetReviewRequest req;
  req.set_granularity(v1::GRANULARITY_MONTH);
  *req.mutable_period_start() = event::ToProto(At(2024, 1, 1));
  req.set_dimension(v1::DIMENSION_TIER);
  req.set_dimension_value("IRON");
  EXPECT_THAT(queries.GetReview(req),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "dimension: tier is off (review.tier_dimension = false)"));
  req.set_dimension(v1::DIMENSION_ALL);
  req.clear_dimension_value();
  EXPECT_EQ(M(queries.GetReview(req).value(), "revenue").value().money().units(), 10'000);
}

// State of an earlier layout (until its rebuild swaps in): tier answers are
// UNAVAILABLE, every other answer as before.
TEST_F(ReviewProjectionTest, AnOutdatedStateRefusesOnlyTierAnswers) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 10'000);
  Append(ev.Take());
  queries_->set_state_outdated(true);
  const std::string why =
      "dimension: tier answers wait for the rebuild of the review state into this version's "
      "layout (Admin.Status shows its progress)";
  v1::GetReviewRequest req;
  req.set_granularity(v1::GRANULARITY_MONTH);
  *req.mutable_period_start() = event::ToProto(At(2024, 1, 1));
  req.set_dimension(v1::DIMENSION_TIER);
  req.set_dimension_value("DIAMOND");
  EXPECT_THAT(queries_->GetReview(req), StatusIs(absl::StatusCode::kUnavailable, why));
  v1::FunnelRequest fr;
  fr.mutable_period()->set_granularity(v1::GRANULARITY_MONTH);
  *fr.mutable_period()->mutable_start() = event::ToProto(At(2024, 1, 1));
  fr.set_dimension(v1::DIMENSION_TIER);
  EXPECT_THAT(queries_->Funnel(fr), StatusIs(absl::StatusCode::kUnavailable, why));
  req.set_dimension(v1::DIMENSION_OWNER);
  req.set_dimension_value("rep-x");
  EXPECT_EQ(M(queries_->GetReview(req).value(), "revenue").value().money().units(), 10'000);
  queries_->set_state_outdated(false);
  req.set_dimension(v1::DIMENSION_TIER);
  req.set_dimension_value("SMALL");  // nobody ranked at January 1st
  EXPECT_EQ(M(queries_->GetReview(req).value(), "revenue").value().money().units(), 10'000);
}

// The worklist holds a customer to its tier's cadence at as_of: of two ranked
// customers, c1 is first (DIAMOND: 14 days) and c2 second (100 x 1 < 50 x 2
// fails: IRON, 180 days).
TEST_F(ReviewProjectionTest, WorklistCadenceFollowsTheTierAtAsOf) {
  Events ev;
  ev.Register("c1", At(2024, 1, 2), "East", "owner-a");
  ev.Register("c2", At(2024, 1, 2), "East", "owner-a");
  ev.Contract("c1", At(2024, 1, 10), "rep-x", 90'000);
  ev.Contract("c2", At(2024, 1, 10), "rep-x", 10'000);
  ev.Visit("c1", At(2024, 3, 1), "rep-x");
  ev.Visit("c2", At(2024, 3, 1), "rep-x");
  Append(ev.Take());
  v1::WorklistRequest req;
  req.set_owner_id("owner-a");
  auto overdue = [&](absl::Time as_of) {
    std::set<std::string> out;
    const v1::WorklistResponse w = queries_->Worklist(req, as_of).value();
    for (const auto& item : w.items()) {
      if (item.reason() == "CONTACT_OVERDUE") out.insert(item.customer_id());
    }
    return out;
  };
  EXPECT_EQ(overdue(At(2024, 3, 15)), std::set<std::string>{});  // exactly 14 days: on time
  EXPECT_EQ(overdue(At(2024, 3, 16)), std::set<std::string>{"c1"});
  EXPECT_EQ(overdue(At(2024, 8, 28)), std::set<std::string>{"c1"});  // 180 days: on time
  EXPECT_EQ(overdue(At(2024, 8, 29)), (std::set<std::string>{"c1", "c2"}));
}
}  // namespace
}  // namespace custops::review

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
#include "custops/v1/changes.pb.h"
#include "gtest/gtest.h"

namespace custops::review {
namespace {

absl::TimeZone Shanghai() { return domain::LoadReportingZone("Asia/Shanghai").value(); }
// Noon in Shanghai on a civil day.
absl::Time At(int y, int m, int d, int hour = 12) {
  return absl::FromCivil(absl::CivilSecond(y, m, d, hour, 0, 0), Shanghai());
}
absl::Duration Days(int n) { return absl::Hours(24 * n); }

v1::Money Cny(int64_t units) {
  v1::Money m;
  m.set_units(units);
  m.set_currency("CNY");
  return m;
}

class Events {
 public:
  v1::Event& Add(const std::string& customer, absl::Time at, const std::string& actor = "") {
    v1::Event& e = events_.emplace_back();
    e.set_event_id(absl::StrCat("e", next_++));
    e.set_customer_id(customer);
    *e.mutable_occurred_at() = event::ToProto(at);
    e.set_actor_id(actor);
    return e;
  }
  void Register(const std::string& c, absl::Time at, const std::string& region,
                const std::string& owner) {
    auto* r = Add(c, at).mutable_customer_registered();
    r->set_name("Customer " + c);
    r->set_kind(v1::CUSTOMER_KIND_CUSTOMER);
    r->set_region(region);
    r->set_industry("manufacturing");
    r->set_owner_id(owner);
  }
  void Open(const std::string& c, const std::string& opp, absl::Time at, const std::string& rep,
            int64_t amount) {
    auto* o = Add(c, at, rep).mutable_opportunity_opened();
    o->set_opportunity_id(opp);
    *o->mutable_amount() = Cny(amount);
    o->set_product("GTX");
  }
  void Stage(const std::string& c, const std::string& opp, absl::Time at, const std::string& rep,
             v1::FunnelStage stage, const std::string& competitor = "") {
    auto* s = Add(c, at, rep).mutable_opportunity_stage_changed();
    s->set_opportunity_id(opp);
    s->set_stage(stage);
    s->set_competitor(competitor);
  }
  void Contract(const std::string& c, absl::Time at, const std::string& rep, int64_t units) {
    auto* k = Add(c, at, rep).mutable_contract_signed();
    k->set_contract_id(absl::StrCat("k", next_));
    *k->mutable_amount() = Cny(units);
    *k->mutable_cost() = Cny(units / 2);
    *k->mutable_start() = event::ToProto(at);
    *k->mutable_end() = event::ToProto(at + Days(365));
    k->set_product("GTX");
  }
  std::vector<v1::Event> Take() { return std::exchange(events_, {}); }

 private:
  int next_ = 0;
  std::vector<v1::Event> events_;
};

class ReviewProjectionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("rv_test_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
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
  void Append(const std::vector<v1::Event>& events) {
    std::vector<log::Record> records;
    for (const auto& e : events) records.push_back({e.customer_id(), e.SerializeAsString()});
    ASSERT_TRUE(log_->Append(log::kCustomerEvents, records, {}).ok());
    ASSERT_TRUE(runtime_->CatchUp().ok());
  }
  v1::ReviewReport Review(v1::Granularity g, absl::Time start, v1::Dimension dim,
                          const std::string& value) {
    v1::GetReviewRequest req;
    req.set_granularity(g);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_dimension_value(value);
    auto r = queries_->GetReview(req);
    EXPECT_TRUE(r.ok()) << r.status();
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
  std::vector<v1::StateChange> Changes() {
    std::vector<v1::StateChange> out;
    for (int p = 0; p < 4; ++p) {
      const std::vector<log::LogRecord> records =
          log_->Read(log::kStateChanges, Partition(p), Offset(0), 100000).value();
      for (const auto& r : records) EXPECT_TRUE(out.emplace_back().ParseFromString(r.value));
    }
    return out;
  }

  base::SimulatedClock clock_{At(2024, 12, 31)};
  std::filesystem::path dir_;
  ReviewRules rules_;
  std::unique_ptr<log::EventLog> log_;
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<OrgIndex> org_;
  std::unique_ptr<ReviewQueries> queries_;
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
  EXPECT_FALSE(M(all, "negative_assets").value().has_count());

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
  ASSERT_TRUE(runtime_->CatchUp().ok());
  ASSERT_TRUE(runtime_->CatchUp().ok());
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
  ASSERT_TRUE(log_->Append(log::kOrgEvents,
                           std::vector<log::Record>{{"region:East", t.SerializeAsString()}}, {})
                  .ok());
  ASSERT_TRUE(org_->CatchUp().ok());
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
  EXPECT_EQ(queries_->Worklist(req, At(2024, 12, 31)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace custops::review

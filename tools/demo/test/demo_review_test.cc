// The default demo population and its organisation events through the real
// review — an embedded log fed by EventIngest's Append and AppendOrg in
// batches of 500 as `custopsctl demo` and `append-org` send them, the review
// projection, the org index and the queries, with the clock at the end of
// the history: every metric the review defines has a value in some period x
// dimension slice, every finding rule fires somewhere, the org figures are
// the ones the org events declare, and the review actions show up in their
// reviews beside the findings they answer (docs/demo-data.md).
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/demo/demo.h"
#include "custops/domain/period.h"
#include "custops/domain/review.h"
#include "custops/event/time.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/org_index.h"
#include "custops/review/review_projection.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/review.pb.h"
#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"

namespace custops::demo {
namespace {

// 2025-06-30T16:00:00Z, midnight in Shanghai (as demo_test).
const absl::Time kEnd = absl::FromUnixSeconds(1751299200);
constexpr int kPartitions = 4;

absl::TimeZone Shanghai() { return domain::LoadReportingZone("Asia/Shanghai").value(); }

// Where a metric had a value or a rule fired first, for the messages.
struct Seen {
  std::map<std::string, std::string> metrics;  // name -> slice
  std::map<std::string, std::string> rules;    // rule id -> slice
  int reports = 0;
};

std::string Describe(const v1::ReviewReport& r) {
  return absl::StrCat(r.period_key(), " ", v1::Dimension_Name(r.dimension()), " ",
                      r.dimension_value());
}

// The metric's value in the report (null when the report lacks it).
v1::MetricValue ValueOf(const v1::ReviewReport& r, const std::string& name) {
  for (const v1::Metric& m : r.metrics()) {
    if (m.name() == name) return m.value();
  }
  ADD_FAILURE() << "no metric " << name << " in " << Describe(r);
  return {};
}

bool Fired(const v1::ReviewReport& r, const std::string& rule) {
  for (const v1::Finding& f : r.findings()) {
    if (f.rule_id() == rule) return true;
  }
  return false;
}

MATCHER_P(EqualsProto, expected, expected.ShortDebugString()) {
  *result_listener << arg.ShortDebugString();
  return google::protobuf::util::MessageDifferencer::Equals(arg, expected);
}

bool HasValue(const v1::MetricValue& v) { return v.kind_case() != v1::MetricValue::KIND_NOT_SET; }

v1::MetricValue Money(int64_t fen) {
  v1::MetricValue v;
  v.mutable_money()->set_units(fen);
  v.mutable_money()->set_currency("CNY");
  return v;
}

// numerator / denominator reduced, as the review answers a ratio.
v1::MetricValue Ratio(int64_t numerator, int64_t denominator) {
  const int64_t g = std::gcd(numerator, denominator);
  v1::MetricValue v;
  v.mutable_ratio()->set_numerator(numerator / g);
  v.mutable_ratio()->set_denominator(denominator / g);
  return v;
}

// Revenue and gross margin the population booked in [from, to) under a
// slice, credited as the review credits them (docs/review.md, Slices): the
// customer's region, industry and channel then, the event's actor as owner.
struct Booked {
  int64_t revenue = 0;
  int64_t margin = 0;
};
Booked BookedIn(const std::vector<v1::Event>& events, absl::Time from, absl::Time to,
                v1::Dimension dim, const std::string& value) {
  std::map<std::string, v1::CustomerRegistered> profiles;
  Booked out;
  for (const v1::Event& e : events) {
    if (e.has_customer_registered()) profiles[e.customer_id()] = e.customer_registered();
    const v1::CustomerRegistered& p = profiles[e.customer_id()];
    if (e.has_customer_profile_updated()) {
      // The demo's profile updates change owner, need and budget only.
      EXPECT_FALSE(e.customer_profile_updated().has_region());
      EXPECT_FALSE(e.customer_profile_updated().has_channel());
      EXPECT_FALSE(e.customer_profile_updated().has_industry());
    }
    const absl::Time at = event::FromProto(e.occurred_at());
    if (at < from || at >= to) continue;
    const std::string& of = dim == v1::DIMENSION_REGION     ? p.region()
                            : dim == v1::DIMENSION_INDUSTRY ? p.industry()
                            : dim == v1::DIMENSION_CHANNEL  ? p.channel()
                            : dim == v1::DIMENSION_OWNER    ? e.actor_id()
                                                            : value;
    if (of != value) continue;
    if (e.has_contract_signed()) {
      out.revenue += e.contract_signed().amount().units();
      out.margin += e.contract_signed().amount().units() - e.contract_signed().cost().units();
    } else if (e.has_contract_renewed()) {
      out.revenue += e.contract_renewed().amount().units();
      out.margin += e.contract_renewed().amount().units() - e.contract_renewed().cost().units();
    }
  }
  return out;
}

// The demo loaded once per test process (the replay takes a while; ctest
// runs each test in its own process, hence few tests).
class DemoReviewTest : public ::testing::Test {
 protected:
  struct State {
    State();
    ~State();
    // Reviews every month, quarter and year of the history for every slice
    // and notes where each metric has a value and each rule fires.
    void Survey();

    base::SimulatedClock clock{kEnd};
    std::filesystem::path dir;
    review::ReviewRules rules;
    std::vector<v1::Event> events;
    std::vector<v1::OrgEvent> org_events;
    std::unique_ptr<log::EventLog> log;
    std::unique_ptr<projection::ProjectionRuntime> runtime;
    std::unique_ptr<review::OrgIndex> org;
    std::unique_ptr<review::ReviewQueries> queries;
    absl::Status load_status;
    int64_t appended = 0;
    // Every value of every dimension with data; the tier dimension is left
    // out (its slices regroup the same customers).
    std::vector<std::pair<v1::Dimension, std::string>> slices;
    Seen seen;
  };

  static void SetUpTestSuite() { state_ = new State(); }
  static void TearDownTestSuite() {
    delete state_;
    state_ = nullptr;
  }
  static State& state() { return *state_; }

  static v1::ReviewReport Review(v1::Granularity g, absl::Time start, v1::Dimension dim,
                                 const std::string& value) {
    v1::GetReviewRequest req;
    req.set_granularity(g);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_dimension_value(value);
    absl::StatusOr<v1::ReviewReport> r = state_->queries->GetReview(req);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : v1::ReviewReport();
  }

 private:
  static State* state_;
};

DemoReviewTest::State* DemoReviewTest::state_ = nullptr;

DemoReviewTest::State::State() {
  dir = std::filesystem::temp_directory_path() / absl::StrCat("demo_review_test_", ::getpid());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  rules.zone = Shanghai();
  const DemoOptions options{.end = kEnd};
  events = GenerateDemo(options);
  org_events = GenerateDemoOrg(options, events, rules.zone);
  // Every dimension value of the population (the tier dimension left out).
  std::set<std::pair<v1::Dimension, std::string>> found = {{v1::DIMENSION_ALL, ""}};
  for (const v1::Event& e : events) {
    if (e.has_customer_registered()) {
      const v1::CustomerRegistered& r = e.customer_registered();
      found.insert({v1::DIMENSION_REGION, r.region()});
      found.insert({v1::DIMENSION_INDUSTRY, r.industry()});
      found.insert({v1::DIMENSION_CHANNEL, r.channel()});
    }
    if (e.has_contract_signed()) {
      found.insert({v1::DIMENSION_PRODUCT, e.contract_signed().product()});
    }
    if (!e.actor_id().empty()) found.insert({v1::DIMENSION_OWNER, e.actor_id()});
  }
  slices.assign(found.begin(), found.end());

  log =
      log::EmbeddedEventLog::Open({.path = (dir / "log").string(), .sync = false, .clock = &clock})
          .value();
  for (auto topic : {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
    CHECK(log->CreateTopic(topic, kPartitions).ok());
  }
  runtime =
      projection::ProjectionRuntime::Open(*log, std::make_unique<review::ReviewProjection>(rules),
                                          {.path = (dir / "review").string(), .clock = &clock})
          .value();
  org = review::OrgIndex::Open(*log, rules.zone).value();
  queries = std::make_unique<review::ReviewQueries>(runtime->store(), kPartitions, rules, org.get(),
                                                    "CNY");

  ingest::Ingestor ingestor(*log, clock, {});
  for (size_t i = 0; i < events.size() && load_status.ok(); i += 500) {
    v1::AppendRequest req;
    for (size_t j = i; j < std::min(events.size(), i + 500); ++j) *req.add_events() = events[j];
    load_status = ingestor.Append(req).status();
  }
  for (size_t i = 0; i < org_events.size() && load_status.ok(); i += 500) {
    v1::AppendOrgRequest req;
    for (size_t j = i; j < std::min(org_events.size(), i + 500); ++j) {
      *req.add_events() = org_events[j];
    }
    load_status = ingestor.AppendOrg(req).status();
  }
  appended = ingestor.counters().appended.load();
  // Applies everything, then ticks at the clock (the end of the history:
  // SLA clocks, silences, snapshots); twice, as the review's own tests do.
  for (int round = 0; round < 2 && load_status.ok(); ++round) {
    load_status = runtime->CatchUp().status();
  }
  if (load_status.ok()) load_status = org->CatchUp();
}

DemoReviewTest::State::~State() {
  queries.reset();
  org.reset();
  runtime.reset();
  if (log) CHECK(log->Close().ok());
  std::filesystem::remove_all(dir);
}

void DemoReviewTest::State::Survey() {
  for (v1::Granularity g : {v1::GRANULARITY_MONTH, v1::GRANULARITY_QUARTER, v1::GRANULARITY_YEAR}) {
    for (domain::ReportingPeriod p = domain::PeriodOf(kEnd - absl::Hours(24 * 548), g, rules.zone);
         domain::PeriodStart(p, rules.zone) < kEnd; p = domain::NextPeriod(p)) {
      for (const auto& [dim, value] : slices) {
        v1::GetReviewRequest req;
        req.set_granularity(g);
        *req.mutable_period_start() = event::ToProto(domain::PeriodStart(p, rules.zone));
        req.set_dimension(dim);
        req.set_dimension_value(value);
        absl::StatusOr<v1::ReviewReport> r = queries->GetReview(req);
        CHECK(r.ok()) << r.status();
        ++seen.reports;
        for (const v1::Metric& m : r->metrics()) {
          if (HasValue(m.value())) seen.metrics.emplace(m.name(), Describe(*r));
        }
        for (const v1::Finding& f : r->findings()) seen.rules.emplace(f.rule_id(), Describe(*r));
      }
    }
  }
}

TEST_F(DemoReviewTest, EveryMetricHasAValueAndEveryFindingRuleFiresSomewhere) {
  ASSERT_TRUE(state().load_status.ok()) << state().load_status;
  EXPECT_EQ(state().appended,
            static_cast<int64_t>(state().events.size() + state().org_events.size()));
  EXPECT_EQ(state().runtime->Stats().dead_letters, 0);
  state().Survey();
  const Seen& seen = state().seen;
  // 1 + 7 regions + 14 industries + 40 reps + 12 channels + 6 products,
  // each for 19 months, 7 quarters and 3 years (2023-12-31 to 2025-06-30).
  EXPECT_EQ(state().slices.size(), 80u);
  EXPECT_EQ(seen.reports, 80 * (19 + 7 + 3));

  // The review's own list of metrics, not one written here.
  for (domain::MetricId id : domain::AllMetrics()) {
    const std::string name(domain::MetricName(id));
    auto it = seen.metrics.find(name);
    EXPECT_NE(it, seen.metrics.end()) << name << " is null in all " << seen.reports << " reports";
    if (it != seen.metrics.end()) std::cout << "metric " << name << ": " << it->second << "\n";
  }
  // The rules the review evaluates: its configured set, the defaults.
  ASSERT_EQ(state().rules.findings.rules.size(), domain::DefaultFindingRules().size());
  for (const domain::FindingRule& rule : state().rules.findings.rules) {
    auto it = seen.rules.find(rule.id);
    EXPECT_NE(it, seen.rules.end())
        << rule.id << " fires in none of " << seen.reports << " reports";
    if (it != seen.rules.end()) std::cout << "rule " << rule.id << ": " << it->second << "\n";
  }
}

// The last TargetSet for a slice's period, as the org index keeps it.
std::optional<int64_t> TargetOf(const std::vector<v1::OrgEvent>& org, v1::Granularity g,
                                absl::Time start, v1::Dimension dim, const std::string& value) {
  const absl::TimeZone zone = Shanghai();
  std::optional<int64_t> out;
  for (const v1::OrgEvent& e : org) {
    if (!e.has_target_set()) continue;
    const v1::TargetSet& t = e.target_set();
    if (t.period().granularity() == g && t.dimension() == dim && t.dimension_value() == value &&
        domain::PeriodOf(event::FromProto(t.period().start()), g, zone) ==
            domain::PeriodOf(start, g, zone)) {
      out = t.value().money().units();
    }
  }
  return out;
}

// Spend recorded in [from, to) for a slice (ALL: every record).
int64_t SpendOf(const std::vector<v1::OrgEvent>& org, absl::Time from, absl::Time to,
                v1::Dimension dim, const std::string& value) {
  int64_t sum = 0;
  for (const v1::OrgEvent& e : org) {
    if (!e.has_marketing_spend_recorded()) continue;
    const v1::MarketingSpendRecorded& m = e.marketing_spend_recorded();
    const absl::Time day = absl::FromCivil(
        absl::CivilDay(m.date().year(), m.date().month(), m.date().day()), Shanghai());
    if (day < from || day >= to) continue;
    if (dim == v1::DIMENSION_ALL || (m.dimension() == dim && m.dimension_value() == value)) {
      sum += m.amount().units();
    }
  }
  return sum;
}

// The 2024 market size declared for a region, an industry or (ALL) the
// whole market.
std::optional<int64_t> MarketSize2024(const std::vector<v1::OrgEvent>& org, v1::Dimension dim,
                                      const std::string& value) {
  std::optional<int64_t> out;
  for (const v1::OrgEvent& e : org) {
    if (!e.has_market_size_declared()) continue;
    const v1::MarketSizeDeclared& m = e.market_size_declared();
    const std::string region = dim == v1::DIMENSION_REGION ? value : "";
    const std::string industry = dim == v1::DIMENSION_INDUSTRY ? value : "";
    if (m.period().granularity() == v1::GRANULARITY_YEAR && m.region() == region &&
        m.industry() == industry &&
        domain::PeriodOf(event::FromProto(m.period().start()), v1::GRANULARITY_YEAR, Shanghai())
                .Key() == "2024") {
      out = m.amount().units();
    }
  }
  return out;
}

TEST_F(DemoReviewTest, TheReviewShowsTheOrgFiguresAndActions) {
  ASSERT_TRUE(state().load_status.ok()) << state().load_status;
  const absl::TimeZone zone = Shanghai();
  const std::vector<v1::OrgEvent>& org = state().org_events;
  const std::vector<v1::Event>& events = state().events;
  auto month = [&](int y, int m) { return absl::FromCivil(absl::CivilMonth(y, m), zone); };

  // 华东, March 2025: target, attainment = revenue / target, the region's
  // trade-show and industry-event spend and its return on the margin.
  {
    const v1::ReviewReport r =
        Review(v1::GRANULARITY_MONTH, month(2025, 3), v1::DIMENSION_REGION, "华东");
    const std::optional<int64_t> target =
        TargetOf(org, v1::GRANULARITY_MONTH, month(2025, 3), v1::DIMENSION_REGION, "华东");
    ASSERT_TRUE(target.has_value());
    const Booked booked =
        BookedIn(events, month(2025, 3), month(2025, 4), v1::DIMENSION_REGION, "华东");
    EXPECT_THAT(ValueOf(r, "revenue"), EqualsProto(Money(booked.revenue)));
    EXPECT_THAT(ValueOf(r, "target"), EqualsProto(Money(*target)));
    EXPECT_THAT(ValueOf(r, "attainment"), EqualsProto(Ratio(booked.revenue, *target)));
    const int64_t spend =
        SpendOf(org, month(2025, 3), month(2025, 4), v1::DIMENSION_REGION, "华东");
    ASSERT_GT(spend, 0);
    EXPECT_THAT(ValueOf(r, "marketing_spend"), EqualsProto(Money(spend)));
    EXPECT_THAT(ValueOf(r, "marketing_roi"), EqualsProto(Ratio(booked.margin - spend, spend)));
    EXPECT_FALSE(HasValue(ValueOf(r, "market_share")));  // sizes are per quarter and year
  }
  // The company, May 2025: its target is the regions' sum; its spend every
  // record.
  {
    const v1::ReviewReport r = Review(v1::GRANULARITY_MONTH, month(2025, 5), v1::DIMENSION_ALL, "");
    int64_t regions = 0;
    for (const auto& [dim, value] : state().slices) {
      if (dim != v1::DIMENSION_REGION) continue;
      regions += TargetOf(org, v1::GRANULARITY_MONTH, month(2025, 5), dim, value).value();
    }
    EXPECT_THAT(ValueOf(r, "target"), EqualsProto(Money(regions)));
    EXPECT_THAT(
        ValueOf(r, "marketing_spend"),
        EqualsProto(Money(SpendOf(org, month(2025, 5), month(2025, 6), v1::DIMENSION_ALL, ""))));
  }
  // Online ads in January 2025: spend above the channel's margin, a
  // negative ROI and its finding.
  {
    const v1::ReviewReport r =
        Review(v1::GRANULARITY_MONTH, month(2025, 1), v1::DIMENSION_CHANNEL, "线上广告");
    const int64_t spend =
        SpendOf(org, month(2025, 1), month(2025, 2), v1::DIMENSION_CHANNEL, "线上广告");
    const Booked booked =
        BookedIn(events, month(2025, 1), month(2025, 2), v1::DIMENSION_CHANNEL, "线上广告");
    ASSERT_GT(spend, booked.margin);
    EXPECT_THAT(ValueOf(r, "marketing_roi"), EqualsProto(Ratio(booked.margin - spend, spend)));
    EXPECT_TRUE(Fired(r, "marketing_roi_below"));
  }
  // 2024: the year's target is its planned months' sum; market share of a
  // region, an industry and the whole market.
  for (const auto& [dim, value] :
       std::vector<std::pair<v1::Dimension, std::string>>{{v1::DIMENSION_ALL, ""},
                                                          {v1::DIMENSION_REGION, "华南"},
                                                          {v1::DIMENSION_INDUSTRY, "制造业"}}) {
    const v1::ReviewReport r = Review(v1::GRANULARITY_YEAR, month(2024, 1), dim, value);
    const std::optional<int64_t> size = MarketSize2024(org, dim, value);
    ASSERT_TRUE(size.has_value()) << value;
    const Booked booked = BookedIn(events, month(2024, 1), month(2025, 1), dim, value);
    EXPECT_THAT(ValueOf(r, "market_share"), EqualsProto(Ratio(booked.revenue, *size))) << value;
    if (dim == v1::DIMENSION_INDUSTRY) {
      EXPECT_FALSE(HasValue(ValueOf(r, "target")));  // no industry targets
      continue;
    }
    int64_t months = 0;
    for (int m = 1; m <= 12; ++m) {
      months += TargetOf(org, v1::GRANULARITY_MONTH, month(2024, m), dim, value).value_or(0);
    }
    EXPECT_GT(months, 0);
    EXPECT_THAT(ValueOf(r, "target"), EqualsProto(Money(months))) << value;
  }

  // A rep who left: its months after leaving end with a target of 0, which
  // the review shows as no attainment; its successor's carry them.
  int handed_over = 0;
  for (const v1::OrgEvent& e : org) {
    if (!e.has_target_set() || e.target_set().dimension() != v1::DIMENSION_OWNER ||
        e.target_set().value().money().units() != 0) {
      continue;
    }
    ++handed_over;
    const v1::ReviewReport r =
        Review(v1::GRANULARITY_MONTH, event::FromProto(e.target_set().period().start()),
               v1::DIMENSION_OWNER, e.target_set().dimension_value());
    EXPECT_THAT(ValueOf(r, "target"), EqualsProto(Money(0))) << Describe(r);
    EXPECT_FALSE(HasValue(ValueOf(r, "attainment"))) << Describe(r);
    EXPECT_FALSE(Fired(r, "attainment_below")) << Describe(r);
  }
  EXPECT_GT(handed_over, 5);

  // Every action: listed in the review it was planned in, beside the
  // finding it answers, with that review's value of the finding's metric;
  // an open one still in the last month's review.
  std::map<std::string, std::pair<int64_t, std::string>> closed;  // id -> (at, note)
  for (const v1::OrgEvent& e : org) {
    if (!e.has_review_action_closed()) continue;
    closed[e.review_action_closed().action_id()] = {e.occurred_at().seconds(),
                                                    e.review_action_closed().note()};
  }
  std::map<std::string, domain::MetricId> metric_of;
  for (const domain::FindingRule& rule : state().rules.findings.rules) {
    metric_of[rule.id] = rule.metric;
  }
  int open = 0;
  int done = 0;
  std::set<std::string> rules;
  for (const v1::OrgEvent& e : org) {
    if (!e.has_review_action_planned()) continue;
    const v1::ReviewActionPlanned& a = e.review_action_planned();
    ASSERT_TRUE(metric_of.contains(a.finding())) << a.finding();
    rules.insert(a.finding());
    EXPECT_FALSE(a.owner().empty());
    EXPECT_GT(a.due().seconds(), e.occurred_at().seconds());
    const v1::ReviewReport r =
        Review(a.review_period().granularity(), event::FromProto(a.review_period().start()),
               a.dimension(), a.dimension_value());
    EXPECT_TRUE(Fired(r, a.finding())) << a.action_id() << " " << Describe(r);
    const v1::ReviewAction* listed = nullptr;
    for (const v1::ReviewAction& x : r.actions()) {
      if (x.action_id() == a.action_id()) listed = &x;
    }
    ASSERT_NE(listed, nullptr) << a.action_id() << " not in " << Describe(r);
    EXPECT_EQ(listed->review_period(), r.period_key());
    EXPECT_EQ(listed->finding(), a.finding());
    EXPECT_EQ(listed->owner(), a.owner());
    EXPECT_EQ(listed->due().seconds(), a.due().seconds());
    EXPECT_EQ(listed->description(), a.description());
    const std::string metric(domain::MetricName(metric_of[a.finding()]));
    EXPECT_EQ(listed->metric(), metric);
    EXPECT_TRUE(HasValue(listed->value_then()));
    EXPECT_THAT(listed->value_then(), EqualsProto(ValueOf(r, metric)));
    auto c = closed.find(a.action_id());
    EXPECT_EQ(listed->closed(), c != closed.end()) << a.action_id();
    if (c != closed.end()) {
      ++done;
      EXPECT_EQ(listed->note(), c->second.second);
      EXPECT_GT(c->second.first, e.occurred_at().seconds());
    } else {
      ++open;
      const v1::ReviewReport last = Review(v1::GRANULARITY_MONTH, kEnd - absl::Seconds(1),
                                           a.dimension(), a.dimension_value());
      bool found = false;
      for (const v1::ReviewAction& x : last.actions()) found |= x.action_id() == a.action_id();
      EXPECT_TRUE(found) << a.action_id() << " not in " << Describe(last);
    }
  }
  EXPECT_EQ(open, 6);
  EXPECT_EQ(done, 6);
  EXPECT_THAT(rules, ::testing::UnorderedElementsAre("attainment_below", "marketing_roi_below"));
}

}  // namespace
}  // namespace custops::demo

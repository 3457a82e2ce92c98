// What the ops console reads of the review (docs/review.md "Sparklines,
// comparison and drill-down"): GetReview's metric history, CompareReview's
// rows, the worklist's customer profile and CustomerActivity — exact values,
// agreement with GetReview / Worklist, paging, region scope and error codes,
// through ReviewQueries and through the registered Review methods.
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/domain/period.h"
#include "custops/event/time.h"
#include "custops/review/review_projection.h"
#include "custops/review/review_service.h"
#include "custops/rpc/gateway.h"
#include "custops/testing/money.h"
#include "custops/testing/status_matchers.h"
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
using testing::Scoped;
using testing::Shanghai;
using ::testing::StartsWith;
using testing::TestCall;
using Regions = std::vector<std::string>;

class ReviewConsoleTest : public testing::ReviewStoreTest {
 protected:
  ReviewConsoleTest() : ReviewStoreTest(At(2024, 12, 31)) {}

  // Five customers over three regions and four owners, 2023-2024:
  //   a1, a2  East  owner-a   a1: 10,000 2023-03-10, 12,000 2023-11-05, 20,000
  //                           2024-02-10, 30,000 2024-05-15; a2: 5,000 2024-01-20,
  //                           7,000 2024-06-03, o2 (80,000) open since 2023-12-01
  //   b1, b2  West  owner-b   b1: 40,000 2023-06-01, 8,000 2024-03-08, o1 lost
  //                           2024-05-10, churned 2024-05-31; b2: 15,000 by rep-x
  //                           2024-04-18, a HIGH complaint answered late
  //   n1      North owner-c   o3 won and 50,000 2024-06-20
  //   d1      North owner-d   o4 (100,000) open since 2023-06-01, nothing else
  void Population() {
    Events ev;
    ev.Register("a1", At(2023, 1, 2), "East", "owner-a");
    ev.Register("a2", At(2023, 1, 2), "East", "owner-a");
    ev.Register("b1", At(2023, 1, 2), "West", "owner-b");
    ev.Register("b2", At(2023, 1, 2), "West", "owner-b");
    ev.Register("n1", At(2023, 1, 2), "North", "owner-c");
    ev.Register("d1", At(2023, 5, 1), "North", "owner-d");
    ev.Contract("a1", "ka1", At(2023, 3, 10), "owner-a", 10'000);
    ev.Contract("a1", "ka2", At(2023, 11, 5), "owner-a", 12'000);
    ev.Contract("a1", "ka3", At(2024, 2, 10), "owner-a", 20'000);
    ev.Contract("a1", "ka4", At(2024, 5, 15), "owner-a", 30'000);
    ev.Contract("a2", "kb1", At(2024, 1, 20), "owner-a", 5'000);
    ev.Contract("a2", "kb2", At(2024, 6, 3), "owner-a", 7'000);
    ev.Open("a2", "o2", At(2023, 12, 1), "owner-a", 80'000);
    ev.Contract("b1", "kc1", At(2023, 6, 1), "owner-b", 40'000);
    ev.Contract("b1", "kc2", At(2024, 3, 8), "owner-b", 8'000);
    ev.Open("b1", "o1", At(2024, 1, 5), "owner-b", 60'000);
    ev.Stage("b1", "o1", At(2024, 3, 1), "owner-b", v1::FUNNEL_STAGE_NEED_CONFIRMED);
    ev.Stage("b1", "o1", At(2024, 5, 10), "owner-b", v1::FUNNEL_STAGE_LOST, "Rival");
    ev.Add("b1", At(2024, 5, 31)).mutable_customer_churned()->set_reason("gone");
    ev.Contract("b2", "kd1", At(2024, 4, 18), "rep-x", 15'000);
    ev.Visit("b2", At(2024, 2, 14), "owner-b");
    ev.File("b2", "cp1", At(2024, 4, 20), v1::SEVERITY_HIGH, v1::COMPLAINT_CATEGORY_SERVICE);
    ev.Respond("b2", "cp1", At(2024, 4, 21));
    ev.Resolve("b2", "cp1", At(2024, 4, 25));
    ev.Visit("a1", At(2024, 4, 2), "owner-a");
    ev.Visit("n1", At(2024, 5, 5), "owner-c");
    ev.Open("n1", "o3", At(2024, 4, 1), "owner-c", 50'000);
    ev.Stage("n1", "o3", At(2024, 6, 20), "owner-c", v1::FUNNEL_STAGE_CONTRACT_SIGNED);
    ev.Contract("n1", "ke1", At(2024, 6, 20), "owner-c", 50'000);
    ev.Open("d1", "o4", At(2023, 6, 1), "owner-d", 100'000);
    Append(ev.Take());
  }

  v1::GetReviewRequest ReviewRequest(v1::Granularity g, absl::Time start, v1::Dimension dim,
                                     const std::string& value, int history = 0) {
    v1::GetReviewRequest req;
    req.set_granularity(g);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_dimension_value(value);
    req.set_history_periods(history);
    return req;
  }
  v1::ReviewReport Review(const v1::GetReviewRequest& req, const Regions* regions = nullptr) {
    absl::StatusOr<v1::ReviewReport> r = queries_->GetReview(req, regions);
    EXPECT_OK(r);
    return r.ok() ? *r : v1::ReviewReport();
  }
  v1::CompareReviewRequest CompareRequest(v1::Granularity g, absl::Time start, v1::Dimension dim,
                                          int page_size = 0) {
    v1::CompareReviewRequest req;
    req.set_granularity(g);
    *req.mutable_period_start() = event::ToProto(start);
    req.set_dimension(dim);
    req.set_page_size(page_size);
    return req;
  }
  static const v1::Metric& M(const v1::ReviewReport& r, const std::string& name) {
    for (const auto& m : r.metrics()) {
      if (m.name() == name) return m;
    }
    ADD_FAILURE() << "no metric " << name;
    static v1::Metric none;
    return none;
  }
  // The report's metrics without history, serialized (CompareReview's rows).
  static std::vector<std::string> Plain(const google::protobuf::RepeatedPtrField<v1::Metric>& ms) {
    std::vector<std::string> out;
    for (v1::Metric m : ms) {
      m.clear_history();
      out.push_back(m.SerializeAsString());
    }
    return out;
  }
  // The `n` periods of granularity g ending with the one containing t, oldest first.
  static std::vector<absl::Time> PeriodStarts(v1::Granularity g, absl::Time t, int n) {
    std::vector<absl::Time> out(static_cast<size_t>(n));
    domain::ReportingPeriod p = domain::PeriodOf(t, g, Shanghai());
    for (int i = n - 1; i >= 0; --i) {
      out[static_cast<size_t>(i)] = domain::PeriodStart(p, Shanghai());
      p = domain::PreviousPeriod(p);
    }
    return out;
  }
  // Every metric's history[i] is GetReview(period i).value, the last is the
  // value and the one before it the 环比.
  void ExpectHistoryIsEachPeriodsValue(v1::Granularity g, absl::Time t, v1::Dimension dim,
                                       const std::string& value, int n,
                                       const Regions* regions = nullptr) {
    SCOPED_TRACE(absl::StrCat("granularity ", g, " dimension ", dim, " ", value));
    const v1::ReviewReport report = Review(ReviewRequest(g, t, dim, value, n), regions);
    ASSERT_GT(report.metrics_size(), 30);
    const std::vector<absl::Time> starts = PeriodStarts(g, t, n);
    for (int i = 0; i < n; ++i) {
      const v1::ReviewReport then = Review(ReviewRequest(g, starts[i], dim, value), regions);
      ASSERT_EQ(then.metrics_size(), report.metrics_size());
      for (int k = 0; k < report.metrics_size(); ++k) {
        const v1::Metric& m = report.metrics(k);
        ASSERT_EQ(m.history_size(), n) << m.name();
        EXPECT_EQ(then.metrics(k).history_size(), 0);
        EXPECT_EQ(m.history(i).SerializeAsString(), then.metrics(k).value().SerializeAsString())
            << m.name() << " in " << then.period_key();
      }
    }
    for (const v1::Metric& m : report.metrics()) {
      EXPECT_EQ(m.history(n - 1).SerializeAsString(), m.value().SerializeAsString()) << m.name();
      if (n >= 2) {
        EXPECT_EQ(m.history(n - 2).SerializeAsString(), m.previous().SerializeAsString())
            << m.name();
      }
    }
  }
};

// ---------------------------------------------------------------------------
// GetReview history

TEST_F(ReviewConsoleTest, HistoryHoldsTheRevenueOfEachMonth) {
  Population();
  const v1::ReviewReport june = Review(
      ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "", /*history=*/12));
  std::vector<int64_t> revenue;
  for (const v1::MetricValue& v : M(june, "revenue").history()) {
    ASSERT_EQ(v.kind_case(), v1::MetricValue::kMoney);
    EXPECT_EQ(v.money().currency(), "CNY");
    revenue.push_back(v.money().units());
  }
  // 2023-07 .. 2024-06.
  EXPECT_EQ(revenue, (std::vector<int64_t>{0, 0, 0, 0, 12'000, 0, 5'000, 20'000, 8'000, 15'000,
                                           30'000, 57'000}));
  // owner-a: a1 and a2's contracts only.
  const v1::ReviewReport owner = Review(ReviewRequest(
      v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_OWNER, "owner-a", /*history=*/4));
  std::vector<int64_t> owner_revenue;
  for (const v1::MetricValue& v : M(owner, "revenue").history()) {
    owner_revenue.push_back(v.money().units());
  }
  EXPECT_EQ(owner_revenue, (std::vector<int64_t>{0, 0, 30'000, 7'000}));
  // A ratio is null in a period without its base: West's win rate is null in
  // April and June (nothing closed) and 0/1 in May (o1 lost).
  const v1::ReviewReport west = Review(ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1),
                                                     v1::DIMENSION_REGION, "West", /*history=*/3));
  const v1::Metric& win_rate = M(west, "win_rate");
  ASSERT_EQ(win_rate.history_size(), 3);
  EXPECT_EQ(win_rate.history(0).kind_case(), v1::MetricValue::KIND_NOT_SET);  // April
  ASSERT_EQ(win_rate.history(1).kind_case(), v1::MetricValue::kRatio);        // May
  EXPECT_EQ(win_rate.history(1).ratio().numerator(), 0);
  EXPECT_EQ(win_rate.history(1).ratio().denominator(), 1);
  EXPECT_EQ(win_rate.history(2).kind_case(), v1::MetricValue::KIND_NOT_SET);  // June
  // No history unless asked for.
  const v1::ReviewReport plain =
      Review(ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, ""));
  for (const v1::Metric& m : plain.metrics()) EXPECT_EQ(m.history_size(), 0) << m.name();
  // The rest of the report is the same with or without history.
  EXPECT_EQ(Plain(june.metrics()), Plain(plain.metrics()));
  EXPECT_EQ(june.findings_size(), plain.findings_size());
}

TEST_F(ReviewConsoleTest, HistoryIsWhatGetReviewSaysOfEachPeriod) {
  Population();
  const absl::Time june = At(2024, 6, 12);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_ALL, "", 12);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_OWNER, "owner-b", 12);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_REGION, "North", 14);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_PRODUCT, "GTX", 6);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_TIER, "IRON", 8);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_QUARTER, june, v1::DIMENSION_ALL, "", 8);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_WEEK, june, v1::DIMENSION_OWNER, "owner-a", 24);
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_DAY, At(2024, 6, 3), v1::DIMENSION_ALL, "", 5);
  // A region-scoped caller's ALL: the merge of its regions in every period.
  const Regions merge = {"East", "North"};
  ExpectHistoryIsEachPeriodsValue(v1::GRANULARITY_MONTH, june, v1::DIMENSION_ALL, "", 12, &merge);
}

// The first periods a request can name (0001-01-01T00:00:00Z is 0001-01-01
// 08:05:43 in Shanghai): the history reaches before the Timestamp range, where
// nothing can have happened, and is computed as the 环比 is.
TEST_F(ReviewConsoleTest, HistoryBeforeTheTimestampRange) {
  Population();
  for (v1::Granularity g :
       {v1::GRANULARITY_DAY, v1::GRANULARITY_WEEK, v1::GRANULARITY_MONTH, v1::GRANULARITY_YEAR}) {
    v1::GetReviewRequest req = ReviewRequest(g, absl::UnixEpoch(), v1::DIMENSION_ALL, "", 24);
    req.mutable_period_start()->set_seconds(-62135596800);
    const v1::ReviewReport report = Review(req);
    ASSERT_GT(report.metrics_size(), 30) << g;
    for (const v1::Metric& m : report.metrics()) {
      ASSERT_EQ(m.history_size(), 24) << m.name();
      EXPECT_EQ(m.history(23).SerializeAsString(), m.value().SerializeAsString()) << m.name();
      EXPECT_EQ(m.history(22).SerializeAsString(), m.previous().SerializeAsString()) << m.name();
    }
    for (const v1::MetricValue& v : M(report, "revenue").history()) {
      ASSERT_EQ(v.kind_case(), v1::MetricValue::kMoney);
      EXPECT_EQ(v.money().units(), 0);
    }
    for (const v1::MetricValue& v : M(report, "win_rate").history()) {
      EXPECT_EQ(v.kind_case(), v1::MetricValue::KIND_NOT_SET);
    }
  }
}

TEST_F(ReviewConsoleTest, HistoryPeriodsOutOfRangeAreInvalid) {
  Population();
  for (int n : {-1, 25, 1000}) {
    absl::StatusOr<v1::ReviewReport> r = queries_->GetReview(
        ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "", n));
    EXPECT_THAT(r, StatusIs(absl::StatusCode::kInvalidArgument, "history_periods: 0 (none) to 24"))
        << n;
  }
  absl::StatusOr<v1::ReviewReport> most = queries_->GetReview(
      ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "", 24));
  ASSERT_OK(most);
  EXPECT_EQ(M(*most, "revenue").history_size(), 24);
}

// ---------------------------------------------------------------------------
// CompareReview

TEST_F(ReviewConsoleTest, CompareHasEveryOwnerWithGetReviewsMetrics) {
  Population();
  const v1::CompareReviewResponse owners =
      queries_
          ->CompareReview(
              CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_OWNER))
          .value();
  EXPECT_EQ(owners.period_key(), "2024-06");
  EXPECT_EQ(owners.dimension(), v1::DIMENSION_OWNER);
  EXPECT_EQ(owners.next_page_token(), "");
  std::vector<std::string> values;
  for (const v1::ReviewRow& row : owners.rows()) {
    values.push_back(row.dimension_value());
    const v1::ReviewReport one = Review(ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5),
                                                      v1::DIMENSION_OWNER, row.dimension_value()));
    EXPECT_EQ(Plain(row.metrics()), Plain(one.metrics())) << row.dimension_value();
  }
  // owner-d has no event in June, only its open opportunity's pipeline;
  // rep-x (b2's contract in April) nothing in or before June's snapshots.
  EXPECT_EQ(values, (std::vector<std::string>{"owner-a", "owner-b", "owner-c", "owner-d"}));
  const v1::ReviewRow& c = owners.rows(2);
  for (const v1::Metric& m : c.metrics()) {
    EXPECT_EQ(m.history_size(), 0);
    if (m.name() == "revenue") {
      EXPECT_EQ(m.value().money().units(), 50'000);
      EXPECT_EQ(m.previous().money().units(), 0);
      EXPECT_EQ(m.unit(), v1::METRIC_UNIT_MONEY);
    }
  }
  const v1::ReviewRow& d = owners.rows(3);
  for (const v1::Metric& m : d.metrics()) {
    if (m.name() == "weighted_pipeline") {
      EXPECT_EQ(m.value().money().units(), 5'000);  // 5% of 100,000
    }
  }

  // Pages of two: the same rows, in order, and a token only while more follow.
  v1::CompareReviewRequest req =
      CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_OWNER, 2);
  std::vector<std::string> paged;
  int pages = 0;
  do {
    const v1::CompareReviewResponse page = queries_->CompareReview(req).value();
    ++pages;
    EXPECT_LE(page.rows_size(), 2);
    for (const v1::ReviewRow& row : page.rows()) {
      paged.push_back(row.dimension_value());
      EXPECT_EQ(row.SerializeAsString(),
                owners.rows(static_cast<int>(paged.size()) - 1).SerializeAsString());
    }
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(paged, values);
  EXPECT_EQ(pages, 2);

  // Regions, industries, products: every value with data.
  auto listed = [&](v1::Dimension dim) {
    std::vector<std::string> out;
    const v1::CompareReviewResponse r =
        queries_->CompareReview(CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), dim)).value();
    for (const v1::ReviewRow& row : r.rows()) out.push_back(row.dimension_value());
    return out;
  };
  EXPECT_EQ(listed(v1::DIMENSION_REGION), (std::vector<std::string>{"East", "North", "West"}));
  EXPECT_EQ(listed(v1::DIMENSION_INDUSTRY), std::vector<std::string>{"manufacturing"});
  EXPECT_EQ(listed(v1::DIMENSION_PRODUCT), std::vector<std::string>{"GTX"});
  // No customer has an acquisition channel: no rows.
  EXPECT_EQ(listed(v1::DIMENSION_CHANNEL), std::vector<std::string>{});
}

TEST_F(ReviewConsoleTest, CompareByTierHasEveryTier) {
  Population();
  const v1::CompareReviewResponse tiers =
      queries_
          ->CompareReview(
              CompareRequest(v1::GRANULARITY_QUARTER, At(2024, 4, 1), v1::DIMENSION_TIER))
          .value();
  std::vector<std::string> values;
  for (const v1::ReviewRow& row : tiers.rows()) {
    values.push_back(row.dimension_value());
    const v1::ReviewReport one = Review(ReviewRequest(v1::GRANULARITY_QUARTER, At(2024, 4, 1),
                                                      v1::DIMENSION_TIER, row.dimension_value()));
    EXPECT_EQ(Plain(row.metrics()), Plain(one.metrics())) << row.dimension_value();
  }
  EXPECT_EQ(values, (std::vector<std::string>{"BIG", "DIAMOND", "GOLD", "IRON", "PLATINUM",
                                              "SILVER", "SMALL"}));
  int64_t revenue = 0;
  for (const v1::ReviewRow& row : tiers.rows()) {
    for (const v1::Metric& m : row.metrics()) {
      if (m.name() == "revenue") revenue += m.value().money().units();
    }
  }
  EXPECT_EQ(revenue, 15'000 + 30'000 + 7'000 + 50'000);  // Q2 2024, every tier
}

TEST_F(ReviewConsoleTest, CompareOfSomeRegionsListsThoseOnly) {
  Population();
  const Regions scope = {"North", "East"};  // any order
  v1::CompareReviewRequest req =
      CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_REGION, 1);
  std::vector<std::string> values;
  do {
    const v1::CompareReviewResponse page = queries_->CompareReview(req, &scope).value();
    ASSERT_EQ(page.rows_size(), 1);
    values.push_back(page.rows(0).dimension_value());
    req.set_page_token(page.next_page_token());
  } while (!req.page_token().empty());
  EXPECT_EQ(values, (std::vector<std::string>{"East", "North"}));
  const Regions none;
  EXPECT_EQ(queries_->CompareReview(req, &none).value().rows_size(), 0);
  req.set_dimension(v1::DIMENSION_OWNER);
  EXPECT_THAT(queries_->CompareReview(req, &scope),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       "dimension: a comparison of some regions is by region"));
}

TEST_F(ReviewConsoleTest, CompareRefusesWhatItCannotList) {
  Population();
  constexpr absl::StatusCode kInvalid = absl::StatusCode::kInvalidArgument;
  for (int dim : {static_cast<int>(v1::DIMENSION_ALL), static_cast<int>(v1::DIMENSION_UNSPECIFIED),
                  static_cast<int>(v1::DIMENSION_KIND), 100, 77}) {
    absl::StatusOr<v1::CompareReviewResponse> r = queries_->CompareReview(
        CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), static_cast<v1::Dimension>(dim)));
    EXPECT_THAT(r,
                StatusIs(kInvalid, StartsWith("dimension: CompareReview compares the values of")))
        << dim;
  }
  v1::CompareReviewRequest req =
      CompareRequest(v1::GRANULARITY_UNSPECIFIED, At(2024, 6, 5), v1::DIMENSION_OWNER);
  EXPECT_THAT(queries_->CompareReview(req),
              StatusIs(kInvalid, "granularity 0 is not a reporting one"));
  req = CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_OWNER, -1);
  EXPECT_THAT(queries_->CompareReview(req), StatusIs(kInvalid, "page_size: must not be negative"));
  req.set_page_size(5000);  // at most 1000: capped, not refused
  EXPECT_EQ(queries_->CompareReview(req).value().rows_size(), 4);
  req.set_page_token("f1.b3duZXItYg");  // a Funnel token is not one of this list
  EXPECT_THAT(queries_->CompareReview(req),
              StatusIs(kInvalid, "page_token: not a token from this list"));
  req.clear_page_token();
  req.mutable_period_start()->set_nanos(-1);
  EXPECT_THAT(queries_->CompareReview(req),
              StatusIs(kInvalid, "period_start: not a valid timestamp"));
  // Tier off: FAILED_PRECONDITION as GetReview.
  ReviewRules off = rules_;
  off.tier_dimension = false;
  ReviewQueries no_tier(runtime_->store(), 4, off, org_.get(), "CNY");
  EXPECT_THAT(no_tier.CompareReview(
                  CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_TIER)),
              StatusIs(absl::StatusCode::kFailedPrecondition,
                       "dimension: tier is off (review.tier_dimension = false)"));
}

// ---------------------------------------------------------------------------
// The worklist's profile and CustomerActivity

class CustomerActivityTest : public ReviewConsoleTest {
 protected:
  static absl::Time AsOf() { return At(2024, 6, 10); }

  // c1 (East): renamed "Acme Ltd" and moved to owner-b on 2024-03-01; a late
  // rename to "Old Acme" dated 2024-02-01 arrives afterwards and is not its
  // current name. Complaints (as of 2024-06-10 noon):
  //   cpF LOW       filed 04-01, resolved 04-02, reopened 06-01: no response
  //                 since, due 06-04 (reopen + 72 h): PAST
  //   cpB MEDIUM    filed 06-08, responded 06-08 18:00: resolution due 06-15
  //   cpC CRITICAL  filed 06-09, no response: due 06-09 13:00, PAST
  //   cpD HIGH      filed 06-10 08:30: response due 12:30, near from 11:30: NEAR
  //   cpA HIGH      filed 05-01, responded 13:00, resolved 05-02: closed
  //   cpE           filed 06-11: not yet at as_of
  // Contracts: k1 100,000 due 02-10, paid 30,000, renewed +20,000 on 05-01
  // (a payment of 10,000 on 06-20 is after as_of); k2 50,000 due 07-01 paid;
  // k3 10,000 due 03-01 terminated 04-01; k4 signed 06-20.
  // c2 (West, owner-b, "Beta"): one overdue contract.
  void Customers() {
    Events ev;
    ev.Register("c1", At(2024, 1, 2), "East", "owner-a", "Acme");
    auto* u = ev.Add("c1", At(2024, 3, 1)).mutable_customer_profile_updated();
    u->set_name("Acme Ltd");
    u->set_owner_id("owner-b");
    *ev.Contract("c1", "k1", At(2024, 1, 10), "owner-a", 100'000).mutable_payment_due() =
        event::ToProto(At(2024, 2, 10));
    ev.Pay("c1", "k1", At(2024, 2, 1), 30'000);
    auto* r = ev.Add("c1", At(2024, 5, 1)).mutable_contract_renewed();
    r->set_contract_id("k1");
    *r->mutable_new_end() = event::ToProto(At(2025, 6, 1));
    *r->mutable_amount() = Cny(20'000);
    *r->mutable_cost() = Cny(10'000);
    ev.Pay("c1", "k1", At(2024, 6, 20), 10'000);
    *ev.Contract("c1", "k2", At(2024, 3, 1), "owner-b", 50'000).mutable_payment_due() =
        event::ToProto(At(2024, 7, 1));
    ev.Pay("c1", "k2", At(2024, 3, 5), 50'000);
    *ev.Contract("c1", "k3", At(2024, 2, 1), "owner-a", 10'000).mutable_payment_due() =
        event::ToProto(At(2024, 3, 1));
    ev.Add("c1", At(2024, 4, 1)).mutable_contract_terminated()->set_contract_id("k3");
    ev.Contract("c1", "k4", At(2024, 6, 20), "owner-b", 5'000);
    ev.File("c1", "cpF", At(2024, 4, 1), v1::SEVERITY_LOW, v1::COMPLAINT_CATEGORY_ATTITUDE);
    ev.Resolve("c1", "cpF", At(2024, 4, 2));
    ev.Reopen("c1", "cpF", At(2024, 6, 1));
    ev.File("c1", "cpA", At(2024, 5, 1), v1::SEVERITY_HIGH, v1::COMPLAINT_CATEGORY_PRODUCT);
    ev.Respond("c1", "cpA", At(2024, 5, 1, 13));
    ev.Resolve("c1", "cpA", At(2024, 5, 2));
    ev.File("c1", "cpB", At(2024, 6, 8), v1::SEVERITY_MEDIUM, v1::COMPLAINT_CATEGORY_BILLING);
    ev.Respond("c1", "cpB", At(2024, 6, 8, 18));
    ev.File("c1", "cpC", At(2024, 6, 9), v1::SEVERITY_CRITICAL, v1::COMPLAINT_CATEGORY_DELIVERY);
    ev.File("c1", "cpD", At(2024, 6, 10, 8) + absl::Minutes(30), v1::SEVERITY_HIGH,
            v1::COMPLAINT_CATEGORY_SERVICE);
    ev.File("c1", "cpE", At(2024, 6, 11), v1::SEVERITY_LOW, v1::COMPLAINT_CATEGORY_SERVICE);
    ev.Register("c2", At(2024, 1, 2), "West", "owner-b", "Beta");
    ev.Contract("c2", "k5", At(2024, 1, 5), "owner-b", 8'000);
    ev.Visit("ghost", At(2024, 1, 5), "owner-b");
    Append(ev.Take());
    Events late("late-");
    late.Add("c1", At(2024, 2, 1)).mutable_customer_profile_updated()->set_name("Old Acme");
    Append(late.Take());
  }
};

TEST_F(CustomerActivityTest, WorklistItemsCarryTheCurrentProfile) {
  Customers();
  v1::WorklistRequest req;
  req.set_owner_id("owner-b");
  const v1::WorklistResponse w = queries_->Worklist(req, AsOf()).value();
  std::set<std::string> customers;
  for (const v1::WorklistItem& item : w.items()) {
    customers.insert(item.customer_id());
    if (item.customer_id() == "c1") {
      EXPECT_EQ(item.customer_name(), "Acme Ltd");
      EXPECT_EQ(item.region(), "East");
    } else {
      EXPECT_EQ(item.customer_name(), "Beta");
      EXPECT_EQ(item.region(), "West");
    }
    EXPECT_EQ(item.owner_id(), "owner-b");
  }
  EXPECT_EQ(customers, (std::set<std::string>{"c1", "c2"}));
  // By region: the same profile fields.
  req.clear_owner_id();
  req.set_region("East");
  const v1::WorklistResponse east = queries_->Worklist(req, AsOf()).value();
  ASSERT_GT(east.items_size(), 0);
  for (const v1::WorklistItem& item : east.items()) {
    EXPECT_EQ(item.customer_id(), "c1");
    EXPECT_EQ(item.customer_name(), "Acme Ltd");
    EXPECT_EQ(item.owner_id(), "owner-b");
    EXPECT_EQ(item.region(), "East");
  }
  // A later rename is the current name from then on.
  Events ev("rename-");
  ev.Add("c1", At(2024, 7, 1)).mutable_customer_profile_updated()->set_name("Acme Group");
  Append(ev.Take());
  const v1::WorklistResponse renamed = queries_->Worklist(req, AsOf()).value();
  ASSERT_GT(renamed.items_size(), 0);
  for (const v1::WorklistItem& item : renamed.items()) {
    EXPECT_EQ(item.customer_name(), "Acme Group");
  }
}

TEST_F(CustomerActivityTest, ComplaintsReceivablesAndWorklistAtAsOf) {
  Customers();
  const v1::CustomerActivityResponse a = queries_->CustomerActivity("c1", AsOf()).value();
  EXPECT_EQ(a.customer_id(), "c1");
  auto ts = [](absl::Time t) { return event::ToProto(t).SerializeAsString(); };

  // Open ones first (by filing), then the closed one; cpE is not filed yet.
  std::vector<std::string> order;
  for (const v1::ComplaintStatus& s : a.complaints()) order.push_back(s.complaint_id());
  EXPECT_EQ(order, (std::vector<std::string>{"cpF", "cpB", "cpC", "cpD", "cpA"}));
  ASSERT_EQ(a.complaints_size(), 5);
  const v1::ComplaintStatus& f = a.complaints(0);
  EXPECT_EQ(f.category(), v1::COMPLAINT_CATEGORY_ATTITUDE);
  EXPECT_EQ(f.severity(), v1::SEVERITY_LOW);
  EXPECT_EQ(f.filed_at().SerializeAsString(), ts(At(2024, 4, 1)));
  EXPECT_FALSE(f.has_responded_at());  // the reopened episode has no response yet
  EXPECT_FALSE(f.has_resolved_at());   // open again
  EXPECT_EQ(f.due().SerializeAsString(), ts(At(2024, 6, 1) + absl::Hours(72)));
  EXPECT_EQ(f.urgency(), "PAST");
  const v1::ComplaintStatus& b = a.complaints(1);
  EXPECT_EQ(b.category(), v1::COMPLAINT_CATEGORY_BILLING);
  EXPECT_EQ(b.responded_at().SerializeAsString(), ts(At(2024, 6, 8, 18)));
  EXPECT_FALSE(b.has_resolved_at());
  EXPECT_EQ(b.due().SerializeAsString(), ts(At(2024, 6, 15)));  // resolution: 7 days
  EXPECT_EQ(b.urgency(), "");
  const v1::ComplaintStatus& c = a.complaints(2);
  EXPECT_EQ(c.category(), v1::COMPLAINT_CATEGORY_DELIVERY);
  EXPECT_EQ(c.severity(), v1::SEVERITY_CRITICAL);
  EXPECT_EQ(c.due().SerializeAsString(), ts(At(2024, 6, 9, 13)));
  EXPECT_EQ(c.urgency(), "PAST");
  const v1::ComplaintStatus& d = a.complaints(3);
  EXPECT_EQ(d.due().SerializeAsString(), ts(At(2024, 6, 10, 12) + absl::Minutes(30)));
  EXPECT_EQ(d.urgency(), "NEAR");
  const v1::ComplaintStatus& closed = a.complaints(4);
  EXPECT_EQ(closed.category(), v1::COMPLAINT_CATEGORY_PRODUCT);
  EXPECT_EQ(closed.responded_at().SerializeAsString(), ts(At(2024, 5, 1, 13)));
  EXPECT_EQ(closed.resolved_at().SerializeAsString(), ts(At(2024, 5, 2)));
  EXPECT_FALSE(closed.has_due());
  EXPECT_EQ(closed.urgency(), "");

  // Receivables by payment due, as known at as_of.
  ASSERT_EQ(a.receivables_size(), 3);
  const v1::Receivable& k1 = a.receivables(0);
  EXPECT_EQ(k1.contract_id(), "k1");
  EXPECT_EQ(k1.amount().units(), 120'000);
  EXPECT_EQ(k1.amount().currency(), "CNY");
  EXPECT_EQ(k1.paid().units(), 30'000);
  EXPECT_EQ(k1.outstanding().units(), 90'000);
  EXPECT_EQ(k1.payment_due().SerializeAsString(), ts(At(2024, 2, 10)));
  EXPECT_TRUE(k1.overdue());
  const v1::Receivable& k3 = a.receivables(1);
  EXPECT_EQ(k3.contract_id(), "k3");
  EXPECT_EQ(k3.outstanding().units(), 10'000);
  EXPECT_FALSE(k3.overdue());  // terminated
  const v1::Receivable& k2 = a.receivables(2);
  EXPECT_EQ(k2.contract_id(), "k2");
  EXPECT_EQ(k2.paid().units(), 50'000);
  EXPECT_EQ(k2.outstanding().units(), 0);
  EXPECT_FALSE(k2.overdue());

  // The worklist's items of c1, with its current profile.
  v1::WorklistRequest req;
  req.set_owner_id("owner-b");
  std::vector<std::string> want;
  const v1::WorklistResponse owner_b = queries_->Worklist(req, AsOf()).value();
  for (const v1::WorklistItem& item : owner_b.items()) {
    if (item.customer_id() == "c1") want.push_back(item.SerializeAsString());
  }
  std::vector<std::string> got;
  std::set<std::string> complaint_items;
  bool collect_k1 = false;
  for (const v1::WorklistItem& item : a.worklist()) {
    got.push_back(item.SerializeAsString());
    EXPECT_EQ(item.customer_name(), "Acme Ltd");
    EXPECT_EQ(item.owner_id(), "owner-b");
    EXPECT_EQ(item.region(), "East");
    if (item.reason() == "COMPLAINT_SLA") {
      complaint_items.insert(absl::StrCat(item.subject_id(), ":", item.urgency()));
    }
    collect_k1 |= item.reason() == "PAYMENT_OVERDUE" && item.subject_id() == "k1";
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(complaint_items, (std::set<std::string>{"cpC:PAST", "cpD:NEAR", "cpF:PAST"}));
  EXPECT_TRUE(collect_k1);

  // Later: k1's payment of 06-20 and cpE are known; k4 is a receivable.
  const v1::CustomerActivityResponse july =
      queries_->CustomerActivity("c1", At(2024, 7, 2)).value();
  EXPECT_EQ(july.complaints_size(), 6);
  ASSERT_EQ(july.receivables_size(), 4);
  EXPECT_EQ(july.receivables(0).paid().units(), 40'000);
  EXPECT_EQ(july.receivables(2).contract_id(), "k2");
  EXPECT_EQ(july.receivables(3).contract_id(), "k4");  // due 30 days after its start
}

TEST_F(CustomerActivityTest, UnknownOrOutOfScopeIsNotFound) {
  Customers();
  auto status = [&](const std::string& id, const Regions* regions = nullptr) {
    return queries_->CustomerActivity(id, AsOf(), regions).status();
  };
  constexpr absl::StatusCode kNotFound = absl::StatusCode::kNotFound;
  EXPECT_THAT(status("nobody"), StatusIs(kNotFound, "customer_id: no customer nobody"));
  // Events, never registered.
  EXPECT_THAT(status("ghost"), StatusIs(kNotFound, "customer_id: no customer ghost"));
  const Regions west = {"West"};
  EXPECT_THAT(status("c1", &west), StatusIs(kNotFound, "customer_id: no customer c1"));
  EXPECT_THAT(status("nobody", &west), StatusIs(kNotFound, "customer_id: no customer nobody"));
  const Regions east_west = {"East", "West"};
  EXPECT_OK(status("c1", &east_west));
  EXPECT_OK(status("c2", &west));
  for (const std::string& bad : {std::string(), std::string(129, 'x')}) {
    EXPECT_THAT(status(bad),
                StatusIs(absl::StatusCode::kInvalidArgument, "customer_id: required, 1-128 bytes"));
  }
}

// ---------------------------------------------------------------------------
// Through the registered methods

class ReviewConsoleServiceTest : public testing::WithReviewService<CustomerActivityTest> {
 protected:
  absl::StatusOr<v1::CompareReviewResponse> Compare(const rpc::Identity& who, v1::Dimension dim) {
    return Invoke<v1::CompareReviewResponse>(
        "custops.v1.Review/CompareReview", who,
        CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), dim));
  }
  absl::StatusOr<v1::CustomerActivityResponse> Activity(const rpc::Identity& who,
                                                        const v1::CustomerActivityRequest& r) {
    return Invoke<v1::CustomerActivityResponse>("custops.v1.Review/CustomerActivity", who, r);
  }
};

TEST_F(ReviewConsoleServiceTest, MethodsAreReaders) {
  for (const char* method :
       {"custops.v1.Review/CompareReview", "custops.v1.Review/CustomerActivity"}) {
    const rpc::MethodEntry* entry = table_.Find(method);
    ASSERT_NE(entry, nullptr) << method;
    EXPECT_EQ(entry->access, rpc::Access::kReader);
    EXPECT_TRUE(entry->unary != nullptr) << method;
  }
}

TEST_F(ReviewConsoleServiceTest, CompareOfARegionScopedToken) {
  Population();
  const rpc::Identity ew = Scoped(Regions{"East", "West"});
  absl::StatusOr<v1::CompareReviewResponse> regions = Compare(ew, v1::DIMENSION_REGION);
  ASSERT_OK(regions);
  std::vector<std::string> values;
  for (const v1::ReviewRow& row : regions->rows()) values.push_back(row.dimension_value());
  EXPECT_EQ(values, (std::vector<std::string>{"East", "West"}));  // not North
  // The same rows as an unscoped caller's.
  absl::StatusOr<v1::CompareReviewResponse> all =
      Compare(Scoped(std::nullopt), v1::DIMENSION_REGION);
  ASSERT_OK(all);
  ASSERT_EQ(all->rows_size(), 3);
  EXPECT_EQ(regions->rows(0).SerializeAsString(), all->rows(0).SerializeAsString());
  EXPECT_EQ(regions->rows(1).SerializeAsString(), all->rows(2).SerializeAsString());
  for (v1::Dimension dim : {v1::DIMENSION_OWNER, v1::DIMENSION_INDUSTRY, v1::DIMENSION_CHANNEL,
                            v1::DIMENSION_PRODUCT, v1::DIMENSION_TIER}) {
    EXPECT_THAT(
        Compare(ew, dim),
        StatusIs(absl::StatusCode::kPermissionDenied,
                 StartsWith("dimension: a region-scoped token compares by DIMENSION_REGION")))
        << dim;
    EXPECT_OK(Compare(Scoped(std::nullopt), dim)) << dim;
  }
  // Not comparable for anybody: INVALID_ARGUMENT, scoped or not.
  EXPECT_THAT(Compare(ew, v1::DIMENSION_ALL),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("dimension: CompareReview compares the values of")));
  EXPECT_THAT(Compare(Scoped(std::nullopt), v1::DIMENSION_ALL),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       StartsWith("dimension: CompareReview compares the values of")));
  // A token without regions sees no rows.
  absl::StatusOr<v1::CompareReviewResponse> empty =
      Compare(Scoped(Regions{}), v1::DIMENSION_REGION);
  ASSERT_OK(empty);
  EXPECT_EQ(empty->rows_size(), 0);
  // A consistency token that is not one.
  v1::CompareReviewRequest req =
      CompareRequest(v1::GRANULARITY_MONTH, At(2024, 6, 5), v1::DIMENSION_REGION);
  req.set_consistency_token("garbage");
  EXPECT_THAT(Invoke<v1::CompareReviewResponse>("custops.v1.Review/CompareReview",
                                                Scoped(std::nullopt), req),
              StatusIs(absl::StatusCode::kInvalidArgument, StartsWith("consistency_token: ")));
  // GetReview's history through the front door.
  v1::GetReviewRequest history =
      ReviewRequest(v1::GRANULARITY_MONTH, At(2024, 6, 1), v1::DIMENSION_ALL, "", 25);
  EXPECT_THAT(Invoke<v1::ReviewReport>("custops.v1.Review/GetReview", ew, history),
              StatusIs(absl::StatusCode::kInvalidArgument, "history_periods: 0 (none) to 24"));
  history.set_history_periods(12);
  absl::StatusOr<v1::ReviewReport> merged =
      Invoke<v1::ReviewReport>("custops.v1.Review/GetReview", ew, history);
  ASSERT_OK(merged);
  const Regions scope = {"East", "West"};
  EXPECT_EQ(merged->SerializeAsString(), Review(history, &scope).SerializeAsString());
}

TEST_F(ReviewConsoleServiceTest, CustomerActivityThroughTheService) {
  Customers();
  v1::CustomerActivityRequest req;
  req.set_customer_id("c1");
  // as_of defaults to the service clock's now.
  clock_.Set(AsOf());
  absl::StatusOr<v1::CustomerActivityResponse> now = Activity(Scoped(std::nullopt), req);
  ASSERT_OK(now);
  EXPECT_EQ(now->SerializeAsString(),
            queries_->CustomerActivity("c1", AsOf()).value().SerializeAsString());
  *req.mutable_as_of() = event::ToProto(At(2024, 7, 2));
  absl::StatusOr<v1::CustomerActivityResponse> july = Activity(Scoped(std::nullopt), req);
  ASSERT_OK(july);
  EXPECT_EQ(july->complaints_size(), 6);
  // Region scope: outside is NOT_FOUND, as an unknown customer is.
  EXPECT_THAT(Activity(Scoped(Regions{"West"}), req),
              StatusIs(absl::StatusCode::kNotFound, "customer_id: no customer c1"));
  EXPECT_OK(Activity(Scoped(Regions{"East"}), req));
  req.set_customer_id("nobody");
  EXPECT_THAT(Activity(Scoped(std::nullopt), req),
              StatusIs(absl::StatusCode::kNotFound, "customer_id: no customer nobody"));
  // Arguments.
  req.set_customer_id("");
  EXPECT_THAT(Activity(Scoped(std::nullopt), req),
              StatusIs(absl::StatusCode::kInvalidArgument, "customer_id: required, 1-128 bytes"));
  req.set_customer_id(std::string(129, 'c'));
  EXPECT_THAT(Activity(Scoped(std::nullopt), req),
              StatusIs(absl::StatusCode::kInvalidArgument, "customer_id: required, 1-128 bytes"));
  req.set_customer_id("c1");
  req.mutable_as_of()->set_nanos(-1);
  EXPECT_THAT(
      Activity(Scoped(std::nullopt), req),
      StatusIs(absl::StatusCode::kInvalidArgument, "as_of.nanos: must be 0..999999999, got -1"));
}

}  // namespace
}  // namespace custops::review

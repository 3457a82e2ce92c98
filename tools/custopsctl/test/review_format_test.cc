#include "custops/ctl/review_format.h"

#include <string>
#include <vector>

#include "custops/ctl/labels.h"
#include "custops/domain/review.h"
#include "custops/v1/review.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::testing::HasSubstr;

v1::MetricValue Money(int64_t units) {
  v1::MetricValue v;
  v.mutable_money()->set_units(units);
  v.mutable_money()->set_currency("CNY");
  return v;
}

v1::MetricValue Count(int64_t n) {
  v1::MetricValue v;
  v.set_count(n);
  return v;
}

v1::MetricValue Ratio(int64_t n, int64_t d) {
  v1::MetricValue v;
  v.mutable_ratio()->set_numerator(n);
  v.mutable_ratio()->set_denominator(d);
  return v;
}

v1::Fraction Frac(int64_t n, int64_t d) {
  v1::Fraction f;
  f.set_numerator(n);
  f.set_denominator(d);
  return f;
}

v1::MetricUnit WireUnit(domain::MetricUnit unit) {
  switch (unit) {
    case domain::MetricUnit::kMoney:
      return v1::METRIC_UNIT_MONEY;
    case domain::MetricUnit::kCount:
      return v1::METRIC_UNIT_COUNT;
    case domain::MetricUnit::kShare:
      return v1::METRIC_UNIT_SHARE;
    case domain::MetricUnit::kDays:
      return v1::METRIC_UNIT_DAYS;
    case domain::MetricUnit::kHours:
      return v1::METRIC_UNIT_HOURS;
    case domain::MetricUnit::kScore:
      return v1::METRIC_UNIT_SCORE;
  }
  return v1::METRIC_UNIT_UNSPECIFIED;
}

// custopsctl labels exactly the review's metrics, in its order and units:
// a metric added to libs/domain without a label fails here.
TEST(MetricLabelsTest, CoverTheDomainMetricTable) {
  const auto& domain_metrics = domain::AllMetrics();
  ASSERT_EQ(KnownMetrics().size(), domain_metrics.size());
  for (size_t i = 0; i < domain_metrics.size(); ++i) {
    const MetricInfo& known = KnownMetrics()[i];
    EXPECT_EQ(known.name, domain::MetricName(domain_metrics[i])) << i;
    EXPECT_EQ(known.unit, WireUnit(domain::MetricUnitOf(domain_metrics[i]))) << known.name;
    EXPECT_FALSE(known.zh.empty());
    EXPECT_FALSE(known.en.empty());
  }
  EXPECT_EQ(MetricLabel("revenue", Lang::kZh), "营收");
  EXPECT_EQ(MetricLabel("top20_revenue_share", Lang::kZh), "前20%营收占比");
  EXPECT_EQ(MetricLabel("win_rate", Lang::kEn), "Win rate");
  EXPECT_EQ(MetricLabel("brand_new_metric", Lang::kZh), "brand_new_metric");
}

TEST(FormatMetricValueTest, ByUnit) {
  EXPECT_EQ(FormatMetricValue(Money(123456789), v1::METRIC_UNIT_MONEY, Lang::kZh), "¥1,234,567.89");
  EXPECT_EQ(FormatMetricValue(Count(1234), v1::METRIC_UNIT_COUNT, Lang::kZh), "1,234");
  EXPECT_EQ(FormatMetricValue(Ratio(3, 4), v1::METRIC_UNIT_SHARE, Lang::kZh), "75.0%");
  EXPECT_EQ(FormatMetricValue(Ratio(181, 2), v1::METRIC_UNIT_DAYS, Lang::kZh), "90.5 天");
  EXPECT_EQ(FormatMetricValue(Ratio(181, 2), v1::METRIC_UNIT_DAYS, Lang::kEn), "90.5 days");
  EXPECT_EQ(FormatMetricValue(Ratio(49, 6), v1::METRIC_UNIT_HOURS, Lang::kZh), "8.2 小时");
  EXPECT_EQ(FormatMetricValue(Ratio(49, 6), v1::METRIC_UNIT_HOURS, Lang::kEn), "8.2 h");
  EXPECT_EQ(FormatMetricValue(Ratio(17, 4), v1::METRIC_UNIT_SCORE, Lang::kZh), "4.25");
  EXPECT_EQ(FormatMetricValue(Ratio(7, 2), v1::METRIC_UNIT_MONEY, Lang::kZh), "¥0.04");
  EXPECT_EQ(FormatMetricValue(Ratio(-3, 2), v1::METRIC_UNIT_UNSPECIFIED, Lang::kZh), "-1.50");
  EXPECT_EQ(FormatMetricValue(v1::MetricValue(), v1::METRIC_UNIT_MONEY, Lang::kZh), "—");
  EXPECT_EQ(FormatMetricValue(Ratio(1, 0), v1::METRIC_UNIT_SHARE, Lang::kZh), "—");
}

TEST(SparklineTest, LevelsBetweenSmallestAndLargest) {
  const v1::MetricValue a = Count(0), b = Count(7), c = Count(14), none;
  EXPECT_EQ(Sparkline({&a, &b, &c}), "▁▅█");
  EXPECT_EQ(Sparkline({&a, &none, &c}), "▁ █");
  EXPECT_EQ(Sparkline({&b, &b}), "▄▄");
  const v1::MetricValue third = Ratio(1, 3), half = Ratio(1, 2), whole = Ratio(1, 1);
  EXPECT_EQ(Sparkline({&third, &half, &whole}), "▁▃█");
  EXPECT_EQ(Sparkline({}), "");
}

v1::Metric MakeMetric(const std::string& name, v1::MetricUnit unit, v1::MetricValue value,
                      v1::MetricValue previous, v1::MetricValue year_ago) {
  v1::Metric m;
  m.set_name(name);
  m.set_unit(unit);
  *m.mutable_value() = std::move(value);
  *m.mutable_previous() = std::move(previous);
  *m.mutable_year_ago() = std::move(year_ago);
  return m;
}

v1::ReviewReport Report() {
  v1::ReviewReport r;
  r.set_period_key("2024-03");
  r.mutable_period_start()->set_seconds(1709222400);  // 2024-02-29T16:00:00Z
  r.mutable_period_end()->set_seconds(1711900800);    // 2024-03-31T16:00:00Z
  r.set_previous_period_key("2024-02");
  r.set_year_ago_period_key("2023-03");
  r.set_dimension(v1::DIMENSION_REGION);
  r.set_dimension_value("华东");
  v1::Metric* revenue = r.add_metrics();
  *revenue = MakeMetric("revenue", v1::METRIC_UNIT_MONEY, Money(123456789), Money(100000000),
                        v1::MetricValue());
  *revenue->mutable_change_vs_previous() = Frac(23456789, 100000000);
  v1::Metric* win_rate = r.add_metrics();
  *win_rate = MakeMetric("win_rate", v1::METRIC_UNIT_SHARE, Ratio(3, 4), Ratio(1, 2), Ratio(3, 4));
  *win_rate->mutable_change_vs_previous() = Frac(1, 2);
  *win_rate->mutable_change_vs_year_ago() = Frac(0, 1);
  *r.add_metrics() = MakeMetric("sales_cycle_days", v1::METRIC_UNIT_DAYS, Ratio(181, 2),
                                v1::MetricValue(), v1::MetricValue());
  *r.add_metrics() = MakeMetric("market_share", v1::METRIC_UNIT_SHARE, v1::MetricValue(),
                                v1::MetricValue(), v1::MetricValue());
  v1::Metric* lost = r.add_metrics();
  *lost = MakeMetric("lost_customers", v1::METRIC_UNIT_COUNT, Count(5), Count(4), Count(1));
  *lost->mutable_change_vs_previous() = Frac(1, 4);
  *lost->mutable_change_vs_year_ago() = Frac(4, 1);
  return r;
}

TEST(FormatReviewReportTest, MetricsInChinese) {
  EXPECT_EQ(
      FormatReviewReport(Report(), {.lang = Lang::kZh}),
      "复盘 2024-03 (月) · 区域: 华东\n"
      "期间 2024-02-29T16:00:00Z ~ 2024-03-31T16:00:00Z · 上期 2024-02 · 去年同期 2023-03\n"
      "\n"
      "指标      名称                       本期           上期    环比  去年同期     同比\n"
      "营收      revenue           ¥1,234,567.89  ¥1,000,000.00  ↑23.5%         —        —\n"
      "赢单率    win_rate                  75.0%          50.0%  ↑50.0%     75.0%     0.0%\n"
      "销售周期  sales_cycle_days        90.5 天              —       —         —        —\n"
      "市场占有  market_share                  —              —       —         —        —\n"
      "流失客户  lost_customers                5              4  ↑25.0%         1  ↑400.0%\n");
}

TEST(FormatReviewReportTest, EnglishFindingsActionsAndTrend) {
  v1::ReviewReport r = Report();
  for (int i = 0; i < r.metrics_size(); ++i) {
    if (r.metrics(i).name() == "lost_customers") {
      *r.mutable_metrics(i)->add_history() = Count(1);
      *r.mutable_metrics(i)->add_history() = Count(3);
      *r.mutable_metrics(i)->add_history() = Count(5);
    }
  }
  v1::Finding* f = r.add_findings();
  f->set_rule_id("churn_up");
  f->set_metric("lost_customers");
  f->set_condition("relative_rise");
  f->set_baseline("previous");
  f->set_severity(v1::SEVERITY_HIGH);
  *f->mutable_value() = Count(5);
  *f->mutable_base() = Count(4);
  *f->mutable_change() = Frac(1, 4);
  *f->mutable_threshold() = Frac(1, 5);
  for (const char* id : {"C1", "C2", "C3", "C4", "C5"}) f->add_customer_ids(id);
  v1::Finding* g = r.add_findings();
  g->set_rule_id("revenue_below");
  g->set_metric("revenue");
  g->set_condition("below");
  g->set_baseline("none");
  g->set_severity(v1::SEVERITY_MEDIUM);
  *g->mutable_value() = Money(123456789);
  *g->mutable_threshold() = Frac(200000000, 1);
  v1::ReviewAction* a = r.add_actions();
  a->set_action_id("A-1");
  a->set_review_period("2024-02");
  a->set_finding("churn_up");
  a->set_owner("rep-01");
  a->mutable_due()->set_seconds(1711900800);
  a->set_description("call the lost");
  a->set_metric("lost_customers");
  *a->mutable_value_then() = Count(4);
  *a->mutable_value_now() = Count(5);
  const std::string out = FormatReviewReport(r, {.lang = Lang::kEn});
  EXPECT_THAT(out, HasSubstr("review 2024-03 (month) · REGION: 华东\n"
                             "period 2024-02-29T16:00:00Z ~ 2024-03-31T16:00:00Z · previous "
                             "2024-02 · year ago 2023-03\n"));
  EXPECT_THAT(out, HasSubstr("METRIC          NAME                      VALUE       PREVIOUS  "
                             "VS PREVIOUS  YEAR AGO  VS YEAR AGO  TREND\n"
                             "Revenue         revenue           ¥1,234,567.89  ¥1,000,000.00       "
                             "↑23.5%         —            —\n"));
  EXPECT_THAT(out, HasSubstr("Sales cycle     sales_cycle_days      90.5 days              —    "
                             "        —         —            —\n"));
  EXPECT_THAT(out, HasSubstr("Lost customers  lost_customers                5              4    "
                             "   ↑25.0%         1      ↑400.0%  ▁▅█\n"));
  EXPECT_THAT(out, HasSubstr("findings\n"
                             "SEVERITY  RULE           METRIC          CONDITION                 "
                             "      VALUE  BASE  CHANGE  SUBJECTS\n"
                             "HIGH      churn_up       Lost customers  up > 20.0% vs previous    "
                             "          5     4  ↑25.0%  C1, C2, C3 +2\n"
                             "MEDIUM    revenue_below  Revenue         < ¥2,000,000.00         "
                             "¥1,234,567.89     —       —  —\n"));
  EXPECT_THAT(out, HasSubstr("actions\n"
                             "ACTION  PLANNED IN  FINDING   OWNER   DUE                   STATUS  "
                             "METRIC          THEN  NOW  DESCRIPTION\n"
                             "A-1     2024-02     churn_up  rep-01  2024-03-31T16:00:00Z  open    "
                             "Lost customers     4    5  call the lost\n"));
}

TEST(FormatFunnelTest, StagesTotalsAndLosses) {
  v1::FunnelResponse funnel;
  funnel.set_period_key("2024-Q1");
  v1::FunnelSlice* s = funnel.add_slices();
  s->set_dimension_value("华东");
  const v1::FunnelStage stages[] = {v1::FUNNEL_STAGE_OPPORTUNITY, v1::FUNNEL_STAGE_FIRST_VISIT};
  const int64_t entered[] = {4, 3};
  const int64_t advanced[] = {3, 0};
  for (int i = 0; i < 2; ++i) {
    v1::FunnelStageRow* row = s->add_stages();
    row->set_stage(stages[i]);
    row->set_entered(entered[i]);
    row->set_advanced(advanced[i]);
    *row->mutable_conversion() = Frac(advanced[i], entered[i]);
  }
  v1::FunnelStageRow* empty = s->add_stages();
  empty->set_stage(v1::FUNNEL_STAGE_NEED_CONFIRMED);
  s->set_won(3);
  s->set_lost(1);
  *s->mutable_win_rate() = Frac(3, 4);
  *s->mutable_sales_cycle_days() = Frac(181, 2);
  s->set_open_opportunities(12);
  s->mutable_weighted_pipeline()->set_units(1234500);
  s->mutable_weighted_pipeline()->set_currency("CNY");
  v1::CompetitorLoss* loss = s->add_losses_by_competitor();
  loss->set_competitor("");
  loss->set_opportunities(1);
  loss->mutable_amount()->set_units(50000);
  EXPECT_EQ(FormatFunnel(funnel, {.lang = Lang::kZh, .dimension = v1::DIMENSION_REGION}),
            "漏斗 2024-Q1 (季) · 按区域\n"
            "\n"
            "区域: 华东\n"
            "阶段      名称            进入  推进  转化率\n"
            "商机      OPPORTUNITY        4     3   75.0%\n"
            "初次拜访  FIRST_VISIT        3     0    0.0%\n"
            "需求确认  NEED_CONFIRMED     0     0       —\n"
            "\n"
            "赢单  丢单  赢单率  销售周期  在途商机    加权管道\n"
            "   3     1   75.0%   90.5 天        12  ¥12,345.00\n"
            "\n"
            "丢单给    商机     金额\n"
            "(未注明)     1  ¥500.00\n");
  funnel.mutable_slices(0)->clear_dimension_value();
  EXPECT_THAT(FormatFunnel(funnel, {.lang = Lang::kEn}),
              HasSubstr("funnel 2024-Q1 (quarter)\n\nall\nSTAGE           ENTERED"));
}

TEST(FormatWorklistTest, RowsAndCounts) {
  v1::WorklistResponse w;
  v1::WorklistItem* a = w.add_items();
  a->set_customer_id("C000001");
  a->set_reason("COMPLAINT_SLA");
  a->set_subject_id("K-9");
  a->mutable_at()->set_seconds(1711900800);
  a->set_urgency("PAST");
  a->set_customer_name("上海瑞丰机械");
  a->set_owner_id("rep-01");
  a->set_region("华东");
  v1::WorklistItem* b = w.add_items();
  b->set_customer_id("C000001");
  b->set_reason("CONTACT_OVERDUE");
  b->set_subject_id("C000001");
  b->mutable_at()->set_seconds(1711900800);
  b->set_customer_name("上海瑞丰机械");
  b->set_owner_id("rep-01");
  b->set_region("华东");
  EXPECT_EQ(
      FormatWorklist(w, {.lang = Lang::kZh}),
      "客户     客户名称      负责人  区域  事项          对象  时间                  紧急\n"
      "C000001  上海瑞丰机械  rep-01  华东  投诉SLA       K-9   2024-03-31T16:00:00Z  已超时\n"
      "C000001  上海瑞丰机械  rep-01  华东  该联系未联系  —     2024-03-31T16:00:00Z  —\n"
      "\n"
      "共 2 项, 1 个客户\n");
  EXPECT_THAT(FormatWorklist(w, {.lang = Lang::kEn}),
              HasSubstr("COMPLAINT_SLA    K-9      2024-03-31T16:00:00Z  PAST\n"));
  EXPECT_EQ(
      FormatWorklist(v1::WorklistResponse(), {.lang = Lang::kEn}),
      "CUSTOMER  NAME  OWNER  REGION  REASON  SUBJECT  AT  URGENCY\n\n0 items, 0 customers\n");
}

TEST(FormatCompareReviewTest, OneColumnPerMetric) {
  v1::CompareReviewResponse c;
  c.set_period_key("2024-03");
  c.set_dimension(v1::DIMENSION_OWNER);
  const char* owners[] = {"rep-01", "rep-02"};
  for (int i = 0; i < 2; ++i) {
    v1::ReviewRow* row = c.add_rows();
    row->set_dimension_value(owners[i]);
    v1::Metric* revenue = row->add_metrics();
    *revenue = MakeMetric("revenue", v1::METRIC_UNIT_MONEY, Money(100000 * (i + 1)), Money(100000),
                          v1::MetricValue());
    *revenue->mutable_change_vs_previous() = Frac(i, 1);
    *row->add_metrics() =
        MakeMetric("win_rate", v1::METRIC_UNIT_SHARE, i == 0 ? Ratio(1, 3) : v1::MetricValue(),
                   v1::MetricValue(), v1::MetricValue());
  }
  EXPECT_EQ(FormatCompareReview(c, {.lang = Lang::kZh}),
            "对比 2024-03 (月) · 按负责人\n"
            "\n"
            "负责人       营收  赢单率\n"
            "rep-01  ¥1,000.00   33.3%\n"
            "rep-02  ¥2,000.00       —\n"
            "\n"
            "行数: 2\n");
  EXPECT_EQ(
      FormatCompareReview(
          c, {.lang = Lang::kEn, .metrics = {"win_rate", "revenue", "visits"}, .changes = true}),
      "compare 2024-03 (month) by OWNER\n"
      "\n"
      "OWNER   win_rate            revenue  visits\n"
      "rep-01     33.3%     ¥1,000.00 0.0%       —\n"
      "rep-02         —  ¥2,000.00 ↑100.0%       —\n"
      "\n"
      "rows: 2\n");
}

}  // namespace
}  // namespace custops::ctl

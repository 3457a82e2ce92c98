#include "custops/ctl/value_format.h"

#include <string>

#include "custops/v1/value.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::ctl {
namespace {

using ::testing::HasSubstr;

void SetMoney(v1::Money* m, int64_t units) {
  m->set_units(units);
  m->set_currency("CNY");
}

v1::TierCount Count(const std::string& value, v1::Tier tier, int64_t n, int64_t margin,
                    int64_t revenue, int64_t negative) {
  v1::TierCount c;
  c.set_dimension_value(value);
  c.set_tier(tier);
  c.set_count(n);
  SetMoney(c.mutable_margin(), margin);
  SetMoney(c.mutable_revenue(), revenue);
  c.set_negative_assets(negative);
  return c;
}

TEST(FormatTierSummaryTest, AllDimension) {
  v1::TierSummaryResponse r;
  r.set_dimension(v1::DIMENSION_ALL);
  r.mutable_as_of()->set_seconds(1751299200);
  *r.add_counts() = Count("", v1::TIER_DIAMOND, 1, 123456789, 200000000, 0);
  *r.add_counts() = Count("", v1::TIER_IRON, 2, -5000, 10000, 1);
  *r.add_counts() = Count("", v1::TIER_SMALL, 5, 0, 0, 0);
  r.set_total(8);
  EXPECT_EQ(FormatTierSummary(r, Lang::kZh),
            "档位分布 · 截至 2025-06-30T16:00:00Z\n"
            "\n"
            "档位    客户    占比           毛利           营收  负资产\n"
            "钻石       1   12.5%  ¥1,234,567.89  ¥2,000,000.00       0\n"
            "铁         2   25.0%        -¥50.00        ¥100.00       1\n"
            "小潜客     5   62.5%          ¥0.00          ¥0.00       0\n"
            "合计       8  100.0%  ¥1,234,517.89  ¥2,000,100.00       1\n"
            "\n"
            "客户总数: 8\n");
}

TEST(FormatTierSummaryTest, ByRegionHasSubtotals) {
  v1::TierSummaryResponse r;
  r.set_dimension(v1::DIMENSION_REGION);
  *r.add_counts() = Count("华东", v1::TIER_GOLD, 1, 100, 200, 0);
  *r.add_counts() = Count("华东", v1::TIER_SILVER, 2, 100, 200, 0);
  *r.add_counts() = Count("西南", v1::TIER_GOLD, 1, 100, 200, 0);
  r.set_total(4);
  EXPECT_EQ(FormatTierSummary(r, Lang::kEn),
            "tiers by REGION\n"
            "\n"
            "REGION  TIER      CUSTOMERS   SHARE  MARGIN  REVENUE  NEGATIVE ASSETS\n"
            "华东    GOLD              1   33.3%   ¥1.00    ¥2.00                0\n"
            "华东    SILVER            2   66.7%   ¥1.00    ¥2.00                0\n"
            "华东    subtotal          3  100.0%   ¥2.00    ¥4.00                0\n"
            "西南    GOLD              1  100.0%   ¥1.00    ¥2.00                0\n"
            "西南    subtotal          1  100.0%   ¥1.00    ¥2.00                0\n"
            "TOTAL                     4  100.0%   ¥3.00    ¥6.00                0\n"
            "\n"
            "total: 4\n");
}

TEST(FormatParetoTest, SharesFromPermille) {
  v1::ParetoResponse p;
  p.set_dimension(v1::DIMENSION_REGION);
  v1::ParetoSlice* s = p.add_slices();
  s->set_dimension_value("华东");
  s->set_customers(10);
  SetMoney(s->mutable_revenue(), 100000000);
  SetMoney(s->mutable_top20_revenue(), 75390000);
  s->set_top20_share_permille(753);
  s->set_a_customers(2);
  s->set_b_customers(3);
  s->set_c_customers(5);
  SetMoney(s->mutable_a_revenue(), 80000000);
  SetMoney(s->mutable_b_revenue(), 15000000);
  SetMoney(s->mutable_c_revenue(), 5000000);
  v1::ParetoSlice* empty = p.add_slices();
  empty->set_dimension_value("西北");
  SetMoney(empty->mutable_revenue(), 0);
  const std::string out = FormatPareto(p, Lang::kZh);
  EXPECT_THAT(out, HasSubstr("二八分析 · 按区域\n\n"));
  EXPECT_THAT(out, HasSubstr("区域  客户           营收    前20%营收  前20%占比  A类客户      "
                             "A类营收  B类客户      B类营收  C类客户     C类营收\n"
                             "华东    10  ¥1,000,000.00  ¥753,900.00      75.3%        2  "
                             "¥800,000.00        3  ¥150,000.00        5  ¥50,000.00\n"
                             "西北     0          ¥0.00        ¥0.00          —        0        "
                             "¥0.00        0        ¥0.00        0       ¥0.00\n"));
}

TEST(FormatValueViewTest, ProfileScoresAndClv) {
  v1::ValueView v;
  v.set_customer_id("C000007");
  v.set_name("苏州聚鑫");
  v.mutable_as_of()->set_seconds(1751299200);
  v.set_region("华东");
  v.set_industry("能源");
  v.set_owner_id("rep-03");
  v.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  v.set_tier(v1::TIER_GOLD);
  v.set_segment("Loyal");
  v.set_abc_class("A");
  SetMoney(v.mutable_revenue(), 100110000);
  SetMoney(v.mutable_margin(), 59974100);
  v.set_margin_rank(8);
  v.set_population(93);
  v.set_loyalty(v1::LOYALTY_LOYAL);
  v.mutable_rfm()->set_recency_days(83);
  v.mutable_rfm()->set_frequency(2);
  v.mutable_rfm()->set_r_score(4);
  v.mutable_rfm()->set_f_score(5);
  v.mutable_rfm()->set_m_score(5);
  v.mutable_clv()->set_model_fitted(true);
  v.mutable_clv()->set_horizon_months(12);
  v.mutable_clv()->set_p_alive(0.8766);
  v.mutable_clv()->set_expected_margin(20545066.6);
  SetMoney(v.mutable_clv()->mutable_predicted(), 10170018);
  const std::string out = FormatValueView(v, Lang::kZh);
  EXPECT_THAT(out, HasSubstr("客户价值 C000007 苏州聚鑫 截至 2025-06-30T16:00:00Z\n"
                             "区域 华东 · 行业 能源 · 负责人 rep-03 · 类型 CUSTOMER\n\n"));
  EXPECT_THAT(out, HasSubstr("档位                tier                    黄金\n"));
  EXPECT_THAT(out, HasSubstr("营收                revenue                 ¥1,001,100.00\n"));
  EXPECT_THAT(out, HasSubstr("服务成本            cost_to_serve           —\n"));
  EXPECT_THAT(out, HasSubstr("毛利排名            margin_rank             9 / 93\n"));
  EXPECT_THAT(out, HasSubstr("忠诚度              loyalty                 忠诚\n"));
  EXPECT_THAT(out, HasSubstr("距上次购买          rfm.recency_days        83 天\n"));
  EXPECT_THAT(out, HasSubstr("RFM 评分            rfm.*_score             R4 F5 M5\n"));
  EXPECT_THAT(out, HasSubstr("预测价值 (12 个月)  clv.predicted           ¥101,700.18\n"));
  EXPECT_THAT(out, HasSubstr("存活概率            clv.p_alive             87.7%\n"));
  EXPECT_THAT(out, HasSubstr("预期单次毛利        clv.expected_margin     ¥205,450.67\n"));
}

TEST(FormatValueListTest, RowsAndCount) {
  v1::ListValueCustomersResponse list;
  v1::ValueSummary* c = list.add_customers();
  c->set_customer_id("C1");
  c->set_name("Acme");
  c->set_tier(v1::TIER_PLATINUM);
  c->set_negative_asset(true);
  SetMoney(c->mutable_margin(), -100);
  EXPECT_EQ(
      FormatValueList(list, Lang::kEn),
      "CUSTOMER  NAME  TIER      SEGMENT  ABC  NEGATIVE  MARGIN  REVENUE  REGION  INDUSTRY  "
      "OWNER\n"
      "C1        Acme  PLATINUM  —        —    yes       -¥1.00  —        —       —         —\n"
      "\n"
      "customers: 1\n");
}

TEST(FormatClvModelTest, Parameters) {
  v1::ClvModel m;
  m.set_customers(93);
  m.set_repeat_buyers(40);
  m.set_r(0.50849);
  m.set_bg_converged(true);
  const std::string out = FormatClvModel(m, Lang::kEn);
  EXPECT_THAT(out, HasSubstr("Customers                    customers          93\n"));
  EXPECT_THAT(out, HasSubstr("BG/NBD r                     r                  0.5085\n"));
  EXPECT_THAT(out, HasSubstr("BG/NBD converged             bg_converged       yes\n"));
  EXPECT_THAT(out, HasSubstr("Fitted as of                 fitted_as_of       —\n"));
}

}  // namespace
}  // namespace custops::ctl

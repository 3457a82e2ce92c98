#include "custops/ctl/value_format.h"

#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "custops/ctl/format.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/numbers.h"
#include "custops/ctl/parse.h"
#include "custops/v1/value.pb.h"

namespace custops::ctl {
namespace {

std::string S(std::string_view v) { return std::string(v); }

std::string Or(const std::string& s) { return s.empty() ? S(kNull) : s; }

std::string Money(bool has, const v1::Money& m) {
  return has ? FormatMoney(m.units(), m.currency()) : S(kNull);
}

std::string YesNo(bool b, Lang lang) {
  return S(b ? Pick(lang, "是", "yes") : Pick(lang, "否", "no"));
}

// A model estimate (a double on the wire), rounded for reading.
std::string Estimate(double v, int decimals) {
  if (!std::isfinite(v)) return S(kNull);
  return absl::StrFormat("%.*f", decimals, v);
}

// Minor units held in a double (Gamma-Gamma's expected margin) as money:
// rounded to whole minor units first, then written exactly.
std::string MoneyFromEstimate(double units, const std::string& currency) {
  if (!std::isfinite(units) || std::fabs(units) > 9.2e18) return S(kNull);
  return FormatMoney(static_cast<int64_t>(std::llround(units)), currency);
}

// Sums of one group of TierCount rows.
struct Totals {
  int64_t count = 0;
  int64_t margin = 0;
  int64_t revenue = 0;
  int64_t negative = 0;
  std::string currency;
  void Add(const v1::TierCount& c) {
    count += c.count();
    margin += c.margin().units();
    revenue += c.revenue().units();
    negative += c.negative_assets();
    if (currency.empty()) currency = c.margin().currency();
  }
};

bool ByAll(v1::Dimension d) { return d == v1::DIMENSION_UNSPECIFIED || d == v1::DIMENSION_ALL; }

// "by 区域 as of 2025-06-30T16:00:00Z".
std::string TitleTail(v1::Dimension dimension, bool has_as_of,
                      const google::protobuf::Timestamp& as_of, Lang lang) {
  std::string out;
  if (!ByAll(dimension))
    absl::StrAppend(&out, Pick(lang, " · 按", " by "), DimensionLabel(dimension, lang));
  if (has_as_of)
    absl::StrAppend(&out, Pick(lang, " · 截至 ", " as of "), FormatTimestamp(true, as_of));
  return out;
}

}  // namespace

std::string FormatValueView(const v1::ValueView& v, Lang lang) {
  std::string out = absl::StrCat(Pick(lang, "客户价值 ", "value of "), v.customer_id());
  if (!v.name().empty()) absl::StrAppend(&out, " ", v.name());
  if (v.has_as_of())
    absl::StrAppend(&out, Pick(lang, " 截至 ", " as of "), FormatTimestamp(true, v.as_of()));
  absl::StrAppend(
      &out, "\n", Pick(lang, "区域 ", "region "), Or(v.region()),
      Pick(lang, " · 行业 ", " · industry "), Or(v.industry()),
      Pick(lang, " · 负责人 ", " · owner "), Or(v.owner_id()), Pick(lang, " · 类型 ", " · kind "),
      v.kind() == 0 ? S(kNull) : ShortEnumName(*v1::CustomerKind_descriptor(), v.kind()), "\n\n");

  Table t({S(Pick(lang, "项目", "FIELD")), S(Pick(lang, "字段", "NAME")),
           S(Pick(lang, "值", "VALUE"))});
  auto row = [&](const char* zh, const char* en, const char* field, std::string value) {
    t.AddRow({S(Pick(lang, zh, en)), S(field), std::move(value)});
  };
  row("档位", "Tier", "tier", Or(TierLabel(v.tier(), lang)));
  row("细分", "Segment", "segment", Or(v.segment()));
  row("ABC 分类", "ABC class", "abc_class", Or(v.abc_class()));
  row("营收", "Revenue", "revenue", Money(v.has_revenue(), v.revenue()));
  row("毛利", "Margin", "margin", Money(v.has_margin(), v.margin()));
  row("服务成本", "Cost to serve", "cost_to_serve",
      Money(v.has_cost_to_serve(), v.cost_to_serve()));
  row("净贡献", "Net contribution", "net_contribution",
      Money(v.has_net_contribution(), v.net_contribution()));
  row("负资产", "Negative asset", "negative_asset", YesNo(v.negative_asset(), lang));
  row("加权管道", "Weighted pipeline", "weighted_pipeline",
      Money(v.has_weighted_pipeline(), v.weighted_pipeline()));
  row("转介绍毛利", "Referred margin", "referred_margin",
      Money(v.has_referred_margin(), v.referred_margin()));
  row("毛利排名", "Margin rank", "margin_rank",
      v.population() > 0
          ? absl::StrCat(FormatInteger(v.margin_rank() + 1), " / ", FormatInteger(v.population()))
          : S(kNull));
  row("忠诚度", "Loyalty", "loyalty", Or(LoyaltyLabel(v.loyalty(), lang)));
  if (v.has_rfm()) {
    const v1::Rfm& r = v.rfm();
    row("距上次购买", "Recency", "rfm.recency_days",
        FormatInteger(r.recency_days()) + S(DaysUnit(lang)));
    row("购买次数", "Frequency", "rfm.frequency", FormatInteger(r.frequency()));
    row("购买金额", "Monetary", "rfm.monetary", Money(r.has_monetary(), r.monetary()));
    row("RFM 评分", "RFM scores", "rfm.*_score",
        absl::StrCat("R", r.r_score(), " F", r.f_score(), " M", r.m_score()));
  }
  if (v.has_clv()) {
    const v1::Clv& c = v.clv();
    row("历史价值", "Historical CLV", "clv.historical", Money(c.has_historical(), c.historical()));
    const std::string horizon =
        c.horizon_months() > 0 ? absl::StrCat(Pick(lang, "预测价值 (", "Predicted CLV ("),
                                              c.horizon_months(), Pick(lang, " 个月)", " months)"))
                               : S(Pick(lang, "预测价值", "Predicted CLV"));
    t.AddRow({horizon, "clv.predicted", Money(c.has_predicted(), c.predicted())});
    if (c.model_fitted()) {
      row("存活概率", "P(alive)", "clv.p_alive",
          std::isfinite(c.p_alive()) ? Estimate(c.p_alive() * 100, 1) + "%" : S(kNull));
      row("预期购买", "Expected purchases", "clv.expected_purchases",
          Estimate(c.expected_purchases(), 2));
      row("预期单次毛利", "Expected margin", "clv.expected_margin",
          MoneyFromEstimate(c.expected_margin(), v.margin().currency()));
    } else {
      row("CLV 模型", "CLV model", "clv.model_fitted", S(Pick(lang, "未拟合", "not fitted")));
    }
  }
  if (v.has_summary()) {
    const v1::LifetimesSummary& s = v.summary();
    row("复购天数", "Repeat days", "summary.frequency", Estimate(s.frequency(), 0));
    row("首末购买间隔", "Recency", "summary.recency", Estimate(s.recency(), 0) + S(DaysUnit(lang)));
    row("客户年龄", "Age", "summary.t", Estimate(s.t(), 0) + S(DaysUnit(lang)));
    row("复购平均毛利", "Repeat mean margin", "summary.monetary_value",
        MoneyFromEstimate(s.monetary_value(), v.margin().currency()));
  }
  out += t.Render();
  return out;
}

std::string FormatValueList(const v1::ListValueCustomersResponse& list, Lang lang) {
  std::string out;
  if (list.has_as_of()) {
    absl::StrAppend(&out, Pick(lang, "截至 ", "as of "), FormatTimestamp(true, list.as_of()),
                    "\n\n");
  }
  Table t({S(Pick(lang, "客户", "CUSTOMER")), S(Pick(lang, "名称", "NAME")),
           S(Pick(lang, "档位", "TIER")), S(Pick(lang, "细分", "SEGMENT")), "ABC",
           S(Pick(lang, "负资产", "NEGATIVE")), S(Pick(lang, "毛利", "MARGIN")),
           S(Pick(lang, "营收", "REVENUE")), S(Pick(lang, "区域", "REGION")),
           S(Pick(lang, "行业", "INDUSTRY")), S(Pick(lang, "负责人", "OWNER"))});
  for (const v1::ValueSummary& c : list.customers()) {
    t.AddRow({c.customer_id(), Or(c.name()), Or(TierLabel(c.tier(), lang)), Or(c.segment()),
              Or(c.abc_class()), c.negative_asset() ? YesNo(true, lang) : S(kNull),
              Money(c.has_margin(), c.margin()), Money(c.has_revenue(), c.revenue()),
              Or(c.region()), Or(c.industry()), Or(c.owner_id())});
  }
  absl::StrAppend(&out, t.Render(), "\n", Pick(lang, "客户数: ", "customers: "),
                  FormatInteger(list.customers_size()), "\n");
  return out;
}

std::string FormatTierSummary(const v1::TierSummaryResponse& summary, Lang lang) {
  const bool by_all = ByAll(summary.dimension());
  std::string out = absl::StrCat(
      Pick(lang, "档位分布", "tiers"),
      TitleTail(summary.dimension(), summary.has_as_of(), summary.as_of(), lang), "\n\n");
  std::vector<std::string> header;
  if (!by_all) header.push_back(DimensionLabel(summary.dimension(), lang));
  for (std::string_view h :
       {Pick(lang, "档位", "TIER"), Pick(lang, "客户", "CUSTOMERS"), Pick(lang, "占比", "SHARE"),
        Pick(lang, "毛利", "MARGIN"), Pick(lang, "营收", "REVENUE"),
        Pick(lang, "负资产", "NEGATIVE ASSETS")}) {
    header.push_back(S(h));
  }
  Table t(header);
  // Groups of rows with one dimension value, in the server's order.
  std::vector<std::vector<const v1::TierCount*>> groups;
  for (const v1::TierCount& c : summary.counts()) {
    if (groups.empty() || groups.back().front()->dimension_value() != c.dimension_value()) {
      groups.emplace_back();
    }
    groups.back().push_back(&c);
  }
  auto add = [&](const std::string& value, const std::string& tier, const Totals& totals,
                 int64_t of) {
    std::vector<std::string> cells;
    if (!by_all) cells.push_back(value);
    cells.push_back(tier);
    cells.push_back(FormatInteger(totals.count));
    cells.push_back(FormatPercent(totals.count, of));
    cells.push_back(FormatMoney(totals.margin, totals.currency));
    cells.push_back(FormatMoney(totals.revenue, totals.currency));
    cells.push_back(FormatInteger(totals.negative));
    t.AddRow(std::move(cells));
  };
  Totals all;
  for (const auto& group : groups) {
    Totals sub;
    for (const v1::TierCount* c : group) sub.Add(*c);
    const std::string value = Or(group.front()->dimension_value());
    for (const v1::TierCount* c : group) {
      Totals one;
      one.Add(*c);
      add(value, Or(TierLabel(c->tier(), lang)), one, sub.count);
    }
    if (groups.size() > 1) add(value, S(Pick(lang, "小计", "subtotal")), sub, sub.count);
    for (const v1::TierCount* c : group) all.Add(*c);
  }
  add(S(Pick(lang, "合计", "TOTAL")), by_all ? S(Pick(lang, "合计", "TOTAL")) : "", all, all.count);
  out += t.Render();
  absl::StrAppend(&out, "\n", Pick(lang, "客户总数: ", "total: "), FormatInteger(summary.total()),
                  "\n");
  return out;
}

std::string FormatPareto(const v1::ParetoResponse& pareto, Lang lang) {
  const bool by_all = ByAll(pareto.dimension());
  std::string out =
      absl::StrCat(Pick(lang, "二八分析", "revenue concentration"),
                   TitleTail(pareto.dimension(), pareto.has_as_of(), pareto.as_of(), lang), "\n\n");
  std::vector<std::string> header;
  if (!by_all) header.push_back(DimensionLabel(pareto.dimension(), lang));
  for (std::string_view h :
       {Pick(lang, "客户", "CUSTOMERS"), Pick(lang, "营收", "REVENUE"),
        Pick(lang, "前20%营收", "TOP 20% REVENUE"), Pick(lang, "前20%占比", "TOP 20% SHARE"),
        Pick(lang, "A类客户", "A"), Pick(lang, "A类营收", "A REVENUE"), Pick(lang, "B类客户", "B"),
        Pick(lang, "B类营收", "B REVENUE"), Pick(lang, "C类客户", "C"),
        Pick(lang, "C类营收", "C REVENUE")}) {
    header.push_back(S(h));
  }
  Table t(header);
  for (const v1::ParetoSlice& s : pareto.slices()) {
    std::vector<std::string> cells;
    if (!by_all) cells.push_back(Or(s.dimension_value()));
    cells.push_back(FormatInteger(s.customers()));
    cells.push_back(Money(true, s.revenue()));
    cells.push_back(Money(true, s.top20_revenue()));
    // Permille (floor) from the server, written as a percentage.
    cells.push_back(s.revenue().units() == 0 ? S(kNull)
                                             : FormatPercent(s.top20_share_permille(), 1000));
    cells.push_back(FormatInteger(s.a_customers()));
    cells.push_back(Money(true, s.a_revenue()));
    cells.push_back(FormatInteger(s.b_customers()));
    cells.push_back(Money(true, s.b_revenue()));
    cells.push_back(FormatInteger(s.c_customers()));
    cells.push_back(Money(true, s.c_revenue()));
    t.AddRow(std::move(cells));
  }
  out += t.Render();
  return out;
}

std::string FormatClvModel(const v1::ClvModel& m, Lang lang) {
  std::string out = absl::StrCat(
      Pick(lang, "CLV 模型 (BG/NBD + Gamma-Gamma)", "CLV model (BG/NBD + Gamma-Gamma)"), "\n\n");
  Table t({S(Pick(lang, "项目", "FIELD")), S(Pick(lang, "字段", "NAME")),
           S(Pick(lang, "值", "VALUE"))});
  auto row = [&](const char* zh, const char* en, const char* field, std::string value) {
    t.AddRow({S(Pick(lang, zh, en)), S(field), std::move(value)});
  };
  row("拟合时点", "Fitted as of", "fitted_as_of",
      FormatTimestamp(m.has_fitted_as_of(), m.fitted_as_of()));
  row("客户数", "Customers", "customers", FormatInteger(m.customers()));
  row("复购客户", "Repeat buyers", "repeat_buyers", FormatInteger(m.repeat_buyers()));
  row("BG/NBD r", "BG/NBD r", "r", Estimate(m.r(), 4));
  row("BG/NBD α (天)", "BG/NBD alpha (days)", "alpha", Estimate(m.alpha(), 4));
  row("BG/NBD a", "BG/NBD a", "a", Estimate(m.a(), 4));
  row("BG/NBD b", "BG/NBD b", "b", Estimate(m.b(), 4));
  row("BG/NBD 收敛", "BG/NBD converged", "bg_converged", YesNo(m.bg_converged(), lang));
  row("BG/NBD 对数似然", "BG/NBD log-likelihood", "bg_log_likelihood",
      Estimate(m.bg_log_likelihood(), 2));
  row("Gamma-Gamma p", "Gamma-Gamma p", "p", Estimate(m.p(), 4));
  row("Gamma-Gamma q", "Gamma-Gamma q", "q", Estimate(m.q(), 4));
  row("Gamma-Gamma v (分)", "Gamma-Gamma v (minor units)", "v", Estimate(m.v(), 2));
  row("Gamma-Gamma 收敛", "Gamma-Gamma converged", "gg_converged", YesNo(m.gg_converged(), lang));
  row("Gamma-Gamma 对数似然", "Gamma-Gamma log-likelihood", "gg_log_likelihood",
      Estimate(m.gg_log_likelihood(), 2));
  out += t.Render();
  return out;
}

}  // namespace custops::ctl

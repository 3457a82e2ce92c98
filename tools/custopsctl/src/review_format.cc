#include "custops/ctl/review_format.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "custops/ctl/format.h"
#include "custops/ctl/labels.h"
#include "custops/ctl/numbers.h"
#include "custops/v1/review.pb.h"

namespace custops::ctl {
namespace {

std::string S(std::string_view v) { return std::string(v); }

std::string Or(const std::string& s) { return s.empty() ? S(kNull) : s; }

// The unit of `name`: from the report's own metrics when it has them, else
// from custopsctl's table.
v1::MetricUnit UnitOf(std::string_view name,
                      const google::protobuf::RepeatedPtrField<v1::Metric>& metrics) {
  for (const v1::Metric& m : metrics) {
    if (m.name() == name) return m.unit();
  }
  const MetricInfo* info = FindMetric(name);
  return info == nullptr ? v1::METRIC_UNIT_UNSPECIFIED : info->unit;
}

v1::MetricValue RatioValue(const v1::Fraction& f) {
  v1::MetricValue v;
  *v.mutable_ratio() = f;
  return v;
}

// "2024-03 (月) · 区域: 华东".
std::string PeriodAndSlice(const std::string& period_key, v1::Granularity granularity,
                           v1::Dimension dimension, const std::string& value, Lang lang) {
  std::string out = period_key;
  const std::string g = GranularityLabel(granularity, lang);
  if (!g.empty()) absl::StrAppend(&out, " (", g, ")");
  absl::StrAppend(&out, " · ", DimensionLabel(dimension, lang));
  if (!value.empty()) absl::StrAppend(&out, ": ", value);
  return out;
}

// The granularity a period key was made for (docs/review.md "Periods").
v1::Granularity GranularityOfKey(std::string_view key) {
  if (key.size() == 4) return v1::GRANULARITY_YEAR;
  if (key.size() == 7 && key[5] == 'Q') return v1::GRANULARITY_QUARTER;
  if (key.size() == 8 && key[5] == 'W') return v1::GRANULARITY_WEEK;
  if (key.size() == 7) return v1::GRANULARITY_MONTH;
  if (key.size() == 10) return v1::GRANULARITY_DAY;
  return v1::GRANULARITY_UNSPECIFIED;
}

// "C1, C2, C3 +4".
std::string Subjects(const google::protobuf::RepeatedPtrField<std::string>& ids) {
  constexpr int kShown = 3;
  std::vector<std::string> shown(ids.begin(), ids.begin() + std::min(ids.size(), kShown));
  std::string out = absl::StrJoin(shown, ", ");
  if (ids.size() > kShown) absl::StrAppend(&out, " +", ids.size() - kShown);
  return out;
}

std::string BaselineLabel(std::string_view baseline, Lang lang) {
  if (baseline == "previous") return S(Pick(lang, "环比", "vs previous"));
  if (baseline == "year_ago") return S(Pick(lang, "同比", "vs year ago"));
  return "";
}

// "< 80.0%", "环比升 > 20.0%", "up > 20.0% vs previous".
std::string Condition(const v1::Finding& f, v1::MetricUnit unit, Lang lang) {
  const std::string& c = f.condition();
  const bool relative = c == "relative_rise" || c == "relative_drop";
  const std::string threshold =
      !f.has_threshold() ? S(kNull)
      : relative         ? FormatPercent(f.threshold().numerator(), f.threshold().denominator())
                         : FormatMetricValue(RatioValue(f.threshold()), unit, lang);
  if (c == "below") return "< " + threshold;
  if (c == "above") return "> " + threshold;
  const char* zh = "";
  const char* en = "";
  if (c == "relative_rise") {
    zh = "升";
    en = "up";
  } else if (c == "relative_drop") {
    zh = "降";
    en = "down";
  } else if (c == "increase") {
    zh = "增";
    en = "increase";
  } else if (c == "decrease") {
    zh = "减";
    en = "decrease";
  } else {
    return absl::StrCat(c, " ", threshold);
  }
  const std::string base = BaselineLabel(f.baseline(), lang);
  if (lang == Lang::kZh) return absl::StrCat(base, zh, " > ", threshold);
  return absl::StrCat(en, " > ", threshold, base.empty() ? "" : " ", base);
}

// What the rule compared: a relative change as "↑25.0%", an absolute one in
// the metric's unit with its sign ("+2", "-¥5.00").
std::string Change(const v1::Finding& f, v1::MetricUnit unit, Lang lang) {
  if (!f.has_change()) return S(kNull);
  const std::string& c = f.condition();
  if (c == "relative_rise" || c == "relative_drop") return FormatFractionChange(true, f.change());
  std::string out = FormatMetricValue(RatioValue(f.change()), unit, lang);
  if (f.change().numerator() > 0) out = "+" + out;
  return out;
}

std::string Level(int level) {
  static constexpr std::string_view kBars[] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  return S(kBars[std::clamp(level, 0, 7)]);
}

std::string MetricHeader(const std::string& name, Lang lang) {
  return lang == Lang::kZh ? MetricLabel(name, lang) : name;
}

}  // namespace

std::string FormatMetricValue(const v1::MetricValue& value, v1::MetricUnit unit, Lang lang) {
  switch (value.kind_case()) {
    case v1::MetricValue::kMoney:
      return FormatMoney(value.money().units(), value.money().currency());
    case v1::MetricValue::kCount:
      return FormatInteger(value.count());
    case v1::MetricValue::kRatio:
      break;
    case v1::MetricValue::KIND_NOT_SET:
      return S(kNull);
  }
  const int64_t n = value.ratio().numerator();
  const int64_t d = value.ratio().denominator();
  if (d == 0) return S(kNull);
  switch (unit) {
    case v1::METRIC_UNIT_MONEY:
      return FormatMoney(RoundedQuotient(n, d));
    case v1::METRIC_UNIT_COUNT:
      return FormatDecimal(n, d, d == 1 ? 0 : 2);
    case v1::METRIC_UNIT_SHARE:
      return FormatPercent(n, d);
    case v1::METRIC_UNIT_DAYS:
      return FormatDecimal(n, d, 1) + S(DaysUnit(lang));
    case v1::METRIC_UNIT_HOURS:
      return FormatDecimal(n, d, 1) + S(HoursUnit(lang));
    case v1::METRIC_UNIT_SCORE:
      return FormatDecimal(n, d, 2);
    default:
      return FormatDecimal(n, d, 2);
  }
}

std::string FormatFractionChange(bool has, const v1::Fraction& change) {
  if (!has) return S(kNull);
  return FormatChange(change.numerator(), change.denominator());
}

std::string Sparkline(const std::vector<const v1::MetricValue*>& values) {
  // Each value at 1/10,000 (exact integer rounding), then placed between
  // the smallest and the largest.
  using int128 = __int128;
  std::vector<std::optional<int128>> scaled;
  for (const v1::MetricValue* v : values) {
    if (v == nullptr) {
      scaled.emplace_back();
      continue;
    }
    switch (v->kind_case()) {
      case v1::MetricValue::kMoney:
        scaled.emplace_back(static_cast<int128>(v->money().units()) * 10'000);
        break;
      case v1::MetricValue::kCount:
        scaled.emplace_back(static_cast<int128>(v->count()) * 10'000);
        break;
      case v1::MetricValue::kRatio:
        if (v->ratio().denominator() == 0) {
          scaled.emplace_back();
        } else {
          // round(n × 10^4 / d): n × 10^4 fits comfortably in 128 bits.
          const int128 n = static_cast<int128>(v->ratio().numerator()) * 10'000;
          const int128 d = v->ratio().denominator();
          int128 q = n / d;
          const int128 r = n % d;
          const int128 abs_r = r < 0 ? -r : r;
          const int128 abs_d = d < 0 ? -d : d;
          if (2 * abs_r >= abs_d) q += ((n < 0) != (d < 0)) ? -1 : 1;
          scaled.emplace_back(q);
        }
        break;
      case v1::MetricValue::KIND_NOT_SET:
        scaled.emplace_back();
        break;
    }
  }
  std::optional<int128> lo;
  std::optional<int128> hi;
  for (const auto& v : scaled) {
    if (!v) continue;
    if (!lo || *v < *lo) lo = v;
    if (!hi || *v > *hi) hi = v;
  }
  std::string out;
  for (const auto& v : scaled) {
    if (!v) {
      out += ' ';
    } else if (*hi == *lo) {
      out += Level(3);
    } else {
      // round((v - lo) × 7 / (hi - lo)); the operands are below 2^78.
      const int128 span = *hi - *lo;
      const int128 level = ((*v - *lo) * 14 + span) / (2 * span);
      out += Level(static_cast<int>(level));
    }
  }
  return out;
}

std::string FormatReviewReport(const v1::ReviewReport& report, const ReviewFormatOptions& options) {
  const Lang lang = options.lang;
  std::string out =
      absl::StrCat(Pick(lang, "复盘 ", "review "),
                   PeriodAndSlice(report.period_key(), GranularityOfKey(report.period_key()),
                                  report.dimension(), report.dimension_value(), lang),
                   "\n");
  absl::StrAppend(&out, Pick(lang, "期间 ", "period "),
                  FormatTimestamp(report.has_period_start(), report.period_start()), " ~ ",
                  FormatTimestamp(report.has_period_end(), report.period_end()),
                  Pick(lang, " · 上期 ", " · previous "), Or(report.previous_period_key()),
                  Pick(lang, " · 去年同期 ", " · year ago "), Or(report.year_ago_period_key()),
                  "\n\n");

  const bool history = std::any_of(report.metrics().begin(), report.metrics().end(),
                                   [](const v1::Metric& m) { return m.history_size() > 0; });
  std::vector<std::string> header = {
      S(Pick(lang, "指标", "METRIC")),      S(Pick(lang, "名称", "NAME")),
      S(Pick(lang, "本期", "VALUE")),       S(Pick(lang, "上期", "PREVIOUS")),
      S(Pick(lang, "环比", "VS PREVIOUS")), S(Pick(lang, "去年同期", "YEAR AGO")),
      S(Pick(lang, "同比", "VS YEAR AGO"))};
  if (history) header.push_back(S(Pick(lang, "趋势", "TREND")));
  Table metrics(header);
  for (size_t c = 2; c <= 6; ++c) metrics.SetAlign(c, Table::Align::kRight);
  for (const v1::Metric& m : report.metrics()) {
    std::vector<std::string> row = {
        MetricLabel(m.name(), lang),
        m.name(),
        FormatMetricValue(m.value(), m.unit(), lang),
        FormatMetricValue(m.previous(), m.unit(), lang),
        FormatFractionChange(m.has_change_vs_previous(), m.change_vs_previous()),
        FormatMetricValue(m.year_ago(), m.unit(), lang),
        FormatFractionChange(m.has_change_vs_year_ago(), m.change_vs_year_ago())};
    if (history) {
      std::vector<const v1::MetricValue*> values;
      for (const v1::MetricValue& v : m.history()) values.push_back(&v);
      row.push_back(Sparkline(values));
    }
    metrics.AddRow(std::move(row));
  }
  out += metrics.Render();

  if (report.findings_size() > 0) {
    Table findings({S(Pick(lang, "级别", "SEVERITY")), S(Pick(lang, "规则", "RULE")),
                    S(Pick(lang, "指标", "METRIC")), S(Pick(lang, "条件", "CONDITION")),
                    S(Pick(lang, "本期", "VALUE")), S(Pick(lang, "基准", "BASE")),
                    S(Pick(lang, "变化", "CHANGE")), S(Pick(lang, "涉及", "SUBJECTS"))});
    findings.SetAlign(4, Table::Align::kRight);
    findings.SetAlign(5, Table::Align::kRight);
    findings.SetAlign(6, Table::Align::kRight);
    for (const v1::Finding& f : report.findings()) {
      const v1::MetricUnit unit = UnitOf(f.metric(), report.metrics());
      std::string subjects = Subjects(f.customer_ids());
      if (f.opportunity_ids_size() > 0) {
        if (!subjects.empty()) subjects += "; ";
        subjects += Subjects(f.opportunity_ids());
      }
      findings.AddRow(
          {Or(SeverityLabel(f.severity(), lang)), f.rule_id(), MetricLabel(f.metric(), lang),
           Condition(f, unit, lang), FormatMetricValue(f.value(), unit, lang),
           FormatMetricValue(f.base(), unit, lang), Change(f, unit, lang), Or(subjects)});
    }
    absl::StrAppend(&out, "\n", Pick(lang, "发现", "findings"), "\n", findings.Render());
  }

  if (report.actions_size() > 0) {
    Table actions({S(Pick(lang, "行动", "ACTION")), S(Pick(lang, "复盘期", "PLANNED IN")),
                   S(Pick(lang, "发现", "FINDING")), S(Pick(lang, "负责人", "OWNER")),
                   S(Pick(lang, "截止", "DUE")), S(Pick(lang, "状态", "STATUS")),
                   S(Pick(lang, "指标", "METRIC")), S(Pick(lang, "当时", "THEN")),
                   S(Pick(lang, "现在", "NOW")), S(Pick(lang, "说明", "DESCRIPTION"))});
    actions.SetAlign(7, Table::Align::kRight);
    actions.SetAlign(8, Table::Align::kRight);
    for (const v1::ReviewAction& a : report.actions()) {
      const v1::MetricUnit unit = UnitOf(a.metric(), report.metrics());
      std::string description = a.description();
      if (!a.note().empty()) absl::StrAppend(&description, " (", a.note(), ")");
      actions.AddRow({a.action_id(), Or(a.review_period()), Or(a.finding()), Or(a.owner()),
                      FormatTimestamp(a.has_due(), a.due()),
                      S(a.closed() ? Pick(lang, "已关闭", "closed") : Pick(lang, "进行中", "open")),
                      a.metric().empty() ? S(kNull) : MetricLabel(a.metric(), lang),
                      FormatMetricValue(a.value_then(), unit, lang),
                      FormatMetricValue(a.value_now(), unit, lang), Or(description)});
    }
    absl::StrAppend(&out, "\n", Pick(lang, "行动", "actions"), "\n", actions.Render());
  }
  return out;
}

std::string FormatFunnel(const v1::FunnelResponse& funnel, const ReviewFormatOptions& options) {
  const Lang lang = options.lang;
  std::string out = absl::StrCat(Pick(lang, "漏斗 ", "funnel "), funnel.period_key());
  const v1::Granularity g = GranularityOfKey(funnel.period_key());
  if (g != v1::GRANULARITY_UNSPECIFIED) absl::StrAppend(&out, " (", GranularityLabel(g, lang), ")");
  const bool by_value =
      options.dimension != v1::DIMENSION_UNSPECIFIED && options.dimension != v1::DIMENSION_ALL;
  if (by_value) {
    absl::StrAppend(&out, Pick(lang, " · 按", " by "), DimensionLabel(options.dimension, lang));
  }
  out += "\n";
  for (const v1::FunnelSlice& slice : funnel.slices()) {
    std::string heading =
        slice.dimension_value().empty() ? S(Pick(lang, "全部", "all")) : slice.dimension_value();
    if (by_value) heading = absl::StrCat(DimensionLabel(options.dimension, lang), ": ", heading);
    absl::StrAppend(&out, "\n", heading, "\n");
    std::vector<std::string> header = {S(Pick(lang, "阶段", "STAGE"))};
    if (lang == Lang::kZh) header.push_back("名称");
    for (std::string_view h : {Pick(lang, "进入", "ENTERED"), Pick(lang, "推进", "ADVANCED"),
                               Pick(lang, "转化率", "CONVERSION")}) {
      header.push_back(S(h));
    }
    Table stages(header);
    stages.SetAlign(header.size() - 1, Table::Align::kRight);
    for (const v1::FunnelStageRow& row : slice.stages()) {
      std::vector<std::string> cells = {FunnelStageLabel(row.stage(), lang)};
      if (lang == Lang::kZh) cells.push_back(FunnelStageLabel(row.stage(), Lang::kEn));
      cells.push_back(FormatInteger(row.entered()));
      cells.push_back(FormatInteger(row.advanced()));
      cells.push_back(row.has_conversion() ? FormatPercent(row.conversion().numerator(),
                                                           row.conversion().denominator())
                                           : S(kNull));
      stages.AddRow(std::move(cells));
    }
    out += stages.Render();

    Table totals({S(Pick(lang, "赢单", "WON")), S(Pick(lang, "丢单", "LOST")),
                  S(Pick(lang, "赢单率", "WIN RATE")), S(Pick(lang, "销售周期", "SALES CYCLE")),
                  S(Pick(lang, "在途商机", "OPEN")),
                  S(Pick(lang, "加权管道", "WEIGHTED PIPELINE"))});
    for (size_t c = 0; c < 6; ++c) totals.SetAlign(c, Table::Align::kRight);
    totals.AddRow(
        {FormatInteger(slice.won()), FormatInteger(slice.lost()),
         slice.has_win_rate()
             ? FormatPercent(slice.win_rate().numerator(), slice.win_rate().denominator())
             : S(kNull),
         slice.has_sales_cycle_days() ? FormatDecimal(slice.sales_cycle_days().numerator(),
                                                      slice.sales_cycle_days().denominator(), 1) +
                                            S(DaysUnit(lang))
                                      : S(kNull),
         FormatInteger(slice.open_opportunities()),
         FormatMoney(slice.weighted_pipeline().units(), slice.weighted_pipeline().currency())});
    absl::StrAppend(&out, "\n", totals.Render());

    if (slice.losses_by_competitor_size() > 0) {
      Table losses({S(Pick(lang, "丢单给", "LOST TO")), S(Pick(lang, "商机", "OPPORTUNITIES")),
                    S(Pick(lang, "金额", "AMOUNT"))});
      for (const v1::CompetitorLoss& l : slice.losses_by_competitor()) {
        losses.AddRow(
            {l.competitor().empty() ? S(Pick(lang, "(未注明)", "(unnamed)")) : l.competitor(),
             FormatInteger(l.opportunities()),
             FormatMoney(l.amount().units(), l.amount().currency())});
      }
      absl::StrAppend(&out, "\n", losses.Render());
    }
  }
  if (funnel.slices_size() == 0)
    absl::StrAppend(&out, "\n", Pick(lang, "(无数据)", "(no data)"), "\n");
  return out;
}

std::string FormatWorklist(const v1::WorklistResponse& worklist,
                           const ReviewFormatOptions& options) {
  const Lang lang = options.lang;
  Table table({S(Pick(lang, "客户", "CUSTOMER")), S(Pick(lang, "客户名称", "NAME")),
               S(Pick(lang, "负责人", "OWNER")), S(Pick(lang, "区域", "REGION")),
               S(Pick(lang, "事项", "REASON")), S(Pick(lang, "对象", "SUBJECT")),
               S(Pick(lang, "时间", "AT")), S(Pick(lang, "紧急", "URGENCY"))});
  std::set<std::string> customers;
  for (const v1::WorklistItem& item : worklist.items()) {
    customers.insert(item.customer_id());
    table.AddRow({item.customer_id(), Or(item.customer_name()), Or(item.owner_id()),
                  Or(item.region()), WorklistReasonLabel(item.reason(), lang),
                  item.subject_id() == item.customer_id() ? S(kNull) : Or(item.subject_id()),
                  FormatTimestamp(item.has_at(), item.at()),
                  item.urgency().empty() ? S(kNull) : UrgencyLabel(item.urgency(), lang)});
  }
  std::string out = table.Render();
  if (lang == Lang::kZh) {
    absl::StrAppend(&out, "\n共 ", FormatInteger(worklist.items_size()), " 项, ",
                    FormatInteger(static_cast<int64_t>(customers.size())), " 个客户\n");
  } else {
    absl::StrAppend(&out, "\n", FormatInteger(worklist.items_size()), " items, ",
                    FormatInteger(static_cast<int64_t>(customers.size())), " customers\n");
  }
  return out;
}

std::string FormatCompareReview(const v1::CompareReviewResponse& compare,
                                const CompareFormatOptions& options) {
  const Lang lang = options.lang;
  std::string out = absl::StrCat(Pick(lang, "对比 ", "compare "), compare.period_key());
  const v1::Granularity g = GranularityOfKey(compare.period_key());
  if (g != v1::GRANULARITY_UNSPECIFIED) absl::StrAppend(&out, " (", GranularityLabel(g, lang), ")");
  absl::StrAppend(&out, Pick(lang, " · 按", " by "), DimensionLabel(compare.dimension(), lang),
                  "\n\n");

  std::vector<std::string> names = options.metrics;
  if (names.empty() && compare.rows_size() > 0) {
    for (const v1::Metric& m : compare.rows(0).metrics()) names.push_back(m.name());
  }
  std::vector<std::string> header = {DimensionLabel(compare.dimension(), lang)};
  for (const std::string& name : names) header.push_back(MetricHeader(name, lang));
  Table table(header);
  for (size_t c = 1; c < header.size(); ++c) table.SetAlign(c, Table::Align::kRight);
  for (const v1::ReviewRow& row : compare.rows()) {
    std::vector<std::string> cells = {Or(row.dimension_value())};
    for (const std::string& name : names) {
      const v1::Metric* metric = nullptr;
      for (const v1::Metric& m : row.metrics()) {
        if (m.name() == name) metric = &m;
      }
      if (metric == nullptr) {
        cells.push_back(S(kNull));
        continue;
      }
      std::string cell = FormatMetricValue(metric->value(), metric->unit(), lang);
      if (options.changes && metric->has_change_vs_previous()) {
        absl::StrAppend(&cell, " ", FormatFractionChange(true, metric->change_vs_previous()));
      }
      cells.push_back(std::move(cell));
    }
    table.AddRow(std::move(cells));
  }
  out += table.Render();
  absl::StrAppend(&out, "\n", Pick(lang, "行数: ", "rows: "), FormatInteger(compare.rows_size()),
                  "\n");
  return out;
}

}  // namespace custops::ctl

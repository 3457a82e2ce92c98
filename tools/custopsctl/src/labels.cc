#include "custops/ctl/labels.h"

#include <span>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/ctl/parse.h"

namespace custops::ctl {
namespace {

using v1::METRIC_UNIT_COUNT;
using v1::METRIC_UNIT_DAYS;
using v1::METRIC_UNIT_HOURS;
using v1::METRIC_UNIT_MONEY;
using v1::METRIC_UNIT_SCORE;
using v1::METRIC_UNIT_SHARE;

// The metrics of libs/domain's review table (docs/review.md), in its order;
// format_test checks that every domain metric is here with its unit.
constexpr MetricInfo kMetrics[] = {
    {"revenue", "营收", "Revenue", METRIC_UNIT_MONEY},
    {"gross_margin", "毛利", "Gross margin", METRIC_UNIT_MONEY},
    {"payments", "回款", "Payments", METRIC_UNIT_MONEY},
    {"target", "目标", "Target", METRIC_UNIT_MONEY},
    {"attainment", "任务完成", "Attainment", METRIC_UNIT_SHARE},
    {"new_customers", "新客户", "New customers", METRIC_UNIT_COUNT},
    {"lost_customers", "流失客户", "Lost customers", METRIC_UNIT_COUNT},
    {"active_customers", "活跃客户", "Active customers", METRIC_UNIT_COUNT},
    {"churn_rate", "流失率", "Churn rate", METRIC_UNIT_SHARE},
    {"repeat_purchase_rate", "复购率", "Repeat purchase rate", METRIC_UNIT_SHARE},
    {"win_backs", "赢回", "Win-backs", METRIC_UNIT_COUNT},
    {"referrals", "转介绍", "Referrals", METRIC_UNIT_COUNT},
    {"visits", "拜访", "Visits", METRIC_UNIT_COUNT},
    {"contact_coverage", "联系人覆盖", "Contact coverage", METRIC_UNIT_SHARE},
    {"quotes", "报价", "Quotes", METRIC_UNIT_COUNT},
    {"win_rate", "赢单率", "Win rate", METRIC_UNIT_SHARE},
    {"avg_discount", "平均折扣", "Average discount", METRIC_UNIT_SHARE},
    {"sales_cycle_days", "销售周期", "Sales cycle", METRIC_UNIT_DAYS},
    {"weighted_pipeline", "加权管道", "Weighted pipeline", METRIC_UNIT_MONEY},
    {"complaints", "投诉", "Complaints", METRIC_UNIT_COUNT},
    {"resolution_hours_p50", "解决时长中位数", "Resolution time p50", METRIC_UNIT_HOURS},
    {"satisfaction", "满意度", "Satisfaction", METRIC_UNIT_SCORE},
    {"marketing_spend", "市场投入", "Marketing spend", METRIC_UNIT_MONEY},
    {"marketing_roi", "市场ROI", "Marketing ROI", METRIC_UNIT_SHARE},
    {"market_share", "市场占有", "Market share", METRIC_UNIT_SHARE},
    {"top20_revenue_share", "前20%营收占比", "Top 20% revenue share", METRIC_UNIT_SHARE},
    {"response_hours_p50", "响应时长中位数", "Response time p50", METRIC_UNIT_HOURS},
    {"resolution_hours_p90", "解决时长P90", "Resolution time p90", METRIC_UNIT_HOURS},
    {"sla_breaches", "SLA超时", "SLA breaches", METRIC_UNIT_COUNT},
    {"complaints_satisfied_share", "投诉满意占比", "Complaints satisfied", METRIC_UNIT_SHARE},
    {"negative_assets", "负资产客户", "Negative assets", METRIC_UNIT_COUNT},
    {"overdue_receivables", "逾期应收", "Overdue receivables", METRIC_UNIT_MONEY},
};

struct Label {
  std::string_view key;
  std::string_view zh;
};

std::string Lookup(std::span<const Label> labels, std::string_view key, Lang lang) {
  if (lang == Lang::kZh) {
    for (const Label& l : labels) {
      if (l.key == key) return std::string(l.zh);
    }
  }
  return std::string(key);
}

template <typename E>
std::string EnumLabel(std::span<const Label> labels, E value, Lang lang) {
  if (static_cast<int>(value) == 0) return "";
  return Lookup(labels, ShortEnumName(*google::protobuf::GetEnumDescriptor<E>(), value), lang);
}

constexpr Label kTiers[] = {
    {"DIAMOND", "钻石"}, {"PLATINUM", "铂金"}, {"GOLD", "黄金"},    {"SILVER", "白银"},
    {"IRON", "铁"},      {"BIG", "大潜客"},    {"SMALL", "小潜客"},
};
constexpr Label kFunnelStages[] = {
    {"OPPORTUNITY", "商机"},
    {"FIRST_VISIT", "初次拜访"},
    {"NEED_CONFIRMED", "需求确认"},
    {"PROPOSAL_ACCEPTED", "方案认可"},
    {"COMMERCIAL_TERMS", "商务条款"},
    {"CONTRACT_SIGNED", "签约"},
    {"LOST", "丢单"},
};
constexpr Label kReasons[] = {
    {"COMPLAINT_SLA", "投诉SLA"},     {"CONTACT_OVERDUE", "该联系未联系"},
    {"TURNED_DECLINING", "转为衰退"}, {"PAYMENT_OVERDUE", "逾期回款"},
    {"CONTRACT_ENDING", "合同到期"},  {"REPURCHASE_DUE", "该复购"},
    {"BIRTHDAY", "生日关怀"},
};
constexpr Label kUrgencies[] = {{"NEAR", "临近"}, {"PAST", "已超时"}};
constexpr Label kDimensions[] = {
    {"ALL", "全部"},     {"REGION", "区域"},  {"INDUSTRY", "行业"}, {"OWNER", "负责人"},
    {"CHANNEL", "渠道"}, {"PRODUCT", "产品"}, {"TIER", "档位"},     {"KIND", "类型"},
};
constexpr Label kSeverities[] = {
    {"LOW", "低"}, {"MEDIUM", "中"}, {"HIGH", "高"}, {"CRITICAL", "严重"}};
constexpr Label kLoyalties[] = {
    {"NONE", "无"},       {"AWARE", "知名"}, {"APPROVING", "认可"},
    {"ADVOCATE", "美誉"}, {"LOYAL", "忠诚"}, {"DEPENDENT", "依赖"},
};
constexpr Label kStages[] = {
    {"PROSPECT", "潜在"}, {"INTENT", "意向"}, {"CUSTOMER", "成交"}, {"LOST", "流失"}};
constexpr Label kSubStages[] = {
    {"NEW", "新客"}, {"GROWING", "成长"}, {"STABLE", "稳定"}, {"DECLINING", "衰退"}};

}  // namespace

absl::StatusOr<Lang> ParseLang(std::string_view text) {
  const std::string lang = absl::AsciiStrToLower(
      absl::StripAsciiWhitespace(absl::string_view(text.data(), text.size())));
  if (lang == "zh" || absl::StartsWith(lang, "zh-") || absl::StartsWith(lang, "zh_")) {
    return Lang::kZh;
  }
  if (lang == "en" || absl::StartsWith(lang, "en-") || absl::StartsWith(lang, "en_")) {
    return Lang::kEn;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("unknown language '", std::string(text), "' (zh or en)"));
}

std::span<const MetricInfo> KnownMetrics() { return kMetrics; }

const MetricInfo* FindMetric(std::string_view name) {
  for (const MetricInfo& m : kMetrics) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

std::string MetricLabel(std::string_view name, Lang lang) {
  const MetricInfo* m = FindMetric(name);
  if (m == nullptr) return std::string(name);
  return std::string(lang == Lang::kZh ? m->zh : m->en);
}

std::string TierLabel(v1::Tier tier, Lang lang) { return EnumLabel(kTiers, tier, lang); }

std::string FunnelStageLabel(v1::FunnelStage stage, Lang lang) {
  return EnumLabel(kFunnelStages, stage, lang);
}

std::string WorklistReasonLabel(std::string_view reason, Lang lang) {
  return Lookup(kReasons, reason, lang);
}

std::string UrgencyLabel(std::string_view urgency, Lang lang) {
  return Lookup(kUrgencies, urgency, lang);
}

std::string DimensionLabel(v1::Dimension dimension, Lang lang) {
  if (dimension == v1::DIMENSION_UNSPECIFIED) dimension = v1::DIMENSION_ALL;
  return EnumLabel(kDimensions, dimension, lang);
}

std::string GranularityLabel(v1::Granularity granularity, Lang lang) {
  static constexpr Label kZh[] = {
      {"DAY", "日"}, {"WEEK", "周"}, {"MONTH", "月"}, {"QUARTER", "季"}, {"YEAR", "年"}};
  if (granularity == v1::GRANULARITY_UNSPECIFIED) return "";
  const std::string name = ShortEnumName(*v1::Granularity_descriptor(), granularity);
  return lang == Lang::kZh ? Lookup(kZh, name, lang) : absl::AsciiStrToLower(name);
}

std::string SeverityLabel(v1::Severity severity, Lang lang) {
  return EnumLabel(kSeverities, severity, lang);
}

std::string LoyaltyLabel(v1::Loyalty loyalty, Lang lang) {
  return EnumLabel(kLoyalties, loyalty, lang);
}

std::string StageLabel(v1::LifecycleStage stage, Lang lang) {
  return EnumLabel(kStages, stage, lang);
}

std::string SubStageLabel(v1::SubStage sub_stage, Lang lang) {
  return EnumLabel(kSubStages, sub_stage, lang);
}

const char* DaysUnit(Lang lang) { return Pick(lang, " 天", " days"); }
const char* HoursUnit(Lang lang) { return Pick(lang, " 小时", " h"); }

}  // namespace custops::ctl

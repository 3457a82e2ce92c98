// Names custopsctl's tables show, in Chinese (the default) or English
// (`--lang en`): review metrics (the snake_case names of libs/domain's
// metric table, docs/review.md "Accumulator and metrics"), tiers, funnel
// stages, worklist reasons, dimensions, granularities, severities and
// loyalty levels. Pure functions over constant tables, thread-safe.
//
//   MetricLabel("win_rate", Lang::kZh);  // "赢单率"
//   MetricLabel("win_rate", Lang::kEn);  // "Win rate"
//   TierLabel(v1::TIER_GOLD, Lang::kZh); // "黄金"
#ifndef CUSTOPS_CTL_LABELS_H_
#define CUSTOPS_CTL_LABELS_H_

#include <span>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "custops/v1/common.pb.h"
#include "custops/v1/events.pb.h"
#include "custops/v1/lifecycle_types.pb.h"
#include "custops/v1/review.pb.h"
#include "custops/v1/value_types.pb.h"

namespace custops::ctl {

enum class Lang { kZh, kEn };

// "zh" or "en" (any case; "zh-CN", "en_US" too). INVALID_ARGUMENT otherwise.
absl::StatusOr<Lang> ParseLang(std::string_view text);

// `zh` or `en` by `lang` (string literals).
inline const char* Pick(Lang lang, const char* zh, const char* en) {
  return lang == Lang::kZh ? zh : en;
}

struct MetricInfo {
  std::string_view name;  // snake_case, as on the wire (Metric.name)
  std::string_view zh;
  std::string_view en;
  v1::MetricUnit unit;
};

// Every review metric custopsctl knows, in report order.
std::span<const MetricInfo> KnownMetrics();
// The entry of `name`; nullptr when custopsctl does not know it.
const MetricInfo* FindMetric(std::string_view name);
// The label of `name` in `lang`; the name itself when unknown.
std::string MetricLabel(std::string_view name, Lang lang);

// 钻石 / DIAMOND ...; the enum's short name for an unknown value, "" for
// UNSPECIFIED.
std::string TierLabel(v1::Tier tier, Lang lang);
// 商机 / OPPORTUNITY ...
std::string FunnelStageLabel(v1::FunnelStage stage, Lang lang);
// Worklist reasons (WorklistItem.reason): 投诉SLA / COMPLAINT_SLA ...; the
// reason itself when unknown.
std::string WorklistReasonLabel(std::string_view reason, Lang lang);
// Complaint urgency: NEAR 临近, PAST 已超时; as given otherwise.
std::string UrgencyLabel(std::string_view urgency, Lang lang);
// 区域 / REGION ...; ALL for UNSPECIFIED.
std::string DimensionLabel(v1::Dimension dimension, Lang lang);
// 月 / month ...
std::string GranularityLabel(v1::Granularity granularity, Lang lang);
// 严重 / CRITICAL ...
std::string SeverityLabel(v1::Severity severity, Lang lang);
// 认可 / APPROVING ...
std::string LoyaltyLabel(v1::Loyalty loyalty, Lang lang);
// 意向 / INTENT ...; 成长 / GROWING ...
std::string StageLabel(v1::LifecycleStage stage, Lang lang);
std::string SubStageLabel(v1::SubStage sub_stage, Lang lang);

// Units after a duration: " 天" / " days", " 小时" / " h".
const char* DaysUnit(Lang lang);
const char* HoursUnit(Lang lang);

}  // namespace custops::ctl

#endif  // CUSTOPS_CTL_LABELS_H_

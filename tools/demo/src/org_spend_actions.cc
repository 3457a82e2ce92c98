// OrgPlanner, marketing spend and 复盘 actions (org.cc, steps 4 and 5): the
// month's budget booked on national channels and regional events, and the
// actions planned at each review meeting against the findings the review
// would show (attainment_below, marketing_roi_below), most of them closed.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/v1/events.pb.h"
#include "org_planner.h"

namespace custops::demo::internal::org {
namespace {

// The review's finding rules the actions answer (docs/review.md, Findings).
constexpr std::string_view kAttainmentBelow = "attainment_below";
constexpr std::string_view kMarketingRoiBelow = "marketing_roi_below";

// Acquisition channels of the population that marketing pays for.
constexpr char kOnlineAds[] = "线上广告";
constexpr char kWebsite[] = "官网注册";
constexpr char kTelemarketing[] = "电话营销";
constexpr char kReferral[] = "转介绍";
constexpr char kTradeShow[] = "展会";
constexpr char kIndustryEvent[] = "行业活动";

// An action candidate: a slice whose finding fires in a month.
struct Finding {
  int month;
  std::string_view rule;
  Slice slice;
  int64_t value;  // revenue or margin
  int64_t base;   // target or spend
};

// `fen` in 万元 with one decimal, rounded down: "1234.5".
std::string Wan(int64_t fen) {
  const int64_t tenths = fen * 10 / kWan;
  return absl::StrFormat("%d.%d", tenths / 10, tenths % 10);
}

// value / base < num / den, exactly.
bool Below(int64_t value, int64_t base, int64_t num, int64_t den) {
  return static_cast<__int128>(value) * den < static_cast<__int128>(base) * num;
}

}  // namespace

void OrgPlanner::Spend(int64_t at, int i, int dim, const std::string& value, const char* channel,
                       int64_t fen) {
  fen = fen / kYuan * kYuan;
  if (fen <= 0) return;
  const absl::CivilDay day(absl::ToCivilSecond(absl::FromUnixSeconds(at), zone_));
  v1::MarketingSpendRecorded* m =
      Emit(at, ScopeOf(dim, value), kMarketing).mutable_marketing_spend_recorded();
  m->mutable_date()->set_year(static_cast<int32_t>(day.year()));
  m->mutable_date()->set_month(day.month());
  m->mutable_date()->set_day(day.day());
  m->set_dimension(static_cast<v1::Dimension>(dim));
  m->set_dimension_value(value);
  m->set_channel(channel);
  SetMoney(m->mutable_amount(), fen);
  spend_[{dim, value}][i] += fen;
}

void OrgPlanner::BookSpend() {
  const std::map<int, int64_t>& company = targets_[{v1::DIMENSION_ALL, ""}];
  int64_t company_revenue = 0;
  std::map<std::string, int64_t> region_revenue;
  for (int i = 0; i < months_; ++i) {
    company_revenue += Revenue({v1::DIMENSION_ALL, ""}, i);
    for (const std::string& r : regions_) {
      region_revenue[r] += Revenue({v1::DIMENSION_REGION, r}, i);
    }
  }
  for (const auto& [i, target] : company) {
    if (i >= months_) continue;
    // Booked on the month's last day, once the month is over.
    const int64_t at = At(absl::CivilDay(Month(i) + 1) - 1, 18);
    if (at > end_ || at < start_) continue;
    const int64_t budget = target * 12 / 100;
    const int month = Month(i).month();
    // Online ads: 双11 in November, quiet at the Spring Festival.
    const int64_t season = month == 11 ? 200 : month == 2 ? 60 : 100;
    Spend(at, i, v1::DIMENSION_CHANNEL, kOnlineAds, kOnlineAds,
          budget * 30 / 100 * season / 100 * rng_.Between(85, 115) / 100);
    Spend(at, i, v1::DIMENSION_CHANNEL, kWebsite, kWebsite,
          budget * 8 / 100 * rng_.Between(90, 110) / 100);
    Spend(at, i, v1::DIMENSION_CHANNEL, kTelemarketing, kTelemarketing,
          budget * 10 / 100 * rng_.Between(90, 110) / 100);
    // 2,000 yuan per referral made in the month.
    Spend(at, i, v1::DIMENSION_CHANNEL, kReferral, kReferral, referrals_[i] * 2'000 * kYuan);
    // Trade shows in the spring and autumn seasons, industry events all
    // year; each region in proportion to its revenue.
    const bool show_season = (month >= 3 && month <= 5) || (month >= 9 && month <= 11);
    for (const std::string& r : regions_) {
      if (company_revenue <= 0) break;
      const int64_t share = region_revenue[r] * 1000 / company_revenue;  // per mille
      if (show_season && rng_.Chance(50)) {
        Spend(at, i, v1::DIMENSION_REGION, r, kTradeShow,
              budget * 30 / 100 * share * 2 / 1000 * rng_.Between(70, 130) / 100);
      }
      if (rng_.Chance(70)) {
        Spend(at, i, v1::DIMENSION_REGION, r, kIndustryEvent,
              budget * 15 / 100 * share / 1000 * rng_.Between(60, 140) / 100);
      }
    }
  }
}

void OrgPlanner::PlanActions() {
  // The months reviewed: whole months whose meeting (the 5th of the next
  // month) is within the history, the last six.
  std::vector<int> reviewed;
  for (int i = 0; i < months_; ++i) {
    if (Full(i) && Meeting(i) <= end_) reviewed.push_back(i);
  }
  if (reviewed.size() > 6) reviewed.erase(reviewed.begin(), reviewed.end() - 6);
  // Targets as the review sees them: the last one set.
  std::map<Slice, std::map<int, int64_t>> targets = targets_;
  for (const auto& [id, rep] : reps_) targets[{v1::DIMENSION_OWNER, id}] = rep.targets;
  std::vector<Finding> findings;
  for (int i : reviewed) {
    // Of the regions below 80% of their target the one missing it by the
    // most money, and of the reps.
    for (int dim : {v1::DIMENSION_REGION, v1::DIMENSION_OWNER}) {
      std::optional<Finding> worst;
      for (const auto& [slice, month_targets] : targets) {
        if (slice.first != dim || !month_targets.contains(i)) continue;
        const int64_t target = month_targets.at(i);
        const int64_t revenue = Revenue(slice, i);
        if (target <= 0 || !Below(revenue, target, 4, 5)) continue;
        if (!worst || target - revenue > worst->base - worst->value) {
          worst = Finding{i, kAttainmentBelow, slice, revenue, target};
        }
      }
      if (worst) findings.push_back(*worst);
    }
    // The channel whose spend earned the least margin, when below 0.
    std::optional<Finding> worst;
    for (const auto& [slice, spend] : spend_) {
      if (slice.first != v1::DIMENSION_CHANNEL || !spend.contains(i)) continue;
      const int64_t s = spend.at(i);
      const int64_t margin = Margin(slice, i);
      if (s <= 0 || margin >= s) continue;  // (margin - spend) / spend < 0
      if (!worst || Below(margin, s, worst->value, worst->base)) {
        worst = Finding{i, kMarketingRoiBelow, slice, margin, s};
      }
    }
    if (worst) findings.push_back(*worst);
  }
  int n = 0;
  for (const Finding& f : findings) {
    const int64_t planned_at = Meeting(f.month);
    const absl::CivilDay meeting(absl::ToCivilSecond(absl::FromUnixSeconds(planned_at), zone_));
    // Due at the next month's meeting.
    const int64_t due = Meeting(f.month + 1);
    const std::string id = absl::StrFormat("demo-%d-act-%02d", options_.seed, ++n);
    const auto& [dim, value] = f.slice;
    const std::string scope = ScopeOf(dim, value);
    std::string owner;
    std::string description;
    if (f.rule == kAttainmentBelow) {
      owner = dim == v1::DIMENSION_OWNER ? value : RegionLead(value, f.month);
      description = absl::StrCat(value, " ", MonthKey(f.month), " 任务完成率 ",
                                 f.value * 100 / f.base, "%（目标 ", Wan(f.base), " 万元，实际 ",
                                 Wan(f.value), " 万元）：逐单复盘在手商机，推动报价阶段项目签约");
    } else {
      owner = kMarketingLead;
      description =
          absl::StrCat(value, " ", MonthKey(f.month), " 投放 ", Wan(f.base), " 万元，毛利 ",
                       Wan(f.value), " 万元，ROI 为负：暂停低转化投放，预算转向高意向线索");
    }
    {
      v1::ReviewActionPlanned* a =
          Emit(planned_at, scope, kSalesOps).mutable_review_action_planned();
      a->set_action_id(id);
      SetPeriod(a->mutable_review_period(), v1::GRANULARITY_MONTH, f.month);
      a->set_dimension(static_cast<v1::Dimension>(dim));
      a->set_dimension_value(value);
      a->set_finding(std::string(f.rule));
      a->set_owner(owner);
      a->mutable_due()->set_seconds(due);
      a->set_description(description);
    }
    // Three in four actions due within the history are closed, 10-32
    // days after the meeting (a few after their due date); the others,
    // and those not due yet at the end, are open.
    if (due > end_ || !rng_.Chance(75)) continue;
    const int64_t closed_at = At(meeting + rng_.Between(10, 32), 17);
    if (closed_at > end_) continue;
    v1::ReviewActionClosed* c = Emit(closed_at, scope, kSalesOps).mutable_review_action_closed();
    c->set_action_id(id);
    c->set_note(f.rule == kAttainmentBelow ? "已完成：重点商机逐一过会，次月跟踪签约进度"
                                           : "已完成：投放结构已调整，低效计划已暂停");
  }
}

std::string OrgPlanner::RegionLead(const std::string& region, int i) const {
  std::string lead;
  int64_t best = -1;
  for (const auto& [id, rep] : reps_) {
    if (rep.region != region || rep.left_at <= MonthStart(i)) continue;
    const int64_t r = Revenue({v1::DIMENSION_OWNER, id}, i);
    if (r > best) {
      best = r;
      lead = id;
    }
  }
  return lead.empty() ? std::string(kSalesOps) : lead;
}

}  // namespace custops::demo::internal::org

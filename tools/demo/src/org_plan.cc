// OrgPlanner, the sales plan (org.cc, steps 2 and 3): the plan's first
// month, each year's targets of the company, its regions and reps by month,
// quarter and year, the market sizes, and the hand-over of a leaving rep's
// targets to its successor.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/v1/events.pb.h"
#include "org_planner.h"

namespace custops::demo::internal::org {
namespace {

// A year's revenue target split over its months, per mille (Jan..Dec): the
// Spring Festival in February, half-year and year-end pushes in June and
// December. The simulated sales have no such season.
constexpr int kTargetSeason[12] = {75, 55, 85, 80, 80, 95, 75, 75, 85, 75, 90, 130};

int64_t RoundTo(int64_t x, int64_t unit) { return (x + unit / 2) / unit * unit; }

}  // namespace

void OrgPlanner::FindFirstPlannedMonth() {
  std::vector<int> full;
  for (int i = 0; i < months_ && full.size() < 12; ++i) {
    if (Full(i)) full.push_back(i);
  }
  first_planned_ = months_;
  if (full.empty()) return;
  int64_t sum = 0;
  for (int i : full) sum += Revenue({v1::DIMENSION_ALL, ""}, i);
  const int64_t average = sum / static_cast<int64_t>(full.size());
  first_planned_ = full.front();
  for (int i : full) {
    if (Revenue({v1::DIMENSION_ALL, ""}, i) * 2 >= average) {
      first_planned_ = i;
      break;
    }
  }
}

bool OrgPlanner::PlanYear(int64_t year) {
  // Drawn up on Dec 20 of the year before, or when the CRM goes live.
  const absl::CivilDay live(absl::ToCivilSecond(absl::FromUnixSeconds(start_), zone_));
  absl::CivilDay day(year - 1, 12, 20);
  if (At(day, 10) < start_) day = live;
  if (At(day, 10) < start_) day = live + 1;
  const int64_t plan_at = At(day, 10);
  if (plan_at > end_) return false;

  // The months planned: those of `year` from the plan's first month on.
  std::vector<int> planned;
  for (int m = 1; m <= 12; ++m) {
    const int i = static_cast<int>(absl::CivilMonth(year, m) - first_month_);
    if (i >= first_planned_) planned.push_back(i);
  }
  if (planned.empty()) return true;

  // The base: whole months of the plan's books that ended before the plan,
  // the last twelve; or, with fewer than six, the first twelve (the books
  // kept before the CRM stand in for them).
  auto booked = [&](int i) { return i >= first_planned_ && Full(i); };
  std::vector<int> window;
  for (int i = 0; i < months_; ++i) {
    if (booked(i) && MonthStart(i + 1) <= plan_at) window.push_back(i);
  }
  if (window.size() > 12) window.erase(window.begin(), window.end() - 12);
  if (window.size() < 6) {
    window.clear();
    for (int i = 0; i < months_ && window.size() < 12; ++i) {
      if (booked(i)) window.push_back(i);
    }
  }
  // Never empty: the plan's first month is a whole month of the books.
  auto average = [&](const Slice& s) -> int64_t {
    return Average(s, window, [](int) { return true; }).value_or(0);
  };

  // Month targets of a slice: its average spread by the season — averaged
  // with the same month a year before when the books have it (renewals
  // come back in the month of the contract they renew) — grown by an
  // ambition, in whole 万元.
  auto month_targets = [&](const Slice& s, int64_t average_fen, int64_t ambition) {
    std::map<int, int64_t> out;
    if (average_fen <= 0) return out;
    for (int i : planned) {
      int64_t base = average_fen * 12 * kTargetSeason[Month(i).month() - 1] / 1000;
      const int ago = i - 12;
      if (ago >= 0 && booked(ago) && MonthStart(ago + 1) <= plan_at) {
        base = (base + Revenue(s, ago)) / 2;
      }
      out[i] = std::max(kWan, RoundTo(base * (100 + ambition) / 100, kWan));
    }
    return out;
  };

  // Regions, and the company as their sum.
  std::map<int, int64_t> company;
  std::map<std::string, std::map<int, int64_t>> by_region;
  for (const std::string& region : regions_) {
    const Slice slice{v1::DIMENSION_REGION, region};
    const std::map<int, int64_t> t = month_targets(slice, average(slice), rng_.Between(8, 25));
    for (const auto& [i, fen] : t) {
      Target(plan_at, v1::DIMENSION_REGION, region, v1::GRANULARITY_MONTH, i, fen);
      company[i] += fen;
      targets_[{v1::DIMENSION_REGION, region}][i] = fen;
    }
    by_region[region] = t;
  }
  for (const auto& [i, fen] : company) {
    Target(plan_at, v1::DIMENSION_ALL, "", v1::GRANULARITY_MONTH, i, fen);
    targets_[{v1::DIMENSION_ALL, ""}][i] = fen;
  }
  // Quarters and the year: the sum of their planned months.
  auto sums = [&](int dim, const std::string& value, const std::map<int, int64_t>& t) {
    const int january = static_cast<int>(absl::CivilMonth(year, 1) - first_month_);
    int64_t year_sum = 0;
    for (int q = 0; q < 4; ++q) {
      int64_t sum = 0;
      for (int i = january + q * 3; i < january + q * 3 + 3; ++i) {
        if (t.contains(i)) sum += t.at(i);
      }
      if (sum > 0) Target(plan_at, dim, value, v1::GRANULARITY_QUARTER, january + q * 3, sum);
      year_sum += sum;
    }
    if (year_sum > 0) Target(plan_at, dim, value, v1::GRANULARITY_YEAR, january, year_sum);
  };
  sums(v1::DIMENSION_ALL, "", company);
  for (const auto& [region, t] : by_region) sums(v1::DIMENSION_REGION, region, t);

  // Reps still with the company: their average over the months they
  // worked, or a share of their region's when they have none.
  std::map<std::string, int> reps_in_region;
  for (const auto& [id, rep] : reps_) {
    if (rep.left_at > plan_at) ++reps_in_region[rep.region];
  }
  for (auto& entry : reps_) {
    const std::string& id = entry.first;
    Rep& rep = entry.second;
    if (rep.left_at <= plan_at) continue;
    std::optional<int64_t> avg =
        Average({v1::DIMENSION_OWNER, id}, window, [&](int i) { return rep.active[i]; });
    if (!avg || *avg == 0) {
      avg = average({v1::DIMENSION_REGION, rep.region}) / std::max(1, reps_in_region[rep.region]);
    }
    for (const auto& [i, fen] :
         month_targets({v1::DIMENSION_OWNER, id}, *avg, rng_.Between(5, 30))) {
      Target(plan_at, v1::DIMENSION_OWNER, id, v1::GRANULARITY_MONTH, i, fen);
      rep.targets[i] = fen;
      rep.plan_at[i] = plan_at;
    }
  }

  // Market sizes per region and industry, for the year and its quarters
  // (a quarter is a fourth), in 百万元: the first year, a year of the
  // slice's average month over a market share of 1.2-4%; then the market
  // grows by 6-15% a year. The whole market is the regions' sum.
  const int january = static_cast<int>(absl::CivilMonth(year, 1) - first_month_);
  int64_t whole = 0;
  auto declare = [&](const std::string& region, const std::string& industry, int64_t size) {
    const std::string scope = region.empty() && industry.empty() ? "org"
                              : region.empty() ? absl::StrCat("industry:", industry)
                                               : absl::StrCat("region:", region);
    const int64_t quarter = RoundTo(size / 4, kMillionYuan);
    for (int q = -1; q < 4; ++q) {
      v1::MarketSizeDeclared* m = Emit(plan_at, scope, kStrategy).mutable_market_size_declared();
      if (q < 0) {
        SetPeriod(m->mutable_period(), v1::GRANULARITY_YEAR, january);
      } else {
        SetPeriod(m->mutable_period(), v1::GRANULARITY_QUARTER, january + q * 3);
      }
      m->set_region(region);
      m->set_industry(industry);
      SetMoney(m->mutable_amount(), q < 0 ? size : quarter);
    }
  };
  auto size_of = [&](const Slice& s) -> int64_t {
    auto it = market_.find(s);
    const int64_t size =
        it == market_.end()
            ? std::max(kMillionYuan,
                       RoundTo(average(s) * 12 * 1000 / rng_.Between(12, 40), kMillionYuan))
            : RoundTo(it->second * (100 + rng_.Between(6, 15)) / 100, kMillionYuan);
    market_[s] = size;
    return size;
  };
  for (const std::string& region : regions_) {
    const int64_t size = size_of({v1::DIMENSION_REGION, region});
    whole += size;
    declare(region, "", size);
  }
  for (const std::string& industry : industries_) {
    declare("", industry, size_of({v1::DIMENSION_INDUSTRY, industry}));
  }
  if (!regions_.empty()) declare("", "", whole);
  return true;
}

void OrgPlanner::HandOverTargets() {
  std::vector<std::pair<int64_t, std::string>> leavers;
  for (const auto& [id, rep] : reps_) {
    if (rep.left_at != INT64_MAX && !rep.targets.empty()) leavers.emplace_back(rep.left_at, id);
  }
  std::sort(leavers.begin(), leavers.end());
  for (const auto& [left_at, id] : leavers) {
    Rep& leaver = reps_[id];
    const absl::CivilDay next =
        absl::CivilDay(absl::ToCivilSecond(absl::FromUnixSeconds(left_at), zone_)) + 1;
    const int64_t at = At(next, 10);
    if (at > end_) continue;
    const int left_month = MonthIndex(left_at);
    Rep& successor = RepOf(leaver.successor);
    for (auto& [i, fen] : leaver.targets) {
      if (i <= left_month || fen == 0 || leaver.plan_at[i] > left_at) continue;
      Target(at, v1::DIMENSION_OWNER, id, v1::GRANULARITY_MONTH, i, 0);
      const int64_t taken = successor.targets[i] + fen;
      Target(at, v1::DIMENSION_OWNER, leaver.successor, v1::GRANULARITY_MONTH, i, taken);
      successor.targets[i] = taken;
      fen = 0;
    }
  }
}

}  // namespace custops::demo::internal::org

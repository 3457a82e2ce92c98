// The demo's organisation events (docs/demo-data.md, "Organisation events"):
// the sales plan, marketing spend, market sizes and 复盘 actions of the
// company whose customers GenerateDemo simulates.
//
// How they are built:
//  1. The population's books: revenue and gross margin of every ContractSigned
//     and ContractRenewed per month of the reporting zone and per slice the
//     review credits it to (all; region, industry and channel of the customer
//     at the time; owner = the event's actor), referrals per month, every
//     rep's months of activity and its hand-over to a colleague.
//  2. The plan starts with the first whole month in which the CRM holds the
//     business (the company books at least half its average month; the
//     existing book's first deals take a few weeks through the funnel). It
//     is drawn up per calendar year on Dec 20 of the year before (the first
//     one when the CRM goes live): each region's and rep's average month over
//     the last twelve booked months (the first twelve for the first year),
//     spread by a seasonal profile the simulated sales do not follow,
//     averaged with the same month a year before where the books have it,
//     and grown by an ambition — so some months are met and some missed.
//     The company's month target is the regions' sum, quarters and years the
//     sums of their planned months. Market sizes per region, industry and in
//     total, for the year and its quarters: the first year's from the same
//     averages and a market share, growing from then on.
//  3. When a rep leaves, its remaining targets pass to the colleague who
//     takes its customers over; its own are set to 0 (the review shows no
//     attainment for a target <= 0).
//  4. Marketing spend per month, booked on its last day once the month is
//     over: a budget of 12% of the company's target, spent on national
//     channels (online ads, the website, telemarketing; referral rewards per
//     referral) and on regional trade shows and industry events.
//  5. Review actions from the 复盘 meeting on the 5th of the next month, for
//     the last six months reviewed: the region and the rep below 80% of
//     their target by the most money (attainment_below) and the channel with
//     the lowest negative return (marketing_roi_below), computed as the
//     review computes them; three in four of those due are closed.
// Integer arithmetic only; every draw comes from one seeded Rng in a fixed
// order, so the output depends only on the options, the events and the zone.

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/demo/demo.h"
#include "custops/v1/events.pb.h"
#include "rng.h"

namespace custops::demo {
namespace {

using internal::Rng;
using internal::SplitMix64;

constexpr int64_t kYuan = 100;                       // fen
constexpr int64_t kWan = 10'000 * kYuan;             // 万元
constexpr int64_t kMillionYuan = 1'000'000 * kYuan;  // 百万元

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

// Who records what (OrgEvent.actor_id).
constexpr char kSalesOps[] = "sales-ops";
constexpr char kMarketing[] = "marketing";
constexpr char kStrategy[] = "strategy";
constexpr char kMarketingLead[] = "mkt-lead";

// A year's revenue target split over its months, per mille (Jan..Dec): the
// Spring Festival in February, half-year and year-end pushes in June and
// December. The simulated sales have no such season.
constexpr int kTargetSeason[12] = {75, 55, 85, 80, 80, 95, 75, 75, 85, 75, 90, 130};

// A review slice.
using Slice = std::pair<int, std::string>;  // (v1::Dimension, value)

// Revenue and gross margin of one slice, per month of the history.
struct Books {
  std::vector<int64_t> revenue;
  std::vector<int64_t> margin;
};

struct Rep {
  std::string region;              // of its first customer
  std::vector<bool> active;        // per month: an event names it as actor
  int64_t left_at = INT64_MAX;     // its first customer handed over
  std::string successor;           // who took that customer
  std::map<int, int64_t> targets;  // month -> current target (fen)
  std::map<int, int64_t> plan_at;  // month -> when its target was set
};

struct Profile {
  std::string region, industry, channel, owner;
};

struct Draft {
  int64_t at;
  int64_t seq;
  v1::OrgEvent event;
};

// An action candidate: a slice whose finding fires in a month.
struct Finding {
  int month;
  std::string_view rule;
  Slice slice;
  int64_t value;  // revenue or margin
  int64_t base;   // target or spend
};

int64_t RoundTo(int64_t x, int64_t unit) { return (x + unit / 2) / unit * unit; }

// `fen` in 万元 with one decimal, rounded down: "1234.5".
std::string Wan(int64_t fen) {
  const int64_t tenths = fen * 10 / kWan;
  return absl::StrFormat("%d.%d", tenths / 10, tenths % 10);
}

// value / base < num / den, exactly.
bool Below(int64_t value, int64_t base, int64_t num, int64_t den) {
  return static_cast<__int128>(value) * den < static_cast<__int128>(base) * num;
}

class OrgPlanner {
 public:
  OrgPlanner(const DemoOptions& options, absl::TimeZone zone)
      : options_(options),
        zone_(zone),
        rng_(SplitMix64(options.seed ^ 0x0A9E7E57ULL)),
        start_(absl::ToUnixSeconds(options.end - options.span)),
        end_(absl::ToUnixSeconds(options.end)),
        first_month_(absl::ToCivilSecond(options.end - options.span, zone)),
        months_(static_cast<int>(absl::CivilMonth(absl::ToCivilSecond(options.end, zone)) -
                                 first_month_) +
                1) {}

  std::vector<v1::OrgEvent> Run(const std::vector<v1::Event>& events) {
    ReadBooks(events);
    FindFirstPlannedMonth();
    for (int64_t year = first_month_.year(); year <= (first_month_ + (months_ - 1)).year();
         ++year) {
      if (!PlanYear(year)) break;
    }
    HandOverTargets();
    BookSpend();
    PlanActions();
    return Numbered();
  }

 private:
  // ---- time ----

  absl::CivilMonth Month(int i) const { return first_month_ + i; }
  int MonthIndex(int64_t t) const {
    return static_cast<int>(absl::CivilMonth(absl::ToCivilSecond(absl::FromUnixSeconds(t), zone_)) -
                            first_month_);
  }
  int64_t MonthStart(int i) const {
    return absl::ToUnixSeconds(absl::FromCivil(absl::CivilSecond(Month(i)), zone_));
  }
  int64_t At(absl::CivilDay day, int hour) const {
    return absl::ToUnixSeconds(
        absl::FromCivil(absl::CivilSecond(day.year(), day.month(), day.day(), hour, 0, 0), zone_));
  }
  // A whole month of the history: its books are complete.
  bool Full(int i) const { return MonthStart(i) >= start_ && MonthStart(i + 1) <= end_; }
  std::string MonthKey(int i) const {
    return absl::StrFormat("%04d-%02d", Month(i).year(), Month(i).month());
  }

  // ---- the books ----

  Books& BooksOf(int dim, const std::string& value) {
    Books& b = books_[{dim, value}];
    if (b.revenue.empty()) {
      b.revenue.assign(months_, 0);
      b.margin.assign(months_, 0);
    }
    return b;
  }
  int64_t Revenue(const Slice& s, int i) const {
    auto it = books_.find(s);
    return it == books_.end() ? 0 : it->second.revenue[i];
  }
  int64_t Margin(const Slice& s, int i) const {
    auto it = books_.find(s);
    return it == books_.end() ? 0 : it->second.margin[i];
  }
  Rep& RepOf(const std::string& id) {
    Rep& r = reps_[id];
    if (r.active.empty()) r.active.assign(months_, false);
    return r;
  }

  void ReadBooks(const std::vector<v1::Event>& events) {
    referrals_.assign(months_, 0);
    std::map<std::string, Profile> profiles;
    for (const v1::Event& e : events) {
      const int64_t t = e.occurred_at().seconds();
      const int i = MonthIndex(t);
      if (i < 0 || i >= months_) continue;
      Profile& p = profiles[e.customer_id()];
      if (e.has_customer_registered()) {
        const v1::CustomerRegistered& r = e.customer_registered();
        p = {.region = r.region(),
             .industry = r.industry(),
             .channel = r.channel(),
             .owner = r.owner_id()};
        if (!r.owner_id().empty()) {
          Rep& rep = RepOf(r.owner_id());
          if (rep.region.empty()) rep.region = r.region();
        }
      } else if (e.has_customer_profile_updated()) {
        const v1::CustomerProfileUpdated& u = e.customer_profile_updated();
        if (u.has_region()) p.region = u.region();
        if (u.has_industry()) p.industry = u.industry();
        if (u.has_channel()) p.channel = u.channel();
        if (u.has_owner_id() && u.owner_id() != p.owner) {
          if (!p.owner.empty()) {
            Rep& leaver = RepOf(p.owner);
            if (leaver.left_at == INT64_MAX) {
              leaver.left_at = t;
              leaver.successor = u.owner_id();
            }
          }
          p.owner = u.owner_id();
        }
      }
      if (!e.actor_id().empty()) RepOf(e.actor_id()).active[i] = true;
      if (e.has_referral_made()) ++referrals_[i];
      int64_t amount = 0;
      int64_t cost = 0;
      if (e.has_contract_signed()) {
        amount = e.contract_signed().amount().units();
        cost = e.contract_signed().cost().units();
      } else if (e.has_contract_renewed()) {
        amount = e.contract_renewed().amount().units();
        cost = e.contract_renewed().cost().units();
      } else {
        continue;
      }
      // The review's attribution (docs/review.md, Slices).
      const std::string& owner = e.actor_id().empty() ? p.owner : e.actor_id();
      for (const auto& [dim, value] :
           {Slice{v1::DIMENSION_ALL, ""}, Slice{v1::DIMENSION_REGION, p.region},
            Slice{v1::DIMENSION_INDUSTRY, p.industry}, Slice{v1::DIMENSION_OWNER, owner},
            Slice{v1::DIMENSION_CHANNEL, p.channel}}) {
        if (dim != v1::DIMENSION_ALL && value.empty()) continue;
        Books& b = BooksOf(dim, value);
        b.revenue[i] += amount;
        b.margin[i] += amount - cost;
      }
    }
    // A hand-over is a rep leaving only when the rep is not seen again.
    for (auto& entry : reps_) {
      Rep& rep = entry.second;
      if (rep.left_at == INT64_MAX) continue;
      for (int i = MonthIndex(rep.left_at) + 1; i < months_; ++i) {
        if (rep.active[i]) rep.left_at = INT64_MAX;
      }
    }
    for (const auto& [slice, books] : books_) {
      if (slice.first == v1::DIMENSION_REGION) regions_.push_back(slice.second);
      if (slice.first == v1::DIMENSION_INDUSTRY) industries_.push_back(slice.second);
    }
  }

  // The first month the plan covers: the first whole month in which the
  // company books at least half its average monthly revenue of the first
  // twelve whole months. Before it the CRM does not hold the business yet:
  // the existing book's first deals are still in the funnel.
  void FindFirstPlannedMonth() {
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

  // Average monthly revenue of `slice` over `window` (months), counting only
  // the months `counts` accepts; nullopt when it accepts none.
  template <typename Pred>
  std::optional<int64_t> Average(const Slice& slice, const std::vector<int>& window,
                                 Pred counts) const {
    int64_t sum = 0;
    int64_t n = 0;
    for (int i : window) {
      if (!counts(i)) continue;
      sum += Revenue(slice, i);
      ++n;
    }
    if (n == 0) return std::nullopt;
    return sum / n;
  }

  // ---- emitting ----

  // The returned reference is valid until the next Emit.
  v1::OrgEvent& Emit(int64_t at, std::string scope, const char* actor) {
    CHECK(at >= start_ && at <= end_) << "org event outside the history";
    drafts_.push_back(Draft{.at = at, .seq = static_cast<int64_t>(drafts_.size()), .event = {}});
    v1::OrgEvent& e = drafts_.back().event;
    e.mutable_occurred_at()->set_seconds(at);
    e.set_scope(std::move(scope));
    e.set_source("demo");
    e.set_actor_id(actor);
    return e;
  }

  static std::string ScopeOf(int dim, const std::string& value) {
    switch (dim) {
      case v1::DIMENSION_REGION:
        return absl::StrCat("region:", value);
      case v1::DIMENSION_INDUSTRY:
        return absl::StrCat("industry:", value);
      case v1::DIMENSION_OWNER:
        return absl::StrCat("owner:", value);
      case v1::DIMENSION_CHANNEL:
        return absl::StrCat("channel:", value);
      default:
        return "org";
    }
  }

  void SetMoney(v1::Money* m, int64_t fen) const {
    m->set_units(fen);
    m->set_currency(options_.currency);
  }

  // A period of `granularity` starting with month `i` (its first instant).
  void SetPeriod(v1::Period* p, v1::Granularity granularity, int i) const {
    p->set_granularity(granularity);
    p->mutable_start()->set_seconds(MonthStart(i));
  }

  void Target(int64_t at, int dim, const std::string& value, v1::Granularity granularity, int month,
              int64_t fen) {
    v1::TargetSet* t = Emit(at, ScopeOf(dim, value), kSalesOps).mutable_target_set();
    SetPeriod(t->mutable_period(), granularity, month);
    t->set_dimension(static_cast<v1::Dimension>(dim));
    t->set_dimension_value(value);
    t->set_metric("revenue");
    SetMoney(t->mutable_value()->mutable_money(), fen);
  }

  // ---- the plan ----

  // Plans `year`'s targets and market sizes; false when the plan would be
  // drawn up after the end of the history.
  bool PlanYear(int64_t year) {
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

  // A leaving rep's targets from the month after it left go to the colleague
  // who takes its customers over; its own become 0 (no target).
  void HandOverTargets() {
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

  // ---- marketing ----

  void Spend(int64_t at, int i, int dim, const std::string& value, const char* channel,
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

  void BookSpend() {
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

  // ---- 复盘 actions ----

  void PlanActions() {
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

  // The 复盘 meeting of month i: the 5th of the next month, 15:00.
  int64_t Meeting(int i) const { return At(absl::CivilDay(Month(i + 1)) + 4, 15); }

  // The region's rep with the most revenue in month i (ties: the first id).
  std::string RegionLead(const std::string& region, int i) const {
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

  std::vector<v1::OrgEvent> Numbered() {
    std::sort(drafts_.begin(), drafts_.end(), [](const Draft& a, const Draft& b) {
      return a.at != b.at ? a.at < b.at : a.seq < b.seq;
    });
    const int width = std::max(6, static_cast<int>(absl::StrCat(drafts_.size()).size()));
    std::vector<v1::OrgEvent> out;
    out.reserve(drafts_.size());
    for (size_t n = 0; n < drafts_.size(); ++n) {
      v1::OrgEvent& e = drafts_[n].event;
      e.set_event_id(absl::StrFormat("demo-%d-org-%0*d", options_.seed, width, n + 1));
      out.push_back(std::move(e));
    }
    return out;
  }

  const DemoOptions& options_;
  const absl::TimeZone zone_;
  Rng rng_;
  const int64_t start_;
  const int64_t end_;
  const absl::CivilMonth first_month_;
  const int months_;
  int first_planned_ = 0;
  std::map<Slice, Books> books_;
  std::vector<std::string> regions_;
  std::vector<std::string> industries_;
  std::vector<int64_t> referrals_;
  std::map<std::string, Rep> reps_;
  std::map<Slice, std::map<int, int64_t>> targets_;  // region and company, month -> fen
  std::map<Slice, std::map<int, int64_t>> spend_;    // month -> fen
  std::map<Slice, int64_t> market_;                  // the last year's size
  std::vector<Draft> drafts_;
};

}  // namespace

std::vector<v1::OrgEvent> GenerateDemoOrg(const DemoOptions& options,
                                          const std::vector<v1::Event>& events,
                                          absl::TimeZone zone) {
  CHECK(options.span >= absl::Hours(24 * 7)) << "span must be at least 7 days";
  CHECK(options.end - options.span >= absl::FromUnixSeconds(0) &&
        options.end <= absl::FromCivil(absl::CivilSecond(2190, 1, 1, 0, 0, 0), absl::UTCTimeZone()))
      << "end must lie within 1971..2190 and end - span after 1970";
  CHECK(!options.currency.empty()) << "currency is required";
  return OrgPlanner(options, zone).Run(events);
}

}  // namespace custops::demo

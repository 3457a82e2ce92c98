// OrgPlanner, which builds the demo's organisation events (org.cc says how):
// its books of the population, the plan, the spend and the actions, and the
// drafts it emits. Its members are defined in org.cc (the books, emitting and
// numbering the events), org_plan.cc (the sales plan, market sizes and the
// hand-over of targets) and org_spend_actions.cc (marketing spend and 复盘
// actions). Internal to the demo library.
#ifndef CUSTOPS_DEMO_SRC_ORG_PLANNER_H_
#define CUSTOPS_DEMO_SRC_ORG_PLANNER_H_

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/demo/demo.h"
#include "custops/v1/events.pb.h"
#include "rng.h"

namespace custops::demo::internal::org {

inline constexpr int64_t kYuan = 100;                       // fen
inline constexpr int64_t kWan = 10'000 * kYuan;             // 万元
inline constexpr int64_t kMillionYuan = 1'000'000 * kYuan;  // 百万元

// Who records what (OrgEvent.actor_id).
inline constexpr char kSalesOps[] = "sales-ops";
inline constexpr char kMarketing[] = "marketing";
inline constexpr char kStrategy[] = "strategy";
inline constexpr char kMarketingLead[] = "mkt-lead";

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

struct Draft {
  int64_t at;
  int64_t seq;
  v1::OrgEvent event;
};

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

  // The organisation events of the population's `events`, in time order.
  std::vector<v1::OrgEvent> Run(const std::vector<v1::Event>& events);

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

  // ---- the books (org.cc) ----

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

  void ReadBooks(const std::vector<v1::Event>& events);

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

  // ---- emitting (org.cc) ----

  // The returned reference is valid until the next Emit.
  v1::OrgEvent& Emit(int64_t at, std::string scope, const char* actor);

  static std::string ScopeOf(int dim, const std::string& value);

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
              int64_t fen);

  // The drafts in time order, with their event ids.
  std::vector<v1::OrgEvent> Numbered();

  // ---- the plan (org_plan.cc) ----

  // The first month the plan covers: the first whole month in which the
  // company books at least half its average monthly revenue of the first
  // twelve whole months. Before it the CRM does not hold the business yet:
  // the existing book's first deals are still in the funnel.
  void FindFirstPlannedMonth();

  // Plans `year`'s targets and market sizes; false when the plan would be
  // drawn up after the end of the history.
  bool PlanYear(int64_t year);

  // A leaving rep's targets from the month after it left go to the colleague
  // who takes its customers over; its own become 0 (no target).
  void HandOverTargets();

  // ---- marketing (org_spend_actions.cc) ----

  void Spend(int64_t at, int i, int dim, const std::string& value, const char* channel,
             int64_t fen);
  void BookSpend();

  // ---- 复盘 actions (org_spend_actions.cc) ----

  void PlanActions();

  // The 复盘 meeting of month i: the 5th of the next month, 15:00.
  int64_t Meeting(int i) const { return At(absl::CivilDay(Month(i + 1)) + 4, 15); }

  // The region's rep with the most revenue in month i (ties: the first id).
  std::string RegionLead(const std::string& region, int i) const;

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

}  // namespace custops::demo::internal::org

#endif  // CUSTOPS_DEMO_SRC_ORG_PLANNER_H_

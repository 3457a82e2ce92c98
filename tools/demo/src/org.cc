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
//
// This file holds the planner's books (1), how it emits and numbers the
// events, and GenerateDemoOrg; org_plan.cc the plan (2, 3),
// org_spend_actions.cc the spend and the actions (4, 5), org_planner.h the
// planner they share.

#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/demo/demo.h"
#include "custops/v1/events.pb.h"
#include "org_planner.h"

namespace custops::demo {
namespace internal::org {
namespace {

struct Profile {
  std::string region, industry, channel, owner;
};

}  // namespace

std::vector<v1::OrgEvent> OrgPlanner::Run(const std::vector<v1::Event>& events) {
  ReadBooks(events);
  FindFirstPlannedMonth();
  for (int64_t year = first_month_.year(); year <= (first_month_ + (months_ - 1)).year(); ++year) {
    if (!PlanYear(year)) break;
  }
  HandOverTargets();
  BookSpend();
  PlanActions();
  return Numbered();
}

void OrgPlanner::ReadBooks(const std::vector<v1::Event>& events) {
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

v1::OrgEvent& OrgPlanner::Emit(int64_t at, std::string scope, const char* actor) {
  CHECK(at >= start_ && at <= end_) << "org event outside the history";
  drafts_.push_back(Draft{.at = at, .seq = static_cast<int64_t>(drafts_.size()), .event = {}});
  v1::OrgEvent& e = drafts_.back().event;
  e.mutable_occurred_at()->set_seconds(at);
  e.set_scope(std::move(scope));
  e.set_source("demo");
  e.set_actor_id(actor);
  return e;
}

std::string OrgPlanner::ScopeOf(int dim, const std::string& value) {
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

void OrgPlanner::Target(int64_t at, int dim, const std::string& value, v1::Granularity granularity,
                        int month, int64_t fen) {
  v1::TargetSet* t = Emit(at, ScopeOf(dim, value), kSalesOps).mutable_target_set();
  SetPeriod(t->mutable_period(), granularity, month);
  t->set_dimension(static_cast<v1::Dimension>(dim));
  t->set_dimension_value(value);
  t->set_metric("revenue");
  SetMoney(t->mutable_value()->mutable_money(), fen);
}

std::vector<v1::OrgEvent> OrgPlanner::Numbered() {
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

}  // namespace internal::org

std::vector<v1::OrgEvent> GenerateDemoOrg(const DemoOptions& options,
                                          const std::vector<v1::Event>& events,
                                          absl::TimeZone zone) {
  CHECK(options.span >= absl::Hours(24 * 7)) << "span must be at least 7 days";
  CHECK(options.end - options.span >= absl::FromUnixSeconds(0) &&
        options.end <= absl::FromCivil(absl::CivilSecond(2190, 1, 1, 0, 0, 0), absl::UTCTimeZone()))
      << "end must lie within 1971..2190 and end - span after 1970";
  CHECK(!options.currency.empty()) << "currency is required";
  return internal::org::OrgPlanner(options, zone).Run(events);
}

}  // namespace custops::demo

// GenerateDemo: the world (reps, regions, every party's registration), one
// PartySim per party (party_sim.h; its parts in party_sim.cc, deals.cc and
// account.cc), the referrals, and the final ordering and numbering. The
// business's vocabulary is in vocabulary.h, the organisation events
// (GenerateDemoOrg) in org.cc.

#include "custops/demo/demo.h"

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/domain/activity.h"
#include "custops/v1/events.pb.h"
#include "party_sim.h"
#include "rng.h"
#include "vocabulary.h"

// How the population is built (docs/demo-data.md has the business view):
//  1. The world: reps spread over regions, a few reps who leave the company
//     during the history, and every party's registration day (ids follow
//     registration order).
//  2. One independent simulation per party with its own random stream: a
//     prospecting phase, deals through the funnel, and for won customers an
//     account phase (service visits, complaints, surveys, payments,
//     renewals, upsells) that ends by the party's fate (growing, stable,
//     declining, silent, churned, sometimes won back). A simulation runs
//     freely past the end and its late events are dropped afterwards: every
//     event depends only on earlier ones, so the cut is always consistent.
//  3. Referrals: a customer acquired through 转介绍 is credited to an
//     earlier, still engaged customer.
//  4. Everything is sorted by time and numbered.
// Times are whole seconds; days are counted in China Standard Time (UTC+8,
// no daylight saving) so that visits happen in office hours.

namespace custops::demo {
namespace {

using internal::Draft;
using internal::kDay;
using internal::kHour;
using internal::kMinute;
using internal::kNever;
using internal::kRegionCount;
using internal::kRegions;
using internal::kUtcOffset;
using internal::Party;
using internal::PartySim;
using internal::Region;
using internal::Rng;
using internal::SplitMix64;
using internal::World;

// ---- the world ---------------------------------------------------------

World MakeWorld(const DemoOptions& options, Rng& rng) {
  World w;
  w.currency = options.currency;
  w.end = absl::ToUnixSeconds(options.end);
  const int64_t start = absl::ToUnixSeconds(options.end - options.span);
  // The first local midnight at or after start.
  const int64_t local = start + kUtcOffset;
  const int64_t midnight = (local + kDay - 1) / kDay * kDay;  // start >= 0
  w.base = midnight - kUtcOffset;
  w.days = (w.end - w.base) / kDay;

  const int owners = options.owners;
  int total_weight = 0;
  for (const Region& r : kRegions) total_weight += r.weight;
  w.reps_by_region.resize(kRegionCount);
  for (int i = 0; i < owners; ++i) {
    w.rep_ids.push_back(OwnerId(i + 1, owners));
    // Reps spread over the regions in proportion to their weight.
    const int64_t position = (2 * int64_t{i} + 1) * total_weight / (2 * int64_t{owners});
    int region = 0;
    int64_t cumulative = kRegions[0].weight;
    while (position >= cumulative && region + 1 < kRegionCount) {
      ++region;
      cumulative += kRegions[region].weight;
    }
    w.rep_region.push_back(region);
    w.reps_by_region[region].push_back(i);
  }
  w.rep_left_at.assign(owners, kNever);
  w.rep_successor.assign(owners, -1);
  // One rep in twenty leaves in the middle of the history; a colleague who
  // stays, from the same region when there is one, takes the customers over.
  if (owners >= 2) {
    const int leaving = std::max(1, owners / 20);
    for (int k = 0; k < leaving; ++k) {
      const int rep = static_cast<int>(rng.Below(owners));
      const int64_t day = w.days * rng.Between(35, 80) / 100;
      w.rep_left_at[rep] = std::min(w.rep_left_at[rep], w.base + day * kDay + 18 * kHour);
    }
    for (int rep = 0; rep < owners; ++rep) {
      if (w.rep_left_at[rep] == kNever) continue;
      for (int other : w.reps_by_region[w.rep_region[rep]]) {
        if (w.rep_left_at[other] == kNever) {
          w.rep_successor[rep] = other;
          break;
        }
      }
      for (int other = 0; other < owners && w.rep_successor[rep] < 0; ++other) {
        if (w.rep_left_at[other] == kNever) w.rep_successor[rep] = other;
      }
      CHECK(w.rep_successor[rep] >= 0);
    }
  }
  return w;
}

std::vector<Party> MakeParties(const DemoOptions& options, const World& w, Rng& rng) {
  const int n = options.customers;
  // Registration days: one party in seven is the existing book, entered in
  // the first weeks after the CRM went live; the rest arrive uniformly, with
  // a tilt towards recent months (the company grows). Ids follow
  // registration order.
  const int64_t go_live_days = std::min<int64_t>(45, w.days);
  std::vector<std::pair<int64_t, bool>> days(n);
  for (auto& [day, established] : days) {
    established = rng.Chance(15);
    if (established) {
      day = rng.Below(go_live_days);
    } else {
      day = rng.Below(w.days);
      if (rng.Chance(30)) day = std::max(day, rng.Below(w.days));
    }
  }
  std::sort(days.begin(), days.end());
  const int width = std::max(6, static_cast<int>(absl::StrCat(n).size()));
  std::vector<Party> parties(n);
  for (int i = 0; i < n; ++i) {
    Party& p = parties[i];
    p.id = absl::StrFormat("C%0*d", width, i + 1);
    static constexpr v1::CustomerKind kKinds[] = {
        v1::CUSTOMER_KIND_CUSTOMER, v1::CUSTOMER_KIND_AGENT, v1::CUSTOMER_KIND_SUPPLIER,
        v1::CUSTOMER_KIND_PARTNER, v1::CUSTOMER_KIND_COMPETITOR};
    p.kind = kKinds[rng.Weighted({85, 7, 3, 3, 2})];
    p.region = static_cast<int>(rng.PickWeightedIndex(kRegions));
    p.established = days[i].second;
    p.registered_at = std::min(
        w.base + days[i].first * kDay + 9 * kHour + rng.Between(0, 9 * 60 - 1) * kMinute, w.end);
    const std::vector<int>& local = w.reps_by_region[p.region];
    int owner = local.empty() ? static_cast<int>(rng.Below(static_cast<int64_t>(w.rep_ids.size())))
                              : local[rng.Below(static_cast<int64_t>(local.size()))];
    if (w.rep_left_at[owner] <= p.registered_at) owner = w.rep_successor[owner];
    p.owner = owner;
    if (w.rep_left_at[owner] != kNever) {
      p.new_owner = w.rep_successor[owner];
      p.handover_at = w.rep_left_at[owner] + rng.Between(15, 60 * 24 * 3) * kMinute;
    }
    // Referred customers: an earlier customer is found for each below.
    p.referred = p.kind == v1::CUSTOMER_KIND_CUSTOMER && i > 20 && rng.Chance(8);
  }
  return parties;
}

}  // namespace

std::string OwnerId(int index_from_one, int owners) {
  const int width = std::max(2, static_cast<int>(absl::StrCat(owners).size()));
  return absl::StrFormat("rep-%0*d", width, index_from_one);
}

std::vector<v1::Event> GenerateDemo(const DemoOptions& options) {
  CHECK(options.customers >= 0) << "customers must be >= 0, got " << options.customers;
  CHECK(options.owners >= 1) << "owners must be >= 1, got " << options.owners;
  CHECK(options.span >= absl::Hours(24 * 7)) << "span must be at least 7 days";
  CHECK(options.end - options.span >= absl::FromUnixSeconds(0) &&
        options.end <= absl::FromCivil(absl::CivilSecond(2190, 1, 1, 0, 0, 0), absl::UTCTimeZone()))
      << "end must lie within 1971..2190 and end - span after 1970";
  CHECK(!options.currency.empty()) << "currency is required";

  Rng world_rng(SplitMix64(options.seed));
  const World world = MakeWorld(options, world_rng);
  std::vector<Party> parties = MakeParties(options, world, world_rng);

  std::vector<Draft> drafts;
  std::vector<int64_t> next_seq(parties.size(), 0);
  for (size_t i = 0; i < parties.size(); ++i) {
    const size_t first = drafts.size();
    PartySim sim(world, parties[i], static_cast<int>(i),
                 SplitMix64(options.seed ^ SplitMix64(0xC057095ULL + i)));
    sim.Run(drafts);
    next_seq[i] = sim.next_seq();
    // Drop what lies past the end; learn what referrals need to know.
    Party& p = parties[i];
    size_t kept = first;
    for (size_t j = first; j < drafts.size(); ++j) {
      if (drafts[j].at > world.end) continue;
      const v1::Event& e = drafts[j].event;
      if (domain::IsActivity(e)) {
        p.last_activity_at = p.last_activity_at == kNever
                                 ? drafts[j].at
                                 : std::max(p.last_activity_at, drafts[j].at);
      }
      if (e.has_contract_signed())
        p.first_purchase_at = std::min(p.first_purchase_at, drafts[j].at);
      if (e.has_customer_churned()) p.churned_at = std::min(p.churned_at, drafts[j].at);
      if (kept != j) drafts[kept] = std::move(drafts[j]);
      ++kept;
    }
    drafts.resize(kept);
  }

  // Referrals: each referred customer is credited to an earlier customer
  // who had bought before it registered and was still engaged.
  Rng referral_rng(SplitMix64(options.seed ^ 0x5EFE55A1ULL));
  for (size_t b = 0; b < parties.size(); ++b) {
    const Party& referred = parties[b];
    if (!referred.referred) continue;
    const int64_t day = (referred.registered_at - world.base) / kDay + referral_rng.Between(1, 5);
    const int64_t at =
        world.base + day * kDay + 9 * kHour + referral_rng.Between(0, 9 * 60 - 1) * kMinute;
    for (int probe = 0; probe < 40 && at <= world.end; ++probe) {
      const size_t a = static_cast<size_t>(referral_rng.Below(static_cast<int64_t>(b)));
      const Party& referrer = parties[a];
      const bool engaged = referrer.first_purchase_at < referred.registered_at &&
                           referrer.last_activity_at != kNever &&
                           referrer.last_activity_at + 90 * kDay >= at && referrer.churned_at > at;
      if (!engaged) continue;
      Draft d{.at = at, .seq = next_seq[a]++, .party = static_cast<int>(a), .event = {}};
      d.event.set_customer_id(referrer.id);
      d.event.mutable_occurred_at()->set_seconds(at);
      d.event.set_source("demo");
      d.event.set_actor_id(world.rep_ids[referrer.OwnerAt(at)]);
      d.event.mutable_referral_made()->set_referred_customer_id(referred.id);
      drafts.push_back(std::move(d));
      break;
    }
  }

  // Order by time, then by party and generation order: a total order, so
  // the result does not depend on the sort algorithm.
  std::vector<size_t> order(drafts.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t x, size_t y) {
    const Draft& a = drafts[x];
    const Draft& b = drafts[y];
    if (a.at != b.at) return a.at < b.at;
    if (a.party != b.party) return a.party < b.party;
    return a.seq < b.seq;
  });
  const int width = std::max(7, static_cast<int>(absl::StrCat(drafts.size()).size()));
  const std::string prefix = absl::StrCat("demo-", options.seed, "-");
  std::vector<v1::Event> events;
  events.reserve(drafts.size());
  for (size_t n = 0; n < order.size(); ++n) {
    v1::Event& e = drafts[order[n]].event;
    e.set_event_id(absl::StrCat(prefix, absl::StrFormat("%0*d", width, n + 1)));
    events.push_back(std::move(e));
  }
  return events;
}

}  // namespace custops::demo

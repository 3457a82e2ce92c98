// ReviewQueries' reading of the review state and its metric computation:
// the constructor, slices and snapshots summed over partitions, tier
// membership by the value rules, gathering a period's figures (tier merges
// and region merges, movers counted once) and the metrics of what was
// gathered, org figures included. The reports are in
// review_report_queries.cc, the per-customer queries in
// review_customer_queries.cc.
#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "custops/base/saturating.h"
#include "custops/base/status_macros.h"
#include "custops/review/review_projection.h"
#include "custops/store/keys.h"
#include "review_query_keys.h"

namespace custops::review {
namespace {

// Margin of the purchases in (window_start, as_of], saturating.
int64_t WindowMargin(const internal::ReviewTierFacts& f, int64_t window_start, int64_t as_of) {
  int64_t margin = 0;
  for (int i = 0; i < f.purchase_micros_size() && i < f.margin_units_size(); ++i) {
    const int64_t t = f.purchase_micros(i);
    if (t > window_start && t <= as_of) margin = base::SaturatingAdd(margin, f.margin_units(i));
  }
  return margin;
}

// rv_seen kinds read here (src/review_batch.h): the distinct counters a
// customer who moved region can be counted twice in, and the movers' index.
// A customer's day slice keeps each of these counters as a bit mask over
// kGranularities (ReviewProjection::Batch::CountDistinct).
constexpr std::pair<char, int64_t domain::ReviewAccumulator::*> kDistinctCounters[] = {
    {'a', &domain::ReviewAccumulator::active_customers},
    {'p', &domain::ReviewAccumulator::purchasing_customers},
    {'r', &domain::ReviewAccumulator::repeat_purchasing_customers},
    {'v', &domain::ReviewAccumulator::covered_customers},
};
constexpr char kSeenMover = 'm';

// How many of `regions` (sorted) the dimension tokens `list` (dim (BE32) |
// value \0, back to back: a distinct counter's rv_seen entry) name.
int64_t RegionsNamed(std::string_view list, const std::vector<std::string>& regions) {
  int64_t n = 0;
  while (list.size() >= 4) {
    const size_t end = list.find('\0', 4);
    const size_t len = end == std::string_view::npos ? list.size() : end + 1;
    std::string_view token = list.substr(0, len);
    list.remove_prefix(len);
    if (store::ReadU32(token) != static_cast<uint32_t>(v1::DIMENSION_REGION)) continue;
    if (!token.empty() && token.back() == '\0') token.remove_suffix(1);
    if (std::binary_search(regions.begin(), regions.end(), token)) ++n;
  }
  return n;
}

// Sum of declared figures, present only when every one of `figures` (at
// least one) is: a ratio over it must cover the numerator's whole scope.
std::optional<int64_t> SumIfAllDeclared(const std::vector<std::optional<int64_t>>& figures) {
  if (figures.empty()) return std::nullopt;
  int64_t sum = 0;
  for (const std::optional<int64_t>& f : figures) {
    if (!f) return std::nullopt;
    sum = base::SaturatingAdd(sum, *f);
  }
  return sum;
}

}  // namespace

ReviewQueries::ReviewQueries(const store::Store& store, int partitions, ReviewRules rules,
                             const OrgFigures* org, std::string currency)
    : store_(store),
      partitions_(partitions),
      rules_(std::move(rules)),
      org_(org),
      currency_(std::move(currency)),
      cf_{.slice = store.Family("rv_slice"),
          .delta = store.Family("rv_delta"),
          .seen = store.Family("rv_seen"),
          .customer = store.Family("rv_customer"),
          .opp = store.Family("rv_opp"),
          .owner = store.Family("rv_owner"),
          .region = store.Family("rv_region"),
          .due = store.Family("rv_due"),
          .tier = store.Family("rv_tier"),
          .activity = store.Family("rv_activity")} {}

absl::StatusOr<SliceState> ReviewQueries::LoadSlice(const std::string& period_key,
                                                    v1::Dimension dim,
                                                    const std::string& value) const {
  SliceState total;
  const std::string suffix = SliceSuffix(period_key, dim, value);
  for (int p = 0; p < partitions_; ++p) {
    ASSIGN_OR_RETURN(std::optional<std::string> stored,
                     store_.Get(cf_.slice, PartitionKey(p) + suffix));
    if (!stored) continue;
    internal::ReviewSlice proto;
    if (!proto.ParseFromString(*stored)) return absl::DataLossError("corrupt review slice");
    MergeInto(total, FromProto(proto));
  }
  return total;
}

namespace {

// The stored key of `day` in a customer's day slices (day_key\0).
std::string DayKey(absl::CivilDay day) {
  std::string key;
  store::AppendId(key, domain::PeriodContaining(day, v1::GRANULARITY_DAY).Key());
  return key;
}

}  // namespace

absl::Status ReviewQueries::TierAvailable() const {
  if (!rules_.tier_dimension) {
    return absl::FailedPreconditionError("dimension: tier is off (review.tier_dimension = false)");
  }
  if (state_outdated_) {
    return absl::UnavailableError(
        "dimension: tier answers wait for the rebuild of the review state into this version's "
        "layout (Admin.Status shows its progress)");
  }
  return absl::OkStatus();
}

absl::StatusOr<SliceState> ReviewQueries::CustomerSlice(
    int partition, const std::string& customer_id, const domain::ReportingPeriod& period) const {
  const int bit = CustomerDayBit(period.granularity);
  if (bit < 0) return absl::InvalidArgumentError("granularity: not a reporting granularity");
  const std::string prefix = PartitionKey(partition) + CustomerDaysPrefix(customer_id);
  const std::string last = DayKey(period.last_day());
  std::array<int64_t, std::size(kDistinctCounters)> masks{};
  SliceState total;
  std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.slice, prefix);
  for (it->Seek(prefix + DayKey(period.first_day)); it->Valid(); it->Next()) {
    if (it->key().substr(prefix.size()) > last) break;
    internal::ReviewSlice proto;
    if (!proto.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt review slice");
    }
    SliceState day = FromProto(proto);
    for (size_t i = 0; i < masks.size(); ++i) {
      int64_t& counter = day.acc.*kDistinctCounters[i].second;
      masks[i] |= counter;
      counter = 0;
    }
    MergeInto(total, day);
  }
  RETURN_IF_ERROR(it->status());
  for (size_t i = 0; i < masks.size(); ++i) {
    total.acc.*kDistinctCounters[i].second = (masks[i] >> bit) & 1;
  }
  return total;
}

absl::Status ReviewQueries::CustomerSubjects(int partition, char kind,
                                             const std::string& customer_id,
                                             const domain::ReportingPeriod& period, size_t limit,
                                             std::set<std::string>& ids) const {
  std::string prefix = PartitionKey(partition);
  prefix.push_back(kind);
  prefix.append(CustomerDaysPrefix(customer_id));
  const std::string last = DayKey(period.last_day());
  std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.seen, prefix);
  for (it->Seek(prefix + DayKey(period.first_day)); it->Valid() && ids.size() < limit; it->Next()) {
    std::string_view rest = it->key().substr(prefix.size());
    const size_t end = rest.find('\0');
    if (end == std::string_view::npos) return absl::DataLossError("corrupt review subject key");
    if (rest.substr(0, end + 1) > last) break;
    ids.emplace(rest.substr(end + 1));
  }
  return it->status();
}

absl::StatusOr<std::vector<internal::ReviewDelta>> ReviewQueries::SnapshotsBefore(
    v1::Dimension dim, const std::string& value, const std::vector<absl::CivilDay>& days) const {
  std::vector<internal::ReviewDelta> total(days.size());
  for (int p = 0; p < partitions_; ++p) {
    ASSIGN_OR_RETURN(std::vector<internal::ReviewDelta> part,
                     SnapshotsBeforeIn(p, dim, value, days));
    for (size_t i = 0; i < days.size(); ++i) AddDeltaInto(total[i], part[i]);
  }
  return total;
}

absl::StatusOr<std::vector<internal::ReviewDelta>> ReviewQueries::SnapshotsBeforeIn(
    int partition, v1::Dimension dim, const std::string& value,
    const std::vector<absl::CivilDay>& days) const {
  std::vector<internal::ReviewDelta> out(days.size());
  if (days.empty()) return out;
  std::string prefix = PartitionKey(partition);
  store::AppendU32(prefix, static_cast<uint32_t>(dim));
  store::AppendId(prefix, value);
  internal::ReviewDelta total;
  size_t next = 0;  // the first of `days` still summing
  std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.delta, prefix);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = it->key();
    k.remove_prefix(prefix.size());
    if (k.size() != 8) continue;
    const int64_t day = store::ReadI64(k);
    while (next < days.size() && day >= DayNumber(days[next])) out[next++] = total;
    if (next == days.size()) break;
    internal::ReviewDelta d;
    if (!d.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt review delta");
    }
    AddDeltaInto(total, d);
  }
  RETURN_IF_ERROR(it->status());
  while (next < days.size()) out[next++] = total;
  return out;
}

absl::StatusOr<std::vector<ReviewQueries::TierMember>> ReviewQueries::TierMembers(
    const domain::ReportingPeriod& period, const std::string& tier) const {
  ASSIGN_OR_RETURN(TierMembersByTier members, TierMembersOf(period, &tier));
  return std::move(members[tier]);
}

absl::StatusOr<ReviewQueries::TierMembersByTier> ReviewQueries::TierMembersOf(
    const domain::ReportingPeriod& period, const std::string* only) const {
  // As of the last instant before the period: value's window (as_of - window, as_of].
  const absl::Time start = domain::PeriodStart(period, rules_.zone);
  const int64_t as_of = absl::ToUnixMicros(start) - 1;
  const int64_t window_start = absl::ToUnixMicros(start - rules_.value_window) - 1;
  const bool only_prospects = only != nullptr && (*only == "BIG" || *only == "SMALL");
  const bool prospects = only == nullptr || only_prospects;
  const bool ranked = only == nullptr || !only_prospects;
  auto wanted = [only](std::string_view tier) { return only == nullptr || *only == tier; };
  std::vector<domain::CustomerAmount> margins;
  std::map<std::string, int> partition_of;
  TierMembersByTier out;
  for (int p = 0; p < partitions_; ++p) {
    const std::string prefix = PartitionKey(p);
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.tier, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      internal::ReviewTierFacts f;
      if (!f.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("corrupt review tier facts");
      }
      if (!f.takes_part()) continue;
      std::string id(it->key().substr(prefix.size()));
      const bool scored = f.purchase_micros_size() > 0 && f.purchase_micros(0) <= as_of;
      if (!scored) {
        if (!prospects) continue;
        ASSIGN_OR_RETURN(std::vector<internal::ReviewDelta> d,
                         SnapshotsBeforeIn(p, kDimensionCustomer, id, {period.first_day}));
        const int64_t weighted = domain::Ratio::Of(d[0].pipeline_percent_units(), 100)->Floor();
        const domain::ProspectSize size = domain::ClassifyProspect(weighted, rules_.prospects);
        const std::string_view name = domain::ProspectSizeName(size);
        if (wanted(name)) out[std::string(name)].push_back({std::move(id), p});
        continue;
      }
      if (!ranked) continue;
      partition_of[id] = p;
      margins.push_back(
          {.customer_id = std::move(id), .amount_units = WindowMargin(f, window_start, as_of)});
    }
    RETURN_IF_ERROR(it->status());
  }
  if (ranked) {
    for (const domain::TierEntry& e : domain::AssignTiers(margins, rules_.tiers)) {
      const std::string_view name = domain::TierName(e.tier);
      if (wanted(name)) {
        out[std::string(name)].push_back({e.customer_id, partition_of[e.customer_id]});
      }
    }
  }
  for (auto& [tier, members] : out) {
    std::sort(members.begin(), members.end(), [](const TierMember& a, const TierMember& b) {
      return a.customer_id < b.customer_id;
    });
  }
  return out;
}

absl::StatusOr<absl::flat_hash_map<std::string, domain::Tier>> ReviewQueries::TiersAt(
    absl::Time as_of_time) const {
  const int64_t as_of = absl::ToUnixMicros(as_of_time);
  const int64_t window_start = absl::ToUnixMicros(as_of_time - rules_.value_window);
  std::vector<domain::CustomerAmount> margins;
  for (int p = 0; p < partitions_; ++p) {
    const std::string prefix = PartitionKey(p);
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.tier, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      internal::ReviewTierFacts f;
      if (!f.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("corrupt review tier facts");
      }
      if (!f.takes_part() || f.purchase_micros_size() == 0 || f.purchase_micros(0) > as_of) {
        continue;
      }
      margins.push_back({.customer_id = std::string(it->key().substr(prefix.size())),
                         .amount_units = WindowMargin(f, window_start, as_of)});
    }
    RETURN_IF_ERROR(it->status());
  }
  absl::flat_hash_map<std::string, domain::Tier> out;
  for (const domain::TierEntry& e : domain::AssignTiers(margins, rules_.tiers)) {
    out.emplace(e.customer_id, e.tier);
  }
  return out;
}

absl::StatusOr<std::vector<ReviewQueries::Gathered>> ReviewQueries::GatherSeries(
    const std::vector<domain::ReportingPeriod>& periods, v1::Dimension dim,
    const std::string& value, const std::vector<std::string>* regions, TierCache* tiers) const {
  std::vector<Gathered> out(periods.size());
  if (regions != nullptr) {
    // Every count but the distinct counters is of events, snapshot pieces or
    // purchases credited to exactly one region, so the REGION slices add up
    // (Merge: sums, sorted durations, revenue per customer).
    for (const std::string& region : *regions) {
      ASSIGN_OR_RETURN(std::vector<Gathered> one,
                       GatherSeries(periods, v1::DIMENSION_REGION, region, nullptr));
      for (size_t i = 0; i < periods.size(); ++i) {
        MergeInto(out[i].slice, one[i].slice);
        AddDeltaInto(out[i].at_start, one[i].at_start);
        AddDeltaInto(out[i].at_end, one[i].at_end);
      }
    }
    if (regions->size() >= 2) {
      for (size_t i = 0; i < periods.size(); ++i) {
        RETURN_IF_ERROR(CountMoversOnce(periods[i].Key(), *regions, out[i].slice.acc));
      }
    }
    return out;
  }
  if (dim != v1::DIMENSION_TIER) {
    // Every period's start and end in one scan of the value's deltas.
    std::vector<absl::CivilDay> days;
    for (const domain::ReportingPeriod& p : periods) {
      days.push_back(p.first_day);
      days.push_back(p.last_day() + 1);
    }
    std::sort(days.begin(), days.end());
    days.erase(std::unique(days.begin(), days.end()), days.end());
    ASSIGN_OR_RETURN(std::vector<internal::ReviewDelta> snapshots,
                     SnapshotsBefore(dim, value, days));
    auto before = [&](absl::CivilDay day) -> const internal::ReviewDelta& {
      return snapshots[std::lower_bound(days.begin(), days.end(), day) - days.begin()];
    };
    for (size_t i = 0; i < periods.size(); ++i) {
      ASSIGN_OR_RETURN(out[i].slice, LoadSlice(periods[i].Key(), dim, value));
      out[i].at_start = before(periods[i].first_day);
      out[i].at_end = before(periods[i].last_day() + 1);
    }
    return out;
  }
  // A tier is the merge of its members' customer slices: exact, as members
  // are distinct customers (ReviewAccumulator's Merge).
  for (size_t i = 0; i < periods.size(); ++i) {
    const domain::ReportingPeriod& period = periods[i];
    Gathered& g = out[i];
    if (tiers != nullptr) {
      auto it = tiers->find(period);
      if (it == tiers->end()) {
        ASSIGN_OR_RETURN(TierMembersByTier all, TierMembersOf(period, nullptr));
        it = tiers->emplace(period, std::move(all)).first;
      }
      if (auto members = it->second.find(value); members != it->second.end()) {
        g.members = members->second;
      }
    } else {
      ASSIGN_OR_RETURN(g.members, TierMembers(period, value));
    }
    const std::vector<absl::CivilDay> edges = {period.first_day, period.last_day() + 1};
    for (const TierMember& m : g.members) {
      ASSIGN_OR_RETURN(SliceState member, CustomerSlice(m.partition, m.customer_id, period));
      MergeInto(g.slice, member);
      ASSIGN_OR_RETURN(std::vector<internal::ReviewDelta> snapshots,
                       SnapshotsBeforeIn(m.partition, kDimensionCustomer, m.customer_id, edges));
      AddDeltaInto(g.at_start, snapshots[0]);
      AddDeltaInto(g.at_end, snapshots[1]);
    }
  }
  return out;
}

absl::Status ReviewQueries::CountMoversOnce(const std::string& period_key,
                                            const std::vector<std::string>& regions,
                                            domain::ReviewAccumulator& acc) const {
  // A customer counted under two regions in one period is active under both
  // (every distinct count is of an activity event, counted active under the
  // same regions), so the active movers are all the candidates.
  for (int p = 0; p < partitions_; ++p) {
    const std::string partition = PartitionKey(p);
    std::string prefix = partition;
    prefix.push_back(kSeenMover);
    store::AppendId(prefix, period_key);
    std::vector<std::string> movers;
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.seen, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      movers.emplace_back(it->key().substr(prefix.size()));
    }
    RETURN_IF_ERROR(it->status());
    for (const std::string& customer : movers) {
      for (const auto& [kind, field] : kDistinctCounters) {
        std::string key = partition;
        key.push_back(kind);
        store::AppendId(key, customer);
        key.append(period_key);
        ASSIGN_OR_RETURN(std::optional<std::string> dims, store_.Get(cf_.seen, key));
        if (!dims) continue;
        const int64_t named = RegionsNamed(*dims, regions);
        if (named > 1) acc.*field -= named - 1;
      }
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<domain::ReviewMetrics> ReviewQueries::Metrics(
    const domain::ReportingPeriod& period, v1::Dimension dim, const std::string& value,
    const std::vector<std::string>* regions) const {
  ASSIGN_OR_RETURN(std::vector<Gathered> g, GatherSeries({period}, dim, value, regions));
  return MetricsOf(period, dim, value, regions, g[0]);
}

domain::ReviewMetrics ReviewQueries::MetricsOf(const domain::ReportingPeriod& period,
                                               v1::Dimension dim, const std::string& value,
                                               const std::vector<std::string>* regions,
                                               Gathered& g) const {
  const std::string key = period.Key();
  SliceState& s = g.slice;
  s.acc.customers_at_start = g.at_start.customers();
  s.acc.coverage_base = g.at_start.customers() + g.at_start.intent();
  s.acc.pipeline_percent_units = g.at_end.pipeline_percent_units();
  s.acc.negative_asset_customers = g.at_end.negative_assets();
  s.acc.overdue_receivables_units = g.at_end.overdue_units();
  if (org_ != nullptr && regions == nullptr) {
    s.acc.target_units = org_->Target(key, dim, value);
    s.acc.marketing_spend_units = org_->MarketingSpend(key, dim, value);
    s.acc.market_size_units = org_->MarketSize(key, dim, value);
  } else if (org_ != nullptr) {
    // The regions' own figures: spend adds up; a target or market size only
    // when every region declares one (figures declared only for ALL are the
    // whole org's and are not apportioned).
    std::vector<std::optional<int64_t>> targets, markets;
    int64_t spend = 0;
    for (const std::string& region : *regions) {
      targets.push_back(org_->Target(key, v1::DIMENSION_REGION, region));
      markets.push_back(org_->MarketSize(key, v1::DIMENSION_REGION, region));
      const int64_t r = org_->MarketingSpend(key, v1::DIMENSION_REGION, region);
      spend = base::SaturatingAdd(spend, r);
    }
    s.acc.target_units = SumIfAllDeclared(targets);
    s.acc.marketing_spend_units = spend;
    s.acc.market_size_units = SumIfAllDeclared(markets);
  }
  return domain::ComputeMetrics(s.acc, rules_.metrics);
}

}  // namespace custops::review

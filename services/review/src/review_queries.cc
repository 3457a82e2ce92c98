#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/base/saturating.h"
#include "custops/base/status_macros.h"
#include "custops/domain/complaint_sla.h"
#include "custops/domain/derived_timelines.h"
#include "custops/event/time.h"
#include "custops/log/partitioner.h"
#include "custops/review/review_projection.h"
#include "custops/rpc/page_token.h"
#include "custops/store/keys.h"

namespace custops::review {
namespace {

std::string PartitionKey(int p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p));
  return key;
}

// Margin of the purchases in (window_start, as_of], saturating.
int64_t WindowMargin(const internal::ReviewTierFacts& f, int64_t window_start, int64_t as_of) {
  int64_t margin = 0;
  for (int i = 0; i < f.purchase_micros_size() && i < f.margin_units_size(); ++i) {
    const int64_t t = f.purchase_micros(i);
    if (t > window_start && t <= as_of) margin = base::SaturatingAdd(margin, f.margin_units(i));
  }
  return margin;
}

std::string SliceSuffix(std::string_view period_key, v1::Dimension dim, std::string_view value) {
  std::string key;
  store::AppendId(key, period_key);
  store::AppendU32(key, static_cast<uint32_t>(dim));
  store::AppendId(key, value);
  return key;
}

v1::Fraction ToFraction(const domain::Ratio& r) {
  v1::Fraction f;
  f.set_numerator(r.numerator());
  f.set_denominator(r.denominator());
  return f;
}

v1::MetricUnit UnitOf(domain::MetricUnit u) {
  switch (u) {
    case domain::MetricUnit::kMoney:
      return v1::METRIC_UNIT_MONEY;
    case domain::MetricUnit::kCount:
      return v1::METRIC_UNIT_COUNT;
    case domain::MetricUnit::kShare:
      return v1::METRIC_UNIT_SHARE;
    case domain::MetricUnit::kDays:
      return v1::METRIC_UNIT_DAYS;
    case domain::MetricUnit::kHours:
      return v1::METRIC_UNIT_HOURS;
    case domain::MetricUnit::kScore:
      return v1::METRIC_UNIT_SCORE;
  }
  return v1::METRIC_UNIT_UNSPECIFIED;
}

v1::MetricValue ToValue(domain::MetricId id, const std::optional<domain::Ratio>& r,
                        const std::string& currency) {
  v1::MetricValue v;
  if (!r) return v;
  switch (domain::MetricUnitOf(id)) {
    case domain::MetricUnit::kMoney:
      v.mutable_money()->set_units(r->Floor());
      v.mutable_money()->set_currency(currency);
      break;
    case domain::MetricUnit::kCount:
      v.set_count(r->Floor());
      break;
    default:
      *v.mutable_ratio() = ToFraction(*r);
  }
  return v;
}

// A GetReview / CompareReview metric row (no history).
void SetMetric(const domain::MetricRow& row, const std::string& currency, v1::Metric& m) {
  m.set_name(std::string(domain::MetricName(row.id)));
  m.set_unit(UnitOf(domain::MetricUnitOf(row.id)));
  *m.mutable_value() = ToValue(row.id, row.value, currency);
  *m.mutable_previous() = ToValue(row.id, row.previous, currency);
  *m.mutable_year_ago() = ToValue(row.id, row.year_ago, currency);
  if (row.change_vs_previous) *m.mutable_change_vs_previous() = ToFraction(*row.change_vs_previous);
  if (row.change_vs_year_ago) *m.mutable_change_vs_year_ago() = ToFraction(*row.change_vs_year_ago);
}

constexpr int kMaxHistoryPeriods = 24;

// The tier names of DIMENSION_TIER, in value order.
constexpr std::string_view kTierNames[] = {"BIG",      "DIAMOND", "GOLD", "IRON",
                                           "PLATINUM", "SILVER",  "SMALL"};
bool IsTierName(std::string_view v) {
  return std::find(std::begin(kTierNames), std::end(kTierNames), v) != std::end(kTierNames);
}

constexpr std::string_view kFunnelToken = "f1.";
constexpr std::string_view kWorklistToken = "w1.";
constexpr std::string_view kCompareToken = "r1.";

absl::StatusOr<v1::Dimension> CheckDimension(v1::Dimension dim, const std::string& value,
                                             bool value_required) {
  if (!v1::Dimension_IsValid(dim)) return absl::InvalidArgumentError("dimension: unknown value");
  if (dim == v1::DIMENSION_UNSPECIFIED) dim = v1::DIMENSION_ALL;
  if (dim == v1::DIMENSION_KIND) {
    return absl::InvalidArgumentError(
        "dimension: the review is kept by all, region, industry, owner, channel, product and "
        "tier");
  }
  if (dim == v1::DIMENSION_TIER && (value_required || !value.empty()) && !IsTierName(value)) {
    return absl::InvalidArgumentError(
        "dimension_value: a tier, one of DIAMOND, PLATINUM, GOLD, SILVER, IRON, BIG, SMALL");
  }
  if (dim == v1::DIMENSION_ALL && !value.empty()) {
    return absl::InvalidArgumentError("dimension_value: must be empty for DIMENSION_ALL");
  }
  if (value.size() > 128) return absl::InvalidArgumentError("dimension_value: at most 128 bytes");
  return dim;
}

// rv_seen kinds read here (src/review_batch.h): the distinct counters a
// customer who moved region can be counted twice in, and the movers' index.
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

// The regions to merge, sorted and unique (nullopt: no merge). A merge is
// the answer for DIMENSION_ALL only.
absl::StatusOr<std::optional<std::vector<std::string>>> MergedRegions(
    v1::Dimension dim, const std::vector<std::string>* regions) {
  if (regions == nullptr) return std::nullopt;
  if (dim != v1::DIMENSION_ALL) {
    return absl::InvalidArgumentError("dimension: a merge of regions answers DIMENSION_ALL");
  }
  std::vector<std::string> out = *regions;
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

int64_t DayNumber(absl::CivilDay day) { return day - absl::CivilDay(1970, 1, 1); }

// A contract as known at as_of: the signed amount plus the renewals by then,
// the payments by then, terminated by then (the receivable of Worklist and
// CustomerActivity; the projection's overdue-receivables snapshot follows
// the same rule).
struct ContractAt {
  int64_t amount_units = 0;
  int64_t paid_units = 0;
  bool terminated = false;
};
ContractAt ContractAsOf(const internal::ReviewContract& k, int64_t as_of) {
  ContractAt at{.amount_units = k.signed_amount_units(), .paid_units = 0, .terminated = false};
  for (int i = 0; i < k.renewal_micros_size() && i < k.renewal_units_size(); ++i) {
    if (k.renewal_micros(i) <= as_of) {
      at.amount_units = base::SaturatingAdd(at.amount_units, k.renewal_units(i));
    }
  }
  for (int i = 0; i < k.payment_micros_size() && i < k.payment_units_size(); ++i) {
    if (k.payment_micros(i) <= as_of) {
      at.paid_units = base::SaturatingAdd(at.paid_units, k.payment_units(i));
    }
  }
  at.terminated = k.terminated_micros() != 0 && k.terminated_micros() <= as_of;
  return at;
}

absl::StatusOr<absl::Time> TimeOf(const google::protobuf::Timestamp& ts, std::string_view field) {
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999 || ts.seconds() < -62135596800 ||
      ts.seconds() > 253402300799) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": not a valid timestamp"));
  }
  return event::FromProto(ts);
}

}  // namespace

bool IsComparedDimension(v1::Dimension dim) {
  switch (dim) {
    case v1::DIMENSION_REGION:
    case v1::DIMENSION_INDUSTRY:
    case v1::DIMENSION_OWNER:
    case v1::DIMENSION_CHANNEL:
    case v1::DIMENSION_PRODUCT:
    case v1::DIMENSION_TIER:
      return true;
    default:
      return false;
  }
}

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
    const std::string key = period.Key();
    const std::vector<absl::CivilDay> edges = {period.first_day, period.last_day() + 1};
    for (const TierMember& m : g.members) {
      ASSIGN_OR_RETURN(
          std::optional<std::string> stored,
          store_.Get(cf_.slice, PartitionKey(m.partition) +
                                    SliceSuffix(key, kDimensionCustomer, m.customer_id)));
      if (stored) {
        internal::ReviewSlice proto;
        if (!proto.ParseFromString(*stored)) return absl::DataLossError("corrupt review slice");
        MergeInto(g.slice, FromProto(proto));
      }
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

absl::StatusOr<std::vector<std::string>> ReviewQueries::Subjects(char kind,
                                                                 const std::string& period_key,
                                                                 v1::Dimension dim,
                                                                 const std::string& value) const {
  std::set<std::string> ids;
  for (int p = 0; p < partitions_; ++p) {
    std::string prefix = PartitionKey(p);
    prefix.push_back(kind);
    prefix.append(SliceSuffix(period_key, dim, value));
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.seen, prefix);
    for (it->SeekToFirst(); it->Valid() && ids.size() < 1000; it->Next()) {
      ids.emplace(it->key().substr(prefix.size()));
    }
    RETURN_IF_ERROR(it->status());
  }
  std::vector<std::string> out(ids.begin(), ids.end());
  if (out.size() > 100) out.resize(100);
  return out;
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

absl::StatusOr<v1::ReviewReport> ReviewQueries::GetReview(
    const v1::GetReviewRequest& request, const std::vector<std::string>* regions) const {
  ASSIGN_OR_RETURN(v1::Dimension dim,
                   CheckDimension(request.dimension(), request.dimension_value(), true));
  if (dim == v1::DIMENSION_TIER && !rules_.tier_dimension) {
    return absl::FailedPreconditionError("dimension: tier is off (review.tier_dimension = false)");
  }
  if (request.history_periods() < 0 || request.history_periods() > kMaxHistoryPeriods) {
    return absl::InvalidArgumentError(
        absl::StrCat("history_periods: 0 (none) to ", kMaxHistoryPeriods));
  }
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> merged, MergedRegions(dim, regions));
  const std::vector<std::string>* scope = merged ? &*merged : nullptr;
  ASSIGN_OR_RETURN(absl::Time start, TimeOf(request.period_start(), "period_start"));
  ASSIGN_OR_RETURN(domain::ReportingPeriod period,
                   domain::PeriodFromRequest(request.granularity(), start, rules_.zone));
  const std::string& value = request.dimension_value();
  const domain::ReportingPeriod previous = domain::PreviousPeriod(period);
  const std::optional<domain::ReportingPeriod> year_ago = domain::YearAgo(period);

  // The periods to gather: the asked one, 环比, 同比 and the history's
  // (oldest first; the last two are the asked one and 环比). A history period
  // before the first Timestamp instant is computed like any other (nothing
  // can have happened then), as the 环比 of the first askable period is.
  std::vector<domain::ReportingPeriod> history(static_cast<size_t>(request.history_periods()));
  {
    domain::ReportingPeriod p = period;
    for (auto it = history.rbegin(); it != history.rend(); ++it) {
      *it = p;
      p = domain::PreviousPeriod(p);
    }
  }
  std::vector<domain::ReportingPeriod> periods = {period, previous};
  if (year_ago) periods.push_back(*year_ago);
  for (const domain::ReportingPeriod& p : history) {
    if (std::find(periods.begin(), periods.end(), p) == periods.end()) periods.push_back(p);
  }
  ASSIGN_OR_RETURN(std::vector<Gathered> gathered, GatherSeries(periods, dim, value, scope));
  std::vector<domain::ReviewMetrics> metrics;
  metrics.reserve(periods.size());
  for (size_t i = 0; i < periods.size(); ++i) {
    metrics.push_back(MetricsOf(periods[i], dim, value, scope, gathered[i]));
  }
  gathered.clear();
  std::vector<const domain::ReviewMetrics*> history_metrics;
  for (const domain::ReportingPeriod& p : history) {
    history_metrics.push_back(
        &metrics[std::find(periods.begin(), periods.end(), p) - periods.begin()]);
  }
  const domain::ReviewMetrics& now = metrics[0];
  const domain::ReviewMetrics& prev = metrics[1];
  std::optional<domain::ReviewMetrics> yoy;
  if (year_ago) yoy = metrics[2];

  v1::ReviewReport report;
  report.set_period_key(period.Key());
  *report.mutable_period_start() = event::ToProto(domain::PeriodStart(period, rules_.zone));
  *report.mutable_period_end() = event::ToProto(domain::PeriodEnd(period, rules_.zone));
  report.set_previous_period_key(previous.Key());
  if (year_ago) report.set_year_ago_period_key(year_ago->Key());
  report.set_dimension(dim);
  report.set_dimension_value(value);
  for (const domain::MetricRow& row : domain::CompareMetrics(now, prev, yoy)) {
    v1::Metric* m = report.add_metrics();
    SetMetric(row, currency_, *m);
    for (const domain::ReviewMetrics* then : history_metrics) {
      *m->add_history() = ToValue(row.id, (*then)[row.id], currency_);
    }
  }
  std::optional<std::vector<TierMember>> tier_members;
  for (const domain::Finding& f : domain::EvaluateFindings(now, prev, yoy, rules_.findings)) {
    v1::Finding* out = report.add_findings();
    out->set_rule_id(f.rule_id);
    out->set_metric(std::string(domain::MetricName(f.metric)));
    out->set_condition(std::string(domain::FindingConditionName(f.condition)));
    out->set_baseline(std::string(domain::FindingBaselineName(f.baseline)));
    out->set_severity(f.severity);
    *out->mutable_value() = ToValue(f.metric, f.value, currency_);
    *out->mutable_base() = ToValue(f.metric, f.base, currency_);
    if (f.change) *out->mutable_change() = ToFraction(*f.change);
    *out->mutable_threshold() = ToFraction(f.threshold);
    // The customers / opportunities behind it, where the metric names them.
    char kind = 0;
    bool opportunities = false;
    if (f.metric == domain::MetricId::kChurnRate || f.metric == domain::MetricId::kLostCustomers) {
      kind = 'l';
    } else if (f.metric == domain::MetricId::kSlaBreaches) {
      kind = 'b';
    } else if (f.metric == domain::MetricId::kWinRate) {
      kind = 'o';
      opportunities = true;
    }
    if (kind != 0 && dim == v1::DIMENSION_TIER) {
      // The subjects of the tier's members (each in its customer slice).
      if (!tier_members) {
        ASSIGN_OR_RETURN(tier_members, TierMembers(period, value));
      }
      std::set<std::string> ids;
      for (const TierMember& m : *tier_members) {
        std::string prefix = PartitionKey(m.partition);
        prefix.push_back(kind);
        prefix.append(SliceSuffix(period.Key(), kDimensionCustomer, m.customer_id));
        std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.seen, prefix);
        for (it->SeekToFirst(); it->Valid() && ids.size() < 100; it->Next()) {
          ids.emplace(it->key().substr(prefix.size()));
        }
        RETURN_IF_ERROR(it->status());
      }
      for (const std::string& id : ids) {
        if (opportunities) {
          out->add_opportunity_ids(id);
        } else {
          out->add_customer_ids(id);
        }
      }
    } else if (kind != 0 && scope != nullptr) {
      // The subjects of the regions' slices, the first 100 in id order.
      std::set<std::string> ids;
      for (const std::string& region : *scope) {
        ASSIGN_OR_RETURN(std::vector<std::string> some,
                         Subjects(kind, period.Key(), v1::DIMENSION_REGION, region));
        ids.insert(std::make_move_iterator(some.begin()), std::make_move_iterator(some.end()));
      }
      int n = 0;
      for (const std::string& id : ids) {
        if (++n > 100) break;
        if (opportunities) {
          out->add_opportunity_ids(id);
        } else {
          out->add_customer_ids(id);
        }
      }
    } else if (kind != 0) {
      ASSIGN_OR_RETURN(std::vector<std::string> ids, Subjects(kind, period.Key(), dim, value));
      for (std::string& id : ids) {
        if (opportunities) {
          out->add_opportunity_ids(std::move(id));
        } else {
          out->add_customer_ids(std::move(id));
        }
      }
    }
  }
  if (org_ != nullptr) {
    // Merged: the actions planned against each region's review, by id, each
    // with its own region's metric then and now (ALL's are the org's).
    std::vector<std::pair<v1::ReviewAction, std::string>> actions;  // (action, region)
    const absl::Time period_start = domain::PeriodStart(period, rules_.zone);
    if (scope == nullptr) {
      for (v1::ReviewAction& a : org_->Actions(dim, value, period_start)) {
        actions.emplace_back(std::move(a), "");
      }
    } else {
      for (const std::string& region : *scope) {
        for (v1::ReviewAction& a : org_->Actions(v1::DIMENSION_REGION, region, period_start)) {
          actions.emplace_back(std::move(a), region);
        }
      }
      std::stable_sort(actions.begin(), actions.end(), [](const auto& x, const auto& y) {
        return x.first.action_id() < y.first.action_id();
      });
    }
    std::map<std::string, domain::ReviewMetrics> region_now;
    for (auto& [a, region] : actions) {
      // The finding's metric then (in the planned-in period) and now.
      const domain::FindingRule* rule = nullptr;
      for (const auto& r : rules_.findings.rules) {
        if (r.id == a.finding()) rule = &r;
      }
      auto then = domain::ParsePeriodKey(a.review_period());
      if (rule != nullptr && then.ok()) {
        const v1::Dimension a_dim = scope == nullptr ? dim : v1::DIMENSION_REGION;
        const std::string& a_value = scope == nullptr ? value : region;
        const domain::ReviewMetrics* a_now = &now;
        if (scope != nullptr && scope->size() > 1) {
          auto it = region_now.find(region);
          if (it == region_now.end()) {
            ASSIGN_OR_RETURN(domain::ReviewMetrics m, Metrics(period, a_dim, a_value));
            it = region_now.emplace(region, std::move(m)).first;
          }
          a_now = &it->second;
        }
        a.set_metric(std::string(domain::MetricName(rule->metric)));
        ASSIGN_OR_RETURN(domain::ReviewMetrics m_then, Metrics(*then, a_dim, a_value));
        *a.mutable_value_then() = ToValue(rule->metric, m_then[rule->metric], currency_);
        *a.mutable_value_now() = ToValue(rule->metric, (*a_now)[rule->metric], currency_);
      }
      *report.add_actions() = std::move(a);
    }
  }
  return report;
}

absl::StatusOr<v1::FunnelResponse> ReviewQueries::Funnel(
    const v1::FunnelRequest& request, const std::vector<std::string>* regions) const {
  ASSIGN_OR_RETURN(v1::Dimension dim,
                   CheckDimension(request.dimension(), request.dimension_value(), false));
  if (dim == v1::DIMENSION_TIER && !rules_.tier_dimension) {
    return absl::FailedPreconditionError("dimension: tier is off (review.tier_dimension = false)");
  }
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> merged, MergedRegions(dim, regions));
  ASSIGN_OR_RETURN(absl::Time start, TimeOf(request.period().start(), "period.start"));
  ASSIGN_OR_RETURN(domain::ReportingPeriod period,
                   domain::PeriodFromRequest(request.period().granularity(), start, rules_.zone));
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kFunnelToken, request.page_token()));
  const std::string key = period.Key();

  std::vector<std::string> values;
  if (dim == v1::DIMENSION_ALL || !request.dimension_value().empty()) {
    values.push_back(request.dimension_value());
  } else {
    ASSIGN_OR_RETURN(values, ListValues(period, dim, after, page_size, nullptr));
  }
  v1::FunnelResponse response;
  response.set_period_key(key);
  if (static_cast<int>(values.size()) > page_size) {
    values.resize(page_size);
    response.set_next_page_token(rpc::EncodePageToken(kFunnelToken, values.back()));
  }
  for (const std::string& value : values) {
    ASSIGN_OR_RETURN(std::vector<Gathered> gathered,
                     GatherSeries({period}, dim, value, merged ? &*merged : nullptr));
    Gathered& g = gathered[0];
    SliceState& s = g.slice;
    const internal::ReviewDelta& end = g.at_end;
    v1::FunnelSlice* out = response.add_slices();
    out->set_dimension_value(value);
    for (int k = 1; k <= 6; ++k) {
      v1::FunnelStageRow* row = out->add_stages();
      row->set_stage(static_cast<v1::FunnelStage>(k));
      row->set_entered(s.entered[k]);
      row->set_advanced(s.advanced[k]);
      if (auto r = domain::Ratio::Of(s.advanced[k], s.entered[k])) {
        *row->mutable_conversion() = ToFraction(*r);
      }
    }
    out->mutable_weighted_pipeline()->set_units(
        domain::Ratio::Of(end.pipeline_percent_units(), 100)->Floor());
    out->mutable_weighted_pipeline()->set_currency(currency_);
    out->set_open_opportunities(end.open_opportunities());
    out->set_won(s.acc.opportunities_won);
    out->set_lost(s.acc.opportunities_lost);
    if (auto r = domain::Ratio::Of(s.acc.opportunities_won,
                                   s.acc.opportunities_won + s.acc.opportunities_lost)) {
      *out->mutable_win_rate() = ToFraction(*r);
    }
    *out->mutable_won_cycle_days() = ToFraction(*domain::Ratio::Of(s.acc.won_cycle_seconds, 86400));
    out->set_won_with_cycle(s.acc.won_with_cycle);
    if (auto r = domain::Ratio::Of(s.acc.won_cycle_seconds, s.acc.won_with_cycle * 86400)) {
      *out->mutable_sales_cycle_days() = ToFraction(*r);
    }
    std::vector<std::pair<int64_t, std::string>> losses;
    for (const auto& [c, n] : s.lost_by_competitor) losses.emplace_back(-n, c);
    std::sort(losses.begin(), losses.end());
    for (const auto& [n, c] : losses) {
      v1::CompetitorLoss* l = out->add_losses_by_competitor();
      l->set_competitor(c);
      l->set_opportunities(-n);
      l->mutable_amount()->set_units(s.lost_amount_by_competitor[c]);
      l->mutable_amount()->set_currency(currency_);
    }
  }
  return response;
}

absl::StatusOr<std::vector<std::string>> ReviewQueries::ListValues(
    const domain::ReportingPeriod& period, v1::Dimension dim, const std::string& after,
    int page_size, const std::vector<std::string>* only) const {
  auto allowed = [only](std::string_view v) {
    return only == nullptr || std::binary_search(only->begin(), only->end(), v);
  };
  std::vector<std::string> values;
  if (dim == v1::DIMENSION_TIER) {
    for (std::string_view t : kTierNames) {
      if ((after.empty() || t > after) && allowed(t)) values.emplace_back(t);
    }
    if (static_cast<int>(values.size()) > page_size + 1) values.resize(page_size + 1);
    return values;
  }
  // Every value with a slice in the period, from every partition.
  const std::string key = period.Key();
  std::set<std::string> found;
  for (int p = 0; p < partitions_; ++p) {
    std::string prefix = PartitionKey(p);
    store::AppendId(prefix, key);
    store::AppendU32(prefix, static_cast<uint32_t>(dim));
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.slice, prefix);
    int from_slices = 0, from_deltas = 0;  // each source's first page_size + 1
    for (it->Seek(prefix + after); it->Valid(); it->Next()) {
      std::string_view v = it->key().substr(prefix.size());
      if (!v.empty() && v.back() == '\0') v.remove_suffix(1);
      if ((!after.empty() && v <= after) || !allowed(v)) continue;
      found.emplace(v);
      if (++from_slices > page_size) break;
    }
    RETURN_IF_ERROR(it->status());
    // Values with snapshot history before the period's end (open
    // opportunities but no event in the period): one seek per value.
    std::string dprefix = PartitionKey(p);
    store::AppendU32(dprefix, static_cast<uint32_t>(dim));
    const int64_t end_day = DayNumber(period.last_day() + 1);
    std::unique_ptr<store::Iterator> d = store_.NewIterator(cf_.delta, dprefix);
    std::string target = dprefix + after;
    if (!after.empty()) target.push_back('\x01');  // past every key of `after`
    for (d->Seek(target); d->Valid();) {
      std::string_view rest = d->key().substr(dprefix.size());
      const std::string value(store::ReadId(rest));
      if (rest.size() == 8 && store::ReadI64(rest) < end_day && allowed(value)) {
        found.insert(value);
        if (++from_deltas > page_size) break;
      }
      d->Seek(dprefix + value + '\x01');
    }
    RETURN_IF_ERROR(d->status());
  }
  while (static_cast<int>(found.size()) > page_size + 1) found.erase(std::prev(found.end()));
  values.assign(found.begin(), found.end());
  return values;
}

absl::StatusOr<v1::CompareReviewResponse> ReviewQueries::CompareReview(
    const v1::CompareReviewRequest& request, const std::vector<std::string>* regions) const {
  const v1::Dimension dim = request.dimension();
  if (!IsComparedDimension(dim)) {
    return absl::InvalidArgumentError(
        "dimension: CompareReview compares the values of DIMENSION_REGION, INDUSTRY, OWNER, "
        "CHANNEL, PRODUCT or TIER");
  }
  if (dim == v1::DIMENSION_TIER && !rules_.tier_dimension) {
    return absl::FailedPreconditionError("dimension: tier is off (review.tier_dimension = false)");
  }
  if (regions != nullptr && dim != v1::DIMENSION_REGION) {
    return absl::InvalidArgumentError("dimension: a comparison of some regions is by region");
  }
  ASSIGN_OR_RETURN(absl::Time start, TimeOf(request.period_start(), "period_start"));
  ASSIGN_OR_RETURN(domain::ReportingPeriod period,
                   domain::PeriodFromRequest(request.granularity(), start, rules_.zone));
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kCompareToken, request.page_token()));
  std::optional<std::vector<std::string>> only;
  if (regions != nullptr) {
    only = *regions;
    std::sort(only->begin(), only->end());
  }
  ASSIGN_OR_RETURN(std::vector<std::string> values,
                   ListValues(period, dim, after, page_size, only ? &*only : nullptr));
  v1::CompareReviewResponse response;
  response.set_period_key(period.Key());
  response.set_dimension(dim);
  if (static_cast<int>(values.size()) > page_size) {
    values.resize(page_size);
    response.set_next_page_token(rpc::EncodePageToken(kCompareToken, values.back()));
  }
  // Each row as GetReview (without history, findings and actions): the
  // period, 环比 and 同比 from one snapshot scan per value and partition.
  std::vector<domain::ReportingPeriod> periods = {period, domain::PreviousPeriod(period)};
  if (std::optional<domain::ReportingPeriod> year_ago = domain::YearAgo(period)) {
    periods.push_back(*year_ago);
  }
  TierCache tiers;
  for (const std::string& value : values) {
    ASSIGN_OR_RETURN(std::vector<Gathered> gathered,
                     GatherSeries(periods, dim, value, nullptr, &tiers));
    std::vector<domain::ReviewMetrics> metrics;
    for (size_t i = 0; i < periods.size(); ++i) {
      metrics.push_back(MetricsOf(periods[i], dim, value, nullptr, gathered[i]));
    }
    std::optional<domain::ReviewMetrics> yoy;
    if (metrics.size() > 2) yoy = metrics[2];
    v1::ReviewRow* row = response.add_rows();
    row->set_dimension_value(value);
    for (const domain::MetricRow& m : domain::CompareMetrics(metrics[0], metrics[1], yoy)) {
      SetMetric(m, currency_, *row->add_metrics());
    }
  }
  return response;
}

absl::StatusOr<std::optional<internal::ReviewCustomer>> ReviewQueries::LoadCustomer(
    int partition, const std::string& customer_id) const {
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   store_.Get(cf_.customer, PartitionKey(partition) + customer_id));
  if (!stored) return std::nullopt;
  internal::ReviewCustomer c;
  if (!c.ParseFromString(*stored)) return absl::DataLossError("corrupt review customer");
  return c;
}

absl::StatusOr<std::string> ReviewQueries::NameOf(int partition,
                                                  const std::string& customer_id) const {
  std::string key = PartitionKey(partition);
  store::AppendId(key, customer_id);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store_.Get(cf_.activity, key));
  if (!stored || stored->size() < 8) return std::string();
  return stored->substr(8);
}

domain::WorklistCustomer ReviewQueries::WorklistInput(const std::string& id,
                                                      const internal::ReviewCustomer& c,
                                                      absl::Time as_of) const {
  domain::WorklistCustomer w;
  w.customer_id = id;
  // Stage, since when and DECLINING by the lifecycle rules at as_of.
  const domain::LifecycleResult lr = domain::Classify(c.lifecycle(), as_of, rules_.lifecycle);
  w.stage = lr.stage == v1::LIFECYCLE_STAGE_UNSPECIFIED ? v1::LIFECYCLE_STAGE_PROSPECT : lr.stage;
  w.tracked_since = absl::FromUnixMicros(c.registered_micros());
  for (const v1::StageTransition& h : lr.history) {
    if (h.from() != h.to()) w.tracked_since = event::FromProto(h.at());
    const bool into_declining =
        h.to() == v1::LIFECYCLE_STAGE_CUSTOMER && h.to_sub_stage() == v1::SUB_STAGE_DECLINING &&
        (h.from() != v1::LIFECYCLE_STAGE_CUSTOMER || h.from_sub_stage() != v1::SUB_STAGE_DECLINING);
    if (into_declining) w.declining_since = event::FromProto(h.at());
  }
  if (lr.stage != v1::LIFECYCLE_STAGE_CUSTOMER || lr.sub_stage != v1::SUB_STAGE_DECLINING) {
    w.declining_since.reset();
  }
  w.turned_declining =
      w.declining_since.has_value() && as_of - *w.declining_since <= rules_.declining_recent;
  if (c.first_purchase_micros() != 0) {
    const int64_t last = c.purchase_micros(c.purchase_micros_size() - 1);
    w.last_purchase_at = absl::FromUnixMicros(last);
    if (c.purchase_micros_size() >= 2) {
      std::vector<int64_t> gaps;
      for (int i = 1; i < c.purchase_micros_size(); ++i) {
        gaps.push_back(c.purchase_micros(i) - c.purchase_micros(i - 1));
      }
      std::sort(gaps.begin(), gaps.end());
      w.median_purchase_gap = absl::Microseconds(gaps[(gaps.size() - 1) / 2]);
    }
  }
  if (c.last_visit_micros() != 0) w.last_visit_at = absl::FromUnixMicros(c.last_visit_micros());
  const int64_t as_of_micros = absl::ToUnixMicros(as_of);
  for (const auto& k : c.contracts()) {
    if (k.end_micros() == 0 || k.signed_micros() > as_of_micros) continue;
    // Amount, payments and termination as known at as_of.
    const ContractAt at = ContractAsOf(k, as_of_micros);
    w.contracts.push_back(
        {.contract_id = k.contract_id(),
         .end = absl::FromUnixMicros(k.end_micros()),
         .terminated = at.terminated,
         .payment_due = absl::FromUnixMicros(k.payment_due_micros()),
         .outstanding_units = base::SaturatingSub(at.amount_units, at.paid_units)});
  }
  for (const auto& k : c.complaints()) {
    w.complaints.push_back({.complaint_id = k.complaint_id(),
                            .severity = static_cast<v1::Severity>(k.severity()),
                            .filed_at = absl::FromUnixMicros(k.filed_micros()),
                            .steps = domain::StepsOf(k)});
  }
  for (const auto& k : c.contacts()) {
    domain::WorklistContact wc{.contact_id = k.contact_id(), .birthday = std::nullopt};
    if (k.birthday_month() != 0) {
      v1::Date d;
      d.set_year(k.birthday_year());
      d.set_month(k.birthday_month());
      d.set_day(k.birthday_day());
      wc.birthday = d;
    }
    w.contacts.push_back(std::move(wc));
  }
  return w;
}

void ReviewQueries::AddWorklistItems(
    const internal::ReviewCustomer& c, const std::string& name, const domain::WorklistCustomer& w,
    absl::Time as_of, google::protobuf::RepeatedPtrField<v1::WorklistItem>* out) const {
  // The current profile: the latest by event time.
  static const internal::ReviewProfileAt kNoProfile;
  const internal::ReviewProfileAt& profile =
      c.profile_size() > 0 ? c.profile(c.profile_size() - 1) : kNoProfile;
  for (const domain::WorklistItem& item :
       domain::BuildWorklist(w, as_of, rules_.zone, rules_.worklist)) {
    v1::WorklistItem* o = out->Add();
    o->set_customer_id(w.customer_id);
    o->set_reason(std::string(domain::WorklistReasonName(item.reason)));
    o->set_subject_id(item.subject_id);
    *o->mutable_at() = event::ToProto(item.at);
    if (item.reason == domain::WorklistReason::kComplaintSla) {
      o->set_urgency(std::string(domain::SlaUrgencyName(item.urgency)));
    }
    o->set_customer_name(name);
    o->set_owner_id(profile.owner_id());
    o->set_region(profile.region());
  }
}

absl::StatusOr<v1::WorklistResponse> ReviewQueries::Worklist(const v1::WorklistRequest& request,
                                                             absl::Time as_of) const {
  if (request.owner_id().empty() == request.region().empty()) {
    return absl::InvalidArgumentError("owner_id, region: exactly one is required");
  }
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kWorklistToken, request.page_token()));
  const bool by_owner = !request.owner_id().empty();
  const std::string& value = by_owner ? request.owner_id() : request.region();
  if (value.size() > 128) return absl::InvalidArgumentError("owner_id/region: at most 128 bytes");

  // The customers of the owner (region) in id order across partitions.
  std::vector<std::pair<std::string, int>> customers;
  for (int p = 0; p < partitions_; ++p) {
    std::string prefix = PartitionKey(p);
    store::AppendId(prefix, value);
    std::unique_ptr<store::Iterator> it =
        store_.NewIterator(by_owner ? cf_.owner : cf_.region, prefix);
    int n = 0;
    for (it->Seek(prefix + after); it->Valid() && n <= page_size; it->Next()) {
      std::string id(it->key().substr(prefix.size()));
      if (!after.empty() && id <= after) continue;
      customers.emplace_back(std::move(id), p);
      ++n;
    }
    RETURN_IF_ERROR(it->status());
  }
  std::sort(customers.begin(), customers.end());
  ASSIGN_OR_RETURN(const auto tiers, TiersAt(as_of));
  v1::WorklistResponse response;
  if (static_cast<int>(customers.size()) > page_size) {
    customers.resize(page_size);
    response.set_next_page_token(rpc::EncodePageToken(kWorklistToken, customers.back().first));
  }
  for (const auto& [id, p] : customers) {
    ASSIGN_OR_RETURN(std::optional<internal::ReviewCustomer> c, LoadCustomer(p, id));
    if (!c) continue;
    domain::WorklistCustomer w = WorklistInput(id, *c, as_of);
    // The cadence of the customer's tier at as_of (value rules).
    if (auto t = tiers.find(id); t != tiers.end()) w.tier = t->second;
    ASSIGN_OR_RETURN(std::string name, NameOf(p, id));
    AddWorklistItems(*c, name, w, as_of, response.mutable_items());
  }
  return response;
}

absl::StatusOr<v1::CustomerActivityResponse> ReviewQueries::CustomerActivity(
    const std::string& customer_id, absl::Time as_of,
    const std::vector<std::string>* regions) const {
  if (customer_id.empty() || customer_id.size() > 128) {
    return absl::InvalidArgumentError("customer_id: required, 1-128 bytes");
  }
  const int partition = log::PartitionForKey(customer_id, partitions_).value();
  ASSIGN_OR_RETURN(std::optional<internal::ReviewCustomer> c, LoadCustomer(partition, customer_id));
  // A customer outside the caller's regions (its current one) is not found
  // either: its existence is not revealed.
  const std::string region =
      c && c->profile_size() > 0 ? c->profile(c->profile_size() - 1).region() : "";
  if (!c || !c->registered() ||
      (regions != nullptr &&
       std::find(regions->begin(), regions->end(), region) == regions->end())) {
    return absl::NotFoundError(absl::StrCat("customer_id: no customer ", customer_id));
  }
  // Its name and complaint categories (rv_activity: P|id\0 and P|id\0|complaint).
  std::string name;
  std::map<std::string, v1::ComplaintCategory, std::less<>> categories;
  {
    std::string prefix = PartitionKey(partition);
    store::AppendId(prefix, customer_id);
    std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.activity, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      const std::string_view rest = it->key().substr(prefix.size());
      std::string_view v = it->value();
      if (rest.empty()) {
        if (v.size() >= 8) name = std::string(v.substr(8));
      } else if (v.size() == 4) {
        categories.emplace(rest, static_cast<v1::ComplaintCategory>(store::ReadU32(v)));
      }
    }
    RETURN_IF_ERROR(it->status());
  }
  const int64_t as_of_micros = absl::ToUnixMicros(as_of);
  v1::CustomerActivityResponse response;
  response.set_customer_id(customer_id);

  // Complaints filed by as_of, with the SLA clocks the worklist uses.
  struct Complaint {
    bool open;
    int64_t filed;
    v1::ComplaintStatus status;
  };
  std::vector<Complaint> complaints;
  for (const internal::ReviewComplaint& k : c->complaints()) {
    if (k.filed_micros() > as_of_micros) continue;
    const v1::Severity severity = static_cast<v1::Severity>(k.severity());
    const domain::ComplaintSla sla =
        domain::EvaluateComplaintSla(severity, absl::FromUnixMicros(k.filed_micros()),
                                     domain::StepsOf(k), as_of, rules_.worklist.sla);
    const domain::SlaEpisode& episode = sla.current();
    Complaint& out = complaints.emplace_back(Complaint{sla.open, k.filed_micros(), {}});
    v1::ComplaintStatus& s = out.status;
    s.set_complaint_id(k.complaint_id());
    if (auto it = categories.find(k.complaint_id()); it != categories.end()) {
      s.set_category(it->second);
    }
    s.set_severity(severity);
    *s.mutable_filed_at() = event::ToProto(absl::FromUnixMicros(k.filed_micros()));
    if (episode.response.done_at)
      *s.mutable_responded_at() = event::ToProto(*episode.response.done_at);
    if (!sla.open && episode.resolution.done_at) {
      *s.mutable_resolved_at() = event::ToProto(*episode.resolution.done_at);
    }
    if (sla.open) {
      *s.mutable_due() =
          event::ToProto(episode.response.done_at ? episode.resolution.due : episode.response.due);
    }
    if (sla.urgency != domain::SlaUrgency::kNone) {
      s.set_urgency(std::string(domain::SlaUrgencyName(sla.urgency)));
    }
  }
  std::sort(complaints.begin(), complaints.end(), [](const Complaint& a, const Complaint& b) {
    if (a.open != b.open) return a.open;
    if (a.filed != b.filed) return a.filed < b.filed;
    return a.status.complaint_id() < b.status.complaint_id();
  });
  for (Complaint& k : complaints) *response.add_complaints() = std::move(k.status);

  // Receivables of the contracts signed by as_of, as known at as_of.
  std::vector<const internal::ReviewContract*> contracts;
  for (const internal::ReviewContract& k : c->contracts()) {
    if (k.signed_micros() <= as_of_micros) contracts.push_back(&k);
  }
  std::sort(contracts.begin(), contracts.end(), [](const auto* a, const auto* b) {
    if (a->payment_due_micros() != b->payment_due_micros()) {
      return a->payment_due_micros() < b->payment_due_micros();
    }
    return a->contract_id() < b->contract_id();
  });
  for (const internal::ReviewContract* k : contracts) {
    const ContractAt at = ContractAsOf(*k, as_of_micros);
    const int64_t owed = base::SaturatingSub(at.amount_units, at.paid_units);
    const absl::Time due = absl::FromUnixMicros(k->payment_due_micros());
    v1::Receivable* r = response.add_receivables();
    r->set_contract_id(k->contract_id());
    r->mutable_amount()->set_units(at.amount_units);
    r->mutable_amount()->set_currency(currency_);
    r->mutable_paid()->set_units(at.paid_units);
    r->mutable_paid()->set_currency(currency_);
    r->mutable_outstanding()->set_units(std::max<int64_t>(owed, 0));
    r->mutable_outstanding()->set_currency(currency_);
    *r->mutable_payment_due() = event::ToProto(due);
    r->set_overdue(domain::PaymentOverdue(due, owed, at.terminated, as_of));
  }

  // Its worklist items at as_of; the cadence of a CUSTOMER is its tier's.
  domain::WorklistCustomer w = WorklistInput(customer_id, *c, as_of);
  if (w.stage == v1::LIFECYCLE_STAGE_CUSTOMER) {
    ASSIGN_OR_RETURN(const auto tiers, TiersAt(as_of));
    if (auto t = tiers.find(customer_id); t != tiers.end()) w.tier = t->second;
  }
  AddWorklistItems(*c, name, w, as_of, response.mutable_worklist());
  return response;
}

}  // namespace custops::review

#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/review/review_projection.h"
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
    if (t > window_start && t <= as_of &&
        __builtin_add_overflow(margin, f.margin_units(i), &margin)) {
      margin = f.margin_units(i) > 0 ? INT64_MAX : INT64_MIN;
    }
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

// The tier names of DIMENSION_TIER, in value order.
constexpr std::string_view kTierNames[] = {"BIG",      "DIAMOND", "GOLD", "IRON",
                                           "PLATINUM", "SILVER",  "SMALL"};
bool IsTierName(std::string_view v) {
  return std::find(std::begin(kTierNames), std::end(kTierNames), v) != std::end(kTierNames);
}

constexpr std::string_view kFunnelToken = "f1.";
constexpr std::string_view kWorklistToken = "w1.";

absl::StatusOr<std::string> DecodePageToken(std::string_view prefix, const std::string& token) {
  std::string out;
  if (token.empty()) return out;
  if (token.size() > 4096 || !token.starts_with(prefix) ||
      !absl::WebSafeBase64Unescape(token.substr(prefix.size()), &out)) {
    return absl::InvalidArgumentError("page_token: not a token from this list");
  }
  return out;
}

absl::StatusOr<int> PageSize(int requested) {
  if (requested < 0) return absl::InvalidArgumentError("page_size: must not be negative");
  if (requested == 0) return 100;
  return std::min(requested, 1000);
}

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

// rv_seen kinds read here (review_projection.cc): the distinct counters a
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
    if (__builtin_add_overflow(sum, *f, &sum)) sum = *f > 0 ? INT64_MAX : INT64_MIN;
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

absl::StatusOr<absl::Time> TimeOf(const google::protobuf::Timestamp& ts, std::string_view field) {
  if (ts.nanos() < 0 || ts.nanos() > 999'999'999 || ts.seconds() < -62135596800 ||
      ts.seconds() > 253402300799) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(field), ": not a valid timestamp"));
  }
  return event::FromProto(ts);
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
          .tier = store.Family("rv_tier")} {}

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

absl::StatusOr<internal::ReviewDelta> ReviewQueries::SnapshotBefore(v1::Dimension dim,
                                                                    const std::string& value,
                                                                    absl::CivilDay day) const {
  internal::ReviewDelta total;
  for (int p = 0; p < partitions_; ++p) {
    ASSIGN_OR_RETURN(internal::ReviewDelta part, SnapshotBeforeIn(p, dim, value, day));
    AddDeltaInto(total, part);
  }
  return total;
}

absl::StatusOr<internal::ReviewDelta> ReviewQueries::SnapshotBeforeIn(int partition,
                                                                      v1::Dimension dim,
                                                                      const std::string& value,
                                                                      absl::CivilDay day) const {
  internal::ReviewDelta total;
  const int64_t limit = day - absl::CivilDay(1970, 1, 1);
  std::string prefix = PartitionKey(partition);
  store::AppendU32(prefix, static_cast<uint32_t>(dim));
  store::AppendId(prefix, value);
  std::unique_ptr<store::Iterator> it = store_.NewIterator(cf_.delta, prefix);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view k = it->key();
    k.remove_prefix(prefix.size());
    if (k.size() != 8) continue;
    if (store::ReadI64(k) >= limit) break;
    internal::ReviewDelta d;
    if (!d.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt review delta");
    }
    AddDeltaInto(total, d);
  }
  RETURN_IF_ERROR(it->status());
  return total;
}

absl::StatusOr<std::vector<ReviewQueries::TierMember>> ReviewQueries::TierMembers(
    const domain::ReportingPeriod& period, const std::string& tier) const {
  // As of the last instant before the period: value's window (as_of - window, as_of].
  const absl::Time start = domain::PeriodStart(period, rules_.zone);
  const int64_t as_of = absl::ToUnixMicros(start) - 1;
  const int64_t window_start = absl::ToUnixMicros(start - rules_.value_window) - 1;
  const bool prospects = tier == "BIG" || tier == "SMALL";
  std::vector<domain::CustomerAmount> margins;
  std::map<std::string, int> partition_of;
  std::vector<TierMember> out;
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
        ASSIGN_OR_RETURN(internal::ReviewDelta d,
                         SnapshotBeforeIn(p, kDimensionCustomer, id, period.first_day));
        const int64_t weighted = domain::Ratio::Of(d.pipeline_percent_units(), 100)->Floor();
        const domain::ProspectSize size = domain::ClassifyProspect(weighted, rules_.prospects);
        if (domain::ProspectSizeName(size) == tier) out.push_back({std::move(id), p});
        continue;
      }
      if (prospects) continue;
      partition_of[id] = p;
      margins.push_back(
          {.customer_id = std::move(id), .amount_units = WindowMargin(f, window_start, as_of)});
    }
    RETURN_IF_ERROR(it->status());
  }
  if (!prospects) {
    for (const domain::TierEntry& e : domain::AssignTiers(margins, rules_.tiers)) {
      if (domain::TierName(e.tier) == tier) {
        out.push_back({e.customer_id, partition_of[e.customer_id]});
      }
    }
  }
  std::sort(out.begin(), out.end(),
            [](const TierMember& a, const TierMember& b) { return a.customer_id < b.customer_id; });
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

absl::StatusOr<ReviewQueries::Gathered> ReviewQueries::Gather(const domain::ReportingPeriod& period,
                                                              v1::Dimension dim,
                                                              const std::string& value,
                                                              bool at_start) const {
  Gathered g;
  const std::string key = period.Key();
  const absl::CivilDay end_day = period.last_day() + 1;
  if (dim != v1::DIMENSION_TIER) {
    ASSIGN_OR_RETURN(g.slice, LoadSlice(key, dim, value));
    if (at_start) {
      ASSIGN_OR_RETURN(g.at_start, SnapshotBefore(dim, value, period.first_day));
    }
    ASSIGN_OR_RETURN(g.at_end, SnapshotBefore(dim, value, end_day));
    return g;
  }
  // A tier is the merge of its members' customer slices: exact, as members
  // are distinct customers (ReviewAccumulator's Merge).
  ASSIGN_OR_RETURN(g.members, TierMembers(period, value));
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
    ASSIGN_OR_RETURN(internal::ReviewDelta s, SnapshotBeforeIn(m.partition, kDimensionCustomer,
                                                               m.customer_id, period.first_day));
    ASSIGN_OR_RETURN(internal::ReviewDelta e,
                     SnapshotBeforeIn(m.partition, kDimensionCustomer, m.customer_id, end_day));
    AddDeltaInto(g.at_start, s);
    AddDeltaInto(g.at_end, e);
  }
  return g;
}

absl::StatusOr<ReviewQueries::Gathered> ReviewQueries::GatherRegions(
    const domain::ReportingPeriod& period, const std::vector<std::string>& regions,
    bool at_start) const {
  // Every count but the distinct counters is of events, snapshot pieces or
  // purchases credited to exactly one region, so the REGION slices add up
  // (Merge: sums, sorted durations, revenue per customer).
  Gathered g;
  for (const std::string& region : regions) {
    ASSIGN_OR_RETURN(Gathered one, Gather(period, v1::DIMENSION_REGION, region, at_start));
    MergeInto(g.slice, one.slice);
    AddDeltaInto(g.at_start, one.at_start);
    AddDeltaInto(g.at_end, one.at_end);
  }
  if (regions.size() >= 2) RETURN_IF_ERROR(CountMoversOnce(period.Key(), regions, g.slice.acc));
  return g;
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
  const std::string key = period.Key();
  Gathered g;
  if (regions != nullptr) {
    ASSIGN_OR_RETURN(g, GatherRegions(period, *regions, /*at_start=*/true));
  } else {
    ASSIGN_OR_RETURN(g, Gather(period, dim, value));
  }
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
      if (__builtin_add_overflow(spend, r, &spend)) spend = r > 0 ? INT64_MAX : INT64_MIN;
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
  ASSIGN_OR_RETURN(std::optional<std::vector<std::string>> merged, MergedRegions(dim, regions));
  const std::vector<std::string>* scope = merged ? &*merged : nullptr;
  ASSIGN_OR_RETURN(absl::Time start, TimeOf(request.period_start(), "period_start"));
  ASSIGN_OR_RETURN(domain::ReportingPeriod period,
                   domain::PeriodFromRequest(request.granularity(), start, rules_.zone));
  const std::string& value = request.dimension_value();
  const domain::ReportingPeriod previous = domain::PreviousPeriod(period);
  const std::optional<domain::ReportingPeriod> year_ago = domain::YearAgo(period);

  ASSIGN_OR_RETURN(domain::ReviewMetrics now, Metrics(period, dim, value, scope));
  ASSIGN_OR_RETURN(domain::ReviewMetrics prev, Metrics(previous, dim, value, scope));
  std::optional<domain::ReviewMetrics> yoy;
  if (year_ago) {
    ASSIGN_OR_RETURN(yoy, Metrics(*year_ago, dim, value, scope));
  }

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
    m->set_name(std::string(domain::MetricName(row.id)));
    m->set_unit(UnitOf(domain::MetricUnitOf(row.id)));
    *m->mutable_value() = ToValue(row.id, row.value, currency_);
    *m->mutable_previous() = ToValue(row.id, row.previous, currency_);
    *m->mutable_year_ago() = ToValue(row.id, row.year_ago, currency_);
    if (row.change_vs_previous)
      *m->mutable_change_vs_previous() = ToFraction(*row.change_vs_previous);
    if (row.change_vs_year_ago)
      *m->mutable_change_vs_year_ago() = ToFraction(*row.change_vs_year_ago);
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
  ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, DecodePageToken(kFunnelToken, request.page_token()));
  const std::string key = period.Key();

  std::vector<std::string> values;
  if (dim == v1::DIMENSION_ALL || !request.dimension_value().empty()) {
    values.push_back(request.dimension_value());
  } else if (dim == v1::DIMENSION_TIER) {
    for (std::string_view t : kTierNames) {
      if (after.empty() || t > after) values.emplace_back(t);
    }
  } else {
    // Every value with a slice in the period, from every partition.
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
        if (!after.empty() && v <= after) continue;
        found.emplace(v);
        if (++from_slices > page_size) break;
      }
      RETURN_IF_ERROR(it->status());
      // Values with snapshot history before the period's end (open
      // opportunities but no event in the period): one seek per value.
      std::string dprefix = PartitionKey(p);
      store::AppendU32(dprefix, static_cast<uint32_t>(dim));
      const int64_t end_day = (period.last_day() + 1) - absl::CivilDay(1970, 1, 1);
      std::unique_ptr<store::Iterator> d = store_.NewIterator(cf_.delta, dprefix);
      std::string target = dprefix + after;
      if (!after.empty()) target.push_back('\x01');  // past every key of `after`
      for (d->Seek(target); d->Valid();) {
        std::string_view rest = d->key().substr(dprefix.size());
        const std::string value(store::ReadId(rest));
        if (rest.size() == 8 && store::ReadI64(rest) < end_day) {
          found.insert(value);
          if (++from_deltas > page_size) break;
        }
        d->Seek(dprefix + value + '\x01');
      }
      RETURN_IF_ERROR(d->status());
    }
    while (static_cast<int>(found.size()) > page_size + 1) found.erase(std::prev(found.end()));
    values.assign(found.begin(), found.end());
  }
  v1::FunnelResponse response;
  response.set_period_key(key);
  if (static_cast<int>(values.size()) > page_size) {
    values.resize(page_size);
    response.set_next_page_token(
        absl::StrCat(std::string(kFunnelToken), absl::WebSafeBase64Escape(values.back())));
  }
  for (const std::string& value : values) {
    Gathered g;
    if (merged) {
      ASSIGN_OR_RETURN(g, GatherRegions(period, *merged, /*at_start=*/false));
    } else {
      ASSIGN_OR_RETURN(g, Gather(period, dim, value, /*at_start=*/false));
    }
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

absl::StatusOr<v1::WorklistResponse> ReviewQueries::Worklist(const v1::WorklistRequest& request,
                                                             absl::Time as_of) const {
  if (request.owner_id().empty() == request.region().empty()) {
    return absl::InvalidArgumentError("owner_id, region: exactly one is required");
  }
  ASSIGN_OR_RETURN(int page_size, PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, DecodePageToken(kWorklistToken, request.page_token()));
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
    response.set_next_page_token(absl::StrCat(std::string(kWorklistToken),
                                              absl::WebSafeBase64Escape(customers.back().first)));
  }
  for (const auto& [id, p] : customers) {
    ASSIGN_OR_RETURN(std::optional<std::string> stored,
                     store_.Get(cf_.customer, PartitionKey(p) + id));
    if (!stored) continue;
    internal::ReviewCustomer c;
    if (!c.ParseFromString(*stored)) return absl::DataLossError("corrupt review customer");
    domain::WorklistCustomer w;
    w.customer_id = id;
    // The cadence of the customer's tier at as_of (value rules).
    if (auto t = tiers.find(id); t != tiers.end()) w.tier = t->second;
    // Stage, since when and DECLINING by the lifecycle rules at as_of.
    const domain::LifecycleResult lr = domain::Classify(c.lifecycle(), as_of, rules_.lifecycle);
    w.stage = lr.stage == v1::LIFECYCLE_STAGE_UNSPECIFIED ? v1::LIFECYCLE_STAGE_PROSPECT : lr.stage;
    w.tracked_since = absl::FromUnixMicros(c.registered_micros());
    for (const v1::StageTransition& h : lr.history) {
      if (h.from() != h.to()) w.tracked_since = event::FromProto(h.at());
      const bool into_declining = h.to() == v1::LIFECYCLE_STAGE_CUSTOMER &&
                                  h.to_sub_stage() == v1::SUB_STAGE_DECLINING &&
                                  (h.from() != v1::LIFECYCLE_STAGE_CUSTOMER ||
                                   h.from_sub_stage() != v1::SUB_STAGE_DECLINING);
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
      int64_t outstanding = k.signed_amount_units();
      for (int i = 0; i < k.renewal_micros_size() && i < k.renewal_units_size(); ++i) {
        if (k.renewal_micros(i) <= as_of_micros) outstanding += k.renewal_units(i);
      }
      for (int i = 0; i < k.payment_micros_size() && i < k.payment_units_size(); ++i) {
        if (k.payment_micros(i) <= as_of_micros) outstanding -= k.payment_units(i);
      }
      const bool terminated = k.terminated_micros() != 0 && k.terminated_micros() <= as_of_micros;
      w.contracts.push_back({.contract_id = k.contract_id(),
                             .end = absl::FromUnixMicros(k.end_micros()),
                             .terminated = terminated,
                             .payment_due = absl::FromUnixMicros(k.payment_due_micros()),
                             .outstanding_units = outstanding});
    }
    for (const auto& k : c.complaints()) {
      domain::WorklistComplaint wc{.complaint_id = k.complaint_id(),
                                   .severity = static_cast<v1::Severity>(k.severity()),
                                   .filed_at = absl::FromUnixMicros(k.filed_micros()),
                                   .steps = {}};
      for (int i = 0; i < k.step_kinds_size(); ++i) {
        wc.steps.push_back({.step = static_cast<domain::ComplaintStep>(k.step_kinds(i)),
                            .at = absl::FromUnixMicros(k.step_micros(i))});
      }
      w.complaints.push_back(std::move(wc));
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
    for (const domain::WorklistItem& item :
         domain::BuildWorklist(w, as_of, rules_.zone, rules_.worklist)) {
      v1::WorklistItem* out = response.add_items();
      out->set_customer_id(id);
      out->set_reason(std::string(domain::WorklistReasonName(item.reason)));
      out->set_subject_id(item.subject_id);
      *out->mutable_at() = event::ToProto(item.at);
      if (item.reason == domain::WorklistReason::kComplaintSla) {
        out->set_urgency(std::string(domain::SlaUrgencyName(item.urgency)));
      }
    }
  }
  return response;
}

}  // namespace custops::review

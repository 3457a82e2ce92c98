// The reports of ReviewQueries by dimension value: GetReview (the metrics
// with 环比, 同比 and history, the findings with the customers or
// opportunities behind them, the actions planned against them), Funnel and
// CompareReview, with ListValues paging their dimension values; the checks of
// their requests and the protos of metric values.
#include <algorithm>
#include <iterator>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/review/review_projection.h"
#include "custops/rpc/page_token.h"
#include "custops/store/keys.h"
#include "review_query_keys.h"

namespace custops::review {
namespace {

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

absl::StatusOr<v1::ReviewReport> ReviewQueries::GetReview(
    const v1::GetReviewRequest& request, const std::vector<std::string>* regions) const {
  ASSIGN_OR_RETURN(v1::Dimension dim,
                   CheckDimension(request.dimension(), request.dimension_value(), true));
  if (dim == v1::DIMENSION_TIER) RETURN_IF_ERROR(TierAvailable());
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
        RETURN_IF_ERROR(CustomerSubjects(m.partition, kind, m.customer_id, period, 100, ids));
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
  if (dim == v1::DIMENSION_TIER) RETURN_IF_ERROR(TierAvailable());
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
  if (dim == v1::DIMENSION_TIER) RETURN_IF_ERROR(TierAvailable());
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

}  // namespace custops::review

#include "custops/value/value_projection.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/log/partitioner.h"
#include "custops/rpc/page_token.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace custops::value {
namespace {

// Whether `region` is in the caller's scope (null: every region).
bool InScope(const std::vector<std::string>* regions, const std::string& region) {
  return regions == nullptr || std::binary_search(regions->begin(), regions->end(), region);
}

constexpr std::string_view kModelKey = "clv";
constexpr std::string_view kListTokenPrefix = "v1.";
constexpr size_t kAtCacheSize = 1;  // a population is ~300 bytes per customer

std::string PartitionKey(Partition p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}

std::string CustomerKey(Partition p, std::string_view customer_id) {
  std::string key = PartitionKey(p);
  key.append(customer_id);
  return key;
}

bool Covers(const std::vector<int64_t>& have, const std::vector<int64_t>& need) {
  for (size_t i = 0; i < need.size(); ++i) {
    if (i >= have.size() || have[i] < need[i]) return false;
  }
  return true;
}

void FillEntry(const CustomerValue& c, internal::ValueIndexEntry& e) {
  e.set_tier(c.tier);
  e.set_scored(c.scored);
  if (c.scored) {
    const std::string_view segment = domain::RfmSegmentName(c.rfm.segment);
    e.set_segment(segment.data(), segment.size());
  }
  e.set_negative_asset(c.contribution.negative_asset);
}

v1::Money MoneyOf(int64_t units, const std::string& currency) {
  v1::Money m;
  m.set_units(units);
  m.set_currency(currency);
  return m;
}

v1::ClvModel ModelToProto(const internal::ValueClvModel& m) {
  v1::ClvModel out;
  *out.mutable_fitted_as_of() = event::ToProto(absl::FromUnixMicros(m.fitted_as_of_micros()));
  out.set_customers(m.customers());
  out.set_repeat_buyers(m.repeat_buyers());
  out.set_r(m.r());
  out.set_alpha(m.alpha());
  out.set_a(m.a());
  out.set_b(m.b());
  out.set_p(m.p());
  out.set_q(m.q());
  out.set_v(m.v());
  out.set_bg_converged(m.bg_converged());
  out.set_gg_converged(m.gg_converged());
  out.set_bg_log_likelihood(m.bg_log_likelihood());
  out.set_gg_log_likelihood(m.gg_log_likelihood());
  return out;
}

}  // namespace

// ---------------------------------------------------------------------------
// ValueQueries

ValueQueries::ValueQueries(const ValueRules& rules, const base::Clock& clock)
    : rules_(rules), clock_(clock) {}

void ValueQueries::Attach(const store::Store& store, int partitions) {
  store_ = &store;
  partitions_ = partitions;
}

void ValueQueries::SetPositions(std::function<std::vector<Offset>()> positions) {
  positions_ = std::move(positions);
}

std::vector<int64_t> ValueQueries::Positions() const {
  std::vector<int64_t> out;
  if (!positions_) return out;
  for (Offset o : positions_()) out.push_back(o.value());
  return out;
}

absl::StatusOr<std::vector<CustomerFactsRef>> ValueQueries::LoadAll() const {
  if (store_ == nullptr) return absl::FailedPreconditionError("value projection not attached");
  std::vector<CustomerFactsRef> out;
  const store::ColumnFamily cf = store_->Family("va_facts");
  for (int i = 0; i < partitions_; ++i) {
    const std::string prefix = PartitionKey(Partition(i));
    auto it = store_->NewIterator(cf, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      CustomerFactsRef& ref = out.emplace_back();
      ref.customer_id = std::string(it->key().substr(prefix.size()));
      if (!ref.facts.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(absl::StrCat("corrupt value facts of ", ref.customer_id));
      }
    }
    RETURN_IF_ERROR(it->status());
  }
  return out;
}

absl::StatusOr<Population> ValueQueries::Build(absl::Time as_of,
                                               const internal::ValueClvModel* model,
                                               absl::Time deadline) const {
  if (store_ == nullptr) return absl::FailedPreconditionError("value projection not attached");
  // Streams the facts: one reused message, evaluated and dropped customer by
  // customer (the facts of a large population never sit in memory together).
  PopulationBuilder builder(as_of, rules_);
  const store::ColumnFamily cf = store_->Family("va_facts");
  internal::ValueFacts facts;
  int64_t seen = 0;
  for (int i = 0; i < partitions_; ++i) {
    const std::string prefix = PartitionKey(Partition(i));
    auto it = store_->NewIterator(cf, prefix);
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      // The deadline is real time (a gRPC call's), not the injected clock's.
      if (++seen % 1024 == 0 && absl::Now() >= deadline) {
        return absl::DeadlineExceededError(
            "population evaluation did not finish before the deadline");
      }
      if (!facts.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError(
            absl::StrCat("corrupt value facts of ", std::string(it->key().substr(prefix.size()))));
      }
      builder.Add(it->key().substr(prefix.size()), facts);
    }
    RETURN_IF_ERROR(it->status());
  }
  return FinishBefore(std::move(builder), model, deadline);
}

// One population computation at a time: holds `computing_`, waited for
// until a deadline (absl::Mutex::LockWhenWithDeadline bounds the wait for a
// condition, not for the lock, hence a flag).
class ValueQueries::ComputeLock {
 public:
  ComputeLock(ValueQueries& q, absl::Time deadline) : q_(q) {
    absl::MutexLock lock(&q_.mu_);
    held_ =
        q_.mu_.AwaitWithDeadline(absl::Condition(
                                     +[](bool* computing) { return !*computing; }, &q_.computing_),
                                 deadline);
    if (held_) q_.computing_ = true;
  }
  ~ComputeLock() {
    if (!held_) return;
    absl::MutexLock lock(&q_.mu_);
    q_.computing_ = false;
  }
  absl::Status status() const {
    return held_ ? absl::OkStatus()
                 : absl::DeadlineExceededError(
                       "another population evaluation did not finish before the deadline");
  }

 private:
  ValueQueries& q_;
  bool held_ = false;
};

absl::StatusOr<std::shared_ptr<const Population>> ValueQueries::At(absl::Time as_of,
                                                                   absl::Time deadline) {
  const int64_t key = absl::ToUnixMicros(as_of);
  std::vector<int64_t> positions = Positions();
  auto lookup = [&]() -> std::shared_ptr<const Population> {
    absl::MutexLock lock(&mu_);
    for (const auto& [k, pop] : at_cache_) {
      if (k.first == key && k.second == positions) return pop;
    }
    return nullptr;
  };
  if (auto hit = lookup()) return hit;
  ComputeLock compute(*this, deadline);
  RETURN_IF_ERROR(compute.status());
  if (auto hit = lookup()) return hit;
  ASSIGN_OR_RETURN(Population built, Build(as_of, /*model=*/nullptr, deadline));
  auto pop = std::make_shared<const Population>(std::move(built));
  absl::MutexLock lock(&mu_);
  at_cache_.emplace_back(std::make_pair(key, std::move(positions)), pop);
  if (at_cache_.size() > kAtCacheSize) at_cache_.pop_front();
  return pop;
}

absl::StatusOr<std::shared_ptr<const Population>> ValueQueries::RefreshLocked(absl::Time as_of,
                                                                              absl::Time deadline) {
  std::vector<int64_t> positions = Positions();
  std::optional<internal::ValueClvModel> model = Model();
  ASSIGN_OR_RETURN(Population built, Build(as_of, model ? &*model : nullptr, deadline));
  auto pop = std::make_shared<const Population>(std::move(built));
  absl::MutexLock lock(&mu_);
  if (!model_) model_ = pop->model;  // the first fit becomes the current model
  latest_ = Snapshot{
      .population = pop, .positions = std::move(positions), .built_at = clock_.Monotonic()};
  return pop;
}

absl::StatusOr<std::shared_ptr<const Population>> ValueQueries::RefreshAt(absl::Time as_of,
                                                                          absl::Time deadline) {
  ComputeLock compute(*this, deadline);
  RETURN_IF_ERROR(compute.status());
  return RefreshLocked(as_of, deadline);
}

std::shared_ptr<const Population> ValueQueries::Usable(const std::vector<int64_t>& min_positions) {
  absl::MutexLock lock(&mu_);
  if (latest_.population != nullptr && Covers(latest_.positions, min_positions)) {
    const bool young = clock_.Monotonic() - latest_.built_at < rules_.snapshot_max_staleness;
    const bool unchanged = latest_.positions == Positions() &&
                           clock_.Now() - latest_.population->as_of < rules_.snapshot_max_staleness;
    if (young || unchanged) return latest_.population;
  }
  return nullptr;
}

absl::StatusOr<std::shared_ptr<const Population>> ValueQueries::Now(
    const std::vector<int64_t>& min_positions, absl::Time deadline) {
  if (auto pop = Usable(min_positions)) return pop;
  // Wait (bounded by the deadline) for a refresh in progress, which may give
  // a usable snapshot; otherwise refresh, abandoned at the deadline.
  ComputeLock compute(*this, deadline);
  RETURN_IF_ERROR(compute.status());
  if (auto pop = Usable(min_positions)) return pop;
  return RefreshLocked(clock_.Now(), deadline);
}

std::shared_ptr<const Population> ValueQueries::Latest() const {
  absl::MutexLock lock(&mu_);
  return latest_.population;
}

std::optional<internal::ValueClvModel> ValueQueries::Model() const {
  absl::MutexLock lock(&mu_);
  return model_;
}

void ValueQueries::SetModel(const internal::ValueClvModel& model) {
  absl::MutexLock lock(&mu_);
  model_ = model;
}

absl::StatusOr<internal::ValueClvModel> ValueQueries::RefitAsNow(absl::Time now) {
  ComputeLock compute(*this, absl::InfiniteFuture());
  RETURN_IF_ERROR(compute.status());
  std::vector<int64_t> positions = Positions();
  ASSIGN_OR_RETURN(Population built, Build(now, /*model=*/nullptr, absl::InfiniteFuture()));
  auto pop = std::make_shared<const Population>(std::move(built));
  absl::MutexLock lock(&mu_);
  model_ = pop->model;
  latest_ = Snapshot{
      .population = pop, .positions = std::move(positions), .built_at = clock_.Monotonic()};
  return pop->model;
}

absl::StatusOr<internal::ValueClvModel> ValueQueries::Refit(absl::Time as_of) {
  // Fitting at the clock's now: the fitted population is the new "now"
  // snapshot (one evaluation instead of two).
  if (as_of == clock_.Now()) return RefitAsNow(as_of);
  ASSIGN_OR_RETURN(std::shared_ptr<const Population> at, At(as_of));
  SetModel(at->model);
  RETURN_IF_ERROR(RefreshAt(clock_.Now()).status());
  return at->model;
}

absl::StatusOr<std::shared_ptr<const Population>> ValueQueries::Select(
    std::optional<absl::Time> as_of, const std::vector<int64_t>& min, absl::Time deadline) {
  if (as_of) return At(*as_of, deadline);
  return Now(min, deadline);
}

absl::StatusOr<v1::ValueView> ValueQueries::GetValue(const std::string& customer_id,
                                                     std::optional<absl::Time> as_of,
                                                     const std::vector<int64_t>& min,
                                                     absl::Time deadline,
                                                     const std::vector<std::string>* regions) {
  ASSIGN_OR_RETURN(std::shared_ptr<const Population> pop, Select(as_of, min, deadline));
  const CustomerValue* c = pop->Find(customer_id);
  if (c == nullptr || !InScope(regions, c->region)) {
    return absl::NotFoundError(absl::StrCat("customer_id: no customer ", customer_id));
  }
  return BuildValueView(*pop, *c, rules_);
}

absl::StatusOr<v1::ListValueCustomersResponse> ValueQueries::ListCustomers(
    const v1::ListValueCustomersRequest& request, std::optional<absl::Time> as_of,
    const std::vector<int64_t>& min, absl::Time deadline, const std::vector<std::string>* regions) {
  ASSIGN_OR_RETURN(int page_size, rpc::PageSize(request.page_size()));
  ASSIGN_OR_RETURN(std::string after, rpc::DecodePageToken(kListTokenPrefix, request.page_token()));
  ASSIGN_OR_RETURN(std::shared_ptr<const Population> pop, Select(as_of, min, deadline));
  const v1::ValueFilter& f = request.filter();
  v1::ListValueCustomersResponse response;
  *response.mutable_as_of() = event::ToProto(pop->as_of);
  auto it = std::upper_bound(
      pop->customers.begin(), pop->customers.end(), after,
      [](const std::string& key, const CustomerValue& c) { return key < c.customer_id; });
  if (after.empty()) it = pop->customers.begin();
  for (; it != pop->customers.end(); ++it) {
    const CustomerValue& c = *it;
    if (!InScope(regions, c.region)) continue;
    if (f.tier() != v1::TIER_UNSPECIFIED && f.tier() != c.tier) continue;
    if (f.vip_only() && c.tier != v1::TIER_DIAMOND && c.tier != v1::TIER_PLATINUM &&
        c.tier != v1::TIER_GOLD) {
      continue;
    }
    const std::string segment =
        c.scored ? std::string(domain::RfmSegmentName(c.rfm.segment)) : std::string();
    if (!f.segment().empty() && f.segment() != segment) continue;
    const std::string abc = c.scored ? std::string(domain::AbcClassName(c.abc)) : std::string();
    if (!f.abc_class().empty() && f.abc_class() != abc) continue;
    if (f.negative_asset_only() && !c.contribution.negative_asset) continue;
    if (!f.region().empty() && f.region() != c.region) continue;
    if (!f.industry().empty() && f.industry() != c.industry) continue;
    if (!f.owner_id().empty() && f.owner_id() != c.owner_id) continue;
    if (response.customers_size() == page_size) {
      response.set_next_page_token(
          rpc::EncodePageToken(kListTokenPrefix, response.customers().rbegin()->customer_id()));
      break;
    }
    v1::ValueSummary* s = response.add_customers();
    s->set_customer_id(c.customer_id);
    s->set_name(c.name);
    s->set_tier(c.tier);
    s->set_segment(segment);
    s->set_abc_class(abc);
    s->set_negative_asset(c.contribution.negative_asset);
    *s->mutable_margin() = MoneyOf(c.margin_units, rules_.currency);
    *s->mutable_revenue() = MoneyOf(c.revenue_units, rules_.currency);
    s->set_region(c.region);
    s->set_industry(c.industry);
    s->set_owner_id(c.owner_id);
  }
  return response;
}

absl::StatusOr<v1::TierSummaryResponse> ValueQueries::TierSummary(
    v1::Dimension dimension, std::optional<absl::Time> as_of, const std::vector<int64_t>& min,
    absl::Time deadline, const std::vector<std::string>* regions) {
  if (dimension == v1::DIMENSION_UNSPECIFIED) dimension = v1::DIMENSION_ALL;
  RETURN_IF_ERROR(DimensionValueOf(dimension, CustomerValue{}).status());
  ASSIGN_OR_RETURN(std::shared_ptr<const Population> pop, Select(as_of, min, deadline));
  v1::TierSummaryResponse response;
  response.set_dimension(dimension);
  *response.mutable_as_of() = event::ToProto(pop->as_of);
  int64_t total = 0;
  auto add = [&](const std::string& value, int tier, const Population::Totals& t) {
    v1::TierCount* c = response.add_counts();
    c->set_dimension_value(value);
    c->set_tier(static_cast<v1::Tier>(tier));
    c->set_count(t.count);
    *c->mutable_margin() = MoneyOf(t.margin, rules_.currency);
    *c->mutable_revenue() = MoneyOf(t.revenue, rules_.currency);
    c->set_negative_assets(t.negative);
    total += t.count;
  };
  if (regions != nullptr) {
    // The snapshot's totals span every region: sum the scope's customers
    // the same way (in id order).
    std::map<std::pair<std::string, int>, Population::Totals> scoped;
    for (const CustomerValue& c : pop->customers) {
      if (!InScope(regions, c.region)) continue;
      scoped[{*DimensionValueOf(dimension, c), c.tier}].Add(c);
    }
    for (const auto& [k, t] : scoped) add(k.first, k.second, t);
  } else {
    for (auto it = pop->tier_totals.lower_bound({dimension, "", 0});
         it != pop->tier_totals.end() && std::get<0>(it->first) == dimension; ++it) {
      add(std::get<1>(it->first), std::get<2>(it->first), it->second);
    }
  }
  response.set_total(total);
  return response;
}

absl::StatusOr<v1::ParetoResponse> ValueQueries::Pareto(v1::Dimension dimension,
                                                        std::optional<absl::Time> as_of,
                                                        const std::vector<int64_t>& min,
                                                        absl::Time deadline,
                                                        const std::vector<std::string>* regions) {
  if (dimension == v1::DIMENSION_UNSPECIFIED) dimension = v1::DIMENSION_ALL;
  RETURN_IF_ERROR(DimensionValueOf(dimension, CustomerValue{}).status());
  ASSIGN_OR_RETURN(std::shared_ptr<const Population> pop, Select(as_of, min, deadline));
  std::map<std::string, std::vector<domain::CustomerAmount>> slices;
  for (const CustomerValue& c : pop->customers) {
    if (!c.scored || !InScope(regions, c.region)) continue;
    slices[*DimensionValueOf(dimension, c)].push_back(
        {.customer_id = c.customer_id, .amount_units = c.revenue_units});
  }
  v1::ParetoResponse response;
  response.set_dimension(dimension);
  *response.mutable_as_of() = event::ToProto(pop->as_of);
  for (const auto& [value, revenues] : slices) {
    // ABC within the slice: the same ranking as the population's ABC.
    const std::vector<domain::AbcEntry> ranked = domain::ClassifyAbc(revenues, rules_.abc);
    const int64_t n = static_cast<int64_t>(ranked.size());
    const int64_t top = (n * 20 + 99) / 100;  // ceil(20%)
    int64_t total = 0, top_revenue = 0;
    int64_t count[3] = {0, 0, 0}, sum[3] = {0, 0, 0};
    for (const domain::AbcEntry& e : ranked) {
      total += e.revenue_units;
      if (e.rank < top) top_revenue += e.revenue_units;
      const int k = static_cast<int>(e.abc);
      ++count[k];
      sum[k] += e.revenue_units;
    }
    v1::ParetoSlice* s = response.add_slices();
    s->set_dimension_value(value);
    s->set_customers(n);
    *s->mutable_revenue() = MoneyOf(total, rules_.currency);
    *s->mutable_top20_revenue() = MoneyOf(top_revenue, rules_.currency);
    s->set_top20_share_permille(
        total > 0 ? static_cast<int64_t>(static_cast<__int128>(top_revenue) * 1000 / total) : 0);
    s->set_a_customers(count[0]);
    s->set_b_customers(count[1]);
    s->set_c_customers(count[2]);
    *s->mutable_a_revenue() = MoneyOf(sum[0], rules_.currency);
    *s->mutable_b_revenue() = MoneyOf(sum[1], rules_.currency);
    *s->mutable_c_revenue() = MoneyOf(sum[2], rules_.currency);
  }
  return response;
}

v1::ClvModel ClvModelToProto(const internal::ValueClvModel& m) { return ModelToProto(m); }

// ---------------------------------------------------------------------------
// ValueProjection

std::vector<std::string> ValueProjection::ColumnFamilies() const {
  return {"va_facts", "va_index", "va_meta"};
}

absl::Status ValueProjection::Attach(store::Store& store, int partitions) {
  store_ = &store;
  partitions_ = partitions;
  cf_ = {.facts = store.Family("va_facts"),
         .index = store.Family("va_index"),
         .meta = store.Family("va_meta")};
  queries_.Attach(store, partitions);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, store.Get(cf_.meta, kModelKey));
  if (stored) {
    internal::ValueClvModel model;
    if (!model.ParseFromString(*stored)) return absl::DataLossError("corrupt value CLV model");
    queries_.SetModel(model);
    persisted_model_micros_ = model.fitted_as_of_micros();
  }
  published_.assign(partitions, true);
  return absl::OkStatus();
}

absl::Status ValueProjection::Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                                    projection::Txn& txn) {
  auto it = dirty_.find(event.customer_id());
  if (it == dirty_.end()) {
    internal::ValueFacts facts;
    ASSIGN_OR_RETURN(std::optional<std::string> stored,
                     txn.Get(cf_.facts, CustomerKey(ctx.partition, event.customer_id())));
    if (stored && !facts.ParseFromString(*stored)) {
      return absl::DataLossError(absl::StrCat("corrupt value facts of ", event.customer_id()));
    }
    it = dirty_.emplace(event.customer_id(), std::move(facts)).first;
  }
  return EvolveValue(it->second, event);
}

absl::Status ValueProjection::Flush(Partition partition, absl::Time /*now*/, projection::Txn& txn) {
  std::string value;
  for (const auto& [id, facts] : dirty_) {
    value.clear();
    google::protobuf::io::StringOutputStream out(&value);
    google::protobuf::io::CodedOutputStream coded(&out);
    coded.SetSerializationDeterministic(true);
    facts.SerializeToCodedStream(&coded);
    coded.Trim();
    txn.Put(cf_.facts, CustomerKey(partition, id), value);
  }
  if (!dirty_.empty()) applied_since_refresh_ = true;
  dirty_.clear();
  return absl::OkStatus();
}

absl::Status ValueProjection::Tick(Partition partition, absl::Time now, projection::Txn& txn) {
  if (partition.value() == 0) {
    std::optional<internal::ValueClvModel> model = queries_.Model();
    // A fit that failed (too few customers, no repeat buyer) is retried as
    // soon as events arrive, a good one on the schedule.
    const bool refit_due =
        !model.has_value() || (!(model->bg_ok() && model->gg_ok()) && applied_since_refresh_) ||
        now - absl::FromUnixMicros(model->fitted_as_of_micros()) >= rules_.refit_interval;
    std::shared_ptr<const Population> latest = queries_.Latest();
    const bool refresh_due = applied_since_refresh_ || latest == nullptr ||
                             now - latest->as_of >= rules_.snapshot_max_staleness;
    if (refit_due) {
      ASSIGN_OR_RETURN(internal::ValueClvModel fitted, queries_.RefitAsNow(now));
      (void)fitted;
    } else if (refresh_due) {
      ASSIGN_OR_RETURN(std::shared_ptr<const Population> fresh, queries_.RefreshAt(now));
      // The population has moved away from the one the model was fitted on
      // (an import, a burst of new customers): fit again now rather than at
      // the next scheduled refit (docs/value.md "CLV refit").
      if (model && FitInputsMoved(*model, *fresh, rules_.refit_population_change_percent)) {
        ASSIGN_OR_RETURN(internal::ValueClvModel fitted, queries_.RefitAsNow(now));
        (void)fitted;
      }
    }
    applied_since_refresh_ = false;
    model = queries_.Model();
    if (model && model->fitted_as_of_micros() != persisted_model_micros_) {
      txn.Put(cf_.meta, kModelKey, model->SerializeAsString());
      persisted_model_micros_ = model->fitted_as_of_micros();
    }
    std::shared_ptr<const Population> now_pop = queries_.Latest();
    if (now_pop != publishing_) {
      publishing_ = now_pop;
      published_.assign(partitions_, false);
      by_partition_.assign(partitions_, {});
      for (size_t i = 0; i < now_pop->customers.size(); ++i) {
        by_partition_[log::PartitionForKey(now_pop->customers[i].customer_id, partitions_).value()]
            .push_back(i);
      }
    }
  }
  const int p = partition.value();
  if (publishing_ == nullptr || p >= static_cast<int>(published_.size()) || published_[p]) {
    return absl::OkStatus();
  }
  published_[p] = true;
  // Merge the partition's customers in the snapshot (sorted by id) with
  // va_index (sorted by id): one pass, comparing encoded entries; only the
  // customers whose entry changed are decoded, emitted and rewritten.
  const std::string prefix = PartitionKey(partition);
  const google::protobuf::Timestamp at = event::ToProto(publishing_->as_of);
  auto emit = [&](std::string_view id, const internal::ValueIndexEntry& from,
                  const internal::ValueIndexEntry& to, int64_t net_units) {
    auto base = [&]() {
      v1::StateChange c;
      c.set_customer_id(std::string(id));
      *c.mutable_at() = at;
      return c;
    };
    if (from.tier() != to.tier()) {
      v1::StateChange c = base();
      c.mutable_tier_changed()->set_from(static_cast<v1::Tier>(from.tier()));
      c.mutable_tier_changed()->set_to(static_cast<v1::Tier>(to.tier()));
      txn.Emit(std::move(c));
    }
    if (from.segment() != to.segment()) {
      v1::StateChange c = base();
      c.mutable_segment_changed()->set_from(from.segment());
      c.mutable_segment_changed()->set_to(to.segment());
      txn.Emit(std::move(c));
    }
    if (from.negative_asset() != to.negative_asset()) {
      v1::StateChange c = base();
      c.mutable_negative_asset_changed()->set_negative_asset(to.negative_asset());
      *c.mutable_negative_asset_changed()->mutable_net_contribution() =
          MoneyOf(net_units, rules_.currency);
      txn.Emit(std::move(c));
    }
  };
  auto parse = [](std::string_view bytes, internal::ValueIndexEntry& e) -> absl::Status {
    if (!e.ParseFromArray(bytes.data(), static_cast<int>(bytes.size()))) {
      return absl::DataLossError("corrupt value index");
    }
    return absl::OkStatus();
  };
  // Customers in va_index but no longer in the population (kind changed).
  auto left = [&](std::string_view id, std::string_view bytes) -> absl::Status {
    internal::ValueIndexEntry before;
    RETURN_IF_ERROR(parse(bytes, before));
    emit(id, before, internal::ValueIndexEntry(), 0);
    txn.Delete(cf_.index, CustomerKey(partition, id));
    return absl::OkStatus();
  };
  auto it = store_->NewIterator(cf_.index, prefix);
  it->SeekToFirst();
  std::string encoded;
  internal::ValueIndexEntry now_entry;
  for (size_t i : by_partition_[p]) {
    const CustomerValue& c = publishing_->customers[i];
    std::string_view stored_bytes;
    bool stored = false;
    for (; it->Valid(); it->Next()) {
      const std::string_view id = it->key().substr(prefix.size());
      if (id < c.customer_id) {
        RETURN_IF_ERROR(left(id, it->value()));
        continue;
      }
      if (id == c.customer_id) {
        stored = true;
        stored_bytes = it->value();
      }
      break;
    }
    now_entry.Clear();
    FillEntry(c, now_entry);
    encoded.clear();
    now_entry.AppendToString(&encoded);
    if (stored && stored_bytes == encoded) {
      it->Next();
      continue;
    }
    internal::ValueIndexEntry before;
    if (stored) RETURN_IF_ERROR(parse(stored_bytes, before));
    emit(c.customer_id, before, now_entry, c.contribution.net_units);
    txn.Put(cf_.index, CustomerKey(partition, c.customer_id), encoded);
    if (stored) it->Next();
  }
  for (; it->Valid(); it->Next()) {
    RETURN_IF_ERROR(left(it->key().substr(prefix.size()), it->value()));
  }
  RETURN_IF_ERROR(it->status());
  return absl::OkStatus();
}

absl::Status ValueProjection::Reseed(Partition partition,
                                     const std::vector<v1::StateChange>& published,
                                     projection::Txn& txn) {
  std::map<std::string, internal::ValueIndexEntry> announced;
  for (const v1::StateChange& c : published) {
    internal::ValueIndexEntry& e = announced[c.customer_id()];
    if (c.has_tier_changed()) e.set_tier(c.tier_changed().to());
    if (c.has_segment_changed()) e.set_segment(c.segment_changed().to());
    if (c.has_negative_asset_changed()) {
      e.set_negative_asset(c.negative_asset_changed().negative_asset());
    }
  }
  const std::string prefix = PartitionKey(partition);
  auto it = store_->NewIterator(cf_.index, prefix);
  for (it->SeekToFirst(); it->Valid(); it->Next()) txn.Delete(cf_.index, std::string(it->key()));
  RETURN_IF_ERROR(it->status());
  for (const auto& [id, entry] : announced) {
    // A customer announced as gone (tier back to UNSPECIFIED) has no entry.
    if (entry.tier() == v1::TIER_UNSPECIFIED && entry.segment().empty() &&
        !entry.negative_asset()) {
      continue;
    }
    txn.Put(cf_.index, CustomerKey(partition, id), entry.SerializeAsString());
  }
  // The next tick diffs a fresh pass of every partition against the seeds.
  publishing_ = nullptr;
  return absl::OkStatus();
}

}  // namespace custops::value

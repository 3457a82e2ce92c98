// ReviewProjection::Batch: the projection's cached state, its rv_seen
// counters and its writes (review_batch.h).
#include "review_batch.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/store/keys.h"
#include "derived_timelines.h"
#include "review_units.h"

namespace custops::review {
namespace {

using domain::ReviewAccumulator;

// Entries kept across batches, per family over all partitions. Slices are
// bounded in estimated bytes (a cached slice is ~720 bytes, more with
// revenue per customer or per competitor: ~365k slices in 256 MiB): their
// cache is what saves the most reads. A customer is ~1-2 KB decoded.
constexpr size_t kMaxCachedSliceBytes = size_t{256} << 20;
constexpr size_t kMaxCachedCustomers = 200'000;
constexpr size_t kMaxCachedOpportunities = 200'000;
constexpr size_t kMaxCachedDeltas = 200'000;

// Whether `list` (tokens dim (BE32) | value \0, back to back) holds `token`.
bool ContainsToken(std::string_view list, std::string_view token) {
  while (list.size() >= 4) {
    const size_t end = list.find('\0', 4);
    const size_t len = end == std::string_view::npos ? list.size() : end + 1;
    if (list.substr(0, len) == token) return true;
    list.remove_prefix(len);
  }
  return false;
}

// The number of DIMENSION_REGION tokens in `list` (tokens as above).
int RegionTokens(std::string_view list) {
  int n = 0;
  while (list.size() >= 4) {
    const size_t end = list.find('\0', 4);
    const size_t len = end == std::string_view::npos ? list.size() : end + 1;
    std::string_view token = list.substr(0, len);
    if (store::ReadU32(token) == static_cast<uint32_t>(v1::DIMENSION_REGION)) ++n;
    list.remove_prefix(len);
  }
  return n;
}

// Derived pieces compare by value, every field (what the store holds): a field
// added to internal.ReviewDerived must be added here too.
auto PieceFields(const internal::ReviewDerived& p) {
  return std::tuple<int32_t, int64_t, int64_t, int64_t, const std::string&, const std::string&,
                    const std::string&, const std::string&>(
      p.kind(), p.from(), p.to(), p.value(), p.region(), p.industry(), p.owner_id(), p.channel());
}
bool PieceLess(const internal::ReviewDerived* a, const internal::ReviewDerived* b) {
  return PieceFields(*a) < PieceFields(*b);
}
bool PieceEq(const internal::ReviewDerived& a, const internal::ReviewDerived& b) {
  return PieceFields(a) == PieceFields(b);
}
// The same slices (and, for lost pieces, subject marks): kind, start and
// dimensions.
bool SameSlices(const internal::ReviewDerived& a, const internal::ReviewDerived& b) {
  return a.kind() == b.kind() && a.from() == b.from() && a.region() == b.region() &&
         a.industry() == b.industry() && a.owner_id() == b.owner_id() && a.channel() == b.channel();
}

// The multiset difference of two lists of pieces: fn(piece, -1) for each
// piece of `was` not in `now`, then fn(piece, +1) for each of `now` not in
// `was`.
template <typename Was, typename Now, typename Fn>
void DiffPieces(const Was& was, const Now& now, Fn fn) {
  std::vector<const internal::ReviewDerived*> a, b;
  a.reserve(was.size());
  b.reserve(now.size());
  for (const auto& p : was) a.push_back(&p);
  for (const auto& p : now) b.push_back(&p);
  std::sort(a.begin(), a.end(), PieceLess);
  std::sort(b.begin(), b.end(), PieceLess);
  std::vector<const internal::ReviewDerived*> added;
  size_t i = 0, j = 0;
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && PieceLess(a[i], b[j]))) {
      fn(*a[i++], -1);
    } else if (i == a.size() || PieceLess(b[j], a[i])) {
      added.push_back(b[j++]);
    } else {
      ++i;
      ++j;
    }
  }
  for (const internal::ReviewDerived* p : added) fn(*p, +1);
}

Dims PieceDims(const internal::ReviewDerived& p, const std::string& customer_id) {
  return Dims{.region = p.region(),
              .industry = p.industry(),
              .owner = p.owner_id(),
              .channel = p.channel(),
              .product = "",
              .customer = customer_id};
}

}  // namespace

ReviewProjection::Batch::Batch(const ReviewRules& rules, const Families& cf, int partitions)
    : rules_(rules), cf_(cf), parts_(static_cast<size_t>(std::max(partitions, 1))) {}

void ReviewProjection::Batch::Begin(projection::Txn& txn) {
  if (txn_ == &txn && part_ != nullptr) return;
  txn_ = &txn;
  const size_t p = static_cast<size_t>(txn.partition().value());
  if (p >= parts_.size()) parts_.resize(p + 1);
  part_ = &parts_[p];
  prefix_.clear();
  store::AppendU32(prefix_, static_cast<uint32_t>(p));
}

absl::StatusOr<internal::ReviewCustomer*> ReviewProjection::Batch::Customer(const std::string& id) {
  if (auto* c = part_->customers.Touch(id, generation_)) return c;
  internal::ReviewCustomer c;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.customer, prefix_ + id));
  if (stored && !c.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("corrupt review state of customer ", id));
  }
  return part_->customers.Insert(id, std::move(c), generation_);
}

absl::StatusOr<internal::ReviewOpportunity*> ReviewProjection::Batch::Opportunity(
    const std::string& customer, const std::string& id, bool* found) {
  std::string key;
  store::AppendId(key, customer);
  key.append(id);
  if (auto* o = part_->opps.Touch(key, generation_)) {
    *found = true;
    return o;
  }
  internal::ReviewOpportunity o;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.opp, prefix_ + key));
  *found = stored.has_value();
  if (stored && !o.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("corrupt opportunity ", id));
  }
  return part_->opps.Insert(key, std::move(o), generation_);
}

absl::StatusOr<SliceState*> ReviewProjection::Batch::Slice(const std::string& suffix) {
  if (auto* s = part_->slices.Touch(suffix, generation_)) return s;
  SliceState s;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.slice, prefix_ + suffix));
  if (stored) {
    internal::ReviewSlice p;
    if (!p.ParseFromString(*stored)) return absl::DataLossError("corrupt review slice");
    s = FromProto(p);
  }
  return part_->slices.Insert(suffix, std::move(s), generation_);
}

const DayPeriods& ReviewProjection::Batch::Periods(absl::Time t) {
  const absl::CivilDay day = absl::ToCivilDay(t, rules_.zone);
  auto [it, inserted] = periods_.try_emplace(DayNumber(day));
  if (inserted) {
    for (size_t gi = 0; gi < std::size(kGranularities); ++gi) {
      it->second.periods[gi] = domain::PeriodContaining(day, kGranularities[gi]);
      store::AppendId(it->second.keys[gi], it->second.periods[gi].Key());
    }
  }
  return it->second;
}

absl::StatusOr<bool> ReviewProjection::Batch::FirstSeen(char kind, const std::string& suffix,
                                                        std::string_view id) {
  std::string key = prefix_;
  key.push_back(kind);
  key.append(suffix);
  key.append(id);
  if (seen_.contains(key)) return false;
  ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
  seen_.insert(key);
  if (stored) return false;
  txn_->Put(cf_.seen, key, "");
  return true;
}

absl::StatusOr<bool> ReviewProjection::Batch::Unsee(char kind, const std::string& suffix,
                                                    std::string_view id) {
  std::string key = prefix_;
  key.push_back(kind);
  key.append(suffix);
  key.append(id);
  ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
  seen_.erase(key);
  if (!stored) return false;
  txn_->Delete(cf_.seen, key);
  return true;
}

absl::Status ReviewProjection::Batch::CountDistinct(
    internal::ReviewCustomer& c, char kind, absl::Time t, const Dims& d,
    const std::string& customer, int64_t ReviewAccumulator::*field,
    const std::function<bool(const domain::ReportingPeriod&)>& only) {
  std::string suffix_customer_day;  // CustomerDaysPrefix(customer) + the day's key
  std::vector<DimKey> dims;
  const DayPeriods& day = Periods(t);
  int64_t customer_bits = 0;  // the granularities counted in the customer's day slice
  for (size_t gi = 0; gi < std::size(kGranularities); ++gi) {
    const domain::ReportingPeriod& period = day.periods[gi];
    if (only && !only(period)) continue;
    if (dims.empty()) {
      dims = DimKeys(d, rules_.tier_dimension);
      if (dims.back().dim == kDimensionCustomer) {
        suffix_customer_day.assign(dims.back().token);
        suffix_customer_day.append(day.keys[0]);
        dims.pop_back();
      }
    }
    if (!suffix_customer_day.empty()) customer_bits |= int64_t{1} << gi;
    const std::string& encoded = day.keys[gi];
    const std::string_view pkey(encoded.data(), encoded.size() - 1);  // without its \0
    const std::string tag = {kind, static_cast<char>('0' + gi)};
    internal::ReviewSeen* cache = nullptr;
    for (auto& x : *c.mutable_seen()) {
      if (x.tag() == tag) cache = &x;
    }
    if (cache == nullptr) {
      cache = c.add_seen();
      cache->set_tag(tag);
      cache->set_tracked(true);  // no entry of this tag exists yet
    }
    std::string key = prefix_;
    key.push_back(kind);
    store::AppendId(key, customer);
    key.append(pkey);
    if (cache->period() != pkey) {
      if (cache->tracked() && (cache->max_period().empty() || pkey > cache->max_period())) {
        cache->set_dims("");  // later than every entry: none for this period
      } else {
        ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.seen, key));
        cache->set_dims(stored.value_or(""));
      }
      cache->set_period(std::string(pkey));
    }
    bool changed = false;
    bool region_added = false;
    std::string suffix;
    for (const DimKey& dim : dims) {
      if (ContainsToken(cache->dims(), dim.token)) continue;
      cache->mutable_dims()->append(dim.token);
      changed = true;
      region_added |= dim.dim == v1::DIMENSION_REGION;
      suffix.assign(encoded);
      suffix.append(dim.token);
      ASSIGN_OR_RETURN(SliceState * s, Slice(suffix));
      s->acc.*field += 1;
    }
    if (changed) {
      txn_->Put(cf_.seen, key, cache->dims());
      // Active under a second region in this period: index the mover.
      if (kind == kSeenActive && region_added && RegionTokens(cache->dims()) >= 2) {
        std::string mover = prefix_;
        mover.push_back(kSeenMover);
        mover.append(encoded);
        mover.append(customer);
        txn_->Put(cf_.seen, mover, "");
      }
      if (cache->tracked() && pkey > cache->max_period()) cache->set_max_period(std::string(pkey));
    }
  }
  if (customer_bits != 0) {
    ASSIGN_OR_RETURN(SliceState * s, Slice(suffix_customer_day));
    s->acc.*field |= customer_bits;
  }
  return absl::OkStatus();
}

void ReviewProjection::Batch::SetDerived(internal::ReviewCustomer& c,
                                         std::vector<internal::ReviewDerived> pieces) {
  auto* derived = c.mutable_derived();
  if (static_cast<size_t>(derived->size()) == pieces.size() &&
      std::equal(pieces.begin(), pieces.end(), derived->begin(), PieceEq)) {
    return;  // unchanged (the pieces come in a deterministic order)
  }
  auto [it, inserted] = pending_.try_emplace(c.customer_id());
  PendingDerived& pending = it->second;
  if (inserted) {
    pending.customer = &c;
    pending.counted = *derived;
  }
  // Lost pieces: removals first, then additions (as counted one by one).
  const uint64_t order = 2 * ++derive_order_;
  DiffPieces(*derived, pieces, [&](const internal::ReviewDerived& p, int sign) {
    if (p.kind() != kPieceLost && p.kind() != kPieceWinBack) return;
    auto m = std::find_if(pending.marks.begin(), pending.marks.end(),
                          [&](const PendingDerived::Mark& x) { return SameSlices(x.piece, p); });
    if (m == pending.marks.end()) m = pending.marks.insert(pending.marks.end(), {.piece = p});
    m->order = sign > 0 ? order + 1 : order;
    m->mark = sign > 0;
  });
  derived->Clear();
  for (internal::ReviewDerived& p : pieces) *derived->Add() = std::move(p);
}

absl::Status ReviewProjection::Batch::CountPiece(const std::string& id,
                                                 const internal::ReviewDerived& p, int sign) {
  const Dims d = PieceDims(p, id);
  if (p.kind() == kPieceLost || p.kind() == kPieceWinBack) {
    return ForEach(FromMicros(p.from()), d, [&](SliceState& s, const std::string&) {
      if (p.kind() == kPieceWinBack) {
        s.acc.win_backs += sign;
      } else {
        s.acc.lost_customers += sign;
      }
    });
  }
  internal::ReviewDelta change;
  const int64_t v = sign * p.value();
  switch (p.kind()) {
    case kPieceCustomer:
      change.set_customers(v);
      break;
    case kPieceIntent:
      change.set_intent(v);
      break;
    case kPieceNegative:
      change.set_negative_assets(v);
      break;
    case kPieceOverdue:
      change.set_overdue_units(v);
      break;
    default:
      return absl::OkStatus();
  }
  AddDelta(FromMicros(p.from()), d, change);
  if (p.to() != 0) {
    internal::ReviewDelta undo;
    AddDeltaInto(undo, change);
    undo.set_customers(-undo.customers());
    undo.set_intent(-undo.intent());
    undo.set_negative_assets(-undo.negative_assets());
    undo.set_overdue_units(-undo.overdue_units());
    AddDelta(FromMicros(p.to()), d, undo);
  }
  return absl::OkStatus();
}

absl::Status ReviewProjection::Batch::CountDerived() {
  for (auto& [id, pending] : pending_) {
    absl::Status status;
    DiffPieces(pending.counted, pending.customer->derived(),
               [&](const internal::ReviewDerived& p, int sign) {
                 if (status.ok()) status = CountPiece(id, p, sign);
               });
    RETURN_IF_ERROR(status);
    // Every slice a flow touched is written, as when counted at once (a
    // loss counted and undone leaves its slices, zero or not, in the
    // store); each subject mark as the last mark or unmark left it.
    absl::flat_hash_map<std::string, const PendingDerived::Mark*> last;
    for (const PendingDerived::Mark& m : pending.marks) {
      RETURN_IF_ERROR(ForEach(FromMicros(m.piece.from()), PieceDims(m.piece, id),
                              [&](SliceState&, const std::string& suffix) {
                                if (m.piece.kind() != kPieceLost) return;
                                const PendingDerived::Mark*& l = last[suffix];
                                if (l == nullptr || m.order > l->order) l = &m;
                              }));
    }
    for (const auto& [suffix, m] : last) {
      RETURN_IF_ERROR(m->mark ? FirstSeen(kSubjectLost, suffix, id).status()
                              : Unsee(kSubjectLost, suffix, id).status());
    }
  }
  pending_.clear();
  return absl::OkStatus();
}

void ReviewProjection::Batch::AddDelta(absl::Time t, const Dims& d, int64_t pipeline, int64_t open,
                                       int64_t customers) {
  internal::ReviewDelta change;
  change.set_pipeline_percent_units(pipeline);
  change.set_open_opportunities(open);
  change.set_customers(customers);
  AddDelta(t, d, change);
}

void ReviewProjection::Batch::AddDelta(absl::Time t, const Dims& d,
                                       const internal::ReviewDelta& change) {
  const int64_t day = DayNumber(absl::ToCivilDay(t, rules_.zone));
  std::string key;
  for (const DimKey& dim : DimKeys(d, rules_.tier_dimension)) {
    key.assign(dim.token);
    store::AppendI64(key, day);
    Delta* delta = part_->deltas.Touch(key, generation_);
    if (delta == nullptr) delta = part_->deltas.Insert(key, Delta{}, generation_);
    AddDeltaInto(delta->value, change);
  }
}

void ReviewProjection::Batch::Due(int64_t micros, const std::string& customer,
                                  std::string_view subject, bool put) {
  std::string key = prefix_;
  store::AppendI64(key, micros);
  store::AppendId(key, customer);
  key.append(subject);
  if (put) {
    txn_->Put(cf_.due, key, "");
  } else {
    txn_->Delete(cf_.due, key);
  }
}

void ReviewProjection::Batch::Index(store::ColumnFamily cf, const std::string& value,
                                    const std::string& customer, bool put) {
  std::string key = prefix_;
  store::AppendId(key, value);
  key.append(customer);
  if (put) {
    txn_->Put(cf, key, "");
  } else {
    txn_->Delete(cf, key);
  }
}

absl::Status ReviewProjection::Batch::Flush() {
  std::string key = prefix_;
  std::string value;
  auto full_key = [&](const std::string& k) -> const std::string& {
    key.resize(prefix_.size());
    key.append(k);
    return key;
  };
  PartState& part = *part_;
  absl::Status status = CountDerived();
  status.Update(part.customers.Flush([&](const std::string& id, const auto& c) {
    c.SerializeToString(&value);
    txn_->PutUnread(cf_.customer, full_key(id), value);
    return absl::OkStatus();
  }));
  status.Update(part.opps.Flush([&](const std::string& k, const auto& o) {
    o.SerializeToString(&value);
    txn_->PutUnread(cf_.opp, full_key(k), value);
    return absl::OkStatus();
  }));
  status.Update(part.slices.Flush([&](const std::string& suffix, const SliceState& s) {
    EncodeSlice(s, value);
    txn_->PutUnread(cf_.slice, full_key(suffix), value);
    return absl::OkStatus();
  }));
  status.Update(part.deltas.Flush([&](const std::string& k, Delta& d) -> absl::Status {
    if (!d.loaded) {
      ASSIGN_OR_RETURN(std::optional<std::string> stored, txn_->Get(cf_.delta, full_key(k)));
      internal::ReviewDelta total;
      if (stored && !total.ParseFromString(*stored)) return absl::DataLossError("corrupt delta");
      AddDeltaInto(d.value, total);
      d.loaded = true;
    }
    if (DeltaIsZero(d.value)) {
      txn_->Delete(cf_.delta, full_key(k));
      return absl::OkStatus();
    }
    d.value.SerializeToString(&value);
    txn_->PutUnread(cf_.delta, full_key(k), value);
    return absl::OkStatus();
  }));
  seen_.clear();
  pending_.clear();
  txn_ = nullptr;
  part_ = nullptr;
  if (!status.ok()) {
    Abandon();
    return status;
  }
  ++generation_;
  Evict(part);
  return absl::OkStatus();
}

void ReviewProjection::Batch::Abandon() {
  for (PartState& p : parts_) {
    p.customers.Clear();
    p.opps.Clear();
    p.slices.Clear();
    p.deltas.Clear();
  }
  seen_.clear();
  pending_.clear();
  txn_ = nullptr;
  part_ = nullptr;
}

size_t ReviewProjection::Batch::SliceHeapBytes::operator()(const SliceState& s) const {
  constexpr size_t kMapNode = 80;  // std::map<std::string, int64_t> node, allocator overhead
  size_t n =
      sizeof(int64_t) * (s.acc.response_seconds.capacity() + s.acc.resolution_seconds.capacity());
  for (const auto* map : {&s.lost_by_competitor, &s.lost_amount_by_competitor}) {
    for (const auto& [key, value] : *map) n += kMapNode + (key.size() > 15 ? key.capacity() : 0);
  }
  for (const auto& [key, value] : s.acc.revenue_by_customer) {
    n += kMapNode + (key.size() > 15 ? key.capacity() : 0);
  }
  return n;
}

void ReviewProjection::Batch::Evict(PartState& flushed) {
  const uint64_t round = parts_.size();
  auto bound = [&](auto member, auto measure, size_t max) {
    size_t total = 0;
    for (PartState& p : parts_) total += measure(p.*member);
    if (total <= max) return;
    const uint64_t keep_from = generation_ > 2 * round ? generation_ - 2 * round : 0;
    total = 0;
    for (PartState& p : parts_) {
      (p.*member).EvictOlderThan(keep_from);
      total += measure(p.*member);
    }
    if (total <= max * 3 / 4) return;
    // A replay touches most of a partition's entries in each of its batches,
    // so age does not tell them apart; clearing every partition made each
    // batch start cold. Dropping only the flushed partition's entries keeps
    // the others' until their next batch.
    total -= measure(flushed.*member);
    (flushed.*member).Clear();
    if (total <= max) return;
    for (PartState& p : parts_) (p.*member).Clear();
  };
  auto bytes = [](const auto& cache) { return cache.bytes(); };
  auto entries = [](const auto& cache) { return cache.size(); };
  bound(&PartState::slices, bytes, kMaxCachedSliceBytes);
  bound(&PartState::customers, entries, kMaxCachedCustomers);
  bound(&PartState::opps, entries, kMaxCachedOpportunities);
  bound(&PartState::deltas, entries, kMaxCachedDeltas);
}

}  // namespace custops::review

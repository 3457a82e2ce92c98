// The lifecycle projection's write side: LifecycleProjection (Apply folds an
// event into the customer's facts and timeline, Flush classifies each
// customer of the batch once, announces what each of its events would have
// and writes the batch's facts and index entries, Tick applies the
// time-driven transitions that are due), the announcing of stage changes in
// event time (docs/lifecycle.md "Stage changes"), the maintenance of the
// lc_index, lc_by_stage, lc_due and lc_counts families, and IndexEntryOf /
// DimensionValue, which the queries (lifecycle_queries.cc) share.
#include "custops/lifecycle/lifecycle_projection.h"

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/base/status_macros.h"
#include "custops/event/time.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "google/protobuf/wire_format_lite.h"
#include "lifecycle_keys.h"

namespace custops::lifecycle {
namespace {

using google::protobuf::internal::WireFormatLite;
using keys_internal::CustomerKey;
using keys_internal::kCountedDimensions;
using keys_internal::PartitionKey;
using keys_internal::StageKey;

std::string DueKey(Partition p, int64_t due_micros, std::string_view customer_id) {
  std::string key = PartitionKey(p);
  store::AppendI64(key, due_micros);
  key.append(customer_id);
  return key;
}

std::string CountKey(Partition p, v1::Dimension dim, std::string_view value, int stage,
                     int sub_stage) {
  std::string key = PartitionKey(p);
  store::AppendU32(key, static_cast<uint32_t>(dim));
  store::AppendId(key, value);
  store::AppendU32(key, static_cast<uint32_t>(stage));
  store::AppendU32(key, static_cast<uint32_t>(sub_stage));
  return key;
}

// One StageChanged for one move of `customer_id`'s stage. Its id (after the
// runtime's "lifecycle/" prefix) is made of what the move is, not of when it
// was derived: a re-derivation of the same move (a rebuild, another
// instance restoring the partition) is recognised as already published, a
// different move never shares its id.
v1::StateChange StageChangeOf(Partition p, const std::string& customer_id,
                              const v1::StageTransition& move) {
  v1::StateChange change;
  change.set_customer_id(customer_id);
  *change.mutable_at() = move.at();
  v1::StageChanged* sc = change.mutable_stage_changed();
  sc->set_from(move.from());
  sc->set_to(move.to());
  sc->set_from_sub_stage(move.from_sub_stage());
  sc->set_to_sub_stage(move.to_sub_stage());
  sc->set_reason(move.reason());
  change.set_change_id(
      absl::StrCat(p.value(), "/", customer_id, "/", event::ToUnixMicros(move.at()), "/",
                   static_cast<int>(move.from()), ".", static_cast<int>(move.from_sub_stage()), "-",
                   static_cast<int>(move.to()), ".", static_cast<int>(move.to_sub_stage())));
  return change;
}

}  // namespace

internal::LifecycleIndexEntry IndexEntryOf(const domain::LifecycleSummary& s) {
  internal::LifecycleIndexEntry e;
  e.set_stage(s.stage);
  e.set_sub_stage(s.sub_stage);
  e.set_name(s.profile.name());
  e.set_kind(s.profile.kind());
  e.set_region(s.profile.region());
  e.set_industry(s.profile.industry());
  e.set_owner_id(s.profile.owner_id());
  e.set_channel(s.profile.channel());
  e.set_man_class(s.man_class);
  if (s.last_activity_at) e.set_last_activity_micros(absl::ToUnixMicros(*s.last_activity_at));
  if (s.next_change_at) e.set_due_micros(absl::ToUnixMicros(*s.next_change_at));
  return e;
}

std::string DimensionValue(v1::Dimension dimension, const internal::LifecycleIndexEntry& e) {
  switch (dimension) {
    case v1::DIMENSION_REGION:
      return e.region();
    case v1::DIMENSION_INDUSTRY:
      return e.industry();
    case v1::DIMENSION_OWNER:
      return e.owner_id();
    case v1::DIMENSION_CHANNEL:
      return e.channel();
    case v1::DIMENSION_KIND:
      return v1::CustomerKind_Name(static_cast<v1::CustomerKind>(e.kind()));
    default:
      return "";
  }
}

std::vector<std::string> LifecycleProjection::ColumnFamilies() const {
  return {"lc_facts", "lc_timeline", "lc_index", "lc_by_stage", "lc_due", "lc_counts"};
}

absl::Status LifecycleProjection::Attach(store::Store& store, int partitions) {
  store_ = &store;
  cache_.clear();
  cache_.resize(static_cast<size_t>(std::max(partitions, 0)));
  cache_bytes_ = 0;
  cf_ = {.facts = store.Family("lc_facts"),
         .timeline = store.Family("lc_timeline"),
         .index = store.Family("lc_index"),
         .by_stage = store.Family("lc_by_stage"),
         .due = store.Family("lc_due"),
         .counts = store.Family("lc_counts")};
  return absl::OkStatus();
}

absl::StatusOr<internal::CustomerFacts*> LifecycleProjection::Load(projection::Txn& txn,
                                                                   Partition p,
                                                                   const std::string& customer_id) {
  auto it = dirty_.find(customer_id);
  if (it != dirty_.end()) return &it->second;
  if (static_cast<size_t>(p.value()) < cache_.size()) {
    auto& cache = cache_[p.value()];
    if (auto c = cache.find(customer_id); c != cache.end()) {
      // Taken out for the batch (or tick); Retain puts it back.
      ++cache_stats_.hits;
      cache_bytes_ -= c->second.bytes;
      if (c->second.announced) {
        announced_.try_emplace(customer_id, std::move(*c->second.announced));
      }
      internal::CustomerFacts* facts =
          &dirty_.try_emplace(customer_id, std::move(c->second.facts)).first->second;
      cache.erase(c);
      return facts;
    }
  }
  ++cache_stats_.misses;
  internal::CustomerFacts facts;
  ASSIGN_OR_RETURN(std::optional<std::string> stored,
                   txn.Get(cf_.facts, CustomerKey(p, customer_id)));
  if (stored && !facts.ParseFromString(*stored)) {
    return absl::DataLossError(absl::StrCat("corrupt facts of customer ", customer_id));
  }
  return &dirty_.emplace(customer_id, std::move(facts)).first->second;
}

absl::Status LifecycleProjection::Apply(const projection::ApplyContext& ctx, const v1::Event& event,
                                        projection::Txn& txn) {
  const uint64_t seq = applied_in_batch_++;
  ASSIGN_OR_RETURN(internal::CustomerFacts * facts, Load(txn, ctx.partition, event.customer_id()));
  const absl::Time at = event::FromProto(event.occurred_at());
  if (auto d = deferred_.find(event.customer_id());
      d != deferred_.end() && absl::ToUnixMicros(at) <= d->second.bound_us) {
    // This event may change what the waiting announcements would have
    // seen: announce them now, from the facts they saw.
    ASSIGN_OR_RETURN(Announced * announced, AnnouncedOf(txn, ctx.partition, event.customer_id()));
    const domain::LifecycleResult seen =
        domain::Classify(*facts, absl::FromUnixMicros(d->second.bound_us), rules_);
    AnnounceDeferred(ctx.partition, event.customer_id(), seen.history, d->second, *announced);
    deferred_.erase(d);
  }
  RETURN_IF_ERROR(domain::Evolve(*facts, event));
  // At the event's instant, as a live run would have announced it (never
  // past the clock, never before what was announced: a late event revises
  // from there). The moves after it up to now are announced by Tick.
  ASSIGN_OR_RETURN(Announced * announced, AnnouncedOf(txn, ctx.partition, event.customer_id()));
  if (domain::Exists(*facts)) {
    const absl::Time as_of = std::min(at, ctx.now);
    const bool legacy =
        announced->transitions == 0 && announced->stage != v1::LIFECYCLE_STAGE_UNSPECIFIED;
    if (legacy || announced->at_micros > absl::ToUnixMicros(ctx.now)) {
      // Rare (an index entry from before announcements were recorded, a
      // clock behind what was announced): at once, from its own sweep.
      const absl::Time through = std::max(as_of, absl::FromUnixMicros(announced->at_micros));
      const domain::LifecycleResult result = domain::Classify(*facts, through, rules_);
      Announce(ctx.partition, event.customer_id(), result.history, through, seq, *announced);
    } else {
      // Waits for the customer's one sweep of the batch (Flush).
      auto [d, inserted] = deferred_.try_emplace(event.customer_id());
      if (inserted) d->second.bound_us = announced->at_micros;
      d->second.steps.push_back({.seq = seq, .as_of = as_of});
      d->second.bound_us = std::max(d->second.bound_us, absl::ToUnixMicros(as_of));
    }
  }
  // A TimelineEntry is written as its position followed by the event's bytes
  // as they are in the log (field 2, length-delimited): no re-serialization.
  v1::TimelineEntry entry;
  v1::Position* pos = entry.mutable_position();
  pos->set_topic(std::string(ctx.topic));
  pos->set_partition(ctx.partition.value());
  pos->set_offset(ctx.offset.value());
  std::string value = entry.SerializeAsString();
  if (ctx.raw_value.empty()) {
    *entry.mutable_event() = event;
    value = entry.SerializeAsString();
  } else {
    google::protobuf::io::StringOutputStream stream(&value);  // appends
    google::protobuf::io::CodedOutputStream out(&stream);
    out.WriteTag(WireFormatLite::MakeTag(v1::TimelineEntry::kEventFieldNumber,
                                         WireFormatLite::WIRETYPE_LENGTH_DELIMITED));
    out.WriteVarint64(ctx.raw_value.size());
    out.WriteRaw(ctx.raw_value.data(), static_cast<int>(ctx.raw_value.size()));
  }
  std::string key = PartitionKey(ctx.partition);
  store::AppendId(key, event.customer_id());
  store::AppendI64(key, event::ToUnixMicros(event.occurred_at()));
  key.append(event.event_id());
  txn.Put(cf_.timeline, key, value);
  return absl::OkStatus();
}

absl::Status LifecycleProjection::Flush(Partition partition, absl::Time now, projection::Txn& txn) {
  // Sorted so the order of writes and emitted changes is deterministic.
  std::vector<std::string> ids;
  ids.reserve(dirty_.size());
  for (const auto& [id, facts] : dirty_) ids.push_back(id);
  std::sort(ids.begin(), ids.end());
  absl::Status status;
  for (const std::string& id : ids) {
    const internal::CustomerFacts& facts = dirty_[id];
    txn.Put(cf_.facts, CustomerKey(partition, id), facts.SerializeAsString());
    status = Reindex(txn, partition, id, facts, now, /*announce=*/false);
    if (!status.ok()) break;
  }
  if (status.ok()) {
    Retain(partition, /*sized=*/true);
  } else {
    dirty_.clear();
    announced_.clear();
  }
  deferred_.clear();
  if (status.ok()) status = FlushCounts(txn);
  count_deltas_.clear();
  if (status.ok()) EmitChanges(txn);
  changes_.clear();
  applied_in_batch_ = 0;
  return status;
}

void LifecycleProjection::EmitChanges(projection::Txn& txn) {
  std::stable_sort(changes_.begin(), changes_.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (auto& [seq, change] : changes_) txn.Emit(std::move(change));
  changes_.clear();
}

absl::Status LifecycleProjection::FlushCounts(projection::Txn& txn) {
  std::vector<std::pair<std::string, int64_t>> deltas(count_deltas_.begin(), count_deltas_.end());
  std::sort(deltas.begin(), deltas.end());
  for (const auto& [ckey, delta] : deltas) {
    if (delta == 0) continue;
    ASSIGN_OR_RETURN(std::optional<std::string> current, txn.Get(cf_.counts, ckey));
    int64_t n = 0;
    if (current && current->size() == 8) {
      std::string_view in = *current;
      n = static_cast<int64_t>(store::ReadU64(in));
    }
    n += delta;
    if (n < 0) return absl::DataLossError("lifecycle count below zero");
    if (n == 0) {
      txn.Delete(cf_.counts, ckey);
    } else {
      txn.Put(cf_.counts, ckey, store::U64Value(static_cast<uint64_t>(n)));
    }
  }
  return absl::OkStatus();
}

absl::Status LifecycleProjection::Reindex(projection::Txn& txn, Partition p,
                                          const std::string& customer_id,
                                          const internal::CustomerFacts& facts, absl::Time now,
                                          bool announce) {
  if (!domain::Exists(facts)) return absl::OkStatus();
  const std::string key = CustomerKey(p, customer_id);
  // The stored entry, as AnnouncedOf read it for this batch (with what was
  // announced since).
  ASSIGN_OR_RETURN(Announced * current, AnnouncedOf(txn, p, customer_id));
  std::optional<internal::LifecycleIndexEntry> old;
  if (current->index) {
    old.emplace();
    if (!old->ParseFromString(*current->index)) {
      return absl::DataLossError("corrupt lifecycle index");
    }
  }
  // One sweep of the customer's facts per batch: the summary as of now,
  // and the history the announcements waiting for it need.
  auto deferred = deferred_.find(customer_id);
  const bool with_history = announce || deferred != deferred_.end();
  const domain::LifecycleSummary summary = with_history
                                               ? domain::Summarize(facts, now, rules_, &history_)
                                               : domain::Summarize(facts, now, rules_);
  if (deferred != deferred_.end()) {
    AnnounceDeferred(p, customer_id, history_, deferred->second, *current);
    deferred_.erase(deferred);
  }
  if (announce) Announce(p, customer_id, history_, now, applied_in_batch_, *current);
  internal::LifecycleIndexEntry entry = IndexEntryOf(summary);
  const Announced& announced = *current;
  entry.set_announced_transitions(announced.transitions);
  entry.set_announced_at_micros(announced.at_micros);
  entry.set_announced_stage(announced.stage);
  entry.set_announced_sub_stage(announced.sub_stage);
  // Moves between the customer's last event and now that were not announced
  // yet are due at once: the next tick announces them. Not at Flush: in a
  // catch-up the customer's next event may still be ahead in the log, and
  // the moves it prevents must never be announced.
  const int64_t last_at =
      summary.last_transition ? event::ToUnixMicros(summary.last_transition->at()) : 0;
  if (summary.stage != announced.stage || summary.sub_stage != announced.sub_stage ||
      last_at != announced.at_micros) {
    entry.set_due_micros(absl::ToUnixMicros(now));
  }
  std::string serialized = entry.SerializeAsString();
  if (current->index == serialized) return absl::OkStatus();
  txn.Put(cf_.index, key, serialized);
  current->index = std::move(serialized);

  // Touch only the secondary keys whose inputs moved: most events change
  // last activity and nothing else.
  const bool stage_moved =
      !old || old->stage() != entry.stage() || old->sub_stage() != entry.sub_stage();
  if (stage_moved) {
    if (old) txn.Delete(cf_.by_stage, StageKey(p, old->stage(), old->sub_stage(), customer_id));
    txn.Put(cf_.by_stage, StageKey(p, entry.stage(), entry.sub_stage(), customer_id), "");
  }
  const int64_t old_due = old ? old->due_micros() : 0;
  if (old_due != entry.due_micros()) {
    if (old_due != 0) txn.Delete(cf_.due, DueKey(p, old_due, customer_id));
    if (entry.due_micros() != 0) txn.Put(cf_.due, DueKey(p, entry.due_micros(), customer_id), "");
  }
  // Count changes are summed per batch and written once per key at the end.
  auto add_counts = [&](const internal::LifecycleIndexEntry& e, int64_t delta) {
    for (v1::Dimension dim : kCountedDimensions) {
      count_deltas_[CountKey(p, dim, DimensionValue(dim, e), e.stage(), e.sub_stage())] += delta;
    }
  };
  const bool counted_moved =
      stage_moved || old->kind() != entry.kind() || old->region() != entry.region() ||
      old->industry() != entry.industry() || old->owner_id() != entry.owner_id() ||
      old->channel() != entry.channel();
  if (counted_moved) {
    if (old) add_counts(*old, -1);
    add_counts(entry, +1);
  }
  return absl::OkStatus();
}

absl::StatusOr<LifecycleProjection::Announced*> LifecycleProjection::AnnouncedOf(
    projection::Txn& txn, Partition p, const std::string& customer_id) {
  auto it = announced_.find(customer_id);
  if (it != announced_.end()) return &it->second;
  Announced announced;
  ASSIGN_OR_RETURN(std::optional<std::string> value,
                   txn.Get(cf_.index, CustomerKey(p, customer_id)));
  if (value) {
    internal::LifecycleIndexEntry old;
    if (!old.ParseFromString(*value)) return absl::DataLossError("corrupt lifecycle index");
    announced = {.stage = old.announced_stage(),
                 .sub_stage = old.announced_sub_stage(),
                 .transitions = old.announced_transitions(),
                 .at_micros = old.announced_at_micros(),
                 .index = std::move(value)};
  }
  return &announced_.emplace(customer_id, announced).first->second;
}

void LifecycleProjection::Announce(Partition p, const std::string& customer_id,
                                   const std::vector<v1::StageTransition>& history,
                                   absl::Time as_of, uint64_t seq, Announced& announced) {
  // The history at as_of: its entries up to then.
  const int64_t as_of_us = absl::ToUnixMicros(as_of);
  size_t count = 0;
  while (count < history.size() && event::ToUnixMicros(history[count].at()) <= as_of_us) ++count;
  const int stage = count == 0 ? v1::LIFECYCLE_STAGE_UNSPECIFIED : history[count - 1].to();
  const int sub_stage = count == 0 ? v1::SUB_STAGE_UNSPECIFIED : history[count - 1].to_sub_stage();
  const int64_t last_at = count == 0 ? 0 : event::ToUnixMicros(history[count - 1].at());
  if (announced.transitions == 0 && announced.stage != v1::LIFECYCLE_STAGE_UNSPECIFIED) {
    // An index entry from before announcements were recorded: its changes
    // went out under the older ids; take the history up to here as told
    // rather than announcing it again.
    announced.stage = stage;
    announced.sub_stage = sub_stage;
    announced.transitions = static_cast<int32_t>(count);
    announced.at_micros = last_at;
    return;
  }
  // Most events move nothing (the latest entry is the one announced last).
  if (stage == announced.stage && sub_stage == announced.sub_stage &&
      last_at == announced.at_micros) {
    return;
  }
  const size_t told = static_cast<size_t>(std::max(0, announced.transitions));
  size_t first;
  if (told <= count &&
      (told == 0 || event::ToUnixMicros(history[told - 1].at()) == announced.at_micros)) {
    first = told;  // the history grew after what was told: the new entries
  } else {
    // A late event revised the history: what lies after the last instant told.
    first = 0;
    while (first < count && event::ToUnixMicros(history[first].at()) <= announced.at_micros) {
      ++first;
    }
  }
  for (size_t i = first; i < count; ++i) {
    changes_.emplace_back(seq, StageChangeOf(p, customer_id, history[i]));
  }
  if (first == count && (stage != announced.stage || sub_stage != announced.sub_stage)) {
    // The revision moved the stage at an instant already told: say so once.
    v1::StageTransition correction;
    *correction.mutable_at() = event::ToProto(as_of);
    correction.set_from(static_cast<v1::LifecycleStage>(announced.stage));
    correction.set_from_sub_stage(static_cast<v1::SubStage>(announced.sub_stage));
    correction.set_to(static_cast<v1::LifecycleStage>(stage));
    correction.set_to_sub_stage(static_cast<v1::SubStage>(sub_stage));
    correction.set_reason(count == 0 ? "" : history[count - 1].reason());
    changes_.emplace_back(seq, StageChangeOf(p, customer_id, correction));
  }
  announced.stage = stage;
  announced.sub_stage = sub_stage;
  announced.transitions = static_cast<int32_t>(count);
  announced.at_micros = last_at;
}

void LifecycleProjection::AnnounceDeferred(Partition p, const std::string& customer_id,
                                           const std::vector<v1::StageTransition>& history,
                                           const Deferred& deferred, Announced& announced) {
  for (const Deferred::Step& step : deferred.steps) {
    const absl::Time as_of = std::max(step.as_of, absl::FromUnixMicros(announced.at_micros));
    Announce(p, customer_id, history, as_of, step.seq, announced);
  }
}

void LifecycleProjection::Retain(Partition p, bool sized) {
  if (cache_options_.max_bytes == 0 || static_cast<size_t>(p.value()) >= cache_.size()) {
    dirty_.clear();
    announced_.clear();
    return;
  }
  auto& cache = cache_[p.value()];
  const uint64_t generation = ++generation_;
  for (auto& [id, facts] : dirty_) {
    Cached& c = cache[id];  // not there: Load took it out
    const size_t serialized =
        sized ? static_cast<size_t>(facts.GetCachedSize()) : facts.ByteSizeLong();
    c.facts = std::move(facts);
    if (auto a = announced_.find(id); a != announced_.end()) c.announced = std::move(a->second);
    c.used = generation;
    // The decoded facts take about four times their encoding (objects per
    // contact, contract, milestone; capacity slack: SpaceUsedLong says 3.7x
    // over replay_bench's population); the index entry and the map's slot
    // and key besides.
    c.bytes = sizeof(std::pair<const std::string, Cached>) + id.size() + 4 * serialized +
              (c.announced && c.announced->index ? c.announced->index->size() : 0) + 64;
    cache_bytes_ += c.bytes;
  }
  dirty_.clear();
  announced_.clear();
  if (cache_bytes_ > cache_options_.max_bytes) Evict();
}

void LifecycleProjection::Evict() {
  // The entries put back longest ago first (ties: partition, then customer
  // id), down to 3/4 of the bound so that eviction is not paid every batch.
  struct Victim {
    uint64_t used;
    size_t partition;
    const std::string* id;
  };
  std::vector<Victim> victims;
  for (size_t p = 0; p < cache_.size(); ++p) {
    for (const auto& [id, c] : cache_[p]) victims.push_back({c.used, p, &id});
  }
  std::sort(victims.begin(), victims.end(), [](const Victim& a, const Victim& b) {
    if (a.used != b.used) return a.used < b.used;
    if (a.partition != b.partition) return a.partition < b.partition;
    return *a.id < *b.id;
  });
  const size_t target = cache_options_.max_bytes / 4 * 3;
  std::vector<std::pair<size_t, std::string>> evict;
  size_t bytes = cache_bytes_;
  for (const Victim& v : victims) {
    if (bytes <= target) break;
    bytes -= cache_[v.partition].find(*v.id)->second.bytes;
    evict.emplace_back(v.partition, *v.id);
  }
  for (const auto& [p, id] : evict) {
    auto it = cache_[p].find(id);
    cache_bytes_ -= it->second.bytes;
    cache_[p].erase(it);
    ++cache_stats_.evicted;
  }
}

void LifecycleProjection::DropCached(Partition p) {
  if (static_cast<size_t>(p.value()) >= cache_.size()) return;
  auto& cache = cache_[p.value()];
  for (const auto& [id, c] : cache) cache_bytes_ -= c.bytes;
  cache_stats_.dropped += static_cast<int64_t>(cache.size());
  cache = {};
}

void LifecycleProjection::Forget(Partition partition) { DropCached(partition); }

LifecycleCacheStats LifecycleProjection::cache_stats() const {
  LifecycleCacheStats stats = cache_stats_;
  stats.entries = 0;
  for (const auto& cache : cache_) stats.entries += cache.size();
  stats.bytes = cache_bytes_;
  return stats;
}

void LifecycleProjection::Abandon(Partition partition) {
  // Flush put the batch's customers back into the cache before the commit
  // that failed, so they are ahead of the store: the partition's entries
  // go (a retry reads them from the store again), and so does what a batch
  // that failed before its Flush holds in dirty_.
  DropCached(partition);
  dirty_.clear();
  count_deltas_.clear();
  announced_.clear();
  deferred_.clear();
  changes_.clear();
  applied_in_batch_ = 0;
}

absl::Status LifecycleProjection::Tick(Partition partition, absl::Time now, projection::Txn& txn) {
  // Collect first: Reindex rewrites the due index we are iterating.
  std::vector<std::string> due_ids;
  {
    const std::string prefix = PartitionKey(partition);
    std::unique_ptr<store::Iterator> it = store_->NewIterator(cf_.due, prefix);
    const int64_t now_micros = absl::ToUnixMicros(now);
    for (it->SeekToFirst(); it->Valid() && due_ids.size() < 10'000; it->Next()) {
      std::string_view rest = it->key().substr(prefix.size());
      if (rest.size() < 8) continue;
      if (store::ReadI64(rest) > now_micros) break;
      due_ids.emplace_back(rest);
    }
    RETURN_IF_ERROR(it->status());
  }
  for (const std::string& id : due_ids) {
    ASSIGN_OR_RETURN(internal::CustomerFacts * facts, Load(txn, partition, id));
    RETURN_IF_ERROR(Reindex(txn, partition, id, *facts, now, /*announce=*/true));
  }
  // Tick changes no facts: they go back to the cache as they were, with the
  // index entries written.
  Retain(partition, /*sized=*/false);
  absl::Status status = FlushCounts(txn);
  count_deltas_.clear();
  if (status.ok()) EmitChanges(txn);
  changes_.clear();
  return status;
}

}  // namespace custops::lifecycle

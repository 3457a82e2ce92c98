#include "custops/projection/runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/base/status_macros.h"
#include "custops/event/upcast.h"
#include "custops/internal/state.pb.h"
#include "custops/log/partitioner.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"

namespace custops::projection {
namespace {

constexpr std::string_view kMetaCf = "rt_meta";
constexpr std::string_view kDedupCf = "rt_dedup";
constexpr std::string_view kOutboxCf = "rt_outbox";
constexpr std::string_view kParkedCf = "rt_parked";

// Meta keys: a tag byte and the partition.
std::string MetaKey(char tag, Partition p) {
  std::string key(1, tag);
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}
std::string PartitionPrefix(Partition p) {
  std::string key;
  store::AppendU32(key, static_cast<uint32_t>(p.value()));
  return key;
}
uint64_t DecodeU64(std::string_view v) { return v.size() == 8 ? store::ReadU64(v) : 0; }
// A record a replay discarded: 'x' | partition | offset.
std::string DiscardedKey(Partition p, Offset offset) {
  std::string key = MetaKey('x', p);
  store::AppendU64(key, static_cast<uint64_t>(offset.value()));
  return key;
}
// The outbox key of a partition's entry `seq` (entries sort in sequence order).
std::string OutboxKey(Partition p, uint64_t seq) {
  std::string key = PartitionPrefix(p);
  store::AppendU64(key, seq);
  return key;
}
// A customer's parked records in partition p: p | length | customer, then
// the record's offset (they sort in log order).
std::string ParkedPrefix(Partition p, std::string_view customer) {
  std::string key = PartitionPrefix(p);
  store::AppendU32(key, static_cast<uint32_t>(customer.size()));
  key.append(customer);
  return key;
}
std::string ParkedKey(Partition p, std::string_view customer, Offset offset) {
  std::string key = ParkedPrefix(p, customer);
  store::AppendU64(key, static_cast<uint64_t>(offset.value()));
  return key;
}
// Undoes ParkedKey; false for a key it did not write.
bool ParseParkedKey(std::string_view key, int* partition, std::string_view* customer,
                    int64_t* offset) {
  if (key.size() < 16) return false;
  *partition = static_cast<int>(store::ReadU32(key));
  const uint32_t n = store::ReadU32(key);
  if (key.size() != static_cast<size_t>(n) + 8) return false;
  *customer = key.substr(0, n);
  key.remove_prefix(n);
  *offset = static_cast<int64_t>(store::ReadU64(key));
  return true;
}
internal::ParkedRecord ToParked(const log::LogRecord& r, std::string reason) {
  internal::ParkedRecord parked;
  parked.set_offset(r.offset.value());
  parked.set_recorded_at_micros(absl::ToUnixMicros(r.timestamp));
  parked.set_key(r.key);
  parked.set_value(r.value);
  parked.set_reason(std::move(reason));
  return parked;
}
log::LogRecord FromParked(internal::ParkedRecord parked) {
  log::LogRecord r;
  r.offset = Offset(parked.offset());
  r.timestamp = absl::FromUnixMicros(parked.recorded_at_micros());
  r.key = std::move(*parked.mutable_key());
  r.value = std::move(*parked.mutable_value());
  return r;
}

// Unless `committed` is set, the projection forgets what it cached from the
// batch (Projection::Abandon).
struct Abandoner {
  Projection* projection;
  Partition p;
  bool committed = false;
  ~Abandoner() {
    if (!committed) projection->Abandon(p);
  }
};

// The condition of ProjectionRuntime::busy_ that no batch, tick or reseed
// holds a claim.
bool Unclaimed(int* busy) { return *busy == -1; }

}  // namespace

// What one batch did, folded into the partition's counters at commit.
struct BatchCounts {
  int64_t applied = 0;
  std::map<std::string, int64_t> noops;
  std::vector<v1::DeadLetter> dead_letters;
  int64_t replayed = 0;
  // The partition's parking after this batch, when the batch changed it.
  std::optional<ProjectionRuntime::ParkedMap> parked;
};

absl::StatusOr<std::unique_ptr<ProjectionRuntime>> ProjectionRuntime::Open(
    log::EventLog& log, std::unique_ptr<Projection> projection, const RuntimeOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("projection path: required");
  ASSIGN_OR_RETURN(int partitions, log.PartitionCount(options.topic));
  std::vector<std::string> families = {std::string(kMetaCf), std::string(kDedupCf),
                                       std::string(kOutboxCf), std::string(kParkedCf)};
  for (std::string& f : projection->ColumnFamilies()) families.push_back(std::move(f));
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store,
                   store::Store::Open({.path = options.path,
                                       .column_families = families,
                                       .sync = options.sync,
                                       .bulk = options.bulk}));
  RETURN_IF_ERROR(projection->Attach(*store, partitions));
  std::unique_ptr<ProjectionRuntime> rt(
      new ProjectionRuntime(log, std::move(projection), options, std::move(store), partitions));
  RETURN_IF_ERROR(rt->Restore());
  return rt;
}

ProjectionRuntime::ProjectionRuntime(log::EventLog& log, std::unique_ptr<Projection> projection,
                                     const RuntimeOptions& options,
                                     std::unique_ptr<store::Store> store, int partitions)
    : log_(log),
      reader_(log.NewReader(options.topic)),
      projection_(std::move(projection)),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : base::SystemClock::Instance()),
      store_(std::move(store)),
      partitions_(partitions),
      meta_cf_(store_->Family(kMetaCf)),
      dedup_cf_(store_->Family(kDedupCf)),
      outbox_cf_(store_->Family(kOutboxCf)),
      parked_cf_(store_->Family(kParkedCf)) {}

ProjectionRuntime::~ProjectionRuntime() { (void)Stop(); }

absl::Status ProjectionRuntime::Restore() {
  ASSIGN_OR_RETURN(std::optional<std::string> stored_count, store_->Get(meta_cf_, "n"));
  if (stored_count.has_value()) {
    if (DecodeU64(*stored_count) != static_cast<uint64_t>(partitions_)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "projection ", std::string(projection_->Name()), " was built for ",
          DecodeU64(*stored_count), " partitions, the topic has ", partitions_, "; rebuild it"));
    }
  } else {
    store::Batch batch;
    batch.Put(meta_cf_, "n", store::U64Value(partitions_));
    RETURN_IF_ERROR(store_->Write(batch));
  }
  absl::MutexLock lock(&mu_);
  applied_.assign(partitions_, Offset(0));
  next_seq_.assign(partitions_, 0);
  partition_stats_.assign(partitions_, internal::PartitionStats());
  totals_ = RuntimeStats();
  owned_.assign(partitions_, options_.own_all);
  restore_target_.assign(partitions_, -1);
  restore_started_.assign(partitions_, absl::InfinitePast());
  restore_from_.assign(partitions_, 0);
  for (int i = 0; i < partitions_; ++i) {
    Partition p(i);
    ASSIGN_OR_RETURN(std::optional<std::string> offset, store_->Get(meta_cf_, MetaKey('o', p)));
    if (offset) applied_[i] = Offset(static_cast<int64_t>(DecodeU64(*offset)));
    ASSIGN_OR_RETURN(std::optional<std::string> seq, store_->Get(meta_cf_, MetaKey('s', p)));
    if (seq) next_seq_[i] = DecodeU64(*seq);
    ASSIGN_OR_RETURN(std::optional<std::string> stats, store_->Get(meta_cf_, MetaKey('c', p)));
    if (stats) {
      internal::PartitionStats& s = partition_stats_[i];
      if (!s.ParseFromString(*stats)) return absl::DataLossError("corrupt projection counters");
      totals_.events_applied += s.applied();
      totals_.noops += s.noops();
      for (const auto& [reason, n] : s.noops_by_reason()) totals_.noops_by_reason[reason] += n;
      totals_.dead_letters += s.dead_letters();
      totals_.changes_emitted += s.changes_emitted();
      totals_.replayed += s.replayed();
    }
  }
  discarded_.assign(partitions_, std::set<int64_t>());
  for (int i = 0; i < partitions_; ++i) {
    const std::string prefix = MetaKey('x', Partition(i));
    auto x = store_->NewIterator(meta_cf_, prefix);
    for (x->SeekToFirst(); x->Valid(); x->Next()) {
      discarded_[i].insert(static_cast<int64_t>(DecodeU64(x->key().substr(prefix.size()))));
    }
    RETURN_IF_ERROR(x->status());
  }
  // The parking summary: each customer's first record is its head.
  parked_.assign(partitions_, ParkedMap());
  auto it = store_->NewIterator(parked_cf_, "");
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    int partition;
    std::string_view customer;
    int64_t offset;
    if (!ParseParkedKey(it->key(), &partition, &customer, &offset) || partition < 0 ||
        partition >= partitions_) {
      return absl::DataLossError("corrupt parked record key");
    }
    ParkState& state = parked_[partition][std::string(customer)];
    if (state.events++ == 0) {
      internal::ParkedRecord head;
      if (!head.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("corrupt parked record");
      }
      state.head = offset;
      state.reason = head.reason();
    }
  }
  RETURN_IF_ERROR(it->status());
  return absl::OkStatus();
}

bool ProjectionRuntime::Claim(Partition p) {
  absl::MutexLock lock(&mu_);
  // The apply thread releases every claim it takes; a Reseed (Assign's
  // thread) may hold one meanwhile: wait for it.
  mu_.Await(absl::Condition(&Unclaimed, &busy_));
  if (!owned_[p.value()]) return false;
  busy_ = p.value();
  return true;
}

void ProjectionRuntime::Release() {
  absl::MutexLock lock(&mu_);
  busy_ = -1;
}

absl::StatusOr<int64_t> ProjectionRuntime::ApplyBatch(Partition p, bool bulk) {
  if (!Claim(p)) {
    absl::MutexLock lock(&reader_mu_);
    reader_->Forget(p);  // stop fetching what another instance applies
    return 0;
  }
  struct Releaser {
    ProjectionRuntime* rt;
    ~Releaser() { rt->Release(); }
  } releaser{this};
  Offset from;
  size_t max_batch;
  bool restoring;
  {
    absl::MutexLock lock(&mu_);
    from = applied_[p.value()];
    restoring = bulk || restore_target_[p.value()] >= 0;
    max_batch = restoring ? options_.restore_batch : options_.max_batch;
  }
  const absl::Time started = clock_.Monotonic();  // for the apply-latency metric only
  absl::StatusOr<std::vector<log::LogRecord>> read;
  {
    absl::MutexLock lock(&reader_mu_);
    // A restore ends when a read comes back empty: that must mean the end.
    // Otherwise an empty read only sends the loop to Wait.
    read =
        restoring ? reader_->Read(p, from, max_batch) : reader_->ReadAvailable(p, from, max_batch);
  }
  ASSIGN_OR_RETURN(std::vector<log::LogRecord> records, std::move(read));
  if (records.empty()) {
    FinishRestore(p, /*at_end=*/true);
    return 0;
  }
  const absl::Time now = clock_.Now();
  Txn txn(*store_, p);
  // Unless the commit below succeeds, the projection forgets what it cached
  // from this batch (Projection::Abandon).
  Abandoner abandoner{projection_.get(), p};
  BatchCounts counts;
  std::set<int64_t> discarded;
  {
    absl::MutexLock lock(&mu_);
    if (!parked_[p.value()].empty()) counts.parked = parked_[p.value()];
    if (!discarded_[p.value()].empty()) discarded = discarded_[p.value()];
  }
  for (const log::LogRecord& r : records) {
    // A record a replay discarded stays discarded (Discarded()).
    if (!discarded.empty() && discarded.contains(r.offset.value())) {
      ++counts.noops["dead_letter_discarded"];
      continue;
    }
    // A parked customer's later records wait behind its dead letter.
    if (counts.parked.has_value() && !r.key.empty()) {
      if (auto it = counts.parked->find(r.key); it != counts.parked->end()) {
        txn.Put(parked_cf_, ParkedKey(p, r.key, r.offset), ToParked(r, "").SerializeAsString());
        ++it->second.events;
        continue;
      }
    }
    ASSIGN_OR_RETURN(std::optional<std::string> dead, ApplyRecord(p, r, now, txn, counts));
    if (!dead.has_value()) continue;
    counts.dead_letters.push_back(DeadLetter(p, r, *dead));
    // A record without a key has no customer to hold back.
    if (r.key.empty()) continue;
    txn.Put(parked_cf_, ParkedKey(p, r.key, r.offset), ToParked(r, *dead).SerializeAsString());
    if (!counts.parked.has_value()) counts.parked.emplace();
    (*counts.parked)[r.key] = {.events = 1, .head = r.offset.value(), .reason = std::move(*dead)};
  }
  RETURN_IF_ERROR(projection_->Flush(p, now, txn));
  RETURN_IF_ERROR(Commit(txn, records.back().offset.Next(), counts));
  abandoner.committed = true;
  const absl::Duration took = clock_.Monotonic() - started;
  {
    absl::MutexLock lock(&mu_);
    ++totals_.batches;
    totals_.apply_time += took;
    totals_.max_batch_time = std::max(totals_.max_batch_time, took);
  }
  FinishRestore(p, /*at_end=*/false);
  return static_cast<int64_t>(records.size());
}

v1::DeadLetter ProjectionRuntime::DeadLetter(Partition p, const log::LogRecord& r,
                                             std::string reason) const {
  v1::DeadLetter dl;
  dl.set_projection(std::string(projection_->Name()));
  dl.set_reason(std::move(reason));
  dl.set_source_topic(options_.topic);
  dl.set_source_partition(p.value());
  dl.set_source_offset(r.offset.value());
  dl.set_key(r.key);
  dl.set_value(r.value);
  dl.mutable_recorded_at()->set_seconds(absl::ToUnixSeconds(r.timestamp));
  return dl;
}

absl::StatusOr<std::optional<std::string>> ProjectionRuntime::ApplyRecord(Partition p,
                                                                          const log::LogRecord& r,
                                                                          absl::Time now, Txn& txn,
                                                                          BatchCounts& counts) {
  // Scratch reused from record to record (one claimant at a time).
  v1::Event& event = scratch_event_;
  std::string& upcast_value = scratch_upcast_;
  std::string& dedup_key = scratch_dedup_key_;
  event.Clear();
  if (!event.ParseFromString(r.value)) return "decode_error: not a custops.v1.Event";
  // Older schema versions become the current one before validation
  // (docs/schema-evolution.md); projections then see the upcast event and
  // its bytes.
  std::string_view raw_value = r.value;
  absl::StatusOr<bool> upcast = event::Upcast(event);
  if (!upcast.ok()) return absl::StrCat("upcast_error: ", upcast.status().message());
  if (*upcast) {
    upcast_value.clear();
    event.SerializeToString(&upcast_value);
    raw_value = upcast_value;
  }
  if (absl::Status s = event::ValidateEvent(event, options_.validation, "event"); !s.ok()) {
    return absl::StrCat("invalid_event: ", s.message());
  }
  if (event.customer_id() != r.key) {
    return "key_mismatch: record key is not the event's customer_id";
  }
  dedup_key = PartitionPrefix(p);
  dedup_key.append(event.event_id());
  ASSIGN_OR_RETURN(std::optional<std::string> seen, txn.Get(dedup_cf_, dedup_key));
  if (seen.has_value()) {
    ++counts.noops["duplicate_event_id"];
    return std::nullopt;
  }
  ApplyContext ctx{.topic = options_.topic,
                   .partition = p,
                   .offset = r.offset,
                   .recorded_at = r.timestamp,
                   .now = now,
                   .raw_value = raw_value};
  absl::Status s = projection_->Apply(ctx, event, txn);
  if (s.ok()) {
    ++counts.applied;
  } else if (s.code() == absl::StatusCode::kFailedPrecondition) {
    ++counts.noops[std::string(s.message())];
  } else {
    return absl::StrCat("apply_error: ", s.message());
  }
  txn.Put(dedup_cf_, dedup_key, store::U64Value(r.offset.value()));
  return std::nullopt;
}

void ProjectionRuntime::FinishRestore(Partition p, bool at_end) {
  absl::MutexLock lock(&mu_);
  const int i = p.value();
  if (restore_target_[i] < 0 || (!at_end && applied_[i].value() < restore_target_[i])) return;
  const absl::Duration took = clock_.Monotonic() - restore_started_[i];
  const int64_t n = applied_[i].value() - restore_from_[i];
  spdlog::info("projection {}: partition {} restored: {} records in {} ({:.0f} records/s)",
               projection_->Name(), i, n, absl::FormatDuration(took),
               static_cast<double>(n) / std::max(absl::ToDoubleSeconds(took), 1e-6));
  restore_target_[i] = -1;
}

absl::Status ProjectionRuntime::Assign(const std::vector<Partition>& partitions) {
  absl::Status status;
  for (Partition p : partitions) {
    if (p.value() < 0 || p.value() >= partitions_) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", p.value(), " out of range"));
    }
    {
      absl::MutexLock lock(&mu_);
      if (owned_[p.value()]) continue;
    }
    if (projection_->ReseedsFromPublished()) RETURN_IF_ERROR(Reseed(p));
    // The end now is the restore target: until the partition has applied it,
    // its state is behind what other instances may have served.
    absl::StatusOr<Offset> end = log_.EndOffset(options_.topic, p);
    if (!end.ok()) status.Update(end.status());
    absl::MutexLock lock(&mu_);
    const int i = p.value();
    if (owned_[i]) continue;
    owned_[i] = true;
    // Unknown end: restore at least to what is applied plus one batch look.
    const int64_t target = end.ok() ? end->value() : std::numeric_limits<int64_t>::max();
    if (applied_[i].value() < target) {
      restore_target_[i] = target;
      restore_started_[i] = clock_.Monotonic();
      restore_from_[i] = applied_[i].value();
    }
  }
  return status;
}

absl::Status ProjectionRuntime::Reseed(Partition p) {
  const std::string name(projection_->Name());
  const std::string id_prefix = absl::StrCat(name, "/", p.value(), "/");
  // Changes are keyed by customer with the same partitioner and count as the
  // events, so partition p's changes are in partition p of the changes topic.
  ASSIGN_OR_RETURN(const int change_partitions, log_.PartitionCount(log::kStateChanges));
  if (change_partitions != partitions_) {
    return absl::FailedPreconditionError(
        absl::StrCat(std::string(log::kStateChanges), " has ", change_partitions, " partitions, ",
                     options_.topic, " ", partitions_, ": they must be equal"));
  }
  std::map<uint64_t, v1::StateChange> published;
  for (Offset at(0);;) {
    ASSIGN_OR_RETURN(std::vector<log::LogRecord> records,
                     log_.Read(log::kStateChanges, p, at, 10000));
    if (records.empty()) break;
    at = records.back().offset.Next();
    for (const log::LogRecord& r : records) {
      v1::StateChange change;
      uint64_t seq = 0;
      if (!change.ParseFromString(r.value) || change.projection() != name ||
          !absl::StartsWith(change.change_id(), id_prefix) ||
          !absl::SimpleAtoi(absl::string_view(change.change_id()).substr(id_prefix.size()), &seq)) {
        continue;
      }
      published.emplace(seq, std::move(change));
    }
  }
  const uint64_t next = published.empty() ? 0 : published.rbegin()->first + 1;
  std::vector<v1::StateChange> in_order;
  in_order.reserve(published.size());
  for (auto& [seq, change] : published) in_order.push_back(std::move(change));

  // Claimed like a batch, so that the apply thread and the publisher are not
  // in this partition meanwhile.
  absl::MutexLock publish_lock(&publish_mu_);
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&Unclaimed, &busy_));
    busy_ = p.value();
  }
  struct Releaser {
    ProjectionRuntime* rt;
    ~Releaser() { rt->Release(); }
  } releaser{this};
  Txn txn(*store_, p);
  absl::Status status = projection_->Reseed(p, in_order, txn);
  if (!status.ok()) {
    projection_->Abandon(p);
    return status;
  }
  // What this instance derived but never published is superseded by the
  // seed (Tick re-derives it against what was published): its state changes
  // are dropped; its dead letters (derived from events, named by their
  // record) are kept, renumbered after the published ids.
  const std::string prefix = PartitionPrefix(p);
  uint64_t seq = next;
  std::vector<internal::OutboxEntry> kept;
  auto it = store_->NewIterator(outbox_cf_, prefix);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    internal::OutboxEntry entry;
    if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
      return absl::DataLossError("corrupt outbox entry");
    }
    txn.batch().Delete(outbox_cf_, it->key());
    if (entry.topic() != log::kStateChanges) kept.push_back(std::move(entry));
  }
  RETURN_IF_ERROR(it->status());
  for (internal::OutboxEntry& entry : kept) {
    txn.batch().Put(outbox_cf_, OutboxKey(p, seq), entry.SerializeAsString());
    ++seq;
  }
  txn.batch().Put(meta_cf_, MetaKey('s', p), store::U64Value(seq));
  RETURN_IF_ERROR(store_->Write(txn.batch()));
  if (published_seq_.empty()) published_seq_.assign(partitions_, 0);
  published_seq_[p.value()] = next;
  absl::MutexLock lock(&mu_);
  next_seq_[p.value()] = seq;
  spdlog::info("projection {}: partition {} reseeded from {} published changes; next id {}{}", name,
               p.value(), in_order.size(), id_prefix, seq);
  return absl::OkStatus();
}

void ProjectionRuntime::Revoke(const std::vector<Partition>& partitions) {
  {
    absl::MutexLock lock(&mu_);
    for (Partition p : partitions) {
      if (p.value() < 0 || p.value() >= partitions_) continue;
      owned_[p.value()] = false;
      restore_target_[p.value()] = -1;
    }
    // A batch already claimed finishes (its commit is atomic); nothing after it.
    auto idle = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (Partition p : partitions) {
        if (busy_ == p.value()) return false;
      }
      return true;
    };
    mu_.Await(absl::Condition(&idle));
  }
  // Waits on these partitions are some other instance's business now.
  UpdateWaiters();
  // A publication in flight finishes too: the next owner must not append the
  // same outbox ids while this one still does.
  absl::MutexLock publish_lock(&publish_mu_);
}

absl::StatusOr<ReplayResult> ProjectionRuntime::ReplayParked(const ReplayOptions& options) {
  const std::string_view customer_id = options.customer_id;
  ReplayResult result;
  std::vector<Partition> targets;
  if (!customer_id.empty()) {
    targets.push_back(log::PartitionForKey(customer_id, partitions_));
  } else {
    for (int i = 0; i < partitions_; ++i) targets.emplace_back(i);
  }
  // Customers tried in this call: a head that failed again is not retried.
  std::set<std::string, std::less<>> tried;
  int64_t budget = options.max_events;
  for (Partition p : targets) {
    bool finished = false;
    while (!finished && budget > 0) {
      // One chunk per claim, so that the partitions' batches go on between.
      if (!Claim(p)) {
        result.not_owned.push_back(p);
        break;
      }
      absl::StatusOr<bool> chunk = ReplayChunk(p, options, budget, tried, result);
      Release();
      if (!chunk.ok()) return chunk.status();
      finished = *chunk;
    }
    if (!finished && budget <= 0) {
      result.more = true;
      break;
    }
  }
  absl::MutexLock lock(&mu_);
  for (Partition p : targets) {
    if (!owned_[p.value()]) continue;
    for (const auto& [customer, state] : parked_[p.value()]) {
      if (!customer_id.empty() && customer != customer_id) continue;
      ++result.customers_parked;
      result.events_parked += state.events;
      if (result.parked.size() < options.list_limit) {
        result.parked.push_back({.customer_id = customer,
                                 .partition = p,
                                 .events = state.events,
                                 .head = Offset(state.head),
                                 .reason = state.reason});
      }
    }
  }
  return result;
}

absl::StatusOr<bool> ProjectionRuntime::ReplayChunk(Partition p, const ReplayOptions& options,
                                                    int64_t& budget,
                                                    std::set<std::string, std::less<>>& tried,
                                                    ReplayResult& result) {
  BatchCounts counts;
  {
    absl::MutexLock lock(&mu_);
    if (parked_[p.value()].empty()) return true;
    counts.parked = parked_[p.value()];
  }
  const std::string_view customer_id = options.customer_id;
  const ParkedMap before = *counts.parked;
  // At least one record per chunk, so that every chunk makes progress.
  const int64_t chunk =
      std::max<int64_t>(1, std::min<int64_t>(budget, static_cast<int64_t>(options_.restore_batch)));
  const absl::Time now = clock_.Now();
  Txn txn(*store_, p);
  Abandoner abandoner{projection_.get(), p};
  int64_t tried_records = 0;
  bool finished = true;
  int64_t released = 0;
  std::vector<int64_t> discarded;
  for (const auto& [customer, unused] : before) {
    if (!customer_id.empty() && customer != customer_id) continue;
    if (tried.contains(customer)) continue;
    if (tried_records >= chunk) {
      finished = false;
      break;
    }
    ParkState& state = (*counts.parked)[customer];
    bool all_applied = true;
    auto it = store_->NewIterator(parked_cf_, ParkedPrefix(p, customer));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      if (tried_records >= chunk) {
        all_applied = false;
        finished = false;
        break;
      }
      internal::ParkedRecord parked;
      if (!parked.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
        return absl::DataLossError("corrupt parked record");
      }
      const bool was_head = !parked.reason().empty();
      const log::LogRecord r = FromParked(std::move(parked));
      ++tried_records;
      if (was_head && options.discard_heads) {
        txn.Delete(parked_cf_, it->key());
        txn.Put(meta_cf_, DiscardedKey(p, r.offset), "");
        discarded.push_back(r.offset.value());
        --state.events;
        ++counts.replayed;
        ++counts.noops["dead_letter_discarded"];
        continue;
      }
      ASSIGN_OR_RETURN(std::optional<std::string> dead, ApplyRecord(p, r, now, txn, counts));
      if (dead.has_value()) {
        // It stays parked, now as the head, and so does everything behind
        // it. A record that was only waiting becomes a dead letter of its own.
        if (!was_head) counts.dead_letters.push_back(DeadLetter(p, r, *dead));
        txn.Put(parked_cf_, it->key(), ToParked(r, *dead).SerializeAsString());
        state.head = r.offset.value();
        state.reason = std::move(*dead);
        tried.insert(customer);
        all_applied = false;
        break;
      }
      txn.Delete(parked_cf_, it->key());
      --state.events;
      ++counts.replayed;
    }
    RETURN_IF_ERROR(it->status());
    if (all_applied) {
      counts.parked->erase(customer);
      ++released;
    }
    if (!finished) break;
  }
  budget -= tried_records;
  if (tried_records == 0) return finished;
  RETURN_IF_ERROR(projection_->Flush(p, now, txn));
  RETURN_IF_ERROR(Commit(txn, std::nullopt, counts));
  abandoner.committed = true;
  if (!discarded.empty()) {
    absl::MutexLock lock(&mu_);
    discarded_[p.value()].insert(discarded.begin(), discarded.end());
  }
  result.customers_released += released;
  result.events_replayed += counts.replayed;
  return finished;
}

std::vector<std::pair<Partition, Offset>> ProjectionRuntime::Discarded() const {
  std::vector<std::pair<Partition, Offset>> out;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < partitions_; ++i) {
    for (int64_t offset : discarded_[i]) out.emplace_back(Partition(i), Offset(offset));
  }
  return out;
}

absl::Status ProjectionRuntime::ImportDiscarded(
    const std::vector<std::pair<Partition, Offset>>& records) {
  if (running_) return absl::FailedPreconditionError("runtime is running");
  store::Batch batch;
  for (const auto& [p, offset] : records) {
    if (p.value() < 0 || p.value() >= partitions_) {
      return absl::InvalidArgumentError(absl::StrCat("partition ", p.value(), " out of range"));
    }
    batch.Put(meta_cf_, DiscardedKey(p, offset), "");
  }
  RETURN_IF_ERROR(store_->Write(batch));
  absl::MutexLock lock(&mu_);
  for (const auto& [p, offset] : records) discarded_[p.value()].insert(offset.value());
  return absl::OkStatus();
}

std::vector<ParkedCustomer> ProjectionRuntime::Parked(size_t limit) const {
  std::vector<ParkedCustomer> out;
  absl::MutexLock lock(&mu_);
  for (int i = 0; i < partitions_ && out.size() < limit; ++i) {
    if (!owned_[i]) continue;
    for (const auto& [customer, state] : parked_[i]) {
      if (out.size() >= limit) break;
      out.push_back({.customer_id = customer,
                     .partition = Partition(i),
                     .events = state.events,
                     .head = Offset(state.head),
                     .reason = state.reason});
    }
  }
  return out;
}

absl::Status ProjectionRuntime::CheckServing(Partition p) const {
  absl::MutexLock lock(&mu_);
  const int i = p.value();
  if (i < 0 || i >= partitions_) return absl::InvalidArgumentError("partition out of range");
  if (!owned_[i]) {
    return absl::UnavailableError(absl::StrCat("partition ", i, " is not owned by this instance"));
  }
  if (restore_target_[i] >= 0) {
    return absl::UnavailableError(absl::StrCat(
        "partition ", i, " is restoring (", applied_[i].value(), " of ", restore_target_[i], ")"));
  }
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::Commit(Txn& txn, std::optional<Offset> next_offset,
                                       const BatchCounts& counts) {
  const Partition p = txn.partition();
  uint64_t seq;
  {
    absl::MutexLock lock(&mu_);
    seq = next_seq_[p.value()];
  }
  const std::string name(projection_->Name());
  auto outbox = [&](std::string_view topic, std::string key, std::string value, std::string id) {
    internal::OutboxEntry entry;
    entry.set_id(std::move(id));
    entry.set_topic(std::string(topic));
    entry.set_key(std::move(key));
    entry.set_value(std::move(value));
    txn.batch().Put(outbox_cf_, OutboxKey(p, seq), entry.SerializeAsString());
    ++seq;
  };
  auto next_id = [&] { return absl::StrCat(name, "/", p.value(), "/", seq); };
  int64_t changes = 0;
  for (v1::StateChange& change : txn.emitted()) {
    // A projection may name a change by its content (Txn::Emit); the outbox
    // sequence still orders it.
    std::string id =
        change.change_id().empty() ? next_id() : absl::StrCat(name, "/", change.change_id());
    change.set_change_id(id);
    change.set_projection(name);
    std::string key = change.customer_id().empty() ? change.scope() : change.customer_id();
    outbox(log::kStateChanges, std::move(key), change.SerializeAsString(), std::move(id));
    ++changes;
  }
  for (const v1::DeadLetter& dl : counts.dead_letters) {
    // Named by its record: a re-derivation (a rebuild, a new owner) that
    // dead-letters the same record again is recognised as published.
    outbox(log::kDeadLetter, dl.key(), dl.SerializeAsString(),
           absl::StrCat(name, "/", p.value(), "/dead/", dl.source_offset()));
  }
  // Counters are committed with the state so they stay exact across crashes.
  internal::PartitionStats stats;
  {
    absl::MutexLock lock(&mu_);
    stats = partition_stats_[p.value()];
  }
  int64_t noops = 0;
  for (const auto& [reason, n] : counts.noops) {
    (*stats.mutable_noops_by_reason())[reason] += n;
    noops += n;
  }
  stats.set_applied(stats.applied() + counts.applied);
  stats.set_noops(stats.noops() + noops);
  stats.set_dead_letters(stats.dead_letters() + static_cast<int64_t>(counts.dead_letters.size()));
  stats.set_changes_emitted(stats.changes_emitted() + changes);
  stats.set_replayed(stats.replayed() + counts.replayed);
  txn.batch().Put(meta_cf_, MetaKey('c', p), stats.SerializeAsString());
  txn.batch().Put(meta_cf_, MetaKey('s', p), store::U64Value(seq));
  if (next_offset) {
    txn.batch().Put(meta_cf_, MetaKey('o', p), store::U64Value(next_offset->value()));
  }
  RETURN_IF_ERROR(store_->Write(txn.batch()));

  {
    absl::MutexLock lock(&mu_);
    partition_stats_[p.value()] = std::move(stats);
    if (next_offset) applied_[p.value()] = *next_offset;
    next_seq_[p.value()] = seq;
    totals_.events_applied += counts.applied;
    totals_.noops += noops;
    for (const auto& [reason, n] : counts.noops) totals_.noops_by_reason[reason] += n;
    totals_.dead_letters += static_cast<int64_t>(counts.dead_letters.size());
    totals_.changes_emitted += changes;
    totals_.replayed += counts.replayed;
    if (counts.parked.has_value()) parked_[p.value()] = *counts.parked;
    ++commits_;
  }
  UpdateWaiters();
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::TickAll() {
  const absl::Time now = clock_.Now();
  for (int i = 0; i < partitions_; ++i) {
    if (!Claim(Partition(i))) continue;
    struct Releaser {
      ProjectionRuntime* rt;
      ~Releaser() { rt->Release(); }
    } releaser{this};
    Txn txn(*store_, Partition(i));
    absl::Status status = projection_->Tick(Partition(i), now, txn);
    if (status.ok() && !txn.empty()) status = Commit(txn, std::nullopt, BatchCounts());
    if (!status.ok()) {
      projection_->Abandon(Partition(i));
      return status;
    }
  }
  absl::MutexLock lock(&mu_);
  last_tick_ = now;
  return absl::OkStatus();
}

absl::StatusOr<int64_t> ProjectionRuntime::PublishOutbox() {
  absl::MutexLock publish_lock(&publish_mu_);
  if (published_seq_.empty()) published_seq_.assign(partitions_, 0);
  int64_t published = 0;
  for (int i = 0; i < partitions_; ++i) {
    // Every entry below `committed` is in the store (Commit writes, then
    // advances next_seq_ under mu_).
    uint64_t committed;
    {
      absl::MutexLock lock(&mu_);
      // Only the owner publishes a partition's outbox. What an instance left
      // unpublished when it lost the partition (or crashed) waits until it
      // owns it again; meanwhile the new owner re-derives the same entries
      // under the same ids, so the two never append the same id at once.
      if (!owned_[i]) continue;
      committed = next_seq_[i];
    }
    if (published_seq_[i] >= committed) continue;  // nothing new in this partition
    while (true) {
      // Entries of a partition go out in sequence order, a bounded chunk at a
      // time, starting at the first unpublished sequence (never rescanning
      // the tombstones of entries already published).
      std::map<std::string, std::vector<log::Record>> by_topic;
      std::vector<std::string> keys;
      const std::string prefix = PartitionPrefix(Partition(i));
      auto it = store_->NewIterator(outbox_cf_, prefix);
      uint64_t last_seq = 0;
      for (it->Seek(OutboxKey(Partition(i), published_seq_[i])); it->Valid() && keys.size() < 500;
           it->Next()) {
        internal::OutboxEntry entry;
        if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt outbox entry");
        }
        by_topic[entry.topic()].push_back(
            {.key = entry.key(), .value = entry.value(), .idempotency_key = entry.id()});
        keys.emplace_back(it->key());
        std::string_view seq = it->key().substr(prefix.size());
        last_seq = store::ReadU64(seq);
      }
      RETURN_IF_ERROR(it->status());
      if (keys.empty()) {
        published_seq_[i] = std::max(published_seq_[i], committed);
        break;
      }
      for (const auto& [topic, records] : by_topic) {
        // The entry id is the idempotency key: after a crash between this
        // append and the delete below, the re-append is recognised as a repeat.
        ASSIGN_OR_RETURN(auto results, log_.Append(topic, records, {.sync = true}));
        (void)results;
      }
      store::Batch batch;
      for (const std::string& k : keys) batch.Delete(outbox_cf_, k);
      RETURN_IF_ERROR(store_->Write(batch));
      published_seq_[i] = last_seq + 1;
      published += static_cast<int64_t>(keys.size());
    }
  }
  return published;
}

absl::StatusOr<int64_t> ProjectionRuntime::CatchUp() {
  if (running_) return absl::FailedPreconditionError("runtime is running");
  int64_t total = 0;
  while (true) {
    int64_t pass = 0;
    for (int i = 0; i < partitions_; ++i) {
      ASSIGN_OR_RETURN(int64_t n, ApplyBatch(Partition(i)));
      pass += n;
    }
    total += pass;
    if (pass == 0) break;
  }
  RETURN_IF_ERROR(TickAll());
  ASSIGN_OR_RETURN(int64_t published, PublishOutbox());
  (void)published;
  return total;
}

absl::StatusOr<int64_t> ProjectionRuntime::BulkPass(const std::function<bool()>& next) {
  if (running_) return absl::FailedPreconditionError("runtime is running");
  int64_t pass = 0;
  for (int i = 0; i < partitions_; ++i) {
    ASSIGN_OR_RETURN(int64_t n, ApplyBatch(Partition(i), /*bulk=*/true));
    pass += n;
    if (next && !next()) break;
  }
  return pass;
}

absl::Status ProjectionRuntime::FinishBulk() { return store_->SetBulk(false); }

absl::Status ProjectionRuntime::ReseedOwned() {
  if (running_) return absl::FailedPreconditionError("runtime is running");
  if (!projection_->ReseedsFromPublished()) return absl::OkStatus();
  for (int i = 0; i < partitions_; ++i) {
    {
      absl::MutexLock lock(&mu_);
      if (!owned_[i]) continue;
    }
    RETURN_IF_ERROR(Reseed(Partition(i)));
  }
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::Start() {
  if (running_.exchange(true)) return absl::FailedPreconditionError("runtime already started");
  apply_thread_ = std::thread([this] { ApplyLoop(); });
  publish_thread_ = std::thread([this] { PublishLoop(); });
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::Stop() {
  if (!running_.exchange(false)) return absl::OkStatus();
  if (apply_thread_.joinable()) apply_thread_.join();
  if (publish_thread_.joinable()) publish_thread_.join();
  // Leave nothing pending that could be published now.
  absl::StatusOr<int64_t> published = PublishOutbox();
  return published.ok() ? absl::OkStatus() : published.status();
}

void ProjectionRuntime::ApplyLoop() {
  absl::Duration backoff = absl::Milliseconds(50);
  while (running_) {
    int64_t consumed = 0;
    // A partition whose batch came back full is behind the log: no tick
    // until it has caught up (below).
    bool behind = false;
    absl::Status error;
    for (int i = 0; i < partitions_ && running_; ++i) {
      absl::StatusOr<int64_t> n = ApplyBatch(Partition(i));
      if (!n.ok()) {
        error = n.status();
        break;
      }
      consumed += *n;
      behind |= *n >= static_cast<int64_t>(options_.max_batch);
    }
    bool tick_due;
    bool restoring = false;
    {
      absl::MutexLock lock(&mu_);
      tick_due = clock_.Now() - last_tick_ >= options_.tick_interval;
      // No ticks while a partition restores: a tick over state that is
      // behind would announce time-driven moves (silence) that the events not
      // applied yet undo, and a population-wide tick would rank part of the
      // population.
      for (int i = 0; i < partitions_; ++i) restoring |= owned_[i] && restore_target_[i] >= 0;
    }
    // A projection whose ticks also publish what events changed ticks after
    // applying even on a clock whose Now() did not move (--fixed-clock),
    // paced by the clock's monotonic time (real time unless a test drives it).
    if (consumed > 0 && !applied_untick_since_ && projection_->TicksOnApply()) {
      applied_untick_since_ = clock_.Monotonic();
    }
    if (applied_untick_since_ &&
        clock_.Monotonic() - *applied_untick_since_ >= options_.tick_interval) {
      tick_due = true;
    }
    // Nor while catching up: a time-driven move announced before the
    // customer's next event in the log was applied would be one a live run
    // never made (docs/lifecycle.md "Stage changes").
    if (error.ok() && tick_due && !restoring && !behind) {
      error = TickAll();
      if (error.ok()) applied_untick_since_.reset();
    }
    if (!error.ok()) {
      spdlog::error("projection {}: {}; retrying in {}", projection_->Name(), error.ToString(),
                    absl::FormatDuration(backoff));
      absl::SleepFor(backoff);
      backoff = std::min(backoff * 2, absl::Seconds(5));
      continue;
    }
    backoff = absl::Milliseconds(50);
    if (consumed == 0) {
      absl::MutexLock lock(&reader_mu_);
      // Real time: the deadline of a real wait (a condition variable's),
      // which the injected clock, standing still, would never end. Ticks
      // due on the clock (moved by a test, say) are seen within 200 ms.
      reader_->Wait(absl::Now() + std::min(options_.tick_interval, absl::Milliseconds(200)));
    }
  }
}

void ProjectionRuntime::PublishLoop() {
  uint64_t seen = 0;
  while (running_) {
    {
      absl::MutexLock lock(&mu_);
      auto moved = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return commits_ != seen; };
      mu_.AwaitWithTimeout(absl::Condition(&moved), absl::Milliseconds(200));
      seen = commits_;
    }
    absl::StatusOr<int64_t> published = PublishOutbox();
    if (!published.ok()) {
      spdlog::error("projection {} outbox: {}", projection_->Name(), published.status().ToString());
      absl::SleepFor(absl::Milliseconds(500));
    }
  }
}

absl::Status ProjectionRuntime::CheckToken(const PositionSet& token) const {
  if (token.topic() != options_.topic) {
    return absl::InvalidArgumentError(
        absl::StrCat("consistency_token: for topic ", token.topic(), ", not ", options_.topic));
  }
  if (token.next_offsets_size() > partitions_) {
    return absl::InvalidArgumentError("consistency_token: more partitions than the topic has");
  }
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::WaitApplied(const PositionSet& token, absl::Time deadline) const {
  RETURN_IF_ERROR(CheckToken(token));
  absl::MutexLock lock(&mu_);
  auto reached = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
    for (int i = 0; i < token.next_offsets_size(); ++i) {
      if (owned_[i] && applied_[i].value() < token.next_offsets(i)) return false;
    }
    return true;
  };
  if (mu_.AwaitWithDeadline(absl::Condition(&reached), deadline)) return absl::OkStatus();
  return absl::DeadlineExceededError("consistency_token: write not applied before the deadline");
}

void ProjectionRuntime::NotifyApplied(const PositionSet& token, absl::Time deadline,
                                      PositionWaiters::Done done) const {
  if (absl::Status s = CheckToken(token); !s.ok()) {
    std::move(done)(std::move(s));
    return;
  }
  std::vector<int64_t> targets(token.next_offsets().begin(), token.next_offsets().end());
  {
    absl::MutexLock lock(&mu_);
    bool reached = true;
    for (size_t i = 0; i < targets.size(); ++i) {
      reached &= !owned_[i] || applied_[i].value() >= targets[i];
    }
    if (!reached) {
      // Added under mu_: a commit after this point updates the waiters.
      waiters_.Add(
          std::move(targets), deadline,
          absl::DeadlineExceededError("consistency_token: write not applied before the deadline"),
          std::move(done));
      return;
    }
  }
  std::move(done)(absl::OkStatus());
}

void ProjectionRuntime::AbandonWaits(const absl::Status& status) const { waiters_.Close(status); }

void ProjectionRuntime::UpdateWaiters() {
  if (waiters_.pending() == 0) return;
  std::vector<int64_t> applied;
  std::vector<bool> owned;
  {
    absl::MutexLock lock(&mu_);
    applied.reserve(applied_.size());
    for (Offset o : applied_) applied.push_back(o.value());
    owned = owned_;
  }
  waiters_.Update(applied, owned);
}

std::vector<Offset> ProjectionRuntime::AppliedOffsets() const {
  absl::MutexLock lock(&mu_);
  return applied_;
}

RuntimeStats ProjectionRuntime::Stats() const {
  RuntimeStats stats;
  std::vector<Offset> applied;
  std::vector<uint64_t> next_seq;
  std::vector<bool> owned;
  std::vector<int64_t> restore_target;
  {
    absl::MutexLock lock(&mu_);
    stats = totals_;
    applied = applied_;
    next_seq = next_seq_;
    owned = owned_;
    restore_target = restore_target_;
    for (int i = 0; i < partitions_; ++i) {
      if (!owned_[i]) continue;
      stats.parked_customers += static_cast<int64_t>(parked_[i].size());
      for (const auto& [customer, state] : parked_[i]) stats.parked_events += state.events;
    }
  }
  {
    absl::MutexLock lock(&publish_mu_);
    stats.outbox_pending = 0;
    for (int i = 0; i < partitions_; ++i) {
      const uint64_t done = published_seq_.empty() ? 0 : published_seq_[i];
      if (next_seq[i] > done) stats.outbox_pending += static_cast<int64_t>(next_seq[i] - done);
    }
  }
  const absl::StatusOr<std::vector<Offset>> ends = log_.EndOffsets(options_.topic);
  for (int i = 0; i < partitions_; ++i) {
    const bool known = ends.ok() && i < static_cast<int>(ends->size());
    stats.partitions.push_back({.partition = Partition(i),
                                .applied = applied[i],
                                .log_end = known ? (*ends)[i] : Offset(-1),
                                .owned = owned[i],
                                .restoring = restore_target[i] >= 0,
                                .restore_target = Offset(std::max<int64_t>(0, restore_target[i]))});
  }
  return stats;
}

}  // namespace custops::projection

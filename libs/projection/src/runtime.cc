// ProjectionRuntime's core: opening the state store and restoring offsets,
// counters, discarded records and the parking summary; the apply side (the
// per-partition batch, ApplyRecord's decode/upcast/validate/dedup/apply of one
// record, dead letters, ticks, CatchUp, BulkPass, Start/Stop and the apply
// loop); and ownership (claims, Assign, Revoke, the end of a restore,
// CheckServing). Parking and replay are in runtime_parking.cc, the commit,
// outbox and reseed in runtime_outbox.cc, waits and stats in
// runtime_waits.cc; what they share is in runtime_internal.h.
#include "custops/projection/runtime.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/base/status_macros.h"
#include "custops/event/upcast.h"
#include "custops/internal/state.pb.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"
#include "runtime_internal.h"

namespace custops::projection {
namespace {

using runtime_internal::Abandoner;
using runtime_internal::MetaKey;
using runtime_internal::ParkedPrefix;
using runtime_internal::PartitionPrefix;
using runtime_internal::ToParked;
using runtime_internal::Unclaimed;

constexpr std::string_view kMetaCf = "rt_meta";
constexpr std::string_view kDedupCf = "rt_dedup";
constexpr std::string_view kOutboxCf = "rt_outbox";
constexpr std::string_view kParkedCf = "rt_parked";

uint64_t DecodeU64(std::string_view v) { return v.size() == 8 ? store::ReadU64(v) : 0; }
// A parked record's key: ParkedPrefix, then the record's offset.
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

}  // namespace

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
  }
  // The state layout: recorded in a new store; a store that has state but
  // no version is from before versions were recorded (1).
  ASSIGN_OR_RETURN(std::optional<std::string> stored_version, store_->Get(meta_cf_, "v"));
  if (stored_version.has_value()) {
    stored_version_ = static_cast<int>(DecodeU64(*stored_version));
  } else if (stored_count.has_value()) {
    stored_version_ = 1;
  } else {
    stored_version_ = projection_->StateVersion();
  }
  if (!stored_count.has_value() || !stored_version.has_value()) {
    store::Batch batch;
    if (!stored_count.has_value()) batch.Put(meta_cf_, "n", store::U64Value(partitions_));
    batch.Put(meta_cf_, "v", store::U64Value(static_cast<uint64_t>(stored_version_)));
    RETURN_IF_ERROR(store_->Write(batch));
  }
  if (state_outdated()) {
    spdlog::warn(
        "projection {}: the stored state is of layout {}, this build writes {}: it "
        "needs a rebuild (docs/operations.md \"Rebuild\")",
        projection_->Name(), stored_version_, projection_->StateVersion());
  }
  absl::MutexLock lock(&mu_);
  applied_.assign(partitions_, Offset(0));
  next_seq_.assign(partitions_, 0);
  partition_stats_.assign(partitions_, internal::PartitionStats());
  totals_ = RuntimeStats();
  owned_.assign(partitions_, options_.own_all);
  restore_target_.assign(partitions_, -1);
  behind_.assign(partitions_, false);
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
    max_batch = restoring            ? options_.restore_batch
                : behind_[p.value()] ? std::max(options_.max_batch, options_.restore_batch)
                                     : options_.max_batch;
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
  {
    absl::MutexLock lock(&mu_);
    behind_[p.value()] = records.size() >= max_batch;
  }
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
    // What the projection cached of the partition when it last owned it
    // may be behind what another owner made of it since.
    Forget(p);
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
  for (Partition p : partitions) {
    if (p.value() >= 0 && p.value() < partitions_) Forget(p);
  }
  // Waits on these partitions are some other instance's business now.
  UpdateWaiters();
  // A publication in flight finishes too: the next owner must not append the
  // same outbox ids while this one still does.
  absl::MutexLock publish_lock(&publish_mu_);
}

void ProjectionRuntime::Forget(Partition p) {
  // Claimed like a batch: the projection's caches are the apply thread's.
  {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(&Unclaimed, &busy_));
    busy_ = p.value();
  }
  projection_->Forget(p);
  Release();
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

absl::Status ProjectionRuntime::Start() {
  if (running_.exchange(true)) return absl::FailedPreconditionError("runtime already started");
  apply_thread_ = std::thread([this] { ApplyLoop(); });
  publish_thread_ = std::thread([this] { PublishLoop(); });
  return absl::OkStatus();
}

absl::Status ProjectionRuntime::Stop() {
  if (!running_.exchange(false)) return absl::OkStatus();
  {
    // A publisher lingering (publish_linger) re-checks !running_ when mu_ is
    // released.
    absl::MutexLock lock(&mu_);
  }
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
    {
      absl::MutexLock lock(&mu_);
      applying_ = true;
    }
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
    {
      absl::MutexLock lock(&mu_);
      applying_ = false;
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

}  // namespace custops::projection

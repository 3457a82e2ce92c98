// ProjectionRuntime's commit and outbox: Commit writes a batch's state, its
// state changes and dead letters as outbox entries, its counters and the next
// offset in one atomic write; PublishOutbox (and the publish thread's
// PublishLoop) appends the owned partitions' entries to their topics, the
// entry id as idempotency key, and deletes them; Reseed and ReseedOwned align
// a partition of a projection that ReseedsFromPublished with what was
// published under its ids.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "custops/base/status_macros.h"
#include "custops/internal/state.pb.h"
#include "custops/projection/runtime.h"
#include "custops/store/keys.h"
#include "custops/v1/changes.pb.h"
#include "runtime_internal.h"

namespace custops::projection {
namespace {

using runtime_internal::MetaKey;
using runtime_internal::PartitionPrefix;
using runtime_internal::Unclaimed;

// The outbox key of a partition's entry `seq` (entries sort in sequence order).
std::string OutboxKey(Partition p, uint64_t seq) {
  std::string key = PartitionPrefix(p);
  store::AppendU64(key, seq);
  return key;
}

// PublishOutbox reads at most this many entries of a partition per round,
// and starts no further partition in a round once it holds this many.
constexpr size_t kPublishChunkEntries = 500;
constexpr size_t kPublishRoundEntries = 2000;
// How long the publisher waits for the apply loop's pass to end before it
// publishes what is committed so far.
constexpr absl::Duration kPublishPassWait = absl::Milliseconds(10);

}  // namespace

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
  // Whether or not the seed is written, what the projection cached of the
  // partition is read from the store again (Projection::Forget); while
  // still claimed.
  struct Forgetter {
    Projection* projection;
    Partition p;
    ~Forgetter() { projection->Forget(p); }
  } forgetter{projection_.get(), p};
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

absl::StatusOr<int64_t> ProjectionRuntime::PublishOutbox() {
  absl::MutexLock publish_lock(&publish_mu_);
  if (published_seq_.empty()) published_seq_.assign(partitions_, 0);
  // The owned partitions with entries not yet published. Every entry below
  // next_seq_ is in the store (Commit writes, then advances next_seq_ under
  // mu_). Only the owner publishes a partition's outbox. What an instance
  // left unpublished when it lost the partition (or crashed) waits until it
  // owns it again; meanwhile the new owner re-derives the same entries under
  // the same ids, so the two never append the same id at once.
  std::vector<int> pending;
  std::vector<uint64_t> committed(partitions_, 0);
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < partitions_; ++i) {
      committed[i] = next_seq_[i];
      if (owned_[i] && published_seq_[i] < committed[i]) pending.push_back(i);
    }
  }
  int64_t published = 0;
  while (!pending.empty()) {
    // One round: a bounded chunk of every pending partition's entries, in
    // sequence order from its first unpublished sequence (never rescanning
    // the tombstones of entries already published), appended with one call
    // per topic (one fsync'd group commit for all the partitions, not one
    // each), then deleted with one write.
    std::map<std::string, std::vector<log::Record>> by_topic;
    store::Batch deletes;
    std::vector<std::pair<int, uint64_t>> next;  // partition -> its first unpublished sequence
    std::vector<int> more;                       // partitions with entries left after this round
    size_t taken = 0;
    for (int i : pending) {
      if (taken >= kPublishRoundEntries) {
        more.push_back(i);
        continue;
      }
      const std::string prefix = PartitionPrefix(Partition(i));
      auto it = store_->NewIterator(outbox_cf_, prefix);
      size_t n = 0;
      uint64_t last_seq = 0;
      for (it->Seek(OutboxKey(Partition(i), published_seq_[i]));
           it->Valid() && n < kPublishChunkEntries; it->Next()) {
        internal::OutboxEntry entry;
        if (!entry.ParseFromArray(it->value().data(), static_cast<int>(it->value().size()))) {
          return absl::DataLossError("corrupt outbox entry");
        }
        by_topic[entry.topic()].push_back(
            {.key = entry.key(), .value = entry.value(), .idempotency_key = entry.id()});
        deletes.Delete(outbox_cf_, it->key());
        std::string_view seq = it->key().substr(prefix.size());
        last_seq = store::ReadU64(seq);
        ++n;
      }
      RETURN_IF_ERROR(it->status());
      taken += n;
      if (n == kPublishChunkEntries) {
        next.emplace_back(i, last_seq + 1);
        more.push_back(i);
      } else {
        // The iterator saw every entry below `committed`: the partition is
        // published up to there at least (Reseed may have left a gap).
        next.emplace_back(i, std::max(n == 0 ? published_seq_[i] : last_seq + 1, committed[i]));
      }
    }
    if (!by_topic.empty()) {
      for (const auto& [topic, records] : by_topic) {
        // The entry id is the idempotency key: after a crash between this
        // append and the delete below, the re-append is recognised as a repeat.
        ASSIGN_OR_RETURN(auto results, log_.Append(topic, records, {.sync = true}));
        (void)results;
      }
      RETURN_IF_ERROR(store_->Write(deletes));
    }
    for (const auto& [i, seq] : next) published_seq_[i] = seq;
    published += static_cast<int64_t>(taken);
    pending = std::move(more);
  }
  return published;
}

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

void ProjectionRuntime::PublishLoop() {
  uint64_t seen = 0;
  // When the last round that published something began (real time: the
  // deadline of a real wait).
  absl::Time last_round = absl::InfinitePast();
  while (running_) {
    {
      absl::MutexLock lock(&mu_);
      auto moved = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return commits_ != seen; };
      mu_.AwaitWithTimeout(absl::Condition(&moved), absl::Milliseconds(200));
      if (commits_ != seen) {
        // Under load (a round began less than publish_linger ago), wait for
        // the rest of the linger: this round's one fsync'd append then
        // carries what the passes meanwhile commit. Idle, no wait.
        const absl::Time linger_end = last_round + options_.publish_linger;
        if (absl::Now() < linger_end) {
          auto stopping = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !running_; };
          mu_.AwaitWithDeadline(absl::Condition(&stopping), linger_end);
        }
        // The apply loop commits a pass partition by partition: wait for the
        // pass to end, so that one round publishes what the whole pass
        // derived. Idle, the pass ends right after its commit; a long one (a
        // restore's) is not waited for beyond kPublishPassWait.
        auto pass_over = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) { return !applying_ || !running_; };
        mu_.AwaitWithTimeout(absl::Condition(&pass_over), kPublishPassWait);
      }
      seen = commits_;
    }
    const absl::Time started = absl::Now();
    absl::StatusOr<int64_t> published = PublishOutbox();
    if (!published.ok()) {
      spdlog::error("projection {} outbox: {}", projection_->Name(), published.status().ToString());
      absl::SleepFor(absl::Milliseconds(500));
    } else if (*published > 0) {
      last_round = started;
    }
  }
}

}  // namespace custops::projection

// EmbeddedEventLog: every topic in one RocksDB database (layout in
// embedded/log_format.h).
//
// Concurrency: appends to one topic are committed in groups (group commit):
// each Append queues itself on the topic; the call at the head of the queue
// is the leader, takes every call queued behind it (up to a size limit),
// assigns their offsets in queue order, checks their idempotency keys, and
// writes them as one WriteBatch with one fsync; then it completes them all
// and the next head leads. So offset assignment and the idempotency check are
// one step with the write, concurrent appenders share an fsync, and each call
// is still all or none. Appends to different topics, and all reads, run in
// parallel. A topic's end offsets live under its `mu` and move only after
// RocksDB has accepted the whole WriteBatch, and reads stop at those published
// ends, so a reader never sees part of an append. `db_mu_` is held shared by
// every operation that touches RocksDB and exclusively by Close().
//
// Lock order: db_mu_ -> create_mu_ -> topics_mu_;  db_mu_ -> queue_mu -> mu.
#include "custops/log/embedded_event_log.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/status_macros.h"
#include "custops/log/partitioner.h"
#include "embedded/log_format.h"
#include "rocksdb/cache.h"
#include "rocksdb/convenience.h"
#include "rocksdb/db.h"
#include "rocksdb/filter_policy.h"
#include "rocksdb/options.h"
#include "rocksdb/table.h"
#include "rocksdb/write_batch.h"
#include "topic_name.h"

namespace custops::log {
namespace {

using internal::DecodePosition;
using internal::DecodeRecordKey;
using internal::DecodeRecordValue;
using internal::DecodeTopicMeta;
using internal::EncodePosition;
using internal::EncodeRecordValue;
using internal::EncodeTopicMeta;
using internal::IdempotencyKey;
using internal::PartitionPrefix;
using internal::Position;
using internal::RecordKey;
using internal::TopicMeta;
using internal::TopicMetaKey;
using internal::ValidateTopicName;

// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so StrCat and heterogeneous lookup need a conversion.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

constexpr size_t kBlockCacheBytes = size_t{64} << 20;

absl::Status FromRocks(const rocksdb::Status& s, std::string_view context) {
  if (s.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(AsAbsl(context), ": ", s.ToString());
  if (s.IsNotFound()) return absl::NotFoundError(message);
  // I/O errors include "the LOCK file is held by another process": the store
  // may become usable later, so the caller may retry.
  if (s.IsIOError() || s.IsBusy() || s.IsTimedOut() || s.IsTryAgain() || s.IsIncomplete() ||
      s.IsShutdownInProgress() || s.IsAborted()) {
    return absl::UnavailableError(message);
  }
  return absl::InternalError(message);
}

absl::Status ClosedError() { return absl::FailedPreconditionError("event log is closed"); }

// Best compression this RocksDB build has, cheapest first.
rocksdb::CompressionType FastCompression() {
  const std::vector<rocksdb::CompressionType> supported = rocksdb::GetSupportedCompressions();
  for (rocksdb::CompressionType wanted : {rocksdb::kLZ4Compression, rocksdb::kSnappyCompression}) {
    if (std::find(supported.begin(), supported.end(), wanted) != supported.end()) return wanted;
  }
  return rocksdb::kNoCompression;
}

rocksdb::BlockBasedTableOptions TableOptions(const std::shared_ptr<rocksdb::Cache>& cache,
                                             bool bloom) {
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = cache;
  table.block_size = 16 * 1024;
  table.cache_index_and_filter_blocks = true;
  table.pin_l0_filter_and_index_blocks_in_cache = true;
  table.format_version = 5;
  if (bloom) {
    table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    // Partitioned filters and index: a 64 MiB file of idempotency keys has a
    // ~1.3 MiB filter, more than a shard of the block cache (1 MiB), so as one
    // block it was never kept and every lookup read and checksummed it again
    // (docs/benchmarks.md "Issue 16, fourth pass"). In 4 KiB partitions it
    // stays cached; the top level is pinned.
    table.partition_filters = true;
    table.index_type = rocksdb::BlockBasedTableOptions::kTwoLevelIndexSearch;
    table.metadata_block_size = 4096;
    table.pin_top_level_index_and_filter = true;
    table.cache_index_and_filter_blocks_with_high_priority = true;
  }
  return table;
}

// One Append call waiting in its topic's commit queue.
struct PendingAppend {
  absl::Span<const Record> records;
  bool sync = true;
  std::vector<AppendResult> results;
  absl::Status status;
  bool done = false;
};

// A commit group carries at most this many records (more only when a single
// call is larger).
constexpr size_t kMaxGroupRecords = 20'000;

struct TopicState {
  TopicState(uint32_t id, int partitions, std::vector<int64_t> ends)
      : id(id), partitions(partitions), end_offsets(std::move(ends)) {}

  const uint32_t id;
  const int partitions;
  // Appends waiting to be committed, in arrival order; the head leads.
  absl::Mutex queue_mu;
  std::vector<PendingAppend*> queue ABSL_GUARDED_BY(queue_mu);
  mutable absl::Mutex mu;
  // Published end offset per partition: every offset below is readable.
  // Written only by the current leader (under mu).
  std::vector<int64_t> end_offsets ABSL_GUARDED_BY(mu);
  uint64_t generation ABSL_GUARDED_BY(mu) = 0;
};

class EmbeddedEventLogImpl final : public EventLog {
 public:
  EmbeddedEventLogImpl(const EmbeddedLogOptions& options, const base::Clock& clock)
      : options_(options), clock_(clock) {}

  ~EmbeddedEventLogImpl() override {
    // A backstop: callers are expected to Close() and check the status.
    absl::Status ignored = Close();
    (void)ignored;
  }

  absl::Status Init();

  absl::Status CreateTopic(std::string_view topic, int partitions) override;
  absl::StatusOr<int> PartitionCount(std::string_view topic) const override;
  absl::StatusOr<std::vector<AppendResult>> Append(std::string_view topic,
                                                   absl::Span<const Record> records,
                                                   const AppendOptions& options) override;
  absl::StatusOr<std::vector<LogRecord>> Read(std::string_view topic, Partition partition,
                                              Offset from, size_t max_records) const override;
  absl::StatusOr<Offset> EndOffset(std::string_view topic, Partition partition) const override;
  uint64_t Generation(std::string_view topic) const override;
  uint64_t WaitForAppend(std::string_view topic, uint64_t seen, absl::Time deadline) const override;
  absl::Status Close() override;

 private:
  // nullptr when the topic does not exist. TopicStates live as long as the log.
  TopicState* LookupTopic(std::string_view topic) const ABSL_LOCKS_EXCLUDED(topics_mu_);
  absl::StatusOr<TopicState*> FindTopic(std::string_view topic) const
      ABSL_LOCKS_EXCLUDED(topics_mu_);
  static absl::Status CheckPartition(const TopicState& topic, Partition partition);
  // Writes a commit group as one WriteBatch (see the file comment); fills
  // each call's results. On error nothing of the group was written.
  absl::Status CommitGroup(TopicState& state, const std::vector<PendingAppend*>& group)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);
  absl::StatusOr<std::vector<int64_t>> RecoverEndOffsets(uint32_t topic_id, int partitions)
      ABSL_SHARED_LOCKS_REQUIRED(db_mu_);

  const EmbeddedLogOptions options_;
  const base::Clock& clock_;

  mutable absl::Mutex db_mu_;
  // nullptr once closed.
  std::unique_ptr<rocksdb::DB> db_ ABSL_GUARDED_BY(db_mu_);
  rocksdb::ColumnFamilyHandle* meta_cf_ ABSL_GUARDED_BY(db_mu_) = nullptr;
  rocksdb::ColumnFamilyHandle* records_cf_ ABSL_GUARDED_BY(db_mu_) = nullptr;
  rocksdb::ColumnFamilyHandle* idempotency_cf_ ABSL_GUARDED_BY(db_mu_) = nullptr;
  // Wakes WaitForAppend callers when the log closes.
  std::atomic<bool> closed_{false};

  // Serialises topic creation.
  absl::Mutex create_mu_;
  uint32_t next_topic_id_ ABSL_GUARDED_BY(create_mu_) = 1;

  mutable absl::Mutex topics_mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<TopicState>> topics_ ABSL_GUARDED_BY(topics_mu_);
};

absl::Status EmbeddedEventLogImpl::Init() {
  absl::MutexLock db_lock(&db_mu_);
  absl::MutexLock create_lock(&create_mu_);

  std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  const rocksdb::CompressionType compression = FastCompression();

  rocksdb::DBOptions db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Smooth out write-back of flushed and compacted files.
  db_options.bytes_per_sync = 1 << 20;
  // Bound WAL replay time on open.
  db_options.max_total_wal_size = uint64_t{256} << 20;
  db_options.keep_log_file_num = 3;

  // Records are written in key order per partition and read as ranges; no
  // point lookups, so no bloom filter. Big memtables keep flushes rare.
  rocksdb::ColumnFamilyOptions records_options;
  records_options.write_buffer_size = size_t{64} << 20;
  records_options.max_write_buffer_number = 3;
  records_options.target_file_size_base = uint64_t{64} << 20;
  records_options.max_bytes_for_level_base = uint64_t{512} << 20;
  records_options.level_compaction_dynamic_level_bytes = true;
  records_options.compression = compression;
  records_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(TableOptions(cache, /*bloom=*/false)));

  // Idempotency keys are point lookups that mostly miss: a bloom filter
  // answers those without reading blocks.
  rocksdb::ColumnFamilyOptions idempotency_options;
  idempotency_options.write_buffer_size = size_t{16} << 20;
  idempotency_options.level_compaction_dynamic_level_bytes = true;
  idempotency_options.compression = compression;
  idempotency_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(TableOptions(cache, /*bloom=*/true)));

  rocksdb::ColumnFamilyOptions meta_options;
  meta_options.write_buffer_size = size_t{1} << 20;
  meta_options.table_factory.reset(
      rocksdb::NewBlockBasedTableFactory(TableOptions(cache, /*bloom=*/false)));

  std::vector<rocksdb::ColumnFamilyDescriptor> families = {
      {rocksdb::kDefaultColumnFamilyName, meta_options},
      {std::string(internal::kRecordsFamily), records_options},
      {std::string(internal::kIdempotencyFamily), idempotency_options},
  };
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, options_.path, families, &handles, &raw_db);
  if (!s.ok()) return FromRocks(s, absl::StrCat("opening event log at ", options_.path));
  db_.reset(raw_db);
  meta_cf_ = handles[0];
  records_cf_ = handles[1];
  idempotency_cf_ = handles[2];

  std::string format;
  s = db_->Get(rocksdb::ReadOptions(), meta_cf_, internal::kFormatKey, &format);
  if (s.IsNotFound()) {
    rocksdb::WriteOptions write_options;
    write_options.sync = options_.sync;
    s = db_->Put(write_options, meta_cf_, internal::kFormatKey, internal::kFormatVersion);
    RETURN_IF_ERROR(FromRocks(s, "writing format version"));
  } else if (!s.ok()) {
    return FromRocks(s, "reading format version");
  } else if (format != internal::kFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat("event log at ", options_.path,
                                                      " has format ", format, "; this build reads ",
                                                      AsAbsl(internal::kFormatVersion)));
  }

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), meta_cf_));
  absl::MutexLock topics_lock(&topics_mu_);
  for (it->Seek(internal::kTopicPrefix);
       it->Valid() && it->key().starts_with(internal::kTopicPrefix); it->Next()) {
    std::string name = it->key().ToString().substr(internal::kTopicPrefix.size());
    std::optional<TopicMeta> meta = DecodeTopicMeta(it->value().ToStringView());
    if (!meta.has_value() || meta->partitions < 1 || meta->id == 0) {
      return absl::InternalError(absl::StrCat("corrupt metadata of topic ", name));
    }
    ASSIGN_OR_RETURN(std::vector<int64_t> ends, RecoverEndOffsets(meta->id, meta->partitions));
    next_topic_id_ = std::max(next_topic_id_, meta->id + 1);
    topics_.emplace(std::move(name),
                    std::make_unique<TopicState>(meta->id, meta->partitions, std::move(ends)));
  }
  return FromRocks(it->status(), "loading topics");
}

absl::StatusOr<std::vector<int64_t>> EmbeddedEventLogImpl::RecoverEndOffsets(uint32_t topic_id,
                                                                             int partitions) {
  std::vector<int64_t> ends(partitions, 0);
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), records_cf_));
  for (int p = 0; p < partitions; ++p) {
    const std::string prefix = PartitionPrefix(topic_id, p);
    it->SeekForPrev(RecordKey(topic_id, p, INT64_MAX));
    if (it->Valid() && it->key().starts_with(prefix)) {
      std::optional<internal::RecordKeyParts> key = DecodeRecordKey(it->key().ToStringView());
      if (!key.has_value()) return absl::InternalError("corrupt record key");
      ends[p] = key->offset + 1;
    }
    RETURN_IF_ERROR(FromRocks(it->status(), "recovering end offsets"));
  }
  return ends;
}

TopicState* EmbeddedEventLogImpl::LookupTopic(std::string_view topic) const {
  absl::ReaderMutexLock lock(&topics_mu_);
  auto it = topics_.find(AsAbsl(topic));
  return it == topics_.end() ? nullptr : it->second.get();
}

absl::StatusOr<TopicState*> EmbeddedEventLogImpl::FindTopic(std::string_view topic) const {
  TopicState* state = LookupTopic(topic);
  if (state == nullptr) return absl::NotFoundError(absl::StrCat("unknown topic ", AsAbsl(topic)));
  return state;
}

absl::Status EmbeddedEventLogImpl::CheckPartition(const TopicState& topic, Partition partition) {
  if (partition.value() < 0 || partition.value() >= topic.partitions) {
    return absl::InvalidArgumentError(
        absl::StrCat("partition ", partition.value(), " out of range [0, ", topic.partitions, ")"));
  }
  return absl::OkStatus();
}

absl::Status EmbeddedEventLogImpl::CreateTopic(std::string_view topic, int partitions) {
  RETURN_IF_ERROR(ValidateTopicName(topic));
  if (partitions < 1 || partitions > kMaxEmbeddedPartitions) {
    return absl::InvalidArgumentError(absl::StrCat(
        "partition count ", partitions, " out of range [1, ", kMaxEmbeddedPartitions, "]"));
  }
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();
  absl::MutexLock create_lock(&create_mu_);
  if (const TopicState* existing = LookupTopic(topic); existing != nullptr) {
    if (existing->partitions == partitions) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat("topic ", AsAbsl(topic), " exists with ",
                                                      existing->partitions, " partitions, not ",
                                                      partitions));
  }
  const TopicMeta meta{.id = next_topic_id_, .partitions = partitions};
  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync;
  rocksdb::Status s = db_->Put(write_options, meta_cf_, TopicMetaKey(topic), EncodeTopicMeta(meta));
  RETURN_IF_ERROR(FromRocks(s, absl::StrCat("creating topic ", AsAbsl(topic))));
  ++next_topic_id_;
  absl::MutexLock topics_lock(&topics_mu_);
  topics_.emplace(std::string(topic), std::make_unique<TopicState>(
                                          meta.id, partitions, std::vector<int64_t>(partitions)));
  return absl::OkStatus();
}

absl::StatusOr<int> EmbeddedEventLogImpl::PartitionCount(std::string_view topic) const {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();
  ASSIGN_OR_RETURN(const TopicState* state, FindTopic(topic));
  return state->partitions;
}

absl::StatusOr<std::vector<AppendResult>> EmbeddedEventLogImpl::Append(
    std::string_view topic, absl::Span<const Record> records, const AppendOptions& options) {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();
  ASSIGN_OR_RETURN(TopicState * state, FindTopic(topic));
  if (records.empty()) return std::vector<AppendResult>();

  PendingAppend me{.records = records, .sync = options.sync};
  std::vector<PendingAppend*> group;
  {
    absl::MutexLock lock(&state->queue_mu);
    state->queue.push_back(&me);
    auto led_or_done = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->queue_mu) {
      return me.done || state->queue.front() == &me;
    };
    state->queue_mu.Await(absl::Condition(&led_or_done));
    if (me.done) {  // a leader committed this call
      if (!me.status.ok()) return me.status;
      return std::move(me.results);
    }
    // Leader: take this call and the ones queued behind it.
    size_t taken = 0;
    for (PendingAppend* p : state->queue) {
      if (!group.empty() && taken + p->records.size() > kMaxGroupRecords) break;
      group.push_back(p);
      taken += p->records.size();
    }
  }
  // Others keep queueing while the group is written.
  const absl::Status status = CommitGroup(*state, group);
  {
    absl::MutexLock lock(&state->queue_mu);
    state->queue.erase(state->queue.begin(), state->queue.begin() + group.size());
    for (PendingAppend* p : group) {
      if (!status.ok()) p->status = status;
      p->done = true;  // waiters re-check their conditions when the lock is released
    }
  }
  if (!me.status.ok()) return me.status;
  return std::move(me.results);
}

absl::Status EmbeddedEventLogImpl::CommitGroup(TopicState& state,
                                               const std::vector<PendingAppend*>& group) {
  // Offsets this group assigns, per touched partition: the published end plus
  // the records of the group so far. Published only after the write.
  absl::flat_hash_map<int32_t, int64_t> next_offsets;
  auto take_offset = [&](int32_t partition) -> int64_t {
    auto [it, inserted] = next_offsets.try_emplace(partition, 0);
    if (inserted) {
      absl::ReaderMutexLock lock(&state.mu);
      it->second = state.end_offsets[partition];
    }
    return it->second++;
  };
  // The first record of the group with a given idempotency key.
  absl::flat_hash_map<std::string_view, const AppendResult*> first_with_key;

  const absl::Time timestamp = clock_.Now();
  rocksdb::WriteBatch batch;
  std::string value;
  std::string stored_position;
  bool sync = false;
  for (PendingAppend* p : group) {
    p->results.resize(p->records.size());
    for (size_t i = 0; i < p->records.size(); ++i) {
      const Record& record = p->records[i];
      const bool idempotent = !record.idempotency_key.empty();
      std::string idempotency_key;
      if (idempotent) {
        if (auto it = first_with_key.find(record.idempotency_key); it != first_with_key.end()) {
          p->results[i] = *it->second;
          p->results[i].duplicate = true;
          continue;
        }
        idempotency_key = IdempotencyKey(state.id, record.idempotency_key);
        rocksdb::Status s =
            db_->Get(rocksdb::ReadOptions(), idempotency_cf_, idempotency_key, &stored_position);
        if (s.ok()) {
          std::optional<Position> position = DecodePosition(stored_position);
          if (!position.has_value()) return absl::InternalError("corrupt idempotency entry");
          p->results[i] = AppendResult{.partition = Partition(position->partition),
                                       .offset = Offset(position->offset),
                                       .duplicate = true};
          continue;
        }
        if (!s.IsNotFound()) return FromRocks(s, "looking up idempotency key");
      }
      const Partition partition = PartitionForKey(record.key, state.partitions);
      const int64_t offset = take_offset(partition.value());
      EncodeRecordValue(timestamp, record.key, record.value, value);
      rocksdb::Status s =
          batch.Put(records_cf_, RecordKey(state.id, partition.value(), offset), value);
      if (s.ok() && idempotent) {
        s = batch.Put(idempotency_cf_, idempotency_key,
                      EncodePosition({.partition = partition.value(), .offset = offset}));
      }
      RETURN_IF_ERROR(FromRocks(s, "building write batch"));
      p->results[i] =
          AppendResult{.partition = partition, .offset = Offset(offset), .duplicate = false};
      if (idempotent) first_with_key.emplace(record.idempotency_key, &p->results[i]);
      sync = sync || p->sync;
    }
  }
  if (batch.Count() == 0) return absl::OkStatus();  // every record was a duplicate

  rocksdb::WriteOptions write_options;
  write_options.sync = options_.sync && sync;
  RETURN_IF_ERROR(FromRocks(db_->Write(write_options, &batch), "appending"));

  absl::MutexLock lock(&state.mu);
  for (const auto& [partition, end] : next_offsets) state.end_offsets[partition] = end;
  ++state.generation;  // WaitForAppend's condition is re-evaluated on unlock
  return absl::OkStatus();
}

absl::StatusOr<std::vector<LogRecord>> EmbeddedEventLogImpl::Read(std::string_view topic,
                                                                  Partition partition, Offset from,
                                                                  size_t max_records) const {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();
  ASSIGN_OR_RETURN(const TopicState* state, FindTopic(topic));
  RETURN_IF_ERROR(CheckPartition(*state, partition));
  if (from.value() < 0) {
    return absl::InvalidArgumentError(absl::StrCat("negative offset ", from.value()));
  }
  int64_t end = 0;
  {
    absl::ReaderMutexLock lock(&state->mu);
    end = state->end_offsets[partition.value()];
  }
  if (from.value() > end) {
    return absl::OutOfRangeError(absl::StrCat("offset ", from.value(), " is past the end ", end,
                                              " of ", AsAbsl(topic), "/", partition.value()));
  }
  const int64_t count = std::min<uint64_t>(static_cast<uint64_t>(end - from.value()), max_records);
  std::vector<LogRecord> out;
  if (count == 0) return out;
  out.reserve(count);

  // Stop at the published end: records of an append still in flight stay
  // invisible even if RocksDB already holds them.
  const std::string upper = RecordKey(state->id, partition.value(), from.value() + count);
  const rocksdb::Slice upper_slice(upper);
  rocksdb::ReadOptions read_options;
  read_options.iterate_upper_bound = &upper_slice;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(read_options, records_cf_));
  int64_t expected = from.value();
  for (it->Seek(RecordKey(state->id, partition.value(), from.value())); it->Valid(); it->Next()) {
    std::optional<internal::RecordKeyParts> key = DecodeRecordKey(it->key().ToStringView());
    std::optional<internal::RecordValue> record = DecodeRecordValue(it->value().ToStringView());
    if (!key.has_value() || !record.has_value() || key->offset != expected) {
      return absl::InternalError(
          absl::StrCat("corrupt record at ", AsAbsl(topic), "/", partition.value(), "@", expected));
    }
    out.push_back(LogRecord{.partition = partition,
                            .offset = Offset(key->offset),
                            .key = std::string(record->key),
                            .value = std::string(record->value),
                            .timestamp = record->timestamp});
    ++expected;
  }
  RETURN_IF_ERROR(FromRocks(it->status(), "reading"));
  if (expected != from.value() + count) {
    return absl::InternalError(absl::StrCat("records missing from ", AsAbsl(topic), "/",
                                            partition.value(), " at offset ", expected));
  }
  return out;
}

absl::StatusOr<Offset> EmbeddedEventLogImpl::EndOffset(std::string_view topic,
                                                       Partition partition) const {
  absl::ReaderMutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();
  ASSIGN_OR_RETURN(const TopicState* state, FindTopic(topic));
  RETURN_IF_ERROR(CheckPartition(*state, partition));
  absl::ReaderMutexLock lock(&state->mu);
  return Offset(state->end_offsets[partition.value()]);
}

uint64_t EmbeddedEventLogImpl::Generation(std::string_view topic) const {
  const TopicState* state = LookupTopic(topic);
  if (state == nullptr) return 0;
  absl::ReaderMutexLock lock(&state->mu);
  return state->generation;
}

uint64_t EmbeddedEventLogImpl::WaitForAppend(std::string_view topic, uint64_t seen,
                                             absl::Time deadline) const {
  const TopicState* state = nullptr;
  {
    // An unknown topic may be created while we wait.
    absl::MutexLock lock(&topics_mu_);
    auto known = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(topics_mu_) {
      return closed_.load() || topics_.contains(AsAbsl(topic));
    };
    topics_mu_.AwaitWithDeadline(absl::Condition(&known), deadline);
    auto it = topics_.find(AsAbsl(topic));
    if (it == topics_.end()) return 0;
    state = it->second.get();
  }
  absl::MutexLock lock(&state->mu);
  auto moved = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(state->mu) {
    return closed_.load() || state->generation != seen;
  };
  state->mu.AwaitWithDeadline(absl::Condition(&moved), deadline);
  return state->generation;
}

absl::Status EmbeddedEventLogImpl::Close() {
  absl::MutexLock db_lock(&db_mu_);
  if (db_ == nullptr) return ClosedError();

  // Memtables to SST files: the next open replays no WAL, and records
  // appended without sync become durable now.
  rocksdb::FlushOptions flush_options;
  flush_options.wait = true;
  absl::Status status = FromRocks(
      db_->Flush(flush_options, {meta_cf_, records_cf_, idempotency_cf_}), "flushing event log");
  for (rocksdb::ColumnFamilyHandle* handle : {meta_cf_, records_cf_, idempotency_cf_}) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(handle);
    if (status.ok()) status = FromRocks(s, "closing column family");
  }
  meta_cf_ = records_cf_ = idempotency_cf_ = nullptr;
  rocksdb::Status s = db_->Close();
  if (status.ok()) status = FromRocks(s, "closing event log");
  db_.reset();

  // Release WaitForAppend callers: each re-checks its condition when the
  // mutex it waits on is next released.
  closed_.store(true);
  absl::MutexLock topics_lock(&topics_mu_);
  for (auto& [name, state] : topics_) {
    absl::MutexLock lock(&state->mu);
  }
  return status;
}

}  // namespace

absl::StatusOr<std::unique_ptr<EventLog>> EmbeddedEventLog::Open(
    const EmbeddedLogOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("EmbeddedLogOptions.path is empty");
  const base::Clock& clock =
      options.clock != nullptr ? *options.clock : base::SystemClock::Instance();
  auto log = std::make_unique<EmbeddedEventLogImpl>(options, clock);
  RETURN_IF_ERROR(log->Init());
  return log;
}

}  // namespace custops::log

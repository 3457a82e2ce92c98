#include "custops/store/store.h"

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <filesystem>
#include <utility>

#include "absl/strings/str_cat.h"
#include "custops/base/check.h"
#include "custops/base/status_macros.h"

namespace custops::store {
namespace {

absl::Status FromRocks(const rocksdb::Status& s, std::string_view what) {
  if (s.ok()) return absl::OkStatus();
  std::string msg = absl::StrCat(std::string(what), ": ", s.ToString());
  if (s.IsIOError() && s.ToString().find("lock") != std::string::npos) {
    return absl::UnavailableError(msg);
  }
  if (s.IsBusy() || s.IsTimedOut() || s.IsTryAgain()) return absl::UnavailableError(msg);
  return absl::InternalError(msg);
}

}  // namespace

Batch::Batch() : rep_(std::make_unique<rocksdb::WriteBatch>()) {}
Batch::~Batch() = default;

void Batch::Put(ColumnFamily family, std::string_view key, std::string_view value) {
  rocksdb::Status s = rep_->Put(family, rocksdb::Slice(key.data(), key.size()),
                                rocksdb::Slice(value.data(), value.size()));
  CHECK(s.ok()) << s.ToString();
}

void Batch::Delete(ColumnFamily family, std::string_view key) {
  rocksdb::Status s = rep_->Delete(family, rocksdb::Slice(key.data(), key.size()));
  CHECK(s.ok()) << s.ToString();
}

size_t Batch::Count() const { return rep_->Count(); }
size_t Batch::ByteSize() const { return rep_->GetDataSize(); }
void Batch::Clear() { rep_->Clear(); }

Iterator::Iterator(std::string prefix) : prefix_(std::move(prefix)) {
  // The prefix's successor: its last byte below 0xff incremented, the rest
  // dropped; none when every byte is 0xff (or no prefix).
  upper_bound_ = prefix_;
  while (!upper_bound_.empty() && static_cast<unsigned char>(upper_bound_.back()) == 0xff) {
    upper_bound_.pop_back();
  }
  if (!upper_bound_.empty()) {
    upper_bound_.back() = static_cast<char>(static_cast<unsigned char>(upper_bound_.back()) + 1);
    upper_bound_slice_ = std::make_unique<rocksdb::Slice>(upper_bound_);
  }
}
Iterator::~Iterator() = default;

void Iterator::Seek(std::string_view target) {
  if (target < prefix_) target = prefix_;
  it_->Seek(rocksdb::Slice(target.data(), target.size()));
}
void Iterator::SeekToFirst() { Seek(prefix_); }
bool Iterator::Valid() const { return it_->Valid() && it_->key().starts_with(prefix_); }
void Iterator::Next() { it_->Next(); }
std::string_view Iterator::key() const {
  return std::string_view(it_->key().data(), it_->key().size());
}
std::string_view Iterator::value() const {
  return std::string_view(it_->value().data(), it_->value().size());
}
absl::Status Iterator::status() const { return FromRocks(it_->status(), "iterate"); }

absl::StatusOr<std::unique_ptr<Store>> Store::Open(const StoreOptions& options) {
  if (options.path.empty()) return absl::InvalidArgumentError("store path: required");
  std::error_code ec;
  std::filesystem::create_directories(options.path, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat("create ", options.path, ": ", ec.message()));
  }
  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  // Without a WAL, only flushes that cover every family at once keep the
  // families consistent after a crash (offsets beside the state).
  db_options.atomic_flush = options.bulk;
  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  // Projections look up many keys that do not exist yet (dedup ids, new
  // customers): a bloom filter answers those without reading data blocks.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  table.whole_key_filtering = true;
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.write_buffer_size = options.write_buffer_bytes;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  // Most point lookups of a projection miss (dedup ids, new customers) and
  // hit the memtable first: a memtable bloom filter answers those cheaply.
  cf_options.memtable_prefix_bloom_size_ratio = 0.05;
  cf_options.memtable_whole_key_filtering = true;

  std::vector<std::string> names = {rocksdb::kDefaultColumnFamilyName};
  for (const std::string& n : options.column_families) {
    if (std::find(names.begin(), names.end(), n) == names.end()) names.push_back(n);
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const std::string& n : names) descriptors.emplace_back(n, cf_options);
  // Keep families that exist on disk but are not asked for (older versions).
  std::vector<std::string> existing;
  if (rocksdb::DB::ListColumnFamilies(db_options, options.path, &existing).ok()) {
    for (const std::string& n : existing) {
      if (std::find(names.begin(), names.end(), n) == names.end()) {
        names.push_back(n);
        descriptors.emplace_back(n, cf_options);
      }
    }
  }
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(rocksdb::DBOptions(db_options), options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, absl::StrCat("open ", options.path));
  return std::unique_ptr<Store>(new Store(std::unique_ptr<rocksdb::DB>(raw), std::move(handles),
                                          std::move(names), options.sync, options.bulk));
}

Store::Store(std::unique_ptr<rocksdb::DB> db, std::vector<rocksdb::ColumnFamilyHandle*> handles,
             std::vector<std::string> names, bool sync, bool bulk)
    : db_(std::move(db)),
      handles_(std::move(handles)),
      names_(std::move(names)),
      sync_(sync),
      bulk_(bulk) {}

Store::~Store() { (void)Close(); }

ColumnFamily Store::Family(std::string_view name) const {
  for (size_t i = 0; i < names_.size(); ++i) {
    if (names_[i] == name) return handles_[i];
  }
  CHECK(false) << "unknown column family " << name;
  return nullptr;
}

absl::StatusOr<std::optional<std::string>> Store::Get(ColumnFamily family,
                                                      std::string_view key) const {
  if (db_ == nullptr) return absl::FailedPreconditionError("store is closed");
  std::string value;
  rocksdb::Status s =
      db_->Get(rocksdb::ReadOptions(), family, rocksdb::Slice(key.data(), key.size()), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) return FromRocks(s, "get");
  return value;
}

absl::Status Store::Write(Batch& batch) {
  if (db_ == nullptr) return absl::FailedPreconditionError("store is closed");
  rocksdb::WriteOptions wo;
  if (bulk_.load()) {
    wo.disableWAL = true;
  } else {
    wo.sync = sync_;
  }
  return FromRocks(db_->Write(wo, batch.rep()), "write");
}

absl::Status Store::Flush() {
  if (db_ == nullptr) return absl::FailedPreconditionError("store is closed");
  rocksdb::FlushOptions fo;
  fo.wait = true;
  return FromRocks(db_->Flush(fo, handles_), "flush");
}

absl::Status Store::SetBulk(bool bulk) {
  if (bulk_.load() && !bulk) RETURN_IF_ERROR(Flush());
  bulk_.store(bulk);
  return absl::OkStatus();
}

std::unique_ptr<Iterator> Store::NewIterator(ColumnFamily family, std::string_view prefix) const {
  CHECK(db_ != nullptr) << "store is closed";
  std::unique_ptr<Iterator> it(new Iterator(std::string(prefix)));
  rocksdb::ReadOptions ro;
  ro.iterate_upper_bound = it->upper_bound_slice_.get();
  it->it_.reset(db_->NewIterator(ro, family));
  return it;
}

absl::Status Store::CompactAll() {
  if (db_ == nullptr) return absl::FailedPreconditionError("store is closed");
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    rocksdb::Status s = db_->CompactRange(rocksdb::CompactRangeOptions(), h, nullptr, nullptr);
    if (!s.ok()) return FromRocks(s, "compact");
  }
  return absl::OkStatus();
}

uint64_t Store::IntProperty(ColumnFamily family, std::string_view property) const {
  uint64_t v = 0;
  if (db_ == nullptr) return 0;
  if (!db_->GetIntProperty(family, rocksdb::Slice(property.data(), property.size()), &v)) return 0;
  return v;
}

absl::Status Store::Close() {
  if (db_ == nullptr) return absl::OkStatus();
  absl::Status result;
  for (rocksdb::ColumnFamilyHandle* h : handles_) {
    rocksdb::Status s = db_->DestroyColumnFamilyHandle(h);
    if (!s.ok() && result.ok()) result = FromRocks(s, "close");
  }
  handles_.clear();
  rocksdb::Status s = db_->Close();
  if (!s.ok() && result.ok()) result = FromRocks(s, "close");
  db_.reset();
  return result;
}

}  // namespace custops::store

// Micro benchmarks of the embedded event log: batched appends with fsync on
// and off, and sequential reads.
//
// Run (Release-like build, nothing else busy):
//   cmake -G Ninja -S . -B build -DCUSTOPS_BUILD_BENCH=ON && ninja -C build log_bench
//   build/bench/log_bench --benchmark_counters_tabular=true
// items_per_second is records per second. The store lives under $TMPDIR (or
// /tmp); fsync figures depend entirely on that file system's device.
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "custops/log/embedded_event_log.h"
#include "custops/log/partitioner.h"

namespace custops::log {
namespace {

constexpr int kBatchSize = 500;
constexpr size_t kValueBytes = 200;
constexpr int kPartitions = 12;
constexpr std::string_view kTopic = "bench";

// A fresh store in a temporary directory, removed afterwards.
class BenchLog {
 public:
  explicit BenchLog(bool sync) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = absl::StrCat(tmp != nullptr ? tmp : "/tmp", "/custops-log-bench-XXXXXX");
    if (mkdtemp(pattern.data()) == nullptr) std::abort();
    dir_ = pattern;
    absl::StatusOr<std::unique_ptr<EventLog>> log =
        EmbeddedEventLog::Open({.path = dir_ + "/log", .sync = sync});
    if (!log.ok() || !(*log)->CreateTopic(kTopic, kPartitions).ok()) std::abort();
    log_ = std::move(log).value();
  }
  ~BenchLog() {
    (void)log_->Close();
    log_.reset();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  EventLog& log() { return *log_; }

 private:
  std::string dir_;
  std::unique_ptr<EventLog> log_;
};

std::vector<Record> MakeBatch(int64_t first) {
  std::vector<Record> batch;
  batch.reserve(kBatchSize);
  for (int i = 0; i < kBatchSize; ++i) {
    const int64_t n = first + i;
    std::string value = absl::StrCat("{\"event\":", n, ",\"payload\":\"");
    value.resize(kValueBytes - 2, 'x');
    value += "\"}";
    batch.push_back(
        Record{.key = absl::StrCat("customer-", n % 10'000), .value = std::move(value)});
  }
  return batch;
}

// Arg 0: fsync each append (1) or not (0). Arg 1: give every record an
// idempotency key (1) or not (0).
void BM_AppendBatch(benchmark::State& state) {
  const bool sync = state.range(0) != 0;
  const bool idempotent = state.range(1) != 0;
  BenchLog bench(sync);
  int64_t next = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Record> batch = MakeBatch(next);
    if (idempotent) {
      for (int i = 0; i < kBatchSize; ++i)
        batch[i].idempotency_key = absl::StrCat("req-", next + i);
    }
    state.ResumeTiming();
    absl::StatusOr<std::vector<AppendResult>> results = bench.log().Append(kTopic, batch, {});
    if (!results.ok()) {
      state.SkipWithError(results.status().ToString().c_str());
      break;
    }
    benchmark::DoNotOptimize(results);
    next += kBatchSize;
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.SetBytesProcessed(state.iterations() * kBatchSize * kValueBytes);
}
BENCHMARK(BM_AppendBatch)
    ->ArgNames({"sync", "idempotent"})
    ->Args({0, 0})
    ->Args({1, 0})
    ->Args({0, 1})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// Reads a pre-filled partition front to back, `range(0)` records per call.
void BM_Read(benchmark::State& state) {
  constexpr int kRecords = 200'000;
  const size_t max_records = static_cast<size_t>(state.range(0));
  BenchLog bench(/*sync=*/false);
  for (int64_t n = 0; n < kRecords; n += kBatchSize) {
    std::vector<Record> batch = MakeBatch(n);
    for (Record& record : batch) record.key = "one-partition";
    if (!bench.log().Append(kTopic, batch, {.sync = false}).ok()) std::abort();
  }
  const Partition filled = PartitionForKey("one-partition", kPartitions);
  int64_t offset = 0;
  int64_t records = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<LogRecord>> batch =
        bench.log().Read(kTopic, filled, Offset(offset), max_records);
    if (!batch.ok()) {
      state.SkipWithError(batch.status().ToString().c_str());
      break;
    }
    records += static_cast<int64_t>(batch->size());
    offset += static_cast<int64_t>(batch->size());
    if (offset >= kRecords) offset = 0;
    benchmark::DoNotOptimize(batch);
  }
  state.SetItemsProcessed(records);
}
BENCHMARK(BM_Read)->ArgName("max_records")->Arg(100)->Arg(1000)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace custops::log

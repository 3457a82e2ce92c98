// Benchmarks of KafkaEventLog on a real broker: batched appends (acks=all,
// idempotent producer), with and without idempotency keys, from one and from
// several threads, and sequential reads.
//
// Run (the broker shares the machine; nothing else busy):
//   deploy/kafka/kafka.sh start --fresh --dir /tmp/custops-kafka-bench
//   export CUSTOPS_KAFKA_BOOTSTRAP=$(cat /tmp/custops-kafka-bench/bootstrap)
//   build/bench/kafka_log_bench --benchmark_counters_tabular=true
//   deploy/kafka/kafka.sh stop --dir /tmp/custops-kafka-bench
// items_per_second is records per second. Every run appends to fresh topics.
#include <cstdlib>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "custops/log/kafka_event_log.h"
#include "custops/log/partitioner.h"

namespace custops::log {
namespace {

constexpr int kBatchSize = 500;
constexpr size_t kValueBytes = 200;
constexpr int kPartitions = 12;

std::string UniqueTopic(std::string_view base) {
  static const uint32_t run = std::random_device()();
  static int counter = 0;
  return absl::StrCat("bench.", std::string(base), ".", run, ".", ++counter);
}

std::unique_ptr<EventLog> OpenOrDie() {
  const char* bootstrap = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP");
  if (bootstrap == nullptr) return nullptr;
  absl::StatusOr<std::unique_ptr<EventLog>> log =
      KafkaEventLog::Open({.bootstrap_servers = bootstrap});
  if (!log.ok()) return nullptr;
  return std::move(log).value();
}

std::vector<Record> MakeBatch(int64_t first, bool idempotent) {
  std::vector<Record> batch;
  batch.reserve(kBatchSize);
  for (int i = 0; i < kBatchSize; ++i) {
    const int64_t n = first + i;
    std::string value = absl::StrCat("{\"event\":", n, ",\"payload\":\"");
    value.resize(kValueBytes - 2, 'x');
    value += "\"}";
    batch.push_back(Record{.key = absl::StrCat("customer-", n % 10'000),
                           .value = std::move(value),
                           .idempotency_key = idempotent ? absl::StrCat("req-", n) : ""});
  }
  return batch;
}

// One log and topic shared by the benchmark's threads.
struct Shared {
  std::unique_ptr<EventLog> log;
  std::string topic;
};
Shared* shared = nullptr;

// Arg 0: give every record an idempotency key (1) or not (0).
void BM_KafkaAppendBatch(benchmark::State& state) {
  const bool idempotent = state.range(0) != 0;
  if (state.thread_index() == 0) {
    shared = new Shared{.log = OpenOrDie(), .topic = UniqueTopic("append")};
    if (shared->log == nullptr || !shared->log->CreateTopic(shared->topic, kPartitions).ok()) {
      state.SkipWithError("no broker: set CUSTOPS_KAFKA_BOOTSTRAP (see the banner)");
    }
  }
  int64_t next = int64_t{state.thread_index()} << 40;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<Record> batch = MakeBatch(next, idempotent);
    state.ResumeTiming();
    absl::StatusOr<std::vector<AppendResult>> results =
        shared->log->Append(shared->topic, batch, {});
    if (!results.ok()) {
      state.SkipWithError(results.status().ToString().c_str());
      break;
    }
    next += kBatchSize;
  }
  state.SetItemsProcessed(state.iterations() * kBatchSize);
  state.SetBytesProcessed(state.iterations() * kBatchSize * kValueBytes);
  if (state.thread_index() == 0) {
    if (shared->log != nullptr) (void)shared->log->Close();
    delete shared;
    shared = nullptr;
  }
}
BENCHMARK(BM_KafkaAppendBatch)
    ->ArgNames({"idempotent"})
    ->Arg(0)
    ->Arg(1)
    ->Threads(1)
    ->Threads(4)
    ->UseRealTime()
    ->MinTime(3)
    ->Unit(benchmark::kMillisecond);

// Reads a pre-filled partition front to back, `range(0)` records per call.
void BM_KafkaRead(benchmark::State& state) {
  constexpr int kRecords = 100'000;
  const size_t max_records = static_cast<size_t>(state.range(0));
  std::unique_ptr<EventLog> log = OpenOrDie();
  const std::string topic = UniqueTopic("read");
  if (log == nullptr || !log->CreateTopic(topic, kPartitions).ok()) {
    state.SkipWithError("no broker: set CUSTOPS_KAFKA_BOOTSTRAP (see the banner)");
    return;
  }
  for (int64_t n = 0; n < kRecords; n += kBatchSize) {
    std::vector<Record> batch = MakeBatch(n, false);
    for (Record& record : batch) record.key = "one-partition";
    if (!log->Append(topic, batch, {}).ok()) std::abort();
  }
  const Partition filled = PartitionForKey("one-partition", kPartitions);
  int64_t offset = 0;
  int64_t records = 0;
  for (auto _ : state) {
    absl::StatusOr<std::vector<LogRecord>> batch =
        log->Read(topic, filled, Offset(offset), max_records);
    if (!batch.ok()) {
      state.SkipWithError(batch.status().ToString().c_str());
      break;
    }
    records += static_cast<int64_t>(batch->size());
    offset += static_cast<int64_t>(batch->size());
    if (offset >= kRecords) offset = 0;
  }
  state.SetItemsProcessed(records);
  (void)log->Close();
}
BENCHMARK(BM_KafkaRead)->Arg(500)->Arg(10'000)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace custops::log

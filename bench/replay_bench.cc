// Lifecycle projection replay from the embedded event log, on one core
// (budgets, docs/benchmarks.md: projection replay >= 300k events/s).
//
// Setup, once and outside every timed region: an embedded log (temporary
// directory, sync off, 12 partitions) filled through the in-process Ingestor
// with the synthetic population of common/workload.h (default 20k customers,
// ~300k events, customers interleaved by event time).
//
// BM_LifecycleReplay/max_batch:N  ProjectionRuntime::CatchUp() of the whole log
//     into a fresh state directory per iteration, with N records per batch
//     (20000 is what the runtime's catch-up uses by default).
//     Wall time; items_per_second is events/s, shown beside budget (300k).
// BM_ReplayBreakdown/stage:S  the same records through the projection's CPU
//     work without RocksDB (state in a hash map), cumulatively:
//     0 read the log, 1 + decode and validate, 2 + domain::Evolve,
//     3 + the re-index domain work per dirty customer and batch
//     (domain::Summarize), 4 + serialization of facts, index entry and
//     timeline entry. Replay minus stage 4 is the RocksDB (state store)
//     share. customers/batch: distinct customers a batch touches (each is
//     re-summarized and rewritten once per batch).
//
// Run (Release build, nothing else busy):
//   cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release && ninja -C build replay_bench
//   build/bench/replay_bench --customers=20000 --benchmark_counters_tabular=true
// Profile the replay alone:
//   perf record -g build/bench/replay_bench --benchmark_filter='BM_LifecycleReplay/max_batch:1000'
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/tool.h"
#include "common/workload.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/process.h"
#include "custops/domain/lifecycle.h"
#include "custops/event/validate.h"
#include "custops/ingest/ingest_service.h"
#include "custops/lifecycle/lifecycle_projection.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"

namespace custops::bench {
namespace {

constexpr double kBudgetEventsPerSecond = 300'000;
constexpr int kPartitions = 12;
constexpr size_t kFillBatch = 500;

int64_t g_customers = 20'000;

// The filled log, shared by every benchmark of the run; main() makes it
// before the benchmarks and destroys it (and its directory) afterwards.
class Population {
 public:
  explicit Population(int64_t customers);

  static Population& Get() { return *instance; }
  static std::unique_ptr<Population> instance;

  log::EventLog& log() { return *log_; }
  const base::Clock& clock() const { return clock_; }
  int64_t events() const { return events_; }
  const std::string& dir() const { return dir_.path(); }

 private:
  TempDir dir_;
  base::SimulatedClock clock_;
  std::unique_ptr<log::EventLog> log_;
  int64_t events_ = 0;
};

std::unique_ptr<Population> Population::instance;

Population::Population(int64_t customers)
    : dir_("custops-replay-bench"), clock_(absl::FromUnixSeconds(1735689600)) {
  const absl::Time start = absl::Now();
  const WorkloadOptions workload{.id_prefix = "replay", .end = clock_.Now()};
  const std::vector<v1::Event> events = GenerateCustomers(workload, 0, customers);
  auto opened =
      log::EmbeddedEventLog::Open({.path = dir_.path() + "/log", .sync = false, .clock = &clock_});
  CHECK(opened.ok()) << opened.status();
  log_ = std::move(opened).value();
  for (std::string_view topic :
       {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
    CHECK(log_->CreateTopic(topic, kPartitions).ok());
  }
  ingest::Ingestor ingestor(*log_, clock_, {});
  for (size_t i = 0; i < events.size(); i += kFillBatch) {
    v1::AppendRequest request;
    for (size_t j = i; j < std::min(events.size(), i + kFillBatch); ++j) {
      *request.add_events() = events[j];
    }
    auto response = ingestor.Append(request);
    CHECK(response.ok()) << response.status();
  }
  events_ = static_cast<int64_t>(events.size());
  std::cerr << "population: " << customers << " customers, " << DescribeMix(events) << "\n"
            << "filled " << kPartitions << " partitions in "
            << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
            << " (outside the timed region)\n";
}

void ReportRate(benchmark::State& state, int64_t events) {
  const auto total = static_cast<double>(events) * static_cast<double>(state.iterations());
  state.SetItemsProcessed(static_cast<int64_t>(total));
  state.counters["budget"] = kBudgetEventsPerSecond;
  state.SetLabel(absl::StrCat("budget >= 300k events/s; ", events, " events"));
}

void BM_LifecycleReplay(benchmark::State& state) {
  Population& population = Population::Get();
  const auto max_batch = static_cast<size_t>(state.range(0));
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    {
      auto rt = projection::ProjectionRuntime::Open(
          population.log(),
          std::make_unique<lifecycle::LifecycleProjection>(domain::LifecycleRules()),
          {.path = absl::StrCat(population.dir(), "/state-", max_batch, "-", run++),
           .max_batch = max_batch,
           .clock = &population.clock(),
           // Batches of N throughout (a full batch would otherwise switch
           // to restore_batch, RuntimeOptions::max_batch): max_batch:100000
           // is the lifecycle's catch-up (lifecycle::kCatchUpBatch),
           // max_batch:20000 the runtime's default one.
           .restore_batch = max_batch});
      CHECK(rt.ok()) << rt.status();
      state.ResumeTiming();
      absl::StatusOr<int64_t> consumed = (*rt)->CatchUp();
      state.PauseTiming();
      CHECK(consumed.ok()) << consumed.status();
      CHECK(*consumed == population.events()) << *consumed << " of " << population.events();
      const projection::RuntimeStats stats = (*rt)->Stats();
      state.counters["noops"] = static_cast<double>(stats.noops);
      state.counters["dead_letters"] = static_cast<double>(stats.dead_letters);
      state.counters["changes"] = static_cast<double>(stats.changes_emitted);
    }
    std::error_code ignored;
    std::filesystem::remove_all(absl::StrCat(population.dir(), "/state-", max_batch, "-", run - 1),
                                ignored);
    state.ResumeTiming();
  }
  ReportRate(state, population.events());
}
BENCHMARK(BM_LifecycleReplay)
    ->ArgName("max_batch")
    ->Arg(100)
    ->Arg(1000)
    ->Arg(5000)
    ->Arg(20000)
    ->Arg(50000)
    ->Arg(static_cast<int64_t>(lifecycle::kCatchUpBatch))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime()
    ->MeasureProcessCPUTime();

// The projection's CPU work without the state store; see the file comment.
void BM_ReplayBreakdown(benchmark::State& state) {
  Population& population = Population::Get();
  const int stage = static_cast<int>(state.range(0));
  const auto max_batch = static_cast<size_t>(state.range(1));
  int64_t batches = 0;
  int64_t touched = 0;
  const domain::LifecycleRules rules;
  const absl::Time now = population.clock().Now();
  const event::ValidationOptions validation;
  size_t bytes = 0;
  for (auto _ : state) {
    absl::flat_hash_map<std::string, internal::CustomerFacts> facts;
    for (int p = 0; p < kPartitions; ++p) {
      Offset from(0);
      while (true) {
        auto records = population.log().Read(log::kCustomerEvents, Partition(p), from, max_batch);
        CHECK(records.ok()) << records.status();
        if (records->empty()) break;
        from = records->back().offset.Next();
        if (stage < 1) continue;
        absl::flat_hash_set<std::string> dirty;
        v1::Event event;
        for (const log::LogRecord& r : *records) {
          event.Clear();
          CHECK(event.ParseFromString(r.value));
          CHECK(event::ValidateEvent(event, validation).ok());
          if (stage < 2) continue;
          (void)domain::Evolve(facts[event.customer_id()], event);
          dirty.insert(event.customer_id());
          if (stage >= 4) {
            v1::TimelineEntry entry;
            entry.mutable_position()->set_topic(std::string(log::kCustomerEvents));
            entry.mutable_position()->set_partition(p);
            entry.mutable_position()->set_offset(r.offset.value());
            *entry.mutable_event() = event;
            bytes += entry.SerializeAsString().size();
          }
        }
        ++batches;
        touched += static_cast<int64_t>(dirty.size());
        if (stage < 3) continue;
        for (const std::string& id : dirty) {
          const internal::CustomerFacts& f = facts[id];
          if (!domain::Exists(f)) continue;
          const domain::LifecycleSummary summary = domain::Summarize(f, now, rules);
          benchmark::DoNotOptimize(summary.stage);
          if (stage >= 4) {
            bytes += f.SerializeAsString().size();
            bytes += lifecycle::IndexEntryOf(summary).SerializeAsString().size();
          }
        }
      }
    }
  }
  benchmark::DoNotOptimize(bytes);
  ReportRate(state, population.events());
  if (stage >= 2 && batches > 0) {
    state.counters["customers/batch"] = static_cast<double>(touched) / static_cast<double>(batches);
  }
}
BENCHMARK(BM_ReplayBreakdown)
    ->ArgNames({"stage", "max_batch"})
    ->ArgsProduct({{0, 1, 2, 3, 4}, {1000}})
    ->Args({4, 100})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  // --customers=N is ours; everything else is Google Benchmark's.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--customers=")) {
      if (!absl::SimpleAtoi(std::string(arg.substr(12)), &custops::bench::g_customers) ||
          custops::bench::g_customers < 1) {
        std::cerr << "--customers: expected a positive count\n";
        return 2;
      }
      continue;
    }
    args.push_back(argv[i]);
  }
  int args_count = static_cast<int>(args.size());
  benchmark::Initialize(&args_count, args.data());
  if (benchmark::ReportUnrecognizedArguments(args_count, args.data())) return 2;
  std::vector<std::string> command = {argv[0],
                                      absl::StrCat("--customers=", custops::bench::g_customers)};
  for (int i = 1; i < argc; ++i) {
    if (!std::string_view(argv[i]).starts_with("--customers=")) command.emplace_back(argv[i]);
  }
  std::cerr
      << "machine: " << custops::bench::MachineDescription() << "\n"
      << "budget: projection replay >= 300k events/s on one core (budgets: docs/benchmarks.md)\n"
      << "reproduce: " << custops::bench::ShellJoin(command) << "\n";
  custops::bench::Population::instance =
      std::make_unique<custops::bench::Population>(custops::bench::g_customers);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  custops::bench::Population::instance.reset();
  return 0;
}

// The review (复盘) projection: replay throughput on one core, GetReview for a
// month by owner with 200 owners (budgets, docs/benchmarks.md: p99 <= 10 ms), and the
// worklist of an owner with 5k customers.
//
// Setup, once and outside every timed region: an embedded log (temporary
// directory, sync off, 12 partitions) filled through the in-process Ingestor
// with the synthetic population of common/workload.h: --customers (default
// 20k) spread over 200 owners, plus 5,000 customers of owner "rep-01" (who
// also has ~1/200 of the first group).
//
// BM_ReviewReplay        ProjectionRuntime::CatchUp() of the whole log into a
//                        fresh state directory: events/s on the apply thread.
// BM_GetReviewMonthByOwner  ReviewQueries::GetReview (in process, no gRPC) of
//                        the last full month for a random owner of the 200;
//                        p50/p99 from every call's latency.
// BM_GetReviewByOwner    the same for a week, a quarter and a year.
// BM_GetReviewMonthByOwnerHistory12  the same with history_periods 12 (a
//                        sparkline of every metric over the last 12 months).
// BM_CompareReviewMonthByOwner  ReviewQueries::CompareReview of the last full
//                        month by owner: every owner's row (the 200, rep-01
//                        among them), page size 1000; latency of the table.
// BM_WorklistOwner5k     ReviewQueries::Worklist for rep-01, page size 1000,
//                        every page (~5.1k customers).
//
// Run (Release build, nothing else busy):
//   cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release && ninja -C build review_bench
//   build/bench/review_bench --customers=20000 --benchmark_counters_tabular=true
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/tool.h"
#include "common/workload.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/process.h"
#include "custops/event/time.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/review/review_projection.h"

namespace custops::bench {
namespace {

constexpr int kPartitions = 12;
constexpr int kOwners = 200;
constexpr int64_t kWorklistCustomers = 5000;
int64_t g_customers = 20'000;

review::ReviewRules Rules() {
  review::ReviewRules rules;
  CHECK(absl::LoadTimeZone("Asia/Shanghai", &rules.zone));
  return rules;
}

class Population {
 public:
  explicit Population(int64_t customers)
      : dir_("custops-review-bench"), clock_(absl::FromUnixSeconds(1735689600)) {
    const absl::Time start = absl::Now();
    std::vector<v1::Event> events = GenerateCustomers(
        {.id_prefix = "rv", .end = clock_.Now(), .owners = kOwners}, 0, customers);
    std::vector<v1::Event> big = GenerateCustomers(
        {.seed = 7, .id_prefix = "wl", .end = clock_.Now(), .owners = 1}, 0, kWorklistCustomers);
    events.insert(events.end(), big.begin(), big.end());
    auto opened = log::EmbeddedEventLog::Open(
        {.path = dir_.path() + "/log", .sync = false, .clock = &clock_});
    CHECK(opened.ok()) << opened.status();
    log_ = std::move(opened).value();
    for (std::string_view topic :
         {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
      CHECK(log_->CreateTopic(topic, kPartitions).ok());
    }
    ingest::Ingestor ingestor(*log_, clock_, {});
    for (size_t i = 0; i < events.size(); i += 500) {
      v1::AppendRequest request;
      for (size_t j = i; j < std::min(events.size(), i + 500); ++j) {
        *request.add_events() = events[j];
      }
      auto response = ingestor.Append(request);
      CHECK(response.ok()) << response.status();
    }
    events_ = static_cast<int64_t>(events.size());
    std::cerr << "population: " << customers << " + " << kWorklistCustomers << " customers, "
              << DescribeMix(events) << "\nfilled in "
              << absl::FormatDuration(absl::Trunc(absl::Now() - start, absl::Milliseconds(1)))
              << " (outside the timed region)\n";
  }

  // The replayed state the query benches read (built on first use).
  review::ReviewQueries& Queries() {
    if (queries_ == nullptr) {
      auto rt = projection::ProjectionRuntime::Open(
          *log_, std::make_unique<review::ReviewProjection>(Rules()),
          {.path = dir_.path() + "/state-queries", .clock = &clock_});
      CHECK(rt.ok()) << rt.status();
      runtime_ = std::move(*rt);
      CHECK(runtime_->CatchUp().ok());
      queries_ = std::make_unique<review::ReviewQueries>(runtime_->store(), kPartitions, Rules(),
                                                         nullptr, "CNY");
    }
    return *queries_;
  }

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
  std::unique_ptr<projection::ProjectionRuntime> runtime_;
  std::unique_ptr<review::ReviewQueries> queries_;
};
std::unique_ptr<Population> Population::instance;

void BM_ReviewReplay(benchmark::State& state) {
  Population& population = *Population::instance;
  int run = 0;
  for (auto _ : state) {
    state.PauseTiming();
    const std::string path = absl::StrCat(population.dir(), "/state-replay-", run++);
    {
      auto rt = projection::ProjectionRuntime::Open(
          population.log(), std::make_unique<review::ReviewProjection>(Rules()),
          {.path = path, .clock = &population.clock()});
      CHECK(rt.ok()) << rt.status();
      state.ResumeTiming();
      absl::StatusOr<int64_t> consumed = (*rt)->CatchUp();
      state.PauseTiming();
      CHECK(consumed.ok()) << consumed.status();
      CHECK(*consumed == population.events());
      const projection::RuntimeStats stats = (*rt)->Stats();
      state.counters["noops"] = static_cast<double>(stats.noops);
      state.counters["dead_letters"] = static_cast<double>(stats.dead_letters);
      state.counters["changes"] = static_cast<double>(stats.changes_emitted);
    }
    std::error_code ignored;
    std::filesystem::remove_all(path, ignored);
    state.ResumeTiming();
  }
  state.SetItemsProcessed(population.events() * static_cast<int64_t>(state.iterations()));
  state.SetLabel(absl::StrCat(population.events(), " events"));
}
BENCHMARK(BM_ReviewReplay)->Unit(benchmark::kMillisecond)->UseRealTime()->Iterations(1);

void ReportLatency(benchmark::State& state, std::vector<absl::Duration>& samples) {
  std::sort(samples.begin(), samples.end());
  auto at = [&](double q) {
    return absl::ToDoubleMicroseconds(
        samples[std::min(samples.size() - 1, static_cast<size_t>(q * samples.size()))]);
  };
  state.counters["p50_us"] = at(0.50);
  state.counters["p99_us"] = at(0.99);
  state.counters["max_us"] = absl::ToDoubleMicroseconds(samples.back());
}

// Times GetReview(request(req)) once per iteration (`request` fills the
// request in place) and reports the latency percentiles.
template <typename Request>
void TimeGetReview(benchmark::State& state, Request request) {
  review::ReviewQueries& queries = Population::instance->Queries();
  std::vector<absl::Duration> samples;
  int64_t metrics = 0;
  for (auto _ : state) {
    v1::GetReviewRequest req;
    request(req);
    const absl::Time t0 = absl::Now();
    auto report = queries.GetReview(req);
    samples.push_back(absl::Now() - t0);
    CHECK(report.ok()) << report.status();
    metrics += report->metrics_size();
  }
  benchmark::DoNotOptimize(metrics);
  ReportLatency(state, samples);
}

void BM_GetReviewMonthByOwner(benchmark::State& state) {
  const absl::Time month = absl::FromCivil(absl::CivilMonth(2024, 11), absl::UTCTimeZone());
  std::mt19937 rng(1);
  TimeGetReview(state, [&](v1::GetReviewRequest& req) {
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = event::ToProto(month + absl::Hours(24 * 3));
    req.set_dimension(v1::DIMENSION_OWNER);
    req.set_dimension_value(absl::StrFormat("rep-%02d", 1 + static_cast<int>(rng() % kOwners)));
  });
  state.SetLabel("budget p99 <= 10 ms");
}
BENCHMARK(BM_GetReviewMonthByOwner)->Unit(benchmark::kMicrosecond)->Iterations(2000);

// GetReview by owner for a week, a quarter or a year: each period's own
// slices (docs/review.md "Slices"); the yardstick for a model that would roll
// them up from days and months at query time (docs/benchmarks.md "Issue 16,
// fourth pass").
void BM_GetReviewByOwner(benchmark::State& state) {
  const auto granularity = static_cast<v1::Granularity>(state.range(0));
  const absl::Time day = absl::FromCivil(absl::CivilDay(2024, 11, 4), absl::UTCTimeZone());
  std::mt19937 rng(1);
  TimeGetReview(state, [&](v1::GetReviewRequest& req) {
    req.set_granularity(granularity);
    *req.mutable_period_start() = event::ToProto(day);
    req.set_dimension(v1::DIMENSION_OWNER);
    req.set_dimension_value(absl::StrFormat("rep-%02d", 1 + static_cast<int>(rng() % kOwners)));
  });
  state.SetLabel(v1::Granularity_Name(granularity));
}
BENCHMARK(BM_GetReviewByOwner)
    ->Arg(v1::GRANULARITY_WEEK)
    ->Arg(v1::GRANULARITY_QUARTER)
    ->Arg(v1::GRANULARITY_YEAR)
    ->Unit(benchmark::kMicrosecond)
    ->Iterations(500);

// A tier's report: its members (ranked as of the period's start over
// rv_tier) and each member's day slices rolled up into the period.
void BM_GetReviewByTier(benchmark::State& state) {
  const auto granularity = static_cast<v1::Granularity>(state.range(0));
  const absl::Time day = absl::FromCivil(absl::CivilDay(2024, 11, 4), absl::UTCTimeZone());
  TimeGetReview(state, [&](v1::GetReviewRequest& req) {
    req.set_granularity(granularity);
    *req.mutable_period_start() = event::ToProto(day);
    req.set_dimension(v1::DIMENSION_TIER);
    req.set_dimension_value("GOLD");
  });
  state.SetLabel(absl::StrCat(v1::Granularity_Name(granularity), ", tier GOLD"));
}
BENCHMARK(BM_GetReviewByTier)
    ->Arg(v1::GRANULARITY_MONTH)
    ->Arg(v1::GRANULARITY_YEAR)
    ->Unit(benchmark::kMillisecond)
    ->Iterations(10);

void BM_GetReviewMonthByOwnerHistory12(benchmark::State& state) {
  review::ReviewQueries& queries = Population::instance->Queries();
  const absl::Time month = absl::FromCivil(absl::CivilMonth(2024, 11), absl::UTCTimeZone());
  std::mt19937 rng(1);
  std::vector<absl::Duration> samples;
  int64_t values = 0;
  for (auto _ : state) {
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = event::ToProto(month + absl::Hours(24 * 3));
    req.set_dimension(v1::DIMENSION_OWNER);
    req.set_dimension_value(absl::StrFormat("rep-%02d", 1 + static_cast<int>(rng() % kOwners)));
    req.set_history_periods(12);
    const absl::Time t0 = absl::Now();
    auto report = queries.GetReview(req);
    samples.push_back(absl::Now() - t0);
    CHECK(report.ok()) << report.status();
    for (const auto& m : report->metrics()) values += m.history_size();
  }
  benchmark::DoNotOptimize(values);
  ReportLatency(state, samples);
  state.SetLabel("12 months of every metric");
}
BENCHMARK(BM_GetReviewMonthByOwnerHistory12)->Unit(benchmark::kMicrosecond)->Iterations(500);

void BM_CompareReviewMonthByOwner(benchmark::State& state) {
  review::ReviewQueries& queries = Population::instance->Queries();
  const absl::Time month = absl::FromCivil(absl::CivilMonth(2024, 11), absl::UTCTimeZone());
  std::vector<absl::Duration> samples;
  int64_t rows = 0;
  for (auto _ : state) {
    v1::CompareReviewRequest req;
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = event::ToProto(month + absl::Hours(24 * 3));
    req.set_dimension(v1::DIMENSION_OWNER);
    req.set_page_size(1000);
    const absl::Time t0 = absl::Now();
    do {
      auto page = queries.CompareReview(req);
      CHECK(page.ok()) << page.status();
      rows += page->rows_size();
      req.set_page_token(page->next_page_token());
    } while (!req.page_token().empty());
    samples.push_back(absl::Now() - t0);
  }
  state.counters["rows_per_run"] =
      static_cast<double>(rows) / static_cast<double>(state.iterations());
  ReportLatency(state, samples);
  state.SetLabel("every owner's row, one page of 1000");
}
BENCHMARK(BM_CompareReviewMonthByOwner)->Unit(benchmark::kMillisecond)->Iterations(20);

void BM_WorklistOwner5k(benchmark::State& state) {
  review::ReviewQueries& queries = Population::instance->Queries();
  std::vector<absl::Duration> samples;
  int64_t items = 0;
  for (auto _ : state) {
    v1::WorklistRequest req;
    req.set_owner_id("rep-01");
    req.set_page_size(1000);
    const absl::Time t0 = absl::Now();
    do {
      auto page = queries.Worklist(req, Population::instance->clock().Now());
      CHECK(page.ok()) << page.status();
      items += page->items_size();
      req.set_page_token(page->next_page_token());
    } while (!req.page_token().empty());
    samples.push_back(absl::Now() - t0);
  }
  state.counters["items_per_run"] =
      static_cast<double>(items) / static_cast<double>(state.iterations());
  ReportLatency(state, samples);
  state.SetLabel("rep-01: ~5.1k customers, every page of 1000");
}
BENCHMARK(BM_WorklistOwner5k)->Unit(benchmark::kMillisecond)->Iterations(20);

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg.starts_with("--customers=")) {
      CHECK(absl::SimpleAtoi(std::string(arg.substr(12)), &custops::bench::g_customers));
      for (int j = i; j + 1 < argc; ++j) argv[j] = argv[j + 1];
      --argc;
      --i;
    }
  }
  benchmark::Initialize(&argc, argv);
  custops::bench::Population::instance =
      std::make_unique<custops::bench::Population>(custops::bench::g_customers);
  benchmark::RunSpecifiedBenchmarks();
  custops::bench::Population::instance.reset();
  benchmark::Shutdown();
  return 0;
}

// value_bench: the value projection (services/value) on one core — replay
// of the full CDNOW log (69,659 purchases) and of a synthetic population
// (common/workload.h), the time to bring population scores up to date after
// a change, the CLV refit, and in-process GetValue / TierSummary latency
// under closed-loop load from several threads.
//
// Setup outside every timed region: an embedded log (temporary directory,
// sync off, 12 partitions) filled in bulk (BulkFill: EventLog::Append in
// large batches, no idempotency keys); the synthetic population is generated
// and appended 20,000 customers at a time, never held whole.
// Timed:
//   replay        ProjectionRuntime::CatchUp() into a fresh state directory:
//                 apply + commit of every event, then one tick (the first
//                 population snapshot, the first CLV fit, and the first
//                 publication of every customer's tier/segment).
//   refresh       ValueQueries::RefreshAt: the whole population re-evaluated
//                 (RFM quintiles, ABC, tiers, cost to serve, loyalty, CLV
//                 predictions) from the stored facts.
//   refit         ValueQueries::Refit at the clock's now: BG/NBD + Gamma-Gamma
//                 fitted on the population at that instant, which becomes the
//                 "now" snapshot (one evaluation).
//   after change  one purchase appended, then CatchUp(): apply, refresh and
//                 publication of the changed tiers/segments.
//   queries       --threads threads for --query-seconds each: GetValue of a
//                 random customer from the "now" snapshot, TierSummary by
//                 REGION, and GetValue at an explicit as_of (cached snapshot).
//
// Memory: RSS (VmRSS) before the replay, after it, and at the end, with the
// peak (VmHWM) reset after the fill: the whole process — both RocksDB
// databases (log and state: memtables, block caches), the snapshots.
//
//   cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release && ninja -C build value_bench
//   build/bench/value_bench --cdnow .cache/data/cdnow/CDNOW_master.txt --customers 100000
//   build/bench/value_bench --customers 1000000   # ~17M events (history of 1095 days)
#include <grpcpp/grpcpp.h>
#include <malloc.h>
#include <time.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <random>
#include <thread>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "common/latency.h"
#include "common/tool.h"
#include "common/workload.h"
#include "custops/base/check.h"
#include "custops/base/clock.h"
#include "custops/base/process.h"
#include "custops/cdnow/cdnow.h"
#include "custops/event/time.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/value.grpc.pb.h"
#include "custops/value/value_projection.h"
#include "custops/value/value_service.h"

// jemalloc's control call when the binary is linked with it (docs/operations.md
// "Memory allocator"), else null.
extern "C" int mallctl(const char* name, void* oldp, size_t* oldlenp, void* newp, size_t newlen)
    __attribute__((weak));

namespace custops::bench {
namespace {

constexpr int kPartitions = 12;

struct Flags {
  std::string cdnow;
  int64_t customers = 100'000;
  double query_seconds = 3;
  int threads = 2;
  int64_t span_days = 1095;
  size_t fill_batch = 20'000;
};

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

// CPU seconds of the calling thread (the evaluations run on it; RocksDB's
// background compactions do not count).
double ThreadCpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// Bytes of resident memory (VmRSS) and its peak since the last reset
// (VmHWM), from /proc/self/status.
struct Rss {
  int64_t now = 0, peak = 0;
};
Rss ReadRss() {
  Rss r;
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    int64_t kb = 0;
    if (std::sscanf(line.c_str(), "VmRSS: %ld kB", &kb) == 1) r.now = kb << 10;
    if (std::sscanf(line.c_str(), "VmHWM: %ld kB", &kb) == 1) r.peak = kb << 10;
  }
  return r;
}
// Returns freed heap to the system and restarts the peak (Linux
// /proc/self/clear_refs "5"), so the peak covers what follows only.
void ResetRss() {
  if (mallctl != nullptr) {
    // Every arena (MALLCTL_ARENAS_ALL) gives its unused pages back.
    mallctl("arena.4096.purge", nullptr, nullptr, nullptr, 0);
  } else {
    malloc_trim(0);
  }
  std::ofstream("/proc/self/clear_refs") << "5";
}
std::string MiB(int64_t bytes) {
  return absl::StrFormat("%.0f MiB", static_cast<double>(bytes) / (1 << 20));
}

// The setup's bulk fill: events go straight into the embedded log with
// EventLog::Append in batches of --fill-batch records, sync off, no
// idempotency keys and no validation (the runtime validates each record as
// it applies it, as always). The Ingestor does more per event (validation,
// an idempotency lookup per record, a consistency token per call) and is
// measured by ingest_load; here it would only make the setup slow.
class BulkFill {
 public:
  BulkFill(log::EventLog& log, absl::Time recorded_at, size_t batch)
      : log_(log), recorded_at_(event::ToProto(recorded_at)), batch_(batch) {
    records_.reserve(batch_);
  }
  ~BulkFill() { Flush(); }
  void Add(v1::Event& e) {
    *e.mutable_recorded_at() = recorded_at_;
    records_.push_back({.key = e.customer_id(), .value = e.SerializeAsString()});
    ++mix_[e.payload_case()];
    if (records_.size() >= batch_) Flush();
  }
  void Flush() {
    if (records_.empty()) return;
    auto results = log_.Append(log::kCustomerEvents, records_, {.sync = false});
    CHECK(results.ok()) << results.status();
    appended_ += static_cast<int64_t>(records_.size());
    records_.clear();
  }
  int64_t appended() const { return appended_; }
  // "N events: 31.0% visit_logged, ..." (largest first).
  std::string Mix() const {
    std::vector<std::pair<int64_t, std::string>> sorted;
    int64_t total = 0;
    for (const auto& [c, n] : mix_) {
      const auto* field = v1::Event::descriptor()->FindFieldByNumber(c);
      sorted.emplace_back(n, field != nullptr ? field->name() : "none");
      total += n;
    }
    std::sort(sorted.rbegin(), sorted.rend());
    std::string out = absl::StrCat(total, " events:");
    for (const auto& [n, name] : sorted) {
      absl::StrAppend(&out, absl::StrFormat(" %s %.1f%%", name,
                                            100.0 * static_cast<double>(n) /
                                                static_cast<double>(std::max<int64_t>(1, total))));
    }
    return out;
  }

 private:
  log::EventLog& log_;
  const google::protobuf::Timestamp recorded_at_;
  const size_t batch_;
  std::vector<log::Record> records_;
  int64_t appended_ = 0;
  std::map<int, int64_t> mix_;
};

// Fills the log through a BulkFill.
using FillFn = std::function<void(BulkFill&)>;

void RunPopulation(const std::string& name, const FillFn& fill, absl::Time now,
                   const Flags& flags) {
  TempDir dir(absl::StrCat("custops-value-bench-", name));
  base::SimulatedClock clock(now);
  auto log =
      log::EmbeddedEventLog::Open({.path = dir.path() + "/log", .sync = false, .clock = &clock})
          .value();
  for (std::string_view topic :
       {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
    CHECK(log->CreateTopic(topic, kPartitions).ok());
  }
  int64_t filled = 0;
  {
    const absl::Time f0 = absl::Now();
    BulkFill filler(*log, now, flags.fill_batch);
    fill(filler);
    filler.Flush();
    filled = filler.appended();
    const absl::Duration took = absl::Now() - f0;
    std::cout << absl::StrFormat("%s: log filled in %s (%.0f events/s, setup, not timed): %s\n",
                                 name, FormatLatency(took),
                                 static_cast<double>(filled) / Seconds(took), filler.Mix());
  }
  ResetRss();
  const Rss rss_before = ReadRss();
  value::ValueRules rules;
  value::ValueQueries queries(rules, clock);
  auto rt = projection::ProjectionRuntime::Open(
                *log, std::make_unique<value::ValueProjection>(rules, queries),
                {.path = dir.path() + "/state", .clock = &clock})
                .value();
  queries.SetPositions([r = rt.get()] { return r->AppliedOffsets(); });

  const double cpu0 = ProcessCpuSeconds(), thread_cpu0 = ThreadCpuSeconds();
  absl::Time t0 = absl::Now();
  const int64_t consumed = rt->CatchUp().value();
  const absl::Duration replay = absl::Now() - t0;
  const double replay_cpu = ProcessCpuSeconds() - cpu0;
  const double replay_thread_cpu = ThreadCpuSeconds() - thread_cpu0;
  CHECK(consumed == filled);
  const Rss rss_replay = ReadRss();
  std::shared_ptr<const value::Population> pop = queries.Latest();
  const projection::RuntimeStats stats = rt->Stats();

  // CPU seconds of this thread beside each wall time: the code timed runs on
  // it, so on a loaded machine the CPU time is the steadier figure.
  double c0 = ThreadCpuSeconds();
  t0 = absl::Now();
  CHECK(queries.RefreshAt(now).ok());
  const absl::Duration refresh = absl::Now() - t0;
  const double refresh_cpu = ThreadCpuSeconds() - c0;

  clock.Advance(absl::Hours(1));
  c0 = ThreadCpuSeconds();
  t0 = absl::Now();
  auto model = queries.Refit(clock.Now());
  const absl::Duration refit = absl::Now() - t0;
  const double refit_cpu = ThreadCpuSeconds() - c0;
  CHECK(model.ok()) << model.status();

  // One purchase by the smallest customer, then apply + refresh + publish.
  const std::string changed = pop->customers.front().customer_id;
  v1::Event purchase;
  purchase.set_event_id(absl::StrCat("bench-change-", name));
  purchase.set_customer_id(changed);
  *purchase.mutable_occurred_at() = event::ToProto(clock.Now() - absl::Minutes(1));
  v1::ContractSigned* c = purchase.mutable_contract_signed();
  c->set_contract_id("bench-change");
  c->mutable_amount()->set_units(int64_t{1} << 50);  // beyond anyone's margin
  c->mutable_amount()->set_currency("CNY");
  *c->mutable_start() = purchase.occurred_at();
  *c->mutable_end() = event::ToProto(clock.Now() + absl::Hours(24 * 365));
  {
    ingest::Ingestor ingestor(*log, clock, {});
    v1::AppendRequest request;
    *request.add_events() = purchase;
    CHECK(ingestor.Append(request).ok());
  }
  clock.Advance(absl::Seconds(1));
  const int64_t changes_before = rt->Stats().changes_emitted;
  c0 = ThreadCpuSeconds();
  t0 = absl::Now();
  CHECK(rt->CatchUp().value() == 1);
  const absl::Duration after_change = absl::Now() - t0;
  const double after_change_cpu = ThreadCpuSeconds() - c0;
  const int64_t changes_after = rt->Stats().changes_emitted - changes_before;
  const v1::ValueView after = queries.GetValue(changed, std::nullopt, {}).value();
  CHECK(after.tier() == v1::TIER_DIAMOND)
      << after.DebugString() << rt->Stats().dead_letters << " " << rt->Stats().noops;

  std::cout << absl::StrFormat(
      "%s: %d customers, %d events\n"
      "  replay          %s  %.0f events/s (wall), %.0f events/s per CPU second "
      "(%.0f per CPU second of the applying thread) [apply %s in %d batches + first tick]\n"
      "  refresh         %s  %.2f CPU s  (population snapshot: %d customers, %d scored)\n"
      "  refit           %s  %.2f CPU s  (BG/NBD + Gamma-Gamma on %d customers: the new "
      "\"now\" snapshot)\n"
      "  after change    %s  %.2f CPU s  (1 purchase: apply, refresh, %d derived changes "
      "published)\n",
      name, pop->customers.size(), filled, FormatLatency(replay),
      static_cast<double>(filled) / Seconds(replay), static_cast<double>(filled) / replay_cpu,
      static_cast<double>(filled) / replay_thread_cpu, FormatLatency(stats.apply_time),
      stats.batches, FormatLatency(refresh), refresh_cpu, pop->customers.size(), pop->scored,
      FormatLatency(refit), refit_cpu, model->customers(), FormatLatency(after_change),
      after_change_cpu, changes_after);

  std::cout << absl::StrFormat(
      "  memory          RSS %s before replay (log open, filled), %s after replay and first "
      "tick, peak %s during them\n",
      MiB(rss_before.now), MiB(rss_replay.now), MiB(rss_replay.peak));

  // Queries from the "now" snapshot (fresh: nothing applied since).
  std::vector<std::string> ids;
  pop = queries.Latest();
  for (const auto& cv : pop->customers) ids.push_back(cv.customer_id);
  const absl::Time as_of = clock.Now() - absl::Hours(24 * 30);
  CHECK(queries.At(as_of).ok());  // warm the as_of cache (timed separately below)
  LatencyHistogram get_now, summary, get_at;
  auto load = [&](int kind, LatencyHistogram& h) {
    std::vector<std::thread> threads;
    for (int t = 0; t < flags.threads; ++t) {
      threads.emplace_back([&, t] {
        std::mt19937_64 rng(t + 1);
        const absl::Time end = absl::Now() + absl::Seconds(flags.query_seconds);
        int64_t n = 0;
        while (absl::Now() < end) {
          const std::string& id = ids[rng() % ids.size()];
          const absl::Time s = absl::Now();
          if (kind == 0) {
            CHECK(queries.GetValue(id, std::nullopt, {}).ok());
          } else if (kind == 1) {
            CHECK(queries
                      .TierSummary(++n % 2 ? v1::DIMENSION_REGION : v1::DIMENSION_ALL, std::nullopt,
                                   {})
                      .ok());
          } else {
            CHECK(queries.GetValue(id, as_of, {}).ok());
          }
          h.Record(absl::Now() - s);
        }
      });
    }
    for (auto& t : threads) t.join();
  };
  load(0, get_now);
  load(1, summary);
  load(2, get_at);
  auto line = [&](const char* what, const LatencyHistogram& h) {
    std::cout << absl::StrFormat("  %-28s %8.0f /s  %s\n", what,
                                 static_cast<double>(h.Count()) / flags.query_seconds,
                                 h.Summary({50, 99, 99.9}));
  };
  line("GetValue (now)", get_now);
  line("TierSummary (now)", summary);
  line("GetValue (as_of, cached)", get_at);
  // The same over gRPC/TCP on loopback: a server with the Value service,
  // synchronous clients (one channel per thread), closed loop.
  {
    value::ValueService service(*rt, queries, clock);
    rpc::MethodTable methods;
    service.Register(methods);
    rpc::Gateway gateway(methods, /*verifier=*/nullptr, {});
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    for (grpc::Service* s : gateway.services()) builder.RegisterService(s);
    std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
    CHECK(server != nullptr && port != 0);
    LatencyHistogram rpc_get, rpc_summary;
    for (int kind : {0, 1}) {
      LatencyHistogram& h = kind == 0 ? rpc_get : rpc_summary;
      std::vector<std::thread> threads;
      for (int t = 0; t < flags.threads; ++t) {
        threads.emplace_back([&, t] {
          grpc::ChannelArguments args;
          args.SetInt("custops.bench.channel", t);  // a channel (connection) per thread
          auto stub = v1::Value::NewStub(grpc::CreateCustomChannel(
              absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials(), args));
          std::mt19937_64 rng(t + 11);
          const absl::Time end = absl::Now() + absl::Seconds(flags.query_seconds);
          while (absl::Now() < end) {
            grpc::ClientContext ctx;
            const absl::Time s = absl::Now();
            grpc::Status status;
            if (kind == 0) {
              v1::GetValueRequest req;
              req.set_customer_id(ids[rng() % ids.size()]);
              v1::ValueView view;
              status = stub->GetValue(&ctx, req, &view);
            } else {
              v1::TierSummaryRequest req;
              req.set_dimension(v1::DIMENSION_REGION);
              v1::TierSummaryResponse resp;
              status = stub->TierSummary(&ctx, req, &resp);
            }
            h.Record(absl::Now() - s);
            CHECK(status.ok()) << status.error_message();
          }
        });
      }
      for (auto& t : threads) t.join();
    }
    line("gRPC GetValue (now)", rpc_get);
    line("gRPC TierSummary REGION (now)", rpc_summary);
    server->Shutdown();
  }
  c0 = ThreadCpuSeconds();
  t0 = absl::Now();
  CHECK(queries.At(as_of - absl::Hours(24)).ok());
  std::cout << "  GetValue at a new as_of (population + fit at that instant): "
            << FormatLatency(absl::Now() - t0)
            << absl::StrFormat(" (%.2f CPU s)\n", ThreadCpuSeconds() - c0);
  const Rss rss_end = ReadRss();
  std::cout << absl::StrFormat("  memory at end   RSS %s, peak %s since the fill\n",
                               MiB(rss_end.now), MiB(rss_end.peak));
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  using namespace custops;
  bench::Flags flags;
  CLI::App app{"value projection replay, refresh, refit and query latency"};
  app.add_option("--cdnow", flags.cdnow, "CDNOW_master.txt (skipped when empty)");
  app.add_option("--customers", flags.customers, "synthetic customers (0 = skip)");
  app.add_option("--query-seconds", flags.query_seconds, "seconds per query kind");
  app.add_option("--threads", flags.threads, "query threads");
  app.add_option("--span-days", flags.span_days,
                 "synthetic history length in days (1095: ~20 events per customer)");
  app.add_option("--fill-batch", flags.fill_batch, "records per Append of the setup's bulk fill");
  CLI11_PARSE(app, argc, argv);
  std::cout << bench::MachineDescription() << "\n"
            << "reproduce: " << bench::ShellJoin({argv, argv + argc}) << "\n";
  if (!flags.cdnow.empty()) {
    std::ifstream in(flags.cdnow);
    CHECK(in) << "cannot read " << flags.cdnow;
    cdnow::CdnowImport imp = cdnow::ParseCdnow(in, {});
    CHECK(imp.unmapped.empty());
    bench::RunPopulation(
        "cdnow",
        [&](bench::BulkFill& fill) {
          for (v1::Event& e : imp.events) fill.Add(e);
        },
        absl::FromCivil(absl::CivilDay(1998, 7, 1), absl::UTCTimeZone()), flags);
  }
  if (flags.customers > 0) {
    const absl::Time end = absl::FromUnixSeconds(1735689600);
    const bench::WorkloadOptions w{
        .id_prefix = "vb", .end = end, .span = absl::Hours(24 * flags.span_days)};
    // Generated 20,000 customers at a time (each chunk in event time order,
    // as GenerateCustomers orders it) on a second thread while the previous
    // chunk is appended, so the population is never held in memory whole.
    bench::RunPopulation(
        "synthetic",
        [&](bench::BulkFill& fill) {
          static constexpr int64_t kChunk = 20'000;
          auto generate = [&](int64_t first) {
            return std::async(std::launch::async, [&w, first, n = flags.customers] {
              return bench::GenerateCustomers(w, first, std::min(kChunk, n - first));
            });
          };
          std::future<std::vector<v1::Event>> next = generate(0);
          for (int64_t first = 0; first < flags.customers; first += kChunk) {
            std::vector<v1::Event> chunk = next.get();
            if (first + kChunk < flags.customers) next = generate(first + kChunk);
            for (v1::Event& e : chunk) fill.Add(e);
          }
        },
        end, flags);
  }
  return 0;
}

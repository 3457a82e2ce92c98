// value_bench: the value projection (services/value) on one core — replay
// of the full CDNOW log (69,659 purchases) and of a synthetic population
// (common/workload.h), the time to bring population scores up to date after
// a change, the CLV refit, and in-process GetValue / TierSummary latency
// under closed-loop load from several threads.
//
// Setup outside every timed region: an embedded log (temporary directory,
// sync off, 12 partitions) filled through the in-process Ingestor.
// Timed:
//   replay        ProjectionRuntime::CatchUp() into a fresh state directory:
//                 apply + commit of every event, then one tick (the first
//                 population snapshot, the first CLV fit, and the first
//                 publication of every customer's tier/segment).
//   refresh       ValueQueries::RefreshAt: the whole population re-evaluated
//                 (RFM quintiles, ABC, tiers, cost to serve, loyalty, CLV
//                 predictions) from the stored facts.
//   refit         ValueQueries::Refit: BG/NBD + Gamma-Gamma fitted on the
//                 population at a new as_of, then a refresh.
//   after change  one purchase appended, then CatchUp(): apply, refresh and
//                 publication of the changed tiers/segments.
//   queries       --threads threads for --query-seconds each: GetValue of a
//                 random customer from the "now" snapshot, TierSummary by
//                 REGION, and GetValue at an explicit as_of (cached snapshot).
//
//   cmake -G Ninja -S . -B build -DCMAKE_BUILD_TYPE=Release && ninja -C build value_bench
//   build/bench/value_bench --cdnow ../shared/data/cdnow/CDNOW_master.txt --customers 100000
#include <grpcpp/grpcpp.h>

#include <fstream>
#include <iostream>
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
#include "custops/cdnow/cdnow.h"
#include "custops/event/time.h"
#include "custops/ingest/ingest_service.h"
#include "custops/log/embedded_event_log.h"
#include "custops/projection/runtime.h"
#include "custops/v1/value.grpc.pb.h"
#include "custops/value/value_projection.h"
#include "custops/value/value_service.h"

namespace custops::bench {
namespace {

constexpr int kPartitions = 12;

struct Flags {
  std::string cdnow;
  int64_t customers = 100'000;
  double query_seconds = 3;
  int threads = 2;
};

double Seconds(absl::Duration d) { return absl::ToDoubleSeconds(d); }

void RunPopulation(const std::string& name, const std::vector<v1::Event>& events, absl::Time now,
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
  {
    ingest::Ingestor ingestor(*log, clock, {});
    for (size_t i = 0; i < events.size(); i += 500) {
      v1::AppendRequest request;
      for (size_t j = i; j < std::min(events.size(), i + 500); ++j)
        *request.add_events() = events[j];
      auto response = ingestor.Append(request);
      CHECK(response.ok()) << response.status();
    }
  }
  value::ValueRules rules;
  value::ValueQueries queries(rules, clock);
  auto rt = projection::ProjectionRuntime::Open(
                *log, std::make_unique<value::ValueProjection>(rules, queries),
                {.path = dir.path() + "/state", .clock = &clock})
                .value();
  queries.SetPositions([r = rt.get()] { return r->AppliedOffsets(); });

  const double cpu0 = ProcessCpuSeconds();
  absl::Time t0 = absl::Now();
  const int64_t consumed = rt->CatchUp().value();
  const absl::Duration replay = absl::Now() - t0;
  const double replay_cpu = ProcessCpuSeconds() - cpu0;
  CHECK(consumed == static_cast<int64_t>(events.size()));
  std::shared_ptr<const value::Population> pop = queries.Latest();
  const projection::RuntimeStats stats = rt->Stats();

  t0 = absl::Now();
  CHECK(queries.RefreshAt(now).ok());
  const absl::Duration refresh = absl::Now() - t0;

  clock.Advance(absl::Hours(1));
  t0 = absl::Now();
  auto model = queries.Refit(clock.Now());
  const absl::Duration refit = absl::Now() - t0;
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
  t0 = absl::Now();
  CHECK(rt->CatchUp().value() == 1);
  const absl::Duration after_change = absl::Now() - t0;
  const int64_t changes_after = rt->Stats().changes_emitted - changes_before;
  const v1::ValueView after = queries.GetValue(changed, std::nullopt, {}).value();
  CHECK(after.tier() == v1::TIER_DIAMOND)
      << after.DebugString() << rt->Stats().dead_letters << " " << rt->Stats().noops;

  std::cout << absl::StrFormat(
      "%s: %d customers, %d events\n"
      "  replay          %s  %.0f events/s (wall), %.0f events/s per CPU second "
      "[apply %s in %d batches + first tick]\n"
      "  refresh         %s  (population snapshot: %d customers, %d scored)\n"
      "  refit           %s  (BG/NBD + Gamma-Gamma on %d customers, then a refresh)\n"
      "  after change    %s  (1 purchase: apply, refresh, %d derived changes published)\n",
      name, pop->customers.size(), events.size(), FormatLatency(replay),
      static_cast<double>(events.size()) / Seconds(replay),
      static_cast<double>(events.size()) / replay_cpu, FormatLatency(stats.apply_time),
      stats.batches, FormatLatency(refresh), pop->customers.size(), pop->scored,
      FormatLatency(refit), model->customers(), FormatLatency(after_change), changes_after);

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
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&service);
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
  t0 = absl::Now();
  CHECK(queries.At(as_of - absl::Hours(24)).ok());
  std::cout << "  GetValue at a new as_of (population + fit at that instant): "
            << FormatLatency(absl::Now() - t0) << "\n";
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  using namespace custops;
  bench::Flags flags;
  CLI::App app{"value projection replay, refresh, refit and query latency"};
  app.add_option("--cdnow", flags.cdnow, "CDNOW_master.txt (skipped when empty)");
  app.add_option("--customers", flags.customers, "synthetic customers (0 = skip)");
  app.add_option("--query-seconds", flags.query_seconds, "seconds per query kind");
  app.add_option("--threads", flags.threads, "query threads");
  CLI11_PARSE(app, argc, argv);
  std::cout << bench::MachineDescription() << "\n"
            << "reproduce: " << bench::ShellJoin({argv, argv + argc}) << "\n";
  if (!flags.cdnow.empty()) {
    std::ifstream in(flags.cdnow);
    CHECK(in) << "cannot read " << flags.cdnow;
    cdnow::CdnowImport imp = cdnow::ParseCdnow(in, {});
    CHECK(imp.unmapped.empty());
    bench::RunPopulation("cdnow", imp.events,
                         absl::FromCivil(absl::CivilDay(1998, 7, 1), absl::UTCTimeZone()), flags);
  }
  if (flags.customers > 0) {
    const absl::Time end = absl::FromUnixSeconds(1735689600);
    const bench::WorkloadOptions w{.id_prefix = "vb", .end = end};
    std::vector<v1::Event> events = bench::GenerateCustomers(w, 0, flags.customers);
    std::cout << "synthetic mix: " << bench::DescribeMix(events) << "\n";
    bench::RunPopulation("synthetic", events, end, flags);
  }
  return 0;
}

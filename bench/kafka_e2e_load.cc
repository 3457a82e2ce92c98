// Distributed mode end to end (budgets, docs/benchmarks.md: >= 100k events/s with the
// broker on loopback; event -> query p99 <= 250 ms): appends the demo history
// through an ingest process with several parallel streams (one customer's
// events stay in one stream, in order), waits until the projection instances
// have applied everything, then measures freshness: one event appended, then
// GetCustomer with its consistency token through a projection instance (which
// forwards to the owner); the time from the Append call to the answer.
//
// Run with bench/kafka_e2e.sh (starts a broker, ingest and two projection
// instances, then this tool; also measures a partition move and restore).
//   build/bench/kafka_e2e_load --ingest 127.0.0.1:50051
//       --query 127.0.0.1:50061,127.0.0.1:50062 --events 200000
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <iostream>
#include <map>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/latency.h"
#include "common/tool.h"
#include "custops/demo/demo.h"
#include "custops/event/time.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"

namespace custops::bench {
namespace {

std::shared_ptr<grpc::Channel> Channel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// Appends with retries (same event ids: what landed is not appended twice).
bool Append(v1::EventIngest::Stub& stub, const v1::AppendRequest& request,
            v1::AppendResponse* response) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    const grpc::Status s = stub.Append(&ctx, request, response);
    if (s.ok()) return true;
    std::cerr << "append: " << s.error_message() << " (retrying)\n";
    absl::SleepFor(absl::Milliseconds(200));
  }
  return false;
}

// Records applied by the owners, summed over the instances (-1 while some
// partition is unowned or restoring, or some instance owns none: the group
// is still balancing).
int64_t Applied(const std::vector<std::unique_ptr<v1::Admin::Stub>>& admins) {
  int64_t applied = 0;
  int owned = 0;
  for (const std::unique_ptr<v1::Admin::Stub>& stub : admins) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::StatusResponse status;
    if (!stub->Status(&ctx, v1::StatusRequest(), &status).ok() || status.projections_size() == 0) {
      return -1;
    }
    int mine = 0;
    for (const v1::PartitionStatus& p : status.projections(0).partitions()) {
      if (!p.owned()) continue;
      if (p.restoring()) return -1;
      ++mine;
      applied += p.applied_offset();
    }
    if (mine == 0) return -1;
    owned += mine;
  }
  return owned == 12 ? applied : -1;
}

int Run(int argc, char** argv) {
  CLI::App cli{"custops distributed-mode load: throughput and event -> query freshness"};
  std::string ingest, query;
  int64_t events_wanted = 200'000;
  int parallel = 4, batch = 500, samples = 300;
  cli.add_option("--ingest", ingest, "EventIngest address")->required();
  cli.add_option("--query", query, "Projection instances, comma-separated")->required();
  cli.add_option("--events", events_wanted, "Events to append")->capture_default_str();
  cli.add_option("--parallel", parallel, "Append streams")->capture_default_str();
  cli.add_option("--batch", batch, "Events per Append")->capture_default_str();
  cli.add_option("--samples", samples, "Freshness samples")->capture_default_str();
  std::vector<std::string> cpu;
  cli.add_option("--cpu", cpu,
                 "NAME=PID of processes whose CPU seconds over the throughput phase to report")
      ->delimiter(',');
  CLI11_PARSE(cli, argc, argv);
  const std::vector<std::string> queries = absl::StrSplit(query, ',');

  const absl::Time end = absl::Now() - absl::Hours(1);
  std::vector<v1::Event> events =
      demo::GenerateDemo({.seed = 11,
                          .customers = static_cast<int>(std::max<int64_t>(100, events_wanted / 14)),
                          .end = end});
  if (static_cast<int64_t>(events.size()) > events_wanted) events.resize(events_wanted);
  std::vector<std::vector<v1::Event>> streams(parallel);
  for (const v1::Event& e : events) {
    streams[std::hash<std::string>()(e.customer_id()) % parallel].push_back(e);
  }
  std::vector<std::unique_ptr<v1::Admin::Stub>> admins;
  for (const std::string& q : queries) admins.push_back(v1::Admin::NewStub(Channel(q)));
  const int64_t base = Applied(admins);
  if (base < 0) {
    std::cerr << "projection instances not ready (every partition owned, none restoring)\n";
    return 1;
  }

  // CPU seconds of this tool and of the named processes over the throughput phase.
  std::vector<std::pair<std::string, int>> watched = {{"load tool", getpid()}};
  for (const std::string& named : cpu) {
    const std::pair<std::string, std::string> parts = absl::StrSplit(named, '=');
    int pid = 0;
    if (!absl::SimpleAtoi(parts.second, &pid)) {
      std::cerr << "--cpu: " << named << " is not NAME=PID\n";
      return 1;
    }
    watched.emplace_back(parts.first, pid);
  }
  std::vector<double> cpu_before;
  for (const auto& [name, pid] : watched) cpu_before.push_back(CpuSecondsOf(pid));

  const absl::Time started = absl::Now();
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < parallel; ++t) {
    threads.emplace_back([&, t] {
      auto stub = v1::EventIngest::NewStub(Channel(ingest));
      const std::vector<v1::Event>& mine = streams[t];
      for (size_t i = 0; i < mine.size(); i += batch) {
        v1::AppendRequest request;
        for (size_t j = i; j < std::min(mine.size(), i + batch); ++j) {
          *request.add_events() = mine[j];
        }
        v1::AppendResponse response;
        if (!Append(*stub, request, &response)) failed = true;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (failed) return 1;
  const absl::Duration append_time = absl::Now() - started;
  const int64_t n = static_cast<int64_t>(events.size());
  // Admin.Status asks the broker for every partition's end: not too often.
  while (Applied(admins) < base + n) absl::SleepFor(absl::Milliseconds(50));
  const absl::Duration e2e_time = absl::Now() - started;
  std::cout << absl::StrFormat(
      "throughput: %d events appended in %s (%.0f events/s); applied by the projections in %s "
      "(%.0f events/s end to end), %d streams of %d-event batches\n",
      n, absl::FormatDuration(append_time), n / absl::ToDoubleSeconds(append_time),
      absl::FormatDuration(e2e_time), n / absl::ToDoubleSeconds(e2e_time), parallel, batch);
  std::cout << absl::StrFormat(
      "CPU seconds in those %.1f s (%d cores):", absl::ToDoubleSeconds(e2e_time),
      std::thread::hardware_concurrency());
  double total = 0;
  for (size_t i = 0; i < watched.size(); ++i) {
    const double used = CpuSecondsOf(watched[i].second) - cpu_before[i];
    total += used;
    std::cout << absl::StrFormat(" %s %.2f;", watched[i].first, used);
  }
  std::cout << absl::StrFormat(" total %.2f\n", total);

  // Freshness: one event at a time, then the query that waits for it.
  LatencyHistogram fresh, append_only;
  auto ingest_stub = v1::EventIngest::NewStub(Channel(ingest));
  std::vector<std::unique_ptr<v1::Lifecycle::Stub>> query_stubs;
  for (const std::string& q : queries) query_stubs.push_back(v1::Lifecycle::NewStub(Channel(q)));
  for (int i = 0; i < samples; ++i) {
    const v1::Event& registered = events[(i * 7919) % events.size()];
    v1::AppendRequest request;
    v1::Event* e = request.add_events();
    e->set_event_id(absl::StrCat("fresh-", absl::ToUnixNanos(started), "-", i));
    e->set_customer_id(registered.customer_id());
    *e->mutable_occurred_at() = event::ToProto(end);
    e->set_source("kafka_e2e_load");
    e->mutable_visit_logged()->set_visit_id(e->event_id());
    e->mutable_visit_logged()->set_channel(v1::VISIT_CHANNEL_PHONE);
    e->mutable_visit_logged()->set_outcome(v1::VISIT_OUTCOME_NEUTRAL);
    const absl::Time t0 = absl::Now();
    v1::AppendResponse response;
    if (!Append(*ingest_stub, request, &response)) return 1;
    append_only.Record(absl::Now() - t0);
    v1::GetCustomerRequest get;
    get.set_customer_id(registered.customer_id());
    get.set_consistency_token(response.consistency_token());
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CustomerView view;
    const grpc::Status s = query_stubs[i % query_stubs.size()]->GetCustomer(&ctx, get, &view);
    if (!s.ok()) {
      std::cerr << "GetCustomer: " << s.error_message() << "\n";
      continue;
    }
    fresh.Record(absl::Now() - t0);
  }
  std::cout << "freshness (Append -> GetCustomer with its token answered), " << fresh.Count()
            << " samples: " << fresh.Summary({50, 99}) << "\n"
            << "  of which the Append alone: " << append_only.Summary({50, 99}) << "\n";
  return 0;
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) { return custops::bench::Run(argc, argv); }

// ingest_load: end-to-end EventIngest.Append throughput over real gRPC/TCP
// (budgets, docs/benchmarks.md: ingest via gRPC Append, batches of 500, embedded
// >= 200k events/s).
//
// By default it starts the whole platform in-process (custops::app::App on
// 127.0.0.1 with a temporary data directory; the lifecycle projection runs
// beside the ingest, as in production), or it loads --server host:port.
// Before the clock starts it generates --events events of the synthetic
// population (common/workload.h: unique event ids, customers interleaved by
// event time) and serializes them into AppendRequests of --batch events, so
// the client spends its CPU on gRPC only. Then --streams closed-loop streams,
// each on its own TCP connection, send those batches until --seconds pass or
// the events run out, and it prints events/s, batches/s, batch latency, the
// projection's lag and the command that reproduces the run.
//
//   ingest_load                              # in-process, sync=true, 4 streams
//   ingest_load --sync false --streams 8
//   ingest_load --server 127.0.0.1:50051 --seconds 30
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/latency.h"
#include "common/platform.h"
#include "common/tool.h"
#include "common/workload.h"
#include "custops/base/process.h"
#include "custops/v1/ingest.pb.h"

namespace custops::bench {
namespace {

constexpr double kBudgetEventsPerSecond = 200'000;
constexpr char kAppendMethod[] = "/custops.v1.EventIngest/Append";

struct Flags {
  std::string server;
  int streams = 4;
  int batch = 500;
  double seconds = 10;
  int64_t events = 2'000'000;
  bool sync = true;
  int partitions = 12;
  uint64_t seed = 1;
  std::string id_prefix;
  bool wait_applied = false;
};

std::string ReproduceLine(const char* argv0, const Flags& f, bool prefix_given) {
  std::vector<std::string> args = {argv0,
                                   "--streams",
                                   absl::StrCat(f.streams),
                                   "--batch",
                                   absl::StrCat(f.batch),
                                   "--seconds",
                                   absl::StrCat(f.seconds),
                                   "--events",
                                   absl::StrCat(f.events),
                                   "--seed",
                                   absl::StrCat(f.seed)};
  if (f.server.empty()) {
    args.insert(args.end(),
                {"--sync", f.sync ? "true" : "false", "--partitions", absl::StrCat(f.partitions)});
  } else {
    args.insert(args.end(), {"--server", f.server});
  }
  if (prefix_given) args.insert(args.end(), {"--id-prefix", f.id_prefix});
  if (f.wait_applied) args.emplace_back("--wait-applied");
  return ShellJoin(args);
}

// The AppendRequests to send, serialized once. Each is sent exactly once.
std::vector<grpc::ByteBuffer> Prepare(const Flags& f, int64_t* customers) {
  const WorkloadOptions workload{.seed = f.seed,
                                 .id_prefix = f.id_prefix,
                                 .end = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now()))};
  constexpr int64_t kBlock = 1000;  // customers interleaved per block
  std::vector<grpc::ByteBuffer> batches;
  v1::AppendRequest request;
  int64_t produced = 0;
  for (int64_t first = 0; produced < f.events; first += kBlock) {
    for (v1::Event& e : GenerateCustomers(workload, first, kBlock)) {
      if (produced == f.events) break;
      *request.add_events() = std::move(e);
      ++produced;
      if (request.events_size() == f.batch || produced == f.events) {
        const std::string bytes = request.SerializeAsString();
        grpc::Slice slice(bytes);
        batches.emplace_back(&slice, 1);
        request.Clear();
      }
    }
    *customers = first + kBlock;
  }
  return batches;
}

struct StreamResult {
  int64_t events = 0;
  int64_t batches = 0;
  int64_t duplicates = 0;
  int64_t errors = 0;
  std::string first_error;
  absl::Time finished;
};

int Run(const char* argv0, Flags f, bool prefix_given) {
  std::cout << "ingest_load: machine: " << MachineDescription() << "\n";
  int64_t customers = 0;
  const absl::Time prepare_start = absl::Now();
  const std::vector<grpc::ByteBuffer> batches = Prepare(f, &customers);
  size_t bytes = 0;
  for (const grpc::ByteBuffer& b : batches) bytes += b.Length();
  std::cout << absl::StrFormat(
      "prepared %d events of %d customers in %d batches (%.1f MiB serialized, %.0f bytes/event) "
      "in %.1f s, outside the measurement\n",
      f.events, customers, batches.size(), static_cast<double>(bytes) / (1 << 20),
      static_cast<double>(bytes) / static_cast<double>(f.events),
      absl::ToDoubleSeconds(absl::Now() - prepare_start));

  absl::StatusOr<Target> target = StartTarget({.server = f.server,
                                               .sync = f.sync,
                                               .partitions = f.partitions,
                                               .max_events_per_request = std::max(1000, f.batch)});
  if (!target.ok()) {
    std::cerr << "ingest_load: " << target.status() << "\n";
    return 1;
  }
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int i = 0; i < f.streams; ++i) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(target->address);
    if (!channel.ok()) {
      std::cerr << "ingest_load: " << channel.status() << "\n";
      return 1;
    }
    channels.push_back(*std::move(channel));
  }

  LatencyHistogram latency;
  std::atomic<size_t> next{0};
  std::vector<StreamResult> results(f.streams);
  absl::Notification go;
  const double cpu_before = ProcessCpuSeconds();
  std::vector<std::thread> threads;
  absl::Time start, deadline;
  for (int s = 0; s < f.streams; ++s) {
    threads.emplace_back([&, s] {
      grpc::GenericStub stub(channels[s]);
      StreamResult& out = results[s];
      go.WaitForNotification();
      while (absl::Now() < deadline) {
        const size_t i = next.fetch_add(1);
        if (i >= batches.size()) break;
        grpc::ClientContext context;
        context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
        grpc::ByteBuffer response;
        grpc::Status status;
        absl::Notification done;
        const absl::Time sent = absl::Now();
        stub.UnaryCall(&context, kAppendMethod, grpc::StubOptions(), &batches[i], &response,
                       [&](grpc::Status s) {
                         status = std::move(s);
                         done.Notify();
                       });
        done.WaitForNotification();
        latency.Record(absl::Now() - sent);
        v1::AppendResponse parsed;
        grpc::Slice flat;
        if (status.ok() && (!response.DumpToSingleSlice(&flat).ok() ||
                            !parsed.ParseFromArray(flat.begin(), static_cast<int>(flat.size())))) {
          status = grpc::Status(grpc::StatusCode::INTERNAL, "unparsable AppendResponse");
        }
        if (!status.ok()) {
          if (out.errors++ == 0) {
            out.first_error =
                absl::StrCat(static_cast<int>(status.error_code()), " ", status.error_message());
          }
          continue;
        }
        ++out.batches;
        for (const v1::AppendResult& r : parsed.results()) {
          ++out.events;
          if (r.duplicate()) ++out.duplicates;
        }
      }
      out.finished = absl::Now();
    });
  }
  start = absl::Now();
  deadline = start + absl::Seconds(f.seconds);
  go.Notify();
  for (std::thread& t : threads) t.join();
  const double cpu = ProcessCpuSeconds() - cpu_before;

  StreamResult total;
  absl::Time finished = start;
  for (const StreamResult& r : results) {
    total.events += r.events;
    total.batches += r.batches;
    total.duplicates += r.duplicates;
    total.errors += r.errors;
    if (total.first_error.empty()) total.first_error = r.first_error;
    finished = std::max(finished, r.finished);
  }
  const double elapsed = absl::ToDoubleSeconds(finished - start);
  const double rate = static_cast<double>(total.events) / elapsed;
  std::cout << absl::StrFormat(
      "target: %s\n"
      "load: %d streams (one TCP connection each), closed loop, batches of %d%s\n"
      "appended %d events in %d batches in %.2f s: %.0f events/s, %.1f batches/s "
      "(budget >= 200k events/s: %s)\n"
      "batch latency: %s\n"
      "errors %d%s, duplicates %d; CPU %.2f cores on average (%s)\n",
      target->description, f.streams, f.batch,
      next.load() >= batches.size() ? " (ran out of prepared events before --seconds)" : "",
      total.events, total.batches, elapsed, rate, static_cast<double>(total.batches) / elapsed,
      rate >= kBudgetEventsPerSecond ? "met" : "NOT met", latency.Summary({50, 90, 99, 99.9}),
      total.errors, total.errors > 0 ? absl::StrCat(" (first: ", total.first_error, ")") : "",
      total.duplicates, cpu / elapsed,
      f.server.empty() ? "client and server share this process" : "this client only");

  absl::StatusOr<ProjectionProgress> progress = LifecycleProgress(*channels[0]);
  if (progress.ok()) {
    std::cout << absl::StrFormat(
        "lifecycle projection at the end of the load: applied %d of %d records (lag %d)\n",
        progress->applied, progress->log_end, progress->lag());
    if (f.wait_applied) {
      const absl::Time wait_start = absl::Now();
      while (progress.ok() && progress->lag() > 0 && absl::Now() - wait_start < absl::Minutes(10)) {
        absl::SleepFor(absl::Milliseconds(200));
        progress = LifecycleProgress(*channels[0]);
      }
      if (progress.ok()) {
        const double total_s = absl::ToDoubleSeconds(absl::Now() - start);
        std::cout << absl::StrFormat(
            "lifecycle projection caught up %.1f s after the load (lag %d); ingest + apply "
            "end to end: %.0f events/s\n",
            absl::ToDoubleSeconds(absl::Now() - finished), progress->lag(),
            static_cast<double>(total.events) / total_s);
      }
    }
  }
  if (!progress.ok()) std::cout << "lifecycle projection: " << progress.status() << "\n";
  std::cout << "reproduce: " << ReproduceLine(argv0, f, prefix_given) << std::endl;
  channels.clear();
  if (target->app) target->app->Shutdown();
  return total.errors == 0 && total.duplicates == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  custops::bench::Flags f;
  CLI::App cli("End-to-end EventIngest.Append load over gRPC/TCP (budgets: docs/benchmarks.md).");
  cli.add_option("--server", f.server, "host:port of a running custops; empty: start in-process");
  cli.add_option("--streams", f.streams, "concurrent client streams")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cli.add_option("--batch", f.batch, "events per Append")
      ->check(CLI::Range(1, 10000))
      ->capture_default_str();
  cli.add_option("--seconds", f.seconds, "stop after this long")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cli.add_option("--events", f.events, "events to prepare; stop when all are sent")
      ->check(CLI::Range(int64_t{1}, int64_t{50'000'000}))
      ->capture_default_str();
  cli.add_option("--sync", f.sync, "in-process: fsync the event log per append")
      ->capture_default_str();
  cli.add_option("--partitions", f.partitions, "in-process: partitions per topic")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cli.add_option("--seed", f.seed, "workload seed")->capture_default_str();
  auto* prefix = cli.add_option("--id-prefix", f.id_prefix,
                                "customer/event id prefix (default: unique per run)");
  cli.add_flag("--wait-applied", f.wait_applied,
               "after the load, wait for the lifecycle projection to catch up and report it");
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const bool prefix_given = prefix->count() > 0;
  if (!prefix_given) {
    f.id_prefix = absl::StrCat("ingest-", absl::ToUnixSeconds(absl::Now()), "-", getpid());
  }
  return custops::bench::Run(argv[0], f, prefix_given);
}

// query_load: open-loop Lifecycle.GetCustomer load over real gRPC/TCP
// (budgets, docs/benchmarks.md: GetCustomer at 10k QPS, 1M customers, p99 <= 1 ms), then
// Lifecycle.StageSummary (the index path: no as_of) at a lower rate.
//
// By default it starts the whole platform in-process (custops::app::App on
// 127.0.0.1 with a temporary data directory), or it targets --server. It
// loads --customers customers of the synthetic population (common/workload.h)
// through EventIngest.Append, waits until the lifecycle projection has
// applied all of it (GetCustomer with the merged consistency token of every
// append), warms up, and then sends requests on a fixed schedule (open loop:
// a slow answer never delays the next request) from --threads threads with
// the callback client, each request for a uniformly random customer.
// Latency is measured from each request's scheduled send time, so client
// stalls count against the server (no coordinated omission).
//
//   query_load                               # 100k customers, 10k QPS, 10 s
//   query_load --qps 2000,5000,10000         # a latency/throughput curve, one load
//   query_load --customers 1000000 --history registrations
//   query_load --server 127.0.0.1:50051 --customers 100000 --id-prefix q1
#include <grpcpp/grpcpp.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "common/latency.h"
#include "common/platform.h"
#include "common/tool.h"
#include "common/workload.h"
#include "custops/base/process.h"
#include "custops/base/status_macros.h"
#include "custops/projection/token.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"

namespace custops::bench {
namespace {

struct Flags {
  std::string server;
  int64_t customers = 100'000;
  std::string history = "full";
  std::vector<double> qps = {10'000};
  double seconds = 10;
  int threads = 2;
  double warmup_seconds = 2;
  double summary_qps = 100;
  bool settle = true;
  double summary_seconds = 5;
  int deadline_ms = 1000;
  int max_in_flight = 20'000;
  int load_streams = 4;
  bool sync = false;
  bool no_load = false;
  uint64_t seed = 1;
  std::string id_prefix;
  std::string auth = "off";
  std::string token;
};

std::string ReproduceLine(const char* argv0, const Flags& f, bool prefix_given) {
  std::vector<std::string> args = {argv0,
                                   "--customers",
                                   absl::StrCat(f.customers),
                                   "--history",
                                   f.history,
                                   "--qps",
                                   absl::StrJoin(f.qps, ","),
                                   "--seconds",
                                   absl::StrCat(f.seconds),
                                   "--threads",
                                   absl::StrCat(f.threads),
                                   "--warmup-seconds",
                                   absl::StrCat(f.warmup_seconds),
                                   "--summary-qps",
                                   absl::StrCat(f.summary_qps),
                                   "--summary-seconds",
                                   absl::StrCat(f.summary_seconds),
                                   "--deadline-ms",
                                   absl::StrCat(f.deadline_ms),
                                   "--max-in-flight",
                                   absl::StrCat(f.max_in_flight),
                                   "--load-streams",
                                   absl::StrCat(f.load_streams),
                                   "--seed",
                                   absl::StrCat(f.seed),
                                   "--settle",
                                   f.settle ? "true" : "false"};
  if (f.server.empty()) {
    args.insert(args.end(), {"--sync", f.sync ? "true" : "false", "--auth", f.auth});
  } else {
    args.insert(args.end(), {"--server", f.server});
    if (f.no_load) args.push_back("--no-load");
  }
  if (prefix_given) args.insert(args.end(), {"--id-prefix", f.id_prefix});
  return ShellJoin(args);
}

// ---- Loading ---------------------------------------------------------------

struct LoadResult {
  int64_t events = 0;
  std::string token;  // covers every append
};

absl::StatusOr<LoadResult> Load(const Flags& f, const WorkloadOptions& workload,
                                const std::string& address, const std::string& token) {
  constexpr int64_t kBlock = 1000;
  constexpr int kBatch = 500;
  std::atomic<int64_t> next_block{0};
  std::atomic<int64_t> events{0};
  absl::Mutex mu;
  absl::Status error;
  projection::PositionSet merged;
  std::vector<std::thread> threads;
  for (int s = 0; s < f.load_streams; ++s) {
    threads.emplace_back([&] {
      absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(address, token);
      auto fail = [&](absl::Status s) {
        absl::MutexLock lock(&mu);
        if (error.ok()) error = std::move(s);
      };
      if (!channel.ok()) return fail(channel.status());
      auto stub = v1::EventIngest::NewStub(*channel);
      while (true) {
        {
          absl::MutexLock lock(&mu);
          if (!error.ok()) return;
        }
        const int64_t first = next_block.fetch_add(1) * kBlock;
        if (first >= f.customers) return;
        const std::vector<v1::Event> block =
            GenerateCustomers(workload, first, std::min(kBlock, f.customers - first));
        for (size_t i = 0; i < block.size(); i += kBatch) {
          v1::AppendRequest request;
          for (size_t j = i; j < std::min(block.size(), i + kBatch); ++j) {
            *request.add_events() = block[j];
          }
          grpc::ClientContext context;
          context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
          v1::AppendResponse response;
          grpc::Status status = stub->Append(&context, request, &response);
          if (!status.ok()) {
            return fail(absl::UnavailableError(absl::StrCat("Append: ", status.error_message())));
          }
          absl::StatusOr<projection::PositionSet> token =
              projection::DecodeToken(response.consistency_token(), "consistency_token");
          if (!token.ok()) return fail(token.status());
          events += request.events_size();
          absl::MutexLock lock(&mu);
          merged.set_topic(token->topic());
          if (merged.next_offsets_size() < token->next_offsets_size()) {
            merged.mutable_next_offsets()->Resize(token->next_offsets_size(), 0);
          }
          for (int p = 0; p < token->next_offsets_size(); ++p) {
            merged.set_next_offsets(p, std::max(merged.next_offsets(p), token->next_offsets(p)));
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  if (!error.ok()) return error;
  return LoadResult{.events = events.load(), .token = projection::EncodeToken(merged)};
}

// Blocks until the lifecycle projection has applied `token` (bounded).
absl::Status WaitApplied(grpc::Channel& channel, const WorkloadOptions& workload,
                         const std::string& token) {
  auto stub = v1::Lifecycle::NewStub(std::shared_ptr<grpc::Channel>(&channel, [](auto*) {}));
  const absl::Time give_up = absl::Now() + absl::Minutes(30);
  while (true) {
    v1::GetCustomerRequest request;
    request.set_customer_id(CustomerId(workload, 0));
    request.set_consistency_token(token);
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::CustomerView view;
    grpc::Status status = stub->GetCustomer(&context, request, &view);
    if (status.ok()) return absl::OkStatus();
    if (status.error_code() != grpc::StatusCode::DEADLINE_EXCEEDED || absl::Now() > give_up) {
      return absl::UnavailableError(
          absl::StrCat("GetCustomer with the load's token: ", status.error_message()));
    }
    absl::StatusOr<ProjectionProgress> progress = LifecycleProgress(channel);
    if (progress.ok()) {
      std::cout << absl::StrFormat("  ... projection applied %d of %d records\n", progress->applied,
                                   progress->log_end)
                << std::flush;
    }
  }
}

// Blocks until every projection (value and review besides lifecycle) has
// applied the whole log as it is now (bounded). Their catch-up would
// otherwise share the machine with the measured queries.
absl::Status WaitAllApplied(grpc::Channel& channel) {
  const absl::Time give_up = absl::Now() + absl::Minutes(30);
  absl::Time next_report = absl::Now() + absl::Seconds(10);
  std::map<std::string, int64_t> ends;  // the log's end per projection, at the first look
  while (true) {
    ASSIGN_OR_RETURN(auto all, Progress(channel));
    bool done = true;
    std::string behind;
    for (const auto& [name, progress] : all) {
      const int64_t end = ends.try_emplace(name, progress.log_end).first->second;
      if (progress.applied >= end) continue;
      done = false;
      absl::StrAppend(&behind, behind.empty() ? "" : ", ", name, " ", progress.applied, " of ",
                      end);
    }
    if (done) return absl::OkStatus();
    if (absl::Now() > give_up) {
      return absl::DeadlineExceededError(absl::StrCat("projections still behind: ", behind));
    }
    if (absl::Now() > next_report) {
      std::cout << "  ... " << behind << " records applied\n" << std::flush;
      next_report = absl::Now() + absl::Seconds(10);
    }
    absl::SleepFor(absl::Milliseconds(200));
  }
}

// ---- Open-loop driver -------------------------------------------------------

struct PhaseResult {
  LatencyHistogram latency;
  std::atomic<int64_t> sent{0};
  std::atomic<int64_t> ok{0};
  std::atomic<int64_t> dropped{0};  // not sent: too many in flight
  absl::Mutex mu;
  // By status code: how many, and the first message.
  std::map<int, std::pair<int64_t, std::string>> errors ABSL_GUARDED_BY(mu);
  absl::Time end;
};

// Issues one call and arranges for `done` to run when it finishes.
using IssueFn = std::function<void(int thread, std::mt19937_64& rng, absl::Time deadline,
                                   std::function<void(const grpc::Status&)> done)>;

// Sends requests at `qps` in total, spread over `threads` threads, for
// `seconds`, and records each one's latency from its scheduled instant.
void RunOpenLoop(double qps, double seconds, int threads, const Flags& f, const IssueFn& issue,
                 PhaseResult& result) {
  std::atomic<int64_t> in_flight{0};
  const absl::Time start = absl::Now() + absl::Milliseconds(20);
  const absl::Duration interval = absl::Seconds(static_cast<double>(threads) / qps);
  const auto per_thread = static_cast<int64_t>(qps * seconds / threads);
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(f.seed * 1000 + static_cast<uint64_t>(t));
      // Threads are staggered so their schedules interleave evenly.
      const absl::Time first = start + interval * t / threads;
      for (int64_t i = 0; i < per_thread; ++i) {
        const absl::Time scheduled = first + interval * i;
        const absl::Time now = absl::Now();
        if (scheduled > now) absl::SleepFor(scheduled - now);
        if (in_flight.load(std::memory_order_relaxed) >= f.max_in_flight) {
          result.dropped++;
          continue;
        }
        in_flight++;
        result.sent++;
        issue(t, rng, scheduled + absl::Milliseconds(f.deadline_ms),
              [&result, &in_flight, scheduled](const grpc::Status& status) {
                result.latency.Record(absl::Now() - scheduled);
                if (status.ok()) {
                  result.ok++;
                } else {
                  absl::MutexLock lock(&result.mu);
                  auto& [n, first] = result.errors[static_cast<int>(status.error_code())];
                  if (n++ == 0) first = status.error_message();
                }
                in_flight--;
              });
      }
    });
  }
  for (std::thread& w : workers) w.join();
  while (in_flight.load() > 0) absl::SleepFor(absl::Milliseconds(1));
  result.end = absl::Now();
}

void Report(const std::string& name, double qps, double seconds, PhaseResult& r) {
  std::string errors;
  int64_t error_count = 0;
  {
    absl::MutexLock lock(&r.mu);
    for (const auto& [code, what] : r.errors) {
      error_count += what.first;
      absl::StrAppend(&errors, errors.empty() ? " (" : "; ", what.first, " x code ", code,
                      ", first: ", what.second);
    }
  }
  if (!errors.empty()) errors += ")";
  std::cout << absl::StrFormat(
      "%s: target %.0f QPS for %.0f s: sent %d, ok %d, achieved %.0f QPS, errors %d%s, "
      "dropped %d\n  latency from scheduled send: %s\n",
      name, qps, seconds, r.sent.load(), r.ok.load(), static_cast<double>(r.ok.load()) / seconds,
      error_count, errors, r.dropped.load(), r.latency.Summary({50, 90, 99, 99.9}));
}

// ---- Main ---------------------------------------------------------------------

int Run(const char* argv0, const Flags& f, bool prefix_given) {
  std::cout << "query_load: machine: " << MachineDescription() << "\n";
  const WorkloadOptions workload{.seed = f.seed,
                                 .id_prefix = f.id_prefix,
                                 .end = absl::FromUnixSeconds(absl::ToUnixSeconds(absl::Now())),
                                 .full_history = f.history == "full"};
  absl::StatusOr<Target> target =
      StartTarget({.server = f.server, .sync = f.sync, .auth = f.auth, .token = f.token});
  if (!target.ok()) {
    std::cerr << "query_load: " << target.status() << "\n";
    return 1;
  }
  std::cout << "target: " << target->description << "\n";

  const absl::Time load_start = absl::Now();
  absl::StatusOr<LoadResult> loaded =
      f.no_load ? LoadResult{} : Load(f, workload, target->address, target->token);
  if (!loaded.ok()) {
    std::cerr << "query_load: loading: " << loaded.status() << "\n";
    return 1;
  }
  const absl::Time appended = absl::Now();
  std::cout << absl::StrFormat(
                   "loaded %d customers (%s history), %d events in %.1f s (%.0f events/s)\n",
                   f.customers, f.history, loaded->events,
                   absl::ToDoubleSeconds(appended - load_start),
                   static_cast<double>(loaded->events) /
                       absl::ToDoubleSeconds(appended - load_start))
            << std::flush;
  absl::StatusOr<std::shared_ptr<grpc::Channel>> control =
      NewChannel(target->address, target->token);
  if (!control.ok()) {
    std::cerr << "query_load: " << control.status() << "\n";
    return 1;
  }
  if (absl::Status s = WaitApplied(**control, workload, loaded->token); !s.ok()) {
    std::cerr << "query_load: " << s << "\n";
    return 1;
  }
  std::cout << absl::StrFormat(
      "lifecycle projection applied everything %.1f s after the last append (%.0f events/s "
      "from the first append)\n",
      absl::ToDoubleSeconds(absl::Now() - appended),
      static_cast<double>(loaded->events) / absl::ToDoubleSeconds(absl::Now() - load_start));

  if (f.settle) {
    const absl::Time since = absl::Now();
    if (absl::Status s = WaitAllApplied(**control); !s.ok()) {
      std::cerr << "query_load: " << s << "\n";
      return 1;
    }
    std::cout << absl::StrFormat(
        "every projection caught up %.1f s later (--settle: queries are measured without a "
        "catch-up beside them)\n",
        absl::ToDoubleSeconds(absl::Now() - since));
  }

  std::vector<std::unique_ptr<v1::Lifecycle::Stub>> stubs;
  for (int t = 0; t < f.threads; ++t) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        NewChannel(target->address, target->token);
    if (!channel.ok()) {
      std::cerr << "query_load: " << channel.status() << "\n";
      return 1;
    }
    stubs.push_back(v1::Lifecycle::NewStub(*channel));
  }

  // One call in flight: owned by its completion callback.
  struct GetCall {
    grpc::ClientContext context;
    v1::GetCustomerRequest request;
    v1::CustomerView response;
  };
  const IssueFn get_customer = [&](int t, std::mt19937_64& rng, absl::Time deadline,
                                   std::function<void(const grpc::Status&)> done) {
    auto* call = new GetCall;
    call->request.set_customer_id(
        CustomerId(workload, std::uniform_int_distribution<int64_t>(0, f.customers - 1)(rng)));
    call->context.set_deadline(absl::ToChronoTime(deadline));
    stubs[t]->async()->GetCustomer(&call->context, &call->request, &call->response,
                                   [call, done = std::move(done)](grpc::Status status) {
                                     done(status);
                                     delete call;
                                   });
  };
  struct SummaryCall {
    grpc::ClientContext context;
    v1::StageSummaryRequest request;
    v1::StageSummaryResponse response;
  };
  const IssueFn stage_summary = [&](int t, std::mt19937_64& rng, absl::Time deadline,
                                    std::function<void(const grpc::Status&)> done) {
    auto* call = new SummaryCall;
    // ALL and REGION alternately: the index path (no as_of).
    call->request.set_dimension(rng() % 2 == 0 ? v1::DIMENSION_ALL : v1::DIMENSION_REGION);
    call->context.set_deadline(absl::ToChronoTime(deadline));
    stubs[t]->async()->StageSummary(&call->context, &call->request, &call->response,
                                    [call, done = std::move(done)](grpc::Status status) {
                                      done(status);
                                      delete call;
                                    });
  };

  if (f.warmup_seconds > 0) {
    PhaseResult warmup;
    RunOpenLoop(f.qps.front(), f.warmup_seconds, f.threads, f, get_customer, warmup);
    std::cout << absl::StrFormat("warm-up: %.0f s at %.0f QPS, %d ok (not counted)\n",
                                 f.warmup_seconds, f.qps.front(), warmup.ok.load());
  }
  for (double qps : f.qps) {
    const double cpu_before = ProcessCpuSeconds();
    const absl::Time get_start = absl::Now();
    PhaseResult get;
    RunOpenLoop(qps, f.seconds, f.threads, f, get_customer, get);
    const double get_cpu = ProcessCpuSeconds() - cpu_before;
    Report("GetCustomer", qps, f.seconds, get);
    std::cout << absl::StrFormat(
        "  %d client threads (one TCP connection each), %d customers; CPU %.2f cores on "
        "average (%s)%s\n",
        f.threads, f.customers, get_cpu / absl::ToDoubleSeconds(get.end - get_start),
        f.server.empty() ? "client and server share this process" : "this client only",
        qps < 10'000 ? ""
        : get.latency.Percentile(99) <= absl::Milliseconds(1)
            ? "; budget p99 <= 1 ms at 10k QPS: met"
            : "; budget p99 <= 1 ms at 10k QPS: NOT met");
  }
  if (f.summary_seconds > 0) {
    PhaseResult summary;
    RunOpenLoop(f.summary_qps, f.summary_seconds, 1, f, stage_summary, summary);
    Report("StageSummary (index, dimension ALL/REGION)", f.summary_qps, f.summary_seconds, summary);
  }
  std::cout << "reproduce: " << ReproduceLine(argv0, f, prefix_given) << std::endl;
  stubs.clear();
  if (target->app) target->app->Shutdown();
  return 0;
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  custops::bench::Flags f;
  CLI::App cli(
      "Open-loop Lifecycle.GetCustomer / StageSummary load over gRPC/TCP (budgets: "
      "docs/benchmarks.md).");
  cli.add_option("--server", f.server, "host:port of a running custops; empty: start in-process");
  cli.add_option("--customers", f.customers, "customers to load and query")
      ->check(CLI::Range(int64_t{1}, int64_t{10'000'000}))
      ->capture_default_str();
  cli.add_option("--history", f.history, "full: ~14 events per customer; registrations: one")
      ->check(CLI::IsMember({"full", "registrations"}))
      ->capture_default_str();
  cli.add_option("--qps", f.qps, "GetCustomer target rate; a list runs one phase per rate")
      ->check(CLI::Range(1.0, 1'000'000.0))
      ->delimiter(',')
      ->capture_default_str();
  cli.add_option("--seconds", f.seconds, "GetCustomer phase length")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cli.add_option("--threads", f.threads, "client threads (each its own connection)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cli.add_option("--warmup-seconds", f.warmup_seconds, "GetCustomer warm-up, not counted")
      ->check(CLI::Range(0.0, 600.0))
      ->capture_default_str();
  cli.add_option("--summary-qps", f.summary_qps, "StageSummary target rate")
      ->check(CLI::Range(1.0, 100'000.0))
      ->capture_default_str();
  cli.add_option("--summary-seconds", f.summary_seconds, "StageSummary phase length; 0 skips it")
      ->check(CLI::Range(0.0, 3600.0))
      ->capture_default_str();
  cli.add_option("--deadline-ms", f.deadline_ms, "per-request deadline from its scheduled time")
      ->check(CLI::Range(1, 60'000))
      ->capture_default_str();
  cli.add_option("--max-in-flight", f.max_in_flight, "requests in flight before dropping")
      ->check(CLI::Range(1, 1'000'000))
      ->capture_default_str();
  cli.add_option("--load-streams", f.load_streams, "concurrent Append streams while loading")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cli.add_option("--auth", f.auth,
                 "in-process: bearer-token auth off, cached (verified tokens kept) or uncached")
      ->check(CLI::IsMember({"off", "cached", "uncached"}))
      ->capture_default_str();
  cli.add_option("--token", f.token, "--server: bearer token to send")->envname("CUSTOPS_TOKEN");
  cli.add_flag("--no-load", f.no_load,
               "--server already holds the customers (an earlier run with the same --customers, "
               "--seed and --id-prefix): query them without appending");
  cli.add_option("--settle", f.settle,
                 "before measuring, wait until every projection (value, review) has applied the "
                 "whole log; false measures queries beside their catch-up")
      ->capture_default_str();
  cli.add_option("--sync", f.sync, "in-process: fsync the event log per append")
      ->capture_default_str();
  cli.add_option("--seed", f.seed, "workload and request seed")->capture_default_str();
  auto* prefix = cli.add_option("--id-prefix", f.id_prefix,
                                "customer/event id prefix (default: unique per run)");
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  const bool prefix_given = prefix->count() > 0;
  if (!prefix_given) {
    f.id_prefix = absl::StrCat("query-", absl::ToUnixSeconds(absl::Now()), "-", getpid());
  }
  return custops::bench::Run(argv[0], f, prefix_given);
}

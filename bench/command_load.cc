// command_load: business commands per second through the command services
// over real gRPC/TCP, with per-command latency (issue 7; docs/commands.md).
//
// By default it starts the whole platform in-process (custops::app::App on
// 127.0.0.1, temporary data directory, embedded log, the lifecycle
// projection applying beside it), or it loads --server host:port. Each of
// --streams closed-loop streams has its own TCP connection and its own
// customers, and walks each customer through one deal of seven business
// actions (RegisterCustomer, LogVisit, OpenOpportunity, IssueQuote,
// AcceptQuote, SignContract, RecordPayment) with the client library (no
// retries), until --seconds pass. Every action is decided against the
// customer's aggregate and appended on its own (one log write per command).
//
//   command_load                      # in-process, sync=true, 8 streams
//   command_load --sync false --streams 16
//   command_load --server 127.0.0.1:50051
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "common/latency.h"
#include "common/platform.h"
#include "common/tool.h"
#include "custops/base/process.h"
#include "custops/client/client.h"
#include "custops/event/time.h"

namespace custops::bench {
namespace {

struct Flags {
  std::string server;
  int streams = 8;
  double seconds = 10;
  bool sync = true;
  int partitions = 12;
};

struct StreamResult {
  int64_t commands = 0;
  int64_t errors = 0;
  std::string first_error;
};

v1::Money Cny(int64_t units) {
  v1::Money m;
  m.set_units(units);
  m.set_currency("CNY");
  return m;
}

// One deal for `customer`; records each command's latency. False on error.
bool Deal(client::Client& c, const std::string& customer, LatencyHistogram& latency,
          StreamResult& out) {
  const absl::Time now = absl::Now();
  auto run = [&](auto&& call) {
    const absl::Time sent = absl::Now();
    absl::StatusOr<v1::CommandResponse> r = call();
    latency.Record(absl::Now() - sent);
    if (r.ok()) {
      ++out.commands;
      return true;
    }
    if (out.errors++ == 0) out.first_error = r.status().ToString();
    return false;
  };
  v1::RegisterCustomerRequest reg;
  reg.set_customer_id(customer);
  reg.set_name("Bench " + customer);
  reg.set_kind(v1::CUSTOMER_KIND_CUSTOMER);
  reg.set_region("East");
  if (!run([&] { return c.RegisterCustomer(reg); })) return false;
  v1::LogVisitRequest visit;
  visit.set_customer_id(customer);
  visit.set_visit_id("V1");
  visit.set_channel(v1::VISIT_CHANNEL_PHONE);
  visit.set_outcome(v1::VISIT_OUTCOME_INTERESTED);
  if (!run([&] { return c.LogVisit(visit); })) return false;
  v1::OpenOpportunityRequest open;
  open.set_customer_id(customer);
  open.set_opportunity_id("O1");
  *open.mutable_amount() = Cny(100'000);
  if (!run([&] { return c.OpenOpportunity(open); })) return false;
  v1::IssueQuoteRequest quote;
  quote.set_customer_id(customer);
  quote.set_quote_id("Q1");
  quote.set_opportunity_id("O1");
  *quote.mutable_amount() = Cny(95'000);
  *quote.mutable_valid_until() = event::ToProto(now + absl::Hours(24 * 30));
  if (!run([&] { return c.IssueQuote(quote); })) return false;
  v1::AcceptQuoteRequest accept;
  accept.set_customer_id(customer);
  accept.set_quote_id("Q1");
  if (!run([&] { return c.AcceptQuote(accept); })) return false;
  v1::SignContractRequest sign;
  sign.set_customer_id(customer);
  sign.set_contract_id("K1");
  sign.set_quote_id("Q1");
  *sign.mutable_amount() = Cny(95'000);
  *sign.mutable_start() = event::ToProto(now);
  *sign.mutable_end() = event::ToProto(now + absl::Hours(24 * 365));
  if (!run([&] { return c.SignContract(sign); })) return false;
  v1::RecordPaymentRequest pay;
  pay.set_customer_id(customer);
  pay.set_payment_id("P1");
  pay.set_contract_id("K1");
  *pay.mutable_amount() = Cny(95'000);
  return run([&] { return c.RecordPayment(pay); });
}

std::string ReproduceLine(const char* argv0, const Flags& f) {
  std::vector<std::string> args = {argv0, "--streams", absl::StrCat(f.streams), "--seconds",
                                   absl::StrCat(f.seconds)};
  if (f.server.empty()) {
    for (const std::string& a : {std::string("--sync"), std::string(f.sync ? "true" : "false"),
                                 std::string("--partitions"), absl::StrCat(f.partitions)}) {
      args.push_back(a);
    }
  } else {
    args.push_back("--server");
    args.push_back(f.server);
  }
  return ShellJoin(args);
}

int Run(const char* argv0, const Flags& f) {
  std::cout << "command_load: machine: " << MachineDescription() << "\n";
  absl::StatusOr<Target> target =
      StartTarget({.server = f.server, .sync = f.sync, .partitions = f.partitions});
  if (!target.ok()) {
    std::cerr << "command_load: " << target.status() << "\n";
    return 1;
  }
  const std::string prefix =
      absl::StrCat("cmdload-", absl::ToUnixSeconds(absl::Now()), "-", getpid(), "-");
  LatencyHistogram latency;
  std::vector<StreamResult> results(f.streams);
  absl::Notification go;
  absl::Time deadline;
  std::vector<std::thread> threads;
  for (int s = 0; s < f.streams; ++s) {
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel = NewChannel(target->address);
    if (!channel.ok()) {
      std::cerr << "command_load: " << channel.status() << "\n";
      return 1;
    }
    threads.emplace_back([&, s, channel = *std::move(channel)] {
      client::Client c(channel, {.deadline = absl::Seconds(30), .max_attempts = 1});
      go.WaitForNotification();
      for (int64_t n = 0; absl::Now() < deadline; ++n) {
        if (!Deal(c, absl::StrCat(prefix, s, "-", n), latency, results[s])) break;
      }
    });
  }
  const double cpu_before = ProcessCpuSeconds();
  const absl::Time start = absl::Now();
  deadline = start + absl::Seconds(f.seconds);
  go.Notify();
  for (std::thread& t : threads) t.join();
  const double elapsed = absl::ToDoubleSeconds(absl::Now() - start);
  const double cpu = ProcessCpuSeconds() - cpu_before;
  StreamResult total;
  for (const StreamResult& r : results) {
    total.commands += r.commands;
    total.errors += r.errors;
    if (total.first_error.empty()) total.first_error = r.first_error;
  }
  std::cout << absl::StrFormat(
      "target: %s\n"
      "load: %d streams (one TCP connection and its own customers each), closed loop, one deal "
      "of 7 business actions per customer\n"
      "%d commands in %.2f s: %.0f commands/s\n"
      "command latency: %s\n"
      "errors %d%s; CPU %.2f cores on average (%s)\n",
      target->description, f.streams, total.commands, elapsed,
      static_cast<double>(total.commands) / elapsed, latency.Summary({50, 90, 99, 99.9}),
      total.errors, total.errors > 0 ? absl::StrCat(" (first: ", total.first_error, ")") : "",
      cpu / elapsed,
      f.server.empty() ? "client and server share this process" : "this client only");
  std::cout << "reproduce: " << ReproduceLine(argv0, f) << std::endl;
  if (target->app) target->app->Shutdown();
  return total.errors == 0 ? 0 : 1;
}

}  // namespace
}  // namespace custops::bench

int main(int argc, char** argv) {
  custops::base::SetUpServingProcess();  // as the custops binary
  custops::bench::Flags f;
  CLI::App cli("Business commands per second through the command services over gRPC/TCP.");
  cli.add_option("--server", f.server, "host:port of a running custops; empty: start in-process");
  cli.add_option("--streams", f.streams, "concurrent client streams")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  cli.add_option("--seconds", f.seconds, "run this long")
      ->check(CLI::Range(0.1, 3600.0))
      ->capture_default_str();
  cli.add_option("--sync", f.sync, "in-process: fsync the event log per append")
      ->capture_default_str();
  cli.add_option("--partitions", f.partitions, "in-process: partitions per topic")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  CLI11_PARSE(cli, argc, argv);
  spdlog::set_level(spdlog::level::warn);
  return custops::bench::Run(argv[0], f);
}

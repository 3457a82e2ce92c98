// Effectively-once under crashes: a client appends 100k events with retries
// (same event ids) while the server is SIGKILLed at random instants and
// restarted. Afterwards every acknowledged event is in the log exactly once
// and applied exactly once, and every GetCustomer / StageSummary answer is
// byte-identical to that of a clean replay of the same log by a fresh server.
#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "custops/testing/events.h"
#include "custops/testing/proto.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

constexpr int kCustomers = 10'000;
constexpr int kEvents = 100'000;
constexpr int kBatch = 500;
const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);  // the fixed clock
absl::Duration Days(int n) { return absl::Hours(24 * n); }

// A deterministic stream: registrations first, then activity over two years.
std::vector<v1::Event> Workload() {
  std::mt19937_64 rng(7);
  std::vector<v1::Event> events;
  events.reserve(kEvents);
  const char* regions[] = {"华东", "华南", "华北", "西南"};
  for (int c = 0; c < kCustomers; ++c) {
    events.push_back(testing::Registered(absl::StrCat("reg-", c), absl::StrCat("cust-", c),
                                         kNow - Days(730), regions[c % 4]));
  }
  for (int i = kCustomers; i < kEvents; ++i) {
    const std::string customer = absl::StrCat("cust-", rng() % kCustomers);
    const absl::Time at =
        kNow - Days(729) + absl::Minutes(static_cast<int64_t>(rng() % (729 * 1440)));
    const std::string id = absl::StrCat("ev-", i);
    switch (rng() % 10) {
      case 0:
      case 1:
        events.push_back(testing::Signed(id, customer, at,
                                         1000 + static_cast<int64_t>(rng() % 900000),
                                         Days(90 + static_cast<int>(rng() % 300))));
        break;
      case 2:
        if (rng() % 20 == 0) {
          events.push_back(testing::Churned(id, customer, at));
          break;
        }
        [[fallthrough]];
      default:
        events.push_back(
            testing::Visited(id, customer, at,
                             rng() % 3 ? v1::VISIT_OUTCOME_NEUTRAL : v1::VISIT_OUTCOME_INTERESTED));
    }
  }
  return events;
}

// Every answer the test compares, keyed by a description.
std::map<std::string, std::string> Answers(testing::ServerProcess& server) {
  auto lifecycle = v1::Lifecycle::NewStub(server.Channel());
  std::map<std::string, std::string> answers;
  google::protobuf::Timestamp as_of = event::ToProto(kNow);
  for (int c = 0; c < kCustomers; c += 7) {
    v1::GetCustomerRequest req;
    req.set_customer_id(absl::StrCat("cust-", c));
    *req.mutable_as_of() = as_of;
    v1::CustomerView view;
    grpc::ClientContext ctx;
    grpc::Status s = lifecycle->GetCustomer(&ctx, req, &view);
    answers[req.customer_id()] = s.ok() ? testing::DeterministicBytes(view) : s.error_message();
  }
  for (auto dim : {v1::DIMENSION_ALL, v1::DIMENSION_REGION, v1::DIMENSION_OWNER}) {
    for (bool explicit_as_of : {true, false}) {
      v1::StageSummaryRequest req;
      req.set_dimension(dim);
      if (explicit_as_of) *req.mutable_as_of() = as_of;
      v1::StageSummaryResponse resp;
      grpc::ClientContext ctx;
      grpc::Status s = lifecycle->StageSummary(&ctx, req, &resp);
      answers[absl::StrCat("summary-", dim, "-", explicit_as_of)] =
          s.ok() ? testing::DeterministicBytes(resp) : s.error_message();
    }
  }
  return answers;
}

grpc::Status TryStatus(testing::ServerProcess& server, v1::StatusResponse* status) {
  auto admin = v1::Admin::NewStub(server.Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return admin->Status(&ctx, v1::StatusRequest(), status);
}

v1::StatusResponse Status(testing::ServerProcess& server) {
  v1::StatusResponse status;
  const grpc::Status s = TryStatus(server, &status);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  return status;
}

// Waits until the lifecycle projection has applied the whole log. A poll
// that fails (a connection lost under load) is retried and logged; only
// the last answer counts.
void WaitCaughtUp(testing::ServerProcess& server) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    v1::StatusResponse s;
    if (const grpc::Status polled = TryStatus(server, &s);
        !polled.ok() || s.projections_size() == 0) {
      std::cerr << "Admin.Status poll failed: " << polled.error_code() << " "
                << polled.error_message() << "\n";
      absl::SleepFor(absl::Milliseconds(100));
      continue;
    }
    int64_t lag = 0;
    for (const auto& p : s.projections(0).partitions()) lag += p.lag();
    if (lag == 0 && s.projections(0).outbox_pending() == 0) return;
    absl::SleepFor(absl::Milliseconds(100));
  }
  FAIL() << "projection did not catch up";
}

TEST(CrashTest, KilledAtRandomPointsEveryAckedEventIsAppliedExactlyOnce) {
  const auto dir = std::filesystem::temp_directory_path() / absl::StrCat("crash_", ::getpid());
  std::filesystem::remove_all(dir);
  // The lifecycle projection is under test here (value_service_test crashes
  // the value projection); the other projections would only slow it down.
  const std::vector<std::string> flags = {
      "--fixed-clock", "2026-11-23T00:00:00Z",  "--partitions", "6", "--sync", "false",
      "--roles",       "ingest,lifecycle,admin"};
  std::vector<std::string> args = {"--data-dir", (dir / "primary").string()};
  args.insert(args.end(), flags.begin(), flags.end());
  testing::ServerProcess server(CUSTOPS_BINARY, args);
  ASSERT_TRUE(server.Start().ok());

  const std::vector<v1::Event> events = Workload();
  std::atomic<int> acked_batches{0};
  std::atomic<int> retries{0};
  std::atomic<bool> client_done{false};
  std::thread client([&] {
    auto channel = server.Channel();
    auto ingest = v1::EventIngest::NewStub(channel);
    for (size_t i = 0; i < events.size(); i += kBatch) {
      v1::AppendRequest req;
      for (size_t j = i; j < std::min(events.size(), i + kBatch); ++j)
        *req.add_events() = events[j];
      while (true) {  // retry the same request (same ids) until acknowledged
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
        ctx.set_wait_for_ready(true);
        v1::AppendResponse resp;
        grpc::Status s = ingest->Append(&ctx, req, &resp);
        if (s.ok()) {
          ASSERT_EQ(resp.results_size(), req.events_size());
          break;
        }
        ASSERT_NE(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
        ++retries;
        absl::SleepFor(absl::Milliseconds(20));
      }
      ++acked_batches;
    }
    client_done = true;
  });

  // Kill the server at random instants: while the client appends, and then
  // while the projection is still catching up with what was appended.
  std::mt19937 rng(::getpid());
  int kills = 0;
  int kills_while_appending = 0;
  while (kills < 8) {
    absl::SleepFor(absl::Milliseconds(50 + rng() % 400));
    server.Kill();
    ++kills;
    if (!client_done) ++kills_while_appending;
    ASSERT_TRUE(server.Start().ok());
  }
  client.join();
  EXPECT_GE(kills_while_appending, 1) << "the client finished before the first kill";
  ASSERT_EQ(acked_batches.load(), kEvents / kBatch);

  WaitCaughtUp(server);
  // Exactly once in the log (retries were recognised by event_id) ...
  v1::StatusResponse status = Status(server);
  ASSERT_GE(status.topics_size(), 1);
  ASSERT_EQ(status.projections_size(), 1);
  int64_t in_log = 0;
  for (const auto& p : status.topics(0).partitions()) in_log += p.log_end();
  EXPECT_EQ(in_log, kEvents);
  // ... and exactly once in the projection.
  EXPECT_EQ(status.projections(0).events_applied(), kEvents);
  EXPECT_EQ(status.projections(0).dead_letters(), 0);
  const std::map<std::string, std::string> crashed = Answers(server);
  ASSERT_EQ(server.Stop(), 0);

  // A clean replay: a fresh server over a copy of the log and no projection state.
  std::filesystem::create_directories(dir / "replay");
  std::filesystem::copy(dir / "primary" / "log", dir / "replay" / "log",
                        std::filesystem::copy_options::recursive);
  std::vector<std::string> replay_args = {"--data-dir", (dir / "replay").string()};
  replay_args.insert(replay_args.end(), flags.begin(), flags.end());
  testing::ServerProcess replay(CUSTOPS_BINARY, replay_args);
  ASSERT_TRUE(replay.Start().ok());
  WaitCaughtUp(replay);
  const v1::StatusResponse replayed = Status(replay);
  ASSERT_EQ(replayed.projections_size(), 1);
  EXPECT_EQ(replayed.projections(0).events_applied(), kEvents);
  const std::map<std::string, std::string> clean = Answers(replay);
  ASSERT_EQ(crashed.size(), clean.size());
  int differing = 0;
  for (const auto& [key, answer] : crashed) {
    if (clean.at(key) != answer) ++differing;
  }
  EXPECT_EQ(differing, 0) << "answers differ from a clean replay";
  // The answers are not trivially empty.
  EXPECT_GT(crashed.at("cust-0").size(), 50u);
  EXPECT_EQ(replay.Stop(), 0);
  std::filesystem::remove_all(dir);
  std::cerr << "kills: " << kills << " (" << kills_while_appending
            << " while appending), retried requests: " << retries.load() << "\n";
}

}  // namespace
}  // namespace custops

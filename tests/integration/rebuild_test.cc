// Admin.Rebuild (docs/operations.md "Rebuild") against the real binary: a
// fresh copy of each projection is built beside the serving one while
// clients query and write, then swapped in. Queries answer throughout (no
// refusal, no partial answer), a write is readable through its consistency
// token across the swap, the swapped state answers byte for byte like a
// clean replay of the same log, and a SIGKILL in the middle of a rebuild
// leaves the old copy serving and the rebuild resumed at the next start.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>

#include "absl/strings/str_cat.h"
#include "custops/store/keys.h"
#include "custops/store/store.h"
#include "custops/testing/events.h"
#include "custops/testing/proto.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

namespace fs = std::filesystem;

// Under the sanitizers a smaller log keeps the three rebuilds and the clean
// replay within the suite's time; the kill still lands half way (slower).
#ifndef CUSTOPS_REBUILD_TEST_EVENTS
#define CUSTOPS_REBUILD_TEST_EVENTS 30'000
#endif
constexpr int kEvents = CUSTOPS_REBUILD_TEST_EVENTS;
constexpr int kCustomers = kEvents / 10;
const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);  // the fixed clock
absl::Duration Days(int n) { return absl::Hours(24 * n); }

const std::vector<std::string> kFlags = {
    "--fixed-clock", "2026-11-23T00:00:00Z", "--partitions", "4", "--sync", "false"};

std::vector<v1::Event> Workload() {
  std::mt19937_64 rng(11);
  std::vector<v1::Event> events;
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
    if (rng() % 4 == 0) {
      events.push_back(testing::Signed(id, customer, at,
                                       1000 + static_cast<int64_t>(rng() % 900000),
                                       Days(90 + static_cast<int>(rng() % 300))));
    } else {
      events.push_back(testing::Visited(id, customer, at, v1::VISIT_OUTCOME_INTERESTED));
    }
  }
  return events;
}

// Calls wait for the connection (a loaded machine can be slow to accept one)
// up to their deadline: a refusal by the server still fails them.
std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  ctx->set_wait_for_ready(true);
  return ctx;
}

void Append(testing::ServerProcess& server, const std::vector<v1::Event>& events) {
  auto ingest = v1::EventIngest::NewStub(server.Channel());
  for (size_t i = 0; i < events.size(); i += 500) {
    v1::AppendRequest req;
    for (size_t j = i; j < std::min(events.size(), i + 500); ++j) *req.add_events() = events[j];
    v1::AppendResponse resp;
    const grpc::Status s = ingest->Append(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  }
}

v1::StatusResponse Status(testing::ServerProcess& server) {
  v1::StatusResponse status;
  const grpc::Status s = v1::Admin::NewStub(server.Channel())->Status(Ctx().get(), {}, &status);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  return status;
}

const v1::ProjectionStatus* Find(const v1::StatusResponse& status, const std::string& name) {
  for (const v1::ProjectionStatus& p : status.projections()) {
    if (p.name() == name) return &p;
  }
  return nullptr;
}

// Until every projection has applied the whole log and published its outbox.
void WaitCaughtUp(testing::ServerProcess& server) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    const v1::StatusResponse s = Status(server);
    bool done = s.projections_size() > 0;
    for (const v1::ProjectionStatus& p : s.projections()) {
      for (const v1::PartitionStatus& part : p.partitions()) done &= part.lag() == 0;
      done &= p.outbox_pending() == 0 && !p.rebuild().running();
    }
    if (done) return;
    absl::SleepFor(absl::Milliseconds(100));
  }
  FAIL() << "projections did not catch up";
}

grpc::Status GetCustomer(v1::Lifecycle::Stub& stub, const std::string& id, std::string token,
                         std::string* answer) {
  v1::GetCustomerRequest req;
  req.set_customer_id(id);
  *req.mutable_as_of() = event::ToProto(kNow);
  req.set_consistency_token(std::move(token));
  v1::CustomerView view;
  const grpc::Status s = stub.GetCustomer(Ctx().get(), req, &view);
  *answer = testing::DeterministicBytes(view);
  return s;
}

// Every answer compared, keyed by a description. `roles`: which services run.
std::map<std::string, std::string> Answers(testing::ServerProcess& server, bool value) {
  std::map<std::string, std::string> answers;
  auto lifecycle = v1::Lifecycle::NewStub(server.Channel());
  auto review = v1::Review::NewStub(server.Channel());
  auto values = v1::Value::NewStub(server.Channel());
  auto record = [&](const std::string& key, const grpc::Status& s,
                    const google::protobuf::Message& m) {
    EXPECT_TRUE(s.ok()) << key << ": " << s.error_code() << " " << s.error_message();
    answers[key] = s.ok() ? testing::DeterministicBytes(m) : s.error_message();
  };
  for (int c = 0; c < kCustomers; c += 37) {
    const std::string id = absl::StrCat("cust-", c);
    std::string answer;
    const grpc::Status s = GetCustomer(*lifecycle, id, "", &answer);
    EXPECT_TRUE(s.ok()) << id << ": " << s.error_message();
    answers["customer " + id] = answer;
    if (value) {
      v1::GetValueRequest req;
      req.set_customer_id(id);
      *req.mutable_as_of() = event::ToProto(kNow);
      v1::ValueView view;
      record("value " + id, values->GetValue(Ctx().get(), req, &view), view);
    }
  }
  for (auto dim : {v1::DIMENSION_ALL, v1::DIMENSION_REGION}) {
    v1::StageSummaryRequest req;
    req.set_dimension(dim);
    *req.mutable_as_of() = event::ToProto(kNow);
    v1::StageSummaryResponse resp;
    record(absl::StrCat("summary ", dim), lifecycle->StageSummary(Ctx().get(), req, &resp), resp);
  }
  for (int months_ago : {1, 6, 13}) {
    v1::GetReviewRequest req;
    req.set_granularity(v1::GRANULARITY_MONTH);
    *req.mutable_period_start() = event::ToProto(kNow - Days(30 * months_ago));
    req.set_dimension(v1::DIMENSION_REGION);
    req.set_dimension_value("华东");
    v1::ReviewReport report;
    record(absl::StrCat("review ", months_ago), review->GetReview(Ctx().get(), req, &report),
           report);
  }
  return answers;
}

v1::RebuildProgress Rebuild(testing::ServerProcess& server, const std::string& projection) {
  v1::RebuildRequest req;
  req.set_projection(projection);
  v1::RebuildResponse resp;
  const grpc::Status s = v1::Admin::NewStub(server.Channel())->Rebuild(Ctx().get(), req, &resp);
  EXPECT_TRUE(s.ok()) << s.error_code() << " " << s.error_message();
  return resp.progress();
}

// Polls Admin.Status until the projection's rebuild stopped; returns its
// last progress. `seen_rebuilding`: whether Status ever said REBUILDING.
v1::RebuildProgress WaitRebuilt(testing::ServerProcess& server, const std::string& projection,
                                bool* seen_rebuilding = nullptr) {
  const absl::Time deadline = absl::Now() + absl::Minutes(5);
  while (absl::Now() < deadline) {
    const v1::StatusResponse s = Status(server);
    const v1::ProjectionStatus* p = Find(s, projection);
    if (p == nullptr) break;
    if (p->state() == v1::PROJECTION_STATE_REBUILDING && seen_rebuilding) *seen_rebuilding = true;
    if (!p->rebuild().running()) return p->rebuild();
    absl::SleepFor(absl::Milliseconds(20));
  }
  ADD_FAILURE() << projection << ": the rebuild did not end";
  return {};
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// A fresh server over a copy of `dir`'s log: the clean replay to compare with.
std::map<std::string, std::string> CleanReplay(const fs::path& dir, const fs::path& replay_dir,
                                               bool value) {
  fs::remove_all(replay_dir);
  fs::create_directories(replay_dir);
  fs::copy(dir / "log", replay_dir / "log", fs::copy_options::recursive);
  std::vector<std::string> args = {"--data-dir", replay_dir.string()};
  args.insert(args.end(), kFlags.begin(), kFlags.end());
  testing::ServerProcess replay(CUSTOPS_BINARY, args);
  EXPECT_TRUE(replay.Start().ok());
  WaitCaughtUp(replay);
  std::map<std::string, std::string> answers = Answers(replay, value);
  EXPECT_EQ(replay.Stop(), 0);
  return answers;
}

TEST(RebuildTest, QueriesAnswerThroughoutAndTheSwappedCopyEqualsACleanReplay) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("rebuild_", ::getpid());
  fs::remove_all(dir);
  std::vector<std::string> args = {"--data-dir", (dir / "primary").string()};
  args.insert(args.end(), kFlags.begin(), kFlags.end());
  testing::ServerProcess server(CUSTOPS_BINARY, args);
  ASSERT_TRUE(server.Start().ok());
  Append(server, Workload());
  WaitCaughtUp(server);
  const std::map<std::string, std::string> before = Answers(server, /*value=*/true);
  ASSERT_GT(before.at("customer cust-0").size(), 50u);

  // Readers of customers nobody writes to: every answer must be OK and the
  // same bytes as before (no half-built state, no refusal). A writer adds new
  // customers and reads each back through its consistency token.
  std::atomic<bool> stop{false};
  std::atomic<int64_t> reads{0}, read_errors{0}, mismatches{0}, writes{0}, write_errors{0};
  std::mutex first_mu;
  std::string first_error;
  auto note = [&](const std::string& what) {
    std::lock_guard<std::mutex> lock(first_mu);
    if (first_error.empty()) first_error = what;
  };
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t) {
    clients.emplace_back([&, t] {
      auto lifecycle = v1::Lifecycle::NewStub(server.Channel());
      auto review = v1::Review::NewStub(server.Channel());
      auto values = v1::Value::NewStub(server.Channel());
      for (int i = t; !stop; i += 2) {
        const std::string id = absl::StrCat("cust-", (i % (kCustomers / 37 + 1)) * 37);
        std::string answer;
        const grpc::Status s = GetCustomer(*lifecycle, id, "", &answer);
        ++reads;
        if (!s.ok()) {
          ++read_errors;
          note(absl::StrCat("GetCustomer: ", s.error_code(), " ", s.error_message()));
        } else if (answer != before.at("customer " + id)) {
          ++mismatches;
          note("GetCustomer " + id + " differs from before the rebuild");
        }
        // Value and review answers move with the writer's new customers:
        // each must still be answered.
        v1::GetValueRequest vr;
        vr.set_customer_id(id);
        v1::ValueView view;
        if (const grpc::Status vs = values->GetValue(Ctx().get(), vr, &view); !vs.ok()) {
          ++read_errors;
          note(absl::StrCat("GetValue: ", vs.error_code(), " ", vs.error_message()));
        }
        v1::GetReviewRequest rr;
        rr.set_granularity(v1::GRANULARITY_MONTH);
        *rr.mutable_period_start() = event::ToProto(kNow - Days(30));
        v1::ReviewReport report;
        if (const grpc::Status rs = review->GetReview(Ctx().get(), rr, &report); !rs.ok()) {
          ++read_errors;
          note(absl::StrCat("GetReview: ", rs.error_code(), " ", rs.error_message()));
        }
      }
    });
  }
  clients.emplace_back([&] {
    auto ingest = v1::EventIngest::NewStub(server.Channel());
    auto lifecycle = v1::Lifecycle::NewStub(server.Channel());
    for (int n = 0; !stop; ++n) {
      const std::string id = absl::StrCat("late-", n);
      v1::AppendRequest req;
      *req.add_events() =
          testing::Registered(absl::StrCat("late-reg-", n), id, kNow - Days(10), "华北");
      *req.add_events() = testing::Visited(absl::StrCat("late-visit-", n), id, kNow - Days(5),
                                           v1::VISIT_OUTCOME_INTERESTED);
      v1::AppendResponse resp;
      if (const grpc::Status s = ingest->Append(Ctx().get(), req, &resp); !s.ok()) {
        ++write_errors;
        note(absl::StrCat("Append: ", s.error_code(), " ", s.error_message()));
        continue;
      }
      std::string answer;
      const grpc::Status s = GetCustomer(*lifecycle, id, resp.consistency_token(), &answer);
      ++writes;
      if (!s.ok()) {
        ++write_errors;
        note(absl::StrCat("GetCustomer after a write: ", s.error_code(), " ", s.error_message()));
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  });

  bool seen_rebuilding = false;
  for (const std::string projection : {"lifecycle", "value", "review"}) {
    const v1::RebuildProgress started = Rebuild(server, projection);
    EXPECT_EQ(started.generation(), 0) << projection;
    const v1::RebuildProgress done = WaitRebuilt(server, projection, &seen_rebuilding);
    EXPECT_EQ(done.generation(), 1) << projection;
    EXPECT_EQ(done.error(), "") << projection;
    EXPECT_EQ(done.percent(), 100) << projection;
    EXPECT_TRUE(done.has_finished_at()) << projection;
    EXPECT_GE(done.applied(), kEvents) << projection;
  }
  stop = true;
  for (std::thread& t : clients) t.join();
  EXPECT_EQ(read_errors.load(), 0) << first_error;
  EXPECT_EQ(mismatches.load(), 0) << first_error;
  EXPECT_EQ(write_errors.load(), 0) << first_error;
  EXPECT_GT(reads.load(), 20);
  EXPECT_GT(writes.load(), 5);
  std::cerr << "reads " << reads << ", writes read back " << writes << ", REBUILDING seen "
            << seen_rebuilding << "\n";

  // The new copies serve; the old ones are gone.
  const fs::path projections = dir / "primary" / "projections";
  for (const std::string projection : {"lifecycle", "value", "review"}) {
    EXPECT_FALSE(fs::exists(projections / projection)) << projection;
    EXPECT_TRUE(fs::exists(projections / (projection + ".g1"))) << projection;
    EXPECT_EQ(ReadFile(projections / (projection + ".generation")), "1\n") << projection;
  }
  WaitCaughtUp(server);
  const std::map<std::string, std::string> rebuilt = Answers(server, /*value=*/true);
  const v1::StatusResponse status = Status(server);
  ASSERT_EQ(server.Stop(), 0);

  // Byte for byte what a clean replay of the same log answers.
  const std::map<std::string, std::string> clean =
      CleanReplay(dir / "primary", dir / "replay", /*value=*/true);
  ASSERT_EQ(rebuilt.size(), clean.size());
  for (const auto& [key, answer] : clean) EXPECT_EQ(rebuilt.at(key), answer) << key;
  for (const v1::ProjectionStatus& p : status.projections()) {
    EXPECT_EQ(p.state(), v1::PROJECTION_STATE_READY) << p.name();
    EXPECT_EQ(p.dead_letters(), 0) << p.name();
  }
  fs::remove_all(dir);
}

// The arguments of a server with the ingest, lifecycle, review and admin
// roles over a fresh `dir` (removed first).
std::vector<std::string> FreshServerArgs(const fs::path& dir) {
  fs::remove_all(dir);
  std::vector<std::string> args = {"--data-dir", dir.string(), "--roles",
                                   "ingest,lifecycle,review,admin"};
  args.insert(args.end(), kFlags.begin(), kFlags.end());
  return args;
}

// Starts `server`, appends the workload and waits until every projection
// has applied it; its answers then (value's excluded).
std::map<std::string, std::string> StartFilled(testing::ServerProcess& server) {
  EXPECT_TRUE(server.Start().ok());
  Append(server, Workload());
  WaitCaughtUp(server);
  return Answers(server, /*value=*/false);
}

// The state layout a projection's store records (rt_meta "v"); 0 when none.
uint64_t StoredLayout(const fs::path& store_dir) {
  auto store = store::Store::Open({.path = store_dir.string(), .column_families = {"rt_meta"}});
  EXPECT_TRUE(store.ok()) << store.status();
  if (!store.ok()) return 0;
  auto v = (*store)->Get((*store)->Family("rt_meta"), "v");
  EXPECT_TRUE(v.ok()) << v.status();
  if (!v.ok() || !v->has_value()) return 0;
  std::string_view bytes = **v;
  return store::ReadU64(bytes);
}

TEST(RebuildTest, AKillMidRebuildLeavesTheOldCopyServingAndTheRebuildResumes) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("rebuild_kill_", ::getpid());
  testing::ServerProcess server(CUSTOPS_BINARY, FreshServerArgs(dir));
  const std::map<std::string, std::string> before = StartFilled(server);

  // Kill once the new copy has applied something but not everything.
  const v1::RebuildProgress started = Rebuild(server, "review");
  ASSERT_TRUE(started.running());
  v1::RebuildProgress seen;
  const absl::Time deadline = absl::Now() + absl::Minutes(2);
  while (absl::Now() < deadline) {
    const v1::ProjectionStatus* p = nullptr;
    const v1::StatusResponse s = Status(server);
    p = Find(s, "review");
    ASSERT_NE(p, nullptr);
    seen = p->rebuild();
    ASSERT_TRUE(seen.running()) << "the rebuild ended before it was seen half way: "
                                << seen.ShortDebugString();
    if (seen.applied() > 0) break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_GT(seen.applied(), 0);
  ASSERT_LT(seen.applied(), kEvents);
  server.Kill();
  const fs::path projections = dir / "projections";
  EXPECT_TRUE(fs::exists(projections / "review.g1"));
  EXPECT_TRUE(fs::exists(projections / "review"));
  EXPECT_FALSE(fs::exists(projections / "review.generation"));

  // The old copy answers at once, as before; the rebuild goes on by itself.
  ASSERT_TRUE(server.Start().ok());
  EXPECT_EQ(Answers(server, /*value=*/false), before);
  const v1::RebuildProgress done = WaitRebuilt(server, "review");
  EXPECT_EQ(done.generation(), 1);
  EXPECT_EQ(done.error(), "");
  EXPECT_FALSE(fs::exists(projections / "review"));
  EXPECT_EQ(ReadFile(projections / "review.generation"), "1\n");
  WaitCaughtUp(server);
  EXPECT_EQ(Answers(server, /*value=*/false), before);

  // Rebuilding twice is fine too: generation 2 replaces 1.
  Rebuild(server, "lifecycle");
  EXPECT_EQ(WaitRebuilt(server, "lifecycle").generation(), 1);
  Rebuild(server, "lifecycle");
  EXPECT_EQ(WaitRebuilt(server, "lifecycle").generation(), 2);
  EXPECT_FALSE(fs::exists(projections / "lifecycle.g1"));
  EXPECT_EQ(Answers(server, /*value=*/false), before);
  EXPECT_EQ(server.Stop(), 0);
  fs::remove_all(dir);
}

// A tier report (the answer that depends on the review state's layout): its
// status code and, when OK, its bytes.
std::pair<grpc::StatusCode, std::string> TierReview(testing::ServerProcess& server) {
  v1::GetReviewRequest req;
  req.set_granularity(v1::GRANULARITY_QUARTER);
  *req.mutable_period_start() = event::ToProto(kNow - Days(120));
  req.set_dimension(v1::DIMENSION_TIER);
  req.set_dimension_value("IRON");
  v1::ReviewReport report;
  const grpc::Status s =
      v1::Review::NewStub(server.Channel())->GetReview(Ctx().get(), req, &report);
  return {s.error_code(), s.ok() ? testing::DeterministicBytes(report) : s.error_message()};
}

// A review state written by an earlier build (another state layout) is
// rebuilt by itself when the server starts: the old copy serves meanwhile,
// refusing only the tier answers its layout cannot give, and the new copy
// answers as before.
TEST(RebuildTest, AStateOfAnEarlierLayoutIsRebuiltAtStart) {
  const fs::path dir = fs::temp_directory_path() / absl::StrCat("rebuild_layout_", ::getpid());
  testing::ServerProcess server(CUSTOPS_BINARY, FreshServerArgs(dir));
  const std::map<std::string, std::string> before = StartFilled(server);
  const auto tier_before = TierReview(server);
  ASSERT_EQ(tier_before.first, grpc::StatusCode::OK) << tier_before.second;
  EXPECT_EQ(server.Stop(), 0);

  // As a build from before the layout was recorded left it: no version.
  const fs::path projections = dir / "projections";
  {
    auto store = store::Store::Open(
        {.path = (projections / "review").string(), .column_families = {"rt_meta"}});
    ASSERT_TRUE(store.ok()) << store.status();
    store::Batch batch;
    batch.Delete((*store)->Family("rt_meta"), "v");
    ASSERT_TRUE((*store)->Write(batch).ok());
  }
  ASSERT_EQ(StoredLayout(projections / "review"), 0u);
  // And a rebuild that build left unfinished, of its layout too: not
  // resumed but started again.
  fs::copy(projections / "review", projections / "review.g1", fs::copy_options::recursive);

  ASSERT_TRUE(server.Start().ok());
  // Until the swap, a tier answer is refused (UNAVAILABLE); after it, the
  // same as before. Either way the other answers are the old copy's.
  const auto tier_meanwhile = TierReview(server);
  if (tier_meanwhile.first != grpc::StatusCode::OK) {
    EXPECT_EQ(tier_meanwhile.first, grpc::StatusCode::UNAVAILABLE) << tier_meanwhile.second;
    EXPECT_NE(tier_meanwhile.second.find("dimension: tier answers wait for the rebuild"),
              std::string::npos)
        << tier_meanwhile.second;
  } else {
    EXPECT_EQ(tier_meanwhile.second, tier_before.second);
  }
  const v1::RebuildProgress done = WaitRebuilt(server, "review");
  EXPECT_EQ(done.generation(), 1);
  EXPECT_EQ(done.error(), "");
  EXPECT_EQ(ReadFile(projections / "review.generation"), "1\n");
  EXPECT_FALSE(fs::exists(projections / "lifecycle.generation"));  // its layout is current
  WaitCaughtUp(server);
  EXPECT_EQ(Answers(server, /*value=*/false), before);
  EXPECT_EQ(TierReview(server), tier_before);
  EXPECT_EQ(server.Stop(), 0);
  EXPECT_EQ(StoredLayout(projections / "review.g1"), 2u);  // built anew, this build's layout
  fs::remove_all(dir);
}

}  // namespace
}  // namespace custops

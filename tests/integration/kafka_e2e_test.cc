// Distributed mode end to end on a real Apache Kafka broker (issue 6): an
// ingest process and two lifecycle projection instances, each the real
// custops binary, share the customer-events topic through a consumer group.
// The test appends the demo history (retrying failed calls with the same
// event ids), SIGKILLs one projection instance mid-stream and starts it
// again, then asks every GetCustomer and StageSummary question of both
// instances (each forwards to the partition's owner) and of an embedded-mode
// custops fed the same events: the answers must be byte-identical.
//
// Size: CUSTOPS_KAFKA_E2E_EVENTS events (default 200000; the demo history is
// cut to that many, whole customers first). Needs the `kafka` ctest fixture
// (CUSTOPS_KAFKA_BOOTSTRAP_FILE) or CUSTOPS_KAFKA_BOOTSTRAP, and a broker
// whose custops.customer-events.v1 is empty (the fixture starts fresh).
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "custops/demo/demo.h"
#include "custops/log/kafka_event_log.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

constexpr char kClock[] = "2026-11-23T00:00:00Z";
constexpr int kPartitions = 12;

std::string Bootstrap() {
  if (const char* b = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP"); b != nullptr && *b != '\0') return b;
  const char* file = std::getenv("CUSTOPS_KAFKA_BOOTSTRAP_FILE");
  if (file == nullptr) return "";
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return std::string(absl::StripAsciiWhitespace(line));
}

int64_t EventBudget() {
  int64_t n = 200'000;
  if (const char* v = std::getenv("CUSTOPS_KAFKA_E2E_EVENTS"); v != nullptr) {
    EXPECT_TRUE(absl::SimpleAtoi(v, &n)) << v;
  }
  return n;
}

// Deterministic bytes of a message (map fields sorted).
std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  m.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

// Appends `events` in batches of 500, retrying a failed call (same event ids,
// so what landed is not appended twice) until it succeeds.
void AppendAll(std::shared_ptr<grpc::Channel> channel, const std::vector<v1::Event>& events,
               size_t from, size_t to, int64_t* retries) {
  auto stub = v1::EventIngest::NewStub(channel);
  for (size_t i = from; i < to; i += 500) {
    v1::AppendRequest request;
    for (size_t j = i; j < std::min(to, i + 500); ++j) *request.add_events() = events[j];
    for (int attempt = 0;; ++attempt) {
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
      v1::AppendResponse response;
      const grpc::Status s = stub->Append(&ctx, request, &response);
      if (s.ok()) break;
      ASSERT_LT(attempt, 20) << "append keeps failing: " << s.error_message();
      ++*retries;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
}

// The partitions of the server's one projection (empty when it does not
// answer). Returned by value: a range-for over a temporary's member dangles.
std::vector<v1::PartitionStatus> Partitions(testing::ServerProcess& server);

v1::StatusResponse Status(testing::ServerProcess& server) {
  auto stub = v1::Admin::NewStub(server.Channel());
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::StatusResponse response;
  (void)stub->Status(&ctx, v1::StatusRequest(), &response);
  return response;
}

std::vector<v1::PartitionStatus> Partitions(testing::ServerProcess& server) {
  const v1::StatusResponse status = Status(server);
  for (const v1::ProjectionStatus& p : status.projections()) {
    if (p.name() == "lifecycle") return {p.partitions().begin(), p.partitions().end()};
  }
  return {};
}

// Until every partition is owned by exactly one of `instances`, and each
// owner has applied its partitions to the end and is not restoring.
::testing::AssertionResult WaitConverged(std::vector<testing::ServerProcess*> instances,
                                         int64_t expected_records, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string why;
  while (absl::Now() < deadline) {
    std::map<int, std::string> owner;
    int64_t end_total = 0;
    bool ok = true;
    for (testing::ServerProcess* server : instances) {
      const v1::StatusResponse status = Status(*server);
      if (status.projections_size() != 1) {
        ok = false;
        why = "no status from " + server->address();
        break;
      }
      for (const v1::PartitionStatus& p : status.projections(0).partitions()) {
        if (!p.owned()) continue;
        if (owner.count(p.partition()) > 0) {
          ok = false;
          why = absl::StrCat("partition ", p.partition(), " owned twice");
        }
        owner[p.partition()] = server->address();
        end_total += p.log_end();
        if (p.restoring() || p.lag() != 0 || p.owner() != server->address()) {
          ok = false;
          why =
              absl::StrCat("partition ", p.partition(), " on ", server->address(), ": lag ",
                           p.lag(), p.restoring() ? " restoring" : "", " owner '", p.owner(), "'");
        }
      }
    }
    if (ok && static_cast<int>(owner.size()) != kPartitions) {
      ok = false;
      why = absl::StrCat(owner.size(), " partitions owned");
    }
    if (ok && end_total != expected_records) {
      ok = false;
      why = absl::StrCat(end_total, " records in the log, expected ", expected_records);
    }
    if (ok) return ::testing::AssertionSuccess();
    absl::SleepFor(absl::Milliseconds(250));
  }
  return ::testing::AssertionFailure() << "not converged: " << why;
}

class KafkaE2ETest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = Bootstrap();
    if (bootstrap_.empty()) GTEST_SKIP() << "no broker (run through ctest -L kafka)";
    dir_ = std::filesystem::temp_directory_path() / absl::StrCat("kafka_e2e_", ::getpid());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<std::string> KafkaArgs(const std::string& roles, const std::string& data) {
    return {"--kafka-bootstrap",    bootstrap_,      "--roles", roles,          "--data-dir",
            (dir_ / data).string(), "--fixed-clock", kClock,    "--partitions", "12"};
  }

  std::string bootstrap_;
  std::filesystem::path dir_;
};

TEST_F(KafkaE2ETest, TwoProjectionInstancesAnswerLikeTheEmbeddedMode) {
  // The demo history, cut to the budget at a customer boundary is not needed:
  // a cut anywhere is the same prefix for both modes.
  const int64_t budget = EventBudget();
  std::vector<v1::Event> events =
      demo::GenerateDemo({.seed = 7,
                          .customers = static_cast<int>(std::max<int64_t>(100, budget / 13)),
                          .end = absl::FromUnixSeconds(1'795'392'000)});
  if (static_cast<int64_t>(events.size()) > budget) events.resize(budget);
  std::set<std::string> customers;
  for (const v1::Event& e : events) customers.insert(e.customer_id());
  std::cout << events.size() << " events, " << customers.size() << " customers" << std::endl;

  // A fresh topic: the comparison needs exactly these events in it.
  {
    absl::StatusOr<std::unique_ptr<log::EventLog>> log =
        log::KafkaEventLog::Open({.bootstrap_servers = bootstrap_});
    ASSERT_TRUE(log.ok()) << log.status();
    if ((*log)->PartitionCount(log::kCustomerEvents).ok()) {
      for (int p = 0; p < kPartitions; ++p) {
        absl::StatusOr<Offset> end = (*log)->EndOffset(log::kCustomerEvents, Partition(p));
        ASSERT_TRUE(end.ok() && end->value() == 0)
            << "custops.customer-events.v1 is not empty: this test needs a fresh broker";
      }
    }
    ASSERT_TRUE((*log)->Close().ok());
  }

  testing::ServerProcess ingest(CUSTOPS_BINARY, KafkaArgs("ingest,admin", "ingest"));
  ASSERT_TRUE(ingest.Start().ok());
  testing::ServerProcess p1(CUSTOPS_BINARY, KafkaArgs("lifecycle,admin", "p1"));
  testing::ServerProcess p2(CUSTOPS_BINARY, KafkaArgs("lifecycle,admin", "p2"));
  ASSERT_TRUE(p1.Start().ok());
  ASSERT_TRUE(p2.Start().ok());
  testing::ServerProcess embedded(
      CUSTOPS_BINARY,
      {"--data-dir", (dir_ / "embedded").string(), "--fixed-clock", kClock, "--partitions", "12",
       "--sync", "false", "--roles", "ingest,lifecycle,admin"});
  ASSERT_TRUE(embedded.Start().ok());

  // Both instances hold some partitions before the stream starts.
  ASSERT_TRUE(WaitConverged({&p1, &p2}, 0, absl::Seconds(60)));

  const absl::Time started = absl::Now();
  int64_t retries = 0;
  const size_t n = events.size();
  AppendAll(ingest.Channel(), events, 0, n * 2 / 5, &retries);
  // A crash of one projection instance mid-stream: its partitions have no
  // live owner until the group notices (session timeout), then move to p1.
  std::set<int> p2_partitions;
  for (const v1::PartitionStatus& p : Partitions(p2)) {
    if (p.owned()) p2_partitions.insert(p.partition());
  }
  ASSERT_FALSE(p2_partitions.empty());
  p2.Kill();
  {
    // Right after the crash, a query for one of p2's customers through p1
    // is refused as UNAVAILABLE (never answered from a stale copy).
    std::string victim;
    for (const std::string& c : customers) {
      auto stub = v1::Lifecycle::NewStub(p1.Channel());
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
      v1::GetCustomerRequest request;
      request.set_customer_id(c);
      v1::CustomerView view;
      const grpc::Status s = stub->GetCustomer(&ctx, request, &view);
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
        victim = c;
        break;
      }
    }
    EXPECT_FALSE(victim.empty()) << "no query was refused while p2's partitions were orphaned";
  }
  AppendAll(ingest.Channel(), events, n * 2 / 5, n * 7 / 10, &retries);
  ASSERT_TRUE(p2.Start().ok());
  AppendAll(ingest.Channel(), events, n * 7 / 10, n, &retries);
  const absl::Duration append_time = absl::Now() - started;
  AppendAll(embedded.Channel(), events, 0, n, &retries);
  std::cout << "appended " << n << " events to Kafka in " << append_time << " ("
            << static_cast<int64_t>(n / absl::ToDoubleSeconds(append_time)) << "/s), " << retries
            << " retried calls" << std::endl;

  ASSERT_TRUE(WaitConverged({&p1, &p2}, static_cast<int64_t>(n), absl::Seconds(300)));
  std::cout << "converged " << (absl::Now() - started) << " after the first append" << std::endl;
  {
    // The restarted instance holds partitions again.
    int owned = 0;
    for (const v1::PartitionStatus& p : Partitions(p2)) owned += p.owned();
    EXPECT_GT(owned, 0);
  }
  // The embedded instance has applied everything too.
  {
    const absl::Time deadline = absl::Now() + absl::Seconds(300);
    while (true) {
      int64_t lag = 0;
      const std::vector<v1::PartitionStatus> partitions = Partitions(embedded);
      ASSERT_EQ(partitions.size(), static_cast<size_t>(kPartitions));
      for (const v1::PartitionStatus& p : partitions) {
        lag += p.lag();
      }
      if (lag == 0) break;
      ASSERT_LT(absl::Now(), deadline) << "embedded lag " << lag;
      absl::SleepFor(absl::Milliseconds(200));
    }
  }

  // Every customer, through both instances (each forwards what it does not
  // own), against the embedded answer.
  auto e_stub = v1::Lifecycle::NewStub(embedded.Channel());
  auto stub1 = v1::Lifecycle::NewStub(p1.Channel());
  auto stub2 = v1::Lifecycle::NewStub(p2.Channel());
  int compared = 0;
  int i = 0;
  for (const std::string& c : customers) {
    v1::GetCustomerRequest request;
    request.set_customer_id(c);
    v1::CustomerView expected, got;
    grpc::ClientContext ectx, ctx;
    ASSERT_TRUE(e_stub->GetCustomer(&ectx, request, &expected).ok()) << c;
    const grpc::Status s = (i++ % 2 == 0 ? stub1 : stub2)->GetCustomer(&ctx, request, &got);
    ASSERT_TRUE(s.ok()) << c << ": " << s.error_message();
    ASSERT_EQ(Bytes(got), Bytes(expected)) << c << "\n"
                                           << got.DebugString() << "\n"
                                           << expected.DebugString();
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(customers.size()));
  {
    v1::GetCustomerRequest request;
    request.set_customer_id("no-such-customer");
    v1::CustomerView view;
    grpc::ClientContext ctx;
    EXPECT_EQ(stub2->GetCustomer(&ctx, request, &view).error_code(), grpc::StatusCode::NOT_FOUND);
  }
  for (v1::Dimension d : {v1::DIMENSION_ALL, v1::DIMENSION_REGION, v1::DIMENSION_INDUSTRY,
                          v1::DIMENSION_OWNER, v1::DIMENSION_CHANNEL, v1::DIMENSION_KIND}) {
    v1::StageSummaryRequest request;
    request.set_dimension(d);
    v1::StageSummaryResponse expected;
    grpc::ClientContext ectx;
    ASSERT_TRUE(e_stub->StageSummary(&ectx, request, &expected).ok());
    EXPECT_GT(expected.total(), 0);
    for (auto* stub : {stub1.get(), stub2.get()}) {
      v1::StageSummaryResponse got;
      grpc::ClientContext ctx;
      const grpc::Status s = stub->StageSummary(&ctx, request, &got);
      ASSERT_TRUE(s.ok()) << s.error_message();
      EXPECT_EQ(Bytes(got), Bytes(expected)) << v1::Dimension_Name(d);
    }
  }
  {
    // Lists page across owners the same way.
    v1::ListCustomersRequest request;
    request.set_page_size(50);
    for (int page = 0; page < 3; ++page) {
      v1::ListCustomersResponse expected, got;
      grpc::ClientContext ectx, ctx;
      ASSERT_TRUE(e_stub->ListCustomers(&ectx, request, &expected).ok());
      ASSERT_TRUE(stub1->ListCustomers(&ctx, request, &got).ok());
      EXPECT_EQ(Bytes(got), Bytes(expected)) << "page " << page;
      request.set_page_token(expected.next_page_token());
    }
  }

  EXPECT_EQ(p1.Stop(), 0);
  EXPECT_EQ(p2.Stop(), 0);
  EXPECT_EQ(ingest.Stop(), 0);
  EXPECT_EQ(embedded.Stop(), 0);
}

}  // namespace
}  // namespace custops

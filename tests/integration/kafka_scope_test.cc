// Region scope (docs/security.md, 片区) in distributed mode on a real Apache
// Kafka broker: an ingest process and two projection instances (lifecycle,
// value, review, admin), all the real custops binary with HS256 token auth.
// Lifecycle's partitions are split between the two instances by their
// consumer group, value and review run on one elected leader. A reader token
// scoped to 华东 asks every question through each instance: calls about a
// customer whose partition the other instance owns are forwarded, lists and
// summaries are scattered to both owners and merged, value and review calls
// on the standby are forwarded to the leader. Each forwarded call carries the
// caller's token, so the scope must hold on every path: another region's
// customer is NOT_FOUND, lists and summaries hold only the scope's customers,
// another region's review is PERMISSION_DENIED, and no token is
// UNAUTHENTICATED.
//
// The customer-events topic is shared with the other Kafka tests (it holds
// their customers, in the same regions, when this test runs after them), so
// the expected lists are the unscoped answers filtered by region, and the
// test's own customers (a unique id prefix) must be in them. Needs the
// `kafka` ctest fixture (CUSTOPS_KAFKA_BOOTSTRAP_FILE) or
// CUSTOPS_KAFKA_BOOTSTRAP.
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "custops/event/time.h"
#include "custops/log/kafka_event_log.h"
#include "custops/log/partitioner.h"
#include "custops/rpc/auth.h"
#include "custops/testing/events.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/review.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

namespace fs = std::filesystem;

constexpr char kClock[] = "2026-11-23T00:00:00Z";
const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);  // kClock
constexpr int kPartitions = 12;
constexpr char kSecret[] = "custops-kafka-scope-test-secret-0123456789abcdef";
const char kEast[] = "华东";
const char kNorth[] = "华北";
// Customers per region and partition: every partition holds customers of
// both regions, so whichever partitions an instance owns, the other one owns
// some of each region's customers.
constexpr int kPerPartition = 2;

absl::Duration Days(int n) { return absl::Hours(24 * n); }

std::string Mint(const std::string& subject, const std::string& role,
                 std::optional<std::vector<std::string>> regions = std::nullopt) {
  const absl::Time now = absl::Now();
  absl::StatusOr<std::string> jwt = rpc::MintHs256(kSecret, {.subject = subject,
                                                             .roles = {role},
                                                             .regions = std::move(regions),
                                                             .expires = now + absl::Hours(1),
                                                             .issued_at = now});
  EXPECT_TRUE(jwt.ok()) << jwt.status();
  return jwt.value_or("");
}

// A call context with a deadline and, unless `token` is empty, the bearer token.
std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token,
                                         absl::Duration timeout = absl::Seconds(30)) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!token.empty()) ctx->AddMetadata("authorization", "Bearer " + token);
  return ctx;
}

std::string Describe(const grpc::Status& s) {
  return absl::StrCat(s.error_code(), " (", s.error_message(), ")");
}

// One projection instance: the process and a channel without a token (each
// call carries its own).
struct Instance {
  std::string name;
  testing::ServerProcess* process;
  std::shared_ptr<grpc::Channel> channel;
};

class KafkaScopeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    bootstrap_ = testing::KafkaBootstrap();
    if (bootstrap_.empty()) GTEST_SKIP() << "no broker (run through ctest -L kafka)";
    const std::string unique = absl::StrCat(::getpid(), "-", absl::ToUnixMillis(absl::Now()));
    dir_ = fs::temp_directory_path() / absl::StrCat("kafka_scope_", unique);
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    prefix_ = absl::StrCat("scope-", unique, "-");
    {
      std::ofstream secret(dir_ / "jwt.key");
      secret << kSecret << "\n";
      // Groups of our own: the instances must not join another test's
      // lifecycle group or value/review election.
      std::ofstream config(dir_ / "custops.toml");
      config << "[kafka]\ngroup_prefix = \"custops-scope-" << unique << "\"\n";
    }
    emitter_ = Mint("scope-emitter", "emitter");
    reader_ = Mint("scope-reader", "reader");
    east_ = Mint("scope-east-reader", "reader", std::vector<std::string>{kEast});
  }

  void TearDown() override {
    if (HasFailure()) {
      // The instances' logs, for diagnosis.
      for (const char* name : {"ingest", "p1", "p2"}) {
        std::ifstream in(dir_ / absl::StrCat(name, ".stderr"));
        std::deque<std::string> tail;
        for (std::string line; std::getline(in, line);) {
          tail.push_back(line);
          if (tail.size() > 40) tail.pop_front();
        }
        std::cout << "---- " << name << " stderr (last lines) ----\n";
        for (const std::string& line : tail) std::cout << line << "\n";
      }
    }
    if (!dir_.empty()) fs::remove_all(dir_);
  }

  std::unique_ptr<testing::ServerProcess> NewInstance(const std::string& name,
                                                      const std::string& roles) {
    auto process = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY,
        std::vector<std::string>{"--config", (dir_ / "custops.toml").string(), "--kafka-bootstrap",
                                 bootstrap_, "--roles", roles, "--data-dir", (dir_ / name).string(),
                                 "--fixed-clock", kClock, "--partitions", "12",
                                 "--jwt-hs256-secret-file", (dir_ / "jwt.key").string()});
    process->set_probe_token(reader_);
    process->set_stderr_file((dir_ / absl::StrCat(name, ".stderr")).string());
    return process;
  }

  // The partitions of projection `projection` as `server` reports them
  // (empty when it does not answer).
  std::vector<v1::PartitionStatus> Partitions(const Instance& server,
                                              const std::string& projection) {
    auto stub = v1::Admin::NewStub(server.channel);
    v1::StatusResponse response;
    if (!stub->Status(Ctx(reader_, absl::Seconds(10)).get(), v1::StatusRequest(), &response).ok()) {
      return {};
    }
    for (const v1::ProjectionStatus& p : response.projections()) {
      if (p.name() == projection) return {p.partitions().begin(), p.partitions().end()};
    }
    return {};
  }

  // Until (1) every lifecycle partition is owned by exactly one of the two
  // instances, each owns some, both name the same owners, and every owner
  // has applied its partitions to the log end; (2) one instance (the
  // leader, `*leader`) owns every value and review partition, applied to the
  // end, the other owns none, and both name the leader as their owner.
  ::testing::AssertionResult WaitReady(const std::vector<Instance>& instances, int* leader,
                                       absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string why;
    while (absl::Now() < deadline) {
      why = ReadyProblem(instances, leader);
      if (why.empty()) return ::testing::AssertionSuccess();
      absl::SleepFor(absl::Milliseconds(200));
    }
    return ::testing::AssertionFailure() << "not ready after " << timeout << ": " << why;
  }

  // "" when ready (see WaitReady), else what is not.
  std::string ReadyProblem(const std::vector<Instance>& instances, int* leader) {
    std::vector<std::vector<v1::PartitionStatus>> lifecycle;
    for (const Instance& i : instances) {
      lifecycle.push_back(Partitions(i, "lifecycle"));
      if (lifecycle.back().size() != static_cast<size_t>(kPartitions)) {
        return absl::StrCat("no lifecycle status from ", i.name);
      }
    }
    std::vector<int> owned(instances.size(), 0);
    for (int p = 0; p < kPartitions; ++p) {
      int owners = 0;
      for (size_t i = 0; i < instances.size(); ++i) {
        const v1::PartitionStatus& s = lifecycle[i][p];
        if (s.owner() != lifecycle[0][p].owner()) {
          return absl::StrCat("lifecycle partition ", p, ": ", instances[i].name, " names owner '",
                              s.owner(), "', ", instances[0].name, " '", lifecycle[0][p].owner(),
                              "'");
        }
        if (!s.owned()) continue;
        ++owners;
        ++owned[i];
        if (s.restoring() || s.lag() != 0 || s.owner() != instances[i].process->address()) {
          return absl::StrCat("lifecycle partition ", p, " on ", instances[i].name, ": lag ",
                              s.lag(), s.restoring() ? " restoring" : "", " owner '", s.owner(),
                              "'");
        }
      }
      if (owners != 1) return absl::StrCat("lifecycle partition ", p, ": ", owners, " owners");
    }
    for (size_t i = 0; i < instances.size(); ++i) {
      if (owned[i] == 0) return absl::StrCat(instances[i].name, " owns no lifecycle partition");
    }
    int the_leader = -1;
    for (const char* projection : {"value", "review"}) {
      std::vector<std::vector<v1::PartitionStatus>> status;
      for (const Instance& i : instances) {
        status.push_back(Partitions(i, projection));
        if (status.back().size() != static_cast<size_t>(kPartitions)) {
          return absl::StrCat("no ", projection, " status from ", i.name);
        }
      }
      for (size_t i = 0; i < instances.size(); ++i) {
        if (status[i][0].owned()) the_leader = static_cast<int>(i);
      }
      if (the_leader < 0) return absl::StrCat("no ", projection, " leader");
      const std::string& address = instances[the_leader].process->address();
      for (size_t i = 0; i < instances.size(); ++i) {
        const bool is_leader = static_cast<int>(i) == the_leader;
        for (const v1::PartitionStatus& s : status[i]) {
          if (s.owned() != is_leader || s.owner() != address ||
              (is_leader && (s.restoring() || s.lag() != 0))) {
            return absl::StrCat(projection, " partition ", s.partition(), " on ", instances[i].name,
                                ": owned ", s.owned(), " lag ", s.lag(),
                                s.restoring() ? " restoring" : "", " owner '", s.owner(),
                                "', leader ", instances[the_leader].name);
          }
        }
      }
    }
    *leader = the_leader;
    return "";
  }

  std::string bootstrap_;
  fs::path dir_;
  std::string prefix_;
  std::string emitter_, reader_, east_;
};

// Every customer of Lifecycle.ListCustomers as `token`, page by page.
void ListLifecycle(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
                   const std::string& consistency, const std::string& what,
                   std::vector<v1::CustomerSummary>* out) {
  auto stub = v1::Lifecycle::NewStub(channel);
  v1::ListCustomersRequest request;
  request.set_page_size(1000);
  request.set_consistency_token(consistency);
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 1000) << what << ": the list does not end";
    v1::ListCustomersResponse response;
    const grpc::Status s = stub->ListCustomers(Ctx(token).get(), request, &response);
    ASSERT_TRUE(s.ok()) << what << ": Lifecycle.ListCustomers page " << page << ": " << Describe(s);
    out->insert(out->end(), response.customers().begin(), response.customers().end());
    if (response.next_page_token().empty()) return;
    request.set_page_token(response.next_page_token());
  }
}

// Every customer of Value.ListCustomers as `token`, page by page.
void ListValue(const std::shared_ptr<grpc::Channel>& channel, const std::string& token,
               const std::string& consistency, const std::string& what,
               std::vector<v1::ValueSummary>* out) {
  auto stub = v1::Value::NewStub(channel);
  v1::ListValueCustomersRequest request;
  request.set_page_size(1000);
  request.set_consistency_token(consistency);
  for (int page = 0;; ++page) {
    ASSERT_LT(page, 1000) << what << ": the list does not end";
    v1::ListValueCustomersResponse response;
    const grpc::Status s = stub->ListCustomers(Ctx(token).get(), request, &response);
    ASSERT_TRUE(s.ok()) << what << ": Value.ListCustomers page " << page << ": " << Describe(s);
    out->insert(out->end(), response.customers().begin(), response.customers().end());
    if (response.next_page_token().empty()) return;
    request.set_page_token(response.next_page_token());
  }
}

TEST_F(KafkaScopeTest, ScopedReaderSeesOnlyItsRegionThroughEveryInstance) {
  const absl::Time started = absl::Now();
  // Customers of both regions on every partition (ids chosen by partition).
  std::vector<std::string> east, north;
  for (const auto& [region, ids, tag] :
       {std::tuple{kEast, &east, "e"}, std::tuple{kNorth, &north, "n"}}) {
    std::vector<int> on(kPartitions, 0);
    for (int k = 0; static_cast<int>(ids->size()) < kPartitions * kPerPartition; ++k) {
      const std::string id = absl::StrCat(prefix_, tag, k);
      const int p = log::PartitionForKey(id, kPartitions).value();
      if (on[p] < kPerPartition) {
        ++on[p];
        ids->push_back(id);
      }
    }
  }
  std::sort(east.begin(), east.end());
  std::sort(north.begin(), north.end());
  std::map<std::string, std::string> region_of;
  for (const std::string& c : east) region_of[c] = kEast;
  for (const std::string& c : north) region_of[c] = kNorth;

  std::unique_ptr<testing::ServerProcess> ingest = NewInstance("ingest", "ingest,admin");
  ASSERT_TRUE(ingest->Start().ok());
  const std::string roles = "lifecycle,value,review,admin";
  std::unique_ptr<testing::ServerProcess> p1 = NewInstance("p1", roles);
  std::unique_ptr<testing::ServerProcess> p2 = NewInstance("p2", roles);
  ASSERT_TRUE(p1->Start().ok());
  {
    // Readiness is honest on Kafka (docs/operations.md "Health and
    // readiness"): once p1, alone in a fresh consumer group, says Lifecycle
    // is SERVING, a summary over every partition answers (before the group
    // had assigned them it said SERVING while queries were UNAVAILABLE).
    auto channel = grpc::CreateChannel(p1->address(), grpc::InsecureChannelCredentials());
    auto health = ::grpc::health::v1::Health::NewStub(channel);
    ::grpc::health::v1::HealthCheckRequest check;
    check.set_service("custops.v1.Lifecycle");
    const absl::Time deadline = absl::Now() + absl::Seconds(300);
    for (;;) {
      ::grpc::health::v1::HealthCheckResponse response;
      const grpc::Status s = health->Check(Ctx("", absl::Seconds(10)).get(), check, &response);
      if (s.ok() && response.status() == ::grpc::health::v1::HealthCheckResponse::SERVING) break;
      ASSERT_LT(absl::Now(), deadline)
          << "Lifecycle never SERVING on p1: " << Describe(s) << " " << response.status();
      absl::SleepFor(absl::Milliseconds(50));
    }
    v1::StageSummaryRequest request;
    request.set_dimension(v1::DIMENSION_REGION);
    v1::StageSummaryResponse response;
    const grpc::Status s = v1::Lifecycle::NewStub(channel)->StageSummary(
        Ctx(reader_, absl::Seconds(30)).get(), request, &response);
    ASSERT_TRUE(s.ok()) << "StageSummary right after SERVING: " << Describe(s);
  }
  ASSERT_TRUE(p2->Start().ok());
  const std::vector<Instance> instances = {
      {"p1", p1.get(), grpc::CreateChannel(p1->address(), grpc::InsecureChannelCredentials())},
      {"p2", p2.get(), grpc::CreateChannel(p2->address(), grpc::InsecureChannelCredentials())}};

  // A record no API would take (as another Kafka producer could write it)
  // ahead of one more customer's events: every projection parks that
  // customer (docs/operations.md "Dead letters") until the replay below.
  const std::string poisoned = prefix_ + "poisoned";
  {
    absl::StatusOr<std::unique_ptr<log::EventLog>> producer =
        log::KafkaEventLog::Open({.bootstrap_servers = bootstrap_});
    ASSERT_TRUE(producer.ok()) << producer.status();
    ASSERT_TRUE((*producer)
                    ->Append(log::kCustomerEvents,
                             {{.key = poisoned, .value = "\x01 not an event"}}, {.sync = true})
                    .ok());
    ASSERT_TRUE((*producer)->Close().ok());
  }
  // A customer and a contract each, as the emitter (retried with the same
  // event ids until the log takes them: nothing lands twice).
  v1::AppendRequest append;
  *append.add_events() = testing::Registered(poisoned + "-reg", poisoned, kNow - Days(60), kEast);
  *append.add_events() = testing::Signed(poisoned + "-sign", poisoned, kNow - Days(20), 5'000);
  int64_t amount = 10'000;
  for (const auto& [customer, region] : region_of) {
    *append.add_events() =
        testing::Registered(customer + "-reg", customer, kNow - Days(60), region);
    *append.add_events() = testing::Signed(customer + "-sign", customer, kNow - Days(20), amount);
    amount += 1'000;
  }
  std::string token;
  {
    auto stub = v1::EventIngest::NewStub(
        grpc::CreateChannel(ingest->address(), grpc::InsecureChannelCredentials()));
    const absl::Time deadline = absl::Now() + absl::Seconds(120);
    for (;;) {
      v1::AppendResponse response;
      const grpc::Status s =
          stub->Append(Ctx(emitter_, absl::Seconds(60)).get(), append, &response);
      if (s.ok()) {
        ASSERT_EQ(response.results_size(), append.events_size());
        token = response.consistency_token();
        break;
      }
      ASSERT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << "Append: " << Describe(s);
      ASSERT_LT(absl::Now(), deadline) << "Append keeps failing: " << Describe(s);
      absl::SleepFor(absl::Milliseconds(200));
    }
  }
  ASSERT_FALSE(token.empty());

  int leader = -1;
  // The value/review leader restores every partition of the shared topic,
  // which holds the earlier Kafka tests' events too (kafka_e2e_test's 200k,
  // 40k under the sanitizers): 101 s for this whole test under ASan on two
  // busy cores (2026-12-08). The test's own timeout (900 s) is the cap.
  ASSERT_TRUE(WaitReady(instances, &leader, absl::Seconds(600)));
  std::cout << "appended " << append.events_size() << " events of " << region_of.size()
            << " customers; both instances ready " << (absl::Now() - started)
            << " after the start; value/review leader " << instances[leader].name << std::endl;

  // Each instance must forward: the other one owns some customers of each
  // region (by construction; checked against the group's assignment).
  for (size_t i = 0; i < instances.size(); ++i) {
    std::set<int> mine;
    for (const v1::PartitionStatus& s : Partitions(instances[i], "lifecycle")) {
      if (s.owned()) mine.insert(s.partition());
    }
    ASSERT_FALSE(mine.empty()) << instances[i].name;
    for (const std::vector<std::string>* ids : {&east, &north}) {
      int elsewhere = 0;
      for (const std::string& c : *ids) {
        elsewhere += mine.count(log::PartitionForKey(c, kPartitions).value()) == 0;
      }
      EXPECT_GT(elsewhere, 0) << instances[i].name << " owns every partition of "
                              << region_of[ids->front()] << "'s customers";
      EXPECT_LT(elsewhere, static_cast<int>(ids->size()))
          << instances[i].name << " owns no partition of " << region_of[ids->front()]
          << "'s customers";
    }
  }

  // What the scope must show: the unscoped answers (the topic may hold other
  // tests' customers, in the same regions) filtered to 华东.
  std::vector<v1::CustomerSummary> all;
  ASSERT_NO_FATAL_FAILURE(ListLifecycle(instances[0].channel, reader_, token, "unscoped", &all));
  std::vector<std::string> expected;  // serialized summaries of 华东's customers, by id
  std::set<std::string> listed;
  for (const v1::CustomerSummary& c : all) {
    listed.insert(c.customer_id());
    if (c.region() == kEast) expected.push_back(c.SerializeAsString());
    if (auto it = region_of.find(c.customer_id()); it != region_of.end()) {
      EXPECT_EQ(c.region(), it->second) << c.customer_id();
    }
  }
  for (const auto& [customer, region] : region_of) {
    EXPECT_EQ(listed.count(customer), 1u) << customer << " is not in the unscoped list";
  }
  const int64_t east_count = static_cast<int64_t>(expected.size());
  ASSERT_GE(east_count, static_cast<int64_t>(east.size()));

  std::vector<v1::ValueSummary> value_all;
  ASSERT_NO_FATAL_FAILURE(ListValue(instances[0].channel, reader_, token, "unscoped", &value_all));
  std::vector<std::string> value_east;  // ids of 华东's customers in the value population
  std::set<std::string> valued;
  for (const v1::ValueSummary& c : value_all) {
    valued.insert(c.customer_id());
    if (c.region() == kEast) value_east.push_back(c.customer_id());
  }
  for (const auto& [customer, region] : region_of) {
    EXPECT_EQ(valued.count(customer), 1u) << customer << " is not in the value population";
  }
  std::cout << all.size() << " customers in the topic (" << east_count << " in " << kEast << "), "
            << value_all.size() << " in the value population (" << value_east.size() << " in "
            << kEast << ")" << std::endl;

  // The unscoped StageSummary by region: 华东's rows are what the scoped one
  // must hold.
  std::vector<std::string> east_rows;
  {
    auto stub = v1::Lifecycle::NewStub(instances[0].channel);
    v1::StageSummaryRequest request;
    request.set_dimension(v1::DIMENSION_REGION);
    request.set_consistency_token(token);
    v1::StageSummaryResponse response;
    const grpc::Status s = stub->StageSummary(Ctx(reader_).get(), request, &response);
    ASSERT_TRUE(s.ok()) << "unscoped StageSummary: " << Describe(s);
    EXPECT_EQ(response.total(), static_cast<int64_t>(all.size()));
    for (const v1::StageCount& c : response.counts()) {
      if (c.dimension_value() == kEast) east_rows.push_back(c.SerializeAsString());
    }
  }

  for (const Instance& instance : instances) {
    SCOPED_TRACE("through " + instance.name +
                 (&instance == &instances[leader] ? " (value/review leader)" : " (standby)"));
    auto lifecycle = v1::Lifecycle::NewStub(instance.channel);
    auto value = v1::Value::NewStub(instance.channel);
    auto review = v1::Review::NewStub(instance.channel);

    // One customer at a time: the other region's are not there; the own
    // region's are, whichever instance owns them.
    for (const auto& [customer, region] : region_of) {
      v1::GetCustomerRequest request;
      request.set_customer_id(customer);
      request.set_consistency_token(token);
      v1::CustomerView view;
      const grpc::Status s = lifecycle->GetCustomer(Ctx(east_).get(), request, &view);
      const int p = log::PartitionForKey(customer, kPartitions).value();
      if (region == kNorth) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND)
            << "GetCustomer " << customer << " (" << region << ", partition " << p
            << "): " << Describe(s);
      } else {
        ASSERT_TRUE(s.ok()) << "GetCustomer " << customer << " (partition " << p
                            << "): " << Describe(s);
        EXPECT_EQ(view.customer_id(), customer);
        EXPECT_EQ(view.profile().region(), kEast) << customer;
      }
      v1::GetValueRequest value_request;
      value_request.set_customer_id(customer);
      value_request.set_consistency_token(token);
      v1::ValueView value_view;
      const grpc::Status vs = value->GetValue(Ctx(east_).get(), value_request, &value_view);
      if (region == kNorth) {
        EXPECT_EQ(vs.error_code(), grpc::StatusCode::NOT_FOUND)
            << "GetValue " << customer << " (" << region << "): " << Describe(vs);
      } else {
        ASSERT_TRUE(vs.ok()) << "GetValue " << customer << ": " << Describe(vs);
        EXPECT_EQ(value_view.region(), kEast) << customer;
      }
    }

    // The list, scattered to both owners and merged: exactly 华东's customers.
    {
      std::vector<v1::CustomerSummary> scoped;
      ASSERT_NO_FATAL_FAILURE(ListLifecycle(instance.channel, east_, token, "scoped", &scoped));
      std::vector<std::string> got;
      for (const v1::CustomerSummary& c : scoped) got.push_back(c.SerializeAsString());
      EXPECT_EQ(got.size(), expected.size());
      EXPECT_TRUE(got == expected) << "Lifecycle.ListCustomers as the 华东 reader differs from the "
                                      "unscoped list filtered to 华东";
      std::set<std::string> ids;
      for (const v1::CustomerSummary& c : scoped) ids.insert(c.customer_id());
      for (const std::string& c : east) EXPECT_EQ(ids.count(c), 1u) << c << " missing";
      for (const std::string& c : north) EXPECT_EQ(ids.count(c), 0u) << c << " listed";
    }

    // StageSummary by region: only 华东's rows, counting every 华东 customer.
    for (v1::Dimension d : {v1::DIMENSION_REGION, v1::DIMENSION_ALL}) {
      v1::StageSummaryRequest request;
      request.set_dimension(d);
      request.set_consistency_token(token);
      v1::StageSummaryResponse response;
      const grpc::Status s = lifecycle->StageSummary(Ctx(east_).get(), request, &response);
      ASSERT_TRUE(s.ok()) << "StageSummary " << v1::Dimension_Name(d) << ": " << Describe(s);
      int64_t sum = 0;
      std::vector<std::string> rows;
      for (const v1::StageCount& c : response.counts()) {
        sum += c.count();
        rows.push_back(c.SerializeAsString());
        if (d == v1::DIMENSION_REGION) {
          EXPECT_EQ(c.dimension_value(), kEast) << "StageSummary(REGION) row " << c.DebugString();
        }
      }
      EXPECT_EQ(sum, east_count) << "StageSummary " << v1::Dimension_Name(d);
      EXPECT_EQ(response.total(), east_count) << "StageSummary " << v1::Dimension_Name(d);
      if (d == v1::DIMENSION_REGION) {
        EXPECT_TRUE(rows == east_rows) << "StageSummary(REGION) as the 华东 reader differs from "
                                          "the unscoped one's 华东 rows";
      }
    }

    // Value (forwarded to the leader from the standby): the scope's
    // customers only; every customer without a scope.
    {
      v1::TierSummaryRequest request;
      request.set_consistency_token(token);
      v1::TierSummaryResponse scoped, unscoped;
      grpc::Status s = value->TierSummary(Ctx(east_).get(), request, &scoped);
      ASSERT_TRUE(s.ok()) << "TierSummary as the 华东 reader: " << Describe(s);
      EXPECT_EQ(scoped.total(), static_cast<int64_t>(value_east.size()))
          << "TierSummary total as the 华东 reader";
      s = value->TierSummary(Ctx(reader_).get(), request, &unscoped);
      ASSERT_TRUE(s.ok()) << "TierSummary unscoped: " << Describe(s);
      EXPECT_EQ(unscoped.total(), static_cast<int64_t>(value_all.size()))
          << "TierSummary total unscoped";
      EXPECT_GT(unscoped.total(), scoped.total());

      std::vector<v1::ValueSummary> listed_value;
      ASSERT_NO_FATAL_FAILURE(ListValue(instance.channel, east_, token, "scoped", &listed_value));
      std::vector<std::string> ids;
      for (const v1::ValueSummary& c : listed_value) ids.push_back(c.customer_id());
      EXPECT_TRUE(ids == value_east) << "Value.ListCustomers as the 华东 reader: " << ids.size()
                                     << " customers, expected " << value_east.size();
    }

    // Review: another region's report is refused, the own region's answered.
    for (const char* region : {kNorth, kEast}) {
      v1::GetReviewRequest request;
      request.set_granularity(v1::GRANULARITY_MONTH);
      *request.mutable_period_start() = event::ToProto(kNow - Days(10));
      request.set_dimension(v1::DIMENSION_REGION);
      request.set_dimension_value(region);
      request.set_consistency_token(token);
      v1::ReviewReport report;
      const grpc::Status s = review->GetReview(Ctx(east_).get(), request, &report);
      if (std::string(region) == kNorth) {
        EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED)
            << "GetReview(REGION, 华北): " << Describe(s);
      } else {
        EXPECT_TRUE(s.ok()) << "GetReview(REGION, 华东): " << Describe(s);
      }
    }

    // No token: refused before anything is looked at (or forwarded).
    {
      v1::GetCustomerRequest get;
      get.set_customer_id(east.front());
      v1::CustomerView view;
      EXPECT_EQ(lifecycle->GetCustomer(Ctx("").get(), get, &view).error_code(),
                grpc::StatusCode::UNAUTHENTICATED)
          << "GetCustomer";
      v1::ListCustomersResponse list;
      EXPECT_EQ(
          lifecycle->ListCustomers(Ctx("").get(), v1::ListCustomersRequest(), &list).error_code(),
          grpc::StatusCode::UNAUTHENTICATED)
          << "ListCustomers";
      v1::StageSummaryResponse stages;
      EXPECT_EQ(
          lifecycle->StageSummary(Ctx("").get(), v1::StageSummaryRequest(), &stages).error_code(),
          grpc::StatusCode::UNAUTHENTICATED)
          << "StageSummary";
      v1::TierSummaryResponse tiers;
      EXPECT_EQ(value->TierSummary(Ctx("").get(), v1::TierSummaryRequest(), &tiers).error_code(),
                grpc::StatusCode::UNAUTHENTICATED)
          << "TierSummary";
      v1::GetReviewRequest review_request;
      review_request.set_granularity(v1::GRANULARITY_MONTH);
      *review_request.mutable_period_start() = event::ToProto(kNow - Days(10));
      review_request.set_dimension(v1::DIMENSION_REGION);
      review_request.set_dimension_value(kEast);
      v1::ReviewReport report;
      EXPECT_EQ(review->GetReview(Ctx("").get(), review_request, &report).error_code(),
                grpc::StatusCode::UNAUTHENTICATED)
          << "GetReview";
      auto admin = v1::Admin::NewStub(instance.channel);
      v1::StatusResponse status;
      EXPECT_EQ(admin->Status(Ctx("").get(), v1::StatusRequest(), &status).error_code(),
                grpc::StatusCode::UNAUTHENTICATED)
          << "Admin.Status";
    }
  }

  // Parking on Kafka: the poisoned customer is unknown through either
  // instance; each projection's owner releases it (the other instance names
  // the partition as not its own), then it answers everywhere.
  {
    const std::string admin = Mint("scope-admin", "admin");
    const int partition = log::PartitionForKey(poisoned, kPartitions).value();
    for (const Instance& instance : instances) {
      v1::GetCustomerRequest get;
      get.set_customer_id(poisoned);
      get.set_consistency_token(token);
      v1::CustomerView view;
      EXPECT_EQ(v1::Lifecycle::NewStub(instance.channel)
                    ->GetCustomer(Ctx(reader_).get(), get, &view)
                    .error_code(),
                grpc::StatusCode::NOT_FOUND)
          << "parked customer through " << instance.name;
    }
    for (const char* projection : {"lifecycle", "value", "review"}) {
      int released = 0;
      for (const Instance& instance : instances) {
        bool owner = false;
        for (const v1::PartitionStatus& s : Partitions(instance, projection)) {
          if (s.partition() == partition) owner = s.owned();
        }
        v1::ReplayDeadLettersRequest replay;
        replay.set_projection(projection);
        replay.set_customer_id(poisoned);
        replay.set_discard_heads(true);
        v1::ReplayDeadLettersResponse replayed;
        const grpc::Status s = v1::Admin::NewStub(instance.channel)
                                   ->ReplayDeadLetters(Ctx(admin).get(), replay, &replayed);
        ASSERT_TRUE(s.ok()) << projection << " replay on " << instance.name << ": " << Describe(s);
        if (owner) {
          EXPECT_EQ(replayed.customers_released(), 1) << projection << " on " << instance.name;
          EXPECT_EQ(replayed.events_replayed(), 3) << projection << " on " << instance.name;
          EXPECT_EQ(replayed.partitions_not_owned_size(), 0);
          released += static_cast<int>(replayed.customers_released());
        } else {
          EXPECT_EQ(replayed.customers_released(), 0) << projection << " on " << instance.name;
          ASSERT_EQ(replayed.partitions_not_owned_size(), 1);
          EXPECT_EQ(replayed.partitions_not_owned(0), partition);
        }
      }
      EXPECT_EQ(released, 1) << projection << ": released by its owner, once";
    }
    for (const Instance& instance : instances) {
      v1::GetCustomerRequest get;
      get.set_customer_id(poisoned);
      v1::CustomerView view;
      const grpc::Status s =
          v1::Lifecycle::NewStub(instance.channel)->GetCustomer(Ctx(reader_).get(), get, &view);
      ASSERT_TRUE(s.ok()) << "released customer through " << instance.name << ": " << Describe(s);
      EXPECT_EQ(view.purchase_count(), 1);
      v1::StatusResponse status;
      ASSERT_TRUE(v1::Admin::NewStub(instance.channel)
                      ->Status(Ctx(reader_).get(), v1::StatusRequest(), &status)
                      .ok());
      for (const v1::ProjectionStatus& p : status.projections()) {
        EXPECT_EQ(p.parked_customers(), 0) << p.name() << " on " << instance.name;
      }
    }
  }

  // Rebuild on Kafka (docs/operations.md "Rebuild"): each lifecycle instance
  // rebuilds the partitions it owns and swaps; the value and review leader
  // rebuilds every partition, a standby has none to rebuild. Answers through
  // either instance are the same afterwards.
  {
    const std::string admin = Mint("scope-admin", "admin");
    auto answer = [&](const Instance& instance) {
      v1::GetCustomerRequest get;
      get.set_customer_id(poisoned);
      *get.mutable_as_of() = event::ToProto(kNow);
      v1::CustomerView view;
      const grpc::Status s =
          v1::Lifecycle::NewStub(instance.channel)->GetCustomer(Ctx(reader_).get(), get, &view);
      v1::StageSummaryRequest summary;
      *summary.mutable_as_of() = event::ToProto(kNow);
      v1::StageSummaryResponse stages;
      const grpc::Status t = v1::Lifecycle::NewStub(instance.channel)
                                 ->StageSummary(Ctx(reader_).get(), summary, &stages);
      EXPECT_TRUE(s.ok() && t.ok()) << instance.name << ": " << Describe(s) << " " << Describe(t);
      return view.ShortDebugString() + " | " + stages.ShortDebugString();
    };
    std::map<std::string, std::string> before;
    for (const Instance& instance : instances) before[instance.name] = answer(instance);
    auto rebuilt = [&](const Instance& instance, const std::string& projection) {
      const absl::Time deadline = absl::Now() + absl::Minutes(3);
      while (absl::Now() < deadline) {
        v1::StatusResponse status;
        if (v1::Admin::NewStub(instance.channel)
                ->Status(Ctx(reader_).get(), v1::StatusRequest(), &status)
                .ok()) {
          for (const v1::ProjectionStatus& p : status.projections()) {
            if (p.name() == projection && !p.rebuild().running()) return p.rebuild();
          }
        }
        absl::SleepFor(absl::Milliseconds(100));
      }
      ADD_FAILURE() << projection << " on " << instance.name << ": the rebuild did not end";
      return v1::RebuildProgress();
    };
    for (const char* projection : {"lifecycle", "value", "review"}) {
      int started = 0;
      int refused = 0;
      for (const Instance& instance : instances) {
        v1::RebuildRequest request;
        request.set_projection(projection);
        v1::RebuildResponse response;
        const grpc::Status s =
            v1::Admin::NewStub(instance.channel)->Rebuild(Ctx(admin).get(), request, &response);
        if (s.ok()) {
          ++started;
          const v1::RebuildProgress done = rebuilt(instance, projection);
          EXPECT_EQ(done.generation(), 1) << projection << " on " << instance.name;
          EXPECT_EQ(done.error(), "") << projection << " on " << instance.name;
        } else {
          // A standby owns no partition of it.
          EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION)
              << projection << " on " << instance.name << ": " << Describe(s);
          ++refused;
        }
      }
      if (std::string(projection) == "lifecycle") {
        EXPECT_EQ(started, 2) << "each lifecycle instance owns some partitions";
      } else {
        EXPECT_EQ(started, 1) << projection << ": the leader rebuilds";
        EXPECT_EQ(refused, 1) << projection << ": the standby refuses";
      }
    }
    for (const Instance& instance : instances) {
      EXPECT_EQ(answer(instance), before[instance.name]) << "through " << instance.name;
    }
  }

  EXPECT_EQ(p2->Stop(), 0);
  EXPECT_EQ(p1->Stop(), 0);
  EXPECT_EQ(ingest->Stop(), 0);
  std::cout << "done in " << (absl::Now() - started) << std::endl;
}

}  // namespace
}  // namespace custops

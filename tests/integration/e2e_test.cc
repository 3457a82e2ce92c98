// End to end over real gRPC and TCP against the real custops binary:
// append, read your writes with a consistency token, idempotent retries,
// subscriptions that resume without gaps or repeats, derived changes,
// health, reflection and metrics.
#include <grpcpp/generic/generic_stub.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "custops/testing/events.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

using testing::Registered;
using testing::Signed;
using testing::Visited;

const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);  // 2026-11-23T00:00:00Z
absl::Duration Days(int n) { return absl::Hours(24 * n); }

std::chrono::system_clock::time_point In(int seconds) {
  return std::chrono::system_clock::now() + std::chrono::seconds(seconds);
}

class EndToEndTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::filesystem::path(std::filesystem::temp_directory_path() /
                                     absl::StrCat("e2e_", ::getpid()));
    std::filesystem::remove_all(*dir_);
    metrics_port_ = testing::FreePort();
    server_ = new testing::ServerProcess(
        CUSTOPS_BINARY,
        {"--data-dir", dir_->string(), "--fixed-clock", "2026-11-23T00:00:00Z", "--partitions", "4",
         "--metrics-listen", absl::StrCat("127.0.0.1:", metrics_port_)});
    ASSERT_TRUE(server_->Start().ok());
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(server_->Stop(), 0);  // graceful shutdown on SIGTERM
    delete server_;
    std::filesystem::remove_all(*dir_);
    delete dir_;
  }
  void SetUp() override {
    ingest_ = v1::EventIngest::NewStub(server_->Channel());
    lifecycle_ = v1::Lifecycle::NewStub(server_->Channel());
    subs_ = v1::Subscriptions::NewStub(server_->Channel());
    admin_ = v1::Admin::NewStub(server_->Channel());
  }

  v1::AppendResponse Append(const std::vector<v1::Event>& events) {
    v1::AppendRequest req;
    for (const auto& e : events) *req.add_events() = e;
    v1::AppendResponse resp;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(30));
    grpc::Status s = ingest_->Append(&ctx, req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp;
  }

  v1::CustomerView Get(const std::string& id, const std::string& token) {
    v1::GetCustomerRequest req;
    req.set_customer_id(id);
    req.set_consistency_token(token);
    v1::CustomerView view;
    grpc::ClientContext ctx;
    ctx.set_deadline(In(30));
    grpc::Status s = lifecycle_->GetCustomer(&ctx, req, &view);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return view;
  }

  static std::filesystem::path* dir_;
  static testing::ServerProcess* server_;
  static int metrics_port_;
  std::unique_ptr<v1::EventIngest::Stub> ingest_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::Subscriptions::Stub> subs_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

std::filesystem::path* EndToEndTest::dir_ = nullptr;
testing::ServerProcess* EndToEndTest::server_ = nullptr;
int EndToEndTest::metrics_port_ = 0;

TEST_F(EndToEndTest, AppendThenReadYourWritesWithTheToken) {
  v1::AppendResponse r = Append({Registered("rw-1", "rw-alice", kNow - Days(30)),
                                 Visited("rw-2", "rw-alice", kNow - Days(3)),
                                 Registered("rw-3", "rw-bob", kNow - Days(40), "West"),
                                 Signed("rw-4", "rw-bob", kNow - Days(10), 120'000'00)});
  ASSERT_EQ(r.results_size(), 4);
  ASSERT_FALSE(r.consistency_token().empty());
  for (const auto& res : r.results()) EXPECT_FALSE(res.duplicate());

  // No sleeping: the token makes the query wait until the write is applied.
  v1::CustomerView alice = Get("rw-alice", r.consistency_token());
  EXPECT_EQ(alice.stage(), v1::LIFECYCLE_STAGE_INTENT);
  ASSERT_GE(alice.stage_history_size(), 2);
  EXPECT_EQ(alice.stage_history(0).to(), v1::LIFECYCLE_STAGE_PROSPECT);
  EXPECT_EQ(alice.profile().region(), "East");
  v1::CustomerView bob = Get("rw-bob", r.consistency_token());
  EXPECT_EQ(bob.stage(), v1::LIFECYCLE_STAGE_CUSTOMER);
  EXPECT_EQ(bob.sub_stage(), v1::SUB_STAGE_NEW);
  EXPECT_EQ(bob.last_purchase_at().seconds(), absl::ToUnixSeconds(kNow - Days(10)));

  v1::ListCustomersRequest list;
  list.mutable_filter()->set_stage(v1::LIFECYCLE_STAGE_CUSTOMER);
  list.mutable_filter()->set_region("West");
  list.set_consistency_token(r.consistency_token());
  v1::ListCustomersResponse listed;
  grpc::ClientContext ctx;
  ASSERT_TRUE(lifecycle_->ListCustomers(&ctx, list, &listed).ok());
  std::set<std::string> ids;
  for (const auto& c : listed.customers()) ids.insert(c.customer_id());
  EXPECT_TRUE(ids.contains("rw-bob"));
  EXPECT_FALSE(ids.contains("rw-alice"));

  v1::TimelineRequest tl;
  tl.set_customer_id("rw-alice");
  v1::TimelineResponse timeline;
  grpc::ClientContext ctx2;
  ASSERT_TRUE(lifecycle_->Timeline(&ctx2, tl, &timeline).ok());
  ASSERT_EQ(timeline.entries_size(), 2);
  EXPECT_EQ(timeline.entries(0).event().event_id(), "rw-1");
  EXPECT_EQ(timeline.entries(1).event().event_id(), "rw-2");
  EXPECT_EQ(timeline.entries(1).position().offset(), r.results(1).position().offset());
}

TEST_F(EndToEndTest, RetriedAppendIsADuplicateAtTheOriginalPositionAndCountedOnce) {
  std::vector<v1::Event> batch = {Registered("dup-1", "dup-carol", kNow - Days(5)),
                                  Signed("dup-2", "dup-carol", kNow - Days(1), 50'00)};
  v1::AppendResponse first = Append(batch);
  v1::AppendResponse again = Append(batch);
  ASSERT_EQ(again.results_size(), 2);
  for (int i = 0; i < 2; ++i) {
    EXPECT_TRUE(again.results(i).duplicate());
    EXPECT_EQ(again.results(i).position().SerializeAsString(),
              first.results(i).position().SerializeAsString());
  }
  v1::CustomerView carol = Get("dup-carol", again.consistency_token());
  EXPECT_EQ(carol.purchase_count(), 1);
  EXPECT_EQ(carol.revenue_last_365d().units(), 50'00);
}

TEST_F(EndToEndTest, SubscribeResumesFromATokenWithoutGapsOrRepeats) {
  std::vector<v1::Event> events;
  for (int i = 0; i < 300; ++i) {
    events.push_back(
        Registered(absl::StrCat("sub-", i), absl::StrCat("sub-c", i % 37), kNow - Days(1)));
  }
  // Earlier tests appended too: count everything from the start of the log.
  v1::AppendResponse r = Append(events);
  v1::StatusResponse status;
  {
    grpc::ClientContext ctx;
    ASSERT_TRUE(admin_->Status(&ctx, v1::StatusRequest(), &status).ok());
  }
  int64_t total = 0;
  for (const auto& p : status.topics(0).partitions()) total += p.log_end();
  ASSERT_GE(total, 300);

  std::vector<std::string> seen;
  std::string token;
  {
    grpc::ClientContext ctx;
    v1::SubscribeRequest req;
    req.set_from("earliest");
    auto reader = subs_->Subscribe(&ctx, req);
    v1::EventRecord rec;
    while (static_cast<int64_t>(seen.size()) < total / 2 && reader->Read(&rec)) {
      seen.push_back(rec.event().event_id());
      token = rec.resume_token();
    }
    ctx.TryCancel();
    reader->Finish();
  }
  {
    grpc::ClientContext ctx;
    v1::SubscribeRequest req;
    req.set_from(token);
    auto reader = subs_->Subscribe(&ctx, req);
    v1::EventRecord rec;
    while (static_cast<int64_t>(seen.size()) < total && reader->Read(&rec)) {
      seen.push_back(rec.event().event_id());
    }
    ctx.TryCancel();
    reader->Finish();
  }
  ASSERT_EQ(static_cast<int64_t>(seen.size()), total);
  EXPECT_EQ(static_cast<int64_t>(std::set<std::string>(seen.begin(), seen.end()).size()), total);
  for (int i = 0; i < 300; i += 37) {
    EXPECT_NE(std::find(seen.begin(), seen.end(), absl::StrCat("sub-", i)), seen.end());
  }
}

TEST_F(EndToEndTest, SubscribeFiltersByTypeAndCustomerAndLatestSeesOnlyNewEvents) {
  grpc::ClientContext ctx;
  ctx.set_deadline(In(30));
  v1::SubscribeRequest req;
  req.set_from("latest");
  req.add_event_types("contract_signed");
  req.add_customer_ids("filt-dave");
  auto reader = subs_->Subscribe(&ctx, req);
  absl::SleepFor(absl::Milliseconds(200));  // let the stream take its start positions
  Append({Registered("filt-1", "filt-dave", kNow - Days(9)),
          Signed("filt-2", "filt-erin", kNow - Days(2), 10'00),
          Signed("filt-3", "filt-dave", kNow - Days(1), 20'00)});
  v1::EventRecord rec;
  ASSERT_TRUE(reader->Read(&rec));
  EXPECT_EQ(rec.event().event_id(), "filt-3");
  EXPECT_TRUE(rec.event().has_contract_signed());
  EXPECT_EQ(rec.position().topic(), "custops.customer-events.v1");
  ctx.TryCancel();
  reader->Finish();
}

TEST_F(EndToEndTest, StageChangesArriveOnTheChangesStream) {
  v1::AppendResponse r = Append({Registered("chg-1", "chg-frank", kNow - Days(20)),
                                 Signed("chg-2", "chg-frank", kNow - Days(2), 99'00)});
  (void)Get("chg-frank", r.consistency_token());
  grpc::ClientContext ctx;
  ctx.set_deadline(In(30));
  v1::SubscribeChangesRequest req;
  req.set_from("earliest");
  req.add_customer_ids("chg-frank");
  auto reader = subs_->SubscribeChanges(&ctx, req);
  // One change per event that moved the stage, whatever the batching.
  v1::ChangeRecord rec;
  ASSERT_TRUE(reader->Read(&rec));
  EXPECT_EQ(rec.change().customer_id(), "chg-frank");
  EXPECT_EQ(rec.change().projection(), "lifecycle");
  EXPECT_EQ(rec.change().stage_changed().to(), v1::LIFECYCLE_STAGE_PROSPECT);
  EXPECT_FALSE(rec.change().change_id().empty());
  const std::string first_id = rec.change().change_id();
  ASSERT_TRUE(reader->Read(&rec));
  EXPECT_EQ(rec.change().stage_changed().from(), v1::LIFECYCLE_STAGE_PROSPECT);
  EXPECT_EQ(rec.change().stage_changed().to(), v1::LIFECYCLE_STAGE_CUSTOMER);
  EXPECT_NE(rec.change().change_id(), first_id);
  ctx.TryCancel();
  reader->Finish();
}

// grpc.health.v1 and server reflection, spoken in raw protobuf bytes so the
// test needs no copy of their schemas.
TEST_F(EndToEndTest, HealthAndReflectionAreOn) {
  grpc::GenericStub generic(server_->Channel());
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    grpc::ByteBuffer request_bytes;  // HealthCheckRequest{} is empty
    grpc::Slice empty("");
    request_bytes = grpc::ByteBuffer(&empty, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_bytes,
                      &response, [&](grpc::Status s) {
                        status = s;
                        done.Notify();
                      });
    done.WaitForNotification();
    ASSERT_TRUE(status.ok()) << status.error_message();
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(response.Dump(&slices).ok());
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    EXPECT_EQ(bytes, std::string("\x08\x01", 2));  // status: SERVING
  }
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(In(10));
    grpc::CompletionQueue cq;
    auto call = generic.PrepareCall(&ctx,
                                    "/grpc.reflection.v1alpha.ServerReflection/"
                                    "ServerReflectionInfo",
                                    &cq);
    void* tag;
    bool ok;
    call->StartCall(reinterpret_cast<void*>(1));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    grpc::Slice list_services(std::string("\x3a\x00", 2));  // list_services: ""
    grpc::ByteBuffer req(&list_services, 1);
    call->Write(req, reinterpret_cast<void*>(2));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    grpc::ByteBuffer resp;
    call->Read(&resp, reinterpret_cast<void*>(3));
    ASSERT_TRUE(cq.Next(&tag, &ok) && ok);
    std::vector<grpc::Slice> slices;
    ASSERT_TRUE(resp.Dump(&slices).ok());
    std::string bytes;
    for (const auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
    for (const char* svc : {"custops.v1.EventIngest", "custops.v1.Subscriptions",
                            "custops.v1.Lifecycle", "custops.v1.Admin"}) {
      EXPECT_NE(bytes.find(svc), std::string::npos) << svc;
    }
    ctx.TryCancel();
    grpc::Status finish_status;
    call->Finish(&finish_status, reinterpret_cast<void*>(4));
    while (cq.Next(&tag, &ok) && tag != reinterpret_cast<void*>(4)) {
    }
    cq.Shutdown();
    while (cq.Next(&tag, &ok)) {
    }
  }
}

TEST_F(EndToEndTest, AdminStatusAndMetricsCountWhatHappened) {
  v1::AppendResponse r = Append({Registered("st-1", "st-gina", kNow - Days(1))});
  (void)Get("st-gina", r.consistency_token());
  v1::StatusResponse status;
  grpc::ClientContext ctx;
  ASSERT_TRUE(admin_->Status(&ctx, v1::StatusRequest(), &status).ok());
  EXPECT_EQ(status.mode(), "embedded");
  ASSERT_EQ(status.projections_size(), 3);  // lifecycle, value, review
  EXPECT_EQ(status.projections(1).name(), "value");
  EXPECT_EQ(status.projections(2).name(), "review");
  const v1::ProjectionStatus& lc = status.projections(0);
  EXPECT_EQ(lc.name(), "lifecycle");
  ASSERT_EQ(lc.partitions_size(), 4);
  int64_t log_end = 0, applied = 0;
  for (const auto& p : lc.partitions()) {
    log_end += p.log_end();
    applied += p.applied_offset();
    EXPECT_EQ(p.lag(), p.log_end() - p.applied_offset());
  }
  EXPECT_GE(applied, 1);
  EXPECT_LE(applied, log_end);

  // Prometheus text over HTTP.
  const std::string cmd = absl::StrCat("exec 3<>/dev/tcp/127.0.0.1/", metrics_port_,
                                       "; printf 'GET /metrics HTTP/1.0\\r\\n\\r\\n' >&3; cat <&3");
  FILE* pipe = ::popen(("bash -c \"" + cmd + "\"").c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string body;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), pipe)) > 0) body.append(buf, n);
  ::pclose(pipe);
  EXPECT_NE(body.find("# TYPE custops_events_appended_total counter"), std::string::npos) << body;
  EXPECT_NE(body.find("custops_projection_lag{projection=\"lifecycle\",partition=\"0\"}"),
            std::string::npos);
  EXPECT_NE(body.find("custops_apply_batches_total{projection=\"lifecycle\"}"), std::string::npos);
  EXPECT_NE(body.find("custops_events_applied_total{projection=\"lifecycle\"}"), std::string::npos);
}

}  // namespace
}  // namespace custops

namespace custops {
namespace {

// A second process on a port that is taken must fail loudly, not share it.
TEST_F(EndToEndTest, ASecondServerOnTheSamePortRefusesToStart) {
  const auto other = *dir_ / "other";
  const std::string cmd =
      absl::StrCat("timeout 30 ", CUSTOPS_BINARY, " --listen ", server_->address(),
                   " --metrics-listen '' --data-dir ", other.string(), " > /dev/null 2>&1");
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);  // cannot listen; not 124 (still running after 30 s)
  // The first server still answers everything.
  v1::AppendResponse r = Append({Registered("port-1", "port-cust", kNow - Days(1))});
  EXPECT_EQ(Get("port-cust", r.consistency_token()).stage(), v1::LIFECYCLE_STAGE_PROSPECT);
}

// librdkafka properties reach every Kafka client: one librdkafka does not
// know stops the start with its name (before any broker is asked), and a
// malformed flag is refused.
TEST_F(EndToEndTest, KafkaPropertiesReachLibrdkafka) {
  const auto dir = *dir_ / "props";
  std::filesystem::create_directories(dir);
  auto run = [&](const std::string& flags) {
    const std::string out = (dir / "stderr").string();
    const std::string cmd =
        absl::StrCat("timeout 30 ", CUSTOPS_BINARY, " --kafka-bootstrap 127.0.0.1:9 ", flags,
                     " --listen 127.0.0.1:0 --metrics-listen '' --data-dir ", dir.string(),
                     " > /dev/null 2> ", out);
    const int status = std::system(cmd.c_str());
    std::ifstream in(out);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, text);
  };
  const auto [unknown_code, unknown] = run("--kafka-property no.such.property=1");
  EXPECT_NE(unknown_code, 0);
  EXPECT_NE(unknown_code, 124);  // refused, not left waiting for a broker
  EXPECT_NE(unknown.find("no.such.property"), std::string::npos) << unknown;
  const auto [bad_value_code, bad_value] = run("--kafka-property linger.ms=soon");
  EXPECT_NE(bad_value_code, 0);
  EXPECT_NE(bad_value.find("linger.ms"), std::string::npos) << bad_value;
  const auto [malformed_code, malformed] = run("--kafka-property linger.ms");
  EXPECT_EQ(malformed_code, 2);
  EXPECT_NE(malformed.find("NAME=VALUE"), std::string::npos) << malformed;
}

}  // namespace
}  // namespace custops

// Bad input over real gRPC: clear errors naming the field, nothing appended
// from an invalid request, garbage in the log goes to dead letters, and the
// server keeps serving throughout.
#include <grpcpp/generic/generic_stub.h>

#include <filesystem>
#include <map>
#include <tuple>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "custops/log/embedded_event_log.h"
#include "custops/testing/events.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gtest/gtest.h"
#include "server_process.h"

namespace custops {
namespace {

using testing::Registered;
using testing::Signed;

const absl::Time kNow = absl::FromUnixSeconds(1'795'392'000);
absl::Duration Days(int n) { return absl::Hours(24 * n); }

class BadInputTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           absl::StrCat("bad_input_", ::getpid(), "_",
                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override {
    if (server_) {
      EXPECT_EQ(server_->Stop(), 0);
    }
    std::filesystem::remove_all(dir_);
  }
  void StartServer() {
    server_ = std::make_unique<testing::ServerProcess>(
        CUSTOPS_BINARY, std::vector<std::string>{"--data-dir", dir_.string(), "--fixed-clock",
                                                 "2026-11-23T00:00:00Z", "--partitions", "4"});
    ASSERT_TRUE(server_->Start().ok());
    ingest_ = v1::EventIngest::NewStub(server_->Channel());
    lifecycle_ = v1::Lifecycle::NewStub(server_->Channel());
    admin_ = v1::Admin::NewStub(server_->Channel());
    subs_ = v1::Subscriptions::NewStub(server_->Channel());
  }
  grpc::Status Append(const v1::AppendRequest& req, v1::AppendResponse* resp = nullptr) {
    v1::AppendResponse ignored;
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return ingest_->Append(&ctx, req, resp ? resp : &ignored);
  }
  int64_t LogEnd() {
    v1::StatusResponse status;
    grpc::ClientContext ctx;
    EXPECT_TRUE(admin_->Status(&ctx, v1::StatusRequest(), &status).ok());
    int64_t total = 0;
    for (const auto& p : status.topics(0).partitions()) total += p.log_end();
    return total;
  }
  v1::StatusResponse Status() {
    v1::StatusResponse status;
    grpc::ClientContext ctx;
    EXPECT_TRUE(admin_->Status(&ctx, v1::StatusRequest(), &status).ok());
    return status;
  }
  void ExpectServing() {
    v1::AppendRequest ok;
    *ok.add_events() = Registered(absl::StrCat("alive-", ++alive_), "alive", kNow);
    grpc::Status s = Append(ok);
    EXPECT_TRUE(s.ok()) << s.error_message();
  }

  std::filesystem::path dir_;
  std::unique_ptr<testing::ServerProcess> server_;
  std::unique_ptr<v1::EventIngest::Stub> ingest_;
  std::unique_ptr<v1::Lifecycle::Stub> lifecycle_;
  std::unique_ptr<v1::Admin::Stub> admin_;
  std::unique_ptr<v1::Subscriptions::Stub> subs_;
  int alive_ = 0;
};

struct Mutation {
  std::string name;
  std::function<void(v1::Event&)> apply;
  std::string field;  // expected in the message, after "events[1]."
};

TEST_F(BadInputTest, InvalidEventsNameTheFieldAndNothingIsAppended) {
  StartServer();
  const std::vector<Mutation> mutations = {
      {"missing id", [](v1::Event& e) { e.clear_event_id(); }, "event_id"},
      {"missing customer", [](v1::Event& e) { e.clear_customer_id(); }, "customer_id"},
      {"missing time", [](v1::Event& e) { e.clear_occurred_at(); }, "occurred_at"},
      {"no payload", [](v1::Event& e) { e.clear_payload(); }, "payload"},
      {"wrong currency",
       [](v1::Event& e) { e.mutable_contract_signed()->mutable_amount()->set_currency("USD"); },
       "contract_signed.amount.currency"},
      {"negative amount",
       [](v1::Event& e) { e.mutable_contract_signed()->mutable_amount()->set_units(-1); },
       "contract_signed.amount"},
      {"end before start",
       [](v1::Event& e) {
         *e.mutable_contract_signed()->mutable_end() = e.contract_signed().start();
       },
       "contract_signed.end"},
      {"unknown enum",
       [](v1::Event& e) {
         e.mutable_customer_registered()->set_kind(static_cast<v1::CustomerKind>(42));
       },
       "customer_registered.kind"},
      {"oversized id", [](v1::Event& e) { e.set_customer_id(std::string(129, 'x')); },
       "customer_id"},
      // docs/schema-evolution.md: a version-2 event keeps the city out of the
      // region; a version this build does not know is refused by name.
      {"city in a version-2 region",
       [](v1::Event& e) {
         e.set_schema_version(2);
         e.mutable_customer_registered()->set_region("华东/上海");
       },
       "customer_registered.region"},
      {"schema from the future", [](v1::Event& e) { e.set_schema_version(99); }, "schema_version"},
  };
  const int64_t before = LogEnd();
  for (const Mutation& m : mutations) {
    v1::AppendRequest req;
    *req.add_events() = Registered("ok-0", "cust-1", kNow - Days(3));
    v1::Event bad = m.field.starts_with("customer_registered")
                        ? Registered("bad-1", "cust-2", kNow - Days(2))
                        : Signed("bad-1", "cust-2", kNow - Days(2), 100);
    m.apply(bad);
    *req.add_events() = bad;
    grpc::Status s = Append(req);
    EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << m.name;
    EXPECT_TRUE(s.error_message().starts_with("events[1]." + m.field))
        << m.name << ": " << s.error_message();
  }
  EXPECT_EQ(LogEnd(), before);  // the valid first event of each request was not appended either

  v1::AppendRequest empty;
  EXPECT_EQ(Append(empty).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  v1::AppendRequest oversized;
  for (int i = 0; i < 1001; ++i) {
    *oversized.add_events() = Registered(absl::StrCat("o", i), absl::StrCat("c", i), kNow);
  }
  grpc::Status big = Append(oversized);
  EXPECT_EQ(big.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(big.error_message().find("at most 1000"), std::string::npos) << big.error_message();
  EXPECT_EQ(LogEnd(), before);
  ExpectServing();
}

// A producer still writing schema version 1 (no version, the city in the
// region) is understood: the event is upcast before validation and written
// in the current version (docs/schema-evolution.md).
TEST_F(BadInputTest, AVersionOneEventIsUpcastAndWrittenInTheCurrentVersion) {
  StartServer();
  v1::AppendRequest req;
  v1::Event old = Registered("v1-reg", "cust-v1", kNow - Days(3));
  old.mutable_customer_registered()->set_region("华东/上海");
  *req.add_events() = old;
  v1::AppendResponse resp;
  grpc::Status s = Append(req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  v1::GetCustomerRequest get;
  get.set_customer_id("cust-v1");
  get.set_consistency_token(resp.consistency_token());
  v1::CustomerView view;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  s = lifecycle_->GetCustomer(&ctx, get, &view);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(view.profile().region(), "华东");
  EXPECT_EQ(view.profile().city(), "上海");
  v1::TimelineRequest timeline;
  timeline.set_customer_id("cust-v1");
  v1::TimelineResponse entries;
  grpc::ClientContext tctx;
  s = lifecycle_->Timeline(&tctx, timeline, &entries);
  ASSERT_TRUE(s.ok()) << s.error_message();
  ASSERT_EQ(entries.entries_size(), 1);
  EXPECT_EQ(entries.entries(0).event().schema_version(), 2u);
  EXPECT_EQ(entries.entries(0).event().customer_registered().region(), "华东");
}

TEST_F(BadInputTest, GarbageRequestsAndHugeMessagesDoNotHurtTheServer) {
  StartServer();
  grpc::GenericStub generic(server_->Channel());
  for (const std::string& garbage : {std::string("\xff\xff\xff\xff\x0f", 5),
                                     std::string("\x0a\xff\x01", 3), std::string(1000, '\x0a')}) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    grpc::Slice slice(garbage);
    grpc::ByteBuffer request(&slice, 1);
    grpc::ByteBuffer response;
    absl::Notification done;
    grpc::Status status;
    generic.UnaryCall(&ctx, "/custops.v1.EventIngest/Append", grpc::StubOptions(), &request,
                      &response, [&](grpc::Status s) {
                        status = s;
                        done.Notify();
                      });
    done.WaitForNotification();
    EXPECT_FALSE(status.ok());
  }
  // Bigger than the 16 MiB message limit.
  v1::AppendRequest huge;
  v1::Event e = Registered("huge", "huge", kNow);
  e.mutable_customer_registered()->set_name(std::string(17 << 20, 'n'));
  *huge.add_events() = e;
  EXPECT_EQ(Append(huge).error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  ExpectServing();
}

TEST_F(BadInputTest, QueriesRejectBadArgumentsByName) {
  StartServer();
  auto get = [&](const std::string& id, const std::string& token) {
    v1::GetCustomerRequest req;
    req.set_customer_id(id);
    req.set_consistency_token(token);
    v1::CustomerView view;
    grpc::ClientContext ctx;
    return lifecycle_->GetCustomer(&ctx, req, &view);
  };
  grpc::Status s = get("", "");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().starts_with("customer_id")) << s.error_message();
  EXPECT_EQ(get("nobody", "").error_code(), grpc::StatusCode::NOT_FOUND);
  s = get("nobody", "c1.not-a-token");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().starts_with("consistency_token")) << s.error_message();

  v1::ListCustomersRequest list;
  list.set_page_token("bogus");
  v1::ListCustomersResponse listed;
  grpc::ClientContext ctx1;
  s = lifecycle_->ListCustomers(&ctx1, list, &listed);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().starts_with("page_token")) << s.error_message();
  list.set_page_token("");
  list.mutable_filter()->set_stage(static_cast<v1::LifecycleStage>(9));
  grpc::ClientContext ctx2;
  s = lifecycle_->ListCustomers(&ctx2, list, &listed);
  EXPECT_TRUE(s.error_message().starts_with("filter.stage")) << s.error_message();

  // RefitClv's consistency token (docs/value.md "CLV refit") is checked too.
  v1::RefitClvRequest refit;
  refit.set_consistency_token("not-a-token");
  v1::ClvModel model;
  grpc::ClientContext ctx_refit;
  s = v1::Value::NewStub(server_->Channel())->RefitClv(&ctx_refit, refit, &model);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().starts_with("consistency_token")) << s.error_message();

  v1::StageSummaryRequest summary;
  summary.set_dimension(v1::DIMENSION_PRODUCT);
  v1::StageSummaryResponse summarized;
  grpc::ClientContext ctx3;
  s = lifecycle_->StageSummary(&ctx3, summary, &summarized);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(s.error_message().starts_with("dimension")) << s.error_message();

  for (auto [from, type] : {std::pair<std::string, std::string>{"yesterday", ""},
                            std::pair<std::string, std::string>{"earliest", "no_such_event"}}) {
    grpc::ClientContext ctx;
    v1::SubscribeRequest req;
    req.set_from(from);
    if (!type.empty()) req.add_event_types(type);
    auto reader = subs_->Subscribe(&ctx, req);
    v1::EventRecord rec;
    EXPECT_FALSE(reader->Read(&rec));
    grpc::Status fs = reader->Finish();
    EXPECT_EQ(fs.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << from << type;
    EXPECT_TRUE(fs.error_message().starts_with(type.empty() ? "from" : "event_types[0]"))
        << fs.error_message();
  }
  ExpectServing();
}

// Records that did not come through the ingest API (as a Kafka producer could
// write them) reach the projections: a malformed one goes to dead letters with
// the reason and parks its customer's later records (docs/operations.md "Dead
// letters") while other customers flow on; ReplayDeadLetters releases them.
TEST_F(BadInputTest, GarbageInTheLogGoesToDeadLettersAndParksOnlyItsCustomer) {
  {
    auto log = log::EmbeddedEventLog::Open({.path = (dir_ / "log").string()}).value();
    for (auto topic :
         {log::kCustomerEvents, log::kOrgEvents, log::kStateChanges, log::kDeadLetter}) {
      ASSERT_TRUE(log->CreateTopic(topic, 4).ok());
    }
    v1::Event invalid = Signed("bad-currency", "eve", kNow - Days(1), 10);
    invalid.mutable_contract_signed()->mutable_amount()->set_currency("USD");
    ASSERT_TRUE(
        log->Append(log::kCustomerEvents,
                    {{.key = "eve", .value = "\x01\x02 definitely not protobuf"},
                     {.key = "eve", .value = invalid.SerializeAsString()},
                     {.key = "eve",
                      .value = Registered("good", "eve", kNow - Days(2)).SerializeAsString()}},
                    {})
            .ok());
    ASSERT_TRUE(log->Close().ok());
  }
  StartServer();
  v1::AppendRequest more;
  *more.add_events() = Signed("later", "eve", kNow - Days(1), 700);
  *more.add_events() = Registered("frank-1", "frank", kNow - Days(2));
  *more.add_events() = Signed("frank-2", "frank", kNow - Days(1), 300);
  v1::AppendResponse appended;
  ASSERT_TRUE(Append(more, &appended).ok());
  auto get = [&](const std::string& customer, v1::CustomerView* view) {
    v1::GetCustomerRequest req;
    req.set_customer_id(customer);
    req.set_consistency_token(appended.consistency_token());
    grpc::ClientContext ctx;
    return lifecycle_->GetCustomer(&ctx, req, view);
  };
  // Frank flows on; eve's records wait behind the undecodable one.
  v1::CustomerView view;
  ASSERT_TRUE(get("frank", &view).ok());
  EXPECT_EQ(view.purchase_count(), 1);
  EXPECT_EQ(get("eve", &view).error_code(), grpc::StatusCode::NOT_FOUND);
  // The token above waited for lifecycle; value and review may still be
  // applying: until every projection has read the whole log.
  auto caught_up = [](const v1::StatusResponse& s) {
    for (const v1::ProjectionStatus& p : s.projections()) {
      for (const v1::PartitionStatus& part : p.partitions()) {
        if (part.lag() != 0) return false;
      }
    }
    return true;
  };
  v1::StatusResponse status = Status();
  for (const absl::Time deadline = absl::Now() + absl::Seconds(30);
       !caught_up(status) && absl::Now() < deadline; status = Status()) {
    absl::SleepFor(absl::Milliseconds(20));
  }
  ASSERT_TRUE(caught_up(status)) << status.DebugString();
  for (const v1::ProjectionStatus& p : status.projections()) {
    EXPECT_EQ(p.dead_letters(), 1) << p.name();
    EXPECT_EQ(p.parked_customers(), 1) << p.name();
    EXPECT_EQ(p.parked_events(), 4) << p.name();  // the garbage and the three behind it
  }

  auto replay = [&](v1::ReplayDeadLettersRequest r, v1::ReplayDeadLettersResponse* out) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return admin_->ReplayDeadLetters(&c, r, out);
  };
  // No fix makes the garbage decodable: a plain replay leaves it parked.
  v1::ReplayDeadLettersRequest request;
  request.set_projection("lifecycle");
  v1::ReplayDeadLettersResponse replayed;
  grpc::Status rs = replay(request, &replayed);
  ASSERT_TRUE(rs.ok()) << rs.error_message();
  EXPECT_EQ(replayed.events_replayed(), 0);
  ASSERT_EQ(replayed.parked_size(), 1);
  EXPECT_EQ(replayed.parked(0).customer_id(), "eve");
  EXPECT_EQ(replayed.parked(0).parked_events(), 4);
  EXPECT_TRUE(absl::StrContains(replayed.parked(0).reason(), "decode_error"))
      << replayed.parked(0).reason();
  // Discarding it, every projection: the USD contract behind it is invalid
  // and becomes the head (a dead letter of its own); discarding that too
  // applies the rest.
  for (const v1::ProjectionStatus& p : status.projections()) {
    request.set_projection(p.name());
    request.set_customer_id("eve");
    request.set_discard_heads(true);
    ASSERT_TRUE(replay(request, &replayed).ok());
    EXPECT_EQ(replayed.events_replayed(), 1) << p.name();
    EXPECT_EQ(replayed.customers_parked(), 1) << p.name();
    ASSERT_EQ(replayed.parked_size(), 1) << p.name();
    EXPECT_EQ(replayed.parked(0).parked_events(), 3) << p.name();
    EXPECT_TRUE(absl::StrContains(replayed.parked(0).reason(), "contract_signed.amount.currency"))
        << replayed.parked(0).reason();
    ASSERT_TRUE(replay(request, &replayed).ok());
    EXPECT_EQ(replayed.events_replayed(), 3) << p.name();
    EXPECT_EQ(replayed.customers_released(), 1) << p.name();
    EXPECT_EQ(replayed.customers_parked(), 0) << p.name();
  }
  ASSERT_TRUE(get("eve", &view).ok());
  EXPECT_EQ(view.stage(), v1::LIFECYCLE_STAGE_CUSTOMER);
  EXPECT_EQ(view.purchase_count(), 1);  // the USD contract did not count
  status = Status();
  for (const v1::ProjectionStatus& p : status.projections()) {
    EXPECT_EQ(p.dead_letters(), 2) << p.name();
    EXPECT_EQ(p.parked_customers(), 0) << p.name();
    EXPECT_EQ(p.replayed(), 4) << p.name();
  }
  // Published through the outbox to the dead-letter topic, by every
  // projection that read them (lifecycle, value and review: 2 each).
  const int64_t expected = 2 * status.projections_size();
  absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (Status().dead_letters() < expected && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));
  }
  EXPECT_EQ(Status().dead_letters(), expected);

  // Admin.ListDeadLetters (docs/operations.md "Dead letters") shows each one
  // with its reason and source record; filters and pages.
  auto list = [&](v1::ListDeadLettersRequest r, v1::ListDeadLettersResponse* out) {
    grpc::ClientContext c;
    c.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return admin_->ListDeadLetters(&c, r, out);
  };
  v1::ListDeadLettersResponse all;
  grpc::Status ls = list(v1::ListDeadLettersRequest(), &all);
  ASSERT_TRUE(ls.ok()) << ls.error_message();
  ASSERT_EQ(all.dead_letters_size(), expected);
  EXPECT_TRUE(all.next_page_token().empty());
  std::map<std::string, int> by_projection;
  int undecodable = 0, invalid = 0;
  for (const v1::DeadLetterEntry& e : all.dead_letters()) {
    const v1::DeadLetter& d = e.dead_letter();
    ++by_projection[d.projection()];
    EXPECT_EQ(d.key(), "eve");
    EXPECT_EQ(d.source_topic(), "custops.customer-events.v1");
    if (absl::StrContains(d.reason(), "decode_error")) {
      ++undecodable;
      EXPECT_EQ(d.value(), "\x01\x02 definitely not protobuf");
    }
    if (absl::StrContains(d.reason(), "contract_signed.amount.currency")) ++invalid;
  }
  EXPECT_EQ(undecodable, status.projections_size());
  EXPECT_EQ(invalid, status.projections_size());
  EXPECT_EQ(by_projection["lifecycle"], 2);
  v1::ListDeadLettersRequest filtered;
  filtered.set_projection("review");
  v1::ListDeadLettersResponse review_only;
  ASSERT_TRUE(list(filtered, &review_only).ok());
  EXPECT_EQ(review_only.dead_letters_size(), 2);
  filtered.set_projection("");
  filtered.set_customer_id("nobody");
  v1::ListDeadLettersResponse none;
  ASSERT_TRUE(list(filtered, &none).ok());
  EXPECT_EQ(none.dead_letters_size(), 0);
  // One at a time: the pages together are the whole list, in order.
  v1::ListDeadLettersRequest paged;
  paged.set_page_size(1);
  std::vector<std::string> seen;
  for (int pages = 0;; ++pages) {
    ASSERT_LT(pages, 100);
    v1::ListDeadLettersResponse page;
    ASSERT_TRUE(list(paged, &page).ok());
    ASSERT_LE(page.dead_letters_size(), 1);
    for (const auto& e : page.dead_letters()) seen.push_back(e.SerializeAsString());
    if (page.next_page_token().empty()) break;
    paged.set_page_token(page.next_page_token());
  }
  ASSERT_EQ(seen.size(), static_cast<size_t>(expected));
  for (int i = 0; i < expected; ++i) EXPECT_EQ(seen[i], all.dead_letters(i).SerializeAsString());
  // Bad arguments are named.
  v1::ListDeadLettersRequest bad;
  bad.set_page_token("bogus");
  v1::ListDeadLettersResponse ignored;
  ls = list(bad, &ignored);
  EXPECT_EQ(ls.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ls.error_message().starts_with("page_token")) << ls.error_message();
  bad.set_page_token("d1.99.0");  // no such partition
  ls = list(bad, &ignored);
  EXPECT_TRUE(ls.error_message().starts_with("page_token")) << ls.error_message();
  bad.set_page_token("");
  bad.set_page_size(1001);
  ls = list(bad, &ignored);
  EXPECT_EQ(ls.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_TRUE(ls.error_message().starts_with("page_size")) << ls.error_message();

  // ReplayDeadLetters names its bad arguments too.
  for (auto [projection, customer, max_events, field, code] :
       std::vector<std::tuple<std::string, std::string, int, std::string, grpc::StatusCode>>{
           {"", "", 0, "projection", grpc::StatusCode::INVALID_ARGUMENT},
           {"nonsense", "", 0, "projection", grpc::StatusCode::INVALID_ARGUMENT},
           {"lifecycle", std::string(129, 'x'), 0, "customer_id",
            grpc::StatusCode::INVALID_ARGUMENT},
           {"lifecycle", "", -1, "max_events", grpc::StatusCode::INVALID_ARGUMENT},
           {"lifecycle", "", 100'001, "max_events", grpc::StatusCode::INVALID_ARGUMENT}}) {
    v1::ReplayDeadLettersRequest bad_replay;
    bad_replay.set_projection(projection);
    bad_replay.set_customer_id(customer);
    bad_replay.set_max_events(max_events);
    v1::ReplayDeadLettersResponse unused;
    rs = replay(bad_replay, &unused);
    EXPECT_EQ(rs.error_code(), code) << field;
    EXPECT_TRUE(rs.error_message().starts_with(field)) << rs.error_message();
  }
}

}  // namespace
}  // namespace custops

// The front door in one process: a MethodTable with test handlers served
// through the Gateway over loopback gRPC.
#include "custops/rpc/gateway.h"

#include <grpcpp/generic/generic_stub.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "custops/base/executor.h"
#include "custops/rpc/auth.h"
#include "custops/rpc/log_limiter.h"
#include "custops/testing/status_matchers.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "custops/v1/lifecycle.grpc.pb.h"
#include "custops/v1/value.grpc.pb.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

using ::custops::testing::StatusIs;

constexpr char kSecret[] = "gateway-test-secret-0123456789abcdef";

class GatewayTest : public ::testing::Test {
 protected:
  // `auth`: verify HS256 tokens signed with kSecret.
  void Start(bool auth, ServingOptions options = {}) {
    methods_.Sync<v1::StatusRequest, v1::StatusResponse>(
        "custops.v1.Admin/Status", Access::kReader, /*offload=*/false,
        [](Call& call, const v1::StatusRequest&) -> absl::StatusOr<v1::StatusResponse> {
          v1::StatusResponse r;
          r.set_mode(call.identity().subject);
          return r;
        });
    methods_.Sync<v1::AppendRequest, v1::AppendResponse>(
        "custops.v1.EventIngest/Append", Access::kEmitter, /*offload=*/true,
        [this](Call&, const v1::AppendRequest& r) -> absl::StatusOr<v1::AppendResponse> {
          appended_ += r.events_size();
          return v1::AppendResponse();
        });
    methods_.SetPrecheck("custops.v1.EventIngest/Append", [](std::string_view raw) {
      absl::StatusOr<int64_t> n = CountField(raw, 1);
      if (!n.ok()) return n.status();
      if (*n > 10) return absl::InvalidArgumentError(absl::StrCat("events: at most 10, got ", *n));
      return absl::OkStatus();
    });
    // A wait that only its deadline ends: holds no thread.
    methods_.Unary<v1::GetCustomerRequest, v1::CustomerView>(
        "custops.v1.Lifecycle/GetCustomer", Access::kReader,
        [this](Call& call, const v1::GetCustomerRequest& r, v1::CustomerView* out, Done done) {
          if (r.customer_id() != "wait") {
            out->set_customer_id(r.customer_id());
            return std::move(done)(absl::OkStatus());
          }
          if (absl::Status s = call.AdmitWait(); !s.ok()) return std::move(done)(s);
          timers_.Schedule(call.deadline(), [done = std::move(done)]() mutable {
            std::move(done)(absl::DeadlineExceededError("never applied"));
          });
        });
    methods_.Sync<v1::RefitClvRequest, v1::ClvModel>(
        "custops.v1.Value/RefitClv", Access::kAdmin, /*offload=*/false,
        [](Call&, const v1::RefitClvRequest&) -> absl::StatusOr<v1::ClvModel> {
          return v1::ClvModel();
        });
    if (auth) {
      secret_file_ =
          std::filesystem::temp_directory_path() / absl::StrCat("gateway_test_secret_", ::getpid());
      std::ofstream(secret_file_) << kSecret;
      absl::StatusOr<std::unique_ptr<TokenVerifier>> v =
          TokenVerifier::Create({.hs256_secret_file = secret_file_.string()});
      ASSERT_TRUE(v.ok()) << v.status();
      verifier_ = std::move(*v);
    }
    gateway_ = std::make_unique<Gateway>(methods_, verifier_.get(), options);
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    // Above the gateway's limits, so the gateway's own check answers.
    builder.SetMaxReceiveMessageSize(8 << 20);
    for (grpc::Service* s : gateway_->services()) builder.RegisterService(s);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    channel_ =
        grpc::CreateChannel(absl::StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials());
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
    if (!secret_file_.empty()) std::filesystem::remove(secret_file_);
  }

  // Sends raw bytes; returns the status.
  grpc::Status Raw(const std::string& method, const std::string& bytes,
                   const std::string& token = "") {
    grpc::GenericStub stub(channel_);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (!token.empty()) ctx.AddMetadata("authorization", absl::StrCat("Bearer ", token));
    grpc::Slice slice(bytes);
    grpc::ByteBuffer request(&slice, 1), response;
    absl::Notification done;
    grpc::Status status;
    stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &response, [&](grpc::Status s) {
      status = s;
      done.Notify();
    });
    done.WaitForNotification();
    return status;
  }

  std::string Token(std::vector<std::string> roles, absl::Duration ttl = absl::Hours(1)) {
    absl::StatusOr<std::string> t = MintHs256(kSecret, {.subject = "tester",
                                                        .roles = std::move(roles),
                                                        .expires = absl::Now() + ttl,
                                                        .issued_at = absl::Now()});
    EXPECT_TRUE(t.ok()) << t.status();
    return t.value_or("");
  }

  base::TimerQueue timers_;
  MethodTable methods_;
  std::filesystem::path secret_file_;
  std::unique_ptr<TokenVerifier> verifier_;
  std::unique_ptr<Gateway> gateway_;
  std::unique_ptr<grpc::Server> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::atomic<int> appended_{0};
};

TEST_F(GatewayTest, UndecodableBytesAreInvalidArgumentNamingTheCause) {
  Start(/*auth=*/false);
  grpc::Status s = Raw("/custops.v1.Admin/Status", std::string("\xff\xff\xff\xff\x0f", 5));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("request is not a valid custops.v1.StatusRequest"),
            std::string::npos)
      << s.error_message();

  v1::GetCustomerRequest bad_utf8;
  bad_utf8.set_customer_id("ok");
  std::string bytes = bad_utf8.SerializeAsString();
  bytes.back() = '\xff';  // "o\xff": invalid UTF-8 in customer_id
  s = Raw("/custops.v1.Lifecycle/GetCustomer", bytes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("customer_id: invalid UTF-8"), std::string::npos)
      << s.error_message();

  // Truncated: a length that runs past the end.
  s = Raw("/custops.v1.Lifecycle/GetCustomer", std::string("\x0a\x10"
                                                           "abc",
                                                           5));
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("customer_id"), std::string::npos) << s.error_message();

  // Invalid UTF-8 nested in a repeated message names its index.
  v1::AppendRequest append;
  append.add_events()->set_event_id("e1");
  append.add_events()->set_event_id("e2");
  bytes = append.SerializeAsString();
  bytes.back() = '\xc3';
  s = Raw("/custops.v1.EventIngest/Append", bytes);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("events[1].event_id: invalid UTF-8"), std::string::npos)
      << s.error_message();
  EXPECT_EQ(appended_.load(), 0);
}

TEST_F(GatewayTest, LimitsApplyBeforeParsing) {
  Start(/*auth=*/false, {.max_request_bytes = 64 << 10});
  // 1000 empty events: 2 bytes each on the wire, refused by count.
  std::string many;
  for (int i = 0; i < 1000; ++i) many += std::string("\x0a\x00", 2);
  grpc::Status s = Raw("/custops.v1.EventIngest/Append", many);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message(), "events: at most 10, got 1000");
  // Over the method's byte limit.
  v1::AppendRequest big;
  big.add_events()->set_event_id(std::string(100 << 10, 'x'));
  s = Raw("/custops.v1.EventIngest/Append", big.SerializeAsString());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(s.error_message().find("65536-byte limit"), std::string::npos) << s.error_message();
  EXPECT_EQ(appended_.load(), 0);
}

TEST_F(GatewayTest, InvalidTimestampsInRequestsNameTheField) {
  Start(/*auth=*/false);
  v1::GetCustomerRequest r;
  r.set_customer_id("c1");
  r.mutable_as_of()->set_nanos(1'000'000'000);
  grpc::Status s = Raw("/custops.v1.Lifecycle/GetCustomer", r.SerializeAsString());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(s.error_message().find("as_of.nanos"), std::string::npos) << s.error_message();
  r.mutable_as_of()->set_nanos(0);
  r.mutable_as_of()->set_seconds(253402300800);  // 10000-01-01
  s = Raw("/custops.v1.Lifecycle/GetCustomer", r.SerializeAsString());
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  r.mutable_as_of()->set_seconds(-62135596800);  // 0001-01-01: valid
  s = Raw("/custops.v1.Lifecycle/GetCustomer", r.SerializeAsString());
  EXPECT_TRUE(s.ok()) << s.error_message();
}

TEST_F(GatewayTest, PendingWaitsHoldNoThreadAndAreLimitedPerClient) {
  Start(/*auth=*/false, {.max_waits_per_client = 300});
  auto stub = v1::Lifecycle::NewStub(channel_);
  struct Pending {
    grpc::ClientContext ctx;
    v1::GetCustomerRequest request;
    v1::CustomerView response;
    absl::Notification done;
    grpc::Status status;
  };
  std::vector<std::unique_ptr<Pending>> pending;
  for (int i = 0; i < 300; ++i) {
    auto p = std::make_unique<Pending>();
    p->ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(8));
    p->request.set_customer_id("wait");
    Pending* raw = p.get();
    stub->async()->GetCustomer(&p->ctx, &p->request, &p->response, [raw](grpc::Status s) {
      raw->status = s;
      raw->done.Notify();
    });
    pending.push_back(std::move(p));
  }
  // Every wait is admitted before the next call is measured.
  const absl::Time admitted_by = absl::Now() + absl::Seconds(20);
  while (gateway_->limits().InUse("127.0.0.1", ClientLimits::kWait) < 300 &&
         absl::Now() < admitted_by) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  ASSERT_EQ(gateway_->limits().InUse("127.0.0.1", ClientLimits::kWait), 300);
  // 300 waits pending, yet another call answers at once.
  std::vector<absl::Duration> latencies;
  for (int i = 0; i < 100; ++i) {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
    v1::GetCustomerRequest r;
    r.set_customer_id("now");
    v1::CustomerView view;
    const absl::Time start = absl::Now();
    ASSERT_TRUE(stub->GetCustomer(&ctx, r, &view).ok());
    latencies.push_back(absl::Now() - start);
  }
  std::sort(latencies.begin(), latencies.end());
  EXPECT_LT(latencies[98], absl::Milliseconds(50)) << "p99 " << latencies[98];
  // The 301st wait of this client is refused.
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(5));
  v1::GetCustomerRequest r;
  r.set_customer_id("wait");
  v1::CustomerView view;
  grpc::Status refused = stub->GetCustomer(&ctx, r, &view);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Cancelled by the client, the waits end (the server releases them at
  // their deadline, capped by max_wait).
  for (auto& p : pending) p->ctx.TryCancel();
  for (auto& p : pending) {
    ASSERT_TRUE(p->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    EXPECT_EQ(p->status.error_code(), grpc::StatusCode::CANCELLED);
  }
  // ...and the server releases every one of them (the gateway must outlive
  // them: the fixture's timers would otherwise end them after it is gone).
  const absl::Time released_by = absl::Now() + absl::Seconds(30);
  while (gateway_->limits().InUse("127.0.0.1", ClientLimits::kWait) > 0 &&
         absl::Now() < released_by) {
    absl::SleepFor(absl::Milliseconds(10));
  }
  EXPECT_EQ(gateway_->limits().InUse("127.0.0.1", ClientLimits::kWait), 0);
}

TEST_F(GatewayTest, TokensAndRoles) {
  Start(/*auth=*/true);
  const std::string status_req = v1::StatusRequest().SerializeAsString();
  EXPECT_EQ(Raw("/custops.v1.Admin/Status", status_req).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(Raw("/custops.v1.Admin/Status", status_req, "not.a.jwt").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  absl::StatusOr<std::string> foreign =
      MintHs256("another-secret-another-secret-xx",
                {.subject = "x", .roles = {"admin"}, .expires = absl::Now() + absl::Hours(1)});
  ASSERT_TRUE(foreign.ok());
  EXPECT_EQ(Raw("/custops.v1.Admin/Status", status_req, *foreign).error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(
      Raw("/custops.v1.Admin/Status", status_req, Token({"reader"}, -absl::Hours(1))).error_code(),
      grpc::StatusCode::UNAUTHENTICATED);
  // Undecodable bytes without a token: the token is checked first.
  EXPECT_EQ(Raw("/custops.v1.Admin/Status", "\xff").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);

  const std::string reader = Token({"reader"}), emitter = Token({"emitter"}),
                    admin = Token({"admin"});
  v1::AppendRequest append;
  append.add_events()->set_event_id("e1");
  const std::string append_req = append.SerializeAsString();
  const std::string refit_req = v1::RefitClvRequest().SerializeAsString();
  struct Case {
    std::string method, request, token;
    grpc::StatusCode want;
  };
  const std::vector<Case> cases = {
      {"/custops.v1.Admin/Status", status_req, reader, grpc::StatusCode::OK},
      {"/custops.v1.Admin/Status", status_req, emitter, grpc::StatusCode::PERMISSION_DENIED},
      {"/custops.v1.Admin/Status", status_req, admin, grpc::StatusCode::OK},
      {"/custops.v1.EventIngest/Append", append_req, emitter, grpc::StatusCode::OK},
      {"/custops.v1.EventIngest/Append", append_req, reader, grpc::StatusCode::PERMISSION_DENIED},
      {"/custops.v1.EventIngest/Append", append_req, admin, grpc::StatusCode::OK},
      {"/custops.v1.Value/RefitClv", refit_req, reader, grpc::StatusCode::PERMISSION_DENIED},
      {"/custops.v1.Value/RefitClv", refit_req, emitter, grpc::StatusCode::PERMISSION_DENIED},
      {"/custops.v1.Value/RefitClv", refit_req, admin, grpc::StatusCode::OK},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(Raw(c.method, c.request, c.token).error_code(), c.want) << c.method;
  }
  EXPECT_EQ(appended_.load(), 2);
}

TEST(LogLimiterTest, AllowsABurstPerWindowAndCountsTheRest) {
  LogLimiter limiter(absl::Hours(1), 3);
  int allowed = 0;
  for (int i = 0; i < 100; ++i) allowed += limiter.Allow() ? 1 : 0;
  EXPECT_EQ(allowed, 3);
  LogLimiter fast(absl::Milliseconds(50), 2);
  EXPECT_TRUE(fast.Allow());
  EXPECT_TRUE(fast.Allow());
  EXPECT_FALSE(fast.Allow());
  EXPECT_FALSE(fast.Allow());
  // The next window allows again and reports what it dropped.
  const absl::Time until = absl::Now() + absl::Seconds(10);
  while (!fast.Allow() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  EXPECT_GE(fast.suppressed(), 2);
}

TEST(CountFieldTest, CountsWithoutParsing) {
  v1::AppendRequest r;
  for (int i = 0; i < 5; ++i) r.add_events()->set_event_id(absl::StrCat("e", i));
  EXPECT_EQ(CountField(r.SerializeAsString(), 1).value(), 5);
  EXPECT_EQ(CountField("", 1).value(), 0);
  // Field 1, length 5, one byte of it.
  EXPECT_THAT(
      CountField(std::string("\x0a\x05\x01", 3), 1),
      StatusIs(absl::StatusCode::kInvalidArgument, "request is not a valid message (truncated)"));
}

}  // namespace
}  // namespace custops::rpc

// SingletonRouter without a broker: two "instances" on loopback, each a
// public server with the router and an in-process server with the routed
// service (Admin stands in for Value/Review: the router only sees bytes).
#include "custops/rpc/singleton_router.h"

#include <atomic>
#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "custops/rpc/gateway.h"
#include "custops/v1/admin.grpc.pb.h"
#include "custops/v1/ingest.grpc.pb.h"
#include "gtest/gtest.h"

namespace custops::rpc {
namespace {

// Answers Status with its instance name as the mode; records whether the call
// arrived marked as forwarded.
struct FakeAdmin {
  explicit FakeAdmin(std::string name) : name(std::move(name)) {}
  void Register(MethodTable& table) {
    table.Sync<v1::StatusRequest, v1::StatusResponse>(
        "custops.v1.Admin/Status", Access::kReader, /*offload=*/false,
        [this](Call& call, const v1::StatusRequest&) -> absl::StatusOr<v1::StatusResponse> {
          forwarded_ = call.forwarded();
          calls_++;
          v1::StatusResponse response;
          response.set_mode(name);
          return response;
        });
  }
  bool forwarded() const { return forwarded_; }
  int calls() const { return calls_; }

  std::string name;
  std::atomic<bool> forwarded_{false};
  std::atomic<int> calls_{0};
};

struct Instance {
  explicit Instance(const std::string& name) : admin(name) {}

  void Start(std::function<std::pair<SingletonState, std::string>()> state,
             std::function<absl::StatusOr<std::string>()> leader) {
    admin.Register(methods);
    methods.Route("custops.v1.Admin", SingletonRouter(&channels, "self-unused",
                                                      {.state = std::move(state),
                                                       .leader = std::move(leader),
                                                       .invalidate = [this] { invalidations++; }}));
    gateway = std::make_unique<Gateway>(methods, /*verifier=*/nullptr, ServingOptions{});
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    for (grpc::Service* s : gateway->services()) builder.RegisterService(s);
    server = builder.BuildAndStart();
    ASSERT_NE(server, nullptr);
    address = "127.0.0.1:" + std::to_string(port);
  }
  ~Instance() {
    if (server) server->Shutdown();
  }

  grpc::Status Call(v1::StatusResponse* response, bool forwarded = false) {
    auto stub =
        v1::Admin::NewStub(grpc::CreateChannel(address, grpc::InsecureChannelCredentials()));
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    if (forwarded) ctx.AddMetadata(kForwardedHeader, "1");
    return stub->Status(&ctx, v1::StatusRequest(), response);
  }

  FakeAdmin admin;
  ChannelCache channels;
  MethodTable methods;
  std::unique_ptr<Gateway> gateway;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  std::string address;
  std::atomic<int> invalidations{0};
};

TEST(SingletonRouterTest, LeaderAnswersStandbyForwardsRestoringAndOrphansRefuse) {
  std::atomic<int> a_state{static_cast<int>(SingletonState::kServing)};
  absl::Mutex mu;
  std::string leader_address;
  auto set_leader = [&](std::string a) {
    absl::MutexLock lock(&mu);
    leader_address = std::move(a);
  };
  auto leader = [&]() -> absl::StatusOr<std::string> {
    absl::MutexLock lock(&mu);
    return leader_address;
  };
  Instance a("a"), b("b");
  a.Start(
      [&] {
        return std::make_pair(static_cast<SingletonState>(a_state.load()),
                              std::string("a: partition 3 is restoring"));
      },
      leader);
  b.Start([] { return std::make_pair(SingletonState::kStandby, std::string()); }, leader);
  set_leader(a.address);

  // The leader answers from its own handler, unmarked.
  v1::StatusResponse r;
  ASSERT_TRUE(a.Call(&r).ok());
  EXPECT_EQ(r.mode(), "a");
  EXPECT_FALSE(a.admin.forwarded());
  // The standby forwards to the leader, marked; its own handler is not called.
  r.Clear();
  grpc::Status s = b.Call(&r);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(r.mode(), "a");
  EXPECT_EQ(b.admin.calls(), 0);
  EXPECT_EQ(a.admin.calls(), 2);
  EXPECT_TRUE(a.admin.forwarded());

  // The forward is marked: when `a` is no longer the leader but b's
  // directory still says so, `a` refuses instead of forwarding again.
  a_state = static_cast<int>(SingletonState::kStandby);
  s = b.Call(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_NE(s.error_message().find("is not the custops.v1.Admin leader"), std::string::npos)
      << s.error_message();
  a_state = static_cast<int>(SingletonState::kServing);

  // A forwarded call reaching a standby is refused, not bounced.
  EXPECT_EQ(b.Call(&r, /*forwarded=*/true).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(b.admin.calls(), 0);

  // A restoring leader refuses, directly and through the standby.
  a_state = static_cast<int>(SingletonState::kRestoring);
  s = a.Call(&r);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(s.error_message(), "a: partition 3 is restoring");
  EXPECT_EQ(b.Call(&r).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(a.admin.calls(), 2);

  // No leader, or a leader that is gone: UNAVAILABLE and the cache dropped.
  set_leader("");
  const int before = b.invalidations;
  EXPECT_EQ(b.Call(&r).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_GT(b.invalidations, before);
  set_leader("127.0.0.1:1");  // nothing listens
  const int before2 = b.invalidations;
  EXPECT_EQ(b.Call(&r).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_GT(b.invalidations, before2);
}

TEST(SingletonRouterTest, MethodsOfUnservedServicesAreUnimplemented) {
  Instance a("a");
  a.Start([] { return std::make_pair(SingletonState::kServing, std::string()); },
          []() -> absl::StatusOr<std::string> { return std::string(); });
  auto stub =
      v1::EventIngest::NewStub(grpc::CreateChannel(a.address, grpc::InsecureChannelCredentials()));
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  v1::AppendResponse response;
  EXPECT_EQ(stub->Append(&ctx, v1::AppendRequest(), &response).error_code(),
            grpc::StatusCode::UNIMPLEMENTED);
}

}  // namespace
}  // namespace custops::rpc

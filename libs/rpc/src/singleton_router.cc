#include "custops/rpc/singleton_router.h"

#include <grpcpp/generic/generic_stub.h>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "custops/rpc/status.h"

namespace custops::rpc {

// One call: read the request, pick the target, make the same call there and
// hand back its response and status.
class SingletonRouter::Call final : public grpc::ServerGenericBidiReactor {
 public:
  Call(SingletonRouter& router, grpc::GenericCallbackServerContext* ctx)
      : router_(router), ctx_(ctx) {
    for (const SingletonRoute& r : router_.routes_) {
      if (absl::StartsWith(ctx_->method(), absl::StrCat("/", r.service, "/"))) route_ = &r;
    }
    if (route_ == nullptr) {
      Finish(grpc::Status(grpc::StatusCode::UNIMPLEMENTED,
                          absl::StrCat("unknown method ", ctx_->method())));
      return;
    }
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Finish(grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "no request message"));
      return;
    }
    std::shared_ptr<grpc::Channel> channel;
    const auto [state, why] = route_->state();
    const absl::Time deadline = CallDeadline(*ctx_, absl::Minutes(10));
    if (deadline != absl::InfiniteFuture()) {
      client_.set_deadline(absl::ToChronoTime(deadline));
    }
    switch (state) {
      case SingletonState::kServing:
        channel = route_->local;
        break;
      case SingletonState::kRestoring:
        Finish(grpc::Status(grpc::StatusCode::UNAVAILABLE, why));
        return;
      case SingletonState::kStandby: {
        if (IsForwarded(*ctx_)) {
          // The sender's directory is stale: refuse rather than bounce.
          Finish(grpc::Status(
              grpc::StatusCode::UNAVAILABLE,
              absl::StrCat(router_.self_, " is not the ", route_->service, " leader (any more)")));
          return;
        }
        absl::StatusOr<std::string> leader = route_->leader();
        if (!leader.ok() || leader->empty() || *leader == router_.self_) {
          if (route_->invalidate) route_->invalidate();
          Finish(grpc::Status(
              grpc::StatusCode::UNAVAILABLE,
              absl::StrCat("no ", route_->service, " leader now",
                           leader.ok() ? "" : absl::StrCat(": ", leader.status().ToString()))));
          return;
        }
        leader_ = *leader;
        MarkForwarded(client_, {}, deadline);
        channel = router_.channels_->Get(leader_);
        break;
      }
    }
    grpc::GenericStub stub(channel);
    stub.UnaryCall(&client_, ctx_->method(), grpc::StubOptions(), &request_, &response_,
                   [this](grpc::Status s) { Done(std::move(s)); });
  }

  void OnDone() override { delete this; }

 private:
  void Done(grpc::Status s) {
    if (!s.ok()) {
      if (s.error_code() == grpc::StatusCode::UNAVAILABLE && !leader_.empty() &&
          route_->invalidate) {
        route_->invalidate();
      }
      Finish(s);
      return;
    }
    StartWriteAndFinish(&response_, grpc::WriteOptions(), s);
  }

  SingletonRouter& router_;
  grpc::GenericCallbackServerContext* ctx_;
  const SingletonRoute* route_ = nullptr;
  grpc::ByteBuffer request_;
  grpc::ByteBuffer response_;
  grpc::ClientContext client_;
  std::string leader_;  // set when forwarded to another instance
};

grpc::ServerGenericBidiReactor* SingletonRouter::CreateReactor(
    grpc::GenericCallbackServerContext* ctx) {
  return new Call(*this, ctx);
}

}  // namespace custops::rpc
